//! 8254 programmable interval timer (ports 0x40-0x43) and the PC's system control port B
//! (0x61: channel 2 gate, speaker data, refresh toggle, channel 2 output). Owns the three
//! counters as closed-form functions of virtual time; it never reads a host clock and never
//! touches the PIC: the IRQ0 edges of channel 0 are collected for the `Devices` hub.
//!
//! Time: the input clock is 1,193,182 Hz; the tick count at `now_ns` is
//! `now_ns * 1193182 / 1e9` in 128-bit integers, so every run sees the same ticks.
//!
//! Datasheet notes (Intel 8254, "Programmable Interval Timer", 1993), with the simplifications:
//! - A new count takes effect immediately when written (the datasheet loads it on the next
//!   CLK pulse, and in modes 2/3 only at the end of the current period); QEMU does the same.
//! - Mode 2 counts N..1 with OUT low while the count is 1: OUT rises, and IRQ0 fires, every N
//!   ticks after the load. Mode 3 keeps OUT high for ceil(N/2) ticks then low for floor(N/2).
//! - Mode 0: OUT low after the count is written, high once N ticks passed. Mode 4: a one-tick
//!   low strobe at tick N. Modes 1 and 5 start on a gate rising edge (channel 2 only: the gates
//!   of channels 0 and 1 are tied high on a PC).
//! - Read-back (control word 11xxxxxx) latches count and/or status; status comes out first.
//! - The mode 3 count value for odd N is approximate (it decrements by two from N-1); the
//!   output timing is exact.

use serde::{Deserialize, Serialize};

/// Input clock of the 8254 on a PC, in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Ticks of the PIT clock at virtual time `now_ns`.
pub fn ticks_at(now_ns: u64) -> u64 {
    (now_ns as u128 * PIT_HZ as u128 / 1_000_000_000) as u64
}

/// The first virtual nanosecond at which `ticks_at` reaches `tick`.
pub fn ns_of_tick(tick: u64) -> u64 {
    let ns = (tick as u128 * 1_000_000_000).div_ceil(PIT_HZ as u128);
    ns.min(u64::MAX as u128) as u64
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    mode: u8,
    bcd: bool,
    /// Access mode: 1 = LSB, 2 = MSB, 3 = LSB then MSB.
    access: u8,
    /// Initial count in binary (1..=65536, or 1..=10000 in BCD).
    reload: u32,
    gate: bool,
    /// Counting started (count written and, in modes 1/5, triggered).
    running: bool,
    /// Absolute tick at which the current count was loaded.
    load_tick: u64,
    /// Modes 0/4 with gate low: the tick at which counting was suspended.
    paused_at: Option<u64>,
    write_msb_next: bool,
    write_lsb: u8,
    read_msb_next: bool,
    latched_count: Option<u16>,
    latched_msb_next: bool,
    latched_status: Option<u8>,
    null_count: bool,
}

impl Channel {
    fn new(gate: bool) -> Self {
        Channel {
            mode: 3,
            bcd: false,
            access: 3,
            reload: 0x10000,
            gate,
            running: true,
            load_tick: 0,
            paused_at: None,
            write_msb_next: false,
            write_lsb: 0,
            read_msb_next: false,
            latched_count: None,
            latched_msb_next: false,
            latched_status: None,
            null_count: false,
        }
    }

    /// Operating mode 0-5.
    pub fn mode(&self) -> u8 {
        self.mode
    }
    /// Initial count (1..=65536).
    pub fn reload(&self) -> u32 {
        self.reload
    }

    fn modulus(&self) -> u32 {
        if self.bcd {
            10000
        } else {
            0x10000
        }
    }

    /// Ticks elapsed since the load, or None when not counting.
    fn elapsed(&self, tick: u64) -> Option<u64> {
        if !self.running {
            return None;
        }
        let end = self.paused_at.unwrap_or(tick);
        Some(end.saturating_sub(self.load_tick))
    }

