//! "Run to the next exit" and "back to the guest" for the trap-and-emulate stepper: run
//! the session forward in small slices until the event log shows the next world switch of
//! the kind asked (into the hypervisor: a #VMEXIT, or a trap from a deprivileged ring into
//! ring 0; back to the guest: a VMRUN, or a return from ring 0 to ring 1-3), then travel
//! back to the instruction count of that switch by reverse execution, so the machine stops
//! exactly there: on the instruction that traps, or on the one that resumes the guest.
//! Runs on the machine thread; owns no state.

use traplab::debug::session::{Session, Stop};
use traplab::trace::EventKind;

/// Instructions per slice: small enough that the recent-event ring (4,096 events) cannot
/// overflow between two looks.
const SLICE: u64 = 4_000;

/// Is `k` a switch of the kind asked?
pub fn is_switch(k: &EventKind, into_host: bool) -> bool {
    match k {
        EventKind::Vmexit { .. } => into_host,
        EventKind::Vmrun { .. } => !into_host,
        EventKind::PrivilegeChange { from, to } => {
            if into_host {
                *to == 0 && *from > 0
            } else {
                *from == 0 && *to > 0
            }
        }
        _ => false,
    }
}

/// Runs until the next switch (at most `max` instructions) and stops at it. Ok(icount of the
/// switch) or Err(why it stopped elsewhere).
pub fn run_to_switch(s: &mut Session, into_host: bool, max: u64) -> Result<u64, String> {
    let start = s.icount();
    let mut seen = s.m.inspect().events().total();
    while s.icount() < start.saturating_add(max) {
        let before = s.icount();
        let stop = s.advance(SLICE);
        let ev = s.m.inspect().events();
        let hit = ev
            .since(seen)
            .find(|e| e.icount >= start && is_switch(&e.kind, into_host) && e.icount > start)
            .map(|e| e.icount);
        seen = ev.total();
        if let Some(ic) = hit {
            if ic != s.icount() {
                let _ = s.go_to(ic);
            }
            return Ok(ic);
        }
        match stop {
            Stop::Pending | Stop::Done => {}
            other => return Err(crate::view::stop_text(&other)),
        }
        if s.icount() == before {
            return Err("the machine does not advance (halted)".into());
        }
    }
    Err(format!("no world switch within {max} instructions"))
}
