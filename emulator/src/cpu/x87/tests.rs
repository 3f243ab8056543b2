//! Unit tests of the x87 paths the host CPU cannot be asked about from user space: #NM from
//! CR0.EM/TS/MP, #MF with CR0.NE, the FERR#/IRQ13 path without it, the environment
//! layouts, and the reset/FNINIT state (each citing the SDM section it follows).

use super::float::F80;
use super::{env, sw, Fpu};
use crate::boot::{boot, BootKind};
use crate::cpu::exception::{vec, Res};
use crate::cpu::insn::Insn;
use crate::cpu::state::cr0;
use crate::debug::session::{Session, Stop};
use crate::machine::{Machine, MachineConfig};
use iced_x86::{Decoder, DecoderOptions};

const CODE: u32 = 0x1000;
const DATA: u32 = 0x3000;

fn machine() -> Machine {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        ..Default::default()
    };
    boot(
        cfg,
        &[0x90],
        &BootKind::Flat {
            addr: CODE,
            real: false,
        },
    )
    .unwrap()
}

/// Runs one instruction's handler directly (EIP advanced first, as the dispatch loop
/// does); returns its fault, if any.
fn exec(m: &mut Machine, bytes: &[u8]) -> Res {
    let mut d = Decoder::with_ip(32, bytes, CODE as u64, DecoderOptions::NONE);
    let ins = d.decode();
    m.core.mem.load(CODE, bytes);
    let i = Insn::new(ins, crate::cpu::exec::select(&ins));
    m.core.cpu.eip = i.next_ip;
    (i.inner)(&mut m.core, &i)
}

const FNINIT: &[u8] = &[0xDB, 0xE3];
const FLD1: &[u8] = &[0xD9, 0xE8];
const FLDZ: &[u8] = &[0xD9, 0xEE];
const FDIVP: &[u8] = &[0xDE, 0xF9]; // fdivp st(1), st(0): 1 / 0
const FADD: &[u8] = &[0xD8, 0xC1]; // fadd st(0), st(1)
const FWAIT: &[u8] = &[0x9B];
const FNCLEX: &[u8] = &[0xDB, 0xE2];
const FLDCW_DATA: &[u8] = &[0xD9, 0x2D, 0x00, 0x30, 0, 0]; // fldcw [0x3000]

/// Leaves a pending unmasked zero-divide (ES set): FLDCW 037BH unmasks ZE, then 1/0.
fn pending_zero_divide(m: &mut Machine) {
    exec(m, FNINIT).unwrap();
    m.core.mem.write(DATA, 2, 0x037B);
    exec(m, FLDCW_DATA).unwrap();
    exec(m, FLD1).unwrap();
    exec(m, FLDZ).unwrap();
    exec(m, FDIVP).unwrap();
    let f = &m.core.cpu.fpu;
    assert_eq!(f.sw & 0xFF, 0x04 | sw::ES, "ZE and ES set, no fault yet");
    assert!(f.sw & sw::B != 0);
}

/// SDM Vol. 3A 9.1.1, Table 9-1: x87 state after RESET.
#[test]
fn reset_state_follows_table_9_1() {
    let f = Fpu::power_on();
    assert_eq!((f.cw, f.sw, f.tag_word()), (0x0040, 0, 0x5555));
    assert!(f.regs.iter().all(|r| *r == F80::ZERO));
    assert_eq!(machine().core.cpu.fpu, f);
}

/// SDM Vol. 2A FINIT/FNINIT: CW 037FH, SW 0, TW FFFFH, pointers 0.
#[test]
fn fninit_sets_the_documented_state() {
    let mut m = machine();
    m.core.cpu.fpu.sw = 0x3800 | 0x3F;
    m.core.cpu.fpu.fip = 0x1234;
    exec(&mut m, FNINIT).unwrap();
    let f = &m.core.cpu.fpu;
    assert_eq!(
        (f.cw, f.sw, f.tag_word(), f.fip, f.fdp),
        (0x037F, 0, 0xFFFF, 0, 0)
    );
}

