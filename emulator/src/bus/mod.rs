//! Physical address space: RAM (one byte vector), an optional firmware ROM at the top of
//! 4 GiB (aliased below 1 MiB), and bookkeeping of which RAM pages hold decoded code.
//! It must not know about paging, segments or devices (port I/O lives in `devices`).
//!
//! [`PhysMem`] is the small interface the MMU works over (page walks, TLB fills): reads and
//! writes that may have side effects, and a `peek` that never has any. `Memory` implements
//! it; a second physical space (a guest's, seen through nested paging) can implement it too.

use serde::{Deserialize, Serialize};

pub const PAGE: u32 = 4096;

/// A physical address space as the MMU sees it. `read` and `write` are the accesses the
/// CPU makes (page-table reads, accessed/dirty updates) and may have side effects; `peek`
/// must have none (front ends, the "explain this address" walk). Sizes are 1, 2 or 4.
pub trait PhysMem {
    fn read(&mut self, phys: u32, size: u8) -> u32;
    /// Returns true when the write touched a page holding decoded code (the caller must
    /// invalidate the decoded-instruction cache for it).
    fn write(&mut self, phys: u32, size: u8, v: u32) -> bool;
    fn peek(&self, phys: u32, size: u8) -> u32;
    /// Whether a TLB entry may map the 4 KiB page at `page` for the CPU's direct accesses
    /// (plain RAM, no side effects): (for reads, for writes).
    fn direct_page(&self, page: u32) -> (bool, bool);
}

