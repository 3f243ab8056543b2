//! The Linux/x86 boot protocol, 32-bit entry (the kernel's Documentation/arch/x86/boot.rst,
//! "32-bit Boot Protocol"): reads and checks a bzImage's setup header, loads the
//! protected-mode kernel at 1 MiB and an initrd at the top of low memory, writes the zero
//! page (`struct boot_params`: the setup header, the e820 memory map, the command line and
//! initrd pointers, an 80x25 VGA text screen) and enters the kernel's 32-bit entry point in
//! flat protected mode. The real-mode setup code is not run (Traplab's BIOS does not offer
//! the services it calls). Owns the header checks and the zero page; it must not run the
//! machine.

use super::BootError;
use crate::machine::Machine;
use crate::mmu::segment::TableReg;

/// Offset of the "HdrS" signature in the image (boot.rst: the setup header).
pub const HDRS_OFFSET: usize = 0x202;
/// "HdrS", little-endian.
pub const HDRS: u32 = 0x5372_6448;
/// The oldest header version this loader accepts: 2.06 gives `cmdline_size`, the length
/// of the command line the kernel reads.
pub const MIN_VERSION: u16 = 0x0206;

/// Where the protected-mode kernel of a bzImage is loaded (boot.rst: "at 0x100000").
pub const KERNEL_ADDR: u32 = 0x10_0000;
/// The zero page (`struct boot_params`, 4 KiB); ESI points here at entry.
pub const ZERO_PAGE: u32 = 0x1_0000;
/// The GDT holding the __BOOT_CS (0x10) and __BOOT_DS (0x18) descriptors the protocol asks for.
const GDT: u32 = 0x1_1000;
/// The command line (NUL-terminated, up to `cmdline_size` bytes).
const CMDLINE: u32 = 0x1_2000;
/// The highest initrd end on a 32-bit kernel: below the 896 MiB of lowmem, with room for
/// the vmalloc area the kernel keeps (a Debian 686 kernel relocates an initrd above its
/// lowmem limit, but placing it below costs nothing).
const INITRD_CEILING: u64 = 0x3700_0000;

/// The boot_params field offsets used (arch/x86/include/uapi/asm/bootparam.h).
mod bp {
    pub const ORIG_VIDEO_MODE: u32 = 0x06;
    pub const ORIG_VIDEO_COLS: u32 = 0x07;
    pub const ORIG_VIDEO_EGA_BX: u32 = 0x0A;
    pub const ORIG_VIDEO_LINES: u32 = 0x0E;
    pub const ORIG_VIDEO_IS_VGA: u32 = 0x0F;
    pub const ORIG_VIDEO_POINTS: u32 = 0x10;
    pub const EXT_MEM_K: u32 = 0x02;
    pub const ALT_MEM_K: u32 = 0x1E0;
    pub const E820_ENTRIES: u32 = 0x1E8;
    pub const SETUP_HEADER: usize = 0x1F1;
    pub const TYPE_OF_LOADER: u32 = 0x210;
    pub const RAMDISK_IMAGE: u32 = 0x218;
    pub const RAMDISK_SIZE: u32 = 0x21C;
    pub const CMD_LINE_PTR: u32 = 0x228;
    pub const E820_TABLE: u32 = 0x2D0;
}

/// What the setup header of a bzImage says, as far as the loader needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version (0x020F = 2.15).
    pub version: u16,
    /// Size of the real-mode setup code in bytes (boot sector included).
    pub setup_len: usize,
    /// Bytes of the protected-mode kernel (`syssize` * 16).
    pub kernel_len: usize,
    /// Where the kernel wants to run (`pref_address`, 2.10+; else 1 MiB).
    pub pref_address: u64,
    /// Memory the kernel needs from where it runs until it has decompressed itself.
    pub init_size: u32,
    /// The highest address the initrd may occupy.
    pub initrd_addr_max: u32,
    /// The longest command line, without its NUL.
    pub cmdline_size: u32,
    /// Where the setup header ends in the image (0x202 + the byte at 0x201).
    pub header_end: usize,
}

fn rd16(img: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([img[o], img[o + 1]])
}

fn rd32(img: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]])
}

/// True when `img` carries the "HdrS" signature of a Linux kernel's setup header.
pub fn has_signature(img: &[u8]) -> bool {
    img.len() >= HDRS_OFFSET + 4 && rd32(img, HDRS_OFFSET) == HDRS
}

fn bad(why: impl Into<String>) -> BootError {
    BootError::Other(format!("not a bootable bzImage: {}", why.into()))
}

