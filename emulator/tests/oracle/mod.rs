//! Instruction forms for `host_oracle.rs`: each pairs a native `asm!` execution with the
//! hand-written 32-bit encoding of the same instruction (ModRM bytes spelled out in the
//! comments' terms: `mod=11 reg=... rm=...`), plus which flags and registers are defined.

#[cfg(target_os = "linux")]
pub mod compat;

use proptest::prelude::*;
use std::arch::asm;
use traplab::cpu::flags::{AF, ARITH, CF, OF, ZF};

/// The working state: EAX ECX EDX ESI and the arithmetic flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct St {
    pub a: u32,
    pub c: u32,
    pub d: u32,
    pub s: u32,
    pub f: u32,
}

/// How an immediate is derived from ECX (the native form uses the register instead).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Imm {
    None,
    /// imm8 = CL (shift counts, BT offsets, 8-bit ALU immediates).
    Ib,
    /// imm8 sign-extended: ECX becomes that sign-extended value for both CPUs.
    IbSext,
    Iw,
    Id,
    /// No immediate; half of the cases get ECX = EAX (CMPXCHG "equal" outcome).
    MaybeEq,
}

pub struct Form {
    pub name: &'static str,
    pub native: fn(St) -> St,
    pub enc: &'static [u8],
    pub imm: Imm,
    /// (flags compared, registers compared) for an input.
    pub mask: fn(&St) -> (u32, bool),
}

impl Form {
    pub fn prepare(&self, mut st: St) -> St {
        match self.imm {
            Imm::IbSext => st.c = st.c as u8 as i8 as i32 as u32,
            Imm::MaybeEq if st.f & (1 << 20) != 0 => st.c = st.a,
            _ => {}
        }
        st
    }

    pub fn bytes(&self, st: &St) -> Vec<u8> {
        let mut v = self.enc.to_vec();
        let n = match self.imm {
            Imm::Ib | Imm::IbSext => 1,
            Imm::Iw => 2,
            Imm::Id => 4,
            _ => 0,
        };
        v.extend_from_slice(&st.c.to_le_bytes()[..n]);
        v
    }
}

/// One native execution with EAX ECX EDX ESI and the arithmetic flags loaded from `st`.
macro_rules! native {
    ($asm:expr) => {{
        fn run(st: St) -> St {
            let (mut a, mut c, mut d, mut s) = (st.a, st.c, st.d, st.s);
            let mut f = ((st.f & ARITH) | 0x202) as u64;
            // SAFETY: the block only touches the declared registers, the flags and its own
            // push/pop pair on the stack (no `nostack`).
            unsafe {
                asm!(
                    "push {f}",
                    "popfq",
                    $asm,
                    "pushfq",
                    "pop {f}",
                    f = inout(reg) f,
                    inout("eax") a,
                    inout("ecx") c,
                    inout("edx") d,
                    inout("esi") s,
                );
            }
            St { a, c, d, s, f: f as u32 & ARITH }
        }
        run as fn(St) -> St
    }};
}

macro_rules! form {
    ($name:expr, $asm:expr, [$($b:expr),*], $imm:expr, $mask:expr) => {
        Form { name: $name, native: native!($asm), enc: &[$($b),*], imm: $imm, mask: $mask }
    };
    ($asm:expr, [$($b:expr),*], $mask:expr) => {
        form!($asm, $asm, [$($b),*], Imm::None, $mask)
    };
}

pub fn all(_: &St) -> (u32, bool) {
    (ARITH, true)
}
fn logic(_: &St) -> (u32, bool) {
    (ARITH & !AF, true)
}
fn cf_of(_: &St) -> (u32, bool) {
    (CF | OF, true)
}
fn cf_zf(_: &St) -> (u32, bool) {
    (CF | ZF, true)
}
fn zf(_: &St) -> (u32, bool) {
    (ZF, true)
}
fn none(_: &St) -> (u32, bool) {
    (0, true)
}

