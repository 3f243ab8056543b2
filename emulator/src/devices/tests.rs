//! Tests of the `Devices` hub: port dispatch, widths, IRQ routing into the PIC, the small
//! ports, snapshots, and a long deterministic random access sequence that must never panic.

use super::*;

/// Master to 0x20, slave to 0x28, then the given masks.
fn remap(d: &mut Devices, master_mask: u32, slave_mask: u32) {
    for (port, v) in [
        (0x20, 0x11),
        (0xA0, 0x11),
        (0x21, 0x20),
        (0xA1, 0x28),
        (0x21, 0x04),
        (0xA1, 0x02),
        (0x21, 0x01),
        (0xA1, 0x01),
        (0x21, master_mask),
        (0xA1, slave_mask),
    ] {
        d.io_write(port, 1, v, 0);
    }
}

fn eoi(d: &mut Devices, slave: bool) {
    if slave {
        d.io_write(0xA0, 1, 0x20, d.now_ns);
    }
    d.io_write(0x20, 1, 0x20, d.now_ns);
}

fn devices_with_disk() -> Devices {
    let mut image = vec![0u8; 64 * 512];
    image[0] = 0x34;
    image[1] = 0x12;
    image[2] = 0x78;
    image[3] = 0x56;
    Devices::new(
        32 << 20,
        DevicesConfig {
            disk: Some(image.into()),
            ..DevicesConfig::default()
        },
    )
}

#[test]
fn pit_tick_reaches_cpu_as_vector_0x20() {
    let mut d = Devices::new(16 << 20, DevicesConfig::default());
    // Everything masked: the PIT still has a deadline, but none can interrupt.
    assert_eq!(d.next_event_ns(), Some(pit::ns_of_tick(65536)));
    assert_eq!(d.next_interrupt_event_ns(), None);
    remap(&mut d, 0xFE, 0xFF);
    d.io_write(0x43, 1, 0x34, 0);
    d.io_write(0x40, 1, 0xA9, 0); // 1193 = 0x04A9: 1 kHz
    d.io_write(0x40, 1, 0x04, 0);
    assert!(!d.interrupt_pending());
    let mut last = 0;
    for _ in 0..3 {
        let next = d.next_event_ns().unwrap();
        assert_eq!(d.next_interrupt_event_ns(), Some(next));
        assert!(next > last);
        d.update(next - 1);
        assert!(!d.interrupt_pending());
        d.update(next);
        assert!(d.interrupt_pending());
        assert_eq!(d.acknowledge_interrupt(), 0x20);
        assert!(!d.interrupt_pending());
        eoi(&mut d, false);
        last = next;
    }
    assert_eq!(last, pit::ns_of_tick(3 * 1193));
}

#[test]
fn exit_port_and_debug_console() {
    let mut d = Devices::new(1 << 20, DevicesConfig::default());
    assert_eq!(d.io_write(0xF4, 1, 0x10, 0), IoEffect::Exit(0x21));
    assert_eq!(d.io_write(0xF4, 4, 0x0000_0100, 0), IoEffect::Exit(0x201));
    assert_eq!(d.io_write(0xF4, 1, 0x1FF, 0), IoEffect::Exit(0x1FF));
    assert_eq!(
        d.io_write(0xE9, 1, b'h' as u32, 0),
        IoEffect::DebugByte(b'h')
    );
    d.io_write(0xE9, 1, b'i' as u32, 0);
    assert_eq!(d.io_read(0xE9, 1, 0), 0xE9);
    assert_eq!(d.take_debugcon(), b"hi");
    assert_eq!(d.io_write(0x80, 1, 0x42, 0), IoEffect::PostCode(0x42));
    assert_eq!(d.post_code, 0x42);
}

