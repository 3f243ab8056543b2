//! `traplab bench`: guest MIPS on the benchmark guests, as a table. The same workloads as
//! the criterion bench `benches/interpreter.rs` (which is the reference measurement, at the
//! guests' default sizes: `--scale 10` here); this command is the quick version a student
//! can run: best of `--runs` wall-clock runs of the guest (its boot not timed). A guest
//! that does not exit within `BUDGET_PER_SCALE` instructions (or ticks halted) per unit of
//! `--scale`, or that halts for good, is reported as an error, with the reason.
//!
//! `--callgrind` adds the figure the project's speed work is measured by (README "Speed"):
//! host instructions per guest instruction. Each workload runs twice more, as a child
//! `traplab bench` under valgrind's callgrind, at `--scale` and at twice it; the
//! difference of the host instruction counts over the difference of the guest
//! instructions is the steady-state cost (boot, decoding and start-up cancel out), which
//! does not depend on the machine's load.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    /// Also print host instructions per guest instruction, measured with valgrind's
    /// callgrind (which must be installed): slow, each workload runs about 50 times slower
    /// under it, twice.
    #[arg(long)]
    pub callgrind: bool,
    /// Only the workloads whose name contains this text (e.g. "integer").
    #[arg(long)]
    pub only: Option<String>,
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
    let chosen: Vec<_> = WORKLOADS
        .iter()
        .filter(|(name, _, _)| a.only.as_ref().is_none_or(|o| name.contains(o.as_str())))
        .collect();
    if chosen.is_empty() {
        bail!(
            "no workload matches --only {:?} (the workloads: {})",
            a.only.as_deref().unwrap_or(""),
            WORKLOADS.iter().map(|w| w.0).collect::<Vec<_>>().join(", ")
        );
    }
    print!(
        "{:<22} {:>14} {:>10} {:>10}",
        "workload", "instructions", "seconds", "MIPS"
    );
    if a.callgrind {
        print!(" {:>11}", "host/guest");
    }
    println!();
    for (name, path, iters) in chosen {
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
        print!(
            "{:<22} {:>14} {:>10.3} {:>10.1}",
            name,
            n,
            best,
            n as f64 / best / 1e6
        );
        if a.callgrind {
            let (h1, g1) = under_callgrind(&a.samples, name, a.scale)?;
            let (h2, g2) = under_callgrind(&a.samples, name, 2 * a.scale)?;
            if g2 <= g1 || h2 < h1 {
                bail!("{name}: callgrind counts do not grow with the work ({h1}, {h2})");
            }
            print!(" {:>11.2}", (h2 - h1) as f64 / (g2 - g1) as f64);
        }
        println!();
    }
    Ok(0)
}

/// Runs one workload once in a child `traplab bench` under callgrind: (host instructions
/// it counted, guest instructions the child reported).
fn under_callgrind(samples: &Path, name: &str, scale: u32) -> Result<(u64, u64)> {
    let exe = std::env::current_exe().context("cannot find the traplab executable")?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(["bench", "--runs", "1", "--only", name, "--scale"])
        .arg(scale.to_string())
        .arg("--samples")
        .arg(samples)
        .output()
        .context("cannot run valgrind (--callgrind needs valgrind installed)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let why = stderr
            .lines()
            .rev()
            .find(|l| !l.starts_with("==") && !l.trim().is_empty())
            .unwrap_or("no message");
        bail!("{name} under callgrind failed: {why}");
    }
    let host = stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .context("callgrind printed no 'Collected' count")?;
    // The child's table row: name, instructions, seconds, MIPS.
    let guest = stdout
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l[name.len()..].split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("the child bench printed no instruction count")?;
    Ok((host, guest))
}
