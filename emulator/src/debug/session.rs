//! A debugging session around one `Machine`: step into / over / out, run to an address,
//! breakpoints, watchpoints and reverse execution (step back, go to an instruction count).
//! Owns the checkpoint ring and the log of execution calls that makes replay exact; it must
//! not know about threads, wall-clock time or any front end (pacing is the caller's job).
//! It drives the machine (step, run, input) and saves whole machines as checkpoints; what
//! it reads of the machine's state (registers, code bytes) goes through `Machine::inspect`.
//!
//! Reverse execution: the machine is deterministic for a given sequence of calls
//! (`Machine::step`, `Machine::run_limited`) and inputs. The session records every call and
//! input since its oldest checkpoint, and keeps a ring of checkpoints (the core with its RAM
//! stored as shared 4 KiB pages, so unchanged pages cost nothing). Going back to instruction
//! count `t` restores the newest checkpoint at or before `t` and re-issues the logged calls,
//! the last one truncated so that it ends at `t`. Run calls never cross a multiple of
//! `GRANULE`, so every such multiple is a call boundary where a checkpoint can be taken.
//!
//! Watchpoints are checked in single-step mode: before each instruction the session decodes
//! it, computes the addresses it will read or write (iced-x86's instruction info, stack
//! accesses included) and stops *before* an instruction that touches a watched range.

use crate::cpu::state::ESP;
use crate::iced_x86::{
    Code, Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    Register,
};
use crate::machine::{Machine, RunExit};
use crate::mmu::segment::{CS, SS};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// Run calls end on multiples of this many instructions (checkpoint positions).
pub const GRANULE: u64 = 1_000;
const PAGE: usize = 4096;

/// External input given to the guest (logged so replay can give it again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Serial(Vec<u8>),
    Key(char),
}

#[derive(Clone, Debug)]
enum Call {
    /// `n` consecutive `Machine::step` calls.
    Steps(u64),
    /// One `Machine::run_limited(instructions, halted_ticks)` with these machine
    /// breakpoints (they change how the machine slices its work, so replay must use the
    /// same ones).
    Run(u64, u64, Arc<[u32]>),
    Input(Input),
}

/// A saved machine: the whole `Machine` without its RAM (the decoded-instruction cache and
/// device deadlines included, since they decide where blocks end and so where interrupts
/// are taken), plus RAM as shared pages (None = all zero).
#[derive(Clone)]
struct Checkpoint {
    icount: u64,
    /// Index into the call log where this checkpoint sits.
    log_pos: usize,
    machine: Machine,
    ram_len: usize,
    pages: Vec<Option<Arc<[u8]>>>,
}

/// What a watchpoint watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchpoint {
    /// Linear address of the first byte.
    pub addr: u32,
    pub len: u32,
    pub read: bool,
    pub write: bool,
}

/// Why a session call stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The requested work is done (step finished, budget spent, target reached).
    Done,
    /// The goal is not reached yet; call again (used by long step-over/step-out/run-to).
    Pending,
    Breakpoint(u32),
    /// The instruction at `pc` is about to access watched memory at `addr`.
    Watchpoint {
        pc: u32,
        addr: u32,
        write: bool,
    },
    /// The guest ended or stopped for good (exit, halt with IF=0, triple fault, reset).
    Machine(RunExit),
    /// Reverse execution cannot go that far back.
    TooFarBack {
        oldest: u64,
    },
}

/// A multi-call goal (step over, step out, run to address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Stop when the next instruction is at linear `pc` with ESP >= `esp` and the same CS.
    Reach { pc: u32, esp: u32, cs: u16 },
    /// Stop after a RET executed at the frame depth `esp` (ESP rose above it) in CS `cs`.
    Return { esp: u32, cs: u16 },
    /// Stop when the next instruction is at linear `pc`.
    At(u32),
}

pub struct Session {
    pub m: Machine,
    pub breakpoints: BTreeSet<u32>,
    pub watchpoints: Vec<Watchpoint>,
    /// Instructions between checkpoints while stepping (the front end may raise it while
    /// running flat out, where each checkpoint costs a RAM comparison).
    pub checkpoint_every: u64,
    /// Most checkpoints kept (oldest dropped first).
    pub max_checkpoints: usize,
    /// Instructions re-executed by the last reverse operation (measured by tests).
    pub last_reexecuted: u64,
    goal: Option<Goal>,
    log: Vec<Call>,
    /// Calls dropped from the front of `log` (log indices are absolute).
    log_base: usize,
    ckpts: VecDeque<Checkpoint>,
    /// What an attached gdb asked for and inserted (see `debug::gdb`).
    pub gdb: super::gdb::GdbState,
}

