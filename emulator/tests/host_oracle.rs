//! The host CPU as the oracle for Traplab's integer instructions (x86-64 hosts only).
//!
//! proptest picks operands and incoming flags; each instruction form runs natively through
//! `core::arch::asm!` (flags set with popfq before and captured with pushfq after) and in a
//! Traplab machine from hand-encoded 32-bit bytes; the four working registers and every
//! architecturally defined flag must agree. Undefined flags are masked as listed in
//! `traplab::cpu::undefined_flags` (the host is a modern CPU, not a P6).
//!
//! Register roles in every form: EAX, ECX, EDX and ESI (RBX is reserved by LLVM). Forms
//! with an immediate run natively with the same value in a register (CL for counts, CX/ECX
//! for IMUL): the SDM defines the immediate and register forms identically, and Traplab
//! gets ECX set to that value too, so the whole register file still has to match.
//!
//! DAA DAS AAA AAS AAM AAD do not exist in 64-bit mode. On Linux the host still runs them,
//! in compatibility mode through the 32-bit user code segment (`oracle::compat`,
//! `bcd_matches_host_in_compat_mode`); everywhere they are also checked in
//! `bcd_vs_sdm_pseudocode` against the SDM pseudo-code written out in this file
//! independently of the emulator (a weaker oracle, and said so).
#![cfg(target_arch = "x86_64")]

use proptest::prelude::*;
use std::cell::RefCell;
use traplab::boot::{boot, BootKind};
use traplab::cpu::exception::vec;
use traplab::cpu::flags::{AF, ARITH, CF, OF, PF, SF, ZF};
use traplab::{Machine, MachineConfig};

mod oracle;
use oracle::*;

const CODE: u32 = 0x1000;
/// Guest buffer for the memory bit-string forms (the bit base is in the middle).
const BUF: u32 = 0x8000;

thread_local! {
    static M: RefCell<Machine> = RefCell::new(
        boot(MachineConfig::default(), &[0x90], &BootKind::Flat { addr: CODE, real: false })
            .expect("flat boot"),
    );
}

/// Runs `bytes` as one instruction in Traplab from state `st`. `Err(())` if it did not
/// retire normally (an exception was delivered).
fn emu(bytes: &[u8], st: St, mem: Option<&mut [u8]>) -> Result<St, ()> {
    M.with(|m| {
        let mut m = m.borrow_mut();
        m.core.mem.load(CODE, bytes);
        m.core.req.clear();
        let c = &mut m.core.cpu;
        c.halted = false;
        c.eip = CODE;
        c.gpr = [st.a, st.c, st.d, 0, 0x7_FF00, 0, st.s, 0];
        c.flags.set((st.f & ARITH) | 2);
        if let Some(buf) = &mem {
            c.gpr[7] = BUF + buf.len() as u32 / 2;
            m.core.mem.load(BUF, buf);
        }
        m.flush_code_cache();
        m.step();
        let c = &m.core.cpu;
        if c.eip != CODE + bytes.len() as u32 {
            return Err(());
        }
        let out = St {
            a: c.gpr[0],
            c: c.gpr[1],
            d: c.gpr[2],
            s: c.gpr[6],
            f: c.flags.get() & ARITH,
        };
        if let Some(buf) = mem {
            let n = buf.len();
            buf.copy_from_slice(&m.core.mem.peek(BUF, n));
        }
        Ok(out)
    })
}

