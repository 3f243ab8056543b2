//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR (by 1, by CL, by imm8) and the
//! double-precision shifts SHLD, SHRD (SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
//! "SHLD", "SHRD"). Flags are set eagerly. What happens to the flags the SDM leaves
//! undefined is decided in one place, `cpu::undefined_flags`; this file implements it.
//! It must not know about other families.

use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::flags::{mask, CF, OF};
use crate::cpu::insn::{get1, rmw0, Handler, Insn, K_REG};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub const SHL: u8 = 0;
pub const SHR: u8 = 1;
pub const SAR: u8 = 2;
const ROL: u8 = 3;
const ROR: u8 = 4;
const RCL: u8 = 5;
const RCR: u8 = 6;

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Shl | Mnemonic::Sal => shift::<SHL>,
        Mnemonic::Shr => shift::<SHR>,
        Mnemonic::Sar => shift::<SAR>,
        Mnemonic::Rol => shift::<ROL>,
        Mnemonic::Ror => shift::<ROR>,
        Mnemonic::Rcl => shift::<RCL>,
        Mnemonic::Rcr => shift::<RCR>,
        Mnemonic::Shld => shxd::<true>,
        Mnemonic::Shrd => shxd::<false>,
        _ => return None,
    })
}

/// The shift count: operand 1 is CL, or an immediate (the "by 1" forms decode as imm 1).
/// Masked to 5 bits on every IA-32 processor since the 80286 (SDM SAL/SAR/SHL/SHR).
#[inline(always)]
fn count(c: &Core, i: &Insn) -> u32 {
    let n = if i.k1 == K_REG { c.cpu.gpr[1] } else { i.imm };
    n & 0x1F
}

/// Computes a shift or rotate of `d` (`size` bytes) by a masked count `n` (1..=31) given the
/// incoming CF. Returns the result and the new (CF, OF); the caller decides which other
/// flags change. Pure, so the oracle tests and the handlers share it.
#[inline]
pub fn compute(kind: u8, size: u8, d: u32, n: u32, cf_in: bool) -> (u32, bool, bool) {
    let bits = size as u32 * 8;
    let m = mask(size);
    let d = d & m;
    let msb = |v: u32| (v >> (bits - 1)) & 1 != 0;
    match kind {
        SHL => {
            // Wider arithmetic gives CF = 0 when the count exceeds the width (8/16-bit),
            // where the SDM leaves CF undefined.
            let w = (d as u64) << n;
            let r = w as u32 & m;
            let cf = (w >> bits) & 1 != 0;
            (r, cf, msb(r) ^ cf)
        }
        SHR => {
            let r = ((d as u64) >> n) as u32;
            let cf = ((d as u64) >> (n - 1)) & 1 != 0;
            (r, cf, msb(d))
        }
        SAR => {
            let s = ((d << (32 - bits)) as i32 >> (32 - bits)) as i64;
            let r = (s >> n) as u32 & m;
            let cf = (s >> (n - 1)) & 1 != 0;
            (r, cf, false)
        }
        ROL | ROR => {
            let t = n % bits;
            let r = if kind == ROL {
                ((d << t) | d.checked_shr(bits - t).unwrap_or(0)) & m
            } else {
                ((d >> t) | d.checked_shl(bits - t).unwrap_or(0)) & m
            };
            // The CF update happens even when the count is a multiple of the width.
            if kind == ROL {
                let cf = r & 1 != 0;
                (r, cf, msb(r) ^ cf)
            } else {
                (r, msb(r), msb(r) ^ ((r >> (bits - 2)) & 1 != 0))
            }
        }
        _ => {
            // RCL/RCR rotate the (size*8+1)-bit value CF:dest; the count is taken modulo
            // 9 / 17 for 8 / 16-bit operands (32-bit: the 5-bit count as is).
            let w = bits + 1;
            let t = n % w;
            let wm = (1u64 << w) - 1;
            let v = (d as u64) | ((cf_in as u64) << bits);
            let v = if t == 0 {
                v
            } else if kind == RCL {
                ((v << t) | (v >> (w - t))) & wm
            } else {
                ((v >> t) | (v << (w - t))) & wm
            };
            let r = v as u32 & m;
            let cf = (v >> bits) & 1 != 0;
            let of = if kind == RCL {
                msb(r) ^ cf
            } else {
                msb(r) ^ ((r >> (bits - 2)) & 1 != 0)
            };
            (r, cf, of)
        }
    }
}

fn shift<const K: u8>(c: &mut Core, i: &Insn) -> Res {
    let n = count(c, i);
    rmw0(c, i, |c, d| {
        if n == 0 {
            // A zero count changes neither the operand nor any flag.
            return None;
        }
        let (r, cf, of) = compute(K, i.size, d, n, c.cpu.flags.cf());
        let f = &mut c.cpu.flags;
        if K >= ROL {
            // Rotates change only CF and OF.
            f.set_bit(CF, cf);
            f.set_bit(OF, of);
        } else {
            // AF is undefined for a non-zero count: cleared (see `cpu::undefined_flags`).
            f.set_result(i.size, r, cf, of);
        }
        Some(r)
    })
}

