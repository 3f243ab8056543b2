//! Paging: the page walker and the walk that explains an address for front ends. Owns the
//! walk and the #PF error code; it must not cache translations (that is `mmu::tlb`) nor
//! know about segments or the CPU. Two-level i386 paging (4 KiB pages and 4 MiB PSE pages)
//! is here; PAE paging (three levels, 64-bit entries) is `mmu::pae`, and [`walk`] picks
//! one by CR4.PAE. SDM Vol. 3A 4.3 (32-bit paging), 4.4 (PAE paging), 4.6 (access
//! rights), 4.7 (page-fault error code), 4.8 (accessed and dirty flags).
//!
//! The walker takes the paging registers as one value ([`PagingRegs`]) and reads and
//! updates page-table entries only through a [`TableReader`]: the host's reader goes to
//! physical memory ([`Phys`], or [`Peek`] without side effects); a nested walk can hand it
//! a reader that translates every table address through a second set of tables (and
//! reports that translation's faults as its own `Fault`), with the same walker.

use crate::bus::PhysMem;
use serde::{Deserialize, Serialize};

pub const PTE_P: u32 = 1;
pub const PTE_W: u32 = 2;
pub const PTE_U: u32 = 4;
pub const PTE_PWT: u32 = 8;
pub const PTE_PCD: u32 = 0x10;
pub const PTE_A: u32 = 0x20;
pub const PTE_D: u32 = 0x40;
pub const PTE_PS: u32 = 0x80;
pub const PTE_G: u32 = 0x100;

/// #PF error-code bits (SDM Vol. 3A 4.7): present (protection), write, user, reserved bit.
pub const PF_P: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_U: u32 = 4;
pub const PF_RSVD: u32 = 8;

/// The control-register bits the walker reads (`cpu::state::cr0`/`cr4` name them too).
pub const CR0_WP: u32 = 1 << 16;
pub const CR0_PG: u32 = 1 << 31;
pub const CR4_PSE: u32 = 0x10;
pub const CR4_PAE: u32 = 0x20;
pub const CR4_PGE: u32 = 0x80;

/// The registers that select and describe a paging structure, as the walker needs them.
/// `pdpte` are the four PDPTE registers of PAE paging (SDM Vol. 3A 4.4.1), loaded by the
/// CPU from CR3 (`mmu::pae::load_pdptes`); unused by two-level paging. With `pdpte_mem` the
/// walk reads the PDPTE from the table instead (a nested walk's PAE tables, and a PAE
/// guest's tables under nested paging: `mmu::nested`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingRegs {
    pub cr0: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub pdpte: [u64; 4],
    pub pdpte_mem: bool,
}

impl PagingRegs {
    #[inline(always)]
    pub fn enabled(&self) -> bool {
        self.cr0 & CR0_PG != 0
    }
    /// PAE paging (CR4.PAE; meaningful while paging is enabled).
    #[inline(always)]
    pub fn pae(&self) -> bool {
        self.cr4 & CR4_PAE != 0
    }
}

/// Where page-table entries come from. `addr` is a table address as the paging structure
/// names it (physical for the host; guest-physical in a nested walk, where the reader
/// translates it and may fail with its own `Fault`).
pub trait TableReader {
    type Fault;
    fn read_entry(&mut self, addr: u32) -> Result<u32, Self::Fault>;
    /// Reads a 64-bit (PAE) entry; `addr` is 8-byte aligned, so it never crosses a page.
    fn read_entry64(&mut self, addr: u32) -> Result<u64, Self::Fault>;
    /// Writes back an entry (the low dword of a PAE entry, where the accessed and dirty
    /// bits are) with accessed/dirty bits set.
    fn write_entry(&mut self, addr: u32, v: u32) -> Result<(), Self::Fault>;
}

/// Two dwords of `mem` as one little-endian 64-bit entry.
#[inline]
pub(crate) fn qword(lo: u32, hi: u32) -> u64 {
    (hi as u64) << 32 | lo as u64
}

