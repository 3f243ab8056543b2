//! Exception and interrupt delivery, in one place (SDM Vol. 3A ch. 6 and 20.1.4):
//! real-mode IVT, protected-mode IDT gates (interrupt, trap, task), privilege changes with
//! the stack switch from the TSS, delivery from virtual-8086 mode, double fault and triple
//! fault. It must not decide *when* to interrupt (the dispatch loop does).

use crate::cpu::ctx::{Core, Request};
use crate::cpu::descriptor::{check_new_ss, read_descriptor, set_accessed, tss_stack, TssStack};
use crate::cpu::exception::{vec, ExcClass, Exception, Res};
use crate::cpu::flags::{AC, IF, NT, RF, TF, VM};
use crate::mmu::segment::{Descriptor, Seg, CS, DS, ES, FS, GS, SS};
use crate::trace::EventKind;

/// What kind of event is being delivered: it decides the DPL check and the EXT bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A fault, trap or abort raised by the CPU (also ICEBP): a fault during its delivery
    /// has EXT = 1 in its error code (SDM 6.13).
    Exception,
    /// INT n / INT3 / INTO: the gate DPL must be >= CPL (SDM 6.12.1.1).
    Software,
    /// An external interrupt (PIC): EXT = 1 in any error code.
    External,
}

/// Raises an exception at the current instruction (EIP already points at it), handling
/// double and triple faults. A fault-class exception saves EFLAGS with RF = 1 (see
/// `fault_sets_rf`); use `raise_keep_rf` for the #DB of an instruction breakpoint and
/// for traps.
pub fn raise(c: &mut Core, e: Exception) {
    raise_inner(c, e, true)
}

/// `raise` for the events whose saved EFLAGS keeps RF as it is (SDM Vol. 3A 17.3.1.1):
/// the #DB fault of an instruction breakpoint, and trap-class #DB (task-switch T flag).
pub fn raise_keep_rf(c: &mut Core, e: Exception) {
    raise_inner(c, e, false)
}

/// Fault-class exceptions (SDM Vol. 3A Table 6-1): #DE, #DB (general detect; the other
/// #DBs use `raise_keep_rf` or are delivered as traps by the dispatch loop), #BR, #UD,
/// #NM, #TS, #NP, #SS, #GP, #PF, #MF, #AC, #XM. Not the aborts (#DF, #MC) and not the
/// traps (#BP, #OF, delivered as software interrupts).
fn fault_sets_rf(vector: u8) -> bool {
    matches!(
        vector,
        vec::DE
            | vec::DB
            | vec::BR
            | vec::UD
            | vec::NM
            | vec::TS
            | vec::NP
            | vec::SS
            | vec::GP
            | vec::PF
            | vec::MF
            | vec::AC
            | vec::XM
    )
}

fn raise_inner(c: &mut Core, e: Exception, fault_rf: bool) {
    c.last_raised = (e.vector, c.cpu.eip);
    let mut cur = e;
    let mut set_rf = fault_rf;
    for _ in 0..8 {
        if cur.vector == vec::VMEXIT {
            // A #VMEXIT recorded by a fault path in guest mode (`svm::exit_fault`).
            crate::cpu::svm::vmexit::perform_pending(c);
            return;
        }
        if crate::cpu::svm::intercept::exception(c, cur.vector) {
            // AMD APM 15.12: an intercepted exception exits instead of being delivered;
            // EXITINFO1 = its error code, EXITINFO2 = the faulting address for #PF (CR2
            // is left alone).
            let info2 = if cur.vector == vec::PF {
                cur.cr2 as u64
            } else {
                0
            };
            let code = crate::cpu::svm::code::EXCP_BASE + cur.vector as u64;
            crate::cpu::svm::vmexit(c, code, cur.error_code().unwrap_or(0) as u64, info2);
            return;
        }
        // SDM Vol. 3A 17.3.1.1: for a fault the EFLAGS image saved on the stack (or in the
        // TSS for a task gate) has RF = 1, so that an IRET back to the faulting instruction
        // does not re-trigger an instruction breakpoint on it. Delivery clears RF in the
        // handler's EFLAGS, so setting it in the live register first is equivalent.
        if set_rf && fault_sets_rf(cur.vector) {
            c.cpu.flags.bits |= RF;
        }
        set_rf = true;
        if (cur.vector as usize) < c.stats.exceptions.len() {
            c.stats.exceptions[cur.vector as usize] += 1;
        }
        if cur.vector == vec::PF {
            c.cpu.cr2 = cur.cr2;
            c.event(EventKind::PageFault {
                addr: cur.cr2,
                error_code: cur.error_code().unwrap_or(0),
            });
        } else {
            c.event(EventKind::Exception {
                vector: cur.vector,
                error_code: cur.error_code(),
            });
        }
        let eip = c.cpu.eip;
        match deliver(c, cur.vector, cur.error_code(), eip, Source::Exception) {
            Ok(()) => return,
            Err(e2) => {
                if cur.vector == vec::DF {
                    break;
                }
                let (c1, c2) = (Exception::class(cur.vector), Exception::class(e2.vector));
                let double = (c1 == ExcClass::Contributory && c2 == ExcClass::Contributory)
                    || (c1 == ExcClass::PageFault && c2 != ExcClass::Benign);
                if double {
                    c.event(EventKind::DoubleFault);
                    cur = Exception::with_code(vec::DF, 0);
                } else {
                    cur = e2;
                }
            }
        }
    }
    triple_fault(c);
}

