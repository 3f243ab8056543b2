//! Hardware task switches (SDM Vol. 3A ch. 7): CALL/JMP to a TSS, task gates in the IDT,
//! IRET with NT = 1 through the back link, busy bits, CR0.TS, CR3 and LDTR reloads, and
//! the #TS/#GP/#NP checks before and after the commit point.

mod common;
use common::*;
use traplab::mmu::segment::{CS, DS};
use traplab::RunExit;

/// Task B starts at CODE2 on its own stack.
const STACK_B: u32 = 0x8800;

fn task_b(m: &mut traplab::Machine) {
    task_state(m, TSS_B, CODE2, STACK_B, 2);
}

#[test]
fn call_to_tss_and_iret_back_through_the_link() {
    let mut m = pm();
    task_b(&mut m);
    // Task B: record TR, EFLAGS (NT), the back link and both busy bits, then IRET.
    let mut b = Asm::new32(CODE2);
    b.i(&[0x0F, 0x00, 0xC8], "str eax");
    b.store_eax(DATA);
    b.i(&[0x9C], "pushfd");
    b.i(&[0x58], "pop eax");
    b.store_eax(DATA + 4);
    b.load_eax(TSS_B);
    b.store_eax(DATA + 8);
    b.load_eax(GDT + SEL_TSS_A as u32 + 4);
    b.store_eax(DATA + 12);
    b.load_eax(GDT + SEL_TSS_B as u32 + 4);
    b.store_eax(DATA + 16);
    b.mov_r32(0, 0xBBBB);
    b.mov_r32(1, 0xB1);
    b.iretd();
    let b_after = b.here();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0xAAAA);
    a.mov_r32(1, 0xA1);
    a.call_far(SEL_TSS_B, 0);
    let back = a.here();
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.eip, back + 1, "A resumed after its CALL");
    // Inside B.
    assert_eq!(r32(&m, DATA) & 0xFFFF, SEL_TSS_B as u32);
    assert_ne!(r32(&m, DATA + 4) & 0x4000, 0, "NT set in the called task");
    assert_eq!(r32(&m, DATA + 8) & 0xFFFF, SEL_TSS_A as u32, "back link");
    assert_eq!(
        (r32(&m, DATA + 12) >> 8) & 0xF,
        0xB,
        "A stays busy during CALL"
    );
    assert_eq!((r32(&m, DATA + 16) >> 8) & 0xF, 0xB, "B busy");
    // Back in A: registers reloaded from TSS A, NT clear, B available again.
    assert_eq!(m.core.cpu.gpr[0], 0xAAAA);
    assert_eq!(m.core.cpu.gpr[1], 0xA1);
    assert_eq!(m.core.cpu.gpr[4], STACK_INIT);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_A);
    assert_eq!(m.core.cpu.flags.bits & 0x4000, 0);
    assert_eq!(gdt_type(&m, SEL_TSS_B), 0x9);
    assert_eq!(gdt_type(&m, SEL_TSS_A), 0xB);
    assert_ne!(m.core.cpu.cr0 & 8, 0, "CR0.TS set by the task switch");
    // B's state was saved by the IRET: EIP after IRETD, EAX, and NT cleared.
    assert_eq!(r32(&m, TSS_B + 0x20), b_after);
    assert_eq!(r32(&m, TSS_B + 0x28), 0xBBBB);
    assert_eq!(r32(&m, TSS_B + 0x24) & 0x4000, 0);
    // A's saved EIP (during the CALL) was the return address.
    assert_eq!(r32(&m, TSS_A + 0x20), back);
}

