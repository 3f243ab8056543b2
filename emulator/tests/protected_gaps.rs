//! Correctness gaps closed later: alignment checking (#AC, SDM Vol. 3A 6.15 and 2.5
//! CR0.AM), RF in the EFLAGS image saved for faults (SDM Vol. 3A 17.3.1.1). I/O
//! breakpoints are not offered (CPUID has no DE, CR4.DE is #GP): see protected_system.rs.

mod common;
use common::*;
use traplab::machine::Machine;
use traplab::RunExit;

const AC: u32 = 1 << 18;
const RF: u32 = 1 << 16;
/// Ring-3 code of the #AC tests.
const USER: u32 = CODE + 0x200;

/// Ring-0 prologue at CODE: CR0.AM = `am` (by MOV CR0), DS = ES = the ring-3 data
/// selector, then IRETD to ring 3 at USER with EFLAGS = `eflags` (AC set there, if
/// wanted, by the IRET). Vector 0x40 is open to ring 3 ("int 0x40" = the user program
/// got through without a fault).
fn to_user(m: &mut Machine, am: bool, eflags: u32) {
    let mut a = Asm::new32(CODE);
    if am {
        a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
        a.i(&[0x0D, 0x00, 0x00, 0x04, 0x00], "or eax,0x40000");
        a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    }
    // DS and ES for ring 3 (the IRET would null ring-0 data selectors).
    a.load_sreg("ds", U_DATA);
    a.load_sreg("es", U_DATA);
    a.push_imm(U_DATA as u32);
    a.push_imm(STACK3);
    a.push_imm(eflags | 2);
    a.push_imm(U_CODE as u32);
    a.push_imm(USER);
    a.iretd();
    a.load(m);
    user_gate(m, 0x40);
}

/// Runs a ring-3 program (after `to_user`) and returns the vector that stopped it.
fn run_user(m: &mut Machine, user: &Asm) -> u32 {
    user.load(m);
    assert_eq!(run(m), RunExit::Halted);
    vector(m)
}

/// One ring-3 access with EBX = ESI = `addr`; returns the machine (stopped in a
/// handler) and the address of the access.
fn user_access(am: bool, ac: bool, addr: u32, insn: &[u8], text: &str) -> (Machine, u32) {
    let mut m = pm();
    to_user(&mut m, am, if ac { AC } else { 0 });
    let mut u = Asm::new32(USER);
    // Aligned accesses first, so that the TLB holds the page for reads and writes: the
    // misaligned access must not take the TLB fast path.
    u.load_eax(addr & !0xF);
    u.store_eax(addr & !0xF);
    u.mov_r32(3, addr);
    u.mov_r32(6, addr);
    let at = u.here();
    u.i(insn, text);
    u.int(0x40);
    run_user(&mut m, &u);
    (m, at)
}

#[test]
fn misaligned_ring3_data_accesses_raise_ac() {
    // (instruction, text, operand size)
    let cases: [(&[u8], &str, u32); 7] = [
        (&[0x8B, 0x03], "mov eax,[ebx]", 4),
        (&[0x66, 0x8B, 0x03], "mov ax,[ebx]", 2),
        (&[0x89, 0x03], "mov [ebx],eax", 4),
        (&[0x66, 0x89, 0x03], "mov [ebx],ax", 2),
        (&[0x01, 0x03], "add [ebx],eax", 4),
        (&[0xFF, 0x03], "inc dword [ebx]", 4),
        (&[0xAD], "lodsd [esi]", 4),
    ];
    for (insn, text, size) in cases {
        for off in 0..8u32 {
            let addr = DATA + 0x10 + off;
            let (m, at) = user_access(true, true, addr, insn, text);
            if off % size == 0 {
                assert_eq!(vector(&m), 0x40, "{text} at +{off}: aligned, no fault");
            } else {
                expect_ac_at(&m, at, text);
                // A fault: nothing written, the data is as before.
                assert_eq!(r32(&m, DATA + 0x10), 0, "{text}: memory unchanged");
                assert_eq!(r32(&m, DATA + 0x14), 0, "{text}: memory unchanged");
            }
        }
    }
    // Bytes are never misaligned.
    let (m, _) = user_access(true, true, DATA + 3, &[0x8A, 0x03], "mov al,[ebx]");
    assert_eq!(vector(&m), 0x40);
}

