//! BN folding across the zoo: with non-trivial BN statistics, the float reference interpreter
//! gives the same logits before and after `fold_batchnorm` (relative to the largest logit).

use crate::build_with;
use hawq_ir::{Op, Tensor, interp, passes};
use hawq_zoo::ZooOptions;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::time::Instant;

/// Largest accepted `max |before − after| / max |before|`.
const TOLERANCE: f32 = 1e-5;

fn random_input(shape: Vec<usize>, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    Tensor::new(shape, data).unwrap()
}

/// Builds `name` with randomized BN and `edit`, runs it at batch 1 before and after folding,
/// and checks that every BN was folded and the logits agree.
fn check_fold(name: &str, edit: impl FnOnce(&mut ZooOptions)) {
    let mut opts = ZooOptions::for_model(name).unwrap();
    opts.seed = 2024;
    opts.randomize_bn = true;
    edit(&mut opts);
    let graph = build_with(name, |o| *o = opts.clone());
    let bns = graph.nodes.iter().filter(|n| matches!(n.op, Op::BatchNorm(_))).count();
    let x = random_input(vec![1, opts.in_channels, opts.height, opts.width], 99);

    let start = Instant::now();
    let before = interp::run(&graph, std::slice::from_ref(&x)).unwrap();
    let unfolded_time = start.elapsed();

    let mut folded = graph.clone();
    let n = passes::fold_batchnorm(&mut folded).unwrap();
    assert_eq!(n, bns, "{name}: every BN follows a conv and must be folded");
    assert!(!folded.nodes.iter().any(|n| matches!(n.op, Op::BatchNorm(_))), "{name}: BN left");
    let start = Instant::now();
    let after = interp::run(&folded, &[x]).unwrap();
    let folded_time = start.elapsed();

    assert_eq!(before[0].shape(), [1, opts.num_classes]);
    assert_eq!(after[0].shape(), [1, opts.num_classes]);
    let scale = before[0].max_abs();
    assert!(scale.is_finite() && scale > 0.0, "{name}: degenerate logits (max |logit| {scale})");
    let rel = before[0].max_abs_diff(&after[0]).unwrap() / scale;
    eprintln!(
        "{name} {}x{}x{}: {bns} BNs folded, rel diff {rel:.2e}, interp {:.2?} unfolded / {:.2?} folded",
        opts.in_channels, opts.height, opts.width, unfolded_time, folded_time
    );
    assert!(rel <= TOLERANCE, "{name}: folded logits differ by {rel:e} relative");
}

#[test]
fn fold_resnet20() {
    check_fold("resnet20", |_| {});
}

#[test]
fn fold_resnet20_mnist_geometry() {
    check_fold("resnet20", |o| (o.in_channels, o.height, o.width) = (1, 28, 28));
}

#[test]
fn fold_resnet32() {
    check_fold("resnet32", |_| {});
}

#[test]
fn fold_resnet56() {
    check_fold("resnet56", |_| {});
}

#[test]
fn fold_resnet18() {
    check_fold("resnet18", |_| {});
}

#[test]
fn fold_resnet34_small_input() {
    // Same layers as at 224; a small input keeps the test quick.
    check_fold("resnet34", |o| (o.height, o.width) = (64, 64));
}

#[test]
fn fold_resnet50() {
    check_fold("resnet50", |_| {});
}

#[test]
fn fold_mobilenet_v2() {
    check_fold("mobilenet_v2", |_| {});
}

#[test]
fn fold_inception_v3() {
    check_fold("inception_v3", |_| {});
}
