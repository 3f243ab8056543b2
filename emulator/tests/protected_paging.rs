//! Paging faults (SDM Vol. 3A 4.7: CR2 and the #PF error code for user/supervisor,
//! read/write, not-present/protection), CR0.WP, accessed/dirty bits, and TLB behaviour:
//! a changed PTE is not seen until INVLPG or a CR3 reload (stale entries are allowed).

mod common;
use common::*;

fn pf(user: bool, pte: u32, write: bool, wp: bool) -> (u32, u32, u32) {
    let mut m = pm();
    enable_paging(&mut m);
    if wp {
        m.core.cpu.cr0 |= 1 << 16;
    }
    set_pte(&mut m, DATA, pte);
    let mut a = Asm::new32(CODE);
    a.nop();
    let at = a.here();
    if write {
        a.store_eax(DATA + 0x10);
    } else {
        a.load_eax(DATA + 0x10);
    }
    a.load(&mut m);
    if user {
        to_ring3(&mut m);
    }
    expect_vector(&mut m, 14);
    assert_eq!(stack(&m, 1), at, "#PF is a fault");
    (m.core.cpu.cr2, stack(&m, 0), m.core.cpu.gpr[4])
}

#[test]
fn page_fault_error_codes() {
    let p = DATA; // physical frame
                  // (user, pte, write, wp) -> error code
    let cases = [
        (false, 0, false, false, 0),        // supervisor read, not present
        (false, 0, true, false, 2),         // supervisor write, not present
        (true, 0, false, false, 4),         // user read, not present
        (true, p | 1 | 2, false, false, 5), // user read of a supervisor page
        (true, p | 1 | 4, true, false, 7),  // user write to a read-only page
        (false, p | 1 | 4, true, true, 3),  // supervisor write, read-only, WP = 1
        (true, p | 1 | 2, true, false, 7),  // user write to a supervisor page
    ];
    for (user, pte, write, wp, code) in cases {
        let (cr2, err, esp) = pf(user, pte, write, wp);
        assert_eq!(
            cr2,
            DATA + 0x10,
            "CR2 for case {user} {pte:#x} {write} {wp}"
        );
        assert_eq!(
            err, code,
            "error code for case {user} {pte:#x} {write} {wp}"
        );
        if user {
            assert_eq!(esp, STACK0 - 24, "ring-0 stack");
        }
    }
}

#[test]
fn supervisor_writes_ignore_read_only_without_wp_and_set_dirty() {
    let mut m = pm();
    enable_paging(&mut m);
    set_pte(&mut m, DATA, DATA | 1 | 4); // read-only, A = D = 0
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x77);
    a.store_eax(DATA);
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::Halted);
    assert_eq!(r32(&m, DATA), 0x77);
    let pte = r32(&m, PT + 4 * (DATA >> 12));
    assert_ne!(pte & 0x20, 0, "accessed");
    assert_ne!(pte & 0x40, 0, "dirty");
    assert_ne!(r32(&m, PD) & 0x20, 0, "PDE accessed");
}

#[test]
fn read_sets_accessed_but_not_dirty() {
    let mut m = pm();
    enable_paging(&mut m);
    set_pte(&mut m, DATA, DATA | 7);
    let mut a = Asm::new32(CODE);
    a.load_eax(DATA);
    a.hlt();
    a.load(&mut m);
    run(&mut m);
    let pte = r32(&m, PT + 4 * (DATA >> 12));
    assert_eq!(pte & 0x60, 0x20);
}

