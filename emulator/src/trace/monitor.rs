//! The monitor ledger port: a guest-side monitor (tevmm, `samples/tevmm/ledger.c`) reports
//! its own trap ledger to the host through port `MONITOR_PORT` (0xEB, next to the marker
//! port 0xEA; nothing is there on a PC, so real hardware and QEMU ignore the writes), and
//! this module keeps what it said: named counters, for the GUI's exit ledger panel, `--stats`
//! and tests. A monitor knows why each trap happened (the instruction it emulated, a hidden
//! or a true guest page fault); the machine only sees vectors.
//!
//! # Protocol
//! 32-bit writes (`outl`); other sizes are ignored. The value is `op << 24 | arg`:
//!
//! | op | arg | meaning |
//! |---|---|---|
//! | 0x00 | - | reset: forget every counter and name (the monitor starts) |
//! | 0x01 | `id` (0-255) | count: counter `id` += 1 |
//! | 0x02 | `id << 8 \| c` (`id` 0-255) | name: append the ASCII character `c` to counter `id`'s name |
//! | 0x03 | `id << 16 \| chunk` | set: counter `id` = counter `id` << 16 \| `chunk` (four writes, most significant chunk first, set a 64-bit value) |
//! | 0x04 | - | report: the monitor printed its ledger (an event is logged) |
//!
//! Anything else (unknown op, `id` over 255 in a count, a name past `NAME_MAX` characters or
//! not printable ASCII) is ignored. Reads of the port are unaffected (all ones, as for any
//! empty port).
//!
//! It must not influence execution: the guest sees the same machine whether or not a monitor
//! writes here. Like the event log it is not saved in snapshot files (the debugger's
//! checkpoints keep it: they are clones of the machine), so it is not in the state hash.

use serde::{Deserialize, Serialize};

/// The monitor ledger port.
pub const MONITOR_PORT: u16 = 0xEB;
/// The counter a monitor names so to report the instructions its guest ran, itself not
/// counted (tevmm does: on Traplab its TSC is the virtual clock); `traplab compare` takes
/// the guest's share of a workload from it.
pub const GUEST_SHARE: &str = "TSC in the guest";
/// Longest counter name kept.
pub const NAME_MAX: usize = 40;

const OP_RESET: u32 = 0x00;
const OP_COUNT: u32 = 0x01;
const OP_NAME: u32 = 0x02;
const OP_SET: u32 = 0x03;
const OP_REPORT: u32 = 0x04;

/// One counter of the monitor's ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorCounter {
    pub id: u8,
    pub name: String,
    pub value: u64,
}

/// What a monitor reported through `MONITOR_PORT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorLedger {
    names: Vec<String>,
    values: Vec<u64>,
    /// Counters written at least once (count, name or set), by id.
    used: Vec<bool>,
    /// Reports (op 0x04) since the last reset.
    pub reports: u64,
    /// Valid writes to the port since power-on.
    pub writes: u64,
}

impl Default for MonitorLedger {
    fn default() -> Self {
        MonitorLedger {
            names: vec![String::new(); 256],
            values: vec![0; 256],
            used: vec![false; 256],
            reports: 0,
            writes: 0,
        }
    }
}

/// What a write asks of the machine besides updating the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorEffect {
    None,
    /// The monitor printed its ledger: log an event.
    Report,
}

impl MonitorLedger {
    /// Applies one port write of `size` bytes.
    pub fn write(&mut self, size: u8, value: u32) -> MonitorEffect {
        if size != 4 {
            return MonitorEffect::None;
        }
        let (op, arg) = (value >> 24, value & 0x00FF_FFFF);
        match op {
            OP_RESET => {
                *self = MonitorLedger {
                    writes: self.writes,
                    ..MonitorLedger::default()
                }
            }
            OP_COUNT if arg < 256 => {
                let id = arg as usize;
                self.values[id] = self.values[id].wrapping_add(1);
                self.used[id] = true;
            }
            OP_NAME => {
                let (id, c) = ((arg >> 8) as usize, arg as u8);
                if id > 255 || !(0x20..0x7F).contains(&c) || self.names[id].len() >= NAME_MAX {
                    return MonitorEffect::None;
                }
                self.names[id].push(c as char);
                self.used[id] = true;
            }
            OP_SET => {
                let id = (arg >> 16) as usize;
                self.values[id] = self.values[id] << 16 | (arg & 0xFFFF) as u64;
                self.used[id] = true;
            }
            OP_REPORT => {
                self.reports += 1;
                self.writes += 1;
                return MonitorEffect::Report;
            }
            _ => return MonitorEffect::None,
        }
        self.writes += 1;
        MonitorEffect::None
    }

