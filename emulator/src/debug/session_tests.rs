//! Tests of the debugging session: stepping, breakpoints, watchpoints, reverse execution.

use super::*;
use crate::boot::{boot, BootKind};
use crate::machine::MachineConfig;

// 0x1000: mov ecx,0
// 0x1005: call 0x1013        (loop)
// 0x100a: inc ecx
// 0x100b: mov [0x3000],ecx
// 0x1011: jmp 0x1005
// 0x1013: push ebp ; mov eax,ecx ; add eax,3 ; pop ebp ; ret
const PROG: &[u8] = &[
    0xB9, 0, 0, 0, 0, 0xE8, 0x09, 0, 0, 0, 0x41, 0x89, 0x0D, 0x00, 0x30, 0, 0, 0xEB, 0xF2, 0x55,
    0x89, 0xC8, 0x83, 0xC0, 0x03, 0x5D, 0xC3,
];

fn machine() -> Machine {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        ..Default::default()
    };
    boot(
        cfg,
        PROG,
        &BootKind::Flat {
            addr: 0x1000,
            real: false,
        },
    )
    .unwrap()
}

fn session() -> Session {
    Session::new(machine())
}

#[test]
fn step_into_advances_one_instruction() {
    let mut s = session();
    assert_eq!(s.m.pc(), 0x1000);
    assert_eq!(s.step(), Stop::Done);
    assert_eq!(s.m.pc(), 0x1005);
    assert_eq!(s.step(), Stop::Done);
    assert_eq!(s.m.pc(), 0x1013, "step into enters the call");
    assert_eq!(s.icount(), 2);
}

#[test]
fn step_over_runs_the_whole_call() {
    let mut s = session();
    s.step();
    assert_eq!(s.step_over(1_000), Stop::Done);
    assert_eq!(s.m.pc(), 0x100a);
    assert_eq!(s.icount(), 1 + 6, "call + 5 instructions of the callee");
    assert_eq!(s.m.core.cpu.gpr[0], 3, "the callee ran");
    // Over a non-call is a plain step.
    assert_eq!(s.step_over(1_000), Stop::Done);
    assert_eq!(s.m.pc(), 0x100b);
}

#[test]
fn step_out_returns_to_the_caller() {
    let mut s = session();
    s.step();
    s.step(); // into the callee
    s.step(); // push ebp
    assert_eq!(s.step_out(1_000), Stop::Done);
    assert_eq!(s.m.pc(), 0x100a);
    assert_eq!(s.m.core.cpu.gpr[ESP], 0x7_FF00, "frame popped");
}

#[test]
fn breakpoint_and_run_to() {
    let mut s = session();
    assert!(s.toggle_breakpoint(0x100b));
    assert_eq!(s.advance(10_000), Stop::Breakpoint(0x100b));
    assert_eq!(s.m.core.cpu.gpr[1], 1);
    // Continuing from the breakpoint stops there again one loop later.
    assert_eq!(s.advance(10_000), Stop::Breakpoint(0x100b));
    assert_eq!(s.m.core.cpu.gpr[1], 2);
    assert!(!s.toggle_breakpoint(0x100b));
    assert_eq!(s.run_to(0x1019, 10_000), Stop::Done);
    assert_eq!(s.m.pc(), 0x1019);
    // Without a goal or breakpoint the budget is spent.
    assert_eq!(s.advance(5_000), Stop::Done);
    assert!(s.icount() >= 5_000);
}

#[test]
fn write_watchpoint_stops_before_the_store() {
    let mut s = session();
    s.watchpoints.push(Watchpoint {
        addr: 0x3002,
        len: 1,
        read: false,
        write: true,
    });
    let r = s.advance(10_000);
    assert_eq!(
        r,
        Stop::Watchpoint {
            pc: 0x100b,
            addr: 0x3000,
            write: true
        }
    );
    assert_eq!(s.m.core.mem.read(0x3000, 4), 0, "stopped before the write");
    // A read watchpoint on the stack slot of the return address catches RET's read.
    s.watchpoints = vec![Watchpoint {
        addr: 0x7_FF00 - 4,
        len: 4,
        read: true,
        write: false,
    }];
    let r = s.advance(10_000);
    assert_eq!(
        r,
        Stop::Watchpoint {
            pc: 0x101a,
            addr: 0x7_FF00 - 4,
            write: false
        }
    );
}

