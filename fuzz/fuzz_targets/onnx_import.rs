//! The ONNX importer on arbitrary bytes: any outcome but a panic, abort or runaway allocation
//! is fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hawq_onnx::import_bytes(bytes::Bytes::copy_from_slice(data));
});
