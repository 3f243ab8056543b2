//! `View`: the snapshot of machine state the machine thread publishes for the panels, and
//! `ViewRequest`: what the panels asked to see (memory window, page walk address...).
//! Built by copying plain values out of the session through the core's read-only inspection
//! API (`Machine::inspect()`); it holds no reference to the machine.
//! The parts that grow (serial text, MIPS history, events) are shared between views until
//! they change, so publishing 64 views a second while running stays cheap.

use crate::minios_tables::Tables;
use crate::symbols::Symbols;
use std::sync::Arc;
use traplab::cpu::state::ESP;
use traplab::debug::session::{Session, Stop, Watchpoint};
use traplab::devices::vga::{Cell, TextScreen};
use traplab::inspect::{
    Access, Counters, CpuState, Cursor, DecodeCacheStats, DeviceRegs, Event, Events, LedgerState,
    MmuState, MonitorCounter, VmcbState, WalkReport, World,
};
use traplab::mmu::segment::{CS, SS};
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
    /// The Containers view is open: read minios's process tables (`minios_tables`).
    pub os_tables: bool,
}

impl Default for ViewRequest {
    fn default() -> Self {
        ViewRequest {
            mem_addr: 0x0010_0000,
            mem_physical: false,
            mem_follow: Follow::None,
            code_addr: None,
            walk_addr: 0x0010_0000,
            os_tables: false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct View {
    pub seq: u64,
    pub image: String,
    /// The Multiboot modules it booted with (guest kernels, for the architecture view).
    pub modules: Arc<Vec<String>>,
    pub running: bool,
    pub status: String,
    /// A step over / step out / run to still running (an i18n key saying what it waits
    /// for): the guest runs freely until then.
    pub pending: Option<&'static str>,
    pub error: Option<String>,
    pub serial: Arc<String>,
    pub mips: f64,
    pub mips_history: Arc<Vec<[f64; 2]>>,
    pub speed: Option<u64>,
    /// The symbols of the code that runs now (`symbols_for`): the booted image's on the
    /// host, the guest kernel's (the first ELF module) in a guest.
    pub symbols: Arc<Symbols>,
    /// The booted image's symbols (the hypervisor, the monitor or the host kernel).
    pub host_symbols: Arc<Symbols>,
    /// The guest kernel's symbols (the first Multiboot module that is an ELF), if any.
    pub guest_symbols: Arc<Symbols>,
    pub machine: Option<MachineView>,
    /// "Attach gdb" is on: where it listens or who is attached.
    pub gdb: Option<String>,
}

impl View {
    /// The symbols of one world: the guest kernel's for guest code (when the guest is an
    /// ELF with symbols), else the booted image's.
    pub fn symbols_for(&self, guest: bool) -> &Symbols {
        if guest && !self.guest_symbols.is_empty() {
            &self.guest_symbols
        } else {
            &self.host_symbols
        }
    }

    /// An address typed by the user (`symbols::parse_address`): a name is looked up in the
    /// world that runs now first, then in the other.
    pub fn parse_address(&self, text: &str) -> Option<u32> {
        crate::symbols::parse_address(text, &self.symbols).or_else(|| {
            let other = if Arc::ptr_eq(&self.symbols, &self.guest_symbols) {
                &self.host_symbols
            } else {
                &self.guest_symbols
            };
            crate::symbols::parse_address(text, other)
        })
    }

    /// `name+0x14` for an address in the host's and in the guest's symbols: both when they
    /// differ (hv1 and its guests are all linked at 1 MiB), e.g. `main | guest kmain+0x4`.
    pub fn describe_any(&self, addr: u32) -> Option<String> {
        let host = self.host_symbols.describe(addr);
        let guest = self.guest_symbols.describe(addr);
        match (host, guest) {
            (Some(h), Some(g)) if h != g => Some(format!("{h} | guest {g}")),
            (Some(h), _) => Some(h),
            (None, Some(g)) => Some(format!("guest {g}")),
            (None, None) => None,
        }
    }
}

/// Does the CPU run guest code now: an SVM guest, or (a monitor that never used SVM and
/// booted a guest kernel as a module: trap-and-emulate) a deprivileged ring? Decides whose
/// symbols name the code (`View::symbols`).
pub fn guest_code_runs(s: &Session, has_guest: bool) -> bool {
    let i = s.m.inspect();
    if i.world() != World::Host {
        return true;
    }
    has_guest && i.cpu().cpl > 0 && !i.ledger().svm_used
}

/// The page walk of the requested address for one kind of access.
#[derive(Clone, Debug)]
pub struct Walk {
    pub user: bool,
    pub write: bool,
    pub report: WalkReport,
}

/// What the panels show of the machine, captured through `Machine::inspect()`.
#[derive(Clone, Debug)]
pub struct MachineView {
    pub cpu: CpuState,
    pub prev_cpu: Option<CpuState>,
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
    pub walks: Vec<Walk>,
    pub screen: Box<TextScreen>,
    pub cursor: Cursor,
    /// The last `EVENTS_SHOWN` events.
    pub events: Arc<Vec<Event>>,
    /// The events of the lasting classes (faults, privilege and mode changes, system
    /// changes) the machine kept, oldest first: those older than `events` are shown too.
    pub lasting: Arc<Vec<Event>>,
    pub events_total: u64,
    pub breakpoints: Vec<u32>,
    pub watchpoints: Vec<Watchpoint>,
    /// Exceptions and interrupts by vector, halted time.
    pub counters: Counters,
    pub mmu: MmuState,
    pub decode_cache: DecodeCacheStats,
    pub devices: DeviceRegs,
    /// The world that runs (host or guest ASID), instructions by world, exits by code.
    pub ledger: LedgerState,
    /// The current (or last) guest's VMCB, decoded; None if SVM was never used.
    pub vmcb: Option<VmcbState>,
    /// minios's process tables when asked (`ViewRequest::os_tables`): the host kernel's,
    /// and those of the guest running now (its ASID), read with the guest's symbols.
    pub os_host: Option<Arc<Result<Tables, String>>>,
    pub os_guest: Option<(u32, Arc<Result<Tables, String>>)>,
    /// The ledger a guest-side monitor (tevmm) reported on the monitor ledger port; empty
    /// without one.
    pub monitor: Vec<MonitorCounter>,
    /// Under tevmm: the requested address walked through the guest's own tables beside the
    /// shadow tables the real CR3 points to (`capture_shadow`).
    pub shadow: Option<ShadowPair>,
}

/// One linear address under a shadow-paging monitor: the guest's walk (its virtual CR3) and
/// the real one (the shadow tables).
#[derive(Clone, Debug)]
pub struct ShadowPair {
    /// The guest's virtual CR0, CR3 and CR4, read from the monitor's `struct vcpu`.
    pub vcr: [u32; 3],
    pub guest: WalkReport,
    pub shadow: WalkReport,
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
    fn get(&mut self, ev: Events) -> Arc<Vec<Event>> {
        let key = (ev.total(), ev.len(), ev.last().map_or(0, |e| e.icount));
        if self.key != Some(key) {
            let skip = ev.len().saturating_sub(EVENTS_SHOWN);
            self.shown = Arc::new(ev.iter().skip(skip).cloned().collect());
            self.key = Some(key);
        }
        self.shown.clone()
    }

    fn lasting(&mut self, ev: Events) -> Arc<Vec<Event>> {
        let key = (ev.lasting_total(), ev.lasting_len());
        if self.lasting_key != Some(key) {
            let mut all: Vec<Event> = ev.lasting().cloned().collect();
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
        prev: Option<&CpuState>,
        syms: &Symbols,
        events: &mut EventsCache,
    ) -> MachineView {
        let i = s.m.inspect();
        let cpu = i.cpu();
        let pc = i.pc();
        let code_start = match req.code_addr {
            Some(a) => a,
            None => code_anchor(pc, syms),
        };
        let (code_start, code) = match i.peek_linear(code_start, CODE_BYTES) {
            Some(c) => (code_start, Some(c)),
            None => (pc, i.peek_linear(pc, 64)),
        };
        let mem_addr = match req.mem_follow {
            Follow::None => req.mem_addr,
            Follow::Gpr(r) => cpu.gpr[r & 7],
            Follow::Eip => pc,
        };
        let mem = if req.mem_physical {
            Some(i.peek_physical(mem_addr, MEM_BYTES))
        } else {
            i.peek_linear(mem_addr, MEM_BYTES)
        };
        let ss_base = cpu.seg[SS].base;
        let stack = (0..STACK_WORDS as u32)
            .map(|k| {
                let lin = ss_base.wrapping_add(cpu.gpr[ESP]).wrapping_add(4 * k);
                (lin, i.peek_linear_u32(lin))
            })
            .collect();
        let walks = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .map(|(user, write)| Walk {
                user,
                write,
                report: i.walk(
                    req.walk_addr,
                    Access {
                        write,
                        user,
                        fetch: false,
                    },
                ),
            })
            .collect();
        let ev = i.events();
        let counters = i.counters();
        MachineView {
            prev_cpu: prev.cloned(),
            icount: counters.icount,
            clock: counters.clock,
            oldest: s.oldest(),
            pc,
            code_start,
            code,
            code32: cpu.code32(),
            mem_addr,
            mem,
            stack,
            walks,
            screen: Box::new(i.screen()),
            cursor: i.cursor(),
            events: events.get(ev),
            lasting: events.lasting(ev),
            events_total: ev.total(),
            breakpoints: s.breakpoints.iter().copied().collect(),
            watchpoints: s.watchpoints.clone(),
            counters,
            mmu: i.mmu(),
            decode_cache: i.decode_cache(),
            devices: i.devices(),
            ledger: i.ledger(),
            vmcb: i.vmcb(),
            os_host: None,
            os_guest: None,
            monitor: i.monitor_ledger(),
            shadow: None,
            cpu,
        }
    }

    /// Under tevmm (its image has `vcpu` and `shadow_flush`), walks the requested address
    /// through the guest's tables and through the shadow ones. tevmm's `struct vcpu` starts
    /// with the guest's cr0, cr2, cr3, cr4 (samples/tevmm/tevmm.h); the monitor is mapped at
    /// its link address in every shadow directory, so the symbol's address reads it.
    pub fn capture_shadow(&mut self, s: &Session, req: &ViewRequest, host_syms: &Symbols) {
        let (Some(vcpu), Some(_)) = (
            host_syms.address_of("vcpu"),
            host_syms.address_of("shadow_flush"),
        ) else {
            return;
        };
        if self.cpu.control.cr0 & 0x8000_0000 == 0 {
            return; // before the monitor's own paging: nothing is shadowed yet
        }
        let i = s.m.inspect();
        let field = |k: u32| i.peek_linear_u32(vcpu.wrapping_add(4 * k));
        let (Some(cr0), Some(cr3), Some(cr4)) = (field(0), field(2), field(3)) else {
            return;
        };
        let access = Access {
            write: false,
            user: false,
            fetch: false,
        };
        self.shadow = Some(ShadowPair {
            vcr: [cr0, cr3, cr4],
            guest: i.walk_tables(cr0, cr3, cr4, req.walk_addr, access),
            shadow: i.walk(req.walk_addr, access),
        });
    }

    /// Reads minios's process tables if `req` asks: the host's through physical memory
    /// (minios's kernel runs where it is loaded), the running guest's through its own
    /// paging (and the nested tables) with the guest kernel's symbols `guest_syms`.
    pub fn capture_os(
        &mut self,
        s: &Session,
        req: &ViewRequest,
        host_syms: &Symbols,
        guest_syms: &Symbols,
    ) {
        if !req.os_tables {
            return;
        }
        if let Some(h) = s.m.inspect_world(World::Host) {
            let peek = |a: u32, n: usize| Some(h.peek_physical(a, n));
            self.os_host = Some(Arc::new(Tables::read(host_syms, &peek)));
        }
        let i = s.m.inspect();
        if let (World::Guest { asid }, false) = (i.world(), guest_syms.is_empty()) {
            let peek = |a: u32, n: usize| i.peek_linear(a, n);
            self.os_guest = Some((asid, Arc::new(Tables::read(guest_syms, &peek))));
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
/// EIP is within the first 192 bytes (so the lines before EIP show; the panel scrolls to
/// EIP), else EIP itself.
fn code_anchor(pc: u32, syms: &Symbols) -> u32 {
    match syms.start_of(pc) {
        Some(s) if pc - s < 192 => s,
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
