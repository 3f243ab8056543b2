//! VGA in 80x25 colour text mode. The text buffer itself is ordinary guest RAM at 0xB8000;
//! this device owns only the registers (CRTC at 0x3D4/0x3D5, misc output 0x3C2/0x3CC, input
//! status 1 at 0x3DA, attribute controller 0x3C0/0x3C1, sequencer 0x3C4/0x3C5, graphics
//! controller 0x3CE/0x3CF, DAC 0x3C6-0x3C9) and the decoding of the buffer for front ends.
//! It renders no pixels and supports no graphics modes: other registers just read back, and
//! the monochrome aliases (0x3B4/0x3B5/0x3BA) are not decoded.
//!
//! Notes (IBM VGA Technical Reference): the cursor location (CRTC 0x0E/0x0F) and the start
//! address (0x0C/0x0D) count 16-bit character cells; CRTC 0x0A bit 5 hides the cursor;
//! attribute mode control (index 0x10) bit 3 selects blink (attribute bit 7) instead of a
//! bright background; reading 0x3DA resets the attribute controller's index/data flip-flop.
//! Retrace bits in 0x3DA follow virtual time: a 70 Hz frame (14,285,714 ns) whose last
//! 0.5 ms is vertical retrace, and 31,778 ns lines whose last 5,778 ns are horizontal blanking.

use serde::{Deserialize, Serialize};

/// Physical address of the colour text buffer.
pub const TEXT_BASE: usize = 0xB8000;
pub const ROWS: usize = 25;
pub const COLS: usize = 80;

/// The 16 text-mode colours as RGB (the default VGA palette).
pub const PALETTE: [[u8; 3]; 16] = [
    [0x00, 0x00, 0x00],
    [0x00, 0x00, 0xAA],
    [0x00, 0xAA, 0x00],
    [0x00, 0xAA, 0xAA],
    [0xAA, 0x00, 0x00],
    [0xAA, 0x00, 0xAA],
    [0xAA, 0x55, 0x00],
    [0xAA, 0xAA, 0xAA],
    [0x55, 0x55, 0x55],
    [0x55, 0x55, 0xFF],
    [0x55, 0xFF, 0x55],
    [0x55, 0xFF, 0xFF],
    [0xFF, 0x55, 0x55],
    [0xFF, 0x55, 0xFF],
    [0xFF, 0xFF, 0x55],
    [0xFF, 0xFF, 0xFF],
];

/// Mode 3 CRTC registers as a BIOS programs them.
const MODE3_CRTC: [u8; 25] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
    0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
];

const FRAME_NS: u64 = 14_285_714;
const VRETRACE_NS: u64 = 500_000;
const LINE_NS: u64 = 31_778;
const HBLANK_NS: u64 = 5_778;

/// One character cell: CP437 code, foreground and background colour (0-15), blink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub ch: u8,
    pub fg: u8,
    pub bg: u8,
    pub blink: bool,
}

/// The decoded 80x25 screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextScreen {
    pub cells: [[Cell; COLS]; ROWS],
}

impl TextScreen {
    /// Row `row` as Unicode text, full width.
    pub fn line(&self, row: usize) -> String {
        self.cells
            .get(row)
            .map(|r| r.iter().map(|c| cp437_to_char(c.ch)).collect())
            .unwrap_or_default()
    }

