//! The primary ATA channel: task file 0x1F0-0x1F7, device control / alternate status 0x3F6,
//! IRQ14, with a master (device 0) and an optional slave (device 1), PIO transfers only.
//! Owns which device answers each port, the device control register (nIEN, SRST: shared by
//! both devices) and INTRQ; each device (`drive::Drive`, its commands in `commands`) owns
//! its task file copy, buffer and disk. No host I/O of its own (the front end opened the
//! disks and writes them back only if the user asked for it), no DMA, no ATAPI.
//!
//! Notes (ATA/ATAPI-6, T13/1410D rev 3b):
//! - Both devices latch every write to the command-block registers (6.2); the DEV bit of
//!   the device register (bit 4) selects which one executes a command and answers reads.
//!   Only the selected device drives INTRQ (5.2.9).
//! - Commands complete instantly: BSY is never seen except while SRST is held (9.2, 9.3).
//! - PIO data-in (READ SECTORS/MULTIPLE, IDENTIFY): INTRQ and DRQ for every block; no interrupt
//!   after the last word. PIO data-out (WRITE SECTORS/MULTIPLE): no interrupt for the first
//!   block, one after every block written, the last one signalling completion (9.7, 9.8).
//! - Reading the status register clears a pending interrupt; alternate status does not.
//! - An address that does not exist gives ERR with IDNF (error bit 4) and the task file holds
//!   the failing address; unsupported commands give ERR with ABRT (bit 2).
//! - An absent device 1: while it is selected, device 0 answers for it (9.16.1): status and
//!   alternate status read 0x00 (so a probing guest sees no device: not BSY, not DRDY),
//!   the other registers read device 0's copy, data reads return 0, commands are ignored.
//!   A slave without a master is not a configuration ATA allows: a channel always has one.
//! - Software reset (SRST) resets both devices: each leaves the ATA signature (count 1, LBA
//!   low 1, mid 0, high 0, device 0 selected) and raises no interrupt. EXECUTE DEVICE
//!   DIAGNOSTIC runs on both whichever is selected, and device 0 reports (9.12). Only 28-bit
//!   addressing (LBA28 and CHS); 48-bit commands abort.

mod commands;
mod drive;
#[cfg(test)]
mod tests;

pub use drive::Drive;

use super::disk::Disk;
use serde::{Deserialize, Serialize};

/// Device control register bits.
const NIEN: u8 = 0x02;
const SRST: u8 = 0x04;
/// EXECUTE DEVICE DIAGNOSTIC: accepted whatever the DEV bit says.
const DIAGNOSTIC: u8 = 0x90;

/// The channel: see the module doc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ata {
    master: Drive,
    slave: Option<Drive>,
    control: u8,
}

impl Ata {
    /// A channel with one device, the master, holding `disk`.
    pub fn new(disk: impl Into<Disk>) -> Self {
        Ata {
            master: Drive::new(disk),
            slave: None,
            control: 0,
        }
    }

    /// A channel with a master and a slave.
    pub fn with_slave(master: impl Into<Disk>, slave: impl Into<Disk>) -> Self {
        Ata {
            slave: Some(Drive::new(slave)),
            ..Ata::new(master)
        }
    }

    /// Device 0.
    pub fn master(&self) -> &Drive {
        &self.master
    }

    /// Device 1, if present.
    pub fn slave(&self) -> Option<&Drive> {
        self.slave.as_ref()
    }

