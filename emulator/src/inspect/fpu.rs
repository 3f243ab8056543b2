//! The x87 FPU as front ends see it: the stack in ST(i) order with each register's physical
//! number, tag, class, raw 80 bits and approximate value, and the control and status words
//! decoded (SDM Vol. 1 8.1.3-8.1.7). Owns that shape; it must not change the FPU.

use crate::cpu::x87::float::Class;
use crate::cpu::x87::Fpu;

/// One stack register, ST(i).
#[derive(Clone, Debug, PartialEq)]
pub struct FpuReg {
    /// Physical register number (R0-R7): ST(i) is R((TOP + i) mod 8).
    pub phys: u8,
    /// The 2-bit tag: 0 valid, 1 zero, 2 special, 3 empty.
    pub tag: u8,
    /// What the value is (zero, normal, denormal, infinity, NaN...), by its bits.
    pub class: &'static str,
    /// The 80 bits, least significant byte first (as FSAVE stores them).
    pub bytes: [u8; 10],
    /// The value rounded to an f64 (for reading; `bytes` is the exact value).
    pub approx: f64,
}

/// The FPU's visible state.
#[derive(Clone, Debug, PartialEq)]
pub struct FpuState {
    /// ST(0)..ST(7).
    pub st: [FpuReg; 8],
    pub cw: u16,
    pub sw: u16,
    /// The full tag word (2 bits per physical register, R0 lowest).
    pub tw: u16,
    /// TOP (status word bits 11-13).
    pub top: u8,
    /// Last instruction pointer (FCS:FIP), opcode (11 bits) and operand pointer (FDS:FDP).
    pub fip: u32,
    pub fcs: u16,
    pub fop: u16,
    pub fdp: u32,
    pub fds: u16,
}

/// Exception flag / mask bits shared by the status and control words (bit, name).
pub const EXCEPTION_BITS: [(u16, &str); 6] = [
    (0, "IE"),
    (1, "DE"),
    (2, "ZE"),
    (3, "OE"),
    (4, "UE"),
    (5, "PE"),
];
/// Control-word masks of the same exceptions.
pub const MASK_BITS: [(u16, &str); 6] = [
    (0, "IM"),
    (1, "DM"),
    (2, "ZM"),
    (3, "OM"),
    (4, "UM"),
    (5, "PM"),
];
/// Status-word bits other than the exception flags and TOP.
pub const STATUS_BITS: [(u16, &str); 6] = [
    (6, "SF"),
    (7, "ES"),
    (8, "C0"),
    (9, "C1"),
    (10, "C2"),
    (14, "C3"),
];

impl FpuState {
    pub(super) fn capture(f: &Fpu) -> FpuState {
        let st = std::array::from_fn(|i| {
            let p = f.phys(i);
            let v = f.regs[p];
            FpuReg {
                phys: p as u8,
                tag: f.tag_of(p) as u8,
                class: match v.class() {
                    Class::Zero => "zero",
                    Class::Denormal => "denormal",
                    Class::Normal => "normal",
                    Class::Inf => "infinity",
                    Class::QNan => "QNaN",
                    Class::SNan => "SNaN",
                    Class::Unsupported => "unsupported",
                },
                bytes: v.to_bytes(),
                approx: v.to_f64(),
            }
        });
        FpuState {
            st,
            cw: f.cw,
            sw: f.sw,
            tw: f.tag_word(),
            top: f.top() as u8,
            fip: f.fip,
            fcs: f.fcs,
            fop: f.fop,
            fdp: f.fdp,
            fds: f.fds,
        }
    }

    /// Precision control (CW bits 8-9): the significand width results are rounded to.
    pub fn precision(&self) -> &'static str {
        match (self.cw >> 8) & 3 {
            0 => "24 bits (single)",
            2 => "53 bits (double)",
            3 => "64 bits (extended)",
            _ => "reserved",
        }
    }

    /// Rounding control (CW bits 10-11).
    pub fn rounding(&self) -> &'static str {
        ["to nearest", "down", "up", "toward zero"][((self.cw >> 10) & 3) as usize]
    }

    /// The names of the set bits of `word` among `bits`.
    pub fn set_bits(word: u16, bits: &[(u16, &'static str)]) -> Vec<&'static str> {
        bits.iter()
            .filter(|(b, _)| word & (1 << b) != 0)
            .map(|&(_, n)| n)
            .collect()
    }
}
