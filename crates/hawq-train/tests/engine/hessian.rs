//! Hessian traces and block products against a brute-force Hessian block built column by
//! column from central differences of gradients (f64), Hutchinson's estimator, determinism,
//! and the sensitivity table.

use crate::common::{Builder, Rng, conv_cfg, rel_err};
use hawq_ir::{Activation, Graph, MaxPool, Op};
use hawq_train::hessian::{self, HessianProgress, HutchinsonOptions, Method, SensitivityConfig};
use hawq_train::{BackwardOptions, Network, cross_entropy};

/// 6 inputs → 5 (ReLU) → 4 classes.
fn mlp() -> Graph {
    let mut b = Builder::new(1, 2, 3, 5);
    let f = b.op(Op::Flatten { axis: 1 }, &["input"]);
    let h = b.linear(&f, 6, 5, Activation::Relu);
    b.head(&h, 5, 4)
}

/// conv3×3 (ReLU) → BN → max-pool → conv3×3 (ReLU) → global pool → linear, 3 classes.
fn cnn() -> Graph {
    let mut b = Builder::new(2, 4, 4, 17);
    let c1 =
        b.conv("input", conv_cfg(2, 3, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::Relu), true);
    let n = b.bn(&c1, 3);
    let mp = MaxPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let m = b.op(Op::MaxPool(mp), &[&n]);
    let c2 = b.conv(&m, conv_cfg(3, 4, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::Relu), false);
    let g = b.op(Op::GlobalAvgPool, &[&c2]);
    b.head(&g, 4, 3)
}

struct Problem {
    net: Network<f64>,
    x: Vec<f64>,
    labels: Vec<u32>,
    count: usize,
}

fn problem(graph: &Graph, count: usize, seed: u64) -> Problem {
    let net = Network::<f64>::from_graph(graph).unwrap();
    let mut rng = Rng(seed);
    let x = rng.vec(count * net.plan().input_len(), -1.0, 1.0);
    let classes = net.plan().output_len() as u32;
    let labels = (0..count as u32).map(|i| (i * 7 + 1) % classes).collect();
    Problem { net, x, labels, count }
}

/// Gradient of the mean cross-entropy with respect to parameter `idx`.
fn loss_grad(p: &Problem, net: &Network<f64>, idx: usize) -> Vec<f64> {
    let tape = net.forward_eval(&p.x, p.count).unwrap();
    let classes = net.plan().output_len();
    let loss = cross_entropy(tape.logits(), &p.labels, classes).unwrap();
    let g = net.backward(&tape, &loss.dlogits, BackwardOptions::default()).unwrap();
    g.params[idx].clone()
}

/// The Hessian block of parameter `idx`, row-major `n × n`, by central differences of the
/// loss gradient (with the labels: the exact method never sees them).
fn brute_force_block(p: &Problem, idx: usize) -> Vec<f64> {
    let n = p.net.params()[idx].len();
    let h = 1e-5;
    let mut net = p.net.clone();
    let mut block = vec![0.0; n * n];
    for j in 0..n {
        let w = net.params()[idx][j];
        net.params_mut()[idx][j] = w + h;
        let up = loss_grad(p, &net, idx);
        net.params_mut()[idx][j] = w - h;
        let down = loss_grad(p, &net, idx);
        net.params_mut()[idx][j] = w;
        for r in 0..n {
            block[r * n + j] = (up[r] - down[r]) / (2.0 * h);
        }
    }
    block
}

fn weight_indices(net: &Network<f64>) -> Vec<(usize, String)> {
    net.plan()
        .params()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.ends_with(".weight") && p.shape.len() >= 2)
        .map(|(i, p)| (i, p.name.clone()))
        .collect()
}

fn no_progress(_: HessianProgress) {}

