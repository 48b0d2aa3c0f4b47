//! Quantization-aware training whose evaluation *is* the integer engine.
//!
//! QAT trains the BN-folded graph (`hawq_ir::passes::simplify`, HAWQ's `--fix-BN` mode), so the
//! trained weights and biases are exactly what `hawq_engine::lower` quantizes. The fake
//! quantization mirrors that lowering: the graph is lowered once, and every value the integer
//! model stores becomes a fake-quantization step of the training plan in the same format —
//! the signed 8-bit input, each layer's input in its (4/8-bit, signed or unsigned) format,
//! requantized copies for readers that need another format, 16-bit and 32-bit residual
//! outputs, truncating average pools. Per step:
//!
//! - activation scales come from EMA ranges (momentum 0.99, `hawq_quant`'s observers), seeded
//!   from the calibration ranges and updated after every step from the float (pre-rounding)
//!   values — one step behind HAWQ's update-then-quantize order, which needs no special first
//!   batch;
//! - weights are fake-quantized per output channel with scales recomputed from the current
//!   weights, biases to int32 at `s_in · s_w[c]`, both by `hawq_quant`'s own quantizers;
//! - every rounding is a straight-through estimator (gradient unchanged, no masking, as the
//!   reference does); gradients of the fake-quantized weights update the float weights.
//!
//! Evaluation and export lower the graph with the current weights and ranges and run the
//! resulting [`QModel`] on the integer engine: QAT accuracy is integer accuracy.

mod eval;
mod fake;
mod sites;
mod train;

pub use eval::{EvalEngine, IntEval, evaluate_qmodel};
pub use fake::{fake_quant_activation, fake_quant_bias, fake_quant_weights};
pub use sites::SiteRounding;
pub use train::{Distill, QatConfig, QatReport, qat_train, qat_train_with_progress};

use crate::backward::BackwardOptions;
use crate::error::{Result, TrainError};
use crate::loss::{LossOutput, cross_entropy, distillation};
use crate::network::{Mode, Network};
use crate::optim::Sgd;
use fake::{ActivationQuant, quant_error, resolve_scales};
use hawq_engine::{LowerConfig, QModel, Ranges, lower};
use hawq_ir::Graph;
use hawq_quant::observer::{ObserverKind, RangeObserver};
use sites::Sites;
use std::collections::HashMap;

/// A float graph under quantization-aware training.
#[derive(Debug, Clone)]
pub struct Qat {
    /// The BN-folded graph (parameters as at construction; see [`Qat::graph`]).
    graph: Graph,
    lower_cfg: LowerConfig,
    /// The training network: master float parameters, plan with fake-quantization steps.
    net: Network<f32>,
    sites: Sites,
    /// Calibration ranges (values QAT does not observe keep these).
    base_ranges: Ranges,
    observers: HashMap<String, RangeObserver>,
    /// `(value name, plan value index)` of every observed float value.
    observed: Vec<(String, usize)>,
    teacher: Option<Network<f32>>,
}

impl Qat {
    /// Prepares QAT of `graph` (folded here if it is not yet) starting from calibration
    /// `ranges` (e.g. `hawq_engine::calibrate::Calibrator`), with per-layer bits `cfg`, and EMA
    /// activation ranges of momentum `range_momentum` (0.99 in HAWQ).
    pub fn new(
        graph: &Graph,
        ranges: &Ranges,
        cfg: &LowerConfig,
        range_momentum: f32,
    ) -> Result<Qat> {
        let mut graph = graph.clone();
        hawq_ir::passes::simplify(&mut graph)?;
        let structure = lower(&graph, ranges, cfg)?;
        let mut net = Network::<f32>::from_graph(&graph)?;
        let sites = Sites::install(&structure, &mut net.plan)?;
        let kind = ObserverKind::Ema { momentum: range_momentum };
        let mut observers = HashMap::new();
        let mut observed = Vec::new();
        for name in sites.observed_names() {
            let &(lo, hi) = ranges
                .get(&name)
                .ok_or_else(|| hawq_engine::EngineError::MissingRange { value: name.clone() })?;
            let obs = RangeObserver::from_range(kind, lo, hi).map_err(|e| quant_error(&name, e))?;
            observers.insert(name.clone(), obs);
            let index = net.plan.value_names.iter().position(|n| *n == name).ok_or_else(|| {
                TrainError::UnknownParam { name: format!("value '{name}' of the plan") }
            })?;
            observed.push((name, index));
        }
        Ok(Qat {
            graph,
            lower_cfg: cfg.clone(),
            net,
            sites,
            base_ranges: ranges.clone(),
            observers,
            observed,
            teacher: None,
        })
    }

    /// Adds a float teacher for distillation (usually the original, unfolded float graph).
    pub fn with_teacher(mut self, teacher: &Graph) -> Result<Qat> {
        let t = Network::<f32>::from_graph(teacher)?;
        if t.plan().input_len() != self.net.plan().input_len()
            || t.plan().output_len() != self.net.plan().output_len()
        {
            return Err(TrainError::Config {
                what: "teacher",
                detail: "input or output size differs from the student".into(),
            });
        }
        self.teacher = Some(t);
        Ok(self)
    }