fn expect_ac_at(m: &Machine, at: u32, what: &str) {
    assert_eq!(vector(m), 17, "{what}: #AC");
    assert_eq!(stack(m, 0), 0, "{what}: error code 0");
    assert_eq!(stack(m, 1), at, "{what}: a fault, EIP = the access");
    assert_eq!(stack(m, 2), U_CODE as u32, "{what}: from ring 3");
}

#[test]
fn page_crossing_and_cmpxchg8b_alignment() {
    // A dword crossing a page is misaligned: #AC comes before any page fault.
    let (m, at) = user_access(true, true, DATA + 0xFFE, &[0x8B, 0x03], "mov eax,[ebx]");
    expect_ac_at(&m, at, "page crossing");
    // CMPXCHG8B m64 must be 8-aligned even though it is accessed as two dwords.
    let cx8: &[u8] = &[0x0F, 0xC7, 0x0B];
    let (m, at) = user_access(true, true, DATA + 4, cx8, "cmpxchg8b [ebx]");
    expect_ac_at(&m, at, "cmpxchg8b at 4 mod 8");
    let (m, _) = user_access(true, true, DATA + 8, cx8, "cmpxchg8b [ebx]");
    assert_eq!(vector(&m), 0x40, "cmpxchg8b 8-aligned");
    let (m, _) = user_access(true, false, DATA + 4, cx8, "cmpxchg8b [ebx]");
    assert_eq!(vector(&m), 0x40, "AC = 0: no check");
}

#[test]
fn ac_needs_am_and_ac_and_cpl3() {
    let load: &[u8] = &[0x8B, 0x03];
    let (m, _) = user_access(false, true, DATA + 1, load, "mov eax,[ebx]");
    assert_eq!(vector(&m), 0x40, "CR0.AM = 0");
    let (m, _) = user_access(true, false, DATA + 1, load, "mov eax,[ebx]");
    assert_eq!(vector(&m), 0x40, "EFLAGS.AC = 0");
    let (m, at) = user_access(true, true, DATA + 1, load, "mov eax,[ebx]");
    expect_ac_at(&m, at, "all three");

    // Ring 0 with AM and AC: no check.
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
    a.i(&[0x0D, 0x00, 0x00, 0x04, 0x00], "or eax,0x40000");
    a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    a.push_imm(AC | 2);
    a.i(&[0x9D], "popfd");
    a.mov_r32(3, DATA + 1);
    a.i(&[0x8B, 0x03], "mov eax,[ebx]");
    a.i(&[0x89, 0x03], "mov [ebx],eax");
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(vector(&m), 0xFFFF_FFFF, "no exception at CPL 0");
    assert_ne!(m.core.cpu.flags.bits & AC, 0, "POPF at CPL 0 set AC");
}

#[test]
fn popf_at_ring3_turns_checking_on_and_off() {
    // Ring 3 with AC = 0; POPF clears it (again), then sets it.
    let mut m = pm();
    to_user(&mut m, true, 0);
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 2);
    u.i(&[0x9C], "pushfd");
    u.i(
        &[0x81, 0x24, 0x24, 0xFF, 0xFF, 0xFB, 0xFF],
        "and dword [esp],0xfffbffff",
    );
    u.i(&[0x9D], "popfd"); // AC = 0
    u.i(&[0x8B, 0x03], "mov eax,[ebx]"); // misaligned, unchecked (fills the TLB)
    u.i(&[0x9C], "pushfd");
    u.i(
        &[0x81, 0x0C, 0x24, 0x00, 0x00, 0x04, 0x00],
        "or dword [esp],0x40000",
    );
    u.i(&[0x9D], "popfd"); // AC = 1 (POPF may change AC at any CPL)
    let at = u.here();
    u.i(&[0x8B, 0x03], "mov eax,[ebx]");
    u.int(0x40);
    run_user(&mut m, &u);
    expect_ac_at(&m, at, "after POPF set AC");
    assert_ne!(stack(&m, 3) & AC, 0, "saved EFLAGS has AC");
}

