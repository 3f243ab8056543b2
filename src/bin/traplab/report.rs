//! What `traplab run` prints about the machine (as opposed to what the guest prints):
//! `--stats`, `--trace` lines, `--trace-io` port lines, the BIOS's notes and the register
//! dump after a triple fault. Reads the machine only through `Machine::inspect()`; it must
//! not change machine state or decide anything about the run.

use anyhow::Result;
use std::io::Write;
use traplab::cpu::state::REG_NAMES;
use traplab::iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use traplab::inspect::{exit_name, CpuState, EventKind};
use traplab::mmu::segment::{CS, DS, ES, SEG_NAMES, SS};
use traplab::Machine;

/// Prints the BIOS's notes (unsupported services, boot failures) logged since `seen`.
pub fn print_notes(m: &Machine, seen: &mut u64) {
    let ev = m.inspect().events();
    for e in ev.since(*seen) {
        if let EventKind::Note(n) = &e.kind {
            if n.starts_with("BIOS") {
                eprintln!("traplab: {n}");
            }
        }
    }
    *seen = ev.total();
}

/// `--trace-io`: prints the port accesses logged since `seen`.
pub fn print_io(m: &Machine, seen: &mut u64) {
    let ev = m.inspect().events();
    for e in ev.since(*seen) {
        if let EventKind::Io {
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
    *seen = ev.total();
}

/// `--stats`: counters after `n` instructions run in `secs` of wall time.
pub fn stats_text(m: &Machine, n: u64, secs: f64) -> String {
    use std::fmt::Write as _;
    let i = m.inspect();
    let counters = i.counters();
    let mut s = String::new();
    let _ = writeln!(s, "--- traplab statistics ---");
    let _ = writeln!(s, "instructions retired: {n}");
    let _ = writeln!(
        s,
        "virtual time:         {:.3} ms",
        counters.now_ns as f64 / 1e6
    );
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
        let l: Vec<String> = v
            .iter()
            .enumerate()
            .filter(|(_, &x)| x > 0)
            .map(|(k, x)| format!("{k}:{x}"))
            .collect();
        if l.is_empty() {
            "none".to_string()
        } else {
            l.join(" ")
        }
    };
    let _ = writeln!(s, "exceptions by vector: {}", list(&counters.exceptions));
    let _ = writeln!(s, "interrupts by vector: {}", list(&counters.interrupts));
    let tlb = i.mmu().tlb;
    let _ = writeln!(
        s,
        "TLB:                  {} misses, {} flushes, hit rate {:.2}%",
        tlb.misses,
        tlb.flushes,
        tlb.hit_rate()
    );
    let dc = i.decode_cache();
    let _ = writeln!(
        s,
        "decode cache:         {} blocks built, {} invalidations, hit rate {:.2}%",
        dc.misses,
        dc.invalidations,
        dc.hit_rate()
    );
    if counters.unimplemented > 0 {
        let _ = writeln!(
            s,
            "unimplemented instructions executed (#UD): {}",
            counters.unimplemented
        );
    }
    let l = i.ledger();
    if l.svm_used {
        svm_stats(&mut s, &l, &i.mmu().nested);
    }
    s
}

/// The SVM part of `--stats` (only when a guest ran): instructions by world, world
/// switches, the exit ledger, nested walks, TLB flushes and the charged virtual time.
fn svm_stats(
    s: &mut String,
    l: &traplab::inspect::LedgerState,
    nested: &traplab::inspect::NestedPaging,
) {
    use std::fmt::Write as _;
    let _ = writeln!(s, "--- worlds (instructions retired) ---");
    let _ = writeln!(
        s,
        "{:<10} {:>14} {:>14} {:>14}",
        "world", "kernel", "user", "total"
    );
    for w in &l.retired {
        let _ = writeln!(
            s,
            "{:<10} {:>14} {:>14} {:>14}",
            w.world.name(),
            w.kernel,
            w.user,
            w.kernel + w.user
        );
    }
    let _ = writeln!(
        s,
        "world switches:       {} VMRUN, {} #VMEXIT",
        l.vmruns, l.exit_total
    );
    let _ = writeln!(s, "--- exit ledger ---");
    let _ = writeln!(s, "{:<18} {:<16} {:>10}", "code", "name", "count");
    for e in &l.exits {
        let _ = writeln!(
            s,
            "{:<18} {:<16} {:>10}",
            format!("{:#x}", e.code),
            e.name,
            e.count
        );
    }
    // Charged walks are the misses of the TLB model saved with the machine (compulsory
    // misses, `mmu::charged`); the MMU's own count follows the software TLB, a host cache,
    // and is shown beside it (README, "The cost model").
    let _ = writeln!(
        s,
        "nested walks:         {} charged ({} memory references); {} made by the software TLB ({} references)",
        l.nested_walks, l.nested_refs, nested.walks, nested.refs
    );
    let _ = writeln!(s, "TLB flushes:          {}", l.tlb_flushes);
    let c = &l.charged;
    let _ = writeln!(
        s,
        "charged virtual time: {:.3} ms (vmrun {} x {} ns, vmexit {} x {} ns, nested_ref {} x {} ns)",
        c.total() as f64 / 1e6,
        l.vmruns,
        l.costs.vmrun,
        l.exit_total,
        l.costs.vmexit,
        l.nested_refs,
        l.costs.nested_ref,
    );
}

/// `--screen`: the VGA text screen on stderr, as the guest left it.
pub fn print_screen(m: &Machine) {
    let screen = m.inspect().screen();
    eprintln!("--- VGA text screen ---");
    for row in 0..traplab::devices::vga::ROWS {
        eprintln!("{}", screen.line(row).trim_end());
    }
}

/// `--hash`: the state hash on stderr, with the instruction it was taken at.
pub fn print_hash(m: &Machine) {
    eprintln!(
        "state hash: {:016x} at instruction {}",
        traplab::snapshot::state_hash(m),
        m.icount()
    );
}

/// Register dump for triple faults.
pub fn state_dump(m: &Machine) -> String {
    let c = m.inspect().cpu();
    let r = &c.gpr;
    let cr = &c.control;
    format!(
        "eax={:08x} ebx={:08x} ecx={:08x} edx={:08x} esi={:08x} edi={:08x} ebp={:08x} esp={:08x}\neip={:08x} eflags={:08x} cs={:04x} ss={:04x} ds={:04x} es={:04x} cpl={} mode={} cr0={:08x} cr2={:08x} cr3={:08x}",
        r[0], r[3], r[1], r[2], r[6], r[7], r[5], r[4], c.eip, c.eflags, c.seg[CS].selector,
        c.seg[SS].selector, c.seg[DS].selector, c.seg[ES].selector, c.cpl, c.mode.name(),
        cr.cr0, cr.cr2, cr.cr3
    )
}

/// `--trace`: one line per instruction, with the registers it changed.
pub struct Tracer {
    prev: CpuState,
    fmt: IntelFormatter,
    /// Events already looked at for world switches.
    seen: u64,
}

impl Tracer {
    pub fn new(m: &Machine) -> Tracer {
        Tracer {
            prev: m.inspect().cpu(),
            fmt: IntelFormatter::new(),
            seen: m.inspect().events().total(),
        }
    }

    /// One line per world switch (SVM's VMRUN and #VMEXIT) logged since the last call.
    pub fn world_switches(&mut self, m: &Machine, out: &mut impl Write) -> Result<()> {
        let ev = m.inspect().events();
        for e in ev.since(self.seen) {
            match e.kind {
                EventKind::Vmrun { asid, rip } => writeln!(
                    out,
                    "{:>10} ---- VMRUN: guest {asid} at {rip:08x}",
                    e.icount
                )?,
                EventKind::Vmexit {
                    code,
                    info1,
                    info2,
                    rip,
                    asid,
                } => writeln!(
                    out,
                    "{:>10} ---- #VMEXIT {} ({code:#x}) info1={info1:#x} info2={info2:#x} \
                     guest {asid} at {rip:08x}",
                    e.icount,
                    exit_name(code)
                )?,
                _ => {}
            }
        }
        self.seen = ev.total();
        Ok(())
    }

    /// Takes the current state as the reference for the next line.
    pub fn resync(&mut self, m: &Machine) {
        self.prev = m.inspect().cpu();
    }

    /// Where the CPU is (CS selector, EIP): to tell whether a step moved it.
    pub fn position(m: &Machine) -> (u16, u32) {
        m.inspect().cs_eip()
    }

    /// The line for an interrupt or exception delivered without retiring an instruction.
    pub fn delivered(&mut self, m: &Machine, out: &mut impl Write) -> Result<()> {
        let c = m.inspect().cpu();
        writeln!(
            out,
            "{:>10} ---- event delivered: now at {:04x}:{:08x} (cpl {})",
            m.icount(),
            c.seg[CS].selector,
            c.eip,
            c.cpl
        )?;
        self.prev = c;
        Ok(())
    }

    /// The line for the instruction that just retired (decoded from the state before it).
    pub fn line(&mut self, m: &Machine, out: &mut impl Write) -> Result<()> {
        let i = m.inspect();
        let p = &self.prev;
        let bytes = i.peek_linear(p.pc(), 15).unwrap_or_default();
        let bits = if p.code32() { 32 } else { 16 };
        let mut d = Decoder::with_ip(bits, &bytes, p.eip as u64, DecoderOptions::NONE);
        let ins = d.decode();
        let mut text = String::new();
        self.fmt.format(&ins, &mut text);
        let hex: String = bytes
            .iter()
            .take(ins.len())
            .map(|b| format!("{b:02x}"))
            .collect();
        let c = i.cpu();
        let line = format!(
            "{:>10} {:04x}:{:08x} {:<20} {:<32} {}",
            m.icount(),
            p.seg[CS].selector,
            p.eip,
            hex,
            text,
            changes(p, &c).join(" ")
        );
        writeln!(out, "{}", line.trim_end())?;
        self.prev = c;
        Ok(())
    }
}

/// The registers that differ between two states, as `name=value`.
fn changes(p: &CpuState, c: &CpuState) -> Vec<String> {
    let mut v = Vec::new();
    for ((name, now), before) in REG_NAMES.iter().zip(c.gpr).zip(p.gpr) {
        if now != before {
            v.push(format!("{name}={now:08x}"));
        }
    }
    if c.eflags != p.eflags {
        v.push(format!("eflags={:08x}", c.eflags));
    }
    for ((name, now), before) in SEG_NAMES.iter().zip(&c.seg).zip(&p.seg) {
        if now.selector != before.selector {
            v.push(format!("{name}={:04x}", now.selector));
        }
    }
    let (a, b) = (&p.control, &c.control);
    for (n, x, y) in [
        (0, a.cr0, b.cr0),
        (2, a.cr2, b.cr2),
        (3, a.cr3, b.cr3),
        (4, a.cr4, b.cr4),
    ] {
        if x != y {
            v.push(format!("cr{n}={y:08x}"));
        }
    }
    if c.cpl != p.cpl {
        v.push(format!("cpl={}", c.cpl));
    }
    v
}
