//! The `--popek-goldberg` switch and UMIP.
//!
//! - The switch (README, "The Popek-Goldberg switch"): each sensitive instruction, run with
//!   the switch at CPL 0, ends in exactly the state it ends in without the switch; at CPL 1
//!   and CPL 3 it raises #GP(0) as a fault (EIP of the instruction, the stack, flags,
//!   segment registers and memory unchanged), where without the switch it runs. In
//!   virtual-8086 mode the switch does nothing.
//! - UMIP (SDM Vol. 3A 2.5, CR4 bit 11; Vol. 2 SGDT, SIDT, SLDT, SMSW, STR: "IF CR4.UMIP = 1
//!   and CPL > 0 THEN #GP(0)"): CPUID.(EAX=7,ECX=0):ECX bit 2 offers it, MOV CR4 accepts
//!   it, the five stores fault at CPL 3 and in virtual-8086 mode and work at CPL 0.

mod common;
use common::*;
use traplab::mmu::segment::{CS, DS, ES, FS, GS, SS};
use traplab::snapshot::{restore, save, state_hash};
use traplab::Machine;

/// Ring-1 flat code and data (a deprivileged kernel's segments).
const R1_CODE: u16 = FREE | 1;
const R1_DATA: u16 = (FREE + 8) | 1;
/// A second flat data segment, DPL 3 (loadable into DS..GS at every ring): the segment
/// loads under test load it, so that a load that happened shows.
const ALT: u16 = (FREE + 16) | 3;
/// A far pointer in memory (offset dword, selector word) for LDS and indirect far jumps.
const FARPTR: u32 = DATA + 0x100;
/// Arithmetic flags (CF PF AF ZF SF OF): the fixture starts with all clear.
const ARITH: u32 = 0x8D5;
/// EAX at the start (a store to EAX shows).
const SENTINEL: u32 = 0x5A5A_5A5A;

fn code_sel(ring: u8) -> u16 {
    [K_CODE, R1_CODE, U_CODE, U_CODE][ring as usize]
}
fn data_sel(ring: u8) -> u16 {
    [K_DATA, R1_DATA, U_DATA, U_DATA][ring as usize]
}

/// The fixture at `ring` (0, 1 or 3) with the switch as given; UD2 at CODE2 (the target
/// of the far transfers: #UD ends a run that got there) and INT 0x81 open to every ring.
fn machine(ring: u8, pg: bool) -> Machine {
    let mut m = pm();
    set_gdt(&mut m, R1_CODE, flat(true, 1));
    set_gdt(&mut m, R1_DATA, flat(false, 1));
    set_gdt(&mut m, ALT, flat(false, 3));
    user_gate(&mut m, 0x81);
    assert!(m.core.mem.load(CODE2, &[0x0F, 0x0B]));
    match ring {
        0 => {}
        1 => {
            load(&mut m, CS, R1_CODE);
            for s in [ES, SS, DS, FS, GS] {
                load(&mut m, s, R1_DATA);
            }
            m.core.cpu.cpl = 1;
            m.core.cpu.gpr[4] = STACK3;
        }
        _ => to_ring3(&mut m),
    }
    m.core.cpu.gpr[0] = SENTINEL;
    m.set_popek_goldberg(pg);
    m
}

type Emit = fn(&mut Asm, u8);

/// One sensitive instruction: `setup` prepares its operands (with instructions the switch
/// does not touch) and pushes `pushes` dwords; `insn` emits it; without the switch the run
/// ends with `natural` (UD2 after it or at the far target: 6).
struct Case {
    name: &'static str,
    /// What the SDM (Vol. 2) says the instruction does with the privilege level.
    sdm: &'static str,
    setup: Emit,
    insn: Emit,
    pushes: u32,
    natural: u8,
}

fn nothing(_: &mut Asm, _: u8) {}