/// The host's table reader: physical memory, with side effects (A/D bits are written).
pub struct Phys<'a, M: PhysMem>(pub &'a mut M);

impl<M: PhysMem> TableReader for Phys<'_, M> {
    type Fault = std::convert::Infallible;
    #[inline]
    fn read_entry(&mut self, addr: u32) -> Result<u32, Self::Fault> {
        Ok(self.0.read(addr, 4))
    }
    #[inline]
    fn read_entry64(&mut self, addr: u32) -> Result<u64, Self::Fault> {
        Ok(qword(
            self.0.read(addr, 4),
            self.0.read(addr.wrapping_add(4), 4),
        ))
    }
    #[inline]
    fn write_entry(&mut self, addr: u32, v: u32) -> Result<(), Self::Fault> {
        self.0.write(addr, 4, v);
        Ok(())
    }
}

/// A side-effect-free table reader over physical memory: entries are peeked and writes
/// are dropped (walks through it must not commit).
pub struct Peek<'a, M: PhysMem>(pub &'a M);

impl<M: PhysMem> TableReader for Peek<'_, M> {
    type Fault = std::convert::Infallible;
    #[inline]
    fn read_entry(&mut self, addr: u32) -> Result<u32, Self::Fault> {
        Ok(self.0.peek(addr, 4))
    }
    #[inline]
    fn read_entry64(&mut self, addr: u32) -> Result<u64, Self::Fault> {
        Ok(qword(
            self.0.peek(addr, 4),
            self.0.peek(addr.wrapping_add(4), 4),
        ))
    }
    fn write_entry(&mut self, _addr: u32, _v: u32) -> Result<(), Self::Fault> {
        Ok(())
    }
}

/// Why a walk failed: a page fault of this paging structure (its #PF error code), or a
/// fault of the table reader (a nested walk's second-level fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError<F> {
    Page(u32),
    Table(F),
}

impl WalkError<std::convert::Infallible> {
    /// The #PF error code of a walk whose reader cannot fail.
    pub fn code(self) -> u32 {
        match self {
            WalkError::Page(c) => c,
            WalkError::Table(n) => match n {},
        }
    }
}

/// The kind of access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub write: bool,
    pub user: bool,
    pub fetch: bool,
}

impl Access {
    pub const READ: Access = Access {
        write: false,
        user: false,
        fetch: false,
    };
    pub const WRITE: Access = Access {
        write: true,
        user: false,
        fetch: false,
    };
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub phys: u32,
    pub global: bool,
    pub large: bool,
    /// Combined permissions of the walk: writable and user-accessible.
    pub writable: bool,
    pub user: bool,
}

/// One step of a walk, for the "explain this address" view. `entry` is 32 bits wide in
/// two-level paging and 64 bits wide in PAE paging (whose PDPTE steps show the PDPTE
/// register and the address it was loaded from).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkStep {
    pub level: String,
    pub entry_addr: u32,
    pub entry: u64,
    /// Under nested paging, `entry_addr` is guest-physical: its own nested walk.
    pub nested: Option<NestedWalk>,
}

impl WalkStep {
    pub fn new(level: &str, entry_addr: u32, entry: u64) -> WalkStep {
        WalkStep {
            level: level.into(),
            entry_addr,
            entry,
            nested: None,
        }
    }
}

/// The nested walk of one guest-physical address (AMD APM Vol. 2 15.25): the nested
/// entries read and the host-physical address, or the #VMEXIT NPF's EXITINFO1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedWalk {
    pub gpa: u32,
    pub steps: Vec<WalkStep>,
    pub result: Result<u32, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkReport {
    pub linear: u32,
    pub paging: bool,
    /// PAE paging: three levels (PDPTE register, PDE, PTE), 64-bit entries.
    pub pae: bool,
    /// Nested paging: the guest's walk (each step with its nested walk) and the nested walk
    /// of the final guest-physical address; `result` is then the host-physical address.
    pub nested: Option<NestedWalk>,
    /// A #VMEXIT NPF instead of a result: (EXITINFO1, EXITINFO2 = guest-physical address).
    pub npf: Option<(u64, u32)>,
    pub steps: Vec<WalkStep>,
    /// Ok(physical address) or Err(#PF error code).
    pub result: Result<u32, u32>,
}

