//! Exceptions 0-19 in 32-bit protected mode: vectors, error codes, fault-vs-trap EIP,
//! IDT gate kinds, EXT/IDT bits, double fault and triple fault (SDM Vol. 3A ch. 6).

mod common;
use common::*;
use traplab::RunExit;

#[test]
fn divide_error_is_a_fault_at_the_div() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x31, 0xC9], "xor ecx,ecx");
    let div = a.here();
    a.i(&[0xF7, 0xF1], "div ecx");
    a.load(&mut m);
    expect_vector(&mut m, 0);
    // No error code: [EIP, CS, EFLAGS]; EIP points at the faulting DIV.
    assert_eq!(stack(&m, 0), div);
    assert_eq!(stack(&m, 1), K_CODE as u32);
    assert_eq!(m.core.cpu.gpr[4], STACK_INIT - 12);
}

#[test]
fn invalid_opcode_ud2() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.nop();
    let ud = a.here();
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    expect_vector(&mut m, 6);
    assert_eq!(stack(&m, 0), ud);
}

#[test]
fn bound_range_exceeded() {
    let mut m = pm();
    w32(&mut m, DATA, 0); // lower bound
    w32(&mut m, DATA + 4, 10); // upper bound
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 10);
    a.i(
        &[0x62, 0x05, 0x00, 0x00, 0x04, 0x00],
        "bound eax,qword [0x40000]",
    ); // in range
    a.mov_r32(0, 11);
    let b = a.here();
    a.i(
        &[0x62, 0x05, 0x00, 0x00, 0x04, 0x00],
        "bound eax,qword [0x40000]",
    );
    a.load(&mut m);
    expect_vector(&mut m, 5);
    assert_eq!(stack(&m, 0), b, "#BR is a fault");
}

#[test]
fn into_raises_overflow_as_a_trap() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0xCE], "into"); // OF = 0: nothing
    a.i(&[0xB0, 0x7F], "mov al,0x7f");
    a.i(&[0x04, 0x01], "add al,1"); // OF = 1
    a.i(&[0xCE], "into");
    let next = a.here();
    a.hlt();
    a.load(&mut m);
    expect_vector(&mut m, 4);
    assert_eq!(stack(&m, 0), next, "#OF is a trap: EIP after INTO");
}

#[test]
fn int3_is_a_trap() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0xCC], "int3");
    let next = a.here();
    a.load(&mut m);
    expect_vector(&mut m, 3);
    assert_eq!(stack(&m, 0), next);
}

#[test]
fn gp_on_segment_limit() {
    let mut m = pm();
    // A 256-byte data segment at DATA.
    set_gdt(&mut m, FREE, seg_desc(DATA, 0xFF, 0x92, 0x4));
    w32(&mut m, DATA + 0xFC, 0x1234_5678);
    let mut a = Asm::new32(CODE);
    a.load_sreg("ds", FREE);
    a.load_eax(0xFC); // last dword inside the limit
    a.i(&[0x89, 0xC3], "mov ebx,eax");
    let bad = a.here();
    a.load_eax(0xFD); // crosses the limit
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(m.core.cpu.gpr[3], 0x1234_5678);
    assert_eq!(stack(&m, 0), 0, "error code");
    assert_eq!(stack(&m, 1), bad);
}

#[test]
fn gp_on_null_selector_access() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.load_sreg("es", 0); // loading null is fine
    let bad = a.here();
    a.i(&[0x26, 0xA1, 0, 0, 0, 0], "mov eax,es:[0]");
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0);
    assert_eq!(stack(&m, 1), bad);
}

