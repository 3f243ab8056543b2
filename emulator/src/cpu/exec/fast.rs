//! Specialized handlers for the hottest instruction forms, chosen at decode time before the
//! general families: register/immediate/memory forms of the ALU, MOV, INC/DEC, PUSH/POP of
//! a register, near CALL/RET with a 32-bit stack, JMP rel, LEA r32, MOVZX r32. Operand kinds
//! and sizes are const generic parameters, so each handler compiles to straight-line code
//! without operand dispatch.
//! Semantics must equal the general handlers' (the oracle tests and vectors go through
//! `select`, hence through here); anything unusual (prefixes like LOCK, 16-bit stacks,
//! segment registers) is left to the general families.
//! Every handler here is lazy (`Dispatch::Lazy`): its inline fast path touches neither EIP
//! nor the retired count and makes no request; off that path it calls `Core::sync` first
//! (memory forms tail-call a `*_general` form that starts over, so the fast path needs no
//! saved registers) and reports a request it made with `Core::done`.
//! Each also has its thread for the chained loop (`exec::thread`, `threaded!`): the handler
//! inlined, then the jump to the next instruction's thread; a handler with a general path
//! has its fast path as a function that returns false having changed nothing, and its
//! thread jumps to `thread::slow` then. The fused compare-and-branch exists only as a
//! thread (`fused_t`): single steps run its two instructions apart.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::alu::{self, ADD, AND, OR, SUB, XOR};
use crate::cpu::exec::thread::{
    end, follow, go, step, stop_on, threaded, Blk, Dc, Flow, Run, Stop, Thread,
};
use crate::cpu::exec::{muldiv, shift, Dispatch};
use crate::cpu::flags::{mask, CcOp};
use crate::cpu::insn::{ea, Gpr, Handler, Insn};
use crate::mmu::segment::{CS, SS};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

const R: u8 = 0;
const M: u8 = 1;
const I: u8 = 2;

/// Register `r` (`g` as a 32-bit register) at size S.
#[inline(always)]
fn rget<const S: u8>(c: &Core, r: u8, g: Gpr) -> u32 {
    match S {
        1 => c.cpu.get8(r as usize),
        2 => c.cpu.get16(r as usize),
        _ => c.cpu.gpr[g.idx()],
    }
}

#[inline(always)]
fn rset<const S: u8>(c: &mut Core, r: u8, g: Gpr, v: u32) {
    match S {
        1 => c.cpu.set8(r as usize, v),
        2 => c.cpu.set16(r as usize, v),
        _ => c.cpu.gpr[g.idx()] = v,
    }
}

fn kind(ins: &Instruction, k: u32) -> Option<u8> {
    match ins.op_kind(k) {
        OpKind::Register => crate::cpu::insn::gpr(ins.op_register(k)).map(|_| R),
        OpKind::Memory => Some(M),
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32 => Some(I),
        _ => None,
    }
}

fn size(ins: &Instruction) -> Option<u8> {
    let s = match ins.op_kind(0) {
        OpKind::Register => crate::cpu::insn::gpr(ins.op0_register())?.1,
        OpKind::Memory => ins.memory_size().size() as u8,
        _ => return None,
    };
    matches!(s, 1 | 2 | 4).then_some(s)
}

/// A handler and its thread (`exec::thread`).
type Pair = (Handler, Thread);

macro_rules! by_size {
    ($s:expr, $f:ident / $t:ident, $($g:expr),*) => {
        match $s {
            1 => ($f::<$($g,)* 1> as Handler, $t::<$($g,)* 1> as Thread),
            2 => ($f::<$($g,)* 2> as Handler, $t::<$($g,)* 2> as Thread),
            _ => ($f::<$($g,)* 4> as Handler, $t::<$($g,)* 4> as Thread),
        }
    };
}

macro_rules! by_kinds {
    ($k0:expr, $k1:expr, $s:expr, $op:expr) => {
        match ($k0, $k1) {
            (R, R) => by_size!($s, alu2 / alu2_t, $op, R, R),
            (R, M) => by_size!($s, alu2 / alu2_t, $op, R, M),
            (R, I) => by_size!($s, alu2 / alu2_t, $op, R, I),
            (M, R) => by_size!($s, alu2 / alu2_t, $op, M, R),
            (M, I) => by_size!($s, alu2 / alu2_t, $op, M, I),
            _ => return None,
        }
    };
}

pub fn select(ins: &Instruction) -> Option<Handler> {
    select_handler(ins).map(|(h, _)| h)
}

/// `select`, with how the dispatch loop calls the handler: every handler here is lazy
/// (`Dispatch::Lazy`: it calls `Core::sync` before leaving its inline fast path) and has
/// its own thread.
pub fn select_dispatch(ins: &Instruction) -> Option<(Handler, Dispatch)> {
    let sets_ip = matches!(
        ins.mnemonic(),
        Mnemonic::Call | Mnemonic::Ret | Mnemonic::Jmp
    ) || is_jcc(ins);
    select_handler(ins).map(|(h, thread)| (h, Dispatch::Lazy { sets_ip, thread }))
}

