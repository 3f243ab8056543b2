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
//!
//! The commonest setters go further and leave `aux` to be computed when read: 32-bit ADD,
//! SUB, CMP and NEG (`set_add32` / `set_sub32`) store the result (in `res` and in `cres`)
//! and the second operand (`src`, from which the first follows) with a tag in `aux`'s
//! unused bits; 8- and 16-bit ADD, SUB and CMP (`set_add_sub_small`) store the same with
//! the operands shifted to the top of the word, where the same formulas give their CF
//! and OF; 32-bit INC and DEC store the result in `res` and their tag next to what
//! CF keeps: bit 31 of an eager `aux`, or the ADD/SUB tag, whose `cres` and `src` they
//! leave alone (so CF after INC or DEC is not computed until read). Most such flags are
//! never read (the next instruction sets them again), and a Jcc after CMP needs one
//! comparison.
//! `aux()` gives the eager encoding for every reader; snapshots store that encoding, so
//! their format does not change.
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
/// Tags of the lazily computed `aux` (bits no eager encoding uses): 32-bit ADD or SUB of
/// `src` (`aux` holds only the tag), 32-bit INC or DEC (with bit 31, the kept CF, or with
/// the ADD or SUB tag whose CF they keep).
const LZ_ADD: u32 = 1 << 1;
const LZ_SUB: u32 = 1 << 2;
const LZ_INC: u32 = 1 << 4;
const LZ_DEC: u32 = 1 << 5;
/// With `LZ_ADD` / `LZ_SUB`: an 8-bit (16-bit) record, `cres` and `src` shifted left by 24
/// (16) bits (`set_add_sub_small`).
const LZ_B8: u32 = 1 << 6;
const LZ_B16: u32 = 1 << 7;
const LZ: u32 = LZ_ADD | LZ_SUB | LZ_INC | LZ_DEC | LZ_B8 | LZ_B16;

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Flags {
    /// The EFLAGS bits other than the six arithmetic ones (those bits are always 0 here).
    pub bits: u32,
    /// Last result, sign-extended to 32 bits.
    res: u32,
    /// Carry bits and deltas, or a lazy tag (`LZ`).
    aux: u32,
    /// With `LZ_ADD` / `LZ_SUB`: the second operand.
    src: u32,
    /// With `LZ_ADD` / `LZ_SUB`: the result of that ADD or SUB (`res` until an INC or DEC
    /// replaces it, keeping that CF).
    cres: u32,
}

/// What snapshots store: the eager encoding (the format before lazy `aux`).
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Stored {
    bits: u32,
    res: u32,
    aux: u32,
}

impl From<Flags> for Stored {
    fn from(f: Flags) -> Stored {
        Stored {
            bits: f.bits,
            res: f.res,
            aux: f.aux(),
        }
    }
}

impl From<Stored> for Flags {
    fn from(s: Stored) -> Flags {
        Flags {
            bits: s.bits,
            res: s.res,
            // A damaged snapshot cannot set a lazy tag.
            aux: s.aux & !LZ,
            src: 0,
            cres: 0,
        }
    }
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
            src: 0,
            cres: 0,
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
    /// `aux` in the eager encoding (see the module documentation).
    #[inline(always)]
    fn aux(&self) -> u32 {
        if self.aux & LZ == 0 {
            self.aux
        } else {
            self.lazy_aux()
        }
    }

    /// The eager `aux` of a lazy record.
    fn lazy_aux(&self) -> u32 {
        let t = self.aux;
        if t & (LZ_INC | LZ_DEC) != 0 {
            let r = self.res;
            let (of, af) = if t & LZ_INC != 0 {
                (r == 0x8000_0000, r & 0xF == 0)
            } else {
                (r == 0x7FFF_FFFF, r & 0xF == 0xF)
            };
            let cf = (self.cf() as u32) << 31;
            return cf | (((cf >> 31) ^ of as u32) << 30) | ((af as u32) << 3);
        }
        let (r, b) = (self.cres, self.src);
        let c = if t & LZ_ADD != 0 {
            let a = r.wrapping_sub(b);
            (a & b) | ((a | b) & !r)
        } else {
            let a = r.wrapping_add(b);
            (!a & b) | ((!a | b) & r)
        };
        // An 8- or 16-bit record's operands sit at the top of the word, so its carries out
        // of the two top bits are bits 31 and 30 already; its AF, the carry out of its bit
        // 3, is bit 27 (19), and the bits below the operands carry nothing.
        let c = if t & LZ_B8 != 0 {
            c | (c >> 24) & AUX_AF
        } else if t & LZ_B16 != 0 {
            c | (c >> 16) & AUX_AF
        } else {
            c
        };
        aux_of(c, 4)
    }

    /// Records the flags of the 32-bit ADD `r = a + b` (computed when read).
    #[inline(always)]
    pub fn set_add32(&mut self, b: u32, r: u32) {
        self.res = r;
        self.cres = r;
        self.src = b;
        self.aux = LZ_ADD;
    }

