//! ResNets: torchvision's ImageNet ResNet-18/34/50 (v1.5: ResNet-50 strides on its 3×3 conv)
//! and He et al.'s CIFAR ResNet-20/32/56 with projection (option B) shortcuts.

use crate::ZooOptions;
use crate::error::ZooError;
use crate::net::{ConvSpec, INPUT, Net};
use hawq_ir::{Graph, Op};

/// ResNet BN epsilon (PyTorch default).
const BN_EPS: f32 = 1e-5;

/// Residual block family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Block {
    /// Two 3×3 convs (ResNet-18/34 and the CIFAR ResNets).
    Basic,
    /// 1×1 → 3×3 → 1×1 with 4× expansion (ResNet-50).
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// Projection shortcut `p.downsample.{0,1}` (1×1 conv with the block's stride, then BN) when
/// the block changes shape; otherwise the block input itself.
fn shortcut(
    net: &mut Net,
    p: &str,
    x: &str,
    inplanes: usize,
    outplanes: usize,
    stride: usize,
) -> Result<String, ZooError> {
    if stride == 1 && inplanes == outplanes {
        return Ok(x.to_string());
    }
    let conv = ConvSpec::new(inplanes, outplanes, 1, stride, 0);
    let d = net.conv(&format!("{p}.downsample.0"), x, conv)?;
    net.bn(&format!("{p}.downsample.1"), &d, outplanes)
}

/// One conv + BN pair `p.convK`, `p.bnK`.
fn conv_bn(
    net: &mut Net,
    p: &str,
    k: usize,
    x: &str,
    spec: ConvSpec,
    ch: usize,
) -> Result<String, ZooError> {
    let c = net.conv(&format!("{p}.conv{k}"), x, spec)?;
    net.bn(&format!("{p}.bn{k}"), &c, ch)
}

/// `BasicBlock`: conv3×3(stride) → BN → ReLU → conv3×3 → BN, + shortcut, ReLU.
fn basic(
    net: &mut Net,
    p: &str,
    x: &str,
    inplanes: usize,
    planes: usize,
    stride: usize,
) -> Result<String, ZooError> {
    let y = conv_bn(net, p, 1, x, ConvSpec::new(inplanes, planes, 3, stride, 1), planes)?;
    let y = net.relu(&format!("{p}.relu"), &y);
    let y = conv_bn(net, p, 2, &y, ConvSpec::new(planes, planes, 3, 1, 1), planes)?;
    let id = shortcut(net, p, x, inplanes, planes, stride)?;
    let sum = net.op(&format!("{p}.add"), Op::Add, &[&y, &id]);
    Ok(net.relu(&format!("{p}.relu2"), &sum))
}

/// `Bottleneck` (v1.5): conv1×1 → conv3×3(stride) → conv1×1(×4), each with BN, + shortcut.
fn bottleneck(
    net: &mut Net,
    p: &str,
    x: &str,
    inplanes: usize,
    planes: usize,
    stride: usize,
) -> Result<String, ZooError> {
    let out = planes * Block::Bottleneck.expansion();
    let y = conv_bn(net, p, 1, x, ConvSpec::new(inplanes, planes, 1, 1, 0), planes)?;
    let y = net.relu(&format!("{p}.relu"), &y);
    let y = conv_bn(net, p, 2, &y, ConvSpec::new(planes, planes, 3, stride, 1), planes)?;
    let y = net.relu(&format!("{p}.relu2"), &y);
    let y = conv_bn(net, p, 3, &y, ConvSpec::new(planes, out, 1, 1, 0), out)?;
    let id = shortcut(net, p, x, inplanes, out, stride)?;
    let sum = net.op(&format!("{p}.add"), Op::Add, &[&y, &id]);
    Ok(net.relu(&format!("{p}.relu3"), &sum))
}

/// Stages `layer1..` of `blocks[i]` blocks with `widths[i]` planes; every stage but the first
/// halves the resolution in its first block. Returns the output and its channel count.
fn stages(
    net: &mut Net,
    mut x: String,
    mut inplanes: usize,
    block: Block,
    widths: &[usize],
    blocks: &[usize],
) -> Result<(String, usize), ZooError> {
    for (stage, (&planes, &n)) in widths.iter().zip(blocks).enumerate() {
        for b in 0..n {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            let p = format!("layer{}.{b}", stage + 1);
            x = match block {
                Block::Basic => basic(net, &p, &x, inplanes, planes, stride)?,
                Block::Bottleneck => bottleneck(net, &p, &x, inplanes, planes, stride)?,
            };
            inplanes = planes * block.expansion();
        }
    }
    Ok((x, inplanes))
}

/// torchvision's ImageNet ResNet with `blocks` per stage.
pub(crate) fn imagenet(
    opts: &ZooOptions,
    block: Block,
    blocks: [usize; 4],
) -> Result<Graph, ZooError> {
    let mut net = Net::new(opts, BN_EPS);
    let x = net.conv("conv1", INPUT, ConvSpec::new(opts.in_channels, 64, 7, 2, 3))?;
    let x = net.bn("bn1", &x, 64)?;
    let x = net.relu("relu", &x);
    let x = net.max_pool("maxpool", &x, 3, 2, 1);
    let (x, ch) = stages(&mut net, x, 64, block, &[64, 128, 256, 512], &blocks)?;
    let x = net.pool_flatten(&x);
    let x = net.linear("fc", &x, ch, opts.num_classes)?;
    Ok(net.finish(&x))
}

/// He et al.'s CIFAR ResNet of depth `6n + 2`: a 3×3 stem at full resolution, three stages of
/// `n` basic blocks with 16/32/64 channels, global average pool, fc.
pub(crate) fn cifar(opts: &ZooOptions, n: usize) -> Result<Graph, ZooError> {
    let mut net = Net::new(opts, BN_EPS);
    let x = net.conv("conv1", INPUT, ConvSpec::new(opts.in_channels, 16, 3, 1, 1))?;
    let x = net.bn("bn1", &x, 16)?;
    let x = net.relu("relu", &x);
    let (x, ch) = stages(&mut net, x, 16, Block::Basic, &[16, 32, 64], &[n; 3])?;
    let x = net.pool_flatten(&x);
    let x = net.linear("fc", &x, ch, opts.num_classes)?;
    Ok(net.finish(&x))
}
