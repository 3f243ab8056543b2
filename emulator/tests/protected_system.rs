//! System instructions: CPUID, RDTSC (virtual time, CR4.TSD), RDMSR/WRMSR, SYSENTER and
//! SYSEXIT, LAR/LSL/VERR/VERW/ARPL, the descriptor-table stores, privileged instructions
//! at CPL 3, CLTS, and the debug registers (instruction and data breakpoints, DR6, RF).

mod common;
use common::*;
use traplab::mmu::segment::SS;
use traplab::RunExit;

fn run_halt(m: &mut traplab::Machine) {
    let exit = run(m);
    assert_eq!(exit, RunExit::Halted, "eip {:#x}", m.core.cpu.eip);
}

#[test]
fn cpuid_vendor_and_features() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x31, 0xC0], "xor eax,eax");
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0xC6], "mov esi,eax");
    a.i(&[0x89, 0xDD], "mov ebp,ebx");
    a.i(&[0x89, 0xD7], "mov edi,edx");
    a.i(&[0x89, 0x0D, 0x00, 0x00, 0x04, 0x00], "mov [0x40000],ecx");
    a.mov_r32(0, 1);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.hlt();
    a.load(&mut m);
    run_halt(&mut m);
    let c = &m.core.cpu;
    let mut vendor = Vec::new();
    vendor.extend_from_slice(&c.gpr[5].to_le_bytes()); // EBX
    vendor.extend_from_slice(&c.gpr[7].to_le_bytes()); // EDX
    vendor.extend_from_slice(&r32(&m, DATA).to_le_bytes()); // ECX
    assert_eq!(&vendor, b"TraplabCPU  ");
    assert!(c.gpr[6] >= 1, "max leaf");
    let edx = c.gpr[2];
    assert_eq!(edx & (1 << 1), 0, "no VME: not implemented");
    assert_eq!(edx & (1 << 2), 0, "no DE: not implemented");
    assert_eq!(edx & (1 << 23 | 1 << 25), 0, "no MMX, no SSE");
    // FPU, PSE, TSC, MSR, CX8, SEP, PGE, CMOV, FXSR (x87/fxsr.rs).
    for bit in [0, 3, 4, 5, 8, 11, 13, 15, 24] {
        assert_ne!(edx & (1 << bit), 0, "feature bit {bit}");
    }
    assert_eq!(c.gpr[0] >> 8 & 0xF, 6, "family 6");
}

#[test]
fn cr4_bits_that_are_not_implemented_are_gp() {
    for bit in [0u32, 1, 3] {
        // VME, PVI, DE
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        a.mov_r32(0, 1 << bit);
        a.i(&[0x0F, 0x22, 0xE0], "mov cr4,eax");
        a.load(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(m.core.cpu.cr4, 0);
    }
    // PSE is fine.
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x10);
    a.i(&[0x0F, 0x22, 0xE0], "mov cr4,eax");
    a.hlt();
    a.load(&mut m);
    run_halt(&mut m);
    assert_eq!(m.core.cpu.cr4, 0x10);
}

#[test]
fn rdtsc_counts_virtual_time_and_wrmsr_sets_it() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x31], "rdtsc");
    a.i(&[0x89, 0xC6], "mov esi,eax");
    a.nop();
    a.nop();
    a.i(&[0x0F, 0x31], "rdtsc");
    a.i(&[0x29, 0xF0], "sub eax,esi");
    a.i(&[0x89, 0xC3], "mov ebx,eax");
    // TSC := 1000 (MSR 0x10); the next RDTSC sees 1000 + 1 retired instruction.
    a.mov_r32(1, 0x10);
    a.mov_r32(0, 1000);
    a.i(&[0x31, 0xD2], "xor edx,edx");
    a.i(&[0x0F, 0x30], "wrmsr");
    a.i(&[0x0F, 0x31], "rdtsc");
    a.hlt();
    a.load(&mut m);
    run_halt(&mut m);
    assert_eq!(m.core.cpu.gpr[3], 4, "one tick per retired instruction");
    assert_eq!(m.core.cpu.gpr[0], 1001);
    assert_eq!(m.core.cpu.gpr[2], 0);
}

