//! Firmware ROM images: the layout of Traplab's built-in BIOS ROM (64 KiB of tiny real-mode
//! stubs, at F000:0000 and at 0xFFFF0000) and the `--bios FILE` path that maps a user's ROM
//! image and leaves the CPU at the reset vector. This module only builds and maps bytes; the
//! services behind the stubs live in `boot::bios`, and it must not run the machine.
//!
//! Built-in ROM layout (offsets in segment F000):
//!
//! | offset            | contents                                                        |
//! |-------------------|-----------------------------------------------------------------|
//! | 0x0000            | signature `"Traplab BIOS 1.0"` (how `bios` recognises its ROM)  |
//! | 0x0100            | configuration table returned by INT 15h AH=C0h                  |
//! | 0x0200            | with the APICs: MP floating pointer, MP configuration table     |
//! | 0x1000 + 8 * v    | the stub for interrupt vector v: `out 0xEB, al; iret`           |
//! | 0x1040 (v = 08h)  | timer: `out 0xEB, al; int 1Ch; iret`                            |
//! | 0xE05B            | POST entry: `cli; out 0xEB, al` (the BIOS boots from there)     |
//! | 0xFF53            | `iret` (the classic dummy handler)                              |
//! | 0xFFF0            | reset vector: `jmp far F000:E05B`                               |
//! | 0xFFF5            | BIOS date `"11/28/26"`, 0xFFFE: model byte 0xFC (PC/AT)         |

use super::BootError;
use crate::machine::Machine;

/// Size of the built-in ROM (one real-mode segment).
pub const ROM_SIZE: usize = 0x1_0000;
/// Real-mode segment of the BIOS ROM.
pub const ROM_SEG: u16 = 0xF000;
/// First bytes of the built-in ROM.
pub const SIGNATURE: &[u8; 16] = b"Traplab BIOS 1.0";
/// The port the stubs write to. A write to it is a BIOS call only when it comes from the
/// built-in ROM's stubs (real or virtual-8086 mode, CS base F0000); otherwise it is an
/// ordinary (unmapped) port.
pub const HYPERCALL_PORT: u8 = 0xEB;
/// Offset of the stub for vector 0; vector v's stub is at `STUB_BASE + STUB_SIZE * v`.
pub const STUB_BASE: u16 = 0x1000;
pub const STUB_SIZE: u16 = 8;
/// INT 15h AH=C0h configuration table.
pub const CONFIG_TABLE: u16 = 0x0100;
/// MP floating pointer, then the MP configuration table (`boot::mp`), on a machine with
/// the APICs; 0xFF bytes otherwise.
pub const MP_TABLES: u16 = 0x0200;
/// POST entry (the reset vector jumps here).
pub const POST_ENTRY: u16 = 0xE05B;
/// Offset of the `out` instruction of the POST entry (after the one-byte `cli`).
pub const POST_CALL: u16 = POST_ENTRY + 1;
/// A lone `iret`.
pub const DUMMY_IRET: u16 = 0xFF53;

/// `out imm8, al`
const OUT_AL: [u8; 2] = [0xE6, HYPERCALL_PORT];
const IRET: u8 = 0xCF;

/// What the hypercall at a given ROM offset asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// The interrupt service of this vector (the caller's frame is on the stack).
    Vector(u8),
    /// Power-on self test, then boot from the disk.
    Post,
}

/// Identifies the hypercall whose `out` instruction starts at `ip` (an offset in F000).
pub fn call_at(ip: u32) -> Option<Call> {
    let base = STUB_BASE as u32;
    let size = STUB_SIZE as u32;
    if (base..base + 256 * size).contains(&ip) && (ip - base).is_multiple_of(size) {
        return Some(Call::Vector(((ip - base) / size) as u8));
    }
    (ip == POST_CALL as u32).then_some(Call::Post)
}

/// Offset of the stub of vector `v`.
pub fn stub(v: u8) -> u16 {
    STUB_BASE + STUB_SIZE * v as u16
}

