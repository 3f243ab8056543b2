//! Event injection (AMD64 APM Vol. 2 15.20) and the EXITINTINFO record (15.7.2), which
//! share one format: vector in bits 7:0, type in 10:8 (0 external interrupt, 2 NMI,
//! 3 exception, 4 software interrupt), EV (error code valid) bit 11, V (valid) bit 31,
//! error code in 63:32. Must not decide whether an event exits: an injected event is
//! delivered through the guest's IDT without intercept checks, but faults raised while
//! delivering it are checked as usual (and report it in EXITINTINFO).

use crate::cpu::ctx::Core;
use crate::cpu::interrupt::{deliver, raise, Source};

pub const TYPE_INTR: u64 = 0;
pub const TYPE_NMI: u64 = 2;
pub const TYPE_EXCEPTION: u64 = 3;
pub const TYPE_SOFT: u64 = 4;

/// Encodes an event in the EVENTINJ/EXITINTINFO format.
pub fn encode(vector: u8, typ: u64, code: Option<u32>) -> u64 {
    let mut v = vector as u64 | typ << 8 | 1 << 31;
    if let Some(e) = code {
        v |= 1 << 11 | (e as u64) << 32;
    }
    v
}

/// The EXITINTINFO image of an event that `interrupt::deliver` is delivering. INT3 and
/// INTO are delivered as software events and recorded as type 4 too.
pub fn of_delivery(vector: u8, code: Option<u32>, src: Source) -> u64 {
    let typ = match src {
        Source::External => TYPE_INTR,
        Source::Exception => TYPE_EXCEPTION,
        Source::Software => TYPE_SOFT,
    };
    encode(vector, typ, code)
}

/// Delivers the event of EVENTINJ `inj` (checked legal by VMRUN) through the guest's IDT,
/// as if it happened just before the guest's first instruction: the return address is the
/// guest's RIP. A fault during delivery is raised in the guest (and may exit).
pub fn inject(c: &mut Core, inj: u64) {
    if inj & (1 << 31) == 0 {
        return;
    }
    let vector = inj as u8;
    let code = (inj & (1 << 11) != 0).then_some((inj >> 32) as u32);
    let eip = c.cpu.eip;
    let r = match (inj >> 8) & 7 {
        TYPE_NMI => deliver(c, 2, None, eip, Source::External),
        TYPE_EXCEPTION => deliver(c, vector, code, eip, Source::Exception),
        TYPE_SOFT => deliver(c, vector, None, eip, Source::Software),
        _ => deliver(c, vector, None, eip, Source::External),
    };
    if r.is_ok() {
        return;
    }
    // Record the injected event itself (its type may be NMI, which delivery cannot tell).
    if let Err(e) = r {
        let keep = if code.is_some() {
            0xFFFF_FFFF_0000_0FFF
        } else {
            0x7FF
        };
        c.svm.delivering = inj & keep | 1 << 31;
        raise(c, e);
    }
}