fn select_handler(ins: &Instruction) -> Option<Pair> {
    if ins.has_lock_prefix() || ins.has_xacquire_prefix() || ins.has_xrelease_prefix() {
        return None;
    }
    use Mnemonic::*;
    let m = ins.mnemonic();
    match m {
        Add | Or | And | Sub | Xor | Cmp | Test | Mov => {
            if ins.op_count() != 2 {
                return None;
            }
            let (k0, k1) = (kind(ins, 0)?, kind(ins, 1)?);
            let s = size(ins)?;
            if k1 == R && crate::cpu::insn::gpr(ins.op1_register())?.1 != s {
                return None;
            }
            Some(match m {
                Add => by_kinds!(k0, k1, s, ADD),
                Or => by_kinds!(k0, k1, s, OR),
                And => by_kinds!(k0, k1, s, AND),
                Sub => by_kinds!(k0, k1, s, SUB),
                Xor => by_kinds!(k0, k1, s, XOR),
                Cmp => by_kinds!(k0, k1, s, CMP),
                Test => by_kinds!(k0, k1, s, TEST),
                _ => by_kinds!(k0, k1, s, MOV),
            })
        }
        Inc | Dec if ins.op_kind(0) == OpKind::Register => {
            let s = size(ins)?;
            Some(if m == Inc {
                by_size!(s, incdec / incdec_t, true)
            } else {
                by_size!(s, incdec / incdec_t, false)
            })
        }
        Inc | Dec if ins.op_kind(0) == OpKind::Memory => {
            let s = size(ins)?;
            Some(if m == Inc {
                by_size!(s, incdec_m / incdec_m_t, true)
            } else {
                by_size!(s, incdec_m / incdec_m_t, false)
            })
        }
        _ if is_jcc(ins) => {
            let cc = (ins.condition_code() as u8).wrapping_sub(1);
            Some(jcc_table::<false>(cc))
        }
        Shl | Shr | Sar
            if ins.op_kind(0) == OpKind::Register
                && ins.op_count() == 2
                && matches!(ins.op_kind(1), OpKind::Immediate8) =>
        {
            // A count of 0 (masked to five bits) changes nothing: left to `shift`.
            if size(ins)? != 4 || ins.immediate8() & 0x1F == 0 {
                return None;
            }
            Some(match m {
                Shl => (shift_ri::<{ shift::SHL }>, shift_ri_t::<{ shift::SHL }>),
                Shr => (shift_ri::<{ shift::SHR }>, shift_ri_t::<{ shift::SHR }>),
                _ => (shift_ri::<{ shift::SAR }>, shift_ri_t::<{ shift::SAR }>),
            })
        }
        Imul if ins.op_count() == 3 && ins.op_kind(1) == OpKind::Register && size(ins)? == 4 => {
            Some((imul_rri, imul_rri_t))
        }
        Imul if ins.op_count() == 2 && ins.op_kind(1) == OpKind::Register && size(ins)? == 4 => {
            Some((imul_rr, imul_rr_t))
        }
        Div | Idiv if size(ins)? == 4 && ins.op_count() == 1 => {
            let k = kind(ins, 0)?;
            Some(match (m == Idiv, k) {
                (false, R) => (div32::<false, R>, div32_t::<false, R>),
                (false, _) => (div32::<false, M>, div32_t::<false, M>),
                (true, R) => (div32::<true, R>, div32_t::<true, R>),
                (true, _) => (div32::<true, M>, div32_t::<true, M>),
            })
        }
        Push if ins.code() == Code::Push_r32 => Some((push_r32, push_r32_t::<true>)),
        Pop if ins.code() == Code::Pop_r32 => Some((pop_r32, pop_r32_t::<true>)),
        Call if ins.code() == Code::Call_rel32_32 => Some((call_rel32, call_rel32_t::<true>)),
        Jmp if matches!(ins.code(), Code::Jmp_rel8_32 | Code::Jmp_rel32_32) => {
            Some((jmp_rel32, jmp_rel32_t))
        }
        Lea if size(ins)? == 4 && ins.op_kind(1) == OpKind::Memory => Some((lea32, lea32_t)),
        Movzx if size(ins)? == 4 => {
            let k = kind(ins, 1)?;
            let ss = match k {
                R => crate::cpu::insn::gpr(ins.op1_register())?.1,
                _ => ins.memory_size().size() as u8,
            };
            Some(match (ss, k) {
                (1, R) => (movzx32::<1, R>, movzx32_t::<1, R>),
                (1, _) => (movzx32::<1, M>, movzx32_t::<1, M>),
                (2, R) => (movzx32::<2, R>, movzx32_t::<2, R>),
                (2, _) => (movzx32::<2, M>, movzx32_t::<2, M>),
                _ => return None,
            })
        }
        Ret if ins.code() == Code::Retnd => Some((ret32, ret32_t::<true>)),
        _ => None,
    }
}

/// How a handler here completes: with a memory operand, its general path may have made a
/// request (a charged nested walk, written code), reported as `Core::done`'s marker; a
/// handler with register and immediate operands only makes none.
#[inline(always)]
fn fin(c: &Core, mem: bool) -> Res {
    if mem {
        c.done()
    } else {
        Ok(())
    }
}

