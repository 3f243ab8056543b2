//! x87 basic arithmetic (SDM Vol. 1 8.3.5-8.3.6 and Vol. 2 for each instruction): FADD,
//! FSUB, FSUBR, FMUL, FDIV, FDIVR in their memory, register and popping forms, the integer
//! forms FIADD..FIDIVR, and FSQRT, FABS, FCHS, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1.
//! Owns operand selection and the x87 special cases of these operations; the rounding is
//! `float`'s. Must write no register when an unmasked IE, DE or ZE is raised.

use super::float::{self, exc, Class, Env, Op, Outcome, F80};
use super::load_store::from_ieee;
use super::{begin, push, read_mem, read_st, sti, underflow};
use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::insn::{Handler, Insn};
use iced_x86::Code;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Fadd_m32fp | Fmul_m32fp | Fsub_m32fp | Fsubr_m32fp | Fdiv_m32fp | Fdivr_m32fp
        | Fadd_m64fp | Fmul_m64fp | Fsub_m64fp | Fsubr_m64fp | Fdiv_m64fp | Fdivr_m64fp
        | Fiadd_m32int | Fimul_m32int | Fisub_m32int | Fisubr_m32int | Fidiv_m32int
        | Fidivr_m32int | Fiadd_m16int | Fimul_m16int | Fisub_m16int | Fisubr_m16int
        | Fidiv_m16int | Fidivr_m16int => arith_mem,
        Fadd_st0_sti | Fmul_st0_sti | Fsub_st0_sti | Fsubr_st0_sti | Fdiv_st0_sti
        | Fdivr_st0_sti | Fadd_sti_st0 | Fmul_sti_st0 | Fsubr_sti_st0 | Fsub_sti_st0
        | Fdivr_sti_st0 | Fdiv_sti_st0 | Faddp_sti_st0 | Fmulp_sti_st0 | Fsubrp_sti_st0
        | Fsubp_sti_st0 | Fdivrp_sti_st0 | Fdivp_sti_st0 => arith_reg,
        Fsqrt => fsqrt,
        Fabs => fabs,
        Fchs => fchs,
        Frndint => frndint,
        Fscale => fscale,
        Fxtract => fxtract,
        Fprem => fprem,
        Fprem1 => fprem1,
        _ => return None,
    })
}

/// The operation and whether its operands are reversed (FSUBR, FDIVR) for a mnemonic.
fn op_of(m: iced_x86::Mnemonic) -> (Op, bool) {
    use iced_x86::Mnemonic::*;
    match m {
        Fadd | Faddp | Fiadd => (Op::Add, false),
        Fmul | Fmulp | Fimul => (Op::Mul, false),
        Fsub | Fsubp | Fisub => (Op::Sub, false),
        Fsubr | Fsubrp | Fisubr => (Op::Sub, true),
        Fdiv | Fdivp | Fidiv => (Op::Div, false),
        _ => (Op::Div, true),
    }
}

/// Writes an operation's outcome into ST(dst) (unless an unmasked IE/DE/ZE blocks it)
/// and pops if asked.
fn finish(c: &mut Core, dst: usize, o: Outcome, pop: bool) {
    let f = &mut c.cpu.fpu;
    if f.report(o.flags) {
        f.set_st(dst, o.value);
        if pop {
            f.pop();
        }
    }
}

/// A stack underflow in an operation writing ST(dst): the masked response stores the
/// indefinite (and pops).
fn underflow_into(c: &mut Core, dst: usize, pop: bool) {
    if underflow(c) {
        let f = &mut c.cpu.fpu;
        f.set_st(dst, F80::INDEFINITE);
        if pop {
            f.pop();
        }
    }
}

fn compute(c: &Core, op: Op, a: F80, b: F80) -> Outcome {
    let f = &c.cpu.fpu;
    float::arith(op, a, b, float::ext_pc(f.pc()), f.env())
}

