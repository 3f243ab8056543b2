//! Boot sectors run on the built-in BIOS, checked through COM1 and the VGA screen.

use crate::boot::{boot, rom, BootKind};
use crate::machine::{Machine, MachineConfig, RunExit};
use crate::trace::EventKind;

const BOOTSECTOR: &[u8] = include_bytes!("../../../../samples/bootsector/bootsector.img");
/// tests/boot/biostest.asm (nasm): exercises INT 10h/12h/13h/14h/15h/16h/1Ah.
const BIOSTEST: &[u8] = include_bytes!("../../../../tests/boot/biostest.img");

fn run(m: &mut Machine, budget: u64, input: &[u8]) -> (RunExit, String) {
    m.core.dev.push_serial_input(input);
    let mut out = Vec::new();
    let mut left = budget;
    let exit = loop {
        let r = m.run(left.min(100_000));
        out.extend(m.core.dev.take_serial_output());
        left = left.saturating_sub(100_000);
        match r {
            RunExit::Budget if left > 0 => continue,
            other => break other,
        }
    };
    (exit, String::from_utf8_lossy(&out).into_owned())
}

fn screen(m: &Machine) -> Vec<String> {
    let s = m.core.dev.text_screen(&m.core.mem.ram);
    (0..25).map(|r| s.line(r).trim_end().to_string()).collect()
}

#[test]
fn bios_services_survive_a_snapshot_restore() {
    // Port hooks are not part of a snapshot: restoring one attaches the BIOS again, so the
    // restored machine's INT 10h teletype still reaches the screen.
    let m = boot(MachineConfig::default(), BOOTSECTOR, &BootKind::Disk).unwrap();
    let snap = crate::snapshot::save(&m);
    let mut r = crate::snapshot::restore(&snap).unwrap();
    assert_eq!(r.core.port_hooks.len(), 1, "the hypercall port hook");
    let (exit, out) = run(&mut r, 1_000_000, b"");
    assert_eq!(exit, RunExit::Exit(1));
    assert_eq!(out, "Traplab boot sector: now in 32-bit protected mode\n");
    assert!(screen(&r)
        .iter()
        .any(|l| l == "Traplab boot sector: real mode, BIOS teletype"));
    // A Multiboot machine has no BIOS and no hook.
    let mb = crate::boot::BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![],
    };
    let hello = include_bytes!("../../../../samples/hello/hello.elf");
    let m = boot(MachineConfig::default(), hello, &mb).unwrap();
    assert!(m.core.port_hooks.is_empty());
    assert!(crate::snapshot::restore(&crate::snapshot::save(&m))
        .unwrap()
        .core
        .port_hooks
        .is_empty());
}

#[test]
fn bootsector_sample_prints_both_lines() {
    let mut m = boot(MachineConfig::default(), BOOTSECTOR, &BootKind::Disk).unwrap();
    assert_eq!(m.core.cpu.eip, 0x7C00);
    assert_eq!(m.core.cpu.gpr[2] & 0xFF, 0x80, "DL = boot drive");
    let (exit, out) = run(&mut m, 1_000_000, b"");
    assert_eq!(exit, RunExit::Exit(1));
    assert_eq!(out, "Traplab boot sector: now in 32-bit protected mode\n");
    let lines = screen(&m);
    let first = lines
        .iter()
        .position(|l| l == "Traplab boot sector: real mode, BIOS teletype")
        .expect("the teletype line on the screen");
    assert_eq!(
        lines[first + 1],
        "Traplab boot sector: now in 32-bit protected mode"
    );
    assert!(lines[0].starts_with("Traplab BIOS"), "banner: {lines:?}");
}

#[test]
fn biostest_exercises_the_services() {
    let mut m = boot(MachineConfig::default(), BIOSTEST, &BootKind::Disk).unwrap();
    let (exit, out) = run(&mut m, 20_000_000, b"hi\r\n");
    assert_eq!(out, include_str!("../../../../tests/boot/biostest.txt"));
    assert_eq!(exit, RunExit::Exit(1));
    let ata = m.core.dev.ata.as_ref().unwrap();
    assert!(ata.dirty());
    let mut got = [0u8; 8];
    ata.disk().read(3072, &mut got).unwrap();
    assert_eq!(&got, b"WRITTEN\0");
    let noted = m.core.events.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Note(n) if n.contains("unsupported service INT 10h AX=77"))
    });
    assert!(noted, "the unknown service is in the event log");
    assert!(m.core.mem.read(0x46C, 4) > 0, "ticks counted");
}

#[test]
fn keyboard_irq_fills_the_bios_buffer() {
    let mut m = boot(MachineConfig::default(), BIOSTEST, &BootKind::Disk).unwrap();
    // Type through the PS/2 keyboard instead of COM1: "ok" then Enter.
    for ch in "ok\n".chars() {
        assert!(m.core.dev.inject_ascii_key(ch));
    }
    let (exit, out) = run(&mut m, 20_000_000, b"");
    assert!(out.ends_with("keys: ok\nbye\n"), "{out}");
    assert_eq!(exit, RunExit::Exit(1));
}

#[test]
fn bad_disks_are_refused() {
    let cfg = MachineConfig::default;
    assert!(boot(cfg(), &BOOTSECTOR[..511], &BootKind::Disk).is_err());
    let mut unsigned = BOOTSECTOR.to_vec();
    unsigned[511] = 0;
    let e = boot(cfg(), &unsigned, &BootKind::Disk).err().unwrap();
    assert!(e.to_string().contains("55 AA"), "{e}");
}