#[test]
fn jmp_to_tss_clears_the_old_busy_bit_and_sets_no_link() {
    let mut m = pm();
    task_b(&mut m);
    w16(&mut m, TSS_B, 0x1234); // the link field must stay untouched
    let mut b = Asm::new32(CODE2);
    b.hlt();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(3, 0x5151);
    a.jmp_far(SEL_TSS_B, 0);
    let after = a.here();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_B);
    assert_eq!(m.core.cpu.eip, CODE2 + 1);
    assert_eq!(m.core.cpu.gpr[4], STACK_B);
    assert_eq!(gdt_type(&m, SEL_TSS_A), 0x9, "old task available after JMP");
    assert_eq!(gdt_type(&m, SEL_TSS_B), 0xB);
    assert_eq!(m.core.cpu.flags.bits & 0x4000, 0, "JMP does not set NT");
    assert_eq!(r16(&m, TSS_B), 0x1234);
    assert_eq!(r32(&m, TSS_A + 0x20), after);
    assert_eq!(r32(&m, TSS_A + 0x34), 0x5151, "EBX saved in TSS A");
}

#[test]
fn jmp_or_call_to_a_busy_tss_is_gp() {
    for call in [false, true] {
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        if call {
            a.call_far(SEL_TSS_A, 0);
        } else {
            a.jmp_far(SEL_TSS_A, 0);
        }
        a.load(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 0), SEL_TSS_A as u32);
        assert_eq!(m.core.cpu.tr.sel, SEL_TSS_A);
    }
}

#[test]
fn tss_below_minimum_limit_is_ts() {
    let mut m = pm();
    task_b(&mut m);
    set_gdt(&mut m, SEL_TSS_B, tss_desc(TSS_B, 0x50, 0));
    let mut a = Asm::new32(CODE);
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    expect_vector(&mut m, 10);
    assert_eq!(stack(&m, 0), SEL_TSS_B as u32);
    assert_eq!(
        m.core.cpu.tr.sel, SEL_TSS_A,
        "fault before the commit point"
    );
    assert_eq!(gdt_type(&m, SEL_TSS_A), 0xB);
}

#[test]
fn task_gate_in_the_idt_for_int_n_and_for_an_exception_with_error_code() {
    // INT 0x60 through a task gate: nested task (NT, link), and IRET comes back.
    let mut m = pm();
    task_b(&mut m);
    set_idt(&mut m, 0x60, gate(SEL_TSS_B, 0, 0x5, 0, 0));
    let mut b = Asm::new32(CODE2);
    b.load_eax(TSS_B);
    b.store_eax(DATA);
    b.iretd();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.int(0x60);
    let back = a.here();
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.eip, back + 1);
    assert_eq!(r32(&m, DATA) & 0xFFFF, SEL_TSS_A as u32);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_A);

    // #GP(0x1000) through a task gate: the error code is pushed on the new task's stack,
    // and the old task's saved EIP is the faulting instruction.
    let mut m = pm();
    task_b(&mut m);
    set_idt(&mut m, 13, gate(SEL_TSS_B, 0, 0x5, 0, 0));
    let mut b = Asm::new32(CODE2);
    b.hlt();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.nop();
    let bad = a.here();
    a.load_sreg("ds", 0x1000);
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_B);
    assert_eq!(m.core.cpu.gpr[4], STACK_B - 4);
    assert_eq!(r32(&m, STACK_B - 4), 0x1000, "error code on the new stack");
    assert_eq!(r32(&m, TSS_A + 0x20), bad + 4, "faulting MOV DS");
    assert_ne!(m.core.cpu.flags.bits & 0x4000, 0);
}

#[test]
fn ts_while_loading_the_new_task_is_raised_in_the_new_task() {
    let mut m = pm();
    task_b(&mut m);
    w16(&mut m, TSS_B + 0x4C, K_DATA); // CS = a data segment
                                       // #TS goes through a task gate to task C, which has a sane state.
    task_state(&mut m, TSS_C, CODE2 + 0x100, 0x8400, 2);
    set_idt(&mut m, 10, gate(SEL_TSS_C, 0, 0x5, 0, 0));
    let mut c = Asm::new32(CODE2 + 0x100);
    c.hlt();
    c.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_C);
    assert_eq!(r32(&m, 0x8400 - 4), K_DATA as u32, "#TS(CS selector)");
    // The switch to B was complete: B busy, A available, and C's link names B.
    assert_eq!(gdt_type(&m, SEL_TSS_A), 0x9);
    assert_eq!(gdt_type(&m, SEL_TSS_B), 0xB);
    assert_eq!(r16(&m, TSS_C), SEL_TSS_B);
    // B's TSS received the (partially loaded) state: EIP = B's entry point.
    assert_eq!(r32(&m, TSS_B + 0x20), CODE2);
}

