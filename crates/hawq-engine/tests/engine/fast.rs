//! The fast engine against the reference engine: whole-model integer outputs must be EQUAL,
//! for every ISA this CPU has, several thread counts and batch sizes.

use crate::common::{Rng, quantize, residual_net};
use hawq_engine::fast::Plan;
use hawq_engine::reference::{self, QTensor};
use hawq_engine::{EngineError, LowerConfig, QModel, lower};
use hawq_ir::{Graph, Op, Tensor};
use hawq_kernels::Isa;
use std::collections::HashMap;

fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
}

/// Item `i` of a batch (float input or integer output).
fn item(t: &Tensor, i: usize) -> Tensor {
    let per = t.data().len() / t.shape()[0];
    let mut shape = t.shape().to_vec();
    shape[0] = 1;
    Tensor::new(shape, t.data()[i * per..(i + 1) * per].to_vec()).unwrap()
}

fn qitem(t: &QTensor, i: usize) -> QTensor {
    let per = t.data.len() / t.shape[0];
    let mut shape = t.shape.clone();
    shape[0] = 1;
    QTensor { shape, data: t.data[i * per..(i + 1) * per].to_vec() }
}

/// Names the first value where the fast engine and the reference disagree.
fn first_divergence(model: &QModel, plan: &Plan, x: &Tensor, threads: usize) -> String {
    let r = reference::run_all(model, x).unwrap();
    let f = plan.run_all(x, threads).unwrap();
    for node in &model.nodes {
        let (a, b) = (&r[node.output], &f[node.output]);
        if a != b {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            let at = a.data.iter().zip(&b.data).position(|(p, q)| p != q);
            return format!(
                "first divergence at node '{}' ({}), shape {:?}, flat index {at:?}",
                node.name,
                node.op.name(),
                a.shape
            );
        }
    }
    "no per-value divergence".into()
}

/// Checks the fast engine against one reference run on a 3-item batch (items are independent,
/// so the reference output of item 0 is the batch-1 expectation). `full` runs every
/// (threads, batch) pair per ISA; otherwise the pairs rotate across ISAs and `salt`.
fn check(model: &QModel, x3: &Tensor, full: bool, salt: usize, label: &str) {
    let expected3 = reference::run(model, x3).unwrap();
    let x1 = item(x3, 0);
    let expected1 = qitem(&expected3.int_output, 0);
    for (ii, isa) in isas().into_iter().enumerate() {
        let plan = Plan::new(model, isa).unwrap();
        let pairs: Vec<(usize, usize)> = if full {
            [1, 2, 3].into_iter().flat_map(|t| [(t, 1), (t, 3)]).collect()
        } else {
            vec![(1 + (ii + salt) % 3, 3), (1 + (ii + salt + 1) % 3, 1)]
        };
        for (threads, batch) in pairs {
            let (x, want) =
                if batch == 3 { (x3, &expected3.int_output) } else { (&x1, &expected1) };
            let got = plan.run(x, threads).unwrap();
            if &got.int_output != want {
                panic!(
                    "{label}: {isa} threads {threads} batch {batch}: outputs differ; {}",
                    first_divergence(model, &plan, x, threads)
                );
            }
            assert_eq!(&got.int_output, want);
            let want_logits = reference::dequantize(model, want).unwrap();
            assert_eq!(got.logits.data(), want_logits.data(), "{label}: logits");
        }
    }
}

fn small_configs() -> Vec<(&'static str, LowerConfig)> {
    let mut mixed = HashMap::new();
    for l in ["b1.conv1.weight", "b2.conv2.weight", "b2.conv1.weight", "b2.downsample.weight"] {
        mixed.insert(l.to_string(), 4);
    }
    let mut int4 = HashMap::new();
    int4.insert("stem.weight".to_string(), 8);
    int4.insert("fc.weight".to_string(), 8);
    vec![
        ("int8", LowerConfig::default()),
        ("mixed", LowerConfig { bits: mixed, ..LowerConfig::default() }),
        ("int4", LowerConfig { bits: int4, default_bits: 4, ..LowerConfig::default() }),
        ("int8-signed", LowerConfig { signed_activations: true, ..LowerConfig::default() }),
    ]
}

#[test]
fn small_residual_net_matches_reference_everywhere() {
    let g = residual_net(3, 3);
    let mut rng = Rng::new(21);
    let x = rng.tensor(vec![3, 3, 8, 8], 2.5);
    for (name, cfg) in small_configs() {
        let m = quantize(&g, &cfg, 4, 2, 4);
        check(&m, &x, true, 0, name);
    }
}

