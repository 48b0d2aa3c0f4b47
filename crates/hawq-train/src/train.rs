//! The training loop: seeded epochs of augmented batches, SGD steps, per-epoch evaluation,
//! optional checkpoints and resumption, progress reported through a callback.

use crate::backward::BackwardOptions;
use crate::checkpoint::{load_checkpoint, save_checkpoint};
use crate::error::{Result, TrainError};
use crate::loss::{LossOutput, argmax, cross_entropy};
use crate::network::{Mode, Network};
use crate::optim::{LrSchedule, Schedule, Sgd, SgdConfig};
use hawq_data::{Augment, Dataset, LoaderConfig, epoch_batches, epoch_seed};
use hawq_ir::Graph;
use std::path::PathBuf;
use std::time::Instant;

/// Everything a training run is configured by.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Epochs to train (in total, counting those a resumed checkpoint already did).
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Learning-rate schedule (base rate, curve, warm-up).
    pub lr: LrSchedule,
    /// SGD settings.
    pub sgd: SgdConfig,
    /// Training augmentation (`None`: images as stored).
    pub augment: Option<Augment>,
    /// Seed of the epoch order, augmentation and dropout.
    pub seed: u64,
    /// Worker threads (results are deterministic for a given count).
    pub threads: usize,
    /// Drop probability of the graph's Dropout nodes.
    pub dropout_rate: f64,
    /// Write a checkpoint here after every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Resume from `checkpoint` if that file exists.
    pub resume: bool,
}

impl TrainConfig {
    /// A plain recipe: SGD(0.9, wd 1e-4) with cosine decay from `lr`, batch 128, no
    /// augmentation, 1 thread, seed 0.
    pub fn new(epochs: usize, lr: f64) -> Self {
        TrainConfig {
            epochs,
            batch_size: 128,
            eval_batch_size: 256,
            lr: LrSchedule { base: lr, schedule: Schedule::Cosine, epochs, warmup_epochs: 0 },
            sgd: SgdConfig::default(),
            augment: None,
            seed: 0,
            threads: 1,
            dropout_rate: crate::network::DEFAULT_DROPOUT_RATE,
            checkpoint: None,
            resume: false,
        }
    }
}

/// What the progress callback is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A training step finished.
    Step {
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch (0-based).
        step: usize,
        /// Steps in the epoch.
        steps: usize,
        /// Batch loss.
        loss: f64,
        /// Learning rate used.
        lr: f64,
    },
    /// An epoch finished and was evaluated.
    Epoch(EpochReport),
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy of the (augmented, train-mode) batches.
    pub train_accuracy: f64,
    /// Test accuracy in eval mode.
    pub test_accuracy: f64,
    /// Training images per second (forward, backward, update).
    pub images_per_second: f64,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Epochs run in this call (not those restored from a checkpoint).
    pub epochs: Vec<EpochReport>,
    /// Test accuracy at the end.
    pub test_accuracy: f64,
}

/// One SGD step on a batch: forward in train mode, cross-entropy, backward, update.
pub fn train_step(
    net: &mut Network<f32>,
    sgd: &mut Sgd<f32>,
    images: &[f32],
    labels: &[u32],
    lr: f64,
    dropout_seed: u64,
) -> Result<LossOutput<f32>> {
    let tape = net.forward(images, labels.len(), Mode::Train { dropout_seed })?;
    let out = cross_entropy(tape.logits(), labels, net.plan().output_len())?;
    let grads = net.backward(&tape, &out.dlogits, BackwardOptions::default())?;
    sgd.step(net, &grads, lr)?;
    Ok(out)
}

