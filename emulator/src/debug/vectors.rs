//! Runner for the SingleStepTests 80286 real-mode vectors (one instruction per test, see
//! `tests/data/sst-80286-real/README.md`). Owns parsing of the test files, the metadata
//! (undefined-flag masks) and the 286/i686 differences list, and running tests on one
//! reused `Machine`. It must not read files or print: callers hand in bytes and get counts.
//!
//! Between tests only what a test touched is restored (its RAM bytes, the registers, the
//! decode cache and write-TLB entries of its pages): building a 16 MiB machine per test
//! would take hours. Pages the emulator wrote but the test did not list are checked to be
//! zero again, so a stray write is a failure and cannot leak into the next test.

use crate::devices::{Devices, DevicesConfig};
use crate::inspect::CpuState;
use crate::machine::{Machine, MachineConfig, RunExit};
use crate::mmu::segment::{Seg, TableReg, CS, DS, ES, FS, GS, SS};
use crate::mmu::tlb::{Entry, INVALID, TLB_SIZE};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;

/// RAM of the test machine: the vectors address at most 0x10FFEF (FFFF:FFFF with A20).
pub const RAM_BYTES: usize = 16 << 20;
/// Instructions (or REP chunks) a test may take before it counts as hung.
const STEP_LIMIT: u32 = 512;
const PAGE: u32 = 4096;

/// The 16-bit register file of a test state. Final states list only what changed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Regs {
    pub ax: Option<u16>,
    pub bx: Option<u16>,
    pub cx: Option<u16>,
    pub dx: Option<u16>,
    pub cs: Option<u16>,
    pub ss: Option<u16>,
    pub ds: Option<u16>,
    pub es: Option<u16>,
    pub sp: Option<u16>,
    pub bp: Option<u16>,
    pub si: Option<u16>,
    pub di: Option<u16>,
    pub ip: Option<u16>,
    pub flags: Option<u16>,
}

/// Register names in report order.
pub const REG_ORDER: [&str; 14] = [
    "ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags",
];

