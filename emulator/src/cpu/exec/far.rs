//! Far control transfers: JMP far, CALL far, RETF, IRET/IRETD in real, virtual-8086 and
//! protected mode (SDM Vol. 2 JMP/CALL/RET/IRET pseudo-code, Vol. 3A 5.8). Call gates and
//! task switches are dispatched to `task` (task switches) and `call_gate` below.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::descriptor::{read_descriptor, set_accessed};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::segload::load_seg;
use crate::cpu::flags::{self, AC, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM};
use crate::cpu::insn::{ea, Handler, Insn, K_IMM};
use crate::cpu::interrupt::load_real_cs;
use crate::mmu::segment::{Descriptor, Seg, CS, DS, ES, FS, GS, SS};
use crate::trace::EventKind;
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let far = matches!(ins.op_kind(0), OpKind::FarBranch16 | OpKind::FarBranch32)
        || ins.is_jmp_far_indirect()
        || ins.is_call_far_indirect();
    Some(match ins.mnemonic() {
        Jmp if far => jmp_far_h,
        Call if far => call_far_h,
        Retf => retf_h,
        Iret | Iretd => iret_h,
        _ => return None,
    })
}

// A far transfer may change CPL (gates, returns, task switches) and IRET changes
// EFLAGS.AC: the handlers refresh the #AC switch afterwards, whatever the outcome.
fn jmp_far_h(c: &mut Core, i: &Insn) -> Res {
    let r = jmp_far(c, i);
    c.update_align_check();
    r
}
fn call_far_h(c: &mut Core, i: &Insn) -> Res {
    let r = call_far(c, i);
    c.update_align_check();
    r
}
fn retf_h(c: &mut Core, i: &Insn) -> Res {
    let r = retf(c, i);
    c.update_align_check();
    r
}
fn iret_h(c: &mut Core, i: &Insn) -> Res {
    // AMD APM 15.9: the IRET intercept, before IRET's own checks (it has no simple
    // exception of its own to come first).
    crate::cpu::svm::intercept::insn1(c, i, crate::cpu::svm::intercept::w3::IRET)?;
    let r = iret(c, i);
    c.update_align_check();
    r
}

fn far_size(i: &Insn) -> u8 {
    match i.ins.code() {
        Code::Jmp_ptr1616
        | Code::Call_ptr1616
        | Code::Jmp_m1616
        | Code::Call_m1616
        | Code::Retfw
        | Code::Retfw_imm16
        | Code::Iretw => 2,
        _ => 4,
    }
}

/// Reads the far pointer operand: (selector, offset).
fn far_target(c: &mut Core, i: &Insn, size: u8) -> Res<(u16, u32)> {
    if i.k0 == K_IMM {
        return Ok((i.imm2 as u16, i.imm));
    }
    let a = ea(c, i);
    let off = c.read(i.seg as usize, a, size)?;
    let sa = a.wrapping_add(size as u32);
    let sa = if i.a16 { sa & 0xFFFF } else { sa };
    let sel = c.read(i.seg as usize, sa, 2)? as u16;
    Ok((sel, off))
}

fn real_far(c: &mut Core, sel: u16, off: u32) -> Res {
    if c.cpu.vm86() {
        load_seg(c, CS, sel)?;
    } else {
        load_real_cs(c, sel);
    }
    c.cpu.eip = off;
    c.request(Request::Rescan);
    Ok(())
}

/// Checks and loads a code segment reached directly by JMP/CALL (SDM 5.8.1.1).
fn direct_code(c: &mut Core, sel: u16, d: &Descriptor, off: u32) -> Res<Seg> {
    let cpl = c.cpu.cpl;
    let rpl = (sel & 3) as u8;
    let err = sel as u32 & !3;
    if d.typ() & 4 != 0 {
        if d.dpl() > cpl {
            return Err(Exception::gp(err));
        }
    } else if rpl > cpl || d.dpl() != cpl {
        return Err(Exception::gp(err));
    }
    if !d.present() {
        return Err(Exception::np(err));
    }
    if off > d.limit() {
        return Err(Exception::gp(0));
    }
    let mut s = d.to_seg((sel & !3) | cpl as u16);
    s.attr |= 1;
    Ok(s)
}

