//! Whole-machine snapshots: a versioned format, gzip-compressed and streamed both ways.
//! Restoring a snapshot and running gives exactly the same states as the original run
//! (tested). The decoded-instruction cache and TLB are not saved: they are rebuilt.
//!
//! Layout (version 9; 5 added the PAE state, 6 the `--popek-goldberg` switch after the
//! sizes, 7 the SVM state of `Core`, 8 the MMU's nested paging context, 9 the ledger and
//! cost model of `Core`, 10 the x87 FPU in `Cpu` and FERR#/IGNNE# in `Devices`, 12 the ATA
//! slave: the channel's devices and the slave disk's size, its bytes after the master's, 13
//! the APICs after the switch): `TRAPSNAP`, the version (u32 LE), then one gzip stream holding
//! the length of the state (u64 LE), the state (postcard: the core without its big
//! buffers, the breakpoints, the sizes of the buffers and the switch), then RAM, ROM and
//! disk bytes, raw. The big buffers stay out of postcard so that saving streams them (no
//! second copy of RAM) and restoring reads each straight into its final place, after its declared size was checked
//! against the limits below: a snapshot cannot make Traplab take more memory than the
//! machine it describes (a decompression bomb stops at the declared sizes).
//! Restoring validates every size, index and enum the devices and CPU rely on (`Core::check`
//! and the devices' `check`): a bad snapshot is one `SnapshotError`, never a panic later.
//! This module must not touch files: callers hand it a reader or a writer.

use crate::cpu::ctx::Core;
use crate::machine::Machine;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"TRAPSNAP";
pub const VERSION: u32 = 13;
/// Most guest RAM a machine can have (the CLI's `--mem` range ends here too).
pub const MAX_RAM: u64 = 3072 << 20;
/// Largest disk image Traplab holds (in memory).
pub const MAX_DISK: u64 = crate::boot::disk::MAX_IMAGE;
/// Largest state besides RAM, ROM and disk (registers, device queues, the debug console).
pub const MAX_STATE: u64 = 64 << 20;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("not a Traplab snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not supported (this Traplab reads version {VERSION})")]
    Version(u32),
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(io::Error),
}

/// Read errors: the decompressor reports corrupt data as I/O errors of these kinds.
fn read_err(e: io::Error) -> SnapshotError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => SnapshotError::Corrupt("truncated".into()),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            SnapshotError::Corrupt("bad compressed data (not gzip, or damaged)".into())
        }
        _ => SnapshotError::Io(e),
    }
}

fn corrupt(s: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(s.into())
}

#[derive(Serialize)]
struct StateRef<'a> {
    core: &'a Core,
    breakpoints: &'a [u32],
    ram_len: u64,
    rom_len: u64,
    disk_len: Option<u64>,
    disk2_len: Option<u64>,
    popek_goldberg: bool,
    /// The local and I/O APICs (`devices::apic`), kept out of the core so that a machine
    /// without them serializes (and hashes) as before.
    apic: Option<&'a crate::devices::Apics>,
}

#[derive(Deserialize)]
struct State {
    core: Core,
    breakpoints: Vec<u32>,
    ram_len: u64,
    rom_len: u64,
    disk_len: Option<u64>,
    disk2_len: Option<u64>,
    popek_goldberg: bool,
    apic: Option<Box<crate::devices::Apics>>,
}

/// Writes a snapshot of `m` to `w`, streaming RAM and disk (no second copy of either).
pub fn save_to<W: Write>(m: &Machine, w: W) -> io::Result<W> {
    let c = &m.core;
    let disk = c.dev.ata.as_ref().map(|a| a.disk());
    let disk2 = c.dev.ata.as_ref().and_then(|a| a.slave()).map(|d| d.disk());
    let state = postcard::to_stdvec(&StateRef {
        core: c,
        breakpoints: &m.breakpoints,
        ram_len: c.mem.ram.len() as u64,
        rom_len: c.mem.rom.len() as u64,
        disk_len: disk.map(|d| d.len()),
        disk2_len: disk2.map(|d| d.len()),
        popek_goldberg: m.popek_goldberg(),
        apic: c.dev.apic.as_deref(),
    })
    .map_err(|e| io::Error::other(e.to_string()))?;
    let mut w = w;
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
    gz.write_all(&(state.len() as u64).to_le_bytes())?;
    gz.write_all(&state)?;
    gz.write_all(&c.mem.ram)?;
    gz.write_all(&c.mem.rom)?;
    for d in [disk, disk2].into_iter().flatten() {
        d.write_to(&mut gz)?;
    }
    gz.finish()
}