/// Builds the built-in BIOS ROM image.
pub fn builtin() -> Vec<u8> {
    let mut rom = vec![0xFFu8; ROM_SIZE];
    rom[..SIGNATURE.len()].copy_from_slice(SIGNATURE);
    // INT 15h C0h table: length 8, model FC (AT), submodel 1, revision 0, feature byte 1:
    // bit 6 = second 8259, bit 5 = RTC, bit 4 = INT 15h AH=4Fh called by INT 09h (no: 0).
    let t = CONFIG_TABLE as usize;
    rom[t..t + 10].copy_from_slice(&[8, 0, 0xFC, 0x01, 0x00, 0x60, 0, 0, 0, 0]);
    for v in 0..=255u8 {
        let s = stub(v) as usize;
        rom[s..s + 2].copy_from_slice(&OUT_AL);
        if v == 0x08 {
            // IRQ0: count the tick (and EOI) in the hypercall, then the user hook INT 1Ch.
            rom[s + 2..s + 5].copy_from_slice(&[0xCD, 0x1C, IRET]);
        } else {
            rom[s + 2] = IRET;
        }
    }
    let p = POST_ENTRY as usize;
    rom[p] = 0xFA; // cli
    rom[p + 1..p + 3].copy_from_slice(&OUT_AL);
    rom[p + 3..p + 5].copy_from_slice(&[0xEB, 0xFE]); // jmp $ (never reached)
    rom[DUMMY_IRET as usize] = IRET;
    rom[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
    rom[0xFFF5..0xFFFD].copy_from_slice(b"11/28/26");
    rom[0xFFFD] = 0;
    rom[0xFFFE] = 0xFC;
    rom[0xFFFF] = 0;
    rom
}

/// True when the machine's ROM is Traplab's built-in BIOS.
pub fn builtin_present(rom: &[u8]) -> bool {
    rom.len() == ROM_SIZE && rom.starts_with(SIGNATURE)
}

/// Largest ROM image (256 KiB): the CLI reads no more of a `--bios` file than this.
pub const MAX_ROM: usize = 0x4_0000;

/// A ROM size the machine accepts: 64 to 256 KiB, a multiple of 64 KiB.
pub fn valid_size(len: usize) -> bool {
    len.is_multiple_of(0x1_0000) && (0x1_0000..=MAX_ROM).contains(&len)
}

/// Checks a user ROM image's size: 64 to 256 KiB, a multiple of 64 KiB.
pub fn check_user_rom(rom: &[u8]) -> Result<(), BootError> {
    let len = rom.len();
    if !valid_size(len) {
        return Err(BootError::Other(format!(
            "a --bios ROM image must be 64, 128, 192 or 256 KiB (a multiple of 64 KiB); \
             this one is {len} bytes"
        )));
    }
    Ok(())
}

/// `--bios`: maps `rom` at the top of the 4 GiB space (aliased below 1 MiB) and leaves the
/// CPU in its power-on state, about to fetch from the reset vector F000:FFF0 (linear
/// 0xFFFFFFF0, SDM Vol. 3A 9.1.4).
///
/// The A20 gate starts closed (0x92 bit 1 and the 8042 output port's A20 bit both 0), as
/// the platform issue asks, so that firmware and ROM-based CPU testers meet the gate they
/// must open themselves. The fetch of the reset vector still works: the ROM decode ignores
/// address bit 20 in the top 2 MiB (see `bus::Memory`).
pub fn load_firmware(m: &mut Machine, rom: &[u8]) -> Result<(), BootError> {
    check_user_rom(rom)?;
    m.core.mem.map_rom(rom.to_vec());
    super::bios::attach(&mut m.core);
    m.core.cpu = crate::cpu::state::Cpu::power_on();
    m.core.dev.set_a20_at_reset(false);
    m.core.set_a20(false);
    m.flush_code_cache();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_are_found_by_offset() {
        assert_eq!(call_at(stub(0x10) as u32), Some(Call::Vector(0x10)));
        assert_eq!(call_at(stub(0xFF) as u32), Some(Call::Vector(0xFF)));
        assert_eq!(call_at(stub(0x10) as u32 + 2), None);
        assert_eq!(call_at(POST_CALL as u32), Some(Call::Post));
        assert_eq!(call_at(0xFFF0), None);
    }

    #[test]
    fn builtin_rom_layout() {
        let rom = builtin();
        assert!(builtin_present(&rom));
        assert_eq!(&rom[0xFFF0..0xFFF5], &[0xEA, 0x5B, 0xE0, 0x00, 0xF0]);
        let s = stub(0x13) as usize;
        assert_eq!(&rom[s..s + 3], &[0xE6, 0xEB, 0xCF]);
        let t = stub(0x08) as usize;
        assert_eq!(&rom[t..t + 5], &[0xE6, 0xEB, 0xCD, 0x1C, 0xCF]);
        assert!(!builtin_present(&rom[..0x8000]));
    }

    #[test]
    fn user_rom_sizes() {
        for ok in [0x1_0000, 0x2_0000, 0x4_0000] {
            assert!(check_user_rom(&vec![0; ok]).is_ok(), "{ok}");
        }
        for bad in [0, 512, 0x1_0001, 0x5_0000, 0x8_0000] {
            assert!(check_user_rom(&vec![0; bad]).is_err(), "{bad}");
        }
    }
}
