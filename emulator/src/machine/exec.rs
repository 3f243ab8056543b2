//! The block-execution phase of the dispatch loop: one instruction at a time when anything
//! needs per-instruction attention (single step, TF, debug registers, breakpoints, an
//! interrupt shadow), otherwise chains of cached blocks (`exec_chain`), the hot path.
//! Owns the traps that follow an instruction (single-step and data breakpoint #DB, SDM
//! Vol. 3A 17.3.1) and RF's clearing; it must not accept interrupts, update devices or
//! look at requests other than to stop (that is the other phases' work, in `super`).

use super::{fetch, Fetched, Limits, Machine, RunExit, Step};
use crate::cpu::cache::{link_key, DecodeCache};
use crate::cpu::ctx::Request;
use crate::cpu::exception::vec;
use crate::cpu::exec::thread::SPAN;
use crate::cpu::flags::{RF, TF};
use crate::cpu::interrupt::{data_breakpoints, deliver, raise, Source};

impl Machine {
    /// Runs one instruction, or blocks until the budget, the device deadline or a request
    /// ends the chain. A single step returns its outcome; a chain goes back to the phases.
    #[inline(always)]
    pub(super) fn execute(&mut self, lim: &Limits) -> Step {
        let c = &self.core;
        let single = lim.single
            || c.cpu.shadow
            || c.cpu.flags.bits & TF != 0
            || !self.breakpoints.is_empty()
            || c.cpu.dr[7] & 0xFF != 0;
        // Blocks stop at the next device deadline, so interrupts are raised and taken at
        // instruction counts that do not depend on how the run was sliced (determinism).
        let to_dev = c.next_dev_tick.saturating_sub(c.clock()).max(1);
        let limit = if single {
            1
        } else {
            (lim.end - c.icount).min(to_dev) as usize
        };
        let rf = c.cpu.flags.bits & RF != 0;
        let retired = c.icount;
        if single {
            self.exec_block(limit);
        } else {
            self.exec_chain(lim.end, limit);
            self.cache.hits += std::mem::take(&mut self.core.branch_hits);
        }
        let c = &mut self.core;
        if rf && c.icount != retired {
            // SDM Vol. 3A 17.3.1.1: RF is cleared once an instruction completes.
            c.cpu.flags.bits &= !RF;
        }
        // Progress: nothing retired means an exception was delivered instead (a fetch or
        // decode fault, or a fault of the first instruction).
        if c.icount == retired && !c.cpu.halted {
            c.stalls = c.stalls.saturating_add(1);
        } else {
            c.stalls = 0;
        }
        if !lim.single {
            return Step::Next;
        }
        // One instruction done (or one exception delivered). A reset is left for the next
        // call, as it always was.
        match c.req.ending() {
            Some(Request::TripleFault) => Step::Return(RunExit::TripleFault),
            Some(Request::Exit(s)) => {
                c.req.take(Request::Exit(s));
                Step::Return(RunExit::Exit(s))
            }
            _ => {
                self.apply_smc();
                Step::Return(RunExit::Budget)
            }
        }
    }

