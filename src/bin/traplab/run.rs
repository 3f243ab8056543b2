//! `traplab run IMAGE`: boot and run headless. COM1 and port 0xE9 go to stdout; stdin goes
//! to COM1 (piped input is fed one line at a time, when the guest has consumed the last).
//! Exit status: the guest's (port 0xF4: (v << 1) | 1), 0 when it halts for good,
//! 124 when the instruction budget is spent, 125 on a triple fault, 2 on bad input.
//! Boot paths: Multiboot kernels, Linux bzImages (`--initrd`, `--cmdline`), raw boot sectors / disk images with the built-in BIOS
//! (`--boot disk`, or detected from the 55AA signature), `--bios ROM` at the reset vector,
//! flat binaries. `--disk FILE` attaches an ATA disk; `--writable` saves guest writes to it.
//! `--publish HOSTPORT:GUESTPORT` attaches the host-socket device (publish.rs).

use crate::report::{print_io, print_notes, state_dump, stats_text, Tracer};
use crate::wait_for::WaitFor;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use traplab::boot::{self, multiboot::Module, BootKind, ImageKind};
use traplab::devices::disk::Disk;
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::snapshot;

pub const STATUS_BUDGET: u8 = 124;
pub const STATUS_TRIPLE: u8 = 125;
pub const STATUS_RESET: u8 = 126;
/// Context of write errors on the guest's output (a closed pipe says where it was).
const STDOUT: &str = "cannot write to standard output";

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
    /// Write the disk image back to its file at exit if the guest wrote to it (otherwise
    /// guest writes stay in memory).
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
    /// machine (RAM, disk, devices), so IMAGE, --boot, --disk, --writable, --bios, --mem,
    /// --cmdline, --initrd, --module, --load-addr, --popek-goldberg and --cost cannot be given with it.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "image", "boot", "disk", "writable", "bios", "mem", "cmdline", "initrd", "modules",
        "load_addr", "popek_goldberg", "costs",
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

/// Reads the file given to option `opt` (e.g. "--disk", or "IMAGE"), at most `max` bytes:
/// a longer file (or an endless one, like /dev/zero or a pipe) is an error after `max + 1`
/// bytes, never a read of everything. Errors name the option and the file.
fn read_file(p: &Path, opt: &str, max: u64, what: &str) -> Result<Vec<u8>> {
    read_file_by_head(p, opt, |_| max, what)
}

/// `read_file` with the limit chosen from the file's first 8 KiB (what the file is).
fn read_file_by_head(
    p: &Path,
    opt: &str,
    max: impl Fn(&[u8]) -> u64,
    what: &str,
) -> Result<Vec<u8>> {
    let name = || format!("{opt} {}", p.display());
    let f = std::fs::File::open(p).with_context(|| format!("{}: cannot open", name()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("{}: cannot open", name()))?;
    if meta.is_dir() {
        bail!("{}: is a directory", name());
    }
    let mut f = std::io::BufReader::new(f);
    let mut data = Vec::new();
    (&mut f)
        .take(8192)
        .read_to_end(&mut data)
        .with_context(|| format!("{}: cannot read", name()))?;
    let max = max(&data);
    if meta.is_file() && meta.len() > max {
        bail!(
            "{}: {} bytes is too big for {what} (at most {})",
            name(),
            meta.len(),
            size_text(max)
        );
    }
    f.take((max + 1).saturating_sub(data.len() as u64))
        .read_to_end(&mut data)
        .with_context(|| format!("{}: cannot read", name()))?;
    if data.len() as u64 > max {
        bail!(
            "{}: more than {} is too big for {what}",
            name(),
            size_text(max)
        );
    }
    Ok(data)
}

/// True when IMAGE is a regular file to boot as a disk: `--boot disk`, or `--boot auto`
/// and its first 8 KiB say boot sector (`detect_head`, the rule `detect` applies first)
/// in a file of whole sectors (otherwise `detect` on the whole file explains what is wrong).
fn is_disk_image(p: &Path, mode: BootMode) -> Result<bool> {
    let meta = std::fs::metadata(p).ok().filter(|m| m.is_file());
    Ok(
        meta.is_some_and(|m| m.len().is_multiple_of(512) || mode == BootMode::Disk)
            && match mode {
                BootMode::Disk => true,
                BootMode::Auto => {
                    let mut head = Vec::new();
                    let f = std::fs::File::open(p)
                        .with_context(|| format!("IMAGE {}: cannot open", p.display()))?;
                    f.take(8192)
                        .read_to_end(&mut head)
                        .with_context(|| format!("IMAGE {}: cannot read", p.display()))?;
                    boot::detect::detect_head(&head) == Some(ImageKind::BootSector)
                }
                _ => false,
            },
    )
}

/// The disk given to `opt`: a regular file is read as the guest needs its sectors (guest
/// writes stay in memory until `--writable` saves them; the file is never written in
/// place); anything else (a pipe) is read whole, up to the disk limit.
fn open_disk(p: &Path, opt: &str) -> Result<Disk> {
    let name = || format!("{opt} {}", p.display());
    if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
        let src =
            boot::disk::FileSource::open(p).map_err(|e| anyhow::anyhow!("{}: {e}", name()))?;
        return Ok(Disk::from_source(std::sync::Arc::new(src)));
    }
    let d = read_file(p, opt, boot::disk::MAX_IMAGE, "a disk image")?;
    boot::disk::check_image(&d).with_context(name)?;
    Ok(d.into())
}

