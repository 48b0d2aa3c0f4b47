//! Command-line arguments (clap derive). The spelling of each subcommand is fixed by the
//! issues that define it, so results are reproducible by anyone.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// HAWQ-V3 mixed-precision integer-only quantization, with hawq's own integer CPU engine.
#[derive(Debug, Parser)]
#[command(name = "hawq", version, about, propagate_version = true)]
pub struct Cli {
    /// Options shared by every subcommand.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or notes on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More detail on stderr (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How a model argument is interpreted: `.onnx` file, `.hawq` file, float checkpoint
/// (`.safetensors` written by hawq), or a zoo name (`hawq inspect --list-zoo`).
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model: an .onnx or .hawq file, a hawq float checkpoint (.safetensors), or a zoo name.
    pub model: String,
    /// Input shape CxHxW for zoo models (default: the model's own, e.g. 3x224x224).
    #[arg(long, value_name = "CxHxW")]
    pub input_shape: Option<String>,
    /// Number of classes for zoo models.
    #[arg(long)]
    pub classes: Option<usize>,
    /// Seed of a zoo model's random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Where labelled data comes from.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Data: `fmnist-subset` (committed 5k/1k), `fmnist` (full, Debian dataset-fashion-mnist),
    /// an image folder (class subfolders), or `IMAGES.npy:LABELS.npy`.
    #[arg(long, default_value = "fmnist-subset")]
    pub data: String,
    /// Use at most this many evaluation images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Batch size for evaluation and calibration.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
}

