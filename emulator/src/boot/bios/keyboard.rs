//! The keyboard BIOS: INT 09h (IRQ1: read a set-1 scan code from port 60h, keep the shift
//! state, translate it for the US layout and queue it in the BIOS data area's 16-word ring)
//! and INT 16h (read, peek, shift flags, store). Bytes that arrive on COM1 are typed too
//! (CR, LF or CR LF give Enter; DEL gives Backspace), so a piped script can drive a boot
//! sector. Reading waits by spinning the stub with interrupts on (see `bios`).

use super::{bda, retry_later, set_cf, set_zf, unknown, AH, AL};
use crate::cpu::ctx::Core;

/// Set-1 make codes 00h-39h to ASCII, without and with Shift (0: no character).
const NORMAL: &[u8; 0x3A] =
    b"\x00\x1b1234567890-=\x08\tqwertyuiop[]\r\x00asdfghjkl;'`\x00\\zxcvbnm,./\x00*\x00 ";
const SHIFTED: &[u8; 0x3A] =
    b"\x00\x1b!@#$%^&*()_+\x08\tQWERTYUIOP{}\r\x00ASDFGHJKL:\"~\x00|ZXCVBNM<>?\x00*\x00 ";

// Shift-state bits at 0040:0017.
const RSHIFT: u32 = 0x01;
const LSHIFT: u32 = 0x02;
const CTRL: u32 = 0x04;
const ALT: u32 = 0x08;
const CAPS: u32 = 0x40;
/// 0040:0096 bit 1: the last byte was the E0 prefix.
const E0_SEEN: u32 = 0x02;

fn ptr(c: &Core, a: u32) -> u32 {
    c.mem.read(a, 2)
}

/// Queues a key (scan code << 8 | ASCII); false when the ring is full.
fn push_key(c: &mut Core, key: u32) -> bool {
    let (start, end) = (ptr(c, bda::KBD_START), ptr(c, bda::KBD_END));
    let tail = ptr(c, bda::KBD_TAIL);
    let mut next = tail + 2;
    if next >= end {
        next = start;
    }
    if next == ptr(c, bda::KBD_HEAD) || !(start..end).contains(&tail) {
        return false;
    }
    c.write_phys(0x400 + tail, 2, key);
    c.write_phys(bda::KBD_TAIL, 2, next);
    true
}

/// The next key without removing it.
fn peek_key(c: &Core) -> Option<u32> {
    let head = ptr(c, bda::KBD_HEAD);
    (head != ptr(c, bda::KBD_TAIL)).then(|| c.mem.read(0x400 + head, 2))
}

fn pop_key(c: &mut Core) -> Option<u32> {
    let key = peek_key(c)?;
    let mut next = ptr(c, bda::KBD_HEAD) + 2;
    if next >= ptr(c, bda::KBD_END) {
        next = ptr(c, bda::KBD_START);
    }
    c.write_phys(bda::KBD_HEAD, 2, next);
    Some(key)
}

/// The scan code of the key that types `ascii` on a US keyboard (0 if none).
fn scan_of(ascii: u8) -> u32 {
    match ascii {
        0x08 | 0x09 | 0x0D | 0x1B => NORMAL
            .iter()
            .position(|&b| b == ascii)
            .map_or(0, |p| p as u32),
        1..=26 => scan_of(ascii - 1 + b'a'),
        0x7F => 0x0E,
        _ => NORMAL
            .iter()
            .position(|&b| b == ascii)
            .or_else(|| SHIFTED.iter().position(|&b| b == ascii))
            .map_or(0, |p| p as u32),
    }
}

/// Moves bytes waiting in COM1 into the keyboard ring.
fn pump_serial(c: &mut Core) {
    let now = c.now_ns();
    for _ in 0..16 {
        if c.dev.io_read(0x3FD, 1, now) & 1 == 0 {
            return;
        }
        let b = c.dev.io_read(0x3F8, 1, now) as u8;
        let last_cr = c.mem.read(bda::SERIAL_LAST_CR, 1) != 0;
        c.write_phys(bda::SERIAL_LAST_CR, 1, u32::from(b == b'\r'));
        let key = match b {
            b'\n' if last_cr => continue,
            b'\n' | b'\r' => 0x1C0D,
            0x7F => 0x0E08,
            _ => scan_of(b) << 8 | b as u32,
        };
        if !push_key(c, key) {
            return;
        }
    }
}

