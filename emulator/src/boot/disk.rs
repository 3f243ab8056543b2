//! Disk images and the disk BIOS (INT 13h) for the built-in BIOS. Owns the rules for a disk
//! image (a multiple of 512 bytes, at least one sector), the BIOS view of the ATA primary
//! master as drive 80h (the ATA device's CHS geometry, LBA extensions), and transfers
//! between the image and guest memory. Reads copy from the device's disk; writes go through
//! the device's ATA registers (WRITE SECTORS), so the device marks the image dirty and the
//! front end can write it back. It touches host files only through `FileSource`, which
//! opens a disk image read-only for a front end (it never writes one).
//!
//! Status codes (AH, also kept at 0040:0074): 00h ok, 01h bad command or drive, 04h sector
//! not found, 0Ch unsupported track, 09h (not used: no DMA boundary), 40h seek failed,
//! 80h timeout (no disk), BBh undefined error.

use super::bios::{bda, lin, read_lin, set_cf, unknown, write_lin, AH, AL, BH, BL, CH, CL, DH, DL};
use super::BootError;
use crate::cpu::ctx::Core;
use crate::devices::disk::{Disk, DiskSource};
use crate::mmu::segment::{DS, ES};

pub const SECTOR: usize = 512;
/// The BIOS drive number of the ATA primary master.
pub const DRIVE: u32 = 0x80;

/// Largest disk image (2 GiB: a 28-bit LBA reaches 128 GiB, but a snapshot carries the
/// whole disk and a restored one is held in memory).
pub const MAX_IMAGE: u64 = 2 << 30;

/// Checks a disk image: a whole number of 512-byte sectors, at least one, at most 2 GiB.
pub fn check_image(img: &[u8]) -> Result<(), BootError> {
    check_size(img.len() as u64)
}

/// Checks a disk image's size (before reading it).
pub fn check_size(len: u64) -> Result<(), BootError> {
    if len < SECTOR as u64 || !len.is_multiple_of(SECTOR as u64) {
        return Err(BootError::Other(format!(
            "a disk image must be a multiple of 512 bytes and at least 512 bytes; this one is {len} bytes"
        )));
    }
    if len > MAX_IMAGE {
        return Err(BootError::Other(format!(
            "a disk image can have at most 2 GiB (snapshots carry the whole disk); this one is {len} bytes"
        )));
    }
    Ok(())
}

/// True for a disk whose first sector ends in the 55h AAh boot signature.
pub fn disk_has_boot_signature(d: &Disk) -> bool {
    let mut s = [0u8; SECTOR];
    d.len().is_multiple_of(SECTOR as u64) && d.read(0, &mut s).is_ok() && s[510..] == [0x55, 0xAA]
}

/// True for an image whose first sector ends in the 55h AAh boot signature.
pub fn has_boot_signature(img: &[u8]) -> bool {
    img.len() >= SECTOR && img.len().is_multiple_of(SECTOR) && img[510] == 0x55 && img[511] == 0xAA
}

/// A disk image read from a host file as the guest needs its sectors (the file is never
/// written here: guest writes stay in the `Disk` overlay). The file's length is taken when
/// it is opened; a file that shrinks or fails later gives the guest a disk error.
pub struct FileSource {
    file: std::sync::Mutex<std::fs::File>,
    len: u64,
}

impl FileSource {
    /// Opens `path` read-only and checks its size as a disk image.
    pub fn open(path: &std::path::Path) -> Result<FileSource, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
        if !meta.is_file() {
            return Err("not a regular file (a disk image is a file)".into());
        }
        check_size(meta.len()).map_err(|e| e.to_string())?;
        Ok(FileSource {
            file: std::sync::Mutex::new(file),
            len: meta.len(),
        })
    }
}

impl DiskSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        // A poisoned lock only means another reader panicked mid-read; the file is fine.
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
}

/// The drive's BIOS geometry (cylinders, heads, sectors per track); at least one cylinder.
fn geometry(c: &Core) -> Option<(u32, u32, u32)> {
    let (cyl, heads, spt) = c.dev.ata.as_ref()?.geometry();
    Some(((cyl as u32).clamp(1, 1024), heads as u32, spt as u32))
}

