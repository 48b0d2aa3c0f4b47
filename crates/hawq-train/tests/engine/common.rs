//! Graph builders with seeded random parameters, and finite-difference helpers.

use hawq_ir::{Activation, BatchNorm, Conv2d, Graph, Linear, Op, Shape, Tensor, ValueInfo};
use hawq_train::{BackwardOptions, Mode, Network};

/// A small deterministic generator (SplitMix64) for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// Builds graphs node by node, giving every parameter seeded random values.
pub struct Builder {
    pub graph: Graph,
    pub rng: Rng,
    counter: usize,
}

impl Builder {
    pub fn new(c: usize, h: usize, w: usize, seed: u64) -> Self {
        let graph = Graph {
            inputs: vec![ValueInfo { name: "input".into(), shape: Shape::batched(&[c, h, w]) }],
            ..Graph::default()
        };
        Builder { graph, rng: Rng(seed), counter: 0 }
    }

    fn name(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}{}", self.counter)
    }

    fn param(&mut self, name: &str, shape: Vec<usize>, lo: f64, hi: f64) {
        let n = shape.iter().product();
        let data = self.rng.vec(n, lo, hi).into_iter().map(|v| v as f32).collect();
        self.graph.params.insert(name.into(), Tensor::new(shape, data).unwrap());
    }

    pub fn op(&mut self, op: Op, inputs: &[&str]) -> String {
        let name = self.name(&op.name().to_lowercase());
        self.graph.push(name, op, inputs)
    }

    pub fn conv(&mut self, x: &str, mut cfg: Conv2d, bias: bool) -> String {
        let name = self.name("conv");
        cfg.weight = format!("{name}.weight");
        let fan_in = (cfg.in_channels / cfg.groups * cfg.kernel[0] * cfg.kernel[1]) as f64;
        let s = (3.0 / fan_in).sqrt();
        self.param(&cfg.weight.clone(), cfg.weight_shape(), -s, s);
        if bias {
            cfg.bias = Some(format!("{name}.bias"));
            self.param(&format!("{name}.bias"), vec![cfg.out_channels], -0.3, 0.3);
        }
        self.graph.push(name, Op::Conv2d(cfg), &[x])
    }

    pub fn bn(&mut self, x: &str, channels: usize) -> String {
        let name = self.name("bn");
        let p = |s: &str| format!("{name}.{s}");
        self.param(&p("weight"), vec![channels], 0.5, 1.5);
        self.param(&p("bias"), vec![channels], -0.2, 0.2);
        self.param(&p("running_mean"), vec![channels], -0.2, 0.2);
        self.param(&p("running_var"), vec![channels], 0.5, 2.0);
        let cfg = BatchNorm {
            scale: p("weight"),
            bias: p("bias"),
            mean: p("running_mean"),
            var: p("running_var"),
            eps: 1e-5,
            channels,
        };
        self.graph.push(name, Op::BatchNorm(cfg), &[x])
    }

    pub fn linear(&mut self, x: &str, inf: usize, outf: usize, act: Activation) -> String {
        let name = self.name("fc");
        let s = (3.0 / inf as f64).sqrt();
        self.param(&format!("{name}.weight"), vec![outf, inf], -s, s);
        self.param(&format!("{name}.bias"), vec![outf], -0.1, 0.1);
        let cfg = Linear {
            weight: format!("{name}.weight"),
            bias: Some(format!("{name}.bias")),
            in_features: inf,
            out_features: outf,
            activation: act,
        };
        self.graph.push(name, Op::Linear(cfg), &[x])
    }

    /// Flattens `x` (`features` values per item), adds a classifier and marks it the output.
    pub fn head(mut self, x: &str, features: usize, classes: usize) -> Graph {
        let f = self.op(Op::Flatten { axis: 1 }, &[x]);
        let out = self.linear(&f, features, classes, Activation::None);
        self.graph.outputs = vec![out];
        self.graph
    }
}

/// A conv config with everything spelled out.
#[allow(clippy::too_many_arguments)]
pub fn conv_cfg(
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
    activation: Activation,
) -> Conv2d {
    Conv2d {
        weight: String::new(),
        bias: None,
        in_channels: cin,
        out_channels: cout,
        kernel,
        stride,
        pads,
        dilation,
        groups,
        activation,
    }
}

