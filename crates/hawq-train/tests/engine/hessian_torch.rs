//! hawq's exact traces against PyTorch double backward on the same BN-folded ResNet-20 and
//! samples. The PyTorch numbers are committed (`tests/data/hessian_torch_resnet20.json`, made
//! by `scripts/hessian_torch.py` from `examples/hessian_export.rs`), so this needs no torch.

use hawq_train::Network;
use hawq_train::hessian;
use serde_json::Value;

/// The export's model: zoo ResNet-20, 1×28×28, seed 3, random BN statistics, folded.
fn folded_resnet20() -> hawq_ir::Graph {
    let mut opts = hawq_zoo::ZooOptions::for_model("resnet20").unwrap();
    (opts.in_channels, opts.height, opts.width, opts.seed, opts.randomize_bn) =
        (1, 28, 28, 3, true);
    let mut g = hawq_zoo::build("resnet20", &opts).unwrap();
    hawq_ir::passes::simplify(&mut g).unwrap();
    g
}

/// The export's samples (same formula as `examples/hessian_export.rs`).
fn samples(n: usize, item: usize) -> Vec<f64> {
    (0..n * item).map(|i| f64::from(((i as f32) * 0.377 + 0.1).sin() * 1.5)).collect()
}

#[test]
fn exact_traces_match_pytorch_double_backward() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hessian_torch_resnet20.json");
    let torch: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let n = torch["samples"].as_u64().unwrap() as usize;
    let net = Network::<f64>::from_graph(&folded_resnet20()).unwrap();
    let x = samples(n, net.plan().input_len());
    let ours = hessian::exact_traces(&net, &x, n, n, &mut |_| {}).unwrap();
    let exact = torch["exact"].as_object().unwrap();
    assert!(!exact.is_empty(), "the fixture has exact columns for at least one layer");
    for (name, t) in exact {
        let t = t.as_f64().unwrap();
        let l = ours.iter().find(|l| &l.name == name).unwrap();
        let rel = (l.trace_sum - t).abs() / t.abs();
        assert!(rel < 1e-8, "{name}: hawq {} vs torch columns {t} (rel {rel:e})", l.trace_sum);
    }
    let hutch = torch["hutchinson"].as_object().unwrap();
    assert_eq!(hutch.len(), ours.len(), "every weight layer has a torch estimate");
    for l in &ours {
        let h = &hutch[&l.name];
        let (mean, se) = (h["trace"].as_f64().unwrap(), h["stderr"].as_f64().unwrap());
        assert!(
            (l.trace_sum - mean).abs() <= 3.0 * se,
            "{}: hawq exact {} vs torch Hutchinson {mean} ± {se}",
            l.name,
            l.trace_sum
        );
    }
}