/// A data read for the lazy handlers here: the inline fast path, else `Core::sync` and
/// the general read.
#[inline(always)]
fn read(c: &mut Core, i: &Insn, seg: usize, off: u32, size: u8) -> Res<u32> {
    if let Some(v) = c.read_fast(seg, off, size) {
        return Ok(v);
    }
    c.sync(i);
    c.read(seg, off, size)
}

const CMP: u8 = 100;
const TEST: u8 = 101;
const MOV: u8 = 102;

/// Two-operand ALU/MOV with operand kinds K0 (R or M) and K1 (R, M or I), size S: the
/// inline fast path (registers, or memory through `Core::read_fast` / `write_fast` /
/// `rmw_probe`, which make no request), else a tail call to `alu2_general`, which starts
/// over (the fast path changes nothing before it gives up), so that the fast path needs no
/// saved registers.
#[inline(always)]
fn alu2<const OP: u8, const K0: u8, const K1: u8, const S: u8>(c: &mut Core, i: &Insn) -> Res {
    if alu2_fast::<OP, K0, K1, S>(c, i) {
        return Ok(());
    }
    alu2_general::<OP, K0, K1, S>(c, i)
}

/// `alu2`'s inline fast path: false, having changed nothing, when it gives up.
#[inline(always)]
fn alu2_fast<const OP: u8, const K0: u8, const K1: u8, const S: u8>(
    c: &mut Core,
    i: &Insn,
) -> bool {
    let b = match K1 {
        R => rget::<S>(c, i.r1, i.g1),
        I => i.imm & mask(S),
        _ => {
            let a = ea(c, i);
            match c.read_fast(i.seg as usize, a, S) {
                Some(v) => v,
                None => return false,
            }
        }
    };
    if K0 == R {
        alu2_reg::<OP, S>(c, i, b);
        return true;
    }
    // Memory destination.
    let off = ea(c, i);
    let seg = i.seg as usize;
    match OP {
        MOV => c.write_fast(seg, off, S, b),
        CMP | TEST => {
            let Some(a) = c.read_fast(seg, off, S) else {
                return false;
            };
            alu2_flags::<OP, S>(c, a, b);
            true
        }
        _ => {
            let Some(p) = c.rmw_probe(seg, off, S) else {
                return false;
            };
            let a = c.ram_load(p, S);
            let r = alu::op(c, OP, S, a, b);
            c.ram_store(p, S, r);
            c.rmw_hits();
            true
        }
    }
}

/// `alu2` with a register destination and source value `b`.
#[inline(always)]
fn alu2_reg<const OP: u8, const S: u8>(c: &mut Core, i: &Insn, b: u32) {
    if OP == MOV {
        rset::<S>(c, i.r0, i.g0, b);
        return;
    }
    let a = rget::<S>(c, i.r0, i.g0);
    if OP == CMP || OP == TEST {
        alu2_flags::<OP, S>(c, a, b);
    } else {
        let r = alu::op(c, OP, S, a, b);
        rset::<S>(c, i.r0, i.g0, r);
    }
}

/// The flags of CMP / TEST `a`, `b`.
#[inline(always)]
fn alu2_flags<const OP: u8, const S: u8>(c: &mut Core, a: u32, b: u32) {
    if OP == CMP {
        alu::op(c, SUB, S, a, b);
    } else {
        c.cpu.flags.set_lazy(CcOp::Logic, S, 0, 0, a & b);
    }
}

/// `alu2` off its fast path: the general memory accesses (faults, page walks, written
/// code), after `Core::sync`.
#[inline(never)]
fn alu2_general<const OP: u8, const K0: u8, const K1: u8, const S: u8>(
    c: &mut Core,
    i: &Insn,
) -> Res {
    c.sync(i);
    let b = match K1 {
        R => rget::<S>(c, i.r1, i.g1),
        I => i.imm & mask(S),
        _ => {
            let a = ea(c, i);
            c.read(i.seg as usize, a, S)?
        }
    };
    if K0 == R {
        alu2_reg::<OP, S>(c, i, b);
        return c.done();
    }
    let off = ea(c, i);
    let seg = i.seg as usize;
    match OP {
        MOV => c.write(seg, off, S, b)?,
        CMP | TEST => {
            let a = c.read(seg, off, S)?;
            alu2_flags::<OP, S>(c, a, b);
        }
        _ => {
            let lin = c.linear(seg, off, S, true)?;
            let user = c.user_mode();
            let a = c.read_lin(lin, S, user)?;
            let saved = c.cpu.flags;
            let r = alu::op(c, OP, S, a, b);
            if let Err(e) = c.write_lin(lin, S, r, user) {
                c.cpu.flags = saved;
                return Err(e);
            }
        }
    }
    c.done()
}

#[inline(always)]
fn incdec<const INC: bool, const S: u8>(c: &mut Core, i: &Insn) -> Res {
    incdec_reg::<INC, S>(c, i);
    Ok(())
}

