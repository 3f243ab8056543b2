//! ATA hard disk with PIO transfers on the primary channel (task file 0x1F0-0x1F7, device
//! control / alternate status 0x3F6, IRQ14), one master device, no slave. Owns the task file,
//! the sector buffer and the disk (a `disk::Disk`: a source the front end opened, under a
//! copy-on-write overlay; the front end writes `disk()` back only if the user asked for it).
//! No host I/O of its own, no DMA, no ATAPI.
//!
//! Notes (ATA/ATAPI-6, T13/1410D rev 3b):
//! - Commands complete instantly: BSY is never seen except while SRST is held (9.2, 9.3).
//! - PIO data-in (READ SECTORS/MULTIPLE, IDENTIFY): INTRQ and DRQ for every block; no interrupt
//!   after the last word. PIO data-out (WRITE SECTORS/MULTIPLE): no interrupt for the first
//!   block, one after every block written, the last one signalling completion (9.7, 9.8).
//! - Reading the status register clears a pending interrupt; alternate status does not.
//! - An address that does not exist gives ERR with IDNF (error bit 4) and the task file holds
//!   the failing address; unsupported commands give ERR with ABRT (bit 2).
//! - Device 1 (slave) is absent: while it is selected, status and alternate status read 0x00
//!   (device 0 answers for it, 9.16.1), data reads return 0 and commands are ignored.
//! - Software reset (SRST) leaves the ATA signature (count 1, LBA low 1, mid 0, high 0) and
//!   raises no interrupt. Only 28-bit addressing (LBA28 and CHS); 48-bit commands abort.

use super::disk::Disk;
use serde::{Deserialize, Serialize};

