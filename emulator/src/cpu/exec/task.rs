//! Call gates (SDM Vol. 3A 5.8.3-5.8.6) and hardware task switching (SDM Vol. 3A ch. 7):
//! far JMP/CALL through a call gate (with the inner-stack switch and parameter copy),
//! JMP/CALL to a TSS or task gate, task gates in the IDT and IRET with NT=1.
//! It owns the TSS layouts (32- and 16-bit); it must not decide when an interrupt is taken.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::descriptor::{check_new_ss, read_descriptor, set_accessed, tss_stack, TssStack};
use crate::cpu::exception::{vec, Exception, Res};
use crate::cpu::flags::{NT, VM};
use crate::cpu::insn::Handler;
use crate::cpu::interrupt::{raise, raise_keep_rf};
use crate::cpu::state::cr0;
use crate::mmu::segment::{attr, Descriptor, Seg, CS, DS, ES, FS, GS, SS};
use crate::trace::EventKind;
use iced_x86::Instruction;

pub fn select(_ins: &Instruction) -> Option<Handler> {
    None
}

// ---------------------------------------------------------------------------------------
// Call gates
// ---------------------------------------------------------------------------------------

/// JMP/CALL far through the call gate `d` selected by `sel` (SDM Vol. 2 CALL/JMP
/// "CALL-GATE", Vol. 3A 5.8.4-5.8.6). `size` is the operand size of the instruction (the
/// gate's own size decides the size of the pushes).
pub fn call_gate(c: &mut Core, sel: u16, d: Descriptor, call: bool, _size: u8) -> Res {
    let cpl = c.cpu.cpl;
    let rpl = (sel & 3) as u8;
    let gerr = sel as u32 & !3;
    // 5.8.4: gate DPL >= CPL and >= RPL.
    if d.dpl() < cpl || d.dpl() < rpl {
        return Err(Exception::gp(gerr));
    }
    if !d.present() {
        return Err(Exception::np(gerr));
    }
    let gate32 = d.typ() == 0xC;
    let cs_sel = d.gate_selector();
    if cs_sel & !3 == 0 {
        return Err(Exception::gp(0));
    }
    let cerr = cs_sel as u32 & !3;
    let cd = read_descriptor(c, cs_sel)?.ok_or(Exception::gp(cerr))?;
    if !cd.is_code() || cd.dpl() > cpl {
        return Err(Exception::gp(cerr));
    }
    let conforming = cd.typ() & 4 != 0;
    // JMP through a call gate never changes CPL: the target must be conforming (DPL <=
    // CPL) or non-conforming with DPL = CPL (SDM JMP pseudo-code).
    if !call && !conforming && cd.dpl() != cpl {
        return Err(Exception::gp(cerr));
    }
    if !cd.present() {
        return Err(Exception::np(cerr));
    }
    let off = if gate32 {
        d.gate_offset()
    } else {
        d.gate_offset() & 0xFFFF
    };
    let psize: u8 = if gate32 { 4 } else { 2 };
    if call && !conforming && cd.dpl() < cpl {
        return call_gate_inner(c, cs_sel, &cd, off, d.gate_param_count(), psize);
    }
    // Same privilege: CS.RPL = CPL.
    if off > cd.limit() {
        return Err(Exception::gp(0));
    }
    let ret_cs = c.cpu.seg[CS].sel as u32;
    let ret_ip = c.cpu.eip;
    if call {
        let mask = c.sp_mask();
        let esp = c.cpu.gpr[4];
        c.probe_write_span(SS, esp.wrapping_sub(2 * psize as u32) & mask, 2 * psize)?;
        c.push(psize, ret_cs)?;
        c.push(psize, ret_ip)?;
    }
    set_accessed(c, cs_sel, &cd)?;
    let mut s = cd.to_seg((cs_sel & !3) | cpl as u16);
    s.attr |= attr::ACCESSED;
    c.segs_changed();
    c.cpu.seg[CS] = s;
    c.cpu.eip = off;
    c.request(Request::Rescan);
    Ok(())
}