#[test]
fn widths_and_unmapped_ports() {
    let mut d = devices_with_disk();
    assert_eq!(d.io_read(0x1234, 1, 0), 0xFF);
    assert_eq!(d.io_read(0x1234, 2, 0), 0xFFFF);
    assert_eq!(d.io_read(0x1234, 4, 0), 0xFFFF_FFFF);
    assert_eq!(d.io_read(0xCFC, 4, 0), 0xFFFF_FFFF);
    // A 32-bit PCI address write must not reach 0xCF9.
    assert_eq!(d.io_write(0xCF8, 4, 0x8000_0400, 0), IoEffect::None);
    assert!(!d.reset_requested);
    // 16-bit access to the PIC data port reads IMR and the unmapped 0x22.
    assert_eq!(d.io_read(0x21, 2, 0), 0xFFFB);
    // ATA data port: 16 and 32 bits.
    d.io_write(0x1F6, 1, 0xE0, 0);
    d.io_write(0x1F2, 1, 1, 0);
    d.io_write(0x1F3, 1, 0, 0);
    d.io_write(0x1F4, 2, 0, 0);
    d.io_write(0x1F7, 1, 0x20, 0);
    assert_eq!(d.io_read(0x1F0, 2, 0), 0x1234);
    assert_eq!(d.io_read(0x1F0, 4, 0), 0x0000_5678);
    // Odd sizes act as bytes.
    assert_eq!(d.io_read(0xE9, 3, 0), 0xE9);
}

#[test]
fn reset_and_a20_paths() {
    let mut d = Devices::new(1 << 20, DevicesConfig::default());
    assert!(d.a20_enabled());
    assert_eq!(d.io_write(0x92, 1, 0x00, 0), IoEffect::A20Changed(false));
    assert!(!d.a20_enabled());
    d.io_write(0x64, 1, 0xD1, 0);
    // The 8042 still holds A20 on, so writing it on again changes nothing...
    assert_eq!(d.io_write(0x60, 1, 0xDF, 0), IoEffect::None);
    // ...but turning it off then on through the 8042 drives the line.
    d.io_write(0x64, 1, 0xDD, 0);
    assert_eq!(d.io_write(0x64, 1, 0xDF, 0), IoEffect::A20Changed(true));
    assert!(d.a20_enabled());
    assert_eq!(d.io_write(0x64, 1, 0xFE, 0), IoEffect::Reset);
    assert!(d.take_reset_request());
    assert_eq!(d.io_write(0xCF9, 1, 0x06, 0), IoEffect::Reset);
    assert_eq!(d.io_write(0xCF9, 1, 0x02, 0), IoEffect::None);
    assert_eq!(d.io_write(0x92, 1, 0x03, 0), IoEffect::Reset);
    d.reset(10);
    assert!(!d.reset_requested);
    assert!(d.a20_enabled());
}

#[test]
fn device_lines_reach_their_vectors() {
    let mut d = devices_with_disk();
    remap(&mut d, 0xE9, 0xBE); // IRQ1, 2, 4; IRQ8, 14
                               // Keyboard: IRQ1.
    d.inject_scancode(0x1E);
    assert_eq!(d.acknowledge_interrupt(), 0x21);
    assert_eq!(d.io_read(0x60, 1, 0), 0x1E);
    eoi(&mut d, false);
    // UART: IRQ4 on received data.
    d.io_write(0x3F9, 1, 0x01, 0);
    d.push_serial_input(b"x");
    assert_eq!(d.acknowledge_interrupt(), 0x24);
    assert_eq!(d.io_read(0x3F8, 1, 0), b'x' as u32);
    eoi(&mut d, false);
    assert!(!d.interrupt_pending());
    // RTC: IRQ8 through the slave, periodic at 1024 Hz.
    d.io_write(0x70, 1, 0x0B, 0);
    d.io_write(0x71, 1, 0x42, 0);
    let t = d.next_event_ns().unwrap();
    assert_eq!(t, 1_000_000_000 / 1024);
    d.update(t);
    assert_eq!(d.acknowledge_interrupt(), 0x28);
    d.io_write(0x70, 1, 0x0C, t);
    d.io_read(0x71, 1, t);
    eoi(&mut d, true);
    d.io_write(0x70, 1, 0x0B, t);
    d.io_write(0x71, 1, 0x02, t);
    // ATA: IRQ14 after a command.
    d.io_write(0x1F7, 1, 0xE7, t);
    assert_eq!(d.acknowledge_interrupt(), 0x2E);
    d.io_read(0x1F7, 1, t);
    eoi(&mut d, true);
    assert!(!d.interrupt_pending());
}

