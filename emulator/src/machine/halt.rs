//! Whether a halted CPU can ever run again, and why not. A CPU in HLT resumes on an
//! external interrupt it accepts (IF=1), an NMI, SMI, INIT or RESET (HLT in SDM Vol. 2A);
//! Traplab models no NMI/SMI/INIT source, so the only way out is an IRQ that
//! the PIC passes to the CPU. `Halt` names the reason none can come, for the front ends'
//! messages. This module only reads state: the dispatch loop decides what to do with it.
//!
//! Budgets: a halted CPU retires no instructions, so the loop also bounds the virtual time
//! it spends halted (see `Machine::run_limited`); a halt this module cannot prove final (a
//! device keeps a deadline on a line whose request never changes) still ends the run.

use crate::cpu::ctx::Core;
use crate::cpu::flags::IF;
use std::fmt;

/// Exceptions delivered in a row, none of whose handlers retired an instruction, after
/// which the CPU is judged stuck. A handler that faults at its first instruction faults
/// again forever (real hardware loops the same way, or shuts down once the stack runs
/// out); no guest that makes progress comes near this many in a row.
pub const STALL_LIMIT: u32 = 100_000;

/// Why a halted CPU can never be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    /// Not in HLT, but making no progress: every delivery of an exception faults again
    /// before an instruction retires (`STALL_LIMIT` in a row); the last was `vector`,
    /// raised at `eip`. Virtual time stands still, so no interrupt can change it.
    Stuck { vector: u8, eip: u32 },
    /// HLT with IF=0: no maskable interrupt is accepted, and nothing else can wake it.
    InterruptsDisabled,
    /// IF=1, but every IRQ line is masked at the PIC (OCW1).
    AllMasked { master_imr: u8, slave_imr: u8 },
    /// IF=1, but each unmasked line is held back by an IRQ in service (bit n = IRQ n) that
    /// only an EOI from the halted CPU could end.
    InService { blocked_by: u16, unmasked: u16 },
    /// IF=1 and some lines would reach the CPU (bit n = IRQ n), but no device has a timer
    /// that will raise one: only new input from outside (keyboard, serial) could.
    NoEvent { reachable: u16 },
}

impl Halt {
    /// The reason `c`'s CPU can never leave HLT, if it is halted and none can come.
    pub fn of(c: &Core) -> Option<Halt> {
        if c.stalls >= STALL_LIMIT {
            let (vector, eip) = c.last_raised;
            return Some(Halt::Stuck { vector, eip });
        }
        if !c.cpu.halted {
            return None;
        }
        // GIF = 0 holds every interrupt; in an SVM guest with V_INTR_MASKING, physical
        // interrupts are masked by the host's IF, not the guest's (AMD APM 15.21.1).
        let enabled = if c.svm.guest {
            crate::cpu::svm::vintr::physical_unmasked(c) || crate::cpu::svm::vintr::virtual_ready(c)
        } else {
            c.svm.gif && c.cpu.flags.bits & IF != 0
        };
        if !enabled {
            return Some(Halt::InterruptsDisabled);
        }
        let reach = c.dev.pic.reach();
        // With a software-enabled local APIC, interrupts may come through the I/O APIC or
        // the APIC timer: the 8259's masks alone prove nothing.
        if c.dev.lapic_active() || !c.dev.pic_reaches_cpu() {
            if c.dev.next_interrupt_event_ns().is_none() && !c.dev.interrupt_pending() {
                return Some(Halt::NoEvent {
                    reachable: c.dev.ioapic_reachable()
                        | if c.dev.pic_reaches_cpu() {
                            reach.reachable
                        } else {
                            0
                        },
                });
            }
            return None;
        }
        if reach.unmasked == 0 {
            return Some(Halt::AllMasked {
                master_imr: c.dev.pic.master.imr(),
                slave_imr: c.dev.pic.slave.imr(),
            });
        }
        if reach.reachable == 0 {
            return Some(Halt::InService {
                blocked_by: reach.blocked_by,
                unmasked: reach.unmasked,
            });
        }
        if c.dev.next_interrupt_event_ns().is_none() && !c.dev.interrupt_pending() {
            return Some(Halt::NoEvent {
                reachable: reach.reachable,
            });
        }
        None
    }

    /// True when only input from outside the machine could end the halt (an interactive
    /// front end may keep waiting; a batch run has nothing more to give).
    pub fn waits_for_input(&self) -> bool {
        matches!(self, Halt::NoEvent { .. })
    }
}

/// "IRQ0", "IRQs 0 and 8", "IRQs 1, 4 and 12".
fn irqs(bits: u16) -> String {
    let v: Vec<String> = (0..16)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i: u32| i.to_string())
        .collect();
    match v.len() {
        0 => "no IRQ".into(),
        1 => format!("IRQ{}", v[0]),
        n => format!("IRQs {} and {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Halt::Stuck { vector, eip } => write!(
                f,
                "stuck: exception {vector:#04x} ({}) at EIP {eip:#010x} is delivered over and \
                 over, its handler faulting before it retires an instruction",
                crate::cpu::exception::Exception::name(vector)
            ),
            Halt::InterruptsDisabled => write!(f, "HLT with interrupts disabled (IF=0)"),
            Halt::AllMasked {
                master_imr,
                slave_imr,
            } => write!(
                f,
                "interrupts enabled, but every IRQ is masked at the PIC \
                 (IMR master {master_imr:#04x}, slave {slave_imr:#04x})"
            ),
            Halt::InService {
                blocked_by,
                unmasked,
            } => {
                let verb = if blocked_by.count_ones() == 1 {
                    "is"
                } else {
                    "are"
                };
                write!(
                    f,
                    "interrupts enabled, but {} {verb} in service and never acknowledged \
                     (no EOI), which holds back every unmasked line ({})",
                    irqs(blocked_by),
                    irqs(unmasked)
                )
            }
            Halt::NoEvent { reachable } => write!(
                f,
                "interrupts enabled, but no device will raise {} (no timer armed, no input \
                 pending)",
                irqs(reachable)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::irqs;

    #[test]
    fn irq_lists_read_as_english() {
        assert_eq!(irqs(0), "no IRQ");
        assert_eq!(irqs(1), "IRQ0");
        assert_eq!(irqs(1 | 1 << 8), "IRQs 0 and 8");
        assert_eq!(irqs(1 << 1 | 1 << 4 | 1 << 12), "IRQs 1, 4 and 12");
    }
}
