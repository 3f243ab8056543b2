//! 80-bit extended values (`F80`) and the x87's rounding (SDM Vol. 1 4.8 and 8.1.5): one
//! function, `round`, turns an exact-or-sticky intermediate into a value of a format
//! (double extended at precision control 24, 53 or 64 bits, or the single and double memory
//! formats) under a rounding control, with the overflow, underflow and precision flags and
//! C1. The exact intermediates of add, subtract, multiply and divide come from
//! rustc_apfloat on a 113-bit format with an unbounded exponent, rounded toward zero with a
//! sticky bit (round-to-odd, which makes the second rounding correct); square root and
//! integer conversions are exact integer arithmetic here. This module knows nothing of the
//! register stack or of exceptions being masked beyond what `Env` tells it.

use rustc_apfloat::ieee::{IeeeFloat, Semantics};
use rustc_apfloat::{ExpInt, Float, Round, Status};
use serde::{Deserialize, Serialize};

/// Status-word exception bits (SDM Vol. 1 8.1.3).
pub mod exc {
    pub const IE: u16 = 1;
    pub const DE: u16 = 2;
    pub const ZE: u16 = 4;
    pub const OE: u16 = 8;
    pub const UE: u16 = 0x10;
    pub const PE: u16 = 0x20;
    pub const SF: u16 = 0x40;
    /// Not an exception: the value of C1 an operation leaves (status-word bit 9).
    pub const C1: u16 = 0x200;
}

/// The bias adjustment of an unmasked overflow or underflow delivered to a register
/// (SDM Vol. 1 8.5.4 and 8.5.5).
pub const BIAS_ADJUST: i32 = 24576;

/// One x87 data register or m80 operand: the 64-bit significand with its explicit integer
/// bit, and the sign and 15-bit biased exponent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct F80 {
    pub sig: u64,
    pub se: u16,
}

/// What an 80-bit pattern is (SDM Vol. 1 8.2.2, Table 8-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Zero,
    /// Exponent 0 and a nonzero significand (pseudo-denormals, integer bit set, included:
    /// the P6 takes them as denormal operands).
    Denormal,
    Normal,
    Inf,
    QNan,
    SNan,
    /// Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands since the 387.
    Unsupported,
}

const INT_BIT: u64 = 1 << 63;
const QUIET: u64 = 1 << 62;

impl F80 {
    pub const ZERO: F80 = F80 { sig: 0, se: 0 };
    pub const ONE: F80 = F80 {
        sig: INT_BIT,
        se: 0x3FFF,
    };
    /// The "real indefinite" QNaN (SDM Vol. 1 4.8.3.7).
    pub const INDEFINITE: F80 = F80 {
        sig: 0xC000_0000_0000_0000,
        se: 0xFFFF,
    };
    pub const fn new(neg: bool, bexp: u16, sig: u64) -> F80 {
        F80 {
            sig,
            se: (neg as u16) << 15 | (bexp & 0x7FFF),
        }
    }
    pub fn inf(neg: bool) -> F80 {
        F80::new(neg, 0x7FFF, INT_BIT)
    }
    pub fn zero(neg: bool) -> F80 {
        F80::new(neg, 0, 0)
    }
    pub fn is_neg(self) -> bool {
        self.se & 0x8000 != 0
    }
    pub fn bexp(self) -> u16 {
        self.se & 0x7FFF
    }
    pub fn with_sign(self, neg: bool) -> F80 {
        F80::new(neg, self.bexp(), self.sig)
    }
    pub fn class(self) -> Class {
        let e = self.bexp();
        let int = self.sig & INT_BIT != 0;
        match e {
            0 if self.sig == 0 => Class::Zero,
            0 => Class::Denormal,
            0x7FFF if !int => Class::Unsupported,
            0x7FFF if self.sig << 1 == 0 => Class::Inf,
            0x7FFF if self.sig & QUIET != 0 => Class::QNan,
            0x7FFF => Class::SNan,
            _ if !int => Class::Unsupported,
            _ => Class::Normal,
        }
    }
    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNan | Class::SNan)
    }
    /// The same NaN, quiet.
    pub fn quiet(self) -> F80 {
        F80 {
            sig: self.sig | QUIET,
            se: self.se,
        }
    }
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.sig.to_le_bytes());
        b[8..].copy_from_slice(&self.se.to_le_bytes());
        b
    }
    pub fn from_bytes(b: &[u8]) -> F80 {
        F80 {
            sig: u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])),
            se: u16::from_le_bytes([b[8], b[9]]),
        }
    }
    /// Finite nonzero value as `sig * 2^exp` (denormals use the minimum exponent).
    pub fn unpack(self) -> (bool, u64, i32) {
        let e = self.bexp().max(1) as i32;
        (self.is_neg(), self.sig, e - 16383 - 63)
    }
    /// The value as an f64, for display only (rounded to nearest; NaN payloads dropped).
    pub fn to_f64(self) -> f64 {
        let s = if self.is_neg() { -1.0 } else { 1.0 };
        match self.class() {
            Class::Zero => s * 0.0,
            Class::Inf => s * f64::INFINITY,
            Class::QNan | Class::SNan | Class::Unsupported => f64::NAN,
            _ => {
                let (_, m, e) = self.unpack();
                s * (m as f64) * 2f64.powi(e.clamp(-1100, 1100))
            }
        }
    }
}

