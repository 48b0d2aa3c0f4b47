//! Integer initializers of the QDQ model and the ONNX integer type chosen for each hawq
//! activation format.

use crate::error::{OnnxError, Result};
use crate::pb::TensorProto;
use crate::pb::tensor_proto::DataType;
use hawq_quant::ActFormat;

/// The ONNX element type an activation format is stored in between `QuantizeLinear` and
/// `DequantizeLinear`, with that type's integer range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct QType {
    /// ONNX element type.
    pub dtype: DataType,
    /// Smallest integer of the type.
    pub lo: i64,
    /// Largest integer of the type.
    pub hi: i64,
}

impl QType {
    const fn new(dtype: DataType, lo: i64, hi: i64) -> Self {
        Self { dtype, lo, hi }
    }

    /// The ONNX type of a hawq activation format. hawq's 32-bit values (residual sums: i32
    /// storage with a 16-bit scale) have no `QuantizeLinear` type; they become INT16 with the
    /// same scale, which saturates sums beyond the calibrated range (docs/EXPORT.md).
    pub(crate) fn of(fmt: ActFormat, value: &str) -> Result<Self> {
        Ok(match (fmt.bits, fmt.signed) {
            (4, true) => Self::new(DataType::Int4, -8, 7),
            (4, false) => Self::new(DataType::Uint4, 0, 15),
            (8, true) => Self::new(DataType::Int8, -128, 127),
            (8, false) => Self::new(DataType::Uint8, 0, 255),
            (16, true) | (32, true) => Self::new(DataType::Int16, -32768, 32767),
            (16, false) => Self::new(DataType::Uint16, 0, 65535),
            (bits, signed) => {
                return Err(OnnxError::Export(format!(
                    "value '{value}': {} {bits}-bit activations have no ONNX QuantizeLinear type",
                    if signed { "signed" } else { "unsigned" }
                )));
            }
        })
    }

    /// Short tag for value names (`i8`, `u4`, ...).
    pub(crate) fn tag(self) -> &'static str {
        match self.dtype {
            DataType::Int4 => "i4",
            DataType::Uint4 => "u4",
            DataType::Int8 => "i8",
            DataType::Uint8 => "u8",
            DataType::Int16 => "i16",
            _ => "u16",
        }
    }

    /// A scalar zero point of this type (its value 0 fixes `QuantizeLinear`'s output type).
    pub(crate) fn zero_point(self, name: &str) -> TensorProto {
        let bytes = match self.dtype {
            // 4-bit tensors are packed two per byte; one element still takes one byte.
            DataType::Int4 | DataType::Uint4 | DataType::Int8 | DataType::Uint8 => 1,
            _ => 2,
        };
        int_init(name, &[], self.dtype, vec![0; bytes])
    }
}

/// An initializer with little-endian `raw_data`.
fn int_init(name: &str, dims: &[usize], dtype: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(dtype as i32),
        raw_data: Some(raw.into()),
        ..Default::default()
    }
}

/// Integer weights as INT8, or as INT4 packed two per byte (element `2k` in the low nibble of
/// byte `k`, element `2k+1` in the high nibble, an odd count padded with a zero nibble: the
/// ONNX packing rule, which `hawq_engine::format::pack_i4` follows).
pub(crate) fn weight_init(name: &str, dims: &[usize], bits: u32, values: &[i8]) -> TensorProto {
    if bits == 4 {
        let packed = hawq_engine::format::pack_i4(values);
        int_init(name, dims, DataType::Int4, packed)
    } else {
        int_init(name, dims, DataType::Int8, values.iter().map(|&v| v as u8).collect())
    }
}

/// An INT32 vector (a layer's bias).
pub(crate) fn int32_init(name: &str, values: &[i32]) -> TensorProto {
    let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    int_init(name, &[values.len()], DataType::Int32, raw)
}

/// A FLOAT vector (per-channel scales) or, with `dims = []`, a scalar.
pub(crate) fn float_init(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    int_init(name, dims, DataType::Float, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int4_weights_pack_low_nibble_first() {
        let t = weight_init("w", &[3], 4, &[1, -2, 7]);
        assert_eq!(t.data_type, Some(DataType::Int4 as i32));
        // 1 → 0x1 (low), -2 → 0xE (high); 7 → 0x7 with a zero pad nibble.
        assert_eq!(t.raw_data.as_deref(), Some(&[0xE1u8, 0x07][..]));
        let t = weight_init("w", &[2], 8, &[-1, 5]);
        assert_eq!(t.raw_data.as_deref(), Some(&[0xFFu8, 5][..]));
    }

    #[test]
    fn formats_map_to_onnx_types() {
        let q = |bits, signed| QType::of(ActFormat { bits, signed }, "v").map(|t| t.dtype);
        assert_eq!(q(4, false).unwrap(), DataType::Uint4);
        assert_eq!(q(8, true).unwrap(), DataType::Int8);
        assert_eq!(q(32, true).unwrap(), DataType::Int16);
        let e = q(12, true).unwrap_err().to_string();
        assert!(e.contains("value 'v'") && e.contains("12-bit"), "{e}");
        assert_eq!(
            QType::of(ActFormat::signed(16), "v").unwrap().zero_point("z").raw_data.unwrap().len(),
            2
        );
    }
}
