//! 8042 keyboard controller (port 0x60 data, 0x64 status/command) with a PS/2 keyboard behind
//! it, and no mouse. Owns the output buffer, the command byte, the output port (A20 gate and
//! the reset line) and the keyboard's own command state and queue. It never touches the PIC or
//! the CPU: the machine reads `irq1_level`, `a20` and `take_reset_request`.
//!
//! Notes (IBM PC AT Technical Reference, "Keyboard Controller"; Intel 8042 data sheet):
//! - Status: bit 0 OBF, bit 1 IBF (always 0: commands complete at once), bit 2 system flag,
//!   bit 3 last write was a command, bit 4 not inhibited, bit 5 OBF holds auxiliary data.
//! - Command byte: bit 0 IRQ1 on keyboard data, bit 1 IRQ12 on aux data, bit 2 system flag,
//!   bit 4 keyboard clock disabled, bit 5 aux clock disabled, bit 6 set-2 to set-1 translation.
//! - Output port: bit 0 is the active-low system reset, bit 1 the A20 gate.
//! - Scan codes injected by the host are delivered as set-1 codes, which is what a guest sees
//!   with translation on (the PC default); the keyboard still reports set 2 when asked.
//! - As in QEMU, sending a byte to the keyboard re-enables the keyboard interface, and any
//!   non-aux byte in the output buffer (including controller replies) raises IRQ1.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Keyboard bytes held before new keys are dropped (a real keyboard holds 16).
const KBD_QUEUE_LIMIT: usize = 1024;
const ACK: u8 = 0xFA;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps2 {
    /// The output buffer: (byte, from aux).
    obf: Option<(u8, bool)>,
    last_data: u8,
    /// Controller replies waiting for the output buffer.
    ctrl_queue: VecDeque<(u8, bool)>,
    /// Keyboard bytes waiting for the output buffer.
    kbd_queue: VecDeque<u8>,
    command_byte: u8,
    output_port: u8,
    /// Controller command waiting for its data byte on port 0x60.
    pending_command: Option<u8>,
    last_was_command: bool,
    system_flag: bool,
    ram: [u8; 32],
    reset_request: bool,
    // Keyboard device state.
    kbd_pending_command: Option<u8>,
    scanning: bool,
    scancode_set: u8,
    leds: u8,
    kbd_last_sent: u8,
}

impl Default for Ps2 {
    fn default() -> Self {
        Self::new()
    }
}

impl Ps2 {
    /// The state a BIOS leaves: translation and IRQ1 on, A20 enabled, keyboard scanning.
    pub fn new() -> Self {
        Ps2 {
            obf: None,
            last_data: 0,
            ctrl_queue: VecDeque::new(),
            kbd_queue: VecDeque::new(),
            command_byte: 0x45,
            output_port: 0x03,
            pending_command: None,
            last_was_command: false,
            system_flag: true,
            ram: [0; 32],
            reset_request: false,
            kbd_pending_command: None,
            scanning: true,
            scancode_set: 2,
            leds: 0,
            kbd_last_sent: 0,
        }
    }

    /// A20 gate from the output port.
    pub fn a20(&self) -> bool {
        self.output_port & 0x02 != 0
    }

    /// Sets the output port's A20 bit (power-on state chosen by the machine).
    pub fn set_a20(&mut self, on: bool) {
        self.output_port = (self.output_port & !0x02) | (on as u8) << 1;
    }

