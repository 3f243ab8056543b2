//! 16550A UART for COM1 (ports 0x3F8-0x3FF, IRQ4). Owns the registers, the 16-byte receive
//! FIFO, a host-side input queue that refills the FIFO as the guest drains it, and the bytes
//! the guest transmitted. It does no host I/O: the front end calls `push_input` and
//! `take_output`.
//!
//! Datasheet notes (National Semiconductor PC16550D, June 1995):
//! - Table 4 "Interrupt Control Functions": IIR priorities are receiver line status, then
//!   received data available or character timeout, then THR empty, then modem status.
//! - Transmission is instantaneous: THRE and TEMT are always set. Writing THR clears the THRE
//!   interrupt and the instant completion sets it again; reading IIR while it is the source
//!   clears it; setting IER.ETBEI while THR is empty raises it (as the 16550 does).
//! - Character timeout (FIFO mode): data below the trigger level and no FIFO activity for four
//!   character times (10 bits each, from the divisor latch) in virtual time.
//! - Loopback (MCR bit 4): THR goes to the receiver, MSR bits 7-4 mirror OUT2, OUT1, RTS, DTR.
//! - After the guest reads RBR, host bytes move into the FIFO at the next access or `service`
//!   call (on a real line the next character arrives later), so INTR can fall and rise again
//!   and the edge-triggered PIC sees a new interrupt.
//! - IRQ4 is asserted whenever IIR shows a pending interrupt; like QEMU (and unlike a PC's
//!   board logic) it is not gated by MCR.OUT2, so guests written for QEMU behave the same.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Bytes kept for the front end before the oldest are dropped.
const OUTPUT_LIMIT: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uart {
    rx_fifo: VecDeque<u8>,
    host_input: VecDeque<u8>,
    #[serde(with = "serde_bytes")]
    output: Vec<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    /// Sticky LSR error bits 1-4 (OE, PE, FE, BI).
    lsr_errors: u8,
    /// MSR delta bits 0-3.
    msr_deltas: u8,
    scr: u8,
    divisor: u16,
    fifo_enabled: bool,
    /// Receive trigger level: 1, 4, 8 or 14.
    trigger: u8,
    thre_pending: bool,
    /// Virtual time of the last receive FIFO activity, for the character timeout.
    rx_activity_ns: u64,
    now_ns: u64,
}

impl Default for Uart {
    fn default() -> Self {
        Self::new()
    }
}

impl Uart {
    pub fn new() -> Self {
        Uart {
            rx_fifo: VecDeque::new(),
            host_input: VecDeque::new(),
            output: Vec::new(),
            ier: 0,
            lcr: 0x03,
            mcr: 0,
            lsr_errors: 0,
            msr_deltas: 0,
            scr: 0,
            divisor: 12,
            fifo_enabled: false,
            trigger: 1,
            thre_pending: false,
            rx_activity_ns: 0,
            now_ns: 0,
        }
    }

    /// System reset: registers return to power-on values; bytes not yet read by the guest
    /// and bytes not yet taken by the host are kept.
    pub fn reset(&mut self) {
        let mut host_input = std::mem::take(&mut self.rx_fifo);
        host_input.append(&mut self.host_input);
        *self = Uart {
            host_input,
            output: std::mem::take(&mut self.output),
            now_ns: self.now_ns,
            rx_activity_ns: self.now_ns,
            ..Uart::new()
        };
        self.refill();
    }

    /// Queues bytes for the guest to receive.
    pub fn push_input(&mut self, bytes: &[u8]) {
        self.host_input.extend(bytes);
        self.refill();
    }

    /// Bytes the guest transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Interrupt enable register.
    pub fn ier(&self) -> u8 {
        self.ier
    }
    /// Line control register.
    pub fn lcr(&self) -> u8 {
        self.lcr
    }
    /// Modem control register.
    pub fn mcr(&self) -> u8 {
        self.mcr
    }
    /// Divisor latch (baud rate = 115200 / divisor).
    pub fn divisor(&self) -> u16 {
        self.divisor
    }
    /// Bytes waiting in the receive FIFO (or holding register).
    pub fn rx_len(&self) -> usize {
        self.rx_fifo.len()
    }
    /// FIFO mode (FCR bit 0).
    pub fn fifo_enabled(&self) -> bool {
        self.fifo_enabled
    }

