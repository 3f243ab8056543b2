//! Threaded dispatch for chained blocks: each instruction's `Insn::thread` runs its handler
//! and then calls the next instruction's `thread` itself, in tail position (`step!`), so a
//! block runs as one chain of jumps from handler to handler with no trip through the
//! dispatch loop between instructions (the "threaded code" of Forth systems and of fast
//! interpreters: no loop counter, no call/return pair, no result test per instruction).
//! A taken branch inside the block goes on at its target in the thread too
//! (`fast::in_block`), and so does the end of a block whose successor the block's links
//! name (`follow`, the "handler chaining" of Bochs's trace cache), while what is entered
//! fits before `Core::chain_deadline`, which the loop keeps at most `SPAN` instructions
//! ahead of the count it last called a thread at. Release builds compile the tail calls to
//! jumps (checked in the disassembly); a build that does not still works, with at most
//! `2 * (SPAN + cache::MAX_BLOCK)` stack frames (each frame retires an instruction or ends
//! a block): past the span the thread returns to the dispatch loop (`machine::exec`), which
//! calls it afresh.
//!
//! The contract with the loop, which does not know which instruction returned: the thread
//! stores in `Core::cur_block` the block it runs in when it enters another one. `Ok` means
//! it stopped between two blocks with EIP and the retired count stored (the end of
//! `cur_block`, or a taken Jcc out of it), no link of `cur_block` followed; an `Err` other
//! than the marker below comes from an instruction of `cur_block` that stored the retired
//! count (`Core::sync`, so `icount - block_base` is its index); `vec::REQUEST` likewise (it
//! completed with a request); `vec::BRANCH` is a taken in-block branch whose thread moved
//! `block_base` and whose marker carries the target's index (`Exception::branch_to`).
//! Owns this protocol and the generic threads (`eager`, `slow`, `step!`, `end`); the hot
//! handlers' threads are in `fast`. Must not change what a handler does.

use crate::cpu::cache::{Block, DecodeCache};
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

/// What a thread returns: `Ok` when it stopped between two blocks (see the module
/// documentation).
pub type Flow = Result<(), Stop>;

/// What a thread runs: its instruction, then the rest of its block after it (a slice: its
/// pointer is the instruction's, so the instruction needs no register of its own).
pub type Run<'a> = &'a [Insn];

/// The block a thread runs in (its instructions, its links), passed along unchanged from
/// thread to thread (it stays in its argument register) until the thread enters another
/// block: a taken branch back inside the block goes on there without the dispatch loop
/// (`fast::in_block`), and its end follows its links (`end`).
pub type Blk<'a> = &'a Block;

/// The decode cache, whose blocks the links name (`follow`); not changed while threads run.
pub type Dc<'a> = &'a DecodeCache;

/// A threaded handler: its instruction and the rest of the block (never empty), the block,
/// the decode cache. Each is a `step`.
pub type Thread = fn(&mut Core, Run, Blk, Dc) -> Flow;

/// One thread's work: `$body` runs the instruction (the first of `$run`), and unless it
/// returns how the thread stops, the thread goes on with the next instruction's thread or,
/// after the block's last, with the block's end (`end`), in tail position. One test of the
/// run's length serves both: at least two instructions give the instruction and the next
/// one, whose run (`run[1..]`) needs no further test; one is the block's last. `$body` is
/// an `#[inline(always)]` function `(c, i, run, blk, dc) -> Option<Flow>` called directly
/// in both cases, so that it is copied into both (a closure, or a function passed to a
/// generic one, was not inlined).
macro_rules! step {
    ($c:ident, $run:ident, $blk:ident, $dc:ident, $body:expr) => {
        match $run {
            [i, n, ..] => {
                if let Some(f) = $body($c, i, $run, $blk, $dc) {
                    return f;
                }
                debug_assert!(!$c.req.any(), "request without the marker");
                (n.thread)($c, &$run[1..], $blk, $dc)
            }
            [i] => {
                if let Some(f) = $body($c, i, $run, $blk, $dc) {
                    return f;
                }
                debug_assert!(!$c.req.any(), "request without the marker");
                crate::cpu::exec::thread::end($c, $blk, $dc)
            }
            [] => crate::cpu::exec::thread::end($c, $blk, $dc),
        }
    };
}
pub(crate) use step;

/// A handler's result as a `step` body's: `None` (go on) for `Ok`.
#[inline(always)]
pub fn stop_on(r: Res) -> Option<Flow> {
    r.err().map(|e| Err(Stop::new(e)))
}

/// Runs the thread of the first instruction of `run`, or the block's end if it is empty.
#[inline(always)]
pub fn go(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    match run.first() {
        Some(n) => (n.thread)(c, run, blk, dc),
        None => end(c, blk, dc),
    }
}

/// Block `blk` ran to its end: the retired count and, if its last instruction left it to
/// the loop, EIP (`Block::end_ip`) are stored, and the thread goes on in the block that
/// follows (`follow`). Not inlined: one copy for every thread, reached by a jump.
#[inline(never)]
pub fn end(c: &mut Core, blk: Blk, dc: Dc) -> Flow {
    c.icount = c.block_base.wrapping_add(blk.insns.len() as u64);
    if blk.lazy_end {
        c.cpu.eip = blk.end_ip;
    }
    follow(c, blk, dc)
}

