//! Forward-mode tangents (Jacobian–vector products) in eval mode: given a tangent on the input
//! and/or on some parameter tensors, the directional derivative of the logits, propagated
//! alongside the primal values recorded in an eval-mode [`Tape`].
//!
//! Together with [`Network::backward`] this gives Gauss–Newton products per layer: J·v by
//! [`Network::jvp`], then Jᵀ·(H_ℓ J v) by a backward pass from the logit-space vector.

use crate::backward::corrupt_tape;
use crate::error::{Result, TrainError};
use crate::kernels::bn::{self, BnDims};
use crate::kernels::elementwise::{clip_activation, concat, mask_by_output};
use crate::kernels::linear::{self, LinearDims};
use crate::kernels::{add_into, conv, pool};
use crate::network::{Mode, Network, Saved, Tape};
use crate::plan::StepKind;
use crate::scalar::Real;
use hawq_ir::Activation;

/// A direction in input and parameter space. Missing entries are zero.
#[derive(Debug, Clone, Default)]
pub struct Tangent<'a, T> {
    /// Tangent on the network input (`[batch, C, H, W]`).
    pub input: Option<&'a [T]>,
    /// Tangents on parameter tensors, by index into [`crate::Plan::params`]. BN running
    /// statistics cannot carry a tangent.
    pub params: Vec<(usize, &'a [T])>,
}

