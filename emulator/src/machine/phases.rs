//! The dispatch loop's phases before an instruction runs, in the order `Machine::run_inner`
//! calls them (the reasons for the order are in the `machine` module docs): pending
//! requests, device deadlines, interrupt acceptance, halt, debug checks. Each returns a
//! `Step`. The block-execution phase is in `exec.rs`; why a halt is final, in `halt.rs`.
//! Nothing here runs guest instructions.

use super::{Halt, Limits, Machine, RunExit, Step};
use crate::cpu::ctx::{Request, NS_PER_TICK};
use crate::cpu::flags::IF;
use crate::cpu::interrupt::{deliver, insn_breakpoint, raise, Source};
use crate::trace::EventKind;

impl Machine {
    /// Phase 1, pending requests: the ones that end the run (triple fault, reset, exit) are
    /// returned; the per-block ones (`Branch`, `Rescan`) have done their work by bringing
    /// the loop here and are forgotten; written code pages are dropped from the cache.
    #[inline(always)]
    pub(super) fn pending_requests(&mut self) -> Step {
        let c = &mut self.core;
        if let Some(r) = c.req.ending() {
            return Step::Return(match r {
                // The machine stays down: the request is kept for every later call.
                Request::TripleFault => RunExit::TripleFault,
                Request::Reset => {
                    c.req.take(r);
                    RunExit::Reset
                }
                Request::Exit(s) => {
                    c.req.take(r);
                    RunExit::Exit(s)
                }
                Request::Branch | Request::Rescan => unreachable!("not an ending request"),
            });
        }
        c.req.clear_transient();
        // World attribution (`trace::worlds`): every CPL change and world switch ends the
        // chain of blocks with a request, so the loop passes here before the next
        // instruction and the retired count so far goes to the world that ran it.
        let key = c.world_key();
        if key != c.ledger.key() {
            c.ledger.switch(c.icount, key);
        }
        self.apply_smc();
        Step::Next
    }

    /// Phase 2, device deadlines: devices whose next event has come are brought up to now
    /// and drive their IRQ lines into the PIC.
    #[inline(always)]
    pub(super) fn device_deadlines(&mut self) -> Step {
        if self.core.clock() >= self.core.next_dev_tick {
            self.update_devices();
        }
        Step::Next
    }

    /// Phase 3, interrupt acceptance: an external interrupt is taken between instructions
    /// when IF=1, GIF=1, no interrupt shadow is in force and the PIC asserts INTR (INTA,
    /// then delivery through the IDT or IVT, which also ends a halt). While an SVM guest
    /// runs, `cpu::svm::vintr::accept` decides instead (INTR exit, virtual interrupts).
    #[inline(always)]
    pub(super) fn accept_interrupt(&mut self) -> Step {
        let c = &mut self.core;
        if c.svm.guest {
            // A guest runs (AMD SVM): physical INTR may exit, virtual interrupts too.
            return if crate::cpu::svm::vintr::accept(c) {
                Step::Again
            } else {
                Step::Next
            };
        }
        // GIF = 0 (SVM's CLGI, or after #VMEXIT until STGI) holds interrupts.
        if c.cpu.flags.bits & IF == 0 || c.cpu.shadow || !c.svm.gif || !c.dev.interrupt_pending() {
            return Step::Next;
        }
        let v = c.dev.acknowledge_interrupt();
        let eip = c.cpu.eip;
        c.event(EventKind::Interrupt {
            vector: v,
            external: true,
        });
        if let Err(e) = deliver(c, v, None, eip, Source::External) {
            raise(c, e);
        }
        Step::Again
    }

    /// Phase 4, halt: a halted CPU that no IRQ can ever wake ends the run (`Halt` says
    /// why); otherwise virtual time skips to the next device event on a line that can
    /// reach the CPU, and the loop starts over (that event may raise the interrupt). The
    /// wait counts against the call's halted-ticks limit, checked at the event.
    #[inline(always)]
    pub(super) fn halt(&mut self, lim: &Limits) -> Step {
        let c = &mut self.core;
        if !c.cpu.halted {
            return Step::Next;
        }
        if Halt::of(c).is_some() {
            return Step::Return(RunExit::Halted);
        }
        let Some(ns) = c.dev.next_interrupt_event_ns() else {
            return Step::Return(RunExit::Halted);
        };
        let skip = ns.div_ceil(NS_PER_TICK).max(c.clock() + 1) - c.clock();
        c.stats.halted_ticks += skip;
        c.idle_ticks += skip;
        self.update_devices();
        if !lim.single && self.core.stats.halted_ticks >= lim.idle_end {
            return Step::Return(RunExit::Budget);
        }
        Step::Again
    }

    /// Phase 5, debug checks before the instruction: the machine's breakpoints (not on the
    /// first pass, so a run can leave the address it stopped at), then the debug registers'
    /// instruction breakpoints, which fault before the instruction (RF, set by a #DB
    /// handler's IRET, suppresses them for one instruction).
    #[inline(always)]
    pub(super) fn debug_checks(&mut self, first: &mut bool) -> Step {
        if !self.breakpoints.is_empty() && !*first {
            let pc = self.pc();
            if self.breakpoints.contains(&pc) {
                return Step::Return(RunExit::Breakpoint(pc));
            }
        }
        *first = false;
        if self.core.cpu.dr[7] & 0xFF != 0 && insn_breakpoint(&mut self.core) {
            return Step::Again;
        }
        Step::Next
    }

    /// Brings the devices up to the current virtual time and computes their next deadline.
    pub(super) fn update_devices(&mut self) {
        let c = &mut self.core;
        let now = c.now_ns();
        c.dev.update(now);
        c.set_dev_deadline();
    }

    /// Drops the decoded blocks of code pages that were written.
    pub(super) fn apply_smc(&mut self) {
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
}
