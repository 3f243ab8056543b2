//! x87 data transfer (SDM Vol. 1 8.3.3-8.3.4, 8.3.8): FLD/FST/FSTP of single, double and
//! extended reals and of registers, FILD/FIST/FISTP of 16-, 32- and 64-bit integers,
//! FBLD/FBSTP of packed BCD, FXCH, FCMOVcc and the constants (FLDZ, FLD1, FLDPI...).
//! Owns the memory formats' conversions; rounding itself is `float::round`. Must not
//! change state before every memory access of the instruction has succeeded.

use super::float::{self, exc, Class, Env, Fmt, F80};
use super::{begin, push, read_mem, read_st, sti, underflow, write_mem};
use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::flags::{CF, PF, ZF};
use crate::cpu::insn::{Handler, Insn};
use iced_x86::Code;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Fld_m32fp => fld_m32fp,
        Fld_m64fp => fld_m64fp,
        Fld_m80fp => fld_m80fp,
        Fld_sti => fld_sti,
        Fst_m32fp => fst_m32fp,
        Fstp_m32fp => fstp_m32fp,
        Fst_m64fp => fst_m64fp,
        Fstp_m64fp => fstp_m64fp,
        Fstp_m80fp => fstp_m80fp,
        Fst_sti => fst_sti,
        Fstp_sti | Fstpnce_sti | Fstp_sti_DFD0 | Fstp_sti_DFD8 => fstp_sti,
        Fild_m16int => fild_m16int,
        Fild_m32int => fild_m32int,
        Fild_m64int => fild_m64int,
        Fist_m16int => fist_m16int,
        Fist_m32int => fist_m32int,
        Fistp_m16int => fistp_m16int,
        Fistp_m32int => fistp_m32int,
        Fistp_m64int => fistp_m64int,
        Fbld_m80bcd => fbld_m80bcd,
        Fbstp_m80bcd => fbstp_m80bcd,
        Fxch_st0_sti | Fxch_st0_sti_DDC8 | Fxch_st0_sti_DFC8 => fxch_st0_sti,
        Fld1 | Fldl2t | Fldl2e | Fldpi | Fldlg2 | Fldln2 | Fldz => fld_const,
        Fcmovb_st0_sti | Fcmove_st0_sti | Fcmovbe_st0_sti | Fcmovu_st0_sti | Fcmovnb_st0_sti
        | Fcmovne_st0_sti | Fcmovnbe_st0_sti | Fcmovnu_st0_sti => fcmov,
        _ => return None,
    })
}

// ---- memory formats ----

/// An IEEE single or double (bits right-aligned) as a register value: exact, with IE for a
/// signaling NaN (left signaling: FLD quiets it, arithmetic picks among its NaN operands
/// first) and DE for a denormal (SDM Vol. 1 FLD).
pub fn from_ieee(bits: u64, fmt: Fmt) -> (F80, u16) {
    let frac_bits = fmt.p - 1;
    let exp_bits = if fmt.p == 24 { 8 } else { 11 };
    let neg = bits >> (frac_bits + exp_bits) & 1 != 0;
    let e = ((bits >> frac_bits) & ((1 << exp_bits) - 1)) as i32;
    let frac = bits & ((1u64 << frac_bits) - 1);
    let emax = fmt.emax;
    if e == 2 * emax + 1 {
        if frac == 0 {
            return (F80::inf(neg), 0);
        }
        let v = F80::new(neg, 0x7FFF, 1 << 63 | frac << (64 - fmt.p));
        return if v.class() == Class::SNan {
            (v, exc::IE)
        } else {
            (v, 0)
        };
    }
    if e == 0 && frac == 0 {
        return (F80::zero(neg), 0);
    }
    let (m, ex, de) = if e == 0 {
        (frac, fmt.emin - frac_bits as i32, exc::DE)
    } else {
        (frac | 1 << frac_bits, e - emax - frac_bits as i32, 0)
    };
    let r = float::round(neg, m as u128, ex, false, float::EXT, exact_env());
    (r.to_f80(float::EXT), de)
}

fn exact_env() -> Env {
    Env {
        rc: 0,
        om: true,
        um: true,
    }
}

