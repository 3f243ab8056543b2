//! Interrupts while a guest runs (AMD64 APM Vol. 2 15.17, 15.21): physical INTR masked by
//! GIF and, with V_INTR_MASKING, by the host's EFLAGS.IF instead of the guest's; the INTR
//! intercept; virtual interrupts (V_IRQ with V_INTR_VECTOR, V_INTR_PRIO against V_TPR
//! unless V_IGN_TPR, masked by the guest's EFLAGS.IF) and the VINTR intercept.
//! Called by the dispatch loop's interrupt-acceptance phase only in guest mode; must not
//! run on the host's path.

use super::intercept::w3;
use super::{code, vmexit};
use crate::cpu::ctx::Core;
use crate::cpu::flags::IF;
use crate::cpu::interrupt::{deliver, raise, Source};
use crate::trace::EventKind;

/// Physical interrupts can reach the guest (or its INTR intercept): GIF set and, with
/// V_INTR_MASKING, the host's IF at VMRUN, else the guest's IF (15.21.1).
pub fn physical_unmasked(c: &Core) -> bool {
    if !c.svm.gif {
        return false;
    }
    if c.svm.ctl.v_intr_masking {
        c.svm.host_if
    } else {
        c.cpu.flags.bits & IF != 0
    }
}

/// A virtual interrupt can be taken now (15.21.4): V_IRQ, GIF, guest IF, no interrupt
/// shadow, and V_INTR_PRIO above V_TPR unless V_IGN_TPR.
pub fn virtual_ready(c: &Core) -> bool {
    let k = &c.svm.ctl;
    k.v_irq
        && c.svm.gif
        && c.cpu.flags.bits & IF != 0
        && !c.cpu.shadow
        && (k.v_ign_tpr || k.v_intr_prio > (k.v_tpr & 0xF))
}

/// The interrupt-acceptance step in guest mode: true when an interrupt was delivered or
/// an exit taken (the loop then starts over).
pub fn accept(c: &mut Core) -> bool {
    if !c.cpu.shadow && physical_unmasked(c) && c.dev.interrupt_pending() {
        if c.svm.ctl.misc1 & w3::INTR != 0 {
            // The interrupt stays pending at the PIC for the host (15.13.1).
            vmexit(c, code::INTR, 0, 0);
            return true;
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
        return true;
    }
    if virtual_ready(c) {
        if c.svm.ctl.misc1 & w3::VINTR != 0 {
            vmexit(c, code::VINTR, 0, 0);
            return true;
        }
        // Taking the virtual interrupt clears V_IRQ (15.21.4).
        c.svm.ctl.v_irq = false;
        let v = c.svm.ctl.v_intr_vector;
        let eip = c.cpu.eip;
        c.event(EventKind::Interrupt {
            vector: v,
            external: true,
        });
        if let Err(e) = deliver(c, v, None, eip, Source::External) {
            raise(c, e);
        }
        return true;
    }
    false
}
