//! Task switching (SDM Vol. 3A ch. 7) and call gates (5.8.3-5.8.6).
//! NOT YET IMPLEMENTED: every entry point raises #GP with the selector as error code, so
//! a guest that uses them sees a fault instead of wrong behaviour.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::Handler;
use crate::mmu::segment::Descriptor;
use iced_x86::Instruction;

pub fn select(_ins: &Instruction) -> Option<Handler> {
    None
}

pub fn task_gate_interrupt(_c: &mut Core, sel: u16, _code: Option<u32>, _ret: u32) -> Res {
    Err(Exception::gp(sel as u32 & !3))
}

pub fn call_gate(_c: &mut Core, sel: u16, _d: Descriptor, _call: bool, _size: u8) -> Res {
    Err(Exception::gp(sel as u32 & !3))
}

pub fn far_task(_c: &mut Core, sel: u16, _d: Descriptor, _call: bool) -> Res {
    Err(Exception::gp(sel as u32 & !3))
}

pub fn iret_task(c: &mut Core) -> Res {
    Err(Exception::ts(c.cpu.tr.sel as u32 & !3))
}
