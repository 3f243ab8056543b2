//! Descriptor-table and TSS helpers shared by segment loads, far transfers, task switches
//! and event delivery: reading a descriptor through the GDT/LDT, setting its accessed bit,
//! reading an inner ring's stack from the TSS, validating a new stack segment. Results are
//! plain values (a descriptor, `None` for a selector outside its table, a `TssStack`); it
//! must not decide which exception a caller raises for a missing descriptor, nor deliver
//! anything.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::mmu::segment::{Descriptor, Seg};

/// Reads the descriptor `sel` names in the GDT or LDT. Ok(None) when the selector is
/// outside its table (or the LDT is unusable): each caller picks the exception and error
/// code the SDM gives for its case. Err is a fault of the table read itself (#PF).
pub fn read_descriptor(c: &mut Core, sel: u16) -> Res<Option<Descriptor>> {
    let (base, limit) = if sel & 4 != 0 {
        if !c.cpu.ldtr.valid || c.cpu.ldtr.sel & !3 == 0 {
            return Ok(None);
        }
        (c.cpu.ldtr.base, c.cpu.ldtr.limit)
    } else {
        (c.cpu.gdtr.base, c.cpu.gdtr.limit as u32)
    };
    let off = (sel & !7) as u32;
    if off + 7 > limit {
        return Ok(None);
    }
    let a = base.wrapping_add(off);
    let lo = c.read_sys(a, 4)?;
    let hi = c.read_sys(a.wrapping_add(4), 4)?;
    Ok(Some(Descriptor::new(lo, hi)))
}

/// Sets the accessed bit of a code/data descriptor in memory (SDM 3.4.5.1).
pub fn set_accessed(c: &mut Core, sel: u16, d: &Descriptor) -> Res {
    if d.is_seg() && d.hi() & 0x100 == 0 {
        let base = if sel & 4 != 0 {
            c.cpu.ldtr.base
        } else {
            c.cpu.gdtr.base
        };
        let a = base.wrapping_add((sel & !7) as u32 + 4);
        c.write_sys(a, 4, d.hi() | 0x100)?;
    }
    Ok(())
}

/// A stack pointer for an inner ring, as stored in a TSS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TssStack {
    pub ss: u16,
    /// ESP (zero-extended SP from a 16-bit TSS).
    pub esp: u32,
}

/// Reads the ring-`dpl` stack pointer from the current TSS (SDM 7.2.1); #TS when the TSS
/// is too short to hold it.
pub fn tss_stack(c: &mut Core, dpl: u8, ext: u32) -> Res<TssStack> {
    let tr = c.cpu.tr;
    let tss32 = tr.attr & 0x8 != 0;
    if tss32 {
        let off = 4 + dpl as u32 * 8;
        if off + 5 > tr.limit {
            return Err(Exception::ts((tr.sel as u32 & !3) | ext));
        }
        let esp = c.read_sys(tr.base.wrapping_add(off), 4)?;
        let ss = c.read_sys(tr.base.wrapping_add(off + 4), 2)? as u16;
        Ok(TssStack { ss, esp })
    } else {
        let off = 2 + dpl as u32 * 4;
        if off + 3 > tr.limit {
            return Err(Exception::ts((tr.sel as u32 & !3) | ext));
        }
        let sp = c.read_sys(tr.base.wrapping_add(off), 2)?;
        let ss = c.read_sys(tr.base.wrapping_add(off + 2), 2)? as u16;
        Ok(TssStack { ss, esp: sp })
    }
}

/// Validates a stack segment selector for a privilege change to `dpl` (SDM 6.12.1.2).
pub fn check_new_ss(c: &mut Core, ss: u16, dpl: u8, ext: u32) -> Res<Seg> {
    if ss & !3 == 0 {
        return Err(Exception::ts(ext));
    }
    let err = (ss as u32 & !3) | ext;
    let d = read_descriptor(c, ss)?.ok_or(Exception::ts(err))?;
    if (ss & 3) as u8 != dpl || d.dpl() != dpl || !d.is_seg() || d.is_code() || d.typ() & 2 == 0 {
        return Err(Exception::ts(err));
    }
    if !d.present() {
        return Err(Exception::ss(err));
    }
    set_accessed(c, ss, &d)?;
    Ok(d.to_seg(ss))
}
