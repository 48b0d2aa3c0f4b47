//! Typed access to a node's attributes. Every attribute an op reads is marked; [`Attrs::finish`]
//! rejects the ones no reader asked for, so an attribute hawq does not understand is an error
//! instead of being silently ignored.

use crate::error::{NodeRef, Result};
use crate::pb::attribute_proto::AttributeType;
use crate::pb::{AttributeProto, TensorProto};

/// A node's attributes with a record of which ones were read.
pub(crate) struct Attrs<'a> {
    at: NodeRef,
    list: &'a [AttributeProto],
    used: Vec<bool>,
}

impl<'a> Attrs<'a> {
    /// Wraps a node's attribute list; fails on duplicate names.
    pub(crate) fn new(at: NodeRef, list: &'a [AttributeProto]) -> Result<Self> {
        for (i, a) in list.iter().enumerate() {
            if list[..i].iter().any(|b| b.name() == a.name()) {
                return Err(at.attr_err(a.name(), "given twice"));
            }
            if a.ref_attr_name.is_some() {
                return Err(at.attr_err(a.name(), "attribute references belong in functions"));
            }
        }
        Ok(Self { at, list, used: vec![false; list.len()] })
    }

    /// Finds an attribute, checks its declared type (when declared) and marks it read.
    fn get(&mut self, name: &str, want: AttributeType) -> Result<Option<&'a AttributeProto>> {
        let Some(i) = self.list.iter().position(|a| a.name() == name) else {
            return Ok(None);
        };
        self.used[i] = true;
        let a = &self.list[i];
        let declared = a.r#type();
        if declared != AttributeType::Undefined && declared != want {
            return Err(self.at.attr_err(
                name,
                format!("expected type {}, found {}", want.as_str_name(), declared.as_str_name()),
            ));
        }
        Ok(Some(a))
    }

    fn missing(&self, name: &str, what: &str) -> crate::error::OnnxError {
        self.at.attr_err(name, format!("has no {what} value"))
    }

    /// An INT attribute, if present.
    pub(crate) fn int_opt(&mut self, name: &str) -> Result<Option<i64>> {
        match self.get(name, AttributeType::Int)? {
            Some(a) => a.i.map(Some).ok_or_else(|| self.missing(name, "integer")),
            None => Ok(None),
        }
    }

    /// An INT attribute with a default.
    pub(crate) fn int(&mut self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int_opt(name)?.unwrap_or(default))
    }

    /// A FLOAT attribute, if present.
    pub(crate) fn float_opt(&mut self, name: &str) -> Result<Option<f32>> {
        match self.get(name, AttributeType::Float)? {
            Some(a) => a.f.map(Some).ok_or_else(|| self.missing(name, "float")),
            None => Ok(None),
        }
    }

    /// A FLOAT attribute with a default.
    pub(crate) fn float(&mut self, name: &str, default: f32) -> Result<f32> {
        Ok(self.float_opt(name)?.unwrap_or(default))
    }

    /// An INTS attribute, if present.
    pub(crate) fn ints(&mut self, name: &str) -> Result<Option<&'a [i64]>> {
        Ok(self.get(name, AttributeType::Ints)?.map(|a| a.ints.as_slice()))
    }

    /// A FLOATS attribute, if present.
    pub(crate) fn floats(&mut self, name: &str) -> Result<Option<&'a [f32]>> {
        Ok(self.get(name, AttributeType::Floats)?.map(|a| a.floats.as_slice()))
    }

    /// A STRING attribute (UTF-8), if present.
    pub(crate) fn string(&mut self, name: &str) -> Result<Option<String>> {
        match self.get(name, AttributeType::String)? {
            Some(a) => {
                let bytes = a.s.as_deref().ok_or_else(|| self.missing(name, "string"))?;
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| self.at.attr_err(name, "is not valid UTF-8"))?;
                Ok(Some(s.to_string()))
            }
            None => Ok(None),
        }
    }

    /// A TENSOR attribute, if present.
    pub(crate) fn tensor(&mut self, name: &str) -> Result<Option<&'a TensorProto>> {
        match self.get(name, AttributeType::Tensor)? {
            Some(a) => a.t.as_ref().map(Some).ok_or_else(|| self.missing(name, "tensor")),
            None => Ok(None),
        }
    }

    /// Names of the attributes present, for ops that must pick exactly one (Constant).
    pub(crate) fn names(&self) -> Vec<&'a str> {
        self.list.iter().map(|a| a.name()).collect()
    }

    /// Fails on the first attribute nobody read.
    pub(crate) fn finish(self) -> Result<()> {
        match self.list.iter().zip(&self.used).find(|(_, used)| !**used) {
            Some((a, _)) => Err(self.at.attr_err(a.name(), "unknown or unsupported for this op")),
            None => Ok(()),
        }
    }
}