/// A snapshot of `m` in memory.
pub fn save(m: &Machine) -> Vec<u8> {
    save_to(m, Vec::new()).expect("writing to a Vec cannot fail")
}

/// Reads exactly `len` bytes (already checked against a limit) into a buffer reserved at
/// that size once (no doubling while it grows); its pages are touched only as data arrives.
fn read_blob(r: &mut impl Read, len: u64, what: &str) -> Result<Vec<u8>, SnapshotError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len as usize).map_err(|_| {
        SnapshotError::Io(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("not enough memory for the {what} ({} MiB)", len >> 20),
        ))
    })?;
    r.take(len).read_to_end(&mut v).map_err(read_err)?;
    if (v.len() as u64) < len {
        return Err(corrupt(format!("truncated in the {what}")));
    }
    Ok(v)
}

/// Restores a machine from a snapshot stream.
pub fn restore_from<R: Read>(mut r: R) -> Result<Machine, SnapshotError> {
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SnapshotError::Io(e)),
        }
    }
    if got < 12 || &head[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let v = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if v != VERSION {
        return Err(SnapshotError::Version(v));
    }
    let mut gz = flate2::read::GzDecoder::new(r);
    let mut len = [0u8; 8];
    gz.read_exact(&mut len).map_err(read_err)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_STATE {
        return Err(corrupt(format!(
            "state of {len} bytes (at most {MAX_STATE} expected)"
        )));
    }
    let body = read_blob(&mut gz, len, "machine state")?;
    let st: State = postcard::from_bytes(&body)
        .map_err(|_| corrupt("the machine state does not decode (damaged, or another version)"))?;
    drop(body);
    check_sizes(&st)?;
    let mut core = st.core;
    core.dev.apic = st.apic;
    check_core(&core).map_err(corrupt)?;
    core.mem.ram = read_blob(&mut gz, st.ram_len, "RAM")?;
    core.mem.rom = read_blob(&mut gz, st.rom_len, "ROM")?;
    core.mem.ensure_code_map();
    for (k, len) in [st.disk_len, st.disk2_len].into_iter().enumerate() {
        let drive = core.dev.ata.as_mut().and_then(|a| a.drive_mut(k));
        if let (Some(n), Some(d)) = (len, drive) {
            d.set_disk(read_blob(&mut gz, n, "disk image")?.into());
        }
    }
    let mut extra = [0u8; 1];
    if gz.read(&mut extra).map_err(read_err)? != 0 {
        return Err(corrupt(
            "data after the end of the machine (its RAM, ROM and disk)",
        ));
    }
    let mut m = Machine::from_core(core);
    m.core.update_align_check(); // not saved: derived from CR0, EFLAGS and CPL
    if m.core.svm.guest {
        // The TLB is not saved, its address-space tag neither: the guest's ASID again.
        let asid = m.core.svm.ctl.asid;
        m.core.mmu.tlb.set_asid(asid);
    }
    crate::boot::bios::attach(&mut m.core); // port hooks are not saved
    m.breakpoints = st.breakpoints;
    m.set_popek_goldberg(st.popek_goldberg);
    Ok(m)
}

/// The buffer sizes against the limits and against each other.
fn check_sizes(st: &State) -> Result<(), SnapshotError> {
    if st.ram_len < 1 << 20 || st.ram_len > MAX_RAM || !st.ram_len.is_multiple_of(4096) {
        return Err(corrupt(format!(
            "RAM of {} bytes (1 MiB to {} MiB in 4 KiB pages expected)",
            st.ram_len,
            MAX_RAM >> 20
        )));
    }
    if st.rom_len != 0 && !crate::boot::rom::valid_size(st.rom_len as usize) {
        return Err(corrupt(format!("ROM of {} bytes", st.rom_len)));
    }
    let ata = st.core.dev.ata.as_ref();
    for (len, present) in [
        (st.disk_len, ata.is_some()),
        (st.disk2_len, ata.is_some_and(|a| a.slave().is_some())),
    ] {
        match (len, present) {
            (None, false) => {}
            (Some(n), true) if n <= MAX_DISK && n.is_multiple_of(512) && n >= 512 => {}
            (Some(n), true) => return Err(corrupt(format!("disk image of {n} bytes"))),
            _ => return Err(corrupt("disk size and disk device disagree")),
        }
    }
    let alias = 0x10_0000 - st.rom_len.min(128 << 10) as u32;
    if st.core.mem.rom_alias_start != alias {
        return Err(corrupt("ROM alias start does not match the ROM size"));
    }
    Ok(())
}

