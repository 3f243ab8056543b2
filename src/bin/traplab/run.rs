//! `traplab run IMAGE`: boot and run headless. COM1 and port 0xE9 go to stdout; stdin goes
//! to COM1 (piped input is fed one line at a time, when the guest has consumed the last).
//! Exit status: the guest's (port 0xF4: (v << 1) | 1), 0 when it halts for good,
//! 124 when the instruction budget is spent, 125 on a triple fault, 2 on bad input.
//! Boot paths: Multiboot kernels, Linux bzImages (`--initrd`, `--cmdline`), raw boot sectors
//! / disk images with the built-in BIOS (`--boot disk`, or detected from the 55AA signature),
//! `--bios ROM` at the reset vector, flat binaries. `--disk FILE` attaches an ATA disk;
//! `--writable` saves guest writes to it. `--publish HOSTPORT:GUESTPORT` attaches the
//! host-socket device (publish.rs).
//!
//! This file owns the order of a run (check the options, build the machine, run, report)
//! and the exit status; the pieces are in `run/`: `args` (the options), `load` (images and
//! the machine), `input` (serial input), `main_loop` (running and printing the guest's
//! output), `outputs` (the files written at the end).

mod args;
mod input;
mod load;
mod main_loop;
mod outputs;

pub use args::RunArgs;

use crate::report::{state_dump, stats_text};
use anyhow::{bail, Result};
use load::build_machine;
use outputs::{check_outputs, check_writable, replace_file, save_disk};
use traplab::machine::{Machine, RunExit};
use traplab::snapshot;

pub const STATUS_BUDGET: u8 = 124;
pub const STATUS_TRIPLE: u8 = 125;
pub const STATUS_RESET: u8 = 126;

/// The line printed when the machine halts for good, with the reason.
pub fn halted_message(m: &Machine) -> String {
    let why = m
        .halt_reason()
        .map_or_else(|| "HLT".to_string(), |h| h.to_string());
    format!(
        "traplab: the machine halted for good after {} instructions: {why}",
        m.icount()
    )
}

pub fn main(a: RunArgs) -> Result<u8> {
    if a.snapshot_at.is_some() && a.save_snapshot.is_none() {
        bail!("--snapshot-at needs --save-snapshot FILE");
    }
    check_outputs(&a)?;
    if !a.publish.is_empty() && a.gdb.gdb.is_some() {
        bail!("--publish cannot be used with --gdb");
    }
    for p in &a.publish {
        crate::publish::parse(p)?;
    }
    let mut costs = traplab::inspect::Costs::default();
    for c in &a.costs {
        costs.assign(c).map_err(anyhow::Error::msg)?;
    }
    let mut m = build_machine(&a)?;
    if !a.costs.is_empty() {
        m.set_costs(costs);
    }
    if a.popek_goldberg {
        m.set_popek_goldberg(true);
    }
    if a.writable {
        check_writable(&a, &m)?;
    }
    if a.gdb.gdb.is_some() {
        return crate::gdb::main(&a, m);
    }
    let publish = if a.publish.is_empty() {
        None
    } else {
        m.core.dev.hostsock = Some(traplab::devices::HostSock::new());
        Some(crate::publish::Publish::open(&a.publish)?)
    };
    m.core.events.io = a.trace_io;
    if a.trace_io {
        // Room for every port access of one slice (print_io reads them between slices).
        m.core.events.capacity = 1 << 16;
    }
    let o = main_loop::run(&a, &mut m, publish)?;
    finish(&a, &m, o)
}

/// After the run: the screen, the `--writable` disk, the line saying why the run stopped,
/// the `--save-snapshot` file, `--hash` and `--stats`; returns the exit status.
fn finish(a: &RunArgs, m: &Machine, o: main_loop::Outcome) -> Result<u8> {
    let main_loop::Outcome {
        exit,
        quit,
        elapsed,
        last_byte,
        icount0,
        idle0,
        halt_budget,
    } = o;
    if a.screen {
        crate::report::print_screen(m);
    }
    if a.writable {
        save_disk(a, m)?;
    }
    let status = match exit {
        RunExit::Exit(s) => (s & 0xFF) as u8,
        RunExit::Halted => {
            eprintln!("{}", halted_message(m));
            0
        }
        RunExit::TripleFault => {
            eprintln!(
                "traplab: triple fault after {} instructions: the machine shut down",
                m.icount()
            );
            eprintln!("{}", state_dump(m));
            STATUS_TRIPLE
        }
        RunExit::Reset => {
            eprintln!(
                "traplab: the guest requested a reset after {} instructions",
                m.icount()
            );
            STATUS_RESET
        }
        RunExit::Budget if quit => 0,
        RunExit::Budget => {
            let waited = m.core.stats.halted_ticks - idle0;
            if waited >= halt_budget {
                eprintln!(
                    "traplab: budget spent: the CPU waited in HLT for {waited} ticks \
                     ({} instructions retired); stopping",
                    m.icount() - icount0
                );
                STATUS_BUDGET
            } else if a.snapshot_at.is_none() {
                eprintln!(
                    "traplab: instruction budget spent ({} instructions); stopping",
                    m.icount() - icount0
                );
                STATUS_BUDGET
            } else {
                0
            }
        }
        RunExit::Breakpoint(_) => 0,
    };
    if last_byte != b'\n' && (a.save_snapshot.is_some() || a.hash || a.stats) {
        // Start our own messages on a fresh line after a guest prompt.
        eprintln!();
    }
    if let Some(p) = &a.save_snapshot {
        if p.exists() && !a.force {
            bail!(
                "--save-snapshot {}: the file appeared during the run; add --force to overwrite it",
                p.display()
            );
        }
        // Streamed to a temporary file, then renamed: an old snapshot is never truncated.
        replace_file(
            p,
            "--save-snapshot",
            |w| snapshot::save_to(m, w).map(|_| ()),
            None,
        )?;
        eprintln!(
            "traplab: snapshot saved to {} at instruction {}",
            p.display(),
            m.icount()
        );
    }
    if a.hash {
        crate::report::print_hash(m);
    }
    if a.stats {
        eprint!(
            "{}",
            stats_text(m, m.icount() - icount0, elapsed.as_secs_f64())
        );
    }
    Ok(status)
}
