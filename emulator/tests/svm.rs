//! AMD SVM (AMD64 APM Vol. 2 ch. 15; Vol. 3 for the instructions): discovery and enable,
//! the instructions' exceptions, VMRUN and #VMEXIT, the consistency checks, the
//! intercepts, event injection and EXITINTINFO. Each test names the APM section whose
//! text or pseudo-code it checks. Host and guest code are hand-assembled and checked by
//! iced-x86 (`Asm::i`); the guest shares the fixture's GDT and IDT (flat segments).

mod common;
use common::*;
use proptest::prelude::*;
use traplab::cpu::svm::{code, exit_name};
use traplab::inspect::World;
use traplab::trace::EventKind;
use traplab::{Machine, RunExit};

const VMCB: u32 = 0x60000;
const HSAVE: u32 = 0x61000;
const IOPM: u32 = 0x62000;
const MSRPM: u32 = 0x66000;
const GUEST: u32 = 0x70000;
const GUEST_STACK: u32 = 0x7F000;

// VMCB offsets (APM Appendix B).
const C_CR: u32 = 0x000;
const C_EXC: u32 = 0x008;
const C_MISC1: u32 = 0x00C;
const C_MISC2: u32 = 0x010;
const C_IOPM: u32 = 0x040;
const C_MSRPM: u32 = 0x048;
const C_TSC_OFFSET: u32 = 0x050;
const C_ASID: u32 = 0x058;
const C_EXITCODE: u32 = 0x070;
const C_INFO1: u32 = 0x078;
const C_INFO2: u32 = 0x080;
const C_INTINFO: u32 = 0x088;
const C_EVENTINJ: u32 = 0x0A8;
const C_NRIP: u32 = 0x0C8;
const S_ES: u32 = 0x400;
const S_CS: u32 = 0x410;
const S_SS: u32 = 0x420;
const S_DS: u32 = 0x430;
const S_GDTR: u32 = 0x460;
const S_IDTR: u32 = 0x480;
const S_EFER: u32 = 0x4D0;
const S_CR4: u32 = 0x548;
const S_CR3: u32 = 0x550;
const S_CR0: u32 = 0x558;
const S_DR7: u32 = 0x560;
const S_DR6: u32 = 0x568;
const S_RFLAGS: u32 = 0x570;
const S_RIP: u32 = 0x578;
const S_RSP: u32 = 0x5D8;
const S_RAX: u32 = 0x5F8;
const S_CR2: u32 = 0x640;

const SVME: u64 = 1 << 12;
// Intercept word 3 / word 4 bits (Table B-1).
const I_INTR: u32 = 1 << 0;
const I_RDTSC: u32 = 1 << 14;
const I_PUSHF: u32 = 1 << 16;
const I_CPUID: u32 = 1 << 18;
const I_HLT: u32 = 1 << 24;
const I_IOIO: u32 = 1 << 27;
const I_MSR: u32 = 1 << 28;
const I_SHUTDOWN: u32 = 1 << 31;
const I_VMRUN: u32 = 1 << 0;
const I_VMMCALL: u32 = 1 << 1;

const VMRUN: &[u8] = &[0x0F, 0x01, 0xD8];
const VMMCALL: &[u8] = &[0x0F, 0x01, 0xD9];
const VMLOAD: &[u8] = &[0x0F, 0x01, 0xDA];
const VMSAVE: &[u8] = &[0x0F, 0x01, 0xDB];
const STGI: &[u8] = &[0x0F, 0x01, 0xDC];
const CLGI: &[u8] = &[0x0F, 0x01, 0xDD];
const SKINIT: &[u8] = &[0x0F, 0x01, 0xDE];
const INVLPGA: &[u8] = &[0x0F, 0x01, 0xDF];

fn w64m(m: &mut Machine, a: u32, v: u64) {
    w64(m, a, v);
}
fn r64(m: &Machine, a: u32) -> u64 {
    r32(m, a) as u64 | (r32(m, a + 4) as u64) << 32
}

fn vmcb_seg(m: &mut Machine, off: u32, sel: u16, attrib: u16, limit: u32, base: u32) {
    w16(m, VMCB + off, sel);
    w16(m, VMCB + off + 2, attrib);
    w32(m, VMCB + off + 4, limit);
    w64m(m, VMCB + off + 8, base as u64);
}

/// The fixture's host (flat protected mode, CPL 0) with EFER.SVME set, VM_HSAVE_PA set,
/// and a VMCB for a flat 32-bit ring-0 guest at GUEST sharing the host's GDT and IDT,
/// ASID 1, intercepting VMRUN (required, 15.5.1) and VMMCALL.
fn host() -> Machine {
    let mut m = pm();
    m.core.cpu.msr.efer = SVME;
    m.core.svm.hsave_pa = HSAVE as u64;
    for k in 0..0x1000 / 4 {
        w32(&mut m, VMCB + 4 * k, 0);
    }
    vmcb_seg(&mut m, S_CS, K_CODE, 0xC9B, 0xFFFF_FFFF, 0);
    for off in [S_ES, S_SS, S_DS] {
        vmcb_seg(&mut m, off, K_DATA, 0xC93, 0xFFFF_FFFF, 0);
    }
    vmcb_seg(&mut m, S_GDTR, 0, 0, GDT_LIMIT as u32, GDT);
    vmcb_seg(&mut m, S_IDTR, 0, 0, 0x7FF, IDT);
    w64m(&mut m, VMCB + S_EFER, SVME);
    w64m(&mut m, VMCB + S_CR0, 0x11);
    w64m(&mut m, VMCB + S_RFLAGS, 2);
    w64m(&mut m, VMCB + S_RIP, GUEST as u64);
    w64m(&mut m, VMCB + S_RSP, GUEST_STACK as u64);
    w64m(&mut m, VMCB + S_DR7, 0x400);
    w64m(&mut m, VMCB + S_DR6, 0xFFFF_0FF0);
    w32(&mut m, VMCB + C_MISC2, I_VMRUN | I_VMMCALL);
    w32(&mut m, VMCB + C_ASID, 1);
    w64m(&mut m, VMCB + C_IOPM, IOPM as u64);
    w64m(&mut m, VMCB + C_MSRPM, MSRPM as u64);
    for k in 0..(12 << 10) / 4 {
        w32(&mut m, IOPM + 4 * k, 0);
    }
    for k in 0..(8 << 10) / 4 {
        w32(&mut m, MSRPM + 4 * k, 0);
    }
    // Host: mov eax, VMCB ; vmrun ; hlt
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, VMCB);
    a.i(VMRUN, "vmrun eax");
    a.hlt();
    a.load(&mut m);
    m
}