/// CALL through a call gate to a more privileged non-conforming segment: switch to the
/// inner stack from the TSS, copy `count` parameters, push the old SS:ESP and CS:EIP
/// (SDM Vol. 3A 5.8.5 and Figure 5-13).
fn call_gate_inner(
    c: &mut Core,
    cs_sel: u16,
    cd: &Descriptor,
    off: u32,
    count: u32,
    psize: u8,
) -> Res {
    let new_cpl = cd.dpl();
    let TssStack { ss, esp } = tss_stack(c, new_cpl, 0)?;
    let ss_seg = check_new_ss(c, ss, new_cpl, 0)?;
    let ss_err = ss as u32 & !3;
    // Room for SS, ESP, the parameters, CS and EIP on the new stack: #SS(new SS).
    let need = (4 + count) * psize as u32;
    let new_mask = if ss_seg.big() { u32::MAX } else { 0xFFFF };
    let top = esp.wrapping_sub(need) & new_mask;
    if !ss_seg.in_limit(top, need) {
        return Err(Exception::ss(ss_err));
    }
    if off > cd.limit() {
        return Err(Exception::gp(0));
    }
    // Read the parameters from the caller's stack before anything changes.
    let mut params = Vec::with_capacity(count as usize);
    for k in 0..count {
        params.push(c.stack_peek(k * psize as u32, psize)?);
    }
    let old = c.cpu.clone();
    let r = (|| -> Res {
        c.segs_changed();
        c.cpu.seg[SS] = ss_seg;
        c.cpu.gpr[4] = esp;
        c.cpu.cpl = new_cpl;
        c.push(psize, old.seg[SS].sel as u32)?;
        c.push(psize, old.gpr[4])?;
        for p in params.iter().rev() {
            c.push(psize, *p)?;
        }
        c.push(psize, old.seg[CS].sel as u32)?;
        c.push(psize, old.eip)?;
        set_accessed(c, cs_sel, cd)
    })();
    if let Err(e) = r {
        c.cpu = old;
        return Err(e);
    }
    let mut s = cd.to_seg((cs_sel & !3) | new_cpl as u16);
    s.attr |= attr::ACCESSED;
    c.segs_changed();
    c.cpu.seg[CS] = s;
    c.cpu.eip = off;
    c.event(EventKind::PrivilegeChange {
        from: old.cpl,
        to: new_cpl,
    });
    c.request(Request::Rescan);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Task switches
// ---------------------------------------------------------------------------------------

/// What started a task switch (SDM Vol. 3A 7.3, Table 7-2: busy flag, NT and back link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Jmp,
    Call,
    Iret,
    /// Interrupt or exception through a task gate.
    Int,
}

/// Dynamic state of a task as held in a TSS (32-bit layout; 16-bit TSS fields widened).
#[derive(Clone, Copy, Debug, Default)]
struct TaskState {
    cr3: u32,
    eip: u32,
    eflags: u32,
    gpr: [u32; 8],
    sel: [u16; 6],
    ldt: u16,
    trap: bool,
}

/// Minimum limits of a TSS (SDM 7.2.2: 0x67 for 32-bit, 0x2B for 16-bit).
fn min_limit(tss32: bool) -> u32 {
    if tss32 {
        0x67
    } else {
        0x2B
    }
}

/// JMP/CALL far to a TSS descriptor (type 1/9) or a task gate (type 5) in the GDT/LDT.
pub fn far_task(c: &mut Core, sel: u16, d: Descriptor, call: bool) -> Res {
    let cpl = c.cpu.cpl;
    let rpl = (sel & 3) as u8;
    let err = sel as u32 & !3;
    // SDM 7.3 step 2: DPL of the TSS descriptor or task gate >= max(CPL, RPL).
    if d.dpl() < cpl || d.dpl() < rpl {
        return Err(Exception::gp(err));
    }
    let reason = if call { Reason::Call } else { Reason::Jmp };
    if d.typ() == 0x5 {
        if !d.present() {
            return Err(Exception::np(err));
        }
        let tsel = d.gate_selector();
        let td = tss_descriptor(c, tsel, 0, false)?;
        let ret = c.cpu.eip;
        return switch_task(c, tsel, td, reason, ret, None, 0);
    }
    if !d.present() {
        return Err(Exception::np(err));
    }
    let ret = c.cpu.eip;
    switch_task(c, sel, d, reason, ret, None, 0)
}

