//! The PC's devices and the port-I/O hub that ties them together: 8259A PIC pair, 8254 PIT
//! (and port 0x61), 16550A UART on COM1, MC146818 RTC/CMOS, 8042 keyboard controller, VGA text
//! mode registers, an optional ATA disk, and the small ports (0x80 POST code, 0x92 fast A20 and
//! reset, 0xCF9 reset control, 0xE9 debug console, 0xF4 exit), and the host-socket device of
//! `--publish` (0x5A0-0x5A9) when the front end attaches one, and the local and I/O APICs
//! when the machine has them (`apic`: memory-mapped, see there). The hub routes device interrupt
//! lines into the PIC after every access, so an interrupt is never lost. It never touches guest
//! memory (the VGA text buffer is read from a RAM slice the machine lends), the CPU or the host
//! (the front end moves host bytes in and out of the UART and the host-socket device).
//!
//! Conventions:
//! - Time is virtual: every call that needs it takes `now_ns`, which must not go backwards
//!   (an earlier value is treated as "no time passed").
//! - Port accesses of 2 or 4 bytes on byte-wide devices are split into byte accesses on
//!   consecutive ports (as the ISA bus does), but only within the same device: the bytes that
//!   would fall on another device are dropped on writes and read as 0xFF. The ATA data port
//!   (0x1F0) is 16-bit (a 32-bit access moves two words, an 8-bit one still consumes a word),
//!   the exit port 0xF4 takes the whole value, and 0xCF8-0xCFF (PCI configuration, not
//!   present) is one unit reading all ones.
//! - After any access or host input the machine should ask `next_event_ns` again: a guest
//!   that reprograms the PIT or the RTC, or host input that arms the UART timeout, moves it.
//! - A20: the line follows the last write on either path, 0x92 bit 1 or the 8042 output port
//!   (as in QEMU, where both drive one line); each path reads back its own register.
//! - Unmapped ports read all ones and ignore writes; without a disk the ATA ports are unmapped
//!   too (0xFF is the floating bus a BIOS or driver reads as "no controller").

pub mod apic;
pub mod ata;
pub mod cmos;
pub mod disk;
pub mod hostsock;
pub mod ioapic;
pub mod lapic;
pub mod pic;
pub mod pit;
pub mod ps2;
pub mod uart;
pub mod vga;

pub use apic::Apics;
pub use ata::Ata;
pub use cmos::Cmos;
pub use hostsock::HostSock;
pub use pic::{Pic, Reach};
pub use pit::Pit;
pub use ps2::Ps2;
pub use uart::Uart;
pub use vga::{Cell, TextScreen, Vga};

use serde::{Deserialize, Serialize};

/// Debug console bytes kept before the oldest are dropped.
const DEBUGCON_LIMIT: usize = 16 << 20;
/// Largest device time a snapshot may hold (about 36 years of virtual time): far beyond
/// any run, and small enough that no time arithmetic can overflow.
pub(crate) const MAX_TIME_NS: u64 = 1 << 60;

/// What a port write asks of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoEffect {
    None,
    /// Port 0xF4 (QEMU isa-debug-exit): the run ends with this process status, `(v << 1) | 1`.
    Exit(u32),
    /// The guest asked for a system reset (0x64 pulse, 0x92 bit 0, 0xCF9).
    Reset,
    /// The A20 line changed (0x92 or the 8042 output port).
    A20Changed(bool),
    /// A POST code was written to port 0x80.
    PostCode(u8),
    /// A byte was written to the debug console (port 0xE9); it is also kept in `debugcon`.
    /// For a multi-byte write only the first byte is reported here.
    DebugByte(u8),
}

impl IoEffect {
    /// Rank for merging the effects of the bytes of one access: the most important wins.
    fn rank(self) -> u8 {
        match self {
            IoEffect::None => 0,
            IoEffect::DebugByte(_) => 1,
            IoEffect::PostCode(_) => 2,
            IoEffect::A20Changed(_) => 3,
            IoEffect::Reset => 4,
            IoEffect::Exit(_) => 5,
        }
    }

    fn merge(self, other: IoEffect) -> IoEffect {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// How to build the devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicesConfig {
    /// The primary master ATA disk, if any (`Vec<u8>` converts with `.into()`).
    pub disk: Option<disk::Disk>,
    /// The primary slave ATA disk, if any; only with a master (`boot` refuses it alone).
    pub disk2: Option<disk::Disk>,
    /// RTC time at virtual time 0, in Unix seconds.
    pub rtc_epoch: i64,
    /// A local APIC and an I/O APIC (`apic`); off, the machine is an ISA PC without them.
    pub apic: bool,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            disk: None,
            disk2: None,
            rtc_epoch: cmos::DEFAULT_EPOCH,
            apic: false,
        }
    }
}

