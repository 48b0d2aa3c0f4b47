//! [`Plan`]: a validated [`QModel`] compiled once for the fast engine — NHWC storage per value,
//! packed weights and fused epilogues per layer, an arena of reusable buffers — and its
//! execution on a rayon pool of a chosen size.

use super::arena::{Arena, SlotMap};
use super::layer::FastLayer;
use super::layout::{Dims, Elem, Layout, Src, dst_view, src_view, with_dst};
use super::ops::{self, PoolGeom};
use crate::error::{EngineError, Result};
use crate::qmodel::{QModel, QOp, ValueId};
use crate::reference::{self, QTensor, RunOutput};
use hawq_ir::{AvgPool, MaxPool, Tensor};
use hawq_kernels::Isa;
use hawq_quant::Dyadic;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One compiled op.
#[derive(Debug)]
enum StepOp {
    Layer(Box<FastLayer>),
    Requant { d: Dyadic, lo: i64, hi: i64 },
    Add { a: Dyadic, b: Dyadic, lo: i64, hi: i64 },
    Clamp { lo: i64, hi: i64 },
    MaxPool(MaxPool, PoolGeom),
    AvgPool(AvgPool, PoolGeom),
    GlobalAvgPool,
    Concat { dyadics: Vec<Dyadic>, lo: i64, hi: i64 },
    Flatten,
}

#[derive(Debug)]
struct Step {
    name: String,
    op: StepOp,
    inputs: Vec<ValueId>,
    output: ValueId,
}

/// A model compiled for the fast integer engine. Integer results equal
/// [`reference::run`]'s exactly, for every ISA, thread count and batch size.
#[derive(Debug)]
pub struct Plan {
    isa: Isa,
    layouts: Vec<Layout>,
    steps: Vec<Step>,
    slots: SlotMap,
    input: ValueId,
    output: ValueId,
    /// The model reduced to what input quantization and output dequantization read.
    io: QModel,
    pools: Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>,
    arenas: Mutex<Vec<Arena>>,
}

fn bad(node: &str, detail: impl Into<String>) -> EngineError {
    EngineError::InvalidModel { node: node.to_string(), detail: detail.into() }
}

impl Plan {
    /// Validates `model` and compiles it for `isa` (which this CPU must support).
    pub fn new(model: &QModel, isa: Isa) -> Result<Plan> {
        model.validate()?;
        let isa =
            isa.check().map_err(|source| EngineError::Kernel { node: "plan".into(), source })?;
        let layouts = model.values.iter().map(Layout::of).collect::<Result<Vec<_>>>()?;
        let mut steps = Vec::with_capacity(model.nodes.len());
        for node in &model.nodes {
            let dims = |i: usize| layouts[node.inputs[i]].dims;
            let out_dims = layouts[node.output].dims;
            let op = match &node.op {
                QOp::Layer(l) => StepOp::Layer(Box::new(FastLayer::new(&node.name, l, dims(0))?)),
                QOp::Requant { dyadic, lo, hi } => StepOp::Requant { d: *dyadic, lo: *lo, hi: *hi },
                QOp::Add { a, b, lo, hi } => StepOp::Add { a: *a, b: *b, lo: *lo, hi: *hi },
                QOp::Clamp { lo, hi } => StepOp::Clamp { lo: *lo, hi: *hi },
                QOp::MaxPool(p) => StepOp::MaxPool(p.clone(), PoolGeom::new(dims(0), out_dims)),
                QOp::AvgPool(p) => StepOp::AvgPool(p.clone(), PoolGeom::new(dims(0), out_dims)),
                QOp::GlobalAvgPool => StepOp::GlobalAvgPool,
                QOp::Concat { dyadics, lo, hi } => {
                    StepOp::Concat { dyadics: dyadics.clone(), lo: *lo, hi: *hi }
                }
                QOp::Flatten => StepOp::Flatten,
            };
            steps.push(Step {
                name: node.name.clone(),
                op,
                inputs: node.inputs.clone(),
                output: node.output,
            });
        }
        let bytes = layouts
            .iter()
            .zip(&model.values)
            .map(|(l, v)| {
                l.dims
                    .per_item()
                    .checked_mul(l.store.bytes())
                    .ok_or_else(|| bad(&v.name, "value size overflows"))
            })
            .collect::<Result<Vec<_>>>()?;
        let edges: Vec<(Vec<usize>, usize)> =
            steps.iter().map(|s| (s.inputs.clone(), s.output)).collect();
        let slots = SlotMap::assign(model.values.len(), &edges, model.input, model.output, &bytes);
        let io = QModel {
            version: model.version,
            values: model.values.clone(),
            nodes: Vec::new(),
            input: model.input,
            output: model.output,
            dequant: model.dequant.clone(),
        };
        Ok(Plan {
            isa,
            layouts,
            steps,
            slots,
            input: model.input,
            output: model.output,
            io,
            pools: Mutex::new(HashMap::new()),
            arenas: Mutex::new(Vec::new()),
        })
    }

