//! FXSAVE and FXRSTOR against the host CPU (x86-64 Linux hosts only).
//!
//! Each case is one byte sequence run twice, natively (copied into an executable page and
//! called with RDI pointing at a 16-byte aligned buffer) and in a Traplab machine in 32-bit
//! protected mode (EDI = the buffer's copy, also 16-byte aligned). FXSAVE/FXRSTOR/FRSTOR/
//! FNSAVE with `[rdi+disp32]` operands and no REX prefix encode the same in both modes and
//! use the non-64-bit image layout (SDM Vol. 1 Table 10-2) in both.
//!
//! - `fxsave_matches_host`: FNINIT; FRSTOR a random 108-byte image (control, status and tag
//!   words, every register, all drawn by proptest); FXSAVE; FNINIT. The two FXSAVE images
//!   are compared byte for byte over the x87 part (bytes 0-159).
//! - `fxrstor_matches_host`: FXRSTOR a random 512-byte image; FXSAVE it again; FNSAVE
//!   (which gives the full tag word the CPU computed from the register contents); compared
//!   likewise.
//!
//! What the comparison leaves out, and why:
//! - FIP, FCS, FDP, FDS (bytes 8-23 of the FXSAVE image, 12-27 of the FNSAVE one): a 64-bit
//!   host stores pointers of its own (the native code runs at another address, and recent
//!   CPUs store FCS/FDS as 0 or the pointers only when an exception is pending), so they
//!   cannot agree; the unit tests check Traplab's against its own instruction.
//! - MXCSR and MXCSR_MASK (bytes 24-31) and the XMM/reserved area (160-511): the host has
//!   SSE, Traplab (like a Pentium II) has not. The host side of FXRSTOR is handed MXCSR =
//!   1F80H (any reserved bit set would be #GP there); Traplab ignores the field.
//! - FOP (bytes 6-7) only where the host stores it: some CPUs (AMD without "FXSAVE always
//!   saves error pointers", this test's host among them) write 0 unless an exception is
//!   pending (FSW.ES set); the test learns which once, from a state with ES clear, says so,
//!   and then compares FOP only in the images whose FSW has ES set.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use proptest::prelude::*;
use std::cell::RefCell;
use traplab::boot::{boot, BootKind};
use traplab::{Machine, MachineConfig};

const CODE: u32 = 0x1000;
const BUF: u32 = 0x8000;
const BUF_LEN: usize = 0x800;
/// Offsets in the buffer: the input image, the FXSAVE output, the FNSAVE output.
const IN: usize = 0;
const FX: usize = 0x200;
const SAVE: usize = 0x400;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Buf([u8; BUF_LEN]);

thread_local! {
    static M: RefCell<Machine> = RefCell::new(
        boot(MachineConfig::default(), &[0x90], &BootKind::Flat { addr: CODE, real: false })
            .expect("flat boot"),
    );
    static PAGE: usize = map_exec_page();
}

/// One RWX page from mmap(2) by raw system call (no libc dependency).
fn map_exec_page() -> usize {
    let ret: isize;
    // SAFETY: mmap with a null hint, anonymous private mapping; no memory is touched.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 9isize => ret,
            in("rdi") 0usize,
            in("rsi") 4096usize,
            in("rdx") 7usize,  // PROT_READ | PROT_WRITE | PROT_EXEC
            in("r10") 0x22usize, // MAP_PRIVATE | MAP_ANONYMOUS
            in("r8") -1isize,
            in("r9") 0usize,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    assert!(ret > 0, "mmap failed: {ret}");
    ret as usize
}

/// Runs `code` (ending with RET) natively with RDI = `buf`.
fn host_run(code: &[u8], buf: &mut Buf) {
    PAGE.with(|&page| {
        assert!(code.len() < 4096);
        // SAFETY: the page is ours, writable and executable; the code touches only the
        // x87 state (it ends with FNINIT, the ABI's default state) and `buf` through RDI.
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), page as *mut u8, code.len());
            std::arch::asm!(
                "call {f}",
                f = in(reg) page,
                in("rdi") buf.0.as_mut_ptr(),
                clobber_abi("C"),
            );
        }
    });
}

/// Runs `code` (without its final RET) in Traplab with EDI = BUF; false if an exception
/// was delivered on the way.
fn emu_run(code: &[u8], buf: &mut Buf) -> bool {
    M.with(|m| {
        let mut m = m.borrow_mut();
        let body = &code[..code.len() - 1];
        m.core.mem.load(CODE, body);
        m.core.mem.load(BUF, &buf.0);
        m.core.req.clear();
        let c = &mut m.core.cpu;
        c.halted = false;
        c.eip = CODE;
        c.gpr[7] = BUF;
        m.flush_code_cache();
        let end = CODE + body.len() as u32;
        for _ in 0..16 {
            if m.core.cpu.eip == end {
                break;
            }
            let before = m.core.cpu.eip;
            m.step();
            let e = m.core.cpu.eip;
            if !(CODE..=end).contains(&e) || e <= before {
                return false;
            }
        }
        buf.0.copy_from_slice(&m.core.mem.peek(BUF, BUF_LEN));
        m.core.cpu.eip == end
    })
}