pub fn triple_fault(c: &mut Core) {
    c.event(EventKind::TripleFault);
    if c.svm_misc1(crate::cpu::svm::intercept::w3::SHUTDOWN) {
        // AMD APM 15.12 / 15.13: a guest's shutdown exits to the host instead of
        // shutting the machine down.
        crate::cpu::svm::vmexit(c, crate::cpu::svm::code::SHUTDOWN, 0, 0);
        return;
    }
    c.request(Request::TripleFault);
}

/// Delivers vector `v` with the return address `ret_eip`. On failure the machine state is
/// unchanged except for what the SDM says happens before the fault is detected.
pub fn deliver(c: &mut Core, v: u8, code: Option<u32>, ret_eip: u32, src: Source) -> Res {
    c.cpu.halted = false;
    c.request(Request::Rescan);
    if src != Source::Exception {
        c.stats.interrupts[v as usize] += 1;
    }
    if c.svm.guest {
        // An exit while this event is being delivered reports it in EXITINTINFO.
        c.svm.delivering = crate::cpu::svm::inject::of_delivery(v, code, src);
    }
    let r = if !c.cpu.pe() {
        deliver_real(c, v, ret_eip)
    } else {
        deliver_protected(c, v, code, ret_eip, src)
    };
    if r.is_ok() {
        c.svm.delivering = 0;
    }
    // CPL and EFLAGS.AC may have changed (or been restored): refresh the #AC switch.
    c.update_align_check();
    r
}

fn deliver_real(c: &mut Core, v: u8, ret_eip: u32) -> Res {
    let off = v as u32 * 4;
    if off + 3 > c.cpu.idtr.limit as u32 {
        return Err(Exception::gp(off + 2));
    }
    let base = c.cpu.idtr.base;
    let ip = c.read_sys(base.wrapping_add(off), 2)?;
    let cs = c.read_sys(base.wrapping_add(off + 2), 2)? as u16;
    let flags = c.cpu.flags.get();
    let old_cs = c.cpu.seg[CS].sel as u32;
    let sp = c.cpu.gpr[4];
    let r = (|| {
        c.push(2, flags)?;
        c.push(2, old_cs)?;
        c.push(2, ret_eip & 0xFFFF)
    })();
    if let Err(e) = r {
        c.cpu.gpr[4] = sp;
        return Err(e);
    }
    c.cpu.flags.set_bit(IF, false);
    c.cpu.flags.set_bit(TF, false);
    c.cpu.flags.set_bit(AC, false);
    c.cpu.flags.set_bit(RF, false);
    load_real_cs(c, cs);
    c.cpu.eip = ip;
    Ok(())
}

/// Real-mode style CS load (base = sel * 16; the limit and attributes keep what the
/// hidden cache held, as on a P6, except when coming from protected mode).
pub fn load_real_cs(c: &mut Core, sel: u16) {
    c.segs_changed();
    let s = &mut c.cpu.seg[CS];
    s.sel = sel;
    s.base = (sel as u32) << 4;
    s.valid = true;
}

