//! Errors of report rendering and writing.

use std::path::PathBuf;

/// What can go wrong while rendering or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report file could not be written.
    #[error("writing report file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A report is not valid JSON of the expected shape.
    #[error("{what}: not a hawq report: {source}")]
    Json {
        /// Where the JSON came from.
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A report holds numbers the renderers cannot show.
    #[error("{what}: {detail}")]
    Invalid {
        /// Where the report came from.
        what: String,
        /// Which field and why.
        detail: String,
    },
    /// A plot could not be drawn.
    #[error("drawing the {plot} plot: {detail}")]
    Plot {
        /// Which plot.
        plot: &'static str,
        /// The plotting library's message.
        detail: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, ReportError>;