/// The result of a walk before its commit: the translation and the accessed/dirty updates
/// the CPU would write back (at most one per level).
pub(crate) struct Walked {
    pub t: Translation,
    pub writes: [Option<(u32, u32)>; 2],
}

/// Walks the page tables reading entries only; records every entry read in `steps`.
#[inline]
fn walk_ro<R: TableReader>(
    tables: &mut R,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
    steps: Option<&mut Vec<WalkStep>>,
) -> Result<Walked, WalkError<R::Fault>> {
    if regs.pae() {
        super::pae::walk_ro(tables, regs, lin, acc, steps)
    } else {
        walk2_ro(tables, regs, lin, acc, steps)
    }
}

/// The two-level walk (SDM Vol. 3A 4.3).
fn walk2_ro<R: TableReader>(
    tables: &mut R,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
    mut steps: Option<&mut Vec<WalkStep>>,
) -> Result<Walked, WalkError<R::Fault>> {
    let err_base = (acc.write as u32) << 1 | (acc.user as u32) << 2;
    let pde_addr = (regs.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC);
    let pde = tables.read_entry(pde_addr).map_err(WalkError::Table)?;
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep::new("PDE", pde_addr, pde as u64));
    }
    if pde & PTE_P == 0 {
        return Err(WalkError::Page(err_base));
    }
    let wp = regs.cr0 & CR0_WP != 0;
    let dirty = if acc.write { PTE_D } else { 0 };
    let pge = regs.cr4 & CR4_PGE != 0;
    if pde & PTE_PS != 0 && regs.cr4 & CR4_PSE != 0 {
        let (w, u) = (pde & PTE_W != 0, pde & PTE_U != 0);
        check_rights(acc, w, u, wp).map_err(|_| WalkError::Page(err_base | 1))?;
        let new = pde | PTE_A | dirty;
        let t = Translation {
            phys: (pde & 0xFFC0_0000) | (lin & 0x003F_FFFF),
            global: pde & PTE_G != 0 && pge,
            large: true,
            writable: w,
            user: u,
        };
        return Ok(Walked {
            t,
            writes: [(new != pde).then_some((pde_addr, new)), None],
        });
    }
    let pte_addr = (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC);
    let pte = tables.read_entry(pte_addr).map_err(WalkError::Table)?;
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep::new("PTE", pte_addr, pte as u64));
    }
    if pte & PTE_P == 0 {
        return Err(WalkError::Page(err_base));
    }
    let w = pde & PTE_W != 0 && pte & PTE_W != 0;
    let u = pde & PTE_U != 0 && pte & PTE_U != 0;
    check_rights(acc, w, u, wp).map_err(|_| WalkError::Page(err_base | 1))?;
    let new_pte = pte | PTE_A | dirty;
    let t = Translation {
        phys: (pte & 0xFFFF_F000) | (lin & 0xFFF),
        global: pte & PTE_G != 0 && pge,
        large: false,
        writable: w,
        user: u,
    };
    Ok(Walked {
        t,
        writes: [
            (pde & PTE_A == 0).then_some((pde_addr, pde | PTE_A)),
            (new_pte != pte).then_some((pte_addr, new_pte)),
        ],
    })
}

