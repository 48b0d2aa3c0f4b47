//! Per-layer profiling of the fast engine: which layer each node is charged to, and that the
//! per-layer times and the overhead add up to the measured run.

use crate::common::{Rng, quantize, residual_net};
use hawq_engine::fast::profile::{charge_nodes, profile_layers};
use hawq_engine::{LowerConfig, QModel, QOp};

fn model(bits: u32) -> QModel {
    let cfg = LowerConfig { default_bits: bits, ..LowerConfig::default() };
    quantize(&residual_net(7, 3), &cfg, 1, 2, 2)
}

#[test]
fn every_node_is_charged_to_its_feeding_layer() {
    for bits in [4, 8] {
        let m = model(bits);
        let charge = charge_nodes(&m);
        assert_eq!(charge.len(), m.nodes.len());
        let mut layer = 0;
        for (node, c) in m.nodes.iter().zip(&charge) {
            match node.op {
                QOp::Layer(_) => {
                    assert_eq!(*c, Some(layer), "{bits}-bit layer {}", node.name);
                    layer += 1;
                }
                // Pool and flatten follow the last conv block: charged to the layer before them.
                _ => assert!(
                    c.is_some_and(|c| c <= layer),
                    "{bits}-bit node {} charged to {c:?} with {layer} layers before it",
                    node.name
                ),
            }
        }
        assert_eq!(layer, m.layers().count());
    }
    // The 4-bit model requantizes the signed 8-bit input for the stem: charged to the stem.
    let m4 = model(4);
    let first = m4.nodes.iter().position(|n| matches!(n.op, QOp::Requant { .. }));
    let first = first.expect("the 4-bit model requantizes its input");
    assert_eq!(m4.nodes[first].inputs, vec![m4.input]);
    assert_eq!(charge_nodes(&m4)[first], Some(0));
}

#[test]
fn one_round_adds_up_to_the_whole_run() {
    let (m4, m8) = (model(4), model(8));
    let x = Rng::new(3).tensor(vec![2, 3, 8, 8], 2.0);
    let isa = hawq_kernels::isa().unwrap();
    let times = profile_layers(&[&m4, &m8], isa, &x, 1, 1, 1).unwrap();
    assert_eq!(times.len(), 2);
    for (t, m) in times.iter().zip([&m4, &m8]) {
        let names: Vec<&str> = m.layers().map(|l| l.name.as_str()).collect();
        assert_eq!(t.layers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), names);
        assert!(t.layers.iter().all(|&(_, ms)| ms > 0.0), "{t:?}");
        assert!(t.overhead_ms >= 0.0 && t.total_ms > 0.0, "{t:?}");
        assert_eq!(t.median_total_ms, t.total_ms, "one run is its own median");
        // With one round every figure comes from the same run, so the sum is exact.
        let sum: f64 = t.layers.iter().map(|(_, ms)| ms).sum::<f64>() + t.overhead_ms;
        assert!((sum - t.total_ms).abs() < 1e-9 * t.total_ms.max(1.0), "{sum} vs {t:?}");
    }
    // Over several runs the interquartile means still add up exactly.
    let times = profile_layers(&[&m8], isa, &x, 1, 0, 9).unwrap();
    let t = &times[0];
    assert_eq!(t.layers.len(), m8.layers().count());
    let sum: f64 = t.layers.iter().map(|(_, ms)| ms).sum::<f64>() + t.overhead_ms;
    assert!((sum - t.total_ms).abs() < 1e-9 * t.total_ms.max(1.0), "{sum} vs {t:?}");
    assert!(t.median_total_ms > 0.0);
}
