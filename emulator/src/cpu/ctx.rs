//! `Core`: everything an instruction handler may touch (CPU registers, physical memory,
//! the MMU, devices, virtual clock, counters). Handlers are `fn(&mut Core, &Insn) -> Res`.
//! The decoded-instruction cache is kept outside `Core` so handlers can run while a
//! block is borrowed; writes to code pages are reported through `smc_pages` and a
//! `Request::Rescan`.

use crate::bus::Memory;
use crate::cpu::state::Cpu;
use crate::devices::{Devices, IoEffect};
use crate::mmu::Mmu;
use crate::trace::monitor::{MonitorEffect, MonitorLedger, MONITOR_PORT};
use crate::trace::worlds::{place_key, Ledger};
use crate::trace::{Event, EventKind, EventLog, Stats};
use serde::{Deserialize, Serialize};

/// Virtual nanoseconds per clock tick: one retired instruction = one tick = 10 ns,
/// i.e. the guest sees a 100 MIPS machine whatever the host speed (the cycle model).
pub const NS_PER_TICK: u64 = 10;

pub use crate::cpu::request::{Request, Requests};

/// A port-write handler that needs the whole core rather than a device's state: it sees
/// the write before the devices do and returns true when it handled it (false: the write
/// goes on to the devices as ordinary I/O). The built-in BIOS's hypercall port is one
/// (`boot::bios::attach`).
pub type PortHook = fn(&mut Core, port: u16, size: u8, value: u32) -> bool;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Core {
    pub cpu: Cpu,
    pub mem: Memory,
    pub dev: Devices,
    /// Retired instructions.
    pub icount: u64,
    /// Ticks that retired no instruction: skipped while halted (also counted in
    /// `stats.halted_ticks`) and charged by the cost model (`ledger`, `trace::worlds`). The
    /// virtual clock, `clock()`, is `icount + idle_ticks`: one counter to bump per
    /// instruction instead of two.
    pub idle_ticks: u64,
    /// Address translation: TLB, A20 gate, alignment-check mode (serialized as the A20
    /// mask alone, in the place the mask always had in snapshots).
    pub mmu: Mmu,
    /// Clock tick at which the devices next need `update` (part of the saved state: an
    /// extra update at another time could move serial input earlier).
    pub next_dev_tick: u64,
    /// Pending requests to the dispatch loop (`Core::request`); saved as the request that
    /// ends a run, if any, in the place `Option<Request>` always had in snapshots.
    pub req: Requests,
    pub stats: Stats,
    /// AMD SVM: guest mode, GIF, the VMCB's cached controls (`cpu::svm`).
    pub svm: crate::cpu::svm::SvmState,
    /// Worlds, exits and the cost model (`trace::worlds`): counts and charged time.
    pub ledger: Ledger,
    #[serde(skip)]
    pub events: EventLog,
    /// What a guest-side monitor reported on the monitor ledger port (`trace::monitor`).
    /// Not saved, like the event log.
    #[serde(skip)]
    pub monitor: MonitorLedger,
    /// Physical pages holding cached code that were written.
    #[serde(skip)]
    pub smc_pages: Vec<u32>,
    /// Port-write hooks registered on this machine, by port (not saved: whoever installs
    /// them installs them again after a restore).
    #[serde(skip)]
    pub port_hooks: Vec<(u16, PortHook)>,
    /// Nesting of exception delivery (for #DF / triple fault detection).
    #[serde(skip)]
    pub delivering: Option<u8>,
    /// Exceptions delivered in a row without an instruction retiring, and the last one
    /// (vector, EIP it was raised at): a CPU whose handler faults again at once makes no
    /// progress and would never reach an instruction budget (`machine::Halt::Stuck`).
    /// Not saved: it is the loop's judgment of progress, not guest state.
    #[serde(skip)]
    pub stalls: u32,
    #[serde(skip)]
    pub last_raised: (u8, u32),
    /// Which segments the data fast paths may treat as flat (`Core::flat_segs`): a cache
    /// the dispatch loop refreshes before it runs instructions and that every change of a
    /// segment register, CR0.PE or EFLAGS.VM clears (`segs_changed`). Not saved.
    #[serde(skip)]
    pub flat: u8,
    /// While the dispatch loop runs a block: the retired count before the block's first
    /// instruction (minus the index it entered at), so that the count before instruction
    /// `idx` is `block_base + idx` (`sync`). Not saved (meaningful only inside a run).
    #[serde(skip)]
    pub block_base: u64,
    /// While the dispatch loop chains blocks: the retired count threads that branch back
    /// inside their block stop at (`exec::fast::in_block`): the loop's deadline, or
    /// `exec::thread::SPAN` past the count of its last call if that is sooner. Not saved.
    #[serde(skip)]
    pub chain_deadline: u64,
    /// Taken in-block branches that threads followed themselves: decode cache hits the
    /// loop adds to the cache's count after the chain (`Machine::execute`). Not saved.
    #[serde(skip)]
    pub branch_hits: u64,
    /// While the dispatch loop chains blocks: its chain number in the high half of a link
    /// key (`cache::link_key`), for threads that follow links themselves
    /// (`exec::thread::follow`). Not saved.
    #[serde(skip)]
    pub chain_key: u64,
    /// While the dispatch loop chains blocks: the index of the block the thread that the
    /// loop called runs in (threads enter linked blocks themselves). Not saved.
    #[serde(skip)]
    pub cur_block: u32,
}

