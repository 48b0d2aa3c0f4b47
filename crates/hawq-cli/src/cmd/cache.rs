//! The on-disk result cache shared by `hawq sensitivity` and `hawq latency-table`.

use std::path::PathBuf;

/// `$HAWQ_CACHE`, or `.hawq-cache/` in the working directory.
pub fn dir() -> PathBuf {
    std::env::var_os("HAWQ_CACHE").map_or_else(|| PathBuf::from(".hawq-cache"), PathBuf::from)
}

/// FNV-1a over length-suffixed byte strings: a stable cache key (not a security boundary).
pub struct Fnv(pub u64);

impl Fnv {
    /// The FNV-1a offset basis.
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Hashes `b` followed by its length, so concatenations cannot collide.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        for &x in b.iter().chain(&(b.len() as u64).to_le_bytes()) {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
}
