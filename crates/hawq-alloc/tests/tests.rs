//! hawq-alloc integration tests, one binary (ripgrep style).

mod budgets;
mod formats;
mod random;
mod util;
mod validation;
