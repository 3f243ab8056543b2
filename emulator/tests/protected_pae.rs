//! PAE paging driven by instructions (SDM Vol. 3A 4.4): CPUID offers it, MOV to CR3/CR4/CR0
//! load the PDPTE registers (4.4.1; a present PDPTE with a reserved bit is #GP(0) and
//! changes nothing), the walk uses the registers until the next load, 2 MiB pages, and
//! reserved-bit page faults (error code bit 3, 4.7) with CR2.

mod common;
use common::*;
use traplab::machine::Machine;

const PDPT: u32 = 0x32000;
const PAE_PD: u32 = 0x33000;
const PAE_PT: u32 = 0x34000;

fn w64x(m: &mut Machine, a: u32, v: u64) {
    w32(m, a, v as u32);
    w32(m, a + 4, (v >> 32) as u32);
}

/// PAE tables: PDPTE 0 -> PD, PDE 0 -> PT identity-mapping the first 2 MiB with 4 KiB
/// pages (user, writable), PDE 1 a 2 MiB page 0x0020_0000 -> 0x0060_0000; PDPTEs 1-3 not
/// present.
fn pae_tables(m: &mut Machine) {
    for k in 0..4 {
        w64x(m, PDPT + 8 * k, 0);
    }
    w64x(m, PDPT, PAE_PD as u64 | 1);
    for k in 0..512 {
        w64x(m, PAE_PD + 8 * k, 0);
        w64x(m, PAE_PT + 8 * k, (k as u64) << 12 | 7);
    }
    w64x(m, PAE_PD, PAE_PT as u64 | 7);
    w64x(m, PAE_PD + 8, 0x0060_0000 | 0x87);
}

/// mov eax, imm ; mov cr3, eax ; mov eax, cr4 ; or eax, 0x20 ; mov cr4, eax ;
/// mov eax, cr0 ; or eax, 0x80000000 ; mov cr0, eax
fn enable_pae(a: &mut Asm, cr3: u32) {
    a.mov_r32(0, cr3);
    a.i(&[0x0F, 0x22, 0xD8], "mov cr3,eax");
    a.i(&[0x0F, 0x20, 0xE0], "mov eax,cr4");
    a.i(&[0x83, 0xC8, 0x20], "or eax,0x20");
    a.i(&[0x0F, 0x22, 0xE0], "mov cr4,eax");
    a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
    a.i(&[0x0D, 0x00, 0x00, 0x00, 0x80], "or eax,0x80000000");
    a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
}

#[test]
fn cpuid_offers_pae() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 1);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.hlt();
    a.load(&mut m);
    run(&mut m);
    assert_ne!(m.core.cpu.gpr[2] & (1 << 6), 0, "CPUID.1:EDX.PAE");
    assert_eq!(
        m.core.cpu.gpr[2] & (1 << 17),
        0,
        "no PSE-36: MAXPHYADDR is 32"
    );
}

#[test]
fn enabling_pae_paging_loads_the_pdptes_and_maps_2mib_pages() {
    let mut m = pm();
    pae_tables(&mut m);
    w32(&mut m, 0x0060_0010, 0x1234_5678);
    let mut a = Asm::new32(CODE);
    enable_pae(&mut a, PDPT);
    a.load_eax(0x0020_0010);
    a.store_imm(DATA, 0xAABB_CCDD);
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::Halted);
    assert_eq!(vector(&m), 0xFFFF_FFFF, "no exception");
    let c = &m.core.cpu;
    assert_eq!(c.gpr[0], 0x1234_5678, "read through the 2 MiB page");
    assert_eq!(c.pdpte, [PAE_PD as u64 | 1, 0, 0, 0]);
    assert_eq!(r32(&m, DATA), 0xAABB_CCDD);
    let pte = r32(&m, PAE_PT + 8 * (DATA >> 12));
    assert_eq!(pte & 0x60, 0x60, "PTE accessed and dirty");
    assert_ne!(r32(&m, PAE_PD + 8) & 0x20, 0, "2 MiB PDE accessed");
    // The inspection API and the explain walk see PAE paging.
    let mmu = m.inspect().mmu();
    assert_eq!(mmu.paging, traplab::inspect::PagingMode::Pae);
    assert_eq!(mmu.page_directory, PDPT);
    let w = m
        .inspect()
        .walk(0x0020_0010, traplab::mmu::paging::Access::READ);
    assert!(w.pae);
    assert_eq!(w.result, Ok(0x0060_0010));
    let levels: Vec<_> = w.steps.iter().map(|s| s.level.as_str()).collect();
    assert_eq!(levels, ["PDPTE", "PDE"]);
}