impl<T: Real> Network<T> {
    /// The JVP of the logits along `tangent`, at the eval-mode pass recorded in `tape`
    /// (`[batch, classes]`; all zeros when nothing depends on the tangent).
    pub fn jvp(&self, tape: &Tape<T>, tangent: &Tangent<'_, T>) -> Result<Vec<T>> {
        self.check_tape(tape)?;
        if tape.mode != Mode::Eval {
            return Err(TrainError::Config {
                what: "jvp",
                detail: "needs an eval-mode tape".into(),
            });
        }
        let plan = &self.plan;
        let batch = tape.batch;
        let mut dparam: Vec<Option<&[T]>> = vec![None; self.params.len()];
        for &(i, t) in &tangent.params {
            let info = plan
                .params
                .get(i)
                .ok_or_else(|| TrainError::UnknownParam { name: format!("#{i}") })?;
            if !info.kind.trainable() {
                return Err(TrainError::Config {
                    what: "jvp",
                    detail: format!("running statistic '{}' cannot carry a tangent", info.name),
                });
            }
            Self::check_len(&format!("tangent of '{}'", info.name), t.len(), 1, info.numel())?;
            dparam[i] = Some(t);
        }
        let mut tan: Vec<Option<Vec<T>>> = vec![None; plan.num_values()];
        if let Some(t) = tangent.input {
            Self::check_len("input tangent", t.len(), batch, plan.input_len())?;
            tan[plan.input] = Some(t.to_vec());
        }
        let values = &tape.values;
        for (pos, step) in plan.steps.iter().enumerate() {
            let xi = step.inputs[0];
            let x = &values[xi];
            let y = &values[step.output];
            let tx = tan[xi].as_deref();
            let out = match &step.kind {
                StepKind::Conv { geom, weight, bias } => {
                    let (dw, db) = (dparam[*weight], bias.and_then(|b| dparam[b]));
                    if tx.is_none() && dw.is_none() && db.is_none() {
                        None
                    } else {
                        let mut lin = geom.clone();
                        lin.act = Activation::None;
                        let mut t = vec![T::ZERO; y.len()];
                        let mut part = vec![T::ZERO; y.len()];
                        if let Some(tx) = tx {
                            conv::forward(&lin, tx, &self.params[*weight], db, batch, &mut part);
                            add_into(&mut t, &part);
                        } else if let Some(db) = db {
                            add_bias(&mut t, db, geom.pixels());
                        }
                        if let Some(dw) = dw {
                            conv::forward(&lin, x, dw, None, batch, &mut part);
                            add_into(&mut t, &part);
                        }
                        mask_by_output(geom.act, y, &mut t);
                        Some(t)
                    }
                }
                StepKind::Linear { inf, outf, weight, bias, act } => {
                    let (dw, db) = (dparam[*weight], bias.and_then(|b| dparam[b]));
                    if tx.is_none() && dw.is_none() && db.is_none() {
                        None
                    } else {
                        let lin = LinearDims { inf: *inf, outf: *outf, act: Activation::None };
                        let mut t = vec![T::ZERO; y.len()];
                        let mut part = vec![T::ZERO; y.len()];
                        if let Some(tx) = tx {
                            linear::forward(lin, tx, &self.params[*weight], db, batch, &mut part);
                            add_into(&mut t, &part);
                        } else if let Some(db) = db {
                            add_bias(&mut t, db, 1);
                        }
                        if let Some(dw) = dw {
                            linear::forward(lin, x, dw, None, batch, &mut part);
                            add_into(&mut t, &part);
                        }
                        mask_by_output(*act, y, &mut t);
                        Some(t)
                    }
                }
                StepKind::BatchNorm { channels, plane, p: [g, b, _, _], .. } => {
                    let Saved::Bn(stats) = &tape.saved[pos] else {
                        return Err(corrupt_tape(&step.node));
                    };
                    let (dg, db) = (dparam[*g], dparam[*b]);
                    if tx.is_none() && dg.is_none() && db.is_none() {
                        None
                    } else {
                        let d = BnDims { channels: *channels, plane: *plane, batch };
                        let mut t = vec![T::ZERO; y.len()];
                        if let Some(tx) = tx {
                            bn::normalize(d, stats, &self.params[*g], None, false, tx, &mut t);
                        }
                        bn::param_tangent(d, stats, x, dg, db, &mut t);
                        Some(t)
                    }
                }
                StepKind::Relu | StepKind::Clip { .. } => tx.map(|tx| {
                    let act = match step.kind {
                        StepKind::Clip { min, max } => clip_activation(min, max),
                        _ => Activation::Relu,
                    };
                    let mut t = tx.to_vec();
                    mask_by_output(act, y, &mut t);
                    t
                }),
                StepKind::Add => {
                    let ts: Vec<&[T]> =
                        step.inputs.iter().filter_map(|&v| tan[v].as_deref()).collect();
                    ts.split_first().map(|(first, rest)| {
                        let mut t = first.to_vec();
                        rest.iter().for_each(|r| add_into(&mut t, r));
                        t
                    })
                }
                StepKind::Concat { outer, blocks } => {
                    if step.inputs.iter().all(|&v| tan[v].is_none()) {
                        None
                    } else {
                        let zeros: Vec<Vec<T>> = step
                            .inputs
                            .iter()
                            .map(|&v| {
                                if tan[v].is_some() {
                                    Vec::new()
                                } else {
                                    vec![T::ZERO; values[v].len()]
                                }
                            })
                            .collect();
                        let ins: Vec<&[T]> = step
                            .inputs
                            .iter()
                            .zip(&zeros)
                            .map(|(&v, z)| tan[v].as_deref().unwrap_or(z))
                            .collect();
                        let mut t = vec![T::ZERO; y.len()];
                        concat(&ins, *outer, blocks, batch, &mut t);
                        Some(t)
                    }
                }
                StepKind::MaxPool(g) => {
                    let Saved::Winners(arg) = &tape.saved[pos] else {
                        return Err(corrupt_tape(&step.node));
                    };
                    tx.map(|tx| {
                        let mut t = vec![T::ZERO; y.len()];
                        pool::max_gather(g, arg, tx, &mut t);
                        t
                    })
                }
                StepKind::AvgPool(g) => tx.map(|tx| {
                    let mut t = vec![T::ZERO; y.len()];
                    pool::avg_forward(g, tx, batch, &mut t);
                    t
                }),
                StepKind::GlobalAvgPool { plane } => tx.map(|tx| {
                    let mut t = vec![T::ZERO; y.len()];
                    pool::global_forward(*plane, tx, &mut t);
                    t
                }),
                // Fake quantization: the straight-through tangent (identity).
                StepKind::Alias | StepKind::Dropout | StepKind::FakeQuant { .. } => {
                    tx.map(<[T]>::to_vec)
                }
            };
            tan[step.output] = out;
        }
        Ok(tan[plan.output].take().unwrap_or_else(|| vec![T::ZERO; values[plan.output].len()]))
    }

    /// [`Network::jvp`] along one named parameter tensor.
    pub fn jvp_param(&self, tape: &Tape<T>, name: &str, direction: &[T]) -> Result<Vec<T>> {
        let i = self.plan.param_index(name)?;
        self.jvp(tape, &Tangent { input: None, params: vec![(i, direction)] })
    }
}

/// Adds a per-channel bias tangent to every item (`plane` values per channel).
fn add_bias<T: Real>(t: &mut [T], db: &[T], plane: usize) {
    for (r, chunk) in t.chunks_mut(plane).enumerate() {
        let v = db[r % db.len()];
        chunk.iter_mut().for_each(|x| *x += v);
    }
}
