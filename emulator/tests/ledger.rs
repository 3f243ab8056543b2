//! The exit ledger and the cost model (`trace::worlds`, `inspect::LedgerState`), checked on
//! the SVM test guest `samples/svmtest` (QEMU-recorded) and on minios:
//! - exits by code equal the exits the guest itself saw (it prints every VMCB EXITCODE);
//! - instructions by world equal a step-by-step attribution (the world before each retired
//!   instruction), for host/guest (svmtest) and kernel/user (minios);
//! - charged virtual time is exactly what the costs say, and a guest that never enters SVM
//!   is charged nothing;
//! - virtual time with costs is deterministic: two runs, runs in odd slices, and a snapshot
//!   taken while a guest runs, restored and continued, all agree.

use std::collections::BTreeMap;
use traplab::boot::{boot, BootKind};
use traplab::inspect::{Costs, World};
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::snapshot::{restore, save, state_hash};
use traplab::trace::EventKind;

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../samples/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("sample image")
}

fn machine(path: &str) -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![],
    };
    boot(MachineConfig::default(), &sample(path), &kind).expect("boots")
}

fn svmtest() -> Machine {
    let mut m = machine("svmtest/svmtest.elf");
    m.core.events.capacity = 1 << 14;
    m
}

/// Runs to the guest's exit (svmtest ends through the exit port).
fn finish(m: &mut Machine) -> String {
    let r = m.run_limited(50_000_000, 50_000_000);
    assert!(matches!(r, RunExit::Exit(_)), "{r:?}");
    String::from_utf8_lossy(&m.core.dev.take_serial_output()).into_owned()
}

/// The exit codes svmtest printed (`... code=0x72 ...`, one line per #VMEXIT it took).
fn printed_codes(out: &str) -> BTreeMap<u64, u64> {
    let mut codes = BTreeMap::new();
    for w in out.split_whitespace() {
        if let Some(h) = w.strip_prefix("code=0x") {
            *codes
                .entry(u64::from_str_radix(h, 16).expect("hex code"))
                .or_insert(0) += 1;
        }
    }
    codes
}

#[test]
fn the_exit_ledger_counts_the_exits_the_guest_saw() {
    let mut m = svmtest();
    let out = finish(&mut m);
    let seen = printed_codes(&out);
    assert!(seen.len() > 40, "svmtest printed its exits:\n{out}");
    let l = m.inspect().ledger();
    let ledger: BTreeMap<u64, u64> = l.exits.iter().map(|e| (e.code, e.count)).collect();
    assert_eq!(ledger, seen, "ledger vs the guest's own EXITCODEs");
    assert_eq!(l.exit_total, seen.values().sum::<u64>());
    // Every VMRUN either entered its guest or failed its checks (VMEXIT_INVALID): each
    // guest run ends in exactly one exit.
    let invalid = seen.get(&u64::MAX).copied().unwrap_or(0);
    assert_eq!(l.vmruns + invalid, l.exit_total);
    assert!(l.svm_used);
    assert_eq!(l.current, World::Host);
    // Names from the APM's Appendix C.
    let cpuid = l
        .exits
        .iter()
        .find(|e| e.code == 0x72)
        .expect("CPUID exits");
    assert_eq!(cpuid.name, "CPUID");
    // The event log has the same world switches, with decoded names available.
    let ev = m.inspect().events();
    let (mut runs, mut exits) = (0, 0);
    for e in ev.lasting() {
        match e.kind {
            EventKind::Vmrun { asid, .. } => {
                assert!(asid > 0);
                runs += 1
            }
            EventKind::Vmexit { .. } => exits += 1,
            _ => {}
        }
    }
    assert_eq!((runs, exits), (l.vmruns, l.exit_total));
}

/// Attributes each retired instruction to the world the CPU was in before it, one step at
/// a time: (asid, user) -> count.
fn stepwise(m: &mut Machine, steps: u64) -> BTreeMap<(u32, bool), u64> {
    let mut by = BTreeMap::new();
    let end = m.icount() + steps;
    while m.icount() < end {
        let asid = if m.core.svm.guest {
            m.core.svm.ctl.asid
        } else {
            0
        };
        let user = m.core.cpu.cpl == 3;
        let before = m.icount();
        // One instruction retires, or an event is delivered, or a halt waits (time skips).
        let r = m.step();
        *by.entry((asid, user)).or_insert(0) += m.icount() - before;
        if r != RunExit::Budget {
            break;
        }
    }
    by
}

fn ledger_map(m: &Machine) -> BTreeMap<(u32, bool), u64> {
    let mut by = BTreeMap::new();
    for w in m.inspect().ledger().retired {
        let asid = match w.world {
            World::Host => 0,
            World::Guest { asid } => asid,
        };
        for (user, n) in [(false, w.kernel), (true, w.user)] {
            if n > 0 {
                by.insert((asid, user), n);
            }
        }
    }
    by
}