/// Reads and checks the TSS descriptor named by a task gate or a back link: it must be in
/// the GDT and be an available TSS (or a busy one when `busy`). Errors are #GP(sel) for
/// gates and #TS(sel) for IRET (SDM 7.3 step 3, IRET pseudo-code).
fn tss_descriptor(c: &mut Core, sel: u16, ext: u32, busy: bool) -> Res<Descriptor> {
    let err = (sel as u32 & !3) | ext;
    let fault = |e| {
        if busy {
            Exception::ts(e)
        } else {
            Exception::gp(e)
        }
    };
    if sel & 4 != 0 || sel & !3 == 0 {
        return Err(fault(err));
    }
    let d = read_descriptor(c, sel)?.ok_or(fault(err))?;
    let want: &[u8] = if busy { &[0x3, 0xB] } else { &[0x1, 0x9] };
    if d.is_seg() || !want.contains(&d.typ()) {
        return Err(fault(err));
    }
    if !d.present() {
        return Err(Exception::np(err));
    }
    Ok(d)
}

/// An interrupt or exception through a task gate of the IDT (SDM 6.12.2): switch to the
/// task, then push the error code (if any) on the new task's stack.
pub fn task_gate_interrupt(c: &mut Core, sel: u16, code: Option<u32>, ret: u32, ext: u32) -> Res {
    let d = tss_descriptor(c, sel, ext, false)?;
    switch_task(c, sel, d, Reason::Int, ret, code, ext)
}

/// IRET with NT=1: return to the task named by the back link of the current TSS
/// (SDM IRET "TASK-RETURN", 7.3).
pub fn iret_task(c: &mut Core) -> Res {
    let tr = c.cpu.tr;
    let link = c.read_sys(tr.base, 2)? as u16;
    let d = tss_descriptor(c, link, 0, true)?;
    let ret = c.cpu.eip;
    switch_task(c, link, d, Reason::Iret, ret, None, 0)
}

/// Reads the dynamic fields of the TSS at `base`.
fn read_tss(c: &mut Core, base: u32, tss32: bool) -> Res<TaskState> {
    let mut t = TaskState::default();
    let rd = |c: &mut Core, off: u32, size: u8| c.read_sys(base.wrapping_add(off), size);
    if tss32 {
        t.cr3 = rd(c, 0x1C, 4)?;
        t.eip = rd(c, 0x20, 4)?;
        t.eflags = rd(c, 0x24, 4)?;
        for k in 0..8 {
            t.gpr[k] = rd(c, 0x28 + 4 * k as u32, 4)?;
        }
        for k in 0..6 {
            t.sel[k] = rd(c, 0x48 + 4 * k as u32, 2)? as u16;
        }
        t.ldt = rd(c, 0x60, 2)? as u16;
        t.trap = rd(c, 0x64, 2)? & 1 != 0;
    } else {
        t.eip = rd(c, 0x0E, 2)?;
        t.eflags = rd(c, 0x10, 2)?;
        for k in 0..8 {
            t.gpr[k] = rd(c, 0x12 + 2 * k as u32, 2)?;
        }
        // 16-bit TSS: ES CS SS DS only.
        for k in 0..4 {
            t.sel[k] = rd(c, 0x22 + 2 * k as u32, 2)? as u16;
        }
        t.ldt = rd(c, 0x2A, 2)? as u16;
    }
    Ok(t)
}

/// Writes the current state into the outgoing TSS (SDM 7.3 step 7: GPRs, segment
/// selectors, EFLAGS and EIP; CR3 and the LDT selector are not saved).
fn save_tss(c: &mut Core, base: u32, tss32: bool, eip: u32, eflags: u32) -> Res {
    let gpr = c.cpu.gpr;
    let sels: Vec<u16> = c.cpu.seg.iter().map(|s| s.sel).collect();
    let wr =
        |c: &mut Core, off: u32, size: u8, v: u32| c.write_sys(base.wrapping_add(off), size, v);
    if tss32 {
        wr(c, 0x20, 4, eip)?;
        wr(c, 0x24, 4, eflags)?;
        for (k, v) in gpr.iter().enumerate() {
            wr(c, 0x28 + 4 * k as u32, 4, *v)?;
        }
        for (k, s) in sels.iter().enumerate() {
            wr(c, 0x48 + 4 * k as u32, 2, *s as u32)?;
        }
    } else {
        wr(c, 0x0E, 2, eip)?;
        wr(c, 0x10, 2, eflags)?;
        for (k, v) in gpr.iter().enumerate() {
            wr(c, 0x12 + 2 * k as u32, 2, *v)?;
        }
        for (k, s) in sels.iter().take(4).enumerate() {
            wr(c, 0x22 + 2 * k as u32, 2, *s as u32)?;
        }
    }
    Ok(())
}

