//! PAE paging (SDM Vol. 3A 4.4): the four PDPTE registers and the three-level walk with
//! 64-bit entries, 4 KiB and 2 MiB pages. Owns the PAE entry formats, their reserved bits
//! and the PDPTE load; it must not cache translations or know about the CPU (the CPU
//! decides when PDPTEs are loaded and turns a failed load into #GP(0)). `paging::walk`
//! calls [`walk_ro`] when CR4.PAE is set, so PAE walks go through the same `TableReader`s
//! (host memory, side-effect-free peeks, a nested walk's reader).
//!
//! Traplab's physical address width (MAXPHYADDR) is 32 bits, as the machine has no memory
//! above 4 GiB: CPUID offers no PSE-36, and leaf 0x80000008, where offered, says 32 (without
//! it the SDM, 4.1.4, gives 32 for a CPU without PSE-36). So there are no physical
//! addresses above 4 GiB: bits 63:32 of every PAE entry are reserved (a PDPTE
//! with them set fails to load, a PDE or PTE with them set is a reserved-bit #PF). That
//! includes bit 63 (XD): Traplab has no EFER.NXE, so XD is reserved as the SDM says when
//! NXE is 0. The PAT bits (PTE bit 7, 2 MiB PDE bit 12) are ignored like in the two-level
//! walker (QEMU does not check them either).

use super::paging::{
    check_rights, Access, PagingRegs, TableReader, Translation, WalkError, WalkStep, Walked,
    CR0_WP, CR4_PGE, PF_P, PF_RSVD, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS, PTE_U, PTE_W,
};
use crate::bus::PhysMem;

/// Bits 63:MAXPHYADDR (= 32) of any PAE entry: reserved.
pub const HIGH_RSVD: u64 = 0xFFFF_FFFF_0000_0000;
/// Reserved bits of a present PDPTE (SDM Table 4-8): 2:1, 8:5 and 63:32.
pub const PDPTE_RSVD: u64 = HIGH_RSVD | 0x1E6;
/// Reserved bits of a present PDE that maps a 2 MiB page (SDM Table 4-9): 20:13 and 63:32.
pub const PDE_2M_RSVD: u64 = HIGH_RSVD | 0x001F_E000;

/// The address of PDPTE `i` for this CR3 (the PDPT is 32-byte aligned: CR3 bits 31:5).
#[inline]
pub fn pdpte_addr(cr3: u32, i: usize) -> u32 {
    (cr3 & 0xFFFF_FFE0) + 8 * i as u32
}

/// Whether a PDPTE may be loaded into a PDPTE register: not present, or present with no
/// reserved bit set (SDM Vol. 3A 4.4.1).
#[inline]
pub fn pdpte_ok(e: u64) -> bool {
    e & PTE_P as u64 == 0 || e & PDPTE_RSVD == 0
}

/// Reads the four PDPTEs that CR3 names, as MOV to CR3/CR0/CR4 and task switches load
/// them (SDM Vol. 3A 4.4.1). Err(index) of the first present PDPTE with a reserved bit set:
/// the CPU then raises #GP(0) and loads none of them.
pub fn load_pdptes<M: PhysMem>(mem: &mut M, cr3: u32) -> Result<[u64; 4], usize> {
    let mut p = [0u64; 4];
    for (i, e) in p.iter_mut().enumerate() {
        let a = pdpte_addr(cr3, i);
        *e = (mem.read(a.wrapping_add(4), 4) as u64) << 32 | mem.read(a, 4) as u64;
    }
    match p.iter().position(|&e| !pdpte_ok(e)) {
        Some(i) => Err(i),
        None => Ok(p),
    }
}

