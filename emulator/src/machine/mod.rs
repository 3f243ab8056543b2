//! `Machine`: the CPU core, the decoded-instruction cache and the dispatch loop.
//! `run(budget)` executes until the budget of instructions is spent, a breakpoint hits,
//! the guest halts for good, asks to exit, or triple-faults. Owns the order of things
//! between instructions (SMC invalidation, device deadlines, interrupt acceptance, traps);
//! it must not contain instruction semantics (those are in `cpu::exec`).

mod fetch;
mod halt;

use crate::bus::PAGE;
use crate::cpu::cache::DecodeCache;
use crate::cpu::ctx::{Core, Request, NS_PER_TICK};
use crate::cpu::exception::vec;
use crate::cpu::flags::{IF, TF};
use crate::cpu::interrupt::{deliver, raise, Source};
use crate::devices::{Devices, DevicesConfig};
use crate::mmu::segment::CS;
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

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget is spent.
    Budget,
    /// The guest wrote to the exit port: process exit status.
    Exit(u32),
    /// HLT that nothing can end (interrupts disabled, every IRQ masked or held back by
    /// one in service, or no device left to raise one): `Machine::halt_reason` says which.
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
    /// Number of the current dispatch chain (block links are valid within one chain).
    chain: u64,
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
        };
        m.flush_code_cache();
        m
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
        self.core.mmu.tlb.flush_all();
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

    fn run_inner(&mut self, budget: u64, halt_budget: u64, single_only: bool) -> RunExit {
        let end = self.core.icount.saturating_add(budget);
        let idle_end = self.core.idle_ticks.saturating_add(halt_budget);
        let mut first = true;
        loop {
            if let Some(r) = self.core.request {
                match r {
                    Request::Exit(s) => {
                        self.core.request = None;
                        return RunExit::Exit(s);
                    }
                    Request::Reset => {
                        self.core.request = None;
                        return RunExit::Reset;
                    }
                    Request::TripleFault => return RunExit::TripleFault,
                }
            }
            self.apply_smc();
            self.core.stop = false;
            self.core.branch_exit = false;

            // Devices whose deadline has come.
            if self.core.clock() >= self.core.next_dev_tick {
                self.update_devices();
            }

            // External interrupts are taken between instructions when IF=1 and no shadow.
            let c = &mut self.core;
            if c.cpu.flags.bits & IF != 0 && !c.cpu.shadow && c.dev.interrupt_pending() {
                let v = c.dev.acknowledge_interrupt();
                let eip = c.cpu.eip;
                c.event(crate::trace::EventKind::Interrupt {
                    vector: v,
                    external: true,
                });
                if let Err(e) = deliver(c, v, None, eip, Source::External) {
                    raise(c, e);
                }
                if single_only {
                    return RunExit::Budget;
                }
                continue;
            }

            if c.cpu.halted {
                // Only an IRQ the PIC passes on can wake the CPU; with none possible, it is
                // halted for good.
                if Halt::of(c).is_some() {
                    return RunExit::Halted;
                }
                let Some(ns) = c.dev.next_interrupt_event_ns() else {
                    return RunExit::Halted;
                };
                let skip = ns.div_ceil(NS_PER_TICK).max(c.clock() + 1) - c.clock();
                c.stats.halted_ticks += skip;
                c.idle_ticks += skip;
                self.update_devices();
                let c = &mut self.core;
                if single_only || c.idle_ticks >= idle_end {
                    return RunExit::Budget;
                }
                continue;
            }

            if self.core.icount >= end {
                return RunExit::Budget;
            }

            let single = single_only
                || self.core.cpu.shadow
                || self.core.cpu.flags.bits & TF != 0
                || !self.breakpoints.is_empty()
                || self.core.cpu.dr[7] & 0xFF != 0;
            if !self.breakpoints.is_empty() && !first {
                let pc = self.pc();
                if self.breakpoints.contains(&pc) {
                    return RunExit::Breakpoint(pc);
                }
            }
            first = false;
            // Debug registers: instruction breakpoints fault before the instruction, and
            // RF (set by a #DB handler's IRET) suppresses them for one instruction.
            if self.core.cpu.dr[7] & 0xFF != 0
                && crate::cpu::interrupt::insn_breakpoint(&mut self.core)
            {
                if single_only {
                    return RunExit::Budget;
                }
                continue;
            }
            // Blocks stop at the next device deadline, so interrupts are raised and taken at
            // instruction counts that do not depend on how the run was sliced (determinism).
            let to_dev = self
                .core
                .next_dev_tick
                .saturating_sub(self.core.clock())
                .max(1);
            let limit = if single {
                1
            } else {
                (end - self.core.icount).min(to_dev) as usize
            };
            let rf = self.core.cpu.flags.bits & crate::cpu::flags::RF != 0;
            let retired = self.core.icount;
            if single {
                self.exec_block(limit);
            } else {
                self.exec_chain(end, limit);
            }
            if rf && self.core.icount != retired {
                // SDM 17.3.1.1: RF is cleared once an instruction completes.
                self.core.cpu.flags.bits &= !crate::cpu::flags::RF;
            }
            if single_only {
                // One instruction done (or one exception delivered).
                if let Some(Request::TripleFault) = self.core.request {
                    return RunExit::TripleFault;
                }
                if let Some(Request::Exit(s)) = self.core.request {
                    self.core.request = None;
                    return RunExit::Exit(s);
                }
                self.apply_smc();
                return RunExit::Budget;
            }
        }
    }

    fn update_devices(&mut self) {
        let c = &mut self.core;
        let now = c.now_ns();
        c.dev.update(now);
        self.core.next_dev_tick = match c.dev.next_event_ns() {
            Some(ns) => ns.div_ceil(NS_PER_TICK).max(c.clock() + 1),
            None => u64::MAX,
        };
    }

    fn apply_smc(&mut self) {
        if self.core.smc_pages.is_empty() {
            return;
        }
        let pages = std::mem::take(&mut self.core.smc_pages);
        for p in pages {
            self.cache.invalidate_page(p);
            if let Some(cp) = self.core.mem.code_pages.get_mut(p as usize) {
                *cp = 0;
            }
        }
    }

    /// The fast path: runs block after block while nothing needs the outer loop's
    /// attention (no `stop`, budget and device deadline not reached). Everything that could
    /// change what the outer loop decides (IF, TF, DR7, breakpoints, requests, written
    /// code) sets `core.stop`, so checking it once per block is enough.
    fn exec_chain(&mut self, end: u64, first_limit: usize) {
        // Invariant while chaining: TF, DR7 and the interrupt shadow are clear (otherwise the
        // outer loop runs single instructions). EIP after each instruction comes from the
        // decode (`Insn::next_ip`): a cached block only runs at the EIP it was decoded at.
        // The code size, the privilege level and the device deadline stay fixed for the
        // whole chain: what changes them (far transfers, interrupts, I/O...) sets `stop`.
        let code32 = self.core.cpu.code32();
        let user = self.core.cpu.cpl == 3;
        let deadline = end.min(self.core.next_dev_tick.saturating_sub(self.core.idle_ticks));
        // Blocks are linked to their last two successors for the length of this chain:
        // within it, an EIP leads to the same block every time (no code is written, no TLB
        // flush, no mode, CS or CPL change without `stop`).
        self.chain += 1;
        let chain = self.chain;
        let mut prev: Option<u32> = None;
        let mut limit = first_limit;
        loop {
            let eip = self.core.cpu.eip;
            let linked = prev.and_then(|p| {
                let b = &self.cache.blocks[p as usize];
                if b.link_chain != chain {
                    None
                } else if b.links[0].0 == eip {
                    Some(b.links[0].1)
                } else if b.links[1].0 == eip {
                    Some(b.links[1].1)
                } else {
                    None
                }
            });
            let idx = match linked {
                Some(idx) => {
                    self.cache.hits += 1;
                    idx
                }
                None => match fetch::fast(self, code32, user) {
                    Some(idx) => {
                        if let Some(p) = prev {
                            let b = &mut self.cache.blocks[p as usize];
                            if b.link_chain != chain {
                                b.link_chain = chain;
                                b.links = [(eip, idx); 2];
                            } else {
                                b.links = [(eip, idx), b.links[0]];
                            }
                        }
                        idx
                    }
                    None => {
                        // Slow fetch (new block, page crossing, fault): the general path.
                        prev = None;
                        self.exec_block(limit);
                        let c = &mut self.core;
                        if c.branch_exit {
                            c.branch_exit = false;
                            c.stop = false;
                        }
                        if c.stop || c.icount >= deadline {
                            return;
                        }
                        limit = (deadline - c.icount) as usize;
                        continue;
                    }
                },
            };
            prev = Some(idx);
            let Machine { core, cache, .. } = self;
            let insns = &cache.blocks[idx as usize].insns;
            let n = insns.len().min(limit);
            // The retired count lives in a register across the block; handlers see it in
            // `core.icount` (stored before each call) as the count before their instruction.
            let mut ic = core.icount;
            for insn in &insns[..n] {
                core.cpu.eip = insn.next_ip;
                core.icount = ic;
                if let Err(e) = (insn.exec)(core, insn) {
                    core.cpu.eip = insn.ip();
                    raise(core, e);
                    return;
                }
                ic += 1;
                if core.stop {
                    core.icount = ic;
                    if !core.branch_exit {
                        return;
                    }
                    core.branch_exit = false;
                    core.stop = false;
                    break;
                }
            }
            core.icount = ic;
            if ic >= deadline {
                return;
            }
            limit = (deadline - ic) as usize;
        }
    }

    /// Executes up to `limit` instructions from the block at the current EIP.
    fn exec_block(&mut self, limit: usize) {
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
        let tf = core.cpu.flags.bits & TF != 0;
        let shadow = core.cpu.shadow;
        let n = insns.len().min(limit);
        // Data breakpoints (DR7 R/W = 01/11) of the one instruction run while DR7 is armed.
        let dbits = if n == 1 && core.cpu.dr[7] & 0xFF != 0 {
            crate::cpu::interrupt::data_breakpoints(core, &insns[0].ins)
        } else {
            0
        };
        for insn in &insns[..n] {
            core.cpu.eip = insn.next_ip;
            if let Err(e) = (insn.exec)(core, insn) {
                core.cpu.eip = insn.ip();
                raise(core, e);
                return;
            }
            core.icount += 1;
            if core.stop {
                break;
            }
        }
        if shadow {
            core.cpu.shadow = false;
        }
        // MOV SS / POP SS that just completed delay the single-step trap to after the next
        // instruction, whose block starts with the shadow set (SDM Vol. 3A 6.8.3).
        let tf = tf && !(n == 1 && !shadow && core.cpu.shadow && loads_ss(&insns[0].ins));
        if (tf || dbits != 0) && core.request.is_none() {
            // Single-step trap after the instruction (SDM 17.3.1.4): DR6.BS; data
            // breakpoint traps (17.3.1.2): DR6.B0-B3. One #DB reports both.
            if tf {
                core.cpu.dr[6] |= 1 << 14;
            }
            core.cpu.dr[6] = (core.cpu.dr[6] & !0xF) | dbits;
            let eip = core.cpu.eip;
            core.stats.exceptions[vec::DB as usize] += 1;
            if let Err(e) = deliver(core, vec::DB, None, eip, Source::Exception) {
                raise(core, e);
            }
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

/// MOV SS or POP SS (the instructions whose interrupt shadow also holds back debug traps;
/// STI's does not).
fn loads_ss(ins: &iced_x86::Instruction) -> bool {
    matches!(
        ins.mnemonic(),
        iced_x86::Mnemonic::Mov | iced_x86::Mnemonic::Pop
    ) && ins.op0_kind() == iced_x86::OpKind::Register
        && ins.op0_register() == iced_x86::Register::SS
}