fn far_ptr(a: &mut Asm, sel: u16, off: u32) {
    a.store_imm(FARPTR, off);
    a.store_imm(FARPTR + 4, sel as u32);
}

fn cases() -> Vec<Case> {
    fn c(name: &'static str, sdm: &'static str, setup: Emit, insn: Emit) -> Case {
        Case {
            name,
            sdm,
            setup,
            insn,
            pushes: 0,
            natural: 6,
        }
    }
    let mut v = vec![
        c("sgdt", "SGDT stores GDTR at any CPL", nothing, |a, _| {
            a.i(&[0x0F, 0x01, 0x05, 0, 0, 4, 0], "sgdt [0x40000]");
        }),
        c("sidt", "SIDT stores IDTR at any CPL", nothing, |a, _| {
            a.i(&[0x0F, 0x01, 0x0D, 0, 0, 4, 0], "sidt [0x40000]");
        }),
        c("sldt", "SLDT stores LDTR at any CPL", nothing, |a, _| {
            a.i(&[0x0F, 0x00, 0xC0], "sldt eax");
        }),
        c("str", "STR stores TR at any CPL", nothing, |a, _| {
            a.i(&[0x0F, 0x00, 0xC8], "str eax");
        }),
        c(
            "smsw",
            "SMSW stores CR0 bits at any CPL",
            nothing,
            |a, _| {
                a.i(&[0x0F, 0x01, 0xE0], "smsw eax");
            },
        ),
        c(
            "pushfd",
            "PUSHF pushes the real IF and IOPL",
            nothing,
            |a, _| {
                a.i(&[0x9C], "pushfd");
            },
        ),
        c(
            "lar",
            "LAR checks DPL against CPL",
            |a, r| {
                a.mov_r32(1, code_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0x02, 0xC1], "lar eax,ecx");
            },
        ),
        c(
            "lsl",
            "LSL checks DPL against CPL",
            |a, r| {
                a.mov_r32(1, code_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0x03, 0xC1], "lsl eax,ecx");
            },
        ),
        c(
            "verr",
            "VERR checks DPL against CPL",
            |a, r| {
                a.mov_r32(1, data_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0x00, 0xE1], "verr cx");
            },
        ),
        c(
            "verw",
            "VERW checks DPL against CPL",
            |a, r| {
                a.mov_r32(1, data_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0x00, 0xE9], "verw cx");
            },
        ),
        c("push cs", "PUSH CS pushes the real RPL", nothing, |a, _| {
            a.i(&[0x0E], "push cs");
        }),
        c("push ss", "PUSH SS pushes the real RPL", nothing, |a, _| {
            a.i(&[0x16], "push ss");
        }),
        c("push ds", "PUSH DS", nothing, |a, _| {
            a.i(&[0x1E], "push ds");
        }),
        c("push es", "PUSH ES", nothing, |a, _| {
            a.i(&[0x06], "push es");
        }),
        c("push fs", "PUSH FS", nothing, |a, _| {
            a.i(&[0x0F, 0xA0], "push fs");
        }),
        c("push gs", "PUSH GS", nothing, |a, _| {
            a.i(&[0x0F, 0xA8], "push gs");
        }),
        c(
            "mov r,cs",
            "MOV r,CS reveals the real RPL",
            nothing,
            |a, _| {
                a.i(&[0x8C, 0xC8], "mov eax,cs");
            },
        ),
        c(
            "mov r,ss",
            "MOV r,SS reveals the real RPL",
            nothing,
            |a, _| {
                a.i(&[0x8C, 0xD0], "mov eax,ss");
            },
        ),
        c("mov m,ds", "MOV m,Sreg", nothing, |a, _| {
            a.i(&[0x8C, 0x1D, 0, 0, 4, 0], "mov [0x40000],ds");
        }),
        c(
            "mov ds,r",
            "MOV Sreg checks DPL against CPL",
            |a, _| {
                a.mov_r32(0, ALT as u32);
            },
            |a, _| {
                a.i(&[0x8E, 0xD8], "mov ds,ax");
            },
        ),
        c(
            "mov ss,r",
            "MOV SS requires DPL = CPL",
            |a, r| {
                a.mov_r32(0, data_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x8E, 0xD0], "mov ss,ax");
            },
        ),
        c(
            "lds",
            "LDS checks DPL against CPL",
            |a, _| far_ptr(a, ALT, 0),
            |a, _| {
                a.i(&[0xC5, 0x05, 0, 1, 4, 0], "lds eax,[0x40100]");
            },
        ),
        c(
            "les",
            "LES checks DPL against CPL",
            |a, _| far_ptr(a, ALT, 0),
            |a, _| {
                a.i(&[0xC4, 0x05, 0, 1, 4, 0], "les eax,[0x40100]");
            },
        ),
        c(
            "lfs",
            "LFS checks DPL against CPL",
            |a, _| far_ptr(a, ALT, 0),
            |a, _| {
                a.i(&[0x0F, 0xB4, 0x05, 0, 1, 4, 0], "lfs eax,[0x40100]");
            },
        ),
        c(
            "lgs",
            "LGS checks DPL against CPL",
            |a, _| far_ptr(a, ALT, 0),
            |a, _| {
                a.i(&[0x0F, 0xB5, 0x05, 0, 1, 4, 0], "lgs eax,[0x40100]");
            },
        ),
        c(
            "lss",
            "LSS requires DPL = CPL",
            |a, r| far_ptr(a, data_sel(r), STACK3),
            |a, _| {
                a.i(&[0x0F, 0xB2, 0x05, 0, 1, 4, 0], "lss eax,[0x40100]");
            },
        ),
        c(
            "call far",
            "CALL far checks privilege against CPL",
            nothing,
            |a, r| {
                a.call_far(code_sel(r), CODE2);
            },
        ),
        c(
            "jmp far",
            "JMP far checks privilege against CPL",
            nothing,
            |a, r| {
                a.jmp_far(code_sel(r), CODE2);
            },
        ),
        c(
            "call far [m]",
            "CALL far checks privilege against CPL",
            |a, r| far_ptr(a, code_sel(r), CODE2),
            |a, _| {
                a.i(&[0xFF, 0x1D, 0, 1, 4, 0], "call far fword [0x40100]");
            },
        ),
        c(
            "jmp far [m]",
            "JMP far checks privilege against CPL",
            |a, r| far_ptr(a, code_sel(r), CODE2),
            |a, _| {
                a.i(&[0xFF, 0x2D, 0, 1, 4, 0], "jmp far fword [0x40100]");
            },
        ),
    ];
    // Instructions that take a stack frame built by the setup.
    let stacked: [(&'static str, &'static str, Emit, Emit, u32); 7] = [
        (
            "popfd",
            "POPF ignores IF (and IOPL) at CPL > 0 (IOPL)",
            |a, _| {
                a.push_imm(0x2 | ARITH);
            },
            |a, _| {
                a.i(&[0x9D], "popfd");
            },
            1,
        ),
        (
            "pop ds",
            "POP DS checks DPL against CPL",
            |a, _| {
                a.push_imm(ALT as u32);
            },
            |a, _| {
                a.i(&[0x1F], "pop ds");
            },
            1,
        ),
        (
            "pop es",
            "POP ES checks DPL against CPL",
            |a, _| {
                a.push_imm(ALT as u32);
            },
            |a, _| {
                a.i(&[0x07], "pop es");
            },
            1,
        ),
        (
            "pop fs",
            "POP FS checks DPL against CPL",
            |a, _| {
                a.push_imm(ALT as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0xA1], "pop fs");
            },
            1,
        ),
        (
            "pop gs",
            "POP GS checks DPL against CPL",
            |a, _| {
                a.push_imm(ALT as u32);
            },
            |a, _| {
                a.i(&[0x0F, 0xA9], "pop gs");
            },
            1,
        ),
        (
            "pop ss",
            "POP SS requires DPL = CPL",
            |a, r| {
                a.push_imm(data_sel(r) as u32);
            },
            |a, _| {
                a.i(&[0x17], "pop ss");
            },
            1,
        ),
        (
            "retf",
            "RET far checks the return RPL against CPL",
            |a, r| {
                a.push_imm(code_sel(r) as u32);
                a.push_imm(CODE2);
            },
            |a, _| {
                a.i(&[0xCB], "ret far");
            },
            2,
        ),
    ];
    for (name, sdm, setup, insn, pushes) in stacked {
        v.push(Case {
            pushes,
            ..c(name, sdm, setup, insn)
        });
    }
    v.push(Case {
        pushes: 2,
        ..c(
            "retf imm16",
            "RET far checks the return RPL against CPL",
            |a, r| {
                a.push_imm(code_sel(r) as u32);
                a.push_imm(CODE2);
            },
            |a, _| {
                a.i(&[0xCA, 0x08, 0x00], "ret far 8");
            },
        )
    });
    v.push(Case {
        pushes: 3,
        ..c(
            "iretd",
            "IRET keeps IF and IOPL at CPL > 0 (beyond Robin & Irvine)",
            |a, r| {
                a.push_imm(0x2);
                a.push_imm(code_sel(r) as u32);
                a.push_imm(CODE2);
            },
            |a, _| {
                a.iretd();
            },
        )
    });
    v.push(Case {
        natural: 0x81,
        ..c(
            "int n",
            "INT n checks the gate DPL against CPL",
            nothing,
            |a, _| {
                a.int(0x81);
            },
        )
    });
    v
}