fn jmp_far(c: &mut Core, i: &Insn) -> Res {
    let size = far_size(i);
    let (sel, off) = far_target(c, i, size)?;
    let off = if size == 2 { off & 0xFFFF } else { off };
    if !c.cpu.protected() {
        return real_far(c, sel, off);
    }
    let d = protected_target(c, sel)?;
    if d.is_code() {
        let s = direct_code(c, sel, &d, off)?;
        set_accessed(c, sel, &d)?;
        c.segs_changed();
        c.cpu.seg[CS] = s;
        c.cpu.eip = off;
        c.request(Request::Rescan);
        return Ok(());
    }
    system_transfer(c, sel, d, false, size)
}

fn call_far(c: &mut Core, i: &Insn) -> Res {
    let size = far_size(i);
    let (sel, off) = far_target(c, i, size)?;
    let off = if size == 2 { off & 0xFFFF } else { off };
    let ret_cs = c.cpu.seg[CS].sel as u32;
    let ret_ip = c.cpu.eip;
    if !c.cpu.protected() {
        let esp = c.cpu.gpr[4];
        let r = c.push(size, ret_cs).and_then(|_| c.push(size, ret_ip));
        if let Err(e) = r {
            c.cpu.gpr[4] = esp;
            return Err(e);
        }
        if let Err(e) = real_far(c, sel, off) {
            c.cpu.gpr[4] = esp;
            return Err(e);
        }
        return Ok(());
    }
    let d = protected_target(c, sel)?;
    if d.is_code() {
        let s = direct_code(c, sel, &d, off)?;
        let esp = c.cpu.gpr[4];
        let mask = c.sp_mask();
        c.probe_write_span(SS, esp.wrapping_sub(2 * size as u32) & mask, 2 * size)?;
        c.push(size, ret_cs)?;
        c.push(size, ret_ip)?;
        set_accessed(c, sel, &d)?;
        c.segs_changed();
        c.cpu.seg[CS] = s;
        c.cpu.eip = off;
        c.request(Request::Rescan);
        return Ok(());
    }
    system_transfer(c, sel, d, true, size)
}

/// Reads the descriptor of a far-transfer target in protected mode.
fn protected_target(c: &mut Core, sel: u16) -> Res<Descriptor> {
    if sel & !3 == 0 {
        return Err(Exception::gp(0));
    }
    read_descriptor(c, sel)?.ok_or(Exception::gp(sel as u32 & !3))
}

/// JMP/CALL to a call gate, task gate or TSS.
fn system_transfer(c: &mut Core, sel: u16, d: Descriptor, call: bool, size: u8) -> Res {
    let err = sel as u32 & !3;
    match d.typ() {
        0x4 | 0xC => super::task::call_gate(c, sel, d, call, size),
        0x1 | 0x9 | 0x5 => super::task::far_task(c, sel, d, call),
        _ => Err(Exception::gp(err)),
    }
}

fn retf(c: &mut Core, i: &Insn) -> Res {
    let size = far_size(i);
    let imm = if i.k0 == K_IMM { i.imm & 0xFFFF } else { 0 };
    let esp = c.cpu.gpr[4];
    let mask = c.sp_mask();
    let r = (|| -> Res {
        let off = c.stack_peek(0, size)?;
        let sel = c.stack_peek(size as u32, size)? as u16;
        if !c.cpu.protected() {
            c.cpu.gpr[4] = (esp & !mask) | (esp.wrapping_add(2 * size as u32 + imm) & mask);
            return real_far(c, sel, off);
        }
        return_protected(c, sel, off, size, imm, None)
    })();
    if r.is_err() {
        c.cpu.gpr[4] = esp;
    }
    r
}