/// Which device owns a port, for splitting wide accesses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Pic,
    Elcr,
    Pit,
    Ps2,
    Cmos,
    Uart,
    Vga,
    Ata,
    HostSock,
    Misc,
    Pci,
    Unmapped,
}

fn owner(port: u16) -> Owner {
    match port {
        0x20 | 0x21 | 0xA0 | 0xA1 => Owner::Pic,
        0x4D0 | 0x4D1 => Owner::Elcr,
        0x40..=0x43 | 0x61 => Owner::Pit,
        0x60 | 0x64 => Owner::Ps2,
        0x70 | 0x71 => Owner::Cmos,
        0x3F8..=0x3FF => Owner::Uart,
        0x3C0..=0x3DF => Owner::Vga,
        0x1F0..=0x1F7 | 0x3F6 => Owner::Ata,
        hostsock::BASE..=hostsock::LAST => Owner::HostSock,
        0x80 | 0x92 | 0xE9 | 0xF0 | 0xF4 | 0xCF9 => Owner::Misc,
        0xCF8..=0xCFF => Owner::Pci,
        _ => Owner::Unmapped,
    }
}

/// All PC devices plus the small ports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Devices {
    pub pic: Pic,
    pub pit: Pit,
    pub uart: Uart,
    pub cmos: Cmos,
    pub ps2: Ps2,
    pub vga: Vga,
    pub ata: Option<Ata>,
    /// Bytes written to port 0xE9.
    #[serde(with = "serde_bytes")]
    pub debugcon: Vec<u8>,
    /// Last value written to port 0x80.
    pub post_code: u8,
    /// Port 0x92 (system control port A): bit 1 fast A20, bit 0 fast reset.
    pub port92: u8,
    /// Port 0xCF9 (reset control register), bits other than the reset trigger.
    pub reset_control: u8,
    /// The A20 line.
    a20: bool,
    /// A reset was requested and not yet taken by the machine.
    pub reset_requested: bool,
    last_a20_8042: bool,
    now_ns: u64,
    /// The x87's FERR# line as the PC wires it (IRQ13), raised by `cpu::x87` when a
    /// waiting instruction meets an unmasked exception with CR0.NE clear (SDM Vol. 1 D.2.1).
    pub fpu_ferr: bool,
    /// IGNNE#: asserted by a write to port F0H (the IRQ13 handler's acknowledgment), which
    /// also drops IRQ13; the FPU then ignores the pending error until ES clears.
    pub fpu_ignne: bool,
    /// The host-socket device of `--publish`, attached by the front end. Not saved in
    /// snapshots nor seen by the state hash (it stands for host connections).
    #[serde(skip)]
    pub hostsock: Option<HostSock>,
    /// The local and I/O APICs, if the machine has them. Saved in snapshots beside the
    /// core and hashed only when present (`snapshot`), so machines without them keep the
    /// state hashes they always had.
    #[serde(skip)]
    pub apic: Option<Box<Apics>>,
}

impl Devices {
    /// Devices for a machine with `ram_bytes` of RAM, A20 enabled.
    pub fn new(ram_bytes: u32, config: DevicesConfig) -> Self {
        let ps2 = Ps2::new();
        Devices {
            pic: Pic::new(),
            pit: Pit::new(),
            uart: Uart::new(),
            cmos: Cmos::new(ram_bytes, config.rtc_epoch),
            last_a20_8042: ps2.a20(),
            ps2,
            vga: Vga::new(),
            ata: match (config.disk, config.disk2) {
                (Some(m), Some(s)) => Some(Ata::with_slave(m, s)),
                (m, _) => m.map(Ata::new),
            },
            debugcon: Vec::new(),
            post_code: 0,
            port92: 0x02,
            reset_control: 0,
            a20: true,
            reset_requested: false,
            now_ns: 0,
            fpu_ferr: false,
            fpu_ignne: false,
            hostsock: None,
            apic: config.apic.then(Box::default),
        }
    }

    /// Drives FERR# (IRQ13) from the FPU.
    pub fn set_ferr(&mut self, on: bool) {
        self.fpu_ferr = on;
        self.route();
    }

