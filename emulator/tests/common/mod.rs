//! Shared fixture for the protected-mode tests: a machine in 32-bit protected mode with a
//! GDT, an IDT whose default handlers record the vector and halt, a TSS with an I/O
//! bitmap, optional identity paging, and `Asm`, a tiny *checked* hand-assembler: every
//! hand-encoded instruction is decoded with iced-x86 and compared with its assembly text,
//! so the comments cannot lie about the bytes.
#![allow(dead_code)]

pub mod tevmm;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::mmu::segment::{Descriptor, Seg, TableReg, CS, DS, ES, FS, GS, SS};

// ---- Memory map of the fixture ----
/// Default handlers store their vector here (a dword).
pub const RESULT: u32 = 0x500;
pub const GDT: u32 = 0x1000;
pub const GDT_LIMIT: u16 = 0xFF;
pub const IDT: u32 = 0x2000;
pub const TSS_B: u32 = 0x3000;
pub const TSS_C: u32 = 0x3200;
/// Default handler of vector v at HANDLERS + 16 v.
pub const HANDLERS: u32 = 0x4000;
/// Initial ring-0 ESP of the test program.
pub const STACK_INIT: u32 = 0x7000;
/// Ring-0 stack of the TSS (ESP0).
pub const STACK0: u32 = 0x9000;
/// Ring-3 stack top.
pub const STACK3: u32 = 0xA000;
pub const CODE: u32 = 0x10000;
/// Second code area (custom handlers, other tasks).
pub const CODE2: u32 = 0x18000;
/// The TSS of the initial task, with a full I/O bitmap (all ports denied).
pub const TSS_A: u32 = 0x20000;
pub const IOMAP_OFF: u32 = 0x68;
pub const TSS_A_LIMIT: u32 = IOMAP_OFF + 8192;
pub const PD: u32 = 0x30000;
pub const PT: u32 = 0x31000;
pub const DATA: u32 = 0x40000;

// ---- Selectors ----
pub const K_CODE: u16 = 0x08;
pub const K_DATA: u16 = 0x10;
pub const U_CODE: u16 = 0x18 | 3;
pub const U_DATA: u16 = 0x20 | 3;
pub const SEL_TSS_A: u16 = 0x28;
pub const SEL_TSS_B: u16 = 0x30;
pub const SEL_TSS_C: u16 = 0x38;
/// Free GDT slots for the tests: 0x40, 0x48, ... 0xF8.
pub const FREE: u16 = 0x40;

/// Code/data descriptor: `access` is the byte with P, DPL, S and type; `flags` the
/// nibble with G (8) and D/B (4).
pub fn seg_desc(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let lo = (limit & 0xFFFF) | (base << 16);
    let hi = ((base >> 16) & 0xFF)
        | ((access as u32) << 8)
        | (limit & 0xF_0000)
        | ((flags as u32 & 0xF) << 20)
        | (base & 0xFF00_0000);
    (hi as u64) << 32 | lo as u64
}

/// Flat 4 GiB 32-bit code (readable) or data (writable) at `dpl`.
pub fn flat(code: bool, dpl: u8) -> u64 {
    let typ = if code { 0x1A } else { 0x12 };
    seg_desc(0, 0xFFFFF, 0x80 | (dpl << 5) | typ, 0xC)
}

/// Gate descriptor: type 0x4/0xC call gate, 0x5 task gate, 0x6/0xE interrupt gate,
/// 0x7/0xF trap gate.
pub fn gate(sel: u16, off: u32, typ: u8, dpl: u8, params: u8) -> u64 {
    let lo = (off & 0xFFFF) | ((sel as u32) << 16);
    let hi = (off & 0xFFFF_0000)
        | 0x8000
        | ((dpl as u32) << 13)
        | ((typ as u32) << 8)
        | (params as u32 & 0x1F);
    (hi as u64) << 32 | lo as u64
}

/// Available 32-bit TSS descriptor.
pub fn tss_desc(base: u32, limit: u32, dpl: u8) -> u64 {
    seg_desc(base, limit, 0x89 | (dpl << 5), 0)
}

pub fn w8(m: &mut Machine, a: u32, v: u8) {
    assert!(m.core.mem.load(a, &[v]));
}
pub fn w16(m: &mut Machine, a: u32, v: u16) {
    assert!(m.core.mem.load(a, &v.to_le_bytes()));
}
pub fn w32(m: &mut Machine, a: u32, v: u32) {
    assert!(m.core.mem.load(a, &v.to_le_bytes()));
}
pub fn w64(m: &mut Machine, a: u32, v: u64) {
    assert!(m.core.mem.load(a, &v.to_le_bytes()));
}
/// Physical reads.
pub fn r32(m: &Machine, a: u32) -> u32 {
    m.core.mem.read(a, 4)
}
pub fn r16(m: &Machine, a: u32) -> u16 {
    m.core.mem.read(a, 2) as u16
}