/// A destination format: significand precision `p` and the normal exponent range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    pub p: u32,
    pub emin: i32,
    pub emax: i32,
}

pub const EXT: Fmt = Fmt {
    p: 64,
    emin: -16382,
    emax: 16383,
};
pub const F64: Fmt = Fmt {
    p: 53,
    emin: -1022,
    emax: 1023,
};
pub const F32: Fmt = Fmt {
    p: 24,
    emin: -126,
    emax: 127,
};

/// The double-extended format at a precision control (CW bits 8-9: 00 single, 10 double,
/// 11 extended; 01 is reserved and acts as extended here).
pub fn ext_pc(pc: u16) -> Fmt {
    Fmt {
        p: match pc & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        },
        ..EXT
    }
}

/// What a rounding needs from the control word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// Rounding control (CW bits 10-11): 0 nearest, 1 down, 2 up, 3 toward zero.
    pub rc: u8,
    /// Overflow and underflow masked (CW.OM, CW.UM).
    pub om: bool,
    pub um: bool,
}

impl Env {
    pub fn from_cw(cw: u16) -> Env {
        Env {
            rc: ((cw >> 10) & 3) as u8,
            om: cw & exc::OE != 0,
            um: cw & exc::UE != 0,
        }
    }
    pub fn apfloat_round(self) -> Round {
        match self.rc {
            0 => Round::NearestTiesToEven,
            1 => Round::TowardNegative,
            2 => Round::TowardPositive,
            _ => Round::TowardZero,
        }
    }
}

/// A rounded value of some format, not yet packed: `bexp` is biased by `emax` (0 for
/// zeros and denormals, `2 emax + 1` for infinities) and may lie outside the format after
/// an unmasked overflow or underflow (already bias-adjusted); `sig` holds `p` bits
/// (the integer bit included, clear for denormals and zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packed {
    pub neg: bool,
    pub bexp: i32,
    pub sig: u64,
    /// Exception flags raised (OE, UE, PE) and `exc::C1` if the value was rounded up in
    /// magnitude.
    pub flags: u16,
}

impl Packed {
    /// As a register value (only for `EXT`-range formats).
    pub fn to_f80(self, fmt: Fmt) -> F80 {
        let sig = if self.sig == 0 {
            0
        } else {
            self.sig << (64 - fmt.p)
        };
        F80::new(self.neg, self.bexp as u16, sig)
    }
}