fn size_text(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

pub fn build_machine(a: &RunArgs) -> Result<Machine> {
    if let Some(p) = &a.load_snapshot {
        return load_snapshot(p);
    }
    let ram = (a.mem as u64) << 20;
    let disk = match &a.disk {
        Some(p) => Some(open_disk(p, "--disk")?),
        None => None,
    };
    let mut cfg = MachineConfig {
        ram_bytes: ram as usize,
        devices: traplab::devices::DevicesConfig {
            disk,
            ..Default::default()
        },
    };
    if let Some(p) = &a.bios {
        let rom = read_file(p, "--bios", boot::rom::MAX_ROM as u64, "a ROM image")?;
        return boot::boot(cfg, &rom, &BootKind::Firmware)
            .with_context(|| format!("--bios {}", p.display()));
    }
    // An IMAGE that is the disk to boot is read as the guest needs its sectors, not whole.
    let mut image_disk = None;
    let (img_path, opt, mut image) = match (&a.image, &a.disk) {
        (Some(p), None) if is_disk_image(p, a.boot)? => {
            image_disk = Some(open_disk(p, "IMAGE")?);
            let head = image_disk.as_ref().map_or(Ok(Vec::new()), |d| {
                let mut h = vec![0; d.len().min(8192) as usize];
                d.read(0, &mut h).map(|()| h)
            });
            let head = head.with_context(|| format!("IMAGE {}: cannot read", p.display()))?;
            (p, "IMAGE", head)
        }
        (Some(p), _) => {
            // What the image can be bounds how much of it is read: a disk image up to the
            // disk limit, a kernel or flat binary up to what fits in RAM (+ 64 MiB of
            // sections that are not loaded, for kernels).
            let max = |head: &[u8]| match a.boot {
                BootMode::Auto
                    if boot::detect::detect_head(head) == Some(ImageKind::BootSector) =>
                {
                    boot::disk::MAX_IMAGE
                }
                BootMode::Disk => boot::disk::MAX_IMAGE,
                BootMode::Auto | BootMode::Multiboot | BootMode::Linux => ram + (64 << 20),
                BootMode::Flat | BootMode::FlatReal => ram,
            };
            let what = "this kind of image";
            (p, "IMAGE", read_file_by_head(p, "IMAGE", max, what)?)
        }
        (None, Some(p)) if a.boot == BootMode::Disk => (p, "--disk", Vec::new()),
        _ => bail!("no image given (try `traplab run samples/hello/hello.elf`)"),
    };
    let mode = match a.boot {
        BootMode::Auto => match boot::detect(&image) {
            Ok(ImageKind::Multiboot) => BootMode::Multiboot,
            Ok(ImageKind::Linux) => BootMode::Linux,
            Ok(ImageKind::BootSector) => BootMode::Disk,
            Ok(ImageKind::Rom) => {
                if !a.modules.is_empty() {
                    bail!(
                        "--module is for Multiboot kernels; {} is a ROM image",
                        img_path.display()
                    );
                }
                return boot::boot(cfg, &image, &BootKind::Firmware)
                    .with_context(|| format!("{opt} {}", img_path.display()));
            }
            Err(e) => bail!("{opt} {}: {e}", img_path.display()),
        },
        m => m,
    };
    let kind = match mode {
        BootMode::Auto | BootMode::Disk => {
            if a.image.is_some() && a.disk.is_some() {
                bail!(
                    "IMAGE {} is a disk to boot, and --disk {} another: give the disk once",
                    img_path.display(),
                    a.disk
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                );
            }
            if let Some(d) = image_disk.take() {
                cfg.devices.disk = Some(d);
            } else if cfg.devices.disk.is_none() {
                // The image is the disk: hand the one copy over to the machine.
                boot::disk::check_image(&image)
                    .with_context(|| format!("{opt} {}", img_path.display()))?;
                cfg.devices.disk = Some(std::mem::take(&mut image).into());
            }
            BootKind::Disk
        }
        BootMode::Multiboot => {
            // Modules must fit in RAM together: that bounds what is read of them.
            let mut modules = Vec::new();
            let mut left = ram;
            for p in &a.modules {
                let what = "the modules (together they must fit in RAM)";
                let data = read_file(p, "--module", left, what)?;
                left -= data.len() as u64;
                modules.push(Module {
                    data,
                    string: p.display().to_string(),
                });
            }
            BootKind::Multiboot {
                cmdline: a.cmdline.clone(),
                modules,
            }
        }
        BootMode::Linux => {
            let initrd = match &a.initrd {
                Some(p) => read_file(p, "--initrd", ram, "an initrd (it must fit in RAM)")?,
                None => Vec::new(),
            };
            BootKind::Linux {
                cmdline: a.cmdline.clone(),
                initrd,
            }
        }
        BootMode::FlatReal if a.load_addr > 0xF_FFFF => bail!(
            "--load-addr {:#x}: --boot flat-real needs an address below 1 MiB (0x100000)",
            a.load_addr
        ),
        BootMode::Flat | BootMode::FlatReal => BootKind::Flat {
            addr: a.load_addr,
            real: mode == BootMode::FlatReal,
        },
    };
    if !matches!(kind, BootKind::Linux { .. }) && a.initrd.is_some() {
        bail!(
            "--initrd is for Linux kernels; {} is not booted as one",
            img_path.display()
        );
    }
    if !matches!(kind, BootKind::Multiboot { .. }) && !a.modules.is_empty() {
        bail!(
            "--module is for Multiboot kernels; {} is not booted as one",
            img_path.display()
        );
    }
    boot::boot(cfg, &image, &kind).with_context(|| format!("{opt} {}", img_path.display()))
}

/// `--load-snapshot FILE`: streamed from the file (the snapshot bounds what it may take).
fn load_snapshot(p: &Path) -> Result<Machine> {
    let name = || format!("--load-snapshot {}", p.display());
    let f = std::fs::File::open(p).with_context(|| format!("{}: cannot open", name()))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("{}: is a directory", name());
    }
    snapshot::restore_from(std::io::BufReader::new(f)).with_context(name)
}