    /// OUT at absolute `tick`.
    fn out(&self, tick: u64) -> bool {
        let n = self.reload as u64;
        match (self.mode, self.elapsed(tick)) {
            (0, None) => false,
            (_, None) => true,
            (0 | 1, Some(t)) => t >= n,
            (2, Some(t)) => !self.gate || t % n != n - 1,
            (3, Some(t)) => !self.gate || t % n < n.div_ceil(2),
            (_, Some(t)) => t != n, // modes 4 and 5
        }
    }

    /// The counting element at `tick`, in binary.
    fn count(&self, tick: u64) -> u32 {
        let n = self.reload as u64;
        let m = self.modulus() as u64;
        let Some(t) = self.elapsed(tick) else {
            return self.reload % self.modulus();
        };
        let v = match self.mode {
            2 => n - t % n,
            3 => {
                let p = t % n;
                let half = n.div_ceil(2);
                let q = if p < half { p } else { p - half };
                (n & !1).saturating_sub(2 * q).max(2)
            }
            _ => (n + m * 2 - t % m) % m,
        };
        (v % m) as u32
    }

    /// How many times OUT rises at absolute ticks in (from, to].
    fn rising_edges(&self, from: u64, to: u64) -> u32 {
        let Some(start) = self.running.then_some(self.load_tick) else {
            return 0;
        };
        if self.paused_at.is_some() || to <= from {
            return 0;
        }
        let n = self.reload as u64;
        let (a, b) = (from.saturating_sub(start), to.saturating_sub(start));
        let count = match self.mode {
            2 | 3 if self.gate => b / n - a / n,
            0 | 1 => u64::from(a < n && b >= n),
            4 | 5 => u64::from(a <= n && b > n),
            _ => 0,
        };
        count.min(u32::MAX as u64) as u32
    }

    /// The first absolute tick after `after` at which OUT rises.
    fn next_rising(&self, after: u64) -> Option<u64> {
        if !self.running || self.paused_at.is_some() {
            return None;
        }
        let n = self.reload as u64;
        let t = after.saturating_sub(self.load_tick);
        let rel = match self.mode {
            2 | 3 if self.gate => (t / n + 1) * n,
            0 | 1 if t < n => n,
            4 | 5 if t <= n => n + 1,
            _ => return None,
        };
        self.load_tick.checked_add(rel)
    }

    fn status(&self, tick: u64) -> u8 {
        (u8::from(self.out(tick)) << 7)
            | (u8::from(self.null_count) << 6)
            | (self.access << 4)
            | (self.mode << 1)
            | u8::from(self.bcd)
    }

    fn latch_count(&mut self, tick: u64) {
        if self.latched_count.is_none() {
            self.latched_count = Some(encode(self.count(tick), self.bcd));
            self.latched_msb_next = false;
        }
    }

    fn read(&mut self, tick: u64) -> u8 {
        if let Some(status) = self.latched_status.take() {
            return status;
        }
        if let Some(value) = self.latched_count {
            let byte = match self.access {
                1 => {
                    self.latched_count = None;
                    value as u8
                }
                2 => {
                    self.latched_count = None;
                    (value >> 8) as u8
                }
                _ if self.latched_msb_next => {
                    self.latched_count = None;
                    (value >> 8) as u8
                }
                _ => {
                    self.latched_msb_next = true;
                    value as u8
                }
            };
            return byte;
        }
        let value = encode(self.count(tick), self.bcd);
        match self.access {
            1 => value as u8,
            2 => (value >> 8) as u8,
            _ => {
                self.read_msb_next = !self.read_msb_next;
                if self.read_msb_next {
                    value as u8
                } else {
                    (value >> 8) as u8
                }
            }
        }
    }

