//! A decoded instruction as the dispatch loop sees it: iced-x86's decode plus operands
//! pre-resolved to register indices and an effective-address recipe, and the handler chosen
//! once at decode time. Owns operand access helpers; must not execute anything itself.

use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use iced_x86::{Instruction, MemorySize, OpKind, Register};

pub type Handler = fn(&mut Core, &Insn) -> Res;

/// "No register".
pub const NONE: u8 = 0xFF;

/// Operand kinds for operand 0 / operand 1.
pub const K_NONE: u8 = 0;
pub const K_REG: u8 = 1;
pub const K_MEM: u8 = 2;
pub const K_IMM: u8 = 3;

/// A general register number (the low three bits of an operand's register index) as a
/// type with eight values, so that indexing the register file with it (`Cpu::gpr`) needs
/// neither a mask nor a bounds check: the hot handlers (`exec::fast`) and the effective
/// address use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Gpr {
    Eax,
    Ecx,
    Edx,
    Ebx,
    Esp,
    Ebp,
    Esi,
    Edi,
}

impl Gpr {
    /// The register numbered by the low three bits of `r`.
    pub fn low3(r: u8) -> Gpr {
        match r & 7 {
            0 => Gpr::Eax,
            1 => Gpr::Ecx,
            2 => Gpr::Edx,
            3 => Gpr::Ebx,
            4 => Gpr::Esp,
            5 => Gpr::Ebp,
            6 => Gpr::Esi,
            _ => Gpr::Edi,
        }
    }

    /// Its index in `Cpu::gpr`.
    #[inline(always)]
    pub fn idx(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug)]
pub struct Insn {
    /// What the chained dispatch loop calls: the handler's thread (`exec::thread`), which
    /// runs it and goes on with the next instruction of the block: the handler inlined
    /// when it keeps EIP and the retired count lazily, else `exec::thread::eager`, which
    /// stores them and calls `inner`.
    pub thread: crate::cpu::exec::thread::Thread,
    /// The handler chosen at decode time.
    pub inner: Handler,
    /// EIP after this instruction, fixed at decode time (a cached block only runs at the
    /// EIP it was decoded at, see `cpu::cache`). Handlers see EIP already advanced and the
    /// retired count before their instruction: stored before the call for an eager
    /// handler, by `Core::sync` for a lazy one, which calls it before anything that could
    /// look at them (every path but its inline fast path).
    pub next_ip: u32,
    /// Position in its block (`Core::sync` derives the retired count from it).
    pub idx: u8,
    /// The handler is lazy (see `exec`) and leaves EIP to the dispatch loop when it
    /// completes without a request: the loop then stores `next_ip` (set at block build).
    pub lazy_ip: bool,
    pub len: u8,
    /// Operand size in bytes (1, 2 or 4) of the main operation.
    pub size: u8,
    pub k0: u8,
    pub k1: u8,
    /// Register index of operand 0 / 1 when they are general registers (8-bit indices use
    /// the encoding AL CL DL BL AH CH DH BH) or segment registers (ES..GS = 0..5).
    pub r0: u8,
    pub r1: u8,
    /// `r0`, `r1`, `base` and `index` as 32-bit general registers (their low three bits;
    /// meaningful only where the operand is a general register).
    pub g0: Gpr,
    pub g1: Gpr,
    pub gb: Gpr,
    pub gx: Gpr,
    // Effective address recipe: disp + base + (index << scale), masked to 16 bits if a16.
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    pub seg: u8,
    pub a16: bool,
    /// Which recipe `ea` follows (`EA_DISP`, `EA_BASE`, `EA_SIB` or `EA_ANY`), chosen when
    /// the operand is decoded.
    pub ea_form: u8,
    pub disp: u32,
    /// Immediate, branch target, or far offset.
    pub imm: u32,
    /// Second immediate (ENTER level, far selector, third operand of IMUL/SHLD...).
    pub imm2: u32,
    /// Condition code 0..15 for Jcc/SETcc/CMOVcc/LOOPcc (Intel order), else 0xFF.
    pub cc: u8,
    /// For a Jcc whose target is an instruction of its own cached block: that
    /// instruction's index in the block, so the dispatch loop goes on inside the block when
    /// the branch is taken (`machine::exec`); else `NONE`. Set when the block is built, also
    /// on a flag setter fused with such a Jcc (`exec::fast::fuse`; its `imm2` then holds the
    /// Jcc's target).
    pub skip: u8,
    /// With `skip`: how far the retired count before the block's first instruction moves
    /// when the branch is taken (`idx + 1 - skip`, as an `i8`), set with it.
    pub back: i8,
    /// Block building changed this instruction's dispatch after its decode (a Jcc given its
    /// in-block or mid-block form, a flag setter fused with the Jcc after it): a copy for
    /// another block (`DecodeCache::recall`) chooses its handler again.
    pub relinked: bool,
    pub ins: Instruction,
}

