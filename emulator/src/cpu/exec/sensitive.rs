//! The sensitive-but-unprivileged instructions, and the two ways this CPU can make them
//! fault at CPL > 0:
//!
//! - **UMIP** (real, SDM Vol. 3A 2.5, CR4 bit 11; CPUID.(EAX=7,ECX=0):ECX bit 2): SGDT,
//!   SIDT, SLDT, SMSW and STR raise #GP(0) when CPL > 0. The handlers in `system` call
//!   [`umip`].
//! - **`--popek-goldberg`** (hypothetical, `Cpu::popek_goldberg`): every instruction
//!   [`is_sensitive`] names raises #GP(0) in protected mode at CPL > 0 instead of executing,
//!   so that the sensitive instructions become a subset of the privileged ones (Popek &
//!   Goldberg 1974, theorem 1) and a monitor that runs a kernel at ring 1 can emulate all of
//!   them. The list is Robin & Irvine's (USENIX Security 2000) plus IRET and the far
//!   pointer loads (LDS, LES, LSS, LFS, LGS), which are sensitive for the same reasons as
//!   POPF and MOV to a segment register; the README has the reason for each.
//!
//! The switch costs nothing when it is off: it is applied when a block is decoded (the
//! instruction's handler becomes [`gate`]), and turning it on or off drops every decoded
//! block (`Machine::set_popek_goldberg`). This module owns the list and the check; it must
//! not change what any instruction does at CPL 0.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{sreg, Insn};
use crate::cpu::state::cr4;
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

/// True for the instructions `--popek-goldberg` makes privileged (see the module docs).
pub fn is_sensitive(ins: &Instruction) -> bool {
    use Mnemonic::*;
    let seg_operand = (0..ins.op_count())
        .any(|k| ins.op_kind(k) == OpKind::Register && sreg(ins.op_register(k)).is_some());
    match ins.mnemonic() {
        // Reveal the monitor's descriptor tables, task register and CR0 (real PE, TS...).
        Sgdt | Sidt | Sldt | Str | Smsw => true,
        // PUSHF shows the real IF and IOPL; POPF silently ignores IF (and IOPL) at CPL > 0.
        Pushf | Pushfd | Popf | Popfd => true,
        // IRET, like POPF, keeps IF and IOPL unchanged at CPL > 0 instead of faulting.
        Iret | Iretd => true,
        // Check descriptor privilege against the real CPL.
        Lar | Lsl | Verr | Verw => true,
        // PUSH CS / MOV r,CS|SS reveal the real CPL (RPL); segment loads check DPL against it.
        Push | Pop | Mov => seg_operand,
        Lds | Les | Lss | Lfs | Lgs => true,
        // Far transfers check privilege against the real CPL and push the real CS.
        Call | Jmp => {
            matches!(ins.op_kind(0), OpKind::FarBranch16 | OpKind::FarBranch32)
                || ins.is_call_far_indirect()
                || ins.is_jmp_far_indirect()
        }
        Retf => true,
        // INT n checks the gate's DPL against the real CPL and pushes the real CS and
        // EFLAGS. Only the CD ib form: INT3, INTO and INT1 are delivered like exceptions.
        Int => ins.code() == Code::Int_imm8,
        _ => false,
    }
}

/// The handler a sensitive instruction gets when the switch is on: #GP(0) in protected mode
/// (not virtual-8086) at CPL > 0, before the instruction touches anything; otherwise the
/// instruction's own handler.
pub fn gate(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.protected() && c.cpu.cpl > 0 {
        return Err(Exception::gp(0));
    }
    (super::select(&i.ins))(c, i)
}

/// UMIP (SDM Vol. 2B SGDT/SIDT/SLDT/SMSW/STR, Vol. 3A 2.5): #GP(0) when CR4.UMIP = 1 and
/// CPL > 0 (virtual-8086 mode runs at CPL 3; real mode at CPL 0).
#[inline]
pub fn umip(c: &Core) -> Res {
    if c.cpu.cr4 & cr4::UMIP != 0 && c.cpu.pe() && c.cpu.cpl > 0 {
        return Err(Exception::gp(0));
    }
    Ok(())
}
