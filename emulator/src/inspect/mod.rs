//! The read-only inspection API: what front ends (the GUI, the CLI's `--stats` and
//! `--trace`, the debugger session, the test-vector runner) may know about a running
//! machine, as named, owned snapshot structs.
//!
//! Owns: the shapes of those snapshots ([`CpuState`], [`SegmentState`], [`ControlRegs`],
//! [`MmuState`], [`DecodeCacheStats`], [`Counters`], [`DeviceRegs`] (with [`ApicRegs`]),
//! [`Events`]...) and the translation from core internals to them. A front end that reads machine state goes
//! through [`Machine::inspect`]; when the core's internals move, only this module changes.
//!
//! Must not: change machine state (every method takes `&self`, and memory reads are
//! side-effect-free peeks: no accessed/dirty bits, no device reads, no TLB fills); be called
//! by the execution path (the dispatch loop and the instruction handlers never touch it, so
//! it costs nothing unless a front end asks); hand out references into core internals other
//! than the event log's immutable records.
//!
//! Worlds: every snapshot carries the [`World`] it describes: the host ([`World::Host`]),
//! or an SVM guest by its ASID ([`World::Guest`]) once the machine has run one.
//! [`Machine::inspect`] describes the world that runs now (what the CPU executes: the guest
//! between VMRUN and #VMEXIT); [`Machine::inspect_world`] picks one, and a world that does
//! not run now is read from where the world switch keeps it (the VMCB's save area for a
//! guest, the host save area for the host: `cpu::svm::vmcb::saved_cpu`). [`Inspector::svm`]
//! shows the SVM state and the current VMCB's controls.

mod apic;
mod cpu;
mod devices;
mod fpu;
mod stats;
mod svm;
#[cfg(test)]
mod tests;
mod worlds;

pub use crate::cpu::svm::exit_name;
pub use crate::mmu::paging::{Access, WalkReport, WalkStep};
pub use crate::trace::monitor::{MonitorCounter, MONITOR_PORT};
pub use crate::trace::{Event, EventKind};
pub use apic::{delivery_mode_name, ApicRegs, IoApicRegs, LapicRegs, LvtEntry, RedirEntry};
pub use cpu::{ControlRegs, CpuMode, CpuState, MsrState, SegmentState, TableRegState};
pub use devices::{Cursor, DeviceRegs, PicRegs, PitChannelRegs, UartRegs};
pub use fpu::{FpuReg, FpuState, EXCEPTION_BITS, MASK_BITS, STATUS_BITS};
pub use stats::{Counters, DecodeCacheStats, Events, MmuState, NestedPaging, PagingMode, TlbStats};
pub use svm::{intercept_names, LastExit, SvmView};
pub use worlds::{Charged, Costs, ExitCount, LedgerState, VmcbState, WorldCount};

use crate::cpu::state::Cpu;
use crate::cpu::svm::vmcb::saved_cpu;
use crate::devices::vga::TextScreen;
use crate::machine::Machine;
use crate::mmu::segment::{CS, SS};
use std::borrow::Cow;

/// Which world a snapshot describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum World {
    /// The machine itself (no virtualization), or the hypervisor's side of it.
    #[default]
    Host,
    /// An SVM guest, named by its address-space identifier (the VMCB's ASID).
    Guest { asid: u32 },
}

impl World {
    /// Short name for listings: `host` or `guest 3`.
    pub fn name(&self) -> String {
        match self {
            World::Host => "host".into(),
            World::Guest { asid } => format!("guest {asid}"),
        }
    }
}

/// A read-only view of one world of a machine. Cheap to make (two words); every method
/// copies what it returns out of the machine.
#[derive(Clone, Copy)]
pub struct Inspector<'a> {
    m: &'a Machine,
    world: World,
}

impl Machine {
    /// The world that runs now: the host, or the SVM guest between VMRUN and #VMEXIT.
    pub fn live_world(&self) -> World {
        let s = &self.core.svm;
        if s.guest {
            World::Guest { asid: s.ctl.asid }
        } else {
            World::Host
        }
    }

