//! FXSAVE and FXRSTOR (SDM Vol. 2A "FXSAVE", "FXRSTOR"; Vol. 1 10.5.1, Table 10-2: the
//! 512-byte image in the non-64-bit modes), as a Pentium II offers them: CPUID.1:EDX.FXSR
//! (bit 24) without SSE. Owns the image layout and the rules of the two instructions; the
//! FPU state is `Fpu`'s, and this module must not change it before the whole image has
//! been read (FXRSTOR) or the whole destination checked writable (FXSAVE).
//!
//! The image (offsets in bytes):
//! - 0 FCW, 2 FSW, 4 the abridged tag byte (bit i set: physical register Ri is not empty),
//!   5 reserved (0), 6 FOP (bits 10:0), 8 FIP (32 bits), 12 FCS, 14 reserved (0), 16 FDP,
//!   20 FDS, 22 reserved (0);
//! - 24 MXCSR and 28 MXCSR_MASK: this CPU has no SSE, so there is no MXCSR: FXSAVE writes
//!   both as 0 and FXRSTOR ignores them (a P6 without SSE does not check them either, and
//!   Linux hands FXRSTOR an image with MXCSR = 1F80H whatever the CPU);
//! - 32 + 16*i: ST(i) in stack order, 10 bytes, then 6 reserved bytes written as 0;
//! - 160-511: the XMM registers (there are none here) and the reserved and software-
//!   available areas. FXSAVE does not write them (they keep what memory held), FXRSTOR
//!   does not look at them. The whole 512 bytes are the operand, though: segment limit,
//!   page faults and alignment are checked for all of them.
//!
//! The rules: the operand must be 16-byte aligned (#GP(0) otherwise, whatever the segment;
//! the linear address is checked); CR0.EM or CR0.TS gives #NM (SDM Vol. 3A 2.5, Table
//! 2-2: like FNSAVE, not like WAIT); neither waits for a pending x87 exception (no #MF,
//! no FERR#); FXSAVE leaves the FPU as it was (unlike FSAVE, no FNINIT); FXRSTOR loading
//! an FSW with an unmasked exception flag raises nothing until the next waiting
//! instruction. CR4.OSFXSR only tells a CPU with SSE to save the XMM state: it is settable
//! and changes nothing here. LOCK FXSAVE is #UD (iced decodes it as an invalid
//! instruction).

use super::float::F80;
use super::{begin_nowait, read_at, sync_ferr, write_at, Fpu};
use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{ea, Handler, Insn};
use iced_x86::Code;

/// Bytes in an FXSAVE image, and how many of them this CPU writes.
pub const IMAGE: usize = 512;
pub const WRITTEN: usize = 160;

pub fn select(code: Code) -> Option<Handler> {
    Some(match code {
        Code::Fxsave_m512byte => fxsave,
        Code::Fxrstor_m512byte => fxrstor,
        _ => return None,
    })
}

/// The first `WRITTEN` bytes of the FXSAVE image of `f`.
pub fn image(f: &Fpu) -> [u8; WRITTEN] {
    let mut b = [0u8; WRITTEN];
    b[0..2].copy_from_slice(&f.cw.to_le_bytes());
    b[2..4].copy_from_slice(&f.sw.to_le_bytes());
    b[4] = !f.empty;
    b[6..8].copy_from_slice(&(f.fop & 0x7FF).to_le_bytes());
    b[8..12].copy_from_slice(&f.fip.to_le_bytes());
    b[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    b[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    b[20..22].copy_from_slice(&f.fds.to_le_bytes());
    for i in 0..8 {
        b[32 + 16 * i..42 + 16 * i].copy_from_slice(&f.st(i).to_bytes());
    }
    b
}

/// Loads an FXSAVE image (at least its first `WRITTEN` bytes) into `f`. The control word
/// keeps its reserved bits as FLDCW does (bit 6 reads 1); ES and B follow the unmasked
/// exception flags.
pub fn load(f: &mut Fpu, b: &[u8]) {
    let word = |k: usize| u16::from_le_bytes([b[k], b[k + 1]]);
    let dword = |k: usize| u32::from_le_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
    f.cw = (word(0) & 0x1F3F) | 0x40;
    f.sw = word(2);
    f.empty = !b[4];
    f.fop = word(6) & 0x7FF;
    f.fip = dword(8);
    f.fcs = word(12);
    f.fdp = dword(16);
    f.fds = word(20);
    for i in 0..8 {
        let p = f.phys(i);
        f.regs[p] = F80::from_bytes(&b[32 + 16 * i..42 + 16 * i]);
    }
    f.update_es();
}

/// #NM, then the alignment of the operand's linear address: the common start of both.
fn operand(c: &mut Core, i: &Insn) -> Res<u32> {
    begin_nowait(c)?;
    let off = ea(c, i);
    let lin = c.cpu.seg[i.seg as usize].base.wrapping_add(off);
    if lin & 15 != 0 {
        return Err(Exception::gp(0));
    }
    Ok(off)
}

fn fxsave(c: &mut Core, i: &Insn) -> Res {
    let off = operand(c, i)?;
    let seg = i.seg as usize;
    // The whole operand must be writable, the part not written too.
    for k in (0..IMAGE as u32).step_by(128) {
        c.probe_write_span(seg, off.wrapping_add(k), 128)?;
    }
    let img = image(&c.cpu.fpu);
    write_at(c, seg, off, &img)
}

fn fxrstor(c: &mut Core, i: &Insn) -> Res {
    let off = operand(c, i)?;
    let b = read_at(c, i.seg as usize, off, IMAGE)?;
    load(&mut c.cpu.fpu, &b);
    sync_ferr(c);
    Ok(())
}