/// Runs one form on both CPUs and compares.
fn check(form: &Form, st: St) -> Result<(), TestCaseError> {
    let st = form.prepare(st);
    let (fmask, cmp_regs) = (form.mask)(&st);
    let bytes = form.bytes(&st);
    let want = (form.native)(st);
    let got = emu(&bytes, st, None)
        .map_err(|_| TestCaseError::fail(format!("{}: fault in Traplab for {st:x?}", form.name)))?;
    let show = |s: &St| format!("{s:x?}");
    if cmp_regs {
        prop_assert_eq!(
            (got.a, got.c, got.d, got.s),
            (want.a, want.c, want.d, want.s),
            "{} registers, input {}",
            form.name,
            show(&st)
        );
    }
    prop_assert_eq!(
        got.f & fmask,
        want.f & fmask,
        "{} flags (mask {:#x}), input {}, host {}, traplab {}",
        form.name,
        fmask,
        show(&st),
        show(&want),
        show(&got)
    );
    Ok(())
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn run_family(forms: &[Form], cases_per_form: u32) {
    for form in forms {
        let mut runner = proptest::test_runner::TestRunner::new(cfg(cases_per_form));
        let strat = (val(), count_or_val(), val(), val(), any::<u32>());
        let r = runner.run(&strat, |(a, c, d, s, f)| check(form, St { a, c, d, s, f }));
        if let Err(e) = r {
            panic!("{}: {e}", form.name);
        }
    }
}

#[test]
fn alu_matches_host() {
    run_family(&alu_forms(), 300);
}

#[test]
fn unary_matches_host() {
    run_family(&unary_forms(), 300);
}

#[test]
fn shifts_and_rotates_match_host() {
    run_family(&shift_forms(), 300);
}

#[test]
fn double_shifts_match_host() {
    run_family(&double_shift_forms(), 400);
}

#[test]
fn multiply_matches_host() {
    run_family(&mul_forms(), 400);
}

#[test]
fn bits_and_exchanges_match_host() {
    run_family(&bit_forms(), 300);
}

/// DIV/IDIV: operand combinations whose quotient fits run on both CPUs; the others would
/// fault natively (SIGFPE), so for those the test asserts that Traplab raises #DE and
/// changes nothing. Whether a quotient fits is computed here with i128 arithmetic.
#[test]
fn divide_matches_host_and_faults_with_de() {
    let forms = div_forms();
    let faults = std::cell::Cell::new(0u32);
    let runs = std::cell::Cell::new(0u32);
    for form in &forms {
        let mut runner = proptest::test_runner::TestRunner::new(cfg(600));
        let strat = (val(), divisor(), dividend_high(), val(), any::<u32>());
        runner
            .run(&strat, |(a, c, d, s, f)| {
                let st = St { a, c, d, s, f };
                if div_fits(form.name, &st) {
                    runs.set(runs.get() + 1);
                    check(form, st)
                } else {
                    faults.set(faults.get() + 1);
                    let got = emu_fault(&form.bytes(&st), st);
                    prop_assert_eq!(got, Some(vec::DE), "{} {:x?}", form.name, st);
                    Ok(())
                }
            })
            .unwrap_or_else(|e| panic!("{}: {e}", form.name));
    }
    let (runs, faults) = (runs.get(), faults.get());
    assert!(
        runs > 1000 && faults > 100,
        "both outcomes exercised: {runs} / {faults}"
    );
}

/// BT/BTS/BTR/BTC with a memory bit base and a register offset address bits outside the
/// operand (SDM BT, signed offsets): host and Traplab run on equal 64-byte buffers.
#[test]
fn bit_strings_in_memory_match_host() {
    let forms = bit_mem_forms();
    for form in &forms {
        let mut runner = proptest::test_runner::TestRunner::new(cfg(300));
        let strat = (any::<[u8; 32]>(), -200i32..200, any::<u32>());
        runner
            .run(&strat, |(half, off, f)| {
                let mut host = [0u8; 64];
                host[..32].copy_from_slice(&half);
                host[32..].copy_from_slice(&half.map(|b| b.rotate_left(3)));
                let mut guest = host;
                let st = St {
                    a: 0,
                    c: off as u32,
                    d: 0,
                    s: 0,
                    f,
                };
                let want = (form.native_mem)(st, &mut host);
                let got = emu(form.bytes, st, Some(&mut guest))
                    .map_err(|_| TestCaseError::fail("fault"))?;
                prop_assert_eq!(
                    got.f & (CF | ZF),
                    want.f & (CF | ZF),
                    "{} {:x?}",
                    form.name,
                    st
                );
                prop_assert_eq!(host, guest, "{} memory, offset {}", form.name, off);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", form.name));
    }
}

/// Runs the handler directly (so the delivered exception can be seen) and checks that the
/// registers are unchanged; returns the vector.
fn emu_fault(bytes: &[u8], st: St) -> Option<u8> {
    use traplab::cpu::insn::Insn;
    use traplab::iced_x86::{Decoder, DecoderOptions};
    M.with(|m| {
        let mut m = m.borrow_mut();
        let c = &mut m.core.cpu;
        c.gpr = [st.a, st.c, st.d, 0, 0x7_FF00, 0, st.s, 0];
        c.flags.set((st.f & ARITH) | 2);
        let before = (c.gpr, c.flags.get());
        let ins = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
        let i = Insn::new(ins, traplab::cpu::exec::select(&ins));
        let r = (i.inner)(&mut m.core, &i);
        let c = &m.core.cpu;
        assert_eq!(
            (c.gpr, c.flags.get()),
            before,
            "state changed by a faulting divide"
        );
        r.err().map(|e| e.vector)
    })
}

// ---- BCD: SDM pseudo-code oracle (the host cannot run these in 64-bit mode) ----

const BCD_OPS: [(&str, u8); 6] = [
    ("daa", 0x27),
    ("das", 0x2F),
    ("aaa", 0x37),
    ("aas", 0x3F),
    ("aam", 0xD4),
    ("aad", 0xD5),
];

/// The instruction bytes of BCD op `k` (AAM/AAD get an immediate base, often 10).
fn bcd_bytes(k: usize, imm: u8) -> Vec<u8> {
    let (name, op) = BCD_OPS[k];
    if name == "aam" || name == "aad" {
        vec![op, if imm.is_multiple_of(4) { 10 } else { imm }]
    } else {
        vec![op]
    }
}

/// The flags each BCD instruction defines (SDM "Flags Affected").
fn bcd_defined(name: &str) -> u32 {
    match name {
        "daa" | "das" => ARITH & !OF,
        "aaa" | "aas" => CF | AF,
        _ => SF | ZF | PF,
    }
}

/// Runs in the child process started by `oracle::compat::available()` only.
#[cfg(target_os = "linux")]
#[test]
fn compat_probe() {
    if std::env::var_os("TRAPLAB_COMPAT_PROBE").is_none() {
        return;
    }
    let mut c = oracle::compat::Compat::new().expect("mmap below 2 GiB");
    let (eax, _) = c.run(&[0x27], 0x0F, 0);
    assert_eq!(eax & 0xFF, 0x15);
}

/// The host CPU itself, in 32-bit compatibility mode, as the oracle for the BCD group.
#[cfg(target_os = "linux")]
#[test]
fn bcd_matches_host_in_compat_mode() {
    if !oracle::compat::available() {
        eprintln!("skipped: this host cannot run 32-bit compatibility-mode code");
        return;
    }
    let host = RefCell::new(oracle::compat::Compat::new().expect("mmap below 2 GiB"));
    let mut runner = proptest::test_runner::TestRunner::new(cfg(3000));
    let strat = (0usize..6, val(), any::<u32>(), 1u8..=255);
    runner
        .run(&strat, |(k, eax, f, imm)| {
            let name = BCD_OPS[k].0;
            let bytes = bcd_bytes(k, imm);
            let (h_eax, h_f) = host.borrow_mut().run(&bytes, eax, f);
            let st = St {
                a: eax,
                c: 0,
                d: 0,
                s: 0,
                f,
            };
            let got = emu(&bytes, st, None).map_err(|_| TestCaseError::fail("fault"))?;
            prop_assert_eq!(got.a, h_eax, "{} {:x?}", name, st);
            let m = bcd_defined(name);
            prop_assert_eq!(got.f & m, h_f & m, "{} flags {:x?}", name, st);
            Ok(())
        })
        .unwrap();
}

/// SDM Vol. 2A pseudo-code, written out step by step. Returns (AX, CF, AF, and the final
/// AL for SF/ZF/PF where defined).
// The SDM assigns CF in DAA's first step and overwrites it in the second; kept literally.
#[allow(unused_assignments)]
fn sdm_bcd(op: &str, ax: u16, cf: bool, af: bool, imm: u8) -> (u16, bool, bool) {
    let al = ax as u8;
    let ah = (ax >> 8) as u8;
    match op {
        "daa" => {
            let (old_al, old_cf) = (al, cf);
            let mut al = al;
            let mut cf = false;
            let af = if (al & 0x0F) > 9 || af {
                let carry = al as u16 + 6 > 0xFF;
                al = al.wrapping_add(6);
                cf = old_cf || carry;
                true
            } else {
                false
            };
            if old_al > 0x99 || old_cf {
                al = al.wrapping_add(0x60);
                cf = true;
            } else {
                cf = false;
            }
            ((ah as u16) << 8 | al as u16, cf, af)
        }
        "das" => {
            let (old_al, old_cf) = (al, cf);
            let mut al = al;
            let mut cf = false;
            let af = if (al & 0x0F) > 9 || af {
                let borrow = al < 6;
                al = al.wrapping_sub(6);
                cf = old_cf || borrow;
                true
            } else {
                false
            };
            if old_al > 0x99 || old_cf {
                al = al.wrapping_sub(0x60);
                cf = true;
            }
            ((ah as u16) << 8 | al as u16, cf, af)
        }
        "aaa" => {
            if (al & 0x0F) > 9 || af {
                let ax = ax.wrapping_add(0x106);
                (ax & 0xFF0F, true, true)
            } else {
                (ax & 0xFF0F, false, false)
            }
        }
        "aas" => {
            if (al & 0x0F) > 9 || af {
                let ax = ax.wrapping_sub(6);
                let ah = ((ax >> 8) as u8).wrapping_sub(1);
                (((ah as u16) << 8 | (ax & 0xFF)) & 0xFF0F, true, true)
            } else {
                (ax & 0xFF0F, false, false)
            }
        }
        "aam" => (((al / imm) as u16) << 8 | (al % imm) as u16, cf, af),
        "aad" => (al.wrapping_add(ah.wrapping_mul(imm)) as u16, cf, af),
        _ => unreachable!(),
    }
}

#[test]
fn bcd_vs_sdm_pseudocode() {
    let mut runner = proptest::test_runner::TestRunner::new(cfg(2000));
    let strat = (0usize..6, any::<u32>(), any::<u32>(), 1u8..=255);
    runner
        .run(&strat, |(k, eax, f, imm)| {
            let name = BCD_OPS[k].0;
            let bytes = bcd_bytes(k, imm);
            let imm = bytes.get(1).copied().unwrap_or(0);
            let st = St {
                a: eax,
                c: 0,
                d: 0,
                s: 0,
                f,
            };
            let got = emu(&bytes, st, None).map_err(|_| TestCaseError::fail("fault"))?;
            let (ax, cf, af) = sdm_bcd(name, eax as u16, f & CF != 0, f & AF != 0, imm);
            prop_assert_eq!(got.a, (eax & 0xFFFF_0000) | ax as u32, "{} {:x?}", name, st);
            let al = ax as u8;
            let szp = (if al == 0 { ZF } else { 0 })
                | (if al & 0x80 != 0 { SF } else { 0 })
                | (if al.count_ones().is_multiple_of(2) {
                    PF
                } else {
                    0
                });
            let want = szp | (cf as u32 * CF) | (af as u32 * AF);
            let mask = bcd_defined(name);
            prop_assert_eq!(
                got.f & mask,
                want & mask,
                "{} flags {:x?} -> {:x?}",
                name,
                st,
                got
            );
            Ok(())
        })
        .unwrap();
    // AAM with base 0 is #DE.
    assert_eq!(emu_fault(&[0xD4, 0], St::default()), Some(vec::DE));
}
