//! Traplab's built-in PC BIOS, in high-level emulation: the services are Rust functions,
//! reached from tiny real-mode stubs in a 64 KiB ROM at F000:0000 (layout in `boot::rom`).
//! Owns the power-on self test (IVT, BIOS data area, PIC/PIT set-up, boot from disk) and
//! the interrupt services INT 08h/09h (IRQ0/IRQ1), 10h (video, `bios::video`), 11h, 12h,
//! 13h (disk, `boot::disk`), 14h (serial), 15h, 16h (keyboard, `bios::keyboard`), 18h,
//! 19h and 1Ah. It must not be used by Multiboot or `--bios` boots, and never panics.
//!
//! How a BIOS call works (the "hypercall"): every IVT entry points to the ROM stub of its
//! vector, `out 0xEB, al; iret`. The CPU executes `int 13h` like on any PC (it pushes
//! FLAGS, CS, IP and jumps to F000:1098); the `out` reaches `Core::io_write` like any port
//! write, and the port hook [`attach`] registered for the hypercall port hands it to
//! [`hypercall`] when the write comes from one of these stubs (CS base F0000, real or
//! virtual-8086 mode, the built-in ROM mapped). The service reads and writes the guest's
//! registers and memory directly; results in FLAGS (CF, ZF) are written into the FLAGS
//! image of the interrupt frame at SS:SP+4, so that the stub's `iret` returns them. A
//! service that must wait (INT 16h AH=00h with no key) turns interrupts on and moves IP
//! back to the `out`: the stub spins, taking IRQs, until a key arrives. Port writes made
//! from anywhere else are ordinary I/O, so a guest cannot forge BIOS calls.
//!
//! Unknown services set CF and AH=86h and leave a `Note` in the event log. Unhandled CPU
//! exceptions in real mode (#DE, #UD, #NM) are noted and halt the machine (a real BIOS
//! would loop forever on the faulting instruction).

pub mod keyboard;
pub mod video;

use super::disk;
use super::rom::{self, Call};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::flags::{CF, IF, ZF};
use crate::cpu::interrupt::load_real_cs;
use crate::mmu::segment::{Seg, CS, DS, ES, SS};
use crate::trace::EventKind;

/// BIOS data area (segment 0040h) offsets, as physical addresses.
pub mod bda {
    pub const COM1: u32 = 0x400;
    pub const EBDA_SEG: u32 = 0x40E;
    pub const EQUIPMENT: u32 = 0x410;
    pub const MEM_KIB: u32 = 0x413;
    pub const KBD_FLAGS: u32 = 0x417;
    pub const KBD_HEAD: u32 = 0x41A;
    pub const KBD_TAIL: u32 = 0x41C;
    pub const KBD_BUF: u32 = 0x41E;
    pub const VIDEO_MODE: u32 = 0x449;
    pub const COLUMNS: u32 = 0x44A;
    pub const PAGE_SIZE: u32 = 0x44C;
    pub const PAGE_START: u32 = 0x44E;
    pub const CURSOR_POS: u32 = 0x450;
    pub const CURSOR_SHAPE: u32 = 0x460;
    pub const ACTIVE_PAGE: u32 = 0x462;
    pub const CRTC_BASE: u32 = 0x463;
    pub const MODE_CTL: u32 = 0x465;
    pub const PALETTE: u32 = 0x466;
    pub const TICKS: u32 = 0x46C;
    pub const MIDNIGHT: u32 = 0x470;
    pub const DISK_STATUS: u32 = 0x474;
    pub const HARD_DISKS: u32 = 0x475;
    pub const KBD_START: u32 = 0x480;
    pub const KBD_END: u32 = 0x482;
    pub const ROWS_MINUS_1: u32 = 0x484;
    pub const CHAR_HEIGHT: u32 = 0x485;
    pub const VIDEO_CTL: u32 = 0x487;
    pub const VIDEO_SWITCHES: u32 = 0x488;
    pub const VGA_FLAGS: u32 = 0x489;
    pub const KBD_FLAGS3: u32 = 0x496;
    /// Not a standard field: the last serial byte given by INT 16h was a CR (a following LF
    /// of a CR LF pair is dropped). Lives in the EBDA, which belongs to the BIOS.
    pub const SERIAL_LAST_CR: u32 = super::EBDA + 0x10;
}