/// A register value rounded to single or double: (bits, flags). With an unmasked OE or UE
/// in the flags the caller stores nothing (SDM Vol. 1 4.9.1.4-5: a memory destination is
/// left unchanged).
pub fn to_ieee(v: F80, fmt: Fmt, env: Env) -> (u64, u16) {
    let frac_bits = fmt.p - 1;
    let exp_bits = if fmt.p == 24 { 8 } else { 11 };
    let sign = (v.is_neg() as u64) << (frac_bits + exp_bits);
    let exp_all = ((1u64 << exp_bits) - 1) << frac_bits;
    match v.class() {
        Class::Unsupported => (
            exp_all | 1 << (frac_bits - 1) | 1 << (frac_bits + exp_bits),
            exc::IE,
        ),
        Class::QNan | Class::SNan => {
            let ie = if v.class() == Class::SNan { exc::IE } else { 0 };
            let q = v.quiet();
            (sign | exp_all | ((q.sig << 1) >> (65 - fmt.p)), ie)
        }
        Class::Inf => (sign | exp_all, 0),
        Class::Zero => (sign, 0),
        _ => {
            // No DE for a denormal source (what the host P6-descendant CPUs do).
            let r = float::round_f80(v, fmt, env);
            let bexp = r.bexp.clamp(0, 2 * fmt.emax + 1) as u64;
            let frac = r.sig & ((1u64 << frac_bits) - 1);
            (sign | bexp << frac_bits | frac, r.flags)
        }
    }
}

// ---- FLD ----

fn load_real(c: &mut Core, i: &Insn, fmt: Fmt, n: usize) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let b = read_mem(c, i, 0, n)?;
    let mut w = [0u8; 8];
    w[..n].copy_from_slice(&b);
    let (v, flags) = from_ieee(u64::from_le_bytes(w), fmt);
    let v = if v.is_nan() { v.quiet() } else { v };
    push(c, v, flags);
    Ok(())
}

fn fld_m32fp(c: &mut Core, i: &Insn) -> Res {
    load_real(c, i, float::F32, 4)
}
fn fld_m64fp(c: &mut Core, i: &Insn) -> Res {
    load_real(c, i, float::F64, 8)
}
/// FLD m80: a plain copy, no exception from the value (SDM Vol. 1 FLD).
fn fld_m80fp(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let b = read_mem(c, i, 0, 10)?;
    push(c, F80::from_bytes(&b), 0);
    Ok(())
}
fn fld_sti(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    match read_st(c, sti(i.ins.op0_register())) {
        Some(v) => push(c, v, 0),
        None => {
            // Underflow on the source; the masked response pushes the indefinite.
            if underflow(c) {
                push(c, F80::INDEFINITE, 0);
            }
        }
    }
    Ok(())
}

// ---- FST / FSTP ----

fn store_real(c: &mut Core, i: &Insn, fmt: Fmt, n: usize, pop: bool) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (bits, flags) = match read_st(c, 0) {
        Some(v) => to_ieee(v, fmt, c.cpu.fpu.env()),
        None => (
            to_ieee(F80::INDEFINITE, fmt, c.cpu.fpu.env()).0,
            exc::IE | exc::SF,
        ),
    };
    let f = &c.cpu.fpu;
    let blocked = f.unmasked(flags & (exc::IE | exc::DE | exc::OE | exc::UE));
    if !blocked {
        write_mem(c, i, 0, &bits.to_le_bytes()[..n])?;
    }
    // An unmasked overflow or underflow into memory stores nothing and reports only itself.
    let flags = if f_unmasked_ou(&c.cpu.fpu, flags) {
        flags & (exc::OE | exc::UE)
    } else {
        flags
    };
    let f = &mut c.cpu.fpu;
    f.report(flags);
    if pop && !blocked {
        f.pop();
    }
    Ok(())
}

fn f_unmasked_ou(f: &super::Fpu, flags: u16) -> bool {
    f.unmasked(flags & (exc::OE | exc::UE))
}

fn fst_m32fp(c: &mut Core, i: &Insn) -> Res {
    store_real(c, i, float::F32, 4, false)
}
fn fstp_m32fp(c: &mut Core, i: &Insn) -> Res {
    store_real(c, i, float::F32, 4, true)
}
fn fst_m64fp(c: &mut Core, i: &Insn) -> Res {
    store_real(c, i, float::F64, 8, false)
}
fn fstp_m64fp(c: &mut Core, i: &Insn) -> Res {
    store_real(c, i, float::F64, 8, true)
}
fn fstp_m80fp(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (v, ok) = match read_st(c, 0) {
        Some(v) => (v, true),
        None => (F80::INDEFINITE, false),
    };
    if !ok && c.cpu.fpu.unmasked(exc::IE) {
        underflow(c);
        return Ok(());
    }
    write_mem(c, i, 0, &v.to_bytes())?;
    let f = &mut c.cpu.fpu;
    if ok {
        f.report(0);
    } else {
        underflow(c);
    }
    c.cpu.fpu.pop();
    Ok(())
}