impl Regs {
    pub fn get(&self, name: &str) -> Option<u16> {
        match name {
            "ax" => self.ax,
            "bx" => self.bx,
            "cx" => self.cx,
            "dx" => self.dx,
            "cs" => self.cs,
            "ss" => self.ss,
            "ds" => self.ds,
            "es" => self.es,
            "sp" => self.sp,
            "bp" => self.bp,
            "si" => self.si,
            "di" => self.di,
            "ip" => self.ip,
            "flags" => self.flags,
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct State {
    pub regs: Regs,
    pub ram: Vec<(u32, u8)>,
}

/// The exception the 286 took, if any (`flag_address`: where it pushed FLAGS).
#[derive(Clone, Debug, Deserialize)]
pub struct TestException {
    pub number: u8,
    pub flag_address: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Test {
    pub idx: u32,
    pub name: String,
    pub bytes: Vec<u8>,
    pub initial: State,
    #[serde(rename = "final")]
    pub fin: State,
    #[serde(default)]
    pub exception: Option<TestException>,
}

impl Test {
    /// The opcode byte after the prefixes the 286 knows (segment, LOCK, REP).
    pub fn opcode_pos(&self) -> usize {
        self.bytes
            .iter()
            .position(|b| !matches!(b, 0x26 | 0x2E | 0x36 | 0x3E | 0xF0 | 0xF2 | 0xF3))
            .unwrap_or(0)
    }
    pub fn opcode(&self) -> u8 {
        self.bytes.get(self.opcode_pos()).copied().unwrap_or(0)
    }
    /// The ModR/M reg field (for one-byte opcodes that have a ModR/M byte).
    pub fn modrm_reg(&self) -> Option<u8> {
        self.bytes.get(self.opcode_pos() + 1).map(|m| (m >> 3) & 7)
    }
    /// See `Select::LockInvalid`.
    pub fn lock_invalid(&self) -> bool {
        let pos = self.opcode_pos();
        if !self.bytes[..pos].contains(&0xF0) {
            return false;
        }
        let op = self.opcode();
        let modrm = self.bytes.get(pos + 1).copied().unwrap_or(0xC0);
        let reg = (modrm >> 3) & 7;
        let lockable = match op {
            0x00 | 0x01 | 0x08 | 0x09 | 0x10 | 0x11 | 0x18 | 0x19 | 0x20 | 0x21 | 0x28 | 0x29
            | 0x30 | 0x31 | 0x86 | 0x87 => true,
            0x80..=0x83 => reg != 7,
            0xF6 | 0xF7 => reg == 2 || reg == 3,
            0xFE | 0xFF => reg <= 1,
            _ => false,
        };
        !(lockable && modrm < 0xC0)
    }

    /// See `Select::SsFault`.
    pub fn ss_fault(&self) -> bool {
        use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind, Register};
        if self.exception.as_ref().is_none_or(|e| e.number != 13) {
            return false;
        }
        let r = &self.initial.regs;
        let ins = Decoder::with_ip(16, &self.bytes, 0, DecoderOptions::NONE).decode();
        let has_mem = (0..ins.op_count()).any(|k| ins.op_kind(k) == OpKind::Memory);
        if has_mem && ins.memory_segment() == Register::SS {
            return true;
        }
        // String source through an SS: override, faulting at SI = 0xFFFF.
        let seg_si = (0..ins.op_count()).any(|k| ins.op_kind(k) == OpKind::MemorySegSI);
        if seg_si && ins.memory_segment() == Register::SS {
            // Walk the (REP) iterations: whichever of SI (SS) or DI (ES) reaches 0xFFFF first.
            let es_di = (0..ins.op_count()).any(|k| ins.op_kind(k) == OpKind::MemoryESDI);
            let rep = ins.has_rep_prefix() || ins.has_repne_prefix();
            let n = if rep { r.cx.unwrap_or(0) as u32 } else { 1 };
            let step: u16 = if r.flags.unwrap_or(0) & 0x400 != 0 {
                0xFFFE
            } else {
                2
            };
            let (mut si, mut di) = (r.si.unwrap_or(0), r.di.unwrap_or(0));
            for _ in 0..n {
                if si == 0xFFFF {
                    return true;
                }
                if es_di && di == 0xFFFF {
                    return false;
                }
                si = si.wrapping_add(step);
                di = di.wrapping_add(step);
            }
            return false;
        }
        let stack = ins.stack_pointer_increment() != 0 || ins.mnemonic() == Mnemonic::Leave;
        if !stack {
            return false;
        }
        if !has_mem {
            return true;
        }
        // A stack operation with a DS/ES operand: SS faulted unless that operand did.
        let reg = |x: Register| -> Option<u64> {
            use Register::*;
            Some(match x {
                BX => r.bx?,
                BP => r.bp?,
                SI => r.si?,
                DI => r.di?,
                _ => 0,
            } as u64)
        };
        let ea = ins.virtual_address(0, 0, |x, _, _| reg(x)).unwrap_or(0) & 0xFFFF;
        ea != 0xFFFF
    }

    fn is_io(&self) -> bool {
        matches!(self.opcode(), 0x6C..=0x6F | 0xE4..=0xE7 | 0xEC..=0xEF)
    }
    /// For IN/INS: the port read and the access size.
    fn input_port(&self) -> Option<(u16, u8)> {
        let dx = self.initial.regs.dx.unwrap_or(0);
        match self.opcode() {
            0xE4 | 0xE5 => {
                let p = *self.bytes.get(self.opcode_pos() + 1)? as u16;
                Some((p, 1 + (self.opcode() & 1)))
            }
            0xEC | 0xED | 0x6C | 0x6D => Some((dx, 1 + (self.opcode() & 1))),
            _ => None,
        }
    }
}

/// Largest test file, decompressed: SingleStepTests files are a few MiB at most; a gzip
/// bomb stops here instead of filling memory.
pub const MAX_JSON: u64 = 256 << 20;

/// Parses one test file: a JSON array, gzip-compressed when `gz`. Errors are Traplab's own
/// sentences (with the JSON line and column), not the parser's.
pub fn parse_tests(data: &[u8], gz: bool) -> Result<Vec<Test>, String> {
    let json_err = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early (truncated?)".to_string(),
        serde_json::error::Category::Syntax => {
            format!("not valid JSON (line {}, column {})", e.line(), e.column())
        }
        _ => format!(
            "not a list of tests in the expected shape (line {}, column {})",
            e.line(),
            e.column()
        ),
    };
    if gz {
        let mut s = Vec::new();
        flate2::read::GzDecoder::new(data)
            .take(MAX_JSON + 1)
            .read_to_end(&mut s)
            .map_err(|_| "corrupt gzip data".to_string())?;
        if s.len() as u64 > MAX_JSON {
            return Err(format!(
                "decompresses to more than {} MiB (a test file is a few MiB)",
                MAX_JSON >> 20
            ));
        }
        serde_json::from_slice(&s).map_err(json_err)
    } else {
        serde_json::from_slice(data).map_err(json_err)
    }
}

/// The form of a test file name: `80.3.json.gz` -> `80.3`, `A4.json` -> `A4`.
pub fn form_of_file(name: &str) -> Option<String> {
    let stem = name
        .strip_suffix(".json.gz")
        .or_else(|| name.strip_suffix(".json"))?;
    if stem == "metadata" || stem.is_empty() {
        return None;
    }
    let ok = stem
        .split('.')
        .all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| stem.to_ascii_uppercase())
}

/// `metadata.json`: the flags mask of each form (undefined flags are masked out).
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    masks: HashMap<String, u16>,
}