/// Extended BIOS data area: the last KiB of conventional memory.
pub const EBDA: u32 = 0x9_FC00;
/// Conventional memory reported by INT 12h, in KiB (640 KiB minus the EBDA).
pub const BASE_KIB: u16 = 639;
/// PIT ticks per day at 1193182 Hz / 65536 (the classic 0x1800B0).
pub const TICKS_PER_DAY: u32 = 0x18_00B0;
/// Register indices for `Cpu::get8/set8`.
pub const AL: usize = 0;
pub const CL: usize = 1;
pub const DL: usize = 2;
pub const BL: usize = 3;
pub const AH: usize = 4;
pub const CH: usize = 5;
pub const DH: usize = 6;
pub const BH: usize = 7;

/// Maps the built-in BIOS ROM into a fresh machine's memory and attaches its services.
/// On a machine with the APICs the ROM also holds the MP tables (`rom::MP_TABLES`): the
/// ROM shadows 0xF0000, so they cannot be written into RAM there as for Multiboot kernels.
pub fn install(c: &mut Core) {
    let mut image = rom::builtin();
    let (sig, _, _, features) = crate::cpu::exec::system::cpuid_leaf(c, 1, 0);
    if let Some(a) = c.dev.apic.as_deref_mut() {
        let fits = super::mp::in_rom(&mut image, rom::MP_TABLES, a, sig, features);
        debug_assert!(fits, "the MP tables fit below the stubs");
    }
    c.mem.map_rom(image);
    attach(c);
}

/// Registers the hypercall port hook when the built-in ROM is mapped (after `install`, a
/// `--bios` load of the same image, or a snapshot restore: hooks are not saved).
pub fn attach(c: &mut Core) {
    if rom::builtin_present(&c.mem.rom) {
        c.hook_port_write(rom::HYPERCALL_PORT as u16, port_hook);
    }
}

fn port_hook(c: &mut Core, _port: u16, _size: u8, _value: u32) -> bool {
    hypercall(c)
}

/// Handles a write to the hypercall port. Returns false (the write is ordinary port I/O)
/// unless it comes from a stub of the built-in ROM.
pub fn hypercall(c: &mut Core) -> bool {
    if c.cpu.protected() || c.cpu.seg[CS].base != 0xF_0000 || !rom::builtin_present(&c.mem.rom) {
        return false;
    }
    let ip = c.cpu.eip.wrapping_sub(2) & 0xFFFF;
    match rom::call_at(ip) {
        Some(Call::Vector(v)) => service(c, v),
        Some(Call::Post) => {
            post(c);
            boot_disk(c);
        }
        None => return false,
    }
    true
}

fn service(c: &mut Core, v: u8) {
    match v {
        0x00 | 0x06 | 0x07 => {
            let (ip, cs) = (stack_word(c, 0), stack_word(c, 2));
            note(
                c,
                format!(
                    "unhandled CPU exception {v:#04x} in real mode at {cs:04x}:{ip:04x}; halting"
                ),
            );
            halt(c);
        }
        0x01..=0x05 => {}
        0x08 => irq0(c),
        0x09 => keyboard::irq1(c),
        0x0A..=0x0F => {
            let now = c.now_ns();
            c.dev.io_write(0x20, 1, 0x20, now);
        }
        0x70..=0x77 => {
            let now = c.now_ns();
            c.dev.io_write(0xA0, 1, 0x20, now);
            c.dev.io_write(0x20, 1, 0x20, now);
        }
        0x10 => video::int10(c),
        0x11 => {
            let eq = c.mem.read(bda::EQUIPMENT, 2);
            c.cpu.set16(0, eq);
        }
        0x12 => {
            let kib = c.mem.read(bda::MEM_KIB, 2);
            c.cpu.set16(0, kib);
        }
        0x13 => disk::int13(c),
        0x14 => int14(c),
        0x15 => int15(c),
        0x16 => keyboard::int16(c),
        0x17 => c.cpu.set8(AH, 0x30), // printer: "selected, out of paper"... nothing attached
        0x18 => {
            video::print(c, "No bootable disk. The machine halts.\r\n");
            note(c, "INT 18h: no bootable disk; halting".into());
            halt(c);
        }
        0x19 => boot_disk(c),
        0x1A => int1a(c),
        0x1B | 0x1C | 0x4A => {} // user hooks (Ctrl-Break, timer tick, RTC alarm)
        _ => unknown(c, v),
    }
}