fn store_sti(c: &mut Core, i: &Insn, pop: bool) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let dst = sti(i.ins.op0_register());
    match read_st(c, 0) {
        Some(v) => {
            let f = &mut c.cpu.fpu;
            f.report(0);
            f.set_st(dst, v);
        }
        None => {
            if !underflow(c) {
                return Ok(());
            }
            c.cpu.fpu.set_st(dst, F80::INDEFINITE);
        }
    }
    if pop {
        c.cpu.fpu.pop();
    }
    Ok(())
}
fn fst_sti(c: &mut Core, i: &Insn) -> Res {
    store_sti(c, i, false)
}
fn fstp_sti(c: &mut Core, i: &Insn) -> Res {
    store_sti(c, i, true)
}

// ---- integers ----

fn load_int(c: &mut Core, i: &Insn, n: usize) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let b = read_mem(c, i, 0, n)?;
    let mut w = [0u8; 8];
    w[..n].copy_from_slice(&b);
    let v = u64::from_le_bytes(w) << (64 - 8 * n);
    let v = (v as i64) >> (64 - 8 * n);
    push(c, float::from_integer(v < 0, v.unsigned_abs() as u128), 0);
    Ok(())
}
fn fild_m16int(c: &mut Core, i: &Insn) -> Res {
    load_int(c, i, 2)
}
fn fild_m32int(c: &mut Core, i: &Insn) -> Res {
    load_int(c, i, 4)
}
fn fild_m64int(c: &mut Core, i: &Insn) -> Res {
    load_int(c, i, 8)
}

/// ST(0) rounded by RC to an `n`-byte signed integer: (bytes as u64, flags). Out of range,
/// NaN, infinity or unsupported: IE and the integer indefinite (SDM Vol. 1 4.8.3.7).
pub fn to_int(v: F80, n: usize, rc: u8) -> (u64, u16) {
    let bits = 8 * n as u32;
    let indefinite = 1u64 << (bits - 1);
    // No DE for a denormal source (as the host CPUs).
    let de = 0;
    match v.class() {
        Class::Zero | Class::Denormal | Class::Normal => {}
        _ => return (indefinite, exc::IE),
    }
    let Some((neg, mag, inexact, up)) = float::to_integer(v, rc) else {
        return (indefinite, exc::IE);
    };
    let limit = if neg {
        1u128 << (bits - 1)
    } else {
        (1u128 << (bits - 1)) - 1
    };
    if mag > limit {
        return (indefinite, exc::IE);
    }
    let val = if neg {
        (mag as u64).wrapping_neg()
    } else {
        mag as u64
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let mut flags = de;
    if inexact {
        flags |= exc::PE;
    }
    if up {
        flags |= exc::C1;
    }
    (val & mask, flags)
}

fn store_int(c: &mut Core, i: &Insn, n: usize, pop: bool) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let rc = c.cpu.fpu.env().rc;
    let (val, flags) = match read_st(c, 0) {
        Some(v) => to_int(v, n, rc),
        None => (1u64 << (8 * n - 1), exc::IE | exc::SF),
    };
    let blocked = c.cpu.fpu.unmasked(flags & (exc::IE | exc::DE));
    if !blocked {
        write_mem(c, i, 0, &val.to_le_bytes()[..n])?;
    }
    let f = &mut c.cpu.fpu;
    f.report(flags);
    if pop && !blocked {
        f.pop();
    }
    Ok(())
}
fn fist_m16int(c: &mut Core, i: &Insn) -> Res {
    store_int(c, i, 2, false)
}
fn fist_m32int(c: &mut Core, i: &Insn) -> Res {
    store_int(c, i, 4, false)
}
fn fistp_m16int(c: &mut Core, i: &Insn) -> Res {
    store_int(c, i, 2, true)
}
fn fistp_m32int(c: &mut Core, i: &Insn) -> Res {
    store_int(c, i, 4, true)
}
fn fistp_m64int(c: &mut Core, i: &Insn) -> Res {
    store_int(c, i, 8, true)
}

// ---- packed BCD ----

/// FBLD: 18 packed digits and a sign byte, loaded exactly (invalid digits are taken at
/// their binary value: the SDM leaves them undefined).
fn fbld_m80bcd(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let b = read_mem(c, i, 0, 10)?;
    let mut mag: u128 = 0;
    for k in (0..9).rev() {
        mag = mag * 100 + (b[k] >> 4) as u128 * 10 + (b[k] & 0xF) as u128;
    }
    push(c, float::from_integer(b[9] & 0x80 != 0, mag), 0);
    Ok(())
}