impl Metadata {
    pub fn parse(text: &str) -> Result<Metadata, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))?;
        let ops = v
            .get("opcodes")
            .and_then(|o| o.as_object())
            .ok_or("metadata.json has no \"opcodes\" object")?;
        let mut masks = HashMap::new();
        let mask_of = |e: &serde_json::Value| {
            e.get("flags-mask")
                .and_then(|m| m.as_u64())
                .map(|m| m as u16)
        };
        for (op, e) in ops {
            if let Some(m) = mask_of(e) {
                masks.insert(op.to_ascii_uppercase(), m);
            }
            if let Some(regs) = e.get("reg").and_then(|r| r.as_object()) {
                for (r, re) in regs {
                    if let Some(m) = mask_of(re) {
                        masks.insert(format!("{}.{}", op.to_ascii_uppercase(), r), m);
                    }
                }
            }
        }
        Ok(Metadata { masks })
    }

    /// AND both flag values with this before comparing.
    pub fn flags_mask(&self, form: &str) -> u16 {
        self.masks.get(form).copied().unwrap_or(0xFFFF)
    }
}

/// Which tests of a form a differences rule covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    All,
    Idx(Vec<u32>),
    /// The 286 raised this exception.
    Exception(u8),
    /// ModR/M reg field of the opcode is one of these.
    ModrmReg(Vec<u8>),
    /// IN/INS from a port that one of Traplab's PC devices answers (the test bus had
    /// nothing there and read all ones).
    IoMapped,
    /// LOCK on an instruction an i686 does not let it prefix (SDM Vol. 2A LOCK: only
    /// ADD ADC AND BTC BTR BTS CMPXCHG DEC INC NEG NOT OR SBB SUB XOR XADD XCHG with a
    /// memory destination; anything else is #UD).
    LockInvalid,
    /// The instruction (prefixes included, HLT excluded) is longer than N bytes.
    LongerThan(usize),
    /// The 286 raised #GP(13) for an access through SS (stack operations, BP-based or
    /// SS-prefixed operands) that ran past offset 0xFFFF.
    SsFault,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Do not run the test; it is counted as listed.
    Skip,
    /// The i686 raises #UD where the 286 executed the instruction: run it with IVT entry 6
    /// pointing at a HLT and check that the #UD frame (CS:IP of the instruction) was pushed.
    ExpectUd,
    /// Also AND the flags with this mask when comparing.
    FlagsMask(u16),
    /// Do not compare these registers.
    Ignore(Vec<String>),
    /// Input transform: AND the initial FLAGS with this before loading them.
    InitFlags(u16),
    /// The i686 raises this vector where the 286 raised the test's exception: before the
    /// run, its IVT entry is pointed at the 286's handler, so the whole frame is compared.
    Vector(u8),
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Form name or `*` for every form.
    pub form: String,
    pub select: Select,
    pub action: Action,
    pub reason: String,
    /// `FORM SELECT ACTION` as written in the file (for reports).
    pub spec: String,
}

