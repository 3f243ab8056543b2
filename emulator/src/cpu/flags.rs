//! EFLAGS with lazy evaluation of the six arithmetic flags (CF PF AF ZF SF OF).
//!
//! Instructions record two words instead of six flags, and every flag is a fixed formula
//! of those words, with no dispatch on the operation that produced them (the scheme Bochs
//! uses for its "lazy flags"):
//! - `res`: the result, sign-extended from the operand size to 32 bits, so ZF is
//!   `res == 0`, SF is bit 31 and PF is the parity of the low byte;
//! - `aux`: bit 31 is CF (the carry or borrow out of the most significant bit), bit 30 is
//!   the carry out of the bit below it, so OF (carry into the MSB xor carry out of it) is
//!   bit 31 xor bit 30; bit 3 is the carry out of bit 3, i.e. AF; bit 0 flips SF and bits
//!   8-15 flip PF, for the rare flag combinations no result could produce (POPF, SAHF).
//!
//! ADD/ADC and SUB/SBB/CMP/NEG derive the carry (borrow) vector from the operands and the
//! result (`(a & b) | ((a | b) & !r)`), so carry-in needs no extra state. Setting costs a
//! few ALU operations; reading a flag, or a Jcc condition, a shift or two.
//! This module owns flag storage and evaluation; it must not know about instructions.
//!
//! Undefined flags: the policy and the table of what the SDM leaves undefined live in one
//! place, `cpu::undefined_flags`.

use serde::{Deserialize, Serialize};

pub const CF: u32 = 1 << 0;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
pub const TF: u32 = 1 << 8;
pub const IF: u32 = 1 << 9;
pub const DF: u32 = 1 << 10;
pub const OF: u32 = 1 << 11;
pub const IOPL: u32 = 3 << 12;
pub const NT: u32 = 1 << 14;
pub const RF: u32 = 1 << 16;
pub const VM: u32 = 1 << 17;
pub const AC: u32 = 1 << 18;
pub const VIF: u32 = 1 << 19;
pub const VIP: u32 = 1 << 20;
pub const ID: u32 = 1 << 21;
pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
/// Bits that exist on an i686 (bit 1 always reads as 1).
pub const VALID: u32 = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID | 2;

/// The operation whose flags `set_lazy` records. Size is 1, 2 or 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcOp {
    Add,
    Sub,
    Logic,
}

/// `aux` bits (see the module documentation).
const AUX_CF: u32 = 1 << 31;
const AUX_PO: u32 = 1 << 30;
const AUX_AF: u32 = 1 << 3;
const AUX_SD: u32 = 1;
const AUX_PDB_SHIFT: u32 = 8;

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Flags {
    /// The EFLAGS bits other than the six arithmetic ones (those bits are always 0 here).
    pub bits: u32,
    /// Last result, sign-extended to 32 bits.
    res: u32,
    /// Carry bits and deltas.
    aux: u32,
}

/// Two values are equal when they read as the same EFLAGS (the encoding is not unique).
impl PartialEq for Flags {
    fn eq(&self, o: &Flags) -> bool {
        self.get() == o.get()
    }
}
impl Eq for Flags {}

impl Default for Flags {
    fn default() -> Self {
        let mut f = Flags {
            bits: 2,
            res: 0,
            aux: 0,
        };
        f.set_arith(false, false, false, false, false, false);
        f
    }
}

#[inline(always)]
pub fn mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Sign-extends the low `size` bytes of `v` to 32 bits.
#[inline(always)]
fn sext(v: u32, size: u8) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

/// Places a carry vector's bits for AF and for the two most significant bits of `size`.
#[inline(always)]
fn aux_of(carries: u32, size: u8) -> u32 {
    match size {
        1 => (carries & AUX_AF) | ((carries >> 6) << 30),
        2 => (carries & AUX_AF) | ((carries >> 14) << 30),
        _ => carries & (AUX_CF | AUX_PO | AUX_AF),
    }
}

/// PF for every low byte (true = even number of set bits): one load instead of a software
/// popcount on hosts built without POPCNT.
const PARITY: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).count_ones() & 1 == 0;
        i += 1;
    }
    t
};

#[inline(always)]
pub fn parity(v: u32) -> bool {
    PARITY[(v & 0xFF) as usize]
}

impl Flags {
    /// Records the flags of `r = a OP b` at `size` bytes (`r` masked to the size).
    #[inline(always)]
    pub fn set_lazy(&mut self, op: CcOp, size: u8, a: u32, b: u32, r: u32) {
        self.res = sext(r, size);
        self.aux = match op {
            CcOp::Add => aux_of((a & b) | ((a | b) & !r), size),
            CcOp::Sub => aux_of((!a & b) | ((!a | b) & r), size),
            CcOp::Logic => 0,
        };
    }