#[test]
fn step_back_restores_the_exact_previous_states() {
    let mut s = session();
    s.advance(3_333);
    let mut states = Vec::new();
    for _ in 0..40 {
        states.push((
            s.m.core.cpu.clone(),
            s.m.core.mem.read(0x3000, 4),
            s.icount(),
        ));
        s.step();
    }
    for want in states.iter().rev() {
        assert_eq!(s.step_back(), Stop::Done);
        assert_eq!(s.m.core.cpu, want.0);
        assert_eq!(s.m.core.mem.read(0x3000, 4), want.1);
        assert_eq!(s.icount(), want.2);
    }
}

/// Deep reverse execution: 150,000 instructions back, and each later step back re-executes
/// at most a few thousand instructions (the bound that keeps it well under 0.1 s).
#[test]
fn reverse_150k_instructions_and_cheap_repeated_steps_back() {
    let mut s = session();
    s.checkpoint_every = 50_000; // as while running flat out
    while s.icount() < 200_000 {
        s.advance(7_777);
    }
    let target = s.icount() - 150_000;
    assert_eq!(s.go_to(target), Stop::Done);
    assert_eq!(s.icount(), target);
    // The reference: a fresh machine run straight to the same count (this guest has no
    // interrupts, so its state depends only on the count).
    let mut r = machine();
    r.run(target);
    assert_eq!(s.m.core.cpu, r.core.cpu);
    assert_eq!(s.m.core.mem.ram, r.core.mem.ram);
    // Repeated steps back are cheap thanks to the dense checkpoints taken on the way.
    for k in 1..=50 {
        assert_eq!(s.step_back(), Stop::Done);
        assert_eq!(s.icount(), target - k);
        assert!(
            s.last_reexecuted <= 25_000,
            "re-executed {}",
            s.last_reexecuted
        );
    }
    let mut r = machine();
    r.run(target - 50);
    assert_eq!(s.m.core.cpu.eip, r.core.cpu.eip);
    assert_eq!(s.m.core.cpu.gpr, r.core.cpu.gpr);
}

#[test]
fn too_far_back_is_an_answer_not_a_panic() {
    let mut s = session();
    s.max_checkpoints = 2;
    s.checkpoint_every = 1_000;
    s.advance(10_000);
    let r = s.go_to(10);
    assert!(
        matches!(r, Stop::TooFarBack { oldest } if oldest > 10),
        "{r:?}"
    );
    assert_eq!(s.icount(), 10_000, "the machine is unchanged");
}

// A guest with timer interrupts: loads a GDT, programs PIT channel 0 (count 100, about
// 8,400 instructions between IRQ0s), unmasks IRQ0 and counts in ECX; the IRQ handler at
// 0x1021 counts in EBX. Vector 8 (the PIC's power-on base) has an interrupt gate.
const IRQ_PROG: &[u8] = &[
    0x0F, 0x01, 0x15, 0x00, 0x20, 0x00, 0x00, // lgdt [0x2000]
    0xB0, 0x34, 0xE6, 0x43, // PIT mode 2, lo/hi
    0xB0, 0x64, 0xE6, 0x40, 0x30, 0xC0, 0xE6, 0x40, // count 100
    0xB0, 0xFA, 0xE6, 0x21, // unmask IRQ0
    0xFB, // sti
    0x41, 0x89, 0x0D, 0x00, 0x30, 0, 0, 0xEB, 0xF7, // loop: inc ecx; mov [0x3000],ecx; jmp
    0x43, 0xB0, 0x20, 0xE6, 0x20, 0xCF, // handler: inc ebx; EOI; iret
];

fn irq_machine() -> Machine {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        ..Default::default()
    };
    let mut m = boot(
        cfg,
        IRQ_PROG,
        &BootKind::Flat {
            addr: 0x1000,
            real: false,
        },
    )
    .unwrap();
    let gdtr = [0x17, 0, 0x08, 0x20, 0, 0];
    let gdt = [
        0, 0, 0, 0, 0, 0, 0, 0, // null
        0xFF, 0xFF, 0, 0, 0, 0x9A, 0xCF, 0, // 0x08 code
        0xFF, 0xFF, 0, 0, 0, 0x92, 0xCF, 0, // 0x10 data
    ];
    let gate = [0x21, 0x10, 0x08, 0x00, 0x00, 0x8E, 0x00, 0x00];
    m.core.mem.load(0x2000, &gdtr);
    m.core.mem.load(0x2008, &gdt);
    m.core.mem.load(8 * 8, &gate);
    m.flush_code_cache();
    m
}

