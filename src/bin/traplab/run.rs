//! `traplab run IMAGE`: boot and run headless. COM1 and port 0xE9 go to stdout; stdin goes
//! to COM1 (piped input is fed one line at a time, when the guest has consumed the last).
//! Exit status: the guest's (port 0xF4: (v << 1) | 1), 0 when it halts for good,
//! 124 when the instruction budget is spent, 125 on a triple fault, 2 on bad input.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;
use traplab::boot::{self, multiboot::Module, BootKind};
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::snapshot;

pub const STATUS_BUDGET: u8 = 124;
pub const STATUS_TRIPLE: u8 = 125;
pub const STATUS_RESET: u8 = 126;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BootMode {
    /// A Multiboot v1 kernel (the default).
    Multiboot,
    /// A raw binary loaded at --load-addr and entered in 32-bit protected mode.
    Flat,
    /// A raw binary loaded at --load-addr and entered in real mode.
    FlatReal,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The image to boot (a Multiboot ELF by default).
    pub image: Option<PathBuf>,
    /// How to boot the image.
    #[arg(long, value_enum, default_value = "multiboot")]
    pub boot: BootMode,
    /// Guest RAM in MiB (2..=3072).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=3072))]
    pub mem: u32,
    /// Kernel command line passed through Multiboot.
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// Multiboot module (initial ramdisk); may be repeated.
    #[arg(long = "module")]
    pub modules: Vec<PathBuf>,
    /// Load address for --boot flat/flat-real (hex with 0x or decimal).
    #[arg(long, default_value = "0x100000", value_parser = parse_u32)]
    pub load_addr: u32,
    /// Stop after this many instructions (status 124).
    #[arg(long, default_value_t = 10_000_000_000)]
    pub max_instructions: u64,
    /// Print one line per instruction: count, CS:EIP, bytes, disassembly, changed registers.
    #[arg(long)]
    pub trace: bool,
    /// Print every port access (direction, port, width, value) on stderr.
    #[arg(long)]
    pub trace_io: bool,
    /// Print statistics at the end (on stderr).
    #[arg(long)]
    pub stats: bool,
    /// Input for COM1 instead of stdin (a file).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Save a snapshot to FILE when the run stops (with --snapshot-at: after N instructions).
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
    /// With --save-snapshot: stop after exactly N instructions and save.
    #[arg(long, value_name = "N")]
    pub snapshot_at: Option<u64>,
    /// Resume from a snapshot instead of booting an image.
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub load_snapshot: Option<PathBuf>,
    /// Overwrite an existing snapshot file.
    #[arg(long)]
    pub force: bool,
    /// Print the final state hash (registers, memory, devices) on stderr.
    #[arg(long)]
    pub hash: bool,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    r.map_err(|_| format!("not a 32-bit number: {s}"))
}

fn read_file(p: &PathBuf, what: &str) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("cannot read {what} {}", p.display()))
}

pub fn build_machine(a: &RunArgs) -> Result<Machine> {
    if let Some(p) = &a.load_snapshot {
        let bytes = read_file(p, "snapshot")?;
        return snapshot::restore(&bytes)
            .with_context(|| format!("cannot restore {}", p.display()));
    }
    let Some(img_path) = &a.image else {
        bail!("no image given (try `traplab run samples/hello/hello.elf`)");
    };
    let image = read_file(img_path, "image")?;
    let mut modules = Vec::new();
    for p in &a.modules {
        modules.push(Module {
            data: read_file(p, "module")?,
            string: p.display().to_string(),
        });
    }
    let kind = match a.boot {
        BootMode::Multiboot => BootKind::Multiboot {
            cmdline: a.cmdline.clone(),
            modules,
        },
        BootMode::Flat => BootKind::Flat {
            addr: a.load_addr,
            real: false,
        },
        BootMode::FlatReal => BootKind::Flat {
            addr: a.load_addr,
            real: true,
        },
    };
    let cfg = MachineConfig {
        ram_bytes: (a.mem as usize) << 20,
        ..Default::default()
    };
    boot::boot(cfg, &image, &kind).with_context(|| format!("cannot boot {}", img_path.display()))
}

/// Feeds COM1 from piped input one line at a time: the next line goes in only when the
/// guest has read everything given so far, so output interleaves as on a terminal.
struct Input {
    lines: Vec<Vec<u8>>,
    next: usize,
}