/// `i686-differences.txt`: one rule per line, `FORM SELECT ACTION REASON...`, `#` comments.
#[derive(Clone, Debug, Default)]
pub struct Differences {
    pub rules: Vec<Rule>,
}

fn hex16(s: &str) -> Result<u16, String> {
    u16::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("{s}: {e}"))
}

fn list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|x| x.parse::<T>().map_err(|_| format!("bad list item {x}")))
        .collect()
}

impl Differences {
    pub fn parse(text: &str) -> Result<Differences, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |m: String| format!("line {}: {m}", n + 1);
            let mut rest = line;
            let mut field = || {
                let s = rest.trim_start();
                let end = s.find(char::is_whitespace).unwrap_or(s.len());
                rest = &s[end..];
                &s[..end]
            };
            let (form, sel, act) = (field(), field(), field());
            if act.is_empty() {
                return Err(err("need FORM SELECT ACTION REASON".into()));
            }
            let reason = rest.trim().to_string();
            if reason.is_empty() {
                return Err(err("a rule needs a reason".into()));
            }
            let select = match sel.split_once('=') {
                None if sel == "all" => Select::All,
                None if sel == "io-mapped" => Select::IoMapped,
                None if sel == "lock-invalid" => Select::LockInvalid,
                None if sel == "ss-fault" => Select::SsFault,
                Some(("longer-than", v)) => {
                    Select::LongerThan(v.parse().map_err(|_| err(format!("bad length {v}")))?)
                }
                Some(("idx", v)) => Select::Idx(list(v).map_err(err)?),
                Some(("exception", v)) => {
                    Select::Exception(v.parse().map_err(|_| err(format!("bad vector {v}")))?)
                }
                Some(("modrm-reg", v)) => Select::ModrmReg(list(v).map_err(err)?),
                _ => return Err(err(format!("unknown selector {sel}"))),
            };
            let action = match act.split_once('=') {
                None if act == "skip" => Action::Skip,
                None if act == "expect-ud" => Action::ExpectUd,
                Some(("flags-mask", v)) => Action::FlagsMask(hex16(v).map_err(err)?),
                Some(("init-flags", v)) => Action::InitFlags(hex16(v).map_err(err)?),
                Some(("vector", v)) => {
                    Action::Vector(v.parse().map_err(|_| err(format!("bad vector {v}")))?)
                }
                Some(("ignore", v)) => Action::Ignore(v.split(',').map(String::from).collect()),
                _ => return Err(err(format!("unknown action {act}"))),
            };
            rules.push(Rule {
                spec: format!("{form} {sel} {act}"),
                form: form.to_ascii_uppercase(),
                select,
                action,
                reason,
            });
        }
        Ok(Differences { rules })
    }
}

impl Rule {
    /// True when this rule covers test `t` of `form`.
    pub fn applies(&self, form: &str, t: &Test) -> bool {
        (self.form == "*" || self.form == form)
            && match &self.select {
                Select::All => true,
                Select::Idx(v) => v.contains(&t.idx),
                Select::Exception(n) => t.exception.as_ref().is_some_and(|e| e.number == *n),
                Select::ModrmReg(v) => t.modrm_reg().is_some_and(|r| v.contains(&r)),
                Select::IoMapped => t.input_port().is_some_and(|(p, s)| port_mapped(p, s)),
                Select::LockInvalid => t.lock_invalid(),
                Select::LongerThan(n) => t.bytes.len().saturating_sub(1) > *n,
                Select::SsFault => t.ss_fault(),
            }
    }
}