/// With timer interrupts and input, travelling back gives exactly the states seen going
/// forward (registers and the RAM hash), and step back undoes single steps exactly.
#[test]
fn reverse_is_exact_with_interrupts_and_input() {
    let mut s = Session::new(irq_machine());
    s.advance(50_000);
    assert!(s.m.core.cpu.gpr[3] > 0, "timer interrupts happened");
    s.input(Input::Serial(b"hi".to_vec()));
    s.advance(20_001);
    let mut states = Vec::new();
    for k in 0..3_000 {
        let hash = if k % 97 == 0 {
            crate::snapshot::state_hash(&s.m)
        } else {
            0
        };
        states.push((s.icount(), s.m.core.cpu.clone(), hash));
        s.step();
    }
    for k in (0..states.len()).step_by(97).rev() {
        let (ic, cpu, hash) = &states[k];
        assert_eq!(s.go_to(*ic), Stop::Done);
        assert_eq!(s.icount(), *ic);
        assert_eq!(&s.m.core.cpu, cpu, "at icount {ic}");
        assert_eq!(crate::snapshot::state_hash(&s.m), *hash, "at icount {ic}");
    }
    // Further back, across the interrupts: a twin session driven by the same calls is the
    // reference (run calls end on multiples of GRANULE, so `advance(k)` matches).
    for k in (1..50).rev().map(|k| k * 1_000) {
        assert_eq!(s.go_to(k), Stop::Done);
        let mut twin = Session::new(irq_machine());
        twin.advance(k);
        assert_eq!(s.m.core.cpu, twin.m.core.cpu, "at icount {k}");
        assert_eq!(
            crate::snapshot::state_hash(&s.m),
            crate::snapshot::state_hash(&twin.m)
        );
    }
    // Single steps forward and back again.
    let mut seen = Vec::new();
    for _ in 0..25 {
        seen.push(s.m.core.cpu.clone());
        s.step();
    }
    for want in seen.iter().rev() {
        s.step_back();
        assert_eq!(&s.m.core.cpu, want);
    }
}

#[test]
fn densify_keeps_the_state_and_makes_the_first_step_back_cheap() {
    let mut s = Session::new(irq_machine());
    s.checkpoint_every = 200_000;
    while s.icount() < 345_678 {
        s.advance(10_000);
    }
    let cpu = s.m.core.cpu.clone();
    let hash = crate::snapshot::state_hash(&s.m);
    let ic = s.icount();
    s.densify();
    assert_eq!(s.icount(), ic);
    assert_eq!(s.m.core.cpu, cpu);
    assert_eq!(crate::snapshot::state_hash(&s.m), hash);
    assert_eq!(s.step_back(), Stop::Done);
    assert!(
        s.last_reexecuted <= 25_000,
        "re-executed {}",
        s.last_reexecuted
    );
}

/// "Never checkpoint on your own" (the GUI's worker takes them itself while running flat
/// out) must not overflow the spacing arithmetic.
#[test]
fn checkpoint_spacing_of_u64_max_means_never() {
    let mut s = session();
    s.advance(5_000);
    s.checkpoint(); // a checkpoint past 0: `last + every` would overflow
    let before = s.ckpts.len();
    s.checkpoint_every = u64::MAX;
    s.advance(30_000);
    assert_eq!(s.icount(), 35_000);
    assert_eq!(s.ckpts.len(), before, "no automatic checkpoint was taken");
}

#[test]
fn a_watched_access_right_at_the_end_of_a_run_call_is_not_missed() {
    let mut s = session();
    s.watchpoints.push(Watchpoint {
        addr: 0x3000,
        len: 4,
        read: false,
        write: true,
    });
    // Eight instructions (mov, call, push, mov, add, pop, ret, inc) end right before the
    // store to 0x3000: the call must stop there, not leave it to the next call (whose
    // first instruction runs unchecked).
    assert_eq!(
        s.advance(8),
        Stop::Watchpoint {
            pc: 0x100b,
            addr: 0x3000,
            write: true
        }
    );
}
