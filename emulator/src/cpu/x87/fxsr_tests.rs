//! Unit tests of FXSAVE/FXRSTOR on the paths the host CPU cannot be asked about from user
//! space (the byte layout itself is compared with the host in tests/fxsr_host.rs): #NM from
//! CR0.EM/TS, #GP on a misaligned operand, a faulting FXSAVE writes nothing, #UD with
//! LOCK, CPUID.1:EDX.FXSR and CR4.OSFXSR, and the FXSAVE image across a snapshot and
//! reverse steps.

use super::float::F80;
use super::fxsr;
use crate::boot::{boot, BootKind};
use crate::cpu::exception::{vec, Res};
use crate::cpu::insn::Insn;
use crate::cpu::state::{cr0, cr4};
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

/// Runs one instruction's handler directly (EIP advanced first, as the dispatch loop does).
fn exec(m: &mut Machine, bytes: &[u8]) -> Res {
    let mut d = Decoder::with_ip(32, bytes, CODE as u64, DecoderOptions::NONE);
    let ins = d.decode();
    m.core.mem.load(CODE, bytes);
    let i = Insn::new(ins, crate::cpu::exec::select(&ins));
    m.core.cpu.eip = i.next_ip;
    (i.inner)(&mut m.core, &i)
}

/// fxsave [disp32] / fxrstor [disp32].
fn fxsave(addr: u32) -> Vec<u8> {
    let mut v = vec![0x0F, 0xAE, 0x05];
    v.extend_from_slice(&addr.to_le_bytes());
    v
}
fn fxrstor(addr: u32) -> Vec<u8> {
    let mut v = vec![0x0F, 0xAE, 0x0D];
    v.extend_from_slice(&addr.to_le_bytes());
    v
}

const FNINIT: &[u8] = &[0xDB, 0xE3];
const FLD1: &[u8] = &[0xD9, 0xE8];
const FLDPI: &[u8] = &[0xD9, 0xEB];

/// A state with two registers in use and the pointers of FLDPI.
fn some_state(m: &mut Machine) {
    exec(m, FNINIT).unwrap();
    exec(m, FLD1).unwrap();
    exec(m, FLDPI).unwrap();
}

/// SDM Vol. 1 Table 10-2: the image of a known state, field by field.
#[test]
fn image_layout_follows_table_10_2() {
    let mut m = machine();
    some_state(&mut m);
    m.core.mem.load(DATA, &[0xEE; 512]);
    exec(&mut m, &fxsave(DATA)).unwrap();
    let b = m.core.mem.peek(DATA, 512);
    let w = |k: usize| u16::from_le_bytes([b[k], b[k + 1]]);
    let d = |k: usize| u32::from_le_bytes(b[k..k + 4].try_into().unwrap());
    let f = &m.core.cpu.fpu;
    assert_eq!(w(0), 0x037F, "FCW");
    assert_eq!(w(2), 6 << 11, "FSW: TOP = 6");
    assert_eq!(b[4], 0b1100_0000, "abridged FTW: R6 and R7 in use");
    assert_eq!(b[5], 0);
    assert_eq!(w(6), 0x01EB, "FOP of FLDPI (D9 EB)");
    assert_eq!((d(8), w(12)), (f.fip, f.fcs));
    assert_eq!((d(16), w(20)), (f.fdp, f.fds));
    assert_eq!(d(24), 0, "no MXCSR without SSE");
    assert_eq!(d(28), 0, "no MXCSR_MASK without SSE");
    assert_eq!(F80::from_bytes(&b[32..42]), f.st(0));
    assert_eq!(F80::from_bytes(&b[48..58]), F80::ONE);
    assert!(b[42..48].iter().all(|&x| x == 0), "ST0 slot padding");
    assert!(
        b[160..].iter().all(|&x| x == 0xEE),
        "XMM and reserved area untouched"
    );
}

/// FXSAVE leaves the FPU as it was (unlike FSAVE); FXRSTOR brings back a saved state
/// exactly, after the FPU was changed in between.
#[test]
fn fxsave_keeps_the_state_and_fxrstor_restores_it() {
    let mut m = machine();
    some_state(&mut m);
    let before = m.core.cpu.fpu.clone();
    exec(&mut m, &fxsave(DATA)).unwrap();
    assert_eq!(m.core.cpu.fpu, before);
    exec(&mut m, FNINIT).unwrap();
    exec(&mut m, FLD1).unwrap();
    exec(&mut m, &fxrstor(DATA)).unwrap();
    assert_eq!(m.core.cpu.fpu, before);
}

