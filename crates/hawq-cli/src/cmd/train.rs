//! `hawq train`: float training of a zoo architecture on labelled data, written as a float
//! checkpoint (architecture + weights) that every other command accepts as MODEL.

use crate::args::{DataArgs, ModelArgs};
use crate::data;
use crate::output::Context;
use anyhow::{Context as _, Result};
use hawq_data::{Augment, Split};
use hawq_train::{Progress, TrainConfig, train_with_progress};
use std::collections::HashMap;
use std::path::PathBuf;

/// The command's options.
pub struct Options {
    /// Zoo architecture and its input shape / classes.
    pub model: ModelArgs,
    /// Training and test data.
    pub data: DataArgs,
    /// Epochs.
    pub epochs: usize,
    /// Base learning rate (cosine decay).
    pub lr: f64,
    /// Threads.
    pub threads: usize,
    /// Random crop (pad 2) + flip augmentation.
    pub augment: bool,
    /// Resume from the training-state file next to the output.
    pub resume: bool,
    /// Output checkpoint.
    pub output: PathBuf,
}

/// Runs the command.
pub fn run(o: &Options, ctx: &Context) -> Result<()> {
    let mut graph = crate::model::zoo_graph(&o.model)?;
    let opts = crate::model::zoo_options(&o.model)?;
    let train_set = data::load(&o.data, Split::Train)?;
    let test_set = data::load(&o.data, Split::Test)?;
    let mut cfg = TrainConfig::new(o.epochs, o.lr);
    cfg.batch_size = o.data.batch;
    cfg.threads = o.threads.max(1);
    cfg.seed = o.model.seed;
    cfg.augment = o.augment.then(Augment::fashion_mnist);
    let state = o.output.with_extension("train-state.safetensors");
    cfg.checkpoint = Some(state.clone());
    cfg.resume = o.resume;
    let steps = train_set.len().div_ceil(cfg.batch_size) as u64;
    let pb = ctx.progress(steps * o.epochs as u64, "train");
    let started = std::time::Instant::now();
    let mut log: Vec<String> = Vec::new();
    let report = train_with_progress(
        &mut graph,
        &train_set,
        &test_set,
        &cfg,
        &mut |p: &Progress| match p {
            Progress::Step { loss, lr, .. } => {
                pb.inc(1);
                pb.set_message(format!("loss {loss:.3} lr {lr:.4}"));
            }
            Progress::Epoch(e) => {
                let line = format!(
                    "epoch {:>3}: train loss {:.4}, train acc {:.2}%, test acc {:.2}%, {:.0} img/s",
                    e.epoch + 1,
                    e.train_loss,
                    e.train_accuracy * 100.0,
                    e.test_accuracy * 100.0,
                    e.images_per_second
                );
                // A hidden bar (not a terminal, --quiet) drops println: keep logs of background runs.
                if pb.is_hidden() {
                    ctx.note(&line);
                } else {
                    pb.println(&line);
                }
                log.push(line);
            }
        },
    )?;
    pb.finish_and_clear();
    let mut meta = HashMap::new();
    meta.insert("hawq.train.test_accuracy".into(), format!("{:.6}", report.test_accuracy));
    meta.insert("hawq.train.epochs".into(), o.epochs.to_string());
    meta.insert("hawq.train.data".into(), o.data.data.clone());
    meta.insert("hawq.train.command".into(), std::env::args().collect::<Vec<_>>().join(" "));
    hawq_zoo::checkpoint::save(&graph, &o.model.model, &opts, &meta, &o.output)
        .with_context(|| format!("writing {}", o.output.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"output": o.output, "test_top1": report.test_accuracy, "seconds": secs, "epochs": log})
        );
    } else {
        crate::outln!(
            "{}: test top-1 {:.2}% after {} epochs ({secs:.0} s); wrote {}",
            o.model.model,
            report.test_accuracy * 100.0,
            o.epochs,
            o.output.display()
        );
    }
    Ok(())
}