    /// The ISA the plan's kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Bytes of activation buffers a run on `batch` items holds (all arena slots; the
    /// kernels' per-block im2col scratch and the input/output tensors are not included).
    pub fn peak_activation_bytes(&self, batch: usize) -> usize {
        self.slots.bytes(batch).unwrap_or(usize::MAX)
    }

    /// Number of distinct activation buffers (arena slots).
    pub fn buffer_count(&self) -> usize {
        self.slots.slot_bytes_per_item.len()
    }

    /// Runs the model on a float NCHW input with `threads` worker threads (0 = rayon's
    /// default). Quantization and dequantization are the reference engine's.
    pub fn run(&self, x: &Tensor, threads: usize) -> Result<RunOutput> {
        let int_output = self.execute(x, threads, None, None)?;
        let logits = reference::dequantize(&self.io, &int_output)?;
        Ok(RunOutput { logits, int_output })
    }

    /// Runs the model and returns every computed value as an NCHW tensor (for tests and
    /// debugging: each value is copied out before its buffer is reused).
    pub fn run_all(&self, x: &Tensor, threads: usize) -> Result<Vec<Option<QTensor>>> {
        let mut vals: Vec<Option<QTensor>> = vec![None; self.layouts.len()];
        self.execute(x, threads, Some(&mut |v, t| vals[v] = Some(t)), None)?;
        Ok(vals)
    }

    /// Runs the model once and returns the wall time of each node (in model order) and of the
    /// whole run, input quantization and output dequantization included (see
    /// [`super::profile`]).
    pub fn run_timed(&self, x: &Tensor, threads: usize) -> Result<(Vec<Duration>, Duration)> {
        let mut times = vec![Duration::ZERO; self.steps.len()];
        let started = Instant::now();
        let int_output = self.execute(x, threads, None, Some(&mut times))?;
        reference::dequantize(&self.io, &int_output)?;
        Ok((times, started.elapsed()))
    }

