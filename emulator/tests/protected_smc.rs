//! Self-modifying code: a store into the very next instruction (or into an instruction
//! already decoded and cached) must take effect before it executes (SDM Vol. 3A 8.1.3:
//! the processor detects writes to code it has prefetched).

mod common;
use common::*;
use traplab::mmu::segment::{Seg, CS, DS};
use traplab::{Machine, MachineConfig, RunExit};

#[test]
fn store_into_the_next_instruction_protected_mode() {
    let mut m = pm();
    // mov byte [CODE+8], 0x42 is 7 bytes; the next instruction `mov al,0` starts at
    // CODE+7 and its immediate byte is at CODE+8.
    let mut a = Asm::new32(CODE);
    a.i(
        &[0xC6, 0x05, 0x08, 0x00, 0x01, 0x00, 0x42],
        "mov byte [0x10008],0x42",
    );
    a.i(&[0xB0, 0x00], "mov al,0");
    a.hlt();
    a.load(&mut m);
    m.core.cpu.gpr[0] = 0xFFFF_FFFF;
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.gpr[0] & 0xFF, 0x42, "the new bytes executed");
}

#[test]
fn store_into_the_next_instruction_real_mode() {
    let mut m = Machine::new(MachineConfig::default());
    let mut cs = Seg::real(0x1000);
    cs.attr |= 8;
    m.core.cpu.seg[CS] = cs;
    m.core.cpu.seg[DS] = Seg::real(0x1000);
    m.core.cpu.eip = 0;
    let mut a = Asm::new16(0x10000);
    a.i(&[0xC6, 0x06, 0x06, 0x00, 0x42], "mov byte [6],0x42");
    a.i(&[0xB0, 0x00], "mov al,0"); // at offset 5; immediate at 6
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.gpr[0] & 0xFF, 0x42);
}

#[test]
fn patching_an_already_cached_loop_body() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(1, 2);
    a.mov_r32(3, 0);
    let top = a.here(); // CODE + 10
    a.i(&[0xB0, 0x00], "mov al,0");
    a.i(&[0x00, 0xC3], "add bl,al");
    a.i(
        &[0xC6, 0x05, 0x0B, 0x00, 0x01, 0x00, 0x05],
        "mov byte [0x1000b],5",
    );
    a.i(&[0x49], "dec ecx");
    let rel = (top as i64 - (a.here() as i64 + 2)) as i8 as u8;
    a.i(&[0x75, rel], &format!("jne 0x{top:x}"));
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    // First pass adds 0, second pass runs the patched `mov al,5`.
    assert_eq!(m.core.cpu.gpr[3] & 0xFF, 5);
}

/// The same bytes reached at two different EIPs (0000:7C00 and 07C0:0000, one physical
/// address): relative branch targets are EIP values, so the second run must not reuse the
/// first run's decode.
#[test]
fn same_bytes_at_another_cs_base_branch_relative_to_their_own_eip() {
    let mut m = Machine::new(MachineConfig::default());
    // jmp short +1 (over a hlt); hlt
    m.core.mem.load(0x7C00, &[0xEB, 0x01, 0xF4, 0xF4]);
    for (sel, ip) in [(0x0000u16, 0x7C00u32), (0x07C0, 0)] {
        let mut cs = Seg::real(sel);
        cs.attr |= 8;
        m.core.cpu.seg[CS] = cs;
        m.core.cpu.eip = ip;
        m.core.cpu.halted = false;
        assert_eq!(run(&mut m), RunExit::Halted, "CS={sel:#x}");
        assert_eq!(
            m.core.cpu.eip,
            ip + 4,
            "CS={sel:#x}: the jump lands on the second hlt"
        );
    }
}
