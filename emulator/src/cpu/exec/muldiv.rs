//! Multiply and divide: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV
//! (SDM Vol. 2A/2B). Divides raise #DE on a zero divisor and on a quotient that does not fit
//! (SDM DIV/IDIV "IF temp > FFH THEN #DE"), before changing anything. Undefined flags
//! follow `cpu::undefined_flags`. Must not know about other families.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::flags::mask;
use crate::cpu::insn::{get0, get1, Handler, Insn};
use iced_x86::{Instruction, Mnemonic};

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Mul => mul,
        Mnemonic::Imul => match ins.op_count() {
            1 => imul1,
            2 => imul2,
            _ => imul3,
        },
        Mnemonic::Div => div,
        Mnemonic::Idiv => idiv,
        _ => return None,
    })
}

#[inline(always)]
fn sext(v: u32, size: u8) -> i64 {
    match size {
        1 => v as u8 as i8 as i64,
        2 => v as u16 as i16 as i64,
        _ => v as i32 as i64,
    }
}

/// Multiply flags: CF = OF = `wide`; SF, ZF, PF from the low half of the result and AF
/// cleared (undefined in the SDM; see `cpu::undefined_flags`).
fn mul_flags(c: &mut Core, size: u8, lo: u32, wide: bool) {
    c.cpu.flags.set_result(size, lo & mask(size), wide, wide);
}

/// Stores a double-width product: AX (8-bit), DX:AX (16-bit), EDX:EAX (32-bit).
fn store_wide(c: &mut Core, size: u8, p: u64) {
    match size {
        1 => c.cpu.set(2, 0, p as u32),
        2 => {
            c.cpu.set(2, 0, p as u32);
            c.cpu.set(2, 2, (p >> 16) as u32);
        }
        _ => {
            c.cpu.gpr[0] = p as u32;
            c.cpu.gpr[2] = (p >> 32) as u32;
        }
    }
}

/// The double-width dividend: AX, DX:AX or EDX:EAX.
fn dividend(c: &Core, size: u8) -> u64 {
    match size {
        1 => c.cpu.get(2, 0) as u64,
        2 => ((c.cpu.get(2, 2) as u64) << 16) | c.cpu.get(2, 0) as u64,
        _ => ((c.cpu.gpr[2] as u64) << 32) | c.cpu.gpr[0] as u64,
    }
}

fn mul(c: &mut Core, i: &Insn) -> Res {
    let s = get0(c, i)? as u64;
    let a = c.cpu.get(i.size, 0) as u64;
    let p = a * s;
    let bits = i.size as u32 * 8;
    store_wide(c, i.size, p);
    mul_flags(c, i.size, p as u32, p >> bits != 0);
    Ok(())
}

fn imul1(c: &mut Core, i: &Insn) -> Res {
    let s = sext(get0(c, i)?, i.size);
    let a = sext(c.cpu.get(i.size, 0), i.size);
    let p = a * s;
    store_wide(c, i.size, p as u64);
    let wide = sext(p as u32, i.size) != p;
    mul_flags(c, i.size, p as u32, wide);
    Ok(())
}

/// The truncated signed product and whether truncation lost information.
pub fn imul_trunc(size: u8, a: u32, b: u32) -> (u32, bool) {
    let p = sext(a, size) * sext(b, size);
    let r = p as u32 & mask(size);
    (r, sext(r, size) != p)
}

fn imul2(c: &mut Core, i: &Insn) -> Res {
    let b = get1(c, i)?;
    let a = c.cpu.get(i.size, i.r0 as usize);
    let (r, wide) = imul_trunc(i.size, a, b);
    c.cpu.set(i.size, i.r0 as usize, r);
    mul_flags(c, i.size, r, wide);
    Ok(())
}

fn imul3(c: &mut Core, i: &Insn) -> Res {
    let a = get1(c, i)?;
    let (r, wide) = imul_trunc(i.size, a, i.imm);
    c.cpu.set(i.size, i.r0 as usize, r);
    mul_flags(c, i.size, r, wide);
    Ok(())
}

/// Unsigned division of the double-width dividend: (quotient, remainder) or #DE.
pub fn divide(size: u8, n: u64, d: u32) -> Result<(u32, u32), Exception> {
    let d = (d & mask(size)) as u64;
    if d == 0 {
        return Err(Exception::de());
    }
    let q = n / d;
    if q > mask(size) as u64 {
        return Err(Exception::de());
    }
    Ok((q as u32, (n % d) as u32))
}

/// Signed division (truncating toward zero; the remainder has the dividend's sign).
pub fn idivide(size: u8, n: u64, d: u32) -> Result<(u32, u32), Exception> {
    let bits = size as u32 * 8;
    // Sign-extend the 2*bits-wide dividend.
    let n = ((n << (64 - 2 * bits)) as i64) >> (64 - 2 * bits);
    let d = sext(d, size);
    if d == 0 {
        return Err(Exception::de());
    }
    // i128: EDX:EAX = -2^63 divided by -1 would overflow i64 (and panic the host).
    let (q, r) = ((n as i128) / (d as i128), (n as i128) % (d as i128));
    let lim = 1i128 << (bits - 1);
    if q >= lim || q < -lim {
        return Err(Exception::de());
    }
    Ok((q as u32 & mask(size), r as u32 & mask(size)))
}

