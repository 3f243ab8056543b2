//! Loading segment registers: MOV Sreg, LDS/LES/LFS/LGS/LSS, and the shared `load_seg`
//! with the protected-mode checks of SDM Vol. 2 MOV (segment) / Vol. 3A 5.10.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::descriptor::{read_descriptor, set_accessed};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{ea, Handler, Insn, K_REG};
use crate::mmu::segment::{attr, Seg, CS, SS};
use iced_x86::{Instruction, Mnemonic, OpKind};

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Mov if ins.op_kind(0) == OpKind::Register
            && crate::cpu::insn::sreg(ins.op0_register()).is_some() =>
        {
            mov_sreg
        }
        Lds | Les | Lfs | Lgs | Lss => lxs,
        _ => return None,
    })
}

/// Loads segment register `s` with `sel` following the current mode's rules.
pub fn load_seg(c: &mut Core, s: usize, sel: u16) -> Res {
    c.segs_changed();
    if !c.cpu.pe() {
        // Real mode: only selector and base change (the hidden limit/attributes stay, which
        // is what makes "unreal mode" work on real CPUs).
        let seg = &mut c.cpu.seg[s];
        seg.sel = sel;
        seg.base = (sel as u32) << 4;
        seg.valid = true;
        return Ok(());
    }
    if c.cpu.vm86() {
        let mut seg = Seg::real(sel);
        seg.attr |= 3 << 5; // DPL 3
        if s == CS {
            seg.attr |= attr::CODE;
        }
        c.cpu.seg[s] = seg;
        return Ok(());
    }
    let cpl = c.cpu.cpl;
    let rpl = (sel & 3) as u8;
    let err = sel as u32 & !3;
    if sel & !3 == 0 {
        if s == SS {
            return Err(Exception::gp(0));
        }
        c.segs_changed();
        c.cpu.seg[s] = Seg {
            sel,
            valid: false,
            ..Seg::default()
        };
        return Ok(());
    }
    let d = read_descriptor(c, sel)?.ok_or(Exception::gp(err))?;
    if s == SS {
        if rpl != cpl || d.dpl() != cpl || !d.is_seg() || d.is_code() || d.typ() & 2 == 0 {
            return Err(Exception::gp(err));
        }
        if !d.present() {
            return Err(Exception::ss(err));
        }
    } else {
        // Data or readable code.
        if !d.is_seg() || (d.is_code() && d.typ() & 2 == 0) {
            return Err(Exception::gp(err));
        }
        let conforming_code = d.is_code() && d.typ() & 4 != 0;
        if !conforming_code && (rpl > d.dpl() || cpl > d.dpl()) {
            return Err(Exception::gp(err));
        }
        if !d.present() {
            return Err(Exception::np(err));
        }
    }
    set_accessed(c, sel, &d)?;
    c.cpu.seg[s] = d.to_seg(sel);
    c.cpu.seg[s].attr |= attr::ACCESSED;
    Ok(())
}

fn mov_sreg(c: &mut Core, i: &Insn) -> Res {
    let s = i.r0 as usize;
    if s == CS {
        return Err(Exception::ud());
    }
    let v = if i.k1 == K_REG {
        c.cpu.get16(i.r1 as usize)
    } else {
        let a = ea(c, i);
        c.read(i.seg as usize, a, 2)?
    };
    load_seg(c, s, v as u16)?;
    if s == SS {
        // MOV SS inhibits interrupts and debug traps for one instruction (SDM 6.8.3).
        c.cpu.shadow = true;
    }
    c.request(Request::Rescan);
    Ok(())
}

fn lxs(c: &mut Core, i: &Insn) -> Res {
    if i.k1 == K_REG {
        return Err(Exception::ud());
    }
    let s = match i.ins.mnemonic() {
        Mnemonic::Lds => 3,
        Mnemonic::Les => 0,
        Mnemonic::Lfs => 4,
        Mnemonic::Lgs => 5,
        _ => SS,
    };
    let size = i.size;
    let a = ea(c, i);
    let off = c.read(i.seg as usize, a, size)?;
    let sa = a.wrapping_add(size as u32);
    let sa = if i.a16 { sa & 0xFFFF } else { sa };
    let sel = c.read(i.seg as usize, sa, 2)? as u16;
    load_seg(c, s, sel)?;
    c.cpu.set(size, i.r0 as usize, off);
    if s == SS {
        c.cpu.shadow = true;
    }
    c.request(Request::Rescan);
    Ok(())
}