/// Reads and checks the setup header (boot.rst, "The real-mode kernel header").
pub fn parse_header(img: &[u8]) -> Result<SetupHeader, BootError> {
    if !has_signature(img) {
        return Err(bad("no \"HdrS\" signature at offset 0x202"));
    }
    if img.len() < 0x268 {
        return Err(bad(format!(
            "{} bytes is too short for a setup header",
            img.len()
        )));
    }
    let version = rd16(img, 0x206);
    if version < MIN_VERSION {
        return Err(bad(format!(
            "boot protocol {}.{:02} is older than the 2.06 Traplab needs",
            version >> 8,
            version & 0xFF
        )));
    }
    if rd16(img, 0x1FE) != 0xAA55 {
        return Err(bad("the boot_flag at 0x1FE is not AA55"));
    }
    // LOADED_HIGH: a bzImage; a zImage would be loaded at 0x10000 by its real-mode code.
    if img[0x211] & 1 == 0 {
        return Err(bad(
            "a zImage (loadflags without LOADED_HIGH): only bzImages are booted",
        ));
    }
    let sects = match img[0x1F1] {
        0 => 4,
        n => n as usize,
    };
    let setup_len = (sects + 1) * 512;
    let kernel_len = rd32(img, 0x1F4) as usize * 16;
    let header_end = HDRS_OFFSET + img[0x201] as usize;
    // The fields read below: up to cmdline_size (2.06), up to init_size (2.10).
    let needed = if version >= 0x020A { 0x264 } else { 0x23C };
    if header_end < needed {
        return Err(bad(format!(
            "the setup header ends at {header_end:#x}, before the fields of its version \
             (up to {needed:#x})"
        )));
    }
    if kernel_len == 0 {
        return Err(bad("syssize is 0: no protected-mode kernel"));
    }
    let have = img.len().saturating_sub(setup_len);
    if have < kernel_len {
        return Err(bad(format!(
            "the protected-mode kernel is cut short: {have} bytes after the {setup_len} bytes \
             of setup code, the header says {kernel_len} (truncated file?)"
        )));
    }
    let (pref_address, init_size) = if version >= 0x020A {
        (
            u64::from_le_bytes(img[0x258..0x260].try_into().unwrap_or_default()),
            rd32(img, 0x260),
        )
    } else {
        (KERNEL_ADDR as u64, 0)
    };
    Ok(SetupHeader {
        version,
        setup_len,
        kernel_len,
        pref_address: pref_address.max(KERNEL_ADDR as u64),
        init_size: init_size.max(kernel_len as u32),
        initrd_addr_max: rd32(img, 0x22C),
        cmdline_size: rd32(img, 0x238),
        header_end,
    })
}

fn w8(m: &mut Machine, a: u32, v: u8) {
    m.core.mem.load(a, &[v]);
}
fn w16(m: &mut Machine, a: u32, v: u16) {
    m.core.mem.load(a, &v.to_le_bytes());
}
fn w32(m: &mut Machine, a: u32, v: u32) {
    m.core.mem.load(a, &v.to_le_bytes());
}

/// The e820 map handed to the kernel: conventional memory up to the EBDA, the EBDA and the
/// BIOS area reserved, extended memory from 1 MiB (as a PC BIOS reports it).
pub fn e820_map(ram: u64) -> [(u64, u64, u32); 4] {
    [
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x400, 2),
        (0xF_0000, 0x1_0000, 2),
        (0x10_0000, ram - 0x10_0000, 1),
    ]
}