pub fn set_gdt(m: &mut Machine, sel: u16, d: u64) {
    w64(m, GDT + (sel as u32 & !7), d);
}
pub fn gdt_entry(m: &Machine, sel: u16) -> u64 {
    let a = GDT + (sel as u32 & !7);
    (r32(m, a + 4) as u64) << 32 | r32(m, a) as u64
}
pub fn set_idt(m: &mut Machine, v: u8, d: u64) {
    w64(m, IDT + 8 * v as u32, d);
}
/// Type field of a GDT descriptor (to see TSS busy bits).
pub fn gdt_type(m: &Machine, sel: u16) -> u8 {
    ((gdt_entry(m, sel) >> 40) & 0xF) as u8
}

/// Loads a segment register the way a MOV would have, from the GDT of the fixture.
pub fn load(m: &mut Machine, s: usize, sel: u16) {
    let raw = gdt_entry(m, sel);
    let mut seg: Seg = Descriptor { raw }.to_seg(sel);
    seg.attr |= 1;
    m.core.cpu.seg[s] = seg;
}

/// Writes the static fields of a 32-bit TSS (ring-0 stack, CR3, I/O map base beyond the
/// limit unless `iomap`).
pub fn init_tss(m: &mut Machine, base: u32, esp0: u32, iomap: bool) {
    for k in (0..0x68).step_by(4) {
        w32(m, base + k, 0);
    }
    w32(m, base + 4, esp0);
    w32(m, base + 8, K_DATA as u32);
    w16(
        m,
        base + 0x66,
        if iomap { IOMAP_OFF as u16 } else { 0xFFFF },
    );
}

/// Fills a 32-bit TSS with a ready-to-run ring-0 task state.
pub fn task_state(m: &mut Machine, base: u32, eip: u32, esp: u32, eflags: u32) {
    w32(m, base + 0x1C, 0); // CR3 (paging off in most tests)
    w32(m, base + 0x20, eip);
    w32(m, base + 0x24, eflags);
    w32(m, base + 0x38, esp);
    for (k, sel) in [K_DATA, K_CODE, K_DATA, K_DATA, K_DATA, K_DATA]
        .iter()
        .enumerate()
    {
        w16(m, base + 0x48 + 4 * k as u32, *sel);
    }
    w16(m, base + 0x60, 0);
}

/// A machine in flat 32-bit protected mode at CPL 0, EIP = CODE, IF = 0.
pub fn pm() -> Machine {
    let mut m = Machine::new(MachineConfig::default());
    for k in 0..(GDT_LIMIT as u32 + 1) / 8 {
        w64(&mut m, GDT + 8 * k, 0);
    }
    set_gdt(&mut m, K_CODE, flat(true, 0));
    set_gdt(&mut m, K_DATA, flat(false, 0));
    set_gdt(&mut m, U_CODE, flat(true, 3));
    set_gdt(&mut m, U_DATA, flat(false, 3));
    set_gdt(
        &mut m,
        SEL_TSS_A,
        tss_desc(TSS_A, TSS_A_LIMIT, 0) | (2u64 << 40),
    ); // busy
    set_gdt(&mut m, SEL_TSS_B, tss_desc(TSS_B, 0x67, 0));
    set_gdt(&mut m, SEL_TSS_C, tss_desc(TSS_C, 0x67, 0));
    init_tss(&mut m, TSS_A, STACK0, true);
    // I/O bitmap: every port denied, plus the terminating 0xFF byte.
    assert!(m.core.mem.load(TSS_A + IOMAP_OFF, &vec![0xFF; 8193]));
    init_tss(&mut m, TSS_B, STACK0, false);
    init_tss(&mut m, TSS_C, STACK0, false);
    // Default handlers: mov dword ss:[RESULT], v ; hlt   (SS is valid even from v86).
    for v in 0..=255u8 {
        let h = HANDLERS + 16 * v as u32;
        let mut b = vec![0x36, 0xC7, 0x05];
        b.extend_from_slice(&RESULT.to_le_bytes());
        b.extend_from_slice(&(v as u32).to_le_bytes());
        b.push(0xF4);
        assert!(m.core.mem.load(h, &b));
        set_idt(&mut m, v, gate(K_CODE, h, 0xE, 0, 0));
    }
    w32(&mut m, RESULT, 0xFFFF_FFFF);
    let c = &mut m.core.cpu;
    c.cr0 = 0x11;
    c.gdtr = TableReg {
        base: GDT,
        limit: GDT_LIMIT,
    };
    c.idtr = TableReg {
        base: IDT,
        limit: 0x7FF,
    };
    c.eip = CODE;
    c.gpr[4] = STACK_INIT;
    c.cpl = 0;
    c.flags.set(2);
    for s in [ES, SS, DS, FS, GS] {
        load(&mut m, s, K_DATA);
    }
    load(&mut m, CS, K_CODE);
    let raw = gdt_entry(&m, SEL_TSS_A);
    m.core.cpu.tr = Descriptor { raw }.to_seg(SEL_TSS_A);
    m.core.cpu.ldtr = Seg::default();
    m.flush_code_cache();
    m
}