    /// Host bytes not yet moved into the receive FIFO.
    pub fn pending_input(&self) -> usize {
        self.host_input.len()
    }

    fn capacity(&self) -> usize {
        if self.fifo_enabled {
            16
        } else {
            1
        }
    }

    fn loopback(&self) -> bool {
        self.mcr & 0x10 != 0
    }

    fn refill(&mut self) {
        if self.loopback() {
            return; // the receiver is disconnected from the line
        }
        let mut moved = false;
        while self.rx_fifo.len() < self.capacity() {
            let Some(b) = self.host_input.pop_front() else {
                break;
            };
            self.rx_fifo.push_back(b);
            moved = true;
        }
        if moved {
            self.rx_activity_ns = self.now_ns;
        }
    }

    fn char_time_ns(&self) -> u64 {
        let divisor = if self.divisor == 0 {
            65536
        } else {
            self.divisor as u64
        };
        10 * divisor * 1_000_000_000 / 115_200
    }

    fn timeout_deadline(&self) -> Option<u64> {
        let below = self.rx_fifo.len() < self.trigger as usize;
        (self.fifo_enabled && !self.rx_fifo.is_empty() && below)
            .then(|| self.rx_activity_ns.saturating_add(4 * self.char_time_ns()))
    }

    fn timeout(&self) -> bool {
        self.timeout_deadline().is_some_and(|d| self.now_ns >= d)
    }

    /// Advances virtual time (for the character timeout).
    pub fn update(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
    }

    /// When the character timeout will fire, if it is armed and enabled.
    pub fn next_event_ns(&self) -> Option<u64> {
        if self.ier & 1 == 0 {
            return None;
        }
        self.timeout_deadline().filter(|&d| d > self.now_ns)
    }

    fn msr(&self) -> u8 {
        let lines = if self.loopback() {
            let m = self.mcr;
            ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
        } else {
            0xB0 // CTS, DSR and DCD: a host is connected
        };
        lines | self.msr_deltas
    }

    fn lsr(&self) -> u8 {
        let mut lsr = 0x60 | self.lsr_errors;
        if !self.rx_fifo.is_empty() {
            lsr |= 0x01;
        }
        if self.fifo_enabled && self.lsr_errors != 0 {
            lsr |= 0x80;
        }
        lsr
    }

    /// IIR value (Table 4), without side effects.
    pub fn iir(&self) -> u8 {
        let id = if self.ier & 0x04 != 0 && self.lsr_errors != 0 {
            0x06
        } else if self.ier & 0x01 != 0 && self.rx_fifo.len() >= self.rx_threshold() {
            0x04
        } else if self.ier & 0x01 != 0 && self.timeout() {
            0x0C
        } else if self.ier & 0x02 != 0 && self.thre_pending {
            0x02
        } else if self.ier & 0x08 != 0 && self.msr_deltas != 0 {
            0x00
        } else {
            0x01
        };
        id | if self.fifo_enabled { 0xC0 } else { 0 }
    }

    fn rx_threshold(&self) -> usize {
        if self.fifo_enabled {
            self.trigger as usize
        } else {
            1
        }
    }

    /// The INTR output (IRQ4).
    pub fn irq_level(&self) -> bool {
        self.iir() & 1 == 0
    }

    fn dlab(&self) -> bool {
        self.lcr & 0x80 != 0
    }

    /// Moves host input into the receive FIFO. The hub calls it after routing IRQ4, so a byte
    /// that follows one the guest just read gives the PIC a fresh rising edge.
    pub fn service(&mut self) {
        self.refill();
    }