// ---- helpers shared by the services ----

/// Leaves a note in the event log; BIOS notes start with "BIOS: " (front ends show them).
pub(crate) fn note(c: &mut Core, msg: String) {
    c.event(EventKind::Note(format!("BIOS: {msg}")));
}

/// An unknown function: CF set, AH = 86h ("function not supported"), noted in the event log.
pub(crate) fn unknown(c: &mut Core, v: u8) {
    let ax = c.cpu.get16(0);
    note(
        c,
        format!("unsupported service INT {v:02X}h AX={ax:04X}h (CF set, AH=86h)"),
    );
    c.cpu.set8(AH, 0x86);
    set_cf(c, true);
}

/// Halts the machine for good: interrupts off (INT already cleared IF), HLT.
pub(crate) fn halt(c: &mut Core) {
    c.cpu.flags.set_bit(IF, false);
    c.cpu.halted = true;
}

/// Linear address of the real-mode `seg:off`.
pub(crate) fn lin(c: &Core, seg: usize, off: u32) -> u32 {
    c.cpu.seg[seg].base.wrapping_add(off & 0xFFFF)
}

fn stack_addr(c: &Core, delta: u32) -> u32 {
    lin(c, SS, c.cpu.gpr[4].wrapping_add(delta))
}

fn stack_word(c: &mut Core, delta: u32) -> u32 {
    let a = stack_addr(c, delta);
    read_lin(c, a, 2)
}

/// Reads guest memory at a linear address (0 if it is not mapped).
pub(crate) fn read_lin(c: &mut Core, lin: u32, size: u8) -> u32 {
    c.read_lin(lin, size, false).unwrap_or(0)
}

/// Writes guest memory at a linear address; false if it is not mapped.
pub(crate) fn write_lin(c: &mut Core, lin: u32, size: u8, v: u32) -> bool {
    c.write_lin(lin, size, v, false).is_ok()
}

/// Sets a flag in the FLAGS image the stub's IRET will pop.
pub(crate) fn set_frame_flag(c: &mut Core, bit: u32, on: bool) {
    let a = stack_addr(c, 4);
    let f = read_lin(c, a, 2);
    let f = if on { f | bit } else { f & !bit };
    write_lin(c, a, 2, f);
}

pub(crate) fn set_cf(c: &mut Core, on: bool) {
    set_frame_flag(c, CF, on);
}

pub(crate) fn set_zf(c: &mut Core, on: bool) {
    set_frame_flag(c, ZF, on);
}

/// Makes the stub run its `out` again after interrupts had a chance (a waiting service).
pub(crate) fn retry_later(c: &mut Core) {
    c.cpu.eip = c.cpu.eip.wrapping_sub(2) & 0xFFFF;
    c.cpu.flags.set_bit(IF, true);
}

fn wphys(c: &mut Core, a: u32, size: u8, v: u32) {
    c.write_phys(a, size, v);
}

fn cmos_read(c: &mut Core, reg: u8) -> u8 {
    let now = c.now_ns();
    c.dev.io_write(0x70, 1, reg as u32, now);
    c.dev.io_read(0x71, 1, now) as u8
}

// ---- power-on self test and boot ----