/// Which integer engine runs a `.hawq` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The scalar reference engine (the definition; slow).
    Reference,
    /// The fast SIMD engine (bit-identical to the reference).
    Fast,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-layer table of a model: shapes, parameters, MACs, bits, BOPs, dyadic parameters.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
        /// Per-layer bits (JSON `{"bits": {layer: 4|8}}` as `hawq allocate --json` prints) for BOPs.
        #[arg(long)]
        bits: Option<PathBuf>,
    },
    /// Run a model on a float32 NCHW batch from an .npy file and write the float outputs.
    Run {
        #[command(flatten)]
        model: ModelArgs,
        /// Input batch (.npy, float32, NCHW).
        #[arg(long)]
        input: PathBuf,
        /// Where to write the outputs (.npy, float32).
        #[arg(long)]
        output: PathBuf,
        /// Precision: fp32 runs the float reference; int runs the integer engine (.hawq only).
        #[arg(long, default_value = "auto")]
        precision: String,
        /// Integer engine for .hawq models (both give identical integers).
        #[arg(long, value_enum, default_value = "fast")]
        engine: EngineKind,
    },
    /// Quantize a float model to an integer-only .hawq model.
    Quantize {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// Uniform bits (`8`, `4`), or `4,8` for mixed precision chosen by `--bits-config`.
        #[arg(long, default_value = "8")]
        bits: String,
        /// Per-layer bits as JSON (`{"bits": {layer: 4|8}}`, e.g. from `hawq allocate --json`).
        #[arg(long)]
        bits_config: Option<PathBuf>,
        /// Model-size budget for mixed precision chosen by Hessian sensitivity + ILP: a fraction
        /// α between all-4-bit and all-8-bit, or an absolute size (`0.2MB`).
        #[arg(long)]
        size: Option<String>,
        /// BOPs budget, as --size (`0.5`, `1.5GBOPs`).
        #[arg(long)]
        bops: Option<String>,
        /// Latency budget from a per-layer table measured on this machine, as --size (`0.5`, `0.8ms`).
        #[arg(long)]
        latency: Option<String>,
        /// Calibration images.
        #[arg(long, default_value_t = 512)]
        calib: usize,
        /// Reference-compatible signed 8-bit activations (HAWQ's original choice).
        #[arg(long)]
        signed_activations: bool,
        /// Quantization-aware training epochs on the train split after calibration (0: PTQ only).
        #[arg(long, default_value_t = 0)]
        qat_epochs: usize,
        /// Train QAT on the first N training images only (default: the whole train split).
        #[arg(long)]
        qat_images: Option<usize>,
        /// QAT learning rate (SGD momentum 0.9, weight decay 1e-4, constant rate).
        #[arg(long, default_value_t = 0.001)]
        lr: f64,
        /// Distil from the float model during QAT (α = 0.95, T = 6).
        #[arg(long)]
        distill: bool,
        /// QAT and evaluation threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Output .hawq file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Top-1 accuracy of a model on labelled data.
    Eval {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// Integer engine for .hawq models (both give identical integers).
        #[arg(long, value_enum, default_value = "fast")]
        engine: EngineKind,
    },
    /// Latency of one forward pass on random input: median, p10 and p90 over repetitions.
    Bench {
        #[command(flatten)]
        model: ModelArgs,
        /// Images per forward pass.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Worker threads of the integer engine (0 = one per CPU).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// int8, int4 (first/last layers 8-bit), mixed (needs --config) or fp32 (hawq's simple
        /// float reference interpreter, not an optimised engine). A .hawq runs as stored.
        #[arg(long, default_value = "int8")]
        precision: String,
        /// Per-layer bits for mixed precision (`{"bits": {layer: 4|8}}`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Timed repetitions.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Untimed warm-up runs.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
    },
    /// Choose per-layer bits by integer linear programming over a sensitivity table.
    Allocate {
        /// The table (JSON: layers with params, macs, trace, delta, latency_ms, pin; ties).
        #[arg(long)]
        table: PathBuf,
        /// Size budget: fraction α in [0, 1] or absolute (`12MB`).
        #[arg(long)]
        size: Option<String>,
        /// BOPs budget: fraction α or absolute (`150GBOPs`).
        #[arg(long)]
        bops: Option<String>,
        /// Latency budget: fraction α or absolute (`3.5ms`).
        #[arg(long)]
        latency: Option<String>,
        /// Also sweep α over this many points per budget kind and print the Pareto front.
        #[arg(long)]
        pareto: Option<usize>,
        /// With --pareto: also write the fronts as an SVG plot (objective vs size/BOPs/latency).
        #[arg(long, requires = "pareto", value_name = "FILE.svg")]
        plot: Option<PathBuf>,
    },
    /// Train a zoo architecture in float on labelled data; writes a float checkpoint.
    Train {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        data: DataArgs,
        /// Epochs.
        #[arg(long, default_value_t = 15)]
        epochs: usize,
        /// Base learning rate (SGD momentum 0.9, weight decay 1e-4, cosine decay).
        #[arg(long, default_value_t = 0.1)]
        lr: f64,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Random crop (pad 2) and horizontal flip.
        #[arg(long)]
        augment: bool,
        /// Continue from the training state saved next to the output after each epoch.
        #[arg(long)]
        resume: bool,
        /// Output float checkpoint (.safetensors).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a model as ONNX: a .hawq integer model as QDQ (opset 21), a float model as float ONNX.
    Export {
        #[command(flatten)]
        model: ModelArgs,
        /// Output .onnx file.
        #[arg(long, value_name = "OUT.onnx")]
        onnx: PathBuf,
        /// Opset of a float export (QDQ exports always use opset 21).
        #[arg(long, default_value_t = 17)]
        opset: i64,
    },
    /// Per-layer divergence between a float model and its integer model: which layer hurts.
    Compare {
        #[command(flatten)]
        model: ModelArgs,
        /// The integer model (.hawq) built from MODEL.
        #[arg(long)]
        quantized: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Per-layer Hessian traces and 4/8-bit perturbations: the table `hawq allocate` reads.
    Sensitivity {
        /// The float model (its `--seed` also seeds Hutchinson's probes).
        #[command(flatten)]
        model: ModelArgs,
        /// Data, as for `hawq eval` (default fmnist-subset); its training split is used.
        #[arg(long, conflicts_with_all = ["inputs", "labels"])]
        data: Option<String>,
        /// Images (.npy, float32, NCHW, already normalised); needs --labels.
        #[arg(long, requires = "labels")]
        inputs: Option<PathBuf>,
        /// Labels (.npy, integers); needs --inputs.
        #[arg(long, requires = "inputs")]
        labels: Option<PathBuf>,
        /// Samples (the first N).
        #[arg(long, default_value_t = 128)]
        samples: usize,
        /// Most Hutchinson probes.
        #[arg(long, default_value_t = 100)]
        probes: usize,
        /// Hutchinson stops once every layer's running mean moves by less than this (relative).
        #[arg(long, default_value_t = 1e-3)]
        tol: f64,
        /// Estimator (default: exact, which applies to every op hawq supports).
        #[arg(long, value_enum)]
        method: Option<crate::cmd::sensitivity::MethodArg>,
        /// Float type of the computation.
        #[arg(long, value_enum, default_value = "f64")]
        precision: crate::cmd::sensitivity::PrecisionArg,
        /// Samples per pass.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Worker threads (0 = one per CPU).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Neither read nor write the result cache ($HAWQ_CACHE or .hawq-cache/).
        #[arg(long)]
        no_cache: bool,
        /// Write the table (JSON for `hawq allocate --table`) here.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Per-layer INT4/INT8 latency on hawq's fast engine on this machine (cached), for
    /// `hawq allocate --latency`.
    LatencyTable {
        /// The float model (weights do not change the latency).
        #[command(flatten)]
        model: ModelArgs,
        /// Images per forward pass.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Engine worker threads (0 = one per CPU).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Timed runs of each of the all-4 and all-8 models.
        #[arg(long, default_value_t = 30)]
        reps: usize,
        /// Untimed runs of each first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Neither read nor write the cache ($HAWQ_CACHE or .hawq-cache/).
        #[arg(long)]
        no_cache: bool,
        /// Merge the measured latency_ms into this allocation table (rewritten in place).
        #[arg(long, value_name = "TABLE.json")]
        into: Option<PathBuf>,
        /// Write the latency table (JSON) here.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The built-in default: the whole pipeline on the committed Fashion-MNIST ResNet20 —
    /// FP32, INT8, mixed (size α) and INT4 with accuracy, size, BOPs, latency and a bit-exact
    /// check — printed as a table and written as a report (Markdown + HTML).
    Demo {
        /// Float model (default: the committed models/fmnist-resnet20.safetensors).
        #[arg(long)]
        model: Option<String>,
        /// Data, as for `hawq eval`.
        #[arg(long, default_value = "fmnist-subset")]
        data: String,
        /// Evaluate on at most this many test images.
        #[arg(long)]
        limit: Option<usize>,
        /// Size budget α of the mixed model, between all-4-bit (0) and all-8-bit (1) weights.
        #[arg(long, default_value_t = 0.5)]
        size: f64,
        /// Training images of the Hessian sensitivity analysis.
        #[arg(long, default_value_t = 128)]
        samples: usize,
        /// Calibration images.
        #[arg(long, default_value_t = 512)]
        calib: usize,
        /// Test images run through both integer engines for the bit-exact check.
        #[arg(long, default_value_t = 16)]
        check: usize,
        /// Timed runs of the latency measurement.
        #[arg(long, default_value_t = 30)]
        reps: usize,
        /// Worker threads for evaluation and sensitivity (latency always uses one).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Folder of the report (report.md, report.html, report.json, plots).
        #[arg(long, default_value = "hawq-demo")]
        out: PathBuf,
    },
    /// Render a saved report (`report.json` from `hawq demo`) again as Markdown and HTML.
    Report {
        /// The report JSON.
        input: PathBuf,
        /// Output folder (default: the JSON file's folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
