//! The x87 FPU of a P6 (SDM Vol. 1 ch. 8; Vol. 3A 2.5, 9.2 and 6.15 for #NM and #MF).
//! Owns the FPU register state (`Fpu`, part of `Cpu` and so of snapshots and reverse
//! execution), the common prologue of every x87 instruction (#NM from CR0.EM/TS, pending
//! unmasked exceptions delivered as #MF with CR0.NE or as FERR#/IRQ13 without it, the
//! last-instruction pointers), the register stack with its overflow and underflow rules,
//! and the choice of a handler per iced `Code`. The families are in the files beside this
//! one: `load_store` (data transfer, constants, FCMOVcc), `arith`, `compare`,
//! `transcendental`, `control`, `env` (FSTENV/FLDENV/FSAVE/FRSTOR) and `fxsr` (FXSAVE/
//! FXRSTOR). Rounding and the
//! 80-bit format are in `float`. Nothing here is on the dispatch loop's hot path: handlers
//! are chosen once per decode like every other family. This module must not touch devices
//! other than through `Core` (the FERR# line in `Devices`).

pub mod arith;
pub mod compare;
pub mod control;
pub mod env;
pub mod float;
pub mod fxsr;
pub mod load_store;
pub mod transcendental;

use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{vec, Exception, Res};
use crate::cpu::insn::{ea, Handler, Insn, K_MEM};
use crate::cpu::state::cr0;
use float::{exc, F80};
use iced_x86::{Instruction, Register};
use serde::{Deserialize, Serialize};

/// Status-word bits other than the exception flags (SDM Vol. 1 8.1.3).
pub mod sw {
    pub const ES: u16 = 0x80;
    pub const C0: u16 = 0x100;
    pub const C1: u16 = 0x200;
    pub const C2: u16 = 0x400;
    pub const C3: u16 = 0x4000;
    pub const B: u16 = 0x8000;
    pub const TOP_SHIFT: u16 = 11;
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// The x87 register state: the eight physical data registers R0-R7, control and status
/// words, which registers are empty (the tag word's 11; the other tags follow from the
/// contents, as on the P6, whose FSTENV computes them), and the last instruction and
/// operand pointers with the last opcode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fpu {
    pub regs: [F80; 8],
    pub cw: u16,
    /// Status word with TOP in bits 11-13.
    pub sw: u16,
    /// Bit i: physical register Ri is empty.
    pub empty: u8,
    pub fip: u32,
    pub fcs: u16,
    /// Last opcode: the low 3 bits of the first opcode byte and the ModR/M byte.
    pub fop: u16,
    pub fdp: u32,
    pub fds: u16,
}

impl Default for Fpu {
    fn default() -> Self {
        Self::power_on()
    }
}

impl Fpu {
    /// State after RESET (SDM Vol. 3A 9.1.1, Table 9-1): CW 0040H, SW 0, TW 5555H (every
    /// register valid and +0.0).
    pub fn power_on() -> Fpu {
        Fpu {
            regs: [F80::ZERO; 8],
            cw: 0x0040,
            sw: 0,
            empty: 0,
            fip: 0,
            fcs: 0,
            fop: 0,
            fdp: 0,
            fds: 0,
        }
    }

    /// FNINIT (SDM Vol. 1 8.1.5 and FINIT): CW 037FH, SW 0, every register empty, pointers 0.
    pub fn init(&mut self) {
        let regs = self.regs;
        *self = Fpu {
            regs,
            cw: 0x037F,
            sw: 0,
            empty: 0xFF,
            ..Fpu::power_on()
        };
    }