/// Reads the memory operand of an arithmetic or compare instruction as a register value
/// with the flags of the conversion (IE for a signaling NaN, DE for a denormal).
pub(crate) fn mem_operand(c: &mut Core, i: &Insn) -> Res<(F80, u16)> {
    use iced_x86::MemorySize::*;
    Ok(match i.ins.memory_size() {
        Float32 => {
            let b = read_mem(c, i, 0, 4)?;
            from_ieee(
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
                float::F32,
            )
        }
        Float64 => {
            let b = read_mem(c, i, 0, 8)?;
            from_ieee(
                u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])),
                float::F64,
            )
        }
        Int16 => {
            let b = read_mem(c, i, 0, 2)?;
            let v = i16::from_le_bytes([b[0], b[1]]) as i64;
            (float::from_integer(v < 0, v.unsigned_abs() as u128), 0)
        }
        _ => {
            let b = read_mem(c, i, 0, 4)?;
            let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64;
            (float::from_integer(v < 0, v.unsigned_abs() as u128), 0)
        }
    })
}

fn arith_mem(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (b, conv) = mem_operand(c, i)?;
    let (op, rev) = op_of(i.ins.mnemonic());
    let Some(a) = read_st(c, 0) else {
        underflow_into(c, 0, false);
        return Ok(());
    };
    let mut o = if rev {
        compute(c, op, b, a)
    } else {
        compute(c, op, a, b)
    };
    o.flags |= conv;
    if a.is_nan() || b.is_nan() || a.class() == Class::Unsupported || o.flags & exc::ZE != 0 {
        // No DE when the result is decided by a NaN or an invalid operand.
        o.flags &= !exc::DE;
    }
    finish(c, 0, o, false);
    Ok(())
}

fn arith_reg(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let dst = sti(i.ins.op0_register());
    let src = sti(i.ins.op1_register());
    let pop = matches!(
        i.ins.mnemonic(),
        iced_x86::Mnemonic::Faddp
            | iced_x86::Mnemonic::Fmulp
            | iced_x86::Mnemonic::Fsubp
            | iced_x86::Mnemonic::Fsubrp
            | iced_x86::Mnemonic::Fdivp
            | iced_x86::Mnemonic::Fdivrp
    );
    let (op, rev) = op_of(i.ins.mnemonic());
    let (Some(a), Some(b)) = (read_st(c, dst), read_st(c, src)) else {
        underflow_into(c, dst, pop);
        return Ok(());
    };
    let o = if rev {
        compute(c, op, b, a)
    } else {
        compute(c, op, a, b)
    };
    finish(c, dst, o, pop);
    Ok(())
}

/// Runs a one-operand operation on ST(0).
fn unary(c: &mut Core, i: &Insn, f: impl FnOnce(&Core, F80) -> Outcome) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let Some(a) = read_st(c, 0) else {
        underflow_into(c, 0, false);
        return Ok(());
    };
    let o = f(c, a);
    finish(c, 0, o, false);
    Ok(())
}

fn fsqrt(c: &mut Core, i: &Insn) -> Res {
    unary(c, i, |c, a| {
        let f = &c.cpu.fpu;
        float::sqrt(a, float::ext_pc(f.pc()), f.env())
    })
}

/// FABS and FCHS change the sign only, even of NaNs, and raise nothing but #IS.
fn fabs(c: &mut Core, i: &Insn) -> Res {
    unary(c, i, |_, a| Outcome {
        value: a.with_sign(false),
        flags: 0,
    })
}
fn fchs(c: &mut Core, i: &Insn) -> Res {
    unary(c, i, |_, a| Outcome {
        value: a.with_sign(!a.is_neg()),
        flags: 0,
    })
}

