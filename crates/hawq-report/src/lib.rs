//! # hawq-report
//!
//! The report of a quantization run, for people: a Markdown file and a self-contained HTML page
//! (inline CSS and SVG, no scripts, no external resources) with
//!
//! - the results table: top-1, weight size, BOPs, latency and the fast-vs-reference bit-exact
//!   check of every model variant (FP32, INT8, mixed precision, INT4);
//! - per-layer sensitivity `Ω(b) = trace · ‖Q_b(W) − W‖²` at 4 and 8 bits with the bits the
//!   allocator chose;
//! - per-layer latency of each integer variant;
//! - the allocator's size Pareto front.
//!
//! A [`Report`] is plain data (JSON via serde); [`Report::write`] renders and writes every file
//! atomically (temporary file, then rename), so a reader never sees half a report.
//!
//! ```
//! use hawq_report::{ModelResult, Report};
//! let report = Report {
//!     title: "demo".into(), model: "m.safetensors".into(), data: "fmnist-subset".into(),
//!     eval_images: 100, isa: "scalar".into(), threads: 1,
//!     results: vec![ModelResult { name: "FP32".into(), description: "float".into(), top1: 0.9,
//!         size_mb: 1.1, bops: 4.4e10, latency_ms: Some(3.0), bit_exact: None }],
//!     layers: vec![], latency: vec![], pareto: vec![], notes: vec![], wall_seconds: None,
//! };
//! assert!(report.to_markdown().contains("| FP32 |"));
//! assert!(report.to_html()?.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), hawq_report::ReportError>(())
//! ```

pub mod error;
pub mod html;
pub mod markdown;
pub mod plot;
pub mod report;
pub mod write;

pub use error::{ReportError, Result};
pub use report::{BitExact, LatencyProfile, LayerSensitivity, ModelResult, ParetoPoint, Report};
pub use write::Written;