impl Session {
    pub fn new(m: Machine) -> Session {
        let mut s = Session {
            m,
            breakpoints: BTreeSet::new(),
            watchpoints: Vec::new(),
            checkpoint_every: 10_000,
            max_checkpoints: 32,
            last_reexecuted: 0,
            goal: None,
            log: Vec::new(),
            log_base: 0,
            ckpts: VecDeque::new(),
            gdb: Default::default(),
        };
        s.checkpoint();
        s
    }

    pub fn icount(&self) -> u64 {
        self.m.icount()
    }

    /// The oldest instruction count reverse execution can reach.
    pub fn oldest(&self) -> u64 {
        self.ckpts.front().map_or(self.icount(), |c| c.icount)
    }

    pub fn goal(&self) -> Option<Goal> {
        self.goal
    }

    pub fn cancel_goal(&mut self) {
        self.goal = None;
    }

    pub fn toggle_breakpoint(&mut self, lin: u32) -> bool {
        if !self.breakpoints.remove(&lin) {
            self.breakpoints.insert(lin);
            true
        } else {
            false
        }
    }

    /// Gives input to the guest now (recorded for replay).
    pub fn input(&mut self, i: Input) {
        apply_input(&mut self.m, &i);
        self.log.push(Call::Input(i));
    }

    // ---- forward ----

    /// Step into: one instruction (or one event delivery).
    pub fn step(&mut self) -> Stop {
        self.goal = None;
        let r = self.raw_step();
        stop_of(r)
    }

    /// Step over: CALL, INT n, and REP-prefixed string instructions run until the next
    /// instruction at the same stack depth; anything else is a step into.
    pub fn step_over(&mut self, budget: u64) -> Stop {
        let Some(insn) = self.current_insn() else {
            return self.step();
        };
        let over = matches!(
            insn.mnemonic(),
            Mnemonic::Call | Mnemonic::Int | Mnemonic::Into
        ) || insn.has_rep_prefix()
            || insn.has_repne_prefix()
            || matches!(
                insn.mnemonic(),
                Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
            );
        if !over {
            return self.step();
        }
        let i = self.m.inspect();
        let cs = i.segment(CS);
        let next = cs.base.wrapping_add(insn.next_ip32());
        self.goal = Some(Goal::Reach {
            pc: next,
            esp: i.gpr(ESP),
            cs: cs.selector,
        });
        self.advance(budget)
    }

    /// Step out: run until the RET of the current frame has returned.
    pub fn step_out(&mut self, budget: u64) -> Stop {
        let i = self.m.inspect();
        self.goal = Some(Goal::Return {
            esp: i.gpr(ESP),
            cs: i.segment(CS).selector,
        });
        self.advance(budget)
    }

    /// Run to a linear address (run to cursor).
    pub fn run_to(&mut self, pc: u32, budget: u64) -> Stop {
        self.goal = Some(Goal::At(pc));
        self.advance(budget)
    }