/// Address of the host's HLT after VMRUN (where #VMEXIT resumes the host).
const HOST_AFTER_VMRUN: u32 = CODE + 5 + 3;

fn guest(m: &mut Machine, f: impl FnOnce(&mut Asm)) -> Asm {
    let mut a = Asm::new32(GUEST);
    f(&mut a);
    a.load(m);
    a
}

/// Runs until the host halts after the world switch back; returns the exit code.
fn run_to_exit(m: &mut Machine) -> u64 {
    let exit = m.run(100_000);
    assert_eq!(
        exit,
        RunExit::Halted,
        "run ended with {exit:?} at {:#x}",
        m.core.cpu.eip
    );
    assert!(
        !m.core.svm.guest,
        "still in the guest at {:#x}",
        m.core.cpu.eip
    );
    assert_eq!(
        m.core.cpu.eip,
        HOST_AFTER_VMRUN + 1,
        "host resumed after VMRUN"
    );
    r64(m, VMCB + C_EXITCODE)
}

fn expect_exit(m: &mut Machine, want: u64) {
    let got = run_to_exit(m);
    assert_eq!(
        got,
        want,
        "exit {} instead of {}",
        exit_name(got),
        exit_name(want)
    );
}

// ---- Discovery and enable (APM 15.4, 15.30) ----

#[test]
fn cpuid_reports_svm_revision_asids_and_features() {
    // APM 15.4: CPUID Fn8000_0001 ECX[2] = SVM; Fn8000_000A: EAX revision, EBX ASIDs,
    // EDX[0] nested paging, EDX[3] NRIP save. Leaf 1 ECX[31] stays 0 on the real CPU.
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0x8000_0000);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.store_eax(DATA);
    a.mov_r32(0, 0x8000_0001);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0x0D, 0x04, 0x00, 0x04, 0x00], "mov [0x40004],ecx");
    a.mov_r32(0, 0x8000_000A);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.store_eax(DATA + 8);
    a.i(&[0x89, 0x1D, 0x0C, 0x00, 0x04, 0x00], "mov [0x4000C],ebx");
    a.i(&[0x89, 0x15, 0x10, 0x00, 0x04, 0x00], "mov [0x40010],edx");
    a.mov_r32(0, 1);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0x0D, 0x14, 0x00, 0x04, 0x00], "mov [0x40014],ecx");
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert!(r32(&m, DATA) >= 0x8000_000A, "max extended leaf");
    assert_ne!(r32(&m, DATA + 4) & (1 << 2), 0, "SVM bit");
    assert_eq!(r32(&m, DATA + 4) & (1 << 12), 0, "no SKINIT");
    assert_eq!(r32(&m, DATA + 8) & 0xFF, 1, "SVM revision 1");
    assert!(r32(&m, DATA + 12) >= 16, "at least 16 ASIDs");
    assert_eq!(
        r32(&m, DATA + 16),
        1 | 1 << 3,
        "nested paging and NRIP save only"
    );
    assert_eq!(
        r32(&m, DATA + 20) >> 31,
        0,
        "no hypervisor bit on the real CPU"
    );
}

/// Runs `wrmsr` with ECX, EDX:EAX at CPL 0 and reports the vector it raised (or none).
fn wrmsr(m: &mut Machine, msr: u32, v: u64) -> Option<u32> {
    let mut a = Asm::new32(CODE);
    a.mov_r32(1, msr);
    a.mov_r32(0, v as u32);
    a.mov_r32(2, (v >> 32) as u32);
    a.i(&[0x0F, 0x30], "wrmsr");
    a.hlt();
    a.load(m);
    m.core.cpu.eip = CODE;
    m.core.cpu.halted = false;
    w32(m, RESULT, 0xFFFF_FFFF);
    assert_eq!(m.run(1000), RunExit::Halted);
    let v = vector(m);
    (v != 0xFFFF_FFFF).then_some(v)
}

#[test]
fn efer_svme_vm_cr_and_hsave_pa() {
    // APM 15.4: EFER.SVME (bit 12) enables SVM; reserved EFER bits #GP. 15.30.1: with
    // VM_CR.SVMDIS set, setting SVME is #GP; once VM_CR.LOCK is set, LOCK and SVMDIS
    // ignore writes. 15.30.4: VM_HSAVE_PA must be 4 KiB aligned.
    let mut m = pm();
    assert_eq!(wrmsr(&mut m, 0xC000_0080, SVME), None);
    assert_eq!(m.core.cpu.msr.efer, SVME);
    assert_eq!(
        wrmsr(&mut m, 0xC000_0080, SVME | 1),
        Some(13),
        "EFER bit 0 reserved"
    );
    assert_eq!(
        wrmsr(&mut m, 0xC000_0080, 1 << 8),
        Some(13),
        "no long mode (LME)"
    );
    assert_eq!(wrmsr(&mut m, 0xC000_0080, 0), None);
    assert_eq!(wrmsr(&mut m, 0xC001_0114, 1 << 4), None, "SVMDIS");
    assert_eq!(
        wrmsr(&mut m, 0xC000_0080, SVME),
        Some(13),
        "SVME with SVMDIS"
    );
    assert_eq!(wrmsr(&mut m, 0xC001_0114, 1 << 3 | 1 << 4), None, "LOCK");
    assert_eq!(wrmsr(&mut m, 0xC001_0114, 0), None, "ignored while locked");
    assert_eq!(m.core.svm.vm_cr, 1 << 3 | 1 << 4);
    assert_eq!(
        wrmsr(&mut m, 0xC001_0114, 1 << 5),
        Some(13),
        "reserved VM_CR bit"
    );
    assert_eq!(wrmsr(&mut m, 0xC001_0117, 0x5_0000), None);
    assert_eq!(m.core.svm.hsave_pa, 0x5_0000);
    assert_eq!(wrmsr(&mut m, 0xC001_0117, 0x5_0010), Some(13), "misaligned");
    assert_eq!(
        wrmsr(&mut m, 0xC001_0117, 1 << 32),
        Some(13),
        "beyond 32 bits"
    );
}

// ---- The instructions' exceptions (APM Vol. 3: VMRUN, VMLOAD, VMSAVE, STGI, CLGI,
// INVLPGA, SKINIT, VMMCALL) ----

fn run_one(m: &mut Machine, bytes: &[u8], text: &str) -> u32 {
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, VMCB);
    a.i(bytes, text);
    a.hlt();
    a.load(m);
    m.core.cpu.eip = CODE;
    m.core.cpu.halted = false;
    w32(m, RESULT, 0xFFFF_FFFF);
    assert_eq!(m.run(10_000), RunExit::Halted);
    vector(m)
}

