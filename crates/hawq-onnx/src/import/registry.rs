//! The one place where ONNX op-type strings are matched: each supported op type is sent to its
//! family's module under `ops/`.

use super::context::{Importer, NodeView};
use crate::error::{OnnxError, Result};
use crate::ops::{activation, conv, gemm, layout, norm, pool, shape_fold};

/// Imports one default-domain node.
pub(crate) fn import_node(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    match v.proto.op_type() {
        "Conv" => conv::conv(ctx, v),
        "BatchNormalization" => norm::batch_norm(ctx, v),
        "Relu" => activation::relu(ctx, v),
        "Clip" => activation::clip(ctx, v),
        "Add" => gemm::add(ctx, v),
        "Gemm" => gemm::gemm(ctx, v),
        "MatMul" => gemm::matmul(ctx, v),
        "MaxPool" => pool::max_pool(ctx, v),
        "AveragePool" => pool::average_pool(ctx, v),
        "GlobalAveragePool" => pool::global_average_pool(ctx, v),
        "Concat" => layout::concat(ctx, v),
        "Flatten" => layout::flatten(ctx, v),
        "Reshape" => layout::reshape(ctx, v),
        "Dropout" => layout::dropout(ctx, v),
        "Identity" => layout::identity(ctx, v),
        "Constant" => shape_fold::constant(ctx, v),
        "Shape" => shape_fold::shape(ctx, v),
        "Gather" => shape_fold::gather(ctx, v),
        "Unsqueeze" => shape_fold::unsqueeze(ctx, v),
        "Squeeze" => shape_fold::squeeze(ctx, v),
        "Cast" => shape_fold::cast(ctx, v),
        "Slice" => shape_fold::slice(ctx, v),
        other => Err(OnnxError::UnsupportedOp {
            node: v.at.name.clone(),
            op_type: other.to_string(),
            domain: String::new(),
            opset: v.at.opset,
        }),
    }
}