/// Walks the page tables of `regs` (paging enabled) through `tables`. With `commit`, sets
/// accessed/dirty bits as the CPU would (SDM Vol. 3A 4.8); without it, writes nothing.
pub fn walk<R: TableReader>(
    tables: &mut R,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
    commit: bool,
    steps: Option<&mut Vec<WalkStep>>,
) -> Result<Translation, WalkError<R::Fault>> {
    let w = walk_ro(tables, regs, lin, acc, steps)?;
    if commit {
        for (addr, v) in w.writes.into_iter().flatten() {
            tables.write_entry(addr, v).map_err(WalkError::Table)?;
        }
    }
    Ok(w.t)
}

/// SDM Vol. 3A 4.6: user accesses need U on every level, user writes need W on every
/// level; supervisor writes need W only when CR0.WP is set.
pub(crate) fn check_rights(acc: Access, w: bool, u: bool, wp: bool) -> Result<(), ()> {
    if acc.user && !u {
        return Err(());
    }
    if acc.write && !w && (acc.user || wp) {
        return Err(());
    }
    Ok(())
}

/// Explains how `lin` translates under `regs`, without touching any accessed/dirty bit.
pub fn explain_regs<M: PhysMem>(mem: &M, regs: &PagingRegs, lin: u32, acc: Access) -> WalkReport {
    if !regs.enabled() {
        return WalkReport {
            linear: lin,
            paging: false,
            pae: false,
            nested: None,
            npf: None,
            steps: vec![],
            result: Ok(lin),
        };
    }
    let mut steps = Vec::new();
    let result = walk_ro(&mut Peek(mem), regs, lin, acc, Some(&mut steps))
        .map(|w| w.t.phys)
        .map_err(WalkError::code);
    WalkReport {
        linear: lin,
        paging: true,
        pae: regs.pae(),
        nested: None,
        npf: None,
        steps,
        result,
    }
}

