//! Activations, residual sums, concatenation and dropout.

use crate::scalar::Real;
use hawq_ir::Activation;

/// Applies an activation in place (a NaN becomes the bound, unlike PyTorch; a NaN loss is
/// caught by the training loop anyway).
pub(crate) fn activate<T: Real>(act: Activation, y: &mut [T]) {
    match act {
        Activation::None => {}
        Activation::Relu => y.iter_mut().for_each(|v| *v = v.max_of(T::ZERO)),
        Activation::Clip { min, max } => {
            let (lo, hi) = (T::from_f32(min), T::from_f32(max));
            y.iter_mut().for_each(|v| *v = v.max_of(lo).min_of(hi));
        }
    }
}

/// Zeroes `d` wherever the activation, judged by its *output* `y`, blocks the gradient (ReLU:
/// passes where `y > 0`; clip: strictly inside the range, as PyTorch's hardtanh backward).
pub(crate) fn mask_by_output<T: Real>(act: Activation, y: &[T], d: &mut [T]) {
    // One loop per activation so each is a branch-free select the compiler can vectorise.
    match act {
        Activation::None => {}
        Activation::Relu => {
            for (g, &v) in d.iter_mut().zip(y) {
                *g = if v > T::ZERO { *g } else { T::ZERO };
            }
        }
        Activation::Clip { min, max } => {
            let (lo, hi) = (T::from_f32(min), T::from_f32(max));
            for (g, &v) in d.iter_mut().zip(y) {
                *g = if v > lo && v < hi { *g } else { T::ZERO };
            }
        }
    }
}

/// A standalone ReLU/Clip as an [`Activation`] (the clip bounds rounded to f32 as the IR
/// stores them).
pub(crate) fn clip_activation(min: f64, max: f64) -> Activation {
    Activation::Clip { min: min as f32, max: max as f32 }
}

/// Copies the concatenation of `inputs` (per item: `outer` repetitions of each input's block)
/// into `out` for `batch` items.
pub(crate) fn concat<T: Real>(
    inputs: &[&[T]],
    outer: usize,
    blocks: &[usize],
    batch: usize,
    out: &mut [T],
) {
    let mut pos = 0;
    for item in 0..batch {
        for o in 0..outer {
            for (x, &b) in inputs.iter().zip(blocks) {
                let start = (item * outer + o) * b;
                out[pos..pos + b].copy_from_slice(&x[start..start + b]);
                pos += b;
            }
        }
    }
}

/// Adds the slices of `dy` belonging to input `which` of a concatenation into `dx`.
pub(crate) fn concat_backward<T: Real>(
    dy: &[T],
    outer: usize,
    blocks: &[usize],
    which: usize,
    batch: usize,
    dx: &mut [T],
) {
    let row: usize = blocks.iter().sum();
    let offset: usize = blocks[..which].iter().sum();
    let b = blocks[which];
    for r in 0..batch * outer {
        let src = &dy[r * row + offset..r * row + offset + b];
        super::add_into(&mut dx[r * b..(r + 1) * b], src);
    }
}
