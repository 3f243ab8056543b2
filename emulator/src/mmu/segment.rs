//! Segment registers with their hidden descriptor caches, and descriptor decoding.
//! Owns the cache layout and the offset/limit/rights checks of one access; loading a
//! selector (with its privilege checks) lives in `cpu::exec::segload`.

use serde::{Deserialize, Serialize};

pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;
pub const SEG_NAMES: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];

/// Attribute bits, laid out as in the AMD VMCB segment `attrib` field:
/// bits 0-3 type, 4 S (code/data), 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G.
pub mod attr {
    pub const ACCESSED: u16 = 1;
    pub const RW: u16 = 2; // readable (code) / writable (data)
    pub const DC: u16 = 4; // expand-down (data) / conforming (code)
    pub const CODE: u16 = 8;
    pub const S: u16 = 0x10;
    pub const P: u16 = 0x80;
    pub const DB: u16 = 0x400;
    pub const G: u16 = 0x800;
}

/// A segment register: visible selector plus hidden cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seg {
    pub sel: u16,
    pub base: u32,
    /// Byte-granular limit (G already applied).
    pub limit: u32,
    pub attr: u16,
    /// False when a null selector was loaded in protected mode: any access is #GP(0).
    pub valid: bool,
}

impl Seg {
    /// Real-mode style segment: base = selector * 16, 64 KiB, present writable data.
    pub fn real(sel: u16) -> Seg {
        Seg {
            sel,
            base: (sel as u32) << 4,
            limit: 0xFFFF,
            attr: attr::P | attr::S | attr::RW | attr::ACCESSED,
            valid: true,
        }
    }
    pub fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.attr & attr::P != 0
    }
    pub fn is_code(&self) -> bool {
        self.attr & attr::S != 0 && self.attr & attr::CODE != 0
    }
    pub fn is_data(&self) -> bool {
        self.attr & attr::S != 0 && self.attr & attr::CODE == 0
    }
    pub fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }
    pub fn readable(&self) -> bool {
        self.attr & attr::S != 0 && (self.attr & attr::CODE == 0 || self.attr & attr::RW != 0)
    }
    pub fn writable(&self) -> bool {
        self.is_data() && self.attr & attr::RW != 0
    }
    pub fn expand_down(&self) -> bool {
        self.is_data() && self.attr & attr::DC != 0
    }
    pub fn conforming(&self) -> bool {
        self.is_code() && self.attr & attr::DC != 0
    }

    /// True when `off .. off+len-1` is inside the segment limit (SDM Vol. 3A 5.3).
    #[inline(always)]
    pub fn in_limit(&self, off: u32, len: u32) -> bool {
        let last = off.wrapping_add(len - 1);
        if self.attr & (attr::S | attr::CODE | attr::DC) == (attr::S | attr::DC) {
            // Expand-down data segment: valid offsets are limit+1 ..= 0xFFFF or 0xFFFFFFFF.
            let hi = if self.big() { u32::MAX } else { 0xFFFF };
            off > self.limit && last <= hi && last >= off
        } else {
            last <= self.limit && last >= off
        }
    }
}

/// GDTR / IDTR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReg {
    pub base: u32,
    pub limit: u16,
}

/// A raw 8-byte descriptor, decoded (SDM Vol. 3A 3.4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub raw: u64,
}

impl Descriptor {
    pub fn new(lo: u32, hi: u32) -> Self {
        Descriptor {
            raw: (hi as u64) << 32 | lo as u64,
        }
    }
    pub fn lo(&self) -> u32 {
        self.raw as u32
    }
    pub fn hi(&self) -> u32 {
        (self.raw >> 32) as u32
    }
    pub fn base(&self) -> u32 {
        (self.lo() >> 16) | ((self.hi() & 0xFF) << 16) | (self.hi() & 0xFF00_0000)
    }
    pub fn raw_limit(&self) -> u32 {
        (self.lo() & 0xFFFF) | (self.hi() & 0x000F_0000)
    }
    pub fn limit(&self) -> u32 {
        let l = self.raw_limit();
        if self.hi() & (1 << 23) != 0 {
            (l << 12) | 0xFFF
        } else {
            l
        }
    }
    /// Attribute word in VMCB layout.
    pub fn attr(&self) -> u16 {
        (((self.hi() >> 8) & 0xFF) | ((self.hi() >> 12) & 0xF00)) as u16
    }
    pub fn dpl(&self) -> u8 {
        ((self.hi() >> 13) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.hi() & (1 << 15) != 0
    }
    /// S bit: 1 for code/data, 0 for system descriptors.
    pub fn is_seg(&self) -> bool {
        self.hi() & (1 << 12) != 0
    }
    pub fn typ(&self) -> u8 {
        ((self.hi() >> 8) & 0xF) as u8
    }
    pub fn is_code(&self) -> bool {
        self.is_seg() && self.typ() & 8 != 0
    }
    /// Gate fields (call/interrupt/trap/task gates).
    pub fn gate_selector(&self) -> u16 {
        (self.lo() >> 16) as u16
    }
    pub fn gate_offset(&self) -> u32 {
        (self.lo() & 0xFFFF) | (self.hi() & 0xFFFF_0000)
    }
    pub fn gate_param_count(&self) -> u32 {
        self.hi() & 0x1F
    }
    pub fn to_seg(&self, sel: u16) -> Seg {
        Seg {
            sel,
            base: self.base(),
            limit: self.limit(),
            attr: self.attr(),
            valid: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_descriptor() {
        // 0x00CF9A000000FFFF: flat 4 GiB ring-0 code.
        let d = Descriptor {
            raw: 0x00CF_9A00_0000_FFFF,
        };
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xFFFF_FFFF);
        assert!(d.is_code() && d.present());
        let s = d.to_seg(8);
        assert!(s.big() && s.readable() && !s.writable());
    }

    #[test]
    fn expand_down_limits() {
        let s = Seg {
            sel: 0x10,
            base: 0,
            limit: 0xFFF,
            attr: attr::P | attr::S | attr::RW | attr::DC,
            valid: true,
        };
        assert!(!s.in_limit(0xFFF, 1));
        assert!(s.in_limit(0x1000, 4));
        assert!(s.in_limit(0xFFFC, 4));
        assert!(!s.in_limit(0xFFFD, 4));
    }
}
