//! The run loop of `traplab run`: runs the machine in slices, feeding serial input
//! (`--input`, piped stdin, a terminal's keys), pumping `--publish` connections, pacing an
//! interactive or published run to the wall clock, printing the guest's output (and the
//! `--trace`/`--trace-io` lines) as it comes, until the guest exits, halts for good, or the
//! budget is spent. It writes no files and prints no summary: `run::finish` does that.

use super::args::RunArgs;
use super::input::Input;
use crate::publish::Publish;
use crate::report::{print_io, print_notes, Tracer};
use crate::wait_for::WaitFor;
use anyhow::{Context, Result};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use traplab::machine::{Machine, RunExit};

/// Context of write errors on the guest's output (a closed pipe says where it was).
const STDOUT: &str = "cannot write to standard output";

/// How the loop ended, and what the summary needs to know about the run.
pub struct Outcome {
    pub exit: RunExit,
    /// Stopped by the user (Ctrl-] in a terminal).
    pub quit: bool,
    pub elapsed: Duration,
    /// The last byte of guest output (our messages start on a fresh line after a prompt).
    pub last_byte: u8,
    /// Instruction count and halted ticks at the start of the run.
    pub icount0: u64,
    pub idle0: u64,
    /// The budget of ticks spent halted.
    pub halt_budget: u64,
}

/// Runs `m` until it stops (see the module doc).
pub fn run(a: &RunArgs, m: &mut Machine, mut publish: Option<Publish>) -> Result<Outcome> {
    let mut last_byte = b'\n';
    let mut held: Vec<u8> = Vec::new();
    let mut input = Input::new(a)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let start = Instant::now();
    let icount0 = m.icount();
    let idle0 = m.core.stats.halted_ticks;
    let ns0 = m.core.now_ns();
    let interactive = a.input.is_none()
        && !a.trace
        && !a.trace_io
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut budget = a
        .max_instructions
        .unwrap_or(if interactive || publish.is_some() {
            u64::MAX
        } else {
            10_000_000_000
        });
    // Halted time has its own budget, so that --snapshot-at stays an instruction count.
    let halt_budget = budget;
    if let Some(n) = a.snapshot_at {
        budget = budget.min(n);
    }
    let mut io_seen = m.inspect().events().total();
    let mut notes_seen = 0;
    let mut tracer = if a.trace { Some(Tracer::new(m)) } else { None };
    // Interactive use: a terminal on both ends and no --input/--trace.
    let mut term = if interactive {
        crate::term::Terminal::start()
    } else {
        None
    };
    let mut quit = false;
    let mut wait = a.wait_for.as_ref().map(|t| WaitFor::new(t));
    let exit = loop {
        if wait.as_ref().is_none_or(|w| w.seen) {
            input.feed(m)?;
        }
        if let (Some(p), Some(h)) = (publish.as_mut(), m.core.dev.hostsock.as_mut()) {
            p.pump(h);
        }
        if term.is_some() || publish.is_some() {
            // Pace virtual time to the wall clock so an idle guest does not race ahead
            // (its uptime then reads like real time) and the host CPU rests.
            let ahead = m.core.now_ns().saturating_sub(ns0) as u128;
            let wall = start.elapsed().as_nanos();
            if ahead > wall {
                std::thread::sleep(std::time::Duration::from_nanos(
                    (ahead - wall).min(20_000_000) as u64,
                ));
            }
        }
        if let Some(t) = term.as_mut() {
            let (keys, q) = t.poll();
            if !keys.is_empty() {
                m.core.dev.push_serial_input(&keys);
            }
            if q {
                quit = true;
                break RunExit::Budget;
            }
        }
        // The budget bounds retired instructions, and separately the ticks of virtual time
        // spent halted (a halted CPU retires nothing): see `Machine::run_limited`.
        let done = m.icount() - icount0;
        let waited = m.core.stats.halted_ticks - idle0;
        if done >= budget || waited >= halt_budget {
            break RunExit::Budget;
        }
        let r = match tracer.as_mut() {
            Some(t) => {
                let before = (m.icount(), Tracer::position(m));
                let r = m.step();
                // While the CPU sits in HLT nothing retires: print nothing until it wakes.
                if m.icount() != before.0 {
                    t.line(m, &mut out).context(STDOUT)?;
                } else if Tracer::position(m) != before.1 {
                    // An interrupt or exception was delivered without retiring anything.
                    t.delivered(m, &mut out).context(STDOUT)?;
                } else {
                    t.resync(m);
                }
                t.world_switches(m, &mut out).context(STDOUT)?;
                r
            }
            // With --trace-io, short slices keep port lines close to the output they cause.
            None => {
                let slice = if a.trace_io { 1 } else { 200_000 };
                m.run_limited(
                    (budget - done).min(slice),
                    (halt_budget - waited).min(slice),
                )
            }
        };
        if a.trace_io {
            // Port accesses first: the serial bytes of this slice were produced by them.
            out.flush().context(STDOUT)?;
            print_io(m, &mut io_seen);
        }
        let mut o = m.core.dev.take_serial_output();
        o.extend(m.core.dev.take_debugcon());
        if let Some(w) = wait.as_mut() {
            w.look(&o);
        }
        if a.trace_io {
            // Whole lines only, so port lines (stderr) and guest lines (stdout) do not cut
            // into each other; each guest line follows the port accesses that wrote it.
            held.extend_from_slice(&o);
            o.clear();
            if let Some(k) = held.iter().rposition(|&b| b == b'\n') {
                o = held.drain(..=k).collect();
            }
        }
        if let Some(&b) = o.last() {
            last_byte = b;
        }
        if !o.is_empty() {
            if term.is_some() {
                out.write_all(&crate::term::Terminal::cook(&o))
                    .context(STDOUT)?;
            } else {
                out.write_all(&o).context(STDOUT)?;
            }
            out.flush().context(STDOUT)?;
        }
        print_notes(m, &mut notes_seen);
        match r {
            RunExit::Budget | RunExit::Breakpoint(_) => continue,
            // In a terminal, keys the user types may still wake a guest that waits for them.
            RunExit::Halted
                if term.is_some() && m.halt_reason().is_some_and(|h| h.waits_for_input()) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            other => break other,
        }
    };
    let elapsed = start.elapsed();
    // Back to a cooked terminal before any message of ours.
    drop(term.take());
    if quit {
        eprintln!();
        eprintln!(
            "traplab: stopped by the user (Ctrl-]) after {} instructions",
            m.icount()
        );
    }
    if !held.is_empty() {
        last_byte = *held.last().unwrap_or(&b'\n');
        out.write_all(&held).context(STDOUT)?;
    }
    out.flush().context(STDOUT)?;
    drop(out);
    Ok(Outcome {
        exit,
        quit,
        elapsed,
        last_byte,
        icount0,
        idle0,
        halt_budget,
    })
}