#[test]
fn rdtsc_with_tsd_is_privileged() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x31], "rdtsc");
    a.load(&mut m);
    m.core.cpu.cr4 = 4; // TSD
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    // Without TSD ring 3 may read it.
    let mut m = pm();
    user_gate(&mut m, 0x81);
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x31], "rdtsc");
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 0x81);
}

#[test]
fn msrs_round_trip_and_unknown_msrs_fault() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    for (msr, v) in [(0x174u32, 0x08u32), (0x175, STACK0), (0x176, CODE2)] {
        a.mov_r32(1, msr);
        a.mov_r32(0, v);
        a.i(&[0x31, 0xD2], "xor edx,edx");
        a.i(&[0x0F, 0x30], "wrmsr");
    }
    a.mov_r32(1, 0x175);
    a.i(&[0x0F, 0x32], "rdmsr");
    a.i(&[0x89, 0xC3], "mov ebx,eax");
    a.mov_r32(1, 0x1B);
    a.i(&[0x0F, 0x32], "rdmsr");
    a.i(&[0x89, 0xC7], "mov edi,eax");
    a.mov_r32(1, 0xC000_0080);
    a.i(&[0x0F, 0x32], "rdmsr");
    a.i(&[0x89, 0xC6], "mov esi,eax");
    a.mov_r32(1, 0x1234);
    a.i(&[0x0F, 0x32], "rdmsr"); // unknown: #GP(0)
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0);
    let c = &m.core.cpu;
    assert_eq!(c.gpr[3], STACK0);
    assert_eq!(c.gpr[7], 0xFEE0_0900, "APIC base: BSP, enabled");
    assert_eq!(c.gpr[6], 0, "EFER");
    assert_eq!((c.msr.sysenter_cs, c.msr.sysenter_eip), (0x08, CODE2));

    // RDMSR at CPL 3: #GP(0).
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(1, 0x10);
    a.i(&[0x0F, 0x32], "rdmsr");
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
}

/// IRPerfCount (AMD APM vol. 2, CPUID Fn8000_0008_EBX[1], MSR 0xC000_00E9): offered by
/// CPUID, it reads the instructions retired since power-on; two reads with N instructions
/// between them differ by N + 1 (the first RDMSR retires after it read the count). It is
/// read-only here (a documented departure: a write is #GP(0)).
#[test]
fn irperf_count_reads_instructions_retired() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x8000_0008);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0xDD], "mov ebp,ebx");
    a.mov_r32(1, 0xC000_00E9);
    a.i(&[0x0F, 0x32], "rdmsr");
    a.i(&[0x89, 0xC6], "mov esi,eax");
    for _ in 0..5 {
        a.i(&[0x90], "nop");
    }
    a.i(&[0x0F, 0x32], "rdmsr");
    a.i(&[0x89, 0xC7], "mov edi,eax");
    a.i(&[0x0F, 0x30], "wrmsr"); // read-only: #GP(0)
    a.load(&mut m);
    expect_vector(&mut m, 13);
    let c = &m.core.cpu;
    assert_ne!(
        c.gpr[5] & (1 << 1),
        0,
        "CPUID 8000_0008 EBX[1]: InstRetCntMsr"
    );
    assert_eq!(
        c.gpr[7].wrapping_sub(c.gpr[6]),
        7,
        "the first rdmsr, mov esi, 5 nop"
    );
    assert!(u64::from(c.gpr[6]) < m.core.icount, "counts from power-on");
    assert_eq!(c.gpr[2], 0, "high half: fewer than 2^32 instructions");
}

