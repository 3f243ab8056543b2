//! Robustness: random bytes run as guest code, in real mode and in 32-bit protected mode
//! (with an IDT whose handlers IRET or halt), for a bounded number of instructions. The
//! host must never panic or hang: every outcome is guest state (exceptions, double fault,
//! triple fault), as the README's "What is inside" promises. The protected-mode runs
//! also draw the `--popek-goldberg` switch.

mod common;
use common::*;
use proptest::prelude::*;
use std::sync::mpsc;
use std::time::Duration;
use traplab::mmu::segment::{Seg, CS, DS, ES, FS, GS, SS};
use traplab::{Machine, MachineConfig};

const BUDGET: u64 = 2_000;

/// Runs `f` on another thread; a hang becomes a test failure instead of a stuck run.
fn bounded(f: impl FnOnce() -> String + Send + 'static) -> Result<String, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(s) => Ok(s),
        Err(mpsc::RecvTimeoutError::Timeout) => Err("guest run did not return".into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the emulator panicked".into()),
    }
}

fn real_mode(bytes: Vec<u8>) -> String {
    let mut m = Machine::new(MachineConfig::default());
    let mut cs = Seg::real(0x1000);
    cs.attr |= 8;
    for s in [ES, SS, DS, FS, GS] {
        m.core.cpu.seg[s] = Seg::real(0x2000);
    }
    m.core.cpu.seg[CS] = cs;
    m.core.cpu.eip = 0;
    m.core.cpu.gpr[4] = 0xFFF0;
    // IVT: every vector points at an IRET at 0000:0400.
    for v in 0..256u32 {
        w32(&mut m, v * 4, 0x0400);
    }
    w8(&mut m, 0x400, 0xCF);
    assert!(m.core.mem.load(0x10000, &bytes));
    m.flush_code_cache();
    let exit = m.run(BUDGET);
    format!("{exit:?}")
}

fn protected_mode(bytes: Vec<u8>, iret_handlers: bool, user: bool, pg: bool) -> String {
    let mut m = pm();
    m.set_popek_goldberg(pg);
    if iret_handlers {
        // Handlers that drop the error code when there is one, then IRETD.
        for v in 0..=255u8 {
            let h = HANDLERS + 16 * v as u32;
            let code = if matches!(v, 8 | 10..=14 | 17) {
                vec![0x83, 0xC4, 0x04, 0xCF] // add esp,4 ; iretd
            } else {
                vec![0xCF]
            };
            assert!(m.core.mem.load(h, &code));
            set_idt(&mut m, v, gate(K_CODE, h, 0xE, 3, 0));
        }
    }
    assert!(m.core.mem.load(CODE, &bytes));
    if user {
        to_ring3(&mut m);
    }
    m.flush_code_cache();
    let exit = m.run(BUDGET);
    format!("{exit:?}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_code_real_mode(bytes in proptest::collection::vec(any::<u8>(), 1..96)) {
        let r = bounded(move || real_mode(bytes));
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn random_code_protected_mode(
        bytes in proptest::collection::vec(any::<u8>(), 1..96),
        iret in any::<bool>(),
        user in any::<bool>(),
        pg in any::<bool>(),
    ) {
        let r = bounded(move || protected_mode(bytes, iret, user, pg));
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}

#[test]
fn known_nasty_sequences() {
    // A few hand-picked cases: far jumps to garbage selectors, IRET with junk frames,
    // LTR/LLDT of junk, task switches to a zeroed TSS, MOV SS chains, INT to everything.
    let cases: &[&[u8]] = &[
        &[0xEA, 0, 0, 0, 0, 0x30, 0x00], // jmp 0x30:0 (TSS B, zeroed state)
        &[0x9A, 0, 0, 0, 0, 0x38, 0x00], // call 0x38:0 (TSS C, zeroed state)
        &[0xCF],                         // iretd with garbage
        &[0x0F, 0x00, 0xD8],             // ltr ax
        &[0xCD, 0x08, 0xEB, 0xFC],       // int 8 in a loop
        &[0x8E, 0xD0, 0x8E, 0xD0, 0xEB, 0xFA], // mov ss,ax loop
        &[0xFB, 0xF4, 0xEB, 0xFC],       // sti; hlt loop
    ];
    for c in cases {
        for (iret, user, pg) in [
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (true, true, true),
        ] {
            let bytes = c.to_vec();
            let r = bounded(move || protected_mode(bytes, iret, user, pg));
            assert!(r.is_ok(), "{c:02x?}: {r:?}");
        }
        let bytes = c.to_vec();
        assert!(bounded(move || real_mode(bytes)).is_ok());
    }
}

#[test]
fn fault_storms_end_with_the_budget() {
    // The #PF handler itself is on a not-present page: every delivery faults on fetch at
    // the handler, forever (as on hardware), but `run` must still return.
    let r = bounded(|| {
        let mut m = pm();
        enable_paging(&mut m);
        set_pte(&mut m, CODE2, 0);
        set_idt(&mut m, 14, gate(K_CODE, CODE2, 0xE, 0, 0));
        set_idt(&mut m, 13, gate(K_CODE, CODE2, 0xE, 0, 0));
        let mut a = Asm::new32(CODE);
        a.i(&[0xFF, 0xE3], "jmp ebx");
        a.load(&mut m);
        m.core.cpu.gpr[3] = CODE2;
        format!(
            "{:?} icount {} exc {:?}",
            m.run(1000),
            m.icount(),
            &m.core.stats.exceptions[..16]
        )
    });
    assert!(r.is_ok(), "{r:?}");
    // An instruction breakpoint on the #DB handler's own first instruction.
    let r = bounded(|| {
        let mut m = pm();
        set_idt(&mut m, 1, gate(K_CODE, CODE2, 0xE, 0, 0));
        m.core.cpu.dr[0] = CODE2;
        m.core.cpu.dr[7] = 0x401;
        let mut a = Asm::new32(CODE);
        a.i(&[0xFF, 0xE3], "jmp ebx");
        a.load(&mut m);
        m.core.cpu.gpr[3] = CODE2;
        format!(
            "{:?} icount {} exc {:?}",
            m.run(1000),
            m.icount(),
            &m.core.stats.exceptions[..16]
        )
    });
    assert!(r.is_ok(), "{r:?}");
}
