//! Resumable training checkpoints as one safetensors file: the parameters under their graph
//! names (BN running statistics included), each trainable tensor's SGD momentum under
//! `sgd.momentum.<name>`, and the number of finished epochs under `train.epochs_done`.
//! Stored as F32 (an f64 network is rounded).

use crate::error::{Result, TrainError};
use crate::network::Network;
use crate::optim::Sgd;
use crate::scalar::Real;
use hawq_ir::Tensor;
use hawq_ir::weights::{load_params, save_params};
use std::path::Path;

const MOMENTUM_PREFIX: &str = "sgd.momentum.";
const EPOCHS_KEY: &str = "train.epochs_done";

fn tensor<T: Real>(shape: &[usize], v: &[T]) -> Result<Tensor> {
    Ok(Tensor::new(shape.to_vec(), v.iter().map(|x| x.to_f32()).collect())?)
}

/// Writes network, optimiser state and progress to `path` (atomically).
pub fn save_checkpoint<T: Real>(
    path: &Path,
    net: &Network<T>,
    sgd: &Sgd<T>,
    epochs_done: usize,
) -> Result<()> {
    let mut map = net.export_params()?;
    for (info, m) in net.plan().params().iter().zip(sgd.momentum()) {
        if info.kind.trainable() {
            map.insert(format!("{MOMENTUM_PREFIX}{}", info.name), tensor(&info.shape, m)?);
        }
    }
    // Exact in f32 for any realistic epoch count (< 2^24).
    map.insert(EPOCHS_KEY.into(), Tensor::from_vec(vec![epochs_done as f32]));
    save_params(&map, path)?;
    Ok(())
}

/// Restores network and optimiser state from `path`; returns the finished epoch count. Every
/// tensor must be present with the network's shape; on error nothing is changed.
pub fn load_checkpoint<T: Real>(
    path: &Path,
    net: &mut Network<T>,
    sgd: &mut Sgd<T>,
) -> Result<usize> {
    let map = load_params(path)?;
    let err = |detail: String| TrainError::Checkpoint { path: path.display().to_string(), detail };
    let fetch = |name: &str, shape: &[usize]| -> Result<Vec<T>> {
        let t = map.get(name).ok_or_else(|| err(format!("tensor '{name}' is missing")))?;
        if t.shape() != shape {
            return Err(err(format!(
                "tensor '{name}' has shape {:?}, expected {shape:?}",
                t.shape()
            )));
        }
        Ok(t.data().iter().map(|&v| T::from_f32(v)).collect())
    };
    let mut params = Vec::new();
    let mut momentum = Vec::new();
    for info in net.plan().params() {
        params.push(fetch(&info.name, &info.shape)?);
        momentum.push(if info.kind.trainable() {
            fetch(&format!("{MOMENTUM_PREFIX}{}", info.name), &info.shape)?
        } else {
            Vec::new()
        });
    }
    let epochs = fetch(EPOCHS_KEY, &[1])?[0].to_f64();
    if !(epochs >= 0.0 && epochs.fract() == 0.0 && epochs < 16_777_216.0) {
        return Err(err(format!("'{EPOCHS_KEY}' = {epochs} is not an epoch count")));
    }
    net.params = params;
    sgd.momentum = momentum;
    Ok(epochs as usize)
}