    /// Resets what a system reset resets, keeping the disk image, the CMOS contents and time,
    /// and the host-side serial and debug console data.
    pub fn reset(&mut self, now_ns: u64) {
        self.update(now_ns);
        self.pic = Pic::new();
        let mut pit = Pit::new();
        pit.update(now_ns);
        pit.take_irq0_edges();
        self.pit = pit;
        self.uart.reset();
        self.ps2 = Ps2::new();
        self.last_a20_8042 = self.ps2.a20();
        self.vga = Vga::new();
        if let Some(ata) = &mut self.ata {
            ata.write(0x3F6, 0x04);
            ata.write(0x3F6, 0x00);
        }
        self.port92 = 0x02;
        self.reset_control = 0;
        self.a20 = true;
        self.reset_requested = false;
        self.fpu_ferr = false;
        self.fpu_ignne = false;
        if let Some(a) = &mut self.apic {
            **a = Apics::default();
            a.lapic.update(now_ns);
        }
        self.route();
    }

    /// Opens or closes the A20 gate on both paths (0x92 bit 1 and the 8042 output port),
    /// as the machine's power-on state; the caller applies the line to the CPU.
    pub fn set_a20_at_reset(&mut self, on: bool) {
        self.port92 = (self.port92 & !0x02) | (on as u8) << 1;
        self.ps2.set_a20(on);
        self.last_a20_8042 = on;
        self.a20 = on;
    }

    /// The A20 line.
    pub fn a20_enabled(&self) -> bool {
        self.a20
    }