const INSNS: [(&[u8], &str); 6] = [
    (VMRUN, "vmrun eax"),
    (VMLOAD, "vmload eax"),
    (VMSAVE, "vmsave eax"),
    (STGI, "stgi"),
    (CLGI, "clgi"),
    (INVLPGA, "invlpga eax,ecx"),
];

#[test]
fn svm_instructions_are_ud_without_efer_svme() {
    // Vol. 3: "#UD: secure virtual machine was not enabled (EFER.SVME=0)".
    for (b, t) in INSNS {
        let mut m = host();
        m.core.cpu.msr.efer = 0;
        assert_eq!(run_one(&mut m, b, t), 6, "{t}");
    }
}

#[test]
fn svm_instructions_are_gp_at_cpl3() {
    // Vol. 3: "#GP(0): CPL was not zero" (checked after #UD).
    for (b, t) in INSNS {
        let mut m = host();
        to_ring3(&mut m);
        user_gate(&mut m, 13);
        assert_eq!(run_one(&mut m, b, t), 13, "{t}");
    }
}

#[test]
fn skinit_is_ud_and_vmmcall_is_ud_unless_intercepted() {
    // SKINIT is not offered (CPUID Fn8000_0001 ECX[12] = 0): #UD. VMMCALL outside a guest
    // that intercepts it: #UD (Vol. 3 VMMCALL).
    let mut m = host();
    assert_eq!(run_one(&mut m, SKINIT, "skinit eax"), 6);
    let mut m = host();
    assert_eq!(run_one(&mut m, VMMCALL, "vmmcall"), 6);
}

#[test]
fn vmrun_with_a_misaligned_vmcb_is_gp() {
    // Vol. 3 VMRUN: "#GP(0): the address in rAX was not aligned on a 4-Kbyte boundary".
    let mut m = host();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, VMCB + 8);
    a.i(VMRUN, "vmrun eax");
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), RunExit::Halted);
    assert_eq!(vector(&m), 13);
    assert!(!m.core.svm.guest);
}

// ---- VMRUN and #VMEXIT (APM 15.5, 15.6) ----

#[test]
fn vmrun_enters_the_guest_and_vmmcall_exits_with_the_host_state_back() {
    // 15.5.1: VMRUN saves the host state and loads the guest's; 15.6: #VMEXIT writes the
    // guest state, EXITCODE and NextRIP (15.7.1) to the VMCB, reloads the host state and
    // clears GIF.
    let mut m = host();
    let g = guest(&mut m, |a| {
        a.mov_r32(3, 0x1234_5678); // ebx: guest work
        a.mov_r32(0, 0xAAAA_0001);
        a.i(VMMCALL, "vmmcall");
    });
    let call_at = g.here() - 3;
    m.core.cpu.gpr[4] = STACK_INIT;
    expect_exit(&mut m, code::VMMCALL);
    let c = &m.core;
    assert_eq!(c.cpu.gpr[0], VMCB, "host EAX restored");
    assert_eq!(c.cpu.gpr[4], STACK_INIT, "host ESP restored");
    assert_eq!(c.cpu.gpr[3], 0x1234_5678, "other GPRs are not switched");
    assert!(!c.svm.gif, "GIF cleared by #VMEXIT");
    assert_eq!(c.cpu.dr[7], 0x400);
    assert_eq!(
        r64(&m, VMCB + S_RIP),
        call_at as u64,
        "guest RIP at VMMCALL"
    );
    assert_eq!(r64(&m, VMCB + C_NRIP), g.here() as u64, "NextRIP after it");
    assert_eq!(r64(&m, VMCB + S_RAX), 0xAAAA_0001, "guest RAX saved");
    assert_eq!(r64(&m, VMCB + S_RSP), GUEST_STACK as u64);
    assert_eq!(r64(&m, VMCB + C_INTINFO), 0);
    let kinds: Vec<_> = m
        .core
        .events
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Vmrun { asid, rip } => Some(format!("vmrun {asid} {rip:#x}")),
            EventKind::Vmexit {
                code, rip, asid, ..
            } => Some(format!("exit {} {rip:#x} {asid}", exit_name(code))),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            format!("vmrun 1 {GUEST:#x}"),
            format!("exit VMMCALL {call_at:#x} 1")
        ]
    );
    // The guest's ASID ran; the host is back in address space 0.
    assert_eq!(m.core.mmu.tlb.asid(), 0);
}

#[test]
fn the_host_save_area_holds_the_host_state() {
    // 15.5.1: "VMRUN saves ... host state to the host save area" (its layout is the
    // VMCB save area's here, 15.30.4).
    let mut m = host();
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::VMMCALL);
    assert_eq!(r64(&m, HSAVE + S_RIP), HOST_AFTER_VMRUN as u64);
    assert_eq!(r64(&m, HSAVE + S_RAX), VMCB as u64);
    assert_eq!(r16(&m, HSAVE + S_CS), K_CODE);
    assert_eq!(r64(&m, HSAVE + S_EFER), SVME);
}

fn illegal(f: impl FnOnce(&mut Machine)) {
    let mut m = host();
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    f(&mut m);
    let code = run_to_exit(&mut m);
    assert_eq!(
        code,
        u64::MAX,
        "VMEXIT_INVALID (-1), got {}",
        exit_name(code)
    );
    assert!(!m.core.svm.gif);
    assert_eq!(m.core.svm.vmruns, 0, "the guest never ran");
}

#[test]
fn consistency_checks_end_in_vmexit_invalid() {
    // 15.5.1 "Canonicalization and Consistency Checks": each illegal state is #VMEXIT
    // with VMEXIT_INVALID (-1) and the host goes on after VMRUN.
    illegal(|m| w64m(m, VMCB + S_EFER, 0)); // EFER.SVME is zero
    illegal(|m| w64m(m, VMCB + S_CR0, 0x11 | 1 << 29)); // CR0.NW without CD
    illegal(|m| w64m(m, VMCB + S_CR0, 0x11 | 1 << 32)); // CR0[63:32]
    illegal(|m| w64m(m, VMCB + S_CR3, 1 << 40)); // CR3 MBZ
    illegal(|m| w64m(m, VMCB + S_CR4, 1 << 13)); // CR4 MBZ (VMXE)
    illegal(|m| w64m(m, VMCB + S_DR6, 1 << 32)); // DR6[63:32]
    illegal(|m| w64m(m, VMCB + S_DR7, 1 << 32)); // DR7[63:32]
    illegal(|m| w64m(m, VMCB + S_EFER, SVME | 1 << 8)); // LME on a CPU without long mode
    illegal(|m| w32(m, VMCB + C_MISC2, I_VMMCALL)); // the VMRUN intercept bit is clear
    illegal(|m| w64m(m, VMCB + C_IOPM, 0xFFFF_E000)); // IOPM past 4 GiB
    illegal(|m| w64m(m, VMCB + C_MSRPM, 0xFFFF_F000)); // MSRPM past 4 GiB
    illegal(|m| w32(m, VMCB + C_ASID, 0)); // ASID 0 is the host's
    illegal(|m| w64m(m, VMCB + C_EVENTINJ, 1 << 31 | 1 << 8 | 0x20)); // type 1 reserved
    illegal(|m| w64m(m, VMCB + C_EVENTINJ, 1 << 31 | 3 << 8 | 2)); // exception vector 2
    illegal(|m| w64m(m, VMCB + C_EVENTINJ, 1 << 31 | 3 << 8 | 40)); // exception vector 40
}