#[test]
fn sysenter_and_sysexit() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    m.core.cpu.msr.sysenter_cs = K_CODE as u32;
    m.core.cpu.msr.sysenter_esp = STACK0;
    m.core.cpu.msr.sysenter_eip = CODE2;
    let mut k = Asm::new32(CODE2);
    k.i(&[0x89, 0x25, 0x00, 0x00, 0x04, 0x00], "mov [0x40000],esp");
    k.i(&[0x8C, 0xC8], "mov eax,cs");
    k.store_eax(DATA + 4);
    k.mov_r32(2, CODE + 0x20); // EDX = return EIP
    k.mov_r32(1, STACK3 - 0x10); // ECX = return ESP
    k.i(&[0x0F, 0x35], "sysexit");
    k.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x34], "sysenter");
    a.load(&mut m);
    let mut b = Asm::new32(CODE + 0x20);
    b.int(0x81);
    b.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 0x81);
    assert_eq!(r32(&m, DATA), STACK0);
    assert_eq!(r32(&m, DATA + 4) & 0xFFFF, K_CODE as u32);
    assert_eq!(stack(&m, 1), (K_CODE as u32 + 16) | 3, "SYSEXIT CS");
    assert_eq!(stack(&m, 3), STACK3 - 0x10);
    assert_eq!(stack(&m, 4), (K_CODE as u32 + 24) | 3, "SYSEXIT SS");

    // SYSENTER with IA32_SYSENTER_CS = 0: #GP(0); SYSEXIT at CPL 3: #GP(0).
    for (bytes, text, cs) in [
        (&[0x0F, 0x34], "sysenter", 0),
        (&[0x0F, 0x35], "sysexit", 8),
    ] {
        let mut m = pm();
        m.core.cpu.msr.sysenter_cs = cs;
        let mut a = Asm::new32(CODE);
        a.i(bytes, text);
        a.load(&mut m);
        to_ring3(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 0), 0);
    }
}

#[test]
fn lar_lsl_verr_verw_arpl() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    set_gdt(&mut m, FREE, seg_desc(0x1234, 0xFF, 0xF2, 0x4)); // DPL 3 data, limit 0xFF
    set_gdt(&mut m, FREE + 8, seg_desc(0, 0xFFFFF, 0xF8, 0xC)); // DPL 3 execute-only
    let mut a = Asm::new32(CODE);
    a.mov_r32(1, U_CODE as u32);
    a.i(&[0x0F, 0x02, 0xC1], "lar eax,ecx");
    a.store_eax(DATA);
    a.mov_r32(1, K_CODE as u32); // DPL 0: invisible at CPL 3
    a.mov_r32(0, 0x5555);
    a.i(&[0x0F, 0x02, 0xC1], "lar eax,ecx");
    a.i(&[0x9C], "pushfd");
    a.i(&[0x8F, 0x05, 0x04, 0x00, 0x04, 0x00], "pop dword [0x40004]");
    a.mov_r32(1, FREE as u32 | 3);
    a.i(&[0x0F, 0x03, 0xD1], "lsl edx,ecx");
    a.i(&[0x0F, 0x00, 0xE1], "verr cx");
    a.i(&[0x9C], "pushfd");
    a.i(&[0x8F, 0x05, 0x08, 0x00, 0x04, 0x00], "pop dword [0x40008]");
    a.mov_r32(1, (FREE + 8) as u32 | 3);
    a.i(&[0x0F, 0x00, 0xE1], "verr cx"); // execute-only: not readable
    a.i(&[0x9C], "pushfd");
    a.i(&[0x8F, 0x05, 0x0C, 0x00, 0x04, 0x00], "pop dword [0x4000c]");
    a.i(&[0x0F, 0x00, 0xE9], "verw cx"); // code: never writable
    a.i(&[0x9C], "pushfd");
    a.i(&[0x8F, 0x05, 0x10, 0x00, 0x04, 0x00], "pop dword [0x40010]");
    a.mov_r32(3, 0x10);
    a.mov_r32(6, 0x13);
    a.i(&[0x63, 0xF3], "arpl bx,si");
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 0x81);
    let zf = |a: u32| r32(&m, a) & 0x40 != 0;
    assert_eq!(
        r32(&m, DATA),
        0x00CF_FA00 & 0x00FF_FF00,
        "LAR of the user code"
    );
    assert!(!zf(DATA + 4), "LAR of a DPL-0 selector at CPL 3 fails");
    assert_eq!(
        m.core.cpu.gpr[0], 0x5555,
        "failed LAR leaves the destination"
    );
    assert_eq!(m.core.cpu.gpr[2], 0xFF, "LSL");
    assert!(zf(DATA + 8), "VERR data");
    assert!(!zf(DATA + 12), "VERR execute-only code");
    assert!(!zf(DATA + 16), "VERW code");
    assert_eq!(m.core.cpu.gpr[3], 0x13, "ARPL raised the RPL");
    assert_ne!(stack(&m, 2) & 0x40, 0, "ARPL set ZF");
}