    /// Runs at most `budget` instructions toward the current goal (or freely when there is
    /// none), stopping at breakpoints and watchpoints. `Pending` means: call again.
    /// A CPU waiting in HLT retires nothing: the wait is bounded by `budget` ticks too.
    pub fn advance(&mut self, budget: u64) -> Stop {
        let end = self.icount().saturating_add(budget.max(1));
        let idle_end = self.m.core.stats.halted_ticks.saturating_add(budget.max(1));
        let needs_single =
            !self.watchpoints.is_empty() || matches!(self.goal, Some(Goal::Return { .. }));
        let mut first = true;
        while self.icount() < end && self.m.core.stats.halted_ticks < idle_end {
            if !first {
                let pc = self.m.pc();
                if let Some(s) = self.goal_reached(pc) {
                    self.goal = None;
                    return s;
                }
                if self.breakpoints.contains(&pc) {
                    self.goal = None;
                    return Stop::Breakpoint(pc);
                }
            }
            if let Some(w) = self.watch_hit() {
                if !first {
                    self.goal = None;
                    return w;
                }
            }
            if needs_single {
                let ret_here = self.goal_is_return_at_depth();
                let r = self.raw_step();
                if !matches!(r, RunExit::Budget) {
                    self.goal = None;
                    return stop_of(r);
                }
                if ret_here {
                    self.goal = None;
                    return Stop::Done;
                }
            } else {
                // Free run with the breakpoints (and the goal address) as machine breakpoints.
                let mut bps: Vec<u32> = self.breakpoints.iter().copied().collect();
                match self.goal {
                    Some(Goal::Reach { pc, .. }) | Some(Goal::At(pc)) => bps.push(pc),
                    _ => {}
                }
                self.m.breakpoints = bps;
                let r = self.raw_run(end - self.icount());
                self.m.breakpoints.clear();
                match r {
                    RunExit::Budget | RunExit::Breakpoint(_) => {}
                    other => {
                        self.goal = None;
                        return stop_of(other);
                    }
                }
            }
            first = false;
        }
        // Budget spent: check once more at the boundary (the next call's first
        // instruction is not checked, so a watched access right here would be missed).
        if let Some(w) = self.watch_hit() {
            self.goal = None;
            return w;
        }
        let pc = self.m.pc();
        if let Some(s) = self.goal_reached(pc) {
            self.goal = None;
            return s;
        }
        if self.breakpoints.contains(&pc) {
            self.goal = None;
            return Stop::Breakpoint(pc);
        }
        if self.goal.is_some() {
            Stop::Pending
        } else {
            Stop::Done
        }
    }

    fn goal_reached(&self, pc: u32) -> Option<Stop> {
        let i = self.m.inspect();
        match self.goal? {
            Goal::At(a) if a == pc => Some(Stop::Done),
            Goal::Reach { pc: a, esp, cs }
                if a == pc && i.gpr(ESP) >= esp && i.segment(CS).selector == cs =>
            {
                Some(Stop::Done)
            }
            _ => None,
        }
    }

    /// True when the goal is step-out and the next instruction is a RET of that frame.
    fn goal_is_return_at_depth(&self) -> bool {
        let Some(Goal::Return { esp, cs }) = self.goal else {
            return false;
        };
        let i = self.m.inspect();
        if i.gpr(ESP) < esp || i.segment(CS).selector != cs {
            return false;
        }
        self.current_insn()
            .is_some_and(|i| matches!(i.mnemonic(), Mnemonic::Ret | Mnemonic::Retf))
    }

    /// The decoded instruction at CS:EIP (None if its bytes are unmapped).
    pub fn current_insn(&self) -> Option<Instruction> {
        let i = self.m.inspect();
        let bytes = i.peek_linear(i.pc(), 15).or_else(|| {
            // Near the end of a mapped page: take what is there.
            (1..15).rev().find_map(|n| i.peek_linear(i.pc(), n))
        })?;
        let bits = if i.code32() { 32 } else { 16 };
        let mut d = Decoder::with_ip(bits, &bytes, i.eip() as u64, DecoderOptions::NONE);
        let i = d.decode();
        (i.code() != Code::INVALID).then_some(i)
    }

    /// Watchpoint check for the instruction about to execute.
    fn watch_hit(&self) -> Option<Stop> {
        if self.watchpoints.is_empty() {
            return None;
        }
        let insn = self.current_insn()?;
        let cpu = self.m.inspect().cpu();
        let mut f = InstructionInfoFactory::new();
        let info = f.info(&insn);
        for (k, mem) in info.used_memory().iter().enumerate() {
            let write = matches!(
                mem.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            );
            let read = matches!(
                mem.access(),
                OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            );
            let addr = mem.virtual_address(k, |reg, _, _| reg_value(&cpu, reg));
            let Some(addr) = addr else { continue };
            let addr = addr as u32;
            let len = mem.memory_size().size().max(1) as u32;
            for w in &self.watchpoints {
                let overlap = addr < w.addr.wrapping_add(w.len) && w.addr < addr.wrapping_add(len);
                if overlap && ((w.write && write) || (w.read && read)) {
                    return Some(Stop::Watchpoint {
                        pc: self.m.pc(),
                        addr,
                        write,
                    });
                }
            }
        }
        None
    }

    // ---- the logged primitives ----