/// `op /r` with ModRM [rdi+disp32] (mod=10 rm=111).
fn mem_op(prefix: &[u8], reg: u8, disp: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.push(0x80 | reg << 3 | 7);
    v.extend_from_slice(&(disp as u32).to_le_bytes());
    v
}
fn fxsave(disp: usize) -> Vec<u8> {
    mem_op(&[0x0F, 0xAE], 0, disp)
}
fn fxrstor(disp: usize) -> Vec<u8> {
    mem_op(&[0x0F, 0xAE], 1, disp)
}
fn frstor(disp: usize) -> Vec<u8> {
    mem_op(&[0xDD], 4, disp)
}
fn fnsave(disp: usize) -> Vec<u8> {
    mem_op(&[0xDD], 6, disp)
}
const FNINIT: [u8; 2] = [0xDB, 0xE3];
const RET: u8 = 0xC3;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// FXSAVE image bytes compared: all of 0-159 except the pointers, and FOP only if `fop`
/// (the host always stores it) or the host's image has FSW.ES set.
fn fx_compared(host: &[u8], fop: bool) -> impl Fn(usize) -> bool {
    let fop = fop || host[2] & 0x80 != 0;
    move |k| k < 160 && !(8..32).contains(&k) && (fop || !(6..8).contains(&k))
}

/// FNSAVE (108-byte, 32-bit protected layout) bytes compared: control, status and tag
/// words (each in a 32-bit slot whose upper half is reserved) and the registers.
fn save_compared(k: usize) -> bool {
    k < 12 || (28..108).contains(&k)
}

fn diff(name: &str, h: &[u8], e: &[u8], keep: impl Fn(usize) -> bool) -> Option<String> {
    let bad: Vec<usize> = (0..h.len()).filter(|&k| keep(k) && h[k] != e[k]).collect();
    if bad.is_empty() {
        return None;
    }
    Some(format!(
        "{name}: bytes {bad:?} differ\n  host    {}\n  traplab {}",
        hex(h),
        hex(e)
    ))
}

/// Does the host store FOP in FXSAVE with no exception pending? (fninit; fld1; fxsave)
fn host_stores_fop() -> bool {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        let mut code = FNINIT.to_vec();
        code.extend_from_slice(&[0xD9, 0xE8]); // fld1: FOP 0x1E8
        code.extend(fxsave(FX));
        code.extend_from_slice(&FNINIT);
        code.push(RET);
        let mut b = Buf([0; BUF_LEN]);
        host_run(&code, &mut b);
        let stored = u16::from_le_bytes([b.0[FX + 6], b.0[FX + 7]]) == 0x1E8;
        if !stored {
            eprintln!(
                "fxsr_host: this host stores FOP = 0 with no exception pending: FOP not compared"
            );
        }
        stored
    })
}

/// The 80-bit values of the images: every class (zeros, denormals, normals, infinities,
/// NaNs, unsupported encodings), as 10 little-endian bytes.
fn f80() -> impl Strategy<Value = [u8; 10]> {
    let make = |neg: bool, e: u16, sig: u64| {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&sig.to_le_bytes());
        b[8..].copy_from_slice(&((neg as u16) << 15 | e).to_le_bytes());
        b
    };
    prop_oneof![
        6 => (any::<bool>(), 1u16..0x7FFF, any::<u64>()).prop_map(move |(n, e, s)| make(n, e, s | 1 << 63)),
        2 => any::<bool>().prop_map(move |n| make(n, 0, 0)),
        2 => (any::<bool>(), 1u64..(1 << 63)).prop_map(move |(n, s)| make(n, 0, s)),
        1 => (any::<bool>(), any::<u64>()).prop_map(move |(n, s)| make(n, 0, s | 1 << 63)),
        1 => any::<bool>().prop_map(move |n| make(n, 0x7FFF, 1 << 63)),
        2 => (any::<bool>(), any::<u64>()).prop_map(move |(n, s)| make(n, 0x7FFF, s | 1 << 63)),
        1 => (any::<bool>(), 1u16..0x7FFF, 0u64..(1 << 63)).prop_map(move |(n, e, s)| make(n, e, s)),
        1 => any::<[u8; 10]>(),
    ]
}

