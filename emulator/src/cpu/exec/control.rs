//! Near control transfers and software interrupts: JMP, Jcc, CALL, RET, LOOP/LOOPE/LOOPNE,
//! JCXZ/JECXZ, INT n, INT3, INTO, BOUND, HLT. Far forms and IRET are in `far`.
//! On entry `cpu.eip` already points after the instruction.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{vec, Exception, Res};
use crate::cpu::insn::{ea, get0, Handler, Insn, K_IMM};
use crate::cpu::interrupt::{deliver, Source};
use crate::cpu::svm::intercept as svm_ic;
use crate::mmu::segment::CS;
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

/// INT3, INTO and ICEBP raise their exception directly: in an SVM guest whose exception
/// intercepts include it, the exit comes first (AMD APM 15.12), with RIP at the
/// instruction and NextRIP after it.
fn soft_exception_intercept(c: &mut Core, i: &Insn, v: u8) -> Res {
    if svm_ic::exception(c, v) {
        let code = crate::cpu::svm::code::EXCP_BASE + v as u64;
        return Err(crate::cpu::svm::exit_insn(c, code, 0, 0, i.next_ip));
    }
    Ok(())
}

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let far = matches!(ins.op_kind(0), OpKind::FarBranch16 | OpKind::FarBranch32)
        || ins.is_jmp_far_indirect()
        || ins.is_call_far_indirect();
    if far {
        return None;
    }
    // LOOPcc counts in ECX with a 32-bit address size, in CX with a 16-bit one.
    let cx32 = matches!(
        ins.code(),
        Code::Loop_rel8_16_ECX
            | Code::Loop_rel8_32_ECX
            | Code::Loope_rel8_16_ECX
            | Code::Loope_rel8_32_ECX
            | Code::Loopne_rel8_16_ECX
            | Code::Loopne_rel8_32_ECX
    );
    Some(match ins.mnemonic() {
        Jmp => jmp,
        Jo | Jno | Jb | Jae | Je | Jne | Jbe | Ja | Js | Jns | Jp | Jnp | Jl | Jge | Jle | Jg => {
            jcc
        }
        Call => call,
        Ret => ret,
        Loop if cx32 => loop_::<0, true>,
        Loop => loop_::<0, false>,
        Loope if cx32 => loop_::<1, true>,
        Loope => loop_::<1, false>,
        Loopne if cx32 => loop_::<2, true>,
        Loopne => loop_::<2, false>,
        Jcxz => jcxz::<false>,
        Jecxz => jcxz::<true>,
        Int => int_n,
        Int3 => int3,
        Into => into,
        Int1 => int1,
        Bound => bound,
        Hlt => hlt,
        _ => return None,
    })
}

/// Operand size of a near branch (16 or 32), which decides IP masking and push size.
#[inline(always)]
fn bsize(i: &Insn) -> u8 {
    match i.ins.code() {
        Code::Call_rel16
        | Code::Call_rm16
        | Code::Jmp_rel16
        | Code::Jmp_rel8_16
        | Code::Jmp_rm16
        | Code::Retnw
        | Code::Retnw_imm16 => 2,
        Code::Call_rel32_32
        | Code::Call_rm32
        | Code::Jmp_rel32_32
        | Code::Jmp_rel8_32
        | Code::Jmp_rm32
        | Code::Retnd
        | Code::Retnd_imm16 => 4,
        _ => {
            if i.ins.code_size() == iced_x86::CodeSize::Code32 {
                4
            } else {
                2
            }
        }
    }
}

/// Sets EIP to a near target after the CS limit check (SDM: #GP(0) if outside CS).
#[inline(always)]
pub fn branch(c: &mut Core, target: u32) -> Res {
    if target > c.cpu.seg[CS].limit {
        return Err(Exception::gp(0));
    }
    c.cpu.eip = target;
    Ok(())
}

fn target(c: &mut Core, i: &Insn) -> Res<u32> {
    if i.k0 == K_IMM {
        Ok(i.imm)
    } else {
        let size = bsize(i);
        let v = if i.k0 == crate::cpu::insn::K_REG {
            c.cpu.get(size, i.r0 as usize)
        } else {
            let a = ea(c, i);
            c.read(i.seg as usize, a, size)?
        };
        let _ = get0;
        Ok(v)
    }
}

fn jmp(c: &mut Core, i: &Insn) -> Res {
    let t = target(c, i)?;
    branch(c, t)
}

fn jcc(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.flags.cond(i.cc) {
        branch(c, i.imm)?;
    }
    Ok(())
}

fn call(c: &mut Core, i: &Insn) -> Res {
    let size = bsize(i);
    let t = target(c, i)?;
    if t > c.cpu.seg[CS].limit {
        return Err(Exception::gp(0));
    }
    let ret = c.cpu.eip;
    c.push(size, ret)?;
    c.cpu.eip = t;
    Ok(())
}

