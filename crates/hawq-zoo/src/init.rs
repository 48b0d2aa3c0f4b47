//! Seeded parameter initialization. Every tensor draws from its own ChaCha8 stream, keyed by
//! the seed and the parameter's name, so a tensor's values depend only on `(seed, name)`: the
//! same seed rebuilds identical parameters whatever else changes (e.g. `randomize_bn`).

use crate::error::ZooError;
use hawq_ir::Tensor;
use hawq_ir::tensor::checked_numel;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};

/// Source of seeded parameter tensors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Init {
    seed: u64,
}

/// FNV-1a: a stable (cross-platform, cross-version) hash of the parameter name that picks the
/// ChaCha stream. `std`'s hashers are not guaranteed stable, so they cannot be used here.
fn stream_of(name: &str) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn init_err(param: &str, detail: impl ToString) -> ZooError {
    ZooError::Init { param: param.to_string(), detail: detail.to_string() }
}

impl Init {
    /// An initializer for one seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed }
    }

    fn fill(
        &self,
        param: &str,
        shape: Vec<usize>,
        dist: &impl Distribution<f32>,
    ) -> Result<Tensor, ZooError> {
        let n = checked_numel(&shape)
            .ok_or_else(|| init_err(param, format!("shape {shape:?} overflows")))?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream_of(param));
        let data: Vec<f32> = (0..n).map(|_| dist.sample(&mut rng)).collect();
        Tensor::new(shape, data).map_err(|e| init_err(param, e))
    }

    /// Normal(0, std) elements.
    pub(crate) fn normal(
        &self,
        param: &str,
        shape: Vec<usize>,
        std: f32,
    ) -> Result<Tensor, ZooError> {
        let dist = Normal::new(0.0, std).map_err(|e| init_err(param, e))?;
        self.fill(param, shape, &dist)
    }

    /// Uniform `[lo, hi)` elements.
    pub(crate) fn uniform(
        &self,
        param: &str,
        shape: Vec<usize>,
        lo: f32,
        hi: f32,
    ) -> Result<Tensor, ZooError> {
        let dist = Uniform::new(lo, hi).map_err(|e| init_err(param, e))?;
        self.fill(param, shape, &dist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_name_only() {
        let a = Init::new(7).normal("conv1.weight", vec![4, 3], 1.0).unwrap();
        let b = Init::new(7).normal("conv1.weight", vec![4, 3], 1.0).unwrap();
        let c = Init::new(8).normal("conv1.weight", vec![4, 3], 1.0).unwrap();
        let d = Init::new(7).normal("conv2.weight", vec![4, 3], 1.0).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn uniform_stays_in_range_and_bad_bounds_are_errors() {
        let t = Init::new(1).uniform("p", vec![1000], -0.2, 0.2).unwrap();
        assert!(t.data().iter().all(|v| (-0.2..0.2).contains(v)));
        assert!(t.data().iter().any(|v| *v < -0.1) && t.data().iter().any(|v| *v > 0.1));
        assert!(matches!(
            Init::new(1).uniform("p", vec![3], 1.0, 1.0),
            Err(ZooError::Init { param, .. }) if param == "p"
        ));
        assert!(matches!(Init::new(1).normal("q", vec![3], f32::NAN), Err(ZooError::Init { .. })));
    }
}
