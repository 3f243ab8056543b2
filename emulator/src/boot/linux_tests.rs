//! The bzImage loader on hand-made images: what it writes where (checked against the
//! offsets of boot.rst and bootparam.h), and hostile headers that must give one error,
//! never a panic.

use super::*;
use crate::boot::{boot, detect, BootKind, ImageKind};
use crate::machine::MachineConfig;
use crate::mmu::segment::CS;
use proptest::prelude::*;

/// A minimal bzImage: 4 setup sectors + the boot sector, header version 2.15, a
/// protected-mode part of `pm` bytes (filled with 0xF4, HLT).
fn bzimage(pm: usize) -> Vec<u8> {
    let setup = 5 * 512;
    let mut d = vec![0u8; setup + pm];
    d[0x1F1] = 4;
    d[0x1F4..0x1F8].copy_from_slice(&((pm as u32).div_ceil(16)).to_le_bytes());
    d[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
    d[0x200] = 0xEB;
    d[0x201] = 0x6A; // header ends at 0x26C
    d[0x202..0x206].copy_from_slice(b"HdrS");
    d[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    d[0x211] = 1; // LOADED_HIGH
    d[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
    d[0x22C..0x230].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    d[0x238..0x23C].copy_from_slice(&2047u32.to_le_bytes());
    d[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
    d[0x260..0x264].copy_from_slice(&0x20_0000u32.to_le_bytes());
    for b in &mut d[setup..] {
        *b = 0xF4;
    }
    d
}

fn cfg(mib: usize) -> MachineConfig {
    MachineConfig {
        ram_bytes: mib << 20,
        ..Default::default()
    }
}

fn rd32(m: &Machine, a: u32) -> u32 {
    u32::from_le_bytes(m.core.mem.peek(a, 4).try_into().unwrap())
}

#[test]
fn detected_before_its_boot_sector_signature() {
    let img = bzimage(4096);
    assert_eq!(&img[510..512], &[0x55, 0xAA]);
    assert_eq!(detect(&img), Ok(ImageKind::Linux));
    assert_eq!(
        detect::detect_head(&img[..8192.min(img.len())]),
        Some(ImageKind::Linux)
    );
}

#[test]
fn zero_page_and_entry_state_follow_the_protocol() {
    let img = bzimage(8192);
    let initrd = vec![0x5Au8; 10_000];
    let kind = BootKind::Linux {
        cmdline: "console=ttyS0 quiet".into(),
        initrd: initrd.clone(),
    };
    let m = boot(cfg(64), &img, &kind).unwrap();
    let c = &m.core.cpu;
    assert_eq!(c.eip, KERNEL_ADDR);
    assert_eq!(c.gpr[6], ZERO_PAGE, "ESI = boot_params");
    assert_eq!(
        (c.gpr[3], c.gpr[5], c.gpr[7]),
        (0, 0, 0),
        "EBX, EBP, EDI = 0"
    );
    assert_eq!(c.seg[CS].sel, 0x10);
    assert!(c
        .seg
        .iter()
        .enumerate()
        .all(|(k, s)| k == CS || s.sel == 0x18));
    assert_eq!(c.cr0 & 0x8000_0001, 1, "protected mode, paging off");
    assert_eq!(c.flags.get() & 0x200, 0, "IF = 0");
    // The GDT in memory holds what the selectors say (the kernel reloads them).
    let gdt = c.gdtr.base;
    assert_eq!(
        m.core.mem.peek(gdt + 0x10, 8),
        0x00CF_9A00_0000_FFFFu64.to_le_bytes()
    );
    assert_eq!(
        m.core.mem.peek(gdt + 0x18, 8),
        0x00CF_9200_0000_FFFFu64.to_le_bytes()
    );
    // The protected-mode part at 1 MiB.
    assert_eq!(m.core.mem.peek(KERNEL_ADDR, 4), vec![0xF4; 4]);
    // Setup header copied, loader fields filled.
    let zp = ZERO_PAGE;
    assert_eq!(m.core.mem.peek(zp + 0x202, 4), b"HdrS");
    assert_eq!(m.core.mem.peek(zp + 0x210, 1), [0xFF]);
    let cmd = rd32(&m, zp + 0x228);
    assert_eq!(m.core.mem.peek(cmd, 20), b"console=ttyS0 quiet\0");
    let (rd, len) = (rd32(&m, zp + 0x218), rd32(&m, zp + 0x21C));
    assert_eq!(len, 10_000);
    assert_eq!(rd % 4096, 0);
    assert!(
        rd >= 0x100_0000 + 0x20_0000,
        "above the decompressed kernel"
    );
    assert!(rd as usize + initrd.len() <= 64 << 20);
    assert_eq!(m.core.mem.peek(rd, initrd.len()), initrd);
    // e820: four entries, the last one is RAM from 1 MiB to the end.
    assert_eq!(m.core.mem.peek(zp + 0x1E8, 1), [4]);
    let last = zp + 0x2D0 + 3 * 20;
    assert_eq!(m.core.mem.peek(last, 8), 0x10_0000u64.to_le_bytes());
    assert_eq!(m.core.mem.peek(last + 8, 8), ((63u64) << 20).to_le_bytes());
    assert_eq!(rd32(&m, last + 16), 1);
}

fn err(img: &[u8], mib: usize, cmdline: &str, initrd: usize) -> String {
    let kind = BootKind::Linux {
        cmdline: cmdline.into(),
        initrd: vec![1; initrd],
    };
    match boot(cfg(mib), img, &kind) {
        Ok(_) => "booted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn hostile_headers_are_one_clear_error() {
    let check = |e: String, want: &str| assert!(e.contains(want), "{want:?} not in {e:?}");
    let good = bzimage(4096);
    let mut v = good.clone();
    v[0x206..0x208].copy_from_slice(&0x0204u16.to_le_bytes());
    check(err(&v, 64, "", 0), "older than the 2.06");
    let mut v = good.clone();
    v[0x211] = 0;
    check(err(&v, 64, "", 0), "zImage");
    let mut v = good.clone();
    v[0x1F4..0x1F8].copy_from_slice(&u32::MAX.to_le_bytes());
    check(err(&v, 64, "", 0), "cut short");
    check(err(&good[..good.len() - 1000], 64, "", 0), "cut short");
    check(err(&good[..0x230], 64, "", 0), "too short");
    let mut v = good.clone();
    v[0x201] = 0x30; // a 2.15 header cut at 0x232
    check(err(&v, 64, "", 0), "before the fields of its version");
    let mut v = good.clone();
    v[0x1F4..0x1F8].copy_from_slice(&0u32.to_le_bytes());
    check(err(&v, 64, "", 0), "syssize is 0");
    let mut v = good.clone();
    v[0x260..0x264].copy_from_slice(&u32::MAX.to_le_bytes());
    check(err(&v, 64, "", 0), "--mem");
    check(err(&good, 8, "", 0), "--mem");
    check(err(&good, 20, "", 4 << 20), "initrd");
    check(err(&good, 64, &"x".repeat(2048), 0), "at most 2047");
    check(err(&good, 64, "a\0b", 0), "NUL");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any bytes written over the setup header: an error or a machine, never a panic.
    #[test]
    fn mangled_headers_never_panic(
        at in 0x1F0usize..0x270,
        bytes in proptest::collection::vec(any::<u8>(), 1..16),
        cut in 0usize..3000,
    ) {
        let mut img = bzimage(2048);
        for (k, b) in bytes.iter().enumerate() {
            if let Some(x) = img.get_mut(at + k) {
                *x = *b;
            }
        }
        img.truncate(img.len().saturating_sub(cut));
        let kind = BootKind::Linux { cmdline: "console=ttyS0".into(), initrd: vec![7; 3000] };
        let _ = boot(cfg(40), &img, &kind);
        let _ = detect(&img);
    }
}