#[test]
fn gp_np_ss_on_segment_loads() {
    // Selector beyond the GDT limit: #GP(selector).
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.load_sreg("ds", 0x1000);
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0x1000);
    assert_eq!(m.core.cpu.seg[3].sel, K_DATA, "DS unchanged");

    // Not-present data segment: #NP(selector).
    let mut m = pm();
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x72, 0xC)); // DPL 3, P = 0
    let mut a = Asm::new32(CODE);
    a.load_sreg("ds", FREE | 3); // RPL 3: the error code has RPL cleared
    a.load(&mut m);
    expect_vector(&mut m, 11);
    assert_eq!(stack(&m, 0), FREE as u32);

    // Not-present stack segment: #SS(selector).
    let mut m = pm();
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x12, 0xC));
    let mut a = Asm::new32(CODE);
    a.load_sreg("ss", FREE);
    a.load(&mut m);
    expect_vector(&mut m, 12);
    assert_eq!(stack(&m, 0), FREE as u32);

    // A code segment in DS that is not readable, and SS = read-only data: #GP(selector).
    let mut m = pm();
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x98, 0xC)); // execute-only code
    let mut a = Asm::new32(CODE);
    a.load_sreg("ds", FREE);
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), FREE as u32);
}

#[test]
fn single_step_trap_sets_dr6_bs() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x9C], "pushfd");
    a.i(
        &[0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00],
        "or dword [esp],0x100",
    );
    a.i(&[0x9D], "popfd"); // TF = 1: the trap comes after the *next* instruction
    a.i(&[0x40], "inc eax");
    let after = a.here();
    a.i(&[0x40], "inc eax");
    a.load(&mut m);
    m.core.cpu.gpr[0] = 0;
    expect_vector(&mut m, 1);
    assert_eq!(
        m.core.cpu.gpr[0], 1,
        "exactly one instruction ran with TF set"
    );
    assert_eq!(stack(&m, 0), after, "#DB single step is a trap");
    assert_ne!(stack(&m, 2) & 0x100, 0, "pushed EFLAGS has TF");
    assert_eq!(
        m.core.cpu.flags.bits & 0x100,
        0,
        "TF cleared in the handler"
    );
    assert_ne!(m.core.cpu.dr[6] & (1 << 14), 0, "DR6.BS");
}

/// MOV SS delays the single-step trap until after the next instruction (SDM Vol. 3A 6.8.3):
/// one #DB comes after the instruction that follows it.
#[test]
fn mov_ss_delays_the_single_step_trap_by_one_instruction() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x9C], "pushfd");
    a.i(
        &[0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00],
        "or dword [esp],0x100",
    );
    a.i(&[0x9D], "popfd");
    a.i(&[0x8E, 0xD1], "mov ss,cx"); // no trap here
    a.i(&[0x40], "inc eax");
    let after = a.here(); // the trap comes here
    a.i(&[0x40], "inc eax");
    a.load(&mut m);
    m.core.cpu.gpr[0] = 0;
    m.core.cpu.gpr[1] = K_DATA as u32;
    expect_vector(&mut m, 1);
    assert_eq!(m.core.cpu.gpr[0], 1, "MOV SS and one more instruction ran");
    assert_eq!(
        stack(&m, 0),
        after,
        "the #DB follows the instruction after MOV SS"
    );
    assert_ne!(m.core.cpu.dr[6] & (1 << 14), 0, "DR6.BS");
}

#[test]
fn interrupt_gate_clears_if_trap_gate_keeps_it() {
    let mut m = pm();
    set_idt(&mut m, 0x40, gate(K_CODE, HANDLERS + 16 * 0x40, 0xE, 0, 0));
    set_idt(&mut m, 0x41, gate(K_CODE, HANDLERS + 16 * 0x41, 0xF, 0, 0));
    let mut a = Asm::new32(CODE);
    a.i(&[0xFB], "sti");
    a.int(0x40);
    a.load(&mut m);
    expect_vector(&mut m, 0x40);
    assert_ne!(stack(&m, 2) & 0x200, 0, "pushed IF = 1");
    assert_eq!(m.core.cpu.flags.bits & 0x200, 0, "interrupt gate: IF = 0");

    // Trap gate: IF stays 1, so the HLT of the handler is not the end of the run; check
    // the state right after delivery instead.
    let mut m = pm();
    set_idt(&mut m, 0x41, gate(K_CODE, HANDLERS + 16 * 0x41, 0xF, 0, 0));
    let mut a = Asm::new32(CODE);
    a.i(&[0xFB], "sti");
    a.int(0x41);
    a.load(&mut m);
    m.step();
    m.step();
    assert_eq!(m.core.cpu.eip, HANDLERS + 16 * 0x41);
    assert_ne!(m.core.cpu.flags.bits & 0x200, 0, "trap gate: IF unchanged");
}

