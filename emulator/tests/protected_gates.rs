//! Privilege changes through gates: interrupt gates from ring 3 with the stack switch
//! from the TSS (SDM Vol. 3A 6.12.1), call gates with parameter copy (5.8.5-5.8.6), RETF
//! and IRET to the outer level, conforming segments, and their error codes.

mod common;
use common::*;
use traplab::mmu::segment::{DS, SS};

#[test]
fn interrupt_from_ring3_switches_to_the_tss_stack_and_iret_returns() {
    let mut m = pm();
    user_gate(&mut m, 0x80);
    user_gate(&mut m, 0x81);
    set_idt(&mut m, 0x80, gate(K_CODE, CODE2, 0xE, 3, 0));
    // Ring-0 handler: record ESP and SS, then IRET back to ring 3.
    let mut h = Asm::new32(CODE2);
    h.i(&[0x89, 0x25, 0x00, 0x00, 0x04, 0x00], "mov [0x40000],esp");
    h.i(&[0x8C, 0xD0], "mov eax,ss");
    h.store_eax(DATA + 4);
    h.iretd();
    h.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(3, 0x1234);
    a.int(0x80);
    let back = a.here();
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    m.step();
    m.step();
    // At the handler's entry: CPL 0 on the ring-0 stack of the TSS, 5-dword frame.
    assert_eq!(m.core.cpu.eip, CODE2);
    assert_eq!(m.core.cpu.cpl, 0);
    assert_eq!(m.core.cpu.flags.bits & 0x200, 0);
    assert_eq!(r32(&m, STACK0 - 20), back, "EIP");
    assert_eq!(r32(&m, STACK0 - 16), U_CODE as u32, "CS");
    assert_eq!(r32(&m, STACK0 - 8), STACK3, "ESP");
    assert_eq!(r32(&m, STACK0 - 4), U_DATA as u32, "SS");
    expect_vector(&mut m, 0x81);
    assert_eq!(r32(&m, DATA), STACK0 - 20);
    assert_eq!(r32(&m, DATA + 4) & 0xFFFF, K_DATA as u32);
    // After IRET, the INT 0x81 frame shows ring 3 with its stack restored.
    assert_eq!(stack(&m, 0), back + 2);
    assert_eq!(stack(&m, 1), U_CODE as u32);
    assert_eq!(stack(&m, 3), STACK3);
    assert_eq!(stack(&m, 4), U_DATA as u32);
    assert_eq!(m.core.cpu.gpr[3], 0x1234);
}

#[test]
fn call_gate_copies_two_parameters_and_retf_returns_to_ring3() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    let gsel = FREE;
    set_gdt(&mut m, gsel, gate(K_CODE, CODE2, 0xC, 3, 2));
    // Ring-0 procedure: record ESP, SS and the two copied parameters, RETF 8.
    let mut h = Asm::new32(CODE2);
    h.i(&[0x89, 0x25, 0x00, 0x00, 0x04, 0x00], "mov [0x40000],esp");
    h.i(&[0x8C, 0xD0], "mov eax,ss");
    h.store_eax(DATA + 4);
    h.i(&[0x8B, 0x44, 0x24, 0x08], "mov eax,[esp+8]");
    h.store_eax(DATA + 8);
    h.i(&[0x8B, 0x44, 0x24, 0x0C], "mov eax,[esp+0xc]");
    h.store_eax(DATA + 12);
    h.i(&[0xCA, 0x08, 0x00], "ret far 8");
    h.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.push_imm(0x1111_1111);
    a.push_imm(0x2222_2222);
    a.call_far(gsel | 3, 0xDEAD); // the offset of a call-gate pointer is ignored
    let back = a.here();
    a.i(&[0x89, 0x25, 0x10, 0x00, 0x04, 0x00], "mov [0x40010],esp");
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    for _ in 0..3 {
        m.step();
    }
    // At the procedure's entry, the new stack holds SS, ESP, param1, param2, CS, EIP
    // (SDM Figure 5-13), and CPL = 0.
    assert_eq!(m.core.cpu.eip, CODE2);
    assert_eq!(m.core.cpu.cpl, 0);
    assert_eq!(m.core.cpu.gpr[4], STACK0 - 24);
    assert_eq!(r32(&m, STACK0 - 24), back);
    assert_eq!(r32(&m, STACK0 - 20), U_CODE as u32);
    assert_eq!(
        r32(&m, STACK0 - 16),
        0x2222_2222,
        "last pushed parameter nearest"
    );
    assert_eq!(r32(&m, STACK0 - 12), 0x1111_1111);
    assert_eq!(r32(&m, STACK0 - 8), STACK3 - 8, "caller ESP");
    assert_eq!(r32(&m, STACK0 - 4), U_DATA as u32);
    expect_vector(&mut m, 0x81);
    assert_eq!(r32(&m, DATA), STACK0 - 24);
    assert_eq!(r32(&m, DATA + 4) & 0xFFFF, K_DATA as u32);
    assert_eq!(r32(&m, DATA + 8), 0x2222_2222);
    assert_eq!(r32(&m, DATA + 12), 0x1111_1111);
    // RETF 8 released the parameters on the caller's stack too.
    assert_eq!(r32(&m, DATA + 0x10), STACK3);
    assert_eq!(stack(&m, 1), U_CODE as u32);
}

