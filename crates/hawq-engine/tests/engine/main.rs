//! Integration tests of the integer core: lowering, the reference engine, the `.hawq` file.

mod common;
mod fast;
mod file;
mod profile;
mod small;
