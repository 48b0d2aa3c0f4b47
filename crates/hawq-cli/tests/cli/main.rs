//! Integration tests that drive the `hawq` binary (one test binary, ripgrep-style).

mod allocate;
mod bad_input;
mod errors;
mod export;
mod inspect;
mod latency;
mod pipeline;
mod quantize;
mod util;
