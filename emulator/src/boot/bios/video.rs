//! INT 10h, the video BIOS, for the 80x25 colour text mode at 0xB8000 (8 pages of 4 KiB).
//! Owns the text-mode bookkeeping a BIOS keeps in the BIOS data area (mode, columns, cursor
//! per page, active page, cursor shape) and programs the VGA CRTC (start address, cursor)
//! through the device's registers. Graphics modes are not emulated: asking for one gives
//! mode 3 and a note in the event log.

use super::{bda, lin, note, read_lin, set_cf, unknown, AH, AL, BH, BL, CH, CL, DH, DL};
use crate::cpu::ctx::Core;
use crate::mmu::segment::ES;

pub const COLS: u32 = 80;
pub const ROWS: u32 = 25;
const TEXT: u32 = 0xB_8000;
const PAGE_BYTES: u32 = 0x1000;

fn cell_addr(page: u32, row: u32, col: u32) -> u32 {
    TEXT + page * PAGE_BYTES + (row * COLS + col) * 2
}

fn crtc(c: &mut Core, index: u8, value: u32) {
    c.dev.vga.write(0x3D4, index);
    c.dev.vga.write(0x3D5, value as u8);
}

/// (row, column) of the cursor of `page`.
pub fn cursor(c: &Core, page: u32) -> (u32, u32) {
    let a = bda::CURSOR_POS + 2 * (page & 7);
    (c.mem.read(a + 1, 1), c.mem.read(a, 1))
}

fn active_page(c: &Core) -> u32 {
    c.mem.read(bda::ACTIVE_PAGE, 1) & 7
}

/// Moves the cursor of `page`; the hardware cursor follows when the page is shown.
pub fn set_cursor(c: &mut Core, page: u32, row: u32, col: u32) {
    let page = page & 7;
    let a = bda::CURSOR_POS + 2 * page;
    c.write_phys(a, 1, col);
    c.write_phys(a + 1, 1, row);
    if page == active_page(c) {
        let pos = page * PAGE_BYTES / 2 + row * COLS + col;
        crtc(c, 0x0E, pos >> 8);
        crtc(c, 0x0F, pos & 0xFF);
    }
}

/// Sets a text mode (2, 3 and 7 act as 3); `clear` fills every page with blanks (0x0720).
pub fn set_mode(c: &mut Core, mode: u32, clear: bool) {
    if !matches!(mode, 2 | 3) {
        note(
            c,
            format!("INT 10h: video mode {mode:#04x} is not emulated; using text mode 3"),
        );
    }
    for (a, size, v) in [
        (bda::VIDEO_MODE, 1, 3),
        (bda::COLUMNS, 2, COLS),
        (bda::PAGE_SIZE, 2, PAGE_BYTES),
        (bda::PAGE_START, 2, 0),
        (bda::CURSOR_SHAPE, 2, 0x0607),
        (bda::ACTIVE_PAGE, 1, 0),
        (bda::CRTC_BASE, 2, 0x3D4),
        (bda::MODE_CTL, 1, 0x29),
        (bda::PALETTE, 1, 0x30),
        (bda::ROWS_MINUS_1, 1, ROWS - 1),
        (bda::CHAR_HEIGHT, 2, 16),
        (bda::VIDEO_CTL, 1, 0x60),
        (bda::VIDEO_SWITCHES, 1, 0x09),
        (bda::VGA_FLAGS, 1, 0x11),
    ] {
        c.write_phys(a, size, v);
    }
    for p in 0..8 {
        c.write_phys(bda::CURSOR_POS + 2 * p, 2, 0);
    }
    if clear {
        for i in 0..(8 * PAGE_BYTES / 4) {
            c.write_phys(TEXT + 4 * i, 4, 0x0720_0720);
        }
    }
    crtc(c, 0x0A, 0x0D);
    crtc(c, 0x0B, 0x0E);
    crtc(c, 0x0C, 0);
    crtc(c, 0x0D, 0);
    set_cursor(c, 0, 0, 0);
}

