//! Parameter and MAC counts against the published figures (torchvision's model docs for the
//! ImageNet models; He et al. for the CIFAR ResNets, plus our option-B projections).

use crate::build_with;
use hawq_ir::counters::{Totals, bops, count_layers, totals};

fn model_totals(name: &str) -> Totals {
    let g = build_with(name, |_| {});
    let layers = count_layers(&g).unwrap();
    assert_eq!(layers.len(), g.nodes.len(), "{name}: one count per node");
    let t = totals(&layers);
    println!("{name}: {} params, {} weight params, {} MACs", t.params, t.weight_params, t.macs);
    t
}

fn assert_macs_near(name: &str, got: u64, published: f64) {
    let rel = (got as f64 - published).abs() / published;
    assert!(rel < 0.01, "{name}: {got} MACs is {:.2}% away from {published}", rel * 100.0);
}

#[test]
fn resnet18_matches_torchvision() {
    let t = model_totals("resnet18");
    assert_eq!(t.params, 11_689_512);
    assert_macs_near("resnet18", t.macs, 1.814e9);
    // Only the fc has a bias; BN γ/β are the rest of the difference (4800 channels).
    assert_eq!(t.params - t.weight_params, 1000 + 2 * 4800);
}

#[test]
fn resnet34_matches_torchvision() {
    let t = model_totals("resnet34");
    assert_eq!(t.params, 21_797_672);
    assert_macs_near("resnet34", t.macs, 3.664e9);
}

#[test]
fn resnet50_matches_torchvision() {
    let t = model_totals("resnet50");
    assert_eq!(t.params, 25_557_032);
    assert_macs_near("resnet50", t.macs, 4.089e9);
}

#[test]
fn mobilenet_v2_matches_torchvision() {
    let t = model_totals("mobilenet_v2");
    assert_eq!(t.params, 3_504_872);
    assert_macs_near("mobilenet_v2", t.macs, 0.3007e9);
}

#[test]
fn inception_v3_matches_torchvision_without_aux_head() {
    let t = model_totals("inception_v3");
    // torchvision's 27,161,264 includes the 3,326,696 parameters of the auxiliary head.
    assert_eq!(t.params, 27_161_264 - 3_326_696);
    assert_macs_near("inception_v3", t.macs, 5.713e9);
}

#[test]
fn cifar_resnets_match_he_et_al_plus_projections() {
    // He et al. use identity (option A) shortcuts: 269,722 / 464,154 / 853,018 parameters.
    // Our option-B projections add 1x1 conv + BN at the two stage transitions:
    // (16·32 + 2·32) + (32·64 + 2·64) = 2,752.
    let projections = 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64;
    for (name, option_a, macs) in [
        ("resnet20", 269_722, 40.81e6),
        ("resnet32", 464_154, 69.12e6),
        ("resnet56", 853_018, 125.75e6),
    ] {
        let t = model_totals(name);
        assert_eq!(t.params, option_a + projections, "{name}");
        assert_macs_near(name, t.macs, macs);
    }
}

#[test]
fn resnet18_per_layer_figures() {
    let g = build_with("resnet18", |_| {});
    let layers = count_layers(&g).unwrap();
    let find = |n: &str| layers.iter().find(|l| l.node == n).unwrap();
    // The HAWQ-V3 notebook's stage-1 3x3 conv: 56·56·64·64·9.
    let l = find("layer1.0.conv1");
    assert_eq!(l.macs, 115_605_504);
    assert_eq!(l.out_shape, vec![1, 64, 56, 56]);
    assert_eq!(l.weight.as_deref(), Some("layer1.0.conv1.weight"));
    assert_eq!(find("conv1").macs, 112 * 112 * 64 * 3 * 49);
    assert_eq!(find("layer2.0.downsample.0").macs, 28 * 28 * 128 * 64);
    assert_eq!(find("fc").macs, 512 * 1000);
    assert_eq!(find("fc").out_shape, vec![1, 1000]);
    assert_eq!(find("layer1.0.add").macs, 0);
    // Paper: ResNet18 at 32/32 bits is about 1858 GBOPs.
    let t = totals(&layers);
    assert_eq!(bops(t.macs, 32, 32), t.macs * 1024);
    assert!((1850e9..1865e9).contains(&(bops(t.macs, 32, 32) as f64)));
}

#[test]
fn mobilenet_depthwise_macs_use_groups() {
    let g = build_with("mobilenet_v2", |_| {});
    let layers = count_layers(&g).unwrap();
    let dw = layers.iter().find(|l| l.node == "features.1.conv.0.0").unwrap();
    assert_eq!(dw.out_shape, vec![1, 32, 112, 112]);
    assert_eq!(dw.macs, 32 * 112 * 112 * 9);
    assert_eq!(dw.params, 32 * 9);
}