    pub fn top(&self) -> usize {
        ((self.sw >> sw::TOP_SHIFT) & 7) as usize
    }
    pub fn set_top(&mut self, t: usize) {
        self.sw = (self.sw & !(7 << sw::TOP_SHIFT)) | ((t as u16 & 7) << sw::TOP_SHIFT);
    }
    /// Physical register of ST(i).
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }
    pub fn is_empty(&self, i: usize) -> bool {
        self.empty & (1 << self.phys(i)) != 0
    }
    pub fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }
    /// Writes ST(i) and marks it full.
    pub fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.empty &= !(1 << p);
    }
    pub fn free(&mut self, i: usize) {
        self.empty |= 1 << self.phys(i);
    }
    /// Pops the stack: ST(0) becomes empty, TOP + 1.
    pub fn pop(&mut self) {
        self.free(0);
        self.set_top(self.top() + 1);
    }

    /// The 2-bit tag of physical register `p` (SDM Vol. 1 8.1.7): 00 valid, 01 zero,
    /// 10 special (NaN, infinity, denormal, unsupported), 11 empty.
    pub fn tag_of(&self, p: usize) -> u16 {
        if self.empty & (1 << p) != 0 {
            return 3;
        }
        match self.regs[p].class() {
            float::Class::Zero => 1,
            float::Class::Normal => 0,
            _ => 2,
        }
    }
    pub fn tag_word(&self) -> u16 {
        (0..8).map(|p| self.tag_of(p) << (2 * p)).sum()
    }
    /// Loads a tag word: only "empty" (11) is kept, the rest follows from the contents.
    pub fn set_tag_word(&mut self, tw: u16) {
        self.empty = (0..8)
            .filter(|p| (tw >> (2 * p)) & 3 == 3)
            .map(|p| 1u8 << p)
            .sum();
    }
    /// The precision control (CW bits 8-9).
    pub fn pc(&self) -> u16 {
        (self.cw >> 8) & 3
    }
    pub fn env(&self) -> float::Env {
        float::Env::from_cw(self.cw)
    }
    /// ES and B follow the unmasked exception flags (after FLDCW, FLDENV, FRSTOR...).
    pub fn update_es(&mut self) {
        if self.sw & !self.cw & 0x3F != 0 {
            self.sw |= sw::ES | sw::B;
        } else {
            self.sw &= !(sw::ES | sw::B);
        }
    }
    /// Records flags raised by an operation (exception bits and C1), sets ES and B if one
    /// is unmasked. Returns false when the destination must not be written (an unmasked
    /// IE, DE or ZE: SDM Vol. 1 8.5).
    pub fn report(&mut self, flags: u16) -> bool {
        let mut e = flags & 0x7F;
        let mut c1 = flags & exc::C1;
        let blocking = e & !self.cw & (exc::IE | exc::DE | exc::ZE);
        if blocking != 0 {
            // The operation is not performed: only the exceptions found before it count.
            e &= exc::IE | exc::DE | exc::ZE | exc::SF;
            if e & exc::SF == 0 {
                c1 = 0;
            }
        }
        self.sw = (self.sw & !sw::C1) | e | c1;
        if e & !self.cw & 0x3F != 0 {
            self.sw |= sw::ES | sw::B;
        }
        blocking == 0
    }
    /// An unmasked IE (or DE, ZE) in `flags`: the destination stays as it was.
    pub fn unmasked(&self, flags: u16) -> bool {
        flags & !self.cw & 0x3F != 0
    }
    pub fn set_cc(&mut self, c3: bool, c2: bool, c1: bool, c0: bool) {
        self.sw &= !sw::CC;
        self.sw |= ((c3 as u16) * sw::C3) | ((c2 as u16) * sw::C2) | ((c1 as u16) * sw::C1);
        self.sw |= (c0 as u16) * sw::C0;
    }
}

// ---- the prologue ----

/// #NM before any x87 instruction (SDM Vol. 3A 2.5, Table 2-2): CR0.EM or CR0.TS.
#[inline]
fn check_nm(c: &Core) -> Res {
    if c.cpu.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Exception::nm());
    }
    Ok(())
}