    /// True once after the guest pulsed the reset line.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_request)
    }

    /// IRQ1: keyboard data in the output buffer with command byte bit 0 set.
    pub fn irq1_level(&self) -> bool {
        matches!(self.obf, Some((_, false))) && self.command_byte & 0x01 != 0
    }

    /// IRQ12: auxiliary data in the output buffer with command byte bit 1 set.
    pub fn irq12_level(&self) -> bool {
        matches!(self.obf, Some((_, true))) && self.command_byte & 0x02 != 0
    }

    /// The controller's command byte (0x20/0x60).
    pub fn command_byte(&self) -> u8 {
        self.command_byte
    }

    /// The controller's output port (0xD0/0xD1).
    pub fn output_port(&self) -> u8 {
        self.output_port
    }

    /// Keyboard LEDs (bit 0 scroll, 1 num, 2 caps lock) as last set by the guest.
    pub fn leds(&self) -> u8 {
        self.leds
    }

    fn translating(&self) -> bool {
        self.command_byte & 0x40 != 0
    }

    fn refill(&mut self) {
        if self.obf.is_some() {
            return;
        }
        if let Some(entry) = self.ctrl_queue.pop_front() {
            self.obf = Some(entry);
        } else if self.command_byte & 0x10 == 0 {
            if let Some(b) = self.kbd_queue.pop_front() {
                self.obf = Some((b, false));
            }
        }
    }

    fn reply(&mut self, byte: u8) {
        self.ctrl_queue.push_back((byte, false));
        self.refill();
    }

    fn kbd_send(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.kbd_queue.len() < KBD_QUEUE_LIMIT {
                self.kbd_queue.push_back(b);
                self.kbd_last_sent = b;
            }
        }
        self.refill();
    }

    /// A key event from the host: one set-1 scan code byte (dropped while scanning is off).
    pub fn inject_scancode(&mut self, code: u8) {
        if self.scanning {
            self.kbd_send(&[code]);
        }
    }

    /// Types `c` on a US keyboard: make and break codes, with Shift or Ctrl around them when
    /// needed. Returns false (and sends nothing) for characters with no key.
    pub fn inject_ascii_key(&mut self, c: char) -> bool {
        let Some((code, shift, ctrl)) = ascii_to_set1(c) else {
            return false;
        };
        let mut seq = Vec::with_capacity(8);
        if ctrl {
            seq.push(0x1D);
        }
        if shift {
            seq.push(0x2A);
        }
        seq.extend([code, code | 0x80]);
        if shift {
            seq.push(0xAA);
        }
        if ctrl {
            seq.push(0x9D);
        }
        for b in seq {
            self.inject_scancode(b);
        }
        true
    }

    /// Loads the next pending byte into an empty output buffer. The hub calls it after
    /// routing IRQ1, so each byte gives the PIC a fresh rising edge.
    pub fn service(&mut self) {
        self.refill();
    }

    /// Reads port 0x60 or 0x64 (others read 0xFF).
    pub fn read(&mut self, port: u16) -> u8 {
        self.refill();
        match port {
            0x60 => {
                // The next byte is loaded later (next access or `service`), so IRQ1 drops.
                if let Some((b, _)) = self.obf.take() {
                    self.last_data = b;
                }
                self.last_data
            }
            0x64 => {
                let mut s = 0x10;
                if let Some((_, aux)) = self.obf {
                    s |= 0x01 | if aux { 0x20 } else { 0 };
                }
                if self.system_flag {
                    s |= 0x04;
                }
                if self.last_was_command {
                    s |= 0x08;
                }
                s
            }
            _ => 0xFF,
        }
    }

    /// Writes port 0x60 (data) or 0x64 (controller command).
    pub fn write(&mut self, port: u16, value: u8) {
        self.refill();
        match port {
            0x60 => {
                self.last_was_command = false;
                match self.pending_command.take() {
                    Some(cmd) => self.command_data(cmd, value),
                    None => {
                        self.command_byte &= !0x10;
                        self.keyboard_write(value);
                    }
                }
            }
            0x64 => {
                self.last_was_command = true;
                self.pending_command = None;
                self.controller_command(value);
            }
            _ => {}
        }
    }

    fn write_output_port(&mut self, value: u8) {
        self.output_port = value;
        if value & 0x01 == 0 {
            self.reset_request = true;
        }
    }

    fn controller_command(&mut self, cmd: u8) {
        match cmd {
            0x20..=0x3F => {
                let v = if cmd == 0x20 {
                    self.command_byte
                } else {
                    self.ram[(cmd & 0x1F) as usize]
                };
                self.reply(v);
            }
            0x60..=0x7F | 0xD1..=0xD4 => self.pending_command = Some(cmd),
            0xA7 => self.command_byte |= 0x20,
            0xA8 => self.command_byte &= !0x20,
            0xA9 => self.reply(0x00), // aux interface test: no error
            0xAA => {
                self.system_flag = true;
                self.reply(0x55);
            }
            0xAB => self.reply(0x00),
            0xAD => self.command_byte |= 0x10,
            0xAE => {
                self.command_byte &= !0x10;
                self.refill();
            }
            0xC0 => self.reply(0x80),
            0xD0 => {
                let mut v = self.output_port & 0x03;
                if matches!(self.obf, Some((_, false))) {
                    v |= 0x10;
                }
                if matches!(self.obf, Some((_, true))) {
                    v |= 0x20;
                }
                self.reply(v | 0xC0);
            }
            0xDD => self.output_port &= !0x02,
            0xDF => self.output_port |= 0x02,
            0xE0 => self.reply(0x00),
            // 0xF0-0xFF pulse the output port bits whose command bit is 0: bit 0 is reset.
            0xF0..=0xFF if cmd & 0x01 == 0 => self.reset_request = true,
            _ => {}
        }
    }

    fn command_data(&mut self, cmd: u8, value: u8) {
        match cmd {
            0x60 => {
                self.command_byte = value;
                self.system_flag = value & 0x04 != 0;
                self.refill();
            }
            0x61..=0x7F => self.ram[(cmd & 0x1F) as usize] = value,
            0xD1 => self.write_output_port(value),
            0xD2 => self.reply(value),
            0xD3 => {
                self.ctrl_queue.push_back((value, true));
                self.refill();
            }
            _ => {} // 0xD4: no auxiliary device is attached
        }
    }

    fn keyboard_write(&mut self, value: u8) {
        if let Some(cmd) = self.kbd_pending_command.take() {
            match cmd {
                0xED => self.leds = value & 0x07,
                0xF0 if value == 0 => {
                    let set = if self.translating() {
                        [0, 0x43, 0x41, 0x3F][self.scancode_set as usize & 3]
                    } else {
                        self.scancode_set
                    };
                    self.kbd_send(&[ACK, set]);
                    return;
                }
                0xF0 if (1..=3).contains(&value) => self.scancode_set = value,
                _ => {} // 0xF3 typematic rate: accepted
            }
            self.kbd_send(&[ACK]);
            return;
        }
        match value {
            0xED | 0xF0 | 0xF3 => {
                self.kbd_pending_command = Some(value);
                self.kbd_send(&[ACK]);
            }
            0xEE => self.kbd_send(&[0xEE]),
            0xF2 => {
                let id = if self.translating() { 0x41 } else { 0x83 };
                self.kbd_send(&[ACK, 0xAB, id]);
            }
            0xF4 => {
                self.scanning = true;
                self.kbd_send(&[ACK]);
            }
            0xF5 => {
                self.scanning = false;
                self.scancode_set = 2;
                self.kbd_send(&[ACK]);
            }
            0xF6 => {
                self.scancode_set = 2;
                self.kbd_send(&[ACK]);
            }
            0xFE => {
                let last = self.kbd_last_sent;
                self.kbd_send(&[last]);
            }
            0xFF => {
                self.kbd_queue.clear();
                self.scanning = true;
                self.scancode_set = 2;
                self.leds = 0;
                self.kbd_send(&[ACK, 0xAA]);
            }
            0xF7..=0xFD => self.kbd_send(&[ACK]),
            _ => self.kbd_send(&[0xFE]), // unknown command: resend
        }
    }
}