fn sectors(c: &Core) -> u64 {
    c.dev.ata.as_ref().map_or(0, |a| a.sectors() as u64)
}

fn finish(c: &mut Core, status: u32) {
    c.write_phys(bda::DISK_STATUS, 1, status);
    c.cpu.set8(AH, status);
    set_cf(c, status != 0);
}

/// Copies `n` sectors from `lba` to linear `buf`; returns how many were copied.
fn read_sectors(c: &mut Core, lba: u64, n: u32, buf: u32) -> u32 {
    for k in 0..n {
        let Some(ata) = c.dev.ata.as_ref() else {
            return k;
        };
        let s = lba + k as u64;
        let mut data = vec![0; SECTOR];
        if s >= ata.sectors() as u64 || ata.disk().read(s * SECTOR as u64, &mut data).is_err() {
            return k;
        }
        let base = buf.wrapping_add(k * SECTOR as u32);
        for (i, w) in data.chunks_exact(4).enumerate() {
            let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            if !write_lin(c, base.wrapping_add(4 * i as u32), 4, v) {
                return k;
            }
        }
    }
    n
}

/// Writes `n` sectors from linear `buf` to `lba` through the ATA registers.
fn write_sectors(c: &mut Core, lba: u64, n: u32, buf: u32) -> u32 {
    let now = c.now_ns();
    for k in 0..n {
        let s = lba + k as u64;
        if s >= sectors(c) || s > 0x0FFF_FFFF {
            return k;
        }
        let s = s as u32;
        for (port, v) in [
            (0x1F6u16, 0xE0 | (s >> 24) & 0x0F),
            (0x1F2, 1),
            (0x1F3, s & 0xFF),
            (0x1F4, (s >> 8) & 0xFF),
            (0x1F5, (s >> 16) & 0xFF),
            (0x1F7, 0x30),
        ] {
            c.dev.io_write(port, 1, v, now);
        }
        let base = buf.wrapping_add(k * SECTOR as u32);
        for i in 0..(SECTOR as u32 / 2) {
            let w = read_lin(c, base.wrapping_add(2 * i), 2);
            c.dev.io_write(0x1F0, 2, w, now);
        }
        // Reading the status acknowledges the device's interrupt.
        if c.dev.io_read(0x1F7, 1, now) & 0x01 != 0 {
            return k;
        }
    }
    n
}

/// CHS from CX/DH (cylinder bits 9-8 in CL bits 7-6) to an LBA, if the address exists.
fn chs_lba(c: &Core) -> Option<u64> {
    let (cyls, heads, spt) = geometry(c)?;
    let cl = c.cpu.get8(CL);
    let cyl = c.cpu.get8(CH) | (cl & 0xC0) << 2;
    let (head, sec) = (c.cpu.get8(DH), cl & 0x3F);
    if sec == 0 || sec > spt || head >= heads || cyl >= cyls {
        return None;
    }
    Some(((cyl * heads + head) * spt + sec - 1) as u64)
}

/// The disk address packet at DS:SI: (count, linear buffer, LBA).
fn dap(c: &mut Core) -> (u32, u32, u64) {
    let a = lin(c, DS, c.cpu.gpr[6]);
    let count = read_lin(c, a.wrapping_add(2), 2);
    let off = read_lin(c, a.wrapping_add(4), 2);
    let seg = read_lin(c, a.wrapping_add(6), 2);
    let lo = read_lin(c, a.wrapping_add(8), 4) as u64;
    let hi = read_lin(c, a.wrapping_add(12), 4) as u64;
    (count, (seg << 4).wrapping_add(off), hi << 32 | lo)
}

fn set_dap_count(c: &mut Core, n: u32) {
    let a = lin(c, DS, c.cpu.gpr[6]);
    write_lin(c, a.wrapping_add(2), 2, n);
}

