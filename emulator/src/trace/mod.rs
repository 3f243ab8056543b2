//! Events and counters: what happened in the machine, for `--stats`, `--trace-io`, the GUI
//! timeline and the workbook. Bounded ring buffers: the recent events of every kind, and
//! the lasting kinds (faults, privilege and mode changes, system changes) each in a ring of
//! its own, so that timer interrupts and HLTs, thousands a second, never push a page fault
//! out of the log. Recording costs one branch when off.
//! It must not influence execution (determinism does not depend on tracing).

pub mod monitor;
pub mod worlds;

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Exception {
        vector: u8,
        error_code: Option<u32>,
    },
    Interrupt {
        vector: u8,
        external: bool,
    },
    PageFault {
        addr: u32,
        error_code: u32,
    },
    PrivilegeChange {
        from: u8,
        to: u8,
    },
    ModeChange {
        to: String,
    },
    CrWrite {
        cr: u8,
        old: u32,
        new: u32,
    },
    MsrWrite {
        msr: u32,
        value: u64,
    },
    Io {
        write: bool,
        port: u16,
        size: u8,
        value: u32,
    },
    Halt,
    DoubleFault,
    TripleFault,
    Reset,
    PostCode(u8),
    Note(String),
    /// VMRUN entered the guest with this ASID at this RIP (AMD SVM).
    Vmrun {
        asid: u32,
        rip: u32,
    },
    /// #VMEXIT back to the host: exit code (`cpu::svm::exit_name` decodes it), EXITINFO1,
    /// EXITINFO2, the guest's RIP and ASID.
    Vmexit {
        code: u64,
        info1: u64,
        info2: u64,
        rip: u32,
        asid: u32,
    },
}

/// How long an event is kept: the lasting classes each have a ring of their own in
/// `EventLog::lasting`; `Frequent` events (external interrupts, HLT, port accesses) are
/// only in the log of recent events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventClass {
    /// Exceptions, page faults, double and triple faults.
    Fault = 0,
    /// Privilege changes, mode changes and software interrupts (`int n`).
    Privilege = 1,
    /// Control-register and MSR writes, resets, POST codes, notes.
    System = 2,
    /// World switches (SVM's VMRUN and #VMEXIT): a ring of their own, so that a
    /// hypervisor's thousands of exits neither push faults out nor are pushed out by
    /// timer interrupts.
    World = 3,
    Frequent = 4,
}

/// Number of lasting classes (the rings of `EventLog::lasting`).
pub const LASTING_CLASSES: usize = 4;

impl EventKind {
    pub fn class(&self) -> EventClass {
        match self {
            EventKind::Exception { .. }
            | EventKind::PageFault { .. }
            | EventKind::DoubleFault
            | EventKind::TripleFault => EventClass::Fault,
            EventKind::PrivilegeChange { .. }
            | EventKind::ModeChange { .. }
            | EventKind::Interrupt {
                external: false, ..
            } => EventClass::Privilege,
            EventKind::Interrupt { external: true, .. }
            | EventKind::Halt
            | EventKind::Io { .. } => EventClass::Frequent,
            EventKind::Vmrun { .. } | EventKind::Vmexit { .. } => EventClass::World,
            EventKind::CrWrite { .. }
            | EventKind::MsrWrite { .. }
            | EventKind::Reset
            | EventKind::PostCode(_)
            | EventKind::Note(_) => EventClass::System,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Retired-instruction count when it happened.
    pub icount: u64,
    pub cs: u16,
    pub eip: u32,
    pub kind: EventKind,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventLog {
    /// The most recent events of every kind (at most `capacity`).
    pub events: VecDeque<Event>,
    pub capacity: usize,
    /// The events of each lasting class (`EventClass as usize`), at most `capacity` each:
    /// the same events as in `events`, kept after the frequent ones pushed them out there.
    pub lasting: [VecDeque<Event>; LASTING_CLASSES],
    /// Events of each lasting class ever logged.
    pub lasting_total: [u64; LASTING_CLASSES],
    /// Record every port access (students watching a driver); off by default.
    pub io: bool,
    pub total: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity: 4096,
            lasting: Default::default(),
            lasting_total: [0; LASTING_CLASSES],
            io: false,
            total: 0,
        }
    }
}

impl EventLog {
    pub fn push(&mut self, e: Event) {
        if self.capacity == 0 {
            return;
        }
        let class = e.kind.class() as usize;
        if class < LASTING_CLASSES {
            let ring = &mut self.lasting[class];
            if ring.len() >= self.capacity {
                ring.pop_front();
            }
            ring.push_back(e.clone());
            self.lasting_total[class] += 1;
        }
        if self.events.len() >= self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(e);
        self.total += 1;
    }