/// Scrolls the window (top, left)-(bottom, right) of `page` up (or down) by `lines`
/// (0 = clear it), filling with blanks of attribute `attr`.
#[allow(clippy::too_many_arguments)]
pub fn scroll(
    c: &mut Core,
    page: u32,
    lines: u32,
    attr: u32,
    top: u32,
    left: u32,
    bottom: u32,
    right: u32,
    up: bool,
) {
    let (bottom, right) = (bottom.min(ROWS - 1), right.min(COLS - 1));
    if top > bottom || left > right {
        return;
    }
    let height = bottom - top + 1;
    let lines = if lines == 0 || lines > height {
        height
    } else {
        lines
    };
    let blank = 0x20 | (attr & 0xFF) << 8;
    for k in 0..height {
        // Up: fill rows top.. from below; down: fill rows bottom.. from above.
        let dst = if up { top + k } else { bottom - k };
        let src_k = k + lines;
        for col in left..=right {
            let v = if src_k < height {
                let src = if up { top + src_k } else { bottom - src_k };
                c.mem.read(cell_addr(page, src, col), 2)
            } else {
                blank
            };
            c.write_phys(cell_addr(page, dst, col), 2, v);
        }
    }
}

/// Teletype output of one byte on `page` (BEL, BS, LF and CR are controls); `attr` colours
/// printed characters (None keeps the cell's attribute). Scrolls at the bottom.
pub fn teletype(c: &mut Core, ch: u8, page: u32, attr: Option<u32>) {
    let (mut row, mut col) = cursor(c, page);
    match ch {
        0x07 => {}
        0x08 => col = col.saturating_sub(1),
        0x0A => row += 1,
        0x0D => col = 0,
        _ => {
            let a = cell_addr(page, row.min(ROWS - 1), col.min(COLS - 1));
            c.write_phys(a, 1, ch as u32);
            if let Some(at) = attr {
                c.write_phys(a + 1, 1, at);
            }
            col += 1;
            if col >= COLS {
                col = 0;
                row += 1;
            }
        }
    }
    if row >= ROWS {
        let at = c
            .mem
            .read(cell_addr(page, ROWS - 1, col.min(COLS - 1)) + 1, 1);
        scroll(c, page, 1, at, 0, 0, ROWS - 1, COLS - 1, true);
        row = ROWS - 1;
    }
    set_cursor(c, page, row, col);
}

/// Prints a BIOS message on the active page (the screen only, as a PC BIOS does).
pub fn print(c: &mut Core, s: &str) {
    let page = active_page(c);
    for b in s.bytes() {
        teletype(c, b, page, None);
    }
}

/// Writes `count` copies of `ch` from the cursor on, without moving it (AH=09h/0Ah).
fn write_repeat(c: &mut Core, page: u32, ch: u32, attr: Option<u32>, count: u32) {
    let (row, col) = cursor(c, page);
    let start = row * COLS + col;
    for i in start..(start + count).min(ROWS * COLS) {
        let a = TEXT + page * PAGE_BYTES + 2 * i;
        c.write_phys(a, 1, ch);
        if let Some(at) = attr {
            c.write_phys(a + 1, 1, at);
        }
    }
}

