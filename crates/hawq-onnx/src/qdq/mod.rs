//! hawq integer model ([`QModel`]) → ONNX QDQ model (opset 21, default domain, dynamic batch
//! `N`), the form ONNX Runtime, TensorRT and other deployment stacks consume.
//!
//! Every hawq value becomes an integer tensor written by a `QuantizeLinear` with the value's
//! per-tensor scale and zero point 0; its type follows the value's format (UINT8/INT8,
//! UINT4/INT4, INT16; hawq's 32-bit residual sums become INT16). Each op reads
//! `DequantizeLinear` of its inputs and runs in float: conv/linear layers with per-channel
//! dequantized INT8/INT4 weights (axis 0) and an INT32 bias at scale `s_in · s_w[c]`; residual
//! adds, ReLU/ReLU6 clamps, pools, concat and flatten as plain float ops. The last layer's
//! int32 accumulator becomes the float graph output directly (its per-channel dequantization is
//! the float `Conv`/`Gemm` result). docs/EXPORT.md has the full mapping and where ONNX
//! Runtime's float requantization differs from hawq's dyadic integers.

mod tensors;

use crate::error::{OnnxError, Result};
use crate::export::{attr_int, attr_ints, ir_version, value_info, write_atomic};
use crate::pb::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
use hawq_engine::qmodel::{Dequant, OutputMode, QLayer, QNode, QOp, ValueId};
use hawq_engine::{QModel, QValue};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tensors::{QType, float_init, int32_init, weight_init};

/// Opset of every QDQ model: the first with INT4/UINT4 `QuantizeLinear`/`DequantizeLinear`.
pub const QDQ_OPSET: i64 = 21;