/// The packed BCD of ST(0) rounded by RC: (bytes, flags); IE and the BCD indefinite when
/// it has more than 18 digits or is not a number.
pub fn to_bcd(v: F80, rc: u8) -> ([u8; 10], u16) {
    let mut indefinite = [0u8; 10];
    indefinite[7] = 0xC0;
    indefinite[8] = 0xFF;
    indefinite[9] = 0xFF;
    let de = 0;
    match v.class() {
        Class::Zero | Class::Denormal | Class::Normal => {}
        _ => return (indefinite, exc::IE),
    }
    let Some((neg, mut mag, inexact, up)) = float::to_integer(v, rc) else {
        return (indefinite, exc::IE);
    };
    if mag >= 1_000_000_000_000_000_000 {
        return (indefinite, exc::IE);
    }
    let mut out = [0u8; 10];
    for b in out.iter_mut().take(9) {
        let lo = (mag % 10) as u8;
        mag /= 10;
        let hi = (mag % 10) as u8;
        mag /= 10;
        *b = hi << 4 | lo;
    }
    out[9] = (neg as u8) << 7;
    let mut flags = de;
    if inexact {
        flags |= exc::PE;
    }
    if up {
        flags |= exc::C1;
    }
    (out, flags)
}

fn fbstp_m80bcd(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let rc = c.cpu.fpu.env().rc;
    let (bytes, flags) = match read_st(c, 0) {
        Some(v) => to_bcd(v, rc),
        None => (to_bcd(F80::INDEFINITE, rc).0, exc::IE | exc::SF),
    };
    let blocked = c.cpu.fpu.unmasked(flags & (exc::IE | exc::DE));
    if !blocked {
        write_mem(c, i, 0, &bytes)?;
    }
    let f = &mut c.cpu.fpu;
    f.report(flags);
    if !blocked {
        f.pop();
    }
    Ok(())
}

// ---- FXCH, FCMOVcc ----

/// FXCH: an empty operand is taken as the indefinite after a (masked) underflow.
fn fxch_st0_sti(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let k = sti(i.ins.op1_register());
    let (a, b) = (read_st(c, 0), read_st(c, k));
    if a.is_none() || b.is_none() {
        if !underflow(c) {
            return Ok(());
        }
    } else {
        c.cpu.fpu.report(0);
    }
    let f = &mut c.cpu.fpu;
    let (a, b) = (a.unwrap_or(F80::INDEFINITE), b.unwrap_or(F80::INDEFINITE));
    f.set_st(0, b);
    f.set_st(k, a);
    Ok(())
}

fn fcmov(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    use Code::*;
    let fl = c.cpu.flags.get();
    let (cf, zf, pf) = (fl & CF != 0, fl & ZF != 0, fl & PF != 0);
    let cond = match i.ins.code() {
        Fcmovb_st0_sti => cf,
        Fcmove_st0_sti => zf,
        Fcmovbe_st0_sti => cf || zf,
        Fcmovu_st0_sti => pf,
        Fcmovnb_st0_sti => !cf,
        Fcmovne_st0_sti => !zf,
        Fcmovnbe_st0_sti => !cf && !zf,
        _ => !pf,
    };
    let k = sti(i.ins.op1_register());
    let (a, b) = (read_st(c, 0), read_st(c, k));
    if a.is_none() || b.is_none() {
        // Underflow whatever the condition (SDM Vol. 2A FCMOVcc: #IS).
        if underflow(c) {
            c.cpu.fpu.set_st(0, F80::INDEFINITE);
        }
        return Ok(());
    }
    let f = &mut c.cpu.fpu;
    f.report(0);
    if cond {
        f.set_st(0, b.unwrap_or(F80::INDEFINITE));
    }
    Ok(())
}

// ---- constants ----

/// The constants' 128 leading significand bits and their exponents: the FPU holds them
/// with more than 64 bits and rounds them by RC (SDM Vol. 1 8.3.8).
pub(crate) fn constant(code: Code) -> Option<(u128, i32)> {
    Some(match code {
        Code::Fldpi => (0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1, 1),
        Code::Fldl2t => (0xD49A_784B_CD1B_8AFE_492B_F6FF_4DAF_DB4C, 1),
        Code::Fldl2e => (0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E89, 0),
        Code::Fldlg2 => (0x9A20_9A84_FBCF_F798_8F89_59AC_0B7C_9178, -2),
        Code::Fldln2 => (0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF, -1),
        _ => return None,
    })
}

fn fld_const(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let v = match i.ins.code() {
        Code::Fldz => F80::ZERO,
        Code::Fld1 => F80::ONE,
        code => {
            let (m, e) = constant(code).unwrap_or((1 << 127, 0));
            let env = c.cpu.fpu.env();
            let env = Env {
                om: true,
                um: true,
                ..env
            };
            float::round(false, m, e - 127, true, float::EXT, env).to_f80(float::EXT)
        }
    };
    push(c, v, 0);
    Ok(())
}
