//! Symbolic shapes: every dimension is a known size except the leading batch dimension, which
//! may stay symbolic so one graph serves every batch size.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One dimension of a value's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dim {
    /// The dynamic batch dimension `N` (only ever the first dimension).
    Batch,
    /// A known size.
    Fixed(usize),
}

impl Dim {
    /// The size if known.
    pub fn fixed(self) -> Option<usize> {
        match self {
            Dim::Batch => None,
            Dim::Fixed(n) => Some(n),
        }
    }

    /// The size, with the batch dimension resolved to `batch`.
    pub fn resolve(self, batch: usize) -> usize {
        match self {
            Dim::Batch => batch,
            Dim::Fixed(n) => n,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Batch => write!(f, "N"),
            Dim::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// A value's shape, e.g. `[N, 64, 56, 56]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    /// `[N, rest...]`: a batched shape.
    pub fn batched(rest: &[usize]) -> Self {
        let mut dims = vec![Dim::Batch];
        dims.extend(rest.iter().map(|&d| Dim::Fixed(d)));
        Shape(dims)
    }

    /// A fully known shape.
    pub fn fixed(dims: &[usize]) -> Self {
        Shape(dims.iter().map(|&d| Dim::Fixed(d)).collect())
    }

    /// Rank.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Dimensions.
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }

    /// Concrete dims for a given batch size.
    pub fn resolve(&self, batch: usize) -> Vec<usize> {
        self.0.iter().map(|d| d.resolve(batch)).collect()
    }

    /// Known size of dimension `i` (None if batch or out of range).
    pub fn fixed_dim(&self, i: usize) -> Option<usize> {
        self.0.get(i).and_then(|d| d.fixed())
    }

    /// Number of elements per batch item (product of all dims but a leading batch dim).
    pub fn per_item(&self) -> usize {
        self.0.iter().filter_map(|d| d.fixed()).product()
    }

    /// Whether a concrete shape fits this symbolic one; returns the batch size it implies.
    pub fn matches(&self, concrete: &[usize]) -> Option<usize> {
        if concrete.len() != self.0.len() {
            return None;
        }
        let mut batch = 1;
        for (d, &c) in self.0.iter().zip(concrete) {
            match d {
                Dim::Batch => batch = c,
                Dim::Fixed(n) if *n == c => {}
                Dim::Fixed(_) => return None,
            }
        }
        Some(batch)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}