    fn raw_step(&mut self) -> RunExit {
        self.maybe_checkpoint();
        let r = self.m.step();
        match self.log.last_mut() {
            Some(Call::Steps(n)) => *n += 1,
            _ => self.log.push(Call::Steps(1)),
        }
        r
    }

    /// One `Machine::run`, never crossing a multiple of `GRANULE`.
    fn raw_run(&mut self, budget: u64) -> RunExit {
        self.maybe_checkpoint();
        let ic = self.icount();
        let to_granule = GRANULE - ic % GRANULE;
        let b = budget.min(to_granule).max(1);
        let r = self.m.run_limited(b, b);
        self.log
            .push(Call::Run(b, b, Arc::from(&self.m.breakpoints[..])));
        r
    }

    fn maybe_checkpoint(&mut self) {
        let last = self.ckpts.back().map_or(0, |c| c.icount);
        if self.icount() >= last.saturating_add(self.checkpoint_every) {
            self.checkpoint();
        }
    }

    /// Takes a checkpoint now (at a call boundary).
    pub fn checkpoint(&mut self) {
        let ram = std::mem::take(&mut self.m.core.mem.ram);
        let machine = self.m.clone();
        let prev = self.ckpts.back();
        let mut pages = Vec::with_capacity(ram.len().div_ceil(PAGE));
        for (i, chunk) in ram.chunks(PAGE).enumerate() {
            let shared = prev
                .and_then(|p| p.pages.get(i))
                .and_then(|p| p.as_ref())
                .filter(|p| p[..] == *chunk)
                .cloned();
            pages.push(match shared {
                Some(p) => Some(p),
                None if chunk.iter().all(|&b| b == 0) => None,
                None => Some(Arc::from(chunk)),
            });
        }
        self.m.core.mem.ram = ram;
        let icount = self.icount();
        // Replace a checkpoint at the same position (taken again after a replay).
        while self.ckpts.back().is_some_and(|c| c.icount >= icount) {
            self.ckpts.pop_back();
        }
        self.ckpts.push_back(Checkpoint {
            icount,
            log_pos: self.log_base + self.log.len(),
            machine,
            ram_len: self.m.core.mem.ram.len(),
            pages,
        });
        while self.ckpts.len() > self.max_checkpoints.max(1) {
            self.ckpts.pop_front();
        }
        // Drop log entries older than the oldest checkpoint.
        let keep_from = self.ckpts.front().map_or(0, |c| c.log_pos);
        if keep_from > self.log_base {
            self.log.drain(..keep_from - self.log_base);
            self.log_base = keep_from;
        }
    }

    fn restore(&mut self, c: &Checkpoint) {
        let mut m = c.machine.clone();
        let mut ram = vec![0u8; c.ram_len];
        for (i, p) in c.pages.iter().enumerate() {
            if let Some(p) = p {
                ram[i * PAGE..i * PAGE + p.len()].copy_from_slice(p);
            }
        }
        m.core.mem.ram = ram;
        self.m = m;
    }

    // ---- reverse ----

    /// Step back one instruction.
    pub fn step_back(&mut self) -> Stop {
        let ic = self.icount();
        if ic == 0 {
            return Stop::TooFarBack { oldest: 0 };
        }
        self.go_to(ic - 1)
    }

    /// Brings the machine to instruction count `target` (backwards by replay from a
    /// checkpoint, forwards by running). Taking dense checkpoints on the way back so that
    /// repeated steps back stay cheap.
    pub fn go_to(&mut self, target: u64) -> Stop {
        self.goal = None;
        self.last_reexecuted = 0;
        if target >= self.icount() {
            // A guest waiting in HLT retires nothing: bound the wait as `advance` does.
            let idle_end = self
                .m
                .core
                .stats
                .halted_ticks
                .saturating_add(target - self.icount());
            while self.icount() < target && self.m.core.stats.halted_ticks < idle_end {
                let r = self.raw_run(target - self.icount());
                if !matches!(r, RunExit::Budget | RunExit::Breakpoint(_)) {
                    return stop_of(r);
                }
            }
            return Stop::Done;
        }
        self.replay(target)
    }

    /// Prepares cheap steps back from here (call it when the user pauses): replays from the
    /// last checkpoint to the current instruction, which rebuilds exactly the same state
    /// and leaves dense checkpoints just behind it.
    pub fn densify(&mut self) {
        let t = self.icount();
        if self.ckpts.back().is_some_and(|c| c.icount < t) {
            self.replay(t);
        }
    }

