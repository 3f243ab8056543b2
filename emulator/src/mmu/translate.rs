//! `Mmu`: the one owner of linear-to-physical translation. It holds the TLB (tagged with
//! address spaces), the A20 gate and the alignment-check mode, and translates over any
//! [`PhysMem`] with the paging registers it is handed ([`PagingRegs`]: the registers are
//! the CPU's architectural state; how they are interpreted is decided here and in
//! `mmu::paging`). While a guest runs with nested paging it also holds the nested context
//! (`mmu::nested`, set at VMRUN and cleared at #VMEXIT by the CPU's SVM code) and every
//! TLB miss is a 2-D walk. Faults come back as plain values ([`Fault`]: the #PF error code
//! or a nested page fault); turning them into exceptions or exits is the CPU's business. It
//! must not know about segments, registers other than the paging registers, or
//! instructions.

pub use super::nested::Fault;
use super::nested::{self, Nested, NestedStats};
use super::paging::{self, Access, PagingRegs, Peek, Phys, WalkReport};
use super::tlb::{slot, Tlb};
use crate::bus::PhysMem;
use serde::{Deserialize, Serialize};

/// Translation state. The A20 mask, the nested context and the TLB's charged model are part
/// of a snapshot: the TLB's entries are rebuilt and the alignment-check mode is derived from
/// CPU state (`Core::update_align_check`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mmu {
    pub tlb: Tlb,
    /// Address mask of the A20 gate: all ones, or bit 20 clear while the gate is closed.
    pub a20_mask: u32,
    /// Misaligned user data accesses raise #AC (CR0.AM && EFLAGS.AC && CPL 3, SDM Vol. 3A
    /// 6.15). While set, the CPU's memory fast paths defer to the slow path, which checks.
    #[serde(skip)]
    pub align_check: bool,
    /// Nested paging of the running guest (None: the host, or a guest without it).
    pub nested: Option<Nested>,
    /// Nested walks and their memory references, over the whole run. Like the TLB's
    /// counters, not part of a snapshot: they depend on what the (unsaved) TLB held.
    #[serde(skip)]
    pub nstats: NestedStats,
    /// Memory references of the nested walk the last `translate` made, when the charged
    /// model (`mmu::charged`) missed: the caller charges it in virtual time and clears it.
    #[serde(skip)]
    pub charge_refs: Option<u64>,
}

impl Default for Mmu {
    fn default() -> Self {
        Mmu {
            tlb: Tlb::default(),
            a20_mask: 0xFFFF_FFFF,
            align_check: false,
            nested: None,
            nstats: NestedStats::default(),
            charge_refs: None,
        }
    }
}

impl Mmu {
    /// Opens or closes the A20 gate; a change flushes the TLB.
    pub fn set_a20(&mut self, on: bool) {
        let mask = if on { 0xFFFF_FFFF } else { !(1 << 20) };
        if mask != self.a20_mask {
            self.a20_mask = mask;
            self.tlb.flush_all();
        }
    }

    /// VMRUN with NP_ENABLE: from now on translations are 2-D walks through `n`. The
    /// caller switches the TLB to the guest's ASID; cached translations made outside the
    /// TLB are dropped (the generation).
    pub fn enter_nested(&mut self, n: Nested) {
        self.nested = Some(n);
        self.tlb.generation += 1;
    }

    /// #VMEXIT (or a VMRUN without NP_ENABLE): translations are one-dimensional again.
    pub fn leave_nested(&mut self) {
        if self.nested.take().is_some() {
            self.tlb.generation += 1;
        }
    }

    /// The alignment rule (SDM Vol. 3A 6.15, Table 6-7): while checking is on, a user
    /// access of a power-of-two `size` > 1 must be aligned to it. True when the access
    /// faults. Instruction fetches and supervisor ("implicit") accesses are never checked.
    #[inline]
    pub fn misaligned(&self, lin: u32, size: u32, user: bool) -> bool {
        user && self.align_check && size > 1 && size.is_power_of_two() && lin & (size - 1) != 0
    }

