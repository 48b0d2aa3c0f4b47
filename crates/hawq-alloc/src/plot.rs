//! SVG plots of Pareto fronts: the objective `Σ Ω` against the resource each allocation uses
//! (size, BOPs or latency), one panel per swept budget kind, drawn with `plotters`' SVG
//! backend into a `String` (so reports can embed it).

use plotters::prelude::*;

use crate::budget::BudgetKind;
use crate::error::{AllocError, Result};
use crate::pareto::ParetoPoint;

/// Pixels of one panel.
const PANEL: (u32, u32) = (440, 340);

fn plot_err(e: impl std::fmt::Display) -> AllocError {
    AllocError::Plot(e.to_string())
}

/// The x value of a point (the resource its allocation uses, in display units) and the axis
/// title; `None` for a latency point of a table without latencies.
fn usage(p: &ParetoPoint) -> (Option<f64>, &'static str) {
    let a = &p.allocation;
    match p.kind {
        BudgetKind::Size => (Some(a.size_bytes / 1e6), "weight size (MB)"),
        BudgetKind::Bops => (Some(a.bops / 1e9), "GBOPs"),
        BudgetKind::Latency => (a.latency_ms, "latency (ms)"),
    }
}

/// `(lo, hi)` of `values`, widened by 5 % (and made non-empty) so points are not on the frame.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.05 };
    (lo - pad, hi + pad)
}

/// Renders each front (a sweep over one budget kind, as [`crate::pareto`] returns it) as a
/// panel, side by side, and returns the SVG document. Empty fronts are skipped; with none
/// left, the result is an error.
pub fn render_svg(fronts: &[Vec<ParetoPoint>]) -> Result<String> {
    let fronts: Vec<&Vec<ParetoPoint>> = fronts.iter().filter(|f| !f.is_empty()).collect();
    if fronts.is_empty() {
        return Err(AllocError::Plot("no Pareto points to plot".into()));
    }
    let mut svg = String::new();
    {
        let size = (PANEL.0 * fronts.len() as u32, PANEL.1);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let panels = root.split_evenly((1, fronts.len()));
        for (area, front) in panels.iter().zip(fronts) {
            draw_front(area, front)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn draw_front(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    front: &[ParetoPoint],
) -> Result<()> {
    let kind = front[0].kind;
    let points: Vec<(f64, f64)> =
        front.iter().filter_map(|p| usage(p).0.map(|x| (x, p.allocation.objective))).collect();
    let x_title = usage(&front[0]).1;
    let (x0, x1) = span(points.iter().map(|p| p.0));
    let (y0, y1) = span(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(format!("Pareto front, {kind} budget"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(x_title)
        .y_desc("objective Σ Ω")
        .x_labels(6)
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.2e}"))
        .draw()
        .map_err(plot_err)?;
    chart.draw_series(LineSeries::new(points.iter().copied(), &BLUE)).map_err(plot_err)?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LayerTable, alpha_grid, pareto};

    #[test]
    fn one_panel_per_front_with_every_point() {
        let t = LayerTable::from_json(
            r#"{"layers":[
            {"name":"a","params":1000,"macs":10000,"trace":2.0,"delta":{"4":1.0,"8":0.01},"latency_ms":{"4":1.0,"8":2.0}},
            {"name":"b","params":3000,"macs":30000,"trace":0.1,"delta":{"4":1.0,"8":0.01},"latency_ms":{"4":3.0,"8":3.5}}]}"#,
        )
        .unwrap();
        let fronts: Vec<Vec<ParetoPoint>> =
            BudgetKind::ALL.iter().map(|&k| pareto(&t, k, &alpha_grid(5)).unwrap()).collect();
        let svg = render_svg(&fronts).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for title in ["size budget", "BOPs budget", "latency budget", "latency (ms)", "GBOPs"] {
            assert!(svg.contains(title), "missing {title}");
        }
        assert_eq!(svg.matches("<circle").count(), 15, "5 points in each of 3 panels");
        assert!(matches!(render_svg(&[Vec::new()]), Err(AllocError::Plot(_))));
    }
}
