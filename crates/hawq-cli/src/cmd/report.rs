//! `hawq report RESULTS.json [--out DIR]`: renders a report saved as JSON (`report.json`, as
//! `hawq demo` writes it) again as Markdown, HTML and SVG plots.

use crate::output::Context;
use anyhow::{Context as _, Result};
use hawq_report::Report;
use std::path::Path;

/// Runs the command; the files go to `out`, or next to the JSON file.
pub fn run(input: &Path, out: Option<&Path>, ctx: &Context) -> Result<()> {
    // Size capped by HAWQ_MAX_FILE_BYTES, like every other input file.
    let bytes = hawq_ir::limits::Limits::from_env()?.read_file(input)?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: report JSON is not UTF-8", input.display()))?;
    let report = Report::from_json(&text, &input.display().to_string())?;
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => input
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    };
    let written = report.write(&dir)?;
    super::demo::print(&report, &written, ctx)
}
