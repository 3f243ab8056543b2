//! The x87 environment and state images (SDM Vol. 1 8.1.10, Figures 8-9 to 8-12): FSTENV/
//! FNSTENV and FLDENV (14 or 28 bytes), FSAVE/FNSAVE and FRSTOR (94 or 108 bytes: the
//! environment then ST(0)..ST(7)), in the real-mode and protected-mode layouts of the
//! 16- and 32-bit operand sizes. Owns those layouts; it must not change the FPU before the
//! whole image has been read (or checked writable).

use super::control::wait_part;
use super::float::F80;
use super::{begin_control_wait, begin_nowait, read_mem, sync_ferr, write_mem, Fpu};
use crate::cpu::ctx::Core;
use crate::cpu::exception::Res;
use crate::cpu::insn::{Handler, Insn};
use iced_x86::Code;

pub fn select(code: Code) -> Option<Handler> {
    use Code::*;
    Some(match code {
        Fnstenv_m14byte | Fnstenv_m28byte => fnstenv,
        Fstenv_m14byte | Fstenv_m28byte => fstenv,
        Fldenv_m14byte | Fldenv_m28byte => fldenv,
        Fnsave_m94byte | Fnsave_m108byte => fnsave,
        Fsave_m94byte | Fsave_m108byte => fsave,
        Frstor_m94byte | Frstor_m108byte => frstor,
        _ => return None,
    })
}

/// The 32-bit (28-byte) layout, else the 16-bit (14-byte) one.
fn wide(i: &Insn) -> bool {
    use Code::*;
    matches!(
        i.ins.code(),
        Fnstenv_m28byte
            | Fstenv_m28byte
            | Fldenv_m28byte
            | Fnsave_m108byte
            | Fsave_m108byte
            | Frstor_m108byte
    )
}

/// Writes the environment image of `f`. In real and virtual-8086 mode the pointers are
/// stored as 20-bit (32-bit format: 32-bit) linear addresses with the opcode.
pub fn env_image(f: &Fpu, wide: bool, real: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(28);
    let mut put = |v: u32, n: usize| out.extend_from_slice(&v.to_le_bytes()[..n]);
    let n = if wide { 4 } else { 2 };
    let hi = if wide { 0xFFFF_0000 } else { 0 };
    put(f.cw as u32 | hi, n);
    put(f.sw as u32 | hi, n);
    put(f.tag_word() as u32 | hi, n);
    if real {
        let ip = (f.fcs as u32).wrapping_shl(4).wrapping_add(f.fip);
        let dp = (f.fds as u32).wrapping_shl(4).wrapping_add(f.fdp);
        put(ip & 0xFFFF | hi, n);
        put(((ip >> 16) << 12) | f.fop as u32 & 0x7FF, n);
        put(dp & 0xFFFF | hi, n);
        put((dp >> 16) << 12, n);
    } else if wide {
        put(f.fip, 4);
        put(f.fcs as u32 | (f.fop as u32 & 0x7FF) << 16, 4);
        put(f.fdp, 4);
        put(f.fds as u32 | hi, 4);
    } else {
        put(f.fip & 0xFFFF, 2);
        put(f.fcs as u32, 2);
        put(f.fdp & 0xFFFF, 2);
        put(f.fds as u32, 2);
    }
    out
}

/// Loads an environment image into `f` (tags: only "empty" matters, SDM Vol. 1 8.1.7).
pub fn load_env(f: &mut Fpu, b: &[u8], wide: bool, real: bool) {
    let n = if wide { 4 } else { 2 };
    let get = |k: usize| {
        let mut w = [0u8; 4];
        w[..n].copy_from_slice(&b[k * n..k * n + n]);
        u32::from_le_bytes(w)
    };
    f.cw = (get(0) as u16 & 0x1F3F) | 0x40;
    f.sw = get(1) as u16;
    f.set_tag_word(get(2) as u16);
    if real {
        let ip_hi = if wide { 0xFFFF } else { 0xF };
        f.fip = get(3) & 0xFFFF | ((get(4) >> 12) & ip_hi) << 16;
        f.fop = get(4) as u16 & 0x7FF;
        f.fcs = 0;
        f.fdp = get(5) & 0xFFFF | ((get(6) >> 12) & ip_hi) << 16;
        f.fds = 0;
    } else if wide {
        f.fip = get(3);
        f.fcs = get(4) as u16;
        f.fop = (get(4) >> 16) as u16 & 0x7FF;
        f.fdp = get(5);
        f.fds = get(6) as u16;
    } else {
        f.fip = get(3);
        f.fcs = get(4) as u16;
        f.fdp = get(5);
        f.fds = get(6) as u16;
    }
    f.update_es();
}

fn real_format(c: &Core) -> bool {
    !c.cpu.protected()
}

fn fnstenv(c: &mut Core, i: &Insn) -> Res {
    begin_nowait(c)?;
    let img = env_image(&c.cpu.fpu, wide(i), real_format(c));
    write_mem(c, i, 0, &img)?;
    // FNSTENV then masks every exception (SDM Vol. 2A FSTENV).
    c.cpu.fpu.cw |= 0x3F;
    Ok(())
}
fn fstenv(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fnstenv(c, i)
}

fn fldenv(c: &mut Core, i: &Insn) -> Res {
    if !begin_control_wait(c, i)? {
        return Ok(());
    }
    let n = if wide(i) { 28 } else { 14 };
    let b = read_mem(c, i, 0, n)?;
    let real = real_format(c);
    load_env(&mut c.cpu.fpu, &b, wide(i), real);
    sync_ferr(c);
    Ok(())
}

fn fnsave(c: &mut Core, i: &Insn) -> Res {
    begin_nowait(c)?;
    let f = &c.cpu.fpu;
    let mut img = env_image(f, wide(i), real_format(c));
    for k in 0..8 {
        img.extend_from_slice(&f.st(k).to_bytes());
    }
    write_mem(c, i, 0, &img)?;
    // FNSAVE then initializes the FPU as FNINIT does.
    c.cpu.fpu.init();
    sync_ferr(c);
    Ok(())
}
fn fsave(c: &mut Core, i: &Insn) -> Res {
    if !wait_part(c, i)? {
        return Ok(());
    }
    fnsave(c, i)
}

fn frstor(c: &mut Core, i: &Insn) -> Res {
    if !begin_control_wait(c, i)? {
        return Ok(());
    }
    let n = if wide(i) { 28 } else { 14 };
    let b = read_mem(c, i, 0, n + 80)?;
    let real = real_format(c);
    let f = &mut c.cpu.fpu;
    load_env(f, &b[..n], wide(i), real);
    for k in 0..8 {
        let p = f.phys(k);
        f.regs[p] = F80::from_bytes(&b[n + 10 * k..n + 10 * k + 10]);
    }
    sync_ferr(c);
    Ok(())
}