#[test]
fn idt_error_codes_have_idt_and_ext_bits() {
    // INT n through a not-present gate: #NP(vector*8 + 2), EXT = 0 (software).
    let mut m = pm();
    set_idt(
        &mut m,
        0x50,
        gate(K_CODE, 0, 0xE, 0, 0) & !(0x8000u64 << 32),
    );
    let mut a = Asm::new32(CODE);
    a.int(0x50);
    a.load(&mut m);
    expect_vector(&mut m, 11);
    assert_eq!(stack(&m, 0), 0x50 * 8 + 2);

    // #UD (benign) whose gate is not present: #NP(6*8 + 2 + EXT) because the fault
    // happened while delivering an exception.
    let mut m = pm();
    set_idt(&mut m, 6, gate(K_CODE, 0, 0xE, 0, 0) & !(0x8000u64 << 32));
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    expect_vector(&mut m, 11);
    assert_eq!(stack(&m, 0), 6 * 8 + 2 + 1);

    // Vector beyond the IDT limit: #GP(vector*8 + 2).
    let mut m = pm();
    m.core.cpu.idtr.limit = 0x3FF; // 128 vectors
    let mut a = Asm::new32(CODE);
    a.int(0x90);
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0x90 * 8 + 2);

    // INT n from ring 3 to a DPL-0 gate: #GP(vector*8 + 2).
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.int(0x30);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0x30 * 8 + 2);
    assert_eq!(stack(&m, 2), U_CODE as u32, "came from ring 3");
}

#[test]
fn contributory_twice_is_a_double_fault() {
    let mut m = pm();
    // #GP's gate points to a not-present code segment: #NP while delivering #GP.
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x1A, 0xC)); // code, P = 0
    set_idt(&mut m, 13, gate(FREE, 0, 0xE, 0, 0));
    let mut a = Asm::new32(CODE);
    let bad = a.here();
    a.load_eax(0); // fine
    a.load_sreg("ds", 0x1000); // #GP -> #NP -> #DF
    a.load(&mut m);
    expect_vector(&mut m, 8);
    assert_eq!(stack(&m, 0), 0, "#DF error code is 0");
    assert_eq!(stack(&m, 1), bad + 5 + 4, "#DF EIP: the faulting MOV DS");
    assert_eq!(m.core.stats.exceptions[8], 1);
}

#[test]
fn page_fault_then_contributory_is_a_double_fault() {
    let mut m = pm();
    enable_paging(&mut m);
    set_pte(&mut m, DATA, 0); // not present
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x1A, 0xC)); // code, P = 0
    set_idt(&mut m, 14, gate(FREE, 0, 0xE, 0, 0));
    let mut a = Asm::new32(CODE);
    a.load_eax(DATA);
    a.load(&mut m);
    expect_vector(&mut m, 8);
    assert_eq!(m.core.cpu.cr2, DATA);
}

#[test]
fn benign_then_contributory_is_not_a_double_fault() {
    // #UD whose gate points at a not-present segment: #NP is delivered, not #DF.
    let mut m = pm();
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFFF, 0x1A, 0xC));
    set_idt(&mut m, 6, gate(FREE, 0, 0xE, 0, 0));
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    expect_vector(&mut m, 11);
    assert_eq!(stack(&m, 0), FREE as u32 + 1, "#NP(selector + EXT)");
}

#[test]
fn triple_fault_shuts_the_machine_down() {
    let mut m = pm();
    m.core.cpu.idtr.limit = 0; // no usable gate at all
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::TripleFault);
    assert_eq!(m.core.stats.exceptions[8], 1, "#DF was attempted");
    // The machine stays dead.
    assert_eq!(m.run(10), RunExit::TripleFault);
}

#[test]
fn device_not_available_with_ts() {
    // CR0.TS set and an x87 instruction: #NM (the CPU has no FPU; EM = 0, TS = 1).
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
    a.i(&[0x83, 0xC8, 0x08], "or eax,8");
    a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    let f = a.here();
    a.i(&[0xD9, 0xE8], "fld1");
    a.load(&mut m);
    expect_vector(&mut m, 7);
    assert_eq!(stack(&m, 0), f);
}
