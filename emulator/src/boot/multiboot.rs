//! Multiboot v1 loader (Multiboot Specification 0.6.96): finds the header in the first
//! 8 KiB, loads the ELF's PT_LOAD segments (or the a.out-kludge addresses), writes the
//! information structure (memory sizes, memory map, command line, modules) and sets the
//! machine state the spec promises: 32-bit protected mode, flat CS/DS/ES/FS/GS/SS, paging
//! off, IF=0, EAX=0x2BADB002, EBX=physical address of the info structure.

use super::BootError;
use crate::machine::Machine;
use goblin::elf::{
    program_header::{ProgramHeader, PT_LOAD},
    Elf,
};

pub const MAGIC: u32 = 0x1BAD_B002;
pub const BOOT_MAGIC: u32 = 0x2BAD_B002;
/// Where the info structure, command line and memory map are placed.
const INFO_ADDR: u32 = 0x9000;
/// End of the low-memory area holding the info structure and what it points to (the
/// command line, the memory map, the module list and strings): 220 KiB from `INFO_ADDR`,
/// well below the initial stack at 0x7FF00.
const INFO_END: u32 = 0x4_0000;

/// A boot module (initial ramdisk): its bytes and its string.
#[derive(Clone, Debug)]
pub struct Module {
    pub data: Vec<u8>,
    pub string: String,
}

#[derive(Clone, Copy, Debug)]
struct Header {
    flags: u32,
    header_addr: u32,
    load_addr: u32,
    load_end_addr: u32,
    bss_end_addr: u32,
    entry_addr: u32,
    offset: usize,
}

fn find_header(img: &[u8]) -> Result<Header, BootError> {
    let n = img.len().min(8192);
    let rd = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
    let mut off = 0;
    while off + 12 <= n {
        if rd(off) == MAGIC {
            let flags = rd(off + 4);
            if rd(off).wrapping_add(flags).wrapping_add(rd(off + 8)) != 0 {
                return Err(BootError::BadChecksum);
            }
            let mut h = Header {
                flags,
                header_addr: 0,
                load_addr: 0,
                load_end_addr: 0,
                bss_end_addr: 0,
                entry_addr: 0,
                offset: off,
            };
            if flags & (1 << 16) != 0 {
                if off + 32 > img.len() {
                    return Err(BootError::Truncated);
                }
                h.header_addr = rd(off + 12);
                h.load_addr = rd(off + 16);
                h.load_end_addr = rd(off + 20);
                h.bss_end_addr = rd(off + 24);
                h.entry_addr = rd(off + 28);
            }
            return Ok(h);
        }
        off += 4;
    }
    Err(BootError::NoMultiboot)
}

