//! 8259A programmable interrupt controller: the PC's master/slave pair (ports 0x20/0x21 and
//! 0xA0/0xA1, slave cascaded on master IR2). Owns IRR/ISR/IMR, the initialization sequence
//! (ICW1-4), OCW1-3, priority resolution, EOI and the INTA cycle. It does not know which
//! device drives which line (the `Devices` hub routes lines) and never delivers anything to
//! the CPU by itself: the CPU asks `has_interrupt` and runs `acknowledge` (INTA).
//!
//! Datasheet notes (Intel 8259A, "Programmable Interrupt Controller", 1988):
//! - Edge-triggered mode: a low-to-high transition sets the IRR bit. As in QEMU, a request that
//!   drops again before INTA stays latched in IRR (the datasheet requires it to stay high until
//!   the first INTA; keeping it is the forgiving choice and keeps runs deterministic).
//! - "Interrupt sequence" / spurious interrupts: if no request is present at INTA time, the
//!   8259A answers with the IR7 vector and does not set ISR bit 7. On the slave this gives
//!   vector base+7 (IRQ15) while the master still sets its ISR bit 2, so the guest must send
//!   the master an EOI, exactly as on a PC.
//! - Level-triggered mode (ICW1 LTIM) is honoured: IRR then follows the input level.
//! - The initial state is what a PC BIOS leaves behind (master at vector 0x08, slave at 0x70,
//!   every line masked except the cascade), so nothing fires before the guest programs it.

use serde::{Deserialize, Serialize};

/// One 8259A chip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pic8259 {
    irr: u8,
    isr: u8,
    imr: u8,
    /// Current input levels, for edge detection.
    levels: u8,
    vector_base: u8,
    /// Which ICW the next odd-port write is: 0 = none (OCW1), 2, 3 or 4.
    icw_step: u8,
    icw4_needed: bool,
    single: bool,
    level_triggered: bool,
    icw3: u8,
    auto_eoi: bool,
    rotate_on_auto_eoi: bool,
    special_fully_nested: bool,
    special_mask: bool,
    read_isr: bool,
    poll: bool,
    /// The IR line with the lowest priority (7 after initialization).
    lowest_priority: u8,
}

impl Pic8259 {
    fn new(vector_base: u8, icw3: u8, imr: u8) -> Self {
        Pic8259 {
            irr: 0,
            isr: 0,
            imr,
            levels: 0,
            vector_base,
            icw_step: 0,
            icw4_needed: false,
            single: false,
            level_triggered: false,
            icw3,
            auto_eoi: false,
            rotate_on_auto_eoi: false,
            special_fully_nested: false,
            special_mask: false,
            read_isr: false,
            poll: false,
            lowest_priority: 7,
        }
    }

    /// Interrupt request register.
    pub fn irr(&self) -> u8 {
        self.irr
    }
    /// In-service register.
    pub fn isr(&self) -> u8 {
        self.isr
    }
    /// Interrupt mask register (OCW1).
    pub fn imr(&self) -> u8 {
        self.imr
    }
    /// Vector of IR0 (ICW2 with the low three bits cleared).
    pub fn vector_base(&self) -> u8 {
        self.vector_base
    }

    fn set_line(&mut self, line: u8, level: bool) {
        let bit = 1u8 << (line & 7);
        if level {
            if self.level_triggered || self.levels & bit == 0 {
                self.irr |= bit;
            }
            self.levels |= bit;
        } else {
            self.levels &= !bit;
            if self.level_triggered {
                self.irr &= !bit;
            }
        }
    }

    /// The highest-priority IR line set in `bits`, honouring rotation.
    fn highest(&self, bits: u8) -> Option<u8> {
        let first = (self.lowest_priority + 1) & 7;
        (0..8)
            .map(|i| (first + i) & 7)
            .find(|&irq| bits & (1 << irq) != 0)
    }

