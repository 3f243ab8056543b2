//! "Run to the next exit" and "back to the guest" for the trap-and-emulate stepper: run
//! the session forward in small slices until the event log shows the next world switch of
//! the kind asked (into the hypervisor: a #VMEXIT, or a trap from a deprivileged ring into
//! ring 0; back to the guest: a VMRUN, or a return from ring 0 to ring 1-3), then travel
//! back to the instruction count of that switch by reverse execution, so the machine stops
//! exactly there: on the instruction that traps (it has not run yet: the next step takes the
//! exit); back to the guest, one step further: the hypervisor's VMRUN (or the monitor's IRET)
//! has run and the machine stops on the guest's first instruction after it. A VMRUN whose
//! guest exits before running anything (an interrupt already pending) is passed over.
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

/// The CPU runs guest code: an SVM guest, or a deprivileged ring (trap-and-emulate).
fn in_guest(s: &Session) -> bool {
    let i = s.m.inspect();
    i.world() != traplab::inspect::World::Host || i.cpu().cpl > 0
}

/// Runs until the next switch (at most `max` instructions) and stops at it (back to the
/// guest: just after it). Ok(icount of the stop) or Err(why it stopped elsewhere).
pub fn run_to_switch(s: &mut Session, into_host: bool, max: u64) -> Result<u64, String> {
    let start = s.icount();
    // Switches at or before this count are behind us.
    let mut after = start;
    let mut seen = s.m.inspect().events().total();
    while s.icount() < start.saturating_add(max) {
        let before = s.icount();
        let stop = s.advance(SLICE);
        let ev = s.m.inspect().events();
        let hit = ev
            .since(seen)
            .find(|e| e.icount > after && is_switch(&e.kind, into_host))
            .map(|e| e.icount);
        seen = ev.total();
        if let Some(ic) = hit {
            if ic != s.icount() {
                let _ = s.go_to(ic);
            }
            if into_host {
                return Ok(ic);
            }
            // Run the VMRUN / IRET itself: the guest's next instruction is the stop.
            let stop = s.step();
            seen = s.m.inspect().events().total();
            if in_guest(s) {
                return Ok(s.icount());
            }
            after = ic;
            match stop {
                Stop::Pending | Stop::Done => continue,
                other => return Err(crate::view::stop_text(&other)),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use traplab::boot::multiboot::Module;
    use traplab::inspect::{EventKind, World};

    fn hv1() -> Session {
        let read = |p: &str| std::fs::read(crate::app::sample_path(p)).unwrap();
        let m = crate::worker::load_bytes_modules(
            &read("samples/hv1/hv1.elf"),
            "vms=2",
            vec![Module {
                data: read("samples/minios/minios.elf"),
                string: "minios.elf".into(),
            }],
        )
        .unwrap();
        Session::new(m)
    }

    /// hv1: "run to next exit" stops on the guest instruction that exits (still in the
    /// guest); "back to the guest" runs hv1's handler and its VMRUN and stops on the
    /// guest's first instruction after it, at the RIP the VMRUN entered, one instruction
    /// after the VMRUN (0F 01 D8) on the host.
    #[test]
    fn back_to_the_guest_stops_after_hv1s_vmrun() {
        let mut s = hv1();
        s.advance(20_000_000);
        for _ in 0..3 {
            let exit = run_to_switch(&mut s, true, 50_000_000).unwrap();
            assert_eq!(s.icount(), exit);
            assert!(matches!(s.m.live_world(), World::Guest { .. }));
            let back = run_to_switch(&mut s, false, 50_000_000).unwrap();
            assert_eq!(s.icount(), back);
            let i = s.m.inspect();
            let World::Guest { asid } = i.world() else {
                panic!("back in a guest, not on the host at {:#x}", i.pc());
            };
            let (ic, rip, run_asid) = i
                .events()
                .iter()
                .rev()
                .find_map(|e| match e.kind {
                    EventKind::Vmrun { rip, asid } => Some((e.icount, rip, asid)),
                    _ => None,
                })
                .expect("hv1's VMRUN in the events");
            assert_eq!((ic + 1, rip, run_asid), (back, i.cpu().eip, asid));
            // One instruction back: hv1's VMRUN, on the host.
            s.step_back();
            assert_eq!(s.m.live_world(), World::Host);
            let pc = s.m.inspect().pc();
            assert_eq!(
                s.m.inspect().peek_linear(pc, 3),
                Some(vec![0x0f, 0x01, 0xd8]),
                "VMRUN at {pc:#x}"
            );
            s.step();
            assert_eq!(s.icount(), back);
        }
    }
}