/// `m >> drop` rounded by `rc` (`sticky`: nonzero bits below `m`): (kept, inexact, up).
fn shr_round(m: u128, drop: i64, sticky: bool, neg: bool, rc: u8) -> (u128, bool, bool) {
    if drop <= 0 {
        return (m << (-drop).min(127), sticky, false);
    }
    let (kept, half, rest) = if drop > 128 {
        (0, false, m != 0 || sticky)
    } else if drop == 128 {
        (0, m >> 127 == 1, m << 1 != 0 || sticky)
    } else {
        let d = drop as u32;
        (
            m >> d,
            (m >> (d - 1)) & 1 == 1,
            m & ((1u128 << (d - 1)) - 1) != 0 || sticky,
        )
    };
    let inexact = half || rest;
    let up = match rc {
        0 => half && (rest || kept & 1 == 1),
        1 => inexact && neg,
        2 => inexact && !neg,
        _ => false,
    };
    (kept + up as u128, inexact, up)
}

/// Tininess is detected after rounding, as on Intel processors (the result rounded to the
/// format's precision with an unbounded exponent is below the smallest normal).
const TINY_AFTER_ROUNDING: bool = true;

/// Rounds `±(m * 2^exp + sticky)` to `fmt` under `env` (SDM Vol. 1 4.8.4, 4.9.1.4-6).
/// `m` may be zero only with `sticky` false (an exact zero, returned as `±0`).
pub fn round(neg: bool, m: u128, exp: i32, sticky: bool, fmt: Fmt, env: Env) -> Packed {
    let mut out = Packed {
        neg,
        bexp: 0,
        sig: 0,
        flags: 0,
    };
    if m == 0 {
        return out;
    }
    let bias = fmt.emax;
    let p = fmt.p as i64;
    let msb = 127 - m.leading_zeros() as i64;
    let e_lead = exp as i64 + msb;
    // Rounding with an unbounded exponent.
    let (mut r, inexact, up) = shr_round(m, msb + 1 - p, sticky, neg, env.rc);
    let mut e_r = e_lead;
    if r >> p != 0 {
        r >>= 1;
        e_r += 1;
    }
    let tiny = if TINY_AFTER_ROUNDING {
        e_r < fmt.emin as i64
    } else {
        e_lead < fmt.emin as i64
    };
    let pe = if inexact { exc::PE } else { 0 };
    let c1 = if up { exc::C1 } else { 0 };
    if e_r > fmt.emax as i64 {
        // Unmasked, the result is delivered with its exponent reduced by the bias
        // adjustment, unless even that is too large: then as if masked.
        let adjusted_fits = e_r - (BIAS_ADJUST as i64) <= fmt.emax as i64;
        if env.om || !adjusted_fits {
            // Masked overflow: infinity or the largest finite value, by rounding direction.
            // Unmasked but beyond the bias adjustment: infinity whatever the rounding.
            let to_inf = !env.om
                || match env.rc {
                    0 => true,
                    1 => neg,
                    2 => !neg,
                    _ => false,
                };
            out.flags = exc::OE | exc::PE;
            if to_inf {
                out.bexp = 2 * bias + 1;
                out.sig = 1 << (p - 1);
                out.flags |= exc::C1;
            } else {
                out.bexp = 2 * bias;
                out.sig = ((1u128 << p) - 1) as u64;
            }
        } else {
            out.flags = exc::OE | pe | c1;
            out.bexp = (e_r + bias as i64) as i32 - BIAS_ADJUST;
            out.sig = r as u64;
        }
        return out;
    }
    if tiny && !env.um && e_r + (BIAS_ADJUST as i64) < fmt.emin as i64 {
        // Unmasked but beyond the bias adjustment: a zero, whatever the rounding.
        out.flags = exc::UE | exc::PE;
        return out;
    }
    if tiny && !env.um {
        out.flags = exc::UE | pe | c1;
        out.bexp = (e_r + bias as i64) as i32 + BIAS_ADJUST;
        out.sig = r as u64;
        return out;
    }
    if e_lead < fmt.emin as i64 {
        // Denormalize: the last bit has the weight of the smallest normal's last bit.
        let lsb = fmt.emin as i64 - (p - 1);
        let (d, inexact, up) = shr_round(m, lsb - exp as i64, sticky, neg, env.rc);
        out.sig = d as u64;
        out.bexp = if d >> (p - 1) != 0 { 1 } else { 0 };
        if inexact {
            out.flags = exc::PE | if tiny { exc::UE } else { 0 };
        }
        if up {
            out.flags |= exc::C1;
        }
        return out;
    }
    out.flags = pe | c1;
    out.bexp = (e_r + bias as i64) as i32;
    out.sig = r as u64;
    out
}