    /// The training network (plan with its fake-quantization steps, master float parameters).
    pub fn network(&self) -> &Network<f32> {
        &self.net
    }

    /// The per-layer bit configuration.
    pub fn lower_config(&self) -> &LowerConfig {
        &self.lower_cfg
    }

    /// The current activation ranges (calibration ranges updated by the EMA observers).
    pub fn ranges(&self) -> Ranges {
        let mut r = self.base_ranges.clone();
        for (name, obs) in &self.observers {
            if let Some(range) = obs.range() {
                r.insert(name.clone(), range);
            }
        }
        r
    }

    /// The folded float graph with the current weights.
    pub fn graph(&self) -> Result<Graph> {
        let mut g = self.graph.clone();
        self.net.write_to_graph(&mut g)?;
        Ok(g)
    }

    /// The integer model of the current weights and ranges: what evaluation runs and export
    /// writes (`hawq_engine::format::save`).
    pub fn to_qmodel(&self) -> Result<QModel> {
        Ok(lower(&self.graph()?, &self.ranges(), &self.lower_cfg)?)
    }

    /// Top-1 accuracy (and outputs) of [`Qat::to_qmodel`] on the integer engine.
    pub fn evaluate(
        &self,
        data: &hawq_data::Dataset,
        batch_size: usize,
        engine: EvalEngine,
        threads: usize,
    ) -> Result<IntEval> {
        evaluate_qmodel(&self.to_qmodel()?, data, batch_size, engine, threads)
    }

    /// The parameters with every conv/linear weight and bias fake-quantized for the given
    /// value scales.
    fn fake_quant_params(&self, scales: &[f32]) -> Result<Vec<Vec<f32>>> {
        let mut params = self.net.params().to_vec();
        for l in &self.sites.layers {
            let name = &self.net.plan().params()[l.weight].name;
            let (w, s_w) = fake_quant_weights(&params[l.weight], l.out_channels, l.bits, name)?;
            params[l.weight] = w;
            let s_in = scales[l.input];
            // A bias-less layer's int32 bias is 0: nothing to add.
            if let Some(b) = l.bias {
                params[b] = fake_quant_bias(&params[b], s_in, &s_w, name)?;
            }
        }
        Ok(params)
    }

    /// Eval-mode logits of the fake-quantized network (the training forward without range
    /// updates): `[batch, classes]`.
    pub fn fake_quant_logits(&self, images: &[f32], batch: usize) -> Result<Vec<f32>> {
        let scales = resolve_scales(&self.sites, &self.observers)?;
        let mut net = self.net.clone();
        net.params = self.fake_quant_params(&scales)?;
        let mut hook = ActivationQuant { sites: &self.sites, scales: &scales };
        Ok(net.forward_eval_hooked(images, batch, &mut hook)?.logits().to_vec())
    }

    /// One QAT step on a batch: fake-quantized forward, loss (cross-entropy, or distillation
    /// from the teacher when `distill` is given), straight-through backward, SGD update of the
    /// float weights, then the EMA range update from the batch's float values.
    pub fn step(
        &mut self,
        sgd: &mut Sgd<f32>,
        images: &[f32],
        labels: &[u32],
        lr: f64,
        dropout_seed: u64,
        distill: Option<Distill>,
    ) -> Result<LossOutput<f32>> {
        let batch = labels.len();
        let classes = self.net.plan().output_len();
        let teacher = match (distill, &self.teacher) {
            (Some(_), Some(t)) => Some(t.forward_eval(images, batch)?.logits().to_vec()),
            (Some(_), None) => {
                return Err(TrainError::Config {
                    what: "distillation",
                    detail: "no teacher was given (Qat::with_teacher)".into(),
                });
            }
            (None, _) => None,
        };
        let scales = resolve_scales(&self.sites, &self.observers)?;
        let mut params = self.fake_quant_params(&scales)?;
        std::mem::swap(&mut self.net.params, &mut params);
        let mut hook = ActivationQuant { sites: &self.sites, scales: &scales };
        let pass = self
            .net
            .forward_hooked(images, batch, Mode::Train { dropout_seed }, &mut hook)
            .and_then(|tape| {
                let out = match (distill, &teacher) {
                    (Some(d), Some(t)) => {
                        distillation(tape.logits(), t, labels, classes, d.alpha, d.temperature)?
                    }
                    _ => cross_entropy(tape.logits(), labels, classes)?,
                };
                let grads = self.net.backward(&tape, &out.dlogits, BackwardOptions::default())?;
                Ok((tape, out, grads))
            });
        // The master weights come back whatever happened.
        std::mem::swap(&mut self.net.params, &mut params);
        let (tape, out, grads) = pass?;
        sgd.step(&mut self.net, &grads, lr)?;
        for (name, index) in &self.observed {
            if let Some(obs) = self.observers.get_mut(name) {
                obs.observe(&tape.values[*index]).map_err(|e| quant_error(name, e))?;
            }
        }
        Ok(out)
    }
}
