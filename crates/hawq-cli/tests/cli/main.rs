//! Integration tests that drive the `hawq` binary (one test binary, ripgrep-style).

mod allocate;
mod errors;
mod inspect;
mod quantize;
mod util;