#[test]
fn stack_and_string_accesses_are_checked() {
    // PUSH with a misaligned ESP.
    let mut m = pm();
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.i(&[0x83, 0xEC, 0x02], "sub esp,2");
    let at = u.here();
    u.i(&[0x50], "push eax");
    u.int(0x40);
    run_user(&mut m, &u);
    expect_ac_at(&m, at, "push");
    assert_eq!(
        stack(&m, 4),
        STACK3 - 2,
        "ESP unchanged by the faulting PUSH"
    );

    // 16-bit pushes only need 2-byte alignment.
    let mut m = pm();
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.i(&[0x83, 0xEC, 0x02], "sub esp,2");
    u.i(&[0x66, 0x50], "push ax");
    u.int(0x40);
    run_user(&mut m, &u);
    assert_eq!(vector(&m), 0x40);

    // REP MOVSD from a misaligned source: the first element faults, ECX untouched.
    let mut m = pm();
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.mov_r32(6, DATA + 1);
    u.mov_r32(7, DATA + 0x100);
    u.mov_r32(1, 4);
    let at = u.here();
    u.i(&[0xF3, 0xA5], "rep movsd [edi],[esi]");
    u.int(0x40);
    run_user(&mut m, &u);
    expect_ac_at(&m, at, "rep movsd [edi],[esi]");
    assert_eq!(m.core.cpu.gpr[1], 4, "ECX");
}

#[test]
fn supervisor_pushes_of_a_ring3_event_are_not_checked() {
    // ESP0 is misaligned: the ring-0 pushes of the delivery are not user accesses.
    let mut m = pm();
    init_tss(&mut m, TSS_A, STACK0 - 2, true);
    assert!(m.core.mem.load(TSS_A + IOMAP_OFF, &vec![0xFF; 8193]));
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.int(0x40);
    run_user(&mut m, &u);
    assert_eq!(vector(&m), 0x40, "delivered, no #AC");
    assert_eq!(m.core.cpu.gpr[4], STACK0 - 2 - 20);
    // And #AC itself is delivered on that stack.
    let mut m = pm();
    init_tss(&mut m, TSS_A, STACK0 - 2, true);
    assert!(m.core.mem.load(TSS_A + IOMAP_OFF, &vec![0xFF; 8193]));
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 1);
    let at = u.here();
    u.i(&[0x8B, 0x03], "mov eax,[ebx]");
    run_user(&mut m, &u);
    expect_ac_at(&m, at, "on a misaligned ring-0 stack");
    assert_eq!(m.core.cpu.gpr[4], STACK0 - 2 - 24, "frame with error code");
}

#[test]
fn alignment_checking_survives_a_snapshot() {
    let mut m = pm();
    to_user(&mut m, true, AC);
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 1);
    let at = u.here();
    u.i(&[0x8B, 0x03], "mov eax,[ebx]");
    u.int(0x40);
    u.load(&mut m);
    while m.core.cpu.eip != at {
        m.step();
    }
    assert_eq!(m.core.cpu.cpl, 3);
    let snap = traplab::snapshot::save(&m);
    let mut r = traplab::snapshot::restore(&snap).expect("restore");
    assert_eq!(run(&mut r), RunExit::Halted);
    expect_ac_at(&r, at, "after restore");
}