    /// True when no monitor has written anything since power-on (or its last reset).
    pub fn is_empty(&self) -> bool {
        !self.used.iter().any(|&u| u)
    }

    /// The counters a monitor used, in id order (unnamed ones are named `#id`).
    pub fn counters(&self) -> Vec<MonitorCounter> {
        (0..256)
            .filter(|&i| self.used[i])
            .map(|i| MonitorCounter {
                id: i as u8,
                name: if self.names[i].is_empty() {
                    format!("#{i}")
                } else {
                    self.names[i].clone()
                },
                value: self.values[i],
            })
            .collect()
    }

    /// The value of the counter named `name`, if a monitor declared it.
    pub fn get(&self, name: &str) -> Option<u64> {
        (0..256)
            .find(|&i| self.used[i] && self.names[i] == name)
            .map(|i| self.values[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(l: &mut MonitorLedger, id: u32, s: &str) {
        for c in s.bytes() {
            l.write(4, OP_NAME << 24 | id << 8 | c as u32);
        }
    }

    #[test]
    fn counts_names_and_64_bit_values() {
        let mut l = MonitorLedger::default();
        assert!(l.is_empty());
        name(&mut l, 3, "CLI");
        name(&mut l, 200, "TSC in the guest");
        for _ in 0..5 {
            l.write(4, OP_COUNT << 24 | 3);
        }
        let v: u64 = 0x0123_4567_89AB_CDEF;
        l.write(4, OP_SET << 24 | 200 << 16 | 0xFFFF); // old junk, shifted out
        for k in (0..4).rev() {
            l.write(
                4,
                OP_SET << 24 | 200 << 16 | ((v >> (16 * k)) & 0xFFFF) as u32,
            );
        }
        assert_eq!(l.get("CLI"), Some(5));
        assert_eq!(l.get("TSC in the guest"), Some(v));
        assert_eq!(l.get("STI"), None);
        let c = l.counters();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].id, c[0].name.as_str(), c[0].value), (3, "CLI", 5));
        assert_eq!(l.write(4, OP_REPORT << 24), MonitorEffect::Report);
        assert_eq!(l.reports, 1);
        l.write(4, 0);
        assert!(l.is_empty());
        assert_eq!(l.reports, 0);
        assert_eq!(
            l.writes, 31,
            "every valid write since power-on, reset included"
        );
    }

    #[test]
    fn bad_writes_are_ignored() {
        let mut l = MonitorLedger::default();
        l.write(1, OP_COUNT << 24 | 1);
        l.write(2, OP_COUNT << 24 | 1);
        l.write(4, OP_COUNT << 24 | 256);
        l.write(4, 0x7F << 24 | 1);
        l.write(4, OP_NAME << 24 | 1 << 8 | 0x0A);
        assert!(l.is_empty());
        assert_eq!(l.writes, 0);
        name(&mut l, 1, &"x".repeat(100));
        assert_eq!(l.counters()[0].name.len(), NAME_MAX);
        l.write(4, OP_COUNT << 24 | 9);
        assert_eq!(l.counters()[1].name, "#9");
        // Any value at all: no panic.
        for v in [
            u32::MAX,
            0xFFFF_FFFF >> 8,
            0x03FF_FFFF,
            0x02FF_FFFF,
            0x0100_00FF,
        ] {
            l.write(4, v);
        }
    }
}
