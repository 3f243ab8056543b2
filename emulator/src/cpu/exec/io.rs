//! Port I/O instructions IN and OUT with the protected-mode checks: CPL <= IOPL, else the
//! TSS I/O permission bitmap (SDM Vol. 1 18.5.2); always the bitmap in virtual-8086 mode.
//! INS/OUTS live in `string`.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{Handler, Insn, K_IMM};
use crate::cpu::svm::intercept::{self as svm_ic, ioio_info};
use iced_x86::{Instruction, Mnemonic};

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::In => in_,
        Mnemonic::Out => out,
        _ => return None,
    })
}

/// #GP(0) unless the current privilege may access ports `port..port+size`.
pub fn check_io(c: &mut Core, port: u16, size: u8) -> Res {
    if !c.cpu.pe() || (!c.cpu.vm86() && c.cpu.cpl <= c.cpu.flags.iopl()) {
        return Ok(());
    }
    let tr = c.cpu.tr;
    // Only a 32-bit TSS has a bitmap.
    if tr.attr & 0x8 == 0 || tr.limit < 103 {
        return Err(Exception::gp(0));
    }
    let base = c.read_sys(tr.base.wrapping_add(102), 2)?;
    let off = base + (port as u32 >> 3);
    if off + 1 > tr.limit {
        return Err(Exception::gp(0));
    }
    let bits = c.read_sys(tr.base.wrapping_add(off), 2)?;
    let m = ((1u32 << size) - 1) << (port & 7);
    if bits & m != 0 {
        return Err(Exception::gp(0));
    }
    Ok(())
}

fn port_of(c: &Core, i: &Insn, k_port: u8) -> u16 {
    if k_port == K_IMM {
        (i.imm & 0xFF) as u16
    } else {
        c.cpu.get16(2) as u16
    }
}

fn in_(c: &mut Core, i: &Insn) -> Res {
    let port = port_of(c, i, i.k1);
    check_io(c, port, i.size)?;
    if c.svm.guest {
        let info = ioio_info(port, i.size, true, false, false, false);
        svm_ic::io(c, i, port, i.size, info)?;
    }
    let v = c.io_read(port, i.size);
    c.cpu.set(i.size, 0, v);
    Ok(())
}

fn out(c: &mut Core, i: &Insn) -> Res {
    let port = port_of(c, i, i.k0);
    let size = crate::cpu::insn::gpr(i.ins.op1_register())
        .map(|(_, s)| s)
        .unwrap_or(1);
    check_io(c, port, size)?;
    if c.svm.guest {
        let info = ioio_info(port, size, false, false, false, false);
        svm_ic::io(c, i, port, size, info)?;
    }
    let v = c.cpu.get(size, 0);
    c.io_write(port, size, v);
    Ok(())
}