/// The file that holds the machine's disk, for `--writable`.
fn disk_path(a: &RunArgs) -> Option<&PathBuf> {
    a.disk.as_ref().or(match a.boot {
        BootMode::Disk | BootMode::Auto => a.image.as_ref(),
        _ => None,
    })
}

/// `--writable`: saves the disk image if the guest wrote to it, through a temporary file
/// beside it renamed into place (a failed write leaves the old image whole).
fn save_disk(a: &RunArgs, m: &Machine) -> Result<()> {
    let (Some(p), Some(ata)) = (disk_path(a), m.core.dev.ata.as_ref()) else {
        return Ok(());
    };
    if ata.dirty() {
        let target = std::fs::canonicalize(p)
            .with_context(|| format!("--writable {}: cannot write the disk back", p.display()))?;
        let perms = std::fs::metadata(&target).map(|m| m.permissions()).ok();
        replace_file(&target, "--writable", |w| ata.disk().write_to(w), perms)?;
        eprintln!("traplab: disk image written back to {}", p.display());
    }
    Ok(())
}

/// A temporary file beside `target` (same directory, so a rename replaces it atomically).
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = format!(".{name}.traplab-{}.tmp", std::process::id());
    dir.map_or(PathBuf::from(&tmp), |d| d.join(&tmp))
}

