//! Hostile snapshots (issue 19): corrupt, truncated, mutated and bomb snapshots must give one
//! `SnapshotError` and never a panic, and a restored machine must run without panicking.
//! The snapshots are made here from the committed samples (minios with a disk attached),
//! then taken apart (`unpack`), edited and put back together (`pack`).

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use proptest::prelude::*;
use std::io::{Read, Write};
use traplab::boot::{boot, BootKind};
use traplab::devices::DevicesConfig;
use traplab::machine::{Machine, MachineConfig};
use traplab::snapshot::{restore, save, SnapshotError, MAGIC, VERSION};

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../samples/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("sample image")
}

/// minios with 4 MiB of RAM and a small disk, after it has run a little.
fn machine() -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![],
    };
    let cfg = MachineConfig {
        ram_bytes: 4 << 20,
        devices: DevicesConfig {
            disk: Some(sample("bootsector/bootsector.img").into()),
            ..Default::default()
        },
    };
    let mut m = boot(cfg, &sample("minios/minios.elf"), &kind).expect("boots");
    m.core.dev.push_serial_input(b"ps\n");
    m.run(300_000);
    m
}

/// A snapshot's parts: the postcard state and the raw bytes after it (RAM, ROM, disk).
fn unpack(snap: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    GzDecoder::new(&snap[12..]).read_to_end(&mut body).unwrap();
    let n = u64::from_le_bytes(body[..8].try_into().unwrap()) as usize;
    (body[8..8 + n].to_vec(), body[8 + n..].to_vec())
}

fn pack_raw(version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    let mut gz = GzEncoder::new(out, Compression::fast());
    gz.write_all(body).unwrap();
    gz.finish().unwrap()
}

fn pack(state: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut body = (state.len() as u64).to_le_bytes().to_vec();
    body.extend_from_slice(state);
    body.extend_from_slice(rest);
    pack_raw(VERSION, &body)
}

/// Restores and, if that works, runs a little: either must end cleanly.
fn restore_and_run(snap: &[u8]) -> Result<(), SnapshotError> {
    let mut m = restore(snap)?;
    m.run(20_000);
    m.core.dev.take_serial_output();
    let _ = m.core.dev.text_screen(&m.core.mem.ram).to_string_lossy();
    Ok(())
}

fn corrupt_msg(r: Result<(), SnapshotError>) -> String {
    match r {
        Err(SnapshotError::Corrupt(s)) => s,
        Err(e) => panic!("expected a corrupt-snapshot error, got {e}"),
        Ok(()) => panic!("a bad snapshot was accepted"),
    }
}

#[test]
fn round_trip_through_the_parts() {
    let m = machine();
    let snap = save(&m);
    let (state, rest) = unpack(&snap);
    assert_eq!(rest.len(), (4 << 20) + 512, "RAM and disk follow the state");
    let back = restore(&pack(&state, &rest)).expect("restores");
    assert_eq!(
        traplab::snapshot::state_hash(&back),
        traplab::snapshot::state_hash(&m)
    );
}

/// The reproducer (a version-2 header over a gzip of zeros) and the same zeros
/// under the current version: errors, no panic in `devices/cmos.rs`.
#[test]
fn zeroed_payload_is_an_error() {
    let zeros = vec![0u8; 1000];
    assert!(matches!(
        restore_and_run(&pack_raw(2, &zeros)),
        Err(SnapshotError::Version(2))
    ));
    corrupt_msg(restore_and_run(&pack_raw(VERSION, &zeros)));
    // A state of zeros with a plausible length: every size in it is 0.
    let mut body = 600u64.to_le_bytes().to_vec();
    body.extend_from_slice(&[0u8; 600]);
    body.extend_from_slice(&vec![0u8; 4 << 20]);
    corrupt_msg(restore_and_run(&pack_raw(VERSION, &body)));
}

/// The CMOS with no RAM (what the zeroed payload decoded to) is rejected on restore.
#[test]
fn cmos_without_ram_is_an_error() {
    let m = machine();
    let (state, rest) = unpack(&save(&m));
    let cmos = postcard::to_stdvec(&m.core.dev.cmos).unwrap();
    let at = state
        .windows(cmos.len())
        .position(|w| w == &cmos[..])
        .expect("the CMOS is in the state");
    // index, NMI mask, then the RAM's length (128: varint 80 01) and its bytes.
    assert_eq!(&cmos[2..4], &[0x80, 0x01]);
    let mut bad = state[..at + 2].to_vec();
    bad.push(0); // an empty CMOS RAM
    bad.extend_from_slice(&state[at + 4 + 128..]);
    let msg = corrupt_msg(restore_and_run(&pack(&bad, &rest)));
    assert!(msg.contains("CMOS"), "{msg}");
}