/// ALU op `r/m, r` with r/m = AL/AX/EAX and r = CL/CX/ECX: ModRM mod=11 reg=1 rm=0 = C8.
macro_rules! alu {
    ($op:literal, $opc:expr, $mask:expr) => {
        [
            form!(concat!($op, " al, cl"), [$opc, 0xC8], $mask),
            form!(concat!($op, " ax, cx"), [0x66, $opc + 1, 0xC8], $mask),
            form!(concat!($op, " eax, ecx"), [$opc + 1, 0xC8], $mask),
        ]
    };
}

pub fn alu_forms() -> Vec<Form> {
    let mut v: Vec<Form> = Vec::new();
    v.extend(alu!("add", 0x00, all));
    v.extend(alu!("or", 0x08, logic));
    v.extend(alu!("adc", 0x10, all));
    v.extend(alu!("sbb", 0x18, all));
    v.extend(alu!("and", 0x20, logic));
    v.extend(alu!("sub", 0x28, all));
    v.extend(alu!("xor", 0x30, logic));
    v.extend(alu!("cmp", 0x38, all));
    v.extend(alu!("test", 0x84, logic));
    // Immediate forms (group 1, /0 ADD, /3 SBB, /5 SUB, /7 CMP; rm=0 -> C0 | reg << 3).
    v.push(form!(
        "add al, imm8",
        "add al, cl",
        [0x80, 0xC0],
        Imm::Ib,
        all
    ));
    v.push(form!(
        "add eax, simm8",
        "add eax, ecx",
        [0x83, 0xC0],
        Imm::IbSext,
        all
    ));
    v.push(form!(
        "sbb ax, simm8",
        "sbb ax, cx",
        [0x66, 0x83, 0xD8],
        Imm::IbSext,
        all
    ));
    v.push(form!(
        "sub eax, imm32",
        "sub eax, ecx",
        [0x81, 0xE8],
        Imm::Id,
        all
    ));
    v.push(form!(
        "cmp ax, imm16",
        "cmp ax, cx",
        [0x66, 0x81, 0xF8],
        Imm::Iw,
        all
    ));
    v.push(form!(
        "and eax, imm32 (short)",
        "and eax, ecx",
        [0x25],
        Imm::Id,
        logic
    ));
    v.push(form!(
        "xor al, imm8 (short)",
        "xor al, cl",
        [0x34],
        Imm::Ib,
        logic
    ));
    v
}

pub fn unary_forms() -> Vec<Form> {
    vec![
        form!("inc al", [0xFE, 0xC0], all),
        form!("inc ax", [0x66, 0xFF, 0xC0], all),
        form!("inc ax (short)", "inc ax", [0x66, 0x40], Imm::None, all),
        form!("inc eax", [0xFF, 0xC0], all),
        form!("inc eax (short)", "inc eax", [0x40], Imm::None, all),
        form!("dec al", [0xFE, 0xC8], all),
        form!("dec ax", [0x66, 0xFF, 0xC8], all),
        form!("dec eax (short)", "dec eax", [0x48], Imm::None, all),
        form!("neg al", [0xF6, 0xD8], all),
        form!("neg ax", [0x66, 0xF7, 0xD8], all),
        form!("neg eax", [0xF7, 0xD8], all),
        form!("not al", [0xF6, 0xD0], all),
        form!("not ax", [0x66, 0xF7, 0xD0], all),
        form!("not eax", [0xF7, 0xD0], all),
    ]
}

const ROL: u8 = 0;
const ROR: u8 = 1;
const RCL: u8 = 2;
const RCR: u8 = 3;
const SHL: u8 = 4;
const SHR: u8 = 5;
const SAR: u8 = 7;

