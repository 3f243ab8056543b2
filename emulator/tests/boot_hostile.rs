//! Hostile and odd images for the loaders (issue 19): every reproducer of a silent surprise,
//! and property tests that mutate the committed images (ELF kernels, a boot sector, a ROM)
//! and boot them and run a little: each must give a `BootError` or a machine that runs,
//! never a panic.

use proptest::prelude::*;
use traplab::boot::{boot, multiboot::Module, BootError, BootKind};
use traplab::devices::DevicesConfig;
use traplab::machine::{Machine, MachineConfig};

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../samples/{path}", env!("CARGO_MANIFEST_DIR")))
        .expect("sample image")
}

fn cfg(mib: usize) -> MachineConfig {
    MachineConfig {
        ram_bytes: mib << 20,
        devices: DevicesConfig::default(),
    }
}

fn multiboot(cmdline: &str, modules: Vec<Module>) -> BootKind {
    BootKind::Multiboot {
        cmdline: cmdline.into(),
        modules,
    }
}

fn rd32(m: &Machine, a: u32) -> u32 {
    let b = m.core.mem.peek(a, 4);
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A NUL-terminated string from guest memory.
fn cstr(m: &Machine, a: u32) -> Vec<u8> {
    let mut v = Vec::new();
    let mut p = a;
    loop {
        let b = m.core.mem.peek(p, 1)[0];
        if b == 0 {
            return v;
        }
        v.push(b);
        p += 1;
    }
}

fn msg(r: Result<Machine, BootError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a bad image booted"),
    }
}

/// `--boot flat-real --load-addr 0x110000` ran at 1000:0000 (the segment was cut to 16 bits).
#[test]
fn flat_real_above_1mib_is_an_error() {
    let code = [0xF4u8];
    let real = |addr| BootKind::Flat { addr, real: true };
    let e = msg(boot(cfg(4), &code, &real(0x11_0000)));
    assert!(e.contains("below 1 MiB"), "{e}");
    let m = boot(cfg(4), &code, &real(0x1_2345)).expect("boots");
    assert_eq!(m.core.cpu.seg[1].sel, 0x1234);
    assert_eq!(m.core.cpu.eip, 5);
}

/// More than 16 modules overwrote the loader's strings; names were cut to 120 bytes.
#[test]
fn many_modules_with_long_names_are_all_passed() {
    let modules: Vec<Module> = (0..40)
        .map(|k| Module {
            data: vec![k as u8; 100 + k],
            string: format!("module-{k}-{}", "x".repeat(k * 7)),
        })
        .collect();
    let m = boot(
        cfg(8),
        &sample("hello/hello.elf"),
        &multiboot("", modules.clone()),
    )
    .expect("boots");
    let info = m.core.cpu.gpr[3];
    assert_eq!(rd32(&m, info + 20), 40, "mods_count");
    let table = rd32(&m, info + 24);
    for (k, md) in modules.iter().enumerate() {
        let e = table + 16 * k as u32;
        let (start, end) = (rd32(&m, e), rd32(&m, e + 4));
        assert_eq!(end - start, md.data.len() as u32);
        assert_eq!(m.core.mem.peek(start, md.data.len()), md.data);
        assert_eq!(
            cstr(&m, rd32(&m, e + 8)),
            md.string.as_bytes(),
            "module {k}"
        );
    }
    assert_eq!(cstr(&m, rd32(&m, info + 64)), b"Traplab");
}

