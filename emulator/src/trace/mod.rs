//! Events and counters: what happened in the machine, for `--stats`, `--trace-io`, the GUI
//! timeline and the workbook. A bounded ring buffer; recording costs one branch when off.
//! It must not influence execution (determinism does not depend on tracing).

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
    pub events: VecDeque<Event>,
    pub capacity: usize,
    /// Record every port access (students watching a driver); off by default.
    pub io: bool,
    pub total: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity: 4096,
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
        if self.events.len() >= self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(e);
        self.total += 1;
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