/// Protected-mode return to `sel:off` (RETF and IRET). The return frame starts at ESP:
/// [off, sel, (flags if iret)], then for an outer-level return [esp, ss] follow.
/// `flags` is Some(popped EFLAGS) for IRET.
fn return_protected(
    c: &mut Core,
    sel: u16,
    off: u32,
    size: u8,
    imm: u32,
    flags: Option<u32>,
) -> Res {
    let cpl = c.cpu.cpl;
    let rpl = (sel & 3) as u8;
    if sel & !3 == 0 {
        return Err(Exception::gp(0));
    }
    let err = sel as u32 & !3;
    let d = read_descriptor(c, sel)?.ok_or(Exception::gp(err))?;
    if !d.is_code() || rpl < cpl {
        return Err(Exception::gp(err));
    }
    if d.typ() & 4 != 0 {
        if d.dpl() > rpl {
            return Err(Exception::gp(err));
        }
    } else if d.dpl() != rpl {
        return Err(Exception::gp(err));
    }
    if !d.present() {
        return Err(Exception::np(err));
    }
    let frame = if flags.is_some() { 3 } else { 2 } * size as u32;
    let mask = c.sp_mask();
    let esp = c.cpu.gpr[4];
    if rpl == cpl {
        if off > d.limit() {
            return Err(Exception::gp(0));
        }
        c.cpu.gpr[4] = (esp & !mask) | (esp.wrapping_add(frame + imm) & mask);
        c.segs_changed();
        c.cpu.seg[CS] = d.to_seg(sel);
        c.cpu.eip = off;
        if let Some(f) = flags {
            apply_iret_flags(c, f, size);
        }
        c.request(Request::Rescan);
        return Ok(());
    }
    // Return to an outer privilege level: read SS:ESP from the frame.
    let new_esp = c.stack_peek(frame + imm, size)?;
    let new_ss = c.stack_peek(frame + imm + size as u32, size)? as u16;
    let ss_err = new_ss as u32 & !3;
    if new_ss & !3 == 0 {
        return Err(Exception::gp(0));
    }
    let sd = read_descriptor(c, new_ss)?.ok_or(Exception::gp(ss_err))?;
    if (new_ss & 3) as u8 != rpl
        || sd.dpl() != rpl
        || !sd.is_seg()
        || sd.is_code()
        || sd.typ() & 2 == 0
    {
        return Err(Exception::gp(ss_err));
    }
    if !sd.present() {
        return Err(Exception::ss(ss_err));
    }
    if off > d.limit() {
        return Err(Exception::gp(0));
    }
    set_accessed(c, new_ss, &sd)?;
    if let Some(f) = flags {
        apply_iret_flags(c, f, size);
    }
    c.segs_changed();
    c.cpu.seg[CS] = d.to_seg(sel);
    c.cpu.eip = off;
    c.cpu.cpl = rpl;
    c.cpu.seg[SS] = sd.to_seg(new_ss);
    let ss32 = c.cpu.seg[SS].big();
    let v = new_esp.wrapping_add(imm);
    c.cpu.gpr[4] = if ss32 {
        v
    } else {
        (c.cpu.gpr[4] & !0xFFFF) | (v & 0xFFFF)
    };
    // Data segments not accessible at the new CPL become null (SDM RET, IRET).
    for s in [ES, DS, FS, GS] {
        let seg = c.cpu.seg[s];
        let conforming_code = seg.is_code() && seg.conforming();
        if seg.valid && !conforming_code && seg.dpl() < rpl {
            c.segs_changed();
            c.cpu.seg[s] = Seg {
                sel: 0,
                valid: false,
                ..Seg::default()
            };
        }
    }
    c.event(EventKind::PrivilegeChange { from: cpl, to: rpl });
    c.request(Request::Rescan);
    Ok(())
}

