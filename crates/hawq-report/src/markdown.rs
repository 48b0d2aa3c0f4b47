//! The Markdown form of a report (tables; plots are linked as the SVG files written beside it).

use crate::report::{LatencyProfile, RESULT_HEADER, Report, si};
use std::fmt::Write as _;

/// Escapes the characters that would break a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}

fn row(out: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    // Writing into a String cannot fail.
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn header(out: &mut String, titles: &[&str]) {
    row(out, &titles.iter().map(|t| t.to_string()).collect::<Vec<_>>());
    row(out, &titles.iter().map(|_| "---".to_string()).collect::<Vec<_>>());
}

/// The latency of `layer` in `profile`, if measured.
pub(crate) fn layer_ms(profile: &LatencyProfile, layer: &str) -> Option<f64> {
    profile.layers.iter().find(|(n, _)| n == layer).map(|(_, v)| *v)
}

impl Report {
    /// Renders the report as Markdown. Plots are referenced as `sensitivity.svg`,
    /// `latency.svg` and `pareto.svg`, which [`Report::write`] puts next to it.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n", self.title);
        let _ = writeln!(
            out,
            "Model `{}`, data `{}`: top-1 on {} test images; integer variants run on hawq's fast \
             integer engine ({}, {} threads); latency is the median of single-image runs on one \
             thread.\n",
            self.model, self.data, self.eval_images, self.isa, self.threads
        );
        header(&mut out, &RESULT_HEADER);
        for r in &self.results {
            row(&mut out, &r.cells());
        }
        out.push('\n');
        for r in &self.results {
            let _ = writeln!(out, "- **{}**: {}", r.name, r.description);
        }
        if let Some(s) = self.wall_seconds {
            let _ = writeln!(out, "\nWhole pipeline: {s:.1} s.");
        }
        if !self.layers.is_empty() {
            out.push_str("\n## Per-layer sensitivity and chosen bits\n\n");
            out.push_str("![per-layer sensitivity](sensitivity.svg)\n\n");
            let mut titles = vec!["layer", "params", "MACs", "trace", "Ω(4)", "Ω(8)", "bits"];
            let names: Vec<String> =
                self.latency.iter().map(|p| format!("{} ms", p.model)).collect();
            titles.extend(names.iter().map(String::as_str));
            header(&mut out, &titles);
            for l in &self.layers {
                let mut cells = vec![
                    Report::short_name(&l.name).to_string(),
                    l.params.to_string(),
                    si(l.macs as f64),
                    format!("{:.3e}", l.trace),
                    format!("{:.3e}", l.omega4),
                    format!("{:.3e}", l.omega8),
                    match (l.bits, l.pinned) {
                        (Some(b), true) => format!("{b} (pinned)"),
                        (Some(b), false) => b.to_string(),
                        (None, _) => "—".into(),
                    },
                ];
                for p in &self.latency {
                    cells.push(
                        layer_ms(p, &l.name).map_or_else(|| "—".into(), |v| format!("{v:.3}")),
                    );
                }
                row(&mut out, &cells);
            }
        }
        if !self.latency.is_empty() {
            out.push_str("\n## Per-layer latency\n\n![per-layer latency](latency.svg)\n\n");
            header(&mut out, &["model", "Σ layers ms", "overhead ms", "whole run ms"]);
            for p in &self.latency {
                let sum: f64 = p.layers.iter().map(|(_, v)| v).sum();
                row(
                    &mut out,
                    &[
                        p.model.clone(),
                        format!("{sum:.3}"),
                        format!("{:.3}", p.overhead_ms),
                        format!("{:.3}", p.total_ms),
                    ],
                );
            }
        }
        if !self.pareto.is_empty() {
            out.push_str("\n## Pareto front (size budget)\n\n![Pareto front](pareto.svg)\n\n");
            header(&mut out, &["α", "weights MB", "GBOPs", "Σ Ω", "4-bit layers", ""]);
            for p in &self.pareto {
                row(
                    &mut out,
                    &[
                        format!("{:.2}", p.alpha),
                        format!("{:.4}", p.size_mb),
                        format!("{:.3}", p.bops / 1e9),
                        format!("{:.4e}", p.objective),
                        p.layers_4bit.to_string(),
                        if p.chosen { "← mixed model".into() } else { String::new() },
                    ],
                );
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}