/// Rounds a finite nonzero register value to `fmt` (FST to memory, FLD of the constants).
pub fn round_f80(v: F80, fmt: Fmt, env: Env) -> Packed {
    let (neg, m, e) = v.unpack();
    round(neg, m as u128, e, false, fmt, env)
}

// ---- exact arithmetic on a wide format (rustc_apfloat) ----

/// 113-bit significand, exponent range far beyond the x87's: every sum, product and
/// quotient of two 64-bit-significand operands is exact or its rounding toward zero keeps
/// at least 49 bits below the 64th (enough for a correct second rounding).
pub struct WideS;
impl Semantics for WideS {
    const BITS: usize = 128;
    const EXP_BITS: usize = 15;
    const PRECISION: usize = 113;
    const MIN_EXP: ExpInt = -(1 << 20);
    const MAX_EXP: ExpInt = 1 << 20;
}
type Wide = IeeeFloat<WideS>;

const WIDE_P: i32 = 113;

fn to_wide(v: F80) -> Wide {
    match v.class() {
        Class::Zero => {
            if v.is_neg() {
                -Wide::ZERO
            } else {
                Wide::ZERO
            }
        }
        Class::Inf => {
            if v.is_neg() {
                -Wide::INFINITY
            } else {
                Wide::INFINITY
            }
        }
        _ => {
            let (neg, m, e) = v.unpack();
            let w = Wide::from_u128(m as u128).value.scalbn(e);
            if neg {
                -w
            } else {
                w
            }
        }
    }
}