/// `--cmdline` was cut to 1,279 bytes.
#[test]
fn long_command_line_is_passed_whole() {
    let line: String = (0..20_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let m = boot(
        cfg(4),
        &sample("hello/hello.elf"),
        &multiboot(&line, vec![]),
    )
    .expect("boots");
    let info = m.core.cpu.gpr[3];
    assert_eq!(cstr(&m, rd32(&m, info + 16)), line.as_bytes());
    // Beyond the low-memory area for the information: an error, not a cut.
    let huge = "y".repeat(1 << 20);
    let e = msg(boot(
        cfg(4),
        &sample("hello/hello.elf"),
        &multiboot(&huge, vec![]),
    ));
    assert!(e.contains("command line"), "{e}");
}

fn elf_u16(img: &mut [u8], off: usize, v: u16) {
    img[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// An ELF with no program headers booted into zeroed RAM.
#[test]
fn elf_without_loadable_segments_is_an_error() {
    let mut img = sample("hello/hello.elf");
    elf_u16(&mut img, 44, 0); // e_phnum
    let e = msg(boot(cfg(4), &img, &multiboot("", vec![])));
    assert!(e.contains("no loadable segment"), "{e}");
}

/// Section headers are not needed to load a kernel: damaged ones do not stop it, and
/// damaged program headers give Traplab's message, not the parser library's.
#[test]
fn only_program_headers_matter() {
    let mut img = sample("hello/hello.elf");
    img[32..36].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes()); // e_shoff far away
    elf_u16(&mut img, 48, 0xFFFF); // e_shnum
    let mut m = boot(cfg(4), &img, &multiboot("", vec![])).expect("boots without sections");
    m.run(200_000);
    assert!(String::from_utf8_lossy(&m.core.dev.take_serial_output()).contains("Hello"));

    let mut img = sample("hello/hello.elf");
    img[28..32].copy_from_slice(&0x7FFF_0000u32.to_le_bytes()); // e_phoff past the end
    let e = msg(boot(cfg(4), &img, &multiboot("", vec![])));
    assert!(e.contains("program headers"), "{e}");
    assert!(!e.contains("too big") && !e.contains("scroll"), "{e}");
}

/// A kernel segment over the Multiboot information (0x9000) was silently overwritten.
#[test]
fn segment_over_the_information_is_an_error() {
    let mut img = sample("hello/hello.elf");
    // The first program header's p_paddr to 0x9000.
    let phoff = u32::from_le_bytes(img[28..32].try_into().unwrap()) as usize;
    img[phoff + 12..phoff + 16].copy_from_slice(&0x9000u32.to_le_bytes());
    let e = msg(boot(cfg(4), &img, &multiboot("", vec![])));
    assert!(e.contains("overlaps the Multiboot information"), "{e}");
}

/// Boots and runs a little; any outcome but a panic is fine.
fn boot_and_run(img: &[u8], kind: &BootKind, disk: Option<Vec<u8>>) {
    let cfg = MachineConfig {
        ram_bytes: 4 << 20,
        devices: DevicesConfig {
            disk: disk.map(Into::into),
            ..Default::default()
        },
    };
    if let Ok(mut m) = boot(cfg, img, kind) {
        m.run(20_000);
        let _ = m.core.dev.take_serial_output();
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    /// A 32-bit field set to an extreme (length and offset fields).
    Word(usize, u32),
    Truncate(usize),
}

fn edit(header_bias: usize) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (0..header_bias, any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            0..header_bias,
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(0x7FFF_FFFF),
                Just(0xFFFF_FFFF),
                Just(0x8000_0000),
                any::<u32>()
            ]
        )
            .prop_map(|(i, v)| Edit::Word(i, v)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(img: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = img.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match *e {
            Edit::Flip(i, b) => {
                if let Some(x) = v.get_mut(i % n) {
                    *x ^= b | 1;
                }
            }
            Edit::Word(i, w) => {
                let i = i % n;
                let end = (i + 4).min(v.len());
                v[i..end].copy_from_slice(&w.to_le_bytes()[..end - i]);
            }
            Edit::Truncate(k) => v.truncate(k % n),
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Mutated Multiboot kernels (headers, program headers, the Multiboot header).
    #[test]
    fn mutated_kernels_never_panic(
        which in 0..3usize,
        edits in prop::collection::vec(edit(0x200), 1..4),
        modules in 0..3usize,
    ) {
        let img = sample(["hello/hello.elf", "minios/minios.elf", "bench/intloop.elf"][which]);
        let mods = (0..modules)
            .map(|k| Module { data: vec![7; 5000 * k], string: format!("m{k}") })
            .collect();
        boot_and_run(&apply(&img, &edits), &multiboot("x=1", mods), None);
    }

    /// Mutated boot sectors and disks, booted through the BIOS.
    #[test]
    fn mutated_disks_never_panic(edits in prop::collection::vec(edit(512), 1..4)) {
        let img = apply(&sample("bootsector/bootsector.img"), &edits);
        boot_and_run(&[], &BootKind::Disk, Some(img));
    }

    /// Mutated ROMs at the reset vector, and flat binaries in both modes.
    #[test]
    fn mutated_roms_and_flat_images_never_panic(
        edits in prop::collection::vec(edit(0x1_0000), 1..4),
        addr in prop_oneof![Just(0x7C00u32), Just(0x10_0000), Just(0xF_FFF0), any::<u32>()],
        real in any::<bool>(),
    ) {
        let rom = apply(&traplab::boot::rom::builtin(), &edits);
        boot_and_run(&rom, &BootKind::Firmware, None);
        let flat = apply(&sample("bootsector/bootsector.img"), &edits);
        boot_and_run(&flat, &BootKind::Flat { addr, real }, None);
    }
}