    /// Records the flags of the 32-bit SUB (or CMP, NEG) `r = a - b` (computed when read).
    #[inline(always)]
    pub fn set_sub32(&mut self, b: u32, r: u32) {
        self.res = r;
        self.cres = r;
        self.src = b;
        self.aux = LZ_SUB;
    }

    /// Records the flags of the 8- or 16-bit ADD (`sub` false) or SUB/CMP (`sub` true) of
    /// `b` (masked to `size`) giving `r` (masked too), computed when read: the 32-bit
    /// record of the same operation on the operands shifted to the top of the word (the
    /// same borrow, the same signed overflow), `res` the result sign-extended as usual.
    #[inline(always)]
    pub fn set_add_sub_small(&mut self, sub: bool, size: u8, b: u32, r: u32) {
        let (shift, tag) = if size == 1 { (24, LZ_B8) } else { (16, LZ_B16) };
        self.res = sext(r, size);
        self.cres = r << shift;
        self.src = b << shift;
        self.aux = tag | if sub { LZ_SUB } else { LZ_ADD };
    }

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
        if size == 4 {
            // What CF reads stays: bit 31 of an eager `aux` or of an INC/DEC record, or
            // the ADD/SUB tag with its `cres` and `src`.
            let keep = self.aux & (AUX_CF | LZ_ADD | LZ_SUB);
            self.aux = keep | if inc { LZ_INC } else { LZ_DEC };
            self.res = r;
            return;
        }
        let old = self.aux();
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
        let t = self.aux;
        if t & (LZ_ADD | LZ_SUB) == 0 {
            // Eager, or INC/DEC after an eager record (the kept CF in bit 31).
            t & AUX_CF != 0
        } else if t & LZ_ADD != 0 {
            self.cres < self.src
        } else {
            self.cres.wrapping_add(self.src) < self.src
        }
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
        let t = self.aux;
        if t & (LZ_ADD | LZ_SUB) != 0 && t & (LZ_INC | LZ_DEC) == 0 {
            // A lazy ADD or SUB record (of any size: a small one's operands are at the top):
            // the signed overflow of its operands, without the whole `lazy_aux` (a signed
            // Jcc after a CMP reads it).
            let (r, b) = (self.cres, self.src);
            let v = if t & LZ_ADD != 0 {
                let a = r.wrapping_sub(b);
                !(a ^ b) & (a ^ r)
            } else {
                let a = r.wrapping_add(b);
                (a ^ b) & (a ^ r)
            };
            return v >> 31 != 0;
        }
        let a = self.aux();
        (a ^ (a << 1)) & AUX_CF != 0
    }

    #[inline(always)]
    pub fn pf(&self) -> bool {
        parity(self.res ^ (self.aux >> AUX_PDB_SHIFT))
    }

    #[inline(always)]
    pub fn af(&self) -> bool {
        self.aux() & AUX_AF != 0
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
        self.aux = self.aux();
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

    /// 8- and 16-bit ADD and SUB recorded lazily (operands at the top of the word) read as
    /// the eager encoding does: every pair of bytes, words around the carries, alone and
    /// followed by INC or DEC of each size (which keep the record's CF), and through a
    /// snapshot's encoding.
    #[test]
    fn small_add_sub_lazy_equals_eager() {
        let words = [
            0u32, 1, 0xF, 0x10, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1234,
        ];
        let mut pairs: Vec<(u8, u32, u32)> = Vec::new();
        for a in 0..=0xFFu32 {
            for b in 0..=0xFFu32 {
                pairs.push((1, a, b));
            }
        }
        for &a in &words {
            for &b in &words {
                pairs.push((2, a, b));
            }
        }
        for (size, a, b) in pairs {
            let m = mask(size);
            for sub in [false, true] {
                let r = if sub {
                    a.wrapping_sub(b)
                } else {
                    a.wrapping_add(b)
                } & m;
                let (mut l, mut e) = (Flags::default(), Flags::default());
                l.set_add_sub_small(sub, size, b, r);
                e.set_lazy(if sub { CcOp::Sub } else { CcOp::Add }, size, a, b, r);
                assert_eq!(l.get(), e.get(), "size {size} {a:#x} {b:#x} sub {sub}");
                assert_eq!(Flags::from(Stored::from(l)).get(), e.get());
                for (inc, s2) in [(true, 4), (false, 4), (true, 1), (false, 2)] {
                    let (mut l2, mut e2) = (l, e);
                    let x = if inc {
                        r.wrapping_add(1)
                    } else {
                        r.wrapping_sub(1)
                    };
                    l2.set_incdec(inc, s2, r, x & mask(s2));
                    e2.set_incdec(inc, s2, r, x & mask(s2));
                    assert_eq!(l2.get(), e2.get(), "then inc {inc} size {s2}");
                    assert_eq!(l2.cf(), e.cf());
                }
            }
        }
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

    /// 32-bit INC and DEC after a lazy ADD or SUB keep that CF without computing it: one,
    /// two or three of them in a row read as the eager encoding would (CF of the ADD/SUB,
    /// the other flags of the last INC/DEC), also through a snapshot and `set_bit`.
    #[test]
    fn incdec_after_lazy_add_sub() {
        let vals = [
            0,
            1,
            0xF,
            0x10,
            0x7FFF_FFFF,
            0x8000_0000,
            u32::MAX,
            0x1234_5678,
        ];
        for &a in &vals {
            for &b in &vals {
                for add in [false, true] {
                    let r = if add {
                        a.wrapping_add(b)
                    } else {
                        a.wrapping_sub(b)
                    };
                    let (mut l, mut e) = (Flags::default(), Flags::default());
                    if add {
                        l.set_add32(b, r);
                        e.set_lazy(CcOp::Add, 4, a, b, r);
                    } else {
                        l.set_sub32(b, r);
                        e.set_lazy(CcOp::Sub, 4, a, b, r);
                    }
                    let cf = e.cf();
                    let mut x = r;
                    for (k, inc) in [true, false, false].into_iter().enumerate() {
                        let y = if inc {
                            x.wrapping_add(1)
                        } else {
                            x.wrapping_sub(1)
                        };
                        l.set_incdec(inc, 4, x, y);
                        e.set_lazy(if inc { CcOp::Add } else { CcOp::Sub }, 4, x, 1, y);
                        e.set_bit(CF, cf);
                        x = y;
                        let ctx = format!("a={a:#x} b={b:#x} add={add} step={k}");
                        assert_eq!(l.cf(), cf, "{ctx}");
                        assert_eq!(l.get(), e.get(), "{ctx}");
                        for cc in 0..16 {
                            assert_eq!(l.cond(cc), e.cond(cc), "{ctx} cc={cc}");
                        }
                        let back: Flags = Stored::from(l).into();
                        assert_eq!(back.get(), e.get(), "{ctx}");
                        let mut l2 = l;
                        l2.set_bit(CF, !cf);
                        assert_eq!(l2.get(), e.get() ^ CF, "{ctx}");
                    }
                }
            }
        }
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

    /// The lazy 32-bit records read as the eager encoding of the same operation would, for
    /// each flag and after a CF/OF change; a snapshot stores the eager encoding.
    #[test]
    fn lazy_records_match_eager() {
        let edge = [
            0,
            1,
            2,
            0xF,
            0x10,
            0x7FFF_FFFF,
            0x8000_0000,
            0x8000_0001,
            u32::MAX,
        ];
        let mut vals: Vec<u32> = edge.to_vec();
        let mut x = 0x1234_5678u32;
        for _ in 0..40 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            vals.push(x);
        }
        let read = |f: &Flags| [f.cf(), f.pf(), f.af(), f.zf(), f.sf(), f.of()];
        for &a in &vals {
            for &b in &vals {
                for cin in [false, true] {
                    let mut lazy = Flags::default();
                    let mut eager = Flags::default();
                    lazy.set_arith(cin, false, false, false, false, false);
                    eager.set_arith(cin, false, false, false, false, false);
                    let cases: [(u32, bool); 4] = [
                        (a.wrapping_add(b), true),
                        (a.wrapping_sub(b), false),
                        (a.wrapping_add(1), true),
                        (a.wrapping_sub(1), false),
                    ];
                    for (k, &(r, add)) in cases.iter().enumerate() {
                        let (mut l, mut e) = (lazy, eager);
                        if k < 2 {
                            if add {
                                l.set_add32(b, r);
                            } else {
                                l.set_sub32(b, r);
                            }
                            let op = if add { CcOp::Add } else { CcOp::Sub };
                            e.set_lazy(op, 4, a, b, r);
                        } else {
                            // INC/DEC: the flags of ADD/SUB 1, CF kept.
                            l.set_incdec(add, 4, a, r);
                            let op = if add { CcOp::Add } else { CcOp::Sub };
                            e.set_lazy(op, 4, a, 1, r);
                            e.set_bit(CF, cin);
                        }
                        let ctx = format!("a={a:#x} b={b:#x} cin={cin} case={k}");
                        assert_eq!(read(&l), read(&e), "{ctx}");
                        assert_eq!(l.get(), e.get(), "{ctx}");
                        for cc in 0..16 {
                            assert_eq!(l.cond(cc), e.cond(cc), "{ctx} cc={cc}");
                        }
                        let back: Flags = Stored::from(l).into();
                        assert_eq!(back.get(), e.get(), "{ctx}");
                        let (mut l2, mut e2) = (l, e);
                        l2.set_bit(OF, !l.of());
                        e2.set_bit(OF, !e.of());
                        assert_eq!(l2.get(), e2.get(), "{ctx}");
                        l.set_bit(CF, !cin);
                        e.set_bit(CF, !cin);
                        assert_eq!(l.get(), e.get(), "{ctx}");
                    }
                }
            }
        }
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
