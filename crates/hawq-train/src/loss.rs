//! Losses on `[batch, classes]` logits, each returning the batch-mean loss and its gradient
//! with respect to the logits (ready for [`crate::Network::backward`]). Computed in f64.

use crate::error::{Result, TrainError};
use crate::scalar::Real;

/// A loss value, its gradient and the number of correct top-1 predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct LossOutput<T> {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Gradient of `loss` with respect to the logits.
    pub dlogits: Vec<T>,
    /// Items whose arg-max logit equals the label.
    pub correct: usize,
}

/// `log Σ exp(z / t)` and the softmax of `z / t` for one row (max-shifted for stability).
fn softmax(row: &[f64], t: f64) -> (f64, Vec<f64>) {
    let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b / t));
    let e: Vec<f64> = row.iter().map(|&z| (z / t - m).exp()).collect();
    let s: f64 = e.iter().sum();
    (m + s.ln(), e.into_iter().map(|v| v / s).collect())
}

/// Index of the largest logit (first on ties).
pub fn argmax<T: Real>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn check<T: Real>(logits: &[T], labels: &[u32], classes: usize) -> Result<()> {
    if classes == 0 || logits.len() != labels.len() * classes || labels.is_empty() {
        return Err(TrainError::Size {
            what: format!("logits for {} labels of {classes} classes", labels.len()),
            expected: labels.len() * classes,
            got: logits.len(),
        });
    }
    if let Some((sample, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= classes)
    {
        return Err(TrainError::Label { label, sample, classes });
    }
    Ok(())
}

/// Softmax cross-entropy, averaged over the batch (PyTorch's `cross_entropy`).
pub fn cross_entropy<T: Real>(
    logits: &[T],
    labels: &[u32],
    classes: usize,
) -> Result<LossOutput<T>> {
    check(logits, labels, classes)?;
    let b = labels.len() as f64;
    let mut out = LossOutput { loss: 0.0, dlogits: Vec::with_capacity(logits.len()), correct: 0 };
    for (row, &y) in logits.chunks(classes).zip(labels) {
        let z: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
        let (lse, p) = softmax(&z, 1.0);
        out.loss += (lse - z[y as usize]) / b;
        out.correct += usize::from(argmax(row) == y as usize);
        for (c, pc) in p.into_iter().enumerate() {
            let onehot = if c == y as usize { 1.0 } else { 0.0 };
            out.dlogits.push(T::from_f64((pc - onehot) / b));
        }
    }
    Ok(out)
}

/// Knowledge distillation as in Hinton et al.:
/// `α·T²·mean_n KL(softmax(t_n/T) ‖ softmax(s_n/T)) + (1 − α)·CE(s, y)`.
/// (HAWQ's reference code uses `kl_div`'s element-mean, which divides the KL term by the class
/// count too; this is the textbook per-batch mean.)
pub fn distillation<T: Real>(
    student: &[T],
    teacher: &[T],
    labels: &[u32],
    classes: usize,
    alpha: f64,
    temperature: f64,
) -> Result<LossOutput<T>> {
    check(student, labels, classes)?;
    if teacher.len() != student.len() {
        return Err(TrainError::Size {
            what: "teacher logits".into(),
            expected: student.len(),
            got: teacher.len(),
        });
    }
    if !(0.0..=1.0).contains(&alpha) || temperature.is_nan() || temperature <= 0.0 {
        return Err(TrainError::Config {
            what: "distillation",
            detail: format!(
                "alpha {alpha} must be in [0, 1] and temperature {temperature} positive"
            ),
        });
    }
    let mut out = cross_entropy(student, labels, classes)?;
    let b = labels.len() as f64;
    out.loss *= 1.0 - alpha;
    out.dlogits.iter_mut().for_each(|d| *d = T::from_f64(d.to_f64() * (1.0 - alpha)));
    for (n, (s, t)) in student.chunks(classes).zip(teacher.chunks(classes)).enumerate() {
        let s: Vec<f64> = s.iter().map(|v| v.to_f64()).collect();
        let t: Vec<f64> = t.iter().map(|v| v.to_f64()).collect();
        let (lse_s, ps) = softmax(&s, temperature);
        let (lse_t, pt) = softmax(&t, temperature);
        // KL(pt ‖ ps) = Σ pt·(log pt − log ps), with log p = z/T − lse.
        let kl: f64 = (0..classes)
            .filter(|&c| pt[c] > 0.0)
            .map(|c| pt[c] * ((t[c] / temperature - lse_t) - (s[c] / temperature - lse_s)))
            .sum();
        out.loss += alpha * temperature * temperature * kl / b;
        for c in 0..classes {
            let d = &mut out.dlogits[n * classes + c];
            *d = T::from_f64(d.to_f64() + alpha * temperature * (ps[c] - pt[c]) / b);
        }
    }
    Ok(out)
}