    /// Priority rank: 0 is the highest.
    fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.lowest_priority + 1) & 7
    }

    /// The IR line this chip would present at INTA, if any (datasheet "Priority Resolver").
    fn pending(&self, is_master: bool) -> Option<u8> {
        let requests = self.irr & !self.imr;
        if requests == 0 {
            return None; // the common case, checked by the CPU loop
        }
        let req = self.highest(requests)?;
        match self.blocker(req, is_master) {
            Some(_) => None,
            None => Some(req),
        }
    }

    /// The in-service IR line that keeps a request on line `req` from being presented
    /// (same or higher priority, honouring special mask and special fully nested modes).
    fn blocker(&self, req: u8, is_master: bool) -> Option<u8> {
        let mut in_service = self.isr;
        if self.special_mask {
            // Special mask mode: masked in-service levels do not inhibit lower priorities.
            in_service &= !self.imr;
        }
        if is_master && self.special_fully_nested {
            // SFNM: the slave may interrupt again while its cascade line is in service.
            in_service &= !self.icw3;
        }
        self.highest(in_service)
            .filter(|&cur| self.rank(cur) <= self.rank(req))
    }

    /// INTA on this chip for line `irq`: moves the request into service.
    fn ack(&mut self, irq: u8) {
        let bit = 1u8 << irq;
        if !self.level_triggered {
            self.irr &= !bit;
        }
        if self.auto_eoi {
            if self.rotate_on_auto_eoi {
                self.lowest_priority = irq;
            }
        } else {
            self.isr |= bit;
        }
    }

    fn write_command(&mut self, value: u8) {
        if value & 0x10 != 0 {
            // ICW1. Datasheet "Initialization Command Words": IMR cleared, IR7 lowest
            // priority, special mask cleared, status read set to IRR, edge sense reset: an
            // input that is already high must go low and high again to request, so the
            // recorded input levels are kept.
            self.icw4_needed = value & 0x01 != 0;
            self.single = value & 0x02 != 0;
            self.level_triggered = value & 0x08 != 0;
            self.icw_step = 2;
            self.imr = 0;
            self.isr = 0;
            self.irr = 0;
            self.lowest_priority = 7;
            self.special_mask = false;
            self.read_isr = false;
            self.poll = false;
            if !self.icw4_needed {
                self.auto_eoi = false;
                self.special_fully_nested = false;
            }
        } else if value & 0x08 != 0 {
            // OCW3.
            if value & 0x04 != 0 {
                self.poll = true;
            }
            if value & 0x02 != 0 {
                self.read_isr = value & 0x01 != 0;
            }
            if value & 0x40 != 0 {
                self.special_mask = value & 0x20 != 0;
            }
        } else {
            // OCW2: R, SL, EOI in bits 7-5, level in bits 2-0.
            let level = value & 7;
            match value >> 5 {
                0b001 => {
                    if let Some(irq) = self.highest(self.isr) {
                        self.isr &= !(1 << irq);
                    }
                }
                0b011 => self.isr &= !(1 << level),
                0b101 => {
                    if let Some(irq) = self.highest(self.isr) {
                        self.isr &= !(1 << irq);
                        self.lowest_priority = irq;
                    }
                }
                0b100 => self.rotate_on_auto_eoi = true,
                0b000 => self.rotate_on_auto_eoi = false,
                0b111 => {
                    self.isr &= !(1 << level);
                    self.lowest_priority = level;
                }
                0b110 => self.lowest_priority = level,
                _ => {}
            }
        }
    }

    fn write_data(&mut self, value: u8) {
        match self.icw_step {
            2 => {
                self.vector_base = value & 0xF8;
                self.icw_step = if !self.single {
                    3
                } else if self.icw4_needed {
                    4
                } else {
                    0
                };
            }
            3 => {
                self.icw3 = value;
                self.icw_step = if self.icw4_needed { 4 } else { 0 };
            }
            4 => {
                self.auto_eoi = value & 0x02 != 0;
                self.special_fully_nested = value & 0x10 != 0;
                self.icw_step = 0;
            }
            _ => self.imr = value,
        }
    }
}

/// `Pic::reach`: bit n stands for IRQ n (bit 2 is the cascade and never set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Lines not masked (slave lines also need the cascade line unmasked).
    pub unmasked: u16,
    /// Unmasked lines a request on which would be presented to the CPU.
    pub reachable: u16,
    /// In-service lines that hold back at least one unmasked line (an IRQ 8-15 in service
    /// on the slave, or IRQ 2 when the master's cascade line is in service).
    pub blocked_by: u16,
}

/// The PC's cascaded 8259A pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pic {
    pub master: Pic8259,
    pub slave: Pic8259,
}

impl Default for Pic {
    fn default() -> Self {
        Self::new()
    }
}