/// True when a fresh set of Traplab's PC devices answers the port with something other
/// than the all-ones of an empty bus.
fn port_mapped(port: u16, size: u8) -> bool {
    let mut d = Devices::new(RAM_BYTES as u32, DevicesConfig::default());
    let all = if size == 1 { 0xFF } else { 0xFFFF };
    d.io_read(port, size, 0) != all
}

/// The result of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Differs only where the differences list says the 286 and an i686 differ: the index
    /// of the (first) rule that covered it.
    Listed(usize),
    /// Mismatches, one line each.
    Fail(Vec<String>),
}

/// Counts for one form, with the failing tests (up to the caller's limit).
#[derive(Clone, Debug, Default)]
pub struct FormResult {
    pub form: String,
    pub passed: u32,
    pub failed: u32,
    pub listed: u32,
    /// Listed tests per rule index of the differences list.
    pub listed_by_rule: Vec<(usize, u32)>,
    /// (idx, disassembly, mismatches)
    pub failures: Vec<(u32, String, Vec<String>)>,
}

/// One machine, reused for every test.
pub struct Runner {
    pub m: Machine,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY_ENTRY: Entry = Entry {
    tag: INVALID,
    phys: 0,
    global: false,
    large: false,
};

impl Runner {
    pub fn new() -> Runner {
        let m = Machine::new(MachineConfig {
            ram_bytes: RAM_BYTES,
            ..MachineConfig::default()
        });
        let mut r = Runner { m };
        r.reset_devices();
        r
    }

    /// Fresh devices with every IRQ masked, so nothing interrupts a test.
    fn reset_devices(&mut self) {
        let c = &mut self.m.core;
        c.dev = Devices::new(RAM_BYTES as u32, DevicesConfig::default());
        c.dev.io_write(0x21, 1, 0xFF, 0);
        c.dev.io_write(0xA1, 1, 0xFF, 0);
        c.mmu.a20_mask = u32::MAX;
    }

    /// Runs every test of a form; keeps at most `keep` failures.
    pub fn run_form(
        &mut self,
        form: &str,
        tests: &[Test],
        meta: &Metadata,
        diffs: &Differences,
        keep: usize,
    ) -> FormResult {
        let mut r = FormResult {
            form: form.to_string(),
            ..Default::default()
        };
        for t in tests {
            match self.run_test(form, t, meta, diffs) {
                Outcome::Pass => r.passed += 1,
                Outcome::Listed(k) => {
                    r.listed += 1;
                    match r.listed_by_rule.iter_mut().find(|(i, _)| *i == k) {
                        Some((_, n)) => *n += 1,
                        None => r.listed_by_rule.push((k, 1)),
                    }
                }
                Outcome::Fail(d) => {
                    r.failed += 1;
                    if r.failures.len() < keep {
                        r.failures.push((t.idx, t.name.clone(), d));
                    }
                }
            }
        }
        r
    }