/// Runs `case` at `ring` with the switch as given; returns the machine and the address of
/// the instruction under test.
fn run_case(case: &Case, ring: u8, pg: bool) -> (Machine, u32) {
    let mut m = machine(ring, pg);
    let mut a = Asm::new32(CODE);
    (case.setup)(&mut a, ring);
    let at = a.here();
    (case.insn)(&mut a, ring);
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    let exit = run(&mut m);
    assert_eq!(exit, traplab::RunExit::Halted, "{}: {exit:?}", case.name);
    (m, at)
}

#[test]
fn at_cpl0_the_switch_changes_nothing() {
    for case in cases() {
        let (off, _) = run_case(&case, 0, false);
        let (on, _) = run_case(&case, 0, true);
        assert_eq!(vector(&off), case.natural as u32, "{}", case.name);
        assert_eq!(vector(&on), case.natural as u32, "{}", case.name);
        assert_eq!(off.core.cpu, on.core.cpu, "{}", case.name);
        assert_eq!(state_hash(&off), state_hash(&on), "{}", case.name);
    }
}

#[test]
fn above_cpl0_they_run_without_the_switch() {
    for ring in [1, 3] {
        for case in cases() {
            let (m, _) = run_case(&case, ring, false);
            assert_eq!(
                vector(&m),
                case.natural as u32,
                "{} at CPL {ring} ({})",
                case.name,
                case.sdm
            );
        }
    }
}