/// The CPU and device state a restored machine relies on (RAM, ROM and disk are checked by
/// `check_sizes`).
fn check_core(c: &Core) -> Result<(), String> {
    c.ledger.check()?;
    let cpu = &c.cpu;
    if cpu.cpl > 3 {
        return Err(format!("CPL {}", cpu.cpl));
    }
    use crate::cpu::flags;
    if cpu.flags.bits & flags::ARITH != 0 || cpu.flags.bits & !flags::VALID != 0 {
        return Err(format!("EFLAGS bits {:#x}", cpu.flags.bits));
    }
    if cpu.cr4 & !crate::cpu::state::cr4::SUPPORTED != 0 {
        return Err(format!("CR4 {:#x}", cpu.cr4));
    }
    if !cpu.pdpte.iter().all(|&e| crate::mmu::pae::pdpte_ok(e)) {
        return Err(format!("PDPTE registers {:x?}", cpu.pdpte));
    }
    if c.mmu.a20_mask != 0xFFFF_FFFF && c.mmu.a20_mask != 0xFFEF_FFFF {
        return Err(format!("A20 mask {:#x}", c.mmu.a20_mask));
    }
    let max = crate::devices::MAX_TIME_NS / crate::cpu::ctx::NS_PER_TICK;
    if c.icount > max || c.idle_ticks > max || c.stats.halted_ticks > max {
        return Err(format!(
            "clock of {} instructions and {} idle ticks",
            c.icount, c.idle_ticks
        ));
    }
    if c.stats.exceptions.len() != 32 || c.stats.interrupts.len() != 256 {
        return Err(format!(
            "statistics lists of {} and {} entries (32 and 256 expected)",
            c.stats.exceptions.len(),
            c.stats.interrupts.len()
        ));
    }
    let svm = &c.svm;
    if svm.guest && (svm.ctl.asid == 0 || svm.ctl.asid >= crate::cpu::svm::NUM_ASIDS) {
        return Err(format!("SVM guest with ASID {}", svm.ctl.asid));
    }
    if c.mmu.nested.is_some() && !(svm.guest && svm.ctl.np_enable) {
        return Err("nested paging outside a guest that enabled it".into());
    }
    c.dev.check()
}

/// Restores a machine from snapshot bytes.
pub fn restore(bytes: &[u8]) -> Result<Machine, SnapshotError> {
    restore_from(bytes)
}

/// A hash of the whole architectural state (registers, memory, devices, clock), for
/// determinism tests: FNV-1a over the serialized core, RAM, ROM and disk (and the APICs of
/// a machine that has them, after the core).
pub fn state_hash(m: &Machine) -> u64 {
    let mut body = postcard::to_stdvec(&m.core).expect("serializing plain data cannot fail");
    if let Some(a) = &m.core.dev.apic {
        body.extend(postcard::to_stdvec(a).expect("serializing plain data cannot fail"));
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let c = &m.core;
    let mut eat = |part: &[u8]| {
        for &b in part {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    for part in [&body[..], &c.mem.ram, &c.mem.rom] {
        eat(part);
    }
    let ata = c.dev.ata.as_ref();
    let disks = [
        ata.map(|a| a.disk()),
        ata.and_then(|a| a.slave()).map(|d| d.disk()),
    ];
    for d in disks.into_iter().flatten() {
        let mut buf = vec![0; crate::devices::disk::CHUNK];
        let mut off = 0;
        while off < d.len() {
            let n = (d.len() - off).min(buf.len() as u64) as usize;
            // An unreadable disk (a host file that failed) hashes as zeros there.
            if d.read(off, &mut buf[..n]).is_err() {
                buf[..n].fill(0);
            }
            eat(&buf[..n]);
            off += n as u64;
        }
    }
    h
}