    /// The read-only inspection API over the world that runs now (the host unless an SVM
    /// guest runs).
    pub fn inspect(&self) -> Inspector<'_> {
        Inspector {
            m: self,
            world: self.live_world(),
        }
    }

    /// The inspection API over `world`, if the machine has it (`worlds`).
    pub fn inspect_world(&self, world: World) -> Option<Inspector<'_>> {
        self.worlds()
            .contains(&world)
            .then_some(Inspector { m: self, world })
    }

    /// The worlds this machine has, host first: the host, and the guest of the current
    /// VMCB once a VMRUN has entered one.
    pub fn worlds(&self) -> Vec<World> {
        let s = &self.core.svm;
        let mut w = vec![World::Host];
        if s.guest || s.vmruns > 0 {
            w.push(World::Guest { asid: s.ctl.asid });
        }
        w
    }
}

impl<'a> Inspector<'a> {
    pub fn world(&self) -> World {
        self.world
    }

    /// The register file of this world: the live one if it runs now, else the one the
    /// world switch saved (see the module docs).
    fn regs(&self) -> Cow<'a, Cpu> {
        let c = &self.m.core;
        if self.world == self.m.live_world() {
            return Cow::Borrowed(&c.cpu);
        }
        Cow::Owned(match self.world {
            World::Host => saved_cpu(c, c.svm.hsave_pa as u32, false),
            World::Guest { .. } => saved_cpu(c, c.svm.vmcb, true),
        })
    }

    /// Every register of the CPU, hidden segment state included.
    pub fn cpu(&self) -> CpuState {
        let mut s = CpuState::capture(&self.regs(), self.world);
        s.popek_goldberg = self.m.popek_goldberg();
        s
    }

    /// CR0, CR2, CR3 and CR4.
    pub fn control(&self) -> ControlRegs {
        ControlRegs::capture(&self.regs())
    }

    /// One general register by encoding number (`cpu::state::EAX`..`EDI`), without
    /// copying the whole register file (in the world that runs).
    pub fn gpr(&self, r: usize) -> u32 {
        self.regs().gpr[r & 7]
    }

    pub fn eip(&self) -> u32 {
        self.regs().eip
    }

    /// One segment register (`mmu::segment::ES`..`GS`) with its hidden part.
    pub fn segment(&self, s: usize) -> SegmentState {
        SegmentState::capture(&self.regs().seg[s])
    }

    /// Linear address of the next instruction (CS base + EIP).
    pub fn pc(&self) -> u32 {
        let c = self.regs();
        c.seg[CS].base.wrapping_add(c.eip)
    }

    /// The SVM state: world, GIF, MSRs, the current VMCB's cached controls (intercepts by
    /// name) and its last exit.
    pub fn svm(&self) -> SvmView {
        SvmView::capture(&self.m.core, self.world)
    }

    /// Linear address of the top of the stack (SS base + ESP, or + SP on a 16-bit stack).
    pub fn stack_top(&self) -> u32 {
        let c = &*self.regs();
        let sp = if c.stack32() {
            c.gpr[crate::cpu::state::ESP]
        } else {
            c.gpr[crate::cpu::state::ESP] & 0xFFFF
        };
        c.seg[SS].base.wrapping_add(sp)
    }

    pub fn mode(&self) -> CpuMode {
        CpuMode::of(&self.regs())
    }

    /// The code segment is 32-bit (instructions decode with 32-bit defaults).
    pub fn code32(&self) -> bool {
        self.regs().code32()
    }

    /// The CPU executed HLT and waits for an interrupt (a world that does not run is not
    /// halted).
    pub fn halted(&self) -> bool {
        self.regs().halted
    }

    /// CS selector and EIP: where the CPU is, as a debugger prints it.
    pub fn cs_eip(&self) -> (u16, u32) {
        let c = self.regs();
        (c.seg[CS].sel, c.eip)
    }

    /// Retired instructions, virtual time, and the exception/interrupt counters.
    pub fn counters(&self) -> Counters {
        Counters::capture(self.m, self.world)
    }

    pub fn icount(&self) -> u64 {
        self.m.core.icount
    }

    /// Virtual time in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        self.m.core.now_ns()
    }

    /// The exit ledger: the world running now, instructions by world, exits by code,
    /// nested walks, TLB flushes and the virtual time the cost model charged.
    pub fn ledger(&self) -> LedgerState {
        LedgerState::capture(self.m)
    }

    /// The VMCB of the guest that runs or ran last, decoded (None if SVM was never used).
    pub fn vmcb(&self) -> Option<VmcbState> {
        VmcbState::capture(self.m)
    }

    /// Paging mode, A20 and TLB statistics.
    pub fn mmu(&self) -> MmuState {
        MmuState::capture(&self.m.core, self.world)
    }

    pub fn decode_cache(&self) -> DecodeCacheStats {
        DecodeCacheStats::capture(&self.m.cache, self.world)
    }

    /// Registers of the PICs, PIT channels, COM1 and (when present) the APICs.
    pub fn devices(&self) -> DeviceRegs {
        DeviceRegs::capture(&self.m.core.dev, self.world, self.m.core.now_ns())
    }

    /// The event log (the last events recorded, and how many were ever recorded).
    pub fn events(&self) -> Events<'a> {
        Events::new(&self.m.core.events, self.world)
    }

    /// The ledger a guest-side monitor (tevmm) reported on the monitor ledger port: its
    /// counters by id with their names (empty when no monitor wrote there;
    /// `trace::monitor` has the protocol). The same for every world: it is the machine's.
    pub fn monitor_ledger(&self) -> Vec<MonitorCounter> {
        self.m.core.monitor.counters()
    }

    /// Linear breakpoints the machine stops at.
    pub fn breakpoints(&self) -> &'a [u32] {
        &self.m.breakpoints
    }

    /// `len` bytes at a linear address, translated with the current paging state but without
    /// side effects; None if any byte is unmapped or outside RAM.
    pub fn peek_linear(&self, lin: u32, len: usize) -> Option<Vec<u8>> {
        if self.world == self.m.live_world() {
            return self.m.core.peek_lin(lin, len);
        }
        // Another world: its own paging registers (guest-physical addresses are taken as
        // physical: nested translation is not applied here).
        let c = &self.m.core;
        let regs = self.regs().paging_regs();
        let mut out = Vec::with_capacity(len);
        for k in 0..len as u32 {
            let phys = c.mmu.peek_translate(&c.mem, &regs, lin.wrapping_add(k))?;
            out.push(c.mem.read_u8(phys));
        }
        Some(out)
    }

    /// A little-endian dword at a linear address (None if unmapped).
    pub fn peek_linear_u32(&self, lin: u32) -> Option<u32> {
        self.peek_linear(lin, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `len` bytes of physical memory as the CPU would read them (RAM, then ROM, else 0xFF
    /// like an open bus), without device side effects.
    pub fn peek_physical(&self, phys: u32, len: usize) -> Vec<u8> {
        self.m.core.mem.peek(phys, len)
    }

    /// The page walk for `lin` and one kind of access, step by step, without setting
    /// accessed or dirty bits.
    pub fn walk(&self, lin: u32, access: Access) -> WalkReport {
        let mut regs = self.regs().paging_regs();
        let c = &self.m.core;
        if self.world == self.m.live_world() {
            // The live world: under nested paging, the 2-D walk.
            c.mmu.explain(&c.mem, &regs, lin, access)
        } else {
            // A world's saved registers have no PDPTE registers: read them from memory.
            regs.pdpte_mem = true;
            crate::mmu::paging::explain_regs(&c.mem, &regs, lin, access)
        }
    }

    /// The walk of `lin` through page tables in physical memory under the given control
    /// registers instead of the CPU's: a guest-side monitor's virtual CR0/CR3/CR4 (tevmm's
    /// guest tables, whose guest-physical addresses are host-physical), without side effects.
    pub fn walk_tables(
        &self,
        cr0: u32,
        cr3: u32,
        cr4: u32,
        lin: u32,
        access: Access,
    ) -> WalkReport {
        let regs = crate::mmu::paging::PagingRegs {
            cr0,
            cr3,
            cr4,
            pdpte: [0; 4],
            pdpte_mem: true,
        };
        crate::mmu::paging::explain_regs(&self.m.core.mem, &regs, lin, access)
    }

    /// The VGA text screen as the guest sees it.
    pub fn screen(&self) -> TextScreen {
        self.m.core.dev.text_screen(&self.m.core.mem.ram)
    }

    /// The VGA text cursor.
    pub fn cursor(&self) -> Cursor {
        Cursor::capture(&self.m.core.dev.vga)
    }
}
