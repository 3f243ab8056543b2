//! `traplab bench`: guest MIPS on the benchmark guests, as a table. The same workloads as
//! the criterion bench `benches/interpreter.rs` (which is the reference measurement, at the
//! guests' default sizes: `--scale 10` here); this command is the quick version a student
//! can run: best of `--runs` wall-clock runs of the guest (its boot not timed).

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use traplab::boot::{boot, BootKind};
use traplab::machine::{MachineConfig, RunExit};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Folder holding the sample guests (bench/intloop.elf, ...).
    #[arg(long, default_value = "samples")]
    pub samples: PathBuf,
    /// Runs per workload; the best is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Scale the work (1 = the default sizes, about 5 to 10 million instructions each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
}

pub const WORKLOADS: &[(&str, &str, u64)] = &[
    ("integer loop", "bench/intloop.elf", 400_000),
    ("memory + paging", "bench/memloop.elf", 600_000),
    ("call/return + stack", "bench/callret.elf", 2),
];

pub fn main(a: BenchArgs) -> Result<u8> {
    println!(
        "{:<22} {:>14} {:>10} {:>10}",
        "workload", "instructions", "seconds", "MIPS"
    );
    for (name, path, iters) in WORKLOADS {
        let p = a.samples.join(path);
        let image = std::fs::read(&p)
            .with_context(|| format!("cannot read {} (use --samples DIR)", p.display()))?;
        let kind = BootKind::Multiboot {
            cmdline: format!("iters={}", iters * a.scale as u64),
            modules: vec![],
        };
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..a.runs {
            let mut m = boot(MachineConfig::default(), &image, &kind)?;
            let t = Instant::now();
            let r = m.run(u64::MAX / 2);
            let dt = t.elapsed().as_secs_f64();
            if r != RunExit::Exit(1) {
                bail!("{name}: the guest did not exit cleanly ({r:?})");
            }
            n = m.icount();
            best = best.min(dt);
        }
        println!(
            "{:<22} {:>14} {:>10.3} {:>10.1}",
            name,
            n,
            best,
            n as f64 / best / 1e6
        );
    }
    Ok(0)
}
