//! Reverse-mode pass: from a gradient on the logits, the gradients of every trainable
//! parameter (and optionally of the input), with optional per-item squared gradient norms.

use crate::error::{Result, TrainError};
use crate::kernels::bn::{self, BnDims};
use crate::kernels::elementwise::{clip_activation, concat_backward, mask_by_output};
use crate::kernels::linear::{self, LinearDims};
use crate::kernels::{add_into, conv, pool};
use crate::network::{Mode, Network, Saved, Tape};
use crate::plan::StepKind;
use crate::scalar::Real;
use hawq_ir::Activation;

/// What [`Network::backward`] computes besides parameter gradients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Also return the gradient with respect to the network input.
    pub input_grad: bool,
    /// Also return, per trainable parameter tensor and batch item n, `‖∂(dlogits_n · z_n)/∂θ‖²`
    /// — the per-item gradient norms that exact Hessian traces need. Eval-mode tapes only
    /// (in training mode BN couples the items).
    pub per_item_norms: bool,
}

/// The result of a backward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients<T> {
    /// One gradient per parameter tensor in [`crate::Plan::params`] order, summed over the
    /// batch (all zeros for BN running statistics).
    pub params: Vec<Vec<T>>,
    /// Gradient with respect to the input, when asked for.
    pub input: Option<Vec<T>>,
    /// Per parameter tensor, the per-item squared gradient norms (empty unless asked for, and
    /// for running statistics).
    pub per_item_sq_norms: Vec<Vec<f64>>,
}

/// A zeroed gradient buffer for `v`, created on first use.
fn grad_buf<T: Real>(grads: &mut [Option<Vec<T>>], v: usize, len: usize) -> &mut Vec<T> {
    grads[v].get_or_insert_with(|| vec![T::ZERO; len])
}

