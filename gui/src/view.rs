//! `View`: the snapshot of machine state the machine thread publishes for the panels, and
//! `ViewRequest`: what the panels asked to see (memory window, page walk address...).
//! Built by copying plain values out of the session; it holds no reference to the machine.
//! The parts that grow (serial text, MIPS history, events) are shared between views until
//! they change, so publishing 64 views a second while running stays cheap.

use crate::symbols::Symbols;
use std::sync::Arc;
use traplab::cpu::state::{Cpu, ESP};
use traplab::debug::session::{Session, Stop, Watchpoint};
use traplab::devices::vga::{Cell, TextScreen};
use traplab::mmu::paging::{self, Access, WalkReport};
use traplab::mmu::segment::CS;
use traplab::trace::Event;
use traplab::RunExit;

/// Bytes of code published around EIP for the disassembly panel.
pub const CODE_BYTES: usize = 320;
pub const MEM_BYTES: usize = 256;
pub const STACK_WORDS: usize = 24;
pub const EVENTS_SHOWN: usize = 1_000;

/// A register the memory panel can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Follow {
    #[default]
    None,
    Gpr(usize),
    Eip,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewRequest {
    pub mem_addr: u32,
    pub mem_physical: bool,
    pub mem_follow: Follow,
    /// Start of the disassembly window; None follows EIP.
    pub code_addr: Option<u32>,
    pub walk_addr: u32,
}