#[inline(always)]
fn incdec_reg<const INC: bool, const S: u8>(c: &mut Core, i: &Insn) {
    let a = rget::<S>(c, i.r0, i.g0);
    let r = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & mask(S);
    c.cpu.flags.set_incdec(INC, S, a, r);
    rset::<S>(c, i.r0, i.g0, r);
}

/// INC/DEC of a memory operand: the fast path, else a tail call to the general form.
#[inline(always)]
fn incdec_m<const INC: bool, const S: u8>(c: &mut Core, i: &Insn) -> Res {
    if incdec_m_fast::<INC, S>(c, i) {
        return Ok(());
    }
    incdec_m_general::<INC, S>(c, i)
}

/// `incdec_m`'s inline fast path: false, having changed nothing, when it gives up.
#[inline(always)]
fn incdec_m_fast<const INC: bool, const S: u8>(c: &mut Core, i: &Insn) -> bool {
    let off = ea(c, i);
    let Some(p) = c.rmw_probe(i.seg as usize, off, S) else {
        return false;
    };
    let a = c.ram_load(p, S);
    let r = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & mask(S);
    c.ram_store(p, S, r);
    c.cpu.flags.set_incdec(INC, S, a, r);
    c.rmw_hits();
    true
}

/// INC/DEC of a memory operand off the fast path: the write is checked before flags
/// change.
#[inline(never)]
fn incdec_m_general<const INC: bool, const S: u8>(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    let off = ea(c, i);
    let lin = c.linear(i.seg as usize, off, S, true)?;
    let user = c.user_mode();
    let a = c.read_lin(lin, S, user)?;
    let r = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & mask(S);
    c.write_lin(lin, S, r, user)?;
    c.cpu.flags.set_incdec(INC, S, a, r);
    c.done()
}

// PUSH/POP r32, CALL rel32 and RET: the common case (32-bit stack, `Core::read_fast` /
// `write_fast` succeed) with no call, else a tail call to the general form, which starts
// over (the fast path changes nothing when it fails).

fn push_r32(c: &mut Core, i: &Insn) -> Res {
    if push_r32_fast::<false>(c, i) {
        return Ok(());
    }
    push_r32_general(c, i)
}

/// The stack accesses of the fast paths of PUSH, POP, CALL and RET: with `HIT` (their
/// threads), the stack page cache alone (`Core::stack_read32_hit`), a miss going to the
/// handler; without (the handler), the cache, then the TLB probe that fills it
/// (`Core::stack_read32_fast`).
#[inline(always)]
fn stack_read<const HIT: bool>(c: &mut Core, sp: u32) -> Option<u32> {
    if HIT {
        c.stack_read32_hit(sp)
    } else {
        c.stack_read32_fast(sp)
    }
}

/// The write of `stack_read`.
#[inline(always)]
fn stack_write<const HIT: bool>(c: &mut Core, sp: u32, v: u32) -> bool {
    if HIT {
        c.stack_write32_hit(sp, v)
    } else {
        c.stack_write32_fast(sp, v)
    }
}

#[inline(always)]
fn push_r32_fast<const HIT: bool>(c: &mut Core, i: &Insn) -> bool {
    let v = c.cpu.gpr[i.g0.idx()];
    let sp = c.cpu.gpr[4].wrapping_sub(4);
    if stack_write::<HIT>(c, sp, v) {
        c.cpu.gpr[4] = sp;
        return true;
    }
    false
}

#[inline(never)]
fn push_r32_general(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    if !c.cpu.stack32() {
        c.push(4, c.cpu.gpr[i.g0.idx()])?;
        return c.done();
    }
    let v = c.cpu.gpr[i.g0.idx()];
    let sp = c.cpu.gpr[4].wrapping_sub(4);
    c.write(SS, sp, 4, v)?;
    c.cpu.gpr[4] = sp;
    c.done()
}

fn pop_r32(c: &mut Core, i: &Insn) -> Res {
    if pop_r32_fast::<false>(c, i) {
        return Ok(());
    }
    pop_r32_general(c, i)
}

#[inline(always)]
fn pop_r32_fast<const HIT: bool>(c: &mut Core, i: &Insn) -> bool {
    let sp = c.cpu.gpr[4];
    if let Some(v) = stack_read::<HIT>(c, sp) {
        // POP ESP: the popped value wins over the increment.
        c.cpu.gpr[4] = sp.wrapping_add(4);
        c.cpu.gpr[i.g0.idx()] = v;
        return true;
    }
    false
}

#[inline(never)]
fn pop_r32_general(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    if !c.cpu.stack32() {
        let v = c.pop(4)?;
        c.cpu.gpr[i.g0.idx()] = v;
        return c.done();
    }
    let sp = c.cpu.gpr[4];
    let v = c.read(SS, sp, 4)?;
    // POP ESP: the popped value wins over the increment.
    c.cpu.gpr[4] = sp.wrapping_add(4);
    c.cpu.gpr[i.g0.idx()] = v;
    c.done()
}

fn call_rel32(c: &mut Core, i: &Insn) -> Res {
    if call_rel32_fast::<false>(c, i) {
        return Ok(());
    }
    call_rel32_general(c, i)
}

