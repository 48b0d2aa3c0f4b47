//! The graph: named values, nodes in any order, parameters by name. [`Graph::validate`] checks
//! structure (producers, arity, parameters, cycles) and returns a topological order.

use crate::error::{IrError, Result};
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::collections::{BTreeMap, HashMap};

/// A node: one op reading activation values and producing one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique node name (e.g. `layer1.0.conv1`).
    pub name: String,
    /// The op and its config.
    pub op: Op,
    /// Names of the activation values read.
    pub inputs: Vec<String>,
    /// Name of the value produced.
    pub output: String,
}

/// A graph input: a value name and its symbolic shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// Value name.
    pub name: String,
    /// Symbolic shape (batch dim usually [`crate::Dim::Batch`]).
    pub shape: Shape,
}

/// A typed dataflow graph with its float parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Graph inputs.
    pub inputs: Vec<ValueInfo>,
    /// Names of the values returned.
    pub outputs: Vec<String>,
    /// Nodes (any order; use [`Graph::topo_order`]).
    pub nodes: Vec<Node>,
    /// Parameters (weights, biases, BN statistics) by name.
    pub params: BTreeMap<String, Tensor>,
}

impl Graph {
    /// Adds a node whose output value is named after the node, and returns that name so
    /// builders can chain.
    pub fn push(&mut self, name: impl Into<String>, op: Op, inputs: &[&str]) -> String {
        let name = name.into();
        self.nodes.push(Node {
            name: name.clone(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: name.clone(),
        });
        name
    }

    /// The node producing each value, by value name.
    pub fn producers(&self) -> HashMap<&str, usize> {
        self.nodes.iter().enumerate().map(|(i, n)| (n.output.as_str(), i)).collect()
    }

    /// Nodes reading each value, by value name.
    pub fn consumers(&self) -> HashMap<&str, Vec<usize>> {
        let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for v in &n.inputs {
                map.entry(v.as_str()).or_default().push(i);
            }
        }
        map
    }

    /// Index of a node by name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&Tensor> {
        self.params.get(name)
    }

    /// Looks up a parameter a node needs, with an error naming the node.
    pub fn require_param(&self, node: &Node, name: &str) -> Result<&Tensor> {
        self.params.get(name).ok_or_else(|| IrError::MissingParam {
            node: node.name.clone(),
            op: node.op.name(),
            param: name.to_string(),
        })
    }

    /// Structural checks (unique producers, arity, inputs exist, parameters exist) and a
    /// topological order of node indices; errors name the offending node.
    pub fn topo_order(&self) -> Result<Vec<usize>> {
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(&j) = producer.get(n.output.as_str()) {
                return Err(IrError::DuplicateValue {
                    value: n.output.clone(),
                    first: self.nodes[j].name.clone(),
                    second: n.name.clone(),
                });
            }
            if self.inputs.iter().any(|v| v.name == n.output) {
                return Err(IrError::DuplicateValue {
                    value: n.output.clone(),
                    first: "graph input".into(),
                    second: n.name.clone(),
                });
            }
            producer.insert(n.output.as_str(), i);
        }
        let is_input = |v: &str| self.inputs.iter().any(|i| i.name == v);
        for n in &self.nodes {
            let (lo, hi) = n.op.arity();
            if n.inputs.len() < lo || n.inputs.len() > hi {
                let expected = if lo == hi {
                    lo.to_string()
                } else if hi == usize::MAX {
                    format!("at least {lo}")
                } else {
                    format!("{lo}..={hi}")
                };
                return Err(IrError::Arity {
                    node: n.name.clone(),
                    op: n.op.name(),
                    expected,
                    got: n.inputs.len(),
                });
            }
            for v in &n.inputs {
                if !producer.contains_key(v.as_str()) && !is_input(v) {
                    return Err(IrError::DanglingInput {
                        node: n.name.clone(),
                        op: n.op.name(),
                        value: v.clone(),
                    });
                }
            }
            for p in n.op.params() {
                self.require_param(n, p)?;
            }
        }
        for o in &self.outputs {
            if !producer.contains_key(o.as_str()) && !is_input(o) {
                return Err(IrError::DanglingOutput { value: o.clone() });
            }
        }
        // Kahn's algorithm; leftovers form (or hang off) a cycle.
        let mut indegree: Vec<usize> = vec![0; self.nodes.len()];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for v in &n.inputs {
                if let Some(&p) = producer.get(v.as_str()) {
                    indegree[i] += 1;
                    users[p].push(i);
                }
            }
        }
        let mut ready: Vec<usize> =
            (0..self.nodes.len()).filter(|&i| indegree[i] == 0).rev().collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(i) = ready.pop() {
            order.push(i);
            for &u in users[i].iter().rev() {
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.push(u);
                }
            }
        }
        if order.len() != self.nodes.len() {
            let nodes = (0..self.nodes.len())
                .filter(|&i| indegree[i] > 0)
                .map(|i| self.nodes[i].name.clone())
                .collect();
            return Err(IrError::Cycle { nodes });
        }
        Ok(order)
    }

    /// Reorders `nodes` topologically (after validation).
    pub fn sort(&mut self) -> Result<()> {
        let order = self.topo_order()?;
        let mut old: Vec<Option<Node>> =
            std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order.into_iter().map(|i| old[i].take().expect("each index once")).collect();
        Ok(())
    }

    /// Replaces every read of value `from` (by nodes and graph outputs) with value `to`.
    pub fn rename_uses(&mut self, from: &str, to: &str) {
        for n in &mut self.nodes {
            for v in &mut n.inputs {
                if v == from {
                    *v = to.to_string();
                }
            }
        }
        for o in &mut self.outputs {
            if o == from {
                *o = to.to_string();
            }
        }
    }

    /// Drops parameters no node references.
    pub fn prune_params(&mut self) {
        let used: std::collections::HashSet<String> =
            self.nodes.iter().flat_map(|n| n.op.params().into_iter().map(str::to_string)).collect();
        self.params.retain(|k, _| used.contains(k));
    }
}
