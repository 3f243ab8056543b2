//! `traplab run --gdb [ADDR:]PORT`: the guest under a gdb remote stub. It waits for gdb
//! before the first instruction (like QEMU's `-s -S`), or with `--gdb-no-wait` runs until
//! gdb attaches. COM1 and port 0xE9 still go to stdout; piped stdin / `--input` feed COM1.
//! When gdb detaches the guest runs on, and another gdb may attach.
//! The protocol lives in `traplab::debug::gdb*`; the socket in `traplab_gui::gdb_link`.

use anyhow::{Context, Result};
use clap::Args;
use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
use traplab::debug::gdb_server::Ended;
use traplab::debug::session::{Input, Session, Stop};
use traplab::machine::{Machine, RunExit};
use traplab_gui::gdb_link::{self, GdbLink};

/// Instructions per slice while the guest runs (between looks at the socket: Ctrl-C).
const SLICE: u64 = 50_000;
/// Instructions between reverse-execution checkpoints (each compares guest RAM).
const CHECKPOINT_EVERY: u64 = 50_000_000;

#[derive(Args, Debug)]
pub struct GdbArgs {
    /// Serve a gdb remote stub on [ADDR:]PORT (a bare port listens on 127.0.0.1 only) and
    /// wait for gdb before the first instruction. In gdb: `target remote :PORT`.
    #[arg(long, value_name = "[ADDR:]PORT", num_args = 0..=1,
          default_missing_value = "1234", value_parser = gdb_link::parse_addr,
          conflicts_with_all = ["trace", "trace_io", "snapshot_at", "save_snapshot",
                                "max_instructions", "writable"])]
    pub gdb: Option<SocketAddr>,
    /// With --gdb: run the guest at once; gdb may attach at any time.
    #[arg(long, requires = "gdb")]
    pub gdb_no_wait: bool,
}

/// Runs the machine under the gdb stub until the guest ends or gdb kills it.
pub fn main(a: &crate::run::RunArgs, m: Machine) -> Result<u8> {
    let Some(addr) = a.gdb.gdb else {
        anyhow::bail!("--gdb needs an address");
    };
    let listener =
        gdb_link::listen(addr).with_context(|| format!("cannot listen for gdb on {addr}"))?;
    let local = listener.local_addr()?;
    let started = std::time::Instant::now();
    let icount0 = m.icount();
    let mut s = Session::new(m);
    s.checkpoint_every = CHECKPOINT_EVERY;
    let serial = serial_input(a)?;
    if !serial.is_empty() {
        s.input(Input::Serial(serial));
    }
    let image = a
        .image
        .as_ref()
        .map_or_else(|| "IMAGE".to_string(), |p| p.display().to_string());
    let mut link = None;
    if a.gdb.gdb_no_wait {
        eprintln!("traplab: gdb stub on {local}; the guest runs until gdb attaches");
    } else {
        eprintln!("traplab: waiting for gdb on {local} (gdb -ex 'target remote {local}' {image})");
        let (stream, _) = listener.accept().context("accepting gdb's connection")?;
        link = Some(attach(stream, &mut s)?);
    }
    listener.set_nonblocking(true)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let exit = loop {
        let stop = match link.as_mut() {
            Some(l) => l.service(&mut s, Duration::from_millis(50), SLICE),
            None => {
                if let Ok((stream, _)) = listener.accept() {
                    link = Some(attach(stream, &mut s)?);
                    continue;
                }
                Some(s.advance(SLICE))
            }
        };
        let mut o = s.m.core.dev.take_serial_output();
        o.extend(s.m.core.dev.take_debugcon());
        if !o.is_empty() {
            out.write_all(&o)?;
            out.flush()?;
        }
        if let Some(Stop::Machine(x)) = stop {
            break x;
        }
        match link.as_ref().and_then(GdbLink::ended) {
            Some(Ended::GuestEnded(x)) => break x,
            Some(Ended::Killed) => {
                eprintln!(
                    "traplab: gdb killed the guest after {} instructions",
                    s.icount()
                );
                return Ok(0);
            }
            Some(Ended::Detached | Ended::ConnectionLost) => {
                eprintln!(
                    "traplab: gdb detached; the guest runs on (another gdb may attach on {local})"
                );
                link = None;
            }
            None => {}
        }
    };
    drop(link);
    drop(out);
    let status = end_status(&s.m, exit);
    if a.screen {
        crate::report::print_screen(&s.m);
    }
    if a.hash {
        crate::report::print_hash(&s.m);
    }
    if a.stats {
        eprint!(
            "{}",
            crate::report::stats_text(&s.m, s.icount() - icount0, started.elapsed().as_secs_f64())
        );
    }
    Ok(status)
}

fn attach(stream: std::net::TcpStream, s: &mut Session) -> Result<GdbLink> {
    let l = GdbLink::new(stream, s).context("setting up the gdb connection")?;
    eprintln!("traplab: gdb attached from {}", l.peer);
    Ok(l)
}

/// The most serial input `--gdb` takes: the session queues it all before the guest runs
/// (`traplab run` without `--gdb` streams it instead), so `yes | traplab run --gdb ...` or
/// `--input /dev/zero` must end with an error, not exhaust the host's memory.
const MAX_GDB_INPUT: u64 = 16 << 20;

/// COM1 input: `--input FILE`, or stdin when it is not a terminal (all of it, at once, up to
/// `MAX_GDB_INPUT` bytes).
fn serial_input(a: &crate::run::RunArgs) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let what = if let Some(p) = &a.input {
        let f = std::fs::File::open(p)
            .with_context(|| format!("--input {}: cannot open", p.display()))?;
        f.take(MAX_GDB_INPUT + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("--input {}: cannot read", p.display()))?;
        format!("--input {}", p.display())
    } else if !std::io::stdin().is_terminal() {
        std::io::stdin()
            .take(MAX_GDB_INPUT + 1)
            .read_to_end(&mut data)
            .context("standard input: cannot read")?;
        "standard input".to_string()
    } else {
        return Ok(data);
    };
    if data.len() as u64 > MAX_GDB_INPUT {
        anyhow::bail!(
            "{what}: more than {} MiB of serial input; with --gdb the input is queued at once",
            MAX_GDB_INPUT >> 20
        );
    }
    Ok(data)
}

/// The exit status and message of a guest's end (as `traplab run` gives them).
fn end_status(m: &Machine, exit: RunExit) -> u8 {
    match exit {
        RunExit::Exit(v) => (v & 0xFF) as u8,
        RunExit::Halted => {
            eprintln!("{}", crate::run::halted_message(m));
            0
        }
        RunExit::TripleFault => {
            eprintln!(
                "traplab: triple fault after {} instructions: the machine shut down",
                m.icount()
            );
            eprintln!("{}", crate::report::state_dump(m));
            crate::run::STATUS_TRIPLE
        }
        RunExit::Reset => {
            eprintln!(
                "traplab: the guest requested a reset after {} instructions",
                m.icount()
            );
            crate::run::STATUS_RESET
        }
        RunExit::Budget | RunExit::Breakpoint(_) => 0,
    }
}