/// SHLD / SHRD result and (CF, OF) for a masked count `n` (1..=31). For 16-bit operands and
/// counts above 16 (undefined in the SDM) the P6 behaviour is used: the operand is shifted
/// as the 48-bit value dest:src:dest (see `cpu::undefined_flags`).
pub fn compute_double(left: bool, size: u8, d: u32, s: u32, n: u32) -> (u32, bool, bool) {
    let bits = size as u32 * 8;
    let m = mask(size);
    let (d, s) = ((d & m) as u128, (s & m) as u128);
    let v = (d << (2 * bits)) | (s << bits) | d;
    let msb = |r: u32| (r >> (bits - 1)) & 1 != 0;
    if left {
        let r = (v << n >> (2 * bits)) as u32 & m;
        let cf = (v >> (3 * bits - n)) & 1 != 0;
        (r, cf, msb(r) ^ cf)
    } else {
        let r = (v >> n) as u32 & m;
        let cf = (v >> (n - 1)) & 1 != 0;
        (r, cf, msb(r) ^ ((r >> (bits - 2)) & 1 != 0))
    }
}

fn shxd<const LEFT: bool>(c: &mut Core, i: &Insn) -> Res {
    let s = get1(c, i)?;
    let n = if i.ins.op2_kind() == OpKind::Register {
        c.cpu.gpr[1]
    } else {
        i.imm
    } & 0x1F;
    rmw0(c, i, |c, d| {
        if n == 0 {
            return None;
        }
        let (r, cf, of) = compute_double(LEFT, i.size, d, s, n);
        c.cpu.flags.set_result(i.size, r, cf, of);
        Some(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sar_fills_with_sign_and_keeps_cf_from_last_bit() {
        assert_eq!(
            compute(SAR, 4, 0x8000_0000, 31, false),
            (0xFFFF_FFFF, false, false)
        );
        assert_eq!(
            compute(SAR, 4, 0xC000_0000, 31, false),
            (0xFFFF_FFFF, true, false)
        );
        assert_eq!(compute(SAR, 1, 0x81, 1, false), (0xC0, true, false));
        // 8-bit count above the width: every bit is the sign.
        assert_eq!(compute(SAR, 1, 0x80, 20, false), (0xFF, true, false));
        assert_eq!(compute(SAR, 2, 0x7FFF, 20, true), (0, false, false));
    }

    #[test]
    fn shl_shr_edges() {
        assert_eq!(compute(SHL, 1, 0x81, 1, false), (0x02, true, true));
        assert_eq!(compute(SHL, 1, 0x81, 9, false).0, 0);
        assert_eq!(compute(SHR, 2, 0x8001, 1, false), (0x4000, true, true));
        assert_eq!(compute(SHR, 4, 1, 31, false), (0, false, false));
    }

    #[test]
    fn rotates_through_carry_use_width_plus_one() {
        // RCL 8-bit by 9 is the identity (CF:dest has 9 bits).
        assert_eq!(compute(RCL, 1, 0xA5, 9, true).0, 0xA5);
        assert!(compute(RCL, 1, 0xA5, 9, true).1);
        // RCR 16-bit by 1 moves CF into bit 15.
        assert_eq!(compute(RCR, 2, 0x0001, 1, true), (0x8000, true, true));
        // ROL 8-bit by 8: operand unchanged, CF = bit 0.
        assert_eq!(compute(ROL, 1, 0x01, 8, false), (0x01, true, true));
        assert_eq!(compute(ROR, 4, 0x1, 1, false), (0x8000_0000, true, true));
    }

    #[test]
    fn double_shifts() {
        assert_eq!(
            compute_double(true, 4, 0x1234_5678, 0x9ABC_DEF0, 8),
            (0x3456_789A, false, false)
        );
        assert_eq!(
            compute_double(false, 4, 0x1234_5678, 0x9ABC_DEF0, 4),
            (0x0123_4567, true, false)
        );
        // 16-bit SHLD by 20: dest:src:dest << 20, P6 behaviour.
        assert_eq!(compute_double(true, 2, 0x1234, 0xABCD, 20).0, 0xBCD1);
        assert_eq!(compute_double(false, 2, 0x1234, 0xABCD, 20).0, 0x4ABC);
    }

    /// A shift whose memory write faults leaves the operand and the flags unchanged.
    #[test]
    fn faulting_memory_shift_changes_nothing() {
        use crate::boot::{boot, BootKind};
        use crate::cpu::exception::vec;
        use crate::cpu::insn::Insn;
        use crate::machine::MachineConfig;
        use iced_x86::{Decoder, DecoderOptions};
        let mut m = boot(
            MachineConfig::default(),
            &[0x90],
            &BootKind::Flat {
                addr: 0x1000,
                real: false,
            },
        )
        .unwrap();
        let c = &mut m.core;
        c.mem.write(0x5000, 4, 0x8000_0001);
        c.cpu.gpr[6] = 0x5000;
        c.cpu.gpr[1] = 3;
        c.cpu.flags.set(2 | CF);
        c.cpu.seg[3].attr &= !crate::mmu::segment::attr::RW;
        // shl dword [esi], cl; rcr dword [esi], 1; shld [esi], ecx, 4
        for bytes in [&[0xD3, 0x26][..], &[0xD1, 0x1E], &[0x0F, 0xA4, 0x0E, 4]] {
            let ins = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
            let i = Insn::new(ins, crate::cpu::exec::select(&ins));
            assert_eq!((i.inner)(c, &i).unwrap_err().vector, vec::GP);
            assert_eq!(c.cpu.flags.get(), 2 | CF);
            assert_eq!(c.mem.read(0x5000, 4), 0x8000_0001);
        }
        c.cpu.seg[3].attr |= crate::mmu::segment::attr::RW;
        let ins = Decoder::new(32, &[0xD3, 0x26], DecoderOptions::NONE).decode();
        let i = Insn::new(ins, crate::cpu::exec::select(&ins));
        (i.inner)(c, &i).unwrap();
        assert_eq!(c.mem.read(0x5000, 4), 8);
        assert!(!c.cpu.flags.cf());
    }
}