#[test]
fn new_task_reloads_cr3_and_ldtr() {
    let mut m = pm();
    enable_paging(&mut m);
    // Second address space: same identity table except DATA maps to DATA + 0x1000.
    let pd2 = 0x32000;
    let pt2 = 0x33000;
    w32(&mut m, pd2, pt2 | 7);
    for k in 1..1024 {
        w32(&mut m, pd2 + 4 * k, 0);
    }
    for k in 0..1024u32 {
        w32(&mut m, pt2 + 4 * k, (k << 12) | 7);
    }
    w32(&mut m, pt2 + 4 * (DATA >> 12), (DATA + 0x1000) | 7);
    w32(&mut m, DATA, 0x1111);
    w32(&mut m, DATA + 0x1000, 0x2222);
    // An LDT with one data descriptor (selector 0x0C) based at DATA.
    let ldt = 0x5000;
    w64(&mut m, ldt, 0);
    w64(&mut m, ldt + 8, seg_desc(DATA, 0xFFF, 0x92, 0x4));
    set_gdt(&mut m, FREE, seg_desc(ldt, 0xF, 0x82, 0));
    task_b(&mut m);
    w32(&mut m, TSS_B + 0x1C, pd2);
    w16(&mut m, TSS_B + 0x60, FREE);
    w16(&mut m, TSS_B + 0x54, 0x0C); // DS from the LDT
    let mut b = Asm::new32(CODE2);
    b.load_eax(0); // DS:0 = linear DATA, mapped to DATA + 0x1000 in B's space
    b.hlt();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.load_eax(DATA);
    a.i(&[0x89, 0xC3], "mov ebx,eax");
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.cr3, pd2);
    assert_eq!(m.core.cpu.ldtr.sel, FREE);
    assert_eq!(m.core.cpu.ldtr.base, ldt);
    assert_eq!(m.core.cpu.seg[DS].base, DATA);
    assert_eq!(
        m.core.cpu.gpr[0], 0x2222,
        "new CR3: no stale TLB entry survived"
    );
    assert_eq!(r32(&m, TSS_A + 0x34), 0x1111, "A read through its own CR3");
}

#[test]
fn iret_with_nt_and_an_available_link_is_ts() {
    let mut m = pm();
    w16(&mut m, TSS_A, SEL_TSS_B); // link to a TSS that is not busy
    let mut a = Asm::new32(CODE);
    a.i(&[0x9C], "pushfd");
    a.i(
        &[0x81, 0x0C, 0x24, 0x00, 0x40, 0x00, 0x00],
        "or dword [esp],0x4000",
    );
    a.i(&[0x9D], "popfd");
    let iret = a.here();
    a.iretd();
    a.load(&mut m);
    expect_vector(&mut m, 10);
    assert_eq!(stack(&m, 0), SEL_TSS_B as u32);
    assert_eq!(stack(&m, 1), iret);
}

#[test]
fn task_switch_to_a_ring3_task_sets_cpl_from_cs() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    task_state(&mut m, TSS_B, CODE2, STACK3, 0x202);
    for (k, sel) in [U_DATA, U_CODE, U_DATA, U_DATA, U_DATA, U_DATA]
        .iter()
        .enumerate()
    {
        w16(&mut m, TSS_B + 0x48 + 4 * k as u32, *sel);
    }
    let mut b = Asm::new32(CODE2);
    b.int(0x81);
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    expect_vector(&mut m, 0x81);
    assert_eq!(stack(&m, 1), U_CODE as u32, "task B ran at CPL 3");
    assert_eq!(m.core.cpu.seg[CS].sel, K_CODE);
    assert_eq!(m.core.cpu.gpr[4], STACK0 - 20, "ring-0 stack from TSS B");
}

