//! `traplab bench`: guest MIPS on the benchmark guests, as a table. The same workloads as
//! the criterion bench `benches/interpreter.rs` (which is the reference measurement, at the
//! guests' default sizes: `--scale 10` here); this command is the quick version a student
//! can run: best of `--runs` wall-clock runs of the guest (its boot not timed). A guest
//! that does not exit within `BUDGET_PER_SCALE` instructions (or ticks halted) per unit of
//! `--scale`, or that halts for good, is reported as an error, with the reason.

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

/// Instructions (and ticks halted) a workload may take per unit of `--scale` before it is
/// reported as not exiting: about 20 times what the sample guests need.
pub const BUDGET_PER_SCALE: u64 = 100_000_000;

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
        let budget = BUDGET_PER_SCALE * a.scale as u64;
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..a.runs {
            let mut m = boot(MachineConfig::default(), &image, &kind)?;
            let t = Instant::now();
            let r = m.run(budget);
            let dt = t.elapsed().as_secs_f64();
            match r {
                RunExit::Exit(1) => {}
                RunExit::Budget => bail!(
                    "{name} ({}): the guest did not exit within its budget of {budget} \
                     instructions or ticks halted ({} instructions retired)",
                    p.display(),
                    m.icount()
                ),
                RunExit::Halted => bail!(
                    "{name} ({}): the guest halted for good after {} instructions: {}",
                    p.display(),
                    m.icount(),
                    m.halt_reason()
                        .map_or_else(|| "HLT".to_string(), |h| h.to_string())
                ),
                r => bail!(
                    "{name} ({}): the guest did not exit cleanly ({r:?})",
                    p.display()
                ),
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