/// Sets or clears the busy bit (type bit 1) of the TSS descriptor `sel` in the GDT.
fn set_busy(c: &mut Core, sel: u16, busy: bool) -> Res {
    let a = c.cpu.gdtr.base.wrapping_add((sel & !7) as u32 + 4);
    let hi = c.read_sys(a, 4)?;
    let new = if busy { hi | 0x200 } else { hi & !0x200 };
    c.write_sys(a, 4, new)
}

/// Checks that the linear range can be written at supervisor privilege.
fn probe_sys(c: &mut Core, lin: u32, len: u32) -> Res {
    c.translate(lin, true, false)?;
    c.translate(lin.wrapping_add(len - 1), true, false)?;
    Ok(())
}

/// The task switch proper (SDM Vol. 3A 7.3, steps 3-13). Faults detected before the
/// commit point leave the old task untouched; faults while loading the new task's
/// segments are delivered in the new task's context (step 11, Table 7-1).
pub fn switch_task(
    c: &mut Core,
    sel: u16,
    d: Descriptor,
    reason: Reason,
    ret_eip: u32,
    code: Option<u32>,
    ext: u32,
) -> Res {
    if c.svm_misc1(crate::cpu::svm::intercept::w3::TASK_SWITCH) {
        // AMD APM 15.14.2 (task-switch intercept): EXITINFO1 = the target TSS selector;
        // EXITINFO2 bit 36 = caused by IRET, bit 38 = by JMP, bit 44 = an error code is
        // pushed (in bits 31:0). Nothing of the switch has happened.
        let mut info2 = 0u64;
        if matches!(reason, Reason::Iret) {
            info2 |= 1 << 36;
        }
        if matches!(reason, Reason::Jmp) {
            info2 |= 1 << 38;
        }
        if let Some(e) = code {
            info2 |= 1 << 44 | e as u64;
        }
        let exit = crate::cpu::svm::code::TASK_SWITCH;
        return Err(crate::cpu::svm::exit_fault(c, exit, sel as u64, info2));
    }
    let err = (sel as u32 & !3) | ext;
    let tss32 = d.typ() & 8 != 0;
    let new_base = d.base();
    // Step 3: present, and the limit is large enough.
    if !d.present() {
        return Err(Exception::np(err));
    }
    if d.limit() < min_limit(tss32) {
        return Err(Exception::ts(err));
    }
    let old_tr = c.cpu.tr;
    let old32 = old_tr.attr & 8 != 0;
    if old_tr.limit < min_limit(old32) {
        return Err(Exception::ts((old_tr.sel as u32 & !3) | ext));
    }
    // Step 4: every byte that will be touched is accessible (may #PF), before any change.
    let new = read_tss(c, new_base, tss32)?;
    probe_sys(c, old_tr.base, min_limit(old32) + 1)?;
    probe_sys(c, new_base, 2)?;
    let gdt_hi = |s: u16, c: &Core| c.cpu.gdtr.base.wrapping_add((s & !7) as u32 + 4);
    probe_sys(c, gdt_hi(old_tr.sel, c), 4)?;
    probe_sys(c, gdt_hi(sel, c), 4)?;

    // ---- Commit point: the old task's state is saved. ----
    // Step 5: JMP/IRET clear the busy bit of the old task.
    if matches!(reason, Reason::Jmp | Reason::Iret) {
        set_busy(c, old_tr.sel, false)?;
    }
    // Step 6-7: save the old task (IRET saves NT cleared).
    let mut old_flags = c.cpu.flags.get();
    if reason == Reason::Iret {
        old_flags &= !NT;
    }
    save_tss(c, old_tr.base, old32, ret_eip, old_flags)?;
    // Step 9: JMP/CALL/INT mark the new task busy; IRET finds it busy already.
    if reason != Reason::Iret {
        set_busy(c, sel, true)?;
    }
    // Step 12: CALL/INT store the back link.
    if matches!(reason, Reason::Call | Reason::Int) {
        c.write_sys(new_base, 2, old_tr.sel as u32)?;
    }
    // Step 10: TR and CR0.TS.
    let mut tr = d.to_seg(sel);
    tr.attr |= 2; // busy
    c.cpu.tr = tr;
    c.cpu.cr0 |= cr0::TS;
    // SDM 17.2.4: the local breakpoint enables L0-L3 are cleared on every task switch.
    c.cpu.dr[7] &= !0x55;
    // Step 11: the new task's state.
    let mut fl = if tss32 {
        new.eflags
    } else {
        new.eflags & 0xFFFF
    };
    if matches!(reason, Reason::Call | Reason::Int) {
        fl |= NT;
    }
    c.cpu.flags.set(fl | 2);
    // The PDPTEs of PAE paging are loaded with CR3 (SDM Vol. 3A 4.4.1), even an unchanged
    // one; a reserved bit in one is #GP(0), raised in the new task (CR3 is already loaded).
    let pdptes = if tss32 && c.cpu.pae_paging() && c.mmu.nested.is_none() {
        Some(crate::mmu::pae::load_pdptes(&mut c.mem, new.cr3))
    } else {
        None
    };
    if tss32 && c.cpu.paging() && new.cr3 != c.cpu.cr3 {
        let old = c.cpu.cr3;
        c.cpu.cr3 = new.cr3;
        c.mmu.tlb.flush_nonglobal();
        c.event(EventKind::CrWrite {
            cr: 3,
            old,
            new: new.cr3,
        });
    } else if tss32 && c.cpu.paging() {
        // Same CR3: the load still flushes non-global translations (SDM 4.10.4.1).
        c.mmu.tlb.flush_nonglobal();
    }
    let mut pdpte_fault = false;
    match pdptes {
        Some(Ok(p)) => c.cpu.pdpte = p,
        Some(Err(_)) => pdpte_fault = true,
        None => {}
    }
    c.cpu.eip = if tss32 { new.eip } else { new.eip & 0xFFFF };
    for k in 0..8 {
        if tss32 {
            c.cpu.gpr[k] = new.gpr[k];
        } else {
            // Bits 31:16 are not kept: real processors set them to all ones (SDM Vol. 3A
            // 7.6: "the upper 16 bits of the registers are modified and not maintained";
            // test386.asm's 286-TSS tests, checked on real processors).
            c.cpu.gpr[k] = 0xFFFF_0000 | (new.gpr[k] & 0xFFFF);
        }
    }
    // Selectors are visible at once; descriptors are loaded (and checked) below. Until
    // then the caches are unusable.
    let nseg = if tss32 { 6 } else { 4 };
    for k in 0..6 {
        let s = if k < nseg { new.sel[k] } else { 0 };
        c.segs_changed();
        c.cpu.seg[k] = Seg {
            sel: s,
            valid: false,
            ..Seg::default()
        };
    }
    c.cpu.ldtr = Seg {
        sel: new.ldt,
        valid: false,
        ..Seg::default()
    };
    let from = c.cpu.cpl;
    c.request(Request::Rescan);
    c.event(EventKind::Note(format!(
        "task switch {:04x} -> {:04x}",
        old_tr.sel, sel
    )));
    let r = if pdpte_fault {
        Err(Exception::gp(0))
    } else {
        Ok(())
    };
    let r = r
        .and_then(|_| load_task_segments(c, &new, tss32, ext))
        .and_then(|_| {
            if let Some(e) = code {
                // SDM 6.12.2: the error code goes on the new task's stack.
                c.push(if tss32 { 4 } else { 2 }, e)?;
            }
            Ok(())
        });
    if c.cpu.cpl != from {
        c.event(EventKind::PrivilegeChange {
            from,
            to: c.cpu.cpl,
        });
    }
    if let Err(e) = r {
        // Delivered in the context of the new task (SDM 7.3 step 11, note).
        raise(c, e);
        return Ok(());
    }
    if new.trap && tss32 {
        // T flag of the new TSS: #DB after the switch with DR6.BT (SDM 7.2.1, 17.2.3).
        c.cpu.dr[6] |= 1 << 15;
        // A trap: RF is saved as it is (SDM 17.3.1.1).
        raise_keep_rf(c, Exception::new(vec::DB));
    }
    Ok(())
}

