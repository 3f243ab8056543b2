//! The "does this exit?" tests (APM 15.9-15.14): one per kind of intercept, each a few
//! loads from the cached controls, called only by slow instruction handlers, exception
//! delivery and interrupt acceptance, and only while `svm.guest` is set (callers test it
//! first, so host mode pays one byte compare in those slow paths and nothing elsewhere).
//! Also owns the I/O and MSR permission maps' layouts (15.10.1, 15.11). Must not perform
//! the exit itself: callers return `svm::exit_insn`/`exit_fault` or call `vmexit`.

use super::code;
use crate::cpu::ctx::Core;
use crate::cpu::exception::Exception;
use crate::cpu::insn::Insn;

/// Bits of intercept word 3 (VMCB offset 0x00C, Table B-1).
pub mod w3 {
    pub const INTR: u32 = 1 << 0;
    pub const NMI: u32 = 1 << 1;
    pub const SMI: u32 = 1 << 2;
    pub const INIT: u32 = 1 << 3;
    pub const VINTR: u32 = 1 << 4;
    pub const CR0_SEL_WRITE: u32 = 1 << 5;
    pub const IDTR_READ: u32 = 1 << 6;
    pub const GDTR_READ: u32 = 1 << 7;
    pub const LDTR_READ: u32 = 1 << 8;
    pub const TR_READ: u32 = 1 << 9;
    pub const IDTR_WRITE: u32 = 1 << 10;
    pub const GDTR_WRITE: u32 = 1 << 11;
    pub const LDTR_WRITE: u32 = 1 << 12;
    pub const TR_WRITE: u32 = 1 << 13;
    pub const RDTSC: u32 = 1 << 14;
    pub const RDPMC: u32 = 1 << 15;
    pub const PUSHF: u32 = 1 << 16;
    pub const POPF: u32 = 1 << 17;
    pub const CPUID: u32 = 1 << 18;
    pub const RSM: u32 = 1 << 19;
    pub const IRET: u32 = 1 << 20;
    pub const INTN: u32 = 1 << 21;
    pub const INVD: u32 = 1 << 22;
    pub const PAUSE: u32 = 1 << 23;
    pub const HLT: u32 = 1 << 24;
    pub const INVLPG: u32 = 1 << 25;
    pub const INVLPGA: u32 = 1 << 26;
    pub const IOIO_PROT: u32 = 1 << 27;
    pub const MSR_PROT: u32 = 1 << 28;
    pub const TASK_SWITCH: u32 = 1 << 29;
    pub const FERR_FREEZE: u32 = 1 << 30;
    pub const SHUTDOWN: u32 = 1 << 31;
}

/// Bits of intercept word 4 (VMCB offset 0x010).
pub mod w4 {
    pub const VMRUN: u32 = 1 << 0;
    pub const VMMCALL: u32 = 1 << 1;
    pub const VMLOAD: u32 = 1 << 2;
    pub const VMSAVE: u32 = 1 << 3;
    pub const STGI: u32 = 1 << 4;
    pub const CLGI: u32 = 1 << 5;
    pub const SKINIT: u32 = 1 << 6;
    pub const RDTSCP: u32 = 1 << 7;
    pub const ICEBP: u32 = 1 << 8;
    pub const WBINVD: u32 = 1 << 9;
}

/// The exits of intercept word 3 bit `b` and word 4 bit `b` (their codes follow the bits).
fn misc1_code(bit: u32) -> u64 {
    code::INTR + bit.trailing_zeros() as u64
}

fn misc2_code(bit: u32) -> u64 {
    code::VMRUN + bit.trailing_zeros() as u64
}

impl Core {
    /// True when the guest runs and intercept word 3 has `bit`.
    #[inline]
    pub fn svm_misc1(&self, bit: u32) -> bool {
        self.svm.guest && self.svm.ctl.misc1 & bit != 0
    }

    /// True when the guest runs and intercept word 4 has `bit`.
    #[inline]
    pub fn svm_misc2(&self, bit: u32) -> bool {
        self.svm.guest && self.svm.ctl.misc2 & bit != 0
    }
}

/// An instruction intercepted through word 3 (`w3::*`), after its own simple exceptions
/// (APM 15.9: "instruction intercepts are checked after simple exceptions such as #GP for
/// the CPL or #UD, but before exceptions related to memory accesses"): `Err(exit)` when it
/// exits, `Ok(())` when it runs.
#[inline]
pub fn insn1(c: &mut Core, i: &Insn, bit: u32) -> Result<(), Exception> {
    if c.svm_misc1(bit) {
        return Err(super::exit_insn(c, misc1_code(bit), 0, 0, i.next_ip));
    }
    Ok(())
}

/// `insn1` for intercept word 4 (`w4::*`).
#[inline]
pub fn insn2(c: &mut Core, i: &Insn, bit: u32) -> Result<(), Exception> {
    if c.svm_misc2(bit) {
        return Err(super::exit_insn(c, misc2_code(bit), 0, 0, i.next_ip));
    }
    Ok(())
}

/// MOV from CRn (APM 15.9.1): exit code CRn_READ. EXITINFO1 is 0: Traplab does not offer
/// the decode assists (CPUID 0x8000_000A EDX bit 7) that would put the GPR number there.
#[inline]
pub fn cr_read(c: &mut Core, i: &Insn, n: u8) -> Result<(), Exception> {
    if c.svm.guest && c.svm.ctl.cr & (1 << n) != 0 {
        return Err(super::exit_insn(
            c,
            code::CR0_READ + n as u64,
            0,
            0,
            i.next_ip,
        ));
    }
    Ok(())
}

