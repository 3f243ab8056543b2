//! MC146818 real-time clock and 128 bytes of CMOS RAM (ports 0x70 index / 0x71 data, IRQ8).
//! Owns the index register (bit 7 of a 0x70 write is the PC's NMI mask), registers A-D, the
//! clock and the BIOS fields (memory sizes, equipment byte, century, checksum). The time is
//! `epoch + now_ns` in virtual time, never the host clock; the calendar code is our own.
//!
//! Datasheet notes (Motorola MC146818A):
//! - Register B: SET (bit 7) stops updates so the guest can write the time (and clears UIE);
//!   DM (bit 2) selects binary instead of BCD; 24/12 (bit 1); PIE/AIE/UIE (bits 6-4).
//! - Register A: UIP (bit 7) is high for the last 244 us before each update; RS3-RS0 select
//!   the periodic rate 32768 >> (RS - 1) Hz (RS 1 and 2 alias to 256 and 128 Hz).
//! - Register C: IRQF, PF, AF, UF; reading it clears every flag and lowers IRQ8.
//! - Alarm: a register value of 0xC0-0xFF matches any value. The alarm is checked at the
//!   second boundaries the machine updates at (always each second while AIE is set).
//! - 12-hour mode: hours 1-12 with bit 7 set for PM.

use serde::{Deserialize, Serialize};

/// 2000-01-01 00:00:00 UTC, the default epoch (Unix seconds).
pub const DEFAULT_EPOCH: i64 = 946_684_800;
const NS: u64 = 1_000_000_000;
/// Equipment byte: no floppy, VGA, math coprocessor present.
const EQUIPMENT: u8 = 0x02;

/// A broken-down UTC date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// 0 = Sunday.
    pub weekday: u8,
}

/// Days since 1970-01-01 to (year, month, day). Howard Hinnant's civil_from_days.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month 1-12, day 1-31) to days since 1970-01-01 (days_from_civil).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl DateTime {
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            weekday: (days + 4).rem_euclid(7) as u8,
        }
    }

    /// Back to Unix seconds; out-of-range fields are clamped first.
    pub fn to_unix(&self) -> i64 {
        let days = days_from_civil(
            self.year.clamp(0, 9999),
            self.month.clamp(1, 12),
            self.day.clamp(1, 31),
        );
        days * 86_400
            + self.hour.min(23) as i64 * 3600
            + self.minute.min(59) as i64 * 60
            + self.second.min(59) as i64
    }
}

fn to_bcd(v: u8) -> u8 {
    ((v / 10 % 10) << 4) | (v % 10)
}