// ---- Intercepts (APM 15.9-15.13) ----

#[test]
fn hlt_cpuid_pushf_and_rdtsc_intercepts() {
    // 15.9 instruction intercepts: HLT 0x78, CPUID 0x72, PUSHF 0x70, RDTSC 0x6E, RDPMC
    // 0x6F; RIP at
    // the instruction, NextRIP after it (15.7.1).
    for (bit, bytes, text, want) in [
        (I_HLT, &[0xF4][..], "hlt", code::HLT),
        (I_CPUID, &[0x0F, 0xA2][..], "cpuid", code::CPUID),
        (I_PUSHF, &[0x9C][..], "pushfd", code::PUSHF),
        (I_RDTSC, &[0x0F, 0x31][..], "rdtsc", code::RDTSC),
        (1 << 15, &[0x0F, 0x33][..], "rdpmc", code::RDPMC),
    ] {
        let mut m = host();
        w32(&mut m, VMCB + C_MISC1, bit);
        let g = guest(&mut m, |a| {
            a.nop();
            a.i(bytes, text);
            a.i(VMMCALL, "vmmcall");
        });
        expect_exit(&mut m, want);
        assert_eq!(r64(&m, VMCB + S_RIP), GUEST as u64 + 1, "{text}");
        assert_eq!(
            r64(&m, VMCB + C_NRIP),
            (GUEST + 1 + bytes.len() as u32) as u64
        );
        let _ = g;
    }
}

#[test]
fn cpuid_runs_in_the_guest_when_not_intercepted() {
    // 15.9: without its intercept bit an instruction runs in the guest.
    let mut m = host();
    guest(&mut m, |a| {
        a.mov_r32(0, 0);
        a.i(&[0x0F, 0xA2], "cpuid");
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::VMMCALL);
    assert_eq!(
        r64(&m, VMCB + S_RAX),
        7,
        "CPUID's max leaf in the guest's EAX"
    );
}

#[test]
fn ioio_intercept_through_the_io_permission_map() {
    // 15.10.1: one IOPM bit per port; 15.10.2: EXITINFO1 = port << 16 | size | type,
    // EXITINFO2 = the next RIP.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_IOIO);
    w8(&mut m, IOPM + 0x3F8 / 8, 1 << (0x3F8 % 8));
    let g = guest(&mut m, |a| {
        a.i(&[0xE4, 0x61], "in al,0x61"); // not in the map: runs
        a.mov_r32(2, 0x3F8);
        a.i(&[0xEE], "out dx,al");
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::IOIO);
    let out_at = g.here() - 4;
    assert_eq!(r64(&m, VMCB + S_RIP), out_at as u64);
    assert_eq!(r64(&m, VMCB + C_INFO1), 0x3F8 << 16 | 1 << 4, "OUT, 8 bits");
    assert_eq!(r64(&m, VMCB + C_INFO2), (out_at + 1) as u64, "next RIP");

    // An IN of 16 bits whose second port is in the map: intercepted, TYPE = 1.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_IOIO);
    w8(&mut m, IOPM + 0x71 / 8, 1 << (0x71 % 8));
    guest(&mut m, |a| {
        a.i(&[0x66, 0xE5, 0x70], "in ax,0x70");
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::IOIO);
    assert_eq!(
        r64(&m, VMCB + C_INFO1),
        0x70 << 16 | 1 << 5 | 1,
        "IN, 16 bits"
    );
}

#[test]
fn msr_intercept_through_the_msr_permission_map() {
    // 15.11: two MSRPM bits per MSR (read, write); EXITINFO1 0 = RDMSR, 1 = WRMSR; MSRs
    // outside the three ranges are always intercepted.
    let cases: [(u32, u32, bool, &[u8], &str); 3] = [
        (0x10, 0, false, &[0x0F, 0x32], "rdmsr"),
        (0x174, 0, true, &[0x0F, 0x30], "wrmsr"),
        (0xC001_0117, 0x1000, false, &[0x0F, 0x32], "rdmsr"),
    ];
    for (msr, range, write, bytes, text) in cases {
        let mut m = host();
        w32(&mut m, VMCB + C_MISC1, I_MSR);
        let bit = range * 8 + (msr & 0x1FFF) * 2 + write as u32;
        w8(&mut m, MSRPM + bit / 8, 1 << (bit % 8));
        guest(&mut m, |a| {
            a.mov_r32(1, msr);
            a.i(bytes, text);
            a.i(VMMCALL, "vmmcall");
        });
        expect_exit(&mut m, code::MSR);
        assert_eq!(r64(&m, VMCB + C_INFO1), write as u64, "{text} {msr:#x}");
    }
    // Outside the map's ranges: always an exit.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_MSR);
    guest(&mut m, |a| {
        a.mov_r32(1, 0x4000_0000);
        a.i(&[0x0F, 0x32], "rdmsr");
    });
    expect_exit(&mut m, code::MSR);
}

#[test]
fn exception_intercepts_carry_the_error_code_and_the_fault_address() {
    // 15.12: an intercepted exception exits with 0x40 + vector, EXITINFO1 = error code;
    // for #PF EXITINFO2 = the faulting address and CR2 is not written.
    let mut m = host();
    w32(&mut m, VMCB + C_EXC, 1 << 6);
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x0B], "ud2");
    });
    expect_exit(&mut m, code::EXCP_BASE + 6);
    assert_eq!(
        r64(&m, VMCB + S_RIP),
        GUEST as u64,
        "RIP at the faulting instruction"
    );

    let mut m = host();
    w32(&mut m, VMCB + C_EXC, 1 << 13);
    guest(&mut m, |a| {
        a.i(&[0x8E, 0xD8], "mov ds,ax"); // EAX = 0x33: bad selector, #GP(0x30)
    });
    w64m(&mut m, VMCB + S_RAX, 0x33);
    expect_exit(&mut m, code::EXCP_BASE + 13);
    assert_eq!(r64(&m, VMCB + C_INFO1), 0x30);

    // #PF: the guest pages with the fixture's identity map, one page not present.
    let mut m = host();
    w32(&mut m, PD, PT | 7);
    for k in 0..1024 {
        w32(&mut m, PT + 4 * k, (k << 12) | 7);
    }
    w32(&mut m, PT + 4 * 0x45, 0);
    w64m(&mut m, VMCB + S_CR3, PD as u64);
    w64m(&mut m, VMCB + S_CR0, 0x8000_0011);
    w64m(&mut m, VMCB + S_CR2, 0x1111);
    w32(&mut m, VMCB + C_EXC, 1 << 14);
    guest(&mut m, |a| {
        a.i(&[0xA1, 0x10, 0x50, 0x04, 0x00], "mov eax,[0x45010]");
    });
    expect_exit(&mut m, code::EXCP_BASE + 14);
    assert_eq!(r64(&m, VMCB + C_INFO1), 0, "not present, read, supervisor");
    assert_eq!(r64(&m, VMCB + C_INFO2), 0x45010);
    assert_eq!(r64(&m, VMCB + S_CR2), 0x1111, "CR2 untouched");
}