/// Writes `target` by writing a temporary file in its directory and renaming it into place;
/// on any failure the temporary file is removed and `target` is untouched.
fn replace_file(
    target: &Path,
    opt: &str,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
    perms: Option<std::fs::Permissions>,
) -> Result<()> {
    let tmp = temp_path(target);
    let name = || format!("{opt} {}", target.display());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| {
            format!(
                "{}: cannot create a temporary file {}",
                name(),
                tmp.display()
            )
        })?;
    let r = (|| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(&f);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("{}: cannot write", name())));
    }
    Ok(())
}

/// Checks before booting that the files the run will write at its end can be written:
/// the `--save-snapshot` file's directory (and the file is not a directory, and exists
/// only with --force) and the `--writable` disk.
fn check_outputs(a: &RunArgs) -> Result<()> {
    if let Some(p) = &a.save_snapshot {
        let name = format!("--save-snapshot {}", p.display());
        if p.is_dir() {
            bail!("{name}: is a directory (give a file name)");
        }
        if p.exists() && !a.force {
            bail!("{name}: the file exists; add --force to overwrite it");
        }
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{name}: directory {} does not exist", dir.display());
        }
        // A probe of the temporary file the snapshot will be written to.
        let tmp = temp_path(p);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("{name}: cannot create a file in {}", dir.display()))?;
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(())
}

/// `--writable`: the machine has a disk and its file can be written (checked before the run).
fn check_writable(a: &RunArgs, m: &Machine) -> Result<()> {
    let (Some(p), Some(_)) = (disk_path(a), m.core.dev.ata.as_ref()) else {
        bail!("--writable: this machine has no disk (give --disk FILE or a disk IMAGE)");
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .with_context(|| format!("--writable {}: cannot open it for writing", p.display()))?;
    Ok(())
}

/// Feeds COM1 from `--input FILE` or piped stdin, streamed: before every slice of the run
/// the UART's host queue is topped up to `INPUT_AHEAD` bytes (or to the end of the input).
/// A slice retires at most 200,000 instructions, so the guest can never empty the queue
/// between two top-ups while input remains: what it sees is exactly what it would see with
/// all the input queued at the start (deterministic, independent of `--trace` slicing),
/// and an endless input (`yes |`, /dev/zero) takes `INPUT_AHEAD` bytes of memory, not all.
struct Input {
    src: Option<Box<dyn Read>>,
    /// The input's name in messages ("--input FILE" or "standard input").
    name: String,
}

/// Serial input kept queued ahead of the guest.
const INPUT_AHEAD: usize = 1 << 20;

impl Input {
    fn new(a: &RunArgs) -> Result<Input> {
        if let Some(p) = &a.input {
            let name = format!("--input {}", p.display());
            let f = std::fs::File::open(p).with_context(|| format!("{name}: cannot open"))?;
            if f.metadata().is_ok_and(|m| m.is_dir()) {
                bail!("{name}: is a directory");
            }
            return Ok(Input {
                src: Some(Box::new(f)),
                name,
            });
        }
        let piped = !std::io::stdin().is_terminal();
        Ok(Input {
            src: piped.then(|| Box::new(std::io::stdin()) as Box<dyn Read>),
            name: "standard input".into(),
        })
    }

    fn feed(&mut self, m: &mut Machine) -> Result<()> {
        let Some(src) = self.src.as_mut() else {
            return Ok(());
        };
        let mut chunk = vec![0u8; 64 << 10];
        while m.core.dev.uart.pending_input() < INPUT_AHEAD {
            match src.read(&mut chunk) {
                Ok(0) => {
                    self.src = None;
                    break;
                }
                Ok(n) => m.core.dev.push_serial_input(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("{}: cannot read the serial input", self.name)))
                }
            }
        }
        Ok(())
    }
}

/// The line printed when the machine halts for good, with the reason.
pub fn halted_message(m: &Machine) -> String {
    let why = m
        .halt_reason()
        .map_or_else(|| "HLT".to_string(), |h| h.to_string());
    format!(
        "traplab: the machine halted for good after {} instructions: {why}",
        m.icount()
    )
}