/// POST: interrupt vector table, BIOS data area, PIC, PIT and screen, as a PC BIOS leaves
/// them for a boot sector. The disk (if any) is the ATA primary master, BIOS drive 80h.
pub fn post(c: &mut Core) {
    for v in 0..=255u8 {
        let ptr = (rom::ROM_SEG as u32) << 16 | rom::stub(v) as u32;
        wphys(c, v as u32 * 4, 4, ptr);
    }
    for a in (0x400..0x500).step_by(4) {
        wphys(c, a, 4, 0);
    }
    wphys(c, bda::COM1, 2, 0x3F8);
    wphys(c, bda::EBDA_SEG, 2, EBDA >> 4);
    // Equipment: 80x25 colour (bits 5-4 = 10b), one serial port (bits 11-9), no diskette.
    wphys(c, bda::EQUIPMENT, 2, 0x0220);
    wphys(c, bda::MEM_KIB, 2, BASE_KIB as u32);
    wphys(c, bda::KBD_HEAD, 2, 0x1E);
    wphys(c, bda::KBD_TAIL, 2, 0x1E);
    wphys(c, bda::KBD_START, 2, 0x1E);
    wphys(c, bda::KBD_END, 2, 0x3E);
    wphys(c, bda::HARD_DISKS, 1, u32::from(c.dev.ata.is_some()));
    wphys(c, EBDA, 2, 1); // EBDA size in KiB
                          // Ticks since midnight from the RTC's time of day.
    let secs = c.dev.cmos.unix_time().rem_euclid(86_400) as u64;
    wphys(c, bda::TICKS, 4, (secs * 1_193_182 / 65_536) as u32);
    wphys(c, bda::MIDNIGHT, 1, 0);

    let now = c.now_ns();
    let d = &mut c.dev;
    // 8259A pair: master at vectors 08h-0Fh, slave at 70h-77h; IRQ0, 1 and 2 unmasked.
    for (port, v) in [
        (0x20u16, 0x11u32),
        (0x21, 0x08),
        (0x21, 0x04),
        (0x21, 0x01),
        (0xA0, 0x11),
        (0xA1, 0x70),
        (0xA1, 0x02),
        (0xA1, 0x01),
        (0x21, 0xF8),
        (0xA1, 0xFF),
    ] {
        d.io_write(port, 1, v, now);
    }
    // 8254 channel 0: mode 3, divisor 65536 (18.2 Hz).
    for (port, v) in [(0x43u16, 0x36u32), (0x40, 0), (0x40, 0)] {
        d.io_write(port, 1, v, now);
    }
    video::set_mode(c, 3, true);
    video::print(c, "Traplab BIOS 1.0 (built-in, high-level emulation)\r\n");
}

/// Reads sector 0 of drive 80h to 0000:7C00 and enters it (INT 19h). Without a disk or a
/// boot signature it prints why and halts.
pub fn boot_disk(c: &mut Core) {
    let sector = c.dev.ata.as_ref().and_then(|a| {
        let mut s = vec![0; 512];
        a.disk().read(0, &mut s).ok().map(|()| s)
    });
    let Some(sector) = sector else {
        video::print(c, "No hard disk: nothing to boot. The machine halts.\r\n");
        note(c, "INT 19h: no disk to boot from; halting".into());
        return halt(c);
    };
    if sector[510..] != [0x55, 0xAA] {
        video::print(
            c,
            "Not a bootable disk (no 55AA signature). The machine halts.\r\n",
        );
        note(
            c,
            "INT 19h: sector 0 has no 55AA boot signature; halting".into(),
        );
        return halt(c);
    }
    video::print(c, "Booting from hard disk...\r\n");
    for (i, b) in sector.iter().enumerate() {
        wphys(c, 0x7C00 + i as u32, 1, *b as u32);
    }
    enter_boot_sector(c);
}

/// CPU state a PC BIOS hands to a boot sector: real mode, CS:IP = 0000:7C00, DL = 80h
/// (the boot drive), DS = ES = SS = 0, SP = 7C00h, interrupts on, IVT at 0.
pub fn enter_boot_sector(c: &mut Core) {
    for s in [ES, SS, DS, 4, 5] {
        c.cpu.seg[s] = Seg::real(0);
    }
    load_real_cs(c, 0);
    c.cpu.eip = 0x7C00;
    c.cpu.gpr = [0; 8];
    c.cpu.gpr[2] = 0x80;
    c.cpu.gpr[4] = 0x7C00;
    c.cpu.flags.set(0x202);
    c.cpu.halted = false;
    c.cpu.idtr = crate::mmu::segment::TableReg {
        base: 0,
        limit: 0x3FF,
    };
    c.request(Request::Rescan);
}

