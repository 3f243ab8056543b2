//! `Machine`: the CPU core, the decoded-instruction cache and the dispatch loop.
//! `run(budget)` executes until the budget is spent, a breakpoint hits, the guest halts for
//! good, asks to exit, or triple-faults. This module owns the order of things between
//! instructions; it must not contain instruction semantics (those are in `cpu::exec`).
//!
//! # The loop's phases
//!
//! `run_inner` is one loop over named phases; each returns a `Step` (go on, start over,
//! or return from `run`). Handlers, port accesses and event delivery talk to the loop only
//! through `Core::request` (`cpu::request`): one set of requests, tested once per
//! instruction inside blocks and acted on in phase 1.
//!
//! | phase | where | what |
//! |---|---|---|
//! | 1. pending requests | `phases.rs` `pending_requests` | triple fault, reset, exit end the run; written code leaves the cache |
//! | 2. device deadlines | `phases.rs` `device_deadlines` | timers that are due raise their IRQ lines |
//! | 3. interrupt acceptance | `phases.rs` `accept_interrupt` | IF=1, no shadow, INTR: INTA and delivery |
//! | 4. halt | `phases.rs` `halt`, `halt.rs` | a halted CPU skips to the next event, or is halted for good |
//! | 5. budget, debug checks | `mod.rs`, `phases.rs` `debug_checks` | breakpoints; DR0-DR3 execute breakpoints (faults) |
//! | 6. block execution | `exec.rs` `execute` | one instruction, or a chain of cached blocks; traps after it |
//!
//! Why this order (Intel SDM Vol. 3A 6.9, "Priority Among Simultaneous Exceptions and
//! Interrupts"): a reset or shutdown outranks everything, so requests come first. Traps
//! of the previous instruction (single-step and data-breakpoint #DB, 17.3.1) are
//! delivered by phase 6 right after that instruction, before the next pass reaches
//! phase 3, because they outrank maskable interrupts. Devices are brought up to the
//! current instruction boundary before INTR is sampled, so an IRQ due at tick t is taken
//! at the boundary of tick t whatever the slicing of the run. Interrupt acceptance
//! precedes the halt phase because an accepted interrupt is what ends HLT (HLT in Vol. 2A;
//! IF masking in 6.8.1). The interrupt shadow of STI, MOV SS and POP SS (6.8.3; STI in Vol. 2B) keeps
//! phase 3 from accepting for one instruction, so phase 6 runs that one instruction alone.
//! Execute breakpoints are faults on the next instruction with lower priority than
//! interrupts (6.9 class 7 after class 6), hence after phase 3; fetch and decode faults
//! come from phase 6 itself.
//!
//! Blocks run until a request other than `Request::Branch`, the budget or the next device
//! deadline; anything that changes what phases 1-5 decide (IF, TF, DR7, CPL, mode, code
//! written, port I/O) requests `Request::Rescan`, so the phases see it before the next
//! instruction.
//!
//! Later work has a place here: SVM's global interrupt flag gates phase 3 (and would hold
//! NMI and SMI, were they modelled); virtual interrupts (V_IRQ) are one more source in
//! phase 3, taken in the guest world; a world switch (VMRUN, #VMEXIT) is a request that
//! phase 1 performs between instructions, like reset.

mod exec;
mod fetch;
mod halt;
mod phases;

use crate::bus::PAGE;
use crate::cpu::cache::DecodeCache;
use crate::cpu::ctx::Core;
use crate::devices::{Devices, DevicesConfig};
use crate::mmu::segment::CS;
use exec::{LinkSig, EPOCHS};
pub use fetch::Fetched;
pub use halt::Halt;

#[derive(Clone, Debug)]
pub struct MachineConfig {
    /// Guest RAM in bytes.
    pub ram_bytes: usize,
    pub devices: DevicesConfig,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            ram_bytes: 32 << 20,
            devices: DevicesConfig::default(),
        }
    }
}