#[test]
fn sysexit_to_ring3_and_sysenter_back_update_checking() {
    // SYSENTER_CS = K_CODE: SYSEXIT goes to CS = 0x18|3, SS = 0x20|3 (the fixture's
    // user selectors).
    let mut m = pm();
    m.core.cpu.msr.sysenter_cs = K_CODE as u32;
    m.core.cpu.msr.sysenter_esp = STACK0;
    m.core.cpu.msr.sysenter_eip = CODE2;
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
    a.i(&[0x0D, 0x00, 0x00, 0x04, 0x00], "or eax,0x40000");
    a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    a.push_imm(AC | 2);
    a.i(&[0x9D], "popfd");
    a.mov_r32(2, USER); // EDX = user EIP
    a.mov_r32(1, STACK3); // ECX = user ESP
    a.i(&[0x0F, 0x35], "sysexit");
    a.load(&mut m);
    // Ring 3 goes straight back to ring 0 (SYSENTER keeps AC: it clears VM, IF, RF).
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 2);
    u.i(&[0x0F, 0x34], "sysenter");
    u.load(&mut m);
    // Ring 0 again (SYSENTER): the same misaligned read is not checked.
    let mut k = Asm::new32(CODE2);
    k.i(&[0x8B, 0x03], "mov eax,[ebx]");
    k.hlt();
    k.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(vector(&m), 0xFFFF_FFFF, "no #AC at CPL 0 after SYSENTER");

    // Ring 3 after SYSEXIT: a misaligned read (through DS, still the flat ring-0 data
    // selector: the DPL of a loaded segment is not checked on use) is #AC.
    let mut m2 = pm();
    m2.core.cpu.msr.sysenter_cs = K_CODE as u32;
    a.load(&mut m2);
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 2);
    let at = u.here();
    u.i(&[0x8B, 0x03], "mov eax,[ebx]");
    u.load(&mut m2);
    assert_eq!(run(&mut m2), RunExit::Halted);
    expect_ac_at_sel(&m2, at, 0x18 | 3);
}

fn expect_ac_at_sel(m: &Machine, at: u32, cs: u32) {
    assert_eq!(vector(m), 17, "#AC");
    assert_eq!(stack(m, 1), at);
    assert_eq!(stack(m, 2), cs);
}

// ---- RF in the saved EFLAGS (SDM Vol. 3A 17.3.1.1) ----

#[test]
fn faults_save_rf_set() {
    // #UD (no error code): [EIP, CS, EFLAGS].
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    expect_vector(&mut m, 6);
    assert_ne!(stack(&m, 2) & RF, 0, "#UD: RF saved as 1");
    assert_eq!(m.core.cpu.flags.bits & RF, 0, "RF clear in the handler");

    // #GP (error code): [code, EIP, CS, EFLAGS].
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x26, 0xA1, 0, 0, 0, 0], "mov eax,es:[0]");
    a.load(&mut m);
    m.core.cpu.seg[traplab::mmu::segment::ES].valid = false;
    expect_vector(&mut m, 13);
    assert_ne!(stack(&m, 3) & RF, 0, "#GP: RF saved as 1");

    // #PF from ring 3 (privilege change): [code, EIP, CS, EFLAGS, ESP, SS].
    let mut m = pm();
    enable_paging(&mut m);
    set_pte(&mut m, DATA, 0);
    to_user(&mut m, false, 0);
    let mut u = Asm::new32(USER);
    u.load_eax(DATA);
    run_user(&mut m, &u);
    assert_eq!(vector(&m), 14);
    assert_ne!(stack(&m, 3) & RF, 0, "#PF: RF saved as 1");

    // #AC is a fault too.
    let (m, _) = user_access(true, true, DATA + 1, &[0x8B, 0x03], "mov eax,[ebx]");
    assert_eq!(vector(&m), 17);
    assert_ne!(stack(&m, 3) & RF, 0, "#AC: RF saved as 1");
}