fn from_bcd(v: u8) -> u8 {
    (v >> 4) * 10 + (v & 0x0F)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cmos {
    index: u8,
    nmi_masked: bool,
    #[serde(with = "serde_bytes")]
    ram: Vec<u8>,
    epoch: i64,
    /// Seconds added by guest clock writes.
    offset: i64,
    /// While register B.SET is on: the frozen time the guest is editing.
    frozen: Option<i64>,
    /// Register C flags (bits 6-4: PF, AF, UF).
    flags: u8,
    now_ns: u64,
}

impl Cmos {
    /// A clock at `epoch` (Unix seconds) when virtual time is 0, and the BIOS fields for
    /// `ram_bytes` of RAM.
    pub fn new(ram_bytes: u32, epoch: i64) -> Self {
        let mut ram = vec![0u8; 128];
        ram[0x0A] = 0x26;
        ram[0x0B] = 0x02;
        ram[0x0D] = 0x80;
        ram[0x14] = EQUIPMENT;
        let kib = ram_bytes as u64 / 1024;
        let base = kib.min(640) as u16;
        let ext = kib.saturating_sub(1024).min(0xFFFF) as u16;
        let above16 = (ram_bytes as u64).saturating_sub(16 << 20) / (64 << 10);
        let above16 = above16.min(0xFFFF) as u16;
        for (lo, v) in [(0x15, base), (0x17, ext), (0x30, ext), (0x34, above16)] {
            ram[lo] = v as u8;
            ram[lo + 1] = (v >> 8) as u8;
        }
        let sum: u16 = ram[0x10..=0x2D].iter().map(|&b| b as u16).sum();
        ram[0x2E] = (sum >> 8) as u8;
        ram[0x2F] = sum as u8;
        Cmos {
            index: 0,
            nmi_masked: false,
            ram,
            epoch,
            offset: 0,
            frozen: None,
            flags: 0,
            now_ns: 0,
        }
    }

    /// Bit 7 of the last write to port 0x70.
    pub fn nmi_masked(&self) -> bool {
        self.nmi_masked
    }

    /// Current clock time in Unix seconds.
    pub fn unix_time(&self) -> i64 {
        self.frozen.unwrap_or_else(|| {
            self.epoch
                .saturating_add(self.offset)
                .saturating_add((self.now_ns / NS) as i64)
        })
    }

    fn reg_b(&self) -> u8 {
        self.ram[0x0B]
    }

    fn binary(&self) -> bool {
        self.reg_b() & 0x04 != 0
    }

    fn encode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            to_bcd(v)
        }
    }

    fn decode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            from_bcd(v)
        }
    }

    fn encode_hour(&self, hour: u8) -> u8 {
        if self.reg_b() & 0x02 != 0 {
            return self.encode(hour);
        }
        let h12 = if hour.is_multiple_of(12) {
            12
        } else {
            hour % 12
        };
        self.encode(h12) | if hour >= 12 { 0x80 } else { 0 }
    }

    fn decode_hour(&self, raw: u8) -> u8 {
        if self.reg_b() & 0x02 != 0 {
            return self.decode(raw);
        }
        let h = self.decode(raw & 0x7F) % 12;
        h + if raw & 0x80 != 0 { 12 } else { 0 }
    }

    /// Periodic interrupt period in ns, if enabled by register A.
    fn period_ns(&self) -> Option<u64> {
        let rs = self.ram[0x0A] & 0x0F;
        let rs = match rs {
            0 => return None,
            1 | 2 => rs + 7,
            r => r,
        };
        Some(NS * (1u64 << (rs - 1)) / 32_768)
    }

    fn alarm_matches(&self, t: &DateTime) -> bool {
        let check = |reg: usize, v: u8| self.ram[reg] >= 0xC0 || self.ram[reg] == v;
        check(1, self.encode(t.second))
            && check(3, self.encode(t.minute))
            && check(5, self.encode_hour(t.hour))
    }

    /// IRQ8 output: IRQF.
    pub fn irq_level(&self) -> bool {
        self.flags & self.reg_b() & 0x70 != 0
    }

    /// Advances to `now_ns`, setting PF/UF/AF for the boundaries crossed.
    pub fn update(&mut self, now_ns: u64) {
        let old = self.now_ns;
        if now_ns <= old {
            return;
        }
        self.now_ns = now_ns;
        if let Some(p) = self.period_ns() {
            if now_ns / p != old / p {
                self.flags |= 0x40;
            }
        }
        if self.frozen.is_none() && now_ns / NS != old / NS {
            self.flags |= 0x10;
            if self.alarm_matches(&DateTime::from_unix(self.unix_time())) {
                self.flags |= 0x20;
            }
        }
    }

    /// The next virtual time at which an enabled interrupt source fires.
    pub fn next_event_ns(&self) -> Option<u64> {
        if self.irq_level() {
            return None; // IRQ8 already asserted until register C is read
        }
        let b = self.reg_b();
        let periodic = self
            .period_ns()
            .filter(|_| b & 0x40 != 0)
            .map(|p| (self.now_ns / p + 1).saturating_mul(p));
        let second = (b & 0x30 != 0 && self.frozen.is_none())
            .then(|| (self.now_ns / NS + 1).saturating_mul(NS));
        periodic.into_iter().chain(second).min()
    }

    /// Reads port 0x70 (0xFF: write-only on a PC) or 0x71.
    pub fn read(&mut self, port: u16, now_ns: u64) -> u8 {
        self.update(now_ns);
        if port != 0x71 {
            return 0xFF;
        }
        let t = DateTime::from_unix(self.unix_time());
        match self.index {
            0x00 => self.encode(t.second),
            0x02 => self.encode(t.minute),
            0x04 => self.encode_hour(t.hour),
            0x06 => self.encode(t.weekday + 1),
            0x07 => self.encode(t.day),
            0x08 => self.encode(t.month),
            0x09 => self.encode(t.year.rem_euclid(100) as u8),
            0x32 => self.encode(t.year.div_euclid(100).clamp(0, 99) as u8),
            0x0A => {
                let in_last_244us = self.now_ns % NS >= NS - 244_000;
                let uip = self.frozen.is_none() && in_last_244us;
                (self.ram[0x0A] & 0x7F) | if uip { 0x80 } else { 0 }
            }
            0x0C => {
                let c = self.flags | if self.irq_level() { 0x80 } else { 0 };
                self.flags = 0;
                c
            }
            0x0D => 0x80,
            i => self.ram[i as usize & 0x7F],
        }
    }

    /// Writes port 0x70 (index and NMI mask) or 0x71.
    pub fn write(&mut self, port: u16, value: u8, now_ns: u64) {
        self.update(now_ns);
        if port == 0x70 {
            self.index = value & 0x7F;
            self.nmi_masked = value & 0x80 != 0;
            return;
        }
        if port != 0x71 {
            return;
        }
        match self.index {
            0x00 | 0x02 | 0x04 | 0x06 | 0x07 | 0x08 | 0x09 | 0x32 => self.set_time_field(value),
            0x0A => self.ram[0x0A] = value & 0x7F,
            0x0B => {
                let mut v = value;
                if v & 0x80 != 0 {
                    v &= !0x10; // SET clears UIE
                    if self.frozen.is_none() {
                        self.frozen = Some(self.unix_time());
                    }
                } else if let Some(t) = self.frozen.take() {
                    let running = self.epoch.saturating_add((self.now_ns / NS) as i64);
                    self.offset = t.saturating_sub(running);
                }
                self.ram[0x0B] = v;
            }
            0x0C | 0x0D => {}
            i => self.ram[i as usize & 0x7F] = value,
        }
    }

    fn set_time_field(&mut self, value: u8) {
        let mut t = DateTime::from_unix(self.unix_time());
        let v = self.decode(value);
        match self.index {
            0x00 => t.second = v,
            0x02 => t.minute = v,
            0x04 => t.hour = self.decode_hour(value),
            0x07 => t.day = v,
            0x08 => t.month = v,
            0x09 => t.year = t.year.div_euclid(100) * 100 + (v % 100) as i64,
            0x32 => t.year = (v % 100) as i64 * 100 + t.year.rem_euclid(100),
            _ => return, // weekday is derived from the date
        }
        let secs = t.to_unix();
        match &mut self.frozen {
            Some(f) => *f = secs,
            None => {
                let running = self.epoch.saturating_add((self.now_ns / NS) as i64);
                self.offset = secs.saturating_sub(running);
            }
        }
    }
}

