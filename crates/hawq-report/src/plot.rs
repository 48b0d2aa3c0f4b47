//! The report's plots as SVG text (plotters' SVG backend): per-layer sensitivity with the chosen
//! bits, per-layer latency of each integer variant, and the allocator's size Pareto front.
//! Each function returns `None` when there is nothing to draw.

use crate::error::{ReportError, Result};
use crate::report::{LatencyProfile, LayerSensitivity, ParetoPoint, Report};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Plot width in pixels (the HTML page scales it down on narrow screens).
const WIDTH: u32 = 960;
/// Height of one layer's row in the per-layer bar charts.
const ROW: u32 = 24;
/// Room for the axis titles, caption and legend around the per-layer rows.
const FRAME: u32 = 110;

const BLUE: RGBColor = RGBColor(0x1a, 0x63, 0xc7);
const ORANGE: RGBColor = RGBColor(0xe3, 0x6c, 0x09);
const GREEN: RGBColor = RGBColor(0x2e, 0x8b, 0x57);
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
const FONT: &str = "sans-serif";

fn err(plot: &'static str) -> impl Fn(String) -> ReportError {
    move |detail| ReportError::Plot { plot, detail }
}

/// Runs `draw` on an SVG canvas of `height` pixels and returns the SVG text.
fn svg(
    plot: &'static str,
    height: u32,
    draw: impl FnOnce(
        &DrawingArea<SVGBackend, plotters::coord::Shift>,
    ) -> std::result::Result<(), String>,
) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string()).map_err(err(plot))?;
        draw(&root).map_err(err(plot))?;
        root.present().map_err(|e| e.to_string()).map_err(err(plot))?;
    }
    Ok(text)
}

/// A log axis range covering the positive values, one decade of room on each side.
fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let pos: Vec<f64> = values.filter(|v| *v > 0.0 && v.is_finite()).collect();
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0.0, f64::max);
    (lo.is_finite() && hi > 0.0).then(|| (lo / 3.0, hi * 3.0))
}

/// Like [`log_range`], with room on the right for the legend (bars grow from the left).
fn log_range_with_legend(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    log_range(values).map(|(lo, hi)| (lo, hi * 30.0))
}

