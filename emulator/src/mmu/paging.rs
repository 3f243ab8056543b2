//! Two-level i386 paging (4 KiB pages and 4 MiB PSE pages), and the page walk that explains
//! an address for front ends. Owns the walk and the #PF error code; it must not cache
//! translations (that is `mmu::tlb`) nor know about segments.
//! SDM Vol. 3A 4.3 (32-bit paging), 4.6 (access rights), 4.7 (page-fault error code),
//! 4.8 (accessed and dirty flags).

use crate::bus::Memory;
use crate::cpu::state::{cr0, cr4};
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

/// One step of a walk, for the "explain this address" view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkStep {
    pub level: String,
    pub entry_addr: u32,
    pub entry: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkReport {
    pub linear: u32,
    pub paging: bool,
    pub steps: Vec<WalkStep>,
    /// Ok(physical address) or Err(#PF error code).
    pub result: Result<u32, u32>,
}

/// The result of a side-effect-free walk: the translation and the accessed/dirty updates
/// the CPU would write back (at most one per level).
struct Walked {
    t: Translation,
    writes: [Option<(u32, u32)>; 2],
}

/// Walks the page tables without writing anything; records every entry read in `steps`.
fn walk_ro(
    mem: &Memory,
    cr0v: u32,
    cr3: u32,
    cr4v: u32,
    lin: u32,
    acc: Access,
    mut steps: Option<&mut Vec<WalkStep>>,
) -> Result<Walked, u32> {
    let err_base = (acc.write as u32) << 1 | (acc.user as u32) << 2;
    let pde_addr = (cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC);
    let pde = mem.read(pde_addr, 4);
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep {
            level: "PDE".into(),
            entry_addr: pde_addr,
            entry: pde,
        });
    }
    if pde & PTE_P == 0 {
        return Err(err_base);
    }
    let wp = cr0v & cr0::WP != 0;
    let dirty = if acc.write { PTE_D } else { 0 };
    if pde & PTE_PS != 0 && cr4v & cr4::PSE != 0 {
        let (w, u) = (pde & PTE_W != 0, pde & PTE_U != 0);
        check_rights(acc, w, u, wp).map_err(|_| err_base | 1)?;
        let new = pde | PTE_A | dirty;
        let t = Translation {
            phys: (pde & 0xFFC0_0000) | (lin & 0x003F_FFFF),
            global: pde & PTE_G != 0 && cr4v & cr4::PGE != 0,
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
    let pte = mem.read(pte_addr, 4);
    if let Some(s) = steps.as_mut() {
        s.push(WalkStep {
            level: "PTE".into(),
            entry_addr: pte_addr,
            entry: pte,
        });
    }
    if pte & PTE_P == 0 {
        return Err(err_base);
    }
    let w = pde & PTE_W != 0 && pte & PTE_W != 0;
    let u = pde & PTE_U != 0 && pte & PTE_U != 0;
    check_rights(acc, w, u, wp).map_err(|_| err_base | 1)?;
    let new_pte = pte | PTE_A | dirty;
    let t = Translation {
        phys: (pte & 0xFFFF_F000) | (lin & 0xFFF),
        global: pte & PTE_G != 0 && cr4v & cr4::PGE != 0,
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

/// Walks the page tables. With `commit`, sets accessed/dirty bits as the CPU would
/// (SDM Vol. 3A 4.8); without it, the walk has no side effects.
#[allow(clippy::too_many_arguments)]
pub fn walk(
    mem: &mut Memory,
    cr0v: u32,
    cr3: u32,
    cr4v: u32,
    lin: u32,
    acc: Access,
    commit: bool,
    steps: Option<&mut Vec<WalkStep>>,
) -> Result<Translation, u32> {
    let w = walk_ro(mem, cr0v, cr3, cr4v, lin, acc, steps)?;
    if commit {
        for (addr, v) in w.writes.into_iter().flatten() {
            mem.write(addr, 4, v);
        }
    }
    Ok(w.t)
}

/// SDM Vol. 3A 4.6: user accesses need U on every level, user writes need W on every
/// level; supervisor writes need W only when CR0.WP is set.
fn check_rights(acc: Access, w: bool, u: bool, wp: bool) -> Result<(), ()> {
    if acc.user && !u {
        return Err(());
    }
    if acc.write && !w && (acc.user || wp) {
        return Err(());
    }
    Ok(())
}

/// Explains how `lin` translates, without touching any accessed/dirty bit.
pub fn explain(mem: &Memory, cr0v: u32, cr3: u32, cr4v: u32, lin: u32, acc: Access) -> WalkReport {
    if cr0v & cr0::PG == 0 {
        return WalkReport {
            linear: lin,
            paging: false,
            steps: vec![],
            result: Ok(lin),
        };
    }
    let mut steps = Vec::new();
    let result = walk_ro(mem, cr0v, cr3, cr4v, lin, acc, Some(&mut steps)).map(|w| w.t.phys);
    WalkReport {
        linear: lin,
        paging: true,
        steps,
        result,
    }
}

/// Describes the bits of a page-table entry, for front ends ("P W U A D PS G").
pub fn describe_entry(e: u32) -> String {
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
    let bits: Vec<&str> = names
        .iter()
        .filter(|(b, _)| e & b != 0)
        .map(|(_, n)| *n)
        .collect();
    format!("frame {:#010x} [{}]", e & 0xFFFF_F000, bits.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Memory {
        let mut m = Memory::new(1 << 20);
        // Page directory at 0x1000, page table at 0x2000 mapping 0x400000 -> 0x5000 (user, ro).
        m.write(0x1000 + 4, 4, 0x2000 | PTE_P | PTE_W | PTE_U);
        m.write(0x2000, 4, 0x5000 | PTE_P | PTE_U);
        m
    }

    #[test]
    fn walk_sets_accessed_and_checks_rights() {
        let mut m = setup();
        let cr0v = cr0::PE | cr0::PG;
        let t = walk(
            &mut m,
            cr0v,
            0x1000,
            0,
            0x40_0123,
            Access {
                write: false,
                user: true,
                fetch: false,
            },
            true,
            None,
        )
        .unwrap();
        assert_eq!(t.phys, 0x5123);
        assert_ne!(m.read(0x2000, 4) & PTE_A, 0);
        // User write to a read-only page: protection fault, error code P|W|U = 7.
        let e = walk(
            &mut m,
            cr0v,
            0x1000,
            0,
            0x40_0000,
            Access {
                write: true,
                user: true,
                fetch: false,
            },
            true,
            None,
        )
        .unwrap_err();
        assert_eq!(e, 7);
        // Supervisor write is allowed without WP, refused with WP (error code P|W = 3).
        assert!(walk(
            &mut m,
            cr0v,
            0x1000,
            0,
            0x40_0000,
            Access::WRITE,
            true,
            None
        )
        .is_ok());
        let e = walk(
            &mut m,
            cr0v | cr0::WP,
            0x1000,
            0,
            0x40_0000,
            Access::WRITE,
            true,
            None,
        )
        .unwrap_err();
        assert_eq!(e, 3);
        // Not present: error code 0 for a supervisor read.
        assert_eq!(
            walk(&mut m, cr0v, 0x1000, 0, 0x80_0000, Access::READ, true, None).unwrap_err(),
            0
        );
    }

    #[test]
    fn explain_has_no_side_effects() {
        let m = setup();
        let r = explain(&m, cr0::PE | cr0::PG, 0x1000, 0, 0x40_0010, Access::READ);
        assert_eq!(r.result, Ok(0x5010));
        assert_eq!(r.steps.len(), 2);
        assert_eq!(m.read(0x2000, 4) & PTE_A, 0);
    }

    #[test]
    fn large_pages() {
        let mut m = Memory::new(1 << 20);
        m.write(0x1000 + 8, 4, 0x0040_0000 | PTE_P | PTE_W | PTE_PS);
        let t = walk(
            &mut m,
            cr0::PE | cr0::PG,
            0x1000,
            cr4::PSE,
            0x0080_1234,
            Access::WRITE,
            true,
            None,
        )
        .unwrap();
        assert_eq!(t.phys, 0x0040_1234);
        assert!(t.large);
        assert_ne!(m.read(0x1008, 4) & PTE_D, 0);
    }
}
