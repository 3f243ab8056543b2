//! Snapshots of device registers a student looks at: the two 8259A PICs, the 8254 PIT's
//! channels, COM1's 16550A UART, the APICs when the machine has them (`apic`) and the VGA
//! text cursor. Read through the devices' own
//! side-effect-free getters (reading IIR here does not clear a pending THR interrupt).

use super::apic::ApicRegs;
use super::World;
use crate::devices::vga::Vga;
use crate::devices::Devices;

/// One 8259A PIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PicRegs {
    /// `master` or `slave`.
    pub name: &'static str,
    /// Interrupt request register: lines raised and not yet acknowledged.
    pub irr: u8,
    /// In-service register: interrupts acknowledged and not yet ended (EOI).
    pub isr: u8,
    /// Interrupt mask register.
    pub imr: u8,
    /// Vector of IRQ 0 of this PIC (ICW2).
    pub vector_base: u8,
}

/// One 8254 PIT channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PitChannelRegs {
    pub channel: usize,
    /// Counter mode 0-5.
    pub mode: u8,
    /// Reload value (0 means 65536).
    pub reload: u32,
}

impl PitChannelRegs {
    /// Output frequency in Hz for the PIT's 1.193182 MHz input clock.
    pub fn frequency_hz(&self) -> f64 {
        1_193_182.0 / self.reload.max(1) as f64
    }
}

/// COM1's 16550A registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UartRegs {
    pub ier: u8,
    pub lcr: u8,
    pub mcr: u8,
    /// Interrupt identification, as the next read would return it.
    pub iir: u8,
    /// Baud-rate divisor latch.
    pub divisor: u16,
    pub fifo_enabled: bool,
    /// Bytes in the receive FIFO.
    pub rx_len: usize,
    /// Input bytes queued by the host, not yet in the FIFO.
    pub pending_input: usize,
}

impl UartRegs {
    /// Baud rate from the divisor (115200 / divisor).
    pub fn baud(&self) -> u32 {
        115_200 / self.divisor.max(1) as u32
    }
}

/// The device registers front ends show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRegs {
    pub world: World,
    /// Master, then slave.
    pub pics: [PicRegs; 2],
    /// Channels 0, 1 and 2.
    pub pit: [PitChannelRegs; 3],
    pub uart: UartRegs,
    /// The local APIC and the I/O APIC, on a machine built with them (`--apic`).
    pub apic: Option<ApicRegs>,
}

impl DeviceRegs {
    pub(super) fn capture(d: &Devices, world: World, now_ns: u64) -> DeviceRegs {
        let pic = |name, p: &crate::devices::pic::Pic8259| PicRegs {
            name,
            irr: p.irr(),
            isr: p.isr(),
            imr: p.imr(),
            vector_base: p.vector_base(),
        };
        let u = &d.uart;
        DeviceRegs {
            world,
            pics: [pic("master", &d.pic.master), pic("slave", &d.pic.slave)],
            pit: std::array::from_fn(|channel| {
                let ch = &d.pit.channels[channel];
                PitChannelRegs {
                    channel,
                    mode: ch.mode(),
                    reload: ch.reload(),
                }
            }),
            uart: UartRegs {
                ier: u.ier(),
                lcr: u.lcr(),
                mcr: u.mcr(),
                iir: u.iir(),
                divisor: u.divisor(),
                fifo_enabled: u.fifo_enabled(),
                rx_len: u.rx_len(),
                pending_input: u.pending_input(),
            },
            apic: d.apic.as_deref().map(|a| ApicRegs::capture(a, now_ns)),
        }
    }
}

/// The VGA text cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub row: u8,
    pub col: u8,
    /// False when the cursor is disabled or off screen.
    pub visible: bool,
}

impl Cursor {
    pub(super) fn capture(v: &Vga) -> Cursor {
        let (row, col, visible) = v.cursor();
        Cursor { row, col, visible }
    }
}
