//! A small constant-folding evaluator over integer tensors whose elements may be the symbolic
//! batch size. Exporters compute reshape targets at run time (`x.view(x.size(0), -1)` becomes
//! `Shape → Gather → Unsqueeze → Concat → Reshape`); folding those chains here turns them into
//! a static target such as `[0, -1]` that the IR can hold.

use hawq_ir::Dim;

/// One element of a folded integer tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymInt {
    /// A known value.
    Known(i64),
    /// The dynamic batch size `N` (from the `Shape` of an activation).
    Batch,
}

/// A dense row-major integer tensor with possibly symbolic elements.
#[derive(Debug, Clone, PartialEq)]
pub struct IntTensor {
    shape: Vec<usize>,
    data: Vec<SymInt>,
}

/// Result of a fold step; the error is a detail the caller wraps with the node it came from.
pub type FoldResult<T> = std::result::Result<T, String>;

fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Maps a possibly negative ONNX axis into `0..rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> FoldResult<usize> {
    let r = i64::try_from(rank).map_err(|_| "rank too large".to_string())?;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize) // in 0..rank, so it fits
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

impl IntTensor {
    /// A tensor from a shape and its elements (counts must agree).
    pub fn new(shape: Vec<usize>, data: Vec<SymInt>) -> FoldResult<Self> {
        if numel(&shape) != Some(data.len()) {
            return Err(format!("shape {shape:?} does not hold {} elements", data.len()));
        }
        Ok(Self { shape, data })
    }

    /// A 1-D tensor of known values.
    pub fn from_known(values: &[i64]) -> Self {
        Self { shape: vec![values.len()], data: values.iter().map(|&v| SymInt::Known(v)).collect() }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[SymInt] {
        &self.data
    }

    /// All elements as known values, or `None` if one is the symbolic batch.
    pub fn known(&self) -> Option<Vec<i64>> {
        self.data
            .iter()
            .map(|v| match v {
                SymInt::Known(k) => Some(*k),
                SymInt::Batch => None,
            })
            .collect()
    }

    fn strides(&self) -> Vec<usize> {
        let mut s = vec![1; self.shape.len()];
        for i in (0..self.shape.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.shape[i + 1];
        }
        s
    }
}

/// `Shape` of a value with symbolic dims, restricted to `start..end` (ONNX opset 15 rules:
/// negative bounds count from the end, out-of-range bounds are clamped).
pub fn shape_of(dims: &[Dim], start: i64, end: Option<i64>) -> IntTensor {
    let rank = dims.len() as i64;
    let clamp = |v: i64| if v < 0 { (v + rank).max(0) } else { v.min(rank) };
    let lo = clamp(start) as usize;
    let hi = clamp(end.unwrap_or(rank)) as usize;
    let data: Vec<SymInt> = dims
        .get(lo..hi.max(lo))
        .unwrap_or(&[])
        .iter()
        .map(|d| match d {
            Dim::Batch => SymInt::Batch,
            Dim::Fixed(n) => SymInt::Known(*n as i64),
        })
        .collect();
    IntTensor { shape: vec![data.len()], data }
}

/// ONNX `Gather` along `axis` with known (possibly negative) indices.
pub fn gather(data: &IntTensor, indices: &IntTensor, axis: i64) -> FoldResult<IntTensor> {
    let axis = normalize_axis(axis, data.shape.len())?;
    let idx = indices.known().ok_or("gather indices must be known")?;
    let n = data.shape[axis];
    let outer: usize = data.shape[..axis].iter().product();
    let inner: usize = data.shape[axis + 1..].iter().product();
    let mut picked = Vec::with_capacity(idx.len());
    for &i in &idx {
        let j = if i < 0 { i + n as i64 } else { i };
        if !(0..n as i64).contains(&j) {
            return Err(format!("gather index {i} is out of range for size {n}"));
        }
        picked.push(j as usize);
    }
    let mut out = Vec::with_capacity(outer * picked.len() * inner);
    for o in 0..outer {
        for &j in &picked {
            let base = (o * n + j) * inner;
            out.extend_from_slice(&data.data[base..base + inner]);
        }
    }
    let mut shape = data.shape[..axis].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&data.shape[axis + 1..]);
    IntTensor::new(shape, out)
}

/// ONNX `Unsqueeze`: inserts size-1 dims at `axes` (relative to the output rank).
pub fn unsqueeze(t: &IntTensor, axes: &[i64]) -> FoldResult<IntTensor> {
    let out_rank = t.shape.len() + axes.len();
    let mut is_new = vec![false; out_rank];
    for &a in axes {
        let a = normalize_axis(a, out_rank)?;
        if std::mem::replace(&mut is_new[a], true) {
            return Err(format!("axis {a} is repeated in {axes:?}"));
        }
    }
    let mut dims = t.shape.iter();
    let shape =
        is_new.iter().map(|&new| if new { 1 } else { *dims.next().unwrap_or(&1) }).collect();
    IntTensor::new(shape, t.data.clone())
}

/// ONNX `Squeeze`: removes size-1 dims at `axes`, or all of them when `axes` is `None`.
pub fn squeeze(t: &IntTensor, axes: Option<&[i64]>) -> FoldResult<IntTensor> {
    let rank = t.shape.len();
    let mut drop = vec![false; rank];
    match axes {
        Some(axes) => {
            for &a in axes {
                let a = normalize_axis(a, rank)?;
                if t.shape[a] != 1 {
                    return Err(format!("cannot squeeze axis {a} of size {}", t.shape[a]));
                }
                drop[a] = true;
            }
        }
        None => drop.iter_mut().zip(&t.shape).for_each(|(d, &s)| *d = s == 1),
    }
    let shape = t.shape.iter().zip(&drop).filter(|(_, d)| !**d).map(|(s, _)| *s).collect();
    IntTensor::new(shape, t.data.clone())
}

/// ONNX `Concat` of integer tensors along `axis`.
pub fn concat(parts: &[IntTensor], axis: i64) -> FoldResult<IntTensor> {
    let first = parts.first().ok_or("concat of nothing")?;
    let rank = first.shape.len();
    let axis = normalize_axis(axis, rank)?;
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for p in parts {
        let fits = p.shape.len() == rank
            && p.shape.iter().zip(&first.shape).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(format!("operand shapes {:?} and {:?} differ", first.shape, p.shape));
        }
        shape[axis] += p.shape[axis];
    }
    let outer: usize = first.shape[..axis].iter().product();
    let inner: usize = first.shape[axis + 1..].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for p in parts {
            let chunk = p.shape[axis] * inner;
            out.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
        }
    }
    IntTensor::new(shape, out)
}

/// ONNX `Slice` (opset ≥ 10 input form) with known starts, ends, axes and steps.
pub fn slice(
    t: &IntTensor,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> FoldResult<IntTensor> {
    let rank = t.shape.len();
    let default_axes: Vec<i64> = (0..starts.len() as i64).collect();
    let axes = axes.unwrap_or(&default_axes);
    if ends.len() != starts.len()
        || axes.len() != starts.len()
        || steps.is_some_and(|s| s.len() != starts.len())
    {
        return Err("starts, ends, axes and steps must have equal lengths".into());
    }
    // Per-axis list of source indices; untouched axes keep all of theirs.
    let mut picks: Vec<Vec<usize>> = t.shape.iter().map(|&d| (0..d).collect()).collect();
    let mut seen = vec![false; rank];
    for (k, &a) in axes.iter().enumerate() {
        let a = normalize_axis(a, rank)?;
        if std::mem::replace(&mut seen[a], true) {
            return Err(format!("axis {a} sliced twice"));
        }
        let step = i128::from(steps.map_or(1, |s| s[k]));
        if step == 0 {
            return Err("slice step 0".into());
        }
        let dim = t.shape[a] as i128;
        let fix = |v: i64| if v < 0 { i128::from(v) + dim } else { i128::from(v) };
        let (mut start, mut end) = (fix(starts[k]), fix(ends[k]));
        if step > 0 {
            start = start.clamp(0, dim);
            end = end.clamp(0, dim);
        } else {
            start = start.clamp(0, dim - 1);
            end = end.clamp(-1, dim - 1);
        }
        let mut list = Vec::new();
        let mut i = start;
        while (step > 0 && i < end) || (step < 0 && i > end) {
            list.push(i as usize); // in 0..dim by the clamps above
            i += step;
        }
        picks[a] = list;
    }
    let shape: Vec<usize> = picks.iter().map(Vec::len).collect();
    let strides = t.strides();
    let total = numel(&shape).ok_or("slice result too large")?;
    let mut out = Vec::with_capacity(total);
    let mut pos = vec![0usize; rank];
    for _ in 0..total {
        let src: usize = pos.iter().enumerate().map(|(ax, &p)| picks[ax][p] * strides[ax]).sum();
        out.push(t.data[src]);
        for ax in (0..rank).rev() {
            pos[ax] += 1;
            if pos[ax] < shape[ax] {
                break;
            }
            pos[ax] = 0;
        }
    }
    IntTensor::new(shape, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SymInt::{Batch, Known};

    fn nchw() -> IntTensor {
        shape_of(&[Dim::Batch, Dim::Fixed(64), Dim::Fixed(1), Dim::Fixed(1)], 0, None)
    }

    #[test]
    fn view_batch_minus_one_chain_folds() {
        // Shape → Gather(0) → Unsqueeze([0]) → Concat with [-1].
        let s = nchw();
        let n = gather(&s, &IntTensor::new(vec![], vec![Known(0)]).unwrap(), 0).unwrap();
        assert_eq!(n.shape(), &[] as &[usize]);
        assert_eq!(n.data(), &[Batch]);
        let n1 = unsqueeze(&n, &[0]).unwrap();
        let target = concat(&[n1, IntTensor::from_known(&[-1])], 0).unwrap();
        assert_eq!(target.data(), &[Batch, Known(-1)]);
    }

    #[test]
    fn shape_start_end_and_slice() {
        let dims = [Dim::Batch, Dim::Fixed(3), Dim::Fixed(4), Dim::Fixed(5)];
        assert_eq!(shape_of(&dims, 1, Some(-1)).data(), &[Known(3), Known(4)]);
        assert_eq!(shape_of(&dims, -10, Some(100)).data().len(), 4);
        let s = shape_of(&dims, 0, None);
        let tail = slice(&s, &[1], &[i64::MAX], None, None).unwrap();
        assert_eq!(tail.known().unwrap(), vec![3, 4, 5]);
        let rev = slice(&s, &[-1], &[i64::MIN], Some(&[0]), Some(&[-2])).unwrap();
        assert_eq!(rev.known().unwrap(), vec![5, 3]);
        assert!(slice(&s, &[0], &[1], None, Some(&[0])).is_err());
    }

    #[test]
    fn gather_2d_and_errors() {
        let t = IntTensor::new(vec![2, 3], (0..6).map(Known).collect()).unwrap();
        let g = gather(&t, &IntTensor::from_known(&[-1, 0]), 1).unwrap();
        assert_eq!(g.shape(), &[2, 2]);
        assert_eq!(g.known().unwrap(), vec![2, 0, 5, 3]);
        assert!(gather(&t, &IntTensor::from_known(&[3]), 1).is_err());
        assert!(gather(&t, &IntTensor::from_known(&[0]), 2).is_err());
    }

    #[test]
    fn squeeze_unsqueeze_concat_rules() {
        let t = IntTensor::new(vec![1, 2, 1], vec![Known(4), Known(5)]).unwrap();
        assert_eq!(squeeze(&t, None).unwrap().shape(), &[2]);
        assert_eq!(squeeze(&t, Some(&[-1])).unwrap().shape(), &[1, 2]);
        assert!(squeeze(&t, Some(&[1])).is_err());
        assert_eq!(unsqueeze(&t, &[0, -1]).unwrap().shape(), &[1, 1, 2, 1, 1]);
        assert!(unsqueeze(&t, &[0, 0]).is_err());
        let a = IntTensor::new(vec![2, 1], vec![Known(1), Known(2)]).unwrap();
        let b = IntTensor::new(vec![2, 2], (3..7).map(Known).collect()).unwrap();
        let c = concat(&[a.clone(), b], 1).unwrap();
        assert_eq!(c.known().unwrap(), vec![1, 3, 4, 2, 5, 6]);
        assert!(concat(&[a.clone(), IntTensor::from_known(&[1])], 0).is_err());
    }
}