#[test]
fn cr_intercepts_and_selective_cr0_write() {
    // 15.9.1: CRn read/write intercepts (exit 0x00+n / 0x10+n); 15.9.2: the selective
    // CR0 write intercept exits only when a bit other than TS and MP changes.
    let mut m = host();
    w32(&mut m, VMCB + C_CR, 1 << 3); // CR3 reads
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x20, 0xD8], "mov eax,cr3");
    });
    expect_exit(&mut m, code::CR0_READ + 3);

    let mut m = host();
    w32(&mut m, VMCB + C_CR, 1 << 20); // CR4 writes
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x22, 0xE0], "mov cr4,eax");
    });
    expect_exit(&mut m, code::CR0_WRITE + 4);

    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, 1 << 5);
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x06], "clts"); // TS only: runs
        a.i(&[0x0F, 0x20, 0xC0], "mov eax,cr0");
        a.i(&[0x0D, 0x00, 0x00, 0x01, 0x00], "or eax,0x10000"); // WP
        a.i(&[0x0F, 0x22, 0xC0], "mov cr0,eax");
    });
    expect_exit(&mut m, code::CR0_SEL_WRITE);
}

#[test]
fn a_guest_triple_fault_exits_with_shutdown() {
    // 15.12 / 15.13: with the SHUTDOWN intercept a guest's shutdown is an exit, the
    // machine is not reset.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_SHUTDOWN);
    vmcb_seg(&mut m, S_IDTR, 0, 0, 0, IDT); // every delivery faults
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x0B], "ud2");
    });
    expect_exit(&mut m, code::SHUTDOWN);
}

// ---- Event injection and EXITINTINFO (15.20, 15.7.2) ----

#[test]
fn eventinj_delivers_an_exception_with_its_error_code_through_the_guest_idt() {
    // 15.20: EVENTINJ TYPE 3 (exception) with EV: delivered before the first guest
    // instruction, error code pushed; the fixture's handler stores its vector and halts
    // (HLT intercepted here).
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_HLT);
    w64m(
        &mut m,
        VMCB + C_EVENTINJ,
        1 << 31 | 1 << 11 | 3 << 8 | 13 | 0x1234u64 << 32,
    );
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::HLT);
    assert_eq!(vector(&m), 13);
    let esp = r64(&m, VMCB + S_RSP) as u32;
    assert_eq!(esp, GUEST_STACK - 16, "error code, EIP, CS, EFLAGS");
    assert_eq!(r32(&m, esp), 0x1234, "error code");
    assert_eq!(
        r32(&m, esp + 4),
        GUEST,
        "return to the guest's first instruction"
    );
    assert_eq!(
        r64(&m, VMCB + C_EVENTINJ) >> 31 & 1,
        0,
        "EVENTINJ.V cleared"
    );
}

#[test]
fn an_exit_during_injection_reports_the_event_in_exitintinfo() {
    // 15.7.2: when delivering an event is interrupted by an intercept, EXITINTINFO holds
    // that event. The guest IDT is too short for vector 0x30, so its delivery raises
    // #GP(0x30 * 8 + 2 + EXT), intercepted.
    let mut m = host();
    w32(&mut m, VMCB + C_EXC, 1 << 13);
    vmcb_seg(&mut m, S_IDTR, 0, 0, 0xFF, IDT);
    w64m(&mut m, VMCB + C_EVENTINJ, 1 << 31 | 0x30);
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::EXCP_BASE + 13);
    assert_eq!(r64(&m, VMCB + C_INFO1), 0x30 * 8 + 2 + 1);
    assert_eq!(
        r64(&m, VMCB + C_INTINFO),
        1 << 31 | 0x30,
        "the external interrupt"
    );
}

#[test]
fn tsc_offset_applies_to_the_guest_rdtsc() {
    // 15.15.3 (TSC_OFFSET): the guest reads the host TSC plus the VMCB's offset.
    let mut m = host();
    w64m(&mut m, VMCB + C_TSC_OFFSET, 1_000_000_000);
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x31], "rdtsc");
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::VMMCALL);
    let guest_tsc = r64(&m, VMCB + S_RAX);
    // The TSC counts virtual-time ticks: the instructions so far and the VMRUN's cost
    // (the cost model, `trace::worlds`: 10 ns a tick).
    let vmrun = m.inspect().ledger().costs.vmrun / 10;
    assert!(
        (1_000_000_000 + vmrun..1_000_000_100 + vmrun).contains(&guest_tsc),
        "guest TSC {guest_tsc}"
    );
}

#[test]
fn stgi_and_clgi_set_and_clear_gif() {
    // 15.17: STGI sets GIF, CLGI clears it; #VMEXIT leaves it clear.
    let mut m = host();
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    let mut a = Asm::new32(HOST_AFTER_VMRUN);
    a.i(STGI, "stgi");
    a.hlt();
    a.load(&mut m);
    let exit = m.run(10_000);
    assert_eq!(exit, RunExit::Halted);
    assert!(m.core.svm.gif);
    let mut m = host();
    run_one(&mut m, CLGI, "clgi");
    assert!(!m.core.svm.gif);
}

#[test]
fn vmsave_then_vmload_moves_fs_gs_tr_ldtr_and_sysenter() {
    // 15.5.2: VMSAVE stores FS, GS, TR, LDTR (hidden state included) and the SYSENTER
    // MSRs; VMLOAD loads them.
    let mut m = host();
    m.core.cpu.msr.sysenter_eip = 0xCAFE;
    run_one(&mut m, VMSAVE, "vmsave eax");
    assert_eq!(r32(&m, VMCB + 0x638), 0xCAFE);
    assert_eq!(r16(&m, VMCB + 0x490), SEL_TSS_A, "TR selector");
    m.core.cpu.msr.sysenter_eip = 0;
    m.core.cpu.tr = Default::default();
    run_one(&mut m, VMLOAD, "vmload eax");
    assert_eq!(m.core.cpu.msr.sysenter_eip, 0xCAFE);
    assert_eq!(m.core.cpu.tr.sel, SEL_TSS_A);
    assert_eq!(m.core.cpu.tr.base, TSS_A);
}