/// Loads a Multiboot kernel into `m` and prepares the CPU to enter it. `m` comes fresh from
/// `Machine::new` (`boot::boot`): its RAM is zero, so the part of a segment beyond its file
/// bytes (.bss) is left as it is, not written (which would make the host fault in every
/// page of it before the kernel runs).
pub fn load(
    m: &mut Machine,
    img: &[u8],
    cmdline: &str,
    modules: &[Module],
) -> Result<u32, BootError> {
    if img.is_empty() {
        return Err(BootError::Empty);
    }
    let hdr = find_header(img)?;
    let ram = m.core.mem.ram.len();
    let fits = |addr: u64, len: u64| addr.checked_add(len).is_some_and(|e| e <= ram as u64);
    let mut kernel_end: u64 = 0x10_0000;
    // What the kernel occupies: (start, end) of each segment, to check against the info.
    let mut loaded: Vec<(u64, u64)> = Vec::new();
    let entry;
    if img.starts_with(b"\x7fELF") && hdr.flags & (1 << 16) == 0 {
        // Only the ELF header and the program headers: a loader needs nothing else, so
        // damaged or stripped section headers do not stop a kernel that loads fine.
        let header = Elf::parse_header(img)
            .map_err(|_| BootError::BadElf("the ELF header is cut short or damaged".into()))?;
        if header.e_machine != goblin::elf::header::EM_386
            || header.e_ident[goblin::elf::header::EI_CLASS] != goblin::elf::header::ELFCLASS32
        {
            return Err(BootError::WrongMachine(header.e_machine));
        }
        let damaged = |_| BootError::BadElf("the ELF header is damaged".into());
        let ctx = goblin::container::Ctx::new(
            header.container().map_err(damaged)?,
            header.endianness().map_err(damaged)?,
        );
        let phs = ProgramHeader::parse(img, header.e_phoff as usize, header.e_phnum as usize, ctx)
            .map_err(|_| {
                BootError::BadElf(format!(
                    "its {} program headers at offset {:#x} run past the end of the file",
                    header.e_phnum, header.e_phoff
                ))
            })?;
        let loads: Vec<&ProgramHeader> = phs.iter().filter(|p| p.p_type == PT_LOAD).collect();
        if loads.iter().all(|p| p.p_memsz == 0) {
            return Err(BootError::BadElf(
                "it has no loadable segment (no PT_LOAD program header): nothing to run".into(),
            ));
        }
        for ph in loads {
            let addr = ph.p_paddr;
            if !fits(addr, ph.p_memsz) || ph.p_filesz > ph.p_memsz {
                return Err(BootError::OutsideRam {
                    addr,
                    len: ph.p_memsz,
                    ram: ram >> 20,
                });
            }
            let start = ph.p_offset as usize;
            let end = start
                .checked_add(ph.p_filesz as usize)
                .ok_or(BootError::Truncated)?;
            let data = img.get(start..end).ok_or(BootError::Truncated)?;
            m.core.mem.load(addr as u32, data);
            // The rest up to memsz is .bss: zero already (a new machine's RAM).
            kernel_end = kernel_end.max(addr + ph.p_memsz);
            loaded.push((addr, addr + ph.p_memsz));
        }
        entry = header.e_entry as u32;
    } else if hdr.flags & (1 << 16) != 0 {
        // a.out kludge: the header gives the load addresses.
        let file_off = hdr.offset as i64 - (hdr.header_addr as i64 - hdr.load_addr as i64);
        if file_off < 0 {
            return Err(BootError::Other(
                "multiboot header addresses are inconsistent".into(),
            ));
        }
        let load_end = if hdr.load_end_addr == 0 {
            hdr.load_addr as u64 + (img.len() as u64).saturating_sub(file_off as u64)
        } else {
            hdr.load_end_addr as u64
        };
        if load_end < hdr.load_addr as u64 {
            return Err(BootError::Other(
                "multiboot header addresses are inconsistent (an end before its start)".into(),
            ));
        }
        let len = load_end.saturating_sub(hdr.load_addr as u64);
        let data = img
            .get(file_off as usize..file_off as usize + len as usize)
            .ok_or(BootError::Truncated)?;
        let bss_end = (hdr.bss_end_addr as u64).max(load_end);
        if !fits(hdr.load_addr as u64, bss_end - hdr.load_addr as u64) {
            return Err(BootError::OutsideRam {
                addr: hdr.load_addr as u64,
                len: bss_end - hdr.load_addr as u64,
                ram: ram >> 20,
            });
        }
        m.core.mem.load(hdr.load_addr, data);
        kernel_end = bss_end;
        loaded.push((hdr.load_addr as u64, bss_end));
        entry = hdr.entry_addr;
    } else {
        return Err(BootError::NotElf);
    }

    // Modules go after the kernel, page aligned.
    let mut next = (kernel_end as u32).next_multiple_of(4096);
    let mut mods = Vec::new();
    for md in modules {
        if !fits(next as u64, md.data.len() as u64) {
            return Err(BootError::Other(format!(
                "module {} ({} bytes) does not fit in guest RAM after the kernel and the \
                 modules before it (at {next:#x}; RAM is {} MiB)",
                md.string,
                md.data.len(),
                ram >> 20
            )));
        }
        m.core.mem.load(next, &md.data);
        mods.push((next, next + md.data.len() as u32, md.string.clone()));
        next = (next + md.data.len() as u32).next_multiple_of(4096);
    }
    let info_end = write_info(m, cmdline, &mods)?;
    if let Some(&(a, e)) = loaded
        .iter()
        .find(|&&(a, e)| a < info_end as u64 && e > INFO_ADDR as u64)
    {
        return Err(BootError::Other(format!(
            "a kernel segment at {a:#x}-{e:#x} overlaps the Multiboot information \
             ({INFO_ADDR:#x}-{info_end:#x})"
        )));
    }
    enter(m, entry);
    Ok(entry)
}

fn w32(m: &mut Machine, a: u32, v: u32) {
    m.core.mem.load(a, &v.to_le_bytes());
}