#[test]
fn traps_and_interrupts_save_rf_as_it_is() {
    for (bytes, text, v) in [
        (&[0xCC][..], "int3", 3u8),
        (&[0xCD, 0x40][..], "int 0x40", 0x40),
        (&[0xF1][..], "int1", 1),
    ] {
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        a.i(bytes, text);
        a.load(&mut m);
        expect_vector(&mut m, v);
        assert_eq!(stack(&m, 2) & RF, 0, "{text}: RF saved as 0");
    }
    // Single-step trap.
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.push_imm(0x102);
    a.i(&[0x9D], "popfd");
    a.nop();
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_eq!(stack(&m, 2) & RF, 0, "single step: RF saved as 0");
}

#[test]
fn instruction_breakpoint_saves_rf_clear_general_detect_saves_it_set() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, CODE + 0x40);
    a.i(&[0x0F, 0x23, 0xC0], "mov dr0,eax");
    a.mov_r32(0, 1); // L0, execute
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    while a.here() < CODE + 0x40 {
        a.nop();
    }
    a.nop(); // the breakpoint
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_eq!(stack(&m, 0), CODE + 0x40);
    assert_eq!(
        stack(&m, 2) & RF,
        0,
        "instruction breakpoint: RF saved as is (0)"
    );

    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x2000); // GD
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    a.i(&[0x0F, 0x21, 0xC3], "mov ebx,dr0");
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_ne!(
        stack(&m, 2) & RF,
        0,
        "general detect is a fault: RF saved as 1"
    );
}

/// The point of RF: a #DE handler arms an instruction breakpoint on the faulting DIV and
/// returns to it; the DIV re-executes without a #DB because the saved RF was 1. If the
/// handler clears RF in the image, the breakpoint hits.
#[test]
fn iret_to_a_faulting_instruction_skips_its_breakpoint_once() {
    for clear_rf in [false, true] {
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        a.i(&[0x31, 0xC9], "xor ecx,ecx");
        a.i(&[0x31, 0xD2], "xor edx,edx");
        a.mov_r32(0, 7);
        let div = a.here();
        a.i(&[0xF7, 0xF1], "div ecx");
        a.i(&[0x89, 0xC6], "mov esi,eax");
        a.hlt();
        a.load(&mut m);
        set_idt(&mut m, 0, gate(K_CODE, CODE2, 0xE, 0, 0));
        let mut h = Asm::new32(CODE2);
        h.mov_r32(3, div);
        h.i(&[0x0F, 0x23, 0xC3], "mov dr0,ebx");
        h.mov_r32(3, 1);
        h.i(&[0x0F, 0x23, 0xFB], "mov dr7,ebx");
        h.mov_r32(1, 1);
        if clear_rf {
            h.i(
                &[0x81, 0x64, 0x24, 0x08, 0xFF, 0xFF, 0xFE, 0xFF],
                "and dword [esp+8],0xfffeffff",
            );
        }
        h.iretd();
        h.load(&mut m);
        assert_eq!(run(&mut m), RunExit::Halted);
        if clear_rf {
            assert_eq!(
                vector(&m),
                1,
                "RF cleared by the handler: the breakpoint hits"
            );
            assert_eq!(stack(&m, 0), div);
        } else {
            assert_eq!(vector(&m), 0xFFFF_FFFF, "no #DB");
            assert_eq!(m.core.cpu.gpr[6], 7, "the DIV completed: 7 / 1");
            assert_eq!(m.core.stats.exceptions[1], 0);
        }
    }
}

#[test]
fn a_task_switch_into_ring3_with_ac_turns_checking_on() {
    // Task B: ring 3 at USER with EFLAGS.AC = 1, all from its TSS.
    let mut m = pm();
    task_state(&mut m, TSS_B, USER, STACK3, AC | 2);
    for k in 0..6u32 {
        let sel = if k == 1 { U_CODE } else { U_DATA };
        w16(&mut m, TSS_B + 0x48 + 4 * k, sel);
    }
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
    a.i(&[0x0D, 0x00, 0x00, 0x04, 0x00], "or eax,0x40000");
    a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    a.jmp_far(SEL_TSS_B, 0);
    a.load(&mut m);
    let mut u = Asm::new32(USER);
    u.mov_r32(3, DATA + 2);
    let at = u.here();
    u.i(&[0x8B, 0x03], "mov eax,[ebx]");
    u.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_B);
    expect_ac_at(&m, at, "in the new task");
}