fn store_qr(c: &mut Core, size: u8, q: u32, r: u32) {
    match size {
        1 => c.cpu.set(2, 0, (r << 8) | q),
        2 => {
            c.cpu.set(2, 0, q);
            c.cpu.set(2, 2, r);
        }
        _ => {
            c.cpu.gpr[0] = q;
            c.cpu.gpr[2] = r;
        }
    }
}

// DIV/IDIV leave every arithmetic flag unchanged (all undefined; `cpu::undefined_flags`).
fn div(c: &mut Core, i: &Insn) -> Res {
    let d = get0(c, i)?;
    let (q, r) = divide(i.size, dividend(c, i.size), d)?;
    store_qr(c, i.size, q, r);
    Ok(())
}

fn idiv(c: &mut Core, i: &Insn) -> Res {
    let d = get0(c, i)?;
    let (q, r) = idivide(i.size, dividend(c, i.size), d)?;
    store_qr(c, i.size, q, r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::exception::vec;
    use crate::cpu::insn::Insn;
    use crate::machine::{Machine, MachineConfig};
    use iced_x86::{Decoder, DecoderOptions};

    /// Decodes `bytes` (32-bit code) and runs the selected handler directly on `m`.
    fn exec(m: &mut Machine, bytes: &[u8]) -> Res {
        let ins = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
        let i = Insn::new(ins, crate::cpu::exec::select(&ins));
        (i.inner)(&mut m.core, &i)
    }

    fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig::default());
        m.core.cpu.seg[1].attr |= 0x400; // 32-bit code segment for completeness
        m
    }

    #[test]
    fn div_by_zero_and_overflow_raise_de_without_changes() {
        let mut m = machine();
        m.core.cpu.gpr = [0x1234, 0, 0x5, 0, 0, 0, 0, 0];
        let before = m.core.cpu.gpr;
        // div ecx (ECX = 0)
        assert_eq!(exec(&mut m, &[0xF7, 0xF1]).unwrap_err().vector, vec::DE);
        assert_eq!(m.core.cpu.gpr, before);
        // div ecx with EDX:EAX = 5:0x1234, ECX = 5: quotient 2^32 does not fit.
        m.core.cpu.gpr[1] = 5;
        assert_eq!(exec(&mut m, &[0xF7, 0xF1]).unwrap_err().vector, vec::DE);
        // div cl: AX = 0x1234 / 5 = 0x3A4 > 0xFF.
        assert_eq!(exec(&mut m, &[0xF6, 0xF1]).unwrap_err().vector, vec::DE);
        m.core.cpu.gpr[1] = 0x20;
        exec(&mut m, &[0xF6, 0xF1]).unwrap();
        assert_eq!(m.core.cpu.gpr[0] & 0xFFFF, (0x14 << 8) | 0x91);
    }

    #[test]
    fn idiv_most_negative_by_minus_one_is_de() {
        let mut m = machine();
        // EDX:EAX = -2^31, ECX = -1: quotient 2^31 does not fit.
        m.core.cpu.gpr[0] = 0x8000_0000;
        m.core.cpu.gpr[2] = 0xFFFF_FFFF;
        m.core.cpu.gpr[1] = 0xFFFF_FFFF;
        assert_eq!(exec(&mut m, &[0xF7, 0xF9]).unwrap_err().vector, vec::DE);
        // AX = -128 / CL = -1 (8-bit): 128 does not fit.
        m.core.cpu.gpr[0] = 0xFF80;
        assert_eq!(exec(&mut m, &[0xF6, 0xF9]).unwrap_err().vector, vec::DE);
        // -127 / -1 = 127 fits, remainder 0.
        m.core.cpu.gpr[0] = 0xFF81;
        exec(&mut m, &[0xF6, 0xF9]).unwrap();
        assert_eq!(m.core.cpu.gpr[0] & 0xFFFF, 0x007F);
        // -7 / 2 = -3 rem -1 (truncation toward zero).
        assert_eq!(idivide(2, 0xFFFF_FFF9, 2), Ok((0xFFFD, 0xFFFF)));
    }

    #[test]
    fn imul_forms() {
        let mut m = machine();
        m.core.cpu.gpr[0] = 0xFFFF_FFFE; // -2
        m.core.cpu.gpr[3] = 3;
        // imul ebx (EDX:EAX = -6)
        exec(&mut m, &[0xF7, 0xEB]).unwrap();
        assert_eq!(
            (m.core.cpu.gpr[0], m.core.cpu.gpr[2]),
            (0xFFFF_FFFA, 0xFFFF_FFFF)
        );
        assert!(!m.core.cpu.flags.cf() && !m.core.cpu.flags.of());
        // imul eax, ebx, 0x40000000 (overflows)
        exec(&mut m, &[0x69, 0xC3, 0, 0, 0, 0x40]).unwrap();
        assert_eq!(m.core.cpu.gpr[0], 0xC000_0000);
        assert!(m.core.cpu.flags.cf() && m.core.cpu.flags.of());
        // imul ax, bx, -1 (imm8)
        exec(&mut m, &[0x66, 0x6B, 0xC3, 0xFF]).unwrap();
        assert_eq!(m.core.cpu.gpr[0], 0xC000_FFFD);
        assert!(!m.core.cpu.flags.cf());
    }
}