/// Relative error `|a − b| / max(|a|, |b|, floor)`.
pub fn rel_err(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

/// `Σ logits ⊙ r` after a forward pass in `mode`.
pub fn objective(net: &mut Network<f64>, x: &[f64], batch: usize, mode: Mode, r: &[f64]) -> f64 {
    let tape = net.forward(x, batch, mode).unwrap();
    tape.logits().iter().zip(r).map(|(a, b)| a * b).sum()
}

/// Checks every parameter tensor's and the input's gradient of `Σ logits ⊙ r` against central
/// differences along a random direction (and, for tensors of at most `elementwise_max`
/// values, element by element). Returns the largest relative error seen.
pub fn check_gradients(
    graph: &Graph,
    batch: usize,
    mode: Mode,
    seed: u64,
    elementwise_max: usize,
) -> f64 {
    let mut net = Network::<f64>::from_graph(graph).unwrap();
    net.set_dropout_rate(0.3).unwrap();
    let mut rng = Rng(seed);
    let x = rng.vec(batch * net.plan().input_len(), -1.0, 1.0);
    let r = rng.vec(batch * net.plan().output_len(), -1.0, 1.0);
    let tape = net.forward(&x, batch, mode).unwrap();
    let grads = net
        .backward(&tape, &r, BackwardOptions { input_grad: true, per_item_norms: false })
        .unwrap();
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    let infos = net.plan().params().to_vec();
    for (i, info) in infos.iter().enumerate() {
        if !info.kind.trainable() {
            assert!(grads.params[i].iter().all(|&g| g == 0.0), "{} has a gradient", info.name);
            continue;
        }
        let dir = rng.vec(info.numel(), -1.0, 1.0);
        let analytic: f64 = grads.params[i].iter().zip(&dir).map(|(g, d)| g * d).sum();
        let base = net.params()[i].clone();
        let at = |sign: f64, net: &mut Network<f64>| {
            for ((w, b), d) in net.params_mut()[i].iter_mut().zip(&base).zip(&dir) {
                *w = b + sign * h * d;
            }
            objective(net, &x, batch, mode, &r)
        };
        let fd = (at(1.0, &mut net) - at(-1.0, &mut net)) / (2.0 * h);
        net.params_mut()[i].copy_from_slice(&base);
        let e = rel_err(analytic, fd, 1e-8);
        assert!(e < 1e-6, "{} directional: analytic {analytic} vs fd {fd} (rel {e})", info.name);
        worst = worst.max(e);
        if info.numel() <= elementwise_max {
            for (k, &b) in base.iter().enumerate() {
                net.params_mut()[i][k] = b + h;
                let up = objective(&mut net, &x, batch, mode, &r);
                net.params_mut()[i][k] = b - h;
                let down = objective(&mut net, &x, batch, mode, &r);
                net.params_mut()[i][k] = b;
                let fd = (up - down) / (2.0 * h);
                let e = rel_err(grads.params[i][k], fd, 1e-7);
                assert!(
                    e < 1e-6,
                    "{}[{k}]: analytic {} vs fd {fd} (rel {e})",
                    info.name,
                    grads.params[i][k]
                );
                worst = worst.max(e);
            }
        }
    }
    // Input gradient along a random direction.
    let dir = rng.vec(x.len(), -1.0, 1.0);
    let gx = grads.input.as_ref().unwrap();
    let analytic: f64 = gx.iter().zip(&dir).map(|(g, d)| g * d).sum();
    let shifted = |s: f64| x.iter().zip(&dir).map(|(a, d)| a + s * h * d).collect::<Vec<_>>();
    let fd = (objective(&mut net, &shifted(1.0), batch, mode, &r)
        - objective(&mut net, &shifted(-1.0), batch, mode, &r))
        / (2.0 * h);
    let e = rel_err(analytic, fd, 1e-8);
    assert!(e < 1e-6, "input: analytic {analytic} vs fd {fd} (rel {e})");
    worst.max(e)
}