    fn write(&mut self, value: u8, tick: u64) {
        let raw = match self.access {
            1 => value as u16,
            2 => (value as u16) << 8,
            _ if !self.write_msb_next => {
                self.write_msb_next = true;
                self.write_lsb = value;
                if self.mode == 0 {
                    // 8254 mode 0: writing the first byte stops the count.
                    self.running = false;
                }
                return;
            }
            _ => {
                self.write_msb_next = false;
                ((value as u16) << 8) | self.write_lsb as u16
            }
        };
        let mut count = if self.bcd {
            decode_bcd(raw)
        } else {
            raw as u32
        };
        if count == 0 {
            count = self.modulus();
        }
        self.reload = count;
        self.null_count = false;
        self.paused_at = None;
        self.load_tick = tick;
        // Modes 1 and 5 wait for a gate trigger.
        self.running = !matches!(self.mode, 1 | 5);
        if self.mode == 0 && !self.gate {
            self.paused_at = Some(tick);
        }
    }

    fn control(&mut self, cw: u8) {
        self.access = (cw >> 4) & 3;
        self.mode = match (cw >> 1) & 7 {
            6 => 2,
            7 => 3,
            m => m,
        };
        self.bcd = cw & 1 != 0;
        self.running = false;
        self.paused_at = None;
        self.null_count = true;
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.latched_count = None;
        self.latched_status = None;
    }

    fn set_gate(&mut self, gate: bool, tick: u64) {
        if gate == self.gate {
            return;
        }
        self.gate = gate;
        match self.mode {
            0 | 4 if self.running => {
                if gate {
                    if let Some(p) = self.paused_at.take() {
                        self.load_tick = self.load_tick.saturating_add(tick.saturating_sub(p));
                    }
                } else {
                    self.paused_at = Some(tick);
                }
            }
            1 | 2 | 3 | 5 if gate && !self.null_count => {
                // Rising gate: (re)trigger, reloading the initial count.
                self.running = true;
                self.load_tick = tick;
            }
            _ => {}
        }
    }
}

fn decode_bcd(raw: u16) -> u32 {
    (0..4).rev().fold(0u32, |acc, i| {
        acc * 10 + ((raw >> (i * 4)) & 0xF).min(9) as u32
    })
}

fn encode(value: u32, bcd: bool) -> u16 {
    if !bcd {
        return value as u16;
    }
    let v = value % 10000;
    ((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10)) as u16
}

/// The 8254 plus port 0x61.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pit {
    pub channels: [Channel; 3],
    /// Port 0x61 bits 0-3 as written (gate 2, speaker data, parity/IOCHK enables).
    port61: u8,
    /// Tick of the last `update`.
    last_tick: u64,
    irq0_edges: u32,
}

impl Default for Pit {
    fn default() -> Self {
        Self::new()
    }
}

impl Pit {
    /// Power-on state as on QEMU/SeaBIOS: every channel in mode 3 with count 65536 loaded at
    /// tick 0 (channel 0 gives IRQ0 at 18.2 Hz), channel 2's gate low.
    pub fn new() -> Self {
        Pit {
            channels: [Channel::new(true), Channel::new(true), Channel::new(false)],
            port61: 0,
            last_tick: 0,
            irq0_edges: 0,
        }
    }

    /// Advances to `now_ns`, counting IRQ0 rising edges of channel 0.
    pub fn update(&mut self, now_ns: u64) {
        let tick = ticks_at(now_ns);
        if tick > self.last_tick {
            let edges = self.channels[0].rising_edges(self.last_tick, tick);
            self.irq0_edges = self.irq0_edges.saturating_add(edges);
            self.last_tick = tick;
        }
    }

    /// Rising edges of IRQ0 since the last call.
    pub fn take_irq0_edges(&mut self) -> u32 {
        std::mem::take(&mut self.irq0_edges)
    }

    /// Channel 0's OUT (the IRQ0 line) as of the last update.
    pub fn irq0_level(&self) -> bool {
        self.channels[0].out(self.last_tick)
    }

