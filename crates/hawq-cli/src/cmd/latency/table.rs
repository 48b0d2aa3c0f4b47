//! The hardware-aware latency table: per conv/linear layer, its INT4 and INT8 latency on hawq's
//! fast engine on this machine, for one batch size and thread count.
//!
//! Measurement: the model is lowered twice, every layer at 4 bits and every layer at 8 bits
//! (first and last included), and both plans are profiled in alternating blocks of runs
//! (`hawq_engine::fast::profile`): each layer's time is its node's time plus the non-layer
//! nodes it feeds (requantization, pooling, flatten), averaged over the runs in the
//! interquartile range of whole-model time, so the layers and the fixed overhead (input
//! quantization, dequantization, dispatch) add up to a typical run.
//!
//! Tables are cached as JSON under the cache folder, keyed by a [`Signature`] (CPU model, ISA,
//! batch, threads, timed runs, model structure); a cached file is used only when its stored
//! signature equals the current one.

use anyhow::{Context as _, Result, bail};
use hawq_alloc::LayerTable;
use hawq_engine::fast::profile::profile_layers;
use hawq_engine::{LowerConfig, QModel, QOp, lower};
use hawq_ir::{Graph, Tensor};
use hawq_kernels::Isa;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Bit widths -> milliseconds.
pub type Millis = BTreeMap<u32, f64>;

/// What a table was measured on; a cached table is reused only when all of it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// CPU model string (`/proc/cpuinfo` "model name").
    pub cpu: String,
    /// Kernel ISA the plans ran on.
    pub isa: String,
    /// Images per forward pass.
    pub batch: usize,
    /// Engine worker threads.
    pub threads: usize,
    /// Timed runs of each model.
    pub reps: usize,
    /// Hash of the structure of the 4- and 8-bit models (ops, shapes, formats, geometry).
    pub model_hash: String,
    /// hawq version (a new engine may change every figure).
    pub hawq: String,
}

/// One layer's latency per bit width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLatency {
    /// Layer name (the weight parameter's name, as in the sensitivity table).
    pub name: String,
    /// Milliseconds per bit width.
    pub latency_ms: Millis,
}

/// A measured latency table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyTable {
    /// What it was measured on.
    pub signature: Signature,
    /// Layers in execution order.
    pub layers: Vec<LayerLatency>,
    /// Time outside every node per uniform width (added once to any prediction).
    pub overhead_ms: Millis,
    /// Measured whole-model median per uniform width (an independent check of the sums).
    pub total_ms: Millis,
}

impl LatencyTable {
    /// Predicted latency of a configuration, as the allocator computes it from a merged
    /// table: `Σ layer[bits]` plus the overhead at the first layer's width. Layers missing
    /// from `bits` take `default`.
    pub fn predict_ms(&self, bits: &HashMap<String, u32>, default: u32) -> Result<f64> {
        let mut sum = 0.0;
        for (i, l) in self.layers.iter().enumerate() {
            let b = bits.get(&l.name).copied().unwrap_or(default);
            let Some(ms) = l.latency_ms.get(&b) else {
                bail!("layer '{}' has no latency at {b} bits", l.name);
            };
            sum += ms;
            if i == 0 {
                sum += self.overhead_ms.get(&b).copied().unwrap_or(0.0);
            }
        }
        Ok(sum)
    }

    /// Writes each layer's `latency_ms` into an allocation table, by name. The fixed overhead
    /// is folded into the model's first layer (or the table's first layer if the model's is
    /// not listed), so the allocator's `Σ latency_ms` is the whole-model prediction. Every
    /// table layer must have been measured.
    pub fn merge_into(&self, table: &mut LayerTable) -> Result<()> {
        let by_name: HashMap<&str, &LayerLatency> =
            self.layers.iter().map(|l| (l.name.as_str(), l)).collect();
        let first = self.layers.first().map(|l| l.name.as_str());
        let fold_at = table.layers.iter().position(|l| Some(l.name.as_str()) == first).unwrap_or(0);
        for (i, layer) in table.layers.iter_mut().enumerate() {
            let Some(m) = by_name.get(layer.name.as_str()) else {
                bail!(
                    "table layer '{}' is not a conv/linear layer of the measured model \
                     (measured: {})",
                    layer.name,
                    self.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                );
            };
            let mut ms = m.latency_ms.clone();
            if i == fold_at {
                for (b, v) in ms.iter_mut() {
                    *v += self.overhead_ms.get(b).copied().unwrap_or(0.0);
                }
            }
            layer.latency_ms = Some(ms);
        }
        Ok(())
    }
}

/// The CPU model string, or the architecture name where `/proc/cpuinfo` has none.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| format!("unknown {}", std::env::consts::ARCH))
}

/// FNV-1a of one byte string (see [`crate::cmd::cache::Fnv`]).
fn fnv1a(bytes: &[u8]) -> u64 {
    crate::cmd::cache::Fnv::new().bytes(bytes).0
}