    /// The events kept, oldest first: the recent events, preceded by the lasting events
    /// that are older than all of them, of the classes `wanted` accepts.
    pub fn kept(&self, wanted: impl Fn(EventClass) -> bool) -> Vec<&Event> {
        let first = self.events.front();
        let mut out: Vec<&Event> = Vec::new();
        for (k, ring) in self.lasting.iter().enumerate() {
            if !wanted(class_of(k)) {
                continue;
            }
            // Older than the recent log, or at its first icount but no longer in it.
            out.extend(ring.iter().filter(|e| {
                match first {
                    None => false,
                    Some(f) => {
                        e.icount < f.icount
                            || (e.icount == f.icount
                                && !self
                                    .events
                                    .iter()
                                    .take_while(|r| r.icount == f.icount)
                                    .any(|r| r == *e))
                    }
                }
            }));
        }
        out.sort_by_key(|e| e.icount);
        out.extend(self.events.iter().filter(|e| wanted(e.kind.class())));
        out
    }
}

fn class_of(k: usize) -> EventClass {
    match k {
        0 => EventClass::Fault,
        1 => EventClass::Privilege,
        2 => EventClass::System,
        3 => EventClass::World,
        _ => EventClass::Frequent,
    }
}

/// Counters shown by `--stats` and the statistics panel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub exceptions: Vec<u64>,
    pub interrupts: Vec<u64>,
    pub halted_ticks: u64,
    pub unimplemented: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            exceptions: vec![0; 32],
            interrupts: vec![0; 256],
            halted_ticks: 0,
            unimplemented: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(icount: u64, kind: EventKind) -> Event {
        Event {
            icount,
            cs: 8,
            eip: 0x1000,
            kind,
        }
    }

    #[test]
    fn a_page_fault_outlives_a_million_timer_interrupts_and_halts() {
        let mut log = EventLog::default();
        log.push(ev(10, EventKind::PrivilegeChange { from: 3, to: 0 }));
        log.push(ev(
            11,
            EventKind::PageFault {
                addr: 0xdead_b000,
                error_code: 6,
            },
        ));
        for i in 0..500_000u64 {
            log.push(ev(
                100 + 2 * i,
                EventKind::Interrupt {
                    vector: 0x20,
                    external: true,
                },
            ));
            log.push(ev(101 + 2 * i, EventKind::Halt));
        }
        assert_eq!(log.total, 1_000_002);
        assert_eq!(
            log.events.len(),
            log.capacity,
            "the recent log stays bounded"
        );
        assert!(log
            .events
            .iter()
            .all(|e| e.kind.class() == EventClass::Frequent));
        let faults = log.kept(|c| c == EventClass::Fault);
        assert_eq!(faults.len(), 1);
        assert!(matches!(
            faults[0].kind,
            EventKind::PageFault {
                addr: 0xdead_b000,
                ..
            }
        ));
        let all = log.kept(|_| true);
        assert_eq!(
            all.len(),
            2 + log.capacity,
            "lasting first, then the recent ones"
        );
        assert_eq!(all[0].icount, 10);
        assert_eq!(all[1].icount, 11);
        assert!(all.windows(2).all(|w| w[0].icount <= w[1].icount));
        assert_eq!(log.lasting_total, [1, 1, 0, 0]);
    }

    #[test]
    fn kept_lists_each_event_once_while_the_recent_log_holds_it() {
        let mut log = EventLog::default();
        log.push(ev(
            5,
            EventKind::Exception {
                vector: 13,
                error_code: Some(0),
            },
        ));
        log.push(ev(5, EventKind::Halt));
        log.push(ev(
            7,
            EventKind::CrWrite {
                cr: 0,
                old: 0,
                new: 1,
            },
        ));
        let all = log.kept(|_| true);
        assert_eq!(all.len(), 3);
        let sys = log.kept(|c| c == EventClass::System);
        assert_eq!(sys.len(), 1);
        // The oldest lasting event at the recent log's first icount, once pushed out.
        let mut small = EventLog {
            capacity: 2,
            ..EventLog::default()
        };
        small.push(ev(
            5,
            EventKind::Exception {
                vector: 13,
                error_code: Some(0),
            },
        ));
        small.push(ev(5, EventKind::Halt));
        small.push(ev(5, EventKind::Halt));
        let all = small.kept(|_| true);
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[0].kind.class(), EventClass::Fault);
    }
}
