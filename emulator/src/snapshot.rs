//! Whole-machine snapshots: a versioned, serde-based format (postcard, gzip-compressed).
//! Restoring a snapshot and running gives exactly the same states as the original run
//! (tested). The decoded-instruction cache and TLB are not saved: they are rebuilt.

use crate::cpu::ctx::Core;
use crate::machine::Machine;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"TRAPSNAP";
pub const VERSION: u32 = 3;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("not a Traplab snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not supported (this Traplab reads version {VERSION})")]
    Version(u32),
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
}

#[derive(Serialize, Deserialize)]
struct Image {
    core: Core,
    breakpoints: Vec<u32>,
}

pub fn save(m: &Machine) -> Vec<u8> {
    let img = Image {
        core: m.core.clone(),
        breakpoints: m.breakpoints.clone(),
    };
    let body = postcard::to_stdvec(&img).expect("serializing plain data cannot fail");
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    gz.write_all(&body).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

pub fn restore(bytes: &[u8]) -> Result<Machine, SnapshotError> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let v = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if v != VERSION {
        return Err(SnapshotError::Version(v));
    }
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&bytes[12..])
        .read_to_end(&mut body)
        .map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
    let img: Image =
        postcard::from_bytes(&body).map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
    let mut m = Machine::from_core(img.core);
    m.core.update_align_check(); // not saved: derived from CR0, EFLAGS and CPL
    crate::boot::bios::attach(&mut m.core); // port hooks are not saved
    m.breakpoints = img.breakpoints;
    Ok(m)
}

/// A hash of the whole architectural state (registers, memory, devices, clock), for
/// determinism tests: FNV-1a over the serialized core.
pub fn state_hash(m: &Machine) -> u64 {
    let body = postcard::to_stdvec(&m.core).expect("serializing plain data cannot fail");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
