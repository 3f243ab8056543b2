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