/// FRNDINT: ST(0) rounded to an integer by RC (PE if inexact).
pub fn round_int(a: F80, rc: u8) -> Outcome {
    if let Some(o) = float::special_operands(a, None) {
        return o;
    }
    match a.class() {
        Class::Zero | Class::Inf => return Outcome { value: a, flags: 0 },
        _ => {}
    }
    let de = float::denormal_flag(&[a]);
    let Some((neg, mag, inexact, up)) = float::to_integer(a, rc) else {
        // |a| >= 2^63: already an integer.
        return Outcome {
            value: a,
            flags: de,
        };
    };
    let mut flags = de;
    if inexact {
        flags |= exc::PE;
    }
    if up {
        flags |= exc::C1;
    }
    Outcome {
        value: float::from_integer(neg, mag),
        flags,
    }
}

fn frndint(c: &mut Core, i: &Insn) -> Res {
    unary(c, i, |c, a| round_int(a, c.cpu.fpu.env().rc))
}

/// FSCALE: ST(0) * 2^trunc(ST(1)) (SDM Vol. 2A FSCALE, Table 3-45).
pub fn scale(a: F80, b: F80, env: Env) -> Outcome {
    if let Some(o) = float::special_operands(a, Some(b)) {
        return o;
    }
    let de = float::denormal_flag(&[a, b]);
    let (ca, cb) = (a.class(), b.class());
    let inv = Outcome {
        value: F80::INDEFINITE,
        flags: exc::IE,
    };
    if cb == Class::Inf {
        return match (ca, b.is_neg()) {
            (Class::Zero, false) | (Class::Inf, true) => inv,
            (Class::Zero | Class::Inf, _) => Outcome {
                value: a,
                flags: de,
            },
            (_, false) => Outcome {
                value: F80::inf(a.is_neg()),
                flags: de,
            },
            (_, true) => Outcome {
                value: F80::zero(a.is_neg()),
                flags: de,
            },
        };
    }
    if matches!(ca, Class::Zero | Class::Inf) {
        return Outcome {
            value: a,
            flags: de,
        };
    }
    let n = match float::to_integer(b, 3) {
        Some((neg, mag, _, _)) => {
            let m = mag.min(1 << 20) as i32;
            if neg {
                -m
            } else {
                m
            }
        }
        None => {
            if b.is_neg() {
                -(1 << 20)
            } else {
                1 << 20
            }
        }
    };
    let (neg, m, e) = a.unpack();
    let r = float::round(neg, m as u128, e + n, false, float::EXT, env);
    Outcome {
        value: r.to_f80(float::EXT),
        flags: r.flags | de,
    }
}

fn fscale(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (Some(a), Some(b)) = (read_st(c, 0), read_st(c, 1)) else {
        underflow_into(c, 0, false);
        return Ok(());
    };
    let o = scale(a, b, c.cpu.fpu.env());
    finish(c, 0, o, false);
    Ok(())
}

/// FXTRACT: ST(0) becomes the unbiased exponent and the significand (exponent 0) is
/// pushed (SDM Vol. 2A FXTRACT).
fn fxtract(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let Some(a) = read_st(c, 0) else {
        if underflow(c) {
            c.cpu.fpu.set_st(0, F80::INDEFINITE);
            push(c, F80::INDEFINITE, 0);
        }
        return Ok(());
    };
    let (expo, sig, flags) = if let Some(o) = float::special_operands(a, None) {
        (o.value, o.value, o.flags)
    } else {
        match a.class() {
            Class::Zero => (F80::inf(true), a, exc::ZE),
            Class::Inf => (F80::inf(false), a, 0),
            c => {
                let (neg, m, e) = a.unpack();
                let lz = m.leading_zeros() as i32;
                let ex = e + 63 - lz;
                let sig = F80::new(neg, 0x3FFF, m << lz);
                let de = if c == Class::Denormal { exc::DE } else { 0 };
                (
                    float::from_integer(ex < 0, ex.unsigned_abs() as u128),
                    sig,
                    de,
                )
            }
        }
    };
    let f = &mut c.cpu.fpu;
    if !f.report(flags) {
        return Ok(());
    }
    f.set_st(0, expo);
    push(c, sig, 0);
    Ok(())
}