#[test]
fn above_cpl0_the_switch_makes_them_gp0_faults() {
    for ring in [1, 3] {
        for case in cases() {
            let what = format!("{} at CPL {ring}", case.name);
            let (m, at) = run_case(&case, ring, true);
            assert_eq!(vector(&m), 13, "{what}");
            // The ring-0 frame: error code, EIP, CS, EFLAGS, ESP, SS.
            assert_eq!(stack(&m, 0), 0, "{what}: error code");
            assert_eq!(stack(&m, 1), at, "{what}: a fault, at the instruction");
            assert_eq!(stack(&m, 2), code_sel(ring) as u32, "{what}: CS");
            assert_eq!(stack(&m, 3) & ARITH, 0, "{what}: flags unchanged");
            assert_eq!(stack(&m, 4), STACK3 - 4 * case.pushes, "{what}: ESP");
            assert_eq!(stack(&m, 5), data_sel(ring) as u32, "{what}: SS");
            let c = &m.core.cpu;
            for s in [DS, ES, FS, GS] {
                assert_eq!(c.seg[s].sel, data_sel(ring), "{what}: segment {s}");
            }
            assert_eq!(r32(&m, DATA), 0, "{what}: memory unchanged");
            if !matches!(case.name, "mov ds,r" | "mov ss,r") {
                assert_eq!(c.gpr[0], SENTINEL, "{what}: EAX unchanged");
            }
        }
    }
}

