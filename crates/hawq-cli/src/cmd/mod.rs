//! One module per subcommand.

mod allocate;
mod bench;
mod cache;
mod compare;
mod demo;
mod eval;
mod export;
mod inspect;
mod latency;
mod quantize;
mod report;
mod run;
pub mod sensitivity;
mod train;

use crate::args::Command;
use crate::output::Context;
use anyhow::Result;
use std::process::ExitCode;

/// Runs a parsed command.
pub fn dispatch(cmd: Command, ctx: &Context) -> Result<ExitCode> {
    match cmd {
        Command::Demo { model, data, limit, size, samples, calib, check, reps, threads, out } => {
            let o = demo::Options {
                model,
                data,
                limit,
                size,
                samples,
                calib,
                check,
                reps,
                threads,
                out,
            };
            return demo::run(&o, ctx);
        }
        Command::Report { input, out } => report::run(&input, out.as_deref(), ctx),
        Command::Inspect { model, bits } => inspect::run(&model, bits.as_deref(), ctx),
        Command::Run { model, input, output, precision, engine } => {
            run::run(&model, &input, &output, &precision, engine, ctx)
        }
        Command::Quantize {
            model,
            data,
            bits,
            bits_config,
            size,
            bops,
            latency,
            calib,
            signed_activations,
            qat_epochs,
            qat_images,
            lr,
            distill,
            threads,
            output,
        } => quantize::run(
            &quantize::Options {
                model,
                data,
                bits,
                bits_config,
                budgets: [size, bops, latency],
                calib,
                signed_activations,
                qat: quantize::QatOptions {
                    epochs: qat_epochs,
                    images: qat_images,
                    lr,
                    distill,
                    threads,
                },
                output,
            },
            ctx,
        ),
        Command::Eval { model, data, engine } => eval::run(&model, &data, engine, ctx),
        Command::Bench { model, batch, threads, precision, config, reps, warmup } => bench::run(
            &bench::Options { model, batch, threads, precision, config, reps, warmup },
            ctx,
        ),
        Command::Allocate { table, size, bops, latency, pareto, plot } => {
            allocate::run(&table, [size, bops, latency], pareto, plot.as_deref(), ctx)
        }
        Command::LatencyTable { model, batch, threads, reps, warmup, no_cache, into, output } => {
            latency::run(
                &latency::Options { model, batch, threads, reps, warmup, no_cache, output, into },
                ctx,
            )
        }
        Command::Train { model, data, epochs, lr, threads, augment, resume, output } => train::run(
            &train::Options { model, data, epochs, lr, threads, augment, resume, output },
            ctx,
        ),
        Command::Export { model, onnx, opset } => export::run(&model, &onnx, opset, ctx),
        Command::Compare { model, quantized, data } => compare::run(&model, &quantized, &data, ctx),
        Command::Sensitivity {
            model,
            data,
            inputs,
            labels,
            samples,
            probes,
            tol,
            method,
            precision,
            batch,
            threads,
            no_cache,
            output,
        } => sensitivity::run(
            &sensitivity::Options {
                model,
                data,
                inputs,
                labels,
                samples,
                probes,
                tol,
                method,
                precision,
                batch,
                threads,
                no_cache,
                output,
            },
            ctx,
        ),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Reads a bits config: `{"bits": {layer: 4|8, ...}}` (the shape `hawq allocate --json` prints).
pub fn read_bits_config(path: &std::path::Path) -> Result<std::collections::HashMap<String, u32>> {
    use anyhow::Context as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let bits = v.get("bits").and_then(|b| b.as_object()).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: expected an object with a \"bits\" map of layer name → 4 or 8",
            path.display()
        )
    })?;
    bits.iter()
        .map(|(k, b)| match b.as_u64() {
            Some(x @ (4 | 8)) => Ok((k.clone(), x as u32)),
            _ => anyhow::bail!(
                "{}: layer '{k}' has bits {b}; only 4 and 8 are supported",
                path.display()
            ),
        })
        .collect()
}