#[test]
fn table_stores_work_in_ring3_and_loads_do_not() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    m.core.cpu.cr0 |= 8; // TS, visible through SMSW
    let mut a = Asm::new32(CODE);
    a.i(
        &[0x0F, 0x01, 0x05, 0x00, 0x00, 0x04, 0x00],
        "sgdt [0x40000]",
    );
    a.i(
        &[0x0F, 0x01, 0x0D, 0x08, 0x00, 0x04, 0x00],
        "sidt [0x40008]",
    );
    a.i(&[0x0F, 0x00, 0xC8], "str eax");
    a.i(&[0x0F, 0x00, 0xC3], "sldt ebx");
    a.i(&[0x0F, 0x01, 0xE1], "smsw ecx");
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    m.core.cpu.gpr[3] = 0xFFFF_FFFF;
    expect_vector(&mut m, 0x81);
    assert_eq!(r16(&m, DATA), GDT_LIMIT);
    assert_eq!(r32(&m, DATA + 2), GDT);
    assert_eq!(r16(&m, DATA + 8), 0x7FF);
    assert_eq!(r32(&m, DATA + 10), IDT);
    assert_eq!(m.core.cpu.gpr[0], SEL_TSS_A as u32);
    assert_eq!(m.core.cpu.gpr[3], 0);
    assert_eq!(m.core.cpu.gpr[1] & 0xF, 0x9, "PE | TS");

    let privileged: [(&[u8], &str); 8] = [
        (
            &[0x0F, 0x01, 0x15, 0x00, 0x00, 0x04, 0x00],
            "lgdt [0x40000]",
        ),
        (
            &[0x0F, 0x01, 0x1D, 0x00, 0x00, 0x04, 0x00],
            "lidt [0x40000]",
        ),
        (&[0x0F, 0x00, 0xD0], "lldt ax"),
        (&[0x0F, 0x00, 0xD8], "ltr ax"),
        (&[0x0F, 0x20, 0xC0], "mov eax,cr0"),
        (&[0x0F, 0x23, 0xF8], "mov dr7,eax"),
        (&[0x0F, 0x06], "clts"),
        (
            &[0x0F, 0x01, 0x3D, 0x00, 0x00, 0x04, 0x00],
            "invlpg [0x40000]",
        ),
    ];
    for (bytes, text) in privileged {
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        a.i(bytes, text);
        a.load(&mut m);
        to_ring3(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 0), 0, "{text}");
        assert_eq!(stack(&m, 1), CODE, "{text}");
    }
}

#[test]
fn clts_and_ltr_lldt_at_ring0() {
    let mut m = pm();
    m.core.cpu.cr0 |= 8;
    let ldt = 0x5000;
    set_gdt(&mut m, FREE, seg_desc(ldt, 0xF, 0x82, 0));
    let mut a = Asm::new32(CODE);
    a.i(&[0x0F, 0x06], "clts");
    a.mov_r32(0, FREE as u32);
    a.i(&[0x0F, 0x00, 0xD0], "lldt ax");
    a.mov_r32(0, SEL_TSS_B as u32);
    a.i(&[0x0F, 0x00, 0xD8], "ltr ax");
    a.i(&[0x0F, 0x00, 0xD8], "ltr ax"); // now busy: #GP(sel)
    a.load(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), SEL_TSS_B as u32);
    assert_eq!(m.core.cpu.cr0 & 8, 0);
    assert_eq!(m.core.cpu.ldtr.base, ldt);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_B);
    assert_eq!(gdt_type(&m, SEL_TSS_B), 0xB);
}