    /// Channel 2's OUT at `now_ns`.
    pub fn out2(&self, now_ns: u64) -> bool {
        self.channels[2].out(ticks_at(now_ns).max(self.last_tick))
    }

    /// Virtual time at which channel 0's OUT next rises (IRQ0 fires).
    pub fn next_event_ns(&self) -> Option<u64> {
        self.channels[0].next_rising(self.last_tick).map(ns_of_tick)
    }

    /// Reads port 0x40-0x43 or 0x61 (others read 0xFF).
    pub fn read(&mut self, port: u16, now_ns: u64) -> u8 {
        self.update(now_ns);
        let tick = self.last_tick;
        match port {
            0x40..=0x42 => self.channels[(port - 0x40) as usize].read(tick),
            0x61 => {
                let refresh = (now_ns / 15_085) & 1 == 1;
                (self.port61 & 0x0F)
                    | (u8::from(refresh) << 4)
                    | (u8::from(self.channels[2].out(tick)) << 5)
            }
            _ => 0xFF, // 0x43 is write-only
        }
    }

    /// Writes port 0x40-0x43 or 0x61.
    pub fn write(&mut self, port: u16, value: u8, now_ns: u64) {
        self.update(now_ns);
        let tick = self.last_tick;
        match port {
            0x40..=0x42 => self.channels[(port - 0x40) as usize].write(value, tick),
            0x43 => self.control_word(value, tick),
            0x61 => {
                self.port61 = value & 0x0F;
                self.channels[2].set_gate(value & 1 != 0, tick);
            }
            _ => {}
        }
    }

    fn control_word(&mut self, cw: u8, tick: u64) {
        let select = cw >> 6;
        if select == 3 {
            // Read-back: bit 5 = !COUNT, bit 4 = !STATUS, bits 3-1 select counters 2-0.
            for (i, ch) in self.channels.iter_mut().enumerate() {
                if cw & (2 << i) == 0 {
                    continue;
                }
                if cw & 0x20 == 0 {
                    ch.latch_count(tick);
                }
                if cw & 0x10 == 0 && ch.latched_status.is_none() {
                    ch.latched_status = Some(ch.status(tick));
                }
            }
            return;
        }
        let ch = &mut self.channels[select as usize];
        if cw & 0x30 == 0 {
            ch.latch_count(tick);
        } else {
            ch.control(cw);
        }
    }
}