#[test]
fn sixteen_bit_call_gate_pushes_words() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    set_gdt(&mut m, FREE, gate(K_CODE, CODE2 & 0xFFFF, 0x4, 3, 1));
    // 16-bit gate: offset is 16 bits, so put the procedure at 0x8000.
    let mut h = Asm::new32(0x8000);
    h.i(&[0x89, 0x25, 0x00, 0x00, 0x04, 0x00], "mov [0x40000],esp");
    h.int(0x81);
    h.load(&mut m);
    set_gdt(&mut m, FREE, gate(K_CODE, 0x8000, 0x4, 3, 1));
    let mut a = Asm::new32(CODE);
    a.i(&[0x66, 0x6A, 0x55], "data16 push 0x55"); // a word parameter
    a.call_far(FREE | 3, 0);
    let back = a.here();
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 0x81);
    // Words: SS, SP, param, CS, IP.
    assert_eq!(r32(&m, DATA), STACK0 - 10);
    assert_eq!(r16(&m, STACK0 - 10) as u32, back & 0xFFFF);
    assert_eq!(r16(&m, STACK0 - 8), U_CODE);
    assert_eq!(r16(&m, STACK0 - 6), 0x55);
    assert_eq!(r16(&m, STACK0 - 4) as u32, (STACK3 - 2) & 0xFFFF);
    assert_eq!(r16(&m, STACK0 - 2), U_DATA);
}

#[test]
fn call_gate_privilege_errors() {
    // Gate DPL 0 used from ring 3: #GP(gate selector).
    let mut m = pm();
    set_gdt(&mut m, FREE, gate(K_CODE, CODE2, 0xC, 0, 0));
    let mut a = Asm::new32(CODE);
    a.call_far(FREE | 3, 0);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), FREE as u32);
    assert_eq!(
        m.core.cpu.gpr[4],
        STACK0 - 24,
        "delivered on the ring-0 stack"
    );

    // JMP through a call gate to a more privileged non-conforming segment: #GP(CS sel).
    let mut m = pm();
    set_gdt(&mut m, FREE, gate(K_CODE, CODE2, 0xC, 3, 0));
    let mut a = Asm::new32(CODE);
    a.jmp_far(FREE | 3, 0);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), K_CODE as u32);

    // Not-present gate: #NP(gate selector).
    let mut m = pm();
    set_gdt(
        &mut m,
        FREE,
        gate(K_CODE, CODE2, 0xC, 3, 0) & !(0x8000u64 << 32),
    );
    let mut a = Asm::new32(CODE);
    a.call_far(FREE | 3, 0);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 11);
    assert_eq!(stack(&m, 0), FREE as u32);

    // Bad inner stack in the TSS (SS0 with RPL 3): #TS(SS0 selector) and the caller's
    // state is untouched. Delivering that #TS needs the same SS0, so it escalates to #DF
    // and a triple fault: the error code is read from the event log.
    let mut m = pm();
    set_gdt(&mut m, FREE, gate(K_CODE, CODE2, 0xC, 3, 0));
    w32(&mut m, TSS_A + 8, U_DATA as u32);
    let mut a = Asm::new32(CODE);
    a.call_far(FREE | 3, 0);
    a.load(&mut m);
    to_ring3(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::TripleFault);
    assert_eq!(first_exception(&m), Some((10, Some(U_DATA as u32 & !3))));
    assert_eq!(m.core.cpu.cpl, 3);
    assert_eq!(m.core.cpu.gpr[4], STACK3);
    assert_eq!(m.core.cpu.eip, CODE);
}

