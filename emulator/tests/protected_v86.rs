//! Virtual-8086 mode (SDM Vol. 3A ch. 20): entering it with IRETD from ring 0, the
//! IOPL-sensitive instructions (CLI, STI, PUSHF, POPF, INT n, IRET) faulting with #GP(0)
//! when IOPL < 3, leaving it through an interrupt (ring-0 stack with the segment
//! registers pushed and nulled), and port I/O through the TSS I/O permission bitmap.

mod common;
use common::*;
use traplab::mmu::segment::{DS, ES};
use traplab::Machine;

const V86_CS: u16 = 0x1800; // linear CODE2
const V86_SS: u16 = 0x0900;
const V86_SP: u32 = 0x0FFE;
const V86_DS: u16 = 0x4000; // linear DATA

/// Ring-0 code at CODE that enters v8086 mode at V86_CS:0 with the given IOPL.
fn enter_v86(m: &mut Machine, iopl: u32, v86: &Asm) {
    let mut a = Asm::new32(CODE);
    a.push_imm(0); // GS
    a.push_imm(0); // FS
    a.push_imm(V86_DS as u32); // DS
    a.push_imm(0); // ES
    a.push_imm(V86_SS as u32);
    a.push_imm(V86_SP);
    a.push_imm(0x2_0002 | (iopl << 12)); // VM = 1
    a.push_imm(V86_CS as u32);
    a.push_imm(0);
    a.iretd();
    a.load(m);
    assert_eq!(v86.org, CODE2);
    v86.load(m);
}

#[test]
fn iopl_sensitive_instructions_fault_with_iopl_below_3() {
    let cases: [(&[u8], &str); 6] = [
        (&[0xFA], "cli"),
        (&[0xFB], "sti"),
        (&[0x9C], "pushf"),
        (&[0x9D], "popf"),
        (&[0xCD, 0x21], "int 0x21"),
        (&[0xCF], "iret"),
    ];
    for (bytes, text) in cases {
        let mut m = pm();
        let mut v = Asm::new16(CODE2);
        v.i(&[0x90], "nop");
        v.i(bytes, text);
        enter_v86(&mut m, 0, &v);
        expect_vector(&mut m, 13);
        // Frame on the ring-0 stack: error code, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
        assert_eq!(m.core.cpu.gpr[4], STACK0 - 40, "{text}");
        assert_eq!(stack(&m, 0), 0, "{text}: #GP(0)");
        assert_eq!(stack(&m, 1), 1, "{text}: IP of the faulting instruction");
        assert_eq!(stack(&m, 2), V86_CS as u32);
        assert_ne!(stack(&m, 3) & 0x2_0000, 0, "{text}: pushed EFLAGS.VM");
        assert_eq!(stack(&m, 4), V86_SP);
        assert_eq!(stack(&m, 5), V86_SS as u32);
        assert_eq!(stack(&m, 6), 0);
        assert_eq!(stack(&m, 7), V86_DS as u32);
        // Leaving v8086 mode: VM = 0, CPL 0, data segments nulled.
        assert_eq!(m.core.cpu.flags.bits & 0x2_0000, 0);
        assert_eq!(m.core.cpu.cpl, 0);
        assert!(!m.core.cpu.seg[DS].valid && m.core.cpu.seg[DS].sel == 0);
        assert!(!m.core.cpu.seg[ES].valid);
    }
}

#[test]
fn with_iopl_3_they_run_and_int_goes_through_the_idt() {
    let mut m = pm();
    user_gate(&mut m, 0x81);
    // INT 0x82: a ring-0 handler that IRETs back into v8086 mode.
    set_idt(&mut m, 0x82, gate(K_CODE, CODE, 0xE, 3, 0));
    let mut v = Asm::new16(CODE2);
    v.i(&[0xFA], "cli");
    v.i(&[0xFB], "sti");
    v.i(&[0x9C], "pushf");
    v.i(&[0x58], "pop ax");
    v.i(&[0xA3, 0x00, 0x00], "mov [0],ax");
    v.i(&[0xCD, 0x82], "int 0x82");
    v.i(&[0xB8, 0x34, 0x12], "mov ax,0x1234");
    v.i(&[0xCD, 0x81], "int 0x81");
    enter_v86(&mut m, 3, &v);
    // The INT 0x82 handler (placed after the entry code): just IRETD.
    let mut h = Asm::new32(CODE + 0x100);
    h.iretd();
    h.load(&mut m);
    set_idt(&mut m, 0x82, gate(K_CODE, CODE + 0x100, 0xE, 3, 0));
    expect_vector(&mut m, 0x81);
    assert_eq!(r16(&m, DATA), 0x3202, "PUSHF in v86: IOPL 3, IF 1, no VM");
    assert_eq!(
        m.core.cpu.gpr[0] & 0xFFFF,
        0x1234,
        "came back to v86 after INT 0x82"
    );
    assert_eq!(m.core.stats.interrupts[0x82], 1);
    assert_ne!(stack(&m, 2) & 0x2_0000, 0);
    assert_eq!(
        stack(&m, 6),
        V86_DS as u32,
        "DS pushed again by the second exit"
    );
}

#[test]
fn int_from_v86_to_a_dpl0_gate_is_gp() {
    let mut m = pm();
    let mut v = Asm::new16(CODE2);
    v.i(&[0xCD, 0x30], "int 0x30");
    enter_v86(&mut m, 3, &v);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0x30 * 8 + 2);
}

/// Allows port `p` in the I/O bitmap of TSS A.
fn allow_port(m: &mut Machine, p: u16) {
    let a = TSS_A + IOMAP_OFF + p as u32 / 8;
    let b = m.core.mem.read(a, 1) as u8;
    w8(m, a, b & !(1 << (p % 8)));
}

#[test]
fn io_bitmap_in_v86_mode() {
    let mut m = pm();
    allow_port(&mut m, 0x80);
    let mut v = Asm::new16(CODE2);
    v.i(&[0xE4, 0x80], "in al,0x80");
    v.i(&[0xE6, 0x80], "out 0x80,al");
    let bad = v.here() - CODE2;
    v.i(&[0xE5, 0x80], "in ax,0x80"); // 0x81 is denied
    enter_v86(&mut m, 3, &v); // IOPL does not matter for I/O in v86
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0);
    assert_eq!(stack(&m, 1), bad);
}

#[test]
fn io_in_ring3_uses_iopl_then_the_bitmap() {
    // IOPL 0, CPL 3: the bitmap decides.
    let mut m = pm();
    user_gate(&mut m, 0x81);
    allow_port(&mut m, 0x80);
    let mut a = Asm::new32(CODE);
    a.i(&[0xE4, 0x80], "in al,0x80");
    a.i(&[0x66, 0xBA, 0x81, 0x00], "mov dx,0x81");
    let bad = a.here();
    a.i(&[0xEC], "in al,dx");
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 1), bad);

    // IOPL 3: no bitmap check at all.
    let mut m = pm();
    user_gate(&mut m, 0x81);
    let mut a = Asm::new32(CODE);
    a.i(&[0xE4, 0x81], "in al,0x81");
    a.i(&[0x66, 0xE7, 0x70], "out 0x70,ax");
    a.int(0x81);
    a.load(&mut m);
    to_ring3(&mut m);
    m.core.cpu.flags.set(0x3002);
    expect_vector(&mut m, 0x81);

    // CLI at CPL 3 with IOPL 0 in protected mode: #GP(0) as well.
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.i(&[0xFA], "cli");
    a.load(&mut m);
    to_ring3(&mut m);
    expect_vector(&mut m, 13);
}
