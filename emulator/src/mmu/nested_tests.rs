//! Unit tests of the 2-D walk (AMD APM Vol. 2 15.25): reference counts, the NPF information
//! of each case, accessed/dirty bits in both dimensions, the explain view.

use super::*;
use crate::bus::Memory;
use crate::mmu::paging::{Peek, Phys, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_U, PTE_W};

/// gPA -> hPA of the test's nested tables: gPA + 1 MiB.
const OFF: u32 = 0x10_0000;
const NPD: u32 = 0x1_0000;
const NPT: u32 = 0x1_1000;
const GCR3: u32 = 0x1000;
const GPT: u32 = 0x2000;
const LIN: u32 = 0x0040_5123;
const RWU: u32 = PTE_P | PTE_W | PTE_U;

/// Two-level nested tables mapping gPA 0-3 MiB to hPA 1-4 MiB with 4 KiB pages, and a
/// two-level guest (gCR3 0x1000) mapping gVA 0x405000 to gPA 0x5000.
fn setup() -> Memory {
    let mut m = Memory::new(4 << 20);
    m.write(NPD, 4, NPT | RWU);
    for k in 0..3 {
        m.write(NPD + 4 * k, 4, (NPT + 0x1000 * k) | RWU);
    }
    for k in 0..0x300u32 {
        m.write(NPT + 4 * k, 4, ((k << 12) + OFF) | RWU);
    }
    gw(&mut m, GCR3 + 4, GPT | RWU);
    gw(&mut m, GPT + 4 * 5, 0x5000 | RWU);
    m
}

/// Writes guest-physical memory.
fn gw(m: &mut Memory, gpa: u32, v: u32) {
    m.write(gpa + OFF, 4, v);
}
fn gr(m: &Memory, gpa: u32) -> u32 {
    m.read(gpa + OFF, 4)
}
/// The nested PTE of a gPA.
fn npte(gpa: u32) -> u32 {
    NPT + 4 * (gpa >> 12)
}

fn two_level() -> Nested {
    Nested {
        n_cr3: NPD,
        pae: false,
        pse: false,
    }
}