/// Identity-maps the first 4 MiB with 4 KiB pages (user, writable) and turns paging on.
pub fn enable_paging(m: &mut Machine) {
    w32(m, PD, PT | 7);
    for k in 1..1024 {
        w32(m, PD + 4 * k, 0);
    }
    for k in 0..1024 {
        w32(m, PT + 4 * k, (k << 12) | 7);
    }
    m.core.cpu.cr3 = PD;
    m.core.cpu.cr0 |= 0x8000_0000;
    m.flush_code_cache();
}

/// Sets the PTE of `lin` (first 4 MiB) and returns the old one (no TLB flush).
pub fn set_pte(m: &mut Machine, lin: u32, pte: u32) -> u32 {
    let a = PT + 4 * (lin >> 12);
    let old = r32(m, a);
    w32(m, a, pte);
    old
}

/// Runs until the guest halts (or another exit), with a generous budget.
pub fn run(m: &mut Machine) -> RunExit {
    m.run(100_000)
}

/// Vector recorded by the default handler that ran (0xFFFFFFFF if none).
pub fn vector(m: &Machine) -> u32 {
    r32(m, RESULT)
}

/// Dword `k` of the current stack (linear SS.base + ESP + 4k, paging honoured).
pub fn stack(m: &Machine, k: u32) -> u32 {
    let c = &m.core.cpu;
    let lin = c.seg[SS].base.wrapping_add(c.gpr[4]).wrapping_add(4 * k);
    let b = m.core.peek_lin(lin, 4).expect("stack mapped");
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Asserts that the default handler of `v` halted the machine.
pub fn expect_vector(m: &mut Machine, v: u8) {
    let exit = run(m);
    assert_eq!(exit, RunExit::Halted, "run ended with {exit:?}");
    assert_eq!(vector(m), v as u32, "vector (eip {:#x})", m.core.cpu.eip);
    assert_eq!(m.core.cpu.eip, HANDLERS + 16 * v as u32 + 12);
}

/// A checked hand-assembler: `i(bytes, "text")` appends an instruction after checking
/// that iced-x86 decodes `bytes` to exactly one instruction printing as `text`
/// (comparison ignores case, spaces and the word "ptr").
pub struct Asm {
    pub org: u32,
    pub bytes: Vec<u8>,
    bits: u32,
}

fn norm(s: &str) -> String {
    s.to_lowercase().replace("ptr", "").replace(' ', "")
}

impl Asm {
    pub fn new32(org: u32) -> Asm {
        Asm {
            org,
            bytes: Vec::new(),
            bits: 32,
        }
    }
    pub fn new16(org: u32) -> Asm {
        Asm {
            org,
            bytes: Vec::new(),
            bits: 16,
        }
    }
    /// Address of the next instruction.
    pub fn here(&self) -> u32 {
        self.org + self.bytes.len() as u32
    }
    pub fn i(&mut self, bytes: &[u8], text: &str) -> &mut Asm {
        let ip = self.here() as u64;
        let mut d = Decoder::with_ip(self.bits, bytes, ip, DecoderOptions::NONE);
        let ins = d.decode();
        let mut f = IntelFormatter::new();
        f.options_mut().set_hex_prefix("0x");
        f.options_mut().set_hex_suffix("");
        f.options_mut().set_uppercase_hex(false);
        f.options_mut().set_branch_leading_zeros(false);
        f.options_mut().set_show_branch_size(false);
        let mut out = String::new();
        f.format(&ins, &mut out);
        assert!(
            !ins.is_invalid() && ins.len() == bytes.len(),
            "{bytes:02x?} is not one instruction (decoded {out:?})"
        );
        assert_eq!(norm(&out), norm(text), "{bytes:02x?} decodes to {out:?}");
        self.bytes.extend_from_slice(bytes);
        self
    }
    /// Appends raw data (not an instruction).
    pub fn data(&mut self, bytes: &[u8]) -> &mut Asm {
        self.bytes.extend_from_slice(bytes);
        self
    }
    pub fn load(&self, m: &mut Machine) {
        assert!(m.core.mem.load(self.org, &self.bytes));
        m.flush_code_cache();
    }

    // ---- Helpers for the common encodings (each still checked by `i`) ----
    pub fn mov_r32(&mut self, r: u8, v: u32) -> &mut Asm {
        const N: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
        let mut b = vec![0xB8 + r];
        b.extend_from_slice(&v.to_le_bytes());
        self.i(&b, &format!("mov {},{}", N[r as usize], hexs(v)))
    }
    /// mov ax, imm16 ; mov sreg, ax
    pub fn load_sreg(&mut self, sreg: &str, sel: u16) -> &mut Asm {
        let mut b = vec![0x66, 0xB8];
        b.extend_from_slice(&sel.to_le_bytes());
        self.i(&b, &format!("mov ax,{}", hexs(sel as u32)));
        let modrm = match sreg {
            "es" => 0xC0,
            "ss" => 0xD0,
            "ds" => 0xD8,
            "fs" => 0xE0,
            "gs" => 0xE8,
            _ => panic!("sreg"),
        };
        self.i(&[0x8E, modrm], &format!("mov {sreg},ax"))
    }
    /// mov dword [abs], imm32
    pub fn store_imm(&mut self, a: u32, v: u32) -> &mut Asm {
        let mut b = vec![0xC7, 0x05];
        b.extend_from_slice(&a.to_le_bytes());
        b.extend_from_slice(&v.to_le_bytes());
        self.i(&b, &format!("mov dword [{}],{}", hexs(a), hexs(v)))
    }
    /// mov [abs], eax
    pub fn store_eax(&mut self, a: u32) -> &mut Asm {
        let mut b = vec![0xA3];
        b.extend_from_slice(&a.to_le_bytes());
        self.i(&b, &format!("mov [{}],eax", hexs(a)))
    }
    /// mov eax, [abs]
    pub fn load_eax(&mut self, a: u32) -> &mut Asm {
        let mut b = vec![0xA1];
        b.extend_from_slice(&a.to_le_bytes());
        self.i(&b, &format!("mov eax,[{}]", hexs(a)))
    }
    pub fn push_imm(&mut self, v: u32) -> &mut Asm {
        let mut b = vec![0x68];
        b.extend_from_slice(&v.to_le_bytes());
        self.i(&b, &format!("push {}", hexs(v)))
    }
    pub fn call_far(&mut self, sel: u16, off: u32) -> &mut Asm {
        let mut b = vec![0x9A];
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&sel.to_le_bytes());
        self.i(&b, &format!("call far {},{}", hexs(off), hexs(sel as u32)))
    }
    pub fn jmp_far(&mut self, sel: u16, off: u32) -> &mut Asm {
        let mut b = vec![0xEA];
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&sel.to_le_bytes());
        self.i(&b, &format!("jmp far {},{}", hexs(off), hexs(sel as u32)))
    }
    pub fn int(&mut self, n: u8) -> &mut Asm {
        self.i(&[0xCD, n], &format!("int {}", hexs(n as u32)))
    }
    pub fn hlt(&mut self) -> &mut Asm {
        self.i(&[0xF4], "hlt")
    }
    pub fn iretd(&mut self) -> &mut Asm {
        self.i(&[0xCF], "iretd")
    }
    pub fn nop(&mut self) -> &mut Asm {
        self.i(&[0x90], "nop")
    }
}

