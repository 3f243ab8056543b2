//! x87 comparisons and classification (SDM Vol. 1 8.1.4, 8.3.7): FCOM, FCOMP, FCOMPP,
//! FUCOM, FUCOMP, FUCOMPP, FICOM, FICOMP (condition codes C3, C2, C0), FCOMI, FCOMIP,
//! FUCOMI, FUCOMIP (ZF, PF, CF in EFLAGS), FTST and FXAM. Owns the ordered/unordered rules
//! (FCOM signals IE for any NaN, FUCOM only for a signaling one). Must leave the condition
//! codes and EFLAGS unchanged when an unmasked IE or DE is raised.

use super::arith::mem_operand;
use super::float::{self, exc, Class, F80};
use super::{begin, read_st, sti};
use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::flags::{AF, CF, OF, PF, SF, ZF};
use crate::cpu::insn::{Handler, Insn};
use iced_x86::{Code, Mnemonic};
use std::cmp::Ordering;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Fcom_m32fp | Fcomp_m32fp | Fcom_m64fp | Fcomp_m64fp | Ficom_m32int | Ficomp_m32int
        | Ficom_m16int | Ficomp_m16int => fcom_mem,
        Fcom_st0_sti | Fcomp_st0_sti | Fcom_st0_sti_DCD0 | Fcomp_st0_sti_DCD8
        | Fcomp_st0_sti_DED0 | Fucom_st0_sti | Fucomp_st0_sti => fcom_reg,
        Fcompp | Fucompp => fcompp,
        Fcomi_st0_sti | Fcomip_st0_sti | Fucomi_st0_sti | Fucomip_st0_sti => fcomi,
        Ftst => ftst,
        Fxam => fxam,
        _ => return None,
    })
}

/// The result of comparing two operands: the relation (None: unordered) and the flags.
pub fn relation(a: F80, b: F80, unordered_ok: bool) -> (Option<Ordering>, u16) {
    let bad = |v: F80| v.class() == Class::Unsupported;
    let snan = |v: F80| v.class() == Class::SNan;
    if bad(a) || bad(b) || a.is_nan() || b.is_nan() {
        let ie = if !unordered_ok || bad(a) || bad(b) || snan(a) || snan(b) {
            exc::IE
        } else {
            0
        };
        return (None, ie);
    }
    (Some(float::compare(a, b)), float::denormal_flag(&[a, b]))
}

/// Sets C3, C2, C0 from a relation (C1 cleared), unless the flags hold an unmasked
/// exception. Returns false in that case (the instruction does not pop either).
fn set_codes(c: &mut Core, rel: Option<Ordering>, flags: u16) -> bool {
    let f = &mut c.cpu.fpu;
    // The condition codes are written even when the exception is unmasked (as the host
    // P6-descendant CPUs do).
    let ok = f.report(flags);
    let (c3, c2, c0) = match rel {
        None => (true, true, true),
        Some(Ordering::Less) => (false, false, true),
        Some(Ordering::Equal) => (true, false, false),
        Some(Ordering::Greater) => (false, false, false),
    };
    f.set_cc(c3, c2, false, c0);
    ok
}

/// An empty operand: IE and SF, and with IE masked, "unordered".
fn empty(c: &mut Core) -> bool {
    set_codes(c, None, exc::IE | exc::SF)
}

fn pops(m: Mnemonic) -> usize {
    match m {
        Mnemonic::Fcomp | Mnemonic::Fucomp | Mnemonic::Ficomp => 1,
        Mnemonic::Fcompp | Mnemonic::Fucompp => 2,
        _ => 0,
    }
}

fn finish_pops(c: &mut Core, n: usize) {
    for _ in 0..n {
        c.cpu.fpu.pop();
    }
}

fn fcom_mem(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let (b, conv) = mem_operand(c, i)?;
    let n = pops(i.ins.mnemonic());
    let ok = match read_st(c, 0) {
        None => empty(c),
        Some(a) => {
            // A signaling NaN in memory was quieted by the conversion (IE kept).
            let (rel, flags) = relation(a, b, false);
            let conv = if rel.is_none() { conv & !exc::DE } else { conv };
            set_codes(c, rel, flags | conv)
        }
    };
    if ok {
        finish_pops(c, n);
    }
    Ok(())
}

fn fcom_reg(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let k = sti(i.ins.op1_register());
    let unordered_ok = matches!(i.ins.mnemonic(), Mnemonic::Fucom | Mnemonic::Fucomp);
    compare_regs(c, k, unordered_ok, pops(i.ins.mnemonic()));
    Ok(())
}

fn compare_regs(c: &mut Core, k: usize, unordered_ok: bool, n: usize) {
    let ok = match (read_st(c, 0), read_st(c, k)) {
        (Some(a), Some(b)) => {
            let (rel, flags) = relation(a, b, unordered_ok);
            set_codes(c, rel, flags)
        }
        _ => empty(c),
    };
    if ok {
        finish_pops(c, n);
    }
}

fn fcompp(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    compare_regs(c, 1, i.ins.mnemonic() == Mnemonic::Fucompp, 2);
    Ok(())
}

/// FCOMI/FUCOMI: ZF, PF, CF as for an unsigned compare, unordered 1 1 1; OF, SF, AF
/// cleared (SDM Vol. 2A FCOMI).
fn fcomi(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let k = sti(i.ins.op1_register());
    let m = i.ins.mnemonic();
    let unordered_ok = matches!(m, Mnemonic::Fucomi | Mnemonic::Fucomip);
    let pop = matches!(m, Mnemonic::Fcomip | Mnemonic::Fucomip);
    let (rel, flags) = match (read_st(c, 0), read_st(c, k)) {
        (Some(a), Some(b)) => relation(a, b, unordered_ok),
        _ => (None, exc::IE | exc::SF),
    };
    let f = &mut c.cpu.fpu;
    // EFLAGS are written even when the exception is unmasked (as on the host CPUs).
    let ok = f.report(flags);
    f.sw &= !super::sw::C1;
    let (zf, pf, cf) = match rel {
        None => (true, true, true),
        Some(Ordering::Less) => (false, false, true),
        Some(Ordering::Equal) => (true, false, false),
        Some(Ordering::Greater) => (false, false, false),
    };
    let mut fl = c.cpu.flags.get() & !(ZF | PF | CF | OF | SF | AF);
    fl |= ((zf as u32) * ZF) | ((pf as u32) * PF) | ((cf as u32) * CF);
    c.cpu.flags.set(fl);
    if pop && ok {
        c.cpu.fpu.pop();
    }
    Ok(())
}

fn ftst(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    match read_st(c, 0) {
        None => {
            empty(c);
        }
        Some(a) => {
            let (rel, flags) = relation(a, F80::ZERO, false);
            set_codes(c, rel, flags);
        }
    }
    Ok(())
}

/// FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1 (SDM Vol. 2A FXAM, Table 3-43).
fn fxam(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let f = &mut c.cpu.fpu;
    let v = f.st(0);
    let (c3, c2, c0) = if f.is_empty(0) {
        (true, false, true)
    } else {
        match v.class() {
            Class::Unsupported => (false, false, false),
            Class::QNan | Class::SNan => (false, false, true),
            Class::Normal => (false, true, false),
            Class::Inf => (false, true, true),
            Class::Zero => (true, false, false),
            Class::Denormal => (true, true, false),
        }
    };
    f.set_cc(c3, c2, v.is_neg(), c0);
    Ok(())
}
