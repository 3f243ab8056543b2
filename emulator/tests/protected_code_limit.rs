//! The code segment's limit against the decoded-instruction cache: an instruction whose
//! bytes go past CS.limit raises #GP(0) (SDM Vol. 3A 5.3, "Limit Checking"; 6.15,
//! interrupt 13), also when its block was decoded and cached earlier under a CS with a
//! larger limit.

mod common;
use common::*;

/// Code segment, base 0, byte-granular limit `limit`, 32-bit, ring 0.
fn small_code(limit: u32) -> u64 {
    seg_desc(0, limit, 0x9A, 0x4)
}

#[test]
fn cached_block_past_a_smaller_cs_limit_faults() {
    let mut m = pm();
    let sub = CODE + 0x20;
    let mut a = Asm::new32(CODE);
    // With the flat CS: run the subroutine once, so its block is cached.
    a.i(&[0xE8, 0x1B, 0, 0, 0], "call 0x10020");
    // Then a CS whose limit ends inside it (its first two bytes in the limit).
    let back = CODE + 12;
    let mut far = vec![0xEA];
    far.extend_from_slice(&back.to_le_bytes());
    far.extend_from_slice(&FREE.to_le_bytes());
    a.i(&far, "jmp far 0x1000c,0x40");
    assert_eq!(a.here(), back);
    a.i(&[0xE8, 0x0F, 0, 0, 0], "call 0x10020");
    a.hlt();
    while a.here() < sub {
        a.nop();
    }
    for _ in 0..4 {
        a.nop();
    }
    a.i(&[0xC3], "ret");
    a.load(&mut m);
    set_gdt(&mut m, FREE, small_code(sub + 1));
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 0), 0, "error code");
    assert_eq!(stack(&m, 1), sub + 2, "the first NOP past the limit faults");
    assert_eq!(stack(&m, 2), FREE as u32, "under the small CS");
}

#[test]
fn block_decoded_under_a_small_cs_limit_stops_at_it() {
    // The same code first run under the small CS: the block ends at the limit.
    let mut m = pm();
    let start = CODE + 0x40;
    let mut a = Asm::new32(CODE);
    let mut far = vec![0xEA];
    far.extend_from_slice(&start.to_le_bytes());
    far.extend_from_slice(&FREE.to_le_bytes());
    a.i(&far, "jmp far 0x10040,0x40");
    while a.here() < start {
        a.nop();
    }
    for _ in 0..4 {
        a.nop();
    }
    a.hlt();
    a.load(&mut m);
    set_gdt(&mut m, FREE, small_code(start + 2));
    expect_vector(&mut m, 13);
    assert_eq!(stack(&m, 1), start + 3);
}
