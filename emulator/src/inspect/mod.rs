//! The read-only inspection API: what front ends (the GUI, the CLI's `--stats` and
//! `--trace`, the debugger session, the test-vector runner) may know about a running
//! machine, as named, owned snapshot structs.
//!
//! Owns: the shapes of those snapshots ([`CpuState`], [`SegmentState`], [`ControlRegs`],
//! [`MmuState`], [`DecodeCacheStats`], [`Counters`], [`DeviceRegs`], [`Events`]...) and the
//! translation from core internals to them. A front end that reads machine state goes
//! through [`Machine::inspect`]; when the core's internals move, only this module changes.
//!
//! Must not: change machine state (every method takes `&self`, and memory reads are
//! side-effect-free peeks: no accessed/dirty bits, no device reads, no TLB fills); be called
//! by the execution path (the dispatch loop and the instruction handlers never touch it, so
//! it costs nothing unless a front end asks); hand out references into core internals other
//! than the event log's immutable records.
//!
//! Worlds: every snapshot carries the [`World`] it describes. Today a machine has one world,
//! the host ([`World::Host`]); when a guest world (hardware virtualization, tagged by its
//! ASID) exists, `Machine::inspect_world` will pick it and callers that only read
//! `inspect()` keep seeing the host, unchanged.

mod cpu;
mod devices;
mod stats;
#[cfg(test)]
mod tests;

pub use crate::mmu::paging::{Access, WalkReport, WalkStep};
pub use crate::trace::{Event, EventKind};
pub use cpu::{ControlRegs, CpuMode, CpuState, MsrState, SegmentState, TableRegState};
pub use devices::{Cursor, DeviceRegs, PicRegs, PitChannelRegs, UartRegs};
pub use stats::{Counters, DecodeCacheStats, Events, MmuState, PagingMode, TlbStats};

use crate::devices::vga::TextScreen;
use crate::machine::Machine;
use crate::mmu::segment::{CS, SS};

/// Which world a snapshot describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum World {
    /// The machine itself (no virtualization), or the hypervisor's side of it.
    #[default]
    Host,
    /// A guest world, named by its address-space identifier (not implemented yet: no
    /// machine has one today).
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
    /// The read-only inspection API over the machine's (only) world, the host.
    pub fn inspect(&self) -> Inspector<'_> {
        Inspector {
            m: self,
            world: World::Host,
        }
    }

    /// The inspection API over `world`, if the machine has it (today only `World::Host`).
    pub fn inspect_world(&self, world: World) -> Option<Inspector<'_>> {
        (world == World::Host).then(|| self.inspect())
    }

    /// The worlds this machine has, host first.
    pub fn worlds(&self) -> Vec<World> {
        vec![World::Host]
    }
}

impl<'a> Inspector<'a> {
    pub fn world(&self) -> World {
        self.world
    }

    /// Every register of the CPU, hidden segment state included.
    pub fn cpu(&self) -> CpuState {
        let mut s = CpuState::capture(&self.m.core.cpu, self.world);
        s.popek_goldberg = self.m.popek_goldberg();
        s
    }

    /// CR0, CR2, CR3 and CR4.
    pub fn control(&self) -> ControlRegs {
        ControlRegs::capture(&self.m.core.cpu)
    }

    /// One general register by encoding number (`cpu::state::EAX`..`EDI`), without
    /// copying the whole register file.
    pub fn gpr(&self, r: usize) -> u32 {
        self.m.core.cpu.gpr[r & 7]
    }

    pub fn eip(&self) -> u32 {
        self.m.core.cpu.eip
    }

    /// One segment register (`mmu::segment::ES`..`GS`) with its hidden part.
    pub fn segment(&self, s: usize) -> SegmentState {
        SegmentState::capture(&self.m.core.cpu.seg[s])
    }

    /// Linear address of the next instruction (CS base + EIP).
    pub fn pc(&self) -> u32 {
        self.m.pc()
    }

    /// Linear address of the top of the stack (SS base + ESP, or + SP on a 16-bit stack).
    pub fn stack_top(&self) -> u32 {
        let c = &self.m.core.cpu;
        let sp = if c.stack32() {
            c.gpr[crate::cpu::state::ESP]
        } else {
            c.gpr[crate::cpu::state::ESP] & 0xFFFF
        };
        c.seg[SS].base.wrapping_add(sp)
    }

    pub fn mode(&self) -> CpuMode {
        CpuMode::of(&self.m.core.cpu)
    }

    /// The code segment is 32-bit (instructions decode with 32-bit defaults).
    pub fn code32(&self) -> bool {
        self.m.core.cpu.code32()
    }

    /// The CPU executed HLT and waits for an interrupt.
    pub fn halted(&self) -> bool {
        self.m.core.cpu.halted
    }

    /// CS selector and EIP: where the CPU is, as a debugger prints it.
    pub fn cs_eip(&self) -> (u16, u32) {
        (self.m.core.cpu.seg[CS].sel, self.m.core.cpu.eip)
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

    /// Paging mode, A20 and TLB statistics.
    pub fn mmu(&self) -> MmuState {
        MmuState::capture(&self.m.core, self.world)
    }

    pub fn decode_cache(&self) -> DecodeCacheStats {
        DecodeCacheStats::capture(&self.m.cache, self.world)
    }

    /// Registers of the PICs, PIT channels and COM1.
    pub fn devices(&self) -> DeviceRegs {
        DeviceRegs::capture(&self.m.core.dev, self.world)
    }

    /// The event log (the last events recorded, and how many were ever recorded).
    pub fn events(&self) -> Events<'a> {
        Events::new(&self.m.core.events, self.world)
    }

    /// Linear breakpoints the machine stops at.
    pub fn breakpoints(&self) -> &'a [u32] {
        &self.m.breakpoints
    }

    /// `len` bytes at a linear address, translated with the current paging state but without
    /// side effects; None if any byte is unmapped or outside RAM.
    pub fn peek_linear(&self, lin: u32, len: usize) -> Option<Vec<u8>> {
        self.m.core.peek_lin(lin, len)
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
        let regs = self.m.core.cpu.paging_regs();
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
