//! What tevmm (samples/tevmm/) guarantees a guest kernel, shown with small hand-made guests
//! at ring 1 (emulator/tests/common/tevmm.rs), each against what a CPU at ring 0 does:
//! - an IRET or far RET to a bad CS or SS selector gives the guest #GP(selector) at that
//!   instruction (Intel SDM Vol. 2A, IRET), instead of a fault of the monitor's own IRET
//!   (vcpu.c, return_fault; found by robustness_tevmm.rs);
//! - the monitor protects itself with segment limits: the guest kernel's segments end below
//!   0xFF800000, so a touch of the monitor is the guest's own #GP(0) (tevmm.h);
//! - shadow paging propagates the accessed and dirty bits to the guest's page-table entries
//!   (shadow.c; SDM Vol. 3A 4.8).

mod common;

use common::tevmm::{self, RESULT};
use common::Asm;
use traplab::machine::{Machine, RunExit};

const BUDGET: u64 = 2_000_000;

/// Runs the guest to its HLT (no monitor stop); returns the machine.
fn run_to_hlt(code: &[u8], pg: bool) -> Machine {
    let mut m = tevmm::machine(code, pg);
    let exit = m.run_limited(BUDGET, BUDGET);
    let out = String::from_utf8_lossy(&m.core.dev.take_serial_output()).into_owned();
    assert!(
        matches!(exit, RunExit::Halted) && !out.contains("tevmm: stopped"),
        "pg {pg}: {exit:?}\n{out}"
    );
    m
}

/// The three words the guest's exception handler stored (for #GP and #PF: error code, EIP, CS).
fn handler_saw(m: &Machine) -> (u32, u32, u32) {
    let r = |k: u32| common::r32(m, RESULT + 4 * k);
    (r(0), r(1), r(2))
}

/// Runs `last` as the guest's final instructions; returns (error code, EIP, CS) seen by its
/// #GP handler, and the address of the bad transfer (the last byte of `last`).
fn bad_return(last: impl Fn(&mut Asm), pg: bool) -> (u32, u32, u32, u32) {
    let (code, at) = tevmm::guest_with_tables(last);
    let (err, eip, cs) = handler_saw(&run_to_hlt(&code, pg));
    (err, eip, cs, at)
}

#[test]
fn iret_and_far_ret_to_bad_selectors_give_the_guest_gp() {
    for pg in [false, true] {
        // iretd to user mode through CS 0x1B and SS 0x2B, both beyond the GDT's limit.
        let user_iret = |a: &mut Asm| {
            a.push_imm(0x2B)
                .push_imm(0x1000)
                .push_imm(0x202)
                .push_imm(0x1B);
            a.push_imm(0x1234).iretd();
        };
        let (err, eip, cs, at) = bad_return(user_iret, pg);
        assert_eq!(
            (err, eip, cs),
            (0x18, at, 0x08),
            "pg {pg}: precise, at the iretd"
        );
        // retf to user mode, the same frame.
        let user_retf = |a: &mut Asm| {
            a.push_imm(0x2B)
                .push_imm(0x1000)
                .push_imm(0x1B)
                .push_imm(0x1234);
            a.i(&[0xCB], "ret far");
        };
        let (err, eip, _, at) = bad_return(user_retf, pg);
        assert_eq!((err, eip), (0x18, at), "pg {pg}: retf to CS 0x1B");
        // iretd to the kernel's own ring through CS 0x20 (beyond the GDT).
        let kernel_iret = |a: &mut Asm| {
            a.push_imm(0x202).push_imm(0x20).push_imm(0x1234).iretd();
        };
        let (err, eip, _, at) = bad_return(kernel_iret, pg);
        assert_eq!((err, eip), (0x20, at), "pg {pg}: iretd to CS 0x20");
        // iretd to user mode with a good CS (the kernel's data segment as SS is not).
        let bad_ss = |a: &mut Asm| {
            a.push_imm(0x13)
                .push_imm(0x1000)
                .push_imm(0x202)
                .push_imm(0x0B);
            a.push_imm(0x1234).iretd();
        };
        let (err, eip, _, at) = bad_return(bad_ss, pg);
        assert_eq!(
            (err, eip),
            (0x08, at),
            "pg {pg}: iretd to CS 0x0B (DPL 0 code, RPL 3)"
        );
    }
}

#[test]
fn the_guest_kernel_cannot_reach_the_monitor() {
    // Its segments are clipped below 0xFF800000 (the window onto guest memory, then the
    // monitor at 0xFFC00000): a load from either is a limit violation, #GP(0), which the
    // monitor reflects to the guest like any of its own faults. At ring 0 on a flat 4 GiB
    // segment the same load would read the memory: the price of ring compression.
    for pg in [false, true] {
        for addr in [0xFFC0_0000u32, 0xFF80_0000, 0xFFFF_FFF0] {
            let (code, at) = tevmm::guest_with_tables(|a: &mut Asm| {
                a.load_eax(addr); // `at` is its last byte
            });
            let (err, eip, cs) = handler_saw(&run_to_hlt(&code, pg));
            assert_eq!(
                (err, eip, cs),
                (0, at - 4, 0x08),
                "pg {pg}: mov eax,[{addr:#x}]"
            );
        }
    }
}

#[test]
fn shadow_paging_sets_accessed_and_dirty_bits_in_the_guest_tables() {
    // The guest kernel builds a page directory at 0x200000 and one page table at 0x201000
    // mapping its first 4 MiB, every entry present and writable with A = D = 0, turns paging
    // on (MOV to CR3 and CR0: emulated), reads 0x300000, writes 0x301000 and halts. The
    // monitor's hidden faults build the shadow entries and set A on the way, D on the first
    // write (shadow.c), as the CPU's page walk would (SDM Vol. 3A 4.8).
    const PT: u32 = 0x20_1000;
    for pg in [false, true] {
        let (code, _) = tevmm::guest_with_tables(|a: &mut Asm| {
            a.mov_r32(7, PT).mov_r32(0, 3).mov_r32(1, 1024);
            let top = a.here();
            a.i(&[0x89, 0x07], "mov [edi],eax");
            a.i(&[0x05, 0x00, 0x10, 0x00, 0x00], "add eax,0x1000");
            a.i(&[0x83, 0xC7, 0x04], "add edi,4");
            let back = (top as i64 - (a.here() as i64 + 2)) as i8 as u8;
            a.i(&[0xE2, back], &format!("loop {top:#x}"));
            a.store_imm(0x20_0000, PT | 3);
            a.mov_r32(0, 0x20_0000);
            a.i(&[0x0F, 0x22, 0xD8], "mov cr3,eax");
            a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
            a.i(&[0x0D, 0x00, 0x00, 0x00, 0x80], "or eax,0x80000000");
            a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
            a.load_eax(0x30_0000);
            a.store_eax(0x30_1000);
            a.hlt();
        });
        let m = run_to_hlt(&code, pg);
        assert_eq!(handler_saw(&m), (0, 0, 0), "pg {pg}: no exception");
        let pte = |va: u32| common::r32(&m, PT + 4 * (va >> 12));
        assert_eq!(pte(0x30_0000) & 0x60, 0x20, "pg {pg}: read page: A, not D");
        assert_eq!(
            pte(0x30_1000) & 0x60,
            0x60,
            "pg {pg}: written page: A and D"
        );
        assert_eq!(pte(0x30_2000) & 0x60, 0, "pg {pg}: untouched page");
        assert_eq!(
            common::r32(&m, 0x20_0000) & 0x20,
            0x20,
            "pg {pg}: the PDE's A"
        );
    }
}