#[test]
fn instruction_breakpoint_faults_and_rf_resumes() {
    let mut m = pm();
    // #DB handler: record DR6, set RF in the pushed EFLAGS, IRETD.
    set_idt(&mut m, 1, gate(K_CODE, CODE2, 0xE, 0, 0));
    let mut h = Asm::new32(CODE2);
    h.i(&[0x0F, 0x21, 0xF0], "mov eax,dr6");
    h.store_eax(DATA);
    h.i(&[0x8B, 0x04, 0x24], "mov eax,[esp]");
    h.store_eax(DATA + 4);
    h.i(
        &[0x81, 0x4C, 0x24, 0x08, 0x00, 0x00, 0x01, 0x00],
        "or dword [esp+8],0x10000",
    );
    h.iretd();
    h.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0); // replaced below once the target address is known
    a.load(&mut m);
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, CODE + 0x20);
    a.i(&[0x0F, 0x23, 0xC8], "mov dr1,eax");
    a.mov_r32(0, 1 << 2); // L1, R/W1 = 00 (execute), LEN1 = 00
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    a.mov_r32(3, 0);
    a.load(&mut m);
    let mut b = Asm::new32(CODE + a.bytes.len() as u32);
    while b.here() < CODE + 0x20 {
        b.nop();
    }
    b.i(&[0x43], "inc ebx"); // the breakpoint
    b.i(&[0x43], "inc ebx");
    b.hlt();
    b.load(&mut m);
    run_halt(&mut m);
    assert_eq!(
        m.core.cpu.gpr[3], 2,
        "the instruction ran once after the #DB"
    );
    assert_eq!(m.core.stats.exceptions[1], 1, "one #DB");
    assert_eq!(r32(&m, DATA) & 0xF, 0b0010, "DR6.B1");
    assert_eq!(
        r32(&m, DATA + 4),
        CODE + 0x20,
        "fault: EIP = the breakpoint"
    );
    assert_eq!(
        m.core.cpu.flags.bits & 0x10000,
        0,
        "RF cleared after one instruction"
    );
}

#[test]
fn data_breakpoints_trap_after_the_access() {
    // DR0 = DATA, R/W0 = 01 (writes), LEN0 = 11 (4 bytes).
    let dr7 = 1 | (0b01 << 16) | (0b11 << 18);
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, DATA);
    a.i(&[0x0F, 0x23, 0xC0], "mov dr0,eax");
    a.mov_r32(0, dr7);
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    a.load_eax(DATA); // a read: no trap for R/W = 01
    a.store_eax(DATA + 4); // outside the 4 bytes
    a.i(
        &[0x66, 0x89, 0x05, 0x02, 0x00, 0x04, 0x00],
        "mov [0x40002],ax",
    ); // overlaps
    let after = a.here();
    a.hlt();
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_eq!(stack(&m, 0), after, "data breakpoint is a trap");
    assert_eq!(m.core.cpu.dr[6] & 0xF, 1, "DR6.B0");

    // R/W = 11 also catches reads, including PUSH/POP's implicit stack accesses.
    let dr7 = 1 | (0b11 << 16) | (0b11 << 18);
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, STACK_INIT - 4);
    a.i(&[0x0F, 0x23, 0xC0], "mov dr0,eax");
    a.mov_r32(0, dr7);
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    a.nop();
    a.i(&[0x50], "push eax");
    let after = a.here();
    a.hlt();
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_eq!(stack(&m, 0), after);
}