/// SDM Vol. 3A 2.5 and Table 2-2 (and 12.5, lazy FPU switching): x87 instructions raise
/// #NM when CR0.EM or CR0.TS is set; WAIT only when both MP and TS are.
#[test]
fn device_not_available_follows_em_ts_mp() {
    let mut m = machine();
    exec(&mut m, FNINIT).unwrap();
    let base = m.core.cpu.cr0 & !(cr0::EM | cr0::TS | cr0::MP);
    for (bits, x87_nm, wait_nm) in [
        (0, false, false),
        (cr0::TS, true, false),
        (cr0::TS | cr0::MP, true, true),
        (cr0::EM, true, false),
        (cr0::EM | cr0::MP, true, false),
        (cr0::MP, false, false),
    ] {
        m.core.cpu.cr0 = base | bits;
        for (bytes, want) in [(FLD1, x87_nm), (FNINIT, x87_nm), (FWAIT, wait_nm)] {
            let r = exec(&mut m, bytes);
            assert_eq!(
                r.err().map(|e| e.vector),
                want.then_some(vec::NM),
                "cr0 bits {bits:#x}, {bytes:x?}"
            );
        }
    }
    // A faulting FLD1 left the stack unchanged (faults are restartable).
    m.core.cpu.cr0 = base;
    exec(&mut m, FNINIT).unwrap();
    m.core.cpu.cr0 = base | cr0::TS;
    assert!(exec(&mut m, FLD1).is_err());
    assert_eq!(m.core.cpu.fpu.tag_word(), 0xFFFF);
}

/// SDM Vol. 3A 6.15 (interrupt 16) and Vol. 1 8.6: with CR0.NE an unmasked exception is
/// reported as #MF at the next waiting x87 instruction, not at the one that caused it;
/// no-wait instructions (FNSTSW, FNCLEX) do not report it; FNCLEX clears it.
#[test]
fn pending_exception_is_mf_at_next_waiting_instruction_with_ne() {
    let mut m = machine();
    m.core.cpu.cr0 |= cr0::NE;
    pending_zero_divide(&mut m);
    assert_eq!(exec(&mut m, FADD).unwrap_err().vector, vec::MF);
    assert_eq!(exec(&mut m, FWAIT).unwrap_err().vector, vec::MF);
    exec(&mut m, &[0xDF, 0xE0]).unwrap(); // fnstsw ax
    assert_eq!(m.core.cpu.gpr[0] & 0xFF, 0x84);
    exec(&mut m, FNCLEX).unwrap();
    assert_eq!(m.core.cpu.fpu.sw & 0xFF, 0);
    exec(&mut m, FADD).unwrap();
    exec(&mut m, FWAIT).unwrap();
}

/// SDM Vol. 1 8.6: FLDCW that unmasks an exception whose flag is set makes it pending.
#[test]
fn fldcw_unmasking_a_flag_makes_it_pending() {
    let mut m = machine();
    m.core.cpu.cr0 |= cr0::NE;
    exec(&mut m, FNINIT).unwrap();
    exec(&mut m, FLD1).unwrap();
    exec(&mut m, FLDZ).unwrap();
    exec(&mut m, FDIVP).unwrap(); // masked: ZE set, no ES
    assert_eq!(m.core.cpu.fpu.sw & 0xFF, 0x04);
    m.core.mem.write(DATA, 2, 0x037B);
    exec(&mut m, FLDCW_DATA).unwrap();
    assert!(m.core.cpu.fpu.sw & sw::ES != 0);
    assert_eq!(exec(&mut m, FWAIT).unwrap_err().vector, vec::MF);
}

/// SDM Vol. 1 D.2.1 (MS-DOS compatibility, CR0.NE = 0): the waiting instruction asserts
/// FERR# (IRQ13 on a PC) and waits; the IRQ13 handler's write to port F0H asserts IGNNE#
/// and drops IRQ13, after which the instruction runs; FNCLEX ends it all.
#[test]
fn ferr_irq13_path_without_ne() {
    let mut m = machine();
    m.core.cpu.cr0 &= !cr0::NE;
    pending_zero_divide(&mut m);
    exec(&mut m, FADD).unwrap();
    assert!(m.core.cpu.halted, "the processor waits at the instruction");
    assert_eq!(m.core.cpu.eip, CODE, "and restarts it after the interrupt");
    assert!(m.core.dev.fpu_ferr);
    assert!(
        m.core.dev.pic.slave.irr() & (1 << 5) != 0,
        "IRQ13 = slave line 5"
    );
    let st0 = m.core.cpu.fpu.st(0);
    m.core.cpu.halted = false;
    m.core.dev.io_write(0xF0, 1, 0, 0);
    assert!(!m.core.dev.fpu_ferr && m.core.dev.fpu_ignne);
    exec(&mut m, FADD).unwrap();
    assert!(!m.core.cpu.halted);
    assert_eq!(m.core.cpu.eip, CODE + 2, "IGNNE#: the error is ignored");
    assert_ne!(m.core.cpu.fpu.st(0), st0, "the FADD ran");
    exec(&mut m, FNCLEX).unwrap();
    assert!(!m.core.dev.fpu_ignne && !m.core.dev.fpu_ferr);
}