/// EFLAGS update of a protected-mode IRET (SDM IRET: IF if CPL <= IOPL, IOPL if CPL = 0;
/// VIF/VIP only at CPL 0; VM handled by the caller).
fn apply_iret_flags(c: &mut Core, f: u32, size: u8) {
    let cpl = c.cpu.cpl;
    let iopl = c.cpu.flags.iopl();
    let mut changeable = flags::ARITH | TF | flags::DF | NT | RF | AC | ID;
    if cpl <= iopl {
        changeable |= IF;
    }
    if cpl == 0 {
        changeable |= IOPL | VIF | VIP;
    }
    if size == 2 {
        changeable &= 0xFFFF;
    }
    let old = c.cpu.flags.get();
    c.cpu.flags.set((old & !changeable) | (f & changeable));
}

fn iret(c: &mut Core, i: &Insn) -> Res {
    let size = far_size(i);
    let esp = c.cpu.gpr[4];
    let mask = c.sp_mask();
    let r = (|| -> Res {
        if !c.cpu.pe() {
            let ip = c.stack_peek(0, size)?;
            let cs = c.stack_peek(size as u32, size)? as u16;
            let f = c.stack_peek(2 * size as u32, size)?;
            c.cpu.gpr[4] = (esp & !mask) | (esp.wrapping_add(3 * size as u32) & mask);
            let old = c.cpu.flags.get();
            let keep = if size == 2 {
                0xFFFF_0000
            } else {
                VM | VIF | VIP
            };
            c.cpu.flags.set((old & keep) | (f & !keep));
            load_real_cs(c, cs);
            c.cpu.eip = if size == 2 { ip & 0xFFFF } else { ip };
            c.request(Request::Rescan);
            return Ok(());
        }
        if c.cpu.vm86() {
            if c.cpu.flags.iopl() < 3 {
                return Err(Exception::gp(0));
            }
            let ip = c.stack_peek(0, size)?;
            let cs = c.stack_peek(size as u32, size)? as u16;
            let f = c.stack_peek(2 * size as u32, size)?;
            c.cpu.gpr[4] = (esp & !mask) | (esp.wrapping_add(3 * size as u32) & mask);
            let old = c.cpu.flags.get();
            let keep = IOPL | VM | VIF | VIP | if size == 2 { 0xFFFF_0000 } else { 0 };
            c.cpu.flags.set((old & keep) | (f & !keep));
            load_seg(c, CS, cs)?;
            c.cpu.eip = ip & 0xFFFF;
            c.request(Request::Rescan);
            return Ok(());
        }
        if c.cpu.flags.has(NT) {
            return super::task::iret_task(c);
        }
        let off = c.stack_peek(0, size)?;
        let sel = c.stack_peek(size as u32, size)? as u16;
        let f = c.stack_peek(2 * size as u32, size)?;
        if size == 4 && f & VM != 0 && c.cpu.cpl == 0 {
            return iret_to_v86(c, off, sel, f);
        }
        return_protected(
            c,
            sel,
            off & if size == 2 { 0xFFFF } else { u32::MAX },
            size,
            0,
            Some(f),
        )
    })();
    if r.is_err() {
        c.cpu.gpr[4] = esp;
    }
    r
}

/// IRETD from CPL 0 with VM=1 in the popped EFLAGS: enter virtual-8086 mode
/// (SDM IRET "RETURN-TO-VIRTUAL-8086-MODE").
fn iret_to_v86(c: &mut Core, off: u32, cs: u16, f: u32) -> Res {
    let mut vals = [0u32; 6];
    for (k, v) in vals.iter_mut().enumerate() {
        *v = c.stack_peek(12 + 4 * k as u32, 4)?;
    }
    let [new_esp, ss, es, ds, fs, gs] = vals;
    c.cpu.flags.set(f);
    c.cpu.cpl = 3;
    for (s, sel) in [
        (CS, cs),
        (SS, ss as u16),
        (ES, es as u16),
        (DS, ds as u16),
        (FS, fs as u16),
        (GS, gs as u16),
    ] {
        load_seg(c, s, sel)?;
    }
    c.cpu.gpr[4] = new_esp;
    c.cpu.eip = off & 0xFFFF;
    c.event(EventKind::ModeChange { to: "v8086".into() });
    c.request(Request::Rescan);
    Ok(())
}