/// US layout: (set-1 make code, needs Shift, needs Ctrl).
fn ascii_to_set1(c: char) -> Option<(u8, bool, bool)> {
    const ROWS: [(&str, &str, u8); 4] = [
        ("`1234567890-=", "~!@#$%^&*()_+", 0x29),
        ("qwertyuiop[]", "QWERTYUIOP{}", 0x10),
        ("asdfghjkl;'", "ASDFGHJKL:\"", 0x1E),
        ("zxcvbnm,./", "ZXCVBNM<>?", 0x2C),
    ];
    match c {
        '\n' | '\r' => return Some((0x1C, false, false)),
        '\t' => return Some((0x0F, false, false)),
        '\x08' | '\x7F' => return Some((0x0E, false, false)),
        '\x1B' => return Some((0x01, false, false)),
        ' ' => return Some((0x39, false, false)),
        '\\' => return Some((0x2B, false, false)),
        '|' => return Some((0x2B, true, false)),
        '\x01'..='\x1A' => {
            let letter = (c as u8 - 1 + b'a') as char;
            return ascii_to_set1(letter).map(|(code, _, _)| (code, false, true));
        }
        _ => {}
    }
    for (plain, shifted, first) in ROWS {
        // '`' is 0x29 and then the digits start at 0x02.
        let code_of = |i: usize| {
            if first == 0x29 {
                if i == 0 {
                    0x29
                } else {
                    i as u8 + 1
                }
            } else {
                first + i as u8
            }
        };
        if let Some(i) = plain.chars().position(|p| p == c) {
            return Some((code_of(i), false, false));
        }
        if let Some(i) = shifted.chars().position(|p| p == c) {
            return Some((code_of(i), true, false));
        }
    }
    None
}

