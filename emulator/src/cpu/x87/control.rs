//! x87 control instructions (SDM Vol. 1 8.3.10-8.3.13): FINIT/FNINIT, FCLEX/FNCLEX,
//! FLDCW, FSTCW/FNSTCW, FSTSW/FNSTSW (memory and AX), FFREE (and the P6's FFREEP),
//! FINCSTP, FDECSTP, FNOP (and the 287's FENI/FDISI/FSETPM, no-ops since the 387), and
//! WAIT/FWAIT. Owns which of them wait for pending exceptions; must not update the
//! last-instruction pointers except for the numeric ones (FNOP, FFREE, FINCSTP, FDECSTP).

use super::{begin, begin_control_wait, begin_nowait, read_mem, sti, sw, sync_ferr, write_mem};
use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{Handler, Insn};
use crate::cpu::state::cr0;
use iced_x86::Code;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Wait => wait,
        Fninit => fninit,
        Finit => finit,
        Fnclex => fnclex,
        Fclex => fclex,
        Fldcw_m2byte => fldcw,
        Fnstcw_m2byte => fnstcw,
        Fstcw_m2byte => fstcw,
        Fnstsw_m2byte | Fnstsw_AX => fnstsw,
        Fstsw_m2byte | Fstsw_AX => fstsw,
        Ffree_sti => ffree,
        Ffreep_sti => ffreep,
        Fincstp => fincstp,
        Fdecstp => fdecstp,
        Fnop => fnop,
        Fneni | Fndisi | Fnsetpm => fnop_nowait,
        Feni | Fdisi | Fsetpm => fnop_waiting,
        _ => return None,
    })
}

/// WAIT/FWAIT: #NM only when both CR0.MP and CR0.TS are set (SDM Vol. 3A 2.5, Table
/// 2-2), then pending unmasked exceptions. `Ok(false)`: stopped (FERR#).
pub(crate) fn wait_part(c: &mut Core, i: &Insn) -> Res<bool> {
    let m = cr0::MP | cr0::TS;
    if c.cpu.cr0 & m == m {
        return Err(Exception::nm());
    }
    super::check_pending(c, i)
}

fn wait(c: &mut Core, i: &Insn) -> Res {
    wait_part(c, i).map(|_| ())
}

fn fninit(c: &mut Core, _i: &Insn) -> Res {
    begin_nowait(c)?;
    c.cpu.fpu.init();
    sync_ferr(c);
    Ok(())
}
fn finit(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fninit(c, i)
}

/// FNCLEX: exception flags, SF, ES and B cleared (C0-C3 undefined: left as they are).
fn fnclex(c: &mut Core, _i: &Insn) -> Res {
    begin_nowait(c)?;
    c.cpu.fpu.sw &= !(0x7F | sw::ES | sw::B);
    sync_ferr(c);
    Ok(())
}
fn fclex(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fnclex(c, i)
}

/// FLDCW: bit 6 and bits 13-15 are reserved (bit 6 reads as 1). Unmasking a pending
/// exception sets ES: it is raised at the next waiting instruction (SDM Vol. 1 8.6).
fn fldcw(c: &mut Core, i: &Insn) -> Res {
    if !begin_control_wait(c, i)? {
        return Ok(());
    }
    let b = read_mem(c, i, 0, 2)?;
    let f = &mut c.cpu.fpu;
    f.cw = (u16::from_le_bytes([b[0], b[1]]) & 0x1F3F) | 0x40;
    f.update_es();
    sync_ferr(c);
    Ok(())
}

fn fnstcw(c: &mut Core, i: &Insn) -> Res {
    begin_nowait(c)?;
    let cw = c.cpu.fpu.cw;
    write_mem(c, i, 0, &cw.to_le_bytes())
}
fn fstcw(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fnstcw(c, i)
}

fn fnstsw(c: &mut Core, i: &Insn) -> Res {
    begin_nowait(c)?;
    let v = c.cpu.fpu.sw;
    if i.ins.op0_kind() == iced_x86::OpKind::Register {
        c.cpu.set16(0, v as u32);
        Ok(())
    } else {
        write_mem(c, i, 0, &v.to_le_bytes())
    }
}
fn fstsw(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fnstsw(c, i)
}

fn ffree(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    c.cpu.fpu.free(sti(i.ins.op0_register()));
    Ok(())
}
/// FFREEP (DF C0+i): FFREE, then pop; executed by P6 processors though undocumented there.
fn ffreep(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let f = &mut c.cpu.fpu;
    f.free(sti(i.ins.op0_register()));
    f.pop();
    Ok(())
}

fn fincstp(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let f = &mut c.cpu.fpu;
    f.sw &= !sw::C1;
    f.set_top(f.top() + 1);
    Ok(())
}
fn fdecstp(c: &mut Core, i: &Insn) -> Res {
    if !begin(c, i)? {
        return Ok(());
    }
    let f = &mut c.cpu.fpu;
    f.sw &= !sw::C1;
    f.set_top(f.top() + 7);
    Ok(())
}

fn fnop(c: &mut Core, i: &Insn) -> Res {
    begin(c, i).map(|_| ())
}
fn fnop_waiting(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    begin_nowait(c)
}
fn fnop_nowait(c: &mut Core, _i: &Insn) -> Res {
    begin_nowait(c)
}
