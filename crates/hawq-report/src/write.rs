//! Writing a report's files: everything is rendered first, then each file is written
//! atomically (sibling temporary file, fsync, rename), so a crash or a full disk never leaves a
//! truncated page behind.

use crate::error::{ReportError, Result};
use crate::plot;
use crate::report::Report;
use std::path::{Path, PathBuf};

/// The files [`Report::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html` (self-contained).
    pub html: PathBuf,
    /// `report.json` (re-render with `hawq report`).
    pub json: PathBuf,
    /// The plots as separate SVG files, which the Markdown links to.
    pub svgs: Vec<PathBuf>,
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    hawq_ir::weights::write_atomically(path, text.as_bytes())
        .map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}

impl Report {
    /// Renders the report and writes `report.md`, `report.html`, `report.json` and the plots
    /// (`sensitivity.svg`, `latency.svg`, `pareto.svg`, those that have data) into `dir`,
    /// creating it if needed.
    pub fn write(&self, dir: &Path) -> Result<Written> {
        self.validate("report")?;
        let markdown = self.to_markdown();
        let html = self.to_html()?;
        let json = self.to_json()?;
        let plots = [
            ("sensitivity.svg", plot::sensitivity_svg(&self.layers)?),
            ("latency.svg", plot::latency_svg(&self.latency)?),
            ("pareto.svg", plot::pareto_svg(&self.pareto)?),
        ];
        std::fs::create_dir_all(dir)
            .map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
        let mut svgs = Vec::new();
        for (name, svg) in plots {
            if let Some(svg) = svg {
                let path = dir.join(name);
                write_file(&path, &svg)?;
                svgs.push(path);
            }
        }
        let written = Written {
            markdown: dir.join("report.md"),
            html: dir.join("report.html"),
            json: dir.join("report.json"),
            svgs,
        };
        write_file(&written.json, &json)?;
        write_file(&written.markdown, &markdown)?;
        write_file(&written.html, &html)?;
        Ok(written)
    }
}
