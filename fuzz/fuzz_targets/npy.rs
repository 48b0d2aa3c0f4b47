//! The `.npy` reader on arbitrary bytes. An array that parses must hold as many elements as
//! its shape says.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = hawq_data::parse_npy(data) {
        let numel: usize = array.shape.iter().product();
        assert_eq!(numel, array.data.len());
    }
});
