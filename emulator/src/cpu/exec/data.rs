//! Data movement and flag-register helpers: MOV, MOVZX, MOVSX, LEA, XCHG, CBW/CWDE,
//! CWD/CDQ, BSWAP, XLAT, LAHF/SAHF, SALC, SETcc, CMOVcc, CLC/STC/CMC/CLD/STD, NOP forms,
//! and WAIT (which only checks for a coprocessor that Traplab does not have yet).

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::flags::{AF, CF, DF, PF, SF, ZF};
use crate::cpu::insn::{ea, get1, get1_sized, set0, sreg, Handler, Insn, K_MEM, K_REG};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Mov => {
            // Segment, control and debug register forms belong to other families.
            if ins.op_kind(0) == OpKind::Register && sreg(ins.op0_register()).is_some() {
                return None;
            }
            if ins.op_kind(1) == OpKind::Register && sreg(ins.op1_register()).is_some() {
                return Some(mov_from_sreg);
            }
            if ins.op0_register().is_cr()
                || ins.op1_register().is_cr()
                || ins.op0_register().is_dr()
                || ins.op1_register().is_dr()
                || ins.op0_register().is_tr()
                || ins.op1_register().is_tr()
            {
                return None;
            }
            mov
        }
        Movzx => movzx,
        Movsx => movsx,
        Lea => lea,
        Xchg => xchg,
        Cbw => cbw,
        Cwde => cwde,
        Cwd => cwd,
        Cdq => cdq,
        Bswap => bswap,
        Xlatb => xlat,
        Lahf => lahf,
        Sahf => sahf,
        Clc => clc,
        Stc => stc,
        Cmc => cmc,
        Cld => cld,
        Std => std_,
        // The hint space 0F 18-1F (and 0F 0D) is NOP r/m on the P6 family (SDM Vol. 2B
        // NOP; "reserved NOP"): later CPUs gave some forms meanings that a CPU without the
        // feature still runs as NOPs: PREFETCHh (SSE), ENDBR32/64 and RDSSP (CET: NOP when
        // CET is off), CLDEMOTE. Compilers emit ENDBR32 (libgcc's helpers carry it).
        Nop | Reservednop | Prefetchnta | Prefetcht0 | Prefetcht1 | Prefetcht2 | Endbr32
        | Endbr64 | Rdsspd | Cldemote => nop,
        Salc => salc,
        Seto | Setno | Setb | Setae | Sete | Setne | Setbe | Seta | Sets | Setns | Setp | Setnp
        | Setl | Setge | Setle | Setg => setcc,
        Cmovo | Cmovno | Cmovb | Cmovae | Cmove | Cmovne | Cmovbe | Cmova | Cmovs | Cmovns
        | Cmovp | Cmovnp | Cmovl | Cmovge | Cmovle | Cmovg => cmovcc,
        Ud2 | Ud0 | Ud1 => ud,
        _ => {
            // Multi-byte NOPs (0F 1F /0, 0F 18-1F hints) decode as Nop above; PAUSE is REP NOP.
            if ins.code() == Code::Pause {
                return Some(pause);
            }
            return None;
        }
    })
}

fn mov(c: &mut Core, i: &Insn) -> Res {
    let v = get1(c, i)?;
    set0(c, i, v)
}

fn mov_from_sreg(c: &mut Core, i: &Insn) -> Res {
    let v = c.cpu.seg[i.r1 as usize].sel as u32;
    if i.k0 == K_REG {
        // P6: with a 32-bit destination register the upper bits are cleared.
        c.cpu.set(i.size.max(2), i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, 2, v)
    }
}

fn src_size(i: &Insn) -> u8 {
    i.ins.memory_size().size().clamp(1, 2) as u8
}

fn movzx(c: &mut Core, i: &Insn) -> Res {
    let ss = if i.k1 == K_MEM {
        src_size(i)
    } else {
        iced_size(i.ins.op1_register())
    };
    let v = get1_sized(c, i, ss)?;
    c.cpu.set(i.size, i.r0 as usize, v);
    Ok(())
}

fn movsx(c: &mut Core, i: &Insn) -> Res {
    let ss = if i.k1 == K_MEM {
        src_size(i)
    } else {
        iced_size(i.ins.op1_register())
    };
    let v = get1_sized(c, i, ss)?;
    let v = if ss == 1 {
        v as u8 as i8 as i32 as u32
    } else {
        v as u16 as i16 as i32 as u32
    };
    c.cpu.set(i.size, i.r0 as usize, v);
    Ok(())
}

pub fn iced_size(r: iced_x86::Register) -> u8 {
    crate::cpu::insn::gpr(r).map(|(_, s)| s).unwrap_or(4)
}

fn lea(c: &mut Core, i: &Insn) -> Res {
    if i.k1 != K_MEM {
        return Err(Exception::ud());
    }
    let a = ea(c, i);
    c.cpu.set(i.size, i.r0 as usize, a);
    Ok(())
}

