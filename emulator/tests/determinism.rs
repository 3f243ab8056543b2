//! Determinism and snapshots: running N instructions, snapshotting, running M gives the same
//! state hash as restoring the snapshot and running M; two runs from power-on agree; a
//! snapshot survives a save/restore round trip through bytes; corrupt snapshots are errors;
//! single steps and chained runs agree.

use traplab::boot::{boot, BootKind};
use traplab::machine::{Machine, MachineConfig};
use traplab::snapshot::{restore, save, state_hash, SnapshotError};

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../samples/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("sample image")
}

fn minios() -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![],
    };
    let mut m = boot(
        MachineConfig::default(),
        &sample("minios/minios.elf"),
        &kind,
    )
    .expect("boots");
    m.core.dev.push_serial_input(b"ps\nrun cpu\n");
    m
}

#[test]
fn snapshot_then_run_equals_restore_then_run() {
    let mut a = minios();
    a.run(3_000_000);
    let snap = save(&a);
    a.run(2_000_000);
    let ha = state_hash(&a);
    let out_a = a.core.dev.take_serial_output();

    let mut b = restore(&snap).expect("restores");
    b.run(2_000_000);
    assert_eq!(b.icount(), a.icount());
    assert_eq!(state_hash(&b), ha, "restored machine diverged");
    assert_eq!(b.core.dev.take_serial_output(), out_a);
}

#[test]
fn two_runs_from_power_on_agree() {
    let mut a = minios();
    let mut b = minios();
    for _ in 0..5 {
        a.run(700_000);
        b.run(700_000);
        assert_eq!(state_hash(&a), state_hash(&b));
    }
    assert!(a.core.clock() > 0);
}

#[test]
fn run_in_slices_equals_one_run() {
    // Budget boundaries must not change what the guest sees.
    let mut a = minios();
    let mut b = minios();
    a.run(2_500_000);
    for _ in 0..25 {
        b.run(100_000);
    }
    assert_eq!(a.icount(), b.icount());
    assert_eq!(state_hash(&a), state_hash(&b));
}

#[test]
fn single_steps_equal_chained_runs() {
    // Chained blocks keep EIP and the retired count lazily and skip segment checks on flat
    // segments; single steps store both before every instruction and check everything.
    // minios's boot, shell and user programs (system calls, page faults, timer
    // interrupts, port I/O) must come out the same either way.
    let mut a = minios();
    let mut b = minios();
    for budget in [150_000, 450_000, 900_000] {
        a.run(budget - a.icount());
        while b.icount() < a.icount() {
            b.step();
        }
        assert_eq!(b.icount(), a.icount());
        assert_eq!(b.core.cpu.eip, a.core.cpu.eip);
        assert_eq!(state_hash(&a), state_hash(&b), "diverged by {budget}");
    }
    assert_eq!(
        a.core.dev.take_serial_output(),
        b.core.dev.take_serial_output()
    );
}

#[test]
fn corrupt_snapshots_are_rejected() {
    let m = minios();
    let good = save(&m);
    assert!(matches!(
        restore(b"not a snapshot"),
        Err(SnapshotError::BadMagic)
    ));
    let mut v = good.clone();
    v[8] = 99;
    assert!(matches!(restore(&v), Err(SnapshotError::Version(_))));
    let mut t = good.clone();
    t.truncate(good.len() / 2);
    assert!(matches!(restore(&t), Err(SnapshotError::Corrupt(_))));
    let mut f = good;
    let n = f.len();
    for b in &mut f[n / 2..n / 2 + 64] {
        *b ^= 0x5A;
    }
    assert!(restore(&f).is_err());
}

/// Blocks that go on at the target of a CALL in the same page (`machine::fetch`), a compare
/// fused with a Jcc that leaves its block (`exec::fast::fused_out_t`), and a callee that
/// rewrites an instruction of the block it was decoded into: a chained run, single steps
/// and the arithmetic agree.
#[test]
fn call_traces_and_fused_exits_agree_with_single_steps() {
    // Flat 32-bit code at 0x100000 (GNU as, `ld -Ttext=0x100000`):
    //   start:  mov $0x180000,%esp; mov $300,%ecx; xor %ebx,%ebx; xor %eax,%eax; jmp top
    //   bigger: add $7,%ebx; dec %ecx; jnz top; jmp done
    //   top:    call f; cmp $150,%eax; jae bigger; add %eax,%ebx; dec %ecx; jnz top
    //   done:   mov %ebx,%eax; xor %edx,%edx; mov $251,%esi; div %esi; mov %edx,%eax
    //           out %al,$0xf4; hlt
    //   f:      inc %eax; cmp $200,%eax; jne 1f; movb $5,patch+2
    //   1:      call g; ret
    //   g:
    //   patch:  add $1,%ebx; ret
    const CODE: &[u8] = &[
        0xbc, 0x00, 0x00, 0x18, 0x00, 0xb9, 0x2c, 0x01, 0x00, 0x00, 0x31, 0xdb, 0x31, 0xc0, 0xeb,
        0x08, 0x83, 0xc3, 0x07, 0x49, 0x75, 0x02, 0xeb, 0x11, 0xe8, 0x1c, 0x00, 0x00, 0x00, 0x3d,
        0x96, 0x00, 0x00, 0x00, 0x73, 0xec, 0x01, 0xc3, 0x49, 0x75, 0xef, 0x89, 0xd8, 0x31, 0xd2,
        0xbe, 0xfb, 0x00, 0x00, 0x00, 0xf7, 0xf6, 0x89, 0xd0, 0xe6, 0xf4, 0xf4, 0x40, 0x3d, 0xc8,
        0x00, 0x00, 0x00, 0x75, 0x07, 0xc6, 0x05, 0x50, 0x00, 0x10, 0x00, 0x05, 0xe8, 0x01, 0x00,
        0x00, 0x00, 0xc3, 0x83, 0xc3, 0x01, 0xc3,
    ];
    let flat = || {
        let kind = BootKind::Flat {
            addr: 0x10_0000,
            real: false,
        };
        boot(MachineConfig::default(), CODE, &kind).expect("flat boots")
    };
    // The callee adds 1 up to its 199th call and 5 from its 200th (rewritten); calls
    // 150 to 300 take the fused exit (+7), the others add the count: EBX = 12,936, and
    // 12,936 mod 251 = 135 (without the rewrite it would be 233).
    let want = traplab::machine::RunExit::Exit(135 << 1 | 1);
    let mut a = flat();
    assert_eq!(a.run(1_000_000), want);
    let traced = a.cache.blocks.iter().any(|b| {
        b.insns
            .windows(2)
            .any(|w| w[0].ins.mnemonic() == iced_x86::Mnemonic::Call && w[1].ip() == w[0].imm)
    });
    assert!(traced, "no block goes on at a call's target");
    let mut b = flat();
    let r = loop {
        match b.step() {
            traplab::machine::RunExit::Budget => continue,
            r => break r,
        }
    };
    assert_eq!(r, want);
    assert_eq!(b.icount(), a.icount());
    assert_eq!(state_hash(&a), state_hash(&b));
}