/// SDM Vol. 1 8.1.10, Figure 8-9 (32-bit protected-mode environment) and Figure 8-10
/// (16-bit real-mode): the fields at their offsets, and FLDENV reads back what FNSTENV wrote.
#[test]
fn environment_layouts_follow_figures_8_9_and_8_10() {
    let mut f = Fpu::power_on();
    f.init();
    f.cw = 0x027F;
    f.sw = 0x3A21;
    f.empty = 0xFE;
    f.regs[0] = F80::ONE;
    f.fip = 0x1234_5678;
    f.fcs = 0x0008;
    f.fop = 0x0123;
    f.fdp = 0x9ABC_DEF0;
    f.fds = 0x0010;
    let img = env::env_image(&f, true, false);
    let w = |k: usize| u32::from_le_bytes(img[4 * k..4 * k + 4].try_into().unwrap());
    assert_eq!(img.len(), 28);
    assert_eq!(w(0) & 0xFFFF, 0x027F);
    assert_eq!(w(1) & 0xFFFF, 0x3A21);
    // TOP = 7: R0 (ST(1)) holds 1.0 (valid, 00), the rest empty (11).
    assert_eq!(w(2) & 0xFFFF, 0xFFFC);
    assert_eq!(w(3), 0x1234_5678);
    assert_eq!(w(4), 0x0123 << 16 | 0x0008);
    assert_eq!(w(5), 0x9ABC_DEF0);
    assert_eq!(w(6) & 0xFFFF, 0x0010);
    let mut g = Fpu::power_on();
    env::load_env(&mut g, &img, true, false);
    assert_eq!(
        (g.cw, g.sw, g.empty, g.fip, g.fcs, g.fop),
        (0x027F, 0x3A21, 0xFE, 0x1234_5678, 8, 0x123)
    );
    // 16-bit real mode: 20-bit linear pointers split as in Figure 8-10.
    f.fcs = 0x1000;
    f.fip = 0x0234;
    f.fds = 0x2000;
    f.fdp = 0x0010;
    let img = env::env_image(&f, false, true);
    let h = |k: usize| u16::from_le_bytes([img[2 * k], img[2 * k + 1]]);
    assert_eq!(img.len(), 14);
    assert_eq!((h(3), h(4)), (0x0234, 0x1000 | 0x123));
    assert_eq!((h(5), h(6)), (0x0010, 0x2000));
}

/// SDM Vol. 2A FSAVE/FRSTOR: the image holds the environment then ST(0)..ST(7); FNSAVE
/// initializes the FPU afterwards; FRSTOR restores registers and tags.
#[test]
fn fsave_frstor_round_trip() {
    let mut m = machine();
    exec(&mut m, FNINIT).unwrap();
    exec(&mut m, FLD1).unwrap();
    exec(&mut m, &[0xD9, 0xEB]).unwrap(); // fldpi
    let before = m.core.cpu.fpu.clone();
    exec(&mut m, &[0xDD, 0x35, 0x00, 0x30, 0, 0]).unwrap(); // fnsave [0x3000]
    assert_eq!(m.core.cpu.fpu.tag_word(), 0xFFFF, "FNSAVE ends with FNINIT");
    let st0 = F80::from_bytes(&m.core.mem.peek(DATA + 28, 10));
    assert_eq!(st0, before.st(0));
    exec(&mut m, &[0xDD, 0x25, 0x00, 0x30, 0, 0]).unwrap(); // frstor [0x3000]
    let after = &m.core.cpu.fpu;
    assert_eq!(
        (after.cw, after.sw, after.empty),
        (before.cw, before.sw, before.empty)
    );
    assert_eq!((after.st(0), after.st(1)), (before.st(0), before.st(1)));
}

/// The FPU is machine state: a snapshot carries it, and reverse execution restores it.
#[test]
fn fpu_state_survives_snapshots_and_reverse_steps() {
    // fninit; fld1; fldpi; fdivp st1,st0; fldl2e
    let prog = [
        0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xDE, 0xF9, 0xD9, 0xEA, 0xF4,
    ];
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        ..Default::default()
    };
    let m = boot(
        cfg,
        &prog,
        &BootKind::Flat {
            addr: CODE,
            real: false,
        },
    )
    .unwrap();
    let mut s = Session::new(m);
    for _ in 0..4 {
        assert_eq!(s.step(), Stop::Done);
    }
    let after4 = s.m.core.cpu.fpu.clone();
    assert!(!after4.is_empty(0));
    let bytes = crate::snapshot::save(&s.m);
    let restored = crate::snapshot::restore(&bytes).unwrap();
    assert_eq!(restored.core.cpu.fpu, after4);
    s.step();
    assert_ne!(s.m.core.cpu.fpu, after4);
    s.step_back();
    assert_eq!(s.m.core.cpu.fpu, after4, "one step back");
    s.step_back();
    s.step_back();
    let f = &s.m.core.cpu.fpu;
    assert_eq!(
        (f.tag_word(), f.st(0)),
        (0x3FFF, F80::ONE),
        "back to after FNINIT; FLD1"
    );
}