#[test]
fn sixteen_bit_tss_through_a_gdt_task_gate() {
    let mut m = pm();
    // 16-bit TSS at TSS_C (type 1, limit 0x2B), reached through a task gate in the GDT.
    set_gdt(&mut m, SEL_TSS_C, seg_desc(TSS_C, 0x2B, 0x81, 0));
    set_gdt(&mut m, FREE, gate(SEL_TSS_C, 0, 0x5, 0, 0));
    for k in (0..0x2C).step_by(2) {
        w16(&mut m, TSS_C + k, 0);
    }
    w16(&mut m, TSS_C + 0x0E, 0x8000); // IP
    w16(&mut m, TSS_C + 0x10, 0x0002); // FLAGS
    w16(&mut m, TSS_C + 0x12, 0x1234); // AX
    w16(&mut m, TSS_C + 0x1A, 0x6000); // SP
    w16(&mut m, TSS_C + 0x22, K_DATA); // ES
    w16(&mut m, TSS_C + 0x24, K_CODE); // CS
    w16(&mut m, TSS_C + 0x26, K_DATA); // SS
    w16(&mut m, TSS_C + 0x28, 0); // DS null
    let mut t = Asm::new32(0x8000);
    t.hlt();
    t.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0xABCD_0000);
    a.call_far(FREE, 0);
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    let c = &m.core.cpu;
    assert_eq!(c.tr.sel, SEL_TSS_C);
    assert_eq!(c.eip, 0x8001);
    // Bits 31:16 of every general register become all ones, whatever they held: SDM Vol.
    // 3A 7.6 ("the upper 16 bits of the registers are modified and not maintained");
    // test386.asm (barotto/test386.asm, pull request 22), whose expected results were
    // checked on real processors, loads AX = 0x1234 and expects EAX = 0xFFFF1234.
    assert_eq!(
        c.gpr[0], 0xFFFF_1234,
        "AX from the TSS, upper half all ones"
    );
    assert_eq!(
        c.gpr[4], 0xFFFF_6000,
        "SP from the TSS, upper half all ones"
    );
    for k in [1, 2, 3, 5, 6, 7] {
        assert_eq!(c.gpr[k], 0xFFFF_0000, "register {k}: zero in the TSS");
    }
    assert!(!c.seg[DS].valid);
    assert_ne!(c.flags.bits & 0x4000, 0, "NT");
    assert_eq!(gdt_type(&m, SEL_TSS_C), 0x3, "busy 16-bit TSS");
    assert_eq!(r16(&m, TSS_C), SEL_TSS_A, "back link");
}

#[test]
fn tss_trap_bit_raises_debug_and_local_breakpoints_are_disabled() {
    let mut m = pm();
    task_b(&mut m);
    w16(&mut m, TSS_B + 0x64, 1); // T
    let mut b = Asm::new32(CODE2);
    b.hlt();
    b.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    // DR7: L0 and G1 enabled on an address nobody executes.
    m.core.cpu.dr[0] = 0x7777;
    m.core.cpu.dr[1] = 0x7777;
    m.core.cpu.dr[7] = 0x400 | 0b1001;
    expect_vector(&mut m, 1);
    assert_ne!(m.core.cpu.dr[6] & (1 << 15), 0, "DR6.BT");
    assert_eq!(stack(&m, 0), CODE2, "#DB before B's first instruction");
    assert_eq!(m.core.cpu.dr[7] & 0xFF, 0b1000, "L0 cleared, G1 kept");
}