// ---- small services ----

/// IRQ0: count the tick (wrapping at midnight) and acknowledge the PIC.
fn irq0(c: &mut Core) {
    let mut t = c.mem.read(bda::TICKS, 4).wrapping_add(1);
    if t >= TICKS_PER_DAY {
        t = 0;
        wphys(c, bda::MIDNIGHT, 1, 1);
    }
    wphys(c, bda::TICKS, 4, t);
    let now = c.now_ns();
    c.dev.io_write(0x20, 1, 0x20, now);
}

/// INT 14h: COM1 through the UART's ports (AH=00h init, 01h send, 02h receive, 03h status).
fn int14(c: &mut Core) {
    if c.cpu.get16(2) != 0 {
        c.cpu.set8(AH, 0x80); // only COM1: "timeout"
        return;
    }
    let now = c.now_ns();
    let status = |c: &mut Core| {
        let lsr = c.dev.io_read(0x3FD, 1, now);
        let msr = c.dev.io_read(0x3FE, 1, now);
        c.cpu.set8(AH, lsr);
        c.cpu.set8(AL, msr);
    };
    match c.cpu.get8(AH) {
        0x00 => {
            // AL bits 7-5: 110..9600 baud; 1-0 word length, 2 stop bits, 4-3 parity.
            let al = c.cpu.get8(AL);
            let div = [1047u32, 768, 384, 192, 96, 48, 24, 12][(al >> 5) as usize];
            for (p, v) in [
                (0x3FB, 0x80),
                (0x3F8, div & 0xFF),
                (0x3F9, div >> 8),
                (0x3FB, al & 0x1F),
            ] {
                c.dev.io_write(p, 1, v, now);
            }
            status(c);
        }
        0x01 => {
            let al = c.cpu.get8(AL);
            c.dev.io_write(0x3F8, 1, al, now);
            let lsr = c.dev.io_read(0x3FD, 1, now);
            c.cpu.set8(AH, lsr);
        }
        0x02 => {
            let lsr = c.dev.io_read(0x3FD, 1, now);
            if lsr & 1 != 0 {
                let b = c.dev.io_read(0x3F8, 1, now);
                c.cpu.set8(AL, b);
                c.cpu.set8(AH, lsr & 0x1E);
            } else {
                c.cpu.set8(AH, 0x80);
            }
        }
        0x03 => status(c),
        _ => unknown(c, 0x14),
    }
}

/// INT 15h: memory map and sizes, A20, configuration table.
fn int15(c: &mut Core) {
    let ram = c.mem.ram.len() as u64;
    let ext_kib = ram.saturating_sub(1 << 20) / 1024;
    let ax = c.cpu.get16(0);
    match (c.cpu.get8(AH), ax) {
        (_, 0xE820) if c.cpu.gpr[2] == 0x534D_4150 => e820(c, ram),
        (_, 0xE801) => {
            let low = ext_kib.min(0x3C00) as u32; // 1-16 MiB in KiB
            let high = (ram.saturating_sub(16 << 20) / 65_536).min(0xFFFF) as u32;
            c.cpu.set16(0, low);
            c.cpu.set16(1, low);
            c.cpu.set16(3, high);
            c.cpu.set16(2, high);
            set_cf(c, false);
        }
        (_, 0x2400) | (_, 0x2401) => {
            let now = c.now_ns();
            let p92 = c.dev.port92 & !1;
            let v = if ax == 0x2401 { p92 | 2 } else { p92 & !2 };
            let e = c.dev.io_write(0x92, 1, v as u32, now);
            if let crate::devices::IoEffect::A20Changed(on) = e {
                c.set_a20(on);
            }
            c.cpu.set8(AH, 0);
            set_cf(c, false);
        }
        (_, 0x2402) => {
            let on = c.dev.a20_enabled();
            c.cpu.set8(AH, 0);
            c.cpu.set8(AL, on as u32);
            set_cf(c, false);
        }
        (_, 0x2403) => {
            c.cpu.set8(AH, 0);
            c.cpu.set16(3, 0x0003); // through the 8042 and port 92h
            set_cf(c, false);
        }
        (0x88, _) => {
            c.cpu.set16(0, ext_kib.min(0xFC00) as u32);
            set_cf(c, false);
        }
        (0xC0, _) => {
            c.cpu.seg[ES] = Seg::real(rom::ROM_SEG);
            c.cpu.set16(3, rom::CONFIG_TABLE as u32);
            c.cpu.set8(AH, 0);
            set_cf(c, false);
        }
        (0x86, _) => set_cf(c, false), // wait CX:DX µs: returns at once (time is virtual)
        _ => unknown(c, 0x15),
    }
}