    /// Loads, runs and checks one test, then restores the machine.
    pub fn run_test(
        &mut self,
        form: &str,
        t: &Test,
        meta: &Metadata,
        diffs: &Differences,
    ) -> Outcome {
        let mut init_mask = 0xFFFFu16;
        let mut alias = None;
        let mut skip = None;
        let mut expect_ud = None;
        for (k, r) in diffs.rules.iter().enumerate() {
            match r.action {
                // Not run at all: the i686 behaviour would vector through an IVT entry the
                // test does not provide and run away until the step limit.
                Action::Skip if r.applies(form, t) => {
                    skip.get_or_insert(k);
                }
                Action::ExpectUd if r.applies(form, t) => {
                    expect_ud.get_or_insert(k);
                }
                Action::InitFlags(m) if r.applies(form, t) => init_mask &= m,
                Action::Vector(v) if r.applies(form, t) => alias = Some((v, k)),
                _ => {}
            }
        }
        if let Some(k) = skip {
            return Outcome::Listed(k);
        }
        if let Some(k) = expect_ud {
            return self.run_expect_ud(t, init_mask, k);
        }
        self.load(t, init_mask);
        if let (Some((v, _)), Some(e)) = (alias, &t.exception) {
            let ram = &mut self.m.core.mem.ram;
            let (from, to) = (e.number as usize * 4, v as usize * 4);
            let entry: [u8; 4] = ram[from..from + 4].try_into().unwrap_or([0; 4]);
            ram[to..to + 4].copy_from_slice(&entry);
        }
        let exit = self.execute();
        let mut strict = self.compare(t, meta.flags_mask(form));
        let runaway = exit.is_some();
        if let Some(e) = exit {
            strict.push(e);
        }
        if let Some((v, _)) = alias {
            // Not part of the test's RAM: put the zeros back before the stray-write check.
            self.m.core.mem.ram[v as usize * 4..v as usize * 4 + 4].fill(0);
        }
        strict.extend(self.restore(t, runaway));
        if let (true, Some((_, k))) = (strict.is_empty(), alias) {
            return Outcome::Listed(k);
        }
        if strict.is_empty() {
            return Outcome::Pass;
        }
        // Relax the comparison by the listed differences.
        let mut mask = meta.flags_mask(form);
        let mut ignore: Vec<&str> = Vec::new();
        let mut first = None;
        for (k, r) in diffs.rules.iter().enumerate() {
            if !r.applies(form, t) {
                continue;
            }
            match &r.action {
                Action::FlagsMask(m) => {
                    mask &= m;
                    first.get_or_insert(k);
                }
                Action::Ignore(v) => {
                    ignore.extend(v.iter().map(|s| s.as_str()));
                    first.get_or_insert(k);
                }
                _ => {}
            }
        }
        if let Some(k) = first {
            let relaxed: Vec<String> = strict
                .iter()
                .filter(|d| {
                    let name = d.split(':').next().unwrap_or("");
                    if ignore.contains(&name) {
                        return false;
                    }
                    if name == "flags" {
                        return self.flags_differ(t, mask);
                    }
                    true
                })
                .cloned()
                .collect();
            if relaxed.is_empty() {
                return Outcome::Listed(k);
            }
            return Outcome::Fail(relaxed);
        }
        Outcome::Fail(strict)
    }

    /// See `Action::ExpectUd`. The handler is a HLT at 0000:0400 (IVT entry 6 = 0000:0400).
    fn run_expect_ud(&mut self, t: &Test, init_mask: u16, k: usize) -> Outcome {
        const HANDLER: u32 = 0x400;
        let used = |a: u32| (0x18..0x1C).contains(&a) || a == HANDLER;
        if t.initial
            .ram
            .iter()
            .chain(&t.fin.ram)
            .any(|&(a, _)| used(a))
        {
            return Outcome::Listed(k); // the test owns those bytes: cannot check
        }
        self.load(t, init_mask);
        let ram = &mut self.m.core.mem.ram;
        ram[0x18..0x1C].copy_from_slice(&[0x00, 0x04, 0x00, 0x00]);
        ram[HANDLER as usize] = 0xF4;
        let exit = self.execute();
        let r = &t.initial.regs;
        let (ss, sp) = ((r.ss.unwrap_or(0) as u32) << 4, r.sp.unwrap_or(0));
        let at = |d: u16| (ss + sp.wrapping_sub(6).wrapping_add(d) as u32) as usize;
        let i = self.m.inspect();
        let word = |d: u16| {
            let b = i.peek_physical(at(d) as u32, 2);
            u16::from_le_bytes([b[0], b[1]])
        };
        let mut d: Vec<String> = exit.iter().cloned().collect();
        let got = (i.segment(CS).selector, i.eip() as u16, i.gpr(4) as u16);
        if got != (0, HANDLER as u16 + 1, sp.wrapping_sub(6)) {
            d.push(format!(
                "#UD expected: at {:04X}:{:04X} sp {:04X}",
                got.0, got.1, got.2
            ));
        }
        let frame = (word(0), word(2));
        if frame != (r.ip.unwrap_or(0), r.cs.unwrap_or(0)) {
            d.push(format!("#UD frame: IP {:04X} CS {:04X}", frame.0, frame.1));
        }
        let ram = &mut self.m.core.mem.ram;
        ram[0x18..0x1C].fill(0);
        ram[HANDLER as usize] = 0;
        for k in 0..6 {
            ram[at(k)] = 0;
        }
        self.m.cache.invalidate_page(HANDLER / PAGE);
        if let Some(cp) = self
            .m
            .core
            .mem
            .code_pages
            .get_mut((HANDLER / PAGE) as usize)
        {
            *cp = 0;
        }
        d.extend(self.restore(t, exit.is_some()));
        if d.is_empty() {
            Outcome::Listed(k)
        } else {
            Outcome::Fail(d)
        }
    }

