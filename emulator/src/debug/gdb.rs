//! The debugged machine as a GDB remote target: `gdbstub`'s `Target` implemented over a
//! debugging `Session` (registers, linear memory through the guest's page tables,
//! breakpoints and watchpoints shared with the session, resume and single step, `monitor`
//! commands). It owns only the gdb side's bookkeeping (`GdbState`); it must not do host I/O:
//! bytes come and go through `server::GdbServer` and a connection the front end owns.
//!
//! Addresses are linear (CS base + EIP for breakpoints, as `Session` uses), which for the
//! flat guests gdb is used on is what the ELF's symbols say.

use super::session::{Session, Watchpoint};
use crate::cpu::exec::segload::load_seg;
use crate::mmu::segment::{CS, DS, ES, FS, GS, SS};
use gdbstub::common::Signal;
use gdbstub::target::ext::base::reverse_exec::{ReverseStep, ReverseStepOps};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86CoreRegs;
use gdbstub_arch::x86::X86_SSE;
use std::collections::BTreeSet;

/// The protocol crate, for front ends that implement its `Connection`.
pub use gdbstub;

/// EFAULT: the reply to a memory access gdb asked for that does not translate.
const EFAULT: u8 = 14;
/// EINVAL: a register value the machine cannot take.
const EINVAL: u8 = 22;

/// What gdb asked the machine to do when it last resumed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resume {
    /// Stopped (gdb is looking at the machine).
    #[default]
    Stopped,
    Continue,
    Step,
    /// One instruction backwards (gdb's `reverse-stepi`), by the session's replay.
    StepBack,
}

/// The gdb side's bookkeeping inside a `Session`: what to do next and which breakpoints and
/// watchpoints gdb put there (so removing them never removes one the GUI set).
#[derive(Clone, Debug, Default)]
pub struct GdbState {
    pub resume: Resume,
    /// Breakpoints gdb inserted (software and hardware), by linear address.
    pub sw_breaks: BTreeSet<u32>,
    pub hw_breaks: BTreeSet<u32>,
    /// Addresses that were already breakpoints of the session when gdb inserted its own.
    pub shared_breaks: BTreeSet<u32>,
    /// Watchpoints gdb inserted (also present in `Session::watchpoints`).
    pub watches: Vec<Watchpoint>,
}

fn watch_of(addr: u32, len: u32, kind: WatchKind) -> Watchpoint {
    Watchpoint {
        addr,
        len: len.max(1),
        read: matches!(kind, WatchKind::Read | WatchKind::ReadWrite),
        write: matches!(kind, WatchKind::Write | WatchKind::ReadWrite),
    }
}

/// The kind gdb gave a watchpoint (the inverse of `watch_of`).
pub fn kind_of(w: &Watchpoint) -> WatchKind {
    match (w.read, w.write) {
        (true, true) => WatchKind::ReadWrite,
        (true, false) => WatchKind::Read,
        _ => WatchKind::Write,
    }
}

impl Session {
    /// Translates a linear address without side effects (no accessed/dirty bits, no TLB
    /// fill, no fault): the physical address a debugger access uses, if mapped.
    pub fn debug_translate(&self, lin: u32) -> Option<u32> {
        let c = &self.m.core;
        c.mmu.peek_translate(&c.mem, &c.cpu.paging_regs(), lin)
    }

    fn add_break(&mut self, addr: u32) {
        if !self.breakpoints.insert(addr) {
            self.gdb.shared_breaks.insert(addr);
        }
    }

    fn remove_break(&mut self, addr: u32) {
        let still_gdb = self.gdb.sw_breaks.contains(&addr) || self.gdb.hw_breaks.contains(&addr);
        if !still_gdb && !self.gdb.shared_breaks.remove(&addr) {
            self.breakpoints.remove(&addr);
        }
    }
}

