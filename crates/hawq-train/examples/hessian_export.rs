//! Writes a BN-folded zoo model and deterministic samples for the PyTorch Hessian cross-check
//! (`scripts/hessian_torch.py`), and optionally times hawq's own estimators on them.
//!
//! `cargo run --release -p hawq-train --example hessian_export -- ARCH CxHxW SAMPLES OUTDIR
//! [--classes K] [--time PROBES]`
//!
//! OUTDIR receives `graph.json` (nodes of the folded graph in execution order, ops as serde
//! writes them), `params.safetensors` (folded weights, f32) and `input.safetensors` (`input`:
//! `[SAMPLES, C, H, W]` f32; labels are `n % classes`). With `--time PROBES` it also prints
//! one JSON line per estimator and precision (`{"what":"exact"|"hutchinson","seconds":…}`),
//! running in the current rayon pool (set `RAYON_NUM_THREADS`). The exact method costs one
//! backward pass per class, so `--classes` matters for its time.

use hawq_train::Network;
use hawq_train::hessian::{self, HutchinsonOptions};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::time::Instant;

/// The zoo seed of every exported model.
const SEED: u64 = 3;

/// Deterministic pseudo-images in about [-1.5, 1.5] (the same formula as the cross-check test).
fn samples(n: usize, item: usize) -> Vec<f32> {
    (0..n * item).map(|i| ((i as f32) * 0.377 + 0.1).sin() * 1.5).collect()
}

fn write_tensors(
    path: &Path,
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
) -> Result<(), Box<dyn Error>> {
    let bytes: BTreeMap<&String, Vec<u8>> = tensors
        .iter()
        .map(|(k, (_, v))| (k, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = tensors
        .iter()
        .map(|(k, (shape, _))| {
            Ok((k.clone(), TensorView::new(Dtype::F32, shape.clone(), &bytes[k])?))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    safetensors::serialize_to_file(views, None, path)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [arch, shape, n, out, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: hessian_export ARCH CxHxW SAMPLES OUTDIR [--classes K] [--time PROBES]".into(),
        );
    };
    let (mut classes, mut time_probes) = (None, None);
    for pair in rest.chunks(2) {
        match pair {
            [flag, v] if flag == "--classes" => classes = Some(v.parse::<usize>()?),
            [flag, v] if flag == "--time" => time_probes = Some(v.parse::<usize>()?),
            _ => return Err(format!("unknown options {pair:?}").into()),
        }
    }
    let dims: Vec<usize> = shape.split('x').map(str::parse).collect::<Result<_, _>>()?;
    let [c, h, w] = dims[..] else { return Err("shape must be CxHxW".into()) };
    let n: usize = n.parse()?;
    let mut opts = hawq_zoo::ZooOptions::for_model(arch)?;
    (opts.in_channels, opts.height, opts.width, opts.seed, opts.randomize_bn) =
        (c, h, w, SEED, true);
    if let Some(k) = classes {
        opts.num_classes = k;
    }
    let mut graph = hawq_zoo::build(arch, &opts)?;
    hawq_ir::passes::simplify(&mut graph)?;
    let out = Path::new(out);
    std::fs::create_dir_all(out)?;
    let nodes: Vec<serde_json::Value> = graph
        .topo_order()?
        .into_iter()
        .map(|i| {
            let node = &graph.nodes[i];
            serde_json::json!({"name": node.name, "op": node.op, "inputs": node.inputs, "output": node.output})
        })
        .collect();
    let meta = serde_json::json!({
        "arch": arch, "shape": [c, h, w], "samples": n, "classes": opts.num_classes,
        "zoo_seed": SEED, "input": graph.inputs[0].name, "outputs": graph.outputs, "nodes": nodes,
    });
    std::fs::write(out.join("graph.json"), serde_json::to_string_pretty(&meta)?)?;
    let params = graph
        .params
        .iter()
        .map(|(k, t)| (k.clone(), (t.shape().to_vec(), t.data().to_vec())))
        .collect();
    write_tensors(&out.join("params.safetensors"), &params)?;
    let x = samples(n, c * h * w);
    write_tensors(
        &out.join("input.safetensors"),
        &BTreeMap::from([("input".to_string(), (vec![n, c, h, w], x.clone()))]),
    )?;
    if let Some(probes) = time_probes {
        time_estimators::<f32>(&graph, &x, n, Some(probes), "f32")?;
        time_estimators::<f64>(&graph, &x, n, None, "f64")?;
    }
    Ok(())
}

/// Times the exact traces and (with `probes`) a Hutchinson run without early stop, in `T`.
fn time_estimators<T: hawq_train::Real>(
    graph: &hawq_ir::Graph,
    x: &[f32],
    n: usize,
    probes: Option<usize>,
    precision: &str,
) -> Result<(), Box<dyn Error>> {
    let threads = rayon::current_num_threads();
    let net = Network::<T>::from_graph(graph)?;
    let x: Vec<T> = x.iter().map(|&v| T::from_f32(v)).collect();
    let start = Instant::now();
    let exact = hessian::exact_traces(&net, &x, n, n, &mut |_| {})?;
    let secs = start.elapsed().as_secs_f64();
    let line = serde_json::json!({"what": "exact", "precision": precision, "seconds": secs,
        "threads": threads, "samples": n, "layers": exact.len()});
    println!("{line}");
    let Some(probes) = probes else { return Ok(()) };
    let o = HutchinsonOptions { tol: 0.0, max_probes: probes, chunk: n, ..Default::default() };
    let start = Instant::now();
    let hutch = hessian::hutchinson(&net, &x, n, &o, &mut |_| {})?;
    let secs = start.elapsed().as_secs_f64();
    let line = serde_json::json!({"what": "hutchinson", "precision": precision, "probes": probes,
        "seconds": secs, "threads": threads, "samples": n, "layers": hutch.len()});
    println!("{line}");
    Ok(())
}
