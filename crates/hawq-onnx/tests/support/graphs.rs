//! Small IR graphs built by hand, covering every op the float writer emits.

use super::Rng;
use hawq_ir::{
    Activation, AvgPool, BatchNorm, Conv2d, Graph, Linear, MaxPool, Op, Reshape, Shape, ValueInfo,
};

/// Graph builder with seeded random parameters.
pub struct Builder {
    pub g: Graph,
    rng: Rng,
}

impl Builder {
    pub fn new(input: &str, shape: &[usize], seed: u64) -> Self {
        let mut g = Graph::default();
        g.inputs.push(ValueInfo { name: input.into(), shape: Shape::batched(shape) });
        Self { g, rng: Rng::new(seed) }
    }

    fn param(&mut self, name: &str, shape: &[usize], lo: f32, hi: f32) -> String {
        self.g.params.insert(name.into(), self.rng.tensor(shape, lo, hi));
        name.into()
    }

    pub fn conv(&mut self, name: &str, x: &str, mut c: Conv2d, bias: bool) -> String {
        let fan_in = (c.in_channels / c.groups * c.kernel[0] * c.kernel[1]) as f32;
        let s = 1.5 / fan_in.sqrt();
        c.weight = self.param(&format!("{name}.weight"), &c.weight_shape(), -s, s);
        if bias {
            c.bias = Some(self.param(&format!("{name}.bias"), &[c.out_channels], -0.2, 0.2));
        }
        self.g.push(name, Op::Conv2d(c), &[x])
    }

    pub fn bn(&mut self, name: &str, x: &str, channels: usize) -> String {
        let cfg = BatchNorm {
            scale: self.param(&format!("{name}.weight"), &[channels], 0.5, 1.5),
            bias: self.param(&format!("{name}.bias"), &[channels], -0.3, 0.3),
            mean: self.param(&format!("{name}.running_mean"), &[channels], -0.2, 0.2),
            var: self.param(&format!("{name}.running_var"), &[channels], 0.5, 2.0),
            eps: 1e-5,
            channels,
        };
        self.g.push(name, Op::BatchNorm(cfg), &[x])
    }

    pub fn linear(
        &mut self,
        name: &str,
        x: &str,
        inf: usize,
        outf: usize,
        act: Activation,
    ) -> String {
        let s = 1.0 / (inf as f32).sqrt();
        let cfg = Linear {
            weight: self.param(&format!("{name}.weight"), &[outf, inf], -s, s),
            bias: Some(self.param(&format!("{name}.bias"), &[outf], -0.1, 0.1)),
            in_features: inf,
            out_features: outf,
            activation: act,
        };
        self.g.push(name, Op::Linear(cfg), &[x])
    }

    pub fn op(&mut self, name: &str, op: Op, inputs: &[&str]) -> String {
        self.g.push(name, op, inputs)
    }

    pub fn finish(mut self, output: &str) -> Graph {
        self.g.outputs.push(output.into());
        self.g.infer_shapes().expect("test graph is valid");
        self.g
    }
}

/// Conv + BN + ReLU, conv with fused ReLU6, residual add, max pool, depthwise and dilated
/// convs, concat, average pools, global pool, flatten, dropout, linear, identity.
pub fn small_cnn(seed: u64) -> Graph {
    let mut b = Builder::new("image", &[3, 16, 16], seed);
    let mut c1 = Conv2d::new("", 3, 8, 3, 1, 1);
    c1.pads = [1, 1, 1, 1];
    let x = b.conv("stem.conv", "image", c1, true);
    let x = b.bn("stem.bn", &x, 8);
    let a = b.op("stem.relu", Op::Relu, &[&x]);
    let mut c2 = Conv2d::new("", 8, 8, 3, 1, 1);
    c2.activation = Activation::Clip { min: 0.0, max: 6.0 };
    let r = b.conv("block.conv", &a, c2, false);
    let s = b.op("block.add", Op::Add, &[&a, &r]);
    let pool = MaxPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let p = b.op("pool", Op::MaxPool(pool), &[&s]);
    let mut dw = Conv2d::new("", 8, 8, 3, 1, 1);
    dw.groups = 8;
    dw.activation = Activation::Relu;
    let d = b.conv("dw", &p, dw, true);
    let mut dil = Conv2d::new("", 8, 8, 3, 1, 2);
    dil.dilation = [2, 2];
    dil.pads = [2, 1, 2, 3];
    let e = b.conv("dilated", &p, dil, false);
    let e = b.op("dilated.clip", Op::Clip { min: -1.0, max: 1.5 }, &[&e]);
    let cat = b.op("cat", Op::Concat { axis: 1 }, &[&d, &p, &e]);
    let avg = AvgPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        ceil_mode: true,
        count_include_pad: false,
    };
    let q = b.op("avg", Op::AvgPool(avg), &[&cat]);
    let g = b.op("gap", Op::GlobalAvgPool, &[&q]);
    let f = b.op("flatten", Op::Flatten { axis: 1 }, &[&g]);
    let f = b.op("drop", Op::Dropout, &[&f]);
    let y = b.linear("fc", &f, 24, 10, Activation::None);
    let y = b.op("out", Op::Identity, &[&y]);
    b.finish(&y)
}

/// Reshape-heavy net: ceil-mode pools with padding counted, Flatten at axis 2 (exported as a
/// Reshape), Reshape with `0`/`-1`, linear layers with fused activations.
pub fn reshape_net(seed: u64) -> Graph {
    let mut b = Builder::new("x", &[4, 7, 7], seed);
    let mut c = Conv2d::new("", 4, 6, 3, 2, 1);
    c.kernel = [3, 1];
    c.pads = [1, 0, 1, 0];
    c.activation = Activation::Relu;
    let x = b.conv("conv", "x", c, true);
    let mp = MaxPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0, 0, 0, 0],
        dilation: [1, 1],
        ceil_mode: true,
    };
    let x = b.op("mp", Op::MaxPool(mp), &[&x]);
    let avg = AvgPool {
        kernel: [2, 2],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
        ceil_mode: false,
        count_include_pad: true,
    };
    let x = b.op("avg", Op::AvgPool(avg), &[&x]);
    let x = b.op("flat2", Op::Flatten { axis: 2 }, &[&x]);
    let x = b.op("view", Op::Reshape(Reshape { shape: vec![0, -1] }), &[&x]);
    let x = b.linear("fc1", &x, 6 * 9, 12, Activation::Clip { min: 0.0, max: 6.0 });
    let x = b.linear("fc2", &x, 12, 5, Activation::Relu);
    b.finish(&x)
}