    /// The fast path: runs block after block while nothing needs the loop's phases (no
    /// request but `Branch`, budget and device deadline not reached). Everything that could
    /// change what the phases decide (IF, TF, DR7, breakpoints, written code, port I/O, an
    /// exit) makes a request, and a handler that made one says so with the
    /// `Exception::request()` marker (`Core::done`), so the loop tests only each handler's
    /// result. Not inlined: it gets registers of its own (measured: fewer spills).
    #[inline(never)]
    fn exec_chain(&mut self, end: u64, first_limit: usize) {
        // Invariant while chaining: TF, DR7 and the interrupt shadow are clear (otherwise the
        // loop runs single instructions). EIP after each instruction comes from the
        // decode (`Insn::next_ip`): a cached block only runs at the EIP it was decoded at.
        // The code size, the privilege level and the device deadline stay fixed for the
        // whole chain: what changes them (far transfers, interrupts, I/O...) requests a
        // rescan.
        let code32 = self.core.cpu.code32();
        let user = self.core.cpu.cpl == 3;
        // Whatever changed the segments since (a restore, a debugger) changed them outside
        // of any instruction: the flat-segment cache is refreshed before each run of
        // handlers, and instructions that change segments clear it.
        self.core.refresh_flat();
        let deadline = end.min(self.core.next_dev_tick.saturating_sub(self.core.idle_ticks));
        // Blocks are linked to their last two successors for the length of a link epoch:
        // within it, an EIP leads to the same block every time. Within a chain nothing
        // changes that (no code is written, no TLB flush, no mode, CS or CPL change without
        // a rescan), and the next chain keeps the epoch if none of it changed in between
        // (`LinkSig`). The last few epochs are remembered: a world switch and back, or an
        // I/O exit, does not cost every link.
        self.enter_epoch(code32, user);
        let chain = self.chain;
        self.core.chain_key = link_key(chain, 0);
        // The block whose links are updated when the next lookup misses them.
        let mut prev: Option<u32> = None;
        let mut limit = first_limit;
        'find: loop {
            // Not linked: the fetch hint and the cache's lookup, or the general path.
            let eip = self.core.cpu.eip;
            let mut idx = match fetch::fast(self, code32, user) {
                Some(idx) => {
                    if let Some(p) = prev {
                        let b = &mut self.cache.blocks[p as usize];
                        b.links = [(link_key(chain, eip), idx), b.links[0]];
                    }
                    idx
                }
                None => {
                    // Slow fetch (new block, page crossing, fault): the general path.
                    prev = None;
                    match self.general_step(limit, deadline) {
                        Some(l) => limit = l,
                        None => return,
                    }
                    continue 'find;
                }
            };
            // Blocks, one after the other while their links lead on (threads follow
            // links themselves too, `exec::thread::follow`).
            loop {
                let Machine { core, cache, .. } = &mut *self;
                let dc: &DecodeCache = cache;
                let mut b = &dc.blocks[idx as usize];
                let n = b.insns.len();
                // EIP and the retired count are not stored per instruction: the count
                // before instruction `k` of the block is `block_base + k`, and EIP after
                // it is its `next_ip`. Eager handlers get both stored before they run, lazy
                // ones store them when they leave their fast path (`Core::sync`); threads
                // store them at the end of a block (`exec::thread::end`), the loop wherever
                // else it stops.
                core.block_base = core.icount;
                core.cur_block = idx;
                // The threads' own deadline, `SPAN` further on.
                core.chain_deadline = deadline.min(core.icount.saturating_add(SPAN));
                'run: {
                    // The instructions from where the block is entered.
                    let mut from = &b.insns[..];
                    if n > limit {
                        // The deadline cuts this block.
                        match cut_run(core, from, limit, deadline) {
                            Cut::End => return,
                            Cut::Next => break 'run,
                            Cut::Inside(t) => {
                                core.branch_hits += 1;
                                from = &b.insns[t..];
                            }
                        }
                    }
                    // Each handler's thread calls the next (`exec::thread`), and follows
                    // the block's links at its end, until a block whose successor is not
                    // linked or does not fit, or a marker.
                    while let Some(first) = from.first() {
                        let r = (first.thread)(core, from, b, dc);
                        // The block the thread stopped in.
                        b = &dc.blocks[core.cur_block as usize];
                        let Err(stop) = r else {
                            // Between two blocks, EIP and the count stored.
                            break 'run;
                        };
                        let insns = &b.insns[..];
                        let e = stop.exception();
                        if e.vector == vec::BRANCH {
                            // A taken branch to instruction `t` of this block (its thread
                            // moved `block_base`): go on there if the rest of the block
                            // fits before the deadline (counted as a cache hit, the lookup
                            // it saves).
                            let t = e.branch_target();
                            let base = core.block_base;
                            if base + insns.len() as u64 <= deadline {
                                core.branch_hits += 1;
                                from = &insns[t..];
                                // The threads' own deadline, `SPAN` further on.
                                core.chain_deadline =
                                    deadline.min(base.wrapping_add(t as u64).saturating_add(SPAN));
                                continue;
                            }
                            // Out of budget: the target's block comes next.
                            core.icount = base.wrapping_add(t as u64);
                            core.cpu.eip = insns[t].ip();
                            break 'run;
                        }
                        // The instruction that returned stored the retired count before
                        // it (`Core::sync`).
                        let k = core.icount.wrapping_sub(core.block_base) as usize;
                        let insn = &insns[k];
                        if e.vector == vec::REQUEST {
                            // Completed with a request (`Core::done`). Never `Branch`: only
                            // `jcc` run alone makes it; its thread follows the links.
                            debug_assert!(!core.req.only_branch(), "Branch from a thread");
                            core.icount += 1;
                            if insn.lazy_ip {
                                core.cpu.eip = insn.next_ip;
                            }
                            return;
                        }
                        core.cpu.eip = insn.ip();
                        raise(core, e);
                        return;
                    }
                    // An empty block (none is built): nothing ran.
                    core.icount = core.block_base.wrapping_add(n as u64);
                    if b.lazy_end {
                        core.cpu.eip = b.end_ip;
                    }
                }
                let ic = core.icount;
                if ic >= deadline {
                    return;
                }
                limit = (deadline - ic) as usize;
                if let Some(next) = b.link(link_key(chain, core.cpu.eip)) {
                    core.branch_hits += 1;
                    idx = next;
                    continue;
                }
                prev = Some(b.idx);
                continue 'find;
            }
        }
    }

    /// The chain's general path: `exec_block` for up to `limit` instructions. The limit
    /// left before `deadline` if the chain goes on, None if it ends.
    fn general_step(&mut self, limit: usize, deadline: u64) -> Option<usize> {
        self.exec_block(limit);
        let c = &mut self.core;
        if c.req.only_branch() {
            c.req.clear_branch();
        }
        if c.req.any() || c.icount >= deadline {
            return None;
        }
        Some((deadline - c.icount) as usize)
    }

    /// Executes up to `limit` instructions from the block at the current EIP.
    fn exec_block(&mut self, limit: usize) {
        self.core.refresh_flat();
        let fetched = match fetch::fetch(self) {
            Ok(f) => f,
            Err(e) => {
                raise(&mut self.core, e);
                return;
            }
        };
        let Machine { core, cache, .. } = self;
        let insns = match &fetched {
            Fetched::Cached(idx) => &cache.blocks[*idx as usize].insns[..],
            Fetched::Temp(v) => &v[..],
        };
        // Handlers run one after the other here with EIP and the count stored before each
        // (`Core::sync` computes the same values from `block_base`).
        core.block_base = core.icount;
        let tf = core.cpu.flags.bits & TF != 0;
        let shadow = core.cpu.shadow;
        let mut n = insns.len().min(limit);
        // A nested walk that the fetch itself charged (the cost model, `mmu::charged`) asked
        // for a rescan before the block's first instruction ran. Like a charge made by a
        // data access, it takes effect after the current instruction: that one instruction
        // runs alone, with the request held back until it has retired (a Jcc's `Branch`
        // request expects nothing else pending).
        let fetch_rescan = core.req.any();
        if fetch_rescan {
            core.req.take(Request::Rescan);
            n = n.min(1);
        }
        // Data breakpoints (DR7 R/W = 01/11) of the one instruction run while DR7 is armed.
        let dbits = if n == 1 && core.cpu.dr[7] & 0xFF != 0 {
            data_breakpoints(core, &insns[0].ins)
        } else {
            0
        };
        // Handlers are called through `inner` (EIP and the count are stored here, and a
        // fused flag setter runs alone, see `exec::fast::fuse`).
        for insn in &insns[..n] {
            core.cpu.eip = insn.next_ip;
            if let Err(e) = (insn.inner)(core, insn) {
                if e.vector == vec::BRANCH {
                    // A taken in-block Jcc (`exec::fast::jcc_in`): this run ends here.
                    core.cpu.eip = insn.imm;
                    core.icount += 1;
                    break;
                }
                if e.vector != vec::REQUEST {
                    core.cpu.eip = insn.ip();
                    raise(core, e);
                    if fetch_rescan {
                        core.request(Request::Rescan);
                    }
                    return;
                }
                // Completed with a request (`Core::done`): the test below stops the run.
            }
            core.icount += 1;
            if core.req.any() {
                break;
            }
        }
        if fetch_rescan {
            core.request(Request::Rescan);
        }
        if shadow {
            core.cpu.shadow = false;
        }
        // MOV SS / POP SS that just completed delay the single-step trap to after the next
        // instruction, whose block starts with the shadow set (SDM Vol. 3A 6.8.3).
        let tf = tf && !(n == 1 && !shadow && core.cpu.shadow && loads_ss(&insns[0].ins));
        if (tf || dbits != 0) && core.req.ending().is_none() {
            // Single-step trap after the instruction (SDM 17.3.1.4): DR6.BS; data
            // breakpoint traps (17.3.1.2): DR6.B0-B3. One #DB reports both.
            if tf {
                core.cpu.dr[6] |= 1 << 14;
            }
            core.cpu.dr[6] = (core.cpu.dr[6] & !0xF) | dbits;
            let eip = core.cpu.eip;
            core.stats.exceptions[vec::DB as usize] += 1;
            if crate::cpu::svm::intercept::exception(core, vec::DB) {
                // AMD APM 15.12: an SVM guest's intercepted #DB trap exits instead.
                crate::cpu::svm::vmexit(core, crate::cpu::svm::code::EXCP_BASE + 1, 0, 0);
            } else if let Err(e) = deliver(core, vec::DB, None, eip, Source::Exception) {
                raise(core, e);
            }
        }
    }
}

