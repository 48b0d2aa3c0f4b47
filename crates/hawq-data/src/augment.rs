//! Training-time augmentation on normalized CHW images: random crop with constant padding
//! (torchvision's `RandomCrop(size, padding=p)`) and random horizontal flip.

use rand_chacha::rand_core::Rng;

use crate::dataset::Normalize;
use crate::error::{DataError, Result};
use crate::rng::uniform_below;

/// Random crop (pad by `pad`, crop back to the original size) and optional horizontal flip.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Padding on every side before the random crop; 0 disables cropping.
    pub pad: usize,
    /// Flip left-right with probability 1/2.
    pub hflip: bool,
    /// Value of padded pixels, per channel, in normalized units.
    pub fill: Vec<f32>,
}

impl Augment {
    /// Crop with `pad` and flip, padding with black as torchvision does (padding happens on raw
    /// pixels before `Normalize`, so black maps to `-mean / std`).
    pub fn crop_flip(pad: usize, normalize: &Normalize) -> Self {
        Augment { pad, hflip: true, fill: normalize.black() }
    }

    /// The usual Fashion-MNIST recipe: pad 2 on 28×28, flip, black fill.
    pub fn fashion_mnist() -> Self {
        Self::crop_flip(2, &Normalize::fashion_mnist())
    }

    /// Checks that there is one fill value per channel.
    pub fn check(&self, channels: usize) -> Result<()> {
        if self.fill.len() != channels {
            return Err(DataError::invalid(
                "augmentation",
                format!("{} fill value(s) for {channels} channel(s)", self.fill.len()),
            ));
        }
        Ok(())
    }

    /// Writes an augmented copy of the CHW image `src` (shape `[c, h, w]`) into `dst`.
    /// Draws the crop offsets (when `pad > 0`) and then the flip (when enabled) from `rng`.
    pub fn apply(
        &self,
        src: &[f32],
        shape: [usize; 3],
        rng: &mut impl Rng,
        dst: &mut [f32],
    ) -> Result<()> {
        let [c, h, w] = shape;
        self.check(c)?;
        let len = c.checked_mul(h).and_then(|n| n.checked_mul(w));
        if len != Some(src.len()) || len != Some(dst.len()) {
            return Err(DataError::invalid(
                "augmentation",
                format!(
                    "shape {shape:?} with {} source and {} target values",
                    src.len(),
                    dst.len()
                ),
            ));
        }
        let span = 2 * self.pad as u64 + 1;
        let (dy, dx) = if self.pad > 0 {
            (uniform_below(rng, span) as usize, uniform_below(rng, span) as usize)
        } else {
            (0, 0)
        };
        let flip = self.hflip && rng.next_u32() & 1 == 1;
        for ch in 0..c {
            let fill = self.fill[ch];
            let plane_in = &src[ch * h * w..(ch + 1) * h * w];
            let plane_out = &mut dst[ch * h * w..(ch + 1) * h * w];
            for y in 0..h {
                // Output (y, x) reads padded (y + dy, x + dx), i.e. source (y + dy - pad, ...).
                let sy = (y + dy).checked_sub(self.pad).filter(|&sy| sy < h);
                for x in 0..w {
                    let ox = if flip { w - 1 - x } else { x };
                    let sx = (ox + dx).checked_sub(self.pad).filter(|&sx| sx < w);
                    plane_out[y * w + x] = match (sy, sx) {
                        (Some(sy), Some(sx)) => plane_in[sy * w + sx],
                        _ => fill,
                    };
                }
            }
        }
        Ok(())
    }
}