/// IRQ1: one scan code from the 8042.
pub fn irq1(c: &mut Core) {
    let now = c.now_ns();
    let code = c.dev.io_read(0x60, 1, now);
    let mut flags = c.mem.read(bda::KBD_FLAGS, 1);
    let flags3 = c.mem.read(bda::KBD_FLAGS3, 1);
    let e0 = flags3 & E0_SEEN != 0;
    c.write_phys(bda::KBD_FLAGS3, 1, flags3 & !E0_SEEN);
    let make = code & 0x80 == 0;
    let key = code & 0x7F;
    let modifier = match key {
        0x2A if !e0 => Some(LSHIFT),
        0x36 if !e0 => Some(RSHIFT),
        0x1D => Some(CTRL),
        0x38 => Some(ALT),
        _ => None,
    };
    if code == 0xE0 {
        c.write_phys(bda::KBD_FLAGS3, 1, flags3 | E0_SEEN);
    } else if let Some(bit) = modifier {
        flags = if make { flags | bit } else { flags & !bit };
        c.write_phys(bda::KBD_FLAGS, 1, flags);
    } else if key == 0x3A && !e0 {
        if make {
            c.write_phys(bda::KBD_FLAGS, 1, flags ^ CAPS);
        }
    } else if make && !(e0 && matches!(key, 0x2A | 0x36)) {
        let idx = key as usize;
        let mut ascii = if idx < NORMAL.len() && !e0 {
            let shift = flags & (LSHIFT | RSHIFT) != 0;
            let letter = NORMAL[idx].is_ascii_lowercase();
            let upper = shift ^ (letter && flags & CAPS != 0);
            (if upper { SHIFTED } else { NORMAL })[idx] as u32
        } else {
            0
        };
        if e0 && key == 0x1C {
            ascii = 0x0D; // keypad Enter
        } else if e0 && key == 0x35 {
            ascii = b'/' as u32;
        }
        if flags & CTRL != 0 && (b'a' as u32..=b'z' as u32).contains(&(ascii | 0x20)) {
            ascii = (ascii | 0x20) - b'a' as u32 + 1;
        }
        if flags & ALT != 0 {
            ascii = 0;
        }
        push_key(c, key << 8 | ascii);
    }
    c.dev.io_write(0x20, 1, 0x20, now);
}

/// INT 16h.
pub fn int16(c: &mut Core) {
    match c.cpu.get8(AH) {
        0x00 | 0x10 => {
            pump_serial(c);
            match pop_key(c) {
                Some(k) => c.cpu.set16(0, k),
                None => retry_later(c),
            }
        }
        0x01 | 0x11 => {
            pump_serial(c);
            match peek_key(c) {
                Some(k) => {
                    c.cpu.set16(0, k);
                    set_zf(c, false);
                }
                None => set_zf(c, true),
            }
        }
        0x02 | 0x12 => {
            let f = c.mem.read(bda::KBD_FLAGS, 1);
            c.cpu.set8(AL, f);
        }
        0x03 => {}
        0x05 => {
            let k = c.cpu.get16(1);
            let full = !push_key(c, k);
            c.cpu.set8(AL, full as u32);
            set_cf(c, full);
        }
        _ => unknown(c, 0x16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        assert_eq!(NORMAL[0x1E], b'a');
        assert_eq!(SHIFTED[0x02], b'!');
        assert_eq!(NORMAL[0x1C], b'\r');
        assert_eq!(NORMAL[0x39], b' ');
        assert_eq!(SHIFTED[0x2B], b'|');
        assert_eq!(scan_of(b'h'), 0x23);
        assert_eq!(scan_of(b'H'), 0x23);
        assert_eq!(scan_of(3), 0x2E); // Ctrl-C
        assert_eq!(scan_of(b'\r'), 0x1C);
    }
}