#[inline(always)]
fn call_rel32_fast<const HIT: bool>(c: &mut Core, i: &Insn) -> bool {
    let sp = c.cpu.gpr[4].wrapping_sub(4);
    if i.imm <= c.cpu.seg[CS].limit && stack_write::<HIT>(c, sp, i.next_ip) {
        c.cpu.gpr[4] = sp;
        c.cpu.eip = i.imm;
        return true;
    }
    false
}

#[inline(never)]
fn call_rel32_general(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    if i.imm > c.cpu.seg[CS].limit {
        return Err(Exception::gp(0));
    }
    let ret = c.cpu.eip;
    if !c.cpu.stack32() {
        c.push(4, ret)?;
    } else {
        let sp = c.cpu.gpr[4].wrapping_sub(4);
        c.write(SS, sp, 4, ret)?;
        c.cpu.gpr[4] = sp;
    }
    c.cpu.eip = i.imm;
    c.done()
}

/// JMP rel8/rel32 with a 32-bit operand size: EIP is the target decoded (`Insn::imm`),
/// #GP(0) past the CS limit (SDM Vol. 2A JMP).
#[inline(always)]
fn jmp_rel32(c: &mut Core, i: &Insn) -> Res {
    if i.imm > c.cpu.seg[CS].limit {
        c.sync(i);
        return Err(Exception::gp(0));
    }
    c.cpu.eip = i.imm;
    Ok(())
}

/// LEA r32, m: the effective address (at the instruction's address size, `ea`); no
/// memory access, no fault.
#[inline(always)]
fn lea32(c: &mut Core, i: &Insn) -> Res {
    c.cpu.gpr[i.g0.idx()] = ea(c, i);
    Ok(())
}

/// MOVZX r32, r/m8 or r/m16 (source size `SS`, kind `K1`): the fast path, else the
/// general read (`movzx32_general`).
#[inline(always)]
fn movzx32<const SS: u8, const K1: u8>(c: &mut Core, i: &Insn) -> Res {
    if movzx32_fast::<SS, K1>(c, i) {
        return Ok(());
    }
    movzx32_general::<SS, K1>(c, i)
}

/// `movzx32`'s inline fast path: false, having changed nothing, when it gives up.
#[inline(always)]
fn movzx32_fast<const SS: u8, const K1: u8>(c: &mut Core, i: &Insn) -> bool {
    let v = if K1 == R {
        rget::<SS>(c, i.r1, i.g1)
    } else {
        let a = ea(c, i);
        match c.read_fast(i.seg as usize, a, SS) {
            Some(v) => v,
            None => return false,
        }
    };
    c.cpu.gpr[i.g0.idx()] = v;
    true
}

#[inline(never)]
fn movzx32_general<const SS: u8, const K1: u8>(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    let a = ea(c, i);
    let v = c.read(i.seg as usize, a, SS)?;
    c.cpu.gpr[i.g0.idx()] = v;
    c.done()
}

fn ret32(c: &mut Core, i: &Insn) -> Res {
    if ret32_fast::<false>(c, i) {
        return Ok(());
    }
    ret32_general(c, i)
}

/// `ret32`'s fast path; a target past the CS limit is left to the general form's #GP.
#[inline(always)]
fn ret32_fast<const HIT: bool>(c: &mut Core, _i: &Insn) -> bool {
    let sp = c.cpu.gpr[4];
    if let Some(t) = stack_read::<HIT>(c, sp) {
        if t <= c.cpu.seg[CS].limit {
            c.cpu.gpr[4] = sp.wrapping_add(4);
            c.cpu.eip = t;
            return true;
        }
    }
    false
}

#[inline(never)]
fn ret32_general(c: &mut Core, i: &Insn) -> Res {
    c.sync(i);
    let mask = c.sp_mask();
    let sp = c.cpu.gpr[4];
    let t = c.read(SS, sp & mask, 4)?;
    if t > c.cpu.seg[CS].limit {
        return Err(Exception::gp(0));
    }
    c.cpu.gpr[4] = (sp & !mask) | (sp.wrapping_add(4) & mask);
    c.cpu.eip = t;
    c.done()
}

/// Jcc with the condition fixed at decode time. `MID`: the Jcc is not the last instruction
/// of its block, so when taken it ends the block with `Request::Branch` (its thread,
/// `jcc_t`, follows the block's links instead, `thread::follow`): the dispatch loop goes on
/// with the target's block without a trip through the loop's phases. Not taken, a `MID` Jcc leaves
/// EIP to the loop (`Insn::lazy_ip`); the other stores it, as it ends its block either way.
#[inline(always)]
fn jcc<const MID: bool, const CC: u8>(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.flags.cond(CC) {
        if i.imm > c.cpu.seg[CS].limit {
            c.sync(i);
            return Err(Exception::gp(0));
        }
        c.cpu.eip = i.imm;
        if MID {
            c.request(Request::Branch);
            return Err(Exception::request());
        }
    } else if !MID {
        c.cpu.eip = i.next_ip;
    }
    Ok(())
}

