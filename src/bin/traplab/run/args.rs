//! `traplab run`'s command line: the options (`RunArgs`) and how an image is booted
//! (`BootMode`). Only declarations and value parsers live here: what the options do is
//! in `load` (building the machine), `outputs` (files written at the end), `input`
//! (serial input) and `run` (the run loop and its report). Adding a flag: declare it
//! here, document it in the README's CLI section, and if it conflicts with
//! `--load-snapshot` add it to that option's `conflicts_with_all`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BootMode {
    /// By content (`traplab::boot::detect`): a Multiboot kernel, a Linux bzImage, a disk whose first sector
    /// ends in 55 AA, or a ROM image; anything else is an error that says why.
    Auto,
    /// A Multiboot v1 kernel.
    Multiboot,
    /// A Linux bzImage, by the 32-bit Linux/x86 boot protocol.
    Linux,
    /// A PC boot from disk with the built-in BIOS: sector 0 at 0000:7C00 (the image, or
    /// --disk).
    Disk,
    /// A raw binary loaded at --load-addr and entered in 32-bit protected mode.
    Flat,
    /// A raw binary loaded at --load-addr and entered in real mode.
    FlatReal,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The image to boot: a Multiboot ELF, a Linux bzImage, or a raw disk image / boot sector.
    pub image: Option<PathBuf>,
    /// How to boot the image.
    #[arg(long, value_enum, default_value = "auto")]
    pub boot: BootMode,
    /// Disk image for the ATA primary master (BIOS drive 80h); a multiple of 512 bytes.
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// Disk image for the ATA primary slave (device 1 on the same channel; no BIOS drive
    /// number: guests reach it through their own ATA driver). Needs a master: --disk FILE
    /// or a disk IMAGE.
    #[arg(long, value_name = "FILE")]
    pub disk2: Option<PathBuf>,
    /// Write the disk images (--disk, --disk2 or a disk IMAGE) back to their files at exit
    /// if the guest wrote to them (otherwise guest writes stay in memory).
    #[arg(long)]
    pub writable: bool,
    /// Firmware ROM image (64-256 KiB, a multiple of 64 KiB) mapped below 4 GiB and 1 MiB;
    /// the CPU starts at its reset vector F000:FFF0. No IMAGE is needed.
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub bios: Option<PathBuf>,
    /// Print the VGA text screen on stderr when the run stops.
    #[arg(long)]
    pub screen: bool,
    /// Guest RAM in MiB (2..=3072).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=3072))]
    pub mem: u32,
    /// Kernel command line passed through Multiboot or the Linux boot protocol.
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// Initial ramdisk for a Linux kernel (e.g. a cpio archive, gzip-compressed or not).
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Multiboot module (initial ramdisk); may be repeated.
    #[arg(long = "module")]
    pub modules: Vec<PathBuf>,
    /// Load address for --boot flat/flat-real (hex with 0x or decimal).
    #[arg(long, default_value = "0x100000", value_parser = parse_u32)]
    pub load_addr: u32,
    /// Stop after this many instructions (status 124), or once the CPU has waited this many
    /// ticks (10 ns of virtual time each) in HLT, since a halted CPU retires nothing.
    /// Default: 10,000,000,000, or no limit in an interactive terminal session.
    #[arg(long)]
    pub max_instructions: Option<u64>,
    /// Print one line per instruction: count, CS:EIP, bytes, disassembly, changed registers.
    #[arg(long)]
    pub trace: bool,
    /// Print every port access (direction, port, width, value) on stderr.
    #[arg(long)]
    pub trace_io: bool,
    /// Print statistics at the end (on stderr).
    #[arg(long)]
    pub stats: bool,
    /// Input for COM1 instead of stdin (a file).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Hold the serial input (--input or piped stdin) until the guest's serial output
    /// contains TEXT (e.g. a prompt): bytes sent before a driver is ready are lost, as on
    /// a real line.
    #[arg(long, value_name = "TEXT")]
    pub wait_for: Option<String>,
    /// Save a snapshot to FILE when the run stops (with --snapshot-at: after N instructions).
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
    /// With --save-snapshot: stop after exactly N instructions and save.
    #[arg(long, value_name = "N")]
    pub snapshot_at: Option<u64>,
    /// Resume from a snapshot instead of booting an image. The snapshot holds the whole
    /// machine (RAM, disks, devices), so IMAGE, --boot, --disk, --disk2, --writable, --bios, --mem,
    /// --cmdline, --initrd, --module, --load-addr, --popek-goldberg, --apic and --cost cannot be
    /// given with it.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "image", "boot", "disk", "disk2", "writable", "bios", "mem", "cmdline", "initrd", "modules",
        "load_addr", "popek_goldberg", "apic", "costs",
    ])]
    pub load_snapshot: Option<PathBuf>,
    /// Overwrite an existing snapshot file.
    #[arg(long)]
    pub force: bool,
    /// Print the final state hash (registers, memory, devices) on stderr.
    #[arg(long)]
    pub hash: bool,
    /// A hypothetical virtualizable CPU: the sensitive-but-unprivileged instructions (SGDT,
    /// PUSHF, POPF, MOV Sreg, far CALL/JMP/RET, INT n, IRET...) raise #GP(0) at CPL > 0.
    #[arg(long)]
    pub popek_goldberg: bool,
    /// A multiprocessor-era PC: a local APIC (0xFEE00000), an I/O APIC (0xFEC00000) and,
    /// for Multiboot and Linux kernels, an MP table in the BIOS area (MP spec 1.4).
    /// Without it the machine is an ISA PC whose only interrupt controllers are the 8259s.
    #[arg(long)]
    pub apic: bool,
    /// Cost model: charge NS nanoseconds of virtual time for each event NAME (vmrun,
    /// vmexit, nested_ref); may be repeated. Defaults and why: README "Cost model".
    #[arg(long = "cost", value_name = "NAME=NS")]
    pub costs: Vec<String>,
    /// Make guest port GUESTPORT reachable from the host at 127.0.0.1:HOSTPORT (loopback
    /// only; HOSTPORT 0 picks a free port), through the host-socket device: like
    /// `docker run -p`. May be repeated. The run then has no default budget and keeps to the
    /// wall clock. minios hands the connections to the listener on GUESTPORT.
    #[arg(long = "publish", value_name = "HOSTPORT:GUESTPORT")]
    pub publish: Vec<String>,
    #[command(flatten)]
    pub gdb: crate::gdb::GdbArgs,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    r.map_err(|_| format!("not a 32-bit number: {s}"))
}
