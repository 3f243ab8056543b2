//! x87 transcendental instructions (SDM Vol. 1 8.3.9 and Vol. 2A): FSIN, FCOS, FSINCOS,
//! FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1. The special cases (NaNs, infinities, zeros,
//! domain errors, the |x| >= 2^63 out-of-range rule with C2) follow the SDM exactly; the
//! finite results are computed with the host's f64 library (Rust's `f64` methods) plus a
//! first-order correction for the bits of the argument that an f64 drops, so they are not
//! bit-exact: the documented bound, tested against the host x87 in `tests/x87_host.rs`,
//! is 2^13 units in the last place of the 64-bit significand (4 units of an f64's: the
//! f64 result's own rounding, the library's error and the cancellation in F2XM1's
//! 2^x - 1; a random hunt found 4,320, above the 2^12 first documented) for arguments in the
//! tested ranges (|x| <= 4 for the trigonometric ones, where the host's own 66-bit pi
//! reduction is exact enough to compare with). Results outside the f64 exponent range
//! overflow or underflow as an f64 would. Must not touch anything but the register stack.

use super::float::{self, exc, Class, Op, Outcome, F80};
use super::{begin, push, read_st, underflow};
use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::insn::{Handler, Insn};
use iced_x86::Code;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Fsin => fsin,
        Fcos => fcos,
        Fsincos => fsincos,
        Fptan => fptan,
        Fpatan => fpatan,
        F2xm1 => f2xm1,
        Fyl2x => fyl2x,
        Fyl2xp1 => fyl2xp1,
        _ => return None,
    })
}

/// x as an f64 pair: hi (rounded to nearest) and the exact rest lo = x - hi.
fn split(x: F80) -> (f64, f64) {
    let hi = x.to_f64();
    if !hi.is_finite() || hi == 0.0 {
        return (hi, 0.0);
    }
    let rest = float::arith(
        Op::Sub,
        x,
        float::from_f64(hi),
        float::EXT,
        float::Env {
            rc: 0,
            om: true,
            um: true,
        },
    );
    (hi, rest.value.to_f64())
}

fn inexact(v: f64) -> Outcome {
    Outcome {
        value: float::from_f64(v),
        flags: if v == 0.0 { 0 } else { exc::PE },
    }
}

/// The out-of-range rule of FSIN, FCOS, FSINCOS, FPTAN: |x| >= 2^63 sets C2 and leaves
/// ST(0) as it is.
fn out_of_range(x: F80) -> bool {
    matches!(x.class(), Class::Normal | Class::Unsupported) && x.bexp() >= 0x3FFF + 63
}

/// Special operands of the trigonometric functions: NaNs, unsupported, infinities (IE).
fn trig_special(x: F80) -> Option<Outcome> {
    if let Some(o) = float::special_operands(x, None) {
        return Some(o);
    }
    match x.class() {
        Class::Inf => Some(Outcome {
            value: F80::INDEFINITE,
            flags: exc::IE,
        }),
        Class::Zero => Some(Outcome { value: x, flags: 0 }),
        _ => None,
    }
}

/// `x` nudged by less than an ulp toward zero (`grows` false) or away from it, then
/// rounded by the control word: sin(x) = x - x^3/6 and tan(x) = x + x^3/3 for tiny x,
/// and cos(x) = 1 - x^2/2. (The host CPUs' FPTAN of a denormal lands on either side of x
/// depending on the operand, an artifact of their approximation: within one ulp of this.) The nudge is a sticky bit below two extra bits (round-to-odd).
fn nudged(x: F80, grows: bool, env: float::Env) -> float::Packed {
    let (n, m, e) = x.unpack();
    let lz = m.leading_zeros() as i32;
    let m = (m as u128) << (lz + 2);
    let m = if grows { m } else { m - 1 };
    float::round(n, m, e - lz - 2, true, float::EXT, env)
}

/// A denormal argument of FSIN or FPTAN: DE, and the nudged x (UE, PE).
fn tiny(x: F80, env: float::Env, grows: bool) -> Option<Outcome> {
    if x.class() != Class::Denormal {
        return None;
    }
    let r = nudged(x, grows, env);
    Some(Outcome {
        value: r.to_f80(float::EXT),
        flags: exc::DE | r.flags,
    })
}

pub fn sin(x: F80, env: float::Env) -> Outcome {
    trig_special(x)
        .or_else(|| tiny(x, env, false))
        .unwrap_or_else(|| {
            let (h, l) = split(x);
            inexact(h.sin() + h.cos() * l)
        })
}