impl Cmos {
    /// Snapshot validation: 128 bytes of CMOS RAM, an index into them, sane clock values.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.ram.len() != 128 || self.index > 0x7F {
            return Err(format!(
                "CMOS RAM of {} bytes, index {:#x}",
                self.ram.len(),
                self.index
            ));
        }
        // Ten thousand years either side of 1970 keeps the date arithmetic in range.
        let ok = |t: i64| t.unsigned_abs() < 10_000 * 366 * 86_400;
        if !ok(self.epoch) || !ok(self.offset) || !self.frozen.is_none_or(ok) {
            return Err("CMOS clock out of range".into());
        }
        if self.now_ns > super::MAX_TIME_NS || self.flags & !0x70 != 0 {
            return Err("CMOS time or flags".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(c: &mut Cmos, index: u8, now: u64) -> u8 {
        c.write(0x70, index, now);
        c.read(0x71, now)
    }

    #[test]
    fn calendar_round_trip() {
        let t = DateTime::from_unix(1_700_000_000);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2023, 11, 14, 22, 13, 20)
        );
        assert_eq!(t.weekday, 2); // Tuesday
        assert_eq!(t.to_unix(), 1_700_000_000);
        assert_eq!(DateTime::from_unix(951_782_400).day, 29); // 2000-02-29
        assert_eq!(DateTime::from_unix(0).weekday, 4); // Thursday
    }

    #[test]
    fn known_epoch_in_bcd_and_binary() {
        let mut c = Cmos::new(32 << 20, 1_700_000_000);
        let now = 5 * NS; // five virtual seconds later
        let regs = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32];
        let bcd: Vec<u8> = regs.iter().map(|&r| reg(&mut c, r, now)).collect();
        assert_eq!(bcd, [0x25, 0x13, 0x22, 0x03, 0x14, 0x11, 0x23, 0x20]);
        c.write(0x70, 0x0B, now);
        c.write(0x71, 0x06, now); // binary, 24h
        let bin: Vec<u8> = regs.iter().map(|&r| reg(&mut c, r, now)).collect();
        assert_eq!(bin, [25, 13, 22, 3, 14, 11, 23, 20]);
        c.write(0x70, 0x0B, now);
        c.write(0x71, 0x00, now); // BCD, 12h: 22h is 10 PM
        assert_eq!(reg(&mut c, 0x04, now), 0x90);
    }

    #[test]
    fn default_epoch_and_memory_fields() {
        let mut c = Cmos::new(32 << 20, DEFAULT_EPOCH);
        assert_eq!(reg(&mut c, 0x09, 0), 0x00);
        assert_eq!(reg(&mut c, 0x07, 0), 0x01);
        assert_eq!(reg(&mut c, 0x32, 0), 0x20);
        let word = |c: &mut Cmos, lo| reg(c, lo, 0) as u16 | (reg(c, lo + 1, 0) as u16) << 8;
        assert_eq!(word(&mut c, 0x15), 640);
        assert_eq!(word(&mut c, 0x17), 31 * 1024);
        assert_eq!(word(&mut c, 0x30), 31 * 1024);
        assert_eq!(word(&mut c, 0x34), 256);
        assert_eq!(reg(&mut c, 0x0D, 0), 0x80);
    }

    #[test]
    fn extreme_epochs_do_not_panic() {
        for epoch in [i64::MIN, -1, 0, 253_402_300_799, i64::MAX] {
            let mut c = Cmos::new(u32::MAX, epoch);
            for r in 0..=0x7F {
                c.write(0x70, r, u64::MAX / 2);
                c.read(0x71, u64::MAX / 2);
                c.write(0x71, 0xFF, u64::MAX / 2);
                c.read(0x71, u64::MAX);
            }
        }
    }

    #[test]
    fn setting_the_clock() {
        let mut c = Cmos::new(1 << 20, DEFAULT_EPOCH);
        c.write(0x70, 0x0B, 0);
        c.write(0x71, 0x82, 0); // SET
        for (r, v) in [(0x09, 0x24), (0x08, 0x02), (0x07, 0x29), (0x04, 0x12)] {
            c.write(0x70, r, 0);
            c.write(0x71, v, 0);
        }
        assert_eq!(reg(&mut c, 0x04, 3 * NS), 0x12); // frozen
        c.write(0x70, 0x0B, 3 * NS);
        c.write(0x71, 0x02, 3 * NS);
        assert_eq!(reg(&mut c, 0x00, 10 * NS), 0x07);
        assert_eq!(reg(&mut c, 0x07, 10 * NS), 0x29);
        assert_eq!(reg(&mut c, 0x06, 10 * NS), 0x05); // Thursday
        c.write(0x70, 0x8F, 0);
        assert!(c.nmi_masked());
    }

    #[test]
    fn periodic_update_and_register_c() {
        let mut c = Cmos::new(1 << 20, DEFAULT_EPOCH);
        c.write(0x70, 0x0A, 0);
        c.write(0x71, 0x26, 0); // 1024 Hz
        c.write(0x70, 0x0B, 0);
        c.write(0x71, 0x42, 0); // PIE
        let p = NS / 1024;
        assert_eq!(c.next_event_ns(), Some(p));
        c.update(p - 1);
        assert!(!c.irq_level());
        c.update(p);
        assert!(c.irq_level());
        assert_eq!(c.next_event_ns(), None);
        assert_eq!(reg(&mut c, 0x0C, p), 0xC0);
        assert!(!c.irq_level());
        assert_eq!(reg(&mut c, 0x0C, p), 0x00);
        // Update-ended interrupt once a second, plus an alarm at 00:00:02.
        c.write(0x70, 0x0B, p);
        c.write(0x71, 0x32, p);
        for (r, v) in [(0x01, 0x02), (0x03, 0x00), (0x05, 0xC0)] {
            c.write(0x70, r, p);
            c.write(0x71, v, p);
        }
        assert_eq!(c.next_event_ns(), Some(NS));
        c.update(NS);
        // PF is set whether or not PIE enables it.
        assert_eq!(reg(&mut c, 0x0C, NS), 0xD0);
        c.update(2 * NS);
        assert_eq!(reg(&mut c, 0x0C, 2 * NS), 0xF0);
        // UIP during the last 244 us of a second.
        assert_eq!(reg(&mut c, 0x0A, 3 * NS - 1000) & 0x80, 0x80);
        assert_eq!(reg(&mut c, 0x0A, 3 * NS + 1000) & 0x80, 0);
    }
}