/// What a phase of the loop decided (the loop's explicit state, in the spirit of
/// mooneye-gb's `Step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Nothing for this phase to do: on to the next one.
    Next,
    /// An event was delivered or time skipped: start over from the first phase.
    Again,
    /// `run` returns this.
    Return(RunExit),
}

/// The limits of one `run_inner` call.
struct Limits {
    /// Retired-instruction count at which the run ends.
    end: u64,
    /// Halted-ticks count (`Stats::halted_ticks`) at which the run ends.
    idle_end: u64,
    /// One instruction or event only (`Machine::step`).
    single: bool,
}

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget is spent.
    Budget,
    /// The guest wrote to the exit port: process exit status.
    Exit(u32),
    /// HLT that nothing can end (interrupts disabled, every IRQ masked or held back by
    /// one in service, or no device left to raise one), or a CPU that only delivers
    /// exceptions and never retires an instruction: `Machine::halt_reason` says which.
    Halted,
    /// Shutdown after a triple fault; the machine stays dead until reset.
    TripleFault,
    /// The guest asked for a reset (port 0x64 / 0xCF9 / 0x92).
    Reset,
    /// A breakpoint at this linear address is about to execute.
    Breakpoint(u32),
}

#[derive(Clone, Debug)]
pub struct Machine {
    pub core: Core,
    pub cache: DecodeCache,
    /// Linear addresses (CS base + EIP) where `run` stops before executing.
    pub breakpoints: Vec<u32>,
    /// The last code page translated by fetch (saves a TLB lookup per block).
    hint: fetch::Hint,
    /// The current link epoch (block links are valid within one epoch, `exec_chain`).
    chain: u64,
    /// The last epochs and what block links depended on in each, most recent first
    /// (`exec::LinkSig`), and the last epoch number given out.
    epochs: [(Option<LinkSig>, u64); EPOCHS],
    next_epoch: u64,
    /// The `--popek-goldberg` CPU (`cpu::exec::sensitive`): a machine option chosen when
    /// instructions are decoded, saved in snapshots beside the core (not in it, so that the
    /// state hash of a run does not depend on an option it did not use).
    popek_goldberg: bool,
}

impl Machine {
    pub fn new(cfg: MachineConfig) -> Machine {
        let dev = Devices::new(cfg.ram_bytes as u32, cfg.devices);
        Machine {
            core: Core::new(cfg.ram_bytes, dev),
            cache: DecodeCache::new(),
            breakpoints: Vec::new(),
            hint: fetch::Hint::default(),
            chain: 1,
            epochs: [(None, 0); EPOCHS],
            next_epoch: 0,
            popek_goldberg: false,
        }
    }

    /// Rebuilds a machine around a restored core (caches start empty).
    pub fn from_core(core: Core) -> Machine {
        let mut m = Machine {
            core,
            cache: DecodeCache::new(),
            breakpoints: Vec::new(),
            hint: fetch::Hint::default(),
            chain: 1,
            epochs: [(None, 0); EPOCHS],
            next_epoch: 0,
            popek_goldberg: false,
        };
        m.flush_code_cache();
        m
    }

    /// Sets the cost model (`trace::worlds::Costs`): the virtual time charged from now on
    /// for world switches and nested-walk references. Part of the machine's configuration
    /// (saved in snapshots).
    pub fn set_costs(&mut self, costs: crate::trace::worlds::Costs) {
        self.core.ledger.costs = costs;
    }

    /// Turns the `--popek-goldberg` CPU on or off (`cpu::exec::sensitive`). The choice is
    /// made when instructions are decoded, so every decoded block is dropped.
    pub fn set_popek_goldberg(&mut self, on: bool) {
        if self.popek_goldberg != on {
            self.popek_goldberg = on;
            self.cache.flush();
        }
    }