/// Describes the bits of a page-table entry, for front ends ("P W U A D PS G"); a PAE
/// entry (64 bits) shows its whole frame address and XD (bit 63).
pub fn describe_entry(e: u64) -> String {
    let names = [
        (PTE_P, "P"),
        (PTE_W, "W"),
        (PTE_U, "U"),
        (PTE_PWT, "PWT"),
        (PTE_PCD, "PCD"),
        (PTE_A, "A"),
        (PTE_D, "D"),
        (PTE_PS, "PS"),
        (PTE_G, "G"),
    ];
    let mut bits: Vec<&str> = names
        .iter()
        .filter(|(b, _)| e & *b as u64 != 0)
        .map(|(_, n)| *n)
        .collect();
    if e >> 63 != 0 {
        bits.push("XD");
    }
    format!(
        "frame {:#010x} [{}]",
        e & 0x7FFF_FFFF_FFFF_F000,
        bits.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Memory;

    fn setup() -> Memory {
        let mut m = Memory::new(1 << 20);
        // Page directory at 0x1000, page table at 0x2000 mapping 0x400000 -> 0x5000 (user, ro).
        m.write(0x1000 + 4, 4, 0x2000 | PTE_P | PTE_W | PTE_U);
        m.write(0x2000, 4, 0x5000 | PTE_P | PTE_U);
        m
    }

    fn regs(cr0: u32, cr4: u32) -> PagingRegs {
        PagingRegs {
            cr0: 1 | CR0_PG | cr0,
            cr3: 0x1000,
            cr4,
            pdpte: [0; 4],
            pdpte_mem: false,
        }
    }

    fn run(m: &mut Memory, r: PagingRegs, lin: u32, acc: Access) -> Result<Translation, u32> {
        walk(&mut Phys(m), &r, lin, acc, true, None).map_err(WalkError::code)
    }

    #[test]
    fn walk_sets_accessed_and_checks_rights() {
        let mut m = setup();
        let user_read = Access {
            write: false,
            user: true,
            fetch: false,
        };
        let t = run(&mut m, regs(0, 0), 0x40_0123, user_read).unwrap();
        assert_eq!(t.phys, 0x5123);
        assert_ne!(m.read(0x2000, 4) & PTE_A, 0);
        // User write to a read-only page: protection fault, error code P|W|U = 7.
        let user_write = Access {
            write: true,
            user: true,
            fetch: false,
        };
        assert_eq!(run(&mut m, regs(0, 0), 0x40_0000, user_write), Err(7));
        // Supervisor write is allowed without WP, refused with WP (error code P|W = 3).
        assert!(run(&mut m, regs(0, 0), 0x40_0000, Access::WRITE).is_ok());
        assert_eq!(
            run(&mut m, regs(CR0_WP, 0), 0x40_0000, Access::WRITE),
            Err(3)
        );
        // Not present: error code 0 for a supervisor read.
        assert_eq!(run(&mut m, regs(0, 0), 0x80_0000, Access::READ), Err(0));
    }

    #[test]
    fn explain_has_no_side_effects() {
        let m = setup();
        let r = explain_regs(&m, &regs(0, 0), 0x40_0010, Access::READ);
        assert_eq!(r.result, Ok(0x5010));
        assert_eq!(r.steps.len(), 2);
        assert_eq!(m.read(0x2000, 4) & PTE_A, 0);
    }

    #[test]
    fn large_pages() {
        let mut m = Memory::new(1 << 20);
        m.write(0x1000 + 8, 4, 0x0040_0000 | PTE_P | PTE_W | PTE_PS);
        let t = run(&mut m, regs(0, CR4_PSE), 0x0080_1234, Access::WRITE).unwrap();
        assert_eq!(t.phys, 0x0040_1234);
        assert!(t.large);
        assert_ne!(m.read(0x1008, 4) & PTE_D, 0);
    }

    /// A reader that translates every table address through a fixed offset and fails on
    /// one of them: the shape of a nested walk, with the same walker.
    struct Shifted<'a> {
        mem: &'a mut Memory,
        offset: u32,
        unmapped: u32,
        seen: Vec<u32>,
    }

    impl TableReader for Shifted<'_> {
        type Fault = u32;
        fn read_entry(&mut self, addr: u32) -> Result<u32, u32> {
            self.seen.push(addr);
            if addr & !0xFFF == self.unmapped {
                return Err(addr);
            }
            Ok(self.mem.read(addr + self.offset, 4))
        }
        fn read_entry64(&mut self, addr: u32) -> Result<u64, u32> {
            let lo = self.read_entry(addr)?;
            Ok(qword(lo, self.read_entry(addr + 4)?))
        }
        fn write_entry(&mut self, addr: u32, v: u32) -> Result<(), u32> {
            self.mem.write(addr + self.offset, 4, v);
            Ok(())
        }
    }

    #[test]
    fn table_references_go_through_the_reader() {
        // The same tables as `setup`, stored 0x10000 higher in "host" memory.
        let mut m = Memory::new(1 << 20);
        m.write(0x11004, 4, 0x2000 | PTE_P | PTE_W | PTE_U);
        m.write(0x12000, 4, 0x5000 | PTE_P | PTE_U);
        let mut r = Shifted {
            mem: &mut m,
            offset: 0x10000,
            unmapped: 0xFFFF_F000,
            seen: vec![],
        };
        let t = walk(&mut r, &regs(0, 0), 0x40_0123, Access::READ, true, None).unwrap();
        assert_eq!(t.phys, 0x5123);
        assert_eq!(
            r.seen,
            vec![0x1004, 0x2000],
            "PDE then PTE, as table addresses"
        );
        assert_ne!(
            m.read(0x12000, 4) & PTE_A,
            0,
            "A bit written through the reader"
        );
        // A failing table reference is the reader's fault, not a #PF.
        let mut r = Shifted {
            mem: &mut m,
            offset: 0x10000,
            unmapped: 0x2000,
            seen: vec![],
        };
        let e = walk(&mut r, &regs(0, 0), 0x40_0123, Access::READ, true, None);
        assert_eq!(e, Err(WalkError::Table(0x2000)));
    }
}
