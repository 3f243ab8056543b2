//! Stack instructions: PUSH, POP, PUSHA/PUSHAD, POPA/POPAD, PUSHF/POPF (with the IOPL and
//! VM rules of SDM Vol. 2 POPF), ENTER, LEAVE. Segment-register pushes/pops are here too;
//! POP SS/DS/ES/FS/GS load through `segload`.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::segload::load_seg;
use crate::cpu::flags::{AC, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM};
use crate::cpu::insn::{ea, Handler, Insn, K_IMM, K_MEM, K_REG};
use crate::cpu::svm::intercept as svm_ic;
use crate::mmu::segment::{CS, SS};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let seg_op = ins.op_count() == 1
        && ins.op_kind(0) == OpKind::Register
        && crate::cpu::insn::sreg(ins.op0_register()).is_some();
    Some(match ins.mnemonic() {
        Push if seg_op => push_sreg,
        Pop if seg_op => pop_sreg,
        Push => push,
        Pop => pop,
        Pusha | Pushad => pusha,
        Popa | Popad => popa,
        Pushf | Pushfd => pushf,
        Popf | Popfd => popf,
        Enter => enter,
        Leave => leave,
        _ => return None,
    })
}

/// Operand size of a stack instruction (from iced's decode of the prefix/default).
#[inline(always)]
fn osize(i: &Insn) -> u8 {
    match i.ins.stack_pointer_increment() {
        -2 | 2 => 2,
        -4 | 4 => 4,
        n if n.unsigned_abs() % 4 == 0 && n.unsigned_abs() >= 16 => 4,
        _ => i.size,
    }
}

fn push(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    let v = match i.k0 {
        K_REG => c.cpu.get(size, i.r0 as usize),
        K_MEM => {
            let a = ea(c, i);
            c.read(i.seg as usize, a, size)?
        }
        K_IMM => i.imm,
        _ => return Err(Exception::ud()),
    };
    c.push(size, v)
}

fn pop(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    if i.k0 == K_REG {
        let v = c.pop(size)?;
        c.cpu.set(size, i.r0 as usize, v);
        return Ok(());
    }
    // POP r/m: ESP is incremented before the address is computed (SDM POP).
    let esp = c.cpu.gpr[4];
    let v = c.pop(size)?;
    let a = ea(c, i);
    if let Err(e) = c.write(i.seg as usize, a, size, v) {
        c.cpu.gpr[4] = esp;
        return Err(e);
    }
    Ok(())
}

fn push_sreg(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    let v = c.cpu.seg[i.r0 as usize].sel as u32;
    if size == 4 {
        // P6 writes only the low 16 bits of the 32-bit slot.
        let mask = c.sp_mask();
        let nsp = c.cpu.gpr[4].wrapping_sub(4) & mask;
        c.probe_write(SS, nsp, 4)?;
        c.write(SS, nsp, 2, v)?;
        c.cpu.gpr[4] = (c.cpu.gpr[4] & !mask) | nsp;
        return Ok(());
    }
    c.push(2, v)
}

fn pop_sreg(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    let esp = c.cpu.gpr[4];
    let v = c.pop(size)?;
    if let Err(e) = load_seg(c, i.r0 as usize, v as u16) {
        c.cpu.gpr[4] = esp;
        return Err(e);
    }
    if i.r0 as usize == SS {
        c.cpu.shadow = true;
        c.request(Request::Rescan);
    }
    let _ = CS;
    Ok(())
}

fn pusha(c: &mut Core, i: &Insn) -> Res {
    let size = if i.ins.mnemonic() == Mnemonic::Pushad {
        4
    } else {
        2
    };
    let esp = c.cpu.gpr[4];
    let mask = c.sp_mask();
    // Probe every slot: with a 16-bit stack the eight pushes may wrap from offset 0 to
    // 0xFFFE (SP=8 pushes at 6, 4, 2, 0, FFFE...), which is legal in real mode.
    for k in 1..=8u32 {
        c.probe_write(SS, esp.wrapping_sub(k * size as u32) & mask, size)?;
    }
    for r in 0..8 {
        let v = if r == 4 { esp } else { c.cpu.gpr[r] };
        if let Err(e) = c.push(size, v) {
            c.cpu.gpr[4] = esp;
            return Err(e);
        }
    }
    Ok(())
}

fn popa(c: &mut Core, i: &Insn) -> Res {
    let size = if i.ins.mnemonic() == Mnemonic::Popad {
        4
    } else {
        2
    };
    let esp = c.cpu.gpr[4];
    let mut vals = [0u32; 8];
    for r in (0..8).rev() {
        match c.pop(size) {
            Ok(v) => vals[r] = v,
            Err(e) => {
                c.cpu.gpr[4] = esp;
                return Err(e);
            }
        }
    }
    for (r, v) in vals.iter().enumerate() {
        if r != 4 {
            c.cpu.set(size, r, *v);
        }
    }
    Ok(())
}

