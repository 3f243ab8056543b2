//! Decimal (BCD) adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2A), written
//! after the SDM pseudo-code, with the P6 forms (AAA adds 106H to AX, AAS subtracts 6 from
//! AX). Undefined flags follow `cpu::undefined_flags`. Must not know about other families.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::flags::parity;
use crate::cpu::insn::{Handler, Insn};
use iced_x86::{Instruction, Mnemonic};

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Daa => daa,
        Mnemonic::Das => das,
        Mnemonic::Aaa => aaa,
        Mnemonic::Aas => aas,
        Mnemonic::Aam => aam,
        Mnemonic::Aad => aad,
        _ => return None,
    })
}

/// Sets the six arithmetic flags with SF, ZF, PF taken from the byte `al`.
fn set_szp(c: &mut Core, al: u8, cf: bool, af: bool, of: bool) {
    c.cpu
        .flags
        .set_arith(cf, parity(al as u32), af, al == 0, al & 0x80 != 0, of);
}

fn al(c: &Core) -> u8 {
    c.cpu.get(1, 0) as u8
}

/// DAA (SDM DAA). OF is undefined: cleared.
fn daa(c: &mut Core, _i: &Insn) -> Res {
    let (old_al, old_cf, af_in) = (al(c), c.cpu.flags.cf(), c.cpu.flags.af());
    let mut a = old_al;
    let af = a & 0x0F > 9 || af_in;
    if af {
        a = a.wrapping_add(6);
    }
    // The SDM sets CF from the carry of AL + 6 and then overwrites it in both branches of
    // the high-digit test, so only that test decides CF.
    let cf = old_al > 0x99 || old_cf;
    if cf {
        a = a.wrapping_add(0x60);
    }
    c.cpu.set(1, 0, a as u32);
    set_szp(c, a, cf, af, false);
    Ok(())
}

/// DAS (SDM DAS). OF is undefined: cleared.
fn das(c: &mut Core, _i: &Insn) -> Res {
    let (old_al, old_cf, af_in) = (al(c), c.cpu.flags.cf(), c.cpu.flags.af());
    let mut a = old_al;
    let mut cf = false;
    let af = if a & 0x0F > 9 || af_in {
        let (r, borrow) = a.overflowing_sub(6);
        a = r;
        cf = old_cf || borrow;
        true
    } else {
        false
    };
    if old_al > 0x99 || old_cf {
        a = a.wrapping_sub(0x60);
        cf = true;
    }
    c.cpu.set(1, 0, a as u32);
    set_szp(c, a, cf, af, false);
    Ok(())
}

/// AAA (SDM AAA): AX += 106H when adjusting. OF SF ZF PF are undefined: SF ZF PF from the
/// final AL, OF cleared.
fn aaa(c: &mut Core, _i: &Insn) -> Res {
    let mut ax = c.cpu.get(2, 0);
    let adj = ax & 0x0F > 9 || c.cpu.flags.af();
    if adj {
        ax = ax.wrapping_add(0x106);
    }
    ax &= 0xFF0F;
    c.cpu.set(2, 0, ax);
    set_szp(c, ax as u8, adj, adj, false);
    Ok(())
}

/// AAS (SDM AAS): AX -= 6 and AH -= 1 when adjusting. Undefined flags as AAA.
fn aas(c: &mut Core, _i: &Insn) -> Res {
    let mut ax = c.cpu.get(2, 0);
    let adj = ax & 0x0F > 9 || c.cpu.flags.af();
    if adj {
        ax = ax.wrapping_sub(6).wrapping_sub(0x100);
    }
    ax &= 0xFF0F;
    c.cpu.set(2, 0, ax);
    set_szp(c, ax as u8, adj, adj, false);
    Ok(())
}

/// AAM imm8 (SDM AAM): AH = AL / imm8, AL = AL mod imm8; imm8 = 0 is #DE. SF ZF PF from
/// AL; OF AF CF undefined: cleared.
fn aam(c: &mut Core, i: &Insn) -> Res {
    let base = i.imm as u8;
    if base == 0 {
        return Err(Exception::de());
    }
    let a = al(c);
    let (q, r) = (a / base, a % base);
    c.cpu.set(2, 0, ((q as u32) << 8) | r as u32);
    set_szp(c, r, false, false, false);
    Ok(())
}

/// AAD imm8 (SDM AAD): AL = (AL + AH * imm8) & FFH, AH = 0. SF ZF PF from AL; OF AF CF
/// undefined: cleared.
fn aad(c: &mut Core, i: &Insn) -> Res {
    let ax = c.cpu.get(2, 0);
    let a = (ax as u8).wrapping_add(((ax >> 8) as u8).wrapping_mul(i.imm as u8));
    c.cpu.set(2, 0, a as u32);
    set_szp(c, a, false, false, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::exception::vec;
    use crate::machine::{Machine, MachineConfig};
    use iced_x86::{Decoder, DecoderOptions};

    fn exec(m: &mut Machine, bytes: &[u8]) -> Res {
        let ins = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
        let i = Insn::new(ins, crate::cpu::exec::select(&ins));
        (i.inner)(&mut m.core, &i)
    }

    #[test]
    fn aam_zero_base_is_de_and_changes_nothing() {
        let mut m = Machine::new(MachineConfig::default());
        m.core.cpu.gpr[0] = 0x1234;
        let flags = m.core.cpu.flags.get();
        assert_eq!(exec(&mut m, &[0xD4, 0x00]).unwrap_err().vector, vec::DE);
        assert_eq!(m.core.cpu.gpr[0], 0x1234);
        assert_eq!(m.core.cpu.flags.get(), flags);
        exec(&mut m, &[0xD4, 0x0A]).unwrap(); // aam: 0x34 = 52 -> AH 5, AL 2
        assert_eq!(m.core.cpu.gpr[0], 0x0502);
        exec(&mut m, &[0xD5, 0x0A]).unwrap(); // aad: back to 52
        assert_eq!(m.core.cpu.gpr[0], 0x0034);
    }

    #[test]
    fn daa_after_packed_add() {
        let mut m = Machine::new(MachineConfig::default());
        // 0x79 + 0x35 = 0xAE; DAA -> 0x14 with CF (79 + 35 = 114).
        m.core.cpu.gpr[0] = 0xAE;
        m.core.cpu.flags.set(2);
        exec(&mut m, &[0x27]).unwrap();
        assert_eq!(m.core.cpu.gpr[0] & 0xFF, 0x14);
        assert!(m.core.cpu.flags.cf() && m.core.cpu.flags.af());
        // 0x35 - 0x47 = 0xEE with CF (borrow); DAS -> 0x88 with CF (35 - 47 = -12 -> 88).
        m.core.cpu.gpr[0] = 0xEE;
        m.core.cpu.flags.set(2 | 1 | 0x10);
        exec(&mut m, &[0x2F]).unwrap();
        assert_eq!(m.core.cpu.gpr[0] & 0xFF, 0x88);
        assert!(m.core.cpu.flags.cf());
    }
}
