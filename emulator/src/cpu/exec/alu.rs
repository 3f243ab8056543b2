//! Integer ALU: ADD OR ADC SBB AND SUB XOR CMP TEST, INC DEC NEG NOT (SDM Vol. 2).
//! Flags are recorded lazily (see `cpu::flags`).

use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::flags::{mask, CcOp};
use crate::cpu::insn::{get0, get1, rmw0, Handler, Insn};
use iced_x86::{Instruction, Mnemonic};

pub const ADD: u8 = 0;
pub const OR: u8 = 1;
pub const ADC: u8 = 2;
pub const SBB: u8 = 3;
pub const AND: u8 = 4;
pub const SUB: u8 = 5;
pub const XOR: u8 = 6;

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Add => alu::<ADD>,
        Mnemonic::Or => alu::<OR>,
        Mnemonic::Adc => alu::<ADC>,
        Mnemonic::Sbb => alu::<SBB>,
        Mnemonic::And => alu::<AND>,
        Mnemonic::Sub => alu::<SUB>,
        Mnemonic::Xor => alu::<XOR>,
        Mnemonic::Cmp => cmp,
        Mnemonic::Test => test,
        Mnemonic::Inc => inc,
        Mnemonic::Dec => dec,
        Mnemonic::Neg => neg,
        Mnemonic::Not => not,
        _ => return None,
    })
}

/// Computes `a OP b` at `size` bytes and records the flags.
#[inline(always)]
pub fn op(c: &mut Core, kind: u8, size: u8, a: u32, b: u32) -> u32 {
    let m = mask(size);
    let b = b & m;
    let f = &mut c.cpu.flags;
    match kind {
        ADD => {
            let r = a.wrapping_add(b) & m;
            if size == 4 {
                f.set_add32(b, r);
            } else {
                f.set_add_sub_small(false, size, b, r);
            }
            r
        }
        ADC => {
            let r = a.wrapping_add(b).wrapping_add(f.cf() as u32) & m;
            f.set_lazy(CcOp::Add, size, a, b, r);
            r
        }
        SUB => {
            let r = a.wrapping_sub(b) & m;
            if size == 4 {
                f.set_sub32(b, r);
            } else {
                f.set_add_sub_small(true, size, b, r);
            }
            r
        }
        SBB => {
            let r = a.wrapping_sub(b).wrapping_sub(f.cf() as u32) & m;
            f.set_lazy(CcOp::Sub, size, a, b, r);
            r
        }
        AND | OR | XOR => {
            let r = match kind {
                AND => a & b,
                OR => a | b,
                _ => a ^ b,
            };
            f.set_lazy(CcOp::Logic, size, 0, 0, r);
            r
        }
        _ => unreachable!("alu kind"),
    }
}

fn alu<const K: u8>(c: &mut Core, i: &Insn) -> Res {
    let b = get1(c, i)?;
    rmw0(c, i, |c, a| Some(op(c, K, i.size, a, b)))
}

fn cmp(c: &mut Core, i: &Insn) -> Res {
    let a = get0(c, i)?;
    let b = get1(c, i)?;
    op(c, SUB, i.size, a, b);
    Ok(())
}

fn test(c: &mut Core, i: &Insn) -> Res {
    let a = get0(c, i)?;
    let b = get1(c, i)?;
    op(c, AND, i.size, a, b);
    Ok(())
}

fn inc(c: &mut Core, i: &Insn) -> Res {
    rmw0(c, i, |c, a| {
        let r = a.wrapping_add(1) & mask(i.size);
        c.cpu.flags.set_incdec(true, i.size, a, r);
        Some(r)
    })
}

fn dec(c: &mut Core, i: &Insn) -> Res {
    rmw0(c, i, |c, a| {
        let r = a.wrapping_sub(1) & mask(i.size);
        c.cpu.flags.set_incdec(false, i.size, a, r);
        Some(r)
    })
}

fn neg(c: &mut Core, i: &Insn) -> Res {
    rmw0(c, i, |c, a| Some(op(c, SUB, i.size, 0, a)))
}

fn not(c: &mut Core, i: &Insn) -> Res {
    rmw0(c, i, |_, a| Some(!a & mask(i.size)))
}