fn guest(cr4: u32) -> PagingRegs {
    PagingRegs {
        cr0: 1 | CR0_PG,
        cr3: GCR3,
        cr4,
        pdpte: [0; 4],
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

fn run(m: &mut Memory, n: &Nested, g: &PagingRegs, lin: u32, a: Access) -> Result<u32, Fault> {
    let mut st = NestedStats::default();
    translate2d(&mut Phys(m), n, g, lin, a, true, &mut st).map(|t| t.phys)
}

#[test]
fn two_level_over_two_level_makes_eight_references() {
    let mut m = setup();
    let mut st = NestedStats::default();
    let t = translate2d(
        &mut Phys(&mut m),
        &two_level(),
        &guest(0),
        LIN,
        acc(false, true),
        true,
        &mut st,
    )
    .unwrap();
    assert_eq!(t.phys, 0x5123 + OFF);
    // PDE: 2 nested + 1, PTE: 2 nested + 1, final gPA: 2 nested (n*m + n + m = 8).
    assert_eq!(st, NestedStats { walks: 1, refs: 8 });
    // The accessed bits of the guest entries are written to their host-physical places.
    assert_ne!(gr(&m, GCR3 + 4) & PTE_A, 0);
    assert_ne!(gr(&m, GPT + 20) & PTE_A, 0);
    assert_eq!(gr(&m, GPT + 20) & PTE_D, 0, "a read sets no dirty bit");
}

#[test]
fn guest_without_paging_needs_only_the_nested_walk() {
    let mut m = setup();
    let mut st = NestedStats::default();
    let off = PagingRegs::default();
    let t = translate2d(
        &mut Phys(&mut m),
        &two_level(),
        &off,
        0x7654,
        acc(true, false),
        true,
        &mut st,
    )
    .unwrap();
    assert_eq!(t.phys, 0x7654 + OFF);
    assert_eq!(st.refs, 2);
    assert_eq!(m.read(npte(0x7000), 4) & 0x60, 0x60, "nested A and D");
}

#[test]
fn accessed_and_dirty_bits_in_both_dimensions() {
    let mut m = setup();
    run(&mut m, &two_level(), &guest(0), LIN, acc(true, false)).unwrap();
    assert_eq!(gr(&m, GPT + 20) & 0x60, 0x60, "guest PTE A and D");
    assert_eq!(
        m.read(npte(0x5000), 4) & 0x60,
        0x60,
        "nested PTE of the page: A, D"
    );
    assert_ne!(m.read(NPD, 4) & PTE_A, 0, "nested PDE: A");
    // Guest table references are checked (and marked) as writes.
    assert_eq!(m.read(npte(GPT), 4) & 0x60, 0x60);
    assert_eq!(m.read(npte(GCR3), 4) & 0x60, 0x60);
}

#[test]
fn npf_information_for_each_case() {
    let n = two_level();
    let g = guest(0);
    let npf = |info1: u64, gpa: u32| Err(Fault::Npf(Npf { info1, gpa }));
    // Final gPA not present: P=0, RW of the access, US=1, bit 32; EXITINFO2 the exact gPA.
    let mut m = setup();
    m.write(npte(0x5000), 4, 0);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, false)),
        npf(0x1_0000_0004, 0x5123)
    );
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(true, true)),
        npf(0x1_0000_0006, 0x5123)
    );
    // Final write to a read-only nested page: P=1 RW=1 US=1.
    m.write(npte(0x5000), 4, (0x5000 + OFF) | PTE_P | PTE_U);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(true, false)),
        npf(0x1_0000_0007, 0x5123)
    );
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, false)),
        Ok(0x5123 + OFF)
    );
    // A supervisor nested page: nested accesses are user accesses.
    m.write(npte(0x5000), 4, (0x5000 + OFF) | PTE_P | PTE_W);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, false)),
        npf(0x1_0000_0005, 0x5123)
    );
    // The guest's page table not present in the nested tables: a write-user reference
    // (RW=1 US=1), bit 33, EXITINFO2 = the gPA of the guest entry.
    let mut m = setup();
    m.write(npte(GPT), 4, 0);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, false)),
        npf(0x2_0000_0006, GPT + 20)
    );
    // ... read-only there: a protection fault (the walk would write A/D).
    m.write(npte(GPT), 4, (GPT + OFF) | PTE_P | PTE_U);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, false)),
        npf(0x2_0000_0007, GPT + 20)
    );
    // The guest's page directory (gCR3 itself) not present.
    let mut m = setup();
    m.write(npte(GCR3), 4, 0);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(false, true)),
        npf(0x2_0000_0006, GCR3 + 4)
    );
    // A guest #PF comes first: the final gPA is never reached.
    let mut m = setup();
    gw(&mut m, GPT + 20, 0);
    m.write(npte(0x5000), 4, 0);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(true, true)),
        Err(Fault::Page(6))
    );
    // Guest rights are the guest's: a user write to a guest read-only page is a guest #PF.
    gw(&mut m, GPT + 20, 0x5000 | PTE_P | PTE_U);
    assert_eq!(
        run(&mut m, &n, &g, LIN, acc(true, true)),
        Err(Fault::Page(7))
    );
}

/// PAE nested tables (a PAE host): nested PDPT at 0x20000, one PD, PT mapping gPA 0-2 MiB
/// to hPA + 1 MiB, and a 2 MiB nested page for gPA 2-4 MiB -> hPA 0 (to test large pages).
fn pae_nested(m: &mut Memory) -> Nested {
    const NPDPT: u32 = 0x2_0000;
    const NPD2: u32 = 0x2_1000;
    const NPT2: u32 = 0x2_2000;
    let w64 = |m: &mut Memory, a: u32, v: u64| {
        m.write(a, 4, v as u32);
        m.write(a + 4, 4, (v >> 32) as u32);
    };
    for k in 0..4 {
        w64(m, NPDPT + 8 * k, 0);
    }
    w64(m, NPDPT, (NPD2 | PTE_P) as u64);
    w64(m, NPD2, (NPT2 | RWU) as u64);
    w64(m, NPD2 + 8, (RWU | PTE_PS) as u64);
    for k in 0..512u32 {
        w64(m, NPT2 + 8 * k, (((k << 12) + OFF) | RWU) as u64);
    }
    Nested {
        n_cr3: NPDPT,
        pae: true,
        pse: false,
    }
}