/// INT 15h EAX=E820h: one address-range descriptor per call (ACPI "Address Range Descriptor").
fn e820(c: &mut Core, ram: u64) {
    let map: [(u64, u64, u32); 4] = [
        (0, EBDA as u64, 1),
        (EBDA as u64, 0xA_0000 - EBDA as u64, 2),
        (0xF_0000, 0x1_0000, 2),
        (0x10_0000, ram.saturating_sub(0x10_0000), 1),
    ];
    let idx = c.cpu.gpr[3] as usize;
    let Some(&(base, len, typ)) = map.get(idx) else {
        c.cpu.set8(AH, 0x86);
        return set_cf(c, true);
    };
    if c.cpu.gpr[1] < 20 {
        c.cpu.set8(AH, 0x86);
        return set_cf(c, true);
    }
    let buf = lin(c, ES, c.cpu.gpr[7]);
    for (k, v) in [
        base as u32,
        (base >> 32) as u32,
        len as u32,
        (len >> 32) as u32,
        typ,
    ]
    .into_iter()
    .enumerate()
    {
        write_lin(c, buf.wrapping_add(4 * k as u32), 4, v);
    }
    c.cpu.gpr[0] = 0x534D_4150;
    c.cpu.gpr[1] = 20;
    c.cpu.gpr[3] = if idx + 1 < map.len() {
        idx as u32 + 1
    } else {
        0
    };
    set_cf(c, false);
}

/// INT 1Ah: tick count, RTC time and date (BCD as the CMOS holds them).
fn int1a(c: &mut Core) {
    match c.cpu.get8(AH) {
        0x00 => {
            let t = c.mem.read(bda::TICKS, 4);
            let m = c.mem.read(bda::MIDNIGHT, 1);
            wphys(c, bda::MIDNIGHT, 1, 0);
            c.cpu.set16(1, t >> 16);
            c.cpu.set16(2, t & 0xFFFF);
            c.cpu.set8(AL, m);
            set_cf(c, false);
        }
        0x01 => {
            let t = c.cpu.get16(1) << 16 | c.cpu.get16(2);
            wphys(c, bda::TICKS, 4, t);
            wphys(c, bda::MIDNIGHT, 1, 0);
            c.cpu.set8(AH, 0);
            set_cf(c, false);
        }
        0x02 => {
            let (h, m, s) = (cmos_read(c, 4), cmos_read(c, 2), cmos_read(c, 0));
            let dst = cmos_read(c, 0x0B) & 1;
            c.cpu.set8(CH, h as u32);
            c.cpu.set8(CL, m as u32);
            c.cpu.set8(DH, s as u32);
            c.cpu.set8(DL, dst as u32);
            c.cpu.set8(AH, 0);
            set_cf(c, false);
        }
        0x04 => {
            let (cen, y, mo, d) = (
                cmos_read(c, 0x32),
                cmos_read(c, 9),
                cmos_read(c, 8),
                cmos_read(c, 7),
            );
            c.cpu.set8(CH, cen as u32);
            c.cpu.set8(CL, y as u32);
            c.cpu.set8(DH, mo as u32);
            c.cpu.set8(DL, d as u32);
            c.cpu.set8(AH, 0);
            set_cf(c, false);
        }
        _ => unknown(c, 0x1A),
    }
}

#[cfg(test)]
mod tests;