#[test]
fn every_keyboard_and_serial_byte_interrupts() {
    let mut d = Devices::new(1 << 20, DevicesConfig::default());
    remap(&mut d, 0xEC, 0xFF);
    d.inject_ascii_key('A');
    let mut got = Vec::new();
    while d.interrupt_pending() {
        assert_eq!(d.acknowledge_interrupt(), 0x21);
        got.push(d.io_read(0x60, 1, 0) as u8);
        eoi(&mut d, false);
    }
    assert_eq!(got, [0x2A, 0x1E, 0x9E, 0xAA]);
    // One byte read per interrupt, without a FIFO.
    d.io_write(0x3F9, 1, 0x01, 0);
    d.push_serial_input(b"abc");
    let mut got = Vec::new();
    while d.interrupt_pending() {
        assert_eq!(d.acknowledge_interrupt(), 0x24);
        assert_eq!(d.io_read(0x3FA, 1, 0), 0x04);
        got.push(d.io_read(0x3F8, 1, 0) as u8);
        eoi(&mut d, false);
    }
    assert_eq!(got, b"abc");
}

#[test]
fn snapshot_round_trip() {
    let mut d = devices_with_disk();
    d.io_write(0xE9, 1, b'a' as u32, 5);
    d.push_serial_input(b"queued");
    let bytes = postcard::to_allocvec(&d).unwrap();
    let back: Devices = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(postcard::to_allocvec(&back).unwrap(), bytes);
    assert_eq!(back.debugcon, b"a");
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_port_traffic_never_panics_and_is_deterministic() {
    let a = random_traffic(0x9E37_79B9_7F4A_7C15);
    assert_eq!(a, random_traffic(0x9E37_79B9_7F4A_7C15));
    assert_ne!(a, random_traffic(12345));
}

/// Runs 100k random port accesses and host events; returns the final snapshot.
fn random_traffic(seed: u64) -> Vec<u8> {
    const PORTS: &[u16] = &[
        0x20, 0x21, 0xA0, 0xA1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x60, 0x64, 0x70, 0x71, 0x3F8, 0x3F9,
        0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, 0x3C0, 0x3C1, 0x3C4, 0x3C5, 0x3C7, 0x3C8, 0x3C9,
        0x3CE, 0x3CF, 0x3D4, 0x3D5, 0x3DA, 0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7,
        0x3F6, 0x80, 0x92, 0xE9, 0xF4, 0xCF8, 0xCF9, 0xCFC, 0x4D0,
    ];
    let mut d = devices_with_disk();
    let mut rng = Rng(seed);
    let mut now = 0u64;
    let ram = vec![0u8; 0xC0000];
    for i in 0..100_000u32 {
        let r = rng.next();
        now += r % 5_000;
        let port = if r & 0x300 == 0 {
            (rng.next() >> 7) as u16
        } else {
            PORTS[(rng.next() % PORTS.len() as u64) as usize]
        };
        let size = [1, 2, 4, 1, 0, 3, 1, 8][(r >> 16) as usize & 7];
        let value = rng.next() as u32;
        match (r >> 20) % 16 {
            0..=6 => {
                let v = d.io_read(port, size, now);
                let mask = match size {
                    2 => 0xFFFF,
                    4 => u32::MAX,
                    _ => 0xFF,
                };
                assert_eq!(v & !mask, 0);
            }
            7..=12 => {
                d.io_write(port, size, value, now);
            }
            13 => {
                if d.interrupt_pending() {
                    d.acknowledge_interrupt();
                }
            }
            14 => {
                if let Some(t) = d.next_event_ns() {
                    now = now.max(t);
                }
                d.update(now);
            }
            _ => {
                d.push_serial_input(&value.to_le_bytes());
                d.inject_ascii_key(char::from(value as u8));
                d.inject_scancode((value >> 8) as u8);
            }
        }
        if i % 10_000 == 0 {
            if d.take_reset_request() {
                d.reset(now);
            }
            let _ = d.text_screen(&ram).to_string_lossy();
            let _ = d.vga.cursor();
            d.take_serial_output();
            d.take_debugcon();
        }
    }
    if d.take_reset_request() {
        d.reset(now);
    }
    postcard::to_allocvec(&d).unwrap()
}

#[test]
fn host_socket_ports_are_unmapped_until_attached() {
    let mut d = Devices::new(1 << 20, DevicesConfig::default());
    assert_eq!(d.io_read(hostsock::BASE, 1, 0), 0xFF);
    assert_eq!(d.io_read(hostsock::BASE + 4, 2, 0), 0xFFFF);
    d.hostsock = Some(HostSock::new());
    assert_eq!(d.io_read(hostsock::BASE, 1, 0), hostsock::ID as u32);
    let ch = d.hostsock.as_mut().unwrap().offer(0x1234).unwrap();
    d.io_write(hostsock::BASE, 1, ch as u32, 0);
    assert_eq!(d.io_read(hostsock::BASE + 4, 2, 0), 0x1234);
    assert_eq!(d.io_read(hostsock::LAST + 1, 1, 0), 0xFF);
    // Not part of a snapshot: a restored copy has no device.
    let back: Devices = postcard::from_bytes(&postcard::to_allocvec(&d).unwrap()).unwrap();
    assert!(back.hostsock.is_none());
}

/// A slave disk goes through a snapshot like the master: its bytes (guest writes included)
/// come back after restore, and the state hash covers it.
#[test]
fn slave_disk_survives_a_snapshot() {
    use crate::boot::{boot, BootKind};
    use crate::machine::MachineConfig;
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        devices: DevicesConfig {
            disk: Some(vec![1u8; 4 * 512].into()),
            disk2: Some(vec![2u8; 8 * 512].into()),
            ..DevicesConfig::default()
        },
    };
    let flat = BootKind::Flat {
        addr: 0x1000,
        real: false,
    };
    let mut m = boot(cfg, &[0xF4], &flat).unwrap();
    let d = &mut m.core.dev;
    // WRITE SECTORS to the slave's LBA 5.
    for (port, v) in [
        (0x1F6, 0xF0),
        (0x1F2, 1),
        (0x1F3, 5),
        (0x1F4, 0),
        (0x1F5, 0),
    ] {
        d.io_write(port, 1, v, 0);
    }
    d.io_write(0x1F7, 1, 0x30, 0);
    for _ in 0..256 {
        d.io_write(0x1F0, 2, 0xBEEF, 0);
    }
    let ata = d.ata.as_ref().unwrap();
    assert!(ata.slave().unwrap().dirty() && !ata.master().dirty());
    let bytes = crate::snapshot::save(&m);
    let r = crate::snapshot::restore(&bytes).unwrap();
    let (a, b) = (
        m.core.dev.ata.as_ref().unwrap(),
        r.core.dev.ata.as_ref().unwrap(),
    );
    for n in 0..2 {
        let (x, y) = (a.drive(n).unwrap(), b.drive(n).unwrap());
        assert_eq!(x.disk().to_vec().unwrap(), y.disk().to_vec().unwrap());
    }
    assert_eq!(b.slave().unwrap().disk().to_vec().unwrap()[5 * 512], 0xEF);
    assert_eq!(
        crate::snapshot::state_hash(&m),
        crate::snapshot::state_hash(&r)
    );
    let mut other = r;
    other.core.dev.ata = Some(super::Ata::new(vec![1u8; 4 * 512]));
    assert_ne!(
        crate::snapshot::state_hash(&m),
        crate::snapshot::state_hash(&other)
    );
}