impl Input {
    fn new(a: &RunArgs) -> Result<Input> {
        let mut data = Vec::new();
        if let Some(p) = &a.input {
            data = read_file(p, "input")?;
        } else if !std::io::stdin().is_terminal() {
            std::io::stdin()
                .read_to_end(&mut data)
                .context("cannot read stdin")?;
        }
        let lines = data
            .split_inclusive(|&b| b == b'\n')
            .map(|l| l.to_vec())
            .collect();
        Ok(Input { lines, next: 0 })
    }
    fn feed(&mut self, m: &mut Machine) {
        if self.next < self.lines.len() && m.core.dev.uart.pending_input() == 0 {
            m.core.dev.push_serial_input(&self.lines[self.next]);
            self.next += 1;
        }
    }
}

pub fn main(a: RunArgs) -> Result<u8> {
    if let Some(p) = &a.save_snapshot {
        if p.exists() && !a.force {
            bail!("{} exists; add --force to overwrite it", p.display());
        }
    }
    if a.snapshot_at.is_some() && a.save_snapshot.is_none() {
        bail!("--snapshot-at needs --save-snapshot FILE");
    }
    let mut m = build_machine(&a)?;
    m.core.events.io = a.trace_io;
    let mut input = Input::new(&a)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let start = Instant::now();
    let icount0 = m.icount();
    let mut budget = a.max_instructions;
    if let Some(n) = a.snapshot_at {
        budget = budget.min(n);
    }
    let mut io_seen = m.core.events.total;
    let mut tracer = if a.trace {
        Some(crate::run::Tracer::new(&m))
    } else {
        None
    };
    let exit = loop {
        input.feed(&mut m);
        let done = m.icount() - icount0;
        if done >= budget {
            break RunExit::Budget;
        }
        let r = match tracer.as_mut() {
            Some(t) => {
                let r = m.step();
                t.line(&m, &mut out)?;
                r
            }
            None => m.run((budget - done).min(200_000)),
        };
        let mut o = m.core.dev.take_serial_output();
        o.extend(m.core.dev.take_debugcon());
        if !o.is_empty() {
            out.write_all(&o)?;
            out.flush()?;
        }
        if a.trace_io {
            print_io(&m, &mut io_seen);
        }
        match r {
            RunExit::Budget | RunExit::Breakpoint(_) => continue,
            other => break other,
        }
    };
    let elapsed = start.elapsed();
    out.flush()?;
    drop(out);
    let status = match exit {
        RunExit::Exit(s) => (s & 0xFF) as u8,
        RunExit::Halted => {
            eprintln!(
                "traplab: the machine halted (HLT with interrupts disabled) after {} instructions",
                m.icount()
            );
            0
        }
        RunExit::TripleFault => {
            eprintln!(
                "traplab: triple fault after {} instructions: the machine shut down",
                m.icount()
            );
            eprintln!("{}", crate::run::state_dump(&m));
            STATUS_TRIPLE
        }
        RunExit::Reset => {
            eprintln!(
                "traplab: the guest requested a reset after {} instructions",
                m.icount()
            );
            STATUS_RESET
        }
        RunExit::Budget => {
            if a.snapshot_at.is_none() {
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
    if let Some(p) = &a.save_snapshot {
        std::fs::write(p, snapshot::save(&m))
            .with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!(
            "traplab: snapshot saved to {} at instruction {}",
            p.display(),
            m.icount()
        );
    }
    if a.hash {
        eprintln!(
            "state hash: {:016x} at instruction {}",
            snapshot::state_hash(&m),
            m.icount()
        );
    }
    if a.stats {
        eprint!(
            "{}",
            stats_text(&m, m.icount() - icount0, elapsed.as_secs_f64())
        );
    }
    Ok(status)
}

fn print_io(m: &Machine, seen: &mut u64) {
    let ev = &m.core.events;
    let new = (ev.total - *seen) as usize;
    let skip = ev.events.len().saturating_sub(new);
    for e in ev.events.iter().skip(skip) {
        if let traplab::trace::EventKind::Io {
            write,
            port,
            size,
            value,
        } = e.kind
        {
            let dir = if write { "out" } else { "in " };
            let w = (size as usize) * 2;
            eprintln!(
                "io {dir} port {port:#06x} size {size} value {value:#0w$x}",
                w = w + 2
            );
        }
    }
    *seen = ev.total;
}

pub fn stats_text(m: &Machine, n: u64, secs: f64) -> String {
    use std::fmt::Write as _;
    let c = &m.core;
    let mut s = String::new();
    let _ = writeln!(s, "--- traplab statistics ---");
    let _ = writeln!(s, "instructions retired: {n}");
    let _ = writeln!(s, "virtual time:         {:.3} ms", c.now_ns() as f64 / 1e6);
    let _ = writeln!(s, "wall time:            {:.3} s", secs);
    let _ = writeln!(
        s,
        "speed:                {:.1} MIPS",
        if secs > 0.0 {
            n as f64 / secs / 1e6
        } else {
            0.0
        }
    );
    let list = |v: &[u64]| {
        v.iter()
            .enumerate()
            .filter(|(_, &x)| x > 0)
            .map(|(k, x)| format!("{k}:{x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        "exceptions by vector: {}",
        none_if_empty(list(&c.stats.exceptions))
    );
    let _ = writeln!(
        s,
        "interrupts by vector: {}",
        none_if_empty(list(&c.stats.interrupts))
    );
    let tl = c.tlb.hits + c.tlb.misses;
    let _ = writeln!(
        s,
        "TLB:                  {} misses, {} flushes, hit rate {:.2}%",
        c.tlb.misses,
        c.tlb.flushes,
        pct(c.tlb.hits, tl)
    );
    let dc = m.cache.hits + m.cache.misses;
    let _ = writeln!(
        s,
        "decode cache:         {} blocks built, {} invalidations, hit rate {:.2}%",
        m.cache.misses,
        m.cache.invalidations,
        pct(m.cache.hits, dc)
    );
    if c.stats.unimplemented > 0 {
        let _ = writeln!(
            s,
            "unimplemented instructions executed (#UD): {}",
            c.stats.unimplemented
        );
    }
    s
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        100.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn none_if_empty(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// Register dump for triple faults and traces.
pub fn state_dump(m: &Machine) -> String {
    let c = &m.core.cpu;
    let r = &c.gpr;
    format!(
        "eax={:08x} ebx={:08x} ecx={:08x} edx={:08x} esi={:08x} edi={:08x} ebp={:08x} esp={:08x}\neip={:08x} eflags={:08x} cs={:04x} ss={:04x} ds={:04x} es={:04x} cpl={} mode={} cr0={:08x} cr2={:08x} cr3={:08x}",
        r[0], r[3], r[1], r[2], r[6], r[7], r[5], r[4], c.eip, c.flags.get(), c.seg[1].sel, c.seg[2].sel, c.seg[3].sel, c.seg[0].sel, c.cpl, c.mode_name(), c.cr0, c.cr2, c.cr3
    )
}

/// `--trace`: one line per instruction.
pub struct Tracer {
    prev: traplab::cpu::state::Cpu,
    fmt: traplab::iced_x86::IntelFormatter,
}

impl Tracer {
    pub fn new(m: &Machine) -> Tracer {
        Tracer {
            prev: m.core.cpu.clone(),
            fmt: traplab::iced_x86::IntelFormatter::new(),
        }
    }

    pub fn line(&mut self, m: &Machine, out: &mut impl Write) -> Result<()> {
        use traplab::iced_x86::Formatter;
        let p = &self.prev;
        let pc = p.seg[1].base.wrapping_add(p.eip);
        let bytes = m.core.peek_lin(pc, 15).unwrap_or_default();
        let bits = if p.code32() { 32 } else { 16 };
        let mut d = traplab::iced_x86::Decoder::with_ip(
            bits,
            &bytes,
            p.eip as u64,
            traplab::iced_x86::DecoderOptions::NONE,
        );
        let ins = d.decode();
        let mut text = String::new();
        self.fmt.format(&ins, &mut text);
        let hex: String = bytes
            .iter()
            .take(ins.len())
            .map(|b| format!("{b:02x}"))
            .collect();
        let c = &m.core.cpu;
        let mut changes = Vec::new();
        for k in 0..8 {
            if c.gpr[k] != p.gpr[k] {
                changes.push(format!(
                    "{}={:08x}",
                    traplab::cpu::state::REG_NAMES[k],
                    c.gpr[k]
                ));
            }
        }
        if c.flags.get() != p.flags.get() {
            changes.push(format!("eflags={:08x}", c.flags.get()));
        }
        for k in 0..6 {
            if c.seg[k].sel != p.seg[k].sel {
                changes.push(format!(
                    "{}={:04x}",
                    traplab::mmu::segment::SEG_NAMES[k],
                    c.seg[k].sel
                ));
            }
        }
        for (n, a, b) in [
            (0, p.cr0, c.cr0),
            (2, p.cr2, c.cr2),
            (3, p.cr3, c.cr3),
            (4, p.cr4, c.cr4),
        ] {
            if a != b {
                changes.push(format!("cr{n}={b:08x}"));
            }
        }
        if c.cpl != p.cpl {
            changes.push(format!("cpl={}", c.cpl));
        }
        writeln!(
            out,
            "{:>10} {:04x}:{:08x} {:<20} {:<32} {}",
            m.icount(),
            p.seg[1].sel,
            p.eip,
            hex,
            text,
            changes.join(" ")
        )?;
        self.prev = c.clone();
        Ok(())
    }
}
