//! Times ONNX import of a large model (docs/BENCHMARKS.md, "ONNX import").
//!
//! `import_time write PATH` exports the zoo's ResNet-50 (3×224×224, 1000 classes, ≈100 MB) as
//! float ONNX; `import_time import PATH [REPS]` imports it REPS times (default 3) and prints
//! each wall time. Run the import under `/usr/bin/time -v` for the peak RSS.

use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("write"), Some(path)) => {
            let opts = hawq_zoo::ZooOptions::for_model("resnet50")?;
            let g = hawq_zoo::build("resnet50", &opts)?;
            hawq_onnx::export_float(&g, Path::new(path), 17)?;
            println!("wrote {path} ({} bytes)", std::fs::metadata(path)?.len());
        }
        (Some("import"), Some(path)) => {
            let reps: usize = args.get(3).map_or(Ok(3), |r| r.parse())?;
            for _ in 0..reps {
                let t = Instant::now();
                let m = hawq_onnx::import_file(Path::new(path))?;
                let secs = t.elapsed().as_secs_f64();
                let params: usize = m.graph.params.values().map(|t| t.data().len()).sum();
                println!(
                    "imported {} nodes, {params} parameters in {secs:.3} s",
                    m.graph.nodes.len()
                );
            }
        }
        _ => eprintln!("usage: import_time write PATH | import_time import PATH [REPS]"),
    }
    Ok(())
}