/// Writes to CRn (MOV, LMSW, CLTS; APM 15.9.1-15.9.2). For CR0, the CR0_WRITE intercept
/// takes precedence; otherwise the selective-write intercept exits when a bit other than
/// TS and MP changes (LMSW can only change the low four bits, CLTS only TS).
#[inline]
pub fn cr_write(c: &mut Core, i: &Insn, n: u8, new: u32) -> Result<(), Exception> {
    if !c.svm.guest {
        return Ok(());
    }
    if c.svm.ctl.cr & (1 << (16 + n)) != 0 {
        return Err(super::exit_insn(
            c,
            code::CR0_WRITE + n as u64,
            0,
            0,
            i.next_ip,
        ));
    }
    if n == 0 && c.svm.ctl.misc1 & w3::CR0_SEL_WRITE != 0 {
        const TS_MP: u32 = 0x8 | 0x2;
        if (c.cpu.cr0 ^ new) & !TS_MP != 0 {
            return Err(super::exit_insn(c, code::CR0_SEL_WRITE, 0, 0, i.next_ip));
        }
    }
    Ok(())
}

/// MOV from/to DRn (APM 15.9.3).
#[inline]
pub fn dr(c: &mut Core, i: &Insn, n: u8, write: bool) -> Result<(), Exception> {
    let bit = n as u32 + if write { 16 } else { 0 };
    if c.svm.guest && c.svm.ctl.dr & (1 << bit) != 0 {
        let base = if write {
            code::DR0_WRITE
        } else {
            code::DR0_READ
        };
        return Err(super::exit_insn(c, base + n as u64, 0, 0, i.next_ip));
    }
    Ok(())
}

/// The I/O permission map (APM 15.10.1): 12 KiB, one bit per port; an access of `size`
/// bytes is intercepted when any of its ports' bits is set.
pub fn io_intercepted(c: &Core, port: u16, size: u8) -> bool {
    let base = c.svm.ctl.iopm_base;
    (0..size as u32).any(|k| {
        let p = port as u32 + k;
        c.mem.read_u8(base.wrapping_add(p / 8)) & (1 << (p % 8)) != 0
    })
}

/// EXITINFO1 of an IOIO exit (APM 15.10.2, Figure 15-2): port in bits 31:16, SZ32/SZ16/SZ8
/// in bits 6:4, A32/A16 (address size of a string instruction) in bits 8:7, REP bit 3,
/// STR bit 2, TYPE (1 = IN) bit 0. The SEG field (bits 12:10) comes with the decode
/// assists, which Traplab does not offer: 0.
pub fn ioio_info(port: u16, size: u8, input: bool, string: bool, rep: bool, a32: bool) -> u64 {
    let mut v = (port as u64) << 16;
    v |= match size {
        1 => 1 << 4,
        2 => 1 << 5,
        _ => 1 << 6,
    };
    if string {
        v |= 1 << 2;
        v |= if a32 { 1 << 8 } else { 1 << 7 };
    }
    if rep {
        v |= 1 << 3;
    }
    if input {
        v |= 1;
    }
    v
}

/// IN/OUT/INS/OUTS (APM 15.10): with IOIO_PROT and the port's bits set, an IOIO exit with
/// EXITINFO2 = the next RIP. Checked after the IOPL/TSS-bitmap #GP, by the general rule
/// of 15.9 (intercepts after simple exceptions; QEMU orders them the same way).
#[inline]
pub fn io(c: &mut Core, i: &Insn, port: u16, size: u8, info1: u64) -> Result<(), Exception> {
    if c.svm_misc1(w3::IOIO_PROT) && io_intercepted(c, port, size) {
        let next = i.next_ip;
        return Err(super::exit_insn(c, code::IOIO, info1, next as u64, next));
    }
    Ok(())
}

/// The MSR permission map (APM 15.11): 8 KiB, two bits per MSR (read, then write) for the
/// ranges 0000_0000-0000_1FFF, C000_0000-C000_1FFF and C001_0000-C001_1FFF; any other MSR
/// is always intercepted.
pub fn msr_intercepted(c: &Core, msr: u32, write: bool) -> bool {
    let base_bit = match msr {
        0..=0x1FFF => 0,
        0xC000_0000..=0xC000_1FFF => 0x800 * 8,
        0xC001_0000..=0xC001_1FFF => 0x1000 * 8,
        _ => return true,
    };
    let bit = base_bit + (msr & 0x1FFF) * 2 + write as u32;
    let byte = c.mem.read_u8(c.svm.ctl.msrpm_base.wrapping_add(bit / 8));
    byte & (1 << (bit % 8)) != 0
}

/// RDMSR/WRMSR (APM 15.11): EXITINFO1 = 0 for RDMSR, 1 for WRMSR. Checked after the
/// CPL #GP and before the MSR's own checks.
#[inline]
pub fn msr(c: &mut Core, i: &Insn, msr: u32, write: bool) -> Result<(), Exception> {
    if c.svm_misc1(w3::MSR_PROT) && msr_intercepted(c, msr, write) {
        return Err(super::exit_insn(c, code::MSR, write as u64, 0, i.next_ip));
    }
    Ok(())
}

/// Exception intercepts (APM 15.12): true when the guest runs and `vector`'s bit is set.
#[inline]
pub fn exception(c: &Core, vector: u8) -> bool {
    c.svm.guest && vector < 32 && c.svm.ctl.exceptions & (1 << vector) != 0
}
