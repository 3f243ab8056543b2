//! The I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet,
//! 1996: 3.0 "Register Description"; Intel SDM Vol. 3A 11.1 and 11.6 for the messages it
//! sends): an indirect register window at 0xFEC00000 (IOREGSEL at +0x00, IOWIN at +0x10),
//! the ID (index 0), version (1: 24 redirection entries) and arbitration (2) registers, and
//! 24 redirection entries (indices 0x10-0x3F, two 32-bit halves each): vector, delivery
//! mode, destination mode and field, polarity, trigger mode, remote IRR and mask.
//!
//! It owns only its registers and its pins' levels: the `Devices` hub drives the pins (ISA
//! IRQ n on pin n, except IRQ0 on pin 2, as the MP table of `boot::mp` says) and hands the
//! local APIC in, which is where the messages go. It never touches memory or the CPU.
//!
//! Model choices: delivery modes fixed and lowest priority deliver to the one local APIC
//! when the destination names it (lowest priority among one CPU is that CPU); SMI, NMI,
//! INIT and ExtINT entries deliver nothing (Traplab has neither NMI nor a second CPU; the
//! 8259 reaches the CPU through LINT0, not through pin 0). An edge-triggered entry sends
//! one message per rising edge of the pin's active level; a level-triggered one sends a
//! message while the pin is active and remote IRR is clear, and sets remote IRR until the
//! local APIC's EOI for its vector. Version register 0x0017_0011, as the 82093AA.

use super::lapic::Lapic;
use serde::{Deserialize, Serialize};

/// Physical address of the register window.
pub const BASE: u32 = 0xFEC0_0000;
/// Number of redirection entries (input pins).
pub const PINS: usize = 24;
/// The version register: 24 entries (max index 23 in bits 16-23), version 0x11.
pub const VERSION: u32 = ((PINS as u32 - 1) << 16) | 0x11;

/// Redirection entry bits (datasheet 3.2.4).
pub const RTE_MASKED: u64 = 1 << 16;
pub const RTE_LEVEL: u64 = 1 << 15;
pub const RTE_REMOTE_IRR: u64 = 1 << 14;
pub const RTE_ACTIVE_LOW: u64 = 1 << 13;
pub const RTE_LOGICAL: u64 = 1 << 11;
/// Writable bits: all but delivery status (12) and remote IRR (14); destination 56-63.
const RTE_WRITABLE: u64 = 0xFF00_0000_0001_AFFF;

/// The redirection entry a register index (0x10-0x3F) names, and the shift of its 32-bit
/// half within the entry (even index: low half, 0; odd: high half, 32).
fn entry_half(index: u8) -> (usize, u32) {
    (
        (index as usize - 0x10) / 2,
        if index & 1 == 0 { 0 } else { 32 },
    )
}