fn ret(c: &mut Core, i: &Insn) -> Res {
    let size = bsize(i);
    let esp = c.cpu.gpr[4];
    let t = c.pop(size)?;
    if t > c.cpu.seg[CS].limit {
        c.cpu.gpr[4] = esp;
        return Err(Exception::gp(0));
    }
    if i.k0 == K_IMM {
        let mask = c.sp_mask();
        let sp = c.cpu.gpr[4];
        c.cpu.gpr[4] = (sp & !mask) | (sp.wrapping_add(i.imm & 0xFFFF) & mask);
    }
    c.cpu.eip = t;
    Ok(())
}

fn loop_<const K: u8, const ECX: bool>(c: &mut Core, i: &Insn) -> Res {
    let n = if ECX {
        c.cpu.gpr[1] = c.cpu.gpr[1].wrapping_sub(1);
        c.cpu.gpr[1]
    } else {
        let v = c.cpu.get16(1).wrapping_sub(1) & 0xFFFF;
        c.cpu.set16(1, v);
        v
    };
    let take = n != 0
        && match K {
            1 => c.cpu.flags.zf(),
            2 => !c.cpu.flags.zf(),
            _ => true,
        };
    if take {
        if let Err(e) = branch(c, i.imm) {
            // Restore the count: the fault must leave the machine unchanged.
            if ECX {
                c.cpu.gpr[1] = c.cpu.gpr[1].wrapping_add(1);
            } else {
                let v = c.cpu.get16(1).wrapping_add(1);
                c.cpu.set16(1, v);
            }
            return Err(e);
        }
    }
    Ok(())
}

fn jcxz<const ECX: bool>(c: &mut Core, i: &Insn) -> Res {
    let n = if ECX { c.cpu.gpr[1] } else { c.cpu.get16(1) };
    if n == 0 {
        branch(c, i.imm)?;
    }
    Ok(())
}

/// INT n: IOPL-sensitive in virtual-8086 mode (SDM 20.2.7), gate DPL checked on delivery.
fn int_n(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.vm86() && c.cpu.flags.iopl() < 3 {
        return Err(Exception::gp(0));
    }
    // AMD APM 15.9: the INTn intercept (EXITINFO1 would hold the vector only with the
    // decode assists Traplab does not offer).
    svm_ic::insn1(c, i, svm_ic::w3::INTN)?;
    let next = c.cpu.eip;
    deliver(c, i.imm as u8, None, next, Source::Software)
}

fn int3(c: &mut Core, i: &Insn) -> Res {
    soft_exception_intercept(c, i, vec::BP)?;
    let next = c.cpu.eip;
    c.stats.exceptions[vec::BP as usize] += 1;
    deliver(c, vec::BP, None, next, Source::Software)
}

fn int1(c: &mut Core, i: &Insn) -> Res {
    // AMD APM 15.9: ICEBP has an intercept of its own; otherwise its #DB is an exception
    // like any other for the exception intercepts.
    svm_ic::insn2(c, i, svm_ic::w4::ICEBP)?;
    soft_exception_intercept(c, i, vec::DB)?;
    let next = c.cpu.eip;
    c.stats.exceptions[vec::DB as usize] += 1;
    deliver(c, vec::DB, None, next, Source::Exception)
}

fn into(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.flags.of() {
        soft_exception_intercept(c, i, vec::OF)?;
        let next = c.cpu.eip;
        c.stats.exceptions[vec::OF as usize] += 1;
        return deliver(c, vec::OF, None, next, Source::Software);
    }
    Ok(())
}

/// BOUND r, m: #BR if the signed index is outside [lower, upper] (a fault).
fn bound(c: &mut Core, i: &Insn) -> Res {
    if i.k1 != crate::cpu::insn::K_MEM {
        return Err(Exception::ud());
    }
    let size = i.size;
    let a = ea(c, i);
    let lo = c.read(i.seg as usize, a, size)?;
    let hi = c.read(
        i.seg as usize,
        a.wrapping_add(size as u32) & if i.a16 { 0xFFFF } else { u32::MAX },
        size,
    )?;
    let v = c.cpu.get(size, i.r0 as usize);
    let sx = |x: u32| {
        if size == 2 {
            x as u16 as i16 as i32
        } else {
            x as i32
        }
    };
    if sx(v) < sx(lo) || sx(v) > sx(hi) {
        return Err(Exception::new(vec::BR));
    }
    Ok(())
}

fn hlt(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.pe() && c.cpu.cpl != 0 {
        return Err(Exception::gp(0));
    }
    svm_ic::insn1(c, i, svm_ic::w3::HLT)?;
    c.cpu.halted = true;
    c.request(Request::Rescan);
    c.event(crate::trace::EventKind::Halt);
    Ok(())
}
