//! EFLAGS with lazy evaluation of the six arithmetic flags (CF PF AF ZF SF OF).
//!
//! ALU instructions record their operands and result instead of computing flags; a flag is
//! computed only when something reads it (Jcc, SETcc, PUSHF, ...). The formulas below hold for
//! ADD/ADC and SUB/SBB/CMP/NEG alike because they derive carries from the operands and the
//! result (carry vector `(a & b) | ((a | b) & !r)`), so carry-in needs no extra state.
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

/// What produced the pending flags. Size is 1, 2 or 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CcOp {
    /// Flags are materialized in `bits`.
    None,
    Add,
    Sub,
    Logic,
    /// INC/DEC: like ADD/SUB with 1 but CF is kept in `bits`.
    Inc,
    Dec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// Every EFLAGS bit; the ARITH bits are valid only when `op == CcOp::None`
    /// (except CF, which is valid for Inc/Dec).
    pub bits: u32,
    pub op: CcOp,
    pub size: u8,
    pub a: u32,
    pub b: u32,
    pub r: u32,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            bits: 2,
            op: CcOp::None,
            size: 4,
            a: 0,
            b: 0,
            r: 0,
        }
    }
}

#[inline(always)]
fn sign_shift(size: u8) -> u32 {
    (size as u32) * 8 - 1
}

#[inline(always)]
pub fn mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
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
    #[inline(always)]
    pub fn set_lazy(&mut self, op: CcOp, size: u8, a: u32, b: u32, r: u32) {
        self.op = op;
        self.size = size;
        self.a = a;
        self.b = b;
        self.r = r;
    }

    /// INC/DEC keep CF: fold the current CF into `bits` before going lazy.
    #[inline(always)]
    pub fn set_incdec(&mut self, inc: bool, size: u8, a: u32, r: u32) {
        let cf = self.cf();
        self.bits = (self.bits & !CF) | cf as u32;
        self.set_lazy(if inc { CcOp::Inc } else { CcOp::Dec }, size, a, 1, r);
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        let s = sign_shift(self.size);
        match self.op {
            CcOp::None | CcOp::Inc | CcOp::Dec => self.bits & CF != 0,
            CcOp::Add => (((self.a & self.b) | ((self.a | self.b) & !self.r)) >> s) & 1 != 0,
            CcOp::Sub => (((!self.a & self.b) | ((!self.a | self.b) & self.r)) >> s) & 1 != 0,
            CcOp::Logic => false,
        }
    }

    #[inline(always)]
    pub fn zf(&self) -> bool {
        match self.op {
            CcOp::None => self.bits & ZF != 0,
            _ => self.r & mask(self.size) == 0,
        }
    }

    #[inline(always)]
    pub fn sf(&self) -> bool {
        match self.op {
            CcOp::None => self.bits & SF != 0,
            _ => (self.r >> sign_shift(self.size)) & 1 != 0,
        }
    }

    #[inline(always)]
    pub fn of(&self) -> bool {
        let s = sign_shift(self.size);
        match self.op {
            CcOp::None => self.bits & OF != 0,
            CcOp::Add | CcOp::Inc => (((self.a ^ self.r) & (self.b ^ self.r)) >> s) & 1 != 0,
            CcOp::Sub | CcOp::Dec => (((self.a ^ self.b) & (self.a ^ self.r)) >> s) & 1 != 0,
            CcOp::Logic => false,
        }
    }

    #[inline(always)]
    pub fn pf(&self) -> bool {
        match self.op {
            CcOp::None => self.bits & PF != 0,
            _ => parity(self.r),
        }
    }

    #[inline(always)]
    pub fn af(&self) -> bool {
        match self.op {
            CcOp::None => self.bits & AF != 0,
            CcOp::Logic => false,
            _ => (self.a ^ self.b ^ self.r) & 0x10 != 0,
        }
    }

    /// The full EFLAGS value.
    pub fn get(&self) -> u32 {
        if self.op == CcOp::None {
            return self.bits | 2;
        }
        let mut v = (self.bits & !ARITH) | 2;
        v |= self.cf() as u32 * CF;
        v |= self.pf() as u32 * PF;
        v |= self.af() as u32 * AF;
        v |= self.zf() as u32 * ZF;
        v |= self.sf() as u32 * SF;
        v |= self.of() as u32 * OF;
        v
    }

    /// Replace the whole EFLAGS value (only valid bits are kept).
    pub fn set(&mut self, v: u32) {
        self.bits = (v & VALID) | 2;
        self.op = CcOp::None;
    }

    /// Make `bits` authoritative for all flags.
    #[inline]
    pub fn materialize(&mut self) {
        if self.op != CcOp::None {
            self.bits = self.get();
            self.op = CcOp::None;
        }
    }

    /// Set the arithmetic flags eagerly (shifts, multiplies, BCD...).
    #[inline]
    pub fn set_arith(&mut self, cf: bool, pf: bool, af: bool, zf: bool, sf: bool, of: bool) {
        // All six arithmetic flags are overwritten: no need to evaluate the pending ones.
        self.op = CcOp::None;
        self.bits = (self.bits & !ARITH)
            | (cf as u32 * CF)
            | (pf as u32 * PF)
            | (af as u32 * AF)
            | (zf as u32 * ZF)
            | (sf as u32 * SF)
            | (of as u32 * OF);
    }

    /// Set one flag bit (materializing first).
    #[inline]
    pub fn set_bit(&mut self, bit: u32, on: bool) {
        self.materialize();
        if on {
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
    }
}
