//! `traplab`: the headless command line of Traplab.
//! Subcommands: `run` (boot an image, serial on stdio; `--gdb` serves a GDB remote target),
//! `vectors` (CPU test vectors), `bench` (guest MIPS table), `compare` (workloads natively,
//! in a container and in VMs).
//! Bad input gets one clear line on stderr and exit status 2, never a panic.

mod bench;
mod compare;
mod gdb;
mod publish;
mod report;
mod run;
mod term;
mod vectors;
mod wait_for;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "traplab",
    version,
    about = "Traplab: an educational x86 PC emulator (headless front end)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot an image: serial port (COM1) and debug port 0xE9 go to stdout, stdin to COM1.
    Run(Box<run::RunArgs>),
    /// Run CPU test vectors (SingleStepTests JSON, .json or .json.gz) and print pass counts.
    Vectors(vectors::VectorArgs),
    /// Measure guest MIPS on the benchmark guests and print a table.
    Bench(bench::BenchArgs),
    /// Run the same minios workloads natively, in a container and in each VM: the table.
    Compare(compare::CompareArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap's own text on stdout.
            let _ = e.print();
            return ExitCode::from(0);
        }
        Err(e) => {
            eprintln!("traplab: {}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let r = match cli.cmd {
        Cmd::Run(a) => run::main(*a),
        Cmd::Vectors(a) => vectors::main(a),
        Cmd::Bench(a) => bench::main(a),
        Cmd::Compare(a) => compare::main(a),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("traplab: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A clap error as the one line the README promises: the first line without its
/// "error: " prefix, plus the hint of where to look.
fn one_line(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("bad arguments");
    let first = first.trim().strip_prefix("error: ").unwrap_or(first.trim());
    let mut tip = String::new();
    for l in text.lines().map(str::trim) {
        if let Some(t) = l.strip_prefix("tip: ") {
            tip = format!("; {t}");
        }
    }
    format!("{first}{tip} (see --help)")
}
