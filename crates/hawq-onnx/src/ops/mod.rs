//! One module per ONNX op family. Each function reads one node (inputs, attributes), checks
//! that hawq can represent it, and adds IR nodes or folded constants to the importer.

pub(crate) mod activation;
pub(crate) mod conv;
pub(crate) mod gemm;
pub(crate) mod layout;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod shape_fold;
pub(crate) mod window;