/// Hash of what decides latency: values (shape, format) and nodes (op, wiring, layer
/// geometry and bits), but not weights or scales.
pub fn model_hash(models: &[&QModel]) -> String {
    let mut text = String::new();
    for m in models {
        for v in &m.values {
            text.push_str(&format!("v {} {:?};", v.shape, v.format));
        }
        for n in &m.nodes {
            text.push_str(&format!("n {} {:?}>{}", n.op.name(), n.inputs, n.output));
            if let QOp::Layer(l) = &n.op {
                text.push_str(&format!(" {:?} {} {}", l.geom, l.bits, l.is_linear));
            }
            text.push(';');
        }
        text.push('|');
    }
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// The cache file of a signature inside `dir`.
pub fn cache_file(dir: &Path, sig: &Signature) -> PathBuf {
    // Serializing a struct of strings and integers cannot fail.
    let key = serde_json::to_string(sig).unwrap_or_default();
    dir.join(format!("latency-{:016x}.json", fnv1a(key.as_bytes())))
}

/// The cached table for `sig`, if one exists, parses and was measured with exactly `sig`.
pub fn load_cached(dir: &Path, sig: &Signature) -> Option<LatencyTable> {
    let text = std::fs::read_to_string(cache_file(dir, sig)).ok()?;
    serde_json::from_str::<LatencyTable>(&text).ok().filter(|t| &t.signature == sig)
}

/// Writes `table` to the cache (atomically: a temporary file, then a rename).
pub fn store(dir: &Path, table: &LatencyTable) -> Result<PathBuf> {
    let path = cache_file(dir, &table.signature);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(table)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Lowers `g` (simplified) with every conv/linear layer at 4 bits and at 8 bits, calibrated
/// on `calib` random batches (weights and ranges do not change the engine's work).
pub fn uniform_models(g: &Graph, calib: &[Tensor]) -> Result<(QModel, QModel)> {
    let ranges = hawq_engine::calibrate::calibrate(g, calib)?;
    let at = |bits| {
        let cfg = LowerConfig { default_bits: bits, ..LowerConfig::default() };
        lower(g, &ranges, &cfg).with_context(|| format!("lowering every layer to {bits} bits"))
    };
    Ok((at(4)?, at(8)?))
}

/// How to measure.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// Kernel ISA.
    pub isa: Isa,
    /// Engine worker threads.
    pub threads: usize,
    /// Untimed runs of each model.
    pub warmup: usize,
    /// Timed runs of each model.
    pub reps: usize,
}

/// The signature of measuring `m4`/`m8` on `x` with `how`.
pub fn signature(m4: &QModel, m8: &QModel, x: &Tensor, how: &Measure) -> Signature {
    Signature {
        cpu: cpu_model(),
        isa: how.isa.to_string(),
        batch: x.shape().first().copied().unwrap_or(1),
        threads: how.threads,
        reps: how.reps.max(1),
        model_hash: model_hash(&[m4, m8]),
        hawq: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Profiles the uniform 4- and 8-bit models on `x` and builds the table.
pub fn measure(m4: &QModel, m8: &QModel, x: &Tensor, how: &Measure) -> Result<LatencyTable> {
    let sig = signature(m4, m8, x, how);
    let t = profile_layers(&[m4, m8], how.isa, x, how.threads, how.warmup, how.reps)
        .context("profiling the integer models")?;
    let [t4, t8] = t.as_slice() else { bail!("profiling returned {} results, not 2", t.len()) };
    if t4.layers.len() != t8.layers.len()
        || t4.layers.iter().zip(&t8.layers).any(|(a, b)| a.0 != b.0)
    {
        bail!("the 4- and 8-bit models have different layers");
    }
    let layers = t4
        .layers
        .iter()
        .zip(&t8.layers)
        .map(|((name, a), (_, b))| LayerLatency {
            name: name.clone(),
            latency_ms: Millis::from([(4, *a), (8, *b)]),
        })
        .collect();
    Ok(LatencyTable {
        signature: sig,
        layers,
        overhead_ms: Millis::from([(4, t4.overhead_ms), (8, t8.overhead_ms)]),
        total_ms: Millis::from([(4, t4.median_total_ms), (8, t8.median_total_ms)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hawq_alloc::Layer;

    fn tiny() -> (QModel, QModel, Tensor) {
        let opts = hawq_zoo::ZooOptions {
            in_channels: 1,
            height: 8,
            width: 8,
            num_classes: 3,
            ..hawq_zoo::ZooOptions::for_model("resnet20").unwrap()
        };
        let mut g = hawq_zoo::build("resnet20", &opts).unwrap();
        hawq_ir::passes::simplify(&mut g).unwrap();
        let calib = Tensor::new(vec![2, 1, 8, 8], (0..128).map(|i| (i % 7) as f32 - 3.0).collect());
        let (m4, m8) = uniform_models(&g, &[calib.unwrap()]).unwrap();
        let x = Tensor::new(vec![1, 1, 8, 8], vec![0.5; 64]).unwrap();
        (m4, m8, x)
    }

    fn how(reps: usize) -> Measure {
        Measure { isa: hawq_kernels::isa().unwrap(), threads: 1, warmup: 0, reps }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hawq-latency-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn measures_every_layer_at_both_widths() {
        let (m4, m8, x) = tiny();
        let t = measure(&m4, &m8, &x, &how(2)).unwrap();
        let names: Vec<&str> = m8.layers().map(|l| l.name.as_str()).collect();
        assert_eq!(t.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), names);
        assert_eq!(names.len(), 22, "resnet20: 19 convs, 2 downsample convs, fc");
        for l in &t.layers {
            assert_eq!(l.latency_ms.keys().copied().collect::<Vec<_>>(), vec![4, 8]);
            assert!(l.latency_ms.values().all(|&ms| ms > 0.0 && ms.is_finite()), "{l:?}");
        }
        let all8: HashMap<String, u32> = HashMap::new();
        let p8 = t.predict_ms(&all8, 8).unwrap();
        assert!(p8 > 0.0 && p8.is_finite());
        assert_eq!(t.signature.model_hash, model_hash(&[&m4, &m8]));
        assert_ne!(model_hash(&[&m4]), model_hash(&[&m8]), "bits are part of the structure");
    }

    #[test]
    fn cache_hits_only_on_the_same_signature() {
        let (m4, m8, x) = tiny();
        let t = measure(&m4, &m8, &x, &how(1)).unwrap();
        let dir = scratch("cache");
        assert_eq!(load_cached(&dir, &t.signature), None, "empty cache");
        let path = store(&dir, &t).unwrap();
        assert!(path.starts_with(&dir));
        let hit = load_cached(&dir, &t.signature).expect("hit");
        assert_eq!(hit.signature, t.signature);
        // JSON keeps the figures to the last bit or so (serde_json's float parsing).
        let close = |a: &Millis, b: &Millis| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() <= 1e-12 * y.1.abs())
        };
        assert!(
            hit.layers
                .iter()
                .zip(&t.layers)
                .all(|(a, b)| a.name == b.name && close(&a.latency_ms, &b.latency_ms))
        );
        assert_eq!(hit.layers.len(), t.layers.len());
        assert!(close(&hit.overhead_ms, &t.overhead_ms) && close(&hit.total_ms, &t.total_ms));
        let changes: [fn(&mut Signature); 6] = [
            |s| s.cpu.push('x'),
            |s| s.isa = "other".into(),
            |s| s.batch += 1,
            |s| s.threads += 1,
            |s| s.reps += 1,
            |s| s.model_hash = "0".into(),
        ];
        for change in changes {
            let mut sig = t.signature.clone();
            change(&mut sig);
            assert_eq!(load_cached(&dir, &sig), None, "miss for {sig:?}");
        }
        // A file at the right path whose stored signature differs (a hash collision) is a miss.
        let mut other = t.clone();
        other.signature.batch = 99;
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        assert_eq!(load_cached(&dir, &t.signature), None);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(load_cached(&dir, &t.signature), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn table_layer(name: &str) -> Layer {
        Layer {
            name: name.into(),
            params: 1,
            macs: 1,
            trace: 1.0,
            delta: BTreeMap::from([(4, 1.0), (8, 0.1)]),
            latency_ms: None,
            pin: None,
            trace_stderr: None,
            method: None,
        }
    }

    fn synthetic() -> LatencyTable {
        let layer = |name: &str, a, b| LayerLatency {
            name: name.into(),
            latency_ms: Millis::from([(4, a), (8, b)]),
        };
        LatencyTable {
            signature: Signature {
                cpu: "c".into(),
                isa: "i".into(),
                batch: 1,
                threads: 1,
                reps: 1,
                model_hash: "h".into(),
                hawq: "v".into(),
            },
            layers: vec![layer("a", 1.0, 2.0), layer("b", 3.0, 5.0)],
            overhead_ms: Millis::from([(4, 0.25), (8, 0.75)]),
            total_ms: Millis::from([(4, 4.25), (8, 7.75)]),
        }
    }

    #[test]
    fn merge_folds_the_overhead_into_the_first_layer() {
        let t = synthetic();
        let mut table =
            LayerTable { layers: vec![table_layer("b"), table_layer("a")], tie: vec![] };
        t.merge_into(&mut table).unwrap();
        assert_eq!(table.layers[0].latency_ms, Some(Millis::from([(4, 3.0), (8, 5.0)])));
        assert_eq!(table.layers[1].latency_ms, Some(Millis::from([(4, 1.25), (8, 2.75)])));
        let bits = HashMap::from([("a".to_string(), 4), ("b".to_string(), 8)]);
        assert_eq!(t.predict_ms(&bits, 8).unwrap(), 1.0 + 0.25 + 5.0);
        let mut unknown = LayerTable { layers: vec![table_layer("zz")], tie: vec![] };
        let err = t.merge_into(&mut unknown).unwrap_err().to_string();
        assert!(err.contains("'zz'") && err.contains("a, b"), "{err}");
    }
}