impl Target for Session {
    type Arch = X86_SSE;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for Session {
    fn read_registers(&mut self, regs: &mut X86CoreRegs) -> TargetResult<(), Self> {
        // Read through the inspection API, like every other front end.
        let c = self.m.inspect().cpu();
        let g = &c.gpr;
        // gdb's i386 order: eax ecx edx ebx esp ebp esi edi (the encoding order too).
        regs.eax = g[0];
        regs.ecx = g[1];
        regs.edx = g[2];
        regs.ebx = g[3];
        regs.esp = g[4];
        regs.ebp = g[5];
        regs.esi = g[6];
        regs.edi = g[7];
        regs.eip = c.eip;
        regs.eflags = c.eflags;
        let s = |k: usize| c.seg[k].selector as u32;
        regs.segments.cs = s(CS);
        regs.segments.ss = s(SS);
        regs.segments.ds = s(DS);
        regs.segments.es = s(ES);
        regs.segments.fs = s(FS);
        regs.segments.gs = s(GS);
        // No x87/SSE in this CPU: those registers read as zero (the FPU control word
        // as after FNINIT, so gdb shows a sane state).
        regs.fpu.fctrl = 0x37F;
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86CoreRegs) -> TargetResult<(), Self> {
        // Segment registers load through the mode's rules (a bad selector is refused before
        // anything changes); CS cannot be loaded like a data segment, so it must not change.
        let cpu = &self.m.core.cpu;
        if regs.segments.cs != cpu.seg[CS].sel as u32 {
            return Err(TargetError::Errno(EINVAL));
        }
        let segs = [
            (SS, regs.segments.ss),
            (DS, regs.segments.ds),
            (ES, regs.segments.es),
            (FS, regs.segments.fs),
            (GS, regs.segments.gs),
        ];
        if segs.iter().any(|&(_, v)| v > 0xFFFF) {
            return Err(TargetError::Errno(EINVAL));
        }
        let saved = self.m.core.cpu.clone();
        for (k, v) in segs {
            if self.m.core.cpu.seg[k].sel as u32 != v
                && load_seg(&mut self.m.core, k, v as u16).is_err()
            {
                self.m.core.cpu = saved;
                return Err(TargetError::Errno(EINVAL));
            }
        }
        let c = &mut self.m.core.cpu;
        c.gpr = [
            regs.eax, regs.ecx, regs.edx, regs.ebx, regs.esp, regs.ebp, regs.esi, regs.edi,
        ];
        c.eip = regs.eip;
        c.flags.set(regs.eflags);
        // The session replays from checkpoints: one taken now keeps that exact.
        self.checkpoint();
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8]) -> TargetResult<usize, Self> {
        for (k, b) in data.iter_mut().enumerate() {
            match self.debug_translate(start.wrapping_add(k as u32)) {
                Some(p) => *b = self.m.core.mem.read_u8(p),
                // A partial read is a success; nothing readable is an error reply.
                None if k > 0 => return Ok(k),
                None => return Err(TargetError::Errno(EFAULT)),
            }
        }
        Ok(data.len())
    }

    fn write_addrs(&mut self, start: u32, data: &[u8]) -> TargetResult<(), Self> {
        // All or nothing: every byte must translate before any changes.
        let mut phys = Vec::with_capacity(data.len());
        for k in 0..data.len() {
            match self.debug_translate(start.wrapping_add(k as u32)) {
                Some(p) => phys.push(p),
                None => return Err(TargetError::Errno(EFAULT)),
            }
        }
        for (p, &b) in phys.into_iter().zip(data) {
            // Through the core so that cached decodes of the page are dropped.
            self.m.core.write_phys(p, 1, b as u32);
        }
        self.checkpoint();
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for Session {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        // Signals mean nothing to a bare machine; gdb passes none unless asked to.
        self.gdb.resume = Resume::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_reverse_step(&mut self) -> Option<ReverseStepOps<'_, (), Self>> {
        Some(self)
    }
}

impl ReverseStep<()> for Session {
    fn reverse_step(&mut self, _tid: ()) -> Result<(), Self::Error> {
        self.gdb.resume = Resume::StepBack;
        Ok(())
    }
}

impl SingleThreadSingleStep for Session {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.gdb.resume = Resume::Step;
        Ok(())
    }
}

impl Breakpoints for Session {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

// Software breakpoints are not INT3 bytes in guest memory: the session stops before the
// address (the guest never sees them, and reading code shows the real bytes).
impl SwBreakpoint for Session {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        if self.gdb.sw_breaks.insert(addr) {
            self.add_break(addr);
        }
        Ok(true)
    }
    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        if !self.gdb.sw_breaks.remove(&addr) {
            return Ok(false);
        }
        self.remove_break(addr);
        Ok(true)
    }
}

impl HwBreakpoint for Session {
    fn add_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        if self.gdb.hw_breaks.insert(addr) {
            self.add_break(addr);
        }
        Ok(true)
    }
    fn remove_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        if !self.gdb.hw_breaks.remove(&addr) {
            return Ok(false);
        }
        self.remove_break(addr);
        Ok(true)
    }
}

impl HwWatchpoint for Session {
    fn add_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let w = watch_of(addr, len, kind);
        self.watchpoints.push(w);
        self.gdb.watches.push(w);
        Ok(true)
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let w = watch_of(addr, len, kind);
        let Some(i) = self.gdb.watches.iter().position(|x| *x == w) else {
            return Ok(false);
        };
        self.gdb.watches.remove(i);
        if let Some(j) = self.watchpoints.iter().position(|x| *x == w) {
            self.watchpoints.remove(j);
        }
        Ok(true)
    }
}

impl MonitorCmd for Session {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), Self::Error> {
        let text = String::from_utf8_lossy(cmd);
        for line in super::gdb_monitor::run(self, &text).lines() {
            gdbstub::outputln!(out, "{}", line);
        }
        Ok(())
    }
}