    /// The code fetch's TLB probe (`machine::fetch::fast`, when the fetch hint is for
    /// another page): the physical page of linear page `lin` if the TLB holds its read
    /// entry for this privilege, counted as a hit as `translate` would; None sends the
    /// fetch to `translate`.
    #[inline(always)]
    pub fn code_page(&mut self, lin: u32, user: bool) -> Option<u32> {
        let e = self.tlb.e[slot(false, user, lin)];
        if e.tag != self.tlb.tag(lin) {
            return None;
        }
        self.tlb.hits += 1;
        Some(e.phys)
    }

    /// The TLB fast path: the physical address of a `size`-byte access at `lin` that a
    /// direct entry covers (the access stays within one page and alignment checking is
    /// off), for the caller to access RAM directly; None sends it to [`Mmu::translate`].
    /// The caller counts the hit.
    #[inline(always)]
    pub fn direct(&self, write: bool, lin: u32, size: u8, user: bool) -> Option<usize> {
        let e = self.tlb.e[slot(write, user, lin)];
        let off = lin & 0xFFF;
        if e.tag == self.tlb.tag(lin) && off <= 0x1000 - size as u32 && !self.align_check {
            Some((e.phys | off) as usize)
        } else {
            None
        }
    }

    /// The probe of the data fast paths (`Core::read_fast`...): the physical address of an
    /// aligned access of `size` bytes (1, 2 or 4) whose page is in the TLB for this kind of
    /// access, else None. The low address bits are compared with the tag, so a misaligned
    /// access never matches: it takes the general path, which handles page crossings and
    /// alignment checking (an aligned access never raises #AC, so `align_check` needs no
    /// test here).
    #[inline(always)]
    pub fn direct_aligned(&self, write: bool, lin: u32, size: u8, user: bool) -> Option<usize> {
        let e = self.tlb.e[slot(write, user, lin)];
        if (e.tag ^ self.tlb.tag(lin)) | (lin & (size as u32 - 1)) == 0 {
            Some((e.phys | (lin & 0xFFF)) as usize)
        } else {
            None
        }
    }

    /// Linear -> physical for one access, through the TLB; fills it on a miss. `user` is
    /// the privilege of the access. Err is the #PF error code.
    pub fn translate<M: PhysMem>(
        &mut self,
        mem: &mut M,
        regs: &PagingRegs,
        lin: u32,
        write: bool,
        user: bool,
    ) -> Result<u32, Fault> {
        let i = slot(write, user, lin);
        let tag = self.tlb.tag(lin);
        let e = self.tlb.e[i];
        if e.tag == tag {
            self.tlb.hits += 1;
            return Ok(e.phys | (lin & 0xFFF));
        }
        if !write {
            // A write entry also proves readability for the same privilege.
            let w = self.tlb.e[slot(true, user, lin)];
            if w.tag == tag {
                self.tlb.hits += 1;
                self.tlb.e[i] = w;
                return Ok(w.phys | (lin & 0xFFF));
            }
        }
        self.tlb.misses += 1;
        let acc = Access {
            write,
            user,
            fetch: false,
        };
        let (phys, global, large) = if let Some(n) = &self.nested {
            let refs = self.nstats.refs;
            let t = nested::translate2d(&mut Phys(mem), n, regs, lin, acc, true, &mut self.nstats)?;
            if self.tlb.charged.touch(tag, t.global, t.large) {
                self.charge_refs = Some(self.nstats.refs - refs);
            }
            (t.phys & self.a20_mask, t.global, t.large)
        } else if regs.enabled() {
            match paging::walk(&mut Phys(mem), regs, lin, acc, true, None) {
                Ok(t) => {
                    if self.tlb.asid() != 0 {
                        // A guest without nested paging: no charge, but the model follows
                        // its pages so that a later nested run of the same ASID is exact.
                        self.tlb.charged.touch(tag, t.global, t.large);
                    }
                    (t.phys & self.a20_mask, t.global, t.large)
                }
                Err(e) => return Err(Fault::Page(e.code())),
            }
        } else {
            (lin & self.a20_mask, false, false)
        };
        let (direct_read, direct_write) = mem.direct_page(phys & !0xFFF);
        if !write {
            if direct_read {
                self.tlb.insert(false, user, lin, phys, global, large);
            }
        } else if direct_write {
            self.tlb.insert(true, user, lin, phys, global, large);
        }
        Ok(phys)
    }