#[test]
fn guest_cannot_forge_bios_calls() {
    // `out 0xEB, al` from a boot sector is an ordinary port write, not a BIOS call.
    let mut img = vec![0u8; 512];
    img[..6].copy_from_slice(&[0xB4, 0x0E, 0xE6, 0xEB, 0xF4, 0x90]); // mov ah,0Eh; out; hlt
    img[510] = 0x55;
    img[511] = 0xAA;
    let mut m = boot(MachineConfig::default(), &img, &BootKind::Disk).unwrap();
    m.core.cpu.flags.set(0x2); // IF off so that HLT stops the run
    assert_eq!(m.run(100), RunExit::Halted);
    assert_eq!(m.core.cpu.eip, 0x7C05);
}

#[test]
fn int19_reboots_and_int18_halts() {
    // int 19h must land at 0000:7C00 again; the second time round, int 18h halts.
    let mut img = vec![0u8; 512];
    // inc byte [0x600]; cmp byte [0x600], 2; je +2; int 19h; int 18h
    img[..13].copy_from_slice(&[
        0xFE, 0x06, 0x00, 0x06, 0x80, 0x3E, 0x00, 0x06, 0x02, 0x74, 0x02, 0xCD, 0x19,
    ]);
    img[13..15].copy_from_slice(&[0xCD, 0x18]);
    img[510] = 0x55;
    img[511] = 0xAA;
    let mut m = boot(MachineConfig::default(), &img, &BootKind::Disk).unwrap();
    assert_eq!(m.run(10_000), RunExit::Halted);
    assert_eq!(m.core.mem.read(0x600, 1), 2);
    assert!(screen(&m).iter().any(|l| l.starts_with("No bootable disk")));
}

#[test]
fn firmware_rom_runs_from_the_reset_vector() {
    // At F000:FFF0: jmp F000:E000. There: mov al,'R'; out 0xE9,al; mov al,0x21;
    // out 0x80,al (POST code); out 0xF4,al
    let mut rom = vec![0xF4u8; 0x1_0000];
    rom[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0xE0, 0x00, 0xF0]);
    rom[0xE000..0xE00A]
        .copy_from_slice(&[0xB0, b'R', 0xE6, 0xE9, 0xB0, 0x21, 0xE6, 0x80, 0xE6, 0xF4]);
    let mut m = boot(MachineConfig::default(), &rom, &BootKind::Firmware).unwrap();
    assert_eq!(m.pc(), 0xFFFF_FFF0, "reset vector");
    assert_eq!(m.core.mem.read(0xFFFF1, 2), 0xE000, "aliased below 1 MiB");
    assert_eq!(m.run(100), RunExit::Exit(0x43));
    assert_eq!(m.core.dev.take_debugcon(), b"R");
    assert!(m
        .core
        .events
        .events
        .iter()
        .any(|e| e.kind == EventKind::PostCode(0x21)));
    assert!(!m.core.dev.a20_enabled(), "the A20 gate starts closed");
    assert_eq!(m.core.mmu.a20_mask, !(1 << 20));
    assert_eq!(m.core.dev.io_read(0x92, 1, 0) & 2, 0, "port 0x92 shows it");
    assert!(!rom::builtin_present(&m.core.mem.rom));
    assert!(boot(
        MachineConfig::default(),
        &rom[..0x8000],
        &BootKind::Firmware
    )
    .is_err());
}

/// Scans physical memory as the MP specification (4) says an OS does: the first KiB of the
/// EBDA, the last KiB of base memory, the BIOS ROM area; the address of a floating pointer
/// whose 16 bytes add up to 0.
fn find_mp_pointer(m: &Machine) -> Option<u32> {
    let mem = &m.core.mem;
    let ebda = mem.read(0x40E, 2) << 4;
    let base = mem.read(0x413, 2) * 1024;
    [(ebda, 1024), (base - 1024, 1024), (0xF_0000, 0x1_0000)]
        .into_iter()
        .flat_map(|(start, len)| (start..start + len).step_by(16))
        .find(|&a| {
            let b: Vec<u8> = (a..a + 16).map(|x| mem.read(x, 1) as u8).collect();
            &b[..4] == b"_MP_" && b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0
        })
}

#[test]
fn a_disk_boot_with_the_apics_finds_the_mp_tables_in_the_rom() {
    let mut cfg = MachineConfig::default();
    cfg.devices.apic = true;
    let m = boot(cfg, BOOTSECTOR, &BootKind::Disk).unwrap();
    let p = find_mp_pointer(&m).expect("an MP floating pointer in the search areas");
    assert_eq!(p, 0xF_0000 + rom::MP_TABLES as u32, "in the ROM's MP area");
    let mem = &m.core.mem;
    let table = mem.read(p + 4, 4);
    let len = mem.read(table + 4, 2);
    let bytes: Vec<u8> = (table..table + len).map(|a| mem.read(a, 1) as u8).collect();
    assert_eq!(&bytes[..4], b"PCMP");
    assert_eq!(bytes.iter().fold(0u8, |s, &x| s.wrapping_add(x)), 0);
    assert!(
        rom::builtin_present(&m.core.mem.rom),
        "still the built-in BIOS"
    );
    // Without the APICs there is no table (an ISA PC), and the ROM keeps its 0xFF bytes.
    let m = boot(MachineConfig::default(), BOOTSECTOR, &BootKind::Disk).unwrap();
    assert_eq!(find_mp_pointer(&m), None);
    assert_eq!(m.core.mem.rom, rom::builtin());
}