fn xchg(c: &mut Core, i: &Insn) -> Res {
    if i.k0 == K_REG && i.k1 == K_REG {
        let a = c.cpu.get(i.size, i.r0 as usize);
        let b = c.cpu.get(i.size, i.r1 as usize);
        c.cpu.set(i.size, i.r0 as usize, b);
        c.cpu.set(i.size, i.r1 as usize, a);
        return Ok(());
    }
    // One operand is memory (iced puts it first for the r/m form).
    let reg = if i.k0 == K_MEM { i.r1 } else { i.r0 };
    let a = ea(c, i);
    let lin = c.linear(i.seg as usize, a, i.size, true)?;
    let user = c.user_mode();
    let old = c.read_lin(lin, i.size, user)?;
    let r = c.cpu.get(i.size, reg as usize);
    c.write_lin(lin, i.size, r, user)?;
    c.cpu.set(i.size, reg as usize, old);
    Ok(())
}

fn cbw(c: &mut Core, _i: &Insn) -> Res {
    let v = c.cpu.get8(0) as u8 as i8 as i16 as u16 as u32;
    c.cpu.set16(0, v);
    Ok(())
}
fn cwde(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.gpr[0] = c.cpu.get16(0) as u16 as i16 as i32 as u32;
    Ok(())
}
fn cwd(c: &mut Core, _i: &Insn) -> Res {
    let hi = if c.cpu.get16(0) & 0x8000 != 0 {
        0xFFFF
    } else {
        0
    };
    c.cpu.set16(2, hi);
    Ok(())
}
fn cdq(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.gpr[2] = if c.cpu.gpr[0] & 0x8000_0000 != 0 {
        0xFFFF_FFFF
    } else {
        0
    };
    Ok(())
}
fn bswap(c: &mut Core, i: &Insn) -> Res {
    let r = i.r0 as usize;
    if i.size == 2 {
        // BSWAP with a 16-bit operand is undefined; P6 clears the low word.
        c.cpu.set16(r, 0);
    } else {
        c.cpu.gpr[r] = c.cpu.gpr[r].swap_bytes();
    }
    Ok(())
}
fn xlat(c: &mut Core, i: &Insn) -> Res {
    let a16 = i.a16 || i.ins.memory_base() == iced_x86::Register::BX;
    let base = if a16 { c.cpu.get16(3) } else { c.cpu.gpr[3] };
    let off = base.wrapping_add(c.cpu.get8(0));
    let off = if a16 { off & 0xFFFF } else { off };
    let v = c.read(i.seg as usize, off, 1)?;
    c.cpu.set8(0, v);
    Ok(())
}
fn lahf(c: &mut Core, _i: &Insn) -> Res {
    let f = c.cpu.flags.get();
    c.cpu.set8(4, (f & 0xD5) | 2);
    Ok(())
}
fn sahf(c: &mut Core, _i: &Insn) -> Res {
    let ah = c.cpu.get8(4);
    let m = SF | ZF | AF | PF | CF;
    let f = c.cpu.flags.get();
    c.cpu.flags.set((f & !m) | (ah & m));
    Ok(())
}
fn clc(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.flags.set_bit(CF, false);
    Ok(())
}
fn stc(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.flags.set_bit(CF, true);
    Ok(())
}
fn cmc(c: &mut Core, _i: &Insn) -> Res {
    let cf = c.cpu.flags.cf();
    c.cpu.flags.set_bit(CF, !cf);
    Ok(())
}
fn cld(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.flags.bits &= !DF;
    Ok(())
}
fn std_(c: &mut Core, _i: &Insn) -> Res {
    c.cpu.flags.bits |= DF;
    Ok(())
}
fn nop(_c: &mut Core, _i: &Insn) -> Res {
    Ok(())
}
/// PAUSE: a NOP here, but an SVM guest's PAUSE may be intercepted (AMD APM 15.14.4; the
/// pause filter count is not modelled: every PAUSE exits).
fn pause(c: &mut Core, i: &Insn) -> Res {
    crate::cpu::svm::intercept::insn1(c, i, crate::cpu::svm::intercept::w3::PAUSE)
}
fn ud(_c: &mut Core, _i: &Insn) -> Res {
    Err(Exception::ud())
}
fn setcc(c: &mut Core, i: &Insn) -> Res {
    let v = c.cpu.flags.cond(i.cc) as u32;
    if i.k0 == K_REG {
        c.cpu.set8(i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, 1, v)
    }
}
fn cmovcc(c: &mut Core, i: &Insn) -> Res {
    // The source is always read (a memory source faults even if the condition is false).
    let v = get1(c, i)?;
    if c.cpu.flags.cond(i.cc) {
        c.cpu.set(i.size, i.r0 as usize, v);
    }
    Ok(())
}

/// SALC (D6, undocumented but present on every Intel CPU from the 8086 to the P6 and
/// later): AL = CF ? 0xFF : 0x00, flags unchanged.
fn salc(c: &mut Core, _i: &Insn) -> Res {
    let v = if c.cpu.flags.cf() { 0xFF } else { 0 };
    c.cpu.set8(0, v);
    Ok(())
}
