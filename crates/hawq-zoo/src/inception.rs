//! torchvision's Inception-v3 without the auxiliary head and with `transform_input = False`:
//! `BasicConv2d` units (conv, BN with ε = 1e-3, ReLU) in the Mixed_5b..Mixed_7c modules.

use crate::ZooOptions;
use crate::error::ZooError;
use crate::net::{ConvSpec, INPUT, Net};
use hawq_ir::{Graph, Op};

/// Inception BN epsilon (torchvision's `BasicConv2d`).
const BN_EPS: f32 = 1e-3;

/// `BasicConv2d` `p`: conv `p.conv`, BN `p.bn`, ReLU `p.relu`.
fn basic(net: &mut Net, p: &str, x: &str, spec: ConvSpec, ch: usize) -> Result<String, ZooError> {
    let y = net.conv(&format!("{p}.conv"), x, spec)?;
    let y = net.bn(&format!("{p}.bn"), &y, ch)?;
    Ok(net.relu(&format!("{p}.relu"), &y))
}

/// A chain of `BasicConv2d` units `m.branch`, each `(suffix, spec)`; returns the last output.
fn chain(
    net: &mut Net,
    m: &str,
    x: &str,
    units: &[(&str, ConvSpec, usize)],
) -> Result<String, ZooError> {
    let mut y = x.to_string();
    for (suffix, spec, ch) in units {
        y = basic(net, &format!("{m}.{suffix}"), &y, *spec, *ch)?;
    }
    Ok(y)
}

fn k1(cin: usize, cout: usize) -> ConvSpec {
    ConvSpec::new(cin, cout, 1, 1, 0)
}

/// 3×3 average pool (stride 1, pad 1) then a 1×1 unit: the `branch_pool` of A, C and E.
fn pool_branch(
    net: &mut Net,
    m: &str,
    x: &str,
    cin: usize,
    cout: usize,
) -> Result<String, ZooError> {
    let pooled = net.avg_pool(&format!("{m}.avg_pool"), x, 3, 1, 1);
    basic(net, &format!("{m}.branch_pool"), &pooled, k1(cin, cout), cout)
}

fn concat(net: &mut Net, m: &str, parts: &[String]) -> String {
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    net.op(&format!("{m}.concat"), Op::Concat { axis: 1 }, &refs)
}

/// InceptionA: 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | pool→1×1; out 224 + `pool_ch`.
fn inception_a(
    net: &mut Net,
    m: &str,
    x: &str,
    cin: usize,
    pool_ch: usize,
) -> Result<String, ZooError> {
    let b1 = basic(net, &format!("{m}.branch1x1"), x, k1(cin, 64), 64)?;
    let b5 = chain(
        net,
        m,
        x,
        &[("branch5x5_1", k1(cin, 48), 48), ("branch5x5_2", ConvSpec::new(48, 64, 5, 1, 2), 64)],
    )?;
    let b3 = chain(
        net,
        m,
        x,
        &[
            ("branch3x3dbl_1", k1(cin, 64), 64),
            ("branch3x3dbl_2", ConvSpec::new(64, 96, 3, 1, 1), 96),
            ("branch3x3dbl_3", ConvSpec::new(96, 96, 3, 1, 1), 96),
        ],
    )?;
    let bp = pool_branch(net, m, x, cin, pool_ch)?;
    Ok(concat(net, m, &[b1, b5, b3, bp]))
}

/// InceptionB (grid reduction): 3×3/2 | 1×1→3×3→3×3/2 | maxpool/2; out 480 + `cin`.
fn inception_b(net: &mut Net, m: &str, x: &str, cin: usize) -> Result<String, ZooError> {
    let b3 = basic(net, &format!("{m}.branch3x3"), x, ConvSpec::new(cin, 384, 3, 2, 0), 384)?;
    let bd = chain(
        net,
        m,
        x,
        &[
            ("branch3x3dbl_1", k1(cin, 64), 64),
            ("branch3x3dbl_2", ConvSpec::new(64, 96, 3, 1, 1), 96),
            ("branch3x3dbl_3", ConvSpec::new(96, 96, 3, 2, 0), 96),
        ],
    )?;
    let bp = net.max_pool(&format!("{m}.max_pool"), x, 3, 2, 0);
    Ok(concat(net, m, &[b3, bd, bp]))
}

/// InceptionC (factorized 7×7): 1×1 | 1×1→1×7→7×1 | 1×1→(7×1→1×7)×2 | pool→1×1; out 768.
fn inception_c(net: &mut Net, m: &str, x: &str, cin: usize, c7: usize) -> Result<String, ZooError> {
    let row = |a, b| ConvSpec::rect(a, b, [1, 7], [0, 3]);
    let col = |a, b| ConvSpec::rect(a, b, [7, 1], [3, 0]);
    let b1 = basic(net, &format!("{m}.branch1x1"), x, k1(cin, 192), 192)?;
    let b7 = chain(
        net,
        m,
        x,
        &[
            ("branch7x7_1", k1(cin, c7), c7),
            ("branch7x7_2", row(c7, c7), c7),
            ("branch7x7_3", col(c7, 192), 192),
        ],
    )?;
    let bd = chain(
        net,
        m,
        x,
        &[
            ("branch7x7dbl_1", k1(cin, c7), c7),
            ("branch7x7dbl_2", col(c7, c7), c7),
            ("branch7x7dbl_3", row(c7, c7), c7),
            ("branch7x7dbl_4", col(c7, c7), c7),
            ("branch7x7dbl_5", row(c7, 192), 192),
        ],
    )?;
    let bp = pool_branch(net, m, x, cin, 192)?;
    Ok(concat(net, m, &[b1, b7, bd, bp]))
}