    /// Reads register `offset` (0-7) at `now_ns`.
    pub fn read(&mut self, offset: u16, now_ns: u64) -> u8 {
        self.update(now_ns);
        self.refill();
        match offset & 7 {
            0 if self.dlab() => self.divisor as u8,
            0 => {
                // Refilled from the host queue at the next access or `service`, so INTR drops.
                let b = self.rx_fifo.pop_front().unwrap_or(0);
                self.rx_activity_ns = self.now_ns;
                b
            }
            1 if self.dlab() => (self.divisor >> 8) as u8,
            1 => self.ier,
            2 => {
                let iir = self.iir();
                if iir & 0x0F == 0x02 {
                    self.thre_pending = false;
                }
                iir
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                let lsr = self.lsr();
                self.lsr_errors = 0;
                lsr
            }
            6 => {
                let msr = self.msr();
                self.msr_deltas = 0;
                msr
            }
            _ => self.scr,
        }
    }

    /// Writes register `offset` (0-7) at `now_ns`.
    pub fn write(&mut self, offset: u16, value: u8, now_ns: u64) {
        self.update(now_ns);
        self.refill();
        match offset & 7 {
            0 if self.dlab() => self.divisor = (self.divisor & 0xFF00) | value as u16,
            0 => {
                if self.loopback() {
                    if self.rx_fifo.len() < self.capacity() {
                        self.rx_fifo.push_back(value);
                    } else {
                        self.lsr_errors |= 0x02; // overrun
                    }
                    self.rx_activity_ns = self.now_ns;
                } else {
                    if self.output.len() >= OUTPUT_LIMIT {
                        self.output.drain(..OUTPUT_LIMIT / 2);
                    }
                    self.output.push(value);
                }
                // Instant transmission: THR is empty again at once.
                self.thre_pending = true;
            }
            1 if self.dlab() => self.divisor = (self.divisor & 0x00FF) | (value as u16) << 8,
            1 => {
                let enabling_thre = value & 0x02 != 0 && self.ier & 0x02 == 0;
                self.ier = value & 0x0F;
                if enabling_thre {
                    self.thre_pending = true;
                }
            }
            2 => {
                let enable = value & 0x01 != 0;
                if enable != self.fifo_enabled {
                    self.rx_fifo.clear();
                }
                self.fifo_enabled = enable;
                if value & 0x02 != 0 {
                    self.rx_fifo.clear();
                }
                self.trigger = [1, 4, 8, 14][(value >> 6) as usize];
                self.refill();
            }
            3 => self.lcr = value,
            4 => {
                let old_msr = self.msr();
                let was_loopback = self.loopback();
                self.mcr = value & 0x1F;
                let new_msr = self.msr();
                // Deltas: CTS, DSR, trailing edge of RI, DCD.
                let changed = (old_msr ^ new_msr) >> 4;
                self.msr_deltas |= changed & 0x0B;
                if old_msr & 0x40 != 0 && new_msr & 0x40 == 0 {
                    self.msr_deltas |= 0x04;
                }
                if was_loopback && !self.loopback() {
                    self.refill();
                }
            }
            5 | 6 => {} // LSR and MSR are read-only (factory test writes ignored)
            _ => self.scr = value,
        }
    }
}

