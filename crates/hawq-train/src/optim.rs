//! SGD with momentum and weight decay (PyTorch's update rule, no dampening, no Nesterov) and
//! learning-rate schedules.

use crate::backward::Gradients;
use crate::error::{Result, TrainError};
use crate::network::Network;
use crate::plan::{ParamInfo, ParamKind};
use crate::scalar::Real;

/// SGD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Momentum μ (0 disables it).
    pub momentum: f64,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
    /// Also decay BN γ/β and conv/linear biases. Off by default: decaying them only shrinks
    /// scales the next BN or layer undoes, a common recipe choice (PyTorch's default decays
    /// everything; the HAWQ reference code does too).
    pub decay_bn_and_bias: bool,
}

impl Default for SgdConfig {
    /// μ = 0.9, weight decay 1e-4 on conv and linear weights only.
    fn default() -> Self {
        SgdConfig { momentum: 0.9, weight_decay: 1e-4, decay_bn_and_bias: false }
    }
}

impl SgdConfig {
    /// Whether parameter `info` receives weight decay.
    pub fn decays(&self, info: &ParamInfo) -> bool {
        match info.kind {
            ParamKind::ConvWeight | ParamKind::LinearWeight => true,
            ParamKind::Bias | ParamKind::BnScale | ParamKind::BnShift => self.decay_bn_and_bias,
            ParamKind::RunningMean | ParamKind::RunningVar => false,
        }
    }
}

/// SGD state: one momentum buffer per parameter tensor (empty for running statistics).
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd<T> {
    /// Settings.
    pub config: SgdConfig,
    pub(crate) momentum: Vec<Vec<T>>,
}

impl<T: Real> Sgd<T> {
    /// Fresh state (zero momentum) for `net`.
    pub fn new(config: SgdConfig, net: &Network<T>) -> Self {
        let momentum = net
            .plan()
            .params()
            .iter()
            .map(|p| if p.kind.trainable() { vec![T::ZERO; p.numel()] } else { Vec::new() })
            .collect();
        Sgd { config, momentum }
    }

    /// Momentum buffers in parameter order.
    pub fn momentum(&self) -> &[Vec<T>] {
        &self.momentum
    }

    /// One update: `d = g + wd·w; v = μ·v + d; w −= lr·v` for every trainable tensor.
    pub fn step(&mut self, net: &mut Network<T>, grads: &Gradients<T>, lr: f64) -> Result<()> {
        if grads.params.len() != net.params.len() || self.momentum.len() != net.params.len() {
            return Err(TrainError::Config {
                what: "optimiser",
                detail: "gradients or state belong to another network".into(),
            });
        }
        let (mu, lr) = (T::from_f64(self.config.momentum), T::from_f64(lr));
        for (i, info) in net.plan.params.iter().enumerate() {
            if !info.kind.trainable() {
                continue;
            }
            let wd =
                T::from_f64(if self.config.decays(info) { self.config.weight_decay } else { 0.0 });
            let (w, g, v) = (&mut net.params[i], &grads.params[i], &mut self.momentum[i]);
            if g.len() != w.len() || v.len() != w.len() {
                return Err(TrainError::Size {
                    what: format!("gradient of '{}'", info.name),
                    expected: w.len(),
                    got: g.len(),
                });
            }
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                *v = mu * *v + g + wd * *w;
                *w -= lr * *v;
            }
        }
        Ok(())
    }
}

/// Shape of the learning-rate curve over epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// `base · ½(1 + cos(π·epoch/epochs))`, stepped per epoch like PyTorch's
    /// `CosineAnnealingLR` with `T_max = epochs`, `eta_min = 0`.
    Cosine,
    /// `base · gamma^⌊epoch/every⌋` (HAWQ: ×0.1 every 30 epochs).
    Step {
        /// Epochs between decays (> 0).
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
}

/// A learning-rate schedule with optional linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// Base learning rate.
    pub base: f64,
    /// Curve.
    pub schedule: Schedule,
    /// Total epochs (the cosine's period).
    pub epochs: usize,
    /// Epochs of linear warm-up, ramping per step from `base/steps` to `base` (0 = none).
    pub warmup_epochs: usize,
}

impl LrSchedule {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |detail: String| Err(TrainError::Config { what: "learning-rate schedule", detail });
        if !(self.base.is_finite() && self.base > 0.0) {
            return bad(format!("base rate {} must be positive", self.base));
        }
        if let Schedule::Step { every: 0, .. } = self.schedule {
            return bad("step schedule needs `every` > 0".into());
        }
        Ok(())
    }

    /// The rate for step `step` (0-based) of `steps_per_epoch` in epoch `epoch` (0-based).
    pub fn rate(&self, epoch: usize, step: usize, steps_per_epoch: usize) -> f64 {
        let curve = match self.schedule {
            Schedule::Constant => 1.0,
            Schedule::Cosine => {
                let e = epoch as f64 / self.epochs.max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * e).cos())
            }
            Schedule::Step { every, gamma } => gamma.powi((epoch / every.max(1)) as i32),
        };
        let warm_steps = self.warmup_epochs * steps_per_epoch;
        let done = epoch * steps_per_epoch + step + 1;
        let warm = if done < warm_steps { done as f64 / warm_steps as f64 } else { 1.0 };
        self.base * curve * warm
    }
}
