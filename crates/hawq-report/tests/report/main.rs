//! Tests of the report renderers (one test binary).

mod page;
mod render;
mod sample;