/// Builds the QDQ ONNX model of an integer model (validated first).
pub fn qdq_model(model: &QModel) -> Result<ModelProto> {
    model.validate().map_err(OnnxError::InvalidQModel)?;
    let mut w = Writer::new(model);
    w.input()?;
    for node in &model.nodes {
        w.node(node)?;
    }
    let output = w.output()?;
    let Writer { nodes, inits, .. } = w;
    let input = &model.values[model.input];
    Ok(ModelProto {
        ir_version: Some(ir_version(QDQ_OPSET)),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(QDQ_OPSET),
        }],
        producer_name: Some("hawq".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some("hawq integer model exported as QDQ (see hawq docs/EXPORT.md)".into()),
        graph: Some(GraphProto {
            name: Some("hawq-qdq".into()),
            node: nodes,
            initializer: inits,
            input: vec![value_info(&input.name, &input.shape)],
            output: vec![output],
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Writes the QDQ model of `model` to `path` (a temporary file renamed into place).
pub fn export_qdq(model: &QModel, path: &Path) -> Result<()> {
    write_atomic(path, &qdq_model(model)?.encode_to_vec())
}

fn export_err(node: &str, detail: impl std::fmt::Display) -> OnnxError {
    OnnxError::Export(format!("node '{node}': {detail}"))
}

/// Builds the ONNX graph value by value.
struct Writer<'m> {
    model: &'m QModel,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    taken: HashSet<String>,
    /// Integer (quantized) tensor of each value, once written.
    quantized: Vec<Option<String>>,
    /// Float (dequantized) tensor of each value, once needed.
    float: Vec<Option<String>>,
    /// One scalar zero-point initializer per ONNX type.
    zero_points: HashMap<QType, String>,
}

impl<'m> Writer<'m> {
    fn new(model: &'m QModel) -> Self {
        let n = model.values.len();
        // The graph's input and output keep the model's value names: reserve them.
        let taken =
            [model.input, model.output].into_iter().map(|v| model.values[v].name.clone()).collect();
        Self {
            model,
            nodes: Vec::new(),
            inits: Vec::new(),
            taken,
            quantized: vec![None; n],
            float: vec![None; n],
            zero_points: HashMap::new(),
        }
    }

    /// A name nothing in the ONNX graph uses yet.
    fn fresh(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut k = 0;
        while !self.taken.insert(name.clone()) {
            k += 1;
            name = format!("{base}_{k}");
        }
        name
    }

    fn emit(
        &mut self,
        op: &str,
        name: &str,
        inputs: Vec<String>,
        out: &str,
        attrs: Vec<crate::pb::AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            name: Some(name.into()),
            op_type: Some(op.into()),
            input: inputs,
            output: vec![out.into()],
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Emits a float op reading `inputs` into a fresh value named after `base`.
    fn float_op(
        &mut self,
        op: &str,
        base: &str,
        inputs: Vec<String>,
        attrs: Vec<crate::pb::AttributeProto>,
    ) -> String {
        let out = self.fresh(format!("{base}.f"));
        let name = self.fresh(format!("{base}.{op}"));
        self.emit(op, &name, inputs, &out, attrs);
        out
    }

    fn value(&self, v: ValueId) -> &'m QValue {
        &self.model.values[v]
    }

    fn zero_point(&mut self, t: QType) -> String {
        if let Some(name) = self.zero_points.get(&t) {
            return name.clone();
        }
        let name = self.fresh(format!("zero_point.{}", t.tag()));
        self.inits.push(t.zero_point(&name));
        self.zero_points.insert(t, name.clone());
        name
    }

    fn scalar(&mut self, base: String, x: f32) -> String {
        let name = self.fresh(base);
        self.inits.push(float_init(&name, &[], &[x]));
        name
    }

    /// `QuantizeLinear(x)` into value `v` with its scale and format.
    fn quantize(&mut self, v: ValueId, x: String) -> Result<()> {
        let val = self.value(v);
        let t = QType::of(val.format, &val.name)?;
        let q = self.fresh(format!("{}.{}", val.name, t.tag()));
        let scale = self.scalar(format!("{q}.scale"), val.scale);
        let zp = self.zero_point(t);
        let name = self.fresh(format!("{q}.Quantize"));
        self.emit("QuantizeLinear", &name, vec![x, scale, zp], &q, vec![]);
        self.quantized[v] = Some(q);
        Ok(())
    }

    /// The float tensor of value `v`: `DequantizeLinear` of its integers, emitted once.
    fn dequantized(&mut self, v: ValueId, reader: &str) -> Result<String> {
        if let Some(f) = &self.float[v] {
            return Ok(f.clone());
        }
        let q = self.quantized[v].clone().ok_or_else(|| {
            export_err(
                reader,
                format!("reads value '{}' before it is computed", self.value(v).name),
            )
        })?;
        let scale = self.scalar(format!("{q}.dq_scale"), self.value(v).scale);
        let t = QType::of(self.value(v).format, &self.value(v).name)?;
        let zp = self.zero_point(t);
        let f = self.fresh(format!("{q}.dq"));
        let name = self.fresh(format!("{q}.Dequantize"));
        self.emit("DequantizeLinear", &name, vec![q, scale, zp], &f, vec![]);
        self.float[v] = Some(f.clone());
        Ok(f)
    }

    /// Clamps float `x` to the integer range `[lo, hi]` of value `v` (only where that range is
    /// narrower than the ONNX type's, which `QuantizeLinear` saturates at anyway), then
    /// quantizes it into `v`.
    fn clamp_quantize(
        &mut self,
        node: &str,
        v: ValueId,
        x: String,
        lo: i64,
        hi: i64,
    ) -> Result<()> {
        let val = self.value(v);
        let t = QType::of(val.format, &val.name)?;
        let (lo, hi) = (lo.max(t.lo), hi.min(t.hi));
        if lo > hi {
            return Err(export_err(node, format!("empty clamp range [{lo}, {hi}]")));
        }
        let x = if lo == 0 && hi == t.hi && t.lo < 0 {
            self.float_op("Relu", node, vec![x], vec![])
        } else if lo > t.lo || hi < t.hi {
            let mut ins = vec![x];
            let bound = |w: &mut Self, which: &str, q: i64| {
                w.scalar(format!("{node}.clip_{which}"), q as f32 * val.scale)
            };
            ins.push(if lo > t.lo { bound(self, "min", lo) } else { String::new() });
            if hi < t.hi {
                ins.push(bound(self, "max", hi));
            }
            self.float_op("Clip", node, ins, vec![])
        } else {
            x
        };
        self.quantize(v, x)
    }

    /// The graph input, quantized into the model's input value.
    fn input(&mut self) -> Result<()> {
        let name = self.value(self.model.input).name.clone();
        self.quantize(self.model.input, name)
    }

    fn node(&mut self, node: &QNode) -> Result<()> {
        let name = node.name.as_str();
        let arity = |n: usize| {
            if node.inputs.len() == n {
                Ok(())
            } else {
                Err(export_err(
                    name,
                    format!("{} expects {n} inputs, has {}", node.op.name(), node.inputs.len()),
                ))
            }
        };
        let x = match node.inputs.first() {
            Some(&i) => self.dequantized(i, name)?,
            None => return Err(export_err(name, "has no input")),
        };
        match &node.op {
            QOp::Layer(l) => self.layer(node, l, x),
            QOp::Requant { lo, hi, .. } | QOp::Clamp { lo, hi } => {
                arity(1)?;
                self.clamp_quantize(name, node.output, x, *lo, *hi)
            }
            QOp::Add { lo, hi, .. } => {
                arity(2)?;
                let b = self.dequantized(node.inputs[1], name)?;
                let sum = self.float_op("Add", name, vec![x, b], vec![]);
                self.clamp_quantize(name, node.output, sum, *lo, *hi)
            }
            QOp::Concat { lo, hi, .. } => {
                let mut ins = vec![x];
                for &i in &node.inputs[1..] {
                    ins.push(self.dequantized(i, name)?);
                }
                let y = self.float_op("Concat", name, ins, vec![attr_int("axis", 1)]);
                self.clamp_quantize(name, node.output, y, *lo, *hi)
            }
            QOp::MaxPool(p) => {
                arity(1)?;
                let attrs = vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                    attr_ints("pads", &p.pads),
                    attr_ints("dilations", &p.dilation),
                    attr_int("ceil_mode", i64::from(p.ceil_mode)),
                ];
                let y = self.float_op("MaxPool", name, vec![x], attrs);
                self.quantize(node.output, y)
            }
            QOp::AvgPool(p) => {
                arity(1)?;
                let attrs = vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                    attr_ints("pads", &p.pads),
                    attr_int("ceil_mode", i64::from(p.ceil_mode)),
                    attr_int("count_include_pad", i64::from(p.count_include_pad)),
                ];
                let y = self.float_op("AveragePool", name, vec![x], attrs);
                self.quantize(node.output, y)
            }
            QOp::GlobalAvgPool => {
                arity(1)?;
                let y = self.float_op("GlobalAveragePool", name, vec![x], vec![]);
                self.quantize(node.output, y)
            }
            QOp::Flatten => {
                arity(1)?;
                let y = self.float_op("Flatten", name, vec![x], vec![attr_int("axis", 1)]);
                self.quantize(node.output, y)
            }
        }
    }

    /// A conv/linear layer: dequantized per-channel weights and int32 bias, the float op, then
    /// the epilogue (residual add, clamp, quantize) or, for the final accumulator layer, the
    /// float graph output.
    fn layer(&mut self, node: &QNode, l: &QLayer, x: String) -> Result<()> {
        let name = node.name.as_str();
        let g = &l.geom;
        let dims: Vec<usize> = if l.is_linear {
            vec![g.out_channels, g.in_channels]
        } else {
            vec![g.out_channels, g.in_channels / g.groups, g.kernel[0], g.kernel[1]]
        };
        let channels = g.out_channels;
        if l.weights.len() != dims.iter().product::<usize>()
            || l.bias.len() != channels
            || l.w_scales.len() != channels
        {
            return Err(export_err(
                name,
                "weights, bias or scales do not match the layer geometry",
            ));
        }
        // Weights: INT8/INT4, per-output-channel scale along axis 0.
        let wq = self.fresh(format!("{}.q", l.name));
        self.inits.push(weight_init(&wq, &dims, l.bits, &l.weights));
        let ws = self.fresh(format!("{wq}.scale"));
        self.inits.push(float_init(&ws, &[channels], &l.w_scales));
        let wf = self.fresh(format!("{wq}.dq"));
        let dq = self.fresh(format!("{wq}.Dequantize"));
        self.emit("DequantizeLinear", &dq, vec![wq, ws], &wf, vec![attr_int("axis", 0)]);
        // Bias: INT32 at scale s_in · s_w[c] (the f32 product hawq's accumulator has).
        let bq = self.fresh(format!("{}.bias.q", l.name));
        self.inits.push(int32_init(&bq, &l.bias));
        let bs = self.fresh(format!("{bq}.scale"));
        let bias_scales: Vec<f32> = l.w_scales.iter().map(|&s| l.s_in * s).collect();
        self.inits.push(float_init(&bs, &[channels], &bias_scales));
        let bf = self.fresh(format!("{bq}.dq"));
        let dq = self.fresh(format!("{bq}.Dequantize"));
        self.emit("DequantizeLinear", &dq, vec![bq, bs], &bf, vec![attr_int("axis", 0)]);

        let (op, attrs) = if l.is_linear {
            ("Gemm", vec![attr_int("transB", 1)])
        } else {
            let attrs = vec![
                attr_ints("kernel_shape", &g.kernel),
                attr_ints("strides", &g.stride),
                attr_ints("pads", &g.pads),
                attr_ints("dilations", &g.dilation),
                attr_int("group", g.groups as i64),
            ];
            ("Conv", attrs)
        };
        match &l.mode {
            OutputMode::Accumulator => self.accumulator_output(node, l, op, vec![x, wf, bf], attrs),
            OutputMode::Requantize { residual, .. } => {
                let y = self.float_op(op, name, vec![x, wf, bf], attrs);
                let y = match (residual, node.inputs.get(1)) {
                    (Some(_), Some(&r)) => {
                        let r = self.dequantized(r, name)?;
                        self.float_op("Add", name, vec![y, r], vec![])
                    }
                    (None, None) => y,
                    _ => {
                        return Err(export_err(
                            name,
                            "residual input and residual multiplier disagree",
                        ));
                    }
                };
                self.clamp_quantize(name, node.output, y, l.lo, l.hi)
            }
        }
    }

    /// The final layer in accumulator mode: its float result is the per-channel dequantized
    /// accumulator, i.e. the model's output.
    fn accumulator_output(
        &mut self,
        node: &QNode,
        l: &QLayer,
        op: &str,
        inputs: Vec<String>,
        attrs: Vec<crate::pb::AttributeProto>,
    ) -> Result<()> {
        let name = node.name.as_str();
        if node.output != self.model.output || !matches!(self.model.dequant, Dequant::PerChannel(_))
        {
            return Err(export_err(
                name,
                "an accumulator-mode layer must produce the per-channel dequantized model output",
            ));
        }
        let out = self.value(node.output).name.clone();
        let (min, max) = (i64::from(i32::MIN), i64::from(i32::MAX));
        match (l.lo, l.hi) {
            (lo, hi) if lo <= min && hi >= max => self.emit(op, name, inputs, &out, attrs),
            (0, hi) if hi >= max => {
                let y = self.float_op(op, name, inputs, attrs);
                let relu = self.fresh(format!("{name}.Relu"));
                self.emit("Relu", &relu, vec![y], &out, vec![]);
            }
            (lo, hi) => {
                return Err(export_err(
                    name,
                    format!("accumulator clamp [{lo}, {hi}] has no per-channel float form"),
                ));
            }
        }
        self.float[node.output] = Some(out);
        Ok(())
    }

    /// The graph output: the float accumulator output, or `DequantizeLinear` of the last value
    /// renamed to the model's output name.
    fn output(&mut self) -> Result<crate::pb::ValueInfoProto> {
        let v = self.model.output;
        let val = self.value(v);
        if self.float[v].as_deref() != Some(val.name.as_str()) {
            if !matches!(self.model.dequant, Dequant::PerTensor) {
                return Err(OnnxError::Export(
                    "per-channel output dequantization without a final accumulator layer".into(),
                ));
            }
            let f = self.dequantized(v, "output")?;
            let name = self.fresh(format!("{}.Identity", val.name));
            self.emit("Identity", &name, vec![f], &val.name, vec![]);
        }
        Ok(value_info(&val.name, &val.shape))
    }
}