#[test]
fn general_detect_faults_on_debug_register_access() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x2000); // GD
    a.i(&[0x0F, 0x23, 0xF8], "mov dr7,eax");
    let at = a.here();
    a.i(&[0x0F, 0x21, 0xC3], "mov ebx,dr0");
    a.load(&mut m);
    expect_vector(&mut m, 1);
    assert_eq!(stack(&m, 0), at, "#DB fault: EIP = the MOV DR");
    assert_ne!(m.core.cpu.dr[6] & (1 << 13), 0, "DR6.BD");
    assert_eq!(
        m.core.cpu.dr[7] & (1 << 13),
        0,
        "GD cleared for the handler"
    );
}

#[test]
fn outs_and_ins_check_the_io_bitmap() {
    for (bytes, text) in [(&[0x6E], "outsb dx,[esi]"), (&[0x6C], "insb [edi],dx")] {
        let mut m = pm();
        let mut a = Asm::new32(CODE);
        a.i(&[0x66, 0xBA, 0x81, 0x00], "mov dx,0x81");
        a.mov_r32(6, DATA);
        a.mov_r32(7, DATA);
        let at = a.here();
        a.i(bytes, text);
        a.load(&mut m);
        to_ring3(&mut m);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 1), at, "{text}");
        assert_eq!(m.core.cpu.gpr[6], DATA, "{text}: ESI unchanged");
        assert_eq!(m.core.cpu.gpr[7], DATA, "{text}: EDI unchanged");
    }
}

/// ENTER with a 32-bit operand size on a 16-bit stack segment (SS.B = 0) writes only BP:
/// bits 31:16 of EBP are kept. SDM Vol. 2A ENTER: "The stack-size attribute determines
/// whether the BP (16 bits) or EBP (32 bits) register specifies the current frame pointer";
/// test386.asm (barotto/test386.asm), whose expected results were checked on real
/// processors, found that Traplab zero-extended SP into EBP instead.
#[test]
fn enter_32_on_a_16_bit_stack_writes_only_bp() {
    let mut m = pm();
    // A 16-bit (B = 0), byte-granular, writable data segment at 0 for SS.
    set_gdt(&mut m, FREE, seg_desc(0, 0xFFFF, 0x92, 0));
    load(&mut m, SS, FREE);
    m.core.cpu.gpr[4] = 0x1234_7000;
    m.core.cpu.gpr[5] = 0xDEAD_BEEF;
    let mut a = Asm::new32(CODE);
    a.i(&[0xC8, 0x08, 0x00, 0x00], "enter 8,0");
    a.i(&[0xC8, 0x04, 0x00, 0x01], "enter 4,1");
    a.hlt();
    a.load(&mut m);
    run_halt(&mut m);
    let c = &m.core.cpu;
    // First ENTER: push EBP at SS:0x6FFC, BP = 0x6FFC, SP -= 8.
    assert_eq!(r32(&m, 0x6FFC), 0xDEAD_BEEF, "old EBP pushed as a dword");
    // Second ENTER (level 1): push EBP (0xDEAD6FFC) at 0x6FF0, push the frame (0x6FF0)
    // at 0x6FEC, BP = 0x6FF0, SP = 0x6FEC - 4.
    assert_eq!(r32(&m, 0x6FF0), 0xDEAD_6FFC, "EBP after the first ENTER");
    assert_eq!(
        r32(&m, 0x6FEC),
        0x0000_6FF0,
        "frame pointer pushed at 32 bits"
    );
    assert_eq!(c.gpr[5], 0xDEAD_6FF0, "EBP keeps bits 31:16");
    assert_eq!(c.gpr[4], 0x1234_6FE8, "ESP keeps bits 31:16 (16-bit stack)");

    // On a 32-bit stack the whole EBP is written, as before.
    let mut m = pm();
    m.core.cpu.gpr[4] = 0x7000;
    m.core.cpu.gpr[5] = 0xDEAD_BEEF;
    let mut a = Asm::new32(CODE);
    a.i(&[0xC8, 0x08, 0x00, 0x00], "enter 8,0");
    a.hlt();
    a.load(&mut m);
    run_halt(&mut m);
    assert_eq!(m.core.cpu.gpr[5], 0x6FFC);
    assert_eq!(m.core.cpu.gpr[4], 0x6FF4);
}
