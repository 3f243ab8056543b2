//! gdb's `monitor` commands: what gdb has no command for (control and system registers,
//! the page walk of an address, the world the CPU runs in, the event log, the exit ledger).
//! Text in, text out; it reads the session and changes nothing.

use super::session::Session;
use crate::mmu::paging::Access;
use std::fmt::Write as _;

const HELP: &str = "\
Traplab monitor commands:
  monitor cr              control and system registers (CR0 CR2 CR3 CR4, GDTR, IDTR, LDTR, TR, CPL, EFER)
  monitor walk ADDR [w] [u]
                          the page walk of linear ADDR (as a read, or a write / user access)
  monitor world           the world the CPU runs in (host or guest)
  monitor events [N]      the last N machine events (default 20)
  monitor exits           the exit ledger (VM exits)
  monitor icount          instructions retired so far
  monitor help            this list";

/// Runs one monitor command line and returns what to print.
pub fn run(s: &Session, line: &str) -> String {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("help");
    let args: Vec<&str> = words.collect();
    match cmd {
        "help" => HELP.to_string(),
        "cr" | "sys" => control_regs(s),
        "walk" => match args.first().and_then(|a| parse_num(a)) {
            Some(lin) => {
                let write = args[1..].iter().any(|a| *a == "w" || *a == "write");
                let user = args[1..].iter().any(|a| *a == "u" || *a == "user");
                walk(s, lin, write, user)
            }
            None => "usage: monitor walk ADDR [w] [u]   (ADDR: 0x-prefixed hex or decimal)".into(),
        },
        "world" => {
            "world: host (Traplab has no SVM yet, so the CPU always runs in the host world)".into()
        }
        "events" => {
            let n = match args.first() {
                None => Some(20),
                Some(a) => parse_num(a).map(|v| v as usize),
            };
            match n {
                Some(n) => events(s, n),
                None => "usage: monitor events [N]".into(),
            }
        }
        "exits" => {
            "exit ledger: empty (Traplab has no SVM yet, so there are no VM exits to record)".into()
        }
        "icount" => format!("instructions retired: {}", s.icount()),
        other => format!("unknown monitor command `{other}` (try `monitor help`)"),
    }
}

/// `0x`-prefixed hex or decimal.
fn parse_num(a: &str) -> Option<u32> {
    match a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => a.parse().ok(),
    }
}

fn control_regs(s: &Session) -> String {
    let c = s.m.inspect().cpu();
    let bits = |v: u32, names: &[(u32, &str)]| {
        let on: Vec<&str> = names
            .iter()
            .filter(|(b, _)| v & b != 0)
            .map(|(_, n)| *n)
            .collect();
        on.join(" ")
    };
    use crate::cpu::state::{cr0, cr4};
    let cr0_names = [
        (cr0::PE, "PE"),
        (cr0::MP, "MP"),
        (cr0::EM, "EM"),
        (cr0::TS, "TS"),
        (cr0::ET, "ET"),
        (cr0::NE, "NE"),
        (cr0::WP, "WP"),
        (cr0::AM, "AM"),
        (cr0::NW, "NW"),
        (cr0::CD, "CD"),
        (cr0::PG, "PG"),
    ];
    let cr4_names = [
        (cr4::VME, "VME"),
        (cr4::PVI, "PVI"),
        (cr4::TSD, "TSD"),
        (cr4::DE, "DE"),
        (cr4::PSE, "PSE"),
        (cr4::PAE, "PAE"),
        (cr4::MCE, "MCE"),
        (cr4::PGE, "PGE"),
        (cr4::PCE, "PCE"),
    ];
    let mut o = String::new();
    let _ = writeln!(
        o,
        "cr0  {:#010x}  [{}]",
        c.control.cr0,
        bits(c.control.cr0, &cr0_names)
    );
    let _ = writeln!(o, "cr2  {:#010x}", c.control.cr2);
    let _ = writeln!(o, "cr3  {:#010x}", c.control.cr3);
    let _ = writeln!(
        o,
        "cr4  {:#010x}  [{}]",
        c.control.cr4,
        bits(c.control.cr4, &cr4_names)
    );
    let _ = writeln!(
        o,
        "gdtr base {:#010x} limit {:#06x}",
        c.gdtr.base, c.gdtr.limit
    );
    let _ = writeln!(
        o,
        "idtr base {:#010x} limit {:#06x}",
        c.idtr.base, c.idtr.limit
    );
    let _ = writeln!(
        o,
        "ldtr {:#06x} base {:#010x} limit {:#x}",
        c.ldtr.selector, c.ldtr.base, c.ldtr.limit
    );
    let _ = writeln!(
        o,
        "tr   {:#06x} base {:#010x} limit {:#x}",
        c.tr.selector, c.tr.base, c.tr.limit
    );
    let _ = writeln!(o, "efer {:#x}", c.msr.efer);
    let _ = write!(o, "cpl {}  mode {}", c.cpl, c.mode.name());
    o
}

fn walk(s: &Session, lin: u32, write: bool, user: bool) -> String {
    let insp = s.m.inspect();
    let acc = Access {
        write,
        user,
        fetch: false,
    };
    let r = insp.walk(lin, acc);
    let mut o = String::new();
    let what = match (user, write) {
        (false, false) => "supervisor read",
        (false, true) => "supervisor write",
        (true, false) => "user read",
        (true, true) => "user write",
    };
    let _ = writeln!(o, "linear {lin:#010x} ({what})");
    if !r.paging && r.nested.is_none() && r.npf.is_none() {
        let _ = write!(
            o,
            "paging is off (CR0.PG = 0): physical = linear = {lin:#010x}"
        );
        return o;
    }
    crate::mmu::explain::write_report(&mut o, &r, insp.control().cr3);
    o
}

fn events(s: &Session, n: usize) -> String {
    let ev = s.m.inspect().events();
    if ev.is_empty() {
        return "event log: empty".into();
    }
    let skip = ev.len().saturating_sub(n);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "last {} of {} events (instruction count, CS:EIP, event):",
        ev.len() - skip,
        ev.total()
    );
    for e in ev.iter().skip(skip) {
        let _ = writeln!(
            o,
            "{:>12} {:04x}:{:08x} {:?}",
            e.icount, e.cs, e.eip, e.kind
        );
    }
    o.pop();
    o
}