#[test]
fn toggling_the_switch_drops_decoded_blocks() {
    // The same code, decoded once without the switch, faults once the switch is on.
    let mut m = machine(3, false);
    let mut a = Asm::new32(CODE);
    a.i(&[0x9C], "pushfd");
    a.i(&[0x0F, 0x0B], "ud2");
    a.load(&mut m);
    let start = m.core.cpu.clone();
    expect_vector(&mut m, 6);
    m.core.cpu = start.clone();
    w32(&mut m, RESULT, 0xFFFF_FFFF);
    m.set_popek_goldberg(true);
    expect_vector(&mut m, 13);
    m.core.cpu = start;
    w32(&mut m, RESULT, 0xFFFF_FFFF);
    m.set_popek_goldberg(false);
    expect_vector(&mut m, 6);
}

#[test]
fn the_switch_is_saved_in_snapshots_and_shown_by_inspection() {
    let mut m = machine(3, true);
    assert!(m.inspect().cpu().popek_goldberg);
    let back = restore(&save(&m)).expect("restores");
    assert!(back.popek_goldberg());
    assert!(back.inspect().cpu().popek_goldberg);
    // The restored machine has the switch in force.
    let mut back = back;
    let mut a = Asm::new32(CODE);
    a.i(&[0x9C], "pushfd");
    a.load(&mut back);
    expect_vector(&mut back, 13);
    m.set_popek_goldberg(false);
    assert!(!restore(&save(&m)).unwrap().popek_goldberg());
}

const V86_CS: u16 = 0x1800; // linear CODE2

/// Ring-0 code at CODE that enters virtual-8086 mode at V86_CS:0 (IOPL 3).
fn enter_v86(m: &mut Machine, v86: &Asm) {
    let mut a = Asm::new32(CODE);
    for v in [0, 0, 0x4000, 0, 0x0900, 0x0FFE, 0x2_3002, V86_CS as u32, 0] {
        a.push_imm(v); // GS FS DS ES SS ESP EFLAGS(VM, IOPL 3) CS EIP
    }
    a.iretd();
    a.load(m);
    v86.load(m);
}

#[test]
fn the_switch_leaves_virtual_8086_mode_alone() {
    let mut m = machine(0, true);
    let mut v = Asm::new16(CODE2);
    v.i(&[0x9C], "pushf");
    v.i(&[0x9D], "popf");
    v.i(&[0x1E], "push ds");
    v.i(&[0x07], "pop es");
    v.i(&[0x8C, 0xD8], "mov ax,ds");
    v.i(&[0x0F, 0x01, 0xE0], "smsw ax");
    v.i(&[0x0F, 0x0B], "ud2");
    enter_v86(&mut m, &v);
    expect_vector(&mut m, 6);
    assert_eq!(m.core.cpu.gpr[0] & 0xFFFF, 0x11, "SMSW ran: PE | ET");
}

// ---- UMIP ----

fn cr4_write(a: &mut Asm, v: u32) {
    a.mov_r32(0, v);
    a.i(&[0x0F, 0x22, 0xE0], "mov cr4,eax");
}