impl Default for ViewRequest {
    fn default() -> Self {
        ViewRequest {
            mem_addr: 0x0010_0000,
            mem_physical: false,
            mem_follow: Follow::None,
            code_addr: None,
            walk_addr: 0x0010_0000,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct View {
    pub seq: u64,
    pub image: String,
    pub running: bool,
    pub status: String,
    pub error: Option<String>,
    pub serial: Arc<String>,
    pub mips: f64,
    pub mips_history: Arc<Vec<[f64; 2]>>,
    pub speed: Option<u64>,
    pub symbols: Arc<Symbols>,
    pub machine: Option<MachineView>,
}

#[derive(Clone, Debug)]
pub struct DeviceView {
    /// (name, irr, isr, imr, vector base) for master and slave.
    pub pics: Vec<(&'static str, u8, u8, u8, u8)>,
    /// (channel, mode, reload).
    pub pit: Vec<(usize, u8, u32)>,
    pub uart: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug)]
pub struct MachineView {
    pub cpu: Cpu,
    pub eflags: u32,
    pub prev_cpu: Option<Cpu>,
    pub icount: u64,
    pub clock: u64,
    pub oldest: u64,
    pub pc: u32,
    pub code_start: u32,
    pub code: Option<Vec<u8>>,
    pub code32: bool,
    pub mem_addr: u32,
    pub mem: Option<Vec<u8>>,
    /// (linear address, value) from ESP up.
    pub stack: Vec<(u32, Option<u32>)>,
    /// Walks for supervisor read, supervisor write, user read, user write.
    pub walks: Vec<(bool, bool, WalkReport)>,
    pub screen: Box<TextScreen>,
    pub cursor: (u8, u8, bool),
    /// The last `EVENTS_SHOWN` events.
    pub events: Arc<Vec<Event>>,
    /// The events of the lasting classes (faults, privilege and mode changes, system
    /// changes) the machine kept, oldest first: those older than `events` are shown too.
    pub lasting: Arc<Vec<Event>>,
    pub events_total: u64,
    pub breakpoints: Vec<u32>,
    pub watchpoints: Vec<Watchpoint>,
    pub exceptions: Vec<u64>,
    pub interrupts: Vec<u64>,
    pub halted_ticks: u64,
    pub tlb: (u64, u64),
    pub dcache: (u64, u64),
    pub devices: DeviceView,
}

/// The events list of the last view, reused while the machine's event log did not change.
#[derive(Default)]
pub struct EventsCache {
    /// (events ever logged, events kept, icount of the last one): the log only grows, and
    /// travelling back in time changes the count or the last event.
    key: Option<(u64, usize, u64)>,
    shown: Arc<Vec<Event>>,
    /// Lasting events ever logged (per class) when `lasting` was built.
    lasting_key: Option<([u64; traplab::trace::LASTING_CLASSES], usize)>,
    lasting: Arc<Vec<Event>>,
}

impl EventsCache {
    fn get(&mut self, log: &std::collections::VecDeque<Event>, total: u64) -> Arc<Vec<Event>> {
        let key = (total, log.len(), log.back().map_or(0, |e| e.icount));
        if self.key != Some(key) {
            let skip = log.len().saturating_sub(EVENTS_SHOWN);
            self.shown = Arc::new(log.iter().skip(skip).cloned().collect());
            self.key = Some(key);
        }
        self.shown.clone()
    }

    fn lasting(&mut self, log: &traplab::trace::EventLog) -> Arc<Vec<Event>> {
        let key = (log.lasting_total, log.lasting.iter().map(|r| r.len()).sum());
        if self.lasting_key != Some(key) {
            let mut all: Vec<Event> = log.lasting.iter().flatten().cloned().collect();
            all.sort_by_key(|e| e.icount);
            self.lasting = Arc::new(all);
            self.lasting_key = Some(key);
        }
        self.lasting.clone()
    }
}

impl MachineView {
    pub fn capture(
        s: &Session,
        req: &ViewRequest,
        prev: Option<&Cpu>,
        syms: &Symbols,
        events: &mut EventsCache,
    ) -> MachineView {
        let m = &s.m;
        let c = &m.core;
        let cpu = c.cpu.clone();
        let pc = m.pc();
        let code_start = match req.code_addr {
            Some(a) => a,
            None => code_anchor(pc, syms),
        };
        let code = c
            .peek_lin(code_start, CODE_BYTES)
            .or_else(|| c.peek_lin(pc, 64));
        let code_start = if c.peek_lin(code_start, CODE_BYTES).is_some() {
            code_start
        } else {
            pc
        };
        let mem_addr = match req.mem_follow {
            Follow::None => req.mem_addr,
            Follow::Gpr(r) => cpu.gpr[r & 7],
            Follow::Eip => pc,
        };
        let mem = if req.mem_physical {
            Some(c.mem.peek(mem_addr, MEM_BYTES))
        } else {
            c.peek_lin(mem_addr, MEM_BYTES)
        };
        let ss_base = cpu.seg[traplab::mmu::segment::SS].base;
        let stack = (0..STACK_WORDS as u32)
            .map(|k| {
                let lin = ss_base.wrapping_add(cpu.gpr[ESP]).wrapping_add(4 * k);
                let v = c
                    .peek_lin(lin, 4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                (lin, v)
            })
            .collect();
        let walks = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .map(|(user, write)| {
                let acc = Access {
                    write,
                    user,
                    fetch: false,
                };
                let r = paging::explain(&c.mem, cpu.cr0, cpu.cr3, cpu.cr4, req.walk_addr, acc);
                (user, write, r)
            })
            .collect();
        let d = &c.dev;
        let devices = DeviceView {
            pics: vec![
                (
                    "master",
                    d.pic.master.irr(),
                    d.pic.master.isr(),
                    d.pic.master.imr(),
                    d.pic.master.vector_base(),
                ),
                (
                    "slave",
                    d.pic.slave.irr(),
                    d.pic.slave.isr(),
                    d.pic.slave.imr(),
                    d.pic.slave.vector_base(),
                ),
            ],
            pit: d
                .pit
                .channels
                .iter()
                .enumerate()
                .map(|(i, ch)| (i, ch.mode(), ch.reload()))
                .collect(),
            uart: vec![
                ("IER", format!("{:#04x}", d.uart.ier())),
                ("LCR", format!("{:#04x}", d.uart.lcr())),
                ("MCR", format!("{:#04x}", d.uart.mcr())),
                ("IIR", format!("{:#04x}", d.uart.iir())),
                (
                    "divisor",
                    format!(
                        "{} ({} baud)",
                        d.uart.divisor(),
                        115_200 / d.uart.divisor().max(1) as u32
                    ),
                ),
                ("FIFO", d.uart.fifo_enabled().to_string()),
                (
                    "RX",
                    format!("{} + {}", d.uart.rx_len(), d.uart.pending_input()),
                ),
            ],
        };
        MachineView {
            eflags: cpu.flags.get(),
            prev_cpu: prev.cloned(),
            icount: c.icount,
            clock: c.clock(),
            oldest: s.oldest(),
            pc,
            code_start,
            code,
            code32: cpu.code32(),
            mem_addr,
            mem,
            stack,
            walks,
            screen: Box::new(d.text_screen(&c.mem.ram)),
            cursor: d.vga.cursor(),
            events: events.get(&c.events.events, c.events.total),
            lasting: events.lasting(&c.events),
            events_total: c.events.total,
            breakpoints: s.breakpoints.iter().copied().collect(),
            watchpoints: s.watchpoints.clone(),
            exceptions: c.stats.exceptions.clone(),
            interrupts: c.stats.interrupts.clone(),
            halted_ticks: c.stats.halted_ticks,
            tlb: (c.mmu.tlb.hits, c.mmu.tlb.misses),
            dcache: (m.cache.hits, m.cache.misses),
            devices,
            cpu,
        }
    }

    pub fn cs_base(&self) -> u32 {
        self.cpu.seg[CS].base
    }

    pub fn cell(&self, row: usize, col: usize) -> Cell {
        self.screen.cells[row][col]
    }
}

/// Where the disassembly starts when it follows EIP: the start of the enclosing symbol if
/// EIP is near it (so the lines before EIP show), else EIP itself.
fn code_anchor(pc: u32, syms: &Symbols) -> u32 {
    match syms.start_of(pc) {
        Some(s) if pc - s < 48 => s,
        _ => pc,
    }
}

/// A one-line description of why execution stopped.
pub fn stop_text(s: &Stop) -> String {
    match s {
        Stop::Done | Stop::Pending => String::new(),
        Stop::Breakpoint(a) => format!("breakpoint {a:#010x}"),
        Stop::Watchpoint { pc, addr, write } => format!(
            "watchpoint: {:#010x} {} {addr:#010x}",
            pc,
            if *write { "writes" } else { "reads" }
        ),
        Stop::Machine(RunExit::Exit(st)) => format!("guest exit, status {st}"),
        Stop::Machine(RunExit::Halted) => "halted for good".into(),
        Stop::Machine(RunExit::TripleFault) => "triple fault: shutdown".into(),
        Stop::Machine(RunExit::Reset) => "the guest asked for a reset".into(),
        Stop::Machine(r) => format!("{r:?}"),
        Stop::TooFarBack { oldest } => format!("too far back (oldest reachable: {oldest})"),
    }
}
