//! Threaded dispatch for chained blocks: each instruction's `Insn::thread` runs its handler
//! and then calls the next instruction's `thread` itself, in tail position (`next`), so a
//! block runs as one chain of jumps from handler to handler with no trip through the
//! dispatch loop between instructions (the "threaded code" of Forth systems and of fast
//! interpreters: no loop counter, no call/return pair, no result test per instruction).
//! A taken branch inside the block goes on at its target in the thread too
//! (`fast::in_block`), while the block's rest fits before `Core::chain_deadline`, which
//! the loop keeps at most `SPAN` instructions ahead of the count it last called a thread
//! at. Release builds compile the tail call to a jump (checked in the disassembly); a
//! build that does not still works, with at most `SPAN + cache::MAX_BLOCK` stack frames
//! (each frame retires an instruction): past the span the thread returns to the dispatch
//! loop (`machine::exec`), which calls the target's thread afresh.
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

/// How many instructions past the count of the loop's last call a chain of threads may
/// retire while it follows taken branches inside its block (`Core::chain_deadline`): the
/// bound on its depth when tail calls are not made jumps; in release builds, one trip
/// through the loop per `SPAN` instructions of a loop that fits in one block.
pub const SPAN: u64 = 1024;

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

/// The whole block a thread runs in, passed along unchanged from thread to thread (it
/// stays in its argument register), so that a taken branch back inside the block can go
/// on there without the dispatch loop (`fast::in_block`). A reference to the block's
/// `Vec` rather than a slice: one register instead of two, which the handlers need.
#[allow(clippy::ptr_arg)]
pub type Blk<'a> = &'a Vec<Insn>;

/// A threaded handler: the instruction, the rest of its block after it, the block.
pub type Thread = fn(&mut Core, &Insn, Rest, Blk) -> Flow;

/// Runs the next instruction of the block, if any (the tail call of every thread).
#[inline(always)]
pub fn next(c: &mut Core, mut rest: Rest, blk: Blk) -> Flow {
    debug_assert!(!c.req.any(), "request without the marker");
    match rest.next() {
        Some(n) => (n.thread)(c, n, rest, blk),
        None => Ok(()),
    }
}

/// The thread of an eager handler (`Dispatch::Eager`): EIP and the retired count stored,
/// the handler, then the request test (`Core::done`) and the next instruction.
pub fn eager(c: &mut Core, i: &Insn, rest: Rest, blk: Blk) -> Flow {
    c.sync(i);
    if let Err(e) = (i.inner)(c, i) {
        return Err(Stop::new(e));
    }
    flow(c.done())?;
    next(c, rest, blk)
}

/// The thread's way off a fast path (`threaded!`'s `or slow` form): the whole handler
/// (`Insn::inner`, whose fast path gives up again and changes nothing), then the next
/// instruction. Not inlined, so that both ways out of a fast path are jumps and the fast
/// path saves no registers.
#[inline(never)]
pub fn slow(c: &mut Core, i: &Insn, rest: Rest, blk: Blk) -> Flow {
    flow((i.inner)(c, i))?;
    next(c, rest, blk)
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
            blk: crate::cpu::exec::thread::Blk,
        ) -> crate::cpu::exec::thread::Flow {
            if $h $(::< $($p),* >)? (c, i) {
                crate::cpu::exec::thread::next(c, rest, blk)
            } else {
                crate::cpu::exec::thread::slow(c, i, rest, blk)
            }
        }
    };
    ($t:ident = $h:ident $(< $(const $p:ident : $ty:ty),* >)?) => {
        fn $t $(< $(const $p: $ty),* >)? (
            c: &mut Core,
            i: &Insn,
            rest: crate::cpu::exec::thread::Rest,
            blk: crate::cpu::exec::thread::Blk,
        ) -> crate::cpu::exec::thread::Flow {
            crate::cpu::exec::thread::flow($h $(::< $($p),* >)? (c, i))?;
            crate::cpu::exec::thread::next(c, rest, blk)
        }
    };
}
pub(crate) use threaded;