impl PhysMem for Memory {
    #[inline]
    fn read(&mut self, phys: u32, size: u8) -> u32 {
        Memory::read(self, phys, size)
    }
    #[inline]
    fn write(&mut self, phys: u32, size: u8, v: u32) -> bool {
        Memory::write(self, phys, size, v)
    }
    #[inline]
    fn peek(&self, phys: u32, size: u8) -> u32 {
        Memory::read(self, phys, size)
    }
    #[inline]
    fn direct_page(&self, page: u32) -> (bool, bool) {
        let in_ram = (page as usize) + (PAGE as usize) <= self.ram.len();
        (in_ram, in_ram && !self.write_protected_page(page))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Memory {
    /// Not serialized with the rest: snapshots stream it (see `snapshot`).
    #[serde(skip)]
    pub ram: Vec<u8>,
    /// Firmware image mapped at 4 GiB - len and aliased to 1 MiB - len (max 128 KiB alias).
    /// Not serialized with the rest either.
    #[serde(skip)]
    pub rom: Vec<u8>,
    /// Pages below 1 MiB that shadow the ROM (writes ignored).
    pub rom_alias_start: u32,
    /// One entry per RAM page: >0 when the decoded-instruction cache holds code from it.
    #[serde(skip)]
    pub code_pages: Vec<u8>,
}

impl Memory {
    pub fn new(ram_bytes: usize) -> Memory {
        Memory {
            ram: vec![0; ram_bytes],
            rom: Vec::new(),
            rom_alias_start: 0x10_0000,
            code_pages: vec![0; ram_bytes.div_ceil(PAGE as usize)],
        }
    }

    /// Maps a firmware ROM (must be 64..=256 KiB, multiple of 64 KiB): visible at the top of
    /// the 4 GiB space, and its last 128 KiB (at most) aliased just below 1 MiB, as on a PC.
    pub fn map_rom(&mut self, rom: Vec<u8>) {
        let alias = rom.len().min(128 * 1024);
        self.rom_alias_start = 0x10_0000 - alias as u32;
        let start = self.rom_alias_start as usize;
        if self.ram.len() >= 0x10_0000 {
            self.ram[start..0x10_0000].copy_from_slice(&rom[rom.len() - alias..]);
        }
        self.rom = rom;
    }

    pub fn ensure_code_map(&mut self) {
        let n = self.ram.len().div_ceil(PAGE as usize);
        if self.code_pages.len() != n {
            self.code_pages = vec![0; n];
        }
    }

    /// True when a write to this physical page must go through the slow path
    /// (ROM shadow or page holding cached code).
    #[inline]
    pub fn write_protected_page(&self, phys: u32) -> bool {
        (phys >= self.rom_alias_start && phys < 0x10_0000)
            || self
                .code_pages
                .get((phys / PAGE) as usize)
                .is_some_and(|&c| c != 0)
    }

    fn rom_byte(&self, phys: u32) -> Option<u8> {
        if self.rom.is_empty() {
            return None;
        }
        // The firmware decode covers the top 2 MiB with address bit 20 ignored, so that
        // the reset-vector fetch at 0xFFFFFFF0 still finds the ROM when the CPU starts with
        // the A20 gate closed (it then reaches the bus as 0xFFEFFFF0).
        let phys = if phys >= 0xFFE0_0000 {
            phys | 0x10_0000
        } else {
            phys
        };
        let start = (0x1_0000_0000u64 - self.rom.len() as u64) as u32;
        if phys >= start {
            return Some(self.rom[(phys - start) as usize]);
        }
        None
    }

    /// Reads one byte of physical memory (no side effects). Unmapped reads give 0xFF.
    #[inline]
    pub fn read_u8(&self, phys: u32) -> u8 {
        match self.ram.get(phys as usize) {
            Some(&b) => b,
            None => self.rom_byte(phys).unwrap_or(0xFF),
        }
    }

    pub fn read(&self, phys: u32, size: u8) -> u32 {
        if let Some(b) = self.ram.get(phys as usize..phys as usize + size as usize) {
            return match size {
                1 => b[0] as u32,
                2 => u16::from_le_bytes([b[0], b[1]]) as u32,
                _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            };
        }
        let mut v = 0u32;
        for i in 0..size as u32 {
            v |= (self.read_u8(phys.wrapping_add(i)) as u32) << (8 * i);
        }
        v
    }

    /// Writes physical memory. Returns true if a page holding cached code was touched
    /// (the caller must invalidate the decoded-instruction cache for it).
    #[inline]
    pub fn write(&mut self, phys: u32, size: u8, v: u32) -> bool {
        // The common case in one piece: RAM only, outside the ROM shadow, within one page.
        let (start, n) = (phys as usize, size as usize);
        let last = phys as u64 + n as u64 - 1;
        if (n == 1 || n == 2 || n == 4)
            && start + n <= self.ram.len()
            && (phys >= 0x10_0000 || last < self.rom_alias_start as u64)
            && (phys & (PAGE - 1)) as usize + n <= PAGE as usize
        {
            // Fixed-size copies: stores, not a call to memcpy.
            match n {
                1 => self.ram[start] = v as u8,
                2 => self.ram[start..start + 2].copy_from_slice(&(v as u16).to_le_bytes()),
                _ => self.ram[start..start + 4].copy_from_slice(&v.to_le_bytes()),
            }
            return self
                .code_pages
                .get((phys / PAGE) as usize)
                .is_some_and(|&c| c != 0);
        }
        let mut smc = false;
        for i in 0..size as u32 {
            let a = phys.wrapping_add(i);
            if a >= self.rom_alias_start && a < 0x10_0000 {
                continue; // ROM shadow: writes are ignored
            }
            if let Some(b) = self.ram.get_mut(a as usize) {
                *b = (v >> (8 * i)) as u8;
                smc |= self
                    .code_pages
                    .get((a / PAGE) as usize)
                    .is_some_and(|&c| c != 0);
            }
        }
        smc
    }

    /// Copies physical memory at `phys` into `out`, as byte reads would see it (RAM, else
    /// the ROM, else 0xFF; no side effects): one copy when it all lies in RAM.
    pub fn read_into(&self, phys: u32, out: &mut [u8]) {
        let start = phys as usize;
        if let Some(b) = self.ram.get(start..start + out.len()) {
            out.copy_from_slice(b);
            return;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.read_u8(phys.wrapping_add(i as u32));
        }
    }

    /// Writes `data` at `phys` as byte writes would (nothing beyond RAM, the ROM shadow
    /// ignored): one copy when it all lies in RAM outside the shadow. Returns true if a
    /// page holding cached code was touched (the caller must invalidate it).
    pub fn write_from(&mut self, phys: u32, data: &[u8]) -> bool {
        let Some(last) = data.len().checked_sub(1) else {
            return false;
        };
        let (start, end) = (phys as usize, phys as usize + data.len());
        if end <= self.ram.len()
            && (phys >= 0x10_0000 || (start + last) < self.rom_alias_start as usize)
        {
            self.ram[start..end].copy_from_slice(data);
            let pages = start / PAGE as usize..=(start + last) / PAGE as usize;
            return pages
                .into_iter()
                .any(|p| self.code_pages.get(p).is_some_and(|&c| c != 0));
        }
        let mut smc = false;
        for (i, &b) in data.iter().enumerate() {
            smc |= self.write(phys.wrapping_add(i as u32), 1, b as u32);
        }
        smc
    }

    /// Side-effect-free copy of physical memory (for front ends and tests).
    pub fn peek(&self, phys: u32, len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| self.read_u8(phys.wrapping_add(i)))
            .collect()
    }

    /// Loads bytes into RAM (boot loaders). Returns false if they don't fit.
    pub fn load(&mut self, phys: u32, data: &[u8]) -> bool {
        let start = phys as usize;
        match start.checked_add(data.len()) {
            Some(end) if end <= self.ram.len() => {
                self.ram[start..end].copy_from_slice(data);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time rule that `Memory::write` implements (its fast path included).
    fn reference_write(m: &mut Memory, phys: u32, size: u8, v: u32) -> bool {
        let mut smc = false;
        for i in 0..size as u32 {
            let a = phys.wrapping_add(i);
            if a >= m.rom_alias_start && a < 0x10_0000 {
                continue;
            }
            if let Some(b) = m.ram.get_mut(a as usize) {
                *b = (v >> (8 * i)) as u8;
                smc |= m
                    .code_pages
                    .get((a / PAGE) as usize)
                    .is_some_and(|&c| c != 0);
            }
        }
        smc
    }

    #[test]
    fn writes_near_every_boundary_match_the_byte_rule() {
        let mut a = Memory::new(0x20_0000);
        a.map_rom(vec![0x5A; 0x1_0000]);
        a.code_pages[0x12] = 1;
        let mut b = a.clone();
        let edges = [
            0u32,
            0x12_000,
            0x13_000,
            0xF_0000,
            0x10_0000,
            0x20_0000,
            u32::MAX,
        ];
        let mut k = 0u32;
        for e in edges {
            for d in -5i32..=5 {
                let phys = e.wrapping_add(d as u32);
                for size in [1u8, 2, 4] {
                    k = k.wrapping_mul(2_654_435_761).wrapping_add(0x9E37);
                    let got = a.write(phys, size, k);
                    let want = reference_write(&mut b, phys, size, k);
                    assert_eq!(got, want, "smc at {phys:#x} size {size}");
                }
            }
        }
        assert!(a.ram == b.ram, "RAM differs");
    }

    /// `write_from` and `read_into` (a VMCB's fields at once) do what byte writes and
    /// reads do, at the same boundaries: RAM's end, the ROM shadow, a code page.
    #[test]
    fn runs_of_bytes_match_the_byte_rule() {
        let mut a = Memory::new(0x20_0000);
        a.map_rom(vec![0x5A; 0x1_0000]);
        a.code_pages[0x12] = 1;
        let mut b = a.clone();
        let edges = [0u32, 0x12_000, 0x13_000, 0xF_0000, 0x10_0000, 0x20_0000];
        let mut k = 1u32;
        for e in edges {
            for d in [-0x248i32, -9, -1, 0, 3] {
                let phys = e.wrapping_add(d as u32);
                for len in [1usize, 7, 0xD0, 0x248] {
                    let data: Vec<u8> = (0..len)
                        .map(|_| {
                            k = k.wrapping_mul(2_654_435_761).wrapping_add(0x9E37);
                            (k >> 24) as u8
                        })
                        .collect();
                    let got = a.write_from(phys, &data);
                    let mut want = false;
                    for (i, &v) in data.iter().enumerate() {
                        want |= reference_write(&mut b, phys.wrapping_add(i as u32), 1, v as u32);
                    }
                    assert_eq!(got, want, "smc at {phys:#x} length {len}");
                    let mut back = vec![0u8; len];
                    a.read_into(phys, &mut back);
                    let bytes: Vec<u8> = (0..len as u32)
                        .map(|i| b.read_u8(phys.wrapping_add(i)))
                        .collect();
                    assert_eq!(back, bytes, "read at {phys:#x} length {len}");
                }
            }
        }
        assert!(a.ram == b.ram, "RAM differs");
    }
}
