//! The CPU's memory accesses: segmentation checks (SDM Vol. 3A 5.3-5.6), then the TLB
//! fast path, then `mmu::Mmu` (which owns translation: TLB, page walk, A20, the alignment
//! rule). Turns the MMU's faults into `Exception` values. Alignment checking (#AC, SDM Vol.
//! 3A 6.15) lives in the slow paths only: while `Mmu::align_check` is set the fast paths
//! step aside, so when it is off it costs one flag test per access. It must not walk page
//! tables or keep translations of its own.

use crate::bus::PAGE;
use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::flags::AC;
use crate::cpu::state::cr0;
use crate::mmu::segment::{attr, SS};
use crate::mmu::tlb::{slot, StackEntry};
use crate::mmu::Fault;

#[inline(always)]
fn le(b: &[u8], size: u8) -> u32 {
    match size {
        1 => b[0] as u32,
        2 => u16::from_le_bytes([b[0], b[1]]) as u32,
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

#[inline(always)]
fn seg_fault(seg: usize, code: u32) -> Exception {
    if seg == SS {
        Exception::ss(code)
    } else {
        Exception::gp(code)
    }
}

/// `Core::flat` bit for the stack: SS is flat (its bit is set too) and 32-bit
/// (`Cpu::stack32`), so the stack fast paths test one bit. Bits 0-5 are the segment
/// registers (ES..GS).
pub const FLAT_STACK32: u8 = 1 << 6;

impl Core {
    /// The segments a data access may use with no check but alignment: valid, expand-up,
    /// writable data, base 0 and limit 4 GiB - 1 (bit `s` for segment `s`), plus
    /// `FLAT_STACK32`. For such a segment the linear address is the offset, and an aligned
    /// access of at most 4 bytes lies in the limit (it cannot wrap), so `linear` accepts it
    /// with that result in every mode (a real-mode segment is present writable data).
    pub fn flat_segs(&self) -> u8 {
        let mut f = 0;
        for (k, s) in self.cpu.seg.iter().enumerate() {
            if s.valid
                && s.base == 0
                && s.limit == u32::MAX
                && s.attr & (attr::S | attr::CODE | attr::DC | attr::RW) == attr::S | attr::RW
            {
                f |= 1 << k;
            }
        }
        if f & (1 << SS) != 0 && self.cpu.stack32() {
            f |= FLAT_STACK32;
        }
        f
    }

    /// Recomputes the flat-segment cache (the dispatch loop, before it runs instructions).
    #[inline(never)]
    pub fn refresh_flat(&mut self) {
        self.flat = self.flat_segs();
        // The stack page cache is only valid with a flat stack and the CPL it was made at:
        // it starts over with each run of handlers.
        self.mmu.tlb.stack = StackEntry::default();
    }

    /// A segment register, CR0.PE or EFLAGS.VM may have changed: the data fast paths stop
    /// treating any segment as flat until the dispatch loop refreshes the cache.
    #[inline(always)]
    pub fn segs_changed(&mut self) {
        self.flat = 0;
        self.mmu.tlb.stack = StackEntry::default();
    }

    /// True when the flat-segment cache says `seg` is flat (checked against the segment
    /// registers in debug builds: a stale cache would skip a limit check).
    #[inline(always)]
    pub fn seg_is_flat(&self, seg: usize) -> bool {
        let on = self.flat & (1 << seg) != 0;
        debug_assert!(
            !on || self.flat_segs() & (1 << seg) != 0,
            "stale flat cache"
        );
        on
    }

    /// True when SS is flat and 32-bit (the stack fast paths need no other check).
    #[inline(always)]
    pub fn flat_stack(&self) -> bool {
        const B: u8 = (1 << SS) | FLAT_STACK32;
        let on = self.flat & FLAT_STACK32 != 0;
        debug_assert!(!on || self.flat_segs() & B == B, "stale flat cache");
        on
    }

    /// Segmentation: offset -> linear address, with null/type/limit checks.
    #[inline(always)]
    pub fn linear(&self, seg: usize, off: u32, len: u8, write: bool) -> Res<u32> {
        let s = &self.cpu.seg[seg];
        if self.cpu.protected() {
            if !s.valid {
                return Err(seg_fault(seg, 0));
            }
            if write {
                if !s.writable() {
                    return Err(seg_fault(seg, 0));
                }
            } else if !s.readable() {
                return Err(seg_fault(seg, 0));
            }
        }
        if !s.in_limit(off, len as u32) {
            return Err(seg_fault(seg, 0));
        }
        Ok(s.base.wrapping_add(off))
    }

    /// Segmentation for the fast paths: the linear address when the segment is a valid,
    /// expand-up data segment (writable for a write) and the access lies inside its limit;
    /// None otherwise (the general `linear` then decides, faults included). What it accepts,
    /// `linear` accepts with the same result in every mode (real-mode segments are present
    /// writable data). A flat segment (`flat_segs`) is accepted at once: its callers accept
    /// only aligned accesses (`Mmu::direct_aligned`), which cannot wrap past its limit.
    #[inline(always)]
    fn linear_fast(&self, seg: usize, off: u32, size: u8, write: bool) -> Option<u32> {
        if self.seg_is_flat(seg) {
            return Some(off);
        }
        let s = &self.cpu.seg[seg];
        let rw = if write { attr::RW } else { 0 };
        let last = off.wrapping_add(size as u32 - 1);
        if s.attr & (attr::S | attr::CODE | attr::DC | rw) == attr::S | rw
            && s.valid
            && last >= off
            && last <= s.limit
        {
            Some(s.base.wrapping_add(off))
        } else {
            None
        }
    }

    /// The common case of a data read, with no call: an aligned access through a fast
    /// segment (`linear_fast`) to a RAM page in the TLB (`Mmu::direct_aligned`). None: use
    /// the general path (which may fault).
    #[inline(always)]
    pub fn read_fast(&mut self, seg: usize, off: u32, size: u8) -> Option<u32> {
        let lin = self.linear_fast(seg, off, size, false)?;
        self.read_lin_fast(lin, size)
    }

    /// `read_fast` after segmentation: an aligned read of RAM through the TLB.
    #[inline(always)]
    fn read_lin_fast(&mut self, lin: u32, size: u8) -> Option<u32> {
        let p = self
            .mmu
            .direct_aligned(false, lin, size, self.cpu.cpl == 3)?;
        let v = le(self.mem.ram.get(p..p + size as usize)?, size);
        self.mmu.tlb.hits += 1;
        Some(v)
    }

    /// The common case of a data write (see `read_fast`): a page with a write entry in the
    /// TLB may be written directly (no cached code on it). False: use the general path.
    #[inline(always)]
    pub fn write_fast(&mut self, seg: usize, off: u32, size: u8, v: u32) -> bool {
        let Some(lin) = self.linear_fast(seg, off, size, true) else {
            return false;
        };
        self.write_lin_fast(lin, size, v)
    }

    /// `write_fast` after segmentation: an aligned write of RAM through the TLB.
    #[inline(always)]
    fn write_lin_fast(&mut self, lin: u32, size: u8, v: u32) -> bool {
        let Some(p) = self.mmu.direct_aligned(true, lin, size, self.cpu.cpl == 3) else {
            return false;
        };
        let Some(b) = self.mem.ram.get_mut(p..p + size as usize) else {
            return false;
        };
        b.copy_from_slice(&v.to_le_bytes()[..size as usize]);
        self.mmu.tlb.hits += 1;
        true
    }

    /// The fast path of a 4-byte stack read at ESP value `sp` with a 32-bit stack: one
    /// test when SS is flat (`flat_stack`), else `read_fast` through SS. None: use the
    /// general path (a 16-bit stack included).
    #[inline(always)]
    pub fn stack_read32_fast(&mut self, sp: u32) -> Option<u32> {
        if let Some(v) = self.stack_read32_hit(sp) {
            return Some(v);
        }
        if self.flat_stack() {
            // The TLB probe, which makes a write entry the stack page cache.
            if self.stack_fill(sp).is_some() {
                return self.stack_read32_hit(sp);
            }
            return self.read_lin_fast(sp, 4);
        }
        if !self.cpu.stack32() {
            return None;
        }
        self.read_fast(SS, sp, 4)
    }

    /// A 4-byte stack read from the stack page cache alone (`stack_cached`): the first
    /// step of `stack_read32_fast`, and all the threads' stack fast paths try
    /// (`exec::fast`), whose miss goes to the handler, so that the thread's own path needs
    /// few registers.
    #[inline(always)]
    pub fn stack_read32_hit(&mut self, sp: u32) -> Option<u32> {
        let p = self.stack_cached(sp)?;
        let v = le(self.mem.ram.get(p..p + 4)?, 4);
        self.mmu.tlb.hits += 1;
        Some(v)
    }

    /// A 4-byte stack write to the stack page cache alone (see `stack_read32_hit`).
    #[inline(always)]
    pub fn stack_write32_hit(&mut self, sp: u32, v: u32) -> bool {
        let Some(p) = self.stack_cached(sp) else {
            return false;
        };
        let Some(b) = self.mem.ram.get_mut(p..p + 4) else {
            return false;
        };
        b.copy_from_slice(&v.to_le_bytes());
        self.mmu.tlb.hits += 1;
        true
    }

    /// The fast path of a 4-byte stack write (see `stack_read32_fast`). False: use the
    /// general path.
    #[inline(always)]
    pub fn stack_write32_fast(&mut self, sp: u32, v: u32) -> bool {
        if self.stack_write32_hit(sp, v) {
            return true;
        }
        if !self.flat_stack() {
            return self.cpu.stack32() && self.write_fast(SS, sp, 4, v);
        }
        // The TLB probe, which makes a write entry the stack page cache.
        if self.stack_fill(sp).is_none() {
            return false;
        }
        self.stack_write32_hit(sp, v)
    }

    /// The stack page cache (`Tlb::stack`): the physical address of the aligned dword at
    /// `sp` when its page is the cached one. The cache is filled only with a flat 32-bit
    /// stack (`stack_fill`) and cleared with the flat-segment cache and by every change of
    /// the TLB, so a hit needs no other test (checked against the TLB in debug builds).
    #[inline(always)]
    fn stack_cached(&self, sp: u32) -> Option<usize> {
        let e = self.mmu.tlb.stack;
        if sp & 0xFFFF_F003 != e.key {
            return None;
        }
        debug_assert!(self.flat_stack(), "stack page cache without a flat stack");
        debug_assert!(
            {
                let w = self.mmu.tlb.e[slot(true, self.cpu.cpl == 3, sp)];
                w.tag == self.mmu.tlb.tag(sp) && w.phys == e.phys
            },
            "stale stack page cache"
        );
        Some((e.phys | (sp & 0xFFF)) as usize)
    }

    /// With a flat 32-bit stack: the physical address of the aligned dword at `sp` when
    /// its page has a write entry in the TLB, which then becomes the stack page cache.
    #[inline(always)]
    fn stack_fill(&mut self, sp: u32) -> Option<usize> {
        let p = self.mmu.direct_aligned(true, sp, 4, self.cpu.cpl == 3)?;
        self.mmu.tlb.stack = StackEntry {
            key: sp & !0xFFF,
            phys: p as u32 & !0xFFF,
        };
        Some(p)
    }

    /// The fast path of a read-modify-write operand: the physical address of an aligned
    /// operand in RAM through a fast segment whose page has a write entry in the TLB (which
    /// proves readability too), else None (use the general path). The caller reads and
    /// writes it with `ram_load` / `ram_store` and counts the two TLB hits the general path
    /// counts (`rmw_hits`).
    #[inline(always)]
    pub fn rmw_probe(&self, seg: usize, off: u32, size: u8) -> Option<usize> {
        let lin = self.linear_fast(seg, off, size, true)?;
        let p = self
            .mmu
            .direct_aligned(true, lin, size, self.cpu.cpl == 3)?;
        (p + size as usize <= self.mem.ram.len()).then_some(p)
    }

    /// Reads `size` bytes of RAM at `p` (an address from `rmw_probe`).
    #[inline(always)]
    pub fn ram_load(&self, p: usize, size: u8) -> u32 {
        le(&self.mem.ram[p..p + size as usize], size)
    }

    /// Writes `size` bytes of RAM at `p` (an address from `rmw_probe`: no code there).
    #[inline(always)]
    pub fn ram_store(&mut self, p: usize, size: u8, v: u32) {
        self.mem.ram[p..p + size as usize].copy_from_slice(&v.to_le_bytes()[..size as usize]);
    }

    /// Counts the read and the write of a fast read-modify-write as TLB hits.
    #[inline(always)]
    pub fn rmw_hits(&mut self) {
        self.mmu.tlb.hits += 2;
    }

    #[inline(always)]
    pub fn user_mode(&self) -> bool {
        self.cpu.cpl == 3
    }

    /// Recomputes `Mmu::align_check` = CR0.AM && EFLAGS.AC && CPL 3 (SDM Vol. 3A 2.5 and
    /// 6.15). Called wherever one of the three changes: MOV CR0, POPF, IRET, far
    /// transfers, event delivery, task switches, SYSENTER/SYSEXIT, snapshot restore.
    #[inline]
    pub fn update_align_check(&mut self) {
        self.mmu.align_check = self.align_condition();
    }

    fn align_condition(&self) -> bool {
        self.cpu.cr0 & cr0::AM != 0 && self.cpu.flags.bits & AC != 0 && self.cpu.cpl == 3
    }

    /// #AC(0) for a misaligned user-privilege data access of `size` bytes at `lin` while
    /// alignment checking is on (the rule is `Mmu::misaligned`). Comes after the segment
    /// checks and before the page walk (as in Bochs; the SDM lists both at the same
    /// priority). The architectural condition is tested again, so a stale
    /// `align_check = true` could only make accesses slower.
    #[inline]
    pub fn check_alignment(&self, lin: u32, size: u32, user: bool) -> Res {
        if self.mmu.misaligned(lin, size, user) && self.align_condition() {
            return Err(Exception::ac());
        }
        Ok(())
    }

    /// The #AC check of a `size`-byte operand at `seg:off` that the instruction accesses
    /// in smaller parts (CMPXCHG8B m64: 8). Call it before the parts' accesses; the
    /// segment must be usable (the parts' own checks follow).
    pub fn check_operand_alignment(&self, seg: usize, off: u32, size: u8) -> Res {
        if !self.mmu.align_check {
            return Ok(());
        }
        let lin = self.linear(seg, off, 1, false)?;
        self.check_alignment(lin, size as u32, self.user_mode())
    }

    /// Linear -> physical for one access; fills the TLB. `user` is the privilege of the
    /// access (CPL 3 data accesses are user accesses; descriptor-table reads are not).
    #[inline]
    pub fn translate(&mut self, lin: u32, write: bool, user: bool) -> Res<u32> {
        let regs = self.cpu.paging_regs();
        match self.mmu.translate(&mut self.mem, &regs, lin, write, user) {
            Ok(p) => {
                if let Some(refs) = self.mmu.charge_refs.take() {
                    self.ledger_nested_walk(refs);
                }
                Ok(p)
            }
            Err(Fault::Page(code)) => Err(Exception::pf(lin, code)),
            Err(Fault::Npf(f)) => Err(self.nested_page_fault(f)),
        }
    }

    /// Reads `size` bytes at a linear address.
    #[inline(always)]
    pub fn read_lin(&mut self, lin: u32, size: u8, user: bool) -> Res<u32> {
        if let Some(p) = self.mmu.direct(false, lin, size, user) {
            if let Some(b) = self.mem.ram.get(p..p + size as usize) {
                self.mmu.tlb.hits += 1;
                return Ok(le(b, size));
            }
        }
        self.read_lin_slow(lin, size, user)
    }

    #[inline(never)]
    fn read_lin_slow(&mut self, lin: u32, size: u8, user: bool) -> Res<u32> {
        self.check_alignment(lin, size as u32, user)?;
        if (lin & 0xFFF) + size as u32 <= 0x1000 {
            let p = self.translate(lin, false, user)?;
            if p >= crate::devices::apic::MMIO_FLOOR && self.dev.apic.is_some() {
                if let Some(v) = self.mmio_read(p, size) {
                    return Ok(v);
                }
            }
            return Ok(self.mem.read(p, size));
        }
        // Crosses a page: translate both pages before reading anything.
        let mut v = 0;
        for k in 0..size as u32 {
            let p = self.translate(lin.wrapping_add(k), false, user)?;
            v |= (self.mem.read_u8(p) as u32) << (8 * k);
        }
        Ok(v)
    }

    #[inline(always)]
    pub fn write_lin(&mut self, lin: u32, size: u8, v: u32, user: bool) -> Res<()> {
        if let Some(p) = self.mmu.direct(true, lin, size, user) {
            if let Some(b) = self.mem.ram.get_mut(p..p + size as usize) {
                b.copy_from_slice(&v.to_le_bytes()[..size as usize]);
                self.mmu.tlb.hits += 1;
                return Ok(());
            }
        }
        self.write_lin_slow(lin, size, v, user)
    }

    #[inline(never)]
    fn write_lin_slow(&mut self, lin: u32, size: u8, v: u32, user: bool) -> Res<()> {
        self.check_alignment(lin, size as u32, user)?;
        if (lin & 0xFFF) + size as u32 <= 0x1000 {
            let p = self.translate(lin, true, user)?;
            if p >= crate::devices::apic::MMIO_FLOOR
                && self.dev.apic.is_some()
                && self.mmio_write(p, size, v)
            {
                return Ok(());
            }
            self.write_phys(p, size, v);
            return Ok(());
        }
        // Page-crossing write: both pages must be writable before any byte changes.
        let last = lin.wrapping_add(size as u32 - 1);
        self.translate(lin, true, user)?;
        self.translate(last, true, user)?;
        for k in 0..size as u32 {
            let p = self.translate(lin.wrapping_add(k), true, user)?;
            self.write_phys(p, 1, v >> (8 * k));
        }
        Ok(())
    }

    /// A read of the APICs' memory-mapped registers (`devices::apic`), if `p` is one.
    /// Like port I/O, the access may move a device deadline or raise an interrupt.
    #[inline(never)]
    fn mmio_read(&mut self, p: u32, size: u8) -> Option<u32> {
        let now = self.now_ns();
        let v = self.dev.mmio_read(p, size, now)?;
        self.request(Request::Rescan);
        self.next_dev_tick = 0;
        Some(v)
    }

    /// A write to the APICs' registers: true if `p` is one of them.
    #[inline(never)]
    fn mmio_write(&mut self, p: u32, size: u8, v: u32) -> bool {
        let now = self.now_ns();
        if !self.dev.mmio_write(p, size, v, now) {
            return false;
        }
        self.request(Request::Rescan);
        self.next_dev_tick = 0;
        true
    }

    /// Physical write with self-modifying-code detection.
    #[inline]
    pub fn write_phys(&mut self, phys: u32, size: u8, v: u32) {
        if self.mem.write(phys, size, v) {
            self.code_written(phys, size as u32);
        }
    }

    /// `write_phys` for a run of bytes of at most a page (a VMCB's fields stored at once
    /// by a world switch): one copy, one code-page test.
    pub fn write_phys_from(&mut self, phys: u32, data: &[u8]) {
        debug_assert!(!data.is_empty() && data.len() <= PAGE as usize);
        if self.mem.write_from(phys, data) {
            self.code_written(phys, data.len() as u32);
        }
    }

    /// A physical write of `len` bytes (at most a page) at `phys` touched cached code: its
    /// pages are dropped from the decode cache before the next block runs (a rescan).
    #[inline(always)]
    fn code_written(&mut self, phys: u32, len: u32) {
        let first = phys / PAGE;
        let last = phys.wrapping_add(len - 1) / PAGE;
        self.smc_pages.push(first);
        if last != first {
            self.smc_pages.push(last);
        }
        self.request(Request::Rescan);
    }

    // ---- segment:offset accessors used by instruction handlers ----

    #[inline(always)]
    pub fn read(&mut self, seg: usize, off: u32, size: u8) -> Res<u32> {
        if let Some(v) = self.read_fast(seg, off, size) {
            return Ok(v);
        }
        self.read_general(seg, off, size)
    }

    #[inline(never)]
    fn read_general(&mut self, seg: usize, off: u32, size: u8) -> Res<u32> {
        let lin = self.linear(seg, off, size, false)?;
        let user = self.user_mode();
        self.read_lin(lin, size, user)
    }

    #[inline(always)]
    pub fn write(&mut self, seg: usize, off: u32, size: u8, v: u32) -> Res<()> {
        if self.write_fast(seg, off, size, v) {
            return Ok(());
        }
        self.write_general(seg, off, size, v)
    }

    #[inline(never)]
    fn write_general(&mut self, seg: usize, off: u32, size: u8, v: u32) -> Res<()> {
        let lin = self.linear(seg, off, size, true)?;
        let user = self.user_mode();
        self.write_lin(lin, size, v, user)
    }

    /// Checks that a write of one `size`-byte operand would succeed (segment, alignment,
    /// page) without writing: used by read-modify-write instructions and multi-part stores
    /// so state stays unchanged on fault.
    pub fn probe_write(&mut self, seg: usize, off: u32, size: u8) -> Res<()> {
        self.probe(seg, off, size, true)
    }

    /// `probe_write` for `len` bytes that will be written as several smaller operands (a
    /// frame of pushes): no #AC check here, each part's own write is checked.
    pub fn probe_write_span(&mut self, seg: usize, off: u32, len: u8) -> Res<()> {
        self.probe(seg, off, len, false)
    }

    fn probe(&mut self, seg: usize, off: u32, size: u8, align: bool) -> Res<()> {
        let lin = self.linear(seg, off, size, true)?;
        let user = self.user_mode();
        if align {
            self.check_alignment(lin, size as u32, user)?;
        }
        self.translate(lin, true, user)?;
        if (lin & 0xFFF) + size as u32 > 0x1000 {
            self.translate(lin.wrapping_add(size as u32 - 1), true, user)?;
        }
        Ok(())
    }

    /// Supervisor-privilege ("implicit") reads of system structures (GDT, IDT, TSS).
    pub fn read_sys(&mut self, lin: u32, size: u8) -> Res<u32> {
        self.read_lin(lin, size, false)
    }
    pub fn write_sys(&mut self, lin: u32, size: u8, v: u32) -> Res<()> {
        self.write_lin(lin, size, v, false)
    }

    /// Side-effect-free read of linear memory for front ends: None if unmapped.
    pub fn peek_lin(&self, lin: u32, len: usize) -> Option<Vec<u8>> {
        let regs = self.cpu.paging_regs();
        let mut out = Vec::with_capacity(len);
        for k in 0..len as u32 {
            let phys = self
                .mmu
                .peek_translate(&self.mem, &regs, lin.wrapping_add(k))?;
            out.push(self.mem.read_u8(phys));
        }
        Some(out)
    }

    // ---- stack ----

    #[inline(always)]
    pub fn sp_mask(&self) -> u32 {
        if self.cpu.stack32() {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    #[inline(always)]
    pub fn push(&mut self, size: u8, v: u32) -> Res<()> {
        let mask = self.sp_mask();
        let esp = self.cpu.gpr[4];
        let nsp = esp.wrapping_sub(size as u32) & mask;
        self.write(SS, nsp, size, v)?;
        self.cpu.gpr[4] = (esp & !mask) | nsp;
        Ok(())
    }

    #[inline(always)]
    pub fn pop(&mut self, size: u8) -> Res<u32> {
        let mask = self.sp_mask();
        let esp = self.cpu.gpr[4];
        let v = self.read(SS, esp & mask, size)?;
        self.cpu.gpr[4] = (esp & !mask) | (esp.wrapping_add(size as u32) & mask);
        Ok(v)
    }

    /// Reads the stack at ESP+`delta` without popping.
    pub fn stack_peek(&mut self, delta: u32, size: u8) -> Res<u32> {
        let mask = self.sp_mask();
        let a = self.cpu.gpr[4].wrapping_add(delta) & mask;
        self.read(SS, a, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::state::cr0;
    use crate::mmu::segment::{Seg, CS, DS, ES, FS, GS};

    fn flat_data() -> Seg {
        Seg {
            sel: 0x10,
            base: 0,
            limit: u32::MAX,
            attr: attr::P | attr::S | attr::RW | attr::DB | attr::G,
            valid: true,
        }
    }

    /// Only a valid, expand-up, writable data segment with base 0 and a 4 GiB limit is
    /// flat, and SS is a flat stack only when it is also 32-bit in protected mode.
    #[test]
    fn flat_segments_are_exactly_the_unchecked_ones() {
        let mut c = Core::new(
            1 << 20,
            crate::devices::Devices::new(1 << 20, Default::default()),
        );
        assert_eq!(c.flat_segs(), 0, "real mode after reset: 64 KiB segments");
        for s in 0..6 {
            c.cpu.seg[s] = flat_data();
        }
        c.cpu.seg[CS].attr |= attr::CODE;
        assert_eq!(
            c.flat_segs(),
            0b11_1101,
            "all data segments (real mode: no stack32)"
        );
        c.cpu.cr0 |= cr0::PE;
        assert_eq!(c.flat_segs(), 0b11_1101 | FLAT_STACK32);
        c.cpu.seg[DS].limit = 0xFFFF_FFFE;
        c.cpu.seg[ES].base = 0x1000;
        c.cpu.seg[FS].attr |= attr::DC; // expand-down
        c.cpu.seg[GS].attr &= !attr::RW; // read-only
        c.cpu.seg[SS].valid = false;
        assert_eq!(c.flat_segs(), 0, "FLAT_STACK32 only with a flat SS");
        c.refresh_flat();
        assert!(!c.flat_stack());
        c.cpu.seg[SS] = flat_data();
        c.refresh_flat();
        assert!(c.flat_stack());
        c.segs_changed();
        assert!(!c.flat_stack());
    }

    /// The stack page cache: empty, no stack pointer hits it (a misaligned one in page 0
    /// included); filled from a TLB write entry, it serves that page only, aligned; any
    /// change of the TLB or of the segments empties it.
    #[test]
    fn stack_page_cache_mirrors_one_write_entry() {
        let mut c = Core::new(
            1 << 20,
            crate::devices::Devices::new(1 << 20, Default::default()),
        );
        c.cpu.cr0 |= cr0::PE;
        c.cpu.seg[SS] = flat_data();
        c.refresh_flat();
        assert!(c.flat_stack());
        for sp in [0, 1, 2, 3, 4, 0xFFC, 0x1000, 0x8000_0001] {
            assert_eq!(c.stack_cached(sp), None, "empty cache hit at {sp:#x}");
        }
        assert!(!c.stack_write32_fast(0x5FFC, 7), "no TLB entry yet");
        c.write(SS, 0x5FFC, 4, 7).unwrap();
        let fill = |c: &mut Core| {
            assert!(c.stack_write32_fast(0x5FF8, 8));
            assert_eq!(c.stack_cached(0x5FF4), Some(0x5FF4));
        };
        fill(&mut c);
        assert_eq!(c.stack_read32_fast(0x5FFC), Some(7));
        assert_eq!(c.stack_read32_fast(0x5FF8), Some(8));
        assert_eq!(c.stack_cached(0x5FF5), None, "misaligned");
        assert_eq!(c.stack_cached(0x6000), None, "another page");
        c.mmu.tlb.invlpg(0x5000);
        assert_eq!(c.stack_cached(0x5FF4), None, "INVLPG");
        c.write(SS, 0x5FFC, 4, 7).unwrap();
        fill(&mut c);
        c.segs_changed();
        assert_eq!(c.stack_cached(0x5FF4), None, "a segment load");
        c.refresh_flat();
        fill(&mut c);
        c.mmu.tlb.insert(false, false, 0x9000, 0x9000, false, false);
        assert_eq!(c.stack_cached(0x5FF4), None, "a TLB fill");
        fill(&mut c);
        c.mmu.tlb.drop_writes_to(0x5000);
        assert_eq!(c.stack_cached(0x5FF4), None, "code cached on the page");
    }
}