/// The thread of `jcc`: a taken `MID` Jcc stores EIP and the retired count and goes on in
/// the block its block's links name (`thread::follow`), with no request made, tested or
/// cleared.
fn jcc_t<const MID: bool, const CC: u8>(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    step!(c, run, blk, dc, jcc_body::<MID, CC>)
}

#[inline(always)]
fn jcc_body<const MID: bool, const CC: u8>(
    c: &mut Core,
    i: &Insn,
    _: Run,
    blk: Blk,
    dc: Dc,
) -> Option<Flow> {
    if MID && c.cpu.flags.cond(CC) {
        return Some(leave(c, i, blk, dc));
    }
    stop_on(jcc::<MID, CC>(c, i))
}

/// Taken Jcc `i` whose target is outside its block, in a thread: #GP(0) at it past CS's
/// limit, else EIP and the retired count stored and the block's links followed (`follow`).
#[inline(always)]
fn leave(c: &mut Core, i: &Insn, blk: Blk, dc: Dc) -> Flow {
    if i.imm > c.cpu.seg[CS].limit {
        c.sync(i);
        return Err(Stop::new(Exception::gp(0)));
    }
    c.cpu.eip = i.imm;
    c.icount = c.block_base.wrapping_add(i.idx as u64 + 1);
    follow(c, blk, dc)
}

/// Jcc whose target is an instruction of its own cached block (`Insn::skip`): taken, it
/// returns the `Exception::branch()` marker, and the dispatch loop goes on at the target
/// inside the block (`machine::exec`) without storing EIP or making a request; not
/// taken, it leaves EIP to the loop like a `MID` Jcc.
#[inline(always)]
fn jcc_in<const CC: u8>(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.flags.cond(CC) {
        if i.imm > c.cpu.seg[CS].limit {
            c.sync(i);
            return Err(Exception::gp(0));
        }
        return Err(Exception::branch());
    }
    Ok(())
}

/// The thread of `jcc_in`: taken, it goes on at the target (`in_block`). The target needs
/// no CS limit test here: it is an instruction of a cached block, which threads run only
/// while the block's last byte is within the limit (`machine::fetch`), and CS does not
/// change during a chain.
fn jcc_in_t<const CC: u8>(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    step!(c, run, blk, dc, jcc_in_body::<CC>)
}

#[inline(always)]
fn jcc_in_body<const CC: u8>(c: &mut Core, i: &Insn, _: Run, blk: Blk, dc: Dc) -> Option<Flow> {
    if c.cpu.flags.cond(CC) {
        debug_assert!(
            i.imm <= c.cpu.seg[CS].limit,
            "in-block target past CS.limit"
        );
        return Some(in_block(c, i, blk, dc));
    }
    None
}

/// A taken in-block branch of a thread (`jcc_in_t`, `fused_t`, `i` being the Jcc or the
/// flag setter fused with it): the retired count before the block's first instruction
/// moves so that the target's count is right (`Insn::back`), and the thread goes on at
/// the target (`Insn::skip`) if the rest of the block from there fits before the chain's
/// deadline (`Core::chain_deadline`: the dispatch loop's test, with the loop's deadline
/// or a sooner one that bounds how far a thread goes), counted as the decode cache hit
/// the loop would count (`Core::branch_hits`). Otherwise it returns the marker with the
/// target's index (`Exception::branch_to`), and the loop goes on there or stops.
#[inline(always)]
fn in_block(c: &mut Core, i: &Insn, blk: Blk, dc: Dc) -> Flow {
    let base = c.block_base.wrapping_add(i.back as i64 as u64);
    c.block_base = base;
    if base.wrapping_add(blk.insns.len() as u64) <= c.chain_deadline {
        if let Some(r @ [t, ..]) = blk.insns.get(i.skip as usize..) {
            c.branch_hits += 1;
            return (t.thread)(c, r, blk, dc);
        }
    }
    Err(Stop::new(Exception::branch_to(i.skip)))
}

/// The 16 instances of a handler or thread generic over a condition code (Intel order),
/// the one for `cc`.
macro_rules! by_cc {
    ($cc:expr, $ty:ty, $f:ident $(, $g:expr)*) => {{
        let t: [$ty; 16] = [
            $f::<$($g,)* 0>,
            $f::<$($g,)* 1>,
            $f::<$($g,)* 2>,
            $f::<$($g,)* 3>,
            $f::<$($g,)* 4>,
            $f::<$($g,)* 5>,
            $f::<$($g,)* 6>,
            $f::<$($g,)* 7>,
            $f::<$($g,)* 8>,
            $f::<$($g,)* 9>,
            $f::<$($g,)* 10>,
            $f::<$($g,)* 11>,
            $f::<$($g,)* 12>,
            $f::<$($g,)* 13>,
            $f::<$($g,)* 14>,
            $f::<$($g,)* 15>,
        ];
        t[($cc & 15) as usize]
    }};
}

/// The in-block Jcc handler (`jcc_in`) for condition `cc` (Intel order), and how the
/// dispatch loop calls it.
pub fn jcc_in_table(cc: u8) -> (Handler, Dispatch) {
    let thread = by_cc!(cc, Thread, jcc_in_t);
    let h = by_cc!(cc, Handler, jcc_in);
    (
        h,
        Dispatch::Lazy {
            sets_ip: false,
            thread,
        },
    )
}