impl Pit {
    /// Snapshot validation: modes, access modes and counts the counting formulas divide by,
    /// and times small enough not to overflow (at most `super::MAX_TIME_NS` in ticks).
    pub(crate) fn check(&self) -> Result<(), String> {
        let max = super::MAX_TIME_NS;
        for (k, c) in self.channels.iter().enumerate() {
            let bad = c.mode > 5
                || !(1..=3).contains(&c.access)
                || !(1..=0x10000).contains(&c.reload)
                || (c.bcd && c.reload > 10000)
                || c.load_tick > max
                || c.paused_at.is_some_and(|p| p > max);
            if bad {
                return Err(format!("PIT channel {k} state"));
            }
        }
        if self.last_tick > max || self.port61 & 0xF0 != 0 {
            return Err("PIT time or port 61h".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(pit: &mut Pit, now: u64, cw: u8, count: u16) {
        pit.write(0x43, cw, now);
        pit.write(0x40 + (cw >> 6) as u16, count as u8, now);
        pit.write(0x40 + (cw >> 6) as u16, (count >> 8) as u8, now);
    }

    #[test]
    fn tick_conversion_is_exact() {
        assert_eq!(ticks_at(1_000_000_000), PIT_HZ);
        assert_eq!(ticks_at(837), 0);
        assert_eq!(ticks_at(839), 1);
        assert_eq!(ns_of_tick(1), 839);
        assert_eq!(ticks_at(ns_of_tick(PIT_HZ * 7 + 3)), PIT_HZ * 7 + 3);
    }

    #[test]
    fn mode2_period_from_virtual_time() {
        let mut pit = Pit::new();
        let t0 = ns_of_tick(1000);
        program(&mut pit, t0, 0x34, 1193); // ~1 kHz
        pit.take_irq0_edges();
        let first = pit.next_event_ns().unwrap();
        assert_eq!(first, ns_of_tick(1000 + 1193));
        pit.update(first - 1);
        assert_eq!(pit.take_irq0_edges(), 0);
        pit.update(first);
        assert_eq!(pit.take_irq0_edges(), 1);
        assert!(pit.irq0_level());
        // One virtual second gives ~1000 interrupts.
        pit.update(t0 + 1_000_000_000);
        assert_eq!(pit.take_irq0_edges() + 1, (PIT_HZ / 1193) as u32);
        assert_eq!(
            pit.next_event_ns().unwrap(),
            ns_of_tick(1000 + 1193 * (PIT_HZ / 1193 + 1))
        );
    }

    #[test]
    fn mode3_square_wave() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x36, 10);
        let level = |pit: &mut Pit, tick| {
            pit.update(ns_of_tick(tick));
            pit.irq0_level()
        };
        assert!(level(&mut pit, 4));
        assert!(!level(&mut pit, 5));
        assert!(!level(&mut pit, 9));
        assert!(level(&mut pit, 10));
        assert_eq!(pit.take_irq0_edges(), 1);
        // Odd count: high for 4 ticks, low for 3.
        program(&mut pit, ns_of_tick(100), 0x36, 7);
        assert!(level(&mut pit, 103));
        assert!(!level(&mut pit, 104));
        assert!(level(&mut pit, 107));
    }

    #[test]
    fn counter_latch_and_read_back() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0x34, 1000);
        let now = ns_of_tick(250);
        pit.write(0x43, 0x00, now); // latch channel 0
        let later = ns_of_tick(400);
        let lo = pit.read(0x40, later);
        let hi = pit.read(0x40, later);
        assert_eq!(u16::from_le_bytes([lo, hi]), 750);
        // Unlatched read follows time.
        let lo = pit.read(0x40, later);
        let hi = pit.read(0x40, later);
        assert_eq!(u16::from_le_bytes([lo, hi]), 600);
        // Read-back of status and count of channel 0.
        pit.write(0x43, 0xC2, later);
        assert_eq!(pit.read(0x40, later), 0x80 | 0x30 | (2 << 1));
        let lo = pit.read(0x40, later);
        let hi = pit.read(0x40, later);
        assert_eq!(u16::from_le_bytes([lo, hi]), 600);
        // Status right after a control word shows null count and OUT low (mode 0).
        pit.write(0x43, 0x30, later);
        pit.write(0x43, 0xE2, later);
        assert_eq!(pit.read(0x40, later), 0x40 | 0x30);
    }

    #[test]
    fn mode0_and_channel2_gate_via_port61() {
        let mut pit = Pit::new();
        pit.write(0x61, 0x01, 0);
        pit.write(0x43, 0xB0, 0);
        pit.write(0x42, 100, 0);
        pit.write(0x42, 0, 0);
        assert_eq!(pit.read(0x61, ns_of_tick(99)) & 0x20, 0);
        assert_eq!(pit.read(0x61, ns_of_tick(100)) & 0x21, 0x21);
        // LSB-only access and BCD count.
        pit.write(0x43, 0x11, 0);
        pit.write(0x40, 0x99, ns_of_tick(200));
        let v = pit.read(0x40, ns_of_tick(209));
        assert_eq!(v, 0x90);
    }

    #[test]
    fn refresh_bit_toggles_with_time() {
        let mut pit = Pit::new();
        let a = pit.read(0x61, 0) & 0x10;
        let b = pit.read(0x61, 15_085) & 0x10;
        assert_ne!(a, b);
    }
}
