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

/// The loop of the tests below: `mov ebx, imm32` at 0x10FFD crosses into the page at
/// 0x11000 (its immediate's bytes at 0x10FFE-0x11001), then `add eax, ebx`, a store of
/// `patch` (address, byte), `dec ecx`, `jnz` back to the `mov`, `hlt`. Entered at CODE with
/// ECX = 3, EAX = 0, the immediate 1.
fn crossing_loop(m: &mut Machine, patch: (u32, u8)) {
    let start = 0x10FFD;
    // CODE: jmp start
    let rel = start - (CODE + 5);
    let mut jmp = vec![0xE9];
    jmp.extend_from_slice(&rel.to_le_bytes());
    assert!(m.core.mem.load(CODE, &jmp));
    let mut body = vec![0xBB, 1, 0, 0, 0, 0x01, 0xD8, 0xC6, 0x05];
    body.extend_from_slice(&patch.0.to_le_bytes());
    body.push(patch.1);
    body.push(0x49);
    let back = start as i64 - (start as i64 + body.len() as i64 + 2);
    body.extend_from_slice(&[0x75, back as i8 as u8, 0xF4]);
    assert!(m.core.mem.load(start, &body));
    m.core.cpu.gpr[0] = 0;
    m.core.cpu.gpr[1] = 3;
}

/// An instruction across a page boundary is decoded once and cached as a block of its
/// own, which a write to either of its pages drops: the second and third passes run the
/// patched immediate, whichever page the patched byte is in.
#[test]
fn an_instruction_across_pages_is_cached_and_dropped_by_writes_to_either_page() {
    for (patch, imm) in [((0x11001, 2), 0x0200_0001u32), ((0x10FFE, 2), 2)] {
        let mut m = pm();
        enable_paging(&mut m);
        crossing_loop(&mut m, patch);
        assert_eq!(run(&mut m), RunExit::Halted, "{patch:x?}");
        assert_eq!(
            m.core.cpu.gpr[0],
            1u32.wrapping_add(2u32.wrapping_mul(imm)),
            "{patch:x?}: the later passes ran the patched immediate"
        );
    }
    // Unpatched (the store writes a byte of data), the instruction is decoded once and
    // found in the cache on the later passes.
    let mut m = pm();
    enable_paging(&mut m);
    crossing_loop(&mut m, (DATA, 2));
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.gpr[0], 3);
    let built = m.cache.blocks.iter().filter(|b| b.ip == 0x10FFD).count();
    assert_eq!(
        built, 1,
        "one block for the crossing instruction, built once"
    );
    let k = traplab::cpu::cache::key(0x10FFD, true);
    assert_eq!(
        m.cache.lookup_cross(k, 0x10FFD).map(|(_, frame)| frame),
        Some(0x11000)
    );
}

/// A cached crossing instruction is used only while its second page translates to the
/// frame it was decoded from: remapped (and INVLPG'd), the new frame's bytes run; not
/// present, the fetch faults with CR2 at the second page.
#[test]
fn an_instruction_across_pages_follows_the_second_pages_translation() {
    let mut m = pm();
    enable_paging(&mut m);
    crossing_loop(&mut m, (DATA, 2));
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(m.core.cpu.gpr[0], 3);
    // The page at 0x11000 now maps a copy of it whose immediate byte at 0x11001 is 7:
    // INVLPG [0x11000] then the loop again.
    let frame = 0x60000;
    let copy = m.core.mem.peek(0x11000, 0x1000);
    assert!(m.core.mem.load(frame, &copy));
    w8(&mut m, frame + 1, 7);
    set_pte(&mut m, 0x11000, frame | 7);
    let invlpg = [0x0F, 0x01, 0x3D, 0x00, 0x10, 0x01, 0x00];
    assert!(m.core.mem.load(CODE2, &invlpg));
    let rel = 0x10FFDu32.wrapping_sub(CODE2 + 7 + 5);
    let mut jmp = vec![0xE9];
    jmp.extend_from_slice(&rel.to_le_bytes());
    assert!(m.core.mem.load(CODE2 + 7, &jmp));
    m.core.cpu.eip = CODE2;
    m.core.cpu.halted = false;
    m.core.cpu.gpr[0] = 0;
    m.core.cpu.gpr[1] = 1;
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(
        m.core.cpu.gpr[0], 0x0700_0001,
        "the remapped page's bytes ran"
    );
    // Not present: #PF at the instruction, CR2 the first byte it could not fetch.
    set_pte(&mut m, 0x11000, 0);
    m.core.cpu.eip = CODE2;
    m.core.cpu.halted = false;
    expect_vector(&mut m, 14);
    assert_eq!(m.core.cpu.cr2, 0x11000);
    assert_eq!(
        stack(&m, 1),
        0x10FFD,
        "the faulting EIP is the crossing instruction's"
    );
}