#[test]
fn conforming_segment_keeps_cpl() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    let conf = FREE;
    set_gdt(&mut m, conf, seg_desc(0, 0xFFFFF, 0x9E, 0xC)); // conforming, DPL 0
    let mut h = Asm::new32(CODE2);
    h.int(0x81);
    h.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.call_far(conf, CODE2);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 0x81);
    // The frame of INT 0x81: CS = conforming selector with RPL = CPL = 3, and the far
    // call pushed its return address on the same (ring 3) stack.
    assert_eq!(stack(&m, 1), conf as u32 | 3);
    assert_eq!(stack(&m, 3), STACK3 - 8);
    assert_eq!(r32(&m, STACK3 - 8), CODE + 7);
}

#[test]
fn retf_to_outer_level_nulls_inner_data_segments() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    let mut a = Asm::new32(CODE);
    a.push_imm(U_DATA as u32);
    a.push_imm(STACK3);
    a.push_imm(U_CODE as u32);
    a.push_imm(CODE2);
    a.i(&[0xCB], "ret far");
    a.load(&mut m);
    let mut h = Asm::new32(CODE2);
    h.int(0x81);
    h.load(&mut m);
    expect_vector(&mut m, 0x81);
    assert_eq!(stack(&m, 1), U_CODE as u32);
    assert_eq!(stack(&m, 3), STACK3);
    let ds = m.core.cpu.seg[DS];
    assert!(!ds.valid && ds.sel == 0, "DS (DPL 0) is nulled: {ds:?}");
    assert_eq!(
        m.core.cpu.seg[SS].sel, K_DATA,
        "handler runs on the ring-0 stack"
    );
}

#[test]
fn retf_to_inner_level_is_gp() {
    // Ring 3 cannot RETF to ring 0: #GP(CS selector).
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.push_imm(K_CODE as u32);
    a.push_imm(CODE2);
    a.i(&[0xCB], "ret far");
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), K_CODE as u32);
    assert_eq!(stack(&m, 4), STACK3 - 8, "the failed RETF popped nothing");
}

#[test]
fn stack_limit_in_ring3_is_ss0() {
    let mut m = pm();
    // A ring-3 stack segment of 4 KiB (byte granular).
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFF, 0xF2, 0x4));
    let mut a = Asm::new32(CODE);
    a.i(&[0x50], "push eax"); // ESP = 2: the push wraps below 0 -> outside the limit
    a.load(&mut m);
    to_ring3(&mut m);
    load(&mut m, SS, FREE | 3);
    m.core.cpu.gpr[4] = 2;
    expect_vector(&mut m, 12);
    assert_eq!(stack(&m, 0), 0, "#SS(0) for a limit violation");
    assert_eq!(stack(&m, 4), 2, "faulting ESP unchanged");
}

#[test]
fn call_gate_without_room_on_the_inner_stack_is_ss_new_selector() {
    let mut m = pm();
    set_gdt(&mut m, FREE, gate(K_CODE, CODE2, 0xC, 3, 2));
    w32(&mut m, TSS_A + 4, 8); // ESP0 = 8: no room for SS, ESP, 2 params, CS, EIP
    let mut a = Asm::new32(CODE);
    a.call_far(FREE | 3, 0);
    a.load(&mut m);
    to_ring3(&mut m);
    // Delivering the #SS needs the same inner stack: it escalates to a triple fault;
    // the first exception (from the event log) is #SS(SS0 selector).
    assert_eq!(run(&mut m), traplab::RunExit::TripleFault);
    assert_eq!(first_exception(&m), Some((12, Some(K_DATA as u32))));
    assert_eq!(m.core.cpu.cpl, 3, "nothing changed before the fault");
    assert_eq!(m.core.cpu.gpr[4], STACK3);
}