/// The PAE walk (SDM Vol. 3A 4.4.2) reading entries only; records each entry in `steps`.
/// The PDPTE comes from its register, as on the processor, not from memory.
pub(crate) fn walk_ro<R: TableReader>(
    tables: &mut R,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
    mut steps: Option<&mut Vec<WalkStep>>,
) -> Result<Walked, WalkError<R::Fault>> {
    let err_base = (acc.write as u32) << 1 | (acc.user as u32) << 2;
    let rsvd = WalkError::Page(err_base | PF_P | PF_RSVD);
    let i = (lin >> 30) as usize;
    let pdpte = if regs.pdpte_mem {
        tables
            .read_entry64(pdpte_addr(regs.cr3, i))
            .map_err(WalkError::Table)?
    } else {
        regs.pdpte[i]
    };
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep::new("PDPTE", pdpte_addr(regs.cr3, i), pdpte));
    }
    if pdpte & PTE_P as u64 == 0 {
        return Err(WalkError::Page(err_base));
    }
    if !pdpte_ok(pdpte) {
        // Only a PDPTE read from memory can have them (a register load refuses them).
        return Err(rsvd);
    }
    let pde_addr = (pdpte as u32 & 0xFFFF_F000) | ((lin >> 18) & 0xFF8);
    let pde = tables.read_entry64(pde_addr).map_err(WalkError::Table)?;
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep::new("PDE", pde_addr, pde));
    }
    let lo = pde as u32;
    if lo & PTE_P == 0 {
        return Err(WalkError::Page(err_base));
    }
    let wp = regs.cr0 & CR0_WP != 0;
    let dirty = if acc.write { PTE_D } else { 0 };
    let pge = regs.cr4 & CR4_PGE != 0;
    if lo & PTE_PS != 0 {
        // A 2 MiB page: PAE needs no CR4.PSE for it (SDM 4.4.2).
        if pde & PDE_2M_RSVD != 0 {
            return Err(rsvd);
        }
        let (w, u) = (lo & PTE_W != 0, lo & PTE_U != 0);
        check_rights(acc, w, u, wp).map_err(|_| WalkError::Page(err_base | PF_P))?;
        let new = lo | PTE_A | dirty;
        let t = Translation {
            phys: (lo & 0xFFE0_0000) | (lin & 0x001F_FFFF),
            global: lo & PTE_G != 0 && pge,
            large: true,
            writable: w,
            user: u,
        };
        return Ok(Walked {
            t,
            writes: [(new != lo).then_some((pde_addr, new)), None],
        });
    }
    if pde & HIGH_RSVD != 0 {
        return Err(rsvd);
    }
    let pte_addr = (lo & 0xFFFF_F000) | ((lin >> 9) & 0xFF8);
    let pte = tables.read_entry64(pte_addr).map_err(WalkError::Table)?;
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep::new("PTE", pte_addr, pte));
    }
    let plo = pte as u32;
    if plo & PTE_P == 0 {
        return Err(WalkError::Page(err_base));
    }
    if pte & HIGH_RSVD != 0 {
        return Err(rsvd);
    }
    let w = lo & PTE_W != 0 && plo & PTE_W != 0;
    let u = lo & PTE_U != 0 && plo & PTE_U != 0;
    check_rights(acc, w, u, wp).map_err(|_| WalkError::Page(err_base | PF_P))?;
    let new_pte = plo | PTE_A | dirty;
    let t = Translation {
        phys: (plo & 0xFFFF_F000) | (lin & 0xFFF),
        global: plo & PTE_G != 0 && pge,
        large: false,
        writable: w,
        user: u,
    };
    Ok(Walked {
        t,
        writes: [
            (lo & PTE_A == 0).then_some((pde_addr, lo | PTE_A)),
            (new_pte != plo).then_some((pte_addr, new_pte)),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Memory;
    use crate::mmu::paging::{explain_regs, walk, Peek, Phys, CR0_PG, CR4_PAE, PTE_A};
    use crate::mmu::Mmu;

    // PDPT at 0x1020 (32-byte aligned, not page aligned), PD at 0x2000 for 0x4000_0000-
    // 0x7FFF_FFFF (PDPTE 1), PT at 0x3000 for 0x4000_0000-0x401F_FFFF.
    const CR3: u32 = 0x1020;
    const LIN: u32 = 0x4000_5123;
    const RWU: u64 = (PTE_P | PTE_W | PTE_U) as u64;

    fn w64(m: &mut Memory, a: u32, v: u64) {
        m.write(a, 4, v as u32);
        m.write(a + 4, 4, (v >> 32) as u32);
    }

    fn r64(m: &Memory, a: u32) -> u64 {
        (m.read(a + 4, 4) as u64) << 32 | m.read(a, 4) as u64
    }

    fn setup() -> Memory {
        let mut m = Memory::new(1 << 20);
        w64(&mut m, CR3 + 8, 0x2000 | PTE_P as u64);
        w64(&mut m, 0x2000, 0x3000 | RWU);
        w64(&mut m, 0x3000 + 8 * 5, 0x7000 | RWU);
        m
    }

    fn regs(m: &mut Memory, cr0: u32, cr4: u32) -> PagingRegs {
        PagingRegs {
            cr0: 1 | CR0_PG | cr0,
            cr3: CR3,
            cr4: CR4_PAE | cr4,
            pdpte: load_pdptes(m, CR3).expect("valid PDPTEs"),
            pdpte_mem: false,
        }
    }

    fn acc(write: bool, user: bool) -> Access {
        Access {
            write,
            user,
            fetch: false,
        }
    }

    fn run(m: &mut Memory, r: &PagingRegs, lin: u32, a: Access) -> Result<Translation, u32> {
        walk(&mut Phys(m), r, lin, a, true, None).map_err(WalkError::code)
    }

    #[test]
    fn four_kib_page_three_levels_with_accessed_and_dirty() {
        let mut m = setup();
        let r = regs(&mut m, 0, 0);
        let rep = explain_regs(&m, &r, LIN, Access::WRITE);
        assert_eq!(rep.result, Ok(0x7123));
        assert!(rep.pae);
        let levels: Vec<(&str, u32)> = rep
            .steps
            .iter()
            .map(|s| (s.level.as_str(), s.entry_addr))
            .collect();
        assert_eq!(
            levels,
            vec![("PDPTE", CR3 + 8), ("PDE", 0x2000), ("PTE", 0x3028)]
        );
        assert_eq!(r64(&m, 0x3028) & PTE_A as u64, 0, "explain writes nothing");
        let t = run(&mut m, &r, LIN, Access::READ).unwrap();
        assert_eq!(
            (t.phys, t.large, t.writable, t.user),
            (0x7123, false, true, true)
        );
        assert_ne!(r64(&m, 0x2000) & PTE_A as u64, 0, "PDE accessed");
        assert_eq!(
            r64(&m, 0x3028) & 0x60,
            PTE_A as u64,
            "PTE accessed, not dirty"
        );
        run(&mut m, &r, LIN, Access::WRITE).unwrap();
        assert_eq!(r64(&m, 0x3028) & 0x60, 0x60, "PTE dirty after a write");
        assert_eq!(r64(&m, CR3 + 8), 0x2000 | 1, "PDPTEs have no accessed bit");
    }

    #[test]
    fn two_mib_pages_need_no_pse() {
        let mut m = setup();
        // PDE 3 of PD 0x2000 (0x4060_0000): a 2 MiB page at 0x0020_0000, global.
        w64(
            &mut m,
            0x2000 + 24,
            0x0020_0000 | RWU | (PTE_PS | PTE_G) as u64,
        );
        let r = regs(&mut m, 0, CR4_PGE);
        let t = run(&mut m, &r, 0x407F_F00C, Access::WRITE).unwrap();
        assert_eq!(t.phys, 0x003F_F00C);
        assert!(t.large && t.global);
        assert_eq!(r64(&m, 0x2018) & 0x60, 0x60, "2 MiB PDE accessed and dirty");
        let rep = explain_regs(&m, &r, 0x4060_0000, Access::READ);
        assert_eq!(rep.steps.len(), 2, "PDPTE and PDE only");
        // Without PGE the G bit means nothing.
        let r = regs(&mut m, 0, 0);
        assert!(!run(&mut m, &r, 0x4060_0000, Access::READ).unwrap().global);
    }

    #[test]
    fn not_present_at_each_level() {
        let mut m = setup();
        let r = regs(&mut m, 0, 0);
        // PDPTE 0 not present; PDE 1 not present; PTE 6 not present.
        assert_eq!(run(&mut m, &r, 0x0000_1000, acc(false, false)), Err(0));
        assert_eq!(run(&mut m, &r, 0x4020_0000, acc(true, false)), Err(2));
        assert_eq!(run(&mut m, &r, 0x4000_6000, acc(true, true)), Err(6));
        // Reserved bits in a not-present entry do not matter (SDM 4.7: P = 0 first).
        w64(&mut m, 0x3000 + 8 * 6, 0x8000_0000_0000_0000);
        assert_eq!(run(&mut m, &r, 0x4000_6000, acc(false, true)), Err(4));
    }

    #[test]
    fn rights_combine_pde_and_pte() {
        let mut m = setup();
        w64(&mut m, 0x3000 + 8 * 5, 0x7000 | (PTE_P | PTE_U) as u64); // read-only
        w64(&mut m, 0x3000 + 8 * 7, 0x8000 | (PTE_P | PTE_W) as u64); // supervisor
        let r = regs(&mut m, 0, 0);
        assert_eq!(run(&mut m, &r, LIN, acc(true, true)), Err(7));
        assert!(run(&mut m, &r, LIN, acc(true, false)).is_ok(), "no WP");
        let wp = regs(&mut m, CR0_WP, 0);
        assert_eq!(run(&mut m, &wp, LIN, acc(true, false)), Err(3));
        assert_eq!(run(&mut m, &r, 0x4000_7000, acc(false, true)), Err(5));
        // A read-only PDE makes the whole table read-only for users.
        w64(&mut m, 0x2000, 0x3000 | (PTE_P | PTE_U) as u64);
        w64(&mut m, 0x3000 + 8 * 5, 0x7000 | RWU);
        assert_eq!(run(&mut m, &r, LIN, acc(true, true)), Err(7));
    }

    #[test]
    fn reserved_bits_fault_with_rsvd() {
        let mut m = setup();
        let r = regs(&mut m, 0, 0);
        // XD (bit 63) without EFER.NXE, in the PTE: P | RSVD, plus W and U of the access.
        w64(&mut m, 0x3028, 0x8000_0000_0000_7000 | RWU);
        assert_eq!(run(&mut m, &r, LIN, acc(false, false)), Err(0x9));
        assert_eq!(run(&mut m, &r, LIN, acc(true, true)), Err(0xF));
        // Bit 32 (above MAXPHYADDR = 32) in the PTE.
        w64(&mut m, 0x3028, 0x1_0000_7000 | RWU);
        assert_eq!(run(&mut m, &r, LIN, acc(false, true)), Err(0xD));
        // In a PDE pointing to a table: the fault comes before the PTE is read, and even
        // though the access would also break the rights (RSVD wins: it is found first).
        w64(&mut m, 0x3028, 0x7000 | RWU);
        w64(
            &mut m,
            0x2000,
            0x0000_0100_0000_3000 | (PTE_P | PTE_U) as u64,
        );
        assert_eq!(run(&mut m, &r, LIN, acc(true, true)), Err(0xF));
        let rep = explain_regs(&m, &r, LIN, acc(true, true));
        assert_eq!(rep.steps.len(), 2, "the PTE is not read");
        // In a 2 MiB PDE: bits 20:13 are reserved.
        w64(&mut m, 0x2000, 0x0020_2000 | RWU | PTE_PS as u64);
        assert_eq!(run(&mut m, &r, LIN, acc(false, false)), Err(0x9));
        w64(&mut m, 0x2000, 0x0020_1000 | RWU | PTE_PS as u64); // bit 12 (PAT): ignored
        assert_eq!(
            run(&mut m, &r, LIN, acc(false, false)).unwrap().phys,
            0x0020_5123
        );
        assert_eq!(r64(&m, 0x2000) & PTE_A as u64, PTE_A as u64);
    }

    #[test]
    fn pdpte_load_checks_reserved_bits() {
        let mut m = setup();
        assert_eq!(
            load_pdptes(&mut m, CR3 | 0x18).unwrap(),
            [0, 0x2001, 0, 0],
            "CR3 bits 4:0 are not address bits"
        );
        // A not-present PDPTE may hold anything.
        w64(&mut m, CR3 + 16, 0xFFFF_FFFF_FFFF_FFFE);
        assert!(load_pdptes(&mut m, CR3).is_ok());
        for bad in [1u64 << 1, 1 << 2, 1 << 5, 1 << 8, 1 << 32, 1 << 63] {
            w64(&mut m, CR3 + 24, 0x5000 | 1 | bad);
            assert_eq!(load_pdptes(&mut m, CR3), Err(3), "bit {bad:#x}");
        }
        // PWT, PCD and the ignored bits 11:9 are fine.
        w64(&mut m, CR3 + 24, 0x5000 | 1 | 0x18 | 0xE00);
        assert!(load_pdptes(&mut m, CR3).is_ok());
    }

    #[test]
    fn the_walk_uses_the_pdpte_registers_not_memory() {
        let mut m = setup();
        let r = regs(&mut m, 0, 0);
        // The PDPT in memory changes; until the registers are reloaded the walk ignores it.
        w64(&mut m, CR3 + 8, 0);
        assert_eq!(run(&mut m, &r, LIN, Access::READ).unwrap().phys, 0x7123);
        let reloaded = regs(&mut m, 0, 0);
        assert_eq!(run(&mut m, &reloaded, LIN, Access::READ), Err(0));
        let rep = explain_regs(&m, &r, LIN, Access::READ);
        assert_eq!(rep.steps[0].entry, 0x2001, "explain shows the register");
    }

    #[test]
    fn mmu_translates_pae_through_the_tlb_and_invlpg_drops_large_pages() {
        let mut m = setup();
        w64(&mut m, 0x2000 + 8, 0x0040_0000 | RWU | PTE_PS as u64);
        let r = regs(&mut m, 0, 0);
        let mut mmu = Mmu::default();
        assert_eq!(mmu.translate(&mut m, &r, LIN, false, true), Ok(0x7123));
        assert_eq!(
            mmu.translate(&mut m, &r, 0x4020_0010, false, false),
            Ok(0x40_0010)
        );
        assert_eq!(
            mmu.translate(&mut m, &r, 0x4020_3010, false, false),
            Ok(0x40_3010)
        );
        assert_eq!(mmu.tlb.misses, 3);
        // The 2 MiB page changes; INVLPG of another address in it drops both pieces.
        w64(&mut m, 0x2000 + 8, 0x0060_0000 | RWU | PTE_PS as u64);
        mmu.tlb.invlpg(0x4021_F000);
        assert_eq!(
            mmu.translate(&mut m, &r, 0x4020_0010, false, false),
            Ok(0x60_0010)
        );
        assert_eq!(
            mmu.translate(&mut m, &r, 0x4020_3010, false, false),
            Ok(0x60_3010)
        );
        assert_eq!(mmu.peek_translate(&m, &r, 0x4000_5000), Some(0x7000));
        assert!(walk(&mut Peek(&m), &r, 0x8000_0000, Access::READ, false, None).is_err());
    }
}