/// A waiting instruction finds an unmasked exception pending (ES set): #MF with CR0.NE
/// (SDM Vol. 3A 6.15, interrupt 16); without NE the MS-DOS compatible path (SDM Vol. 1
/// D.2.1): FERR# raises IRQ13 and the processor waits at this instruction (modelled as a
/// halt with EIP on it) unless IGNNE# is asserted (the IRQ13 handler's write to port F0H),
/// in which case the error is ignored. `Ok(false)`: do not execute the instruction now.
fn check_pending(c: &mut Core, i: &Insn) -> Res<bool> {
    if c.cpu.fpu.sw & sw::ES == 0 {
        return Ok(true);
    }
    if c.cpu.cr0 & cr0::NE != 0 {
        return Err(Exception::new(vec::MF));
    }
    if c.dev.fpu_ignne {
        return Ok(true);
    }
    c.dev.set_ferr(true);
    c.cpu.eip = i.ip();
    c.cpu.halted = true;
    c.request(Request::Rescan);
    Ok(false)
}

/// Updates FERR# after ES changed (FNCLEX, FNINIT, FLDENV...): the line follows ES, and
/// IGNNE# drops with it.
pub(crate) fn sync_ferr(c: &mut Core) {
    if c.cpu.fpu.sw & sw::ES == 0 && (c.dev.fpu_ferr || c.dev.fpu_ignne) {
        c.dev.set_ferr(false);
        c.dev.fpu_ignne = false;
        c.request(Request::Rescan);
    }
}

/// The opcode bytes of the instruction at `i` for FOP: the escape byte's low 3 bits and
/// the ModR/M byte (prefixes skipped).
fn fop_of(c: &Core, i: &Insn) -> u16 {
    let base = c.cpu.seg[crate::mmu::segment::CS].base;
    let Some(b) = c.peek_lin(base.wrapping_add(i.ip()), i.len as usize) else {
        return 0;
    };
    let mut k = 0;
    while k + 1 < b.len() && !(0xD8..=0xDF).contains(&b[k]) {
        k += 1;
    }
    if k + 1 >= b.len() {
        return 0;
    }
    ((b[k] as u16 & 7) << 8) | b[k + 1] as u16
}

/// Common entry of a numeric (non-control) instruction: #NM, pending exceptions, and the
/// last instruction/operand pointers (SDM Vol. 1 8.1.8-8.1.9). `Ok(false)`: stop (FERR#).
pub(crate) fn begin(c: &mut Core, i: &Insn) -> Res<bool> {
    check_nm(c)?;
    if !check_pending(c, i)? {
        return Ok(false);
    }
    let f = &mut c.cpu.fpu;
    f.fip = i.ip();
    f.fcs = c.cpu.seg[crate::mmu::segment::CS].sel;
    let fop = fop_of(c, i);
    let mem = i.k0 == K_MEM || i.k1 == K_MEM;
    let addr = if mem { ea(c, i) } else { 0 };
    let ds = c.cpu.seg[i.seg as usize].sel;
    let f = &mut c.cpu.fpu;
    f.fop = fop;
    if mem {
        f.fdp = addr;
        f.fds = ds;
    }
    Ok(true)
}

/// Entry of a control instruction that waits (FLDCW, FLDENV, FRSTOR, WAIT forms):
/// #NM and pending exceptions, no pointer update.
pub(crate) fn begin_control_wait(c: &mut Core, i: &Insn) -> Res<bool> {
    check_nm(c)?;
    check_pending(c, i)
}

/// Entry of a no-wait control instruction (FNINIT, FNCLEX, FNSTSW...): #NM only.
pub(crate) fn begin_nowait(c: &mut Core) -> Res {
    check_nm(c)
}

// ---- the register stack ----

/// ST(i) for an operation, or None after a stack underflow (IE and SF, C1 = 0) was
/// reported.
pub(crate) fn read_st(c: &mut Core, i: usize) -> Option<F80> {
    let f = &mut c.cpu.fpu;
    if f.is_empty(i) {
        None
    } else {
        Some(f.st(i))
    }
}

