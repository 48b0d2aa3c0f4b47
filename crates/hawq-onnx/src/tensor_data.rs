//! Decoding `TensorProto` payloads into hawq tensors. Every declared shape is checked against
//! the real data length before anything is allocated, so a corrupt header cannot make us
//! allocate a size it merely claims.

use crate::error::{OnnxError, Result};
use crate::fold::{IntTensor, SymInt};
use crate::pb::TensorProto;
use crate::pb::tensor_proto::{DataLocation, DataType};
use hawq_ir::Tensor;

/// Largest element count accepted for any tensor or activation (per batch item): far above
/// any CNN hawq targets, low enough that products of dims never overflow `usize`.
pub(crate) const MAX_ELEMENTS: usize = 1 << 40;

fn tensor_err(t: &TensorProto, detail: impl Into<String>) -> OnnxError {
    OnnxError::Tensor { name: t.name().to_string(), detail: detail.into() }
}

/// Name of an ONNX element type, for messages.
pub(crate) fn dtype_name(code: i32) -> String {
    match DataType::try_from(code) {
        Ok(dt) => dt.as_str_name().to_string(),
        Err(_) => format!("unknown type {code}"),
    }
}

/// Checked dims and element count of a tensor.
fn dims_of(t: &TensorProto) -> Result<(Vec<usize>, usize)> {
    if t.data_location() == DataLocation::External || !t.external_data.is_empty() {
        return Err(tensor_err(
            t,
            "stored as external data, which hawq does not read; save the model with all \
             tensors inside the .onnx file",
        ));
    }
    if t.segment.is_some() {
        return Err(tensor_err(t, "segmented tensors are not supported"));
    }
    let mut dims = Vec::with_capacity(t.dims.len());
    let mut numel: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d)
            .map_err(|_| tensor_err(t, format!("negative dimension in {:?}", t.dims)))?;
        numel = numel
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| tensor_err(t, format!("dims {:?} are implausibly large", t.dims)))?;
        dims.push(d);
    }
    Ok((dims, numel))
}

/// Checks that exactly one payload field is used and that it holds `numel` elements; returns
/// the raw bytes when the payload is `raw_data`.
fn payload<'a>(
    t: &'a TensorProto,
    numel: usize,
    elem_size: usize,
    typed_len: usize,
    typed_field: &str,
) -> Result<Option<&'a [u8]>> {
    match &t.raw_data {
        Some(raw) => {
            if typed_len != 0 {
                return Err(tensor_err(t, format!("has both raw_data and {typed_field}")));
            }
            // numel <= MAX_ELEMENTS and elem_size <= 8, so this cannot overflow.
            let want = numel * elem_size;
            if raw.len() != want {
                return Err(tensor_err(
                    t,
                    format!("dims {:?} need {want} bytes of raw_data, found {}", t.dims, raw.len()),
                ));
            }
            Ok(Some(raw.as_ref()))
        }
        None => {
            if typed_len != numel {
                return Err(tensor_err(
                    t,
                    format!(
                        "dims {:?} need {numel} elements, {typed_field} has {typed_len}",
                        t.dims
                    ),
                ));
            }
            Ok(None)
        }
    }
}

/// Decodes a FLOAT tensor (weights, biases, BN statistics, float constants).
pub(crate) fn float_tensor(t: &TensorProto) -> Result<Tensor> {
    if t.data_type() != DataType::Float as i32 {
        return Err(tensor_err(
            t,
            format!("expected a FLOAT tensor, found {}", dtype_name(t.data_type())),
        ));
    }
    let (dims, numel) = dims_of(t)?;
    let data = match payload(t, numel, 4, t.float_data.len(), "float_data")? {
        Some(raw) => {
            raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        None => t.float_data.clone(),
    };
    Tensor::new(dims, data).map_err(|e| tensor_err(t, e.to_string()))
}

/// Decodes an integer tensor (INT64, INT32 or BOOL): shapes, indices, axes, flags.
pub(crate) fn int_tensor(t: &TensorProto) -> Result<IntTensor> {
    let (dims, numel) = dims_of(t)?;
    let code = t.data_type();
    let values: Vec<i64> = if code == DataType::Int64 as i32 {
        match payload(t, numel, 8, t.int64_data.len(), "int64_data")? {
            Some(raw) => raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            None => t.int64_data.clone(),
        }
    } else if code == DataType::Int32 as i32 || code == DataType::Bool as i32 {
        let size = if code == DataType::Int32 as i32 { 4 } else { 1 };
        match payload(t, numel, size, t.int32_data.len(), "int32_data")? {
            Some(raw) if size == 4 => raw
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            Some(raw) => raw.iter().map(|&b| i64::from(b)).collect(),
            None => t.int32_data.iter().map(|&v| i64::from(v)).collect(),
        }
    } else {
        return Err(tensor_err(
            t,
            format!("expected an INT64, INT32 or BOOL tensor, found {}", dtype_name(code)),
        ));
    };
    IntTensor::new(dims, values.into_iter().map(SymInt::Known).collect())
        .map_err(|detail| tensor_err(t, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float_proto(dims: Vec<i64>, raw: Option<Vec<u8>>, floats: Vec<f32>) -> TensorProto {
        TensorProto {
            name: Some("w".into()),
            dims,
            data_type: Some(DataType::Float as i32),
            raw_data: raw.map(Into::into),
            float_data: floats,
            ..Default::default()
        }
    }

    #[test]
    fn raw_and_typed_floats_decode() {
        let raw: Vec<u8> = [1.0f32, -2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = float_tensor(&float_proto(vec![2], Some(raw), vec![])).unwrap();
        assert_eq!(t.data(), &[1.0, -2.5]);
        let t = float_tensor(&float_proto(vec![1, 2], None, vec![3.0, 4.0])).unwrap();
        assert_eq!(t.shape(), &[1, 2]);
    }

    #[test]
    fn length_mismatch_and_huge_dims_are_rejected() {
        let e = float_tensor(&float_proto(vec![3], Some(vec![0; 8]), vec![])).unwrap_err();
        assert!(e.to_string().contains("need 12 bytes"), "{e}");
        let e = float_tensor(&float_proto(vec![1 << 40, 1 << 40], None, vec![])).unwrap_err();
        assert!(e.to_string().contains("implausibly large"), "{e}");
        let e = float_tensor(&float_proto(vec![-1], None, vec![])).unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        let e = float_tensor(&float_proto(vec![2], Some(vec![0; 8]), vec![1.0, 2.0])).unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
    }

    #[test]
    fn external_data_is_rejected_by_name() {
        let mut t = float_proto(vec![1], None, vec![1.0]);
        t.data_location = Some(DataLocation::External as i32);
        let e = float_tensor(&t).unwrap_err();
        assert!(e.to_string().contains("tensor 'w'") && e.to_string().contains("external"));
    }

    #[test]
    fn int_types_decode() {
        let t = TensorProto {
            dims: vec![2],
            data_type: Some(DataType::Int64 as i32),
            raw_data: Some([-1i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        };
        assert_eq!(int_tensor(&t).unwrap().known().unwrap(), vec![-1, 7]);
        let t = TensorProto {
            dims: vec![],
            data_type: Some(DataType::Bool as i32),
            raw_data: Some(vec![1u8].into()),
            ..Default::default()
        };
        assert_eq!(int_tensor(&t).unwrap().known().unwrap(), vec![1]);
        let t = TensorProto { dims: vec![1], data_type: Some(11), ..Default::default() };
        assert!(int_tensor(&t).unwrap_err().to_string().contains("DOUBLE"));
    }
}