fn check_against_brute_force(graph: &Graph, count: usize) {
    let p = problem(graph, count, 3);
    let mut calls = 0;
    let exact = hessian::exact_traces(&p.net, &p.x, p.count, 4, &mut |_| calls += 1).unwrap();
    let classes = p.net.plan().output_len();
    assert_eq!(calls, count.div_ceil(4) * classes, "one progress call per backward pass");
    let hopts =
        HutchinsonOptions { tol: 0.0, max_probes: 2000, seed: 11, chunk: 5, ..Default::default() };
    let hutch = hessian::hutchinson(&p.net, &p.x, p.count, &hopts, &mut no_progress).unwrap();
    let layers = weight_indices(&p.net);
    assert_eq!(exact.len(), layers.len());
    let mut rng = Rng(77);
    for ((idx, name), (e, h)) in layers.iter().zip(exact.iter().zip(&hutch)) {
        assert_eq!(&e.name, name);
        let block = brute_force_block(&p, *idx);
        let n = e.params;
        let trace: f64 = (0..n).map(|j| block[j * n + j]).sum();
        let err = rel_err(e.trace_sum, trace, 1e-12);
        assert!(err < 1e-8, "{name}: exact {} vs brute force {trace} (rel {err})", e.trace_sum);
        assert!((e.trace - trace / n as f64).abs() <= 1e-6 * e.trace.abs());
        assert_eq!((e.method, e.stderr, e.probes), (Method::ExactGaussNewton, None, 0));
        // Hutchinson at 2,000 probes: within 2% and within 4 of its own standard errors.
        assert_eq!((h.method, h.probes), (Method::Hutchinson, 2000));
        let se = h.stderr.unwrap();
        let herr = rel_err(h.trace, e.trace, 1e-12);
        assert!(herr < 0.02, "{name}: Hutchinson {} vs exact {} (rel {herr})", h.trace, e.trace);
        assert!((h.trace - e.trace).abs() < 4.0 * se + 1e-12, "{name}: off by > 4 s.e. ({se})");
        // A single block–vector product against the brute-force block.
        let v = rng.vec(n, -1.0, 1.0);
        let hv = hessian::block_hvp(&p.net, &p.x, p.count, 4, name, &v).unwrap();
        let bv: Vec<f64> = (0..n).map(|r| (0..n).map(|j| block[r * n + j] * v[j]).sum()).collect();
        let scale = bv.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        for (a, b) in hv.iter().zip(&bv) {
            assert!(rel_err(*a, *b, scale) < 1e-8, "{name}: H·v {a} vs brute force {b}");
        }
        // The brute-force block is symmetric (a check on the oracle itself).
        for r in 0..n {
            for j in 0..r {
                assert!(rel_err(block[r * n + j], block[j * n + r], scale.max(1e-9)) < 1e-5);
            }
        }
    }
}

#[test]
fn mlp_traces_match_the_brute_force_hessian() {
    check_against_brute_force(&mlp(), 7);
}

#[test]
fn cnn_traces_match_the_brute_force_hessian() {
    check_against_brute_force(&cnn(), 6);
}

#[test]
fn results_are_deterministic_and_follow_the_seed() {
    let p = problem(&cnn(), 9, 4);
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let e = hessian::exact_traces(&p.net, &p.x, p.count, 4, &mut no_progress).unwrap();
            let o =
                HutchinsonOptions { max_probes: 5, tol: 0.0, seed, chunk: 3, ..Default::default() };
            let h = hessian::hutchinson(&p.net, &p.x, p.count, &o, &mut no_progress).unwrap();
            (e, h)
        })
    };
    let (e1, h1) = run(1, 5);
    assert_eq!(run(3, 5), run(3, 5), "bit-identical for a fixed thread count");
    // Across thread counts the GEMM blocking changes, so results agree to rounding only.
    let (e3, h3) = run(3, 5);
    for (a, b) in e1.iter().chain(&h1).zip(e3.iter().chain(&h3)) {
        assert_eq!((&a.name, a.probes), (&b.name, b.probes));
        assert!(
            rel_err(a.trace, b.trace, 1e-300) < 1e-12,
            "{}: {} vs {}",
            a.name,
            a.trace,
            b.trace
        );
    }
    let (_, other) = run(1, 6);
    assert!(h1.iter().zip(&other).all(|(a, b)| a.trace != b.trace), "another seed, other probes");
}

#[test]
fn hutchinson_stops_on_the_relative_change_rule() {
    let p = problem(&mlp(), 5, 8);
    let mut seen = Vec::new();
    let o =
        HutchinsonOptions { max_probes: 500, tol: 0.05, seed: 1, chunk: 5, ..Default::default() };
    let h = hessian::hutchinson(&p.net, &p.x, p.count, &o, &mut |q| seen.push(q.done)).unwrap();
    let k = h[0].probes;
    assert!((2..500).contains(&k), "stopped after {k} probes");
    assert!(h.iter().all(|l| l.probes == k));
    assert_eq!(seen, (1..=k).collect::<Vec<_>>());
    let bad = HutchinsonOptions { max_probes: 0, ..o };
    assert!(hessian::hutchinson(&p.net, &p.x, p.count, &bad, &mut no_progress).is_err());
    assert!(hessian::exact_traces(&p.net, &p.x[1..], p.count, 4, &mut no_progress).is_err());
    assert!(hessian::exact_traces(&p.net, &p.x, p.count, 0, &mut no_progress).is_err());
}

