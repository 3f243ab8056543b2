//! The APIC pair of a multiprocessor-era PC as the `Devices` hub sees it: the local APIC
//! (`lapic`) and the I/O APIC (`ioapic`), present when the machine is built with
//! `DevicesConfig::apic` (`traplab run --apic`), absent otherwise (then nothing here runs
//! and the machine is the ISA PC it always was: no APIC in CPUID, the 8259 wired to INTR).
//!
//! This module owns the wiring between them and the rest of the hub: which I/O APIC pin each
//! ISA IRQ drives (the MP table's I/O interrupt assignments, `boot::mp`: IRQ n on pin n,
//! IRQ0 on pin 2, as on PC chipsets), the memory-mapped register windows (the machine calls
//! `mmio_read`/`mmio_write` for physical addresses it does not find in RAM), and which
//! source the CPU's INTA takes the vector from: a local APIC interrupt first, then the
//! 8259 through LINT0 in ExtINT mode (virtual wire mode, MP spec 1.4 section 3.6.2.2; the
//! "8259s stay the default path" of a guest that never enables the APICs).
//! It never touches RAM or the CPU.

use super::ioapic::{self, IoApic};
use super::lapic::{Effect, Lapic};
use super::Devices;
use serde::{Deserialize, Serialize};

/// Both APICs (saved in snapshots beside the core, `snapshot`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apics {
    pub lapic: Lapic,
    pub ioapic: IoApic,
}

/// The I/O APIC pin that ISA IRQ `irq` drives.
pub fn pin_of_irq(irq: u8) -> usize {
    if irq == 0 {
        2
    } else {
        irq as usize
    }
}

/// Lowest physical address the APIC windows may use (the I/O APIC's): the machine tests
/// this one bound before asking `mmio_read`/`mmio_write`.
pub const MMIO_FLOOR: u32 = ioapic::BASE;

impl Devices {
    /// Drives ISA IRQ line `irq` into the 8259s and, when present, the I/O APIC.
    pub(super) fn line(&mut self, irq: u8, level: bool) {
        self.pic.set_irq(irq, level);
        if let Some(a) = &mut self.apic {
            let Apics { lapic, ioapic } = &mut **a;
            ioapic.set_pin(pin_of_irq(irq), level, lapic);
        }
    }

    /// The 8259's INTR reaches the CPU (no APIC, or LINT0 in virtual wire mode).
    pub fn pic_reaches_cpu(&self) -> bool {
        self.apic.as_ref().is_none_or(|a| a.lapic.extint_passes())
    }

    /// The local APIC can deliver interrupts of its own (present and software-enabled).
    pub fn lapic_active(&self) -> bool {
        self.apic
            .as_ref()
            .is_some_and(|a| a.lapic.software_enabled())
    }

    /// ISA IRQ lines (bit n = IRQ n) whose I/O APIC entry is unmasked, when the local APIC
    /// can deliver what they send.
    pub fn ioapic_reachable(&self) -> u16 {
        let Some(a) = self.apic.as_ref().filter(|a| a.lapic.software_enabled()) else {
            return 0;
        };
        let pins = a.ioapic.unmasked();
        (0..16u8)
            .filter(|&irq| irq != 2 && pins & (1 << pin_of_irq(irq)) != 0)
            .fold(0, |m, irq| m | 1 << irq)
    }

    /// The register window (and offset in it) that physical address `phys` falls in.
    fn window(&self, phys: u32) -> Option<(bool, u32)> {
        let a = self.apic.as_ref()?;
        if a.lapic.page() == Some(phys & !0xFFF) {
            return Some((true, phys & 0xFFF));
        }
        (phys & !0xFFF == ioapic::BASE).then_some((false, phys & 0xFFF))
    }

    /// A memory read of `size` bytes at `phys` if it falls in an APIC window, else None.
    /// Registers are 32 bits wide on 16-byte boundaries; narrower reads take their bytes.
    pub fn mmio_read(&mut self, phys: u32, size: u8, now_ns: u64) -> Option<u32> {
        let (local, off) = self.window(phys)?;
        self.update(now_ns);
        let a = self.apic.as_mut()?;
        let reg = off & !3;
        let v = if off & 0xF >= 4 {
            0
        } else if local {
            a.lapic.read(reg)
        } else {
            a.ioapic.read(reg)
        };
        self.route();
        let v = v >> (8 * (off & 3));
        Some(match size {
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            _ => v,
        })
    }

    /// A memory write at `phys`: true if it fell in an APIC window (and was done there).
    /// Only writes at a register's own address reach it.
    pub fn mmio_write(&mut self, phys: u32, _size: u8, v: u32, now_ns: u64) -> bool {
        let Some((local, off)) = self.window(phys) else {
            return false;
        };
        self.update(now_ns);
        if let Some(a) = self.apic.as_mut() {
            let Apics { lapic, ioapic } = &mut **a;
            if off & 0xF == 0 {
                if local {
                    if let Effect::LevelEoi(vec) = lapic.write(off, v) {
                        ioapic.eoi(vec, lapic);
                    }
                } else {
                    ioapic.write(off, v, lapic);
                }
            }
        }
        self.route();
        true
    }

    /// WRMSR IA32_APIC_BASE when an APIC is present.
    pub fn write_apic_base(&mut self, v: u64, now_ns: u64) {
        self.update(now_ns);
        if let Some(a) = &mut self.apic {
            a.lapic.write_base(v);
        }
        self.route();
    }
}