impl Pic {
    /// The state a PC BIOS leaves: vectors 0x08 and 0x70, all masked but the cascade.
    pub fn new() -> Self {
        Pic {
            master: Pic8259::new(0x08, 0x04, 0xFB),
            slave: Pic8259::new(0x70, 0x02, 0xFF),
        }
    }

    /// Drives IRQ `line` (0-15) to `level`. Line 2 is the cascade input, driven only by the
    /// slave (an ISA device on "IRQ2" uses line 9, as on an AT); it and lines above 15 are
    /// ignored.
    pub fn set_irq(&mut self, line: u8, level: bool) {
        match line {
            2 => {}
            0..=7 => self.master.set_line(line, level),
            8..=15 => {
                self.slave.set_line(line - 8, level);
                self.cascade();
            }
            _ => {}
        }
    }

    /// Propagates the slave's INT output into master IR2.
    fn cascade(&mut self) {
        let out = self.slave.pending(false).is_some();
        self.master.set_line(2, out);
    }

    /// True when the master's INT output is asserted: an unmasked request with priority over
    /// everything in service.
    pub fn has_interrupt(&self) -> bool {
        self.master.pending(true).is_some()
    }

    /// What a request on each IRQ line would meet now, for a CPU that executes nothing
    /// (halted): which lines would reach the CPU, and which in-service lines hold back the
    /// other unmasked ones. Only an EOI (a CPU action) clears an in-service bit, so a halted
    /// CPU with no reachable line can never be woken by the PIC.
    pub fn reach(&self) -> Reach {
        let mut r = Reach::default();
        let cascade_open = self.master.imr & 0x04 == 0;
        for line in 0..16u8 {
            let (chip, irq) = if line < 8 {
                (&self.master, line)
            } else {
                (&self.slave, line - 8)
            };
            if line == 2 || chip.imr & (1 << irq) != 0 || (line >= 8 && !cascade_open) {
                continue;
            }
            r.unmasked |= 1 << line;
            let block = if line < 8 {
                self.master.blocker(irq, true)
            } else {
                match self.slave.blocker(irq, false) {
                    Some(b) => Some(b + 8),
                    None => self.master.blocker(2, true),
                }
            };
            match block {
                Some(b) => r.blocked_by |= 1 << b,
                None => r.reachable |= 1 << line,
            }
        }
        r
    }

    /// The INTA cycle: returns the vector and updates IRR/ISR on both chips.
    pub fn acknowledge(&mut self) -> u8 {
        let vector = match self.master.pending(true) {
            None => self.master.vector_base | 7, // spurious IRQ7
            Some(2) if !self.master.single => {
                self.master.ack(2);
                match self.slave.pending(false) {
                    Some(irq) => {
                        self.slave.ack(irq);
                        self.slave.vector_base | irq
                    }
                    None => self.slave.vector_base | 7, // spurious IRQ15
                }
            }
            Some(irq) => {
                self.master.ack(irq);
                self.master.vector_base | irq
            }
        };
        self.cascade();
        vector
    }

    /// Poll command read (OCW3 P bit): acknowledges like INTA and returns 0x80|level, or 0.
    fn poll_read(&mut self, slave: bool) -> u8 {
        let result = if slave {
            self.slave.poll = false;
            self.slave.pending(false).inspect(|&irq| {
                self.slave.ack(irq);
            })
        } else {
            self.master.poll = false;
            self.master.pending(true).inspect(|&irq| {
                self.master.ack(irq);
            })
        };
        self.cascade();
        result.map_or(0, |irq| 0x80 | irq)
    }

    /// Reads port 0x20, 0x21, 0xA0 or 0xA1 (others read 0xFF).
    pub fn read(&mut self, port: u16) -> u8 {
        let slave = port & 0x80 != 0;
        let chip = if slave { &self.slave } else { &self.master };
        match port {
            0x20 | 0xA0 if chip.poll => self.poll_read(slave),
            0x20 | 0xA0 if chip.read_isr => chip.isr,
            0x20 | 0xA0 => chip.irr,
            0x21 | 0xA1 => chip.imr,
            _ => 0xFF,
        }
    }