#[test]
fn cpuid_offers_umip_and_cr4_accepts_it() {
    let mut m = pm();
    let mut a = Asm::new32(CODE);
    a.mov_r32(0, 0);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0xC6], "mov esi,eax");
    a.mov_r32(0, 7);
    a.mov_r32(1, 0);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0xCF], "mov edi,ecx");
    a.mov_r32(0, 7);
    a.mov_r32(1, 1);
    a.i(&[0x0F, 0xA2], "cpuid");
    a.i(&[0x89, 0xCD], "mov ebp,ecx");
    cr4_write(&mut a, 0x800);
    a.hlt();
    a.load(&mut m);
    assert_eq!(run(&mut m), traplab::RunExit::Halted);
    let c = &m.core.cpu;
    assert!(c.gpr[6] >= 7, "max basic leaf reaches 7");
    assert_eq!(c.gpr[7], 1 << 2, "leaf 7.0 ECX: UMIP only");
    assert_eq!(c.gpr[5], 0, "leaf 7.1: nothing");
    assert_eq!(c.cr4, 0x800);
    assert!(m.inspect().cpu().control.cr4 & 0x800 != 0);
}

/// The five UMIP instructions, each storing to DATA or EAX.
const UMIP_INSNS: [(&[u8], &str); 5] = [
    (&[0x0F, 0x01, 0x05, 0, 0, 4, 0], "sgdt [0x40000]"),
    (&[0x0F, 0x01, 0x0D, 0, 0, 4, 0], "sidt [0x40000]"),
    (&[0x0F, 0x00, 0xC0], "sldt eax"),
    (&[0x0F, 0x00, 0xC8], "str eax"),
    (&[0x0F, 0x01, 0xE0], "smsw eax"),
];

#[test]
fn umip_faults_at_cpl3_and_not_at_cpl0() {
    for (bytes, text) in UMIP_INSNS {
        for (ring, umip) in [(0, true), (3, true), (3, false)] {
            let mut m = machine(ring, false);
            m.core.cpu.cr4 = 0x800 * umip as u32;
            let mut a = Asm::new32(CODE);
            a.i(bytes, text);
            a.i(&[0x0F, 0x0B], "ud2");
            a.load(&mut m);
            let what = format!("{text} at CPL {ring}, UMIP {umip}");
            if ring == 3 && umip {
                expect_vector(&mut m, 13);
                assert_eq!(stack(&m, 0), 0, "{what}: #GP(0)");
                assert_eq!(stack(&m, 1), CODE, "{what}: a fault");
                assert_eq!(r32(&m, DATA), 0, "{what}: nothing stored");
                assert_eq!(m.core.cpu.gpr[0], SENTINEL, "{what}: nothing stored");
            } else {
                expect_vector(&mut m, 6);
                let stored = r32(&m, DATA) != 0 || m.core.cpu.gpr[0] != SENTINEL;
                assert!(stored, "{what}: stored");
            }
        }
    }
}

#[test]
fn umip_faults_in_virtual_8086_mode() {
    // SGDT, SIDT and SMSW: #GP(0) in virtual-8086 mode with UMIP (SLDT and STR are #UD
    // there anyway).
    let v86: [(&[u8], &str); 3] = [
        (&[0x0F, 0x01, 0x06, 0x00, 0x01], "sgdt [0x100]"),
        (&[0x0F, 0x01, 0x0E, 0x00, 0x01], "sidt [0x100]"),
        (&[0x0F, 0x01, 0xE0], "smsw ax"),
    ];
    for (bytes, text) in v86 {
        let mut m = machine(0, false);
        m.core.cpu.cr4 = 0x800;
        let mut v = Asm::new16(CODE2);
        v.i(bytes, text);
        v.i(&[0x0F, 0x0B], "ud2");
        enter_v86(&mut m, &v);
        expect_vector(&mut m, 13);
        assert_eq!(stack(&m, 0), 0, "{text}");
        assert_eq!(stack(&m, 1), 0, "{text}: IP of the instruction");
    }
}
