//! The IDX readers (images and labels, plain and gzipped) on arbitrary bytes; the first byte
//! picks the reader and, for labels, the class count.
#![no_main]

use hawq_data::{IdxLimits, parse_idx_images, parse_idx_labels};
use libfuzzer_sys::fuzz_target;

/// Small enough that libFuzzer's memory limit is never what stops a forged header.
const LIMITS: IdxLimits = IdxLimits { max_payload_bytes: 1 << 24 };

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 {
        if let Ok(images) = parse_idx_images(rest, LIMITS) {
            assert_eq!(images.count * images.rows * images.cols, images.pixels.len());
        }
    } else if let Ok(labels) = parse_idx_labels(rest, usize::from(selector >> 1), LIMITS) {
        assert!(labels.iter().all(|&l| l < selector >> 1));
    }
});
