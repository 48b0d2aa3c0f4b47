//! Image decoding (PNG/JPEG, as the image-folder loader does it) on arbitrary bytes, with the
//! grey keep-size transform and with resize + center crop to RGB.
#![no_main]

use hawq_data::{ImageFolderConfig, Normalize, decode_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let config = if selector & 1 == 0 {
        ImageFolderConfig::fashion_mnist()
    } else {
        ImageFolderConfig {
            resize_shorter: Some(u32::from(selector >> 1).max(1)),
            center_crop: Some(u32::from(selector >> 2).max(1)),
            grayscale: false,
            normalize: Normalize::imagenet(),
        }
    };
    if let Ok((pixels, [c, h, w])) = decode_image(rest, &config) {
        assert_eq!(pixels.len(), c * h * w);
    }
});
