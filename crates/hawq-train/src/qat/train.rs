//! The QAT loop: seeded epochs of (augmented) batches, fake-quantized SGD steps, and per-epoch
//! evaluation on the integer engine.

use super::{EvalEngine, Qat};
use crate::error::{Result, TrainError};
use crate::optim::{LrSchedule, Schedule, Sgd, SgdConfig};
use crate::train::{EpochReport, Progress};
use hawq_data::{Augment, Dataset, LoaderConfig, epoch_batches, epoch_seed};
use std::time::Instant;

/// Knowledge distillation from the float teacher (Hinton et al.; see [`crate::distillation`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distill {
    /// Weight of the distillation term (HAWQ: 0.95).
    pub alpha: f64,
    /// Softmax temperature (HAWQ: 6).
    pub temperature: f64,
}

impl Default for Distill {
    /// α = 0.95, T = 6, as HAWQ's `KD_naive`.
    fn default() -> Self {
        Distill { alpha: 0.95, temperature: 6.0 }
    }
}

/// Everything a QAT run is configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct QatConfig {
    /// Epochs over the training set.
    pub epochs: usize,
    /// Stop each epoch after this many steps (`None`: the whole training set).
    pub steps_per_epoch: Option<usize>,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Learning-rate schedule.
    pub lr: LrSchedule,
    /// SGD settings (HAWQ: momentum 0.9, weight decay 1e-4).
    pub sgd: SgdConfig,
    /// Training augmentation.
    pub augment: Option<Augment>,
    /// Seed of the epoch order, augmentation and dropout.
    pub seed: u64,
    /// Worker threads for training and the fast engine.
    pub threads: usize,
    /// Distillation from the teacher given to [`Qat::with_teacher`].
    pub distill: Option<Distill>,
    /// Integer engine of the evaluations.
    pub engine: EvalEngine,
    /// Evaluate on the integer engine after every epoch (otherwise only at the end).
    pub eval_each_epoch: bool,
}

impl QatConfig {
    /// HAWQ's recipe with a chosen base rate: SGD(0.9, wd 1e-4), constant rate, batch 128,
    /// no augmentation, no distillation, 1 thread, fast engine, evaluation every epoch.
    pub fn new(epochs: usize, lr: f64) -> Self {
        QatConfig {
            epochs,
            steps_per_epoch: None,
            batch_size: 128,
            eval_batch_size: 256,
            lr: LrSchedule { base: lr, schedule: Schedule::Constant, epochs, warmup_epochs: 0 },
            sgd: SgdConfig::default(),
            augment: None,
            seed: 0,
            threads: 1,
            distill: None,
            engine: EvalEngine::Fast,
            eval_each_epoch: true,
        }
    }
}

/// A finished QAT run.
#[derive(Debug, Clone, PartialEq)]
pub struct QatReport {
    /// Integer-engine accuracy before the first step.
    pub initial_accuracy: f64,
    /// Per epoch: training loss and accuracy of the fake-quantized batches, integer-engine test
    /// accuracy (NaN when not evaluated), training images per second.
    pub epochs: Vec<EpochReport>,
    /// Seconds of training (forward, backward, update) per epoch, evaluation excluded.
    pub epoch_seconds: Vec<f64>,
    /// Integer-engine test accuracy at the end.
    pub test_accuracy: f64,
}

/// Runs QAT on `qat` (see [`qat_train_with_progress`]).
pub fn qat_train(
    qat: &mut Qat,
    train_set: &Dataset,
    test_set: &Dataset,
    cfg: &QatConfig,
) -> Result<QatReport> {
    qat_train_with_progress(qat, train_set, test_set, cfg, &mut |_| {})
}

/// Runs `cfg.epochs` epochs of QAT on `train_set`, evaluating on `test_set` with the integer
/// engine; `progress` hears every step and epoch.
pub fn qat_train_with_progress(
    qat: &mut Qat,
    train_set: &Dataset,
    test_set: &Dataset,
    cfg: &QatConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<QatReport> {
    cfg.lr.validate()?;
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 || cfg.threads == 0 {
        return Err(TrainError::Config {
            what: "qat",
            detail: "batch sizes and threads must be positive".into(),
        });
    }
    let want = qat.network().plan().input_len();
    for (what, d) in [("training", train_set), ("test", test_set)] {
        if d.image_len() != want {
            return Err(TrainError::Size {
                what: format!("{what} image"),
                expected: want,
                got: d.image_len(),
            });
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| TrainError::Config { what: "threads", detail: e.to_string() })?;
    let evaluate = |q: &Qat| -> Result<f64> {
        Ok(q.evaluate(test_set, cfg.eval_batch_size, cfg.engine, cfg.threads)?.accuracy)
    };
    let mut sgd = Sgd::new(cfg.sgd, qat.network());
    let loader = LoaderConfig::train(cfg.batch_size, cfg.augment.clone());
    let mut report = QatReport {
        initial_accuracy: evaluate(&*qat)?,
        epochs: Vec::new(),
        epoch_seconds: Vec::new(),
        test_accuracy: f64::NAN,
    };
    pool.install(|| -> Result<()> {
        for epoch in 0..cfg.epochs {
            let seed = epoch_seed(cfg.seed, epoch as u64);
            let batches = epoch_batches(train_set, &loader, seed)?;
            let steps = cfg.steps_per_epoch.map_or(batches.len(), |s| s.min(batches.len()));
            let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
            let timer = Instant::now();
            for (step, (images, labels)) in batches.take(steps).enumerate() {
                let lr = cfg.lr.rate(epoch, step, steps);
                let dropout_seed = epoch_seed(seed, step as u64 + 1);
                let out = qat.step(&mut sgd, &images, &labels, lr, dropout_seed, cfg.distill)?;
                if !out.loss.is_finite() {
                    return Err(TrainError::Diverged { loss: out.loss, epoch, step });
                }
                loss_sum += out.loss * labels.len() as f64;
                correct += out.correct;
                seen += labels.len();
                progress(&Progress::Step { epoch, step, steps, loss: out.loss, lr });
            }
            let seconds = timer.elapsed().as_secs_f64();
            let last = epoch + 1 == cfg.epochs;
            let test_accuracy =
                if cfg.eval_each_epoch || last { evaluate(&*qat)? } else { f64::NAN };
            let epoch_report = EpochReport {
                epoch,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: correct as f64 / seen.max(1) as f64,
                test_accuracy,
                images_per_second: seen as f64 / seconds.max(1e-9),
            };
            progress(&Progress::Epoch(epoch_report.clone()));
            report.epochs.push(epoch_report);
            report.epoch_seconds.push(seconds);
            if last {
                report.test_accuracy = test_accuracy;
            }
        }
        Ok(())
    })?;
    if cfg.epochs == 0 {
        report.test_accuracy = report.initial_accuracy;
    }
    Ok(report)
}
