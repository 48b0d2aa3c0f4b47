//! The HTML form of a report: one self-contained page (inline CSS and SVG; no scripts, fonts,
//! images or links to fetch). It is written as polyglot XHTML — every element closed, every
//! attribute quoted, text escaped — so an XML parser can check it is well-formed.

use crate::error::Result;
use crate::markdown::layer_ms;
use crate::plot;
use crate::report::{RESULT_HEADER, Report, si};
use std::fmt::Write as _;

/// Escapes text for an HTML element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d1d1f;
       background: #fafafa; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 12px 0; font-size: 0.92em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: right;
         white-space: nowrap; }
th { background: #f0f2f5; }
td:first-child, th:first-child { text-align: left; }
td.ok { color: #1b7f3b; font-weight: 600; }
td.bad { color: #b3261e; font-weight: 700; }
td.b4 { color: #c65a00; font-weight: 600; }
td.b8 { color: #1a63c7; font-weight: 600; }
tr.chosen td { background: #fff4e5; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #555; font-size: 0.9em; }
ul.desc li, ul.notes li { margin: 3px 0; }
.scroll { overflow-x: auto; }
";

fn table(out: &mut String, header: &[&str], rows: &[(String, Vec<(String, &str)>)]) {
    out.push_str("<div class=\"scroll\"><table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for (class, cells) in rows {
        if class.is_empty() {
            out.push_str("<tr>");
        } else {
            let _ = write!(out, "<tr class=\"{class}\">");
        }
        for (text, cls) in cells {
            if cls.is_empty() {
                let _ = write!(out, "<td>{}</td>", escape(text));
            } else {
                let _ = write!(out, "<td class=\"{cls}\">{}</td>", escape(text));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

fn figure(out: &mut String, svg: Option<String>, caption: &str) {
    if let Some(svg) = svg {
        let _ =
            write!(out, "<figure>\n{svg}\n<figcaption>{}</figcaption></figure>\n", escape(caption));
    }
}

/// Cells with no CSS class.
fn plain(cells: impl IntoIterator<Item = String>) -> Vec<(String, &'static str)> {
    cells.into_iter().map(|c| (c, "")).collect()
}

impl Report {
    /// Renders the report as one self-contained HTML page.
    pub fn to_html(&self) -> Result<String> {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
             <meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            escape(&self.title),
            escape(&self.title)
        );
        let wall =
            self.wall_seconds.map_or(String::new(), |s| format!("; whole pipeline {s:.1} s"));
        let _ = writeln!(
            out,
            "<p class=\"meta\">Model <code>{}</code>, data <code>{}</code>, top-1 on {} test images; \
             integer variants on hawq's fast integer engine ({}, {} threads); latency is the median \
             of single-image runs on one thread{}.</p>",
            escape(&self.model),
            escape(&self.data),
            self.eval_images,
            escape(&self.isa),
            self.threads,
            escape(&wall)
        );
        out.push_str("<h2>Results</h2>\n");
        let rows: Vec<(String, Vec<(String, &str)>)> = self
            .results
            .iter()
            .map(|r| {
                let mut cells = plain(r.cells());
                cells[5].1 = match &r.bit_exact {
                    Some(b) if b.is_exact() => "ok",
                    Some(_) => "bad",
                    None => "",
                };
                (String::new(), cells)
            })
            .collect();
        table(&mut out, &RESULT_HEADER, &rows);
        out.push_str("<ul class=\"desc\">\n");
        for r in &self.results {
            let _ =
                writeln!(out, "<li><b>{}</b>: {}</li>", escape(&r.name), escape(&r.description));
        }
        out.push_str("</ul>\n");
        self.layers_section(&mut out)?;
        self.latency_section(&mut out)?;
        self.pareto_section(&mut out)?;
        if !self.notes.is_empty() {
            out.push_str("<h2>Notes</h2>\n<ul class=\"notes\">\n");
            for n in &self.notes {
                let _ = writeln!(out, "<li>{}</li>", escape(n));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</main>\n</body>\n</html>\n");
        Ok(out)
    }

    fn layers_section(&self, out: &mut String) -> Result<()> {
        if self.layers.is_empty() {
            return Ok(());
        }
        out.push_str("<h2>Per-layer sensitivity and chosen bits</h2>\n");
        figure(
            out,
            plot::sensitivity_svg(&self.layers)?,
            "Ω(b) is the Hessian trace times the squared quantization error of the weights at b \
             bits; the allocator minimises Σ Ω under the size budget. The solid bar marks the \
             width chosen for the mixed model; first and last layers are pinned to 8 bits.",
        );
        let mut header = vec!["layer", "params", "MACs", "trace", "Ω(4)", "Ω(8)", "bits"];
        let names: Vec<String> = self.latency.iter().map(|p| format!("{} ms", p.model)).collect();
        header.extend(names.iter().map(String::as_str));
        let rows: Vec<(String, Vec<(String, &str)>)> = self
            .layers
            .iter()
            .map(|l| {
                let mut cells = plain([
                    Report::short_name(&l.name).to_string(),
                    l.params.to_string(),
                    si(l.macs as f64),
                    format!("{:.3e}", l.trace),
                    format!("{:.3e}", l.omega4),
                    format!("{:.3e}", l.omega8),
                ]);
                let bits = match (l.bits, l.pinned) {
                    (Some(b), true) => format!("{b} (pinned)"),
                    (Some(b), false) => b.to_string(),
                    (None, _) => "—".into(),
                };
                let class = match l.bits {
                    Some(4) => "b4",
                    Some(8) => "b8",
                    _ => "",
                };
                cells.push((bits, class));
                cells.extend(plain(self.latency.iter().map(|p| {
                    layer_ms(p, &l.name).map_or_else(|| "—".into(), |v| format!("{v:.3}"))
                })));
                (String::new(), cells)
            })
            .collect();
        table(out, &header, &rows);
        Ok(())
    }

    fn latency_section(&self, out: &mut String) -> Result<()> {
        if self.latency.is_empty() {
            return Ok(());
        }
        out.push_str("<h2>Per-layer latency</h2>\n");
        figure(
            out,
            plot::latency_svg(&self.latency)?,
            "Each layer's time includes the non-layer ops (requantization, residual add, pooling) \
             charged to it; the overhead is input quantization, output dequantization and dispatch.",
        );
        let rows: Vec<(String, Vec<(String, &str)>)> = self
            .latency
            .iter()
            .map(|p| {
                let sum: f64 = p.layers.iter().map(|(_, v)| v).sum();
                let cells = plain([
                    p.model.clone(),
                    format!("{sum:.3}"),
                    format!("{:.3}", p.overhead_ms),
                    format!("{:.3}", p.total_ms),
                ]);
                (String::new(), cells)
            })
            .collect();
        table(out, &["model", "Σ layers ms", "overhead ms", "whole run ms"], &rows);
        Ok(())
    }

    fn pareto_section(&self, out: &mut String) -> Result<()> {
        if self.pareto.is_empty() {
            return Ok(());
        }
        out.push_str("<h2>Pareto front (size budget)</h2>\n");
        figure(
            out,
            plot::pareto_svg(&self.pareto)?,
            "Each point is the ILP's optimal allocation for a size budget α between all-4-bit \
             (α = 0) and all-8-bit (α = 1) weights.",
        );
        let rows: Vec<(String, Vec<(String, &str)>)> = self
            .pareto
            .iter()
            .map(|p| {
                let cells = plain([
                    format!("{:.2}", p.alpha),
                    format!("{:.4}", p.size_mb),
                    format!("{:.3}", p.bops / 1e9),
                    format!("{:.4e}", p.objective),
                    p.layers_4bit.to_string(),
                ]);
                (if p.chosen { "chosen".to_string() } else { String::new() }, cells)
            })
            .collect();
        table(out, &["α", "weights MB", "GBOPs", "Σ Ω", "4-bit layers"], &rows);
        Ok(())
    }
}