pub fn main(a: RunArgs) -> Result<u8> {
    if a.snapshot_at.is_some() && a.save_snapshot.is_none() {
        bail!("--snapshot-at needs --save-snapshot FILE");
    }
    check_outputs(&a)?;
    if !a.publish.is_empty() && a.gdb.gdb.is_some() {
        bail!("--publish cannot be used with --gdb");
    }
    for p in &a.publish {
        crate::publish::parse(p)?;
    }
    let mut costs = traplab::inspect::Costs::default();
    for c in &a.costs {
        costs.assign(c).map_err(anyhow::Error::msg)?;
    }
    let mut m = build_machine(&a)?;
    if !a.costs.is_empty() {
        m.set_costs(costs);
    }
    if a.popek_goldberg {
        m.set_popek_goldberg(true);
    }
    if a.writable {
        check_writable(&a, &m)?;
    }
    if a.gdb.gdb.is_some() {
        return crate::gdb::main(&a, m);
    }
    let mut publish = if a.publish.is_empty() {
        None
    } else {
        m.core.dev.hostsock = Some(traplab::devices::HostSock::new());
        Some(crate::publish::Publish::open(&a.publish)?)
    };
    m.core.events.io = a.trace_io;
    if a.trace_io {
        // Room for every port access of one slice (print_io reads them between slices).
        m.core.events.capacity = 1 << 16;
    }
    let mut last_byte = b'\n';
    let mut held: Vec<u8> = Vec::new();
    let mut input = Input::new(&a)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let start = Instant::now();
    let icount0 = m.icount();
    let idle0 = m.core.stats.halted_ticks;
    let ns0 = m.core.now_ns();
    let interactive = a.input.is_none()
        && !a.trace
        && !a.trace_io
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut budget = a
        .max_instructions
        .unwrap_or(if interactive || publish.is_some() {
            u64::MAX
        } else {
            10_000_000_000
        });
    // Halted time has its own budget, so that --snapshot-at stays an instruction count.
    let halt_budget = budget;
    if let Some(n) = a.snapshot_at {
        budget = budget.min(n);
    }
    let mut io_seen = m.inspect().events().total();
    let mut notes_seen = 0;
    let mut tracer = if a.trace { Some(Tracer::new(&m)) } else { None };
    // Interactive use: a terminal on both ends and no --input/--trace.
    let mut term = if interactive {
        crate::term::Terminal::start()
    } else {
        None
    };
    let mut quit = false;
    let mut wait = a.wait_for.as_ref().map(|t| WaitFor::new(t));
    let exit = loop {
        if wait.as_ref().is_none_or(|w| w.seen) {
            input.feed(&mut m)?;
        }
        if let (Some(p), Some(h)) = (publish.as_mut(), m.core.dev.hostsock.as_mut()) {
            p.pump(h);
        }
        if term.is_some() || publish.is_some() {
            // Pace virtual time to the wall clock so an idle guest does not race ahead
            // (its uptime then reads like real time) and the host CPU rests.
            let ahead = m.core.now_ns().saturating_sub(ns0) as u128;
            let wall = start.elapsed().as_nanos();
            if ahead > wall {
                std::thread::sleep(std::time::Duration::from_nanos(
                    (ahead - wall).min(20_000_000) as u64,
                ));
            }
        }
        if let Some(t) = term.as_mut() {
            let (keys, q) = t.poll();
            if !keys.is_empty() {
                m.core.dev.push_serial_input(&keys);
            }
            if q {
                quit = true;
                break RunExit::Budget;
            }
        }
        // The budget bounds retired instructions, and separately the ticks of virtual time
        // spent halted (a halted CPU retires nothing): see `Machine::run_limited`.
        let done = m.icount() - icount0;
        let waited = m.core.stats.halted_ticks - idle0;
        if done >= budget || waited >= halt_budget {
            break RunExit::Budget;
        }
        let r = match tracer.as_mut() {
            Some(t) => {
                let before = (m.icount(), Tracer::position(&m));
                let r = m.step();
                // While the CPU sits in HLT nothing retires: print nothing until it wakes.
                if m.icount() != before.0 {
                    t.line(&m, &mut out).context(STDOUT)?;
                } else if Tracer::position(&m) != before.1 {
                    // An interrupt or exception was delivered without retiring anything.
                    t.delivered(&m, &mut out).context(STDOUT)?;
                } else {
                    t.resync(&m);
                }
                t.world_switches(&m, &mut out).context(STDOUT)?;
                r
            }
            // With --trace-io, short slices keep port lines close to the output they cause.
            None => {
                let slice = if a.trace_io { 1 } else { 200_000 };
                m.run_limited(
                    (budget - done).min(slice),
                    (halt_budget - waited).min(slice),
                )
            }
        };
        if a.trace_io {
            // Port accesses first: the serial bytes of this slice were produced by them.
            out.flush().context(STDOUT)?;
            print_io(&m, &mut io_seen);
        }
        let mut o = m.core.dev.take_serial_output();
        o.extend(m.core.dev.take_debugcon());
        if let Some(w) = wait.as_mut() {
            w.look(&o);
        }
        if a.trace_io {
            // Whole lines only, so port lines (stderr) and guest lines (stdout) do not cut
            // into each other; each guest line follows the port accesses that wrote it.
            held.extend_from_slice(&o);
            o.clear();
            if let Some(k) = held.iter().rposition(|&b| b == b'\n') {
                o = held.drain(..=k).collect();
            }
        }
        if let Some(&b) = o.last() {
            last_byte = b;
        }
        if !o.is_empty() {
            if term.is_some() {
                out.write_all(&crate::term::Terminal::cook(&o))
                    .context(STDOUT)?;
            } else {
                out.write_all(&o).context(STDOUT)?;
            }
            out.flush().context(STDOUT)?;
        }
        print_notes(&m, &mut notes_seen);
        match r {
            RunExit::Budget | RunExit::Breakpoint(_) => continue,
            // In a terminal, keys the user types may still wake a guest that waits for them.
            RunExit::Halted
                if term.is_some() && m.halt_reason().is_some_and(|h| h.waits_for_input()) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            other => break other,
        }
    };
    let elapsed = start.elapsed();
    // Back to a cooked terminal before any message of ours.
    drop(term.take());
    if quit {
        eprintln!();
        eprintln!(
            "traplab: stopped by the user (Ctrl-]) after {} instructions",
            m.icount()
        );
    }
    if !held.is_empty() {
        last_byte = *held.last().unwrap_or(&b'\n');
        out.write_all(&held).context(STDOUT)?;
    }
    out.flush().context(STDOUT)?;
    drop(out);
    if a.screen {
        crate::report::print_screen(&m);
    }
    if a.writable {
        save_disk(&a, &m)?;
    }
    let status = match exit {
        RunExit::Exit(s) => (s & 0xFF) as u8,
        RunExit::Halted => {
            eprintln!("{}", halted_message(&m));
            0
        }
        RunExit::TripleFault => {
            eprintln!(
                "traplab: triple fault after {} instructions: the machine shut down",
                m.icount()
            );
            eprintln!("{}", state_dump(&m));
            STATUS_TRIPLE
        }
        RunExit::Reset => {
            eprintln!(
                "traplab: the guest requested a reset after {} instructions",
                m.icount()
            );
            STATUS_RESET
        }
        RunExit::Budget if quit => 0,
        RunExit::Budget => {
            let waited = m.core.stats.halted_ticks - idle0;
            if waited >= halt_budget {
                eprintln!(
                    "traplab: budget spent: the CPU waited in HLT for {waited} ticks \
                     ({} instructions retired); stopping",
                    m.icount() - icount0
                );
                STATUS_BUDGET
            } else if a.snapshot_at.is_none() {
                eprintln!(
                    "traplab: instruction budget spent ({} instructions); stopping",
                    m.icount() - icount0
                );
                STATUS_BUDGET
            } else {
                0
            }
        }
        RunExit::Breakpoint(_) => 0,
    };
    if last_byte != b'\n' && (a.save_snapshot.is_some() || a.hash || a.stats) {
        // Start our own messages on a fresh line after a guest prompt.
        eprintln!();
    }
    if let Some(p) = &a.save_snapshot {
        if p.exists() && !a.force {
            bail!(
                "--save-snapshot {}: the file appeared during the run; add --force to overwrite it",
                p.display()
            );
        }
        // Streamed to a temporary file, then renamed: an old snapshot is never truncated.
        replace_file(
            p,
            "--save-snapshot",
            |w| snapshot::save_to(&m, w).map(|_| ()),
            None,
        )?;
        eprintln!(
            "traplab: snapshot saved to {} at instruction {}",
            p.display(),
            m.icount()
        );
    }
    if a.hash {
        crate::report::print_hash(&m);
    }
    if a.stats {
        eprint!(
            "{}",
            stats_text(&m, m.icount() - icount0, elapsed.as_secs_f64())
        );
    }
    Ok(status)
}