/// InceptionD (grid reduction): 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | maxpool/2; out 512 + `cin`.
fn inception_d(net: &mut Net, m: &str, x: &str, cin: usize) -> Result<String, ZooError> {
    let b3 = chain(
        net,
        m,
        x,
        &[
            ("branch3x3_1", k1(cin, 192), 192),
            ("branch3x3_2", ConvSpec::new(192, 320, 3, 2, 0), 320),
        ],
    )?;
    let b7 = chain(
        net,
        m,
        x,
        &[
            ("branch7x7x3_1", k1(cin, 192), 192),
            ("branch7x7x3_2", ConvSpec::rect(192, 192, [1, 7], [0, 3]), 192),
            ("branch7x7x3_3", ConvSpec::rect(192, 192, [7, 1], [3, 0]), 192),
            ("branch7x7x3_4", ConvSpec::new(192, 192, 3, 2, 0), 192),
        ],
    )?;
    let bp = net.max_pool(&format!("{m}.max_pool"), x, 3, 2, 0);
    Ok(concat(net, m, &[b3, b7, bp]))
}

/// InceptionE (expanded filter bank): 1×1 | 1×1→{1×3, 3×1} | 1×1→3×3→{1×3, 3×1} | pool→1×1;
/// out 2048. torchvision concatenates each split pair first; one concat over all six parts
/// gives the same channel order.
fn inception_e(net: &mut Net, m: &str, x: &str, cin: usize) -> Result<String, ZooError> {
    let row = ConvSpec::rect(384, 384, [1, 3], [0, 1]);
    let col = ConvSpec::rect(384, 384, [3, 1], [1, 0]);
    let b1 = basic(net, &format!("{m}.branch1x1"), x, k1(cin, 320), 320)?;
    let s = basic(net, &format!("{m}.branch3x3_1"), x, k1(cin, 384), 384)?;
    let s_a = basic(net, &format!("{m}.branch3x3_2a"), &s, row, 384)?;
    let s_b = basic(net, &format!("{m}.branch3x3_2b"), &s, col, 384)?;
    let d = chain(
        net,
        m,
        x,
        &[
            ("branch3x3dbl_1", k1(cin, 448), 448),
            ("branch3x3dbl_2", ConvSpec::new(448, 384, 3, 1, 1), 384),
        ],
    )?;
    let d_a = basic(net, &format!("{m}.branch3x3dbl_3a"), &d, row, 384)?;
    let d_b = basic(net, &format!("{m}.branch3x3dbl_3b"), &d, col, 384)?;
    let bp = pool_branch(net, m, x, cin, 192)?;
    Ok(concat(net, m, &[b1, s_a, s_b, d_a, d_b, bp]))
}

/// Builds Inception-v3 (main head only).
pub(crate) fn inception_v3(opts: &ZooOptions) -> Result<Graph, ZooError> {
    let mut net = Net::new(opts, BN_EPS);
    let stem = [
        ("Conv2d_1a_3x3", ConvSpec::new(opts.in_channels, 32, 3, 2, 0), 32),
        ("Conv2d_2a_3x3", ConvSpec::new(32, 32, 3, 1, 0), 32),
        ("Conv2d_2b_3x3", ConvSpec::new(32, 64, 3, 1, 1), 64),
    ];
    let mut x = INPUT.to_string();
    for (name, spec, ch) in stem {
        x = basic(&mut net, name, &x, spec, ch)?;
    }
    x = net.max_pool("maxpool1", &x, 3, 2, 0);
    x = basic(&mut net, "Conv2d_3b_1x1", &x, k1(64, 80), 80)?;
    x = basic(&mut net, "Conv2d_4a_3x3", &x, ConvSpec::new(80, 192, 3, 1, 0), 192)?;
    x = net.max_pool("maxpool2", &x, 3, 2, 0);
    x = inception_a(&mut net, "Mixed_5b", &x, 192, 32)?;
    x = inception_a(&mut net, "Mixed_5c", &x, 256, 64)?;
    x = inception_a(&mut net, "Mixed_5d", &x, 288, 64)?;
    x = inception_b(&mut net, "Mixed_6a", &x, 288)?;
    for (m, c7) in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)] {
        x = inception_c(&mut net, m, &x, 768, c7)?;
    }
    x = inception_d(&mut net, "Mixed_7a", &x, 768)?;
    x = inception_e(&mut net, "Mixed_7b", &x, 1280)?;
    x = inception_e(&mut net, "Mixed_7c", &x, 2048)?;
    let x = net.op("avgpool", Op::GlobalAvgPool, &[&x]);
    let x = net.op("dropout", Op::Dropout, &[&x]);
    let x = net.op("flatten", Op::Flatten { axis: 1 }, &[&x]);
    let x = net.linear("fc", &x, 2048, opts.num_classes)?;
    Ok(net.finish(&x))
}