#[test]
fn vmrun_in_the_guest_always_exits() {
    // 15.5.1: VMRUN's intercept is mandatory, so a guest's VMRUN is an exit (0x80).
    let mut m = host();
    guest(&mut m, |a| {
        a.mov_r32(0, VMCB);
        a.i(VMRUN, "vmrun eax");
    });
    expect_exit(&mut m, code::VMRUN);
}

#[test]
fn intr_intercept_exits_and_leaves_the_interrupt_pending() {
    // 15.13.1: with the INTR intercept, a physical interrupt the guest could take exits
    // (V_INTR_MASKING clear: the guest's IF masks it) and stays pending for the host.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_INTR);
    w64m(&mut m, VMCB + S_RFLAGS, 0x202);
    guest(&mut m, |a| {
        a.i(&[0xEB, 0xFE], "jmp 0x70000");
    });
    // The PIC, initialized as a BIOS does (vectors 0x20-0x2F), with IRQ 5 alone unmasked
    // and raised.
    let pic = &mut m.core.dev.pic;
    for (port, v) in [
        (0x20, 0x11),
        (0x21, 0x20),
        (0x21, 4),
        (0x21, 1),
        (0x21, 0xDF),
    ] {
        pic.write(port, v);
    }
    for (port, v) in [
        (0xA0, 0x11),
        (0xA1, 0x28),
        (0xA1, 2),
        (0xA1, 1),
        (0xA1, 0xFF),
    ] {
        pic.write(port, v);
    }
    pic.set_irq(5, true);
    expect_exit(&mut m, code::INTR);
    assert!(m.core.dev.interrupt_pending(), "left for the host");
}

// ---- Hostile VMCBs (the robustness requirement) ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A VMCB of random bytes, and (half the time) with the fields the consistency checks
    /// look at made legal so that the random guest state really runs: VMRUN ends in an
    /// orderly #VMEXIT, a guest run or a fault, never a host panic or hang (APM 15.5.1:
    /// illegal state is VMEXIT_INVALID).
    #[test]
    fn random_vmcbs_never_panic_or_hang(
        bytes in proptest::collection::vec(any::<u8>(), 4096),
        legal in any::<bool>(),
        code in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let mut m = host();
        assert!(m.core.mem.load(VMCB, &bytes));
        assert!(m.core.mem.load(GUEST, &code));
        if legal {
            w64m(&mut m, VMCB + S_EFER, SVME);
            let cr0 = r64(&m, VMCB + S_CR0) as u32 & !(1 << 29);
            w64m(&mut m, VMCB + S_CR0, cr0 as u64);
            w32(&mut m, VMCB + S_CR3 + 4, 0);
            let cr4 = r32(&m, VMCB + S_CR4) & 0x1D8;
            w64m(&mut m, VMCB + S_CR4, cr4 as u64);
            w32(&mut m, VMCB + S_DR6 + 4, 0);
            w32(&mut m, VMCB + S_DR7 + 4, 0);
            let misc2 = r32(&m, VMCB + C_MISC2) | I_VMRUN;
            w32(&mut m, VMCB + C_MISC2, misc2);
            w64m(&mut m, VMCB + C_IOPM, IOPM as u64);
            w64m(&mut m, VMCB + C_MSRPM, MSRPM as u64);
            let asid = 1 + r32(&m, VMCB + C_ASID) % 15;
            w32(&mut m, VMCB + C_ASID, asid);
            let inj = r64(&m, VMCB + C_EVENTINJ) & !(1 << 31);
            w64m(&mut m, VMCB + C_EVENTINJ, inj);
            if code[0] & 1 == 0 {
                w64m(&mut m, VMCB + S_RIP, GUEST as u64);
            }
        }
        // Step by step (each step retires one instruction or delivers one event): a guest
        // can loop on an exception forever without retiring anything, as real hardware
        // would (an IDT entry pointing at a faulting instruction); `run`'s instruction
        // budget does not end such a loop (see the report: not SVM-specific).
        for _ in 0..20_000 {
            let exit = m.step();
            prop_assert!(matches!(
                exit,
                RunExit::Budget | RunExit::Halted | RunExit::TripleFault | RunExit::Exit(_) | RunExit::Reset
            ));
            if exit != RunExit::Budget {
                break;
            }
        }
        // Every exit taken is in the VMCB: the last #VMEXIT event's code is its EXITCODE.
        let last = m.core.events.events.iter().rev().find_map(|e| match e.kind {
            EventKind::Vmexit { code, .. } => Some(code),
            _ => None,
        });
        if let (Some(code), false) = (last, m.core.svm.guest) {
            prop_assert_eq!(r64(&m, VMCB + C_EXITCODE), code);
        }
        if !m.core.svm.guest && !legal {
            prop_assert_eq!(r64(&m, VMCB + C_EXITCODE), u64::MAX, "random VMCBs are illegal");
        }
    }
}

// ---- More instruction intercepts (APM 15.9, 15.14) ----

#[test]
fn more_instruction_intercepts() {
    // 15.9 / Table B-1: each intercept bit and the exit code it gives; RIP at the
    // instruction, NextRIP after it.
    let cases: [(u32, bool, &[u8], &str, u64); 16] = [
        (1 << 2, true, VMLOAD, "vmload eax", code::VMLOAD),
        (1 << 3, true, VMSAVE, "vmsave eax", code::VMSAVE),
        (1 << 4, true, STGI, "stgi", code::STGI),
        (1 << 5, true, CLGI, "clgi", code::CLGI),
        (1 << 17, false, &[0x9D], "popfd", code::POPF),
        (1 << 20, false, &[0xCF], "iretd", code::IRET),
        (1 << 21, false, &[0xCD, 0x30], "int 0x30", code::SWINT),
        (1 << 22, false, &[0x0F, 0x08], "invd", code::INVD),
        (1 << 23, false, &[0xF3, 0x90], "pause", code::PAUSE),
        (
            1 << 25,
            false,
            &[0x0F, 0x01, 0x38],
            "invlpg [eax]",
            code::INVLPG,
        ),
        (1 << 26, false, INVLPGA, "invlpga eax,ecx", code::INVLPGA),
        (
            1 << 6,
            false,
            &[0x0F, 0x01, 0x08],
            "sidt [eax]",
            code::IDTR_READ,
        ),
        (
            1 << 11,
            false,
            &[0x0F, 0x01, 0x10],
            "lgdt [eax]",
            code::GDTR_WRITE,
        ),
        (1 << 9, false, &[0x0F, 0x00, 0xC8], "str eax", code::TR_READ),
        (1 << 8, true, &[0xF1], "int1", code::ICEBP),
        (1 << 9, true, &[0x0F, 0x09], "wbinvd", code::WBINVD),
    ];
    for (bit, word4, bytes, text, want) in cases {
        let mut m = host();
        if word4 {
            w32(&mut m, VMCB + C_MISC2, I_VMRUN | I_VMMCALL | bit);
        } else {
            w32(&mut m, VMCB + C_MISC1, bit);
        }
        w64m(&mut m, VMCB + S_RAX, DATA as u64);
        guest(&mut m, |a| {
            a.nop();
            a.i(bytes, text);
        });
        expect_exit(&mut m, want);
        assert_eq!(r64(&m, VMCB + S_RIP), GUEST as u64 + 1, "{text}");
        let next = GUEST + 1 + bytes.len() as u32;
        assert_eq!(r64(&m, VMCB + C_NRIP), next as u64, "{text}");
    }
}