    /// The `--popek-goldberg` CPU is on.
    pub fn popek_goldberg(&self) -> bool {
        self.popek_goldberg
    }

    /// Linear address of the next instruction.
    pub fn pc(&self) -> u32 {
        self.core.cpu.seg[CS].base.wrapping_add(self.core.cpu.eip)
    }

    pub fn icount(&self) -> u64 {
        self.core.icount
    }

    /// Drops every cached decode (after a snapshot restore or a bulk memory load).
    pub fn flush_code_cache(&mut self) {
        self.cache.flush();
        self.core.mem.ensure_code_map();
        self.core.mem.code_pages.fill(0);
        self.core.mmu.tlb.drop_entries();
    }

    /// Executes exactly one instruction (or delivers one pending event, or waits in HLT
    /// until the next device event).
    pub fn step(&mut self) -> RunExit {
        self.run_inner(1, 1, true)
    }

    /// Runs at most `budget` instructions, and at most about `budget` ticks of virtual time
    /// halted: `run_limited(budget, budget)`.
    pub fn run(&mut self, budget: u64) -> RunExit {
        self.run_inner(budget, budget, false)
    }

    /// Runs until `instructions` have retired or the CPU has waited at least `halted_ticks`
    /// ticks in HLT during this call, whichever comes first (then `RunExit::Budget`).
    ///
    /// A halted CPU retires nothing, so an instruction budget alone would never end a run
    /// whose guest halts with an interrupt that never comes; its waiting is counted in ticks
    /// of virtual time (one tick = one instruction's time, `NS_PER_TICK`). A halt is skipped
    /// to the next device event in one step and the limit is checked there, so the wait may
    /// pass `halted_ticks` by up to one event interval; runs stay independent of how they
    /// are sliced (the skip ends where an unsliced run would update the devices too).
    /// A halt that nothing can ever end returns `RunExit::Halted` at once (`halt_reason`).
    pub fn run_limited(&mut self, instructions: u64, halted_ticks: u64) -> RunExit {
        self.run_inner(instructions, halted_ticks, false)
    }

    /// Why the CPU can never leave HLT, if it is halted for good (after `RunExit::Halted`).
    pub fn halt_reason(&self) -> Option<Halt> {
        Halt::of(&self.core)
    }

    /// The dispatch loop: the phases in order, each of which may end the run
    /// (`Step::Return`), start the loop over (`Step::Again`: something was delivered or
    /// time skipped; a single step ends there) or pass on (`Step::Next`).
    fn run_inner(&mut self, instructions: u64, halted_ticks: u64, single: bool) -> RunExit {
        let lim = Limits {
            end: self.core.icount.saturating_add(instructions),
            idle_end: self.core.stats.halted_ticks.saturating_add(halted_ticks),
            single,
        };
        let mut first = true;
        macro_rules! phase {
            ($step:expr) => {
                match $step {
                    Step::Next => {}
                    Step::Again if lim.single => return RunExit::Budget,
                    Step::Again => continue,
                    Step::Return(r) => return r,
                }
            };
        }
        loop {
            phase!(self.pending_requests());
            phase!(self.device_deadlines());
            phase!(self.accept_interrupt());
            phase!(self.halt(&lim));
            if self.core.stalls >= halt::STALL_LIMIT {
                return RunExit::Halted;
            }
            if self.core.icount >= lim.end {
                return RunExit::Budget;
            }
            phase!(self.debug_checks(&mut first));
            phase!(self.execute(&lim));
        }
    }

    /// Marks a physical page as holding cached code: its writes take the slow path.
    pub(crate) fn mark_code_page(&mut self, phys: u32) {
        let p = (phys / PAGE) as usize;
        self.core.mem.ensure_code_map();
        if let Some(cp) = self.core.mem.code_pages.get_mut(p) {
            if *cp == 0 {
                *cp = 1;
                self.core.mmu.tlb.drop_writes_to(phys & !0xFFF);
            }
        }
    }
}