    /// The 25 lines as Unicode text (CP437 mapped), trailing spaces trimmed, joined by '\n'.
    pub fn to_string_lossy(&self) -> String {
        (0..ROWS)
            .map(|r| self.line(r).trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// CP437 as Unicode; 0x00 and 0xFF (NBSP) show as a space.
#[rustfmt::skip]
pub const CP437: [char; 256] = [
    ' ', '☺', '☻', '♥', '♦', '♣', '♠', '•', '◘', '○', '◙', '♂', '♀', '♪', '♫', '☼', // 0x00
    '►', '◄', '↕', '‼', '¶', '§', '▬', '↨', '↑', '↓', '→', '←', '∟', '↔', '▲', '▼', // 0x10
    ' ', '!', '"', '#', '$', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', // 0x20
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', // 0x30
    '@', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', // 0x40
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '[', '\\', ']', '^', '_', // 0x50
    '`', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', // 0x60
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '{', '|', '}', '~', '⌂', // 0x70
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', // 0x80
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', // 0x90
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', // 0xA0
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', // 0xB0
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', // 0xC0
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', // 0xD0
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', // 0xE0
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', ' ', // 0xF0
];

/// Maps a CP437 code to the Unicode character it shows.
pub fn cp437_to_char(b: u8) -> char {
    CP437[b as usize]
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vga {
    crtc_index: u8,
    crtc: [u8; 25],
    misc_output: u8,
    attr_index: u8,
    /// Attribute controller flip-flop: true when the next 0x3C0 write is data.
    attr_data_next: bool,
    attr: [u8; 21],
    seq_index: u8,
    seq: [u8; 5],
    gc_index: u8,
    gc: [u8; 9],
    pel_mask: u8,
    dac_read_index: u8,
    dac_write_index: u8,
    dac_component: u8,
    #[serde(with = "serde_bytes")]
    dac: Vec<u8>,
}

impl Default for Vga {
    fn default() -> Self {
        Self::new()
    }
}

impl Vga {
    /// Mode 3 as a BIOS leaves it: colour addressing, cursor at 0,0, blink enabled.
    pub fn new() -> Self {
        let mut attr = [0u8; 21];
        for (i, a) in attr.iter_mut().enumerate().take(16) {
            *a = i as u8;
        }
        attr[0x10] = 0x0C;
        attr[0x12] = 0x0F;
        let mut dac = vec![0u8; 768];
        for (i, rgb) in PALETTE.iter().enumerate() {
            for c in 0..3 {
                dac[i * 3 + c] = rgb[c] >> 2;
            }
        }
        Vga {
            crtc_index: 0,
            crtc: MODE3_CRTC,
            misc_output: 0x67,
            attr_index: 0x20,
            attr_data_next: false,
            attr,
            seq_index: 0,
            seq: [0x03, 0x00, 0x03, 0x00, 0x02],
            gc_index: 0,
            gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF],
            pel_mask: 0xFF,
            dac_read_index: 0,
            dac_write_index: 0,
            dac_component: 0,
            dac,
        }
    }

    fn start_address(&self) -> usize {
        (self.crtc[0x0C] as usize) << 8 | self.crtc[0x0D] as usize
    }

    /// Cursor as (row, column, visible); invisible when disabled or off screen.
    pub fn cursor(&self) -> (u8, u8, bool) {
        let loc = (self.crtc[0x0E] as usize) << 8 | self.crtc[0x0F] as usize;
        let rel = loc.wrapping_sub(self.start_address()) & 0xFFFF;
        let (row, col) = (rel / COLS, rel % COLS);
        let visible = self.crtc[0x0A] & 0x20 == 0 && row < ROWS;
        (row.min(255) as u8, col as u8, visible)
    }

    /// Decodes the text buffer from guest RAM (`ram` starts at physical address 0). Bytes
    /// beyond the end of `ram` read as 0.
    pub fn text(&self, ram: &[u8]) -> TextScreen {
        let blink_mode = self.attr[0x10] & 0x08 != 0;
        let start = self.start_address() * 2;
        let mut screen = TextScreen {
            cells: [[Cell::default(); COLS]; ROWS],
        };
        for (r, row) in screen.cells.iter_mut().enumerate() {
            for (c, cell) in row.iter_mut().enumerate() {
                let off = (start + (r * COLS + c) * 2) & 0x7FFF;
                let byte = |i: usize| ram.get(TEXT_BASE + i).copied().unwrap_or(0);
                let (ch, a) = (byte(off), byte((off + 1) & 0x7FFF));
                *cell = Cell {
                    ch,
                    fg: a & 0x0F,
                    bg: if blink_mode { (a >> 4) & 7 } else { a >> 4 },
                    blink: blink_mode && a & 0x80 != 0,
                };
            }
        }
        screen
    }

    fn input_status(&mut self, now_ns: u64) -> u8 {
        self.attr_data_next = false;
        let vretrace = now_ns % FRAME_NS >= FRAME_NS - VRETRACE_NS;
        let hblank = now_ns % LINE_NS >= LINE_NS - HBLANK_NS;
        u8::from(vretrace || hblank) | if vretrace { 0x08 } else { 0 }
    }

    /// Reads a VGA port (0x3C0-0x3DF); others read 0xFF.
    pub fn read(&mut self, port: u16, now_ns: u64) -> u8 {
        match port {
            0x3C0 => self.attr_index,
            0x3C1 => self
                .attr
                .get((self.attr_index & 0x1F) as usize)
                .copied()
                .unwrap_or(0),
            0x3C2 => 0x10, // input status 0: switch sense
            0x3C4 => self.seq_index,
            0x3C5 => self.seq.get(self.seq_index as usize).copied().unwrap_or(0),
            0x3C6 => self.pel_mask,
            0x3C7 => 0x00, // DAC state: write mode
            0x3C8 => self.dac_write_index,
            0x3C9 => {
                let i = self.dac_read_index as usize * 3 + self.dac_component as usize;
                let v = self.dac[i];
                self.advance_dac(true);
                v
            }
            0x3CC => self.misc_output,
            0x3CE => self.gc_index,
            0x3CF => self.gc.get(self.gc_index as usize).copied().unwrap_or(0),
            0x3D4 => self.crtc_index,
            0x3D5 => self
                .crtc
                .get(self.crtc_index as usize)
                .copied()
                .unwrap_or(0),
            0x3DA => self.input_status(now_ns),
            _ => 0xFF,
        }
    }

    fn advance_dac(&mut self, read: bool) {
        self.dac_component += 1;
        if self.dac_component == 3 {
            self.dac_component = 0;
            if read {
                self.dac_read_index = self.dac_read_index.wrapping_add(1);
            } else {
                self.dac_write_index = self.dac_write_index.wrapping_add(1);
            }
        }
    }

    /// Writes a VGA port (0x3C0-0x3DF); others are ignored.
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x3C0 => {
                if self.attr_data_next {
                    if let Some(r) = self.attr.get_mut((self.attr_index & 0x1F) as usize) {
                        *r = value;
                    }
                } else {
                    self.attr_index = value & 0x3F;
                }
                self.attr_data_next = !self.attr_data_next;
            }
            0x3C2 => self.misc_output = value,
            0x3C4 => self.seq_index = value,
            0x3C5 => {
                if let Some(r) = self.seq.get_mut(self.seq_index as usize) {
                    *r = value;
                }
            }
            0x3C6 => self.pel_mask = value,
            0x3C7 => {
                self.dac_read_index = value;
                self.dac_component = 0;
            }
            0x3C8 => {
                self.dac_write_index = value;
                self.dac_component = 0;
            }
            0x3C9 => {
                let i = self.dac_write_index as usize * 3 + self.dac_component as usize;
                self.dac[i] = value & 0x3F;
                self.advance_dac(false);
            }
            0x3CE => self.gc_index = value,
            0x3CF => {
                if let Some(r) = self.gc.get_mut(self.gc_index as usize) {
                    *r = value;
                }
            }
            0x3D4 => self.crtc_index = value,
            0x3D5 => {
                // CRTC 0x11 bit 7 write-protects registers 0-7.
                let protected = self.crtc[0x11] & 0x80 != 0 && self.crtc_index < 8;
                if let Some(r) = self.crtc.get_mut(self.crtc_index as usize) {
                    if !protected {
                        *r = value;
                    }
                }
            }
            _ => {}
        }
    }
}

impl Vga {
    /// Snapshot validation: the DAC palette and its indexes.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.dac.len() != 768 || self.dac_component > 2 {
            return Err(format!(
                "VGA DAC of {} bytes, component {}",
                self.dac.len(),
                self.dac_component
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cursor(v: &mut Vga, pos: u16) {
        v.write(0x3D4, 0x0E);
        v.write(0x3D5, (pos >> 8) as u8);
        v.write(0x3D4, 0x0F);
        v.write(0x3D5, pos as u8);
    }

    #[test]
    fn text_extraction() {
        let v = Vga::new();
        let mut ram = vec![0u8; 1 << 20];
        for (i, b) in b"Hello".iter().enumerate() {
            ram[TEXT_BASE + i * 2] = *b;
            ram[TEXT_BASE + i * 2 + 1] = 0x1F;
        }
        let at = TEXT_BASE + (COLS + 2) * 2;
        ram[at] = 0xC9; // box drawing corner
        ram[at + 1] = 0xCE; // blink, red background, yellow foreground
        let s = v.text(&ram);
        assert_eq!(
            s.cells[0][0],
            Cell {
                ch: b'H',
                fg: 15,
                bg: 1,
                blink: false
            }
        );
        assert_eq!(
            s.cells[1][2],
            Cell {
                ch: 0xC9,
                fg: 14,
                bg: 4,
                blink: true
            }
        );
        let text = s.to_string_lossy();
        assert!(text.starts_with("Hello\n  ╔\n"));
        assert_eq!(text.split('\n').count(), 25);
        assert_eq!(s.line(0).chars().count(), 80);
        // A short RAM slice never panics.
        assert_eq!(v.text(&[]).cells[0][0].ch, 0);
    }

    #[test]
    fn cp437_mapping() {
        assert_eq!(cp437_to_char(b'A'), 'A');
        assert_eq!(cp437_to_char(0x01), '☺');
        assert_eq!(cp437_to_char(0x7F), '⌂');
        assert_eq!(cp437_to_char(0x80), 'Ç');
        assert_eq!(cp437_to_char(0xB3), '│');
        assert_eq!(cp437_to_char(0xC4), '─');
        assert_eq!(cp437_to_char(0xDB), '█');
        assert_eq!(cp437_to_char(0xFE), '■');
        assert_eq!(cp437_to_char(0xFF), ' ');
        assert_eq!(cp437_to_char(0x1F), '▼');
        assert_eq!(cp437_to_char(b'\\'), '\\');
    }

    #[test]
    fn cursor_and_start_address() {
        let mut v = Vga::new();
        assert_eq!(v.cursor(), (0, 0, true));
        set_cursor(&mut v, 3 * 80 + 7);
        assert_eq!(v.cursor(), (3, 7, true));
        v.write(0x3D4, 0x0C);
        v.write(0x3D5, 0x00);
        v.write(0x3D4, 0x0D);
        v.write(0x3D5, 80);
        assert_eq!(v.cursor(), (2, 7, true));
        v.write(0x3D4, 0x0A);
        v.write(0x3D5, 0x20);
        assert!(!v.cursor().2);
        assert_eq!(v.read(0x3D5, 0), 0x20);
        // The start address scrolls the text.
        let mut ram = vec![0u8; 0xC0000];
        ram[TEXT_BASE + 160] = b'X';
        assert_eq!(v.text(&ram).cells[0][0].ch, b'X');
    }

    #[test]
    fn retrace_and_attribute_flip_flop() {
        let mut v = Vga::new();
        assert_eq!(v.read(0x3DA, 0), 0);
        assert_eq!(v.read(0x3DA, LINE_NS - 1) & 0x09, 0x01);
        assert_eq!(v.read(0x3DA, FRAME_NS - 1) & 0x09, 0x09);
        v.write(0x3C0, 0x10);
        v.write(0x3C0, 0x04); // data: blink off
        v.read(0x3DA, 0);
        v.write(0x3C0, 0x30);
        assert_eq!(v.read(0x3C1, 0), 0x04);
        let mut ram = vec![0u8; 0xC0000];
        ram[TEXT_BASE + 1] = 0xF0;
        assert_eq!(
            v.text(&ram).cells[0][0],
            Cell {
                ch: 0,
                fg: 0,
                bg: 15,
                blink: false
            }
        );
        assert_eq!(v.read(0x3CC, 0), 0x67);
    }
}