/// A statistics list shorter than the vectors it counts is rejected (it panicked in
/// `cpu/interrupt.rs` at the first interrupt).
#[test]
fn short_statistics_list_is_an_error() {
    let mut m = machine();
    m.core.stats.interrupts.truncate(3);
    let msg = corrupt_msg(restore_and_run(&save(&m)));
    assert!(msg.contains("statistics"), "{msg}");
    let mut m = machine();
    m.core.stats.exceptions.clear();
    corrupt_msg(restore_and_run(&save(&m)));
}

/// Data beyond the declared sizes is not read: a bomb of a gigabyte of zeros after a
/// small machine stops at the first extra byte.
#[test]
fn decompression_bomb_stops_at_the_declared_sizes() {
    let m = machine();
    let (state, rest) = unpack(&save(&m));
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    let mut gz = GzEncoder::new(out, Compression::fast());
    gz.write_all(&(state.len() as u64).to_le_bytes()).unwrap();
    gz.write_all(&state).unwrap();
    gz.write_all(&rest).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&chunk).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 8 << 20);
    let t = std::time::Instant::now();
    let msg = corrupt_msg(restore_and_run(&bomb));
    assert!(msg.contains("after"), "{msg}");
    assert!(t.elapsed().as_secs() < 10);
    // A state length beyond the limit is refused before anything is allocated.
    let mut body = (1u64 << 40).to_le_bytes().to_vec();
    body.extend_from_slice(&[0u8; 64]);
    let msg = corrupt_msg(restore_and_run(&pack_raw(VERSION, &body)));
    assert!(msg.contains("state of"), "{msg}");
}

#[test]
fn truncations_are_errors() {
    let snap = save(&machine());
    for cut in [0, 5, 11, 12, 20, 100, snap.len() / 2, snap.len() - 1] {
        assert!(restore_and_run(&snap[..cut]).is_err(), "cut at {cut}");
    }
    let (state, rest) = unpack(&snap);
    for cut in [0, 1, state.len() / 3, state.len() - 1] {
        assert!(restore_and_run(&pack(&state[..cut], &rest)).is_err());
    }
    for cut in [0, 4096, rest.len() - 1] {
        assert!(restore_and_run(&pack(&state, &rest[..cut])).is_err());
    }
}

fn snapshot_parts() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static PARTS: std::sync::OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    PARTS.get_or_init(|| {
        let snap = save(&machine());
        let (state, rest) = unpack(&snap);
        (snap, state, rest)
    })
}

/// Edits of the state: byte flips, a byte set to an extreme, insertions and deletions
/// (which shift every later field and change varint lengths).
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
}

fn apply(state: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut s = state.to_vec();
    for e in edits {
        let n = s.len().max(1);
        match *e {
            Edit::Flip(i, b) => {
                if let Some(x) = s.get_mut(i % n) {
                    *x ^= b | 1;
                }
            }
            Edit::Set(i, b) => {
                if let Some(x) = s.get_mut(i % n) {
                    *x = b;
                }
            }
            Edit::Insert(i, b) => s.insert(i % (s.len() + 1), b),
            Edit::Delete(i, k) => {
                let i = i % n;
                let end = (i + k % 8 + 1).min(s.len());
                if i < end {
                    s.drain(i..end);
                }
            }
        }
    }
    s
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![Just(0u8), Just(0x7F), Just(0x80), Just(0xFF)]
        )
            .prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, k)| Edit::Delete(i, k)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Mutated states restore to an error or to a machine that runs; never a panic.
    #[test]
    fn mutated_states_never_panic(edits in prop::collection::vec(edit(), 1..4)) {
        let (_, state, rest) = snapshot_parts();
        let _ = restore_and_run(&pack(&apply(state, &edits), rest));
    }

    /// Mutated snapshot files (the compressed bytes and the header) are errors or run.
    #[test]
    fn mutated_files_never_panic(edits in prop::collection::vec(edit(), 1..3)) {
        let (snap, _, _) = snapshot_parts();
        let _ = restore_and_run(&apply(snap, &edits));
    }
}