#[test]
fn int3_with_the_bp_exception_intercept_exits_at_the_instruction() {
    // 15.12: INT3 raises #BP; with vector 3 intercepted the exit (0x43) has RIP at the
    // INT3 and NextRIP after it (15.7.1), so a hypervisor can re-inject it as a software
    // interrupt.
    let mut m = host();
    w32(&mut m, VMCB + C_EXC, 1 << 3);
    guest(&mut m, |a| {
        a.nop();
        a.i(&[0xCC], "int3");
    });
    expect_exit(&mut m, code::EXCP_BASE + 3);
    assert_eq!(r64(&m, VMCB + S_RIP), GUEST as u64 + 1);
    assert_eq!(r64(&m, VMCB + C_NRIP), GUEST as u64 + 2);
}

#[test]
fn dr_intercepts() {
    // 15.9.3: DRn reads exit with 0x20 + n, writes with 0x30 + n (offset 0x004).
    let mut m = host();
    w32(&mut m, VMCB + 0x004, 1 << 7);
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x21, 0xF8], "mov eax,dr7");
    });
    expect_exit(&mut m, code::DR0_READ + 7);
    let mut m = host();
    w32(&mut m, VMCB + 0x004, 1 << 16);
    guest(&mut m, |a| {
        a.i(&[0x0F, 0x23, 0xC0], "mov dr0,eax");
    });
    expect_exit(&mut m, code::DR0_WRITE);
}

#[test]
fn a_task_switch_exits_with_the_target_selector() {
    // 15.14.2 (task switch intercept): EXITINFO1 = the new TSS selector, EXITINFO2 bit 38
    // for a JMP.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, 1 << 29);
    guest(&mut m, |a| {
        a.jmp_far(SEL_TSS_B, 0);
    });
    expect_exit(&mut m, code::TASK_SWITCH);
    assert_eq!(r64(&m, VMCB + C_INFO1), SEL_TSS_B as u64);
    assert_eq!(r64(&m, VMCB + C_INFO2), 1 << 38);
    assert_eq!(
        r64(&m, VMCB + S_RIP),
        GUEST as u64,
        "nothing of the switch happened"
    );
}

// ---- Virtual interrupts (APM 15.21) ----

const V_INTR: u32 = 0x060;

#[test]
fn v_irq_is_delivered_through_the_guest_idt_when_the_guest_enables_interrupts() {
    // 15.21.4: V_IRQ with V_INTR_VECTOR is taken when the guest's IF is 1 and V_INTR_PRIO
    // is above V_TPR; taking it clears V_IRQ (written back at #VMEXIT).
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_HLT);
    w64m(&mut m, VMCB + V_INTR, 1 << 8 | 2 << 16 | 1 | 0x41u64 << 32);
    guest(&mut m, |a| {
        a.nop();
        a.i(&[0xFB], "sti");
        a.nop();
        a.nop();
    });
    expect_exit(&mut m, code::HLT);
    assert_eq!(vector(&m), 0x41, "the guest's handler of vector 0x41 ran");
    assert_eq!(r64(&m, VMCB + V_INTR) >> 8 & 1, 0, "V_IRQ cleared");
    // Not before STI: the return address on the guest stack is after STI's shadow.
    let esp = r64(&m, VMCB + S_RSP) as u32;
    assert_eq!(r32(&m, esp), GUEST + 3);
}

#[test]
fn v_tpr_holds_back_a_virtual_interrupt_unless_v_ign_tpr() {
    // 15.21.4: V_INTR_PRIO must be above V_TPR, unless V_IGN_TPR.
    for (vi, taken) in [
        (1u64 << 8 | 2 << 16 | 3, false),
        (1u64 << 8 | 2 << 16 | 3 | 1 << 20, true),
    ] {
        let mut m = host();
        w32(&mut m, VMCB + C_MISC1, I_HLT);
        w64m(&mut m, VMCB + S_RFLAGS, 0x202);
        w64m(&mut m, VMCB + V_INTR, vi | 0x41u64 << 32);
        guest(&mut m, |a| {
            a.nop();
            a.hlt();
        });
        expect_exit(&mut m, code::HLT);
        assert_eq!(vector(&m) == 0x41, taken, "V_INTR {vi:#x}");
    }
}

#[test]
fn vintr_intercept_exits_when_a_virtual_interrupt_could_be_taken() {
    // 15.21.4 / 15.13: with the VINTR intercept the exit comes instead of the delivery.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, 1 << 4);
    w64m(&mut m, VMCB + S_RFLAGS, 0x202);
    w64m(&mut m, VMCB + V_INTR, 1 << 8 | 1 << 20 | 0x41u64 << 32);
    guest(&mut m, |a| {
        a.nop();
    });
    expect_exit(&mut m, code::VINTR);
    assert_eq!(r64(&m, VMCB + V_INTR) >> 8 & 1, 1, "V_IRQ still pending");
}