/// FXRSTOR ignores MXCSR (no SSE here, so no #GP for its reserved bits), loads an FSW with
/// an unmasked flag as pending (ES and B, no fault until a waiting instruction).
#[test]
fn fxrstor_ignores_mxcsr_and_leaves_exceptions_pending() {
    let mut m = machine();
    let mut img = [0u8; 512];
    img[0..2].copy_from_slice(&0x037Bu16.to_le_bytes()); // ZE unmasked
    img[2..4].copy_from_slice(&0x0004u16.to_le_bytes()); // ZE set
    img[24..28].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    m.core.mem.load(DATA, &img);
    exec(&mut m, &fxrstor(DATA)).unwrap();
    let f = &m.core.cpu.fpu;
    assert_eq!(f.sw, 0x0004 | super::sw::ES | super::sw::B);
    assert_eq!(f.empty, 0xFF);
    m.core.cpu.cr0 |= cr0::NE;
    let r = exec(&mut m, &[0x9B]); // fwait
    assert_eq!(r.err().map(|e| e.vector), Some(vec::MF));
}

/// SDM Vol. 2A FXSAVE/FXRSTOR, exceptions: #NM with CR0.TS or CR0.EM (MP plays no part),
/// #GP(0) when the operand is not 16-byte aligned, checked before anything is written.
#[test]
fn nm_and_alignment_faults() {
    let mut m = machine();
    some_state(&mut m);
    let base = m.core.cpu.cr0 & !(cr0::EM | cr0::TS | cr0::MP);
    for (bits, nm) in [
        (0, false),
        (cr0::MP, false),
        (cr0::TS, true),
        (cr0::EM, true),
        (cr0::TS | cr0::MP, true),
    ] {
        m.core.cpu.cr0 = base | bits;
        for op in [fxsave(DATA), fxrstor(DATA)] {
            let r = exec(&mut m, &op);
            assert_eq!(
                r.err().map(|e| e.vector),
                nm.then_some(vec::NM),
                "{bits:#x}"
            );
        }
    }
    m.core.cpu.cr0 = base;
    for off in [1, 4, 8, 15] {
        m.core.mem.load(DATA + off, &[0xEE; 512]);
        for op in [fxsave(DATA + off), fxrstor(DATA + off)] {
            let r = exec(&mut m, &op);
            assert_eq!(
                r.err().map(|e| (e.vector, e.error_code())),
                Some((vec::GP, Some(0)))
            );
        }
        assert!(m.core.mem.peek(DATA + off, 512).iter().all(|&x| x == 0xEE));
    }
}

/// An operand whose end lies past the segment limit faults before any byte is written.
#[test]
fn a_faulting_fxsave_writes_nothing() {
    let mut m = machine();
    some_state(&mut m);
    let ds = crate::mmu::segment::DS;
    m.core.cpu.seg[ds].limit = DATA + 0x100;
    m.core.segs_changed();
    m.core.mem.load(DATA, &[0xEE; 512]);
    let r = exec(&mut m, &fxsave(DATA));
    assert_eq!(r.err().map(|e| e.vector), Some(vec::GP));
    assert!(m.core.mem.peek(DATA, 512).iter().all(|&x| x == 0xEE));
}

/// LOCK FXSAVE is #UD (SDM Vol. 2A FXSAVE, "#UD If the LOCK prefix is used").
#[test]
fn lock_prefix_is_undefined() {
    let mut m = machine();
    let mut op = vec![0xF0];
    op.extend(fxsave(DATA));
    assert_eq!(exec(&mut m, &op).err().map(|e| e.vector), Some(vec::UD));
}

/// CPUID.1:EDX bit 24 (FXSR) is set, bit 25 (SSE) is not; MOV CR4 accepts OSFXSR (bit 9).
#[test]
fn cpuid_offers_fxsr_and_cr4_takes_osfxsr() {
    let mut m = machine();
    m.core.cpu.gpr[0] = 1;
    exec(&mut m, &[0x0F, 0xA2]).unwrap();
    let edx = m.core.cpu.gpr[2];
    assert_ne!(edx & (1 << 24), 0, "FXSR");
    assert_eq!(edx & (1 << 25 | 1 << 23), 0, "no SSE, no MMX");
    m.core.cpu.gpr[0] = cr4::OSFXSR;
    exec(&mut m, &[0x0F, 0x22, 0xE0]).unwrap(); // mov cr4, eax
    assert_eq!(m.core.cpu.cr4 & cr4::OSFXSR, cr4::OSFXSR);
    exec(&mut m, &fxsave(DATA)).unwrap();
}

/// The image FXSAVE writes is the same after a snapshot round trip and after reverse
/// steps back to the same point.
#[test]
fn fxsave_image_survives_snapshots_and_reverse_steps() {
    // fninit; fld1; fldpi; fdivp st1,st0; fldl2e; hlt
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
    let want = fxsr::image(&s.m.core.cpu.fpu);
    let restored = crate::snapshot::restore(&crate::snapshot::save(&s.m)).unwrap();
    assert_eq!(fxsr::image(&restored.core.cpu.fpu), want);
    s.step();
    assert_ne!(fxsr::image(&s.m.core.cpu.fpu), want);
    s.step_back();
    assert_eq!(fxsr::image(&s.m.core.cpu.fpu), want);
}
