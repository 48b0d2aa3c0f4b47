//! Mutated bytes never panic: truncations, bit flips and byte overwrites of small valid models
//! must make the importer return `Ok` or `Err`.

use crate::support::onnx_builder::{OnnxBuilder, ai, aints, i64_tensor};
use crate::support::{Rng, graphs};
use hawq_onnx::{float_model, import_bytes};
use prost::Message;

/// A model with a shape chain and MatMul + Add, written by the test builder.
fn chain_model() -> Vec<u8> {
    let mut b = OnnxBuilder::new("x", &[2, 5, 5], 41);
    b.weight("w", &[3, 2, 3, 3], -0.5, 0.5);
    b.node("Conv", &["x", "w"], "c", vec![aints("pads", &[1, 1, 1, 1])]);
    b.node("GlobalAveragePool", &["c"], "g", vec![]);
    b.node("Shape", &["g"], "s", vec![]);
    b.init(i64_tensor("i0", &[], &[0]));
    b.node("Gather", &["s", "i0"], "n", vec![ai("axis", 0)]);
    b.node("Unsqueeze", &["n"], "n1", vec![aints("axes", &[0])]);
    b.init(i64_tensor("m1", &[1], &[-1]));
    b.node("Concat", &["n1", "m1"], "t", vec![ai("axis", 0)]);
    b.node("Reshape", &["g", "t"], "f", vec![]);
    b.weight("fw", &[3, 4], -0.5, 0.5);
    b.weight("fb", &[4], -0.5, 0.5);
    b.node("MatMul", &["f", "fw"], "mm", vec![]);
    b.node("Add", &["mm", "fb"], "y", vec![]);
    b.output("y");
    b.bytes(12)
}

fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut m = original.to_vec();
    match rng.below(4) {
        0 => m.truncate(rng.below(m.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let i = rng.below(m.len());
            m[i] = rng.next_u64() as u8;
        }
        _ => {
            // A run of 0xFF makes huge varints: lengths, dims, attribute values.
            let i = rng.below(m.len());
            let n = (1 + rng.below(10)).min(m.len() - i);
            m[i..i + n].fill(0xFF);
        }
    }
    m
}

#[test]
fn mutated_models_never_panic() {
    let models = [chain_model(), float_model(&graphs::small_cnn(9), 13).unwrap().encode_to_vec()];
    let mut rng = Rng::new(0x5EED);
    let (mut ok, mut err) = (0, 0);
    for original in &models {
        assert!(import_bytes(original.clone().into()).is_ok());
        for _ in 0..400 {
            let bytes = mutate(&mut rng, original);
            match import_bytes(bytes.into()) {
                Ok(_) => ok += 1,
                Err(_) => err += 1,
            }
        }
    }
    // Both outcomes happen: the mutations reach past the protobuf decoder.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}