/// Reports a stack underflow: IE, SF, C1 = 0 (SDM Vol. 1 8.5.1.1). Returns true when the
/// masked response (the indefinite result) is to be written.
pub(crate) fn underflow(c: &mut Core) -> bool {
    c.cpu.fpu.report(exc::IE | exc::SF)
}

/// Pushes `v` (FLD and friends). On stack overflow (ST(7) full: IE, SF, C1 = 1) the masked
/// response pushes the indefinite QNaN; unmasked, nothing changes. `flags` are the
/// operation's own flags, reported with the push.
pub(crate) fn push(c: &mut Core, v: F80, flags: u16) {
    let f = &mut c.cpu.fpu;
    let p = (f.top() + 7) & 7;
    if f.empty & (1 << p) == 0 {
        if f.report(exc::IE | exc::SF | exc::C1) {
            f.set_top(p);
            f.set_st(0, F80::INDEFINITE);
        }
        return;
    }
    // An unmasked DE does not stop a load (only an unmasked IE does).
    f.report(flags);
    if !f.unmasked(flags & exc::IE) {
        f.set_top(p);
        f.set_st(0, v);
    }
}

/// The ST register number of an iced register (ST0-ST7).
pub(crate) fn sti(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

// ---- memory operands of any size ----

/// Reads `n` bytes at the instruction's memory operand + `off` (in 4-, 2- and 1-byte parts).
pub(crate) fn read_mem(c: &mut Core, i: &Insn, off: u32, n: usize) -> Res<Vec<u8>> {
    let a = ea(c, i).wrapping_add(off);
    read_at(c, i.seg as usize, a, n)
}

pub(crate) fn read_at(c: &mut Core, seg: usize, a: u32, n: usize) -> Res<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    let mut k = 0;
    while k < n {
        let sz = if n - k >= 4 {
            4
        } else if n - k >= 2 {
            2
        } else {
            1
        };
        let v = c.read(seg, a.wrapping_add(k as u32), sz)?;
        out.extend_from_slice(&v.to_le_bytes()[..sz as usize]);
        k += sz as usize;
    }
    Ok(out)
}

/// Writes `b` at the memory operand + `off`, checked first so that a fault leaves memory
/// unchanged.
pub(crate) fn write_mem(c: &mut Core, i: &Insn, off: u32, b: &[u8]) -> Res {
    let a = ea(c, i).wrapping_add(off);
    write_at(c, i.seg as usize, a, b)
}

pub(crate) fn write_at(c: &mut Core, seg: usize, a: u32, b: &[u8]) -> Res {
    if b.len() > 4 {
        for k in (0..b.len()).step_by(128) {
            let n = (b.len() - k).min(128) as u8;
            c.probe_write_span(seg, a.wrapping_add(k as u32), n)?;
        }
    }
    let mut k = 0;
    while k < b.len() {
        let n = b.len() - k;
        let sz = if n >= 4 {
            4
        } else if n >= 2 {
            2
        } else {
            1
        };
        let mut w = [0u8; 4];
        w[..sz].copy_from_slice(&b[k..k + sz]);
        c.write(
            seg,
            a.wrapping_add(k as u32),
            sz as u8,
            u32::from_le_bytes(w),
        )?;
        k += sz;
    }
    Ok(())
}

// ---- handler choice ----

/// The handler of an x87 instruction (or WAIT), chosen at decode time.
pub fn select(ins: &Instruction) -> Option<Handler> {
    let code = ins.code();
    load_store::select(code)
        .or_else(|| arith::select(code))
        .or_else(|| compare::select(code))
        .or_else(|| transcendental::select(code))
        .or_else(|| control::select(code))
        .or_else(|| env::select(code))
        .or_else(|| fxsr::select(code))
}

#[cfg(test)]
mod fxsr_tests;
#[cfg(test)]
mod tests;