fn resnet20_8x8() -> Graph {
    let opts = hawq_zoo::ZooOptions {
        seed: 9,
        in_channels: 1,
        height: 8,
        width: 8,
        num_classes: 10,
        randomize_bn: true,
    };
    hawq_zoo::build("resnet20", &opts).unwrap()
}

#[test]
fn sensitivity_table_is_an_allocator_table() {
    let graph = resnet20_8x8();
    assert!(hessian::exactness(&graph).exact);
    let mut rng = Rng(12);
    let count = 6;
    let x: Vec<f32> = rng.vec(count * 64, -1.0, 1.0).into_iter().map(|v| v as f32).collect();
    let cfg = SensitivityConfig { chunk: 4, ..Default::default() };
    let t = hessian::sensitivity_table::<f64>(&graph, &x, count, &cfg, &mut no_progress).unwrap();
    let layers = &t.table.layers;
    assert_eq!(layers.len(), 22, "19 convs + 2 projection shortcuts + fc");
    assert_eq!(layers[0].name, "conv1.weight");
    assert_eq!(layers.last().unwrap().name, "fc.weight");
    let pinned: Vec<&str> =
        layers.iter().filter(|l| l.pin == Some(8)).map(|l| l.name.as_str()).collect();
    assert_eq!(pinned, ["conv1.weight", "fc.weight"]);
    for l in layers {
        assert!(l.trace > 0.0 && l.trace.is_finite(), "{}: trace {}", l.name, l.trace);
        let (d4, d8) = (l.delta[&4], l.delta[&8]);
        assert!(d4 > 10.0 * d8 && d8 > 0.0, "{}: Δ4 {d4} Δ8 {d8}", l.name);
        assert!(l.macs > 0 && l.params > 0);
        assert_eq!(l.method.as_deref(), Some("exact-gauss-newton"));
    }
    // Ties: each stage's first conv with its projection shortcut (same input tensor).
    assert_eq!(t.table.tie.len(), 2);
    for group in &t.table.tie {
        assert_eq!(group.len(), 2);
        assert!(
            group[0].ends_with(".0.conv1.weight") && group[1].ends_with(".0.downsample.0.weight")
        );
    }
    // The JSON is exactly an allocator table, and the allocator accepts it.
    let json = t.to_json().unwrap();
    let back = hawq_alloc::LayerTable::from_json(&json).unwrap();
    // serde_json's default float parser may be 1 ulp off, so compare numbers to rounding.
    assert_eq!(back.tie, t.table.tie);
    for (a, b) in back.layers.iter().zip(&t.table.layers) {
        assert_eq!(
            (&a.name, a.params, a.macs, a.pin, &a.method),
            (&b.name, b.params, b.macs, b.pin, &b.method)
        );
        assert!(rel_err(a.trace, b.trace, 1e-300) < 1e-15);
        assert!(
            a.delta
                .iter()
                .zip(&b.delta)
                .all(|(x, y)| x.0 == y.0 && rel_err(*x.1, *y.1, 1e-300) < 1e-15)
        );
    }
    let budget = [hawq_alloc::Budget::fraction(hawq_alloc::BudgetKind::Size, 0.5)];
    let a = hawq_alloc::allocate(&back, &budget).unwrap();
    assert_eq!(a.bits["conv1.weight"], 8);
    // Traces refer to the folded weights: same as exact_traces on the simplified graph.
    let mut folded = graph.clone();
    hawq_ir::passes::simplify(&mut folded).unwrap();
    let net = Network::<f64>::from_graph(&folded).unwrap();
    let xd: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let direct = hessian::exact_traces(&net, &xd, count, 4, &mut no_progress).unwrap();
    assert_eq!(direct, t.traces);
    // Δ is the squared quantization error of the folded weights.
    let w = folded.params["layer1.0.conv1.weight"].data();
    let d8 = hessian::perturbation("w", w, folded.params["layer1.0.conv1.weight"].shape()[0], 8);
    assert_eq!(
        d8.unwrap(),
        layers.iter().find(|l| l.name == "layer1.0.conv1.weight").unwrap().delta[&8]
    );
}
