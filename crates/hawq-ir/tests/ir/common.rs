//! Shared helpers: deterministic random data, graph builders and a naive conv reference.

use hawq_ir::{BatchNorm, Conv2d, Graph, Op, Shape, Tensor, ValueInfo};

/// SplitMix64: deterministic, dependency-free test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
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

    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn tensor(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| self.uniform(lo, hi)).collect()).unwrap()
    }
}

/// A graph with one batched input `x` of shape `[N, rest...]`.
pub fn graph_with_input(rest: &[usize]) -> Graph {
    Graph {
        inputs: vec![ValueInfo { name: "x".into(), shape: Shape::batched(rest) }],
        ..Graph::default()
    }
}

/// Adds a conv named `name` with weight `{name}.weight` (uniform, scaled by fan-in so deep
/// stacks keep their magnitude) and optionally a bias.
pub fn conv(
    g: &mut Graph,
    rng: &mut Rng,
    name: &str,
    input: &str,
    mut cfg: Conv2d,
    bias: bool,
) -> String {
    cfg.weight = format!("{name}.weight");
    let fan_in = (cfg.in_channels / cfg.groups * cfg.kernel[0] * cfg.kernel[1]) as f32;
    let r = (3.0 / fan_in).sqrt();
    g.params.insert(cfg.weight.clone(), rng.tensor(&cfg.weight_shape(), -r, r));
    if bias {
        let b = format!("{name}.bias");
        g.params.insert(b.clone(), rng.tensor(&[cfg.out_channels], -0.2, 0.2));
        cfg.bias = Some(b);
    }
    g.push(name, Op::Conv2d(cfg), &[input])
}

/// Adds a BN with non-trivial random γ, β, running mean and var.
pub fn bn(g: &mut Graph, rng: &mut Rng, name: &str, input: &str, channels: usize) -> String {
    let p = |what: &str| format!("{name}.{what}");
    g.params.insert(p("weight"), rng.tensor(&[channels], 0.5, 1.5));
    g.params.insert(p("bias"), rng.tensor(&[channels], -0.5, 0.5));
    g.params.insert(p("running_mean"), rng.tensor(&[channels], -0.3, 0.3));
    g.params.insert(p("running_var"), rng.tensor(&[channels], 0.3, 2.0));
    let cfg = BatchNorm {
        scale: p("weight"),
        bias: p("bias"),
        mean: p("running_mean"),
        var: p("running_var"),
        eps: 1e-5,
        channels,
    };
    g.push(name, Op::BatchNorm(cfg), &[input])
}

/// Max |a − b| relative to max |a| (floored so all-zero outputs compare absolutely).
pub fn rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.max_abs_diff(b).expect("same shapes") / a.max_abs().max(1e-3)
}

/// Direct 7-loop convolution in f64, the textbook definition, independent of the im2col code.
pub fn naive_conv(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    c: &Conv2d,
    oh: usize,
    ow: usize,
) -> Vec<f64> {
    let [n, cin, h, wd] = <[usize; 4]>::try_from(x.shape()).unwrap();
    let (cin_g, cout_g) = (cin / c.groups, c.out_channels / c.groups);
    let mut out = vec![0.0f64; n * c.out_channels * oh * ow];
    for i in 0..n {
        for o in 0..c.out_channels {
            let g = o / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b.data()[o] as f64);
                    for ic in 0..cin_g {
                        for ky in 0..c.kernel[0] {
                            for kx in 0..c.kernel[1] {
                                let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize
                                    - c.pads[0] as isize;
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                    - c.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((i * cin + g * cin_g + ic) * h + iy as usize) * wd
                                    + ix as usize;
                                let wi = ((o * cin_g + ic) * c.kernel[0] + ky) * c.kernel[1] + kx;
                                acc += x.data()[xi] as f64 * w.data()[wi] as f64;
                            }
                        }
                    }
                    out[((i * c.out_channels + o) * oh + oy) * ow + ox] =
                        c.activation.apply(acc as f32) as f64;
                }
            }
        }
    }
    out
}