    fn load(&mut self, t: &Test, init_mask: u16) {
        let c = &mut self.m.core;
        let r = &t.initial.regs;
        let g = |v: Option<u16>| v.unwrap_or(0) as u32;
        c.cpu.gpr = [
            g(r.ax),
            g(r.cx),
            g(r.dx),
            g(r.bx),
            g(r.sp),
            g(r.bp),
            g(r.si),
            g(r.di),
        ];
        c.cpu.eip = g(r.ip);
        c.cpu.flags.set(g(r.flags) & init_mask as u32);
        // Real mode (SDM Vol. 3A 20.1): segment base = selector * 16, 64 KiB limits,
        // the IVT at 0 with limit 0x3FF.
        c.cpu.cr0 &= !crate::cpu::state::cr0::PE;
        c.cpu.seg[ES] = Seg::real(r.es.unwrap_or(0));
        c.cpu.seg[SS] = Seg::real(r.ss.unwrap_or(0));
        c.cpu.seg[DS] = Seg::real(r.ds.unwrap_or(0));
        c.cpu.seg[FS] = Seg::real(0);
        c.cpu.seg[GS] = Seg::real(0);
        c.cpu.seg[CS] = Seg {
            attr: 0x9B,
            ..Seg::real(r.cs.unwrap_or(0))
        };
        c.cpu.idtr = TableReg {
            base: 0,
            limit: 0x3FF,
        };
        c.cpu.cpl = 0;
        c.cpu.halted = false;
        c.cpu.shadow = false;
        c.cpu.dr[7] = 0x400;
        c.req.clear();
        c.delivering = None;
        for &(a, b) in &t.initial.ram {
            if let Some(x) = c.mem.ram.get_mut(a as usize) {
                *x = b;
            }
        }
    }

    /// Steps until the HLT after the instruction has executed. Returns a mismatch line if
    /// the machine did not get there.
    fn execute(&mut self) -> Option<String> {
        for _ in 0..STEP_LIMIT {
            match self.m.step() {
                RunExit::TripleFault => return Some("run: triple fault".into()),
                _ => {
                    if self.m.inspect().halted() {
                        return None;
                    }
                }
            }
        }
        Some(format!("run: no HLT after {STEP_LIMIT} steps"))
    }

    fn reg_value(c: &CpuState, name: &str) -> u16 {
        (match name {
            "ax" => c.gpr[0],
            "cx" => c.gpr[1],
            "dx" => c.gpr[2],
            "bx" => c.gpr[3],
            "sp" => c.gpr[4],
            "bp" => c.gpr[5],
            "si" => c.gpr[6],
            "di" => c.gpr[7],
            "es" => c.seg[ES].selector as u32,
            "cs" => c.seg[CS].selector as u32,
            "ss" => c.seg[SS].selector as u32,
            "ds" => c.seg[DS].selector as u32,
            "ip" => c.eip,
            "flags" => c.eflags,
            _ => 0,
        }) as u16
    }

    fn expected_reg(t: &Test, name: &str) -> u16 {
        t.fin
            .regs
            .get(name)
            .or_else(|| t.initial.regs.get(name))
            .unwrap_or(0)
    }

    fn flags_differ(&self, t: &Test, mask: u16) -> bool {
        (Self::reg_value(&self.m.inspect().cpu(), "flags") & mask)
            != (Self::expected_reg(t, "flags") & mask)
    }