/// A finite nonzero wide value as (neg, m, exp) with value m * 2^exp.
fn from_wide(w: Wide) -> (bool, u128, i32) {
    let e = w.ilogb();
    let scaled = w.abs().scalbn(WIDE_P - 1 - e);
    let mut exact = false;
    let m = scaled.to_u128_r(128, Round::TowardZero, &mut exact).value;
    (w.is_negative(), m, e - (WIDE_P - 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// The NaN result of an operation with NaN operands (SDM Vol. 1 4.8.3.5, Table 4-7): the
/// NaN operand quieted, or of two, the one with the larger significand (the first on a
/// tie). IE if any is signaling.
pub fn nan_result(a: F80, b: Option<F80>) -> (F80, u16) {
    let sn = |v: F80| v.class() == Class::SNan;
    let ie = if sn(a) || b.is_some_and(sn) {
        exc::IE
    } else {
        0
    };
    let r = match b {
        Some(b) if a.is_nan() && b.is_nan() => {
            let (qa, qb) = (a.quiet(), b.quiet());
            if sn(a) != sn(b) {
                // A signaling and a quiet NaN: the quiet one.
                if sn(a) {
                    qb
                } else {
                    qa
                }
            } else if qb.sig > qa.sig {
                qb
            } else if qa.sig > qb.sig {
                qa
            } else if a.is_neg() && !b.is_neg() {
                qb
            } else {
                qa
            }
        }
        Some(b) if b.is_nan() => b.quiet(),
        _ => a.quiet(),
    };
    (r, ie)
}

/// Result of an arithmetic operation: the value to store and the flags (IE DE ZE OE UE PE
/// and C1). With an unmasked IE, ZE or DE the caller stores nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub value: F80,
    pub flags: u16,
}

fn invalid() -> Outcome {
    Outcome {
        value: F80::INDEFINITE,
        flags: exc::IE,
    }
}

/// Checks operands common to all arithmetic: unsupported encodings and NaNs. Returns the
/// outcome when the operation is decided by them.
pub fn special_operands(a: F80, b: Option<F80>) -> Option<Outcome> {
    let unsup = |v: F80| v.class() == Class::Unsupported;
    if unsup(a) || b.is_some_and(unsup) {
        return Some(invalid());
    }
    if a.is_nan() || b.is_some_and(F80::is_nan) {
        let (value, flags) = nan_result(a, b);
        return Some(Outcome { value, flags });
    }
    None
}

/// DE if any operand is a denormal.
pub fn denormal_flag(ops: &[F80]) -> u16 {
    if ops.iter().any(|v| v.class() == Class::Denormal) {
        exc::DE
    } else {
        0
    }
}

/// `a op b` rounded to `fmt` (the double-extended format at the precision control).
pub fn arith(op: Op, a: F80, b: F80, fmt: Fmt, env: Env) -> Outcome {
    if let Some(o) = special_operands(a, Some(b)) {
        return o;
    }
    let de = denormal_flag(&[a, b]);
    let (ca, cb) = (a.class(), b.class());
    let inf = |c| c == Class::Inf;
    let zero = |c| c == Class::Zero;
    let invalid_case = match op {
        Op::Add => inf(ca) && inf(cb) && a.is_neg() != b.is_neg(),
        Op::Sub => inf(ca) && inf(cb) && a.is_neg() == b.is_neg(),
        Op::Mul => (inf(ca) && zero(cb)) || (zero(ca) && inf(cb)),
        Op::Div => (inf(ca) && inf(cb)) || (zero(ca) && zero(cb)),
    };
    if invalid_case {
        return invalid();
    }
    if op == Op::Div && zero(cb) && !inf(ca) {
        // Division by zero reports ZE alone, even for a denormal dividend.
        return Outcome {
            value: F80::inf(a.is_neg() != b.is_neg()),
            flags: exc::ZE,
        };
    }
    let (wa, wb) = (to_wide(a), to_wide(b));
    let calc = |r: Round| match op {
        Op::Add => wa.add_r(wb, r),
        Op::Sub => wa.sub_r(wb, r),
        Op::Mul => wa.mul_r(wb, r),
        Op::Div => wa.div_r(wb, r),
    };
    let t = calc(Round::TowardZero);
    let w = t.value;
    if w.is_infinite() {
        return Outcome {
            value: F80::inf(w.is_negative()),
            flags: de,
        };
    }
    if w.is_zero() {
        // Exact zero: its sign follows the rounding direction (x - x = -0 only rounding down).
        let z = calc(env.apfloat_round()).value;
        return Outcome {
            value: F80::zero(z.is_negative()),
            flags: de,
        };
    }
    let (neg, m, e) = from_wide(w);
    let sticky = t.status.contains(Status::INEXACT);
    let r = round(neg, m, e, sticky, fmt, env);
    Outcome {
        value: r.to_f80(fmt),
        flags: r.flags | de,
    }
}

/// Square root rounded to `fmt` (SDM Vol. 1 FSQRT): exact integer square root of the
/// significand scaled to 126 bits, the remainder as sticky.
pub fn sqrt(a: F80, fmt: Fmt, env: Env) -> Outcome {
    if let Some(o) = special_operands(a, None) {
        return o;
    }
    let de = denormal_flag(&[a]);
    match a.class() {
        Class::Zero => return Outcome { value: a, flags: 0 },
        Class::Inf if !a.is_neg() => return Outcome { value: a, flags: 0 },
        _ if a.is_neg() => return invalid(),
        _ => {}
    }
    let (_, m, e) = a.unpack();
    // m * 2^e scaled so that its top bit is bit 127 or 126 with an even exponent: the
    // integer root then has 64 bits. One more bit (is the rest above half?) and the
    // remainder as sticky give exact rounding information.
    let mut shift = (m as u128).leading_zeros() as i32;
    if (e - shift) % 2 != 0 {
        shift -= 1;
    }
    let big = (m as u128) << shift;
    let ee = e - shift;
    let root = isqrt(big);
    let rem = big - root * root;
    let root2 = root << 1 | (rem > root) as u128;
    let r = round(false, root2, ee / 2 - 1, rem != 0, fmt, env);
    Outcome {
        value: r.to_f80(fmt),
        flags: r.flags | de,
    }
}

/// floor(sqrt(n)) for a u128.
fn isqrt(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    // Newton from above, starting at a power of two not below the root.
    let bits = 128 - n.leading_zeros();
    let mut x: u128 = 1 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// A finite value rounded to an integer by `rc`: (neg, magnitude, inexact, up). None if
/// the magnitude needs more than 127 bits.
pub fn to_integer(v: F80, rc: u8) -> Option<(bool, u128, bool, bool)> {
    if v.class() == Class::Zero {
        return Some((v.is_neg(), 0, false, false));
    }
    let (neg, m, e) = v.unpack();
    if e > 63 {
        return None;
    }
    let (k, inexact, up) = shr_round(m as u128, -(e as i64), false, neg, rc);
    Some((neg, k, inexact, up))
}

/// An exact register value from an integer (FILD, FBLD, results of FRNDINT/FPREM).
pub fn from_integer(neg: bool, mag: u128) -> F80 {
    if mag == 0 {
        return F80::zero(neg);
    }
    let r = round(
        neg,
        mag,
        0,
        false,
        EXT,
        Env {
            rc: 0,
            om: true,
            um: true,
        },
    );
    r.to_f80(EXT)
}

/// Compares two non-NaN supported values: Less, Equal or Greater (zeros equal).
pub fn compare(a: F80, b: F80) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let (wa, wb) = (to_wide(a), to_wide(b));
    wa.partial_cmp(&wb).unwrap_or(Equal)
}

/// A finite or infinite value as an f64 rounded to nearest (for the transcendental
/// approximations).
pub fn to_f64_exact_enough(v: F80) -> f64 {
    v.to_f64()
}

/// An f64 as a register value (exact).
pub fn from_f64(x: f64) -> F80 {
    if x.is_nan() {
        return F80::INDEFINITE;
    }
    if x.is_infinite() {
        return F80::inf(x < 0.0);
    }
    if x == 0.0 {
        return F80::zero(x.is_sign_negative());
    }
    let bits = x.to_bits();
    let neg = bits >> 63 != 0;
    let e = ((bits >> 52) & 0x7FF) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (m, ex) = if e == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, e - 1075)
    };
    let r = round(
        neg,
        m as u128,
        ex,
        false,
        EXT,
        Env {
            rc: 0,
            om: true,
            um: true,
        },
    );
    r.to_f80(EXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            rc: 0,
            om: true,
            um: true,
        }
    }

    #[test]
    fn one_plus_one_is_two() {
        let o = arith(Op::Add, F80::ONE, F80::ONE, EXT, env());
        assert_eq!(o.value, F80::new(false, 0x4000, INT_BIT));
        assert_eq!(o.flags, 0);
    }

    #[test]
    fn sqrt_of_four_and_two() {
        let four = from_integer(false, 4);
        assert_eq!(sqrt(four, EXT, env()).value, from_integer(false, 2));
        let s2 = sqrt(from_integer(false, 2), EXT, env());
        // sqrt(2) * 2^63 = 0xB504F333F9DE6484 + 0.35: rounds down to nearest.
        assert_eq!(s2.value.sig, 0xB504_F333_F9DE_6484);
        assert_eq!(s2.flags, exc::PE);
    }

    #[test]
    fn isqrt_is_floor() {
        for n in [0u128, 1, 2, 3, 4, 15, 16, 17, u128::MAX, 1 << 126] {
            let r = isqrt(n);
            assert!(r * r <= n);
            assert!(r
                .checked_add(1)
                .and_then(|s| s.checked_mul(s))
                .is_none_or(|s| s > n));
        }
    }
}