/// torchvision-style ResNet-50 (v1.5: stride on the 3x3 conv) with random weights and
/// non-trivial BN statistics, for input `[N, 3, size, size]`; output `fc` `[N, 1000]`.
pub fn resnet50(rng: &mut Rng, size: usize) -> Graph {
    let mut g = graph_with_input(&[3, size, size]);
    let c = conv(&mut g, rng, "conv1", "x", Conv2d::new("", 3, 64, 7, 2, 3), false);
    let b = bn(&mut g, rng, "bn1", &c, 64);
    let r = g.push("relu", Op::Relu, &[&b]);
    let pool = hawq_ir::MaxPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1; 4],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let mut x = g.push("maxpool", Op::MaxPool(pool), &[&r]);
    let mut cin = 64;
    for (stage, (&blocks, &width)) in [3, 4, 6, 3].iter().zip(&[64, 128, 256, 512]).enumerate() {
        for i in 0..blocks {
            let stride = if i == 0 && stage > 0 { 2 } else { 1 };
            let p = format!("layer{}.{i}", stage + 1);
            let cout = width * 4;
            let c1 = conv(
                &mut g,
                rng,
                &format!("{p}.conv1"),
                &x,
                Conv2d::new("", cin, width, 1, 1, 0),
                false,
            );
            let b1 = bn(&mut g, rng, &format!("{p}.bn1"), &c1, width);
            let r1 = g.push(format!("{p}.relu1"), Op::Relu, &[&b1]);
            let c2 = conv(
                &mut g,
                rng,
                &format!("{p}.conv2"),
                &r1,
                Conv2d::new("", width, width, 3, stride, 1),
                false,
            );
            let b2 = bn(&mut g, rng, &format!("{p}.bn2"), &c2, width);
            let r2 = g.push(format!("{p}.relu2"), Op::Relu, &[&b2]);
            let c3 = conv(
                &mut g,
                rng,
                &format!("{p}.conv3"),
                &r2,
                Conv2d::new("", width, cout, 1, 1, 0),
                false,
            );
            let b3 = bn(&mut g, rng, &format!("{p}.bn3"), &c3, cout);
            let skip = if i == 0 {
                let d = conv(
                    &mut g,
                    rng,
                    &format!("{p}.downsample.0"),
                    &x,
                    Conv2d::new("", cin, cout, 1, stride, 0),
                    false,
                );
                bn(&mut g, rng, &format!("{p}.downsample.1"), &d, cout)
            } else {
                x.clone()
            };
            let sum = g.push(format!("{p}.add"), Op::Add, &[&b3, &skip]);
            x = g.push(format!("{p}.relu3"), Op::Relu, &[&sum]);
            cin = cout;
        }
    }
    let gap = g.push("avgpool", Op::GlobalAvgPool, &[&x]);
    let flat = g.push("flatten", Op::Flatten { axis: 1 }, &[&gap]);
    g.params.insert("fc.weight".into(), rng.tensor(&[1000, 2048], -0.04, 0.04));
    g.params.insert("fc.bias".into(), rng.tensor(&[1000], -0.1, 0.1));
    let fc = hawq_ir::Linear {
        weight: "fc.weight".into(),
        bias: Some("fc.bias".into()),
        in_features: 2048,
        out_features: 1000,
        activation: hawq_ir::Activation::None,
    };
    let out = g.push("fc", Op::Linear(fc), &[&flat]);
    g.outputs = vec![out];
    g
}

/// Multiply-accumulates of the conv and linear layers for batch 1.
pub fn count_macs(g: &Graph) -> u64 {
    let shapes = g.infer_shapes().unwrap();
    g.nodes
        .iter()
        .map(|n| {
            let out = shapes[&n.output].resolve(1);
            let per_out = match &n.op {
                Op::Conv2d(c) => c.in_channels / c.groups * c.kernel[0] * c.kernel[1],
                Op::Linear(l) => l.in_features,
                _ => 0,
            };
            (out.iter().product::<usize>() * per_out) as u64
        })
        .sum()
}
