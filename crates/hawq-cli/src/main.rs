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
            let text = describe(&err);
            if ctx.json {
                crate::outln!("{}", serde_json::json!({ "error": text }));
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::from(1)
        }
    }
}

/// The error and its causes as one line, skipping causes whose text an outer message already
/// includes (library errors often embed their source in their own message).
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}