#[test]
fn v_intr_masking_lets_the_host_if_decide_on_physical_interrupts() {
    // 15.21.1: with V_INTR_MASKING, physical interrupts are masked by the host's IF at
    // VMRUN, not by the guest's: guest IF = 0 still exits on INTR when the host's IF = 1.
    let mut m = host();
    m.core.cpu.flags.set(0x202);
    w32(&mut m, VMCB + C_MISC1, I_INTR);
    w64m(&mut m, VMCB + V_INTR, 1 << 24);
    guest(&mut m, |a| {
        a.i(&[0xEB, 0xFE], "jmp 0x70000");
    });
    let pic = &mut m.core.dev.pic;
    for (port, v) in [
        (0x20, 0x11),
        (0x21, 0x20),
        (0x21, 4),
        (0x21, 1),
        (0x21, 0xDF),
    ] {
        pic.write(port, v);
    }
    for (port, v) in [
        (0xA0, 0x11),
        (0xA1, 0x28),
        (0xA1, 2),
        (0xA1, 1),
        (0xA1, 0xFF),
    ] {
        pic.write(port, v);
    }
    // The IRQ comes once the guest runs (the host, IF = 1, would take it first).
    m.step();
    m.step();
    assert!(m.core.svm.guest);
    m.core.dev.pic.set_irq(5, true);
    // #VMEXIT cleared GIF (15.17): the host, IF = 1, holds the IRQ until STGI.
    expect_exit(&mut m, code::INTR);
    assert!(m.core.dev.interrupt_pending());
    assert_eq!(vector(&m), 0xFFFF_FFFF, "held by GIF = 0");
    let mut a = Asm::new32(HOST_AFTER_VMRUN);
    a.i(STGI, "stgi");
    a.hlt();
    a.load(&mut m);
    m.core.cpu.eip = HOST_AFTER_VMRUN;
    m.core.cpu.halted = false;
    assert_eq!(m.run(1000), RunExit::Halted);
    assert_eq!(vector(&m), 0x25, "taken once GIF = 1");
}

// ---- TLB control and INVLPGA (APM 15.16) ----

#[test]
fn tlb_control_and_invlpga_drop_the_guests_translations() {
    // 15.16.1: TLB_CONTROL = 3 flushes this guest's ASID on VMRUN; 15.16.3: INVLPGA drops
    // one page of a given ASID. Checked through the TLB's tags: the guest's entries carry
    // ASID 1.
    let mut m = host();
    w32(&mut m, PD, PT | 7);
    for k in 0..1024 {
        w32(&mut m, PT + 4 * k, (k << 12) | 7);
    }
    w64m(&mut m, VMCB + S_CR3, PD as u64);
    w64m(&mut m, VMCB + S_CR0, 0x8000_0011);
    guest(&mut m, |a| {
        a.i(&[0xA1, 0x00, 0x00, 0x04, 0x00], "mov eax,[0x40000]");
        a.i(VMMCALL, "vmmcall");
    });
    expect_exit(&mut m, code::VMMCALL);
    let tagged = |m: &Machine, asid: u32| {
        m.core
            .mmu
            .tlb
            .e
            .iter()
            .filter(|e| e.tag != 0xFFF && e.tag & 0xFFF == asid)
            .count()
    };
    assert!(
        tagged(&m, 1) > 0,
        "the guest's translations are kept after #VMEXIT"
    );
    // INVLPGA of the data page in ASID 1.
    let before = tagged(&m, 1);
    let mut a = Asm::new32(HOST_AFTER_VMRUN);
    a.mov_r32(0, DATA);
    a.mov_r32(1, 1);
    a.i(INVLPGA, "invlpga eax,ecx");
    a.hlt();
    a.load(&mut m);
    m.core.cpu.eip = HOST_AFTER_VMRUN;
    m.core.cpu.halted = false;
    assert_eq!(m.run(1000), RunExit::Halted);
    assert!(tagged(&m, 1) < before, "INVLPGA dropped the page");
    // TLB_CONTROL = 3 on the next VMRUN: nothing of ASID 1 is left when the guest starts.
    w8(&mut m, VMCB + 0x05C, 3);
    m.core.cpu.eip = CODE;
    m.core.cpu.halted = false;
    guest(&mut m, |a| {
        a.i(VMMCALL, "vmmcall");
    });
    m.step(); // mov eax, VMCB
    m.step(); // vmrun
    assert!(m.core.svm.guest);
    assert_eq!(tagged(&m, 1), 0, "flushed by TLB_CONTROL");
}

// ---- The inspection API's worlds ----

#[test]
fn inspection_sees_both_worlds_and_the_vmcb() {
    // While the guest runs, `inspect()` is the guest (ASID 1) and the host is read from the
    // host save area; after #VMEXIT the guest is read from the VMCB.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_CPUID);
    guest(&mut m, |a| {
        a.mov_r32(0, 0x1234);
        a.i(&[0x0F, 0xA2], "cpuid");
    });
    assert_eq!(m.worlds(), vec![World::Host]);
    m.step();
    m.step(); // vmrun
    let g = World::Guest { asid: 1 };
    assert_eq!(m.inspect().world(), g);
    assert_eq!(m.worlds(), vec![World::Host, g]);
    assert_eq!(m.inspect().eip(), GUEST);
    let h = m.inspect_world(World::Host).expect("host world");
    assert_eq!(h.eip(), HOST_AFTER_VMRUN);
    assert_eq!(h.gpr(0), VMCB);
    let v = m.inspect().svm();
    assert!(v.guest_mode && v.gif);
    assert_eq!(v.controls.asid, 1);
    assert_eq!(v.intercepts, ["CPUID", "VMRUN", "VMMCALL"]);
    assert_eq!(v.last_exit, None);
    expect_exit(&mut m, code::CPUID);
    assert_eq!(m.inspect().world(), World::Host);
    let gi = m.inspect_world(g).expect("guest world");
    assert_eq!(gi.eip(), GUEST + 5, "the guest's RIP at the exit");
    assert_eq!(gi.gpr(0), 0x1234);
    let last = m.inspect().svm().last_exit.expect("an exit");
    assert_eq!((last.name, last.next_rip), ("CPUID", GUEST as u64 + 7));
    assert!(m.inspect_world(World::Guest { asid: 2 }).is_none());
}

#[test]
fn a_snapshot_taken_in_the_guest_resumes_identically() {
    // The SVM state is part of the snapshot (determinism): restoring mid-guest and
    // running gives the same state as running on.
    let mut m = host();
    w32(&mut m, VMCB + C_MISC1, I_HLT);
    guest(&mut m, |a| {
        for _ in 0..20 {
            a.i(&[0x40], "inc eax");
        }
        a.hlt();
    });
    for _ in 0..6 {
        m.step();
    }
    assert!(m.core.svm.guest);
    let bytes = traplab::snapshot::save(&m);
    let mut r = traplab::snapshot::restore(&bytes).expect("restore");
    assert!(r.core.svm.guest);
    assert_eq!(r.core.mmu.tlb.asid(), 1);
    expect_exit(&mut m, code::HLT);
    expect_exit(&mut r, code::HLT);
    assert_eq!(
        traplab::snapshot::state_hash(&m),
        traplab::snapshot::state_hash(&r)
    );
}