/// The hint-NOP space runs as NOPs, as on a CPU without the features later given to it
/// (SDM Vol. 2B NOP, "0F 1F /0" and the reserved NOPs 0F 18-1F; ENDBR32 is a NOP when CET
/// is off, Vol. 1 18.3): ENDBR32, PREFETCHh, a 0F 19 reserved NOP with a memory operand
/// that would fault if it were read, and CLDEMOTE. Found: libgcc's 64-bit division
/// helpers start with ENDBR32, which Traplab raised #UD on.
#[test]
fn hint_nops_are_nops() {
    let mut m = pm();
    let code: &[u8] = &[
        0xF3, 0x0F, 0x1E, 0xFB, // endbr32
        0xF3, 0x0F, 0x1E, 0xFA, // endbr64 (a NOP in 32-bit code too)
        0x0F, 0x18, 0x00, // prefetchnta [eax]
        0x0F, 0x18, 0x0D, 0x00, 0x00, 0x00, 0xF0, // prefetcht0 [0xF0000000]
        0x0F, 0x19, 0x05, 0x00, 0x00, 0x00, 0xF0, // reserved nop [0xF0000000]
        0x0F, 0x1C, 0x00, // cldemote [eax]
        0xF4, // hlt
    ];
    assert!(m.core.mem.load(CODE, code));
    let before = m.core.cpu.clone();
    for _ in 0..7 {
        m.step();
    }
    assert_eq!(r32(&m, RESULT), 0xFFFF_FFFF, "no exception was delivered");
    assert!(m.core.cpu.halted, "the HLT after them ran");
    let after = &m.core.cpu;
    assert_eq!(after.eip, CODE + code.len() as u32);
    assert_eq!(after.gpr, before.gpr);
    assert_eq!(after.flags.bits, before.flags.bits);
}

/// C4 and C5 are LES and LDS in 32-bit code; with a register ModRM they are the VEX
/// prefixes of later CPUs, which a Pentium II does not have: #UD (SDM Vol. 2A LDS/LES,
/// "#UD if the source operand is a register"). Traplab's decoder is built without the VEX
/// tables, so VZEROUPPER (C5 F8 77) and a 3-byte VEX form (C4 E2 79 18 C0, VBROADCASTSS)
/// must fault, while LDS with a memory operand still loads.
#[test]
fn vex_encodings_are_undefined_and_lds_still_loads() {
    for code in [&[0xC5u8, 0xF8, 0x77][..], &[0xC4, 0xE2, 0x79, 0x18, 0xC0]] {
        let mut m = pm();
        assert!(m.core.mem.load(CODE, code));
        m.step();
        m.step();
        assert_eq!(r32(&m, RESULT), 6, "{code:02X?}: #UD");
    }
    // lds eax, [DATA]: offset 0x12345678, selector K_DATA; then hlt.
    let mut m = pm();
    let mut code = vec![0xC5, 0x05];
    code.extend_from_slice(&DATA.to_le_bytes());
    code.push(0xF4);
    assert!(m.core.mem.load(CODE, &code));
    w32(&mut m, DATA, 0x1234_5678);
    w16(&mut m, DATA + 4, K_DATA);
    for _ in 0..2 {
        m.step();
    }
    assert_eq!(r32(&m, RESULT), 0xFFFF_FFFF, "no exception");
    assert_eq!(m.core.cpu.gpr[0], 0x1234_5678);
    assert!(m.core.cpu.halted);
}
