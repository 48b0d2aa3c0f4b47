//! Helpers for the pass tests: a tiny deterministic RNG and an output comparison.

use crate::graph::{Graph, ValueInfo};
use crate::interp::run;
use crate::op::{BatchNorm, Conv2d};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// SplitMix64: deterministic, dependency-free test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }

    pub fn tensor(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        let data = (0..n).map(|_| self.uniform(lo, hi)).collect();
        Tensor::new(shape.to_vec(), data).expect("shape and data agree")
    }
}

/// A graph with one batched NCHW input named `x`.
pub fn graph_with_input(chw: &[usize]) -> Graph {
    Graph {
        inputs: vec![ValueInfo { name: "x".into(), shape: Shape::batched(chw) }],
        ..Graph::default()
    }
}

/// Adds a conv with random weights (and bias if asked) named `{name}.weight`/`{name}.bias`.
pub fn add_conv(
    g: &mut Graph,
    rng: &mut Rng,
    name: &str,
    input: &str,
    mut cfg: Conv2d,
    bias: bool,
) -> String {
    cfg.weight = format!("{name}.weight");
    g.params.insert(cfg.weight.clone(), rng.tensor(&cfg.weight_shape(), -0.5, 0.5));
    if bias {
        let b = format!("{name}.bias");
        g.params.insert(b.clone(), rng.tensor(&[cfg.out_channels], -0.5, 0.5));
        cfg.bias = Some(b);
    }
    g.push(name, crate::op::Op::Conv2d(cfg), &[input])
}

/// Adds a batch norm with non-trivial random γ, β, mean and var.
pub fn add_bn(g: &mut Graph, rng: &mut Rng, name: &str, input: &str, channels: usize) -> String {
    let p = |what: &str| format!("{name}.{what}");
    g.params.insert(p("weight"), rng.tensor(&[channels], 0.5, 2.0));
    g.params.insert(p("bias"), rng.tensor(&[channels], -1.0, 1.0));
    g.params.insert(p("running_mean"), rng.tensor(&[channels], -0.5, 0.5));
    g.params.insert(p("running_var"), rng.tensor(&[channels], 0.2, 3.0));
    let bn = BatchNorm {
        scale: p("weight"),
        bias: p("bias"),
        mean: p("running_mean"),
        var: p("running_var"),
        eps: 1e-5,
        channels,
    };
    g.push(name, crate::op::Op::BatchNorm(bn), &[input])
}

/// Asserts both graphs give the same outputs on `inputs` within `1e-5` of each output's
/// largest magnitude.
pub fn assert_same_outputs(before: &Graph, after: &Graph, inputs: &[Tensor]) {
    let a = run(before, inputs).expect("original graph runs");
    let b = run(after, inputs).expect("rewritten graph runs");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let diff = x.max_abs_diff(y).expect("same output shapes");
        let tol = 1e-5 * x.max_abs().max(1e-3);
        assert!(diff <= tol, "outputs differ by {diff} (tolerance {tol})");
    }
}