    /// Side-effect-free translation for front ends: no TLB, no accessed/dirty bits. None
    /// when `lin` is not mapped for a supervisor read.
    pub fn peek_translate<M: PhysMem>(&self, mem: &M, regs: &PagingRegs, lin: u32) -> Option<u32> {
        let phys = if let Some(n) = &self.nested {
            let mut scratch = NestedStats::default();
            nested::translate2d(
                &mut Peek(mem),
                n,
                regs,
                lin,
                Access::READ,
                false,
                &mut scratch,
            )
            .ok()?
            .phys
        } else if regs.enabled() {
            paging::walk(&mut Peek(mem), regs, lin, Access::READ, false, None)
                .ok()?
                .phys
        } else {
            lin
        };
        Some(phys & self.a20_mask)
    }

    /// Explains how `lin` translates for one kind of access, without side effects: the
    /// walk, or under nested paging the 2-D walk (each level's gPA -> hPA).
    pub fn explain<M: PhysMem>(
        &self,
        mem: &M,
        regs: &PagingRegs,
        lin: u32,
        acc: Access,
    ) -> WalkReport {
        match &self.nested {
            Some(n) => nested::explain2d(&mut Peek(mem), n, regs, lin, acc),
            None => paging::explain_regs(mem, regs, lin, acc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Memory;
    use crate::mmu::paging::{CR0_PG, PTE_A, PTE_P, PTE_W};

    #[test]
    fn translate_fills_the_tlb_and_a_flush_bumps_the_generation() {
        let mut mem = Memory::new(1 << 20);
        mem.write(0x1000, 4, 0x2000 | PTE_P | PTE_W);
        mem.write(0x2000 + 4 * 5, 4, 0x7000 | PTE_P | PTE_W);
        let regs = PagingRegs {
            cr0: 1 | CR0_PG,
            cr3: 0x1000,
            cr4: 0,
            pdpte: [0; 4],
            pdpte_mem: false,
        };
        let mut mmu = Mmu::default();
        assert_eq!(mmu.peek_translate(&mem, &regs, 0x5123), Some(0x7123));
        assert_eq!(mem.read(0x2014, 4) & PTE_A, 0, "peek sets no accessed bit");
        assert_eq!(
            mmu.translate(&mut mem, &regs, 0x5123, false, false),
            Ok(0x7123)
        );
        assert_ne!(mem.read(0x2014, 4) & PTE_A, 0);
        assert_eq!((mmu.tlb.hits, mmu.tlb.misses), (0, 1));
        assert_eq!(
            mmu.translate(&mut mem, &regs, 0x5FFF, false, false),
            Ok(0x7FFF)
        );
        assert_eq!(mmu.tlb.hits, 1);
        // Not present: #PF error code 0 (supervisor read).
        assert_eq!(
            mmu.translate(&mut mem, &regs, 0x6000, false, false),
            Err(Fault::Page(0))
        );
        let g = mmu.tlb.generation;
        mmu.set_a20(false);
        assert!(mmu.tlb.generation > g, "an A20 change flushes");
        assert_eq!(
            mmu.translate(&mut mem, &regs, 0x10_0000, false, false),
            Err(Fault::Page(0))
        );
        let off = PagingRegs::default();
        assert_eq!(
            mmu.translate(&mut mem, &off, 0x10_0042, false, false),
            Ok(0x42)
        );
    }
}