    /// True once after the guest asked for a reset.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_requested)
    }

    /// Bytes written to port 0xE9 since the last call.
    pub fn take_debugcon(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.debugcon)
    }

    /// Queues serial input for the guest.
    pub fn push_serial_input(&mut self, bytes: &[u8]) {
        self.uart.push_input(bytes);
        self.route();
    }

    /// Serial output since the last call.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        self.uart.take_output()
    }

    /// A raw set-1 scan code from the host keyboard.
    pub fn inject_scancode(&mut self, code: u8) {
        self.ps2.inject_scancode(code);
        self.route();
    }

    /// Types an ASCII character on the US keyboard; false if it has no key.
    pub fn inject_ascii_key(&mut self, c: char) -> bool {
        let ok = self.ps2.inject_ascii_key(c);
        self.route();
        ok
    }

    /// Decoded VGA text screen from guest RAM (a slice starting at physical 0).
    pub fn text_screen(&self, ram: &[u8]) -> TextScreen {
        self.vga.text(ram)
    }

    /// Advances timers to `now_ns` and routes interrupt lines into the PIC.
    pub fn update(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        let now = self.now_ns;
        self.pit.update(now);
        self.cmos.update(now);
        self.uart.update(now);
        if let Some(a) = &mut self.apic {
            a.lapic.update(now);
        }
        self.route();
    }

    /// The earliest virtual time at which a device needs `update` (PIT channel 0 edge, RTC
    /// periodic/update/alarm, UART receive timeout), whether or not the PIC masks the line.
    pub fn next_event_ns(&self) -> Option<u64> {
        let lapic = self.apic.as_ref().and_then(|a| a.lapic.next_event_ns());
        self.events().map(|(_, t)| t).chain(lapic).min()
    }

    /// Like `next_event_ns`, but only events on IRQ lines whose request the PIC would pass
    /// to the CPU now (unmasked, and not held back by an in-service line of the same or
    /// higher priority): None when no timer can interrupt a halted CPU.
    /// Skipping updates for the other lines loses nothing: their effects are computed from
    /// time at the next update or port access, which is when a guest could first observe
    /// them (a halted CPU makes no port access, and only its EOI could unblock a line).
    /// With the APICs, lines the I/O APIC passes count too, and the local APIC's timer.
    pub fn next_interrupt_event_ns(&self) -> Option<u64> {
        let mut reachable = self.ioapic_reachable();
        if self.pic_reaches_cpu() {
            reachable |= self.pic.reach().reachable;
        }
        let lapic = self
            .apic
            .as_ref()
            .and_then(|a| a.lapic.next_interrupt_event_ns());
        self.events()
            .filter(|&(line, _)| reachable & (1 << line) != 0)
            .map(|(_, t)| t)
            .chain(lapic)
            .min()
    }

    fn events(&self) -> impl Iterator<Item = (u8, u64)> {
        [
            (0, self.pit.next_event_ns()),
            (8, self.cmos.next_event_ns()),
            (4, self.uart.next_event_ns()),
        ]
        .into_iter()
        .filter_map(|(line, t)| t.map(|t| (line, t)))
    }

    /// The local APIC or the PIC asks for an interrupt (the CPU checks IF itself).
    pub fn interrupt_pending(&self) -> bool {
        match &self.apic {
            None => self.pic.has_interrupt(),
            Some(a) => {
                a.lapic.has_interrupt() || (a.lapic.extint_passes() && self.pic.has_interrupt())
            }
        }
    }

    /// INTA: the vector to deliver: the local APIC's first, else the PIC's through LINT0
    /// (spurious IRQs give vector base + 7).
    pub fn acknowledge_interrupt(&mut self) -> u8 {
        let v = match &mut self.apic {
            Some(a) if a.lapic.has_interrupt() => a.lapic.acknowledge(),
            _ => self.pic.acknowledge(),
        };
        self.route();
        v
    }

    /// Drives every device's interrupt line into the PIC.
    fn route(&mut self) {
        let edges = self.pit.take_irq0_edges();
        if edges > 0 {
            self.line(0, false);
            self.line(0, true);
        }
        self.line(0, self.pit.irq0_level());
        // Lines as the guest's last access left them, then after the keyboard and UART load
        // their next byte: a byte following one just read gives a fresh edge.
        self.line(1, self.ps2.irq1_level());
        self.line(4, self.uart.irq_level());
        self.ps2.service();
        self.uart.service();
        self.line(1, self.ps2.irq1_level());
        self.line(4, self.uart.irq_level());
        self.line(8, self.cmos.irq_level());
        self.line(12, self.ps2.irq12_level());
        let ata = self.ata.as_ref().is_some_and(Ata::irq_level);
        self.line(14, ata);
        self.line(13, self.fpu_ferr);
    }

    /// Port read of `size` bytes (1, 2 or 4; other sizes act as 1).
    pub fn io_read(&mut self, port: u16, size: u8, now_ns: u64) -> u32 {
        self.update(now_ns);
        let size = normalize(size);
        let value = match owner(port) {
            Owner::Ata if port == 0x1F0 && self.ata.is_some() => {
                let mut v = 0u32;
                for i in 0..size.div_ceil(2) {
                    let w = self.ata.as_mut().map_or(0xFFFF, |a| a.read_data());
                    v |= (w as u32) << (16 * i);
                }
                v
            }
            Owner::Pci | Owner::Unmapped => u32::MAX,
            own => {
                let mut v = 0u32;
                for i in 0..size {
                    let p = port.wrapping_add(i as u16);
                    let b = if owner(p) == own { self.read8(p) } else { 0xFF };
                    v |= (b as u32) << (8 * i);
                }
                v
            }
        };
        self.route();
        value & width_mask(size)
    }

    /// Port write of `size` bytes (1, 2 or 4; other sizes act as 1).
    pub fn io_write(&mut self, port: u16, size: u8, value: u32, now_ns: u64) -> IoEffect {
        self.update(now_ns);
        let size = normalize(size);
        let value = value & width_mask(size);
        let effect = match owner(port) {
            Owner::Misc if port == 0xF4 => IoEffect::Exit(value.wrapping_shl(1) | 1),
            Owner::Ata if port == 0x1F0 => {
                if let Some(ata) = &mut self.ata {
                    for i in 0..size.div_ceil(2) {
                        ata.write_data((value >> (16 * i)) as u16);
                    }
                }
                IoEffect::None
            }
            Owner::Pci | Owner::Unmapped => IoEffect::None,
            own => {
                let mut effect = IoEffect::None;
                for i in 0..size {
                    let p = port.wrapping_add(i as u16);
                    if owner(p) == own {
                        effect = effect.merge(self.write8(p, (value >> (8 * i)) as u8));
                    }
                }
                effect
            }
        };
        self.route();
        effect
    }

    /// A write to the VGA's registers (every byte of it in 0x3C0-0x3DF): they drive no
    /// interrupt line and hold no timer, so the write needs neither `update` nor `route`
    /// (the next update, at the next port access or device deadline, finds the same
    /// timers and lines). False, having done nothing, for any other port.
    pub fn write_vga(&mut self, port: u16, size: u8, value: u32) -> bool {
        let size = normalize(size);
        let last = port.wrapping_add(size as u16 - 1);
        if owner(port) != Owner::Vga || owner(last) != Owner::Vga {
            return false;
        }
        for i in 0..size {
            self.vga.write(port + i as u16, (value >> (8 * i)) as u8);
        }
        true
    }

    fn read8(&mut self, port: u16) -> u8 {
        let now = self.now_ns;
        match port {
            0x20 | 0x21 | 0xA0 | 0xA1 => self.pic.read(port),
            0x4D0 | 0x4D1 => 0x00, // ELCR: every line edge-triggered
            0x40..=0x43 | 0x61 => self.pit.read(port, now),
            0x60 | 0x64 => self.ps2.read(port),
            0x70 | 0x71 => self.cmos.read(port, now),
            0x3F8..=0x3FF => self.uart.read(port - 0x3F8, now),
            0x3C0..=0x3DF => self.vga.read(port, now),
            0x1F0..=0x1F7 | 0x3F6 => self.ata.as_mut().map_or(0xFF, |a| a.read(port)),
            hostsock::BASE..=hostsock::LAST => self
                .hostsock
                .as_mut()
                .map_or(0xFF, |h| h.read(port - hostsock::BASE)),
            0x80 => self.post_code,
            0x92 => self.port92,
            0xE9 => 0xE9,
            0xCF9 => self.reset_control,
            _ => 0xFF,
        }
    }

    fn write8(&mut self, port: u16, value: u8) -> IoEffect {
        let now = self.now_ns;
        match port {
            0x20 | 0x21 | 0xA0 | 0xA1 => self.pic.write(port, value),
            0x40..=0x43 | 0x61 => self.pit.write(port, value, now),
            0x60 | 0x64 => {
                self.ps2.write(port, value);
                let mut effect = IoEffect::None;
                let a20 = self.ps2.a20();
                if a20 != self.last_a20_8042 {
                    self.last_a20_8042 = a20;
                    effect = self.set_a20(a20);
                }
                if self.ps2.take_reset_request() {
                    self.reset_requested = true;
                    effect = IoEffect::Reset;
                }
                return effect;
            }
            0x70 | 0x71 => self.cmos.write(port, value, now),
            0x3F8..=0x3FF => self.uart.write(port - 0x3F8, value, now),
            0x3C0..=0x3DF => self.vga.write(port, value),
            0x1F0..=0x1F7 | 0x3F6 => {
                if let Some(ata) = &mut self.ata {
                    ata.write(port, value);
                }
            }
            hostsock::BASE..=hostsock::LAST => {
                if let Some(h) = &mut self.hostsock {
                    h.write(port - hostsock::BASE, value);
                }
            }
            // Clear the coprocessor busy latch: IRQ13 drops, IGNNE# is asserted.
            0xF0 if self.fpu_ferr => {
                self.fpu_ferr = false;
                self.fpu_ignne = true;
            }
            0x80 => {
                self.post_code = value;
                return IoEffect::PostCode(value);
            }
            0x92 => {
                let old = self.port92;
                self.port92 = value & 0x03;
                let mut effect = IoEffect::None;
                if (old ^ value) & 0x02 != 0 {
                    effect = self.set_a20(value & 0x02 != 0);
                }
                if old & 0x01 == 0 && value & 0x01 != 0 {
                    self.reset_requested = true;
                    effect = IoEffect::Reset;
                }
                return effect;
            }
            0xE9 => {
                if self.debugcon.len() >= DEBUGCON_LIMIT {
                    self.debugcon.drain(..DEBUGCON_LIMIT / 2);
                }
                self.debugcon.push(value);
                return IoEffect::DebugByte(value);
            }
            0xCF9 => {
                self.reset_control = value & 0x0A;
                if value & 0x04 != 0 {
                    self.reset_requested = true;
                    return IoEffect::Reset;
                }
            }
            _ => {}
        }
        IoEffect::None
    }

    fn set_a20(&mut self, on: bool) -> IoEffect {
        if on == self.a20 {
            return IoEffect::None;
        }
        self.a20 = on;
        IoEffect::A20Changed(on)
    }
}

fn normalize(size: u8) -> u8 {
    match size {
        2 | 4 => size,
        _ => 1,
    }
}

fn width_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

impl Devices {
    /// Validates a restored device state (snapshots): every size, index and enum the
    /// devices rely on. The message names the device.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.pic.check()?;
        self.pit.check()?;
        self.uart.check()?;
        self.cmos.check()?;
        self.ps2.check()?;
        self.vga.check()?;
        if let Some(a) = &self.ata {
            a.check()?;
        }
        if let Some(h) = &self.hostsock {
            h.check()?;
        }
        if let Some(a) = &self.apic {
            a.lapic.check()?;
            a.ioapic.check()?;
        }
        if self.debugcon.len() > DEBUGCON_LIMIT || self.now_ns > MAX_TIME_NS {
            return Err("debug console or device time".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
