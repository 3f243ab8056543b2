//! (placeholder: being written) instruction family `bcd`.

use crate::cpu::insn::Handler;
use iced_x86::Instruction;

pub fn select(_ins: &Instruction) -> Option<Handler> {
    None
}