    /// Restores the newest checkpoint at or before `target` and re-issues the logged calls
    /// up to `target`.
    fn replay(&mut self, target: u64) -> Stop {
        self.last_reexecuted = 0;
        let Some(idx) = self.ckpts.iter().rposition(|c| c.icount <= target) else {
            return Stop::TooFarBack {
                oldest: self.oldest(),
            };
        };
        let ck = self.ckpts[idx].clone();
        let calls: Vec<Call> = self.log[ck.log_pos - self.log_base..].to_vec();
        // Forget the future: checkpoints after `ck` and the log after it are rebuilt.
        self.ckpts.truncate(idx + 1);
        self.log.truncate(ck.log_pos - self.log_base);
        self.restore(&ck);
        let start = self.icount();
        // Dense checkpoints in the last stretch before the target.
        let dense = (self.checkpoint_every / 2).clamp(GRANULE, 25_000);
        let saved_every = self.checkpoint_every;
        for call in calls {
            let ic = self.icount();
            if ic >= target {
                break;
            }
            self.checkpoint_every = if target - ic <= 4 * dense {
                dense
            } else {
                saved_every
            };
            match call {
                Call::Input(i) => self.input(i),
                Call::Run(b, h, bps) => {
                    // Truncated to end at `target`, with the call's own limit on halted
                    // time, so that it stops exactly where the original passed `target`.
                    let b = b.min(target - ic);
                    self.maybe_checkpoint();
                    self.m.breakpoints = bps.to_vec();
                    self.m.run_limited(b, h);
                    self.m.breakpoints.clear();
                    self.log.push(Call::Run(b, h, bps));
                }
                Call::Steps(n) => {
                    for _ in 0..n {
                        if self.icount() >= target {
                            break;
                        }
                        self.raw_step();
                    }
                }
            }
        }
        self.checkpoint_every = saved_every;
        // If the log ended early (the guest halted), we are as close as history goes.
        self.last_reexecuted = self.icount() - start;
        Stop::Done
    }
}

fn apply_input(m: &mut Machine, i: &Input) {
    match i {
        Input::Serial(b) => m.core.dev.push_serial_input(b),
        Input::Key(c) => {
            m.core.dev.inject_ascii_key(*c);
        }
    }
}

fn stop_of(r: RunExit) -> Stop {
    match r {
        RunExit::Budget => Stop::Done,
        RunExit::Breakpoint(a) => Stop::Breakpoint(a),
        other => Stop::Machine(other),
    }
}

/// Register values for iced-x86's address computation (segment registers give their base).
fn reg_value(cpu: &crate::inspect::CpuState, reg: Register) -> Option<u64> {
    use Register as R;
    let g = |i: usize| cpu.gpr[i] as u64;
    Some(match reg {
        R::EAX => g(0),
        R::ECX => g(1),
        R::EDX => g(2),
        R::EBX => g(3),
        R::ESP => g(4),
        R::EBP => g(5),
        R::ESI => g(6),
        R::EDI => g(7),
        R::AX => g(0) & 0xFFFF,
        R::CX => g(1) & 0xFFFF,
        R::DX => g(2) & 0xFFFF,
        R::BX => g(3) & 0xFFFF,
        R::SP => g(4) & 0xFFFF,
        R::BP => g(5) & 0xFFFF,
        R::SI => g(6) & 0xFFFF,
        R::DI => g(7) & 0xFFFF,
        R::AL => g(0) & 0xFF,
        R::CL => g(1) & 0xFF,
        R::DL => g(2) & 0xFF,
        R::BL => g(3) & 0xFF,
        R::AH => (g(0) >> 8) & 0xFF,
        R::CH => (g(1) >> 8) & 0xFF,
        R::DH => (g(2) >> 8) & 0xFF,
        R::BH => (g(3) >> 8) & 0xFF,
        R::ES => cpu.seg[0].base as u64,
        R::CS => cpu.seg[1].base as u64,
        R::SS => cpu.seg[SS].base as u64,
        R::DS => cpu.seg[3].base as u64,
        R::FS => cpu.seg[4].base as u64,
        R::GS => cpu.seg[5].base as u64,
        R::EIP => cpu.eip as u64,
        R::None => 0,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