/// Defined flags of a shift/rotate (SDM "Flags Affected"): count 0 changes nothing; OF is
/// defined only for count 1; AF is undefined for shifts; SHL/SHR CF is undefined for
/// counts >= the width.
fn shift_mask<const BITS: u32, const K: u8, const ONE: bool>(st: &St) -> (u32, bool) {
    let n = if ONE { 1 } else { st.c & 31 };
    if n == 0 {
        return (ARITH, true);
    }
    let mut m = ARITH;
    if K >= SHL {
        m &= !AF;
        if (K == SHL || K == SHR) && n >= BITS {
            m &= !CF;
        }
    }
    if n != 1 {
        m &= !OF;
    }
    (m, true)
}

/// Group-2 shift of AL/AX/EAX: by 1 (D0/D1), by CL (D2/D3), by imm8 (C0/C1) compared
/// with the host's CL form. ModRM mod=11 reg=/ext rm=0.
macro_rules! shifts {
    ($v:ident, $op:literal, $k:expr) => {
        $v.extend([
            form!(
                concat!($op, " al, 1"),
                concat!($op, " al, 1"),
                [0xD0, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<8, $k, true>
            ),
            form!(
                concat!($op, " ax, 1"),
                concat!($op, " ax, 1"),
                [0x66, 0xD1, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<16, $k, true>
            ),
            form!(
                concat!($op, " eax, 1"),
                concat!($op, " eax, 1"),
                [0xD1, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<32, $k, true>
            ),
            form!(
                concat!($op, " al, cl"),
                concat!($op, " al, cl"),
                [0xD2, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<8, $k, false>
            ),
            form!(
                concat!($op, " ax, cl"),
                concat!($op, " ax, cl"),
                [0x66, 0xD3, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<16, $k, false>
            ),
            form!(
                concat!($op, " eax, cl"),
                concat!($op, " eax, cl"),
                [0xD3, 0xC0 | $k << 3],
                Imm::None,
                shift_mask::<32, $k, false>
            ),
            form!(
                concat!($op, " al, imm8"),
                concat!($op, " al, cl"),
                [0xC0, 0xC0 | $k << 3],
                Imm::Ib,
                shift_mask::<8, $k, false>
            ),
            form!(
                concat!($op, " ax, imm8"),
                concat!($op, " ax, cl"),
                [0x66, 0xC1, 0xC0 | $k << 3],
                Imm::Ib,
                shift_mask::<16, $k, false>
            ),
            form!(
                concat!($op, " eax, imm8"),
                concat!($op, " eax, cl"),
                [0xC1, 0xC0 | $k << 3],
                Imm::Ib,
                shift_mask::<32, $k, false>
            ),
        ])
    };
}

pub fn shift_forms() -> Vec<Form> {
    let mut v = Vec::new();
    shifts!(v, "rol", ROL);
    shifts!(v, "ror", ROR);
    shifts!(v, "rcl", RCL);
    shifts!(v, "rcr", RCR);
    shifts!(v, "shl", SHL);
    shifts!(v, "shr", SHR);
    shifts!(v, "sar", SAR);
    v
}

/// SHLD/SHRD: count 0 changes nothing; AF undefined; OF defined for count 1 only; a 16-bit
/// count above 16 leaves result and flags undefined.
fn dshift_mask<const BITS: u32>(st: &St) -> (u32, bool) {
    let n = st.c & 31;
    if n == 0 {
        return (ARITH, true);
    }
    if n > BITS {
        return (0, false);
    }
    let m = ARITH & !AF;
    (if n == 1 { m } else { m & !OF }, true)
}

/// `shxd eax, edx, cl|imm8`: ModRM mod=11 reg=2 (EDX) rm=0 (EAX) = D0.
pub fn double_shift_forms() -> Vec<Form> {
    vec![
        form!(
            "shld eax, edx, cl",
            "shld eax, edx, cl",
            [0x0F, 0xA5, 0xD0],
            Imm::None,
            dshift_mask::<32>
        ),
        form!(
            "shld ax, dx, cl",
            "shld ax, dx, cl",
            [0x66, 0x0F, 0xA5, 0xD0],
            Imm::None,
            dshift_mask::<16>
        ),
        form!(
            "shld eax, edx, imm8",
            "shld eax, edx, cl",
            [0x0F, 0xA4, 0xD0],
            Imm::Ib,
            dshift_mask::<32>
        ),
        form!(
            "shld ax, dx, imm8",
            "shld ax, dx, cl",
            [0x66, 0x0F, 0xA4, 0xD0],
            Imm::Ib,
            dshift_mask::<16>
        ),
        form!(
            "shrd eax, edx, cl",
            "shrd eax, edx, cl",
            [0x0F, 0xAD, 0xD0],
            Imm::None,
            dshift_mask::<32>
        ),
        form!(
            "shrd ax, dx, cl",
            "shrd ax, dx, cl",
            [0x66, 0x0F, 0xAD, 0xD0],
            Imm::None,
            dshift_mask::<16>
        ),
        form!(
            "shrd eax, edx, imm8",
            "shrd eax, edx, cl",
            [0x0F, 0xAC, 0xD0],
            Imm::Ib,
            dshift_mask::<32>
        ),
        form!(
            "shrd ax, dx, imm8",
            "shrd ax, dx, cl",
            [0x66, 0x0F, 0xAC, 0xD0],
            Imm::Ib,
            dshift_mask::<16>
        ),
    ]
}

/// MUL/IMUL: only CF and OF are defined.
pub fn mul_forms() -> Vec<Form> {
    vec![
        // F6/F7 /4 MUL, /5 IMUL with rm=1 (CL/CX/ECX): E1, E9.
        form!("mul cl", [0xF6, 0xE1], cf_of),
        form!("mul cx", [0x66, 0xF7, 0xE1], cf_of),
        form!("mul ecx", [0xF7, 0xE1], cf_of),
        form!("imul cl", [0xF6, 0xE9], cf_of),
        form!("imul cx", [0x66, 0xF7, 0xE9], cf_of),
        form!("imul ecx", [0xF7, 0xE9], cf_of),
        // 0F AF /r: reg=0 (EAX) rm=1 (ECX) = C1.
        form!("imul ax, cx", [0x66, 0x0F, 0xAF, 0xC1], cf_of),
        form!("imul eax, ecx", [0x0F, 0xAF, 0xC1], cf_of),
        // 69/6B /r with reg=2 rm=2 (EDX, EDX) = D2, against the host's two-operand form.
        form!(
            "imul dx, dx, imm16",
            "imul dx, cx",
            [0x66, 0x69, 0xD2],
            Imm::Iw,
            cf_of
        ),
        form!(
            "imul dx, dx, simm8",
            "imul dx, cx",
            [0x66, 0x6B, 0xD2],
            Imm::IbSext,
            cf_of
        ),
        form!(
            "imul edx, edx, imm32",
            "imul edx, ecx",
            [0x69, 0xD2],
            Imm::Id,
            cf_of
        ),
        form!(
            "imul edx, edx, simm8",
            "imul edx, ecx",
            [0x6B, 0xD2],
            Imm::IbSext,
            cf_of
        ),
    ]
}

/// DIV/IDIV: every flag is undefined. F6/F7 /6 DIV, /7 IDIV with rm=1: F1, F9.
pub fn div_forms() -> Vec<Form> {
    vec![
        form!("div cl", [0xF6, 0xF1], none),
        form!("div cx", [0x66, 0xF7, 0xF1], none),
        form!("div ecx", [0xF7, 0xF1], none),
        form!("idiv cl", [0xF6, 0xF9], none),
        form!("idiv cx", [0x66, 0xF7, 0xF9], none),
        form!("idiv ecx", [0xF7, 0xF9], none),
    ]
}

/// Whether the host can run this divide without #DE (quotient fits, divisor non-zero).
pub fn div_fits(name: &str, st: &St) -> bool {
    let bits: u32 = if name.ends_with("ecx") {
        32
    } else if name.ends_with("cx") {
        16
    } else {
        8
    };
    let m = (1u64 << bits) - 1;
    let n: u64 = match bits {
        8 => st.a as u64 & 0xFFFF,
        16 => ((st.d as u64 & 0xFFFF) << 16) | (st.a as u64 & 0xFFFF),
        _ => ((st.d as u64) << 32) | st.a as u64,
    };
    let dv = st.c as u64 & m;
    if dv == 0 {
        return false;
    }
    if name.starts_with("idiv") {
        let sh = 128 - 2 * bits;
        let n = ((n as i128) << sh) >> sh;
        let dsh = 128 - bits;
        let dv = ((dv as i128) << dsh) >> dsh;
        let q = n / dv;
        q >= -(1i128 << (bits - 1)) && q < (1i128 << (bits - 1))
    } else {
        n / dv <= m
    }
}

pub fn bit_forms() -> Vec<Form> {
    vec![
        // 0F A3/AB/B3/BB /r: reg=1 (ECX) rm=0 (EAX) = C8.
        form!("bt ax, cx", [0x66, 0x0F, 0xA3, 0xC8], cf_zf),
        form!("bt eax, ecx", [0x0F, 0xA3, 0xC8], cf_zf),
        form!("bts ax, cx", [0x66, 0x0F, 0xAB, 0xC8], cf_zf),
        form!("bts eax, ecx", [0x0F, 0xAB, 0xC8], cf_zf),
        form!("btr ax, cx", [0x66, 0x0F, 0xB3, 0xC8], cf_zf),
        form!("btr eax, ecx", [0x0F, 0xB3, 0xC8], cf_zf),
        form!("btc ax, cx", [0x66, 0x0F, 0xBB, 0xC8], cf_zf),
        form!("btc eax, ecx", [0x0F, 0xBB, 0xC8], cf_zf),
        // 0F BA /4../7 ib with rm=0: E0 E8 F0 F8.
        form!(
            "bt eax, imm8",
            "bt eax, ecx",
            [0x0F, 0xBA, 0xE0],
            Imm::Ib,
            cf_zf
        ),
        form!(
            "bts ax, imm8",
            "bts ax, cx",
            [0x66, 0x0F, 0xBA, 0xE8],
            Imm::Ib,
            cf_zf
        ),
        form!(
            "btr eax, imm8",
            "btr eax, ecx",
            [0x0F, 0xBA, 0xF0],
            Imm::Ib,
            cf_zf
        ),
        form!(
            "btc ax, imm8",
            "btc ax, cx",
            [0x66, 0x0F, 0xBA, 0xF8],
            Imm::Ib,
            cf_zf
        ),
        // 0F BC/BD /r: reg=0 (EAX) rm=1 (ECX) = C1. Only ZF is defined.
        form!("bsf ax, cx", [0x66, 0x0F, 0xBC, 0xC1], zf),
        form!("bsf eax, ecx", [0x0F, 0xBC, 0xC1], zf),
        form!("bsr ax, cx", [0x66, 0x0F, 0xBD, 0xC1], zf),
        form!("bsr eax, ecx", [0x0F, 0xBD, 0xC1], zf),
        // 0F B0/B1 and C0/C1 /r: reg=2 (EDX) rm=1 (ECX) = D1.
        form!(
            "cmpxchg cl, dl",
            "cmpxchg cl, dl",
            [0x0F, 0xB0, 0xD1],
            Imm::MaybeEq,
            all
        ),
        form!(
            "cmpxchg cx, dx",
            "cmpxchg cx, dx",
            [0x66, 0x0F, 0xB1, 0xD1],
            Imm::MaybeEq,
            all
        ),
        form!(
            "cmpxchg ecx, edx",
            "cmpxchg ecx, edx",
            [0x0F, 0xB1, 0xD1],
            Imm::MaybeEq,
            all
        ),
        form!("xadd cl, dl", [0x0F, 0xC0, 0xD1], all),
        form!("xadd cx, dx", [0x66, 0x0F, 0xC1, 0xD1], all),
        form!("xadd ecx, edx", [0x0F, 0xC1, 0xD1], all),
        form!("xadd ecx, ecx", [0x0F, 0xC1, 0xC9], all),
    ]
}

/// A bit-string form with a memory bit base: the host runs it on `buf` with RDI at its
/// middle; Traplab gets EDI at the middle of an equal guest buffer.
pub struct BitMemForm {
    pub name: &'static str,
    pub native_mem: fn(St, &mut [u8; 64]) -> St,
    pub bytes: &'static [u8],
}

macro_rules! native_mem {
    ($asm:expr) => {{
        fn run(st: St, buf: &mut [u8; 64]) -> St {
            let mut f = ((st.f & ARITH) | 0x202) as u64;
            let p = buf.as_mut_ptr().wrapping_add(32);
            // SAFETY: with offsets in -200..200 bits the access stays inside `buf`
            // (at most 28 bytes either side of the middle, plus the operand size).
            unsafe {
                asm!(
                    "push {f}",
                    "popfq",
                    $asm,
                    "pushfq",
                    "pop {f}",
                    f = inout(reg) f,
                    in("ecx") st.c,
                    in("rdi") p,
                );
            }
            St { f: f as u32 & ARITH, ..st }
        }
        run as fn(St, &mut [u8; 64]) -> St
    }};
}

/// ModRM mod=00 reg=1 (ECX) rm=7 ([EDI]) = 0F.
pub fn bit_mem_forms() -> Vec<BitMemForm> {
    vec![
        BitMemForm {
            name: "bt [edi], ecx",
            native_mem: native_mem!("bt dword ptr [rdi], ecx"),
            bytes: &[0x0F, 0xA3, 0x0F],
        },
        BitMemForm {
            name: "bts [edi], ecx",
            native_mem: native_mem!("bts dword ptr [rdi], ecx"),
            bytes: &[0x0F, 0xAB, 0x0F],
        },
        BitMemForm {
            name: "btr [edi], cx",
            native_mem: native_mem!("btr word ptr [rdi], cx"),
            bytes: &[0x66, 0x0F, 0xB3, 0x0F],
        },
        BitMemForm {
            name: "btc [edi], cx",
            native_mem: native_mem!("btc word ptr [rdi], cx"),
            bytes: &[0x66, 0x0F, 0xBB, 0x0F],
        },
        BitMemForm {
            name: "lock btc [edi], ecx",
            native_mem: native_mem!("lock btc dword ptr [rdi], ecx"),
            bytes: &[0xF0, 0x0F, 0xBB, 0x0F],
        },
    ]
}

pub fn val() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        1 => prop::sample::select(vec![
            0u32, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
            0xFFFF_FFFF, 0x99, 0x9A, 0x0F, 0x10,
        ]),
        1 => 0u32..0x200,
        1 => any::<u8>().prop_map(|b| b as u32 * 0x0101_0101),
    ]
}

/// ECX: a value, or a small count (shift counts in CL with random upper bits).
pub fn count_or_val() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => val(),
        2 => (0u32..40, any::<u32>()).prop_map(|(n, hi)| n | (hi & !0xFF)),
    ]
}

pub fn divisor() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => any::<u32>(),
        1 => 0u32..4,
        1 => Just(0xFFFF_FFFF),
        1 => any::<u8>().prop_map(|b| b as u32 | 0xFFFF_FF00),
        1 => 0u32..0x300,
    ]
}

/// EDX for divides: small or sign-only high halves make many quotients fit.
pub fn dividend_high() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => val(),
        1 => 0u32..4,
        1 => Just(0xFFFF_FFFF),
        1 => (0u32..4).prop_map(|n| 0xFFFF_FFFF - n),
    ]
}