/// Loads the bzImage `img` (with an initrd when `initrd` is not empty) into `m` and prepares
/// the CPU for the kernel's 32-bit entry. Returns the entry point.
pub fn load(m: &mut Machine, img: &[u8], cmdline: &str, initrd: &[u8]) -> Result<u32, BootError> {
    let h = parse_header(img)?;
    let ram = m.core.mem.ram.len() as u64;
    // The kernel decompresses itself at pref_address (relocating there if loaded lower) and
    // needs init_size bytes from there.
    let kernel_top = h.pref_address + h.init_size as u64;
    let mib = |b: u64| b.div_ceil(1 << 20);
    if kernel_top > ram {
        return Err(BootError::Other(format!(
            "the kernel needs {} MiB of RAM to decompress itself (pref_address {:#x} + \
             init_size {:#x}); give --mem {} or more",
            mib(kernel_top),
            h.pref_address,
            h.init_size,
            mib(kernel_top + initrd.len() as u64) + 8
        )));
    }
    if cmdline.len() as u64 > h.cmdline_size as u64 || cmdline.len() > 0x1_0000 - 1 {
        return Err(BootError::Other(format!(
            "the command line is {} bytes; this kernel takes at most {}",
            cmdline.len(),
            h.cmdline_size.min(0xFFFF)
        )));
    }
    if cmdline.as_bytes().contains(&0) {
        return Err(BootError::Other("the command line holds a NUL byte".into()));
    }
    let kernel = &img[h.setup_len..h.setup_len + h.kernel_len];
    if !m.core.mem.load(KERNEL_ADDR, kernel) {
        return Err(BootError::OutsideRam {
            addr: KERNEL_ADDR as u64,
            len: kernel.len() as u64,
            ram: (ram >> 20) as usize,
        });
    }
    // The initrd: page aligned, as high as the kernel allows, above what it decompresses into.
    let (rd_addr, rd_len) = if initrd.is_empty() {
        (0, 0)
    } else {
        let ceiling = ram.min(INITRD_CEILING).min(h.initrd_addr_max as u64 + 1);
        let start = ceiling
            .checked_sub(initrd.len() as u64)
            .map(|s| s & !0xFFF)
            .filter(|&s| s >= kernel_top);
        let Some(start) = start else {
            return Err(BootError::Other(format!(
                "the initrd ({} bytes) does not fit in RAM above the kernel's {} MiB; give \
                 --mem {} or more",
                initrd.len(),
                mib(kernel_top),
                mib(kernel_top + initrd.len() as u64) + 8
            )));
        };
        m.core.mem.load(start as u32, initrd);
        (start as u32, initrd.len() as u32)
    };

    // The zero page: zeroes, then the setup header copied from the image (boot.rst: "the
    // setup header ... copied into the zero page"), then what the loader fills in.
    m.core.mem.load(ZERO_PAGE, &[0u8; 4096]);
    m.core.mem.load(
        ZERO_PAGE + bp::SETUP_HEADER as u32,
        &img[bp::SETUP_HEADER..h.header_end],
    );
    let zp = ZERO_PAGE;
    w8(m, zp + bp::TYPE_OF_LOADER, 0xFF); // "undefined" loader id
    w32(m, zp + bp::RAMDISK_IMAGE, rd_addr);
    w32(m, zp + bp::RAMDISK_SIZE, rd_len);
    let mut cmd = cmdline.as_bytes().to_vec();
    cmd.push(0);
    m.core.mem.load(CMDLINE, &cmd);
    w32(m, zp + bp::CMD_LINE_PTR, CMDLINE);
    // Memory sizes for a kernel that ignores e820 (KiB above 1 MiB).
    let ext_k = (ram - 0x10_0000) >> 10;
    w16(m, zp + bp::EXT_MEM_K, ext_k.min(0xFFFF) as u16);
    w32(m, zp + bp::ALT_MEM_K, ext_k as u32);
    let map = e820_map(ram);
    for (k, (base, len, typ)) in map.iter().enumerate() {
        let a = zp + bp::E820_TABLE + 20 * k as u32;
        m.core.mem.load(a, &base.to_le_bytes());
        m.core.mem.load(a + 8, &len.to_le_bytes());
        w32(m, a + 16, *typ);
    }
    w8(m, zp + bp::E820_ENTRIES, map.len() as u8);
    // The screen the BIOS would leave: VGA text mode 3, 80x25, 16-line font.
    w8(m, zp + bp::ORIG_VIDEO_MODE, 3);
    w8(m, zp + bp::ORIG_VIDEO_COLS, 80);
    w8(m, zp + bp::ORIG_VIDEO_LINES, 25);
    w8(m, zp + bp::ORIG_VIDEO_IS_VGA, 1);
    w16(m, zp + bp::ORIG_VIDEO_EGA_BX, 3);
    w16(m, zp + bp::ORIG_VIDEO_POINTS, 16);

    // A GDT with flat 4 GiB __BOOT_CS (0x10: code, execute/read) and __BOOT_DS (0x18:
    // data, read/write), both present, DPL 0, 32-bit, 4 KiB granular.
    let gdt: [u64; 4] = [0, 0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF];
    for (k, d) in gdt.iter().enumerate() {
        m.core.mem.load(GDT + 8 * k as u32, &d.to_le_bytes());
    }
    enter(m, KERNEL_ADDR);
    Ok(KERNEL_ADDR)
}

/// Machine state at the 32-bit entry (boot.rst, "32-bit Boot Protocol"): protected mode,
/// paging off, interrupts off, CS = __BOOT_CS and DS = ES = SS = __BOOT_DS flat, ESI = the
/// zero page, EBP = EDI = EBX = 0.
fn enter(m: &mut Machine, entry: u32) {
    let c = &mut m.core;
    super::enter_flat(c, entry, 0x10, 0x18);
    c.cpu.gpr = [0, 0, 0, 0, 0, 0, ZERO_PAGE, 0];
    c.cpu.gdtr = TableReg {
        base: GDT,
        limit: 4 * 8 - 1,
    };
    c.cpu.idtr = TableReg { base: 0, limit: 0 };
    c.mmu.tlb.flush_all();
    m.flush_code_cache();
}

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
