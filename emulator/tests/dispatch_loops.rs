//! A loop that fits in one cached block runs inside the chained threads
//! (`exec::fast::in_block`): the threads follow its back-edge themselves for at most
//! `exec::thread::SPAN` instructions per call from the dispatch loop, so a build whose
//! tail calls are real calls (no sibling-call optimisation) nests a bounded number of
//! frames. Two million iterations here would overflow a test thread's 2 MiB stack by far
//! without that bound (one frame per instruction); with it, the run ends at the HLT with
//! the exact count, whatever the budget slices.

mod common;
use common::*;

/// mov ecx, N; 1: dec ecx; jnz 1b; hlt
fn countdown(n: u32) -> Vec<u8> {
    let mut code = vec![0xB9];
    code.extend_from_slice(&n.to_le_bytes());
    code.extend_from_slice(&[0x49, 0x75, 0xFD, 0xF4]);
    code
}

#[test]
fn a_long_loop_in_one_block_runs_to_its_end_in_bounded_stack() {
    const N: u32 = 2_000_000;
    for budget in [u64::MAX / 2, 1_000_003] {
        let mut m = pm();
        assert!(m.core.mem.load(CODE, &countdown(N)));
        let mut left = 10;
        while !m.core.cpu.halted && left > 0 {
            m.run(budget);
            left -= 1;
        }
        assert!(m.core.cpu.halted, "budget {budget}: reached the HLT");
        assert_eq!(m.core.cpu.gpr[1], 0, "ECX counted down");
        // MOV, N times DEC and JNZ, and the HLT.
        assert_eq!(m.icount(), 2 * N as u64 + 2, "budget {budget}");
        assert_eq!(r32(&m, RESULT), 0xFFFF_FFFF, "no exception");
    }
}
