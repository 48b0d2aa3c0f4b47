//! Accuracy of an integer model on the integer engine (the fast SIMD engine or the scalar
//! reference; both give the same integers).

use crate::error::{Result, TrainError};
use crate::loss::argmax;
use hawq_data::{Dataset, LoaderConfig, epoch_batches};
use hawq_engine::QModel;
use hawq_engine::reference::RunOutput;
use hawq_ir::Tensor;

/// Which integer engine runs an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvalEngine {
    /// `hawq_engine::fast::Plan` (SIMD kernels, multi-threaded).
    #[default]
    Fast,
    /// `hawq_engine::reference::run` (scalar, single-threaded).
    Reference,
}

/// An integer-engine evaluation: accuracy plus every output, in dataset order.
#[derive(Debug, Clone, PartialEq)]
pub struct IntEval {
    /// Top-1 accuracy.
    pub accuracy: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Dequantized logits, `[images, classes]` row-major.
    pub logits: Vec<f32>,
    /// The integer outputs before dequantization, same layout.
    pub outputs: Vec<i32>,
}

/// Runs `model` on every image of `data` (batches of `batch_size`, dataset order) with
/// `engine` (`threads` workers for the fast engine) and scores the arg-max against the labels.
pub fn evaluate_qmodel(
    model: &QModel,
    data: &Dataset,
    batch_size: usize,
    engine: EvalEngine,
    threads: usize,
) -> Result<IntEval> {
    let shape = &model.values[model.input].shape;
    let fast = match engine {
        EvalEngine::Fast => {
            let isa = hawq_kernels::isa().map_err(|source| hawq_engine::EngineError::Kernel {
                node: "qat evaluation".into(),
                source,
            })?;
            Some(hawq_engine::fast::Plan::new(model, isa)?)
        }
        EvalEngine::Reference => None,
    };
    let mut out = IntEval { accuracy: 0.0, correct: 0, logits: Vec::new(), outputs: Vec::new() };
    for (images, labels) in epoch_batches(data, &LoaderConfig::eval(batch_size), 0)? {
        let x = Tensor::new(shape.resolve(labels.len()), images)?;
        let run: RunOutput = match &fast {
            Some(plan) => plan.run(&x, threads.max(1))?,
            None => hawq_engine::reference::run(model, &x)?,
        };
        let classes = run.logits.data().len() / labels.len().max(1);
        if classes == 0 {
            return Err(TrainError::Size {
                what: "integer model output".into(),
                expected: labels.len(),
                got: 0,
            });
        }
        out.correct += run
            .logits
            .data()
            .chunks(classes)
            .zip(&labels)
            .filter(|(row, y)| argmax(row) == **y as usize)
            .count();
        out.logits.extend_from_slice(run.logits.data());
        out.outputs.extend_from_slice(&run.int_output.data);
    }
    out.accuracy = out.correct as f64 / data.len().max(1) as f64;
    Ok(out)
}
