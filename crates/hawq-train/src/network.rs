//! A compiled network with its parameters in `T`, and the forward pass in training or eval
//! mode. The forward pass records a [`Tape`] (every value plus what backward and JVP need:
//! BN statistics, max-pool winners, dropout masks).

use crate::error::{Result, TrainError};
use crate::kernels::bn::{self, BnDims, BnStats};
use crate::kernels::elementwise::{activate, clip_activation, concat};
use crate::kernels::linear::{self, LinearDims};
use crate::kernels::{conv, pool};
use crate::plan::{Plan, StepKind};
use crate::scalar::Real;
use hawq_ir::{Activation, Graph, Tensor};
use rand_chacha::rand_core::Rng;
use std::collections::BTreeMap;

/// Training mode (batch statistics, running-stat updates, dropout) or eval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training: BN normalises with batch statistics and updates its running statistics;
    /// dropout draws a mask from `dropout_seed` (and the node's position).
    Train {
        /// Seed of this forward pass's dropout masks.
        dropout_seed: u64,
    },
    /// Eval: BN uses running statistics, dropout is the identity.
    Eval,
}

/// Fake quantization of activations (QAT), called for every [`crate::Plan::add_fake_quant`]
/// step of a forward pass run by [`Network::forward_hooked`] or
/// [`Network::forward_eval_hooked`]. Its backward is the identity (straight-through).
pub trait FakeQuantHook<T> {
    /// Writes the fake-quantized `x` (`batch` items of site `site`) into `y` (same length).
    fn fake_quant(&mut self, site: usize, x: &[T], y: &mut [T]) -> Result<()>;
}

/// What one step recorded for backward and JVP.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Saved<T> {
    Nothing,
    Bn(BnStats),
    Winners(Vec<u32>),
    DropMask(Vec<T>),
}

/// The record of one forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Tape<T> {
    pub(crate) batch: usize,
    pub(crate) mode: Mode,
    pub(crate) values: Vec<Vec<T>>,
    pub(crate) saved: Vec<Saved<T>>,
    pub(crate) output: usize,
}

impl<T: Real> Tape<T> {
    /// The network output, `[batch, classes]` row-major.
    pub fn logits(&self) -> &[T] {
        &self.values[self.output]
    }
    /// Batch size of the pass.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// The mode the pass ran in.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// A graph compiled for training, with its parameters converted to `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Network<T> {
    pub(crate) plan: Plan,
    pub(crate) params: Vec<Vec<T>>,
    dropout_rate: f64,
}

/// PyTorch's `nn.Dropout` default; the IR's Dropout op carries no rate.
pub const DEFAULT_DROPOUT_RATE: f64 = 0.5;

impl<T: Real> Network<T> {
    /// Compiles `graph` and copies its parameters.
    pub fn from_graph(graph: &Graph) -> Result<Self> {
        let plan = Plan::compile(graph)?;
        let params = plan
            .params
            .iter()
            .map(|p| {
                // `compile` resolved every name through `require_param`, so it is present.
                let t = graph
                    .params
                    .get(&p.name)
                    .ok_or_else(|| TrainError::UnknownParam { name: p.name.clone() })?;
                Ok(t.data().iter().map(|&v| T::from_f32(v)).collect())
            })
            .collect::<Result<_>>()?;
        Ok(Network { plan, params, dropout_rate: DEFAULT_DROPOUT_RATE })
    }

    /// The compiled plan (parameter names, shapes and kinds).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// All parameter tensors, in [`Plan::params`] order.
    pub fn params(&self) -> &[Vec<T>] {
        &self.params
    }

    /// Mutable parameter tensors (for optimisers and perturbation experiments).
    pub fn params_mut(&mut self) -> &mut [Vec<T>] {
        &mut self.params
    }