/// With EIP and the retired count stored after leaving block `blk`: if one of its links
/// (`Block::links`, recorded by the loop in this chain, `Core::chain_key`) names the block
/// at EIP and that block fits before `Core::chain_deadline`, the thread enters it (counted
/// as the decode cache hit the loop would count, `Core::branch_hits`); otherwise it returns
/// to the loop, which looks the same links up.
#[inline(always)]
pub fn follow(c: &mut Core, blk: Blk, dc: Dc) -> Flow {
    let Some(idx) = blk.link(c.chain_key | c.cpu.eip as u64) else {
        return Ok(());
    };
    let Some(nb) = dc.blocks.get(idx as usize) else {
        return Ok(());
    };
    let Some(first) = nb.insns.first() else {
        return Ok(());
    };
    let ic = c.icount;
    if ic.wrapping_add(nb.insns.len() as u64) > c.chain_deadline {
        return Ok(());
    }
    c.block_base = ic;
    c.cur_block = idx;
    c.branch_hits += 1;
    (first.thread)(c, &nb.insns, nb, dc)
}

/// The thread of an eager handler (`Dispatch::Eager`): EIP and the retired count stored,
/// the handler, then the request test (`Core::done`) and the next instruction.
pub fn eager(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    step!(c, run, blk, dc, eager_body)
}

#[inline(always)]
fn eager_body(c: &mut Core, i: &Insn, _: Run, _: Blk, _: Dc) -> Option<Flow> {
    c.sync(i);
    if let Err(e) = (i.inner)(c, i) {
        return Some(Err(Stop::new(e)));
    }
    stop_on(c.done())
}

/// The thread's way off a fast path (`threaded!`'s `or slow` form): the whole handler
/// (`Insn::inner`, whose fast path gives up again and changes nothing), then the next
/// instruction. Not inlined, so that both ways out of a fast path are jumps and the fast
/// path saves no registers.
#[inline(never)]
pub fn slow(c: &mut Core, run: Run, blk: Blk, dc: Dc) -> Flow {
    step!(c, run, blk, dc, slow_body)
}

#[inline(always)]
fn slow_body(c: &mut Core, i: &Insn, _: Run, _: Blk, _: Dc) -> Option<Flow> {
    stop_on((i.inner)(c, i))
}

/// Defines `$t`, the thread of the lazy handler `$h` (inlined into it), generic over the
/// same const parameters. With `or slow`, `$h` is the handler's fast path, which returns
/// false having changed nothing when it gives up, and the thread then goes on in `slow`;
/// `memory if` says (from the const parameters) when that fast path accesses memory.
macro_rules! threaded {
    ($t:ident = $h:ident $(< $(const $p:ident : $ty:ty),* >)? or slow, memory if $mem:expr) => {
        fn $t $(< $(const $p: $ty),* >)? (
            c: &mut Core,
            run: crate::cpu::exec::thread::Run,
            blk: crate::cpu::exec::thread::Blk,
            dc: crate::cpu::exec::thread::Dc,
        ) -> crate::cpu::exec::thread::Flow {
            #[inline(always)]
            fn body $(< $(const $p: $ty),* >)? (
                c: &mut Core,
                i: &crate::cpu::insn::Insn,
                run: crate::cpu::exec::thread::Run,
                blk: crate::cpu::exec::thread::Blk,
                dc: crate::cpu::exec::thread::Dc,
            ) -> Option<crate::cpu::exec::thread::Flow> {
                if $h $(::< $($p),* >)? (c, i) {
                    None
                } else {
                    Some(crate::cpu::exec::thread::slow(c, run, blk, dc))
                }
            }
            if $mem {
                // A fast path with a memory operand is long: one copy of it, and two tests
                // of the run's length (two copies made the memory workload slower in the
                // `traplab` binary, though not in callgrind's count).
                let Some((i, rest)) = run.split_first() else {
                    return crate::cpu::exec::thread::end(c, blk, dc);
                };
                if let Some(f) = body $(::< $($p),* >)? (c, i, run, blk, dc) {
                    return f;
                }
                crate::cpu::exec::thread::go(c, rest, blk, dc)
            } else {
                crate::cpu::exec::thread::step!(c, run, blk, dc, body $(::< $($p),* >)?)
            }
        }
    };
    ($t:ident = $h:ident $(< $(const $p:ident : $ty:ty),* >)?) => {
        fn $t $(< $(const $p: $ty),* >)? (
            c: &mut Core,
            run: crate::cpu::exec::thread::Run,
            blk: crate::cpu::exec::thread::Blk,
            dc: crate::cpu::exec::thread::Dc,
        ) -> crate::cpu::exec::thread::Flow {
            #[inline(always)]
            fn body $(< $(const $p: $ty),* >)? (
                c: &mut Core,
                i: &crate::cpu::insn::Insn,
                _: crate::cpu::exec::thread::Run,
                _: crate::cpu::exec::thread::Blk,
                _: crate::cpu::exec::thread::Dc,
            ) -> Option<crate::cpu::exec::thread::Flow> {
                crate::cpu::exec::thread::stop_on($h $(::< $($p),* >)? (c, i))
            }
            crate::cpu::exec::thread::step!(c, run, blk, dc, body $(::< $($p),* >)?)
        }
    };
}
pub(crate) use threaded;
