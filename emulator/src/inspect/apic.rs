//! The APIC pair as front ends see it (present only on a machine built with the APICs,
//! `traplab run --apic`): the local APIC's registers with the timer's LVT entry decoded and
//! its current count at the machine's virtual time (Intel SDM Vol. 3A 11.4-11.9), and the
//! I/O APIC's ID, version and redirection table decoded entry by entry (82093AA datasheet
//! 3.2.4). Read straight from the devices' fields: reading a register here never latches
//! an error, acknowledges an interrupt or advances the timer.

use crate::devices::ioapic::{self, IoApic};
use crate::devices::lapic::{self, Lapic};
use crate::devices::Apics;

/// One local vector table entry, decoded (11.5.1, Figure 11-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LvtEntry {
    /// `timer`, `perf`, `LINT0`, `LINT1` or `error`.
    pub name: &'static str,
    pub raw: u32,
    pub vector: u8,
    /// Delivery mode name (`fixed`, `SMI`, `NMI`, `INIT`, `ExtINT`...).
    pub mode: &'static str,
    pub masked: bool,
}

/// The local APIC (SDM Vol. 3A 11.4-11.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LapicRegs {
    /// IA32_APIC_BASE: the page's address and the global enable bit (11.4.4).
    pub base: u32,
    pub enabled: bool,
    pub id: u8,
    pub version: u32,
    pub tpr: u8,
    /// Processor priority (11.8.3.1).
    pub ppr: u8,
    /// Vectors set in the in-service, request and trigger-mode registers, lowest first.
    pub isr: Vec<u8>,
    pub irr: Vec<u8>,
    pub tmr: Vec<u8>,
    /// The spurious-interrupt vector register: vector and software enable (11.9).
    pub spurious_vector: u8,
    pub software_enabled: bool,
    /// Error status as last latched (11.5.3).
    pub esr: u32,
    /// Timer, performance counter, LINT0, LINT1, error.
    pub lvt: [LvtEntry; 5],
    /// LVT timer bit 17: periodic (else one-shot).
    pub timer_periodic: bool,
    /// The divide configuration register and the divisor it selects (1-128).
    pub divide_config: u32,
    pub divisor: u32,
    pub initial_count: u32,
    /// The current-count register at the machine's virtual time.
    pub current_count: u32,
    /// Timer expiries since power-on (not a register: Traplab counts them).
    pub timer_fired: u64,
}

/// One I/O APIC redirection entry (82093AA 3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirEntry {
    pub pin: u8,
    pub raw: u64,
    pub vector: u8,
    /// Delivery mode name (`fixed`, `lowest`, `SMI`, `NMI`, `INIT`, `ExtINT`).
    pub mode: &'static str,
    /// Destination mode: logical (else physical).
    pub logical: bool,
    /// Destination field (bits 56-63).
    pub dest: u8,
    pub masked: bool,
    /// Trigger mode: level (else edge).
    pub level: bool,
    pub active_low: bool,
    pub remote_irr: bool,
    /// The pin's input is high now.
    pub pin_high: bool,
    /// Messages sent for this pin since power-on (Traplab's count, not a register).
    pub delivered: u64,
}

impl RedirEntry {
    /// The entry is as at power-up (masked, everything else 0) and never sent anything.
    pub fn untouched(&self) -> bool {
        self.raw == ioapic::RTE_MASKED && self.delivered == 0
    }
}

/// The I/O APIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoApicRegs {
    /// The register window's physical address.
    pub base: u32,
    pub id: u8,
    pub version: u32,
    /// Every pin, 0 to 23.
    pub redir: Vec<RedirEntry>,
}

/// Both APICs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApicRegs {
    pub lapic: LapicRegs,
    pub ioapic: IoApicRegs,
}

/// Delivery modes of LVT, ICR and redirection entries (bits 8-10).
pub fn delivery_mode_name(mode: u32) -> &'static str {
    match mode & 7 {
        0 => "fixed",
        1 => "lowest",
        2 => "SMI",
        4 => "NMI",
        5 => "INIT",
        7 => "ExtINT",
        _ => "reserved",
    }
}

/// The vectors whose bits are set in a 256-bit APIC register.
fn vectors(r: &[u32; 8]) -> Vec<u8> {
    (0..=255u8)
        .filter(|&v| r[v as usize / 32] & (1 << (v % 32)) != 0)
        .collect()
}

impl LapicRegs {
    fn capture(a: &Lapic, now_ns: u64) -> LapicRegs {
        const NAMES: [&str; 5] = ["timer", "perf", "LINT0", "LINT1", "error"];
        let lvt = std::array::from_fn(|k| {
            let raw = a.lvt[k];
            LvtEntry {
                name: NAMES[k],
                raw,
                vector: raw as u8,
                mode: if k == lapic::LVT_TIMER || k == lapic::LVT_ERROR {
                    "fixed"
                } else {
                    delivery_mode_name(raw >> 8)
                },
                masked: raw & lapic::LVT_MASKED != 0,
            }
        });
        LapicRegs {
            base: (a.base & 0xFFFF_F000) as u32,
            enabled: a.enabled(),
            id: a.id,
            version: lapic::VERSION,
            tpr: a.tpr,
            ppr: a.ppr(),
            isr: vectors(&a.isr),
            irr: vectors(&a.irr),
            tmr: vectors(&a.tmr),
            spurious_vector: a.svr as u8,
            software_enabled: a.software_enabled(),
            esr: a.esr,
            lvt,
            timer_periodic: a.lvt[lapic::LVT_TIMER] & lapic::TIMER_PERIODIC != 0,
            divide_config: a.divide_config,
            divisor: a.divisor(),
            initial_count: a.initial_count,
            current_count: a.count_at(now_ns),
            timer_fired: a.timer_fired,
        }
    }
}

impl IoApicRegs {
    fn capture(io: &IoApic) -> IoApicRegs {
        let redir = io
            .redir
            .iter()
            .enumerate()
            .map(|(pin, &raw)| RedirEntry {
                pin: pin as u8,
                raw,
                vector: raw as u8,
                mode: delivery_mode_name((raw >> 8) as u32),
                logical: raw & ioapic::RTE_LOGICAL != 0,
                dest: (raw >> 56) as u8,
                masked: raw & ioapic::RTE_MASKED != 0,
                level: raw & ioapic::RTE_LEVEL != 0,
                active_low: raw & ioapic::RTE_ACTIVE_LOW != 0,
                remote_irr: raw & ioapic::RTE_REMOTE_IRR != 0,
                pin_high: io.pins & (1 << pin) != 0,
                delivered: io.delivered.get(pin).copied().unwrap_or(0),
            })
            .collect();
        IoApicRegs {
            base: ioapic::BASE,
            id: io.id,
            version: ioapic::VERSION,
            redir,
        }
    }
}

impl ApicRegs {
    pub(super) fn capture(a: &Apics, now_ns: u64) -> ApicRegs {
        ApicRegs {
            lapic: LapicRegs::capture(&a.lapic, now_ns),
            ioapic: IoApicRegs::capture(&a.ioapic),
        }
    }
}