/// Loads LDTR, CS, SS, DS, ES, FS, GS of the new task with their checks (SDM 7.3 step
/// 11 and Table 7-1: #TS for a bad selector or type, #NP / #SS when not present).
fn load_task_segments(c: &mut Core, t: &TaskState, tss32: bool, ext: u32) -> Res {
    let ts = |sel: u16| Exception::ts((sel as u32 & !3) | ext);
    // LDT first: the other selectors may point into it.
    let ldt = t.ldt;
    if ldt & !3 != 0 {
        if ldt & 4 != 0 {
            return Err(ts(ldt));
        }
        let d = read_descriptor(c, ldt)?.ok_or(ts(ldt))?;
        if d.is_seg() || d.typ() != 2 {
            return Err(ts(ldt));
        }
        if !d.present() {
            return Err(ts(ldt));
        }
        c.cpu.ldtr = d.to_seg(ldt);
    }
    if tss32 && t.eflags & VM != 0 {
        // Virtual-8086 task: real-mode style segments, CPL 3.
        c.cpu.cpl = 3;
        for k in 0..6 {
            let mut s = Seg::real(t.sel[k]);
            s.attr |= 3 << 5;
            if k == CS {
                s.attr |= attr::CODE;
            }
            c.segs_changed();
            c.cpu.seg[k] = s;
        }
        return Ok(());
    }
    // CS decides the new CPL.
    let cs = t.sel[CS];
    if cs & !3 == 0 {
        return Err(ts(cs));
    }
    let cd = read_descriptor(c, cs)?.ok_or(ts(cs))?;
    let rpl = (cs & 3) as u8;
    if !cd.is_code() {
        return Err(ts(cs));
    }
    let conforming = cd.typ() & 4 != 0;
    if (conforming && cd.dpl() > rpl) || (!conforming && cd.dpl() != rpl) {
        return Err(ts(cs));
    }
    if !cd.present() {
        return Err(Exception::np((cs as u32 & !3) | ext));
    }
    c.cpu.cpl = rpl;
    // SS: writable data with RPL = DPL = CPL.
    let ss = t.sel[SS];
    if ss & !3 == 0 {
        return Err(ts(ss));
    }
    let sd = read_descriptor(c, ss)?.ok_or(ts(ss))?;
    if (ss & 3) as u8 != rpl || sd.dpl() != rpl || !sd.is_seg() || sd.is_code() || sd.typ() & 2 == 0
    {
        return Err(ts(ss));
    }
    if !sd.present() {
        return Err(Exception::ss((ss as u32 & !3) | ext));
    }
    let mut data = Vec::new();
    for k in [DS, ES, FS, GS] {
        let s = t.sel[k];
        if s & !3 == 0 {
            continue;
        }
        let d = read_descriptor(c, s)?.ok_or(ts(s))?;
        if !d.is_seg() || (d.is_code() && d.typ() & 2 == 0) {
            return Err(ts(s));
        }
        let conf = d.is_code() && d.typ() & 4 != 0;
        if !conf && (d.dpl() < rpl || d.dpl() < (s & 3) as u8) {
            return Err(ts(s));
        }
        if !d.present() {
            return Err(Exception::np((s as u32 & !3) | ext));
        }
        data.push((k, s, d));
    }
    set_accessed(c, cs, &cd)?;
    set_accessed(c, ss, &sd)?;
    c.segs_changed();
    c.cpu.seg[CS] = cd.to_seg(cs);
    c.cpu.seg[CS].attr |= attr::ACCESSED;
    c.cpu.seg[SS] = sd.to_seg(ss);
    c.cpu.seg[SS].attr |= attr::ACCESSED;
    for (k, s, d) in data {
        set_accessed(c, s, &d)?;
        c.segs_changed();
        c.cpu.seg[k] = d.to_seg(s);
        c.cpu.seg[k].attr |= attr::ACCESSED;
    }
    Ok(())
}