const BSY: u8 = 0x80;
const DRDY: u8 = 0x40;
const DSC: u8 = 0x10;
const DRQ: u8 = 0x08;
const ERR: u8 = 0x01;
const ABRT: u8 = 0x04;
const IDNF: u8 = 0x10;
/// Uncorrectable data error: the disk's source could not be read (a host file that failed).
const UNC: u8 = 0x40;
const SECTOR: usize = 512;
/// Largest READ/WRITE MULTIPLE block, reported in IDENTIFY word 47.
const MAX_MULTIPLE: u16 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Transfer {
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ata {
    /// Not serialized with the registers: snapshots stream it (see `snapshot`).
    #[serde(skip)]
    disk: Disk,
    dirty: bool,
    features: u8,
    error: u8,
    sector_count: u8,
    lba_low: u8,
    lba_mid: u8,
    lba_high: u8,
    device: u8,
    status: u8,
    control: u8,
    intrq: bool,
    #[serde(with = "serde_bytes")]
    buffer: Vec<u8>,
    buf_pos: usize,
    transfer: Transfer,
    /// Translation geometry set by INITIALIZE DEVICE PARAMETERS.
    heads: u8,
    sectors_per_track: u8,
    multiple: u16,
}

impl Ata {
    /// A device holding `disk` (a trailing partial sector is not addressable).
    pub fn new(disk: impl Into<Disk>) -> Self {
        let mut ata = Ata {
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
            control: 0,
            intrq: false,
            buffer: Vec::new(),
            buf_pos: 0,
            transfer: Transfer::None,
            heads: 16,
            sectors_per_track: 63,
            multiple: 0,
        };
        ata.signature();
        ata
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

    fn slave_selected(&self) -> bool {
        self.device & 0x10 != 0
    }

    /// INTRQ as seen by the PIC (IRQ14): pending, not masked by nIEN, device 0 selected.
    pub fn irq_level(&self) -> bool {
        self.intrq && self.control & 0x02 == 0 && !self.slave_selected()
    }

    fn signature(&mut self) {
        self.sector_count = 1;
        self.lba_low = 1;
        self.lba_mid = 0;
        self.lba_high = 0;
        self.device = 0;
    }

    /// Reads the data port: one 16-bit word.
    pub fn read_data(&mut self) -> u16 {
        if self.slave_selected() || self.status & DRQ == 0 || self.transfer_is_write() {
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

    /// Writes the data port: one 16-bit word.
    pub fn write_data(&mut self, value: u16) {
        if self.slave_selected() || self.status & DRQ == 0 || !self.transfer_is_write() {
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

    /// Reads a task-file port (0x1F1-0x1F7) or 0x3F6.
    pub fn read(&mut self, port: u16) -> u8 {
        match port {
            0x1F0 => self.read_data() as u8,
            0x1F1 => self.error,
            0x1F2 => self.sector_count,
            0x1F3 => self.lba_low,
            0x1F4 => self.lba_mid,
            0x1F5 => self.lba_high,
            0x1F6 => self.device | 0xA0,
            0x1F7 | 0x3F6 if self.slave_selected() => 0x00,
            0x1F7 => {
                self.intrq = false;
                self.status
            }
            0x3F6 => self.status,
            _ => 0xFF,
        }
    }

    /// Writes a task-file port (0x1F1-0x1F7) or the device control register 0x3F6.
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x1F0 => self.write_data(value as u16),
            0x1F1 => self.features = value,
            0x1F2 => self.sector_count = value,
            0x1F3 => self.lba_low = value,
            0x1F4 => self.lba_mid = value,
            0x1F5 => self.lba_high = value,
            0x1F6 => self.device = value & 0x5F,
            0x1F7 if !self.slave_selected() && self.control & 0x04 == 0 => self.command(value),
            0x3F6 => {
                let was_reset = self.control & 0x04 != 0;
                self.control = value;
                if value & 0x04 != 0 {
                    self.status = BSY;
                    self.transfer = Transfer::None;
                    self.intrq = false;
                } else if was_reset {
                    self.signature();
                    self.error = 0x01;
                    self.status = DRDY | DSC;
                    self.multiple = 0;
                }
            }
            _ => {}
        }
    }

    /// The address in the task file, or None if it does not name a sector of the disk
    /// under the current translation (CHS sector 0, head or sector beyond the geometry).
    fn address(&self) -> Option<u32> {
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

    fn set_address(&mut self, lba: u32) {
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

    fn count(&self) -> u32 {
        if self.sector_count == 0 {
            256
        } else {
            self.sector_count as u32
        }
    }

    fn complete(&mut self) {
        self.status = DRDY | DSC;
        self.error = 0;
        self.transfer = Transfer::None;
        self.intrq = true;
    }

    fn fail(&mut self, error: u8) {
        self.status = DRDY | DSC | ERR;
        self.error = error;
        self.transfer = Transfer::None;
        self.buffer.clear();
        self.buf_pos = 0;
        self.intrq = true;
    }

    fn in_range(&self, lba: u32, n: u32) -> bool {
        lba as u64 + n as u64 <= self.sectors() as u64
    }

    fn command(&mut self, cmd: u8) {
        self.transfer = Transfer::None;
        self.buf_pos = 0;
        self.error = 0;
        match cmd {
            0x20 | 0x21 => self.start_read(1),
            0xC4 if self.multiple != 0 => self.start_read(self.multiple as u32),
            0x30 | 0x31 => self.start_write(1),
            0xC5 if self.multiple != 0 => self.start_write(self.multiple as u32),
            0x40 | 0x41 => match self.address() {
                Some(lba) if self.in_range(lba, self.count()) => self.complete(),
                other => {
                    self.set_address(other.unwrap_or(0));
                    self.fail(IDNF)
                }
            },
            0xEC => {
                self.buffer = self.identify();
                self.transfer = Transfer::Identify;
                self.status = DRDY | DSC | DRQ;
                self.intrq = true;
            }
            0x91 => {
                self.heads = (self.device & 0x0F) + 1;
                self.sectors_per_track = self.sector_count;
                self.complete();
            }
            0xC6 => {
                let n = self.sector_count as u16;
                if n <= MAX_MULTIPLE && (n == 0 || n.is_power_of_two()) {
                    self.multiple = n;
                    self.complete();
                } else {
                    self.fail(ABRT);
                }
            }
            0xF8 => {
                self.set_address(self.sectors().saturating_sub(1));
                self.complete();
            }
            0xE5 => {
                self.sector_count = 0xFF; // active or idle
                self.complete();
            }
            0x90 => {
                self.signature();
                self.complete();
                self.error = 0x01; // no error detected
            }
            // SET FEATURES, FLUSH CACHE (EXT), RECALIBRATE, SEEK, IDLE/STANDBY variants.
            0xEF | 0xE7 | 0xEA | 0x10..=0x1F | 0x70..=0x7F | 0xE0..=0xE3 | 0x94..=0x97 => {
                self.complete()
            }
            _ => self.fail(ABRT), // includes NOP (0x00), which always aborts
        }
    }

    fn start_read(&mut self, block: u32) {
        match self.address() {
            Some(lba) => {
                self.transfer = Transfer::Read {
                    lba,
                    remaining: self.count(),
                    block,
                };
                self.next_read_block();
            }
            None => self.fail(IDNF),
        }
    }

    fn next_read_block(&mut self) {
        let Transfer::Read {
            lba,
            remaining,
            block,
        } = self.transfer
        else {
            return;
        };
        let n = block.min(remaining);
        if !self.in_range(lba, n) {
            let bad = lba.max(self.sectors()).min(0x0FFF_FFFF);
            self.set_address(bad);
            return self.fail(IDNF);
        }
        let mut data = vec![0; n as usize * SECTOR];
        if self
            .disk
            .read(lba as u64 * SECTOR as u64, &mut data)
            .is_err()
        {
            self.set_address(lba);
            return self.fail(UNC);
        }
        self.buffer = data;
        self.buf_pos = 0;
        self.set_address(lba + n - 1);
        self.sector_count = (remaining - n) as u8;
        self.transfer = Transfer::Read {
            lba: lba + n,
            remaining: remaining - n,
            block,
        };
        self.status = DRDY | DSC | DRQ;
        self.intrq = true;
    }

    fn start_write(&mut self, block: u32) {
        match self.address() {
            Some(lba) if self.in_range(lba, 1) => {
                let remaining = self.count();
                self.transfer = Transfer::Write {
                    lba,
                    remaining,
                    block,
                };
                self.buffer = vec![0; block.min(remaining) as usize * SECTOR];
                self.buf_pos = 0;
                self.status = DRDY | DSC | DRQ; // no interrupt before the first block
            }
            other => {
                self.set_address(other.unwrap_or(0));
                self.fail(IDNF)
            }
        }
    }

    /// The guest moved the whole buffer.
    fn block_done(&mut self) {
        self.buf_pos = 0;
        match self.transfer {
            Transfer::Read { remaining: 0, .. } | Transfer::Identify | Transfer::None => {
                self.status = DRDY | DSC;
                self.transfer = Transfer::None;
                self.buffer.clear();
            }
            Transfer::Read { .. } => self.next_read_block(),
            Transfer::Write {
                lba,
                remaining,
                block,
            } => {
                let n = (self.buffer.len() / SECTOR) as u32;
                if !self.in_range(lba, n) {
                    self.set_address(lba.max(self.sectors()).min(0x0FFF_FFFF));
                    return self.fail(IDNF);
                }
                if self
                    .disk
                    .write(lba as u64 * SECTOR as u64, &self.buffer)
                    .is_err()
                {
                    self.set_address(lba);
                    return self.fail(ABRT);
                }
                self.dirty = true;
                self.set_address(lba + n - 1);
                let remaining = remaining - n;
                self.sector_count = remaining as u8;
                if remaining == 0 {
                    self.complete();
                    return;
                }
                let next = block.min(remaining);
                if !self.in_range(lba + n, next) {
                    self.set_address((lba + n).max(self.sectors()).min(0x0FFF_FFFF));
                    return self.fail(IDNF);
                }
                self.transfer = Transfer::Write {
                    lba: lba + n,
                    remaining,
                    block,
                };
                self.buffer = vec![0; next as usize * SECTOR];
                self.status = DRDY | DSC | DRQ;
                self.intrq = true;
            }
        }
    }

    /// IDENTIFY DEVICE data (ATA-6 8.15, Table 16), as 512 bytes little-endian.
    pub fn identify(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        let (cyl, heads, spt) = self.geometry();
        let total = self.sectors();
        w[0] = 0x0040; // fixed device
        w[1] = cyl;
        w[3] = heads as u16;
        w[6] = spt as u16;
        put_string(&mut w[10..20], "TL0000000001");
        put_string(&mut w[23..27], "0.1");
        put_string(&mut w[27..47], "TRAPLAB HARDDISK");
        w[47] = 0x8000 | MAX_MULTIPLE;
        w[49] = 0x0200; // LBA supported (no DMA)
        w[50] = 0x4000;
        w[51] = 0x0200; // PIO timing mode 2
        w[53] = 0x0003; // words 54-58 and 64-70 valid
                        // Current translation (words 54-58), after INITIALIZE DEVICE PARAMETERS.
        let (cheads, cspt) = (self.heads as u16, self.sectors_per_track as u16);
        let per_cyl = cheads as u32 * cspt as u32;
        let ccyl = total.checked_div(per_cyl).unwrap_or(0).min(0xFFFF) as u16;
        let cur_cap = ccyl as u32 * cheads as u32 * cspt as u32;
        w[54] = ccyl;
        w[55] = cheads;
        w[56] = cspt;
        w[57] = cur_cap as u16;
        w[58] = (cur_cap >> 16) as u16;
        w[59] = if self.multiple != 0 {
            0x0100 | self.multiple
        } else {
            0
        };
        w[60] = total as u16;
        w[61] = (total >> 16) as u16;
        w[64] = 0x0003; // PIO modes 3 and 4
        w[65..=68].fill(120);
        w[80] = 0x007E; // ATA-1 to ATA-6
        w[82] = 0x4000; // NOP supported
        w[83] = 0x5000; // word valid, FLUSH CACHE
        w[84] = 0x4000;
        w[85] = 0x4000;
        w[86] = 0x1000;
        w[87] = 0x4000;
        w[255] = 0x00A5;
        let mut bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        let sum = bytes[..511].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        bytes[511] = sum.wrapping_neg();
        bytes
    }
}

/// ATA strings: two characters per word, the first in the high byte, space padded.
fn put_string(words: &mut [u16], s: &str) {
    let mut chars = s.bytes().chain(std::iter::repeat(b' '));
    for w in words {
        let hi = chars.next().unwrap_or(b' ');
        let lo = chars.next().unwrap_or(b' ');
        *w = (hi as u16) << 8 | lo as u16;
    }
}

impl Ata {
    /// Snapshot validation (the image is checked by `snapshot`): the sector buffer, its
    /// position and the transfer in progress must agree, as the PIO paths assume.
    pub(crate) fn check(&self) -> Result<(), String> {
        let len = self.buffer.len();
        let bad_buffer = !len.is_multiple_of(SECTOR)
            || len > MAX_MULTIPLE as usize * SECTOR
            || self.buf_pos > len
            || !self.buf_pos.is_multiple_of(2);
        let bad_transfer = match self.transfer {
            Transfer::None | Transfer::Identify => false,
            Transfer::Read {
                lba,
                remaining,
                block,
            } => lba > 0x1000_0000 || remaining > 256 || !(1..=256).contains(&block),
            Transfer::Write {
                lba,
                remaining,
                block,
            } => {
                lba > 0x0FFF_FFFF
                    || !(1..=256).contains(&remaining)
                    || !(1..=256).contains(&block)
                    || len != block.min(remaining) as usize * SECTOR
            }
        };
        if bad_buffer || bad_transfer || self.multiple > MAX_MULTIPLE {
            return Err(format!(
                "ATA buffer of {len} bytes at {} / transfer {:?}",
                self.buf_pos, self.transfer
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole disk, guest writes included.
    fn img(a: &Ata) -> Vec<u8> {
        a.disk().to_vec().unwrap()
    }

    /// A source that fails every read: a host file that broke under the run.
    struct Broken;
    impl crate::devices::disk::DiskSource for Broken {
        fn len(&self) -> u64 {
            8 * SECTOR as u64
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> std::io::Result<()> {
            Err(std::io::ErrorKind::Other.into())
        }
    }

    #[test]
    fn a_failing_source_is_a_device_error_not_a_panic() {
        let mut a = Ata::new(Disk::from_source(std::sync::Arc::new(Broken)));
        lba_command(&mut a, 0x20, 2, 1); // READ SECTORS
        assert_eq!(a.status() & (ERR | DRQ), ERR);
        assert_eq!(a.read(0x1F1), UNC);
        lba_command(&mut a, 0x30, 3, 1); // WRITE SECTORS: the chunk must be read first
        for _ in 0..256 {
            a.write_data(0x1234);
        }
        assert_eq!(a.read(0x1F1), ABRT);
        assert!(!a.dirty());
    }

    fn disk(sectors: usize) -> Ata {
        let mut image = vec![0u8; sectors * SECTOR];
        for (i, b) in image.iter_mut().enumerate() {
            *b = (i / SECTOR) as u8 ^ (i as u8);
        }
        Ata::new(image)
    }

    fn lba_command(a: &mut Ata, cmd: u8, lba: u32, count: u8) {
        a.write(0x1F6, 0xE0 | (lba >> 24) as u8);
        a.write(0x1F2, count);
        a.write(0x1F3, lba as u8);
        a.write(0x1F4, (lba >> 8) as u8);
        a.write(0x1F5, (lba >> 16) as u8);
        a.write(0x1F7, cmd);
    }

    fn read_words(a: &mut Ata, n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| a.read_data().to_le_bytes()).collect()
    }

    #[test]
    fn identify_contents() {
        let mut a = disk(2048 * 10); // 10 MiB
        a.write(0x1F7, 0xEC);
        assert_eq!(a.read(0x3F6), DRDY | DSC | DRQ);
        assert!(a.irq_level());
        assert_eq!(a.read(0x1F7) & DRQ, DRQ);
        assert!(!a.irq_level());
        let id = read_words(&mut a, 256);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        let word = |i: usize| u16::from_le_bytes([id[i * 2], id[i * 2 + 1]]);
        let text = |from: usize, to: usize| -> String {
            (from..to)
                .flat_map(|i| word(i).to_be_bytes())
                .map(|b| b as char)
                .collect()
        };
        assert_eq!(text(27, 47).trim_end(), "TRAPLAB HARDDISK");
        assert_eq!(text(10, 20).trim_end(), "TL0000000001");
        assert_eq!((word(1), word(3), word(6)), (20, 16, 63));
        assert_eq!(word(60) as u32 | (word(61) as u32) << 16, 20480);
        assert_ne!(word(49) & 0x0200, 0);
        assert_eq!(word(255) & 0xFF, 0xA5);
        assert_eq!(id.iter().fold(0u8, |s, &b| s.wrapping_add(b)), 0);
    }

    #[test]
    fn read_write_round_trip_lba_and_chs() {
        let mut a = disk(100);
        lba_command(&mut a, 0x20, 5, 2);
        assert!(a.irq_level());
        let first = read_words(&mut a, 256);
        assert_eq!(&first[..], &img(&a)[5 * SECTOR..6 * SECTOR]);
        assert_eq!(a.read(0x1F7), DRDY | DSC | DRQ); // second sector ready, IRQ again
        let second = read_words(&mut a, 256);
        assert_eq!(&second[..], &img(&a)[6 * SECTOR..7 * SECTOR]);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        assert!(!a.irq_level());

        lba_command(&mut a, 0x30, 7, 2);
        assert!(!a.irq_level()); // no interrupt before the first block
        for i in 0..512u16 {
            a.write_data(i);
        }
        assert!(a.dirty());
        assert!(a.irq_level());
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        assert_eq!(&img(&a)[7 * SECTOR..7 * SECTOR + 4], &[0, 0, 1, 0]);
        assert_eq!(&img(&a)[8 * SECTOR..8 * SECTOR + 2], &[0, 1]);

        // CHS: cylinder 0, head 0, sector 8 is LBA 7.
        a.write(0x1F6, 0xA0);
        a.write(0x1F2, 1);
        a.write(0x1F3, 8);
        a.write(0x1F4, 0);
        a.write(0x1F5, 0);
        a.write(0x1F7, 0x20);
        assert_eq!(a.read_data(), 0x0000);
        assert_eq!(a.read_data(), 0x0001);
    }

    #[test]
    fn read_and_write_multiple() {
        let mut a = disk(64);
        a.write(0x1F2, 4);
        a.write(0x1F7, 0xC6);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        lba_command(&mut a, 0xC4, 0, 6);
        let block = read_words(&mut a, 4 * 256);
        assert_eq!(&block[..], &img(&a)[..4 * SECTOR]);
        assert_eq!(a.read(0x1F7) & DRQ, DRQ);
        let rest = read_words(&mut a, 2 * 256);
        assert_eq!(&rest[..], &img(&a)[4 * SECTOR..6 * SECTOR]);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
    }

    #[test]
    fn out_of_range_and_unknown_commands() {
        let mut a = disk(10);
        lba_command(&mut a, 0x20, 9, 2);
        // Sector 9 exists, sector 10 does not.
        read_words(&mut a, 256);
        assert_eq!(a.read(0x1F7), DRDY | DSC | ERR);
        assert_eq!(a.read(0x1F1), IDNF);
        assert_eq!(a.read(0x1F3), 10);
        lba_command(&mut a, 0x30, 10, 1);
        assert_eq!(a.read(0x1F7) & (ERR | DRQ), ERR);
        assert_eq!(a.read(0x1F1), IDNF);
        assert!(!a.dirty());
        a.write(0x1F7, 0xB0); // SMART: not supported
        assert_eq!(a.read(0x1F1), ABRT);
        assert_eq!(a.read(0x1F7), DRDY | DSC | ERR);
        // CHS sector 0 is not an address.
        a.write(0x1F6, 0xA0);
        a.write(0x1F3, 0);
        a.write(0x1F7, 0x20);
        assert_eq!(a.read(0x1F1), IDNF);
    }

    #[test]
    fn odd_sized_images() {
        for len in [0, 100, 513] {
            let mut a = Ata::new(vec![0; len]);
            assert_eq!(a.sectors(), (len / SECTOR) as u32);
            a.write(0x1F7, 0xEC);
            assert_eq!(read_words(&mut a, 256).len(), 512);
            lba_command(&mut a, 0x20, 1, 1);
            assert_eq!(a.read(0x1F1), IDNF);
            lba_command(&mut a, 0x30, 0, 0);
            for _ in 0..256 * 256 {
                a.write_data(0xFFFF);
            }
            assert_eq!(img(&a).len(), len);
        }
    }

    #[test]
    fn clones_share_the_image_until_written() {
        let mut a = disk(4);
        let snapshot = a.clone();
        lba_command(&mut a, 0x30, 0, 1);
        for _ in 0..256 {
            a.write_data(0xBEEF);
        }
        assert_eq!(&img(&a)[..2], &[0xEF, 0xBE]);
        assert_eq!(img(&snapshot), img(&disk(4)));
        assert!(!snapshot.dirty());
        assert_eq!(snapshot.into_disk().len(), 4 * SECTOR as u64);
        assert!(format!("{a:?}").contains("Disk(2048 bytes, 1 chunks written)"));
    }

    #[test]
    fn device_control_slave_and_reset() {
        let mut a = disk(10);
        a.write(0x3F6, 0x02); // nIEN
        a.write(0x1F7, 0xE7);
        assert!(!a.irq_level());
        a.write(0x3F6, 0x00);
        assert!(a.irq_level());
        a.write(0x1F6, 0xB0); // slave
        assert_eq!(a.read(0x1F7), 0x00);
        assert_eq!(a.read(0x3F6), 0x00);
        assert!(!a.irq_level());
        a.write(0x1F6, 0xA0);
        a.write(0x3F6, 0x04);
        assert_eq!(a.read(0x3F6), BSY);
        a.write(0x3F6, 0x00);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        assert_eq!((a.read(0x1F2), a.read(0x1F3), a.read(0x1F4)), (1, 1, 0));
        assert_eq!(a.read(0x1F1), 0x01);
    }
}