/// Top-1 accuracy of `net` in eval mode over `data`.
pub fn evaluate(net: &Network<f32>, data: &Dataset, batch_size: usize) -> Result<f64> {
    let config = LoaderConfig::eval(batch_size);
    let classes = net.plan().output_len();
    let mut correct = 0usize;
    for (images, labels) in epoch_batches(data, &config, 0)? {
        let tape = net.forward_eval(&images, labels.len())?;
        correct += tape
            .logits()
            .chunks(classes)
            .zip(&labels)
            .filter(|(row, y)| argmax(row) == **y as usize)
            .count();
    }
    Ok(correct as f64 / data.len().max(1) as f64)
}

/// Trains `graph` in place (its parameters, BN statistics included, are replaced by the
/// trained ones).
pub fn train(
    graph: &mut Graph,
    train_set: &Dataset,
    test_set: &Dataset,
    cfg: &TrainConfig,
) -> Result<TrainReport> {
    train_with_progress(graph, train_set, test_set, cfg, &mut |_| {})
}

/// [`train`] with a callback after every step and every epoch (e.g. to drive a progress bar;
/// it runs inside the training thread pool, hence `Send`).
pub fn train_with_progress(
    graph: &mut Graph,
    train_set: &Dataset,
    test_set: &Dataset,
    cfg: &TrainConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<TrainReport> {
    cfg.lr.validate()?;
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 || cfg.threads == 0 {
        return Err(TrainError::Config {
            what: "training",
            detail: "batch sizes and threads must be positive".into(),
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| TrainError::Config { what: "threads", detail: e.to_string() })?;
    let mut net = Network::<f32>::from_graph(graph)?;
    let want = net.plan().input_len();
    if train_set.image_len() != want || test_set.image_len() != want {
        return Err(TrainError::Size {
            what: "dataset image (train, test)".into(),
            expected: want,
            got: if train_set.image_len() != want {
                train_set.image_len()
            } else {
                test_set.image_len()
            },
        });
    }
    net.set_dropout_rate(cfg.dropout_rate)?;
    let mut sgd = Sgd::new(cfg.sgd, &net);
    let mut start = 0;
    if let (true, Some(path)) = (cfg.resume, &cfg.checkpoint)
        && path.exists()
    {
        start = load_checkpoint(path, &mut net, &mut sgd)?;
    }
    let loader = LoaderConfig::train(cfg.batch_size, cfg.augment.clone());
    let mut report = TrainReport { epochs: Vec::new(), test_accuracy: 0.0 };
    pool.install(|| -> Result<()> {
        for epoch in start..cfg.epochs {
            let seed = epoch_seed(cfg.seed, epoch as u64);
            let batches = epoch_batches(train_set, &loader, seed)?;
            let steps = batches.len();
            let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
            let timer = Instant::now();
            for (step, (images, labels)) in batches.enumerate() {
                let lr = cfg.lr.rate(epoch, step, steps);
                let dropout_seed = epoch_seed(seed, step as u64 + 1);
                let out = train_step(&mut net, &mut sgd, &images, &labels, lr, dropout_seed)?;
                if !out.loss.is_finite() {
                    return Err(TrainError::Diverged { loss: out.loss, epoch, step });
                }
                loss_sum += out.loss * labels.len() as f64;
                correct += out.correct;
                seen += labels.len();
                progress(&Progress::Step { epoch, step, steps, loss: out.loss, lr });
            }
            let seconds = timer.elapsed().as_secs_f64();
            let test_accuracy = evaluate(&net, test_set, cfg.eval_batch_size)?;
            let epoch_report = EpochReport {
                epoch,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: correct as f64 / seen.max(1) as f64,
                test_accuracy,
                images_per_second: seen as f64 / seconds.max(1e-9),
            };
            progress(&Progress::Epoch(epoch_report.clone()));
            report.epochs.push(epoch_report);
            if let Some(path) = &cfg.checkpoint {
                save_checkpoint(path, &net, &sgd, epoch + 1)?;
            }
        }
        report.test_accuracy = evaluate(&net, test_set, cfg.eval_batch_size)?;
        Ok(())
    })?;
    net.write_to_graph(graph)?;
    Ok(report)
}