impl<T: Real> Network<T> {
    /// Backpropagates `dlogits` (`[batch, classes]`, the gradient of the scalar objective with
    /// respect to the logits) through the pass recorded in `tape`.
    pub fn backward(
        &self,
        tape: &Tape<T>,
        dlogits: &[T],
        opts: BackwardOptions,
    ) -> Result<Gradients<T>> {
        self.check_tape(tape)?;
        let plan = &self.plan;
        let batch = tape.batch;
        Self::check_len("logit gradient", dlogits.len(), batch, plan.output_len())?;
        let train = matches!(tape.mode, Mode::Train { .. });
        if opts.per_item_norms && train {
            return Err(TrainError::Config {
                what: "backward options",
                detail: "per-item gradient norms need an eval-mode tape".into(),
            });
        }
        let n_params = self.params.len();
        let mut pgrads: Vec<Vec<T>> = self.params.iter().map(|p| vec![T::ZERO; p.len()]).collect();
        let mut norms: Vec<Vec<f64>> = vec![Vec::new(); n_params];
        let mut grads: Vec<Option<Vec<T>>> = vec![None; plan.num_values()];
        grads[plan.output] = Some(dlogits.to_vec());
        let want = |v: usize| v != plan.input || opts.input_grad;
        let values = &tape.values;
        for (pos, step) in plan.steps.iter().enumerate().rev() {
            let Some(dy) = grads[step.output].take() else { continue };
            let xi = step.inputs[0];
            let x_len = values[xi].len();
            let y = &values[step.output];
            match &step.kind {
                StepKind::Conv { geom, weight, bias } => {
                    let dx = want(xi).then(|| grad_buf(&mut grads, xi, x_len).as_mut_slice());
                    let g = conv::backward(
                        geom,
                        &values[xi],
                        &self.params[*weight],
                        y,
                        &dy,
                        batch,
                        dx,
                        opts.per_item_norms,
                    );
                    pgrads[*weight] = g.weight;
                    norms[*weight] = g.weight_norms;
                    if let Some(b) = bias {
                        pgrads[*b] = g.bias;
                        norms[*b] = g.bias_norms;
                    }
                }
                StepKind::Linear { inf, outf, weight, bias, act } => {
                    let d = LinearDims { inf: *inf, outf: *outf, act: *act };
                    let dx = want(xi).then(|| grad_buf(&mut grads, xi, x_len).as_mut_slice());
                    let g = linear::backward(
                        d,
                        &values[xi],
                        &self.params[*weight],
                        y,
                        &dy,
                        batch,
                        dx,
                        opts.per_item_norms,
                    );
                    pgrads[*weight] = g.weight;
                    norms[*weight] = g.weight_norms;
                    if let Some(b) = bias {
                        pgrads[*b] = g.bias;
                        norms[*b] = g.bias_norms;
                    }
                }
                StepKind::BatchNorm { channels, plane, p: [gi, bi, _, _], .. } => {
                    let Saved::Bn(stats) = &tape.saved[pos] else {
                        return Err(corrupt_tape(&step.node));
                    };
                    let d = BnDims { channels: *channels, plane: *plane, batch };
                    let dx = want(xi).then(|| grad_buf(&mut grads, xi, x_len).as_mut_slice());
                    let g = bn::backward(
                        d,
                        stats,
                        &self.params[*gi],
                        &values[xi],
                        &dy,
                        train,
                        dx,
                        opts.per_item_norms,
                    );
                    pgrads[*gi] = g.gamma;
                    pgrads[*bi] = g.beta;
                    norms[*gi] = g.gamma_norms;
                    norms[*bi] = g.beta_norms;
                }
                StepKind::Relu | StepKind::Clip { .. } => {
                    if want(xi) {
                        let act = match step.kind {
                            StepKind::Clip { min, max } => clip_activation(min, max),
                            _ => Activation::Relu,
                        };
                        let mut d = dy;
                        mask_by_output(act, y, &mut d);
                        add_into(grad_buf(&mut grads, xi, x_len), &d);
                    }
                }
                StepKind::Add => {
                    for &v in &step.inputs {
                        if want(v) {
                            add_into(grad_buf(&mut grads, v, values[v].len()), &dy);
                        }
                    }
                }
                StepKind::Concat { outer, blocks } => {
                    for (which, &v) in step.inputs.iter().enumerate() {
                        if want(v) {
                            let dx = grad_buf(&mut grads, v, values[v].len());
                            concat_backward(&dy, *outer, blocks, which, batch, dx);
                        }
                    }
                }
                StepKind::MaxPool(g) => {
                    let Saved::Winners(arg) = &tape.saved[pos] else {
                        return Err(corrupt_tape(&step.node));
                    };
                    if want(xi) {
                        pool::max_route(g, arg, &dy, batch, grad_buf(&mut grads, xi, x_len));
                    }
                }
                StepKind::AvgPool(g) => {
                    if want(xi) {
                        pool::avg_backward(g, &dy, batch, grad_buf(&mut grads, xi, x_len));
                    }
                }
                StepKind::GlobalAvgPool { plane } => {
                    if want(xi) {
                        pool::global_backward(*plane, &dy, grad_buf(&mut grads, xi, x_len));
                    }
                }
                // Straight-through estimator: rounding passes the gradient unchanged.
                StepKind::Alias | StepKind::FakeQuant { .. } => {
                    if want(xi) {
                        add_into(grad_buf(&mut grads, xi, x_len), &dy);
                    }
                }
                StepKind::Dropout => {
                    if want(xi) {
                        let dx = grad_buf(&mut grads, xi, x_len);
                        match &tape.saved[pos] {
                            Saved::DropMask(mask) => {
                                for ((d, &g), &m) in dx.iter_mut().zip(&dy).zip(mask) {
                                    *d += g * m;
                                }
                            }
                            _ => add_into(dx, &dy),
                        }
                    }
                }
            }
        }
        let input = if opts.input_grad {
            Some(
                grads[plan.input].take().unwrap_or_else(|| vec![T::ZERO; values[plan.input].len()]),
            )
        } else {
            None
        };
        Ok(Gradients { params: pgrads, input, per_item_sq_norms: norms })
    }
}

/// A tape whose records do not match the plan (built by another network).
pub(crate) fn corrupt_tape(node: &str) -> TrainError {
    TrainError::Config {
        what: "tape",
        detail: format!("no record for node '{node}': tape from another network?"),
    }
}
