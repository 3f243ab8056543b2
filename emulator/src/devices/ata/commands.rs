//! The ATA commands one device executes (ATA/ATAPI-6 ch. 8 and 9): READ/WRITE SECTORS and
//! MULTIPLE (PIO), READ VERIFY, IDENTIFY DEVICE, INITIALIZE DEVICE PARAMETERS, SET
//! MULTIPLE MODE, READ NATIVE MAX ADDRESS, CHECK POWER MODE, EXECUTE DEVICE DIAGNOSTIC and
//! the no-data commands that only complete; everything else aborts. Also the PIO block
//! protocol (`block_done`) and the snapshot check of a device. Which device gets a command
//! is the channel's business (`super::Ata`).

use super::drive::*;

impl Drive {
    pub(super) fn command(&mut self, cmd: u8) {
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
    pub(super) fn block_done(&mut self) {
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

impl Drive {
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