impl Core {
    pub fn new(ram_bytes: usize, dev: Devices) -> Core {
        Core {
            cpu: Cpu::power_on(),
            mem: Memory::new(ram_bytes),
            dev,
            icount: 0,
            idle_ticks: 0,
            mmu: Mmu::default(),
            next_dev_tick: 0,
            req: Requests::default(),
            stats: Stats::default(),
            svm: Default::default(),
            ledger: Ledger::default(),
            events: EventLog::default(),
            monitor: MonitorLedger::default(),
            smc_pages: Vec::new(),
            port_hooks: Vec::new(),
            delivering: None,
            stalls: 0,
            last_raised: (0, 0),
            flat: 0,
            block_base: 0,
            chain_deadline: 0,
            branch_hits: 0,
            chain_key: 0,
            cur_block: 0,
        }
    }

    /// Stores what the dispatch loop keeps lazily while it runs a block: EIP after `i` and
    /// the retired count before it. Eager handlers get it before they start
    /// (`exec::thread::eager`); lazy ones call it before any path other than their inline fast
    /// path (a fault, a device, an event or a request may look at both).
    #[inline(always)]
    pub fn sync(&mut self, i: &crate::cpu::insn::Insn) {
        self.icount = self.block_base.wrapping_add(i.idx as u64);
        self.cpu.eip = i.next_ip;
    }

    /// How a handler of a chained block completes: `Ok`, or the `Exception::request()`
    /// marker when a request is pending (the dispatch loop tests only the result).
    #[inline(always)]
    pub fn done(&self) -> crate::cpu::exception::Res {
        if self.req.any() {
            Err(crate::cpu::exception::Exception::request())
        } else {
            Ok(())
        }
    }

    /// Asks the dispatch loop to act before the next instruction (see `Request`).
    #[inline(always)]
    pub fn request(&mut self, r: Request) {
        self.req.set(r);
    }

