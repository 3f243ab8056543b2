//! The Samples menu's APIC entry: samples/apictest booted on a machine with the local and
//! I/O APICs and an MP table (the CLI's `--apic`) and its disk as primary master, so the
//! devices panel shows both APICs as the guest programs them. The guest waits for a line
//! typed on the serial console (its bytes become keyboard interrupts through the I/O APIC).

use crate::images::sample_path;
use crate::worker::{BootSpec, Command};

/// The menu entry.
pub const NAME: &str = "apictest (local APIC, I/O APIC, MP table: --apic)";
/// The guest and its disk, relative to the repository.
pub const IMAGE: &str = "samples/apictest/apictest.elf";
pub const DISK: &str = "samples/apictest/disk.img";

/// The guest and its disk are where the samples are.
pub fn available() -> bool {
    [IMAGE, DISK]
        .iter()
        .all(|p| std::path::Path::new(&sample_path(p)).is_file())
}

/// The command that boots it.
pub fn command() -> Command {
    Command::LoadSpec(BootSpec {
        path: sample_path(IMAGE),
        cmdline: String::new(),
        modules: Vec::new(),
        popek_goldberg: Some(false),
        apic: true,
        disk: Some(sample_path(DISK)),
    })
}
