//! The MP floating pointer structure and MP configuration table that firmware leaves in the
//! BIOS area for an operating system (Intel MultiProcessor Specification 1.4, 1997: 4.1
//! "MP Floating Pointer Structure", 4.2 "MP Configuration Table Header", 4.3 "Base MP
//! Configuration Table Entries") on a machine with the APICs (`traplab run --apic`).
//!
//! It describes this machine: one processor (the bootstrap processor, local APIC ID 0), one
//! ISA bus, the I/O APIC at 0xFEC00000 (ID 0, its power-up ID, as SeaBIOS describes QEMU's;
//! with the xAPIC's system-bus messages the I/O APIC's ID need not differ from the local
//! APIC's; this code programs the ID into the I/O APIC as firmware does), the I/O interrupt
//! assignments of the ISA IRQs (the 8259's INTR as ExtINT on pin 0, IRQ0 on pin 2, IRQ n on
//! pin n for the others, conforming to the ISA bus: edge, active high), and the local
//! interrupt assignments LINT0 = ExtINT and LINT1 = NMI (virtual wire mode, 3.6.2.2: the
//! IMCR bit of feature byte 2 is clear).
//!
//! Both structures lie in the BIOS ROM area that the specification's search covers (4:
//! "within the BIOS ROM address space between 0F0000h and 0FFFFFh"), the table right after
//! the pointer: for Multiboot and Linux kernels, which boot without firmware, the boot code
//! writes them into RAM at 0xF0000 (`write`); disk boots find them in the built-in BIOS ROM
//! itself, at F000:0200 (`rom::MP_TABLES`, put there by `bios::install` as `in_rom`), since
//! that ROM shadows 0xF0000. This module must not depend on the devices' state beyond the
//! I/O APIC ID it sets.

use crate::bus::Memory;
use crate::devices::{apic, ioapic, lapic, Apics};

/// Physical address of the MP floating pointer structure.
pub const FLOATING: u32 = 0xF_0000;
/// Physical address of the MP configuration table (right after the pointer).
pub const TABLE: u32 = FLOATING + 16;
/// The I/O APIC's ID in the table (the local APIC has ID 0 too).
pub const IOAPIC_ID: u8 = 0;
/// ISA IRQs the table assigns to I/O APIC pins (all but IRQ2, the 8259 cascade).
const ISA_IRQS: [u8; 15] = [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// Bytes that make the sum of `bytes` zero when stored in its checksum byte.
fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b)))
}

/// The configuration table (header and base entries) for a CPU whose CPUID.1 gives
/// `signature` (EAX) and `features` (EDX).
pub fn config_table(signature: u32, features: u32) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut count = 0u16;
    // Processor entry (4.3.1): enabled, bootstrap processor.
    entries.extend_from_slice(&[0, 0, lapic::VERSION as u8, 0b11]);
    entries.extend_from_slice(&signature.to_le_bytes());
    entries.extend_from_slice(&features.to_le_bytes());
    entries.extend_from_slice(&[0; 8]);
    count += 1;
    // Bus entry (4.3.2): bus 0 is ISA.
    entries.extend_from_slice(&[1, 0]);
    entries.extend_from_slice(b"ISA   ");
    count += 1;
    // I/O APIC entry (4.3.3): enabled.
    entries.extend_from_slice(&[2, IOAPIC_ID, ioapic::VERSION as u8, 1]);
    entries.extend_from_slice(&ioapic::BASE.to_le_bytes());
    count += 1;
    // I/O interrupt assignments (4.3.4): type, flags (0: conforms to the bus), source
    // bus and IRQ, destination I/O APIC and pin. The 8259 on pin 0 first (ExtINT).
    let mut io = |kind: u8, irq: u8, pin: usize| {
        entries.extend_from_slice(&[3, kind, 0, 0, 0, irq, IOAPIC_ID, pin as u8]);
        count += 1;
    };
    io(3, 0, 0);
    for irq in ISA_IRQS {
        io(0, irq, apic::pin_of_irq(irq));
    }
    // Local interrupt assignments (4.3.5): LINT0 ExtINT and LINT1 NMI on every local APIC.
    for (kind, lint) in [(3u8, 0u8), (1, 1)] {
        entries.extend_from_slice(&[4, kind, 0, 0, 0, 0, 0xFF, lint]);
        count += 1;
    }
    let len = 44 + entries.len();
    let mut t = Vec::with_capacity(len);
    t.extend_from_slice(b"PCMP");
    t.extend_from_slice(&(len as u16).to_le_bytes());
    t.push(4); // specification revision 1.4
    t.push(0); // checksum, below
    t.extend_from_slice(b"TRAPLAB ");
    t.extend_from_slice(b"PC          ");
    t.extend_from_slice(&0u32.to_le_bytes()); // no OEM table
    t.extend_from_slice(&0u16.to_le_bytes());
    t.extend_from_slice(&count.to_le_bytes());
    t.extend_from_slice(&0xFEE0_0000u32.to_le_bytes()); // local APIC address
    t.extend_from_slice(&0u16.to_le_bytes()); // no extended table
    t.push(0);
    t.push(0);
    t.extend_from_slice(&entries);
    t[7] = checksum(&t);
    t
}