/// The x87 state: control, status and tag words (random, reserved bits too) and the
/// eight registers.
#[derive(Clone, Debug)]
struct State {
    cw: u16,
    sw: u16,
    tw: u16,
    regs: [[u8; 10]; 8],
    extra: [u8; 16],
}

fn state() -> impl Strategy<Value = State> {
    (
        any::<u16>(),
        any::<u16>(),
        prop_oneof![any::<u16>(), Just(0xFFFF), Just(0)],
        proptest::array::uniform8(f80()),
        any::<[u8; 16]>(),
    )
        .prop_map(|(cw, sw, tw, regs, extra)| State {
            cw,
            sw,
            tw,
            regs,
            extra,
        })
}

/// The test runner: the same cases on every run, or fresh ones with `X87_RANDOM=1`.
fn runner() -> proptest::test_runner::TestRunner {
    let cases = std::env::var("X87_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let cfg = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if std::env::var_os("X87_RANDOM").is_some() {
        proptest::test_runner::TestRunner::new(cfg)
    } else {
        let rng = proptest::test_runner::TestRng::deterministic_rng(cfg.rng_algorithm);
        proptest::test_runner::TestRunner::new_with_rng(cfg, rng)
    }
}

#[test]
fn fxsave_matches_host() {
    let fop = host_stores_fop();
    let mut code = FNINIT.to_vec();
    code.extend(frstor(IN));
    code.extend(fxsave(FX));
    code.extend_from_slice(&FNINIT);
    code.push(RET);
    runner()
        .run(&state(), |s| {
            let mut host = Buf([0xA5; BUF_LEN]);
            let img = &mut host.0[IN..IN + 108];
            img[0..2].copy_from_slice(&s.cw.to_le_bytes());
            img[4..6].copy_from_slice(&s.sw.to_le_bytes());
            img[8..10].copy_from_slice(&s.tw.to_le_bytes());
            img[12..28].copy_from_slice(&s.extra);
            for (k, r) in s.regs.iter().enumerate() {
                img[28 + 10 * k..38 + 10 * k].copy_from_slice(r);
            }
            let mut emu = host;
            host_run(&code, &mut host);
            prop_assert!(emu_run(&code, &mut emu), "Traplab faulted on {s:x?}");
            let h = &host.0[FX..FX + 512];
            let e = &emu.0[FX..FX + 512];
            if let Some(d) = diff("FXSAVE image", h, e, fx_compared(h, fop)) {
                return Err(TestCaseError::fail(format!("{s:x?}\n{d}")));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn fxrstor_matches_host() {
    let fop = host_stores_fop();
    let mut code = FNINIT.to_vec();
    code.extend(fxrstor(IN));
    code.extend(fxsave(FX));
    code.extend(fnsave(SAVE));
    code.push(RET);
    let image = (state(), any::<u8>(), any::<u16>(), any::<[u8; 16]>());
    runner()
        .run(&image, |(s, ftw, fop_in, ptrs)| {
            let mut host = Buf([0; BUF_LEN]);
            let img = &mut host.0[IN..IN + 512];
            img[0..2].copy_from_slice(&s.cw.to_le_bytes());
            img[2..4].copy_from_slice(&s.sw.to_le_bytes());
            img[4] = ftw;
            img[5] = s.tw as u8; // reserved: ignored
            img[6..8].copy_from_slice(&fop_in.to_le_bytes());
            img[8..24].copy_from_slice(&ptrs);
            // MXCSR: the host's default (a reserved bit set would be #GP on the host).
            img[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
            for (k, r) in s.regs.iter().enumerate() {
                img[32 + 16 * k..42 + 16 * k].copy_from_slice(r);
                img[42 + 16 * k..48 + 16 * k].copy_from_slice(&s.extra[..6]);
            }
            let mut emu = host;
            host_run(&code, &mut host);
            prop_assert!(emu_run(&code, &mut emu), "Traplab faulted on {s:x?}");
            let ctx = format!("{s:x?} ftw={ftw:02x} fop={fop_in:04x}");
            let (h, e) = (&host.0[FX..FX + 512], &emu.0[FX..FX + 512]);
            if let Some(d) = diff("FXSAVE after FXRSTOR", h, e, fx_compared(h, fop)) {
                return Err(TestCaseError::fail(format!("{ctx}\n{d}")));
            }
            let (h, e) = (&host.0[SAVE..SAVE + 108], &emu.0[SAVE..SAVE + 108]);
            if let Some(d) = diff("FNSAVE after FXRSTOR", h, e, save_compared) {
                return Err(TestCaseError::fail(format!("{ctx}\n{d}")));
            }
            Ok(())
        })
        .unwrap();
}
