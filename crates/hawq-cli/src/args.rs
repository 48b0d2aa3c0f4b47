//! Command-line arguments (clap derive). The spelling of each subcommand is fixed by the
//! issues that define it, so results are reproducible by anyone.

use clap::{Args, Parser, Subcommand};
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
        /// Calibration images.
        #[arg(long, default_value_t = 512)]
        calib: usize,
        /// Reference-compatible signed 8-bit activations (HAWQ's original choice).
        #[arg(long)]
        signed_activations: bool,
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
}
