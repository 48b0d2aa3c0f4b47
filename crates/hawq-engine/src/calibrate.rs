//! Post-training calibration: run the float reference interpreter over calibration batches
//! and record every value's range with a [`RangeObserver`].

use crate::error::{EngineError, Result};
use crate::lower::Ranges;
use hawq_ir::{Graph, Tensor};
use hawq_quant::observer::{ObserverKind, RangeObserver};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Observers for every value of a graph, fed batch by batch.
#[derive(Debug, Clone)]
pub struct Calibrator {
    kind: ObserverKind,
    observers: HashMap<String, RangeObserver>,
}

impl Calibrator {
    /// A calibrator using `kind` observers (e.g. EMA with momentum 0.99, or running min/max).
    pub fn new(kind: ObserverKind) -> Result<Self> {
        RangeObserver::new(kind)
            .map_err(|source| EngineError::Quant { layer: "calibration".into(), source })?;
        Ok(Self { kind, observers: HashMap::new() })
    }

    /// Runs the float graph on one batch and updates every value's observer.
    pub fn observe(&mut self, graph: &Graph, batch: &Tensor) -> Result<()> {
        let values = hawq_ir::interp::run_all(graph, std::slice::from_ref(batch))?;
        for (name, t) in values {
            let obs = match self.observers.entry(name.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                // `new` already accepted this kind in the constructor.
                Entry::Vacant(e) => e.insert(
                    RangeObserver::new(self.kind).expect("kind validated in Calibrator::new"),
                ),
            };
            obs.observe(t.data()).map_err(|source| EngineError::Quant { layer: name, source })?;
        }
        Ok(())
    }

    /// The collected ranges.
    pub fn ranges(&self) -> Ranges {
        self.observers.iter().filter_map(|(k, o)| o.range().map(|r| (k.clone(), r))).collect()
    }
}

/// Calibrates over `batches` with running min/max observers.
pub fn calibrate<'a>(
    graph: &Graph,
    batches: impl IntoIterator<Item = &'a Tensor>,
) -> Result<Ranges> {
    let mut c = Calibrator::new(ObserverKind::MinMax)?;
    for b in batches {
        c.observe(graph, b)?;
    }
    Ok(c.ranges())
}
