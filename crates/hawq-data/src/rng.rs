//! Seeded randomness: ChaCha8 streams (portable, so a seed gives the same numbers on every
//! machine), unbiased bounded integers and Fisher–Yates shuffles.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// Stream of the generator that orders an epoch.
pub(crate) const SHUFFLE_STREAM: u64 = 0;
/// Stream of the generator that draws augmentations, independent of the shuffle.
pub(crate) const AUGMENT_STREAM: u64 = 1;

/// A ChaCha8 generator for `seed` on one of its independent streams.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A well-mixed seed for epoch `epoch` of a run seeded with `base` (SplitMix64 finaliser), so
/// consecutive epochs get unrelated orders.
pub fn epoch_seed(base: u64, epoch: u64) -> u64 {
    let mut z = base ^ epoch.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform integer in `0..n` (`n > 0`), by rejection so no value is favoured.
pub fn uniform_below(rng: &mut impl Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let n = n.max(1);
    // Largest multiple of n that fits; draws at or above it would bias the low values.
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// `0..n` in a random order fixed by `seed` (Fisher–Yates).
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = seeded_rng(seed, SHUFFLE_STREAM);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // i + 1 fits u64 and the draw is <= i, so both casts are lossless.
        let j = uniform_below(&mut rng, i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_fixed_by_the_seed() {
        let a = shuffled_indices(1000, 7);
        assert_eq!(a, shuffled_indices(1000, 7));
        assert_ne!(a, shuffled_indices(1000, 8));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }

    #[test]
    fn uniform_below_covers_the_range_evenly() {
        let mut rng = seeded_rng(1, 0);
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[uniform_below(&mut rng, 5) as usize] += 1;
        }
        // Each bucket expects 10,000; 5 sigma is about 450.
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
    }

    #[test]
    fn epoch_seeds_differ() {
        assert_ne!(epoch_seed(0, 0), epoch_seed(0, 1));
        assert_ne!(epoch_seed(0, 1), epoch_seed(1, 0));
        assert_eq!(epoch_seed(42, 3), epoch_seed(42, 3));
    }
}
