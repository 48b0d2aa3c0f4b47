//! `hawq`: HAWQ-V3 quantization of CNNs with an integer-only CPU engine.
//!
//! Exit codes: 0 success, 1 runtime failure (bad input file, infeasible budget, …),
//! 2 usage error (clap), 3 a check failed (e.g. a bit-exactness mismatch).

mod args;
mod cmd;
mod data;
mod model;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let ctx = output::Context::new(&cli.global);
    match cmd::dispatch(cli.command, &ctx) {
        Ok(code) => code,
        Err(err) => {
            if ctx.json {
                let msg = serde_json::json!({ "error": format!("{err:#}") });
                crate::outln!("{msg}");
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(1)
        }
    }
}