/// Everything that decides which block the fetch finds at an EIP (`fetch::fast`): the
/// TLB's entries (none removed: no flush, no INVLPG) and the address space they are looked
/// up in (the ASID, nested paging's tables), the decode cache's blocks (none dropped), CS's
/// base and limit, the code size and the privilege level. Links recorded under one
/// signature stay valid under the same one: a link is the translation a TLB entry that
/// was not invalidated still holds, and the block the cache still holds for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LinkSig {
    removals: u64,
    asid: u32,
    nested: Option<(u32, bool, bool)>,
    cache: u64,
    cs_base: u32,
    cs_limit: u32,
    code32: bool,
    user: bool,
}

impl LinkSig {
    fn of(m: &Machine, code32: bool, user: bool) -> LinkSig {
        let cs = &m.core.cpu.seg[crate::mmu::segment::CS];
        let mmu = &m.core.mmu;
        LinkSig {
            removals: mmu.tlb.removals,
            asid: mmu.tlb.asid(),
            nested: mmu.nested.map(|n| (n.n_cr3, n.pae, n.pse)),
            cache: m.cache.generation,
            cs_base: cs.base,
            cs_limit: cs.limit,
            code32,
            user,
        }
    }
}

/// How many link epochs `Machine::enter_epoch` remembers (a hypervisor's and its guest's,
/// the guest's kernel and user mode...).
pub(super) const EPOCHS: usize = 4;

