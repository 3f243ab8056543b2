//! Boot paths: Multiboot v1 ELF kernels (goblin), Linux bzImages by the Linux/x86 boot
//! protocol (`linux`), flat binaries at an address, boot
//! sectors from a disk with the built-in BIOS (`bios`, `disk`), and `--bios` ROM images at
//! the reset vector (`rom`). On a machine with the APICs, Multiboot and Linux kernels also find
//! the MP tables firmware leaves in the BIOS area (`mp`). Loaders only set up machine state;
//! they must not run the machine.

pub mod bios;
pub mod detect;
pub mod disk;
pub mod initramfs;
pub mod linux;
pub mod mp;
pub mod multiboot;
pub mod rom;

pub use detect::{detect, DetectError, ImageKind};

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BootError {
    #[error("not an ELF file and no Multiboot header found")]
    NotElf,
    #[error("corrupt ELF file: {0}")]
    BadElf(String),
    #[error("not a 32-bit x86 ELF (machine {0})")]
    WrongMachine(u16),
    #[error("no Multiboot header in the first 8 KiB")]
    NoMultiboot,
    #[error("bad Multiboot header checksum")]
    BadChecksum,
    #[error("segment at {addr:#x} (+{len:#x} bytes) does not fit in guest RAM ({ram} MiB)")]
    OutsideRam { addr: u64, len: u64, ram: usize },
    #[error("segment data runs past the end of the file (truncated?)")]
    Truncated,
    #[error("image is empty")]
    Empty,
    #[error("{0}")]
    Other(String),
}

use crate::machine::{Machine, MachineConfig};
use crate::mmu::segment::{Seg, CS};

/// How to start an image.
#[derive(Clone, Debug)]
pub enum BootKind {
    /// A Multiboot v1 kernel (ELF or a.out kludge).
    Multiboot {
        cmdline: String,
        modules: Vec<multiboot::Module>,
    },
    /// A Linux bzImage entered by the 32-bit boot protocol, with its command line and an
    /// initrd (empty: none).
    Linux { cmdline: String, initrd: Vec<u8> },
    /// A raw binary copied to `addr` and entered there: in 32-bit flat protected mode,
    /// or in real mode (CS = addr >> 4, IP = addr & 15) when `real`.
    Flat { addr: u32, real: bool },
    /// A PC boot from the disk with the built-in BIOS: sector 0 at 0000:7C00, DL = 80h.
    /// The disk is `MachineConfig::devices.disk`, or else the image itself.
    Disk,
    /// A firmware ROM image (the image) mapped at the top of 4 GiB and below 1 MiB; the CPU
    /// starts at the reset vector F000:FFF0.
    Firmware,
}

/// Builds a machine and boots `image` in it.
pub fn boot(mut cfg: MachineConfig, image: &[u8], kind: &BootKind) -> Result<Machine, BootError> {
    if cfg.ram_bytes < 2 << 20 {
        return Err(BootError::Other("guest RAM must be at least 2 MiB".into()));
    }
    if let BootKind::Disk = kind {
        if cfg.devices.disk.is_none() {
            cfg.devices.disk = Some(image.to_vec().into());
        }
    }
    if let Some(d) = &cfg.devices.disk {
        disk::check_size(d.len())?;
    }
    if let Some(d) = &cfg.devices.disk2 {
        if cfg.devices.disk.is_none() {
            return Err(BootError::Other(
                "a slave disk needs a master disk on the channel (ATA has no slave alone)".into(),
            ));
        }
        disk::check_size(d.len())?;
    }
    let mut m = Machine::new(cfg);
    match kind {
        BootKind::Disk => {
            let d = m.core.dev.ata.as_ref().map(|a| a.disk());
            if !d.is_some_and(disk::disk_has_boot_signature) {
                return Err(BootError::Other(
                    "sector 0 of the disk does not end in the 55 AA boot signature".into(),
                ));
            }
            bios::install(&mut m.core);
            bios::post(&mut m.core);
            bios::boot_disk(&mut m.core);
            m.flush_code_cache();
        }
        BootKind::Firmware => rom::load_firmware(&mut m, image)?,
        BootKind::Multiboot { cmdline, modules } => {
            multiboot::load(&mut m, image, cmdline, modules)?;
            write_mp_table(&mut m);
        }
        BootKind::Linux { cmdline, initrd } => {
            linux::load(&mut m, image, cmdline, initrd)?;
            write_mp_table(&mut m);
        }
        BootKind::Flat { addr, real } => {
            if image.is_empty() {
                return Err(BootError::Empty);
            }
            if *real && *addr > 0xF_FFFF {
                // CS = addr >> 4 must fit in 16 bits: real mode starts below 1 MiB.
                return Err(BootError::Other(format!(
                    "a real-mode image must be loaded below 1 MiB (0x100000); {addr:#x} is not"
                )));
            }
            if !m.core.mem.load(*addr, image) {
                return Err(BootError::OutsideRam {
                    addr: *addr as u64,
                    len: image.len() as u64,
                    ram: m.core.mem.ram.len() >> 20,
                });
            }
            let c = &mut m.core;
            if *real {
                c.cpu.seg = [Seg::real(0); 6];
                c.cpu.seg[CS] = Seg::real((*addr >> 4) as u16);
                c.cpu.seg[CS].attr |= crate::mmu::segment::attr::CODE;
                c.cpu.eip = addr & 15;
                c.cpu.gpr[4] = 0xFFFE;
            } else {
                enter_flat(c, *addr, 0x08, 0x10);
                c.cpu.gpr[4] = 0x7_FF00;
            }
            c.cpu.idtr = crate::mmu::segment::TableReg {
                base: 0,
                limit: 0x3FF,
            };
            m.flush_code_cache();
        }
    }
    Ok(m)
}

/// On a machine with the APICs, the MP tables a PC's firmware leaves for a kernel (`mp`).
fn write_mp_table(m: &mut Machine) {
    let c = &mut m.core;
    let (sig, _, _, features) = crate::cpu::exec::system::cpuid_leaf(c, 1, 0);
    if let Some(a) = c.dev.apic.as_deref_mut() {
        mp::write(&mut c.mem, a, sig, features);
    }
}

/// Flat 32-bit protected mode at `entry`, paging off, CPL 0: CS = `cs` (code, execute/read)
/// and the other segment registers = `ds` (data, read/write), all base 0, limit 4 GiB,
/// present, DPL 0, 32-bit, 4 KiB granular. The state the Multiboot specification (3.2) and
/// Linux's 32-bit boot protocol hand to a kernel, and the one flat images start in; each
/// caller then sets the general registers and descriptor tables its protocol names.
fn enter_flat(c: &mut crate::cpu::ctx::Core, entry: u32, cs: u16, ds: u16) {
    let flat = |sel: u16, typ: u16| Seg {
        sel,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: typ | 0x10 | 0x80 | 0x400 | 0x800,
        valid: true,
    };
    c.cpu.cr0 = 0x11; // PE | ET
    c.cpu.seg = [flat(ds, 0x3); 6];
    c.cpu.seg[CS] = flat(cs, 0xB);
    c.cpu.cpl = 0;
    c.cpu.flags.set(2);
    c.cpu.eip = entry;
}