pub fn cos(x: F80, env: float::Env) -> Outcome {
    if let Some(o) = trig_special(x) {
        return if x.class() == Class::Zero {
            Outcome {
                value: F80::ONE,
                flags: 0,
            }
        } else {
            o
        };
    }
    if x.class() == Class::Denormal {
        let r = nudged(F80::ONE, false, env);
        return Outcome {
            value: r.to_f80(float::EXT),
            flags: exc::DE | r.flags,
        };
    }
    let (h, l) = split(x);
    inexact(h.cos() - h.sin() * l)
}

pub fn tan(x: F80, env: float::Env) -> Outcome {
    trig_special(x)
        .or_else(|| tiny(x, env, true))
        .unwrap_or_else(|| {
            let (h, l) = split(x);
            let t = h.tan();
            inexact(t + (1.0 + t * t) * l)
        })
}

type Trig = fn(F80, float::Env) -> Outcome;

/// Runs a trigonometric function on ST(0); with `push_second`, pushes a second result
/// (FSINCOS's cosine, FPTAN's 1.0).
fn trig(c: &mut Core, i: &Insn, f: Trig, second: Option<Trig>) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let Some(x) = read_st(c, 0) else {
        if underflow(c) {
            c.cpu.fpu.set_st(0, F80::INDEFINITE);
            if second.is_some() {
                push(c, F80::INDEFINITE, 0);
            }
        }
        return Ok(());
    };
    if out_of_range(x) {
        let f = &mut c.cpu.fpu;
        f.sw |= super::sw::C2;
        return Ok(());
    }
    let env = c.cpu.fpu.env();
    let o = f(x, env);
    let fpu = &mut c.cpu.fpu;
    if second.is_some() && !fpu.is_empty(7) {
        // The push would overflow: nothing is computed (SDM Vol. 2A FPTAN, FSINCOS: #IS).
        if fpu.report(exc::IE | exc::SF | exc::C1) {
            fpu.set_st(0, F80::INDEFINITE);
            push_unchecked(c, F80::INDEFINITE);
        }
        return Ok(());
    }
    // A NaN result (NaN operand, or invalid) is pushed as the second result too.
    let o2 = second.map(|g| {
        if o.value.is_nan() {
            Outcome {
                value: o.value,
                flags: 0,
            }
        } else {
            g(x, env)
        }
    });
    // C1 comes from the first result (FSINCOS: the sine's rounding).
    let flags = o.flags | o2.map_or(0, |o| o.flags & !exc::C1);
    let fpu = &mut c.cpu.fpu;
    if !fpu.report(flags) {
        return Ok(());
    }
    fpu.sw &= !super::sw::C2;
    fpu.set_st(0, o.value);
    if let Some(o2) = o2 {
        push_unchecked(c, o2.value);
    }
    Ok(())
}

fn push_unchecked(c: &mut Core, v: F80) {
    let f = &mut c.cpu.fpu;
    f.set_top(f.top() + 7);
    f.set_st(0, v);
}

fn one(_x: F80, _env: float::Env) -> Outcome {
    Outcome {
        value: F80::ONE,
        flags: 0,
    }
}

fn fsin(c: &mut Core, i: &Insn) -> Res {
    trig(c, i, sin, None)
}
fn fcos(c: &mut Core, i: &Insn) -> Res {
    trig(c, i, cos, None)
}
/// FSINCOS: ST(0) = sin, then cos pushed.
fn fsincos(c: &mut Core, i: &Insn) -> Res {
    trig(c, i, sin, Some(cos))
}
/// FPTAN: ST(0) = tan, then 1.0 pushed.
fn fptan(c: &mut Core, i: &Insn) -> Res {
    trig(c, i, tan, Some(one))
}

/// Runs a two-operand function f(ST(0), ST(1)) whose result replaces ST(1), then pops.
fn binary_pop(c: &mut Core, i: &Insn, f: fn(F80, F80, float::Env) -> Outcome) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (Some(x), Some(y)) = (read_st(c, 0), read_st(c, 1)) else {
        if underflow(c) {
            let f = &mut c.cpu.fpu;
            f.set_st(1, F80::INDEFINITE);
            f.pop();
        }
        return Ok(());
    };
    let o = f(x, y, c.cpu.fpu.env());
    let fpu = &mut c.cpu.fpu;
    if fpu.report(o.flags & !exc::C1) {
        fpu.set_st(1, o.value);
        fpu.pop();
    }
    Ok(())
}