impl Ps2 {
    /// Snapshot validation: queue sizes and the scan code set.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.kbd_queue.len() > KBD_QUEUE_LIMIT
            || self.ctrl_queue.len() > KBD_QUEUE_LIMIT
            || !(1..=3).contains(&self.scancode_set)
        {
            return Err("8042 queues or scan code set".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(k: &mut Ps2) -> Vec<u8> {
        let mut out = Vec::new();
        while k.read(0x64) & 1 != 0 {
            out.push(k.read(0x60));
        }
        out
    }

    #[test]
    fn controller_self_tests_and_command_byte() {
        let mut k = Ps2::new();
        k.write(0x64, 0xAA);
        assert_eq!(k.read(0x64) & 0x0D, 0x0D);
        assert_eq!(drain(&mut k), [0x55]);
        k.write(0x64, 0xAB);
        assert_eq!(drain(&mut k), [0x00]);
        k.write(0x64, 0x60);
        k.write(0x60, 0x44);
        k.write(0x64, 0x20);
        assert_eq!(drain(&mut k), [0x44]);
        assert_eq!(k.read(0x64) & 0x08, 0x08);
    }

    #[test]
    fn keyboard_commands() {
        let mut k = Ps2::new();
        k.write(0x60, 0xFF);
        assert_eq!(drain(&mut k), [ACK, 0xAA]);
        k.write(0x60, 0xED);
        k.write(0x60, 0x05);
        assert_eq!(drain(&mut k), [ACK, ACK]);
        assert_eq!(k.leds(), 5);
        k.write(0x60, 0xF2);
        assert_eq!(drain(&mut k), [ACK, 0xAB, 0x41]);
        k.write(0x60, 0xEE);
        assert_eq!(drain(&mut k), [0xEE]);
        k.write(0x60, 0xF0);
        k.write(0x60, 0x00);
        assert_eq!(drain(&mut k), [ACK, ACK, 0x41]);
        k.write(0x60, 0xF5);
        k.inject_scancode(0x1E);
        assert_eq!(drain(&mut k), [ACK]);
        k.write(0x60, 0xF4);
        k.inject_scancode(0x1E);
        assert_eq!(drain(&mut k), [ACK, 0x1E]);
    }

    #[test]
    fn scancodes_raise_irq1_one_byte_at_a_time() {
        let mut k = Ps2::new();
        assert!(!k.irq1_level());
        assert!(k.inject_ascii_key('A'));
        assert!(k.irq1_level());
        assert_eq!(k.read(0x60), 0x2A);
        assert!(!k.irq1_level()); // IRQ1 drops until the next byte is loaded...
        k.service();
        assert!(k.irq1_level()); // ...and rises again: a new edge per byte
        assert_eq!(drain(&mut k), [0x1E, 0x9E, 0xAA]);
        assert!(!k.irq1_level());
        k.inject_ascii_key('\n');
        k.inject_ascii_key('?');
        k.inject_ascii_key('\x03');
        assert_eq!(
            drain(&mut k),
            [0x1C, 0x9C, 0x2A, 0x35, 0xB5, 0xAA, 0x1D, 0x2E, 0xAE, 0x9D]
        );
        assert!(!k.inject_ascii_key('é'));
        assert_eq!(ascii_to_set1('1'), Some((0x02, false, false)));
        assert_eq!(ascii_to_set1(')'), Some((0x0B, true, false)));
        assert_eq!(ascii_to_set1('`'), Some((0x29, false, false)));
        assert_eq!(ascii_to_set1('m'), Some((0x32, false, false)));
        // Interrupts disabled in the command byte: data but no IRQ1.
        k.write(0x64, 0x60);
        k.write(0x60, 0x44);
        k.inject_scancode(0x10);
        assert_eq!(k.read(0x64) & 1, 1);
        assert!(!k.irq1_level());
    }

    #[test]
    fn disabled_interface_holds_keys() {
        let mut k = Ps2::new();
        k.write(0x64, 0xAD);
        k.inject_scancode(0x10);
        assert_eq!(k.read(0x64) & 1, 0);
        k.write(0x64, 0xAE);
        assert_eq!(drain(&mut k), [0x10]);
    }

    #[test]
    fn output_port_a20_and_reset() {
        let mut k = Ps2::new();
        assert!(k.a20());
        k.write(0x64, 0xD1);
        k.write(0x60, 0xDD);
        assert!(!k.a20());
        assert!(!k.take_reset_request());
        k.write(0x64, 0xD0);
        assert_eq!(drain(&mut k)[0] & 0x03, 0x01);
        k.write(0x64, 0xDF);
        assert!(k.a20());
        k.write(0x64, 0xFE);
        assert!(k.take_reset_request());
        assert!(!k.take_reset_request());
        k.write(0x64, 0xD1);
        k.write(0x60, 0x00);
        assert!(k.take_reset_request());
    }
}
