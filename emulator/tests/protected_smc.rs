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
