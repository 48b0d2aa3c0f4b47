//! Where QAT fake-quantizes, read off the integer model the lowering builds: one site per
//! quantized value the float graph materialises, with the value's format, how its scale is
//! found, and how it rounds.

use crate::error::{Result, TrainError};
use crate::plan::{ParamKind, Plan};
use hawq_engine::qmodel::{OutputMode, QModel, QOp, ValueId};
use hawq_quant::ActFormat;

/// How a fake-quantizer rounds `x / s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteRounding {
    /// Half to even, then clamp to the format (quantization and requantization).
    Nearest,
    /// Toward zero (the integer average pools divide and truncate).
    Truncate,
}

/// Where the scale of a quantized value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ScaleSource {
    /// From the running range of float value `name`, for its format (as the lowering does).
    Own(String),
    /// The scale of another quantized value (pools, clamps and flattening keep it).
    Same(ValueId),
    /// Not a scaled value (the final accumulator, dequantized per channel).
    Unscaled,
}

/// One fake-quantization step of the training plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Site {
    /// The integer model's value it reproduces (format and scale).
    pub value: ValueId,
    /// Rounding.
    pub rounding: SiteRounding,
}

/// A conv/linear layer's parameters and quantization.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerSite {
    /// Index of the weight in the plan's parameters.
    pub weight: usize,
    /// Index of the bias, if the layer has one.
    pub bias: Option<usize>,
    /// Output channels.
    pub out_channels: usize,
    /// Weight bits.
    pub bits: u32,
    /// The integer model's value the layer reads (its scale is the bias's `s_in`).
    pub input: ValueId,
}

/// Everything QAT quantizes, derived from one lowering of the graph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sites {
    /// Activation sites in plan site order.
    pub acts: Vec<Site>,
    /// Per integer-model value: its format.
    pub formats: Vec<ActFormat>,
    /// Per integer-model value: where its scale comes from.
    pub scales: Vec<ScaleSource>,
    /// Conv/linear layers.
    pub layers: Vec<LayerSite>,
}

fn structure_error(detail: String) -> TrainError {
    TrainError::Unsupported { node: "qat".into(), op: "QModel", detail }
}

impl Sites {
    /// Reads the sites off `model` (lowered from the graph `plan` was compiled from) and adds
    /// the fake-quantization steps to `plan`.
    pub fn install(model: &QModel, plan: &mut Plan) -> Result<Sites> {
        let n = model.values.len();
        let mut sites = Sites {
            acts: Vec::new(),
            formats: model.values.iter().map(|v| v.format).collect(),
            scales: vec![ScaleSource::Unscaled; n],
            layers: Vec::new(),
        };
        let input = &model.values[model.input];
        sites.scales[model.input] = ScaleSource::Own(input.name.clone());
        sites.add(plan, model.input, &input.name, None, SiteRounding::Nearest)?;
        for node in &model.nodes {
            let out = node.output;
            let name = model.values[out].name.clone();
            let first_input = *node
                .inputs
                .first()
                .ok_or_else(|| structure_error(format!("node '{}' has no input", node.name)))?;
            match &node.op {
                QOp::Layer(l) => {
                    sites.layers.push(layer_site(plan, &node.name, l, first_input)?);
                    if !matches!(l.mode, OutputMode::Accumulator) {
                        sites.scales[out] = ScaleSource::Own(name.clone());
                        sites.add(plan, out, &name, None, SiteRounding::Nearest)?;
                    }
                }
                QOp::Add { .. } | QOp::Concat { .. } => {
                    sites.scales[out] = ScaleSource::Own(name.clone());
                    sites.add(plan, out, &name, None, SiteRounding::Nearest)?;
                }
                QOp::Requant { .. } => {
                    sites.scales[out] = ScaleSource::Own(name.clone());
                    let readers: Vec<String> = model
                        .nodes
                        .iter()
                        .filter(|m| m.inputs.contains(&out))
                        .map(|m| m.name.clone())
                        .collect();
                    sites.add(plan, out, &name, Some(&readers), SiteRounding::Nearest)?;
                }
                // Max, clamp and flatten of values on the grid stay on it: nothing to round.
                QOp::Clamp { .. } | QOp::MaxPool(_) | QOp::Flatten => {
                    sites.scales[out] = ScaleSource::Same(first_input);
                }
                QOp::AvgPool(_) | QOp::GlobalAvgPool => {
                    sites.scales[out] = ScaleSource::Same(first_input);
                    sites.add(plan, out, &name, None, SiteRounding::Truncate)?;
                }
            }
        }
        Ok(sites)
    }

    fn add(
        &mut self,
        plan: &mut Plan,
        value: ValueId,
        name: &str,
        readers: Option<&[String]>,
        rounding: SiteRounding,
    ) -> Result<()> {
        let site = plan.add_fake_quant(name, readers)?;
        if site != self.acts.len() {
            return Err(structure_error(format!(
                "plan already has fake-quantization steps (site {site} for '{name}')"
            )));
        }
        self.acts.push(Site { value, rounding });
        Ok(())
    }

    /// Names of the float values whose running ranges set scales.
    pub fn observed_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .scales
            .iter()
            .filter_map(|s| match s {
                ScaleSource::Own(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn layer_site(
    plan: &Plan,
    node: &str,
    l: &hawq_engine::QLayer,
    input: ValueId,
) -> Result<LayerSite> {
    let weight = plan.param_index(&l.name)?;
    let bias = plan.params().iter().position(|p| p.node == node && p.kind == ParamKind::Bias);
    Ok(LayerSite { weight, bias, out_channels: l.geom.out_channels, bits: l.bits, input })
}