    fn pool(&self, threads: usize) -> Result<Arc<rayon::ThreadPool>> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(&threads) {
            return Ok(p.clone());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| EngineError::Threads { threads, detail: e.to_string() })?;
        let pool = Arc::new(pool);
        pools.insert(threads, pool.clone());
        Ok(pool)
    }

    fn execute(
        &self,
        x: &Tensor,
        threads: usize,
        observe: Option<&mut (dyn FnMut(ValueId, QTensor) + Send)>,
        times: Option<&mut [Duration]>,
    ) -> Result<QTensor> {
        let v = &self.io.values[self.input];
        let batch = v.shape.matches(x.shape()).ok_or_else(|| EngineError::InputShape {
            expected: v.shape.to_string(),
            got: x.shape().to_vec(),
        })?;
        if let Some(index) = x.data().iter().position(|f| !f.is_finite()) {
            return Err(EngineError::NonFiniteInput { index });
        }
        if self.slots.bytes(batch).is_none() {
            return Err(bad("plan", format!("activations for batch {batch} overflow usize")));
        }
        let pool = self.pool(threads)?;
        let popped = self.arenas.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut arena = match popped {
            Some(a) if a.batch >= batch => a,
            _ => Arena::new(&self.slots, batch),
        };
        let result = pool.install(|| self.execute_in(&mut arena, x, batch, observe, times));
        self.arenas.lock().unwrap_or_else(|e| e.into_inner()).push(arena);
        result
    }

    fn slot(&self, v: ValueId, node: &str) -> Result<usize> {
        self.slots.slot_of[v].ok_or_else(|| bad(node, "value has no buffer"))
    }

    fn execute_in(
        &self,
        arena: &mut Arena,
        x: &Tensor,
        batch: usize,
        mut observe: Option<&mut (dyn FnMut(ValueId, QTensor) + Send)>,
        mut times: Option<&mut [Duration]>,
    ) -> Result<QTensor> {
        let len = |v: ValueId| self.layouts[v].dims.per_item() * batch;
        let v = &self.io.values[self.input];
        let layout = self.layouts[self.input];
        let s = self.slot(self.input, "input")?;
        quantize_into(
            x.data(),
            dst_view(&mut arena.slots[s], layout.store, len(self.input)),
            layout.dims,
            |f| v.format.quantize(f, v.scale),
        );
        for (i, step) in self.steps.iter().enumerate() {
            let started = times.is_some().then(Instant::now);
            let out_slot = self.slot(step.output, &step.name)?;
            let mut out_words = std::mem::take(&mut arena.slots[out_slot]);
            let result = (|| {
                let srcs = step
                    .inputs
                    .iter()
                    .map(|&i| {
                        let s = self.slot(i, &step.name)?;
                        Ok(src_view(&arena.slots[s], self.layouts[i].store, len(i)))
                    })
                    .collect::<Result<Vec<Src<'_>>>>()?;
                let out_layout = self.layouts[step.output];
                let dst = dst_view(&mut out_words, out_layout.store, len(step.output));
                self.run_step(step, &srcs, dst, batch)
            })();
            arena.slots[out_slot] = out_words;
            result?;
            if let (Some(t), Some(started)) = (times.as_deref_mut(), started) {
                t[i] += started.elapsed();
            }
            if let Some(f) = observe.as_mut() {
                let layout = self.layouts[step.output];
                let view = src_view(&arena.slots[out_slot], layout.store, len(step.output));
                f(step.output, layout.to_nchw(view, batch));
            }
        }
        let s = self.slot(self.output, "output")?;
        let layout = self.layouts[self.output];
        Ok(layout.to_nchw(src_view(&arena.slots[s], layout.store, len(self.output)), batch))
    }

    fn run_step(
        &self,
        step: &Step,
        xs: &[Src<'_>],
        out: super::layout::Dst<'_>,
        batch: usize,
    ) -> Result<()> {
        let arity = |n: usize| {
            if xs.len() == n { Ok(()) } else { Err(bad(&step.name, format!("expects {n} inputs"))) }
        };
        let in_dims = self.layouts[step.inputs[0]].dims;
        match &step.op {
            StepOp::Layer(l) => l.run(self.isa, batch, xs[0], xs.get(1).copied(), out)?,
            StepOp::Requant { d, lo, hi } => {
                arity(1)?;
                ops::requant(xs[0], out, *d, *lo, *hi)
            }
            StepOp::Add { a, b, lo, hi } => {
                arity(2)?;
                ops::add(xs[0], xs[1], out, (*a, *b), *lo, *hi)
            }
            StepOp::Clamp { lo, hi } => {
                arity(1)?;
                ops::clamp_op(xs[0], out, *lo, *hi)
            }
            StepOp::MaxPool(p, g) => ops::max_pool(xs[0], out, *g, p),
            StepOp::AvgPool(p, g) => ops::avg_pool(xs[0], out, *g, p),
            StepOp::GlobalAvgPool => ops::global_avg_pool(xs[0], out, in_dims),
            StepOp::Concat { dyadics, lo, hi } => {
                let parts: Vec<(Src<'_>, usize)> = xs
                    .iter()
                    .zip(&step.inputs)
                    .map(|(&s, &v)| (s, self.layouts[v].dims.channels()))
                    .collect();
                ops::concat(&parts, out, dyadics, *lo, *hi)
            }
            StepOp::Flatten => ops::flatten(xs[0], out, in_dims),
        }
        Ok(())
    }
}

/// Quantizes a float NCHW (or `[N, F]`) input into NHWC storage.
fn quantize_into(x: &[f32], out: super::layout::Dst<'_>, dims: Dims, q: impl Fn(f32) -> i32) {
    let (c, px) = (dims.channels(), dims.pixels());
    with_dst!(out, o => {
        for (item_out, item_in) in o.chunks_exact_mut(c * px).zip(x.chunks_exact(c * px)) {
            for (ch, plane) in item_in.chunks_exact(px).enumerate() {
                for (p, &f) in plane.iter().enumerate() {
                    item_out[p * c + ch] = Elem::put(q(f));
                }
            }
        }
    });
}