/// Whether an entry sends messages here: unmasked, with fixed (0) or lowest-priority (1)
/// delivery (the other modes deliver nothing, see the module docs).
fn deliverable(e: u64) -> bool {
    e & RTE_MASKED == 0 && (e >> 8) & 7 <= 1
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoApic {
    /// IOREGSEL: the index IOWIN reads and writes.
    pub select: u8,
    /// ID register bits 24-27.
    pub id: u8,
    /// Redirection table, 64 bits per pin.
    pub redir: Vec<u64>,
    /// Raw input level of each pin (bit n = pin n), before polarity.
    pub pins: u32,
    /// Messages sent to the local APIC since power-on, per pin (for front ends).
    pub delivered: Vec<u64>,
}

impl Default for IoApic {
    fn default() -> Self {
        IoApic::new()
    }
}

impl IoApic {
    /// Power-up state: ID 0, every entry masked (datasheet 3.2.4).
    pub fn new() -> IoApic {
        IoApic {
            select: 0,
            id: 0,
            redir: vec![RTE_MASKED; PINS],
            pins: 0,
            delivered: vec![0; PINS],
        }
    }

    /// Whether `pin`'s input is at its active level.
    fn active(&self, pin: usize) -> bool {
        let raw = self.pins & (1 << pin) != 0;
        raw != (self.redir[pin] & RTE_ACTIVE_LOW != 0)
    }

    /// Drives `pin` to `level` (true = high); sends what the entry asks to `lapic`.
    pub fn set_pin(&mut self, pin: usize, level: bool, lapic: &mut Lapic) {
        if pin >= PINS {
            return;
        }
        let was = self.active(pin);
        if level {
            self.pins |= 1 << pin;
        } else {
            self.pins &= !(1 << pin);
        }
        if self.redir[pin] & RTE_LEVEL != 0 {
            self.service_level(pin, lapic);
        } else if self.active(pin) && !was {
            self.send(pin, lapic);
        }
    }

    /// A level-triggered entry: send while active, unmasked and not awaiting EOI.
    fn service_level(&mut self, pin: usize, lapic: &mut Lapic) {
        let e = self.redir[pin];
        let ready = e & RTE_LEVEL != 0 && e & (RTE_MASKED | RTE_REMOTE_IRR) == 0;
        if ready && self.active(pin) && self.send(pin, lapic) {
            self.redir[pin] |= RTE_REMOTE_IRR;
        }
    }

    /// Sends the entry's interrupt message; true if the local APIC accepted it.
    fn send(&mut self, pin: usize, lapic: &mut Lapic) -> bool {
        let e = self.redir[pin];
        if !deliverable(e) {
            return false;
        }
        let dest = (e >> 56) as u8;
        if !lapic.is_destination(dest, e & RTE_LOGICAL != 0) || !lapic.software_enabled() {
            return false;
        }
        lapic.accept(e as u8, e & RTE_LEVEL != 0);
        self.delivered[pin] += 1;
        true
    }

    /// The local APIC's EOI for a level-triggered `vector`: remote IRR clears in the
    /// entries with that vector, which send again if their pin is still active.
    pub fn eoi(&mut self, vector: u8, lapic: &mut Lapic) {
        for pin in 0..PINS {
            if self.redir[pin] as u8 == vector && self.redir[pin] & RTE_REMOTE_IRR != 0 {
                self.redir[pin] &= !RTE_REMOTE_IRR;
                self.service_level(pin, lapic);
            }
        }
    }

    /// Memory read at `offset` in the window (32-bit registers at 0x00 and 0x10).
    pub fn read(&self, offset: u32) -> u32 {
        match offset & 0xFF {
            0x00 => self.select as u32,
            0x10 => self.read_reg(self.select),
            _ => 0,
        }
    }

    fn read_reg(&self, index: u8) -> u32 {
        match index {
            // The arbitration ID reads as the ID (datasheet 3.2.3).
            0x00 | 0x02 => (self.id as u32) << 24,
            0x01 => VERSION,
            0x10..=0x3F => {
                let (pin, shift) = entry_half(index);
                (self.redir[pin] >> shift) as u32
            }
            _ => 0,
        }
    }

    /// Memory write at `offset` in the window.
    pub fn write(&mut self, offset: u32, v: u32, lapic: &mut Lapic) {
        match offset & 0xFF {
            0x00 => self.select = v as u8,
            0x10 => self.write_reg(self.select, v, lapic),
            _ => {}
        }
    }

    fn write_reg(&mut self, index: u8, v: u32, lapic: &mut Lapic) {
        match index {
            0x00 => self.id = ((v >> 24) & 0xF) as u8,
            0x10..=0x3F => {
                let (pin, shift) = entry_half(index);
                let old = self.redir[pin];
                let new = (old & !(0xFFFF_FFFF << shift)) | (v as u64) << shift;
                let keep = old & !RTE_WRITABLE;
                let mut e = (new & RTE_WRITABLE) | keep;
                if e & RTE_LEVEL == 0 {
                    e &= !RTE_REMOTE_IRR;
                }
                self.redir[pin] = e;
                // Unmasking a level entry whose pin is active sends at once.
                self.service_level(pin, lapic);
            }
            _ => {}
        }
    }

    /// Pins (bit n = pin n) that are unmasked with a fixed or lowest-priority delivery.
    pub fn unmasked(&self) -> u32 {
        (0..PINS)
            .filter(|&p| deliverable(self.redir[p]))
            .fold(0, |m, p| m | 1 << p)
    }

    /// Validates a restored state (snapshots).
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.redir.len() != PINS || self.delivered.len() != PINS || self.pins >> PINS != 0 {
            return Err("I/O APIC state".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lapic() -> Lapic {
        let mut a = Lapic::new();
        a.write(0xF0, 0x1FF);
        a
    }

    fn set_entry(io: &mut IoApic, pin: u8, lo: u32, hi: u32, a: &mut Lapic) {
        io.write(0, 0x10 + 2 * pin as u32 + 1, a);
        io.write(0x10, hi, a);
        io.write(0, 0x10 + 2 * pin as u32, a);
        io.write(0x10, lo, a);
    }

    #[test]
    fn id_version_and_power_up_masks() {
        let mut a = lapic();
        let mut io = IoApic::new();
        io.write(0, 1, &mut a);
        assert_eq!(io.read(0x10), 0x0017_0011, "24 entries (max index 23)");
        io.write(0, 0, &mut a);
        io.write(0x10, 0x0F00_0000, &mut a);
        assert_eq!(io.read(0x10), 0x0F00_0000);
        assert_eq!(io.read(0), 0);
        for pin in 0..24 {
            io.write(0, 0x10 + 2 * pin, &mut a);
            assert_eq!(io.read(0x10), 1 << 16, "pin {pin} masked");
        }
    }

    #[test]
    fn entry_halves_are_written_and_read_apart() {
        let mut a = lapic();
        let mut io = IoApic::new();
        set_entry(&mut io, 23, 0x0001_0045, 0xAB00_0000, &mut a);
        io.write(0, 0x10 + 46 + 1, &mut a);
        io.write(0x10, 0x0300_0000, &mut a); // the high half alone
        assert_eq!(io.read(0x10), 0x0300_0000);
        io.write(0, 0x10 + 46, &mut a);
        assert_eq!(io.read(0x10), 0x0001_0045, "low half kept");
        io.write(0x10, 0xFFFF_FFFF, &mut a); // delivery status and remote IRR read-only
        assert_eq!(
            io.read(0x10),
            RTE_WRITABLE as u32,
            "only the writable bits of all-ones"
        );
        assert_eq!(io.redir[23] >> 32, 0x0300_0000, "high half kept");
        io.write(0x10, 0x0000_0745, &mut a); // unmasked, ExtINT
        assert_eq!(io.unmasked() & 1 << 23, 0, "ExtINT sends nothing");
        io.write(0x10, 0x0000_0145, &mut a); // unmasked, lowest priority
        assert_eq!(io.unmasked() & 1 << 23, 1 << 23);
    }

    #[test]
    fn edge_entry_sends_on_rising_edges_only() {
        let mut a = lapic();
        let mut io = IoApic::new();
        set_entry(&mut io, 1, 0x31, 0, &mut a);
        io.set_pin(1, true, &mut a);
        assert_eq!(a.highest_irr(), Some(0x31));
        assert_eq!(a.acknowledge(), 0x31);
        io.set_pin(1, true, &mut a);
        assert_eq!(a.highest_irr(), None, "no new edge");
        io.set_pin(1, false, &mut a);
        io.set_pin(1, true, &mut a);
        assert_eq!(a.highest_irr(), Some(0x31));
        assert_eq!(io.delivered[1], 2);
    }

    #[test]
    fn masked_and_foreign_destinations_deliver_nothing() {
        let mut a = lapic();
        let mut io = IoApic::new();
        set_entry(&mut io, 4, 0x34 | 1 << 16, 0, &mut a);
        io.set_pin(4, true, &mut a);
        assert_eq!(a.highest_irr(), None);
        io.set_pin(4, false, &mut a);
        set_entry(&mut io, 4, 0x34, 0x0100_0000, &mut a); // physical ID 1
        io.set_pin(4, true, &mut a);
        assert_eq!(a.highest_irr(), None);
        io.set_pin(4, false, &mut a);
        a.write(0xD0, 0x0100_0000);
        set_entry(&mut io, 4, 0x34 | 1 << 11 | 1 << 8, 0x0100_0000, &mut a); // logical, lowest
        io.set_pin(4, true, &mut a);
        assert_eq!(a.highest_irr(), Some(0x34));
    }

    #[test]
    fn level_entry_holds_remote_irr_until_eoi() {
        let mut a = lapic();
        let mut io = IoApic::new();
        set_entry(&mut io, 14, 0x3E | 1 << 15, 0, &mut a);
        io.set_pin(14, true, &mut a);
        assert_eq!(a.acknowledge(), 0x3E);
        io.write(0, 0x10 + 28, &mut a);
        assert_ne!(io.read(0x10) as u64 & RTE_REMOTE_IRR, 0, "remote IRR set");
        // Still active at EOI: sent again.
        assert_eq!(
            a.write(0xB0, 0),
            crate::devices::lapic::Effect::LevelEoi(0x3E)
        );
        io.eoi(0x3E, &mut a);
        assert_eq!(a.highest_irr(), Some(0x3E));
        assert_eq!(a.acknowledge(), 0x3E);
        io.set_pin(14, false, &mut a);
        assert_eq!(
            a.write(0xB0, 0),
            crate::devices::lapic::Effect::LevelEoi(0x3E)
        );
        io.eoi(0x3E, &mut a);
        assert_eq!(a.highest_irr(), None);
        assert_eq!(io.read(0x10) as u64 & RTE_REMOTE_IRR, 0);
        assert_eq!(io.delivered[14], 2);
    }

    #[test]
    fn active_low_polarity_inverts_the_pin() {
        let mut a = lapic();
        let mut io = IoApic::new();
        set_entry(&mut io, 9, 0x39 | 1 << 13, 0, &mut a);
        io.set_pin(9, true, &mut a);
        io.set_pin(9, false, &mut a);
        assert_eq!(
            a.highest_irr(),
            Some(0x39),
            "falling edge is the active one"
        );
    }
}