/// Builds the Multiboot information structure at INFO_ADDR. Everything has a fixed slot in
/// the first 4 KiB (a command line up to 1,279 bytes, 16 modules with names up to 127
/// bytes); what does not fit its slot goes after them, up to `INFO_END`. Returns the end of
/// the area used, or an error when even that is too small.
fn write_info(
    m: &mut Machine,
    cmdline: &str,
    mods: &[(u32, u32, String)],
) -> Result<u32, BootError> {
    let ram = m.core.mem.ram.len() as u64;
    let info = INFO_ADDR;
    let mmap_addr = info + 0x600;
    let strings = info + 0x800;
    // Room after the fixed slots, for what does not fit in them.
    let mut extra = info + 0x1000;
    let mut alloc = |len: usize| -> Result<u32, BootError> {
        let a = extra;
        let end = (a as u64 + len as u64).next_multiple_of(16);
        if end > INFO_END as u64 {
            return Err(BootError::Other(format!(
                "the command line and the module names need more than the {} KiB of low \
                 memory Traplab gives the Multiboot information",
                (INFO_END - INFO_ADDR) >> 10
            )));
        }
        extra = end as u32;
        Ok(a)
    };
    let mut cmd = cmdline.as_bytes().to_vec();
    cmd.push(0);
    let cmd_addr = if cmd.len() <= 0x500 {
        info + 0x100
    } else {
        alloc(cmd.len())?
    };
    let mods_addr = if mods.len() <= 16 {
        info + 0x700
    } else {
        alloc(16 * mods.len())?
    };
    let mut names = Vec::new();
    for (k, (_, _, string)) in mods.iter().enumerate() {
        let mut b = string.as_bytes().to_vec();
        b.push(0);
        let at = if k < 15 && b.len() <= 128 {
            strings + 16 + 128 * k as u32
        } else {
            alloc(b.len())?
        };
        names.push((at, b));
    }
    m.core.mem.load(info, &[0u8; 0x1000]);
    let mut flags = 1 | (1 << 2) | (1 << 6) | (1 << 9); // mem, cmdline, mmap, boot loader name
                                                        // 639 KiB: the last KiB below 640 KiB is the EBDA, as on a PC (and as QEMU reports).
    w32(m, info + 4, 639);
    w32(m, info + 8, ((ram.saturating_sub(0x10_0000)) / 1024) as u32);
    m.core.mem.load(cmd_addr, &cmd);
    w32(m, info + 16, cmd_addr);
    // Memory map: usable 0-640K, reserved 640K-1M, usable 1M-end.
    let entries: [(u64, u64, u32); 3] = [
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x6_0400, 2),
        (0x10_0000, ram - 0x10_0000, 1),
    ];
    let mut a = mmap_addr;
    for (base, len, typ) in entries {
        w32(m, a, 20);
        m.core.mem.load(a + 4, &base.to_le_bytes());
        m.core.mem.load(a + 12, &len.to_le_bytes());
        w32(m, a + 20, typ);
        a += 24;
    }
    w32(m, info + 44, a - mmap_addr);
    w32(m, info + 48, mmap_addr);
    // Boot loader name.
    m.core.mem.load(strings, b"Traplab\0");
    w32(m, info + 64, strings);
    if !mods.is_empty() {
        flags |= 1 << 3;
        for (k, ((start, end, _), (at, name))) in mods.iter().zip(&names).enumerate() {
            let e = mods_addr + 16 * k as u32;
            w32(m, e, *start);
            w32(m, e + 4, *end);
            m.core.mem.load(*at, name);
            w32(m, e + 8, *at);
        }
        w32(m, info + 20, mods.len() as u32);
        w32(m, info + 24, mods_addr);
    }
    w32(m, info, flags);
    Ok(extra)
}

/// Machine state at entry (Multiboot spec 3.2).
fn enter(m: &mut Machine, entry: u32) {
    let c = &mut m.core;
    super::enter_flat(c, entry, 0x08, 0x10);
    c.cpu.gpr = [BOOT_MAGIC, 0, 0, INFO_ADDR, 0x7_FF00, 0, 0, 0];
    c.cpu.gdtr = Default::default();
    c.cpu.idtr = crate::mmu::segment::TableReg {
        base: 0,
        limit: 0x3FF,
    };
    c.mmu.tlb.flush_all();
    m.flush_code_cache();
}