#[test]
fn instructions_by_world_equal_a_step_by_step_attribution() {
    // Host and guests (svmtest): the ledger of a normal run vs stepping.
    let mut a = svmtest();
    finish(&mut a);
    let mut b = svmtest();
    let by = stepwise(&mut b, a.icount());
    assert_eq!(b.icount(), a.icount());
    assert_eq!(ledger_map(&a), by);
    assert!(by.keys().any(|k| k.0 > 0), "a guest ran: {by:?}");
    assert_eq!(by.values().sum::<u64>(), a.icount());

    // Kernel and user (minios running a user program).
    let mut a = machine("minios/minios.elf");
    a.core.dev.push_serial_input(b"run cpu\n");
    let mut b = machine("minios/minios.elf");
    b.core.dev.push_serial_input(b"run cpu\n");
    a.run(1_500_000);
    let by = stepwise(&mut b, a.icount());
    assert_eq!(b.icount(), a.icount());
    assert!(by.contains_key(&(0, true)), "user code ran: {by:?}");
    assert_eq!(ledger_map(&a), by);
    assert!(!a.inspect().ledger().svm_used);
}

#[test]
fn costs_are_charged_exactly_and_only_when_svm_is_used() {
    let costs = Costs {
        vmrun: 1_234,
        vmexit: 567,
        nested_ref: 89,
    };
    let mut m = svmtest();
    m.set_costs(costs);
    finish(&mut m);
    let l = m.inspect().ledger();
    let ns = l.vmruns * 1_234 + l.exit_total * 567 + l.nested_refs * 89;
    assert_eq!(l.charged.total(), ns);
    let c = &m.core;
    // The clock: retired instructions, halted ticks, and the charges in whole 10 ns ticks.
    assert_eq!(c.clock(), c.icount + c.stats.halted_ticks + ns / 10);
    assert_eq!(m.inspect().now_ns(), c.clock() * 10);

    // Zero costs: the clock is the instruction count again (plus halts).
    let mut z = svmtest();
    z.set_costs(Costs {
        vmrun: 0,
        vmexit: 0,
        nested_ref: 0,
    });
    finish(&mut z);
    assert_eq!(z.core.clock(), z.core.icount + z.core.stats.halted_ticks);

    // A guest that never uses SVM: nothing charged, whatever the costs.
    let mut h = machine("hello/hello.elf");
    h.set_costs(costs);
    h.run(2_000_000);
    assert_eq!(h.inspect().ledger().charged.total(), 0);
    assert_eq!(h.core.clock(), h.core.icount + h.core.stats.halted_ticks);
}

#[test]
fn virtual_time_with_costs_is_deterministic() {
    let costs = Costs {
        vmrun: 7_001,
        vmexit: 3_333,
        nested_ref: 17,
    };
    let run = |slice: u64| {
        let mut m = svmtest();
        m.set_costs(costs);
        loop {
            match m.run_limited(slice, slice) {
                RunExit::Budget => {}
                RunExit::Exit(_) => break,
                r => panic!("{r:?}"),
            }
        }
        (
            m.core.clock(),
            state_hash(&m),
            m.core.dev.take_serial_output(),
        )
    };
    let one = run(u64::MAX / 4);
    assert_eq!(run(u64::MAX / 4), one, "the same run twice");
    assert_eq!(run(997), one, "run in slices of 997 instructions");

    // A snapshot taken while a guest runs, restored and continued.
    let mut a = svmtest();
    a.set_costs(costs);
    let mut tries = 0;
    while !a.core.svm.guest || a.inspect().ledger().vmruns < 20 {
        assert_eq!(a.run(1_000), RunExit::Budget);
        tries += 1;
        assert!(tries < 10_000, "never caught a guest running");
    }
    let snap = save(&a);
    let mut b = restore(&snap).expect("restores");
    assert_eq!(
        b.inspect().ledger().costs,
        costs,
        "costs are in the snapshot"
    );
    assert!(b.core.svm.guest);
    finish(&mut a);
    finish(&mut b);
    assert_eq!(b.core.clock(), a.core.clock());
    assert_eq!(state_hash(&b), state_hash(&a));
    // The ledger too, but for the TLB's flush counter: the TLB is not in snapshots (it is
    // rebuilt), its counters start again at a restore.
    let (mut la, mut lb) = (a.inspect().ledger(), b.inspect().ledger());
    assert!(la.tlb_flushes > lb.tlb_flushes);
    (la.tlb_flushes, lb.tlb_flushes) = (0, 0);
    assert_eq!(lb, la);
}
