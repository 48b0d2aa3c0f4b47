//! A small graph builder shared by the model files: each call adds one torchvision-named node
//! (its output value carries the node's name) together with its seeded parameters, named as in
//! torchvision's `state_dict`.

use crate::ZooOptions;
use crate::error::ZooError;
use crate::init::Init;
use hawq_ir::{AvgPool, BatchNorm, Conv2d, Graph, Linear, MaxPool, Op, Shape, Tensor, ValueInfo};

/// Name of the graph's single input value.
pub const INPUT: &str = "input";
/// Name of the graph's single output value.
pub const OUTPUT: &str = "logits";

/// Geometry of one convolution (no bias: every zoo conv is followed by BN).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvSpec {
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: usize,
    pad: [usize; 2],
    groups: usize,
}

impl ConvSpec {
    /// Square `k`×`k` kernel, stride `s`, symmetric padding `p`.
    pub(crate) fn new(cin: usize, cout: usize, k: usize, s: usize, p: usize) -> Self {
        Self { cin, cout, kernel: [k, k], stride: s, pad: [p, p], groups: 1 }
    }

    /// Rectangular `[kh, kw]` kernel, stride 1, padding `[ph, pw]` (Inception's 1×7 / 7×1).
    pub(crate) fn rect(cin: usize, cout: usize, kernel: [usize; 2], pad: [usize; 2]) -> Self {
        Self { cin, cout, kernel, stride: 1, pad, groups: 1 }
    }

    /// Same conv split into `groups` groups (`groups == cin` is depthwise).
    pub(crate) fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// The graph under construction.
pub(crate) struct Net {
    graph: Graph,
    init: Init,
    randomize_bn: bool,
    bn_eps: f32,
}

impl Net {
    /// An empty graph with the `input` value `[N, c, h, w]`.
    pub(crate) fn new(opts: &ZooOptions, bn_eps: f32) -> Self {
        let graph = Graph {
            inputs: vec![ValueInfo {
                name: INPUT.into(),
                shape: Shape::batched(&[opts.in_channels, opts.height, opts.width]),
            }],
            ..Graph::default()
        };
        Self { graph, init: Init::new(opts.seed), randomize_bn: opts.randomize_bn, bn_eps }
    }

    /// A parameter-free node.
    pub(crate) fn op(&mut self, name: &str, op: Op, inputs: &[&str]) -> String {
        self.graph.push(name, op, inputs)
    }

    /// Convolution `name` with weight `name.weight`, kaiming-normal (fan-out, ReLU gain) as
    /// torchvision initializes its CNNs.
    pub(crate) fn conv(&mut self, name: &str, x: &str, s: ConvSpec) -> Result<String, ZooError> {
        let weight = format!("{name}.weight");
        let mut conv = Conv2d::new(&weight, s.cin, s.cout, 1, s.stride, 0);
        conv.kernel = s.kernel;
        conv.pads = [s.pad[0], s.pad[1], s.pad[0], s.pad[1]];
        conv.groups = s.groups;
        // PyTorch's fan-out is out_channels × kernel area, whatever the groups.
        let fan_out = (s.cout * s.kernel[0] * s.kernel[1]).max(1) as f32;
        let w = self.init.normal(&weight, conv.weight_shape(), (2.0 / fan_out).sqrt())?;
        self.graph.params.insert(weight, w);
        Ok(self.graph.push(name, Op::Conv2d(conv), &[x]))
    }

    /// Batch norm `name` over `channels`: identity statistics (γ 1, β 0, mean 0, var 1), or
    /// seeded non-trivial ones when `randomize_bn` is set so BN folding has work to do.
    pub(crate) fn bn(&mut self, name: &str, x: &str, channels: usize) -> Result<String, ZooError> {
        let bn = BatchNorm {
            scale: format!("{name}.weight"),
            bias: format!("{name}.bias"),
            mean: format!("{name}.running_mean"),
            var: format!("{name}.running_var"),
            eps: self.bn_eps,
            channels,
        };
        let stats: [(&String, f32, f32, f32); 4] = [
            (&bn.scale, 1.0, 0.5, 1.5),
            (&bn.bias, 0.0, -0.2, 0.2),
            (&bn.mean, 0.0, -0.2, 0.2),
            (&bn.var, 1.0, 0.5, 2.0),
        ];
        for (param, plain, lo, hi) in stats {
            let t = if self.randomize_bn {
                self.init.uniform(param, vec![channels], lo, hi)?
            } else {
                Tensor::full(vec![channels], plain)
            };
            self.graph.params.insert(param.clone(), t);
        }
        Ok(self.graph.push(name, Op::BatchNorm(bn), &[x]))
    }

    /// ReLU node.
    pub(crate) fn relu(&mut self, name: &str, x: &str) -> String {
        self.graph.push(name, Op::Relu, &[x])
    }

    /// ReLU6 as `Clip { 0, 6 }`.
    pub(crate) fn relu6(&mut self, name: &str, x: &str) -> String {
        self.graph.push(name, Op::Clip { min: 0.0, max: 6.0 }, &[x])
    }

    /// Max pooling, square window `k`, stride `s`, padding `p`, floor mode.
    pub(crate) fn max_pool(&mut self, name: &str, x: &str, k: usize, s: usize, p: usize) -> String {
        let pool = MaxPool {
            kernel: [k, k],
            stride: [s, s],
            pads: [p; 4],
            dilation: [1, 1],
            ceil_mode: false,
        };
        self.graph.push(name, Op::MaxPool(pool), &[x])
    }

    /// Average pooling with PyTorch's defaults (padding counted in the divisor).
    pub(crate) fn avg_pool(&mut self, name: &str, x: &str, k: usize, s: usize, p: usize) -> String {
        let pool = AvgPool {
            kernel: [k, k],
            stride: [s, s],
            pads: [p; 4],
            ceil_mode: false,
            count_include_pad: true,
        };
        self.graph.push(name, Op::AvgPool(pool), &[x])
    }

    /// The classifier head shared by every model: global average pool, flatten.
    pub(crate) fn pool_flatten(&mut self, x: &str) -> String {
        let pooled = self.op("avgpool", Op::GlobalAvgPool, &[x]);
        self.op("flatten", Op::Flatten { axis: 1 }, &[&pooled])
    }

    /// Linear `name` with weight and bias uniform in ±1/√fan_in (PyTorch's `nn.Linear`
    /// default).
    pub(crate) fn linear(
        &mut self,
        name: &str,
        x: &str,
        in_features: usize,
        out_features: usize,
    ) -> Result<String, ZooError> {
        let weight = format!("{name}.weight");
        let bias = format!("{name}.bias");
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let w = self.init.uniform(&weight, vec![out_features, in_features], -bound, bound)?;
        let b = self.init.uniform(&bias, vec![out_features], -bound, bound)?;
        self.graph.params.insert(weight.clone(), w);
        self.graph.params.insert(bias.clone(), b);
        let fc = Linear {
            weight,
            bias: Some(bias),
            in_features,
            out_features,
            activation: Default::default(),
        };
        Ok(self.graph.push(name, Op::Linear(fc), &[x]))
    }

    /// Finishes the graph: the value `last` becomes the output `logits`.
    pub(crate) fn finish(mut self, last: &str) -> Graph {
        for node in &mut self.graph.nodes {
            if node.output == last {
                node.output = OUTPUT.into();
            }
        }
        self.graph.rename_uses(last, OUTPUT);
        self.graph.outputs = vec![OUTPUT.into()];
        self.graph
    }
}