pub fn int10(c: &mut Core) {
    let g = |c: &Core, r| c.cpu.get8(r);
    match g(c, AH) {
        0x00 => {
            let al = g(c, AL);
            set_mode(c, al & 0x7F, al & 0x80 == 0);
            // AL returns the "mode byte" (SeaBIOS: 30h for text modes 0-5 and 7).
            c.cpu.set8(AL, 0x30);
        }
        0x01 => {
            let (start, end) = (g(c, CH), g(c, CL));
            c.write_phys(bda::CURSOR_SHAPE, 1, end);
            c.write_phys(bda::CURSOR_SHAPE + 1, 1, start);
            crtc(c, 0x0A, start & 0x3F);
            crtc(c, 0x0B, end & 0x1F);
        }
        0x02 => {
            let (page, row, col) = (g(c, BH), g(c, DH), g(c, DL));
            set_cursor(c, page, row, col);
        }
        0x03 => {
            let (row, col) = cursor(c, g(c, BH));
            let shape = c.mem.read(bda::CURSOR_SHAPE, 2);
            c.cpu.set8(DH, row);
            c.cpu.set8(DL, col);
            c.cpu.set16(1, shape);
            c.cpu.set16(0, 0);
        }
        0x05 => {
            let page = g(c, AL) & 7;
            c.write_phys(bda::ACTIVE_PAGE, 1, page);
            c.write_phys(bda::PAGE_START, 2, page * PAGE_BYTES);
            let start = page * PAGE_BYTES / 2;
            crtc(c, 0x0C, start >> 8);
            crtc(c, 0x0D, start & 0xFF);
            let (row, col) = cursor(c, page);
            set_cursor(c, page, row, col);
        }
        ah @ (0x06 | 0x07) => {
            let page = active_page(c);
            let (lines, attr) = (g(c, AL), g(c, BH));
            let (t, l, b, r) = (g(c, CH), g(c, CL), g(c, DH), g(c, DL));
            scroll(c, page, lines, attr, t, l, b, r, ah == 0x06);
        }
        0x08 => {
            let page = g(c, BH) & 7;
            let (row, col) = cursor(c, page);
            let v = c
                .mem
                .read(cell_addr(page, row.min(ROWS - 1), col.min(COLS - 1)), 2);
            c.cpu.set16(0, v);
        }
        0x09 => {
            let (page, ch, attr, n) = (g(c, BH) & 7, g(c, AL), g(c, BL), c.cpu.get16(1));
            write_repeat(c, page, ch, Some(attr), n);
        }
        0x0A => {
            let (page, ch, n) = (g(c, BH) & 7, g(c, AL), c.cpu.get16(1));
            write_repeat(c, page, ch, None, n);
        }
        0x0B | 0x10 => {} // palettes: nothing to do in text mode
        0x0E => {
            let ch = g(c, AL) as u8;
            let page = active_page(c);
            teletype(c, ch, page, None);
        }
        0x0F => {
            let mode = c.mem.read(bda::VIDEO_MODE, 1);
            let page = active_page(c);
            c.cpu.set8(AL, mode);
            c.cpu.set8(AH, COLS);
            c.cpu.set8(BH, page);
        }
        0x11 if g(c, AL) == 0x30 => {
            c.cpu.set16(1, 16);
            c.cpu.set8(DL, ROWS - 1);
        }
        0x12 if g(c, BL) == 0x10 => {
            c.cpu.set16(3, 0x0003); // colour, 256 KiB
            c.cpu.set16(1, 0x0009);
        }
        0x13 => write_string(c),
        0x1A if g(c, AL) == 0 => {
            c.cpu.set8(AL, 0x1A);
            c.cpu.set16(3, 0x0008); // VGA with colour display
        }
        _ => unknown(c, 0x10),
    }
}

/// AH=13h: write the string at ES:BP (CX characters) at row DH, column DL of page BH.
/// AL bit 0: leave the cursor after the string; bit 1: the string alternates char, attr.
fn write_string(c: &mut Core) {
    let g = |c: &Core, r| c.cpu.get8(r);
    let (mode, page, attr) = (g(c, AL), g(c, BH) & 7, g(c, BL));
    let (n, row, col) = (c.cpu.get16(1), g(c, DH), g(c, DL));
    let saved = cursor(c, page);
    set_cursor(c, page, row, col);
    let mut off = c.cpu.gpr[5];
    for _ in 0..n {
        let ch = read_lin(c, lin(c, ES, off), 1) as u8;
        off += 1;
        let at = if mode & 2 != 0 {
            let a = read_lin(c, lin(c, ES, off), 1);
            off += 1;
            a
        } else {
            attr
        };
        teletype(c, ch, page, Some(at));
    }
    if mode & 1 == 0 {
        set_cursor(c, page, saved.0, saved.1);
    }
    set_cf(c, false);
}