/// How iced prints a number with our options: decimal below 10, else 0x-hex.
pub fn hexs(v: u32) -> String {
    if v < 10 {
        format!("{v}")
    } else {
        format!("0x{v:x}")
    }
}

/// Drops the fixture machine to CPL 3 with flat user segments (as if by IRET).
pub fn to_ring3(m: &mut Machine) {
    load(m, CS, U_CODE);
    for s in [ES, SS, DS, FS, GS] {
        load(m, s, U_DATA);
    }
    m.core.cpu.cpl = 3;
    m.core.cpu.gpr[4] = STACK3;
    m.flush_code_cache();
}

/// Makes vector `v` reachable from ring 3 (gate DPL 3) with its default handler.
pub fn user_gate(m: &mut Machine, v: u8) {
    set_idt(m, v, gate(K_CODE, HANDLERS + 16 * v as u32, 0xE, 3, 0));
}

/// The first exception in the event log: (vector, error code).
pub fn first_exception(m: &Machine) -> Option<(u8, Option<u32>)> {
    m.core.events.events.iter().find_map(|e| match e.kind {
        traplab::trace::EventKind::Exception { vector, error_code } => Some((vector, error_code)),
        traplab::trace::EventKind::PageFault { error_code, .. } => Some((14, Some(error_code))),
        _ => None,
    })
}