impl Uart {
    /// Snapshot validation: FIFO sizes, the trigger level and times.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.rx_fifo.len() > 16 || !matches!(self.trigger, 1 | 4 | 8 | 14) {
            return Err(format!(
                "UART receive FIFO of {} bytes, trigger {}",
                self.rx_fifo.len(),
                self.trigger
            ));
        }
        if self.now_ns > super::MAX_TIME_NS || self.rx_activity_ns > super::MAX_TIME_NS {
            return Err("UART time".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_and_divisor_latch() {
        let mut u = Uart::new();
        u.write(3, 0x80, 0);
        u.write(0, 0x01, 0);
        u.write(1, 0x00, 0);
        assert_eq!(u.read(0, 0), 1);
        u.write(3, 0x03, 0);
        u.write(0, b'h', 0);
        u.write(0, b'i', 0);
        assert_eq!(u.take_output(), b"hi");
        assert_eq!(u.read(5, 0) & 0x60, 0x60);
        u.write(7, 0x5A, 0);
        assert_eq!(u.read(7, 0), 0x5A);
    }

    #[test]
    fn loopback_echoes_and_mirrors_modem_lines() {
        let mut u = Uart::new();
        u.write(4, 0x1E, 0); // loopback, RTS, OUT1, OUT2
        u.write(0, 0xAE, 0);
        assert_eq!(u.read(5, 0) & 1, 1);
        assert_eq!(u.read(0, 0), 0xAE);
        assert!(u.take_output().is_empty());
        assert_eq!(u.read(6, 0) & 0xF0, 0xD0);
        // Second character overruns the one-byte holding register.
        u.write(0, 1, 0);
        u.write(0, 2, 0);
        assert_eq!(u.read(5, 0) & 0x03, 0x03);
        assert_eq!(u.read(5, 0) & 0x02, 0);
    }

    #[test]
    fn fifo_trigger_level_and_timeout_in_iir() {
        let mut u = Uart::new();
        u.write(2, 0x47, 0); // FIFO on, clear, trigger 4
        u.write(1, 0x01, 0); // RX data interrupt
        assert_eq!(u.iir(), 0xC1);
        u.push_input(b"abc");
        assert_eq!(u.iir(), 0xC1);
        assert!(!u.irq_level());
        u.push_input(b"d");
        assert_eq!(u.iir(), 0xC4);
        assert!(u.irq_level());
        assert_eq!(u.read(0, 10), b'a');
        // Below the trigger: character timeout after four character times (divisor 12).
        let deadline = u.next_event_ns().unwrap();
        assert_eq!(deadline, 10 + 4 * (10 * 12 * 1_000_000_000 / 115_200));
        u.update(deadline - 1);
        assert_eq!(u.iir(), 0xC1);
        u.update(deadline);
        assert_eq!(u.iir(), 0xCC);
        for want in *b"bcd" {
            assert_eq!(u.read(0, deadline), want);
        }
        assert_eq!(u.iir(), 0xC1);
    }

    #[test]
    fn thre_interrupt() {
        let mut u = Uart::new();
        assert!(!u.irq_level());
        u.write(1, 0x02, 0);
        assert_eq!(u.iir(), 0x02);
        assert_eq!(u.read(2, 0), 0x02); // reading IIR clears it
        assert_eq!(u.read(2, 0), 0x01);
        u.write(0, b'x', 0);
        assert!(u.irq_level());
        // Line status has priority over THRE.
        u.write(4, 0x10, 0);
        u.write(1, 0x07, 0);
        u.write(0, 1, 0);
        u.write(0, 2, 0);
        assert_eq!(u.read(2, 0), 0x06);
        u.read(5, 0);
        assert_eq!(u.read(2, 0), 0x04);
    }

    #[test]
    fn host_queue_larger_than_fifo() {
        let mut u = Uart::new();
        u.write(2, 0x01, 0);
        let data: Vec<u8> = (0..100).collect();
        u.push_input(&data);
        assert_eq!(u.pending_input(), 84);
        let got: Vec<u8> = (0..100).map(|_| u.read(0, 0)).collect();
        assert_eq!(got, data);
        assert_eq!(u.read(5, 0) & 1, 0);
    }

    #[test]
    fn modem_status_interrupt() {
        let mut u = Uart::new();
        u.write(1, 0x08, 0);
        u.write(4, 0x10, 0);
        u.read(6, 0); // entering loopback changed the lines; clear those deltas
        assert_eq!(u.iir(), 0x01);
        u.write(4, 0x12, 0); // RTS -> CTS changes
        assert_eq!(u.iir(), 0x00);
        assert_eq!(u.read(6, 0) & 0x0F, 0x01);
        assert_eq!(u.iir(), 0x01);
    }
}