/// The 16-byte floating pointer structure pointing at a table at `table`.
pub fn floating_pointer(table: u32) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..4].copy_from_slice(b"_MP_");
    p[4..8].copy_from_slice(&table.to_le_bytes());
    p[8] = 1; // length in 16-byte paragraphs
    p[9] = 4; // specification revision 1.4
    p[10] = 0; // checksum, below
    p[11] = 0; // feature byte 1: a configuration table is present (no default config)
    p[12] = 0; // feature byte 2: bit 7 (IMCR present) clear: virtual wire mode
    p[10] = checksum(&p);
    p
}

/// The floating pointer at physical address `at` (16-byte aligned) followed by the
/// configuration table it points to.
pub fn structures(at: u32, signature: u32, features: u32) -> Vec<u8> {
    let mut s = floating_pointer(at + 16).to_vec();
    s.extend_from_slice(&config_table(signature, features));
    s
}

/// Writes both structures into RAM at `FLOATING` and gives the I/O APIC the ID the table
/// names.
pub fn write(mem: &mut Memory, apics: &mut Apics, signature: u32, features: u32) {
    mem.load(FLOATING, &structures(FLOATING, signature, features));
    apics.ioapic.id = IOAPIC_ID;
}

/// Puts both structures into a 64 KiB BIOS ROM image mapped at 0xF0000, at `offset`, and
/// gives the I/O APIC the ID the table names. False (the ROM untouched) when they do not
/// fit in the image or `offset` is not 16-byte aligned.
pub fn in_rom(
    rom: &mut [u8],
    offset: u16,
    apics: &mut Apics,
    signature: u32,
    features: u32,
) -> bool {
    let s = structures(0xF_0000 + offset as u32, signature, features);
    let start = offset as usize;
    match rom.get_mut(start..start + s.len()) {
        Some(dst) if offset.is_multiple_of(16) => dst.copy_from_slice(&s),
        _ => return false,
    }
    apics.ioapic.id = IOAPIC_ID;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
    }

    #[test]
    fn checksums_and_lengths_follow_the_spec() {
        let p = floating_pointer(TABLE);
        assert_eq!(sum(&p), 0, "4.1: all bytes add up to 0");
        assert_eq!(&p[..4], b"_MP_");
        let t = config_table(0x619, 0x0000_A37B);
        assert_eq!(sum(&t), 0, "4.2: the base table adds up to 0");
        assert_eq!(u16::from_le_bytes([t[4], t[5]]) as usize, t.len());
        // Entries: 20-byte processor entry, then 8-byte entries.
        let n = u16::from_le_bytes([t[34], t[35]]) as usize;
        assert_eq!(t.len(), 44 + 20 + 8 * (n - 1));
        assert_eq!(t[44], 0, "processor entry first");
        assert_eq!(t[44 + 3], 3, "enabled, BSP");
        assert_eq!(&t[64..72], &[1, 0, b'I', b'S', b'A', b' ', b' ', b' ']);
    }

    #[test]
    fn the_pointer_names_the_table_after_it() {
        let s = structures(0xF_0200, 0x619, 0);
        assert_eq!(sum(&s[..16]), 0);
        assert_eq!(u32::from_le_bytes([s[4], s[5], s[6], s[7]]), 0xF_0210);
        assert_eq!(&s[16..20], b"PCMP");
        assert_eq!(sum(&s[16..]), 0);
    }

    #[test]
    fn irq0_goes_to_pin_2_and_the_lints_are_extint_and_nmi() {
        let t = config_table(0x619, 0);
        let entries: Vec<&[u8]> = t[64..].chunks(8).collect();
        let io: Vec<(u8, u8, u8)> = entries
            .iter()
            .filter(|e| e[0] == 3)
            .map(|e| (e[1], e[5], e[7]))
            .collect();
        assert!(io.contains(&(3, 0, 0)), "8259 ExtINT on pin 0");
        assert!(io.contains(&(0, 0, 2)), "IRQ0 on pin 2");
        assert!(io.contains(&(0, 1, 1)) && io.contains(&(0, 14, 14)) && io.contains(&(0, 4, 4)));
        assert!(!io.iter().any(|&(k, irq, _)| k == 0 && irq == 2));
        let lint: Vec<(u8, u8)> = entries
            .iter()
            .filter(|e| e[0] == 4)
            .map(|e| (e[1], e[7]))
            .collect();
        assert_eq!(lint, [(3, 0), (1, 1)]);
    }
}
