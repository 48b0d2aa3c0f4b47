//! torchvision's MobileNetV2 (width 1.0): inverted residual blocks with ReLU6, linear
//! bottlenecks and a dropout + linear classifier.

use crate::ZooOptions;
use crate::error::ZooError;
use crate::net::{ConvSpec, INPUT, Net};
use hawq_ir::{Graph, Op};

/// MobileNetV2 BN epsilon (PyTorch default).
const BN_EPS: f32 = 1e-5;

/// Inverted residual settings `(expansion t, out channels c, repeats n, first stride s)`.
const SETTINGS: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// Stem output channels and the last 1×1 conv's width.
const STEM: usize = 32;
const LAST: usize = 1280;

/// `Conv2dNormActivation` `p`: conv `p.0`, BN `p.1`, ReLU6 `p.2`.
fn conv_bn_relu6(
    net: &mut Net,
    p: &str,
    x: &str,
    spec: ConvSpec,
    ch: usize,
) -> Result<String, ZooError> {
    let y = net.conv(&format!("{p}.0"), x, spec)?;
    let y = net.bn(&format!("{p}.1"), &y, ch)?;
    Ok(net.relu6(&format!("{p}.2"), &y))
}

/// `InvertedResidual` `p`: optional 1×1 expansion, 3×3 depthwise, linear 1×1 projection, and a
/// residual add when the shape is kept.
fn inverted_residual(
    net: &mut Net,
    p: &str,
    x: &str,
    inp: usize,
    oup: usize,
    stride: usize,
    t: usize,
) -> Result<String, ZooError> {
    let hidden = inp * t;
    let mut y = x.to_string();
    let mut k = 0;
    if t != 1 {
        y = conv_bn_relu6(
            net,
            &format!("{p}.conv.0"),
            &y,
            ConvSpec::new(inp, hidden, 1, 1, 0),
            hidden,
        )?;
        k = 1;
    }
    let dw = ConvSpec::new(hidden, hidden, 3, stride, 1).groups(hidden);
    y = conv_bn_relu6(net, &format!("{p}.conv.{k}"), &y, dw, hidden)?;
    y = net.conv(&format!("{p}.conv.{}", k + 1), &y, ConvSpec::new(hidden, oup, 1, 1, 0))?;
    y = net.bn(&format!("{p}.conv.{}", k + 2), &y, oup)?;
    if stride == 1 && inp == oup {
        y = net.op(&format!("{p}.add"), Op::Add, &[&y, x]);
    }
    Ok(y)
}

/// Builds MobileNetV2.
pub(crate) fn mobilenet_v2(opts: &ZooOptions) -> Result<Graph, ZooError> {
    let mut net = Net::new(opts, BN_EPS);
    let stem = ConvSpec::new(opts.in_channels, STEM, 3, 2, 1);
    let mut x = conv_bn_relu6(&mut net, "features.0", INPUT, stem, STEM)?;
    let mut inp = STEM;
    let mut index = 1;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            x = inverted_residual(&mut net, &format!("features.{index}"), &x, inp, c, stride, t)?;
            inp = c;
            index += 1;
        }
    }
    let last = ConvSpec::new(inp, LAST, 1, 1, 0);
    let x = conv_bn_relu6(&mut net, &format!("features.{index}"), &x, last, LAST)?;
    let x = net.pool_flatten(&x);
    let x = net.op("classifier.0", Op::Dropout, &[&x]);
    let x = net.linear("classifier.1", &x, LAST, opts.num_classes)?;
    Ok(net.finish(&x))
}