// Compare-and-branch fusion: a flag-setting instruction followed by a Jcc runs both in one
// thread (`fused_t` when the Jcc's target is in their block, `fused_out_t` when the block
// goes on after the Jcc and its target is elsewhere). Only the chained dispatch loop calls
// it (`Insn::thread`; `Insn::inner` keeps the plain form for single steps and for block
// runs cut by a deadline), and only when the whole rest of the block fits before the
// deadline, so the two instructions always retire together there.

const F_CMP_RR: u8 = 0;
const F_CMP_RI: u8 = 1;
const F_TEST_RR: u8 = 2;
const F_DEC: u8 = 3;
const F_INC: u8 = 4;
const F_SUB_RI: u8 = 5;
const F_ADD_RI: u8 = 6;

/// The flag setter of form `F` (32-bit registers), then the Jcc `CC` that follows it:
/// taken, the thread goes on at the Jcc's target (`in_block`, with `Insn::skip`,
/// `Insn::back` and `Insn::imm2` set at block build as the Jcc's; the target is within CS.limit
/// as in `jcc_in_t`); not taken, it goes on after the Jcc (which would do nothing).
fn fused_t<const F: u8, const CC: u8>(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    let Some(i) = run.first() else {
        return end(c, blk, dc);
    };
    set_flags::<F>(c, i);
    // The target is within CS.limit, as in `jcc_in_t`.
    if c.cpu.flags.cond(CC) {
        debug_assert!(
            i.imm2 <= c.cpu.seg[CS].limit,
            "in-block target past CS.limit"
        );
        return in_block(c, i, blk, dc);
    }
    // Not taken: on after the Jcc, which would do nothing.
    go(c, run.get(2..).unwrap_or_default(), blk, dc)
}

/// The flag setter of form `F`, then the Jcc `CC` after it, whose target is not in the
/// block (a `MID` Jcc, so the block goes on after it): taken, as `jcc_t` (`leave`); not
/// taken, on after the Jcc.
fn fused_out_t<const F: u8, const CC: u8>(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    let [i, j, rest @ ..] = run else {
        // Not built so (the Jcc follows in the block): the setter alone.
        return crate::cpu::exec::thread::slow(c, run, blk, dc);
    };
    set_flags::<F>(c, i);
    if c.cpu.flags.cond(CC) {
        return leave(c, j, blk, dc);
    }
    go(c, rest, blk, dc)
}

/// The flags (and result) of fusable form `F`.
#[inline(always)]
fn set_flags<const F: u8>(c: &mut Core, i: &Insn) {
    match F {
        F_CMP_RR => alu2_reg::<CMP, 4>(c, i, rget::<4>(c, i.r1, i.g1)),
        F_CMP_RI => alu2_reg::<CMP, 4>(c, i, i.imm),
        F_TEST_RR => alu2_reg::<TEST, 4>(c, i, rget::<4>(c, i.r1, i.g1)),
        F_DEC => incdec_reg::<false, 4>(c, i),
        F_INC => incdec_reg::<true, 4>(c, i),
        F_SUB_RI => alu2_reg::<SUB, 4>(c, i, i.imm),
        _ => alu2_reg::<ADD, 4>(c, i, i.imm),
    }
}

/// The fused thread of flag setter `ins` followed by a Jcc with condition `cc` (Intel
/// order), if `ins` is a fusable form: CMP r32, r32 / imm; TEST r32, r32; INC/DEC r32;
/// ADD/SUB r32, imm (the forms whose plain handler is `alu2` / `incdec` here). `inside`:
/// the Jcc's target is in the block (`fused_t`), else the Jcc goes on in it when not taken
/// (`fused_out_t`).
pub fn fuse(ins: &Instruction, cc: u8, inside: bool) -> Option<Thread> {
    if select_handler(ins).is_none() || size(ins)? != 4 || ins.op_kind(0) != OpKind::Register {
        return None;
    }
    let k1 = if ins.op_count() == 2 {
        kind(ins, 1)?
    } else {
        M
    };
    let f = match (ins.mnemonic(), k1) {
        (Mnemonic::Cmp, R) => F_CMP_RR,
        (Mnemonic::Cmp, I) => F_CMP_RI,
        (Mnemonic::Test, R) => F_TEST_RR,
        (Mnemonic::Dec, _) if ins.op_count() == 1 => F_DEC,
        (Mnemonic::Inc, _) if ins.op_count() == 1 => F_INC,
        (Mnemonic::Sub, I) => F_SUB_RI,
        (Mnemonic::Add, I) => F_ADD_RI,
        _ => return None,
    };
    macro_rules! pick {
        ($f:ident) => {
            Some(match f {
                F_CMP_RR => by_cc!(cc, Thread, $f, F_CMP_RR),
                F_CMP_RI => by_cc!(cc, Thread, $f, F_CMP_RI),
                F_TEST_RR => by_cc!(cc, Thread, $f, F_TEST_RR),
                F_DEC => by_cc!(cc, Thread, $f, F_DEC),
                F_INC => by_cc!(cc, Thread, $f, F_INC),
                F_SUB_RI => by_cc!(cc, Thread, $f, F_SUB_RI),
                _ => by_cc!(cc, Thread, $f, F_ADD_RI),
            })
        };
    }
    if inside {
        pick!(fused_t)
    } else {
        pick!(fused_out_t)
    }
}