#[test]
fn changed_pte_is_stale_until_invlpg() {
    let mut m = pm();
    enable_paging(&mut m);
    w32(&mut m, DATA, 0x1111);
    w32(&mut m, DATA + 0x1000, 0x2222);
    let pte_addr = PT + 4 * (DATA >> 12);
    let mut a = Asm::new32(CODE);
    a.load_eax(DATA); // caches DATA -> DATA in the TLB
    a.store_imm(pte_addr, (DATA + 0x1000) | 7); // remap, no invalidation
    a.i(&[0x8B, 0x1D, 0x00, 0x00, 0x04, 0x00], "mov ebx,[0x40000]");
    a.i(
        &[0x0F, 0x01, 0x3D, 0x00, 0x00, 0x04, 0x00],
        "invlpg [0x40000]",
    );
    a.i(&[0x8B, 0x0D, 0x00, 0x00, 0x04, 0x00], "mov ecx,[0x40000]");
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::Halted);
    assert_eq!(m.core.cpu.gpr[0], 0x1111);
    assert_eq!(m.core.cpu.gpr[3], 0x1111, "stale translation still used");
    assert_eq!(
        m.core.cpu.gpr[1], 0x2222,
        "after INVLPG the new PTE is used"
    );
}

/// The code page the CPU is executing from is remapped, then INVLPG (or a CR3 reload):
/// the next instruction comes from the new frame. The fetch keeps the last code page's
/// translation outside the TLB; a flush bumps the TLB generation, which that hint checks.
#[test]
fn remapping_the_running_code_page_takes_effect_after_a_flush() {
    for flush in ["invlpg", "cr3"] {
        let mut m = pm();
        enable_paging(&mut m);
        let lin = 0x5_0000u32;
        let pte_addr = PT + 4 * (lin >> 12);
        // The same program in two frames (lin's own and 0x60000), differing only in the
        // value it leaves in EAX after the flush.
        for (frame, value) in [(lin, 1u32), (0x6_0000, 2)] {
            let mut a = Asm::new32(lin);
            a.store_imm(pte_addr, 0x6_0000 | 7);
            if flush == "invlpg" {
                a.i(
                    &[0x0F, 0x01, 0x3D, 0x00, 0x00, 0x05, 0x00],
                    "invlpg [0x50000]",
                );
            } else {
                a.i(&[0x0F, 0x20, 0xDA], "mov edx,cr3");
                a.i(&[0x0F, 0x22, 0xDA], "mov cr3,edx");
            }
            a.mov_r32(0, value);
            a.hlt();
            assert!(m.core.mem.load(frame, &a.bytes));
        }
        m.flush_code_cache();
        m.core.cpu.eip = lin;
        assert_eq!(run(&mut m), traplab::RunExit::Halted);
        assert_eq!(m.core.cpu.gpr[0], 2, "{flush}: fetched from the new frame");
    }
}

#[test]
fn cr3_reload_flushes_non_global_entries() {
    let mut m = pm();
    enable_paging(&mut m);
    w32(&mut m, DATA, 0x1111);
    w32(&mut m, DATA + 0x1000, 0x2222);
    let pte_addr = PT + 4 * (DATA >> 12);
    let mut a = Asm::new32(CODE);
    a.load_eax(DATA);
    a.store_imm(pte_addr, (DATA + 0x1000) | 7);
    a.i(&[0x0F, 0x20, 0xDA], "mov edx,cr3");
    a.i(&[0x0F, 0x22, 0xDA], "mov cr3,edx");
    a.i(&[0x8B, 0x0D, 0x00, 0x00, 0x04, 0x00], "mov ecx,[0x40000]");
    a.hlt();
    a.load(&mut m);
    run(&mut m);
    assert_eq!(m.core.cpu.gpr[1], 0x2222);
}

#[test]
fn instruction_fetch_from_a_not_present_page() {
    let mut m = pm();
    enable_paging(&mut m);
    set_pte(&mut m, CODE2, 0);
    let mut a = Asm::new32(CODE);
    a.i(&[0xFF, 0xE3], "jmp ebx");
    a.load(&mut m);
    m.core.cpu.gpr[3] = CODE2 + 0x10;
    expect_vector(&mut m, 14);
    assert_eq!(m.core.cpu.cr2, CODE2 + 0x10);
    assert_eq!(stack(&m, 0), 0, "supervisor read, not present");
    assert_eq!(stack(&m, 1), CODE2 + 0x10, "EIP = the target");
}
