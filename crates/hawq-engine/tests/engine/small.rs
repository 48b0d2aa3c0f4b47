//! Lowering and reference-engine behaviour on a small residual network.

use crate::common::{Rng, argmax_rows, quantize, residual_net};
use hawq_engine::qmodel::{OutputMode, QOp};
use hawq_engine::reference;
use hawq_engine::{EngineError, LowerConfig, lower};
use hawq_quant::ActFormat;
use std::collections::HashMap;

fn mixed() -> LowerConfig {
    let mut bits = HashMap::new();
    for l in ["b1.conv1.weight", "b2.conv2.weight", "b2.conv1.weight", "b2.downsample.weight"] {
        bits.insert(l.to_string(), 4);
    }
    LowerConfig { bits, ..LowerConfig::default() }
}

#[test]
fn structure_of_the_lowered_model() {
    let g = residual_net(1, 3);
    let m = quantize(&g, &LowerConfig::default(), 2, 2, 4);
    m.validate().unwrap();
    let names: Vec<&str> = m.nodes.iter().map(|n| n.op.name()).collect();
    // The two residual adds are fused into conv epilogues; no standalone Add or Clamp remains.
    assert!(!names.contains(&"Add") && !names.contains(&"Clamp"), "{names:?}");
    let fused = m
        .layers()
        .filter(|l| matches!(l.mode, OutputMode::Requantize { residual: Some(_), .. }))
        .count();
    assert_eq!(fused, 2);
    // The last layer keeps its accumulator and is dequantized per channel.
    assert!(matches!(m.layers().last().unwrap().mode, OutputMode::Accumulator));
    // The block-2 conv1 and the downsample read one shared requantized tensor.
    let reads = |layer: &str| {
        m.nodes.iter().find(|n| matches!(&n.op, QOp::Layer(l) if l.name == layer)).unwrap().inputs
            [0]
    };
    assert_eq!(reads("b2.conv1.weight"), reads("b2.downsample.weight"));
    assert_eq!(m.values[reads("b2.conv1.weight")].format, ActFormat::unsigned(8));
    // The network input is signed 8-bit.
    assert_eq!(m.values[m.input].format, ActFormat::signed(8));
}

#[test]
fn reference_run_tracks_the_float_model() {
    let g = residual_net(3, 3);
    let mut rng = Rng::new(9);
    let x = rng.tensor(vec![16, 3, 8, 8], 2.0);
    let float = hawq_ir::interp::run(&g, std::slice::from_ref(&x)).unwrap().remove(0);
    for (cfg, name) in [(LowerConfig::default(), "int8"), (mixed(), "mixed")] {
        let m = quantize(&g, &cfg, 4, 4, 8);
        let out = reference::run(&m, &x).unwrap();
        assert_eq!(out.logits.shape(), float.shape());
        let agree = argmax_rows(&out.logits)
            .iter()
            .zip(argmax_rows(&float))
            .filter(|(a, b)| **a == *b)
            .count();
        let err = out.logits.max_abs_diff(&float).unwrap() / float.max_abs();
        eprintln!("{name}: top-1 agreement {agree}/16, max relative logit error {err:.4}");
        // Integer outputs are deterministic.
        assert_eq!(reference::run(&m, &x).unwrap().int_output, out.int_output);
        if name == "int8" {
            assert!(err < 0.1, "int8 logits too far from float: {err}");
        }
    }
}

#[test]
fn four_bit_layers_read_unsigned_four_bit_values() {
    let g = residual_net(5, 3);
    let m = quantize(&g, &mixed(), 6, 2, 4);
    for node in &m.nodes {
        if let QOp::Layer(l) = &node.op {
            let fmt = m.values[node.inputs[0]].format;
            assert_eq!(fmt.bits, l.bits, "{}", l.name);
            if l.bits == 4 {
                assert!(!fmt.signed);
                assert!(l.weights.iter().all(|&w| (-8..=7).contains(&w)));
            }
        }
    }
}

#[test]
fn unsupported_and_missing_inputs_are_typed_errors() {
    let g = residual_net(7, 3);
    let err = lower(&g, &HashMap::new(), &LowerConfig::default()).unwrap_err();
    assert!(matches!(err, EngineError::MissingRange { .. }), "{err}");
    let mut rng = Rng::new(1);
    let ranges =
        hawq_engine::calibrate::calibrate(&g, &[rng.tensor(vec![2, 3, 8, 8], 1.0)]).unwrap();
    let err =
        lower(&g, &ranges, &LowerConfig { default_bits: 3, ..LowerConfig::default() }).unwrap_err();
    assert!(matches!(&err, EngineError::Bits { bits: 3, .. }), "{err}");
    assert!(err.to_string().contains("stem.weight"), "{err}");
    // A BatchNorm that was not folded is refused, never run in float.
    let mut with_bn = g.clone();
    for p in ["bn.w", "bn.b", "bn.m", "bn.v"] {
        with_bn.params.insert(p.into(), hawq_ir::Tensor::full(vec![10], 1.0));
    }
    let bn = hawq_ir::BatchNorm {
        scale: "bn.w".into(),
        bias: "bn.b".into(),
        mean: "bn.m".into(),
        var: "bn.v".into(),
        eps: 1e-5,
        channels: 10,
    };
    with_bn.push("bn", hawq_ir::Op::BatchNorm(bn), &["fc"]);
    with_bn.outputs = vec!["bn".into()];
    let ranges =
        hawq_engine::calibrate::calibrate(&with_bn, &[rng.tensor(vec![2, 3, 8, 8], 1.0)]).unwrap();
    let err = lower(&with_bn, &ranges, &LowerConfig::default()).unwrap_err();
    assert!(matches!(&err, EngineError::Unsupported { node, .. } if node == "bn"), "{err}");
    // Wrong input shapes and non-finite inputs are refused by the engine.
    let m = quantize(&g, &LowerConfig::default(), 2, 1, 2);
    assert!(matches!(
        reference::run(&m, &rng.tensor(vec![1, 1, 8, 8], 1.0)),
        Err(EngineError::InputShape { .. })
    ));
    let mut bad = rng.tensor(vec![1, 3, 8, 8], 1.0);
    bad.data_mut()[5] = f32::NAN;
    assert!(matches!(reference::run(&m, &bad), Err(EngineError::NonFiniteInput { index: 5 })));
}