#[test]
fn arena_reuses_buffers_and_reports_its_size() {
    let g = residual_net(3, 3);
    let m = quantize(&g, &LowerConfig::default(), 4, 2, 4);
    let plan = Plan::new(&m, Isa::Scalar).unwrap();
    assert!(plan.buffer_count() < m.values.len(), "{} buffers", plan.buffer_count());
    let all: usize = m
        .values
        .iter()
        .map(|v| v.shape.per_item() * hawq_engine::fast::Store::of(v.format).bytes())
        .sum();
    let peak = plan.peak_activation_bytes(1);
    assert!(peak > 0 && peak < all, "peak {peak} vs all values {all}");
    assert_eq!(plan.peak_activation_bytes(4), 4 * peak);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let g = residual_net(7, 3);
    let m = quantize(&g, &LowerConfig::default(), 2, 1, 2);
    let plan = Plan::new(&m, Isa::Scalar).unwrap();
    let mut rng = Rng::new(1);
    assert!(matches!(
        plan.run(&rng.tensor(vec![1, 1, 8, 8], 1.0), 1),
        Err(EngineError::InputShape { .. })
    ));
    let mut bad = rng.tensor(vec![1, 3, 8, 8], 1.0);
    bad.data_mut()[5] = f32::NAN;
    assert!(matches!(plan.run(&bad, 2), Err(EngineError::NonFiniteInput { index: 5 })));
    // A broken model is refused when planning, never run.
    let mut broken = m.clone();
    broken.nodes[0].inputs[0] = 10_000;
    assert!(matches!(Plan::new(&broken, Isa::Scalar), Err(EngineError::InvalidModel { .. })));
}

/// Weight names of conv/linear layers in execution order.
fn layer_names(g: &Graph) -> Vec<String> {
    g.topo_order()
        .unwrap()
        .into_iter()
        .filter_map(|i| match &g.nodes[i].op {
            Op::Conv2d(c) => Some(c.weight.clone()),
            Op::Linear(l) => Some(l.weight.clone()),
            _ => None,
        })
        .collect()
}

/// Uniform 8, uniform 4 with first/last at 8, and every other layer at 4.
fn zoo_configs(g: &Graph) -> Vec<(&'static str, LowerConfig)> {
    let names = layer_names(g);
    let ends = |bits: &mut HashMap<String, u32>| {
        bits.insert(names[0].clone(), 8);
        bits.insert(names[names.len() - 1].clone(), 8);
    };
    let mut b4 = HashMap::new();
    ends(&mut b4);
    let mut mixed: HashMap<String, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), if i % 2 == 1 { 4 } else { 8 }))
        .collect();
    ends(&mut mixed);
    vec![
        ("int8", LowerConfig::default()),
        ("int4", LowerConfig { bits: b4, default_bits: 4, ..LowerConfig::default() }),
        ("mixed", LowerConfig { bits: mixed, ..LowerConfig::default() }),
    ]
}

/// Builds a zoo model at `c×h×w`, calibrates it on one random batch of 2 and checks the
/// configs named in `which` (all when empty) on a random batch of 3.
fn zoo_check(name: &str, [c, h, w]: [usize; 3], full: bool, which: &[&str]) {
    let mut opts = hawq_zoo::ZooOptions::for_model(name).unwrap();
    (opts.in_channels, opts.height, opts.width, opts.num_classes) = (c, h, w, 10);
    opts.randomize_bn = true;
    let mut g = hawq_zoo::build(name, &opts).unwrap();
    hawq_ir::passes::simplify(&mut g).unwrap();
    let mut rng = Rng::new(5);
    let calib = rng.tensor(vec![2, c, h, w], 1.5);
    let ranges = hawq_engine::calibrate::calibrate(&g, [&calib]).unwrap();
    let x = rng.tensor(vec![3, c, h, w], 1.5);
    for (salt, (cfg_name, cfg)) in zoo_configs(&g).into_iter().enumerate() {
        if !which.is_empty() && !which.contains(&cfg_name) {
            continue;
        }
        let m = lower(&g, &ranges, &cfg).unwrap();
        check(&m, &x, full, salt, &format!("{name} {c}x{h}x{w} {cfg_name}"));
    }
}

#[test]
fn resnet20_mnist_shape_matches_reference() {
    zoo_check("resnet20", [1, 28, 28], false, &[]);
}

#[test]
fn resnet20_cifar_shape_matches_reference() {
    zoo_check("resnet20", [3, 32, 32], false, &[]);
}

#[test]
fn resnet18_matches_reference() {
    zoo_check("resnet18", [3, 32, 32], false, &[]);
}

#[test]
fn resnet50_matches_reference() {
    zoo_check("resnet50", [3, 32, 32], false, &[]);
}

#[test]
fn mobilenet_v2_matches_reference() {
    zoo_check("mobilenet_v2", [3, 64, 64], false, &[]);
}

/// At its smallest input (75×75) Inception is still the slowest reference run, so it checks
/// int8 and mixed (which has 4-bit layers) only.
#[test]
fn inception_v3_matches_reference() {
    zoo_check("inception_v3", [3, 75, 75], false, &["int8", "mixed"]);
}