/// Maps an iced register to (index, size in bytes) for general registers: AL..BH (the
/// encoding's order, AH..BH being 4..7), AX..DI and EAX..EDI, which iced numbers
/// consecutively in that order.
#[inline]
pub fn gpr(r: Register) -> Option<(u8, u8)> {
    let v = r as u32;
    let (first, size) = if v >= Register::EAX as u32 {
        (Register::EAX, 4)
    } else if v >= Register::AX as u32 {
        (Register::AX, 2)
    } else {
        (Register::AL, 1)
    };
    let k = v.wrapping_sub(first as u32);
    (k < 8).then_some((k as u8, size))
}

/// Maps an iced segment register to its index ES..GS = 0..5 (iced's order too).
#[inline]
pub fn sreg(r: Register) -> Option<u8> {
    let k = (r as u32).wrapping_sub(Register::ES as u32);
    (k < 6).then_some(k as u8)
}

fn mem_size_bytes(m: MemorySize) -> u8 {
    match m.size() {
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

impl Insn {
    /// EIP of this instruction (where a fault restarts it).
    #[inline(always)]
    pub fn ip(&self) -> u32 {
        self.ins.ip32()
    }

    /// Builds the operand recipe from iced's decode; the handler is set by the caller.
    pub fn new(ins: Instruction, exec: Handler) -> Insn {
        let mut i = Insn::blank(exec);
        i.ins = ins;
        i.init();
        i
    }

    /// An instruction with no operands and handler `exec`, for `init` to fill in place
    /// once `ins` holds a decode (`machine::fetch` decodes into a block's last slot).
    #[inline]
    pub fn blank(exec: Handler) -> Insn {
        Insn {
            thread: crate::cpu::exec::thread::eager,
            inner: exec,
            idx: 0,
            lazy_ip: false,
            next_ip: 0,
            len: 0,
            size: 4,
            k0: K_NONE,
            k1: K_NONE,
            r0: NONE,
            r1: NONE,
            g0: Gpr::Eax,
            g1: Gpr::Eax,
            gb: Gpr::Eax,
            gx: Gpr::Eax,
            base: NONE,
            index: NONE,
            scale: 0,
            seg: 3,
            a16: false,
            ea_form: EA_ANY,
            disp: 0,
            imm: 0,
            imm2: 0,
            cc: NONE,
            skip: NONE,
            back: 0,
            relinked: false,
            ins: Instruction::default(),
        }
    }

    /// Fills the operand recipe of a `blank` instruction from its decode, `ins`.
    pub fn init(&mut self) {
        let next = self.ins.ip32().wrapping_add(self.ins.len() as u32);
        self.next_ip = if self.ins.code_size() == iced_x86::CodeSize::Code16 {
            next & 0xFFFF
        } else {
            next
        };
        self.len = self.ins.len() as u8;
        self.cc = (self.ins.condition_code() as u8).wrapping_sub(1);
        let mut size = 0u8;
        let mut imm_slot = 0;
        // Each operand by its own number, so that iced's accessors fold to one field.
        let n = self.ins.op_count();
        if n > 0 {
            (self.k0, self.r0) = self.operand::<0>(&mut size, &mut imm_slot);
        }
        if n > 1 {
            (self.k1, self.r1) = self.operand::<1>(&mut size, &mut imm_slot);
        }
        if n > 2 {
            self.operand::<2>(&mut size, &mut imm_slot);
        }
        self.size = match size {
            0 => 4,
            s => s,
        };
        self.g0 = Gpr::low3(self.r0);
        self.g1 = Gpr::low3(self.r1);
        self.gb = Gpr::low3(self.base);
        self.gx = Gpr::low3(self.index);
    }

    /// Operand `K`'s kind and register number (`K_REG`, `K_MEM`, `K_IMM` or `K_NONE`),
    /// recording its memory recipe, immediate or branch target, and the operation's size
    /// if no earlier operand set it.
    #[inline(always)]
    fn operand<const K: u32>(&mut self, size: &mut u8, imm_slot: &mut u32) -> (u8, u8) {
        match self.ins.op_kind(K) {
            OpKind::Register => {
                let r = self.ins.op_register(K);
                if let Some((idx, sz)) = gpr(r) {
                    if *size == 0 {
                        *size = sz;
                    }
                    (K_REG, idx)
                } else if let Some(s) = sreg(r) {
                    if *size == 0 && K > 0 {
                        *size = 2;
                    }
                    (K_REG, s)
                } else {
                    // Control/debug registers: number in r.
                    let num = match r {
                        Register::CR0 => 0,
                        Register::CR2 => 2,
                        Register::CR3 => 3,
                        Register::CR4 => 4,
                        Register::DR0 => 0,
                        Register::DR1 => 1,
                        Register::DR2 => 2,
                        Register::DR3 => 3,
                        Register::DR6 => 6,
                        Register::DR7 => 7,
                        _ => NONE,
                    };
                    (K_REG, num)
                }
            }
            OpKind::Memory => {
                if *size == 0 {
                    *size = mem_size_bytes(self.ins.memory_size());
                }
                self.fill_mem();
                (K_MEM, NONE)
            }
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8_2nd => {
                let v = self.ins.immediate(K) as u32;
                if *imm_slot == 0 {
                    self.imm = v;
                } else {
                    self.imm2 = v;
                }
                *imm_slot += 1;
                (K_IMM, NONE)
            }
            OpKind::NearBranch16 => {
                self.imm = self.ins.near_branch16() as u32;
                (K_IMM, NONE)
            }
            OpKind::NearBranch32 => {
                self.imm = self.ins.near_branch32();
                (K_IMM, NONE)
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                self.imm = if self.ins.op_kind(K) == OpKind::FarBranch16 {
                    self.ins.far_branch16() as u32
                } else {
                    self.ins.far_branch32()
                };
                self.imm2 = self.ins.far_branch_selector() as u32;
                (K_IMM, NONE)
            }
            OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemorySegDI
            | OpKind::MemorySegEDI
            | OpKind::MemoryESDI
            | OpKind::MemoryESEDI => {
                if *size == 0 {
                    *size = mem_size_bytes(self.ins.memory_size());
                }
                self.seg = sreg(self.ins.memory_segment()).unwrap_or(3);
                (K_MEM, NONE)
            }
            _ => (K_NONE, NONE),
        }
    }

    fn fill_mem(&mut self) {
        self.seg = sreg(self.ins.memory_segment()).unwrap_or(3);
        let (b, x) = (gpr(self.ins.memory_base()), gpr(self.ins.memory_index()));
        self.base = b.map_or(NONE, |(r, _)| r);
        self.index = x.map_or(NONE, |(r, _)| r);
        self.scale = self.ins.memory_index_scale().trailing_zeros() as u8;
        self.disp = self.ins.memory_displacement32();
        let a16 = match (b, x) {
            (Some((_, s)), _) | (None, Some((_, s))) => s == 2,
            (None, None) => self.ins.memory_displ_size() == 2,
        };
        self.a16 = a16;
        self.ea_form = match (a16, self.base != NONE, self.index != NONE) {
            (false, false, false) => EA_DISP,
            (false, true, false) => EA_BASE,
            (false, true, true) => EA_SIB,
            _ => EA_ANY,
        };
    }
}

// ---- operand access used by handlers ----

/// `Insn::ea_form`: a 32-bit address of a displacement alone, of a base register plus a
/// displacement, of a base plus a scaled index plus a displacement; anything else (16-bit
/// addressing, an index without a base).
pub const EA_DISP: u8 = 0;
pub const EA_BASE: u8 = 1;
pub const EA_SIB: u8 = 2;
pub const EA_ANY: u8 = 3;

/// Effective address (offset within the segment): the decode-time recipe's common forms
/// without the tests of the general one (`ea_any`).
#[inline(always)]
pub fn ea(c: &Core, i: &Insn) -> u32 {
    match i.ea_form {
        EA_DISP => i.disp,
        EA_BASE => i.disp.wrapping_add(c.cpu.gpr[i.gb.idx()]),
        EA_SIB => i
            .disp
            .wrapping_add(c.cpu.gpr[i.gb.idx()])
            .wrapping_add(c.cpu.gpr[i.gx.idx()] << i.scale),
        _ => ea_any(c, i),
    }
}

/// Effective address by the general recipe: displacement, optional base and scaled index,
/// truncated to 16 bits with 16-bit addressing.
#[inline(always)]
fn ea_any(c: &Core, i: &Insn) -> u32 {
    let mut a = i.disp;
    if i.base != NONE {
        a = a.wrapping_add(c.cpu.gpr[i.gb.idx()]);
    }
    if i.index != NONE {
        a = a.wrapping_add(c.cpu.gpr[i.gx.idx()] << i.scale);
    }
    if i.a16 {
        a & 0xFFFF
    } else {
        a
    }
}

/// Reads operand 0 (register or memory) at the instruction's size.
#[inline(always)]
pub fn get0(c: &mut Core, i: &Insn) -> Res<u32> {
    if i.k0 == K_REG {
        Ok(c.cpu.get(i.size, i.r0 as usize))
    } else {
        let a = ea(c, i);
        c.read(i.seg as usize, a, i.size)
    }
}

#[inline(always)]
pub fn set0(c: &mut Core, i: &Insn, v: u32) -> Res {
    if i.k0 == K_REG {
        c.cpu.set(i.size, i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, i.size, v)
    }
}

/// Reads operand 1 (register, memory or immediate) at the instruction's size.
#[inline(always)]
pub fn get1(c: &mut Core, i: &Insn) -> Res<u32> {
    match i.k1 {
        K_REG => Ok(c.cpu.get(i.size, i.r1 as usize)),
        K_MEM => {
            let a = ea(c, i);
            c.read(i.seg as usize, a, i.size)
        }
        _ => Ok(i.imm),
    }
}

/// Reads operand 1 with an explicit size (MOVZX/MOVSX sources, shifts by CL...).
#[inline(always)]
pub fn get1_sized(c: &mut Core, i: &Insn, size: u8) -> Res<u32> {
    match i.k1 {
        K_REG => Ok(c.cpu.get(size, i.r1 as usize)),
        K_MEM => {
            let a = ea(c, i);
            c.read(i.seg as usize, a, size)
        }
        _ => Ok(i.imm),
    }
}

/// Read-modify-write of operand 0: the closure gets the old value and returns the new one
/// (or None to skip the write, e.g. CMP). The write is checked before anything changes.
#[inline(always)]
pub fn rmw0(c: &mut Core, i: &Insn, f: impl FnOnce(&mut Core, u32) -> Option<u32>) -> Res {
    if i.k0 == K_REG {
        let old = c.cpu.get(i.size, i.r0 as usize);
        if let Some(v) = f(c, old) {
            c.cpu.set(i.size, i.r0 as usize, v);
        }
        Ok(())
    } else {
        let a = ea(c, i);
        if let Some(p) = c.rmw_probe(i.seg as usize, a, i.size) {
            let old = c.ram_load(p, i.size);
            if let Some(v) = f(c, old) {
                c.ram_store(p, i.size, v);
            }
            c.rmw_hits();
            return Ok(());
        }
        let lin = c.linear(i.seg as usize, a, i.size, true)?;
        let user = c.user_mode();
        let old = c.read_lin(lin, i.size, user)?;
        // If the write faults, the flags the closure set are rolled back. Closures must
        // change nothing but flags (XADD/CMPXCHG probe the write first instead).
        let saved = c.cpu.flags;
        if let Some(v) = f(c, old) {
            if let Err(e) = c.write_lin(lin, i.size, v, user) {
                c.cpu.flags = saved;
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatch loop indexes blocks of `Insn` on every instruction: a field added must
    /// fit the padding (96 bytes on a 64-bit host: two function pointers, iced's 40-byte
    /// `Instruction`, the operand recipe).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_insn_is_96_bytes() {
        assert_eq!(std::mem::size_of::<Insn>(), 96);
    }

    /// `gpr` and `sreg` by arithmetic on iced's numbering agree with iced's own description
    /// of every register: the eight legacy registers of each size (not SPL..DIL, not
    /// R8..R15) and the six segment registers.
    #[test]
    fn register_maps_agree_with_iceds_register_info() {
        for r in Register::values() {
            let legacy8 = r.is_gpr8() && (Register::AL..=Register::BH).contains(&r);
            let legacy =
                legacy8 || (r.is_gpr16() || r.is_gpr32()) && r.number() < 8 && r.size() <= 4;
            let want = legacy.then(|| (r.number() as u8, r.size() as u8));
            assert_eq!(gpr(r), want, "{r:?}");
            let want = r.is_segment_register().then(|| r.number() as u8);
            assert_eq!(sreg(r), want, "{r:?}");
        }
    }
}