    /// Inserts a fake-quantization step on value `value` (see [`Plan::add_fake_quant`]);
    /// returns its site number.
    pub fn add_fake_quant(&mut self, value: &str, readers: Option<&[String]>) -> Result<usize> {
        self.plan.add_fake_quant(value, readers)
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Result<&[T]> {
        Ok(&self.params[self.plan.param_index(name)?])
    }

    /// Sets the drop probability of every Dropout node in training mode (in `[0, 1)`).
    pub fn set_dropout_rate(&mut self, rate: f64) -> Result<()> {
        if !(0.0..1.0).contains(&rate) {
            return Err(TrainError::Config {
                what: "dropout rate",
                detail: format!("{rate} not in [0, 1)"),
            });
        }
        self.dropout_rate = rate;
        Ok(())
    }

    /// The parameters as f32 tensors by name (BN running statistics included).
    pub fn export_params(&self) -> Result<BTreeMap<String, Tensor>> {
        self.plan
            .params
            .iter()
            .zip(&self.params)
            .map(|(info, v)| {
                let t = Tensor::new(info.shape.clone(), v.iter().map(|x| x.to_f32()).collect())?;
                Ok((info.name.clone(), t))
            })
            .collect()
    }

    /// Writes the parameters back into `graph` (which must be the graph compiled).
    pub fn write_to_graph(&self, graph: &mut Graph) -> Result<()> {
        for (name, t) in self.export_params()? {
            graph.params.insert(name, t);
        }
        Ok(())
    }

    /// Runs the network on `batch` items (`input`: `[batch, C, H, W]` row-major). In
    /// [`Mode::Train`] the BN running statistics are updated.
    pub fn forward(&mut self, input: &[T], batch: usize, mode: Mode) -> Result<Tape<T>> {
        self.forward_inner(input, batch, mode, None)
    }

    /// [`Network::forward`] with the plan's fake-quantization steps done by `hook`.
    pub fn forward_hooked(
        &mut self,
        input: &[T],
        batch: usize,
        mode: Mode,
        hook: &mut dyn FakeQuantHook<T>,
    ) -> Result<Tape<T>> {
        self.forward_inner(input, batch, mode, Some(hook))
    }

    /// [`Network::forward_eval`] with the plan's fake-quantization steps done by `hook`.
    pub fn forward_eval_hooked(
        &self,
        input: &[T],
        batch: usize,
        hook: &mut dyn FakeQuantHook<T>,
    ) -> Result<Tape<T>> {
        Ok(self.run(input, batch, Mode::Eval, Some(hook))?.0)
    }

    fn forward_inner(
        &mut self,
        input: &[T],
        batch: usize,
        mode: Mode,
        hook: Option<&mut dyn FakeQuantHook<T>>,
    ) -> Result<Tape<T>> {
        let (tape, updates) = self.run(input, batch, mode, hook)?;
        for (mean, var, stats, unbiased) in updates {
            let (lo, hi) = self.params.split_at_mut(var);
            bn::update_running(&stats, &unbiased, &mut lo[mean], &mut hi[0]);
        }
        Ok(tape)
    }

    /// Eval-mode forward pass that leaves the network untouched.
    pub fn forward_eval(&self, input: &[T], batch: usize) -> Result<Tape<T>> {
        Ok(self.run(input, batch, Mode::Eval, None)?.0)
    }

    /// Checks a buffer length against `batch` items of `item` values.
    pub(crate) fn check_len(what: &str, got: usize, batch: usize, item: usize) -> Result<()> {
        let expected = batch.saturating_mul(item);
        if batch == 0 || got != expected {
            return Err(TrainError::Size {
                what: format!("{what} (batch {batch})"),
                expected,
                got,
            });
        }
        Ok(())
    }

    /// Checks that `tape` was recorded by this network (value sizes and records match).
    pub(crate) fn check_tape(&self, tape: &Tape<T>) -> Result<()> {
        let plan = &self.plan;
        let fits = tape.values.len() == plan.num_values()
            && tape.saved.len() == plan.steps.len()
            && tape.output == plan.output
            && tape.values.iter().zip(&plan.item_len).all(|(v, &n)| v.len() == tape.batch * n);
        if !fits {
            return Err(TrainError::Config {
                what: "tape",
                detail: "it was not recorded by this network".into(),
            });
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)] // (tape, [(mean idx, var idx, stats, unbiased var)])
    fn run(
        &self,
        input: &[T],
        batch: usize,
        mode: Mode,
        mut hook: Option<&mut dyn FakeQuantHook<T>>,
    ) -> Result<(Tape<T>, Vec<(usize, usize, BnStats, Vec<f64>)>)> {
        let plan = &self.plan;
        Self::check_len("network input", input.len(), batch, plan.input_len())?;
        let mut values: Vec<Vec<T>> = vec![Vec::new(); plan.num_values()];
        values[plan.input] = input.to_vec();
        let mut saved = Vec::with_capacity(plan.steps.len());
        let mut updates = Vec::new();
        for (pos, step) in plan.steps.iter().enumerate() {
            let mut y = vec![T::ZERO; batch * plan.item_len[step.output]];
            let x = &values[step.inputs[0]];
            let p = &self.params;
            let record = match &step.kind {
                StepKind::Conv { geom, weight, bias } => {
                    conv::forward(
                        geom,
                        x,
                        &p[*weight],
                        bias.map(|b| p[b].as_slice()),
                        batch,
                        &mut y,
                    );
                    Saved::Nothing
                }
                StepKind::Linear { inf, outf, weight, bias, act } => {
                    let d = LinearDims { inf: *inf, outf: *outf, act: *act };
                    linear::forward(
                        d,
                        x,
                        &p[*weight],
                        bias.map(|b| p[b].as_slice()),
                        batch,
                        &mut y,
                    );
                    Saved::Nothing
                }
                StepKind::BatchNorm { channels, plane, p: [g, b, m, v], eps } => {
                    let d = BnDims { channels: *channels, plane: *plane, batch };
                    let stats = match mode {
                        Mode::Train { .. } => {
                            let (stats, unbiased) = bn::batch_stats(d, x, *eps);
                            updates.push((*m, *v, stats.clone(), unbiased));
                            stats
                        }
                        Mode::Eval => bn::running_stats(&p[*m], &p[*v], *eps),
                    };
                    bn::normalize(d, &stats, &p[*g], Some(&p[*b]), true, x, &mut y);
                    Saved::Bn(stats)
                }
                StepKind::Relu => {
                    y.copy_from_slice(x);
                    activate(Activation::Relu, &mut y);
                    Saved::Nothing
                }
                StepKind::Clip { min, max } => {
                    y.copy_from_slice(x);
                    activate(clip_activation(*min, *max), &mut y);
                    Saved::Nothing
                }
                StepKind::Add => {
                    for ((o, &a), &b) in y.iter_mut().zip(x).zip(&values[step.inputs[1]]) {
                        *o = a + b;
                    }
                    Saved::Nothing
                }
                StepKind::Concat { outer, blocks } => {
                    let ins: Vec<&[T]> =
                        step.inputs.iter().map(|&v| values[v].as_slice()).collect();
                    concat(&ins, *outer, blocks, batch, &mut y);
                    Saved::Nothing
                }
                StepKind::MaxPool(g) => Saved::Winners(pool::max_forward(g, x, batch, &mut y)),
                StepKind::AvgPool(g) => {
                    pool::avg_forward(g, x, batch, &mut y);
                    Saved::Nothing
                }
                StepKind::GlobalAvgPool { plane } => {
                    pool::global_forward(*plane, x, &mut y);
                    Saved::Nothing
                }
                StepKind::Alias => {
                    y.copy_from_slice(x);
                    Saved::Nothing
                }
                StepKind::FakeQuant { site } => {
                    match hook.as_deref_mut() {
                        Some(h) => h.fake_quant(*site, x, &mut y)?,
                        None => y.copy_from_slice(x),
                    }
                    Saved::Nothing
                }
                StepKind::Dropout => match mode {
                    Mode::Train { dropout_seed } if self.dropout_rate > 0.0 => {
                        let mask = dropout_mask(self.dropout_rate, dropout_seed, pos, y.len());
                        for ((o, &a), &m) in y.iter_mut().zip(x).zip(&mask) {
                            *o = a * m;
                        }
                        Saved::DropMask(mask)
                    }
                    _ => {
                        y.copy_from_slice(x);
                        Saved::Nothing
                    }
                },
            };
            saved.push(record);
            values[step.output] = y;
        }
        Ok((Tape { batch, mode, values, saved, output: plan.output }, updates))
    }
}

/// Inverted-dropout mask: `0` with probability `rate`, else `1 / (1 − rate)`; drawn serially
/// from a ChaCha8 stream keyed by the step position, so it is independent of threading.
fn dropout_mask<T: Real>(rate: f64, seed: u64, pos: usize, len: usize) -> Vec<T> {
    let mut rng = hawq_data::seeded_rng(seed, pos as u64 + 2);
    let keep = T::from_f64(1.0 / (1.0 - rate));
    (0..len)
        .map(|_| {
            let u = f64::from(rng.next_u32()) / 4_294_967_296.0;
            if u < rate { T::ZERO } else { keep }
        })
        .collect()
}
