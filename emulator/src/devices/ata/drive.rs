//! One ATA device (a master or a slave on the channel of `super`): its own copy of the
//! task file (both devices latch every register write, ATA/ATAPI-6 6.2), status and error,
//! interrupt pending, sector buffer and transfer in progress, translation geometry, and the
//! disk it holds. The registers and the data port are here; the commands are in `commands`.
//! Which device answers a port, the device control register (nIEN, SRST) and INTRQ are the
//! channel's (`super::Ata`). No host I/O of its own: the disk is a `disk::Disk`.

use crate::devices::disk::Disk;
use serde::{Deserialize, Serialize};

pub(super) const BSY: u8 = 0x80;
pub(super) const DRDY: u8 = 0x40;
pub(super) const DSC: u8 = 0x10;
pub(super) const DRQ: u8 = 0x08;
pub(super) const ERR: u8 = 0x01;
pub(super) const ABRT: u8 = 0x04;
pub(super) const IDNF: u8 = 0x10;
/// Uncorrectable data error: the disk's source could not be read (a host file that failed).
pub(super) const UNC: u8 = 0x40;
pub(super) const SECTOR: usize = 512;
/// Largest READ/WRITE MULTIPLE block, reported in IDENTIFY word 47.
pub(super) const MAX_MULTIPLE: u16 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Transfer {
    None,
    /// PIO data-in from the buffer; `lba`/`remaining` describe what is still to be read.
    Read {
        lba: u32,
        remaining: u32,
        block: u32,
    },
    Write {
        lba: u32,
        remaining: u32,
        block: u32,
    },
    Identify,
}

/// One device: see the module doc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    /// Not serialized with the registers: snapshots stream it (see `snapshot`).
    #[serde(skip)]
    pub(super) disk: Disk,
    pub(super) dirty: bool,
    pub(super) features: u8,
    pub(super) error: u8,
    pub(super) sector_count: u8,
    pub(super) lba_low: u8,
    pub(super) lba_mid: u8,
    pub(super) lba_high: u8,
    /// The device register: DEV (bit 4, which device is selected), LBA (bit 6), head or
    /// LBA bits 27-24 (bits 3-0).
    pub(super) device: u8,
    pub(super) status: u8,
    pub(super) intrq: bool,
    #[serde(with = "serde_bytes")]
    pub(super) buffer: Vec<u8>,
    pub(super) buf_pos: usize,
    pub(super) transfer: Transfer,
    /// Translation geometry set by INITIALIZE DEVICE PARAMETERS.
    pub(super) heads: u8,
    pub(super) sectors_per_track: u8,
    pub(super) multiple: u16,
}

impl Drive {
    /// A device holding `disk` (a trailing partial sector is not addressable).
    pub fn new(disk: impl Into<Disk>) -> Self {
        let mut d = Drive {
            disk: disk.into(),
            dirty: false,
            features: 0,
            error: 0x01,
            sector_count: 0,
            lba_low: 0,
            lba_mid: 0,
            lba_high: 0,
            device: 0,
            status: DRDY | DSC,
            intrq: false,
            buffer: Vec::new(),
            buf_pos: 0,
            transfer: Transfer::None,
            heads: 16,
            sectors_per_track: 63,
            multiple: 0,
        };
        d.signature();
        d
    }

    /// The disk contents, including guest writes.
    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    /// Puts a restored disk in the device (snapshots carry it apart from the registers).
    pub(crate) fn set_disk(&mut self, disk: Disk) {
        self.disk = disk;
    }

    /// Takes the disk out of the device.
    pub fn into_disk(self) -> Disk {
        self.disk
    }