    /// Device `n` (0 master, 1 slave), if present.
    pub fn drive(&self, n: usize) -> Option<&Drive> {
        match n {
            0 => Some(&self.master),
            1 => self.slave.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn drive_mut(&mut self, n: usize) -> Option<&mut Drive> {
        match n {
            0 => Some(&mut self.master),
            1 => self.slave.as_mut(),
            _ => None,
        }
    }

    /// The master's disk, including guest writes (the BIOS's drive 80h).
    pub fn disk(&self) -> &Disk {
        self.master.disk()
    }

    /// The master's addressable sectors.
    pub fn sectors(&self) -> u32 {
        self.master.sectors()
    }

    /// The master's default CHS geometry.
    pub fn geometry(&self) -> (u16, u8, u8) {
        self.master.geometry()
    }

    /// True when the guest wrote a sector of either disk.
    pub fn dirty(&self) -> bool {
        self.master.dirty() || self.slave.as_ref().is_some_and(Drive::dirty)
    }

    pub fn clear_dirty(&mut self) {
        self.master.clear_dirty();
        if let Some(s) = &mut self.slave {
            s.clear_dirty();
        }
    }

    fn slave_selected(&self) -> bool {
        self.master.device & 0x10 != 0
    }

    /// The selected device, None when it is an absent slave.
    fn selected(&self) -> Option<&Drive> {
        if self.slave_selected() {
            self.slave.as_ref()
        } else {
            Some(&self.master)
        }
    }

    fn selected_mut(&mut self) -> Option<&mut Drive> {
        if self.slave_selected() {
            self.slave.as_mut()
        } else {
            Some(&mut self.master)
        }
    }

    /// The selected device's status without clearing its interrupt (alternate status);
    /// 0x00 for an absent slave.
    pub fn status(&self) -> u8 {
        self.selected().map_or(0, Drive::status)
    }

    /// The error register as a read of port 0x1F1 gives it.
    pub fn error(&self) -> u8 {
        self.selected().unwrap_or(&self.master).error()
    }

    /// INTRQ as seen by the PIC (IRQ14): the selected device's, unless nIEN masks it.
    pub fn irq_level(&self) -> bool {
        self.control & NIEN == 0 && self.selected().is_some_and(|d| d.intrq)
    }

    /// Reads the data port: one 16-bit word of the selected device (0 for an absent one).
    pub fn read_data(&mut self) -> u16 {
        self.selected_mut().map_or(0, Drive::read_data)
    }

    /// Writes the data port: one 16-bit word to the selected device.
    pub fn write_data(&mut self, value: u16) {
        if let Some(d) = self.selected_mut() {
            d.write_data(value);
        }
    }

    /// Reads a task-file port (0x1F0-0x1F7) or 0x3F6.
    pub fn read(&mut self, port: u16) -> u8 {
        match port {
            0x1F0 => self.read_data() as u8,
            0x1F1..=0x1F6 => self.selected().unwrap_or(&self.master).read_reg(port),
            0x1F7 => self.selected_mut().map_or(0x00, Drive::read_status),
            0x3F6 => self.status(),
            _ => 0xFF,
        }
    }

    /// Writes a task-file port (0x1F0-0x1F7) or the device control register 0x3F6.
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x1F0 => self.write_data(value as u16),
            0x1F1..=0x1F6 => {
                self.master.write_reg(port, value);
                if let Some(s) = &mut self.slave {
                    s.write_reg(port, value);
                }
            }
            0x1F7 if self.control & SRST != 0 => {}
            0x1F7 if value == DIAGNOSTIC => {
                self.master.command(value);
                if let Some(s) = &mut self.slave {
                    s.command(value);
                    s.intrq = false; // device 0 reports for both
                }
            }
            0x1F7 => {
                if let Some(d) = self.selected_mut() {
                    d.command(value);
                }
            }
            0x3F6 => {
                let was_reset = self.control & SRST != 0;
                self.control = value;
                for d in [Some(&mut self.master), self.slave.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if value & SRST != 0 {
                        d.reset_begin();
                    } else if was_reset {
                        d.reset_end();
                    }
                }
            }
            _ => {}
        }
    }

    /// IDENTIFY DEVICE data of the master.
    pub fn identify(&self) -> Vec<u8> {
        self.master.identify()
    }

    /// Snapshot validation of both devices.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.master.check()?;
        if let Some(s) = &self.slave {
            s.check()?;
        }
        Ok(())
    }
}
