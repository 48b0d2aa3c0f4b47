//! The `.hawq` file: round trips and corrupt files.

use crate::common::{Rng, quantize, residual_net};
use hawq_engine::format::{self, from_bytes, pack_i4, to_bytes, unpack_i4};
use hawq_engine::{EngineError, LowerConfig, reference};
use std::collections::HashMap;

fn mixed_model() -> hawq_engine::QModel {
    let mut bits = HashMap::new();
    bits.insert("b1.conv1.weight".to_string(), 4);
    bits.insert("b1.conv2.weight".to_string(), 4);
    quantize(&residual_net(11, 3), &LowerConfig { bits, ..LowerConfig::default() }, 12, 2, 4)
}

#[test]
fn nibbles_round_trip() {
    let v: Vec<i8> = (-8..=7).chain([3, -1, 7]).collect();
    assert_eq!(unpack_i4(&pack_i4(&v), v.len()), v);
    assert_eq!(pack_i4(&[1, -1]), vec![0xf1]); // even index in the low nibble
}

#[test]
fn save_load_run_is_bit_identical() {
    let m = mixed_model();
    let dir = std::env::temp_dir().join(format!("hawq-file-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.hawq");
    format::save(&m, &path).unwrap();
    let back = format::load(&path).unwrap();
    assert_eq!(back, m);
    let x = Rng::new(5).tensor(vec![3, 3, 8, 8], 2.0);
    assert_eq!(
        reference::run(&back, &x).unwrap().int_output,
        reference::run(&m, &x).unwrap().int_output
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn expect_file_error(bytes: &[u8], what: &str) {
    match from_bytes(bytes) {
        Err(
            EngineError::File { .. }
            | EngineError::InvalidModel { .. }
            | EngineError::AccumulatorOverflow { .. },
        ) => {}
        Err(e) => panic!("{what}: unexpected error kind {e}"),
        Ok(_) => panic!("{what}: corrupt file was accepted"),
    }
}

/// Rewrites the JSON metadata with `edit` and re-serializes the container.
fn with_json(m: &hawq_engine::QModel, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let bytes = to_bytes(m).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut model: serde_json::Value =
        serde_json::from_str(header["__metadata__"]["hawq"].as_str().unwrap()).unwrap();
    edit(&mut model);
    header["__metadata__"]["hawq"] = serde_json::Value::String(model.to_string());
    let mut h = header.to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    out
}

#[test]
fn corrupt_files_are_typed_errors() {
    let m = mixed_model();
    let good = to_bytes(&m).unwrap();
    from_bytes(&good).unwrap();
    // Truncations at every region.
    for cut in [0, 4, 8, 20, good.len() / 2, good.len() - 1] {
        expect_file_error(&good[..cut], &format!("truncated at {cut}"));
    }
    // Garbage and a header length pointing past the end (an allocation-bomb attempt).
    expect_file_error(b"definitely not a model", "garbage");
    let mut bomb = good.clone();
    bomb[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    expect_file_error(&bomb, "huge header length");
    // Flipped bytes anywhere never panic.
    let mut rng = Rng::new(99);
    for _ in 0..300 {
        let mut b = good.clone();
        let i = (rng.next_u64() as usize) % b.len();
        b[i] ^= 1 << (rng.next_u64() % 8);
        let _ = from_bytes(&b);
    }
    // Semantic corruption of the metadata.
    expect_file_error(&with_json(&m, |j| j["version"] = 99.into()), "wrong model version");
    expect_file_error(&with_json(&m, |j| j["output"] = 100000.into()), "bad output index");
    expect_file_error(
        &with_json(&m, |j| j["nodes"][1]["inputs"][0] = 9999.into()),
        "bad input index",
    );
    expect_file_error(
        &with_json(&m, |j| j["values"][0]["shape"][1] = serde_json::json!({"Fixed": 1u64 << 40})),
        "absurd dims",
    );
    expect_file_error(
        &with_json(&m, |j| j["values"][0]["scale"] = (-1.0).into()),
        "negative scale",
    );
    let edited = with_json(&m, |j| {
        for n in j["nodes"].as_array_mut().unwrap() {
            if let Some(l) = n["op"].get_mut("Layer") {
                l["geom"]["out_channels"] = 4096.into();
                break;
            }
        }
    });
    expect_file_error(&edited, "geometry that does not match the weight tensor");
    let edited = with_json(&m, |j| {
        for n in j["nodes"].as_array_mut().unwrap() {
            if let Some(l) = n["op"].get_mut("Layer")
                && l["bits"] == 8
            {
                l["bits"] = 4.into();
                break;
            }
        }
    });
    expect_file_error(&edited, "wrong dtype for the bit width");
    let edited = with_json(&m, |j| {
        for n in j["nodes"].as_array_mut().unwrap() {
            if let Some(r) = n["op"].get_mut("Requant") {
                r["dyadic"]["shift"] = 70.into();
                break;
            }
        }
    });
    expect_file_error(&edited, "shift out of range");
    let mut bad_json = good.clone();
    let pos = bad_json.windows(7).position(|w| w == b"\"hawq\":").unwrap();
    bad_json[pos + 9] = b'#';
    expect_file_error(&bad_json, "bad JSON");
}
