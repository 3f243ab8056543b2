//! Threaded dispatch for chained blocks: each instruction's `Insn::thread` runs its handler
//! and then calls the next instruction's `thread` itself, in tail position (`next`), so a
//! block runs as one chain of jumps from handler to handler with no trip through the
//! dispatch loop between instructions (the "threaded code" of Forth systems and of fast
//! interpreters: no loop counter, no call/return pair, no result test per instruction).
//! Release builds compile the tail call to a jump (checked in the disassembly); a build
//! that does not still works, with one stack frame per instruction of the block (at most
//! `cache::MAX_BLOCK`), since a thread never goes backwards: a taken branch to an earlier
//! instruction of the block returns to the dispatch loop (`machine::exec`).
//!
//! The contract with the loop, which does not know which instruction returned: `Ok` means
//! the block ran to its end; an `Err` other than the markers below comes from an
//! instruction that stored the retired count (`Core::sync`, so `icount - block_base` is its
//! index); `vec::REQUEST` likewise (it completed with a request); `vec::BRANCH` is a taken
//! in-block branch whose thread moved `block_base` and whose marker carries the target's
//! index (`Exception::branch_to`); `vec::LEAVE` a taken Jcc to another block that stored
//! EIP and the count. Owns this protocol and the generic threads (`eager`, `next`); the
//! hot handlers' threads are in `fast`. Must not change what a handler does.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::Insn;
use std::num::NonZeroU64;

/// Why a thread stopped: an exception or one of the dispatch loop's markers, as one
/// non-zero word, so that `Flow` is a plain integer (0 for `Ok`). Threads return it rather
/// than `Res` because LLVM splits `Res` (the niche byte and the rest) where several
/// returns meet, and then cannot turn the call to the next thread into a jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop(NonZeroU64);

impl Stop {
    #[inline(always)]
    pub fn new(e: Exception) -> Stop {
        // Bit 7 is never set by `to_bits`: it makes the word non-zero.
        Stop(NonZeroU64::new(e.to_bits() | 0x80).unwrap_or(NonZeroU64::MIN))
    }
    #[inline(always)]
    pub fn exception(self) -> Exception {
        Exception::from_bits(self.0.get())
    }
}

/// What a thread returns: `Ok` when the block ran to its end.
pub type Flow = Result<(), Stop>;

/// `r`, a handler's result, as a thread's (`Ok` stays `Ok`).
#[inline(always)]
pub fn flow(r: Res) -> Flow {
    r.map_err(Stop::new)
}

/// The instructions of a block after the one a thread runs: an iterator, whose end stays
/// put from one thread to the next (a slice's length would have to be counted down).
pub type Rest<'a> = std::slice::Iter<'a, Insn>;

/// A threaded handler: the instruction and the rest of its block after it.
pub type Thread = fn(&mut Core, &Insn, Rest) -> Flow;

/// Runs the next instruction of the block, if any (the tail call of every thread).
#[inline(always)]
pub fn next(c: &mut Core, mut rest: Rest) -> Flow {
    debug_assert!(!c.req.any(), "request without the marker");
    match rest.next() {
        Some(n) => (n.thread)(c, n, rest),
        None => Ok(()),
    }
}

/// The thread of an eager handler (`Dispatch::Eager`): EIP and the retired count stored,
/// the handler, then the request test (`Core::done`) and the next instruction.
pub fn eager(c: &mut Core, i: &Insn, rest: Rest) -> Flow {
    c.sync(i);
    if let Err(e) = (i.inner)(c, i) {
        return Err(Stop::new(e));
    }
    flow(c.done())?;
    next(c, rest)
}

/// The thread's way off a fast path (`threaded!`'s `or slow` form): the whole handler
/// (`Insn::inner`, whose fast path gives up again and changes nothing), then the next
/// instruction. Not inlined, so that both ways out of a fast path are jumps and the fast
/// path saves no registers.
#[inline(never)]
pub fn slow(c: &mut Core, i: &Insn, rest: Rest) -> Flow {
    flow((i.inner)(c, i))?;
    next(c, rest)
}

/// Defines `$t`, the thread of the lazy handler `$h` (inlined into it), generic over the
/// same const parameters. With `or slow`, `$h` is the handler's fast path, which returns
/// false having changed nothing when it gives up, and the thread then goes on in `slow`.
macro_rules! threaded {
    ($t:ident = $h:ident $(< $(const $p:ident : $ty:ty),* >)? or slow) => {
        fn $t $(< $(const $p: $ty),* >)? (
            c: &mut Core,
            i: &Insn,
            rest: crate::cpu::exec::thread::Rest,
        ) -> crate::cpu::exec::thread::Flow {
            if $h $(::< $($p),* >)? (c, i) {
                crate::cpu::exec::thread::next(c, rest)
            } else {
                crate::cpu::exec::thread::slow(c, i, rest)
            }
        }
    };
    ($t:ident = $h:ident $(< $(const $p:ident : $ty:ty),* >)?) => {
        fn $t $(< $(const $p: $ty),* >)? (
            c: &mut Core,
            i: &Insn,
            rest: crate::cpu::exec::thread::Rest,
        ) -> crate::cpu::exec::thread::Flow {
            crate::cpu::exec::thread::flow($h $(::< $($p),* >)? (c, i))?;
            crate::cpu::exec::thread::next(c, rest)
        }
    };
}
pub(crate) use threaded;