    /// Virtual clock in ticks: retired instructions plus ticks skipped while halted.
    #[inline(always)]
    pub fn clock(&self) -> u64 {
        self.icount + self.idle_ticks
    }

    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.clock() * NS_PER_TICK
    }

    /// The world the CPU runs in now, as `trace::worlds::place_key` packs it.
    #[inline(always)]
    pub fn world_key(&self) -> u32 {
        let asid = if self.svm.guest { self.svm.ctl.asid } else { 0 };
        place_key(asid, self.cpu.cpl == 3)
    }

    /// Adds `ticks` charged by the cost model to the virtual clock. The running chain of
    /// blocks ends after the current instruction, so that the device deadline it computed
    /// is recomputed from the new clock (the same in every slicing of a run).
    fn charge_ticks(&mut self, ticks: u64) {
        if ticks > 0 {
            self.idle_ticks += ticks;
            self.request(Request::Rescan);
        }
    }

    /// Ledger and cost model: a VMRUN entered a guest.
    pub fn ledger_vmrun(&mut self) {
        let t = self.ledger.vmrun(NS_PER_TICK);
        self.charge_ticks(t);
    }

    /// Ledger and cost model: a #VMEXIT with `code` (VMEXIT_INVALID included).
    pub fn ledger_vmexit(&mut self, code: u64) {
        let t = self.ledger.vmexit(code, NS_PER_TICK);
        self.charge_ticks(t);
    }

    /// Ledger and cost model: a nested page walk that made `refs` memory references (for
    /// the MMU's nested paging to call once per walk).
    pub fn ledger_nested_walk(&mut self, refs: u64) {
        let t = self.ledger.nested_walk(refs, NS_PER_TICK);
        self.charge_ticks(t);
    }

    pub fn event(&mut self, kind: EventKind) {
        let e = Event {
            icount: self.icount,
            cs: self.cpu.seg[1].sel,
            eip: self.cpu.eip,
            kind,
        };
        self.events.push(e);
    }

    /// Port input (after the privilege checks done by the instruction).
    pub fn io_read(&mut self, port: u16, size: u8) -> u32 {
        let now = self.now_ns();
        let v = self.dev.io_read(port, size, now);
        if self.events.io {
            self.event(EventKind::Io {
                write: false,
                port,
                size,
                value: v,
            });
        }
        self.request(Request::Rescan);
        // The access may have reprogrammed a timer: the devices, just brought up to now,
        // give their next deadline.
        self.set_dev_deadline();
        v
    }

    /// The device deadline (`next_dev_tick`) from the devices' next event, once they are
    /// up to the current time (after `Devices::update`, or a port access, which updates
    /// them first): the loop updates them again when the clock reaches it.
    pub fn set_dev_deadline(&mut self) {
        self.next_dev_tick = match self.dev.next_event_ns() {
            Some(ns) => ns.div_ceil(NS_PER_TICK).max(self.clock() + 1),
            None => u64::MAX,
        };
    }

    /// Registers `hook` for writes to `port` (replacing an earlier hook of that port).
    pub fn hook_port_write(&mut self, port: u16, hook: PortHook) {
        self.port_hooks.retain(|&(p, _)| p != port);
        self.port_hooks.push((port, hook));
    }

    /// Port output: a port hook first, else the devices; applies the effect on the machine.
    pub fn io_write(&mut self, port: u16, size: u8, v: u32) {
        let hook = self
            .port_hooks
            .iter()
            .find_map(|&(p, h)| (p == port).then_some(h));
        if let Some(hook) = hook {
            if hook(self, port, size, v) {
                self.request(Request::Rescan);
                return;
            }
        }
        if port == MONITOR_PORT && self.monitor.write(size, v) == MonitorEffect::Report {
            let n = self.monitor.reports;
            self.event(EventKind::Note(format!("monitor ledger report {n}")));
        }
        let now = self.now_ns();
        if self.events.io {
            self.event(EventKind::Io {
                write: true,
                port,
                size,
                value: v,
            });
        }
        // The VGA's registers (minios moves its cursor with four of these per character):
        // no interrupt, no timer, nothing for the loop to look at.
        if self.dev.write_vga(port, size, v) {
            return;
        }
        match self.dev.io_write(port, size, v, now) {
            IoEffect::None | IoEffect::DebugByte(_) => {}
            IoEffect::Exit(code) => self.request(Request::Exit(code)),
            IoEffect::Reset => self.request(Request::Reset),
            IoEffect::A20Changed(on) => self.set_a20(on),
            IoEffect::PostCode(c) => self.event(EventKind::PostCode(c)),
        }
        // A write may raise an IRQ, end the run, change A20 or reprogram a timer: let the
        // loop look, and recompute the device deadline.
        self.request(Request::Rescan);
        self.set_dev_deadline();
    }

    pub fn set_a20(&mut self, on: bool) {
        self.mmu.set_a20(on);
    }
}
