//! The `.hawq` loader on arbitrary bytes. A model that loads must survive a save/load round
//! trip unchanged.
#![no_main]

use hawq_engine::format::{from_bytes, to_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = from_bytes(data) {
        let bytes = to_bytes(&model).expect("a loaded model serializes");
        let again = from_bytes(&bytes).expect("a serialized model loads");
        assert_eq!(again, model, "round trip changed the model");
    }
});