/// `k` pi / 4 (k = 1, 2, 3, 4) with a sign, rounded by the control word from the FPU's
/// 128-bit pi (as FLDPI's value).
fn pi_quarters(k: u128, neg: bool, env: float::Env) -> Outcome {
    let (pi, _) = super::load_store::constant(Code::Fldpi).unwrap_or((1 << 127, 1));
    // pi = (pi >> 2) * 2^(1 - 125); k pi / 4 = k (pi >> 2) * 2^(-1 - 125).
    let r = float::round(neg, (pi >> 2) * k, -126, true, float::EXT, env);
    Outcome {
        value: r.to_f80(float::EXT),
        flags: r.flags,
    }
}

/// FPATAN: arctan(ST(1) / ST(0)) with the quadrant of (ST(0), ST(1)) (SDM Vol. 2A
/// FPATAN, Table 3-30: the exact multiples of pi/4 come from the FPU's pi).
pub fn patan(x: F80, y: F80, env: float::Env) -> Outcome {
    if let Some(o) = float::special_operands(y, Some(x)) {
        return o;
    }
    let de = float::denormal_flag(&[x, y]);
    let (cx, cy) = (x.class(), y.class());
    let (xn, yn) = (x.is_neg(), y.is_neg());
    let quarters = |k: u128| {
        let mut o = pi_quarters(k, yn, env);
        o.flags |= de;
        o
    };
    match (cx, cy) {
        (_, Class::Zero) if !xn => {
            return Outcome {
                value: y,
                flags: de,
            }
        }
        (_, Class::Zero) => return quarters(4),
        (Class::Inf, Class::Inf) => return quarters(if xn { 3 } else { 1 }),
        (Class::Zero, _) | (_, Class::Inf) => return quarters(2),
        (Class::Inf, _) if !xn => {
            return Outcome {
                value: F80::zero(yn),
                flags: de,
            }
        }
        (Class::Inf, _) => return quarters(4),
        _ => {}
    }
    // Both finite and nonzero. A ratio below 2^-64 with x > 0: atan(r) = r within far
    // less than an ulp. Otherwise scale both by the same power of two (atan2 does not
    // change) so that they fit an f64.
    let norm = |v: F80| {
        let (n, m, e) = v.unpack();
        let lz = m.leading_zeros() as i32;
        (n, m << lz, e - lz)
    };
    let ((_, _, ex), (_, _, ey)) = (norm(x), norm(y));
    if ey - ex < -64 && !xn {
        let o = float::arith(float::Op::Div, y, x, float::EXT, env);
        return Outcome {
            value: o.value,
            flags: (o.flags & !exc::C1) | de | exc::PE,
        };
    }
    let to_f64 = |v: F80, e_top: i32| {
        let (n, m, e) = norm(v);
        let exp = e + 63 - e_top;
        let mag = if exp < -1070 {
            0.0
        } else {
            (m as f64) * 2f64.powi(exp - 63)
        };
        if n {
            -mag
        } else {
            mag
        }
    };
    let top = ex.max(ey) + 63;
    let r = to_f64(y, top).atan2(to_f64(x, top));
    Outcome {
        value: float::from_f64(r),
        flags: de | exc::PE,
    }
}

/// ln 2 * 2^64, truncated.
const LN2_64: u64 = 0xB172_17F7_D1CF_79AB;

pub fn two_xm1(x: F80, env: float::Env) -> Outcome {
    if let Some(o) = float::special_operands(x, None) {
        return o;
    }
    match x.class() {
        Class::Zero => return Outcome { value: x, flags: 0 },
        Class::Inf => {
            let v = if x.is_neg() {
                F80::ONE.with_sign(true)
            } else {
                x
            };
            return Outcome { value: v, flags: 0 };
        }
        Class::Denormal => {
            // 2^x - 1 = x ln 2 (+ far below an ulp): x times ln 2's leading 64 bits, the
            // rest as sticky, rounded by the control word.
            let (n, m, e) = x.unpack();
            let r = float::round(n, m as u128 * LN2_64 as u128, e - 64, true, float::EXT, env);
            return Outcome {
                value: r.to_f80(float::EXT),
                flags: exc::DE | r.flags,
            };
        }
        _ => {}
    }
    let (h, l) = split(x);
    let ln2 = std::f64::consts::LN_2;
    let e = (h * ln2).exp_m1();
    // d/dx (2^x - 1) = 2^x ln 2.
    inexact(e + (e + 1.0) * ln2 * l)
}