/// True for the Jcc forms `select` gives a `jcc` handler (no LOCK-class prefix).
pub fn is_jcc(ins: &Instruction) -> bool {
    use Mnemonic::*;
    matches!(
        ins.mnemonic(),
        Jo | Jno | Jb | Jae | Je | Jne | Jbe | Ja | Js | Jns | Jp | Jnp | Jl | Jge | Jle | Jg
    ) && !(ins.has_lock_prefix() || ins.has_xacquire_prefix() || ins.has_xrelease_prefix())
}

/// The Jcc handler and its thread for condition `cc` (Intel order); `MID` as in `jcc`.
pub fn jcc_table<const MID: bool>(cc: u8) -> (Handler, Thread) {
    (
        by_cc!(cc, Handler, jcc, MID),
        by_cc!(cc, Thread, jcc_t, MID),
    )
}

/// SHL/SHR/SAR r32, imm8 with a count of 1 to 31 after masking (`select`; flags as in
/// `shift`: see `cpu::undefined_flags`).
#[inline(always)]
fn shift_ri<const K: u8>(c: &mut Core, i: &Insn) -> Res {
    let n = i.imm & 0x1F;
    debug_assert!(n != 0, "count 0 is left to the general handler");
    let d = c.cpu.gpr[i.g0.idx()];
    let (r, cf, of) = shift::compute(K, 4, d, n, false);
    c.cpu.gpr[i.g0.idx()] = r;
    c.cpu.flags.set_result(4, r, cf, of);
    Ok(())
}

#[inline(always)]
fn imul_flags(c: &mut Core, r: u32, wide: bool) {
    c.cpu.flags.set_result(4, r, wide, wide);
}

/// IMUL r32, r32, imm.
#[inline(always)]
fn imul_rri(c: &mut Core, i: &Insn) -> Res {
    let a = c.cpu.gpr[i.g1.idx()];
    let (r, wide) = muldiv::imul_trunc(4, a, i.imm);
    c.cpu.gpr[i.g0.idx()] = r;
    imul_flags(c, r, wide);
    Ok(())
}

/// IMUL r32, r32.
#[inline(always)]
fn imul_rr(c: &mut Core, i: &Insn) -> Res {
    let a = c.cpu.gpr[i.g0.idx()];
    let b = c.cpu.gpr[i.g1.idx()];
    let (r, wide) = muldiv::imul_trunc(4, a, b);
    c.cpu.gpr[i.g0.idx()] = r;
    imul_flags(c, r, wide);
    Ok(())
}

/// DIV/IDIV r/m32: EDX:EAX by the operand (arithmetic flags unchanged, as in `muldiv`).
#[inline(always)]
fn div32<const SIGNED: bool, const K: u8>(c: &mut Core, i: &Insn) -> Res {
    let d = if K == R {
        c.cpu.gpr[i.g0.idx()]
    } else {
        let a = ea(c, i);
        read(c, i, i.seg as usize, a, 4)?
    };
    let n = ((c.cpu.gpr[2] as u64) << 32) | c.cpu.gpr[0] as u64;
    let qr = if SIGNED {
        muldiv::idivide(4, n, d)
    } else {
        muldiv::divide(4, n, d)
    };
    let (q, r) = match qr {
        Ok(qr) => qr,
        Err(e) => {
            c.sync(i);
            return Err(e);
        }
    };
    c.cpu.gpr[0] = q;
    c.cpu.gpr[2] = r;
    fin(c, K == M)
}

threaded!(alu2_t = alu2_fast<const OP: u8, const K0: u8, const K1: u8, const S: u8> or slow, memory if K0 == M || K1 == M);
threaded!(incdec_t = incdec<const INC: bool, const S: u8>);
threaded!(incdec_m_t = incdec_m_fast<const INC: bool, const S: u8> or slow, memory if true);
threaded!(push_r32_t = push_r32_fast<const HIT: bool> or slow, memory if true);
threaded!(pop_r32_t = pop_r32_fast<const HIT: bool> or slow, memory if true);
threaded!(call_rel32_t = call_rel32_fast<const HIT: bool> or slow, memory if true);
threaded!(ret32_t = ret32_fast<const HIT: bool> or slow, memory if true);
threaded!(jmp_rel32_t = jmp_rel32);
threaded!(lea32_t = lea32);
threaded!(movzx32_t = movzx32_fast<const SS: u8, const K1: u8> or slow, memory if K1 == M);
threaded!(shift_ri_t = shift_ri<const K: u8>);
threaded!(imul_rri_t = imul_rri);
threaded!(imul_rr_t = imul_rr);
threaded!(div32_t = div32<const SIGNED: bool, const K: u8>);
