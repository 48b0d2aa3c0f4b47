//! Shared test helpers: a seeded RNG, a minimal `.npy` reader/writer, the ONNX Runtime runner
//! and the relative-error comparison.

pub mod graphs;
pub mod onnx_builder;

use hawq_ir::{Graph, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

/// SplitMix64: small, seeded, good enough for test weights and mutations.
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
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn tensor(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| self.uniform(lo, hi)).collect()).unwrap()
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hawq-onnx").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a little-endian f32 `.npy` (format 1.0).
pub fn write_npy(path: &Path, t: &Tensor) {
    let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
    let shape =
        if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(t.data().iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Reads a little-endian f32 C-order `.npy` (format 1.0), as written by numpy.
pub fn read_npy(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{} is not a .npy file", path.display());
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    let open = header.find("'shape': (").unwrap() + "'shape': (".len();
    let close = open + header[open..].find(')').unwrap();
    let shape: Vec<usize> =
        header[open..close].split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let data = bytes[10 + len..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()));
    Tensor::new(shape, data.collect()).unwrap()
}

/// True when the ONNX Runtime comparisons are switched off on purpose (`HAWQ_SKIP_ORT=1`).
pub fn ort_skipped() -> bool {
    let skip = std::env::var("HAWQ_SKIP_ORT").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("HAWQ_SKIP_ORT=1: ONNX Runtime comparison skipped");
    }
    skip
}

/// Runs ONNX Runtime on `model` for each input; returns the first output per input.
pub fn ort_run(model: &Path, inputs: &[Tensor]) -> Vec<Tensor> {
    let dir = model.parent().unwrap();
    let stem = model.file_stem().unwrap().to_string_lossy().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ort_run.py");
    let python = std::env::var("HAWQ_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg(model);
    let mut outs = Vec::new();
    for (i, x) in inputs.iter().enumerate() {
        let inp = dir.join(format!("{stem}.in{i}.npy"));
        let out = dir.join(format!("{stem}.out{i}.npy"));
        write_npy(&inp, x);
        cmd.arg(&inp).arg(&out);
        outs.push(out);
    }
    let result = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {python}: {e}; install the reference with `pip install onnxruntime onnx numpy` (or set HAWQ_SKIP_ORT=1)")
    });
    assert!(
        result.status.success(),
        "ONNX Runtime failed on {}:\n{}\n(needs `pip install onnxruntime onnx numpy`; HAWQ_SKIP_ORT=1 skips)",
        model.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    outs.iter().map(|p| read_npy(p)).collect()
}

/// Runs ONNX Runtime on a QDQ `model` for one input; returns the integers every
/// `QuantizeLinear` wrote, in node order, as exact float32 tensors (`tests/ort_values.py`).
pub fn ort_values(model: &Path, x: &Tensor) -> Vec<Tensor> {
    let dir = model.parent().unwrap();
    let stem = model.file_stem().unwrap().to_string_lossy().to_string();
    let inp = dir.join(format!("{stem}.values_in.npy"));
    write_npy(&inp, x);
    let prefix = dir.join(format!("{stem}.value"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ort_values.py");
    let python = std::env::var("HAWQ_PYTHON").unwrap_or_else(|_| "python3".into());
    let result = Command::new(&python)
        .arg(&script)
        .arg(model)
        .arg(&inp)
        .arg(&prefix)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e} (HAWQ_SKIP_ORT=1 skips)"));
    assert!(
        result.status.success(),
        "ONNX Runtime failed on {}:\n{}",
        model.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    let mut out = Vec::new();
    loop {
        let p = dir.join(format!("{stem}.value{}.npy", out.len()));
        if !p.is_file() {
            return out;
        }
        out.push(read_npy(&p));
    }
}

/// Max absolute difference over the reference's max magnitude.
pub fn rel_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.shape(), want.shape(), "output shapes differ");
    got.max_abs_diff(want).unwrap() / want.max_abs().max(1e-12)
}

/// Runs the float interpreter on one input and returns the first output.
pub fn interp(graph: &Graph, x: &Tensor) -> Tensor {
    hawq_ir::interp::run(graph, std::slice::from_ref(x)).unwrap().remove(0)
}

/// Inputs at batch 1 and 2 for a graph whose single input is `[N, rest...]`.
pub fn batch_inputs(graph: &Graph, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    [1, 2].iter().map(|&b| rng.tensor(&graph.inputs[0].shape.resolve(b), -1.0, 1.0)).collect()
}

/// Checks `graph` (interpreted) against ONNX Runtime on `model` at batch 1 and 2.
pub fn assert_matches_ort(graph: &Graph, model: &Path, seed: u64) {
    let inputs = batch_inputs(graph, seed);
    let want = ort_run(model, &inputs);
    for (x, w) in inputs.iter().zip(&want) {
        let got = interp(graph, x);
        let err = rel_err(&got, w);
        assert!(err < 1e-4, "{}: batch {} relative error {err}", model.display(), x.shape()[0]);
    }
}