fn pushf(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    if c.cpu.vm86() && c.cpu.flags.iopl() < 3 {
        // VME virtual interrupts are not implemented: IOPL-sensitive #GP(0) (SDM 20.2.7).
        return Err(Exception::gp(0));
    }
    svm_ic::insn1(c, i, svm_ic::w3::PUSHF)?;
    // RF and VM are pushed as 0 (SDM PUSHF).
    let f = c.cpu.flags.get() & !(RF | VM);
    c.push(size, f)
}

fn popf(c: &mut Core, i: &Insn) -> Res {
    let size = osize(i);
    let vm = c.cpu.vm86();
    let iopl = c.cpu.flags.iopl();
    if vm && iopl < 3 {
        return Err(Exception::gp(0));
    }
    svm_ic::insn1(c, i, svm_ic::w3::POPF)?;
    let v = c.pop(size)?;
    let old = c.cpu.flags.get();
    let mut changeable = TF | crate::cpu::flags::ARITH | crate::cpu::flags::DF | NT | AC | ID;
    if !c.cpu.pe() || c.cpu.cpl == 0 {
        changeable |= IF | IOPL;
    } else if vm {
        changeable |= IF; // IOPL == 3 here; IOPL itself is not changed in v8086 mode
    } else if c.cpu.cpl <= iopl {
        changeable |= IF;
    }
    if size == 2 {
        changeable &= 0xFFFF;
    }
    // VIF, VIP and VM are never changed by POPF; RF is cleared.
    changeable &= !(VIF | VIP | VM | RF);
    let new = (old & !changeable) | (v & changeable);
    c.cpu.flags.set(new & !RF);
    c.update_align_check();
    if new & IF != 0 && old & IF == 0 {
        c.request(Request::Rescan);
    }
    c.request(Request::Rescan); // TF may have changed
    Ok(())
}

fn enter(c: &mut Core, i: &Insn) -> Res {
    let size = osize_enter(i);
    let alloc = i.imm & 0xFFFF;
    let level = i.imm2 & 0x1F;
    let mask = c.sp_mask();
    let save_esp = c.cpu.gpr[4];
    let save_ebp = c.cpu.gpr[5];
    let r = (|| -> Res {
        c.push(size, c.cpu.gpr[5])?;
        let frame = c.cpu.gpr[4] & mask;
        if level > 0 {
            let mut bp = c.cpu.gpr[5];
            for _ in 1..level {
                bp = bp.wrapping_sub(size as u32);
                let v = c.read(SS, bp & mask, size)?;
                c.push(size, v)?;
            }
            c.push(size, frame)?;
        }
        let nsp = c.cpu.gpr[4].wrapping_sub(alloc) & mask;
        // The final stack pointer must be writable (SDM ENTER: #SS if it isn't).
        c.probe_write(SS, nsp, size)?;
        // The frame pointer is written at the stack's width when that is narrower: with a
        // 32-bit operand on a 16-bit stack only BP is written and EBP keeps bits 31:16 (SDM
        // Vol. 2A ENTER: the stack-size attribute selects BP or EBP; test386.asm, checked
        // on real processors).
        let fsize = if mask == 0xFFFF { 2 } else { size };
        c.cpu.set(fsize, 5, frame);
        c.cpu.gpr[4] = (c.cpu.gpr[4] & !mask) | nsp;
        Ok(())
    })();
    if r.is_err() {
        c.cpu.gpr[4] = save_esp;
        c.cpu.gpr[5] = save_ebp;
    }
    r
}

fn osize_enter(i: &Insn) -> u8 {
    match i.ins.code() {
        iced_x86::Code::Enterw_imm16_imm8 => 2,
        _ => 4,
    }
}

fn leave(c: &mut Core, i: &Insn) -> Res {
    let size = match i.ins.code() {
        iced_x86::Code::Leavew => 2,
        _ => 4,
    };
    let mask = c.sp_mask();
    let esp = c.cpu.gpr[4];
    c.cpu.gpr[4] = (esp & !mask) | (c.cpu.gpr[5] & mask);
    match c.pop(size) {
        Ok(v) => {
            c.cpu.set(size, 5, v);
            Ok(())
        }
        Err(e) => {
            c.cpu.gpr[4] = esp;
            Err(e)
        }
    }
}

#[allow(dead_code)]
const UNUSED: u32 = IF;