/// INT 13h for drive 80h.
pub fn int13(c: &mut Core) {
    let ah = c.cpu.get8(AH);
    if c.cpu.get8(DL) != DRIVE || c.dev.ata.is_none() {
        // No such drive (diskettes, a second disk, or no disk at all).
        return finish(c, if ah == 0x15 { 0 } else { 0x01 });
    }
    match ah {
        0x00 | 0x0D => finish(c, 0),
        0x01 => {
            let s = c.mem.read(bda::DISK_STATUS, 1);
            c.cpu.set8(AH, s);
            set_cf(c, s != 0);
        }
        0x02..=0x04 => {
            let n = c.cpu.get8(AL);
            let Some(lba) = chs_lba(c).filter(|&l| n > 0 && l + n as u64 <= sectors(c)) else {
                c.cpu.set8(AL, 0);
                return finish(c, 0x04);
            };
            let buf = lin(c, ES, c.cpu.gpr[3]);
            let done = match ah {
                0x02 => read_sectors(c, lba, n, buf),
                0x03 => write_sectors(c, lba, n, buf),
                _ => n,
            };
            c.cpu.set8(AL, done);
            finish(c, if done == n { 0 } else { 0xBB });
        }
        0x08 => {
            let (cyls, heads, spt) = geometry(c).unwrap_or((1, 1, 1));
            let max_cyl = cyls - 1;
            c.cpu.set8(CH, max_cyl & 0xFF);
            c.cpu.set8(CL, spt & 0x3F | (max_cyl >> 2) & 0xC0);
            c.cpu.set8(DH, heads - 1);
            c.cpu.set8(DL, 1);
            c.cpu.set8(BL, 0);
            c.cpu.set8(BH, 0);
            finish(c, 0);
        }
        0x0C | 0x10 | 0x11 | 0x14 => finish(c, 0), // seek, ready, recalibrate, diagnostics
        0x15 => {
            let n = sectors(c).min(u32::MAX as u64) as u32;
            c.cpu.set16(1, n >> 16);
            c.cpu.set16(2, n & 0xFFFF);
            c.write_phys(bda::DISK_STATUS, 1, 0);
            c.cpu.set8(AH, 3); // a hard disk
            set_cf(c, false);
        }
        0x41 if c.cpu.get16(3) == 0x55AA => {
            c.cpu.set16(3, 0xAA55);
            c.cpu.set8(AH, 0x30); // EDD 3.0
            c.cpu.set16(1, 0x0005); // packet access (42h-44h, 47h, 48h) and EDD (48h)
            set_cf(c, false);
        }
        0x42..=0x44 => {
            let (n, buf, lba) = dap(c);
            if lba + n as u64 > sectors(c) {
                set_dap_count(c, 0);
                return finish(c, 0x04);
            }
            let done = match ah {
                0x42 => read_sectors(c, lba, n, buf),
                0x43 => write_sectors(c, lba, n, buf),
                _ => n,
            };
            set_dap_count(c, done);
            finish(c, if done == n { 0 } else { 0xBB });
        }
        0x47 => finish(c, 0),
        0x48 => edd_params(c),
        _ => unknown(c, 0x13),
    }
}

/// AH=48h: drive parameters into the buffer at DS:SI (EDD 1.x layout, 26 bytes).
fn edd_params(c: &mut Core) {
    let a = lin(c, DS, c.cpu.gpr[6]);
    if read_lin(c, a, 2) < 0x1A {
        return finish(c, 0x01);
    }
    let (cyls, heads, spt) = geometry(c).unwrap_or((1, 1, 1));
    let n = sectors(c);
    for (off, size, v) in [
        (0u32, 2u8, 0x1Au32),
        (2, 2, 0x0002), // CHS information valid
        (4, 4, cyls),
        (8, 4, heads),
        (12, 4, spt),
        (16, 4, n as u32),
        (20, 4, (n >> 32) as u32),
        (24, 2, SECTOR as u32),
    ] {
        write_lin(c, a.wrapping_add(off), size, v);
    }
    finish(c, 0);
}
