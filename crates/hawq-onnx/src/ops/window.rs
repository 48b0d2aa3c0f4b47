//! Attributes shared by sliding-window ops (Conv, MaxPool, AveragePool): strides, dilations and
//! padding, with `auto_pad` turned into explicit pads.

use crate::error::Result;
use crate::import::context::NodeView;
use hawq_ir::{Pads, Shape};

/// Strides, dilations and explicit pads of a 2-D window.
pub(crate) struct Window {
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[dh, dw]`.
    pub dilation: [usize; 2],
    /// `[top, left, bottom, right]` (ONNX's `[x1_begin, x2_begin, x1_end, x2_end]`).
    pub pads: Pads,
}

/// Reads a 2-element positive INTS attribute (default `[1, 1]`).
fn pair(v: &mut NodeView, name: &str) -> Result<[usize; 2]> {
    match v.attrs.ints(name)? {
        None => Ok([1, 1]),
        Some(&[a, b]) if a > 0 && b > 0 => Ok([a as usize, b as usize]),
        Some(other) => {
            Err(v.at.attr_err(name, format!("must be two positive values, got {other:?}")))
        }
    }
}

/// Reads the kernel shape attribute (two positive values), if present.
pub(crate) fn kernel_attr(v: &mut NodeView) -> Result<Option<[usize; 2]>> {
    match v.attrs.ints("kernel_shape")? {
        None => Ok(None),
        Some(&[a, b]) if a > 0 && b > 0 => Ok(Some([a as usize, b as usize])),
        Some(other) => Err(v.at.attr_err(
            "kernel_shape",
            format!("hawq supports 2-D windows only: expected two positive values, got {other:?}"),
        )),
    }
}

/// Pads that make the output `ceil(len / stride)` long (ONNX `SAME_UPPER`/`SAME_LOWER`); the odd
/// extra cell goes to the end for `upper`, to the beginning otherwise.
fn same_pads(
    len: usize,
    k: usize,
    stride: usize,
    dil: usize,
    upper: bool,
) -> Option<(usize, usize)> {
    let out = len.div_ceil(stride);
    let span = dil.checked_mul(k - 1)?.checked_add(1)?;
    let need = (out - 1).checked_mul(stride)?.checked_add(span)?;
    let total = need.saturating_sub(len);
    let small = total / 2;
    Some(if upper { (small, total - small) } else { (total - small, small) })
}

/// Reads `strides`, `dilations` (when `with_dilations`), `pads` and `auto_pad` for a window of
/// `kernel` over input `x`.
pub(crate) fn window_attrs(
    v: &mut NodeView,
    x: &Shape,
    kernel: [usize; 2],
    with_dilations: bool,
) -> Result<Window> {
    let stride = pair(v, "strides")?;
    let dilation = if with_dilations { pair(v, "dilations")? } else { [1, 1] };
    let explicit = v.attrs.ints("pads")?;
    let auto_pad = v.attrs.string("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    let pads = match auto_pad.as_str() {
        "NOTSET" => match explicit {
            None => [0; 4],
            Some(p) if p.len() == 4 && p.iter().all(|&x| (0..=1 << 20).contains(&x)) => {
                [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
            }
            Some(p) => {
                return Err(v.at.attr_err(
                    "pads",
                    format!("must be four non-negative values (2-D), got {p:?}"),
                ));
            }
        },
        "VALID" | "SAME_UPPER" | "SAME_LOWER" => {
            if explicit.is_some() {
                return Err(v
                    .at
                    .attr_err("pads", format!("cannot be combined with auto_pad {auto_pad}")));
            }
            if auto_pad == "VALID" {
                [0; 4]
            } else {
                let (h, w) = match (x.rank(), x.fixed_dim(2), x.fixed_dim(3)) {
                    (4, Some(h), Some(w)) => (h, w),
                    _ => return Err(v.err(format!("auto_pad needs a known NCHW input, got {x}"))),
                };
                let upper = auto_pad == "SAME_UPPER";
                let ph = same_pads(h, kernel[0], stride[0], dilation[0], upper);
                let pw = same_pads(w, kernel[1], stride[1], dilation[1], upper);
                match (ph, pw) {
                    (Some((t, b)), Some((l, r))) => [t, l, b, r],
                    _ => return Err(v.at.attr_err("auto_pad", "padding overflows")),
                }
            }
        }
        other => return Err(v.at.attr_err("auto_pad", format!("unknown value '{other}'"))),
    };
    Ok(Window { stride, dilation, pads })
}

#[cfg(test)]
mod tests {
    use super::same_pads;

    #[test]
    fn same_padding_matches_onnx_rule() {
        // 7 wide, k3 s2 → out 4, need (4-1)*2+3 = 9, total 2 → 1/1.
        assert_eq!(same_pads(7, 3, 2, 1, true), Some((1, 1)));
        // 8 wide, k3 s2 → out 4, total 1: SAME_UPPER pads the end, SAME_LOWER the start.
        assert_eq!(same_pads(8, 3, 2, 1, true), Some((0, 1)));
        assert_eq!(same_pads(8, 3, 2, 1, false), Some((1, 0)));
        // Stride larger than the kernel needs no padding.
        assert_eq!(same_pads(8, 1, 2, 1, true), Some((0, 0)));
    }
}