fn log2_corrected(x: F80, plus_one: bool) -> f64 {
    let (h, l) = split(x);
    if plus_one {
        h.ln_1p() / std::f64::consts::LN_2 + l / ((1.0 + h) * std::f64::consts::LN_2)
    } else {
        // x = M 2^E with 1 <= M < 2: log2 x = E + log2 M (so any exponent fits).
        let (_, m, e) = x.unpack();
        let lz = m.leading_zeros() as i32;
        let m = m << lz;
        let big = e - lz + 63;
        if big == -1 || big == 0 {
            // Near 1: no cancellation against the exponent.
            return h.log2() + l / (h * std::f64::consts::LN_2);
        }
        let mh = (m >> 11) as f64 / (1u64 << 52) as f64;
        let ml = (m & 0x7FF) as f64 / 2f64.powi(63);
        big as f64 + mh.log2() + ml / (mh * std::f64::consts::LN_2)
    }
}

/// ST(1) * log2(ST(0)) (FYL2X) or ST(1) * log2(ST(0) + 1) (FYL2XP1).
fn ylog(x: F80, y: F80, plus_one: bool) -> Outcome {
    if let Some(o) = float::special_operands(x, Some(y)) {
        return o;
    }
    let de = float::denormal_flag(&[x, y]);
    let inv = Outcome {
        value: F80::INDEFINITE,
        flags: exc::IE,
    };
    let (cx, cy) = (x.class(), y.class());
    let xv = x.to_f64();
    if !plus_one {
        if x.is_neg() && cx != Class::Zero {
            return inv;
        }
        if cx == Class::Zero {
            return match cy {
                Class::Zero => inv,
                Class::Inf => Outcome {
                    value: F80::inf(!y.is_neg()),
                    flags: 0,
                },
                _ => Outcome {
                    value: F80::inf(!y.is_neg()),
                    flags: exc::ZE,
                },
            };
        }
    } else if xv < -1.0 {
        return inv;
    } else if matches!(cx, Class::Denormal | Class::Normal) && x.bexp() < 0x3FFF - 64 {
        // log2(1 + x) = x log2(e) within far less than an ulp: in extended arithmetic,
        // where an f64 would underflow.
        let env = float::Env {
            rc: 0,
            om: true,
            um: true,
        };
        let (l2e, _) = super::load_store::constant(Code::Fldl2e).unwrap_or((1 << 127, 0));
        let l2e = F80::new(false, 0x3FFF, (l2e >> 64) as u64);
        let t = float::arith(Op::Mul, y, x, float::EXT, env);
        let o = float::arith(Op::Mul, t.value, l2e, float::EXT, env);
        let pe = match o.value.class() {
            Class::Normal | Class::Denormal => exc::PE,
            _ => 0,
        };
        return Outcome {
            value: o.value,
            flags: ((t.flags | o.flags) & !exc::C1) | pe | de,
        };
    }
    let l = if cx == Class::Inf {
        f64::INFINITY
    } else {
        log2_corrected(x, plus_one)
    };
    if l == 0.0 && cy == Class::Inf || l.is_infinite() && cy == Class::Zero {
        return inv;
    }
    if cy == Class::Inf || l.is_infinite() {
        let neg = (l < 0.0) != y.is_neg();
        return Outcome {
            value: F80::inf(neg),
            flags: de,
        };
    }
    if l == 0.0 {
        let neg = y.is_neg() != (plus_one && x.is_neg());
        return Outcome {
            value: F80::zero(neg),
            flags: de,
        };
    }
    let env = float::Env {
        rc: 0,
        om: true,
        um: true,
    };
    let o = float::arith(Op::Mul, y, float::from_f64(l), float::EXT, env);
    // A zero y gives an exact zero (no PE).
    let pe = if cy == Class::Zero { 0 } else { exc::PE };
    Outcome {
        value: o.value,
        flags: (o.flags & !exc::C1) | pe | de,
    }
}

fn fpatan(c: &mut Core, i: &Insn) -> Res {
    binary_pop(c, i, patan)
}
fn f2xm1(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let Some(x) = read_st(c, 0) else {
        if underflow(c) {
            c.cpu.fpu.set_st(0, F80::INDEFINITE);
        }
        return Ok(());
    };
    let o = two_xm1(x, c.cpu.fpu.env());
    let f = &mut c.cpu.fpu;
    if f.report(o.flags) {
        f.set_st(0, o.value);
    }
    Ok(())
}
fn fyl2x(c: &mut Core, i: &Insn) -> Res {
    binary_pop(c, i, |x, y, _| ylog(x, y, false))
}
fn fyl2xp1(c: &mut Core, i: &Insn) -> Res {
    binary_pop(c, i, |x, y, _| ylog(x, y, true))
}
