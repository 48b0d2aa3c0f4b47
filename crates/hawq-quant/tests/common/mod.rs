//! Shared test helpers: a tiny deterministic PRNG (SplitMix64), so sampled tests are
//! reproducible and need no extra dependency.

#![allow(dead_code)] // each test binary uses a different subset

/// SplitMix64 (Steele, Lea & Flood 2014): statistically fine for sampling test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[lo, hi]` (inclusive, i128 to cover every i64 range).
    pub fn range_i128(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo + 1) as u128;
        let r = ((self.next_u64() as u128) << 64 | self.next_u64() as u128) % span;
        lo + r as i128
    }

    /// Log-uniform positive f64 between `10^lo_exp` and `10^hi_exp`.
    pub fn log_uniform(&mut self, lo_exp: f64, hi_exp: f64) -> f64 {
        10f64.powf(lo_exp + (hi_exp - lo_exp) * self.unit())
    }
}
