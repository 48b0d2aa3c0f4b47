//! A dense, row-major f32 tensor: the float currency of the IR, the reference interpreter and
//! the weight files.

use crate::error::{IrError, Result};

/// Dense row-major (NCHW for activations, OIHW for conv weights) f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Number of elements of a shape, or `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// Builds a tensor, checking that `data` has exactly as many elements as `shape` asks for.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected = checked_numel(&shape).ok_or_else(|| IrError::TensorData {
            name: String::new(),
            shape: shape.clone(),
            expected: usize::MAX,
            got: data.len(),
        })?;
        if expected != data.len() {
            return Err(IrError::TensorData {
                name: String::new(),
                shape,
                expected,
                got: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// A tensor of zeros. Panics only if the element count overflows `usize`.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = checked_numel(&shape).expect("tensor element count overflows usize");
        Self { shape, data: vec![0.0; n] }
    }

    /// A tensor filled with `value`.
    pub fn full(shape: Vec<usize>, value: f32) -> Self {
        let mut t = Self::zeros(shape);
        t.data.fill(value);
        t
    }

    /// A 1-D tensor from a vector.
    pub fn from_vec(data: Vec<f32>) -> Self {
        Self { shape: vec![data.len()], data }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable elements, row-major.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Same data, new shape with the same element count.
    pub fn reshape(mut self, shape: Vec<usize>) -> Result<Self> {
        let expected = checked_numel(&shape).unwrap_or(usize::MAX);
        if expected != self.data.len() {
            return Err(IrError::TensorData {
                name: String::new(),
                shape,
                expected,
                got: self.data.len(),
            });
        }
        self.shape = shape;
        Ok(self)
    }

    /// Largest absolute difference to another tensor of the same shape (`None` if shapes differ).
    pub fn max_abs_diff(&self, other: &Tensor) -> Option<f32> {
        (self.shape == other.shape).then(|| {
            self.data.iter().zip(&other.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
        })
    }

    /// Largest absolute value.
    pub fn max_abs(&self) -> f32 {
        self.data.iter().map(|v| v.abs()).fold(0.0, f32::max)
    }
}