    /// INC/DEC: like ADD/SUB with 1, but CF keeps its value. Flipping both bit 31 and bit
    /// 30 of `aux` changes CF and leaves OF (their xor) alone.
    #[inline(always)]
    pub fn set_incdec(&mut self, inc: bool, size: u8, a: u32, r: u32) {
        let old = self.aux;
        self.set_lazy(if inc { CcOp::Add } else { CcOp::Sub }, size, a, 1, r);
        let d = (self.aux ^ old) & AUX_CF;
        self.aux ^= d | (d >> 1);
    }

    /// SF, ZF and PF from the result `r` at `size` bytes, CF and OF as given, AF = 0
    /// (shifts and multiplies; see `cpu::undefined_flags`).
    #[inline(always)]
    pub fn set_result(&mut self, size: u8, r: u32, cf: bool, of: bool) {
        self.res = sext(r, size);
        self.aux = ((cf as u32) << 31) | (((cf ^ of) as u32) << 30);
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        self.aux & AUX_CF != 0
    }

    #[inline(always)]
    pub fn zf(&self) -> bool {
        self.res == 0
    }

    #[inline(always)]
    pub fn sf(&self) -> bool {
        ((self.res >> 31) ^ (self.aux & AUX_SD)) != 0
    }

    #[inline(always)]
    pub fn of(&self) -> bool {
        (self.aux ^ (self.aux << 1)) & AUX_CF != 0
    }

    #[inline(always)]
    pub fn pf(&self) -> bool {
        parity(self.res ^ (self.aux >> AUX_PDB_SHIFT))
    }

    #[inline(always)]
    pub fn af(&self) -> bool {
        self.aux & AUX_AF != 0
    }

    /// The full EFLAGS value.
    pub fn get(&self) -> u32 {
        self.bits
            | 2
            | (self.cf() as u32 * CF)
            | (self.pf() as u32 * PF)
            | (self.af() as u32 * AF)
            | (self.zf() as u32 * ZF)
            | (self.sf() as u32 * SF)
            | (self.of() as u32 * OF)
    }

    /// Replace the whole EFLAGS value (only valid bits are kept).
    pub fn set(&mut self, v: u32) {
        self.bits = (v & VALID & !ARITH) | 2;
        self.set_arith(
            v & CF != 0,
            v & PF != 0,
            v & AF != 0,
            v & ZF != 0,
            v & SF != 0,
            v & OF != 0,
        );
    }

    /// Set the six arithmetic flags to arbitrary values (BCD, POPF, SAHF...).
    #[inline]
    pub fn set_arith(&mut self, cf: bool, pf: bool, af: bool, zf: bool, sf: bool, of: bool) {
        // res = 0 reads ZF = 1 and PF = 1; res = 1 reads ZF = 0 and PF = 0; SF reads 0
        // either way: the deltas make up the difference.
        self.res = !zf as u32;
        self.aux = ((cf as u32) << 31)
            | (((cf ^ of) as u32) << 30)
            | ((af as u32) << 3)
            | (((pf != zf) as u32) << AUX_PDB_SHIFT)
            | sf as u32;
    }

    /// Set one flag bit.
    #[inline]
    pub fn set_bit(&mut self, bit: u32, on: bool) {
        if bit == CF {
            // Flip CF and bit 30 together: OF (their xor) is kept.
            let d = ((on as u32) << 31 ^ self.aux) & AUX_CF;
            self.aux ^= d | (d >> 1);
        } else if bit == OF {
            self.aux = (self.aux & !AUX_PO) | ((self.aux >> 31 ^ on as u32) << 30);
        } else if bit & ARITH != 0 {
            let v = if on {
                self.get() | bit
            } else {
                self.get() & !bit
            };
            self.set(v);
        } else if on {
            self.bits |= bit;
        } else {
            self.bits &= !bit;
        }
    }

    #[inline(always)]
    pub fn has(&self, bit: u32) -> bool {
        debug_assert!(
            bit & ARITH == 0,
            "use the lazy accessors for arithmetic flags"
        );
        self.bits & bit != 0
    }

    pub fn iopl(&self) -> u8 {
        ((self.bits >> 12) & 3) as u8
    }

