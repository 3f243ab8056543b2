//! The image detector on the committed sample images and on hand-made edge cases.

use super::*;

fn sample(p: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/");
    std::fs::read(format!("{path}{p}")).expect("committed sample image")
}

/// A minimal Multiboot header (flags 0) at `off`.
fn with_header(mut img: Vec<u8>, off: usize, checksum_ok: bool) -> Vec<u8> {
    let flags = 0u32;
    let mut sum = 0u32.wrapping_sub(MULTIBOOT_MAGIC).wrapping_sub(flags);
    if !checksum_ok {
        sum ^= 1;
    }
    for (k, v) in [MULTIBOOT_MAGIC, flags, sum].into_iter().enumerate() {
        img[off + 4 * k..off + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
    }
    img
}

fn boot_sector(len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len];
    d[0] = 0xFA; // cli
    d[510] = 0x55;
    d[511] = 0xAA;
    d
}

fn rom(len: usize, jump: u8) -> Vec<u8> {
    let mut r = vec![0xFFu8; len];
    r[len - 16] = jump;
    r
}

#[test]
fn the_samples_are_what_they_are() {
    assert_eq!(detect(&sample("hello/hello.elf")), Ok(ImageKind::Multiboot));
    assert_eq!(
        detect(&sample("minios/minios.elf")),
        Ok(ImageKind::Multiboot)
    );
    assert_eq!(
        detect(&sample("bench/intloop.elf")),
        Ok(ImageKind::Multiboot)
    );
    assert_eq!(
        detect(&sample("bootsector/bootsector.img")),
        Ok(ImageKind::BootSector)
    );
    // A disk holding a Multiboot ELF past its first 8 KiB is a disk, not a hybrid kernel.
    assert_eq!(
        detect(&sample("apictest/boot.img")),
        Ok(ImageKind::BootSector)
    );
    // The built-in BIOS is a ROM image by the same rule as a user's.
    assert_eq!(detect(&rom::builtin()), Ok(ImageKind::Rom));
}

#[test]
fn each_kind_from_its_signature() {
    assert_eq!(
        detect(&with_header(vec![0; 4096], 0x40, true)),
        Ok(ImageKind::Multiboot)
    );
    assert_eq!(detect(&boot_sector(512)), Ok(ImageKind::BootSector));
    assert_eq!(detect(&boot_sector(512 * 2880)), Ok(ImageKind::BootSector));
    for jump in [0xEA, 0xE9, 0xEB] {
        assert_eq!(detect(&rom(0x1_0000, jump)), Ok(ImageKind::Rom));
    }
    assert_eq!(detect(&rom(0x4_0000, 0xEA)), Ok(ImageKind::Rom));
}

#[test]
fn ambiguous_images_follow_the_order_of_the_rules() {
    // A valid Multiboot header and a boot signature: a kernel.
    let hybrid = with_header(boot_sector(8192), 0x200, true);
    assert_eq!(detect(&hybrid), Ok(ImageKind::Multiboot));
    // A 64 KiB disk whose last-sector byte looks like a jump: the boot sector wins.
    let mut disk = boot_sector(0x1_0000);
    disk[0xFFF0] = 0xEA;
    assert_eq!(detect(&disk), Ok(ImageKind::BootSector));
    // A stray Multiboot magic with a bad checksum inside a disk image: still a disk.
    let disk = with_header(boot_sector(4096), 0x400, false);
    assert_eq!(detect(&disk), Ok(ImageKind::BootSector));
    // A header beyond the first 8 KiB does not count.
    let late = with_header(vec![0; 16384], 8192, true);
    assert_eq!(detect(&late), Err(DetectError::Unknown));
    // Only the first magic counts, as in the loader: a bad one hides a later good one.
    let two = with_header(with_header(vec![0; 4096], 0x100, true), 0x40, false);
    assert_eq!(
        detect(&two),
        Err(DetectError::BadMultibootChecksum { offset: 0x40 })
    );
}

#[test]
fn corrupt_or_unknown_input_gets_a_clear_error() {
    assert_eq!(detect(&[]), Err(DetectError::Empty));
    assert_eq!(
        detect(b"hello, I am not a kernel"),
        Err(DetectError::Unknown)
    );
    assert_eq!(
        detect(&[0u8; 0x1_0000]),
        Err(DetectError::Unknown),
        "64 KiB of zeros"
    );
    // An ELF that is not a Multiboot kernel (the header cut off).
    let mut elf = sample("hello/hello.elf");
    let off = (0..elf.len().min(8192) - 3)
        .step_by(4)
        .find(|&o| elf[o..o + 4] == MULTIBOOT_MAGIC.to_le_bytes())
        .expect("hello.elf has a Multiboot header");
    elf[off..off + 4].fill(0);
    assert_eq!(detect(&elf), Err(DetectError::ElfWithoutMultiboot));
    assert_eq!(
        detect(&with_header(vec![0; 4096], 0x40, false)),
        Err(DetectError::BadMultibootChecksum { offset: 0x40 })
    );
    assert_eq!(
        detect(&boot_sector(700)),
        Err(DetectError::PartialSector { len: 700 })
    );
    // ROM sizes other than 64-256 KiB in 64 KiB steps, or no jump: not a ROM.
    assert_eq!(detect(&rom(0x1_8000, 0xEA)), Err(DetectError::Unknown));
    assert_eq!(detect(&rom(0x8_0000, 0xEA)), Err(DetectError::Unknown));
    assert_eq!(detect(&rom(0x1_0000, 0x90)), Err(DetectError::Unknown));
    // Short inputs never panic.
    for n in 0..600 {
        let _ = detect(&vec![0x55; n]);
        let _ = detect_head(&vec![0xAA; n]);
    }
    // Every error is one line that says what to do or what is wrong.
    for e in [
        DetectError::Empty,
        DetectError::ElfWithoutMultiboot,
        DetectError::BadMultibootChecksum { offset: 4 },
        DetectError::PartialSector { len: 1 },
        DetectError::Unknown,
    ] {
        let t = e.to_string();
        assert!(!t.contains('\n') && t.len() > 10, "{t}");
    }
}

#[test]
fn the_head_agrees_with_the_whole() {
    let k = sample("hello/hello.elf");
    assert_eq!(
        detect_head(&k[..k.len().min(8192)]),
        Some(ImageKind::Multiboot)
    );
    let d = sample("bootsector/bootsector.img");
    assert_eq!(
        detect_head(&d[..d.len().min(8192)]),
        Some(ImageKind::BootSector)
    );
    assert_eq!(detect_head(&rom::builtin()[..8192]), None);
}
