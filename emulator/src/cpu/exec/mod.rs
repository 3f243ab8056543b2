//! Instruction handlers, one file per family. Each family exposes
//! `select(&Instruction) -> Option<Handler>`; `select` asks them in turn once per decode.
//! Handlers follow the SDM's pseudo-code; they must leave the machine unchanged when they
//! return an exception (faults are restartable).

pub mod alu;
pub mod bcd;
pub mod bits;
pub mod control;
pub mod data;
pub mod far;
pub mod fast;
pub mod io;
pub mod muldiv;
pub mod segload;
pub mod sensitive;
pub mod shift;
pub mod stack;
pub mod string;
pub mod system;
pub mod task;
pub mod thread;

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{Handler, Insn};
use iced_x86::{Code, Instruction};

type Select = fn(&Instruction) -> Option<Handler>;

const FAMILIES: &[Select] = &[
    // Specialized hot forms first; they fall through (None) for anything unusual.
    fast::select,
    alu::select,
    data::select,
    control::select,
    stack::select,
    string::select,
    shift::select,
    muldiv::select,
    bits::select,
    bcd::select,
    io::select,
    system::select,
    far::select,
    segload::select,
    task::select,
    crate::cpu::svm::insn::select,
    crate::cpu::x87::select,
];

/// Chooses the handler for a decoded instruction (once, at decode time).
pub fn select(ins: &Instruction) -> Handler {
    if ins.code() == Code::INVALID {
        return invalid;
    }
    for f in FAMILIES {
        if let Some(h) = f(ins) {
            return h;
        }
    }
    unimplemented_insn
}

/// How the dispatch loop calls a handler (`Insn::thread`, `Insn::lazy_ip`).
#[derive(Clone, Copy, Debug)]
pub enum Dispatch {
    /// Through `thread::eager`: EIP and the retired count are stored before the handler
    /// runs.
    Eager,
    /// Through `thread`, the handler's own thread (the handler inlined): the handler calls
    /// `Core::sync` itself off its fast path. `sets_ip`: it stores EIP whenever it
    /// completes (a branch); otherwise the loop stores `next_ip` after it when it
    /// completes without a request.
    Lazy {
        sets_ip: bool,
        thread: thread::Thread,
    },
}

/// The handler and how to dispatch it, for an instruction of a cached block (`select_for`
/// plus the lazy handlers of `fast`).
pub fn select_block(ins: &Instruction, popek_goldberg: bool) -> (Handler, Dispatch) {
    if popek_goldberg && sensitive::is_sensitive(ins) {
        return (sensitive::gate, Dispatch::Eager);
    }
    if ins.code() != Code::INVALID {
        if let Some(hd) = fast::select_dispatch(ins) {
            return hd;
        }
    }
    (select(ins), Dispatch::Eager)
}

/// Sets `i`'s handler and how the dispatch loop calls it.
pub fn set_handler(i: &mut Insn, h: Handler, d: Dispatch) {
    i.inner = h;
    match d {
        Dispatch::Eager => {
            i.thread = thread::eager;
            i.lazy_ip = false;
        }
        Dispatch::Lazy { sets_ip, thread } => {
            i.thread = thread;
            i.lazy_ip = !sets_ip;
        }
    }
}

/// `select`, with the `--popek-goldberg` switch applied: a sensitive instruction gets
/// `sensitive::gate`, which faults at CPL > 0 (the check is made at decode time only).
pub fn select_for(ins: &Instruction, popek_goldberg: bool) -> Handler {
    if popek_goldberg && sensitive::is_sensitive(ins) {
        return sensitive::gate;
    }
    select(ins)
}

/// Bytes that do not decode to an instruction: #UD.
pub fn invalid(_c: &mut Core, _i: &Insn) -> Res {
    Err(Exception::ud())
}

/// A valid instruction Traplab does not implement (MMX, SSE, FISTTP...): #UD as
/// on a CPU without the feature, counted so that `--stats` shows it.
pub fn unimplemented_insn(c: &mut Core, _i: &Insn) -> Res {
    c.stats.unimplemented += 1;
    Err(Exception::ud())
}