#[test]
fn reserved_pdpte_bits_are_gp0_and_change_nothing() {
    for (bit, what) in [(1u64 << 1, "bit 1"), (1 << 5, "bit 5"), (1 << 32, "bit 32")] {
        // Turning paging on.
        let mut m = pm();
        pae_tables(&mut m);
        w64x(&mut m, PDPT + 8 * 2, 0x5000 | 1 | bit);
        let mut a = Asm::new32(CODE);
        enable_pae(&mut a, PDPT);
        a.hlt();
        a.load(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 0), 0, "#GP(0) for {what}");
        assert_eq!(m.core.cpu.cr0 & 0x8000_0000, 0, "CR0.PG unchanged ({what})");
        assert_eq!(m.core.cpu.pdpte, [0; 4], "no PDPTE loaded ({what})");
    }
    // MOV CR3 under PAE paging: CR3 and the registers keep their old values.
    let mut m = pm();
    pae_tables(&mut m);
    let bad = PDPT + 0x20;
    for k in 0..4 {
        w64x(&mut m, bad + 8 * k, 0);
    }
    w64x(&mut m, bad + 24, 0x5000 | 1 | 1 << 63);
    let mut a = Asm::new32(CODE);
    enable_pae(&mut a, PDPT);
    a.mov_r32(0, bad);
    a.i(&[0x0F, 0x22, 0xD8], "mov cr3,eax");
    a.hlt();
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(m.core.cpu.cr3, PDPT);
    assert_eq!(m.core.cpu.pdpte[0], PAE_PD as u64 | 1);
}

#[test]
fn the_pdptes_are_reloaded_only_by_a_cr3_write() {
    const PD2: u32 = 0x35000;
    const PT2: u32 = 0x36000;
    let mut m = pm();
    pae_tables(&mut m);
    // A second PD/PT pair, the same map except DATA -> 0x50000.
    for k in 0..512 {
        w64x(&mut m, PD2 + 8 * k, 0);
        w64x(&mut m, PT2 + 8 * k, (k as u64) << 12 | 7);
    }
    w64x(&mut m, PD2, PT2 as u64 | 7);
    w64x(&mut m, PT2 + 8 * (DATA >> 12), 0x50000 | 7);
    w32(&mut m, DATA, 0x1111);
    w32(&mut m, 0x50000, 0x2222);
    let mut a = Asm::new32(CODE);
    enable_pae(&mut a, PDPT);
    // PDPTE 0 in memory now names PD2; INVLPG drops the TLB entry, but the walk still uses
    // the PDPTE register: the old map.
    a.store_imm(PDPT, PD2 | 1);
    a.i(
        &[0x0F, 0x01, 0x3D, 0x00, 0x00, 0x04, 0x00],
        "invlpg [0x40000]",
    );
    a.load_eax(DATA);
    a.i(&[0x89, 0xC3], "mov ebx,eax");
    // MOV CR3 (same value) reloads the registers: the new map.
    a.mov_r32(0, PDPT);
    a.i(&[0x0F, 0x22, 0xD8], "mov cr3,eax");
    a.load_eax(DATA);
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::Halted);
    assert_eq!(vector(&m), 0xFFFF_FFFF, "no exception");
    let c = &m.core.cpu;
    assert_eq!(
        c.gpr[3], 0x1111,
        "before the reload: the PDPTE register's map"
    );
    assert_eq!(c.gpr[0], 0x2222, "after MOV CR3: the PDPT in memory");
    assert_eq!(c.pdpte[0], PD2 as u64 | 1);
}

#[test]
fn reserved_bit_page_fault_has_rsvd_in_its_error_code() {
    let mut m = pm();
    pae_tables(&mut m);
    // The PTE of DATA with XD set (EFER.NXE does not exist: reserved).
    w64x(&mut m, PAE_PT + 8 * (DATA >> 12), DATA as u64 | 7 | 1 << 63);
    let mut a = Asm::new32(CODE);
    enable_pae(&mut a, PDPT);
    let at = a.here();
    a.store_eax(DATA + 0x20);
    a.hlt();
    a.load(&mut m);
    expect_vector(&mut m, 14);
    assert_eq!(m.core.cpu.cr2, DATA + 0x20);
    assert_eq!(stack(&m, 0), 0b1011, "P | W | RSVD");
    assert_eq!(stack(&m, 1), at, "a fault");
}