fn deliver_protected(c: &mut Core, v: u8, code: Option<u32>, ret_eip: u32, src: Source) -> Res {
    // SDM 6.13: EXT is set when the fault happens while delivering an event external to
    // the program (an IRQ or an earlier exception), clear for INT n / INT3 / INTO.
    let ext = (src != Source::Software) as u32;
    let idt_err = v as u32 * 8 + 2 + ext;
    if v as u32 * 8 + 7 > c.cpu.idtr.limit as u32 {
        return Err(Exception::gp(idt_err));
    }
    let a = c.cpu.idtr.base.wrapping_add(v as u32 * 8);
    let gate = Descriptor::new(c.read_sys(a, 4)?, c.read_sys(a.wrapping_add(4), 4)?);
    let typ = gate.typ();
    if gate.is_seg() || !matches!(typ, 0x5 | 0x6 | 0x7 | 0xE | 0xF) {
        return Err(Exception::gp(idt_err));
    }
    // Software interrupts check the gate DPL; in v8086 mode with IOPL < 3 INT n is #GP(0)
    // before getting here (handled by the INT instruction).
    if src == Source::Software && gate.dpl() < c.cpu.cpl {
        return Err(Exception::gp(idt_err));
    }
    if !gate.present() {
        return Err(Exception::np(idt_err));
    }
    if typ == 0x5 {
        // SDM 6.12.2: a task gate switches tasks; the error code goes on the new stack.
        let tsel = gate.gate_selector();
        return crate::cpu::exec::task::task_gate_interrupt(c, tsel, code, ret_eip, ext);
    }
    let gate32 = typ & 8 != 0;
    let trap = typ & 1 != 0;
    let sel = gate.gate_selector();
    if sel & !3 == 0 {
        return Err(Exception::gp(ext));
    }
    let serr = (sel as u32 & !3) | ext;
    let d = read_descriptor(c, sel)?.ok_or(Exception::gp(serr))?;
    if !d.is_code() || d.dpl() > c.cpu.cpl {
        return Err(Exception::gp(serr));
    }
    if !d.present() {
        return Err(Exception::np(serr));
    }
    let conforming = d.typ() & 4 != 0;
    let from_vm = c.cpu.vm86();
    let new_cpl = if conforming { c.cpu.cpl } else { d.dpl() };
    let offset = gate.gate_offset() & if gate32 { 0xFFFF_FFFF } else { 0xFFFF };
    if offset > d.limit() {
        return Err(Exception::gp(ext));
    }
    let old = c.cpu.clone();
    let flags = c.cpu.flags.get();
    let r = (|| -> Res {
        if new_cpl < c.cpu.cpl {
            if from_vm && new_cpl != 0 {
                return Err(Exception::gp(serr));
            }
            let TssStack { ss, esp } = tss_stack(c, new_cpl, ext)?;
            let ss_seg = check_new_ss(c, ss, new_cpl, ext)?;
            // SDM 6.12.1.2 / INT pseudo-code: no room on the new stack is #SS(new SS).
            let words = if from_vm { 9 } else { 5 } + code.is_some() as u32;
            let need = words * if gate32 { 4 } else { 2 };
            let nmask = if ss_seg.big() { u32::MAX } else { 0xFFFF };
            if !ss_seg.in_limit(esp.wrapping_sub(need) & nmask, need) {
                return Err(Exception::ss((ss as u32 & !3) | ext));
            }
            let (old_ss, old_esp) = (c.cpu.seg[SS].sel as u32, c.cpu.gpr[4]);
            c.segs_changed();
            c.cpu.seg[SS] = ss_seg;
            c.cpu.gpr[4] = esp;
            c.cpu.cpl = new_cpl;
            c.cpu.flags.set_bit(VM, false);
            let sz = if gate32 { 4 } else { 2 };
            if from_vm {
                for s in [GS, FS, DS, ES] {
                    let sel = old.seg[s].sel as u32;
                    c.push(sz, sel)?;
                }
            }
            c.push(sz, old_ss)?;
            c.push(sz, old_esp)?;
            if from_vm {
                for s in [ES, DS, FS, GS] {
                    c.segs_changed();
                    c.cpu.seg[s] = Seg {
                        valid: false,
                        ..Seg::default()
                    };
                }
            }
            c.event(EventKind::PrivilegeChange {
                from: old.cpl,
                to: new_cpl,
            });
        } else if from_vm {
            return Err(Exception::gp(serr));
        }
        let sz = if gate32 { 4 } else { 2 };
        c.push(sz, flags)?;
        c.push(sz, old.seg[CS].sel as u32)?;
        c.push(sz, ret_eip)?;
        if let Some(e) = code {
            c.push(sz, e)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        c.cpu = old;
        return Err(e);
    }
    set_accessed(c, sel, &d)?;
    c.segs_changed();
    c.cpu.seg[CS] = d.to_seg((sel & !3) | new_cpl as u16);
    c.cpu.cpl = new_cpl;
    c.cpu.eip = offset;
    c.cpu.flags.bits &= !(TF | NT | RF | VM);
    if !trap {
        c.cpu.flags.bits &= !IF;
    }
    Ok(())
}

// ---- Debug registers (SDM Vol. 3A 17.2) ----

/// DR7: breakpoint `n` is enabled locally or globally (L n / G n).
fn bp_enabled(dr7: u32, n: usize) -> bool {
    (dr7 >> (2 * n)) & 3 != 0
}

/// DR7 R/W n: 00 execute, 01 data write, 10 I/O (not offered: CPUID has no DE and
/// MOV CR4 rejects CR4.DE, so no I/O breakpoints), 11 data read or write.
fn bp_rw(dr7: u32, n: usize) -> u32 {
    (dr7 >> (16 + 4 * n)) & 3
}

/// DR7 LEN n in bytes (00 = 1, 01 = 2, 11 = 4, 10 = 8 on later CPUs).
fn bp_len(dr7: u32, n: usize) -> u32 {
    match (dr7 >> (18 + 4 * n)) & 3 {
        0 => 1,
        1 => 2,
        3 => 4,
        _ => 8,
    }
}

/// Instruction breakpoints (SDM 17.3.1.1): before the instruction at CS:EIP executes, an
/// enabled DR0-DR3 with R/W = 00 equal to its linear address raises a #DB *fault*
/// (EIP = that instruction), unless EFLAGS.RF = 1 (the handler resumes with RF set).
/// Returns true when #DB was delivered.
pub fn insn_breakpoint(c: &mut Core) -> bool {
    let dr7 = c.cpu.dr[7];
    if dr7 & 0xFF == 0 || c.cpu.flags.bits & RF != 0 {
        return false;
    }
    let pc = c.cpu.seg[CS].base.wrapping_add(c.cpu.eip);
    let mut hit = 0;
    for n in 0..4 {
        if bp_enabled(dr7, n) && bp_rw(dr7, n) == 0 && c.cpu.dr[n] == pc {
            hit |= 1 << n;
        }
    }
    if hit == 0 {
        return false;
    }
    // B0-B3 report the breakpoints that matched (17.2.3).
    c.cpu.dr[6] = (c.cpu.dr[6] & !0xF) | hit;
    // RF is saved as it is (0 here), not set as for other faults (17.3.1.1).
    raise_keep_rf(c, Exception::new(vec::DB));
    true
}

/// Data breakpoints hit by the memory accesses of `ins`, computed from the register state
/// *before* it executes (iced-x86's operand info, implicit stack and string accesses
/// included; a REP string instruction is checked at its first element). Returns the DR6
/// B0-B3 bits; the caller raises the #DB trap after the instruction retires (17.3.1.2).
pub fn data_breakpoints(c: &Core, ins: &iced_x86::Instruction) -> u32 {
    use iced_x86::{InstructionInfoFactory, OpAccess, Register};
    let dr7 = c.cpu.dr[7];
    let mut armed = false;
    for n in 0..4 {
        armed |= bp_enabled(dr7, n) && bp_rw(dr7, n) & 1 == 1;
    }
    if !armed {
        return 0;
    }
    let mut f = InstructionInfoFactory::new();
    let info = f.info(ins);
    let reg = |r: Register, _e: usize, _s: usize| -> Option<u64> {
        let seg = match r {
            Register::ES => Some(ES),
            Register::CS => Some(CS),
            Register::SS => Some(SS),
            Register::DS => Some(DS),
            Register::FS => Some(FS),
            Register::GS => Some(GS),
            _ => None,
        };
        if let Some(s) = seg {
            return Some(c.cpu.seg[s].base as u64);
        }
        let (i, size) = crate::cpu::insn::gpr(r)?;
        Some(c.cpu.get(size, i as usize) as u64)
    };
    let mut hit = 0;
    for m in info.used_memory() {
        let write = matches!(
            m.access(),
            OpAccess::Write | OpAccess::ReadWrite | OpAccess::CondWrite | OpAccess::ReadCondWrite
        );
        let Some(lin) = m.virtual_address(0, reg) else {
            continue;
        };
        let lin = lin as u32;
        let len = (m.memory_size().size() as u32).max(1);
        for n in 0..4 {
            let rw = bp_rw(dr7, n);
            if !bp_enabled(dr7, n) || rw & 1 == 0 || (rw == 1 && !write) {
                continue;
            }
            let blen = bp_len(dr7, n);
            let start = c.cpu.dr[n] & !(blen - 1);
            // Overlap of [lin, lin+len) and [start, start+blen).
            if lin < start.wrapping_add(blen) && start < lin.wrapping_add(len) {
                hit |= 1 << n;
            }
        }
    }
    hit
}