    /// Condition codes 0..15 in Intel order (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G).
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        let v = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        v ^ (cc & 1 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_sub_formulas() {
        let mut f = Flags::default();
        // 0xFF + 1 = 0x00 (8-bit): CF ZF AF set, OF clear.
        f.set_lazy(CcOp::Add, 1, 0xFF, 1, 0x100);
        assert!(f.cf() && f.zf() && f.af() && !f.of() && !f.sf());
        // 0x7F + 1 = 0x80: OF SF.
        f.set_lazy(CcOp::Add, 1, 0x7F, 1, 0x80);
        assert!(!f.cf() && f.of() && f.sf());
        // 0 - 1 = 0xFFFF (16-bit): CF SF.
        f.set_lazy(CcOp::Sub, 2, 0, 1, 0xFFFF);
        assert!(f.cf() && f.sf() && !f.of() && !f.zf());
        // 0x8000_0000 - 1: OF.
        f.set_lazy(CcOp::Sub, 4, 0x8000_0000, 1, 0x7FFF_FFFF);
        assert!(f.of() && !f.cf());
    }

    #[test]
    fn incdec_keeps_cf() {
        let mut f = Flags::default();
        f.set_arith(true, false, false, false, false, false);
        f.set_incdec(true, 4, 0xFFFF_FFFF, 0);
        assert!(f.cf() && f.zf());
        assert_eq!(f.get() & CF, CF);
        f.set_arith(false, false, false, false, false, false);
        f.set_incdec(false, 1, 0x80, 0x7F);
        assert!(!f.cf() && f.of() && f.af() && !f.sf());
    }

    /// Every 8-bit ADD/ADC/SUB/SBB against flags computed bit by bit from the definitions.
    #[test]
    fn exhaustive_8bit_against_definitions() {
        for a in 0..256u32 {
            for b in 0..256u32 {
                for cin in 0..2u32 {
                    for sub in [false, true] {
                        let mut f = Flags::default();
                        let (r, cf, af, of);
                        if sub {
                            r = a.wrapping_sub(b).wrapping_sub(cin) & 0xFF;
                            cf = a < b + cin;
                            af = (a & 0xF) < (b & 0xF) + cin;
                            let w = (a as i8 as i32) - (b as i8 as i32) - cin as i32;
                            of = !(-128..=127).contains(&w);
                            f.set_lazy(CcOp::Sub, 1, a, b, r);
                        } else {
                            r = (a + b + cin) & 0xFF;
                            cf = a + b + cin > 0xFF;
                            af = (a & 0xF) + (b & 0xF) + cin > 0xF;
                            let w = (a as i8 as i32) + (b as i8 as i32) + cin as i32;
                            of = !(-128..=127).contains(&w);
                            f.set_lazy(CcOp::Add, 1, a, b, r);
                        }
                        let want = [cf, r.count_ones() % 2 == 0, af, r == 0, r >= 0x80, of];
                        let got = [f.cf(), f.pf(), f.af(), f.zf(), f.sf(), f.of()];
                        assert_eq!(got, want, "a={a:#x} b={b:#x} cin={cin} sub={sub}");
                    }
                }
            }
        }
    }

    /// 16- and 32-bit carries land on the same bits as 8-bit ones.
    #[test]
    fn wide_sizes() {
        let mut f = Flags::default();
        f.set_lazy(CcOp::Add, 2, 0x7FFF, 1, 0x8000);
        assert!(!f.cf() && f.of() && f.sf() && f.af() && !f.zf());
        f.set_lazy(CcOp::Add, 4, 0xFFFF_FFFF, 1, 0);
        assert!(f.cf() && !f.of() && f.zf() && f.pf());
        f.set_lazy(CcOp::Sub, 4, 0, 1, 0xFFFF_FFFF);
        assert!(f.cf() && !f.of() && f.sf() && f.pf());
        f.set_result(4, 0x8000_0001, true, false);
        assert!(f.cf() && !f.of() && f.sf() && !f.zf() && !f.pf() && !f.af());
    }

    /// Any combination of the six flags (POPF) reads back as written.
    #[test]
    fn set_get_roundtrip() {
        for m in 0..64u32 {
            let bits = [CF, PF, AF, ZF, SF, OF];
            let v = bits
                .iter()
                .enumerate()
                .filter(|(k, _)| m >> k & 1 != 0)
                .fold(0, |v, (_, b)| v | b);
            let mut f = Flags::default();
            f.set(v | IF | DF);
            assert_eq!(f.get(), v | IF | DF | 2, "{v:#x}");
            for b in bits {
                f.set_bit(b, true);
                assert_eq!(f.get() & b, b);
                f.set_bit(b, false);
                assert_eq!(f.get() & b, 0);
            }
        }
    }
}