    /// Writes port 0x20, 0x21, 0xA0 or 0xA1 (others are ignored).
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x20 => self.master.write_command(value),
            0x21 => self.master.write_data(value),
            0xA0 => self.slave.write_command(value),
            0xA1 => self.slave.write_data(value),
            _ => return,
        }
        self.cascade();
    }
}

impl Pic8259 {
    /// Snapshot validation: the fields the priority logic indexes or shifts by.
    fn check(&self) -> Result<(), String> {
        if !matches!(self.icw_step, 0 | 2 | 3 | 4) || self.lowest_priority > 7 {
            return Err(format!(
                "PIC initialization step {} / lowest priority {}",
                self.icw_step, self.lowest_priority
            ));
        }
        if self.vector_base & 7 != 0 {
            return Err(format!("PIC vector base {:#x}", self.vector_base));
        }
        Ok(())
    }
}

impl Pic {
    /// Snapshot validation (see `snapshot`).
    pub(crate) fn check(&self) -> Result<(), String> {
        self.master.check()?;
        self.slave.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic remap: master to 0x20, slave to 0x28, 8086 mode, then `masks`.
    fn remapped(master_mask: u8, slave_mask: u8) -> Pic {
        let mut pic = Pic::new();
        for (port, value) in [
            (0x20, 0x11),
            (0xA0, 0x11),
            (0x21, 0x20),
            (0xA1, 0x28),
            (0x21, 0x04),
            (0xA1, 0x02),
            (0x21, 0x01),
            (0xA1, 0x01),
            (0x21, master_mask),
            (0xA1, slave_mask),
        ] {
            pic.write(port, value);
        }
        pic
    }

    fn pulse(pic: &mut Pic, line: u8) {
        pic.set_irq(line, true);
        pic.set_irq(line, false);
    }

    #[test]
    fn reach_follows_masks_and_in_service_priority() {
        // Power-on: everything masked but the cascade, whose slave lines are all masked.
        let r = Pic::new().reach();
        assert_eq!((r.unmasked, r.reachable, r.blocked_by), (0, 0, 0));
        // IRQ0, 1 and 8 unmasked; IRQ1 taken and not acknowledged: it holds back itself
        // and the cascade (lower priority), not IRQ0.
        let mut pic = remapped(0xF8, 0xFE);
        assert_eq!(pic.reach().reachable, 0b1_0000_0011);
        pulse(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x21);
        let r = pic.reach();
        assert_eq!(r.unmasked, 0b1_0000_0011);
        assert_eq!(r.reachable, 0b1);
        assert_eq!(r.blocked_by, 0b10);
        // IRQ0 in service too: nothing reaches the CPU, IRQ0 is the blocker of all.
        pulse(&mut pic, 0);
        assert_eq!(pic.acknowledge(), 0x20);
        let r = pic.reach();
        assert_eq!((r.reachable, r.blocked_by), (0, 0b1));
        // Special mask mode with IRQ0 and IRQ1 masked: their in-service bits no longer
        // inhibit IRQ8 (datasheet, OCW3 ESMM/SMM).
        pic.write(0x21, 0xFB);
        pic.write(0x20, 0x68);
        assert_eq!(pic.reach().reachable, 1 << 8);
        // A slave line in service (no EOI at the slave) holds back the lines below it.
        let mut pic = remapped(0xFB, 0xFC);
        pulse(&mut pic, 8);
        assert_eq!(pic.acknowledge(), 0x28);
        pic.write(0x20, 0x20); // EOI to the master only
        let r = pic.reach();
        assert_eq!((r.reachable, r.blocked_by), (0, 1 << 8));
    }

    #[test]
    fn init_sequence_sets_vectors_and_masks() {
        let mut pic = remapped(0xFA, 0xFF);
        assert_eq!(pic.master.vector_base(), 0x20);
        assert_eq!(pic.slave.vector_base(), 0x28);
        assert_eq!(pic.read(0x21), 0xFA);
        assert_eq!(pic.read(0xA1), 0xFF);
        assert!(!pic.has_interrupt());
    }

    #[test]
    fn priority_and_eoi() {
        let mut pic = remapped(0x00, 0x00);
        pulse(&mut pic, 3);
        pulse(&mut pic, 1);
        assert!(pic.has_interrupt());
        assert_eq!(pic.acknowledge(), 0x21);
        // IR3 is lower priority than IR1, which is in service.
        assert!(!pic.has_interrupt());
        pulse(&mut pic, 0); // IR0 preempts
        assert_eq!(pic.acknowledge(), 0x20);
        assert_eq!(pic.master.isr(), 0b11);
        pic.write(0x20, 0x20); // non-specific EOI clears IR0
        assert_eq!(pic.master.isr(), 0b10);
        assert!(!pic.has_interrupt());
        pic.write(0x20, 0x61); // specific EOI for IR1
        assert_eq!(pic.acknowledge(), 0x23);
        // OCW3 reads
        pic.write(0x20, 0x0B);
        assert_eq!(pic.read(0x20), 0b1000);
        pic.write(0x20, 0x0A);
        assert_eq!(pic.read(0x20), 0);
    }

    #[test]
    fn masking_and_edges() {
        let mut pic = remapped(0xFF, 0xFF);
        pic.set_irq(4, true);
        assert!(!pic.has_interrupt());
        assert_eq!(pic.master.irr(), 0x10);
        pic.write(0x21, 0xEF);
        assert!(pic.has_interrupt());
        assert_eq!(pic.acknowledge(), 0x24);
        pic.write(0x20, 0x20);
        // Still high: no new edge, no new interrupt.
        pic.set_irq(4, true);
        assert!(!pic.has_interrupt());
        pic.set_irq(4, false);
        pic.set_irq(4, true);
        assert!(pic.has_interrupt());
    }

    #[test]
    fn spurious_irq7_and_irq15() {
        let mut pic = remapped(0x00, 0x00);
        assert_eq!(pic.acknowledge(), 0x27);
        assert_eq!(pic.master.isr(), 0);
        // A request masked between INTR and INTA is spurious.
        pulse(&mut pic, 5);
        assert!(pic.has_interrupt());
        pic.write(0x21, 0x20);
        assert_eq!(pic.acknowledge(), 0x27);
        assert_eq!(pic.master.isr(), 0);
        // Slave side: the master sets IR2 in service, the slave answers with IR7 (0x2F).
        pulse(&mut pic, 9);
        assert!(pic.has_interrupt());
        pic.write(0xA1, 0x02);
        // The slave's output dropped, but the master's IR2 edge is latched.
        assert_eq!(pic.acknowledge(), 0x2F);
        assert_eq!(pic.master.isr(), 0x04);
        assert_eq!(pic.slave.isr(), 0);
    }

    #[test]
    fn cascade_to_slave_vector() {
        let mut pic = remapped(0xFB, 0x00);
        pulse(&mut pic, 14);
        assert!(pic.has_interrupt());
        assert_eq!(pic.acknowledge(), 0x2E);
        assert_eq!(pic.master.isr(), 0x04);
        assert_eq!(pic.slave.isr(), 0x40);
        // Another slave request waits for both EOIs.
        pulse(&mut pic, 8);
        assert!(!pic.has_interrupt());
        pic.write(0xA0, 0x20);
        assert!(!pic.has_interrupt()); // master IR2 still in service
        pic.write(0x20, 0x20);
        assert!(pic.has_interrupt());
        assert_eq!(pic.acknowledge(), 0x28);
    }

    #[test]
    fn auto_eoi_rotation_and_poll() {
        let mut pic = Pic::new();
        for (p, v) in [(0x20, 0x13), (0x21, 0x40), (0x21, 0x03), (0x21, 0x00)] {
            pic.write(p, v);
        }
        pulse(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x41);
        assert_eq!(pic.master.isr(), 0);
        // Set priority: IR3 lowest, so IR4 is now highest.
        pic.write(0x20, 0xC3);
        pulse(&mut pic, 5);
        pulse(&mut pic, 4);
        assert_eq!(pic.acknowledge(), 0x44);
        // Poll command.
        pic.write(0x20, 0x0C);
        assert_eq!(pic.read(0x20), 0x85);
        pic.write(0x20, 0x0C);
        assert_eq!(pic.read(0x20), 0x00);
    }

    #[test]
    fn level_triggered_follows_input() {
        let mut pic = Pic::new();
        for (p, v) in [(0x20, 0x1B), (0x21, 0x20), (0x21, 0x00)] {
            pic.write(p, v);
        }
        pic.set_irq(3, true);
        assert!(pic.has_interrupt());
        pic.set_irq(3, false);
        assert!(!pic.has_interrupt());
    }
}
