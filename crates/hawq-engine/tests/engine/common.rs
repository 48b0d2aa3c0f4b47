//! Shared helpers: seeded random tensors and a small residual CNN.

use hawq_engine::{LowerConfig, QModel, calibrate::calibrate, lower};
use hawq_ir::{Activation, Conv2d, Graph, Linear, Op, Shape, Tensor, ValueInfo};

/// A tiny deterministic PRNG (xorshift) for test data; not for anything statistical.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn tensor(&mut self, shape: Vec<usize>, scale: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape, (0..n).map(|_| self.uniform() * scale).collect()).unwrap()
    }
}

/// stem conv(+ReLU) → [conv(+ReLU) → conv] + identity → ReLU → downsample block with a 1×1
/// shortcut → global pool → flatten → linear. Exercises requant sharing, fused residuals
/// (identity and conv shortcut), pooling and the accumulator output.
pub fn residual_net(seed: u64, cin: usize) -> Graph {
    let mut rng = Rng::new(seed);
    let mut g = Graph {
        inputs: vec![ValueInfo { name: "input".into(), shape: Shape::batched(&[cin, 8, 8]) }],
        outputs: vec!["fc".into()],
        ..Graph::default()
    };
    let mut conv = |g: &mut Graph,
                    name: &str,
                    x: &str,
                    ci: usize,
                    co: usize,
                    k: usize,
                    s: usize,
                    act: Activation|
     -> String {
        let mut c = Conv2d::new(format!("{name}.weight"), ci, co, k, s, k / 2);
        c.bias = Some(format!("{name}.bias"));
        c.activation = act;
        let fan_in = (ci * k * k) as f32;
        g.params.insert(c.weight.clone(), rng.tensor(c.weight_shape(), (3.0 / fan_in).sqrt()));
        g.params.insert(format!("{name}.bias"), rng.tensor(vec![co], 0.1));
        g.push(name, Op::Conv2d(c), &[x])
    };
    let stem = conv(&mut g, "stem", "input", cin, 8, 3, 1, Activation::Relu);
    let a1 = conv(&mut g, "b1.conv1", &stem, 8, 8, 3, 1, Activation::Relu);
    let a2 = conv(&mut g, "b1.conv2", &a1, 8, 8, 3, 1, Activation::None);
    let s1 = g.push("b1.add", Op::Add, &[&a2, &stem]);
    let r1 = g.push("b1.relu", Op::Relu, &[&s1]);
    let c1 = conv(&mut g, "b2.conv1", &r1, 8, 16, 3, 2, Activation::Relu);
    let c2 = conv(&mut g, "b2.conv2", &c1, 16, 16, 3, 1, Activation::None);
    let ds = conv(&mut g, "b2.downsample", &r1, 8, 16, 1, 2, Activation::None);
    let s2 = g.push("b2.add", Op::Add, &[&c2, &ds]);
    let r2 = g.push("b2.relu", Op::Relu, &[&s2]);
    let p = g.push("pool", Op::GlobalAvgPool, &[&r2]);
    let f = g.push("flatten", Op::Flatten { axis: 1 }, &[&p]);
    g.params.insert("fc.weight".into(), rng.tensor(vec![10, 16], 0.5));
    g.params.insert("fc.bias".into(), rng.tensor(vec![10], 0.1));
    g.push(
        "fc",
        Op::Linear(Linear {
            weight: "fc.weight".into(),
            bias: Some("fc.bias".into()),
            in_features: 16,
            out_features: 10,
            activation: Activation::None,
        }),
        &[&f],
    );
    g
}

/// Calibrates on `batches` random batches and lowers with `cfg`.
pub fn quantize(g: &Graph, cfg: &LowerConfig, seed: u64, batches: usize, batch: usize) -> QModel {
    let mut rng = Rng::new(seed);
    let cin = g.inputs[0].shape.fixed_dim(1).unwrap();
    let (h, w) = (g.inputs[0].shape.fixed_dim(2).unwrap(), g.inputs[0].shape.fixed_dim(3).unwrap());
    let data: Vec<Tensor> = (0..batches).map(|_| rng.tensor(vec![batch, cin, h, w], 2.0)).collect();
    let ranges = calibrate(g, &data).unwrap();
    lower(g, &ranges, cfg).unwrap()
}

/// Index of the largest element of each row.
pub fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let c = t.shape()[1];
    t.data()
        .chunks_exact(c)
        .map(|r| r.iter().enumerate().fold(0, |best, (i, &v)| if v > r[best] { i } else { best }))
        .collect()
}