/// Writes each layer's name left of its row (plotters' own labels would pick "nice" tick
/// values instead of one per row).
fn layer_labels<X: Ranged<ValueType = f64>>(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    chart: &ChartContext<SVGBackend, Cartesian2d<X, RangedCoordf64>>,
    names: &[String],
) -> std::result::Result<(), String> {
    let n = names.len();
    let x0 = chart.plotting_area().get_pixel_range().0.start;
    let style = TextStyle::from((FONT, 16).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (_, py) = chart.backend_coord(&(chart.x_range().start, row_y(i, n)));
        root.draw(&Text::new(name.clone(), (x0 - 8, py), style.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Vertical position of layer `i` of `n`: the first layer at the top.
fn row_y(i: usize, n: usize) -> f64 {
    (n - 1 - i) as f64
}

/// Horizontal bars of `Ω(4)` and `Ω(8)` per layer on a log axis; the bar of the width the
/// allocator chose is solid, the other one pale.
pub fn sensitivity_svg(layers: &[LayerSensitivity]) -> Result<Option<String>> {
    let Some((lo, hi)) = log_range_with_legend(layers.iter().flat_map(|l| [l.omega4, l.omega8]))
    else {
        return Ok(None);
    };
    let n = layers.len();
    let names: Vec<String> = layers
        .iter()
        .map(|l| {
            let pin = if l.pinned { " (pinned)" } else { "" };
            match l.bits {
                Some(b) => format!("{} · {b}b{pin}", Report::short_name(&l.name)),
                None => Report::short_name(&l.name).to_string(),
            }
        })
        .collect();
    let height = FRAME + ROW * n as u32;
    let text = svg("sensitivity", height, |root| {
        let y = -0.5..n as f64 - 0.5;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption(
                "Per-layer sensitivity Ω(b) = trace · ‖Q_b(W) − W‖² (solid: chosen bits)",
                (FONT, 20),
            )
            .x_label_area_size(40)
            .y_label_area_size(230)
            .build_cartesian_2d((lo..hi).log_scale(), y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .x_desc("Ω (log scale)")
            .label_style((FONT, 16))
            .draw()
            .map_err(|e| e.to_string())?;
        layer_labels(root, &chart, &names)?;
        for (bits, colour, offset) in [(4u32, ORANGE, 0.2), (8u32, BLUE, -0.2)] {
            let bars = layers.iter().enumerate().filter_map(|(i, l)| {
                let v = if bits == 4 { l.omega4 } else { l.omega8 };
                let alpha = if l.bits == Some(bits) { 1.0 } else { 0.25 };
                let yc = row_y(i, n) + offset;
                (v > 0.0).then(|| {
                    Rectangle::new([(lo, yc - 0.18), (v, yc + 0.18)], colour.mix(alpha).filled())
                })
            });
            chart.draw_series(bars).map_err(|e| e.to_string())?.label(format!("Ω({bits})")).legend(
                move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()),
            );
        }
        legend(&mut chart)
    })?;
    Ok(Some(text))
}

/// Horizontal bars of each layer's latency, one colour per integer variant.
pub fn latency_svg(profiles: &[LatencyProfile]) -> Result<Option<String>> {
    let Some(first) = profiles.first() else { return Ok(None) };
    let names: Vec<String> =
        first.layers.iter().map(|(n, _)| Report::short_name(n).to_string()).collect();
    let n = names.len();
    let hi = profiles.iter().flat_map(|p| p.layers.iter().map(|(_, v)| *v)).fold(0.0, f64::max);
    if n == 0 || hi <= 0.0 || !hi.is_finite() {
        return Ok(None);
    }
    let colours = [BLUE, GREEN, ORANGE, GREY];
    let k = profiles.len() as f64;
    let height = FRAME + ROW * n as u32;
    let text = svg("latency", height, |root| {
        let y = -0.5..n as f64 - 0.5;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption("Per-layer latency (batch 1, one thread, median of runs)", (FONT, 20))
            .x_label_area_size(40)
            .y_label_area_size(230)
            .build_cartesian_2d(0.0..hi * 1.08, y)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("milliseconds")
            .label_style((FONT, 16))
            .draw()
            .map_err(|e| e.to_string())?;
        layer_labels(root, &chart, &names)?;
        for (m, p) in profiles.iter().enumerate() {
            let colour = colours[m % colours.len()];
            // The row's band (height 0.8) holds one thin bar per variant, first at the top.
            let (step, half) = (0.8 / k, 0.35 * 0.8 / k);
            let bars = p.layers.iter().filter_map(|(name, v)| {
                let i = first.layers.iter().position(|(x, _)| x == name)?;
                let yc = row_y(i, n) + 0.4 - (m as f64 + 0.5) * step;
                Some(Rectangle::new([(0.0, yc - half), (*v, yc + half)], colour.filled()))
            });
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?
                .label(format!("{}: {:.3} ms per image", p.model, p.total_ms))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
        }
        legend(&mut chart)
    })?;
    Ok(Some(text))
}

/// Draws the series legend in the lower right corner.
fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> std::result::Result<(), String>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font((FONT, 16))
        .draw()
        .map_err(|e| e.to_string())
}

/// The allocator's size sweep: total sensitivity against weight size, with the mixed model's
/// allocation marked.
pub fn pareto_svg(points: &[ParetoPoint]) -> Result<Option<String>> {
    let Some((lo, hi)) = log_range(points.iter().map(|p| p.objective)) else { return Ok(None) };
    let xmin = points.iter().map(|p| p.size_mb).fold(f64::INFINITY, f64::min);
    let xmax = points.iter().map(|p| p.size_mb).fold(0.0, f64::max);
    if !(xmin.is_finite() && xmax.is_finite()) {
        return Ok(None);
    }
    let pad = ((xmax - xmin) * 0.08).max(xmax * 0.02).max(1e-6);
    let mut pts: Vec<&ParetoPoint> = points.iter().filter(|p| p.objective > 0.0).collect();
    pts.sort_by(|a, b| a.size_mb.total_cmp(&b.size_mb));
    let text = svg("pareto", 440, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption("Size Pareto front of the bit allocation (ILP)", (FONT, 20))
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d((xmin - pad)..(xmax + pad), (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("weights MB")
            .y_desc("Σ Ω (log scale)")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 16))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.size_mb, p.objective)),
                BLUE.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label("optimal Σ Ω for a size budget α")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(
                pts.iter().map(|p| Circle::new((p.size_mb, p.objective), 4, BLUE.filled())),
            )
            .map_err(|e| e.to_string())?;
        if let Some(c) = pts.iter().find(|p| p.chosen) {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (c.size_mb, c.objective),
                    8,
                    ORANGE.stroke_width(3),
                )))
                .map_err(|e| e.to_string())?
                .label(format!(
                    "mixed model: α = {:.2}, {} layers at 4 bits",
                    c.alpha, c.layers_4bit
                ))
                .legend(|(x, y)| Circle::new((x + 7, y), 6, ORANGE.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .label_font((FONT, 16))
            .draw()
            .map_err(|e| e.to_string())
    })?;
    Ok(Some(text))
}