/// FPREM (truncating quotient) and FPREM1 (IEEE, nearest-even quotient): the partial
/// remainder of ST(0) / ST(1) (SDM Vol. 2A FPREM). Returns the outcome and the condition
/// codes (C3, C2, C1, C0).
pub fn partial_remainder(a: F80, b: F80, ieee: bool, env: Env) -> (Outcome, [bool; 4]) {
    let none = [false; 4];
    if let Some(o) = float::special_operands(a, Some(b)) {
        return (o, none);
    }
    let de = float::denormal_flag(&[a, b]);
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Inf || cb == Class::Zero {
        return (
            Outcome {
                value: F80::INDEFINITE,
                flags: exc::IE,
            },
            none,
        );
    }
    if ca == Class::Zero {
        return (
            Outcome {
                value: a,
                flags: de,
            },
            none,
        );
    }
    if cb == Class::Inf {
        let (na, ma, ea) = a.unpack();
        return (exact(na, ma as u128, ea, de, env), none);
    }
    let (na, ma, ea) = a.unpack();
    let (_, mb, eb) = b.unpack();
    // Normalize both significands so that exponents compare as the SDM's.
    let (la, lb) = (ma.leading_zeros() as i32, mb.leading_zeros() as i32);
    let (ma, ea) = ((ma << la) as u128, ea - la);
    let (mb, eb) = ((mb << lb) as u128, eb - lb);
    let d = ea - eb;
    if d >= 64 {
        // Partial reduction by an exponent of N = 32..63 (N chosen as `d mod 32 + 32`).
        let n = (d & 31) | 32;
        let num = ma << n;
        let qq = num / mb;
        let r = num - qq * mb;
        let shift = ea - n;
        let o = exact(na, r, shift, de, env);
        return (o, [false, true, false, false]);
    }
    let (num, shift) = if d >= 0 { (ma << d, eb) } else { (ma, ea) };
    let den = if d >= 0 { mb } else { mb << (-d).min(64) };
    if d < -1 || (d < 0 && !ieee) {
        // |a| < |b|: the remainder is a itself (a denormal one still underflows).
        return (exact(na, ma, ea, de, env), none);
    }
    let mut q = num / den;
    let mut r = num - q * den;
    let mut neg = na;
    if ieee {
        // Nearest quotient: compare the remainder with half the divisor.
        let twice = r << 1;
        if twice > den || (twice == den && q & 1 == 1) {
            q += 1;
            r = den - r;
            neg = !na;
        }
    }
    let o = if r == 0 {
        Outcome {
            value: F80::zero(na),
            flags: de,
        }
    } else {
        exact(neg, r, shift, de, env)
    };
    let cc = [q & 2 != 0, false, q & 1 != 0, q & 4 != 0];
    (o, cc)
}

/// An exact remainder as a register value (it can only underflow).
fn exact(neg: bool, m: u128, e: i32, de: u16, env: Env) -> Outcome {
    if m == 0 {
        return Outcome {
            value: F80::zero(neg),
            flags: de,
        };
    }
    let r = float::round(neg, m, e, false, float::EXT, env);
    Outcome {
        value: r.to_f80(float::EXT),
        flags: (r.flags & (exc::UE | exc::PE)) | de,
    }
}

fn prem(c: &mut Core, i: &Insn, ieee: bool) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (Some(a), Some(b)) = (read_st(c, 0), read_st(c, 1)) else {
        underflow_into(c, 0, false);
        return Ok(());
    };
    let (o, [c3, c2, c1, c0]) = partial_remainder(a, b, ieee, c.cpu.fpu.env());
    let f = &mut c.cpu.fpu;
    if f.report(o.flags & !exc::C1) {
        f.set_st(0, o.value);
        f.set_cc(c3, c2, c1, c0);
    }
    Ok(())
}
fn fprem(c: &mut Core, i: &Insn) -> Res {
    prem(c, i, false)
}
fn fprem1(c: &mut Core, i: &Insn) -> Res {
    prem(c, i, true)
}