impl Machine {
    /// Makes the epoch of the current signature (`LinkSig`) current in `self.chain`: a
    /// remembered one, or a new one in the place of the oldest (its links can never match
    /// again). Not inlined: once per chain, kept out of the loop's code.
    #[inline(never)]
    fn enter_epoch(&mut self, code32: bool, user: bool) {
        let sig = LinkSig::of(self, code32, user);
        if let Some(&(_, e)) = self.epochs.iter().find(|(s, _)| *s == Some(sig)) {
            self.chain = e;
            return;
        }
        self.next_epoch += 1;
        if self.next_epoch > u32::MAX as u64 {
            // Link keys hold the epoch in 32 bits: start over with no link anywhere.
            self.cache.clear_links();
            self.epochs = [(None, 0); EPOCHS];
            self.next_epoch = 1;
        }
        let e = self.next_epoch;
        self.epochs.rotate_right(1);
        self.epochs[0] = (Some(sig), e);
        self.chain = e;
    }
}

/// How a block cut by the deadline ended (`cut_run`).
enum Cut {
    /// The chain ends (a request other than `Branch`, or a fault).
    End,
    /// EIP and the count are stored: the chain goes on with the next block.
    Next,
    /// A taken Jcc to instruction `t` of the block, whose whole rest fits before the
    /// deadline: the run goes on there (`block_base` moved).
    Inside(usize),
}

/// Runs the first `limit` instructions of block `insns` (all that fits before the
/// deadline), one instruction per handler call through `Insn::inner` with EIP and the
/// count stored before each: a fused flag setter runs alone (`exec::fast::fuse`), so the
/// run stops exactly at the deadline.
fn cut_run(
    core: &mut crate::cpu::ctx::Core,
    insns: &[crate::cpu::insn::Insn],
    limit: usize,
    deadline: u64,
) -> Cut {
    let part = &insns[..limit.min(insns.len())];
    for insn in part {
        core.sync(insn);
        if let Err(e) = (insn.inner)(core, insn) {
            if e.vector == vec::BRANCH {
                // A taken in-block Jcc (`exec::fast::jcc_in`), as in the chained loop.
                let t = insn.skip as usize;
                let base = core.block_base.wrapping_add(insn.back as i64 as u64);
                if t < insns.len() && base + insns.len() as u64 <= deadline {
                    core.block_base = base;
                    return Cut::Inside(t);
                }
                core.icount = base.wrapping_add(t as u64);
                core.cpu.eip = insn.imm;
                return Cut::Next;
            }
            if e.vector != vec::REQUEST {
                core.cpu.eip = insn.ip();
                raise(core, e);
                return Cut::End;
            }
        }
        if core.req.any() {
            core.icount += 1;
            if !core.req.only_branch() {
                return Cut::End;
            }
            // A taken Jcc to another block stored EIP.
            core.req.clear_branch();
            return Cut::Next;
        }
    }
    if let Some(last) = part.last() {
        core.icount = core.block_base.wrapping_add(last.idx as u64 + 1);
    }
    Cut::Next
}

/// MOV SS or POP SS (the instructions whose interrupt shadow also holds back debug traps;
/// STI's does not).
fn loads_ss(ins: &iced_x86::Instruction) -> bool {
    matches!(
        ins.mnemonic(),
        iced_x86::Mnemonic::Mov | iced_x86::Mnemonic::Pop
    ) && ins.op0_kind() == iced_x86::OpKind::Register
        && ins.op0_register() == iced_x86::Register::SS
}