    /// True when the guest wrote a sector since creation or the last `clear_dirty`.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    pub fn clear_dirty(&mut self) {
        self.dirty = false;
    }

    /// Status register, without clearing the interrupt (as alternate status).
    pub fn status(&self) -> u8 {
        self.status
    }

    /// Error register.
    pub fn error(&self) -> u8 {
        self.error
    }

    /// Addressable sectors (capped at the LBA28 limit).
    pub fn sectors(&self) -> u32 {
        (self.disk.len() / SECTOR as u64).min(0x0FFF_FFFF) as u32
    }

    /// Default CHS geometry: (cylinders, 16 heads, 63 sectors per track).
    pub fn geometry(&self) -> (u16, u8, u8) {
        let cyl = (self.sectors() / (16 * 63)).min(16383) as u16;
        (cyl, 16, 63)
    }

    /// The signature after power-on, reset or EXECUTE DEVICE DIAGNOSTIC (ATA-6 9.12):
    /// count 1, LBA low 1, mid and high 0 (an ATA device), device register 0.
    pub(super) fn signature(&mut self) {
        self.sector_count = 1;
        self.lba_low = 1;
        self.lba_mid = 0;
        self.lba_high = 0;
        self.device = 0;
    }

    /// Reads the data port: one 16-bit word (0 when no data-in transfer is under way).
    pub(super) fn read_data(&mut self) -> u16 {
        if self.status & DRQ == 0 || self.transfer_is_write() {
            return 0;
        }
        let lo = self.buffer.get(self.buf_pos).copied().unwrap_or(0);
        let hi = self.buffer.get(self.buf_pos + 1).copied().unwrap_or(0);
        self.buf_pos += 2;
        if self.buf_pos >= self.buffer.len() {
            self.block_done();
        }
        u16::from_le_bytes([lo, hi])
    }

    /// Writes the data port: one 16-bit word (ignored outside a data-out transfer).
    pub(super) fn write_data(&mut self, value: u16) {
        if self.status & DRQ == 0 || !self.transfer_is_write() {
            return;
        }
        let [lo, hi] = value.to_le_bytes();
        if self.buf_pos + 1 < self.buffer.len() {
            self.buffer[self.buf_pos] = lo;
            self.buffer[self.buf_pos + 1] = hi;
        }
        self.buf_pos += 2;
        if self.buf_pos >= self.buffer.len() {
            self.block_done();
        }
    }

    fn transfer_is_write(&self) -> bool {
        matches!(self.transfer, Transfer::Write { .. })
    }

    /// Reads a command-block register (0x1F1-0x1F6) of this device's copy.
    pub(super) fn read_reg(&self, port: u16) -> u8 {
        match port {
            0x1F1 => self.error,
            0x1F2 => self.sector_count,
            0x1F3 => self.lba_low,
            0x1F4 => self.lba_mid,
            0x1F5 => self.lba_high,
            0x1F6 => self.device | 0xA0,
            _ => 0xFF,
        }
    }

    /// Reads the status register: clears a pending interrupt (alternate status does not).
    pub(super) fn read_status(&mut self) -> u8 {
        self.intrq = false;
        self.status
    }

    /// Latches a write to a command-block register (0x1F1-0x1F6).
    pub(super) fn write_reg(&mut self, port: u16, value: u8) {
        match port {
            0x1F1 => self.features = value,
            0x1F2 => self.sector_count = value,
            0x1F3 => self.lba_low = value,
            0x1F4 => self.lba_mid = value,
            0x1F5 => self.lba_high = value,
            0x1F6 => self.device = value & 0x5F,
            _ => {}
        }
    }

    /// SRST asserted (the device control register's bit 2): busy, nothing under way.
    pub(super) fn reset_begin(&mut self) {
        self.status = BSY;
        self.transfer = Transfer::None;
        self.intrq = false;
    }

    /// SRST released: the signature, diagnostic code 01h, ready; no interrupt.
    pub(super) fn reset_end(&mut self) {
        self.signature();
        self.error = 0x01;
        self.status = DRDY | DSC;
        self.multiple = 0;
    }

    /// The address in the task file, or None if it does not name a sector of the disk
    /// under the current translation (CHS sector 0, head or sector beyond the geometry).
    pub(super) fn address(&self) -> Option<u32> {
        if self.device & 0x40 != 0 {
            let lba = (self.device as u32 & 0x0F) << 24
                | (self.lba_high as u32) << 16
                | (self.lba_mid as u32) << 8
                | self.lba_low as u32;
            return Some(lba);
        }
        let cyl = (self.lba_high as u32) << 8 | self.lba_mid as u32;
        let head = self.device as u32 & 0x0F;
        let sector = self.lba_low as u32;
        let (heads, spt) = (self.heads as u32, self.sectors_per_track as u32);
        if sector == 0 || sector > spt || head >= heads {
            return None;
        }
        Some((cyl * heads + head) * spt + sector - 1)
    }

    pub(super) fn set_address(&mut self, lba: u32) {
        if self.device & 0x40 != 0 {
            self.lba_low = lba as u8;
            self.lba_mid = (lba >> 8) as u8;
            self.lba_high = (lba >> 16) as u8;
            self.device = (self.device & 0xF0) | ((lba >> 24) as u8 & 0x0F);
        } else {
            let (heads, spt) = (
                self.heads.max(1) as u32,
                self.sectors_per_track.max(1) as u32,
            );
            let cyl = lba / (heads * spt);
            let head = lba / spt % heads;
            self.lba_low = (lba % spt + 1) as u8;
            self.lba_mid = cyl as u8;
            self.lba_high = (cyl >> 8) as u8;
            self.device = (self.device & 0xF0) | head as u8;
        }
    }

    pub(super) fn count(&self) -> u32 {
        if self.sector_count == 0 {
            256
        } else {
            self.sector_count as u32
        }
    }

    pub(super) fn complete(&mut self) {
        self.status = DRDY | DSC;
        self.error = 0;
        self.transfer = Transfer::None;
        self.intrq = true;
    }

    pub(super) fn fail(&mut self, error: u8) {
        self.status = DRDY | DSC | ERR;
        self.error = error;
        self.transfer = Transfer::None;
        self.buffer.clear();
        self.buf_pos = 0;
        self.intrq = true;
    }

    pub(super) fn in_range(&self, lba: u32, n: u32) -> bool {
        lba as u64 + n as u64 <= self.sectors() as u64
    }
}