    /// Registers (flags under `mask`) and the listed RAM bytes.
    fn compare(&self, t: &Test, mask: u16) -> Vec<String> {
        let mut d = Vec::new();
        let cpu = self.m.inspect().cpu();
        for name in REG_ORDER {
            let want = Self::expected_reg(t, name);
            let got = Self::reg_value(&cpu, name);
            let m = if name == "flags" { mask } else { 0xFFFF };
            if got & m != want & m {
                d.push(format!("{name}: got {got:04X} want {want:04X}"));
            }
        }
        let i = self.m.inspect();
        let cs_base = i.segment(CS).base;
        if cs_base != (Self::expected_reg(t, "cs") as u32) << 4 {
            d.push(format!("cs.base: got {cs_base:08X}"));
        }
        let mut want: HashMap<u32, u8> = t.initial.ram.iter().copied().collect();
        want.extend(t.fin.ram.iter().copied());
        let mut addrs: Vec<_> = want.into_iter().collect();
        addrs.sort_unstable();
        // The FLAGS image in an exception frame carries the instruction's undefined flags
        // too: compare it under the same mask as the FLAGS register.
        // It sits at SS:SP+4 after the handler's HLT (the suite's `flag_address` is rounded
        // down to even when SP is odd).
        let frame = t.exception.as_ref().map(|_| {
            let ss = (Self::expected_reg(t, "ss") as u32) << 4;
            let sp = Self::expected_reg(t, "sp");
            (
                ss + sp.wrapping_add(4) as u32,
                ss + sp.wrapping_add(5) as u32,
            )
        });
        for (a, w) in addrs {
            let got = i.peek_physical(a, 1)[0];
            let m = match frame {
                Some((lo, _)) if a == lo => mask as u8,
                Some((_, hi)) if a == hi => (mask >> 8) as u8,
                _ => 0xFF,
            };
            if got & m != w & m {
                d.push(format!("ram[{a:05X}]: got {got:02X} want {w:02X}"));
            }
        }
        d
    }

    /// Puts back zeros where the test wrote, drops cached code and write-TLB entries of
    /// the touched pages, and reports bytes written outside the listed ones.
    fn restore(&mut self, t: &Test, runaway: bool) -> Vec<String> {
        let mut d = Vec::new();
        let Machine { core, cache, .. } = &mut self.m;
        let mut pages: Vec<u32> = Vec::new();
        for &(a, _) in t.initial.ram.iter().chain(t.fin.ram.iter()) {
            if let Some(x) = core.mem.ram.get_mut(a as usize) {
                *x = 0;
            }
            let p = a / PAGE;
            if !pages.contains(&p) {
                pages.push(p);
            }
        }
        // Pages written through the TLB fast path (real mode without paging: linear ==
        // physical, so the entries name the pages directly).
        core.mmu.tlb.stack = Default::default();
        for e in core.mmu.tlb.e[2 * TLB_SIZE..].iter_mut() {
            if e.tag != INVALID {
                let p = e.phys / PAGE;
                if !pages.contains(&p) {
                    pages.push(p);
                }
                *e = EMPTY_ENTRY;
            }
        }
        for &p in &pages {
            cache.invalidate_page(p);
            if let Some(cp) = core.mem.code_pages.get_mut(p as usize) {
                *cp = 0;
            }
            let lo = (p * PAGE) as usize;
            if let Some(page) = core.mem.ram.get_mut(lo..lo + PAGE as usize) {
                if let Some(k) = page.iter().position(|&b| b != 0) {
                    d.push(format!(
                        "ram[{:05X}]: unexpected write {:02X}",
                        lo + k,
                        page[k]
                    ));
                    page.fill(0);
                }
            }
        }
        core.smc_pages.clear();
        if runaway {
            // A runaway test may have written anywhere (through code pages too, which
            // leave no write-TLB entry): wipe everything rather than leak into later tests.
            core.mem.ram.fill(0);
            self.m.flush_code_cache();
        }
        if t.is_io() {
            self.reset_devices();
        }
        d
    }
}

/// Sums of a set of form results.
pub fn totals(results: &[FormResult]) -> (u32, u32, u32) {
    results.iter().fold((0, 0, 0), |(p, f, l), r| {
        (p + r.passed, f + r.failed, l + r.listed)
    })
}

#[cfg(test)]
#[path = "vectors_tests.rs"]
mod tests;
