//! Building the machine for `traplab run`: reading IMAGE, --disk, --bios, --initrd and
//! --module files with bounded reads (a file bigger than what it can be is one clear error,
//! never a read of everything), choosing the boot path, or restoring --load-snapshot.
//! Nothing here runs the machine or writes a file.

use super::args::{BootMode, RunArgs};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;
use traplab::boot::{self, multiboot::Module, BootKind, ImageKind};
use traplab::devices::disk::Disk;
use traplab::machine::{Machine, MachineConfig};
use traplab::snapshot;

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

pub(super) fn build_machine(a: &RunArgs) -> Result<Machine> {
    if let Some(p) = &a.load_snapshot {
        return load_snapshot(p);
    }
    let ram = (a.mem as u64) << 20;
    let disk = match &a.disk {
        Some(p) => Some(open_disk(p, "--disk")?),
        None => None,
    };
    let disk2 = match &a.disk2 {
        Some(p) => Some(open_disk(p, "--disk2")?),
        None => None,
    };
    let mut cfg = MachineConfig {
        ram_bytes: ram as usize,
        devices: traplab::devices::DevicesConfig {
            disk,
            disk2,
            apic: a.apic,
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
    if let (Some(p), None) = (&a.disk2, &cfg.devices.disk) {
        bail!(
            "--disk2 {}: a slave disk needs a master (give --disk FILE or a disk IMAGE)",
            p.display()
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