#[test]
fn pae_nested_tables_read_their_pdpte_from_memory() {
    let mut m = setup();
    let n = pae_nested(&mut m);
    let mut st = NestedStats::default();
    let t = translate2d(
        &mut Phys(&mut m),
        &n,
        &guest(0),
        LIN,
        acc(false, false),
        true,
        &mut st,
    );
    assert_eq!(t.unwrap().phys, 0x5123 + OFF);
    // 2 guest levels x (3 nested + 1) + 3 nested.
    assert_eq!(st.refs, 11);
    // The 2 MiB nested page: gPA 0x20_1234 -> hPA 0x1234 (guest paging off).
    let off = PagingRegs::default();
    let t = translate2d(
        &mut Phys(&mut m),
        &n,
        &off,
        0x20_1234,
        acc(true, false),
        true,
        &mut st,
    );
    assert_eq!(t.unwrap().phys, 0x1234);
    assert_eq!(
        m.read(0x2_1008, 4) & 0x60,
        0x60,
        "2 MiB nested PDE: A and D"
    );
    // A reserved bit in a nested entry: P | RSVD | US, bit 32 for the final address.
    m.write(0x2_1000 + 4, 4, 1 << 31); // PDE 0 bit 63
    let r = translate2d(
        &mut Phys(&mut m),
        &n,
        &off,
        0x5000,
        acc(false, false),
        true,
        &mut st,
    );
    assert_eq!(
        r,
        Err(Fault::Npf(Npf {
            info1: 0x1_0000_000D,
            gpa: 0x5000
        }))
    );
    // A nested PDPTE with reserved bits, read from memory: the same RSVD fault.
    m.write(0x2_1000 + 4, 4, 0);
    m.write(0x2_0000, 4, 0x2_1000 | PTE_P | PTE_W);
    let r = translate2d(
        &mut Phys(&mut m),
        &n,
        &off,
        0x5000,
        acc(false, false),
        true,
        &mut st,
    );
    assert_eq!(
        r,
        Err(Fault::Npf(Npf {
            info1: 0x1_0000_000D,
            gpa: 0x5000
        }))
    );
}

#[test]
fn a_pae_guest_reads_its_pdptes_through_the_nested_tables() {
    let mut m = setup();
    // Guest PAE tables in gPA: PDPT at 0x3020 (PDPTE 0 -> PD 0x4000), PD[2] -> PT 0x6000,
    // PT[5] -> 0x5000: gVA 0x405123 -> gPA 0x5123.
    let w64 = |m: &mut Memory, gpa: u32, v: u64| {
        gw(m, gpa, v as u32);
        gw(m, gpa + 4, (v >> 32) as u32);
    };
    w64(&mut m, 0x3020, 0x4000 | PTE_P as u64);
    w64(&mut m, 0x4000 + 16, (0x6000 | RWU) as u64);
    w64(&mut m, 0x6000 + 40, (0x5000 | RWU) as u64);
    let g = PagingRegs {
        cr3: 0x3020,
        ..guest(CR4_PAE)
    };
    let mut st = NestedStats::default();
    let t = translate2d(
        &mut Phys(&mut m),
        &two_level(),
        &g,
        LIN,
        acc(false, false),
        true,
        &mut st,
    );
    assert_eq!(t.unwrap().phys, 0x5123 + OFF);
    // Three guest references (PDPTE, PDE, PTE) x (2 nested + 1) + 2 nested = 11.
    assert_eq!(st.refs, 11);
    // Its PDPT not present in the nested tables: an NPF on the PDPTE's gPA.
    m.write(npte(0x3000), 4, 0);
    let r = translate2d(
        &mut Phys(&mut m),
        &two_level(),
        &g,
        LIN,
        acc(false, false),
        true,
        &mut st,
    );
    assert_eq!(
        r,
        Err(Fault::Npf(Npf {
            info1: 0x2_0000_0006,
            gpa: 0x3020
        }))
    );
}

#[test]
fn explain_shows_each_level_with_its_nested_walk_and_writes_nothing() {
    let m = setup();
    let before = m.ram.clone();
    let r = explain2d(&mut Peek(&m), &two_level(), &guest(0), LIN, acc(true, true));
    assert_eq!(m.ram, before, "no accessed or dirty bit written");
    assert_eq!(r.result, Ok(0x5123 + OFF));
    assert_eq!(r.steps.len(), 2);
    let pde = r.steps[0].nested.as_ref().unwrap();
    assert_eq!((pde.gpa, pde.result), (GCR3 + 4, Ok(GCR3 + 4 + OFF)));
    assert_eq!(pde.steps.len(), 2, "nested PDE and PTE");
    let pte = r.steps[1].nested.as_ref().unwrap();
    assert_eq!(pte.result, Ok(GPT + 20 + OFF));
    let fin = r.nested.as_ref().unwrap();
    assert_eq!((fin.gpa, fin.steps.len()), (0x5123, 2));
    // An NPF on a guest table: shown as a step without an entry and the NPF.
    let mut m = setup();
    m.write(npte(GPT), 4, 0);
    let r = explain2d(
        &mut Peek(&m),
        &two_level(),
        &guest(0),
        LIN,
        acc(false, false),
    );
    assert_eq!(r.npf, Some((0x2_0000_0006, GPT + 20)));
    assert_eq!(r.steps.len(), 2);
    assert_eq!(
        r.steps[1].nested.as_ref().unwrap().result,
        Err(0x2_0000_0006)
    );
}
