//! String instructions MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS with REP/REPE/REPNE.
//! A REP instruction runs in chunks of at most `CHUNK` iterations per dispatch so that
//! interrupts and the instruction budget are honoured; it is restartable after a fault
//! (ECX/ESI/EDI reflect the completed iterations, EIP the instruction), as on hardware.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::Res;
use crate::cpu::exec::alu;
use crate::cpu::exec::io::check_io;
use crate::cpu::flags::DF;
use crate::cpu::insn::{Handler, Insn};
use crate::mmu::segment::ES;
use iced_x86::{Instruction, Mnemonic, OpKind};

const CHUNK: u32 = 1024;

const MOVS: u8 = 0;
const CMPS: u8 = 1;
const SCAS: u8 = 2;
const LODS: u8 = 3;
const STOS: u8 = 4;
const INS: u8 = 5;
const OUTS: u8 = 6;

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let a32 = (0..ins.op_count()).any(|k| {
        matches!(
            ins.op_kind(k),
            OpKind::MemorySegESI | OpKind::MemoryESEDI | OpKind::MemorySegEDI
        )
    });
    macro_rules! pick {
        ($k:expr) => {
            if a32 {
                string::<$k, true>
            } else {
                string::<$k, false>
            }
        };
    }
    Some(match ins.mnemonic() {
        Movsb | Movsw | Movsd if ins.op_count() == 2 && ins.op_kind(0) != OpKind::Register => {
            pick!(MOVS)
        }
        Cmpsb | Cmpsw | Cmpsd if ins.op_count() == 2 && ins.op_kind(0) != OpKind::Register => {
            pick!(CMPS)
        }
        Scasb | Scasw | Scasd => pick!(SCAS),
        Lodsb | Lodsw | Lodsd => pick!(LODS),
        Stosb | Stosw | Stosd => pick!(STOS),
        Insb | Insw | Insd => pick!(INS),
        Outsb | Outsw | Outsd => pick!(OUTS),
        _ => return None,
    })
}

#[inline(always)]
fn idx(c: &Core, r: usize, a32: bool) -> u32 {
    if a32 {
        c.cpu.gpr[r]
    } else {
        c.cpu.gpr[r] & 0xFFFF
    }
}

#[inline(always)]
fn advance(c: &mut Core, r: usize, a32: bool, delta: u32) {
    if a32 {
        c.cpu.gpr[r] = c.cpu.gpr[r].wrapping_add(delta);
    } else {
        let v = (c.cpu.gpr[r].wrapping_add(delta)) & 0xFFFF;
        c.cpu.gpr[r] = (c.cpu.gpr[r] & !0xFFFF) | v;
    }
}

fn string<const K: u8, const A32: bool>(c: &mut Core, i: &Insn) -> Res {
    let size = i.ins.memory_size().size().clamp(1, 4) as u8;
    let rep = i.ins.has_rep_prefix() || i.ins.has_repne_prefix();
    let repne = i.ins.has_repne_prefix();
    let delta = if c.cpu.flags.bits & DF != 0 {
        (size as u32).wrapping_neg()
    } else {
        size as u32
    };
    let src_seg = i.seg as usize;
    if K == INS || K == OUTS {
        let port = c.cpu.get16(2) as u16;
        check_io(c, port, size)?;
        if c.svm.guest {
            // AMD APM 15.10.2: STR, REP, the address size and OUTS's segment.
            let info = crate::cpu::svm::intercept::ioio_info(port, size, K == INS, true, rep, A32);
            crate::cpu::svm::intercept::io(c, i, port, size, info)?;
        }
    }
    let mut n = 0;
    loop {
        if rep {
            let count = if A32 {
                c.cpu.gpr[1]
            } else {
                c.cpu.gpr[1] & 0xFFFF
            };
            if count == 0 {
                return Ok(());
            }
            if n == CHUNK {
                // Come back to this instruction: the dispatch loop may take interrupts.
                let back = c.cpu.eip.wrapping_sub(i.len as u32);
                c.cpu.eip = if c.cpu.code32() { back } else { back & 0xFFFF };
                c.request(Request::Rescan);
                return Ok(());
            }
        }
        match K {
            MOVS => {
                let v = c.read(src_seg, idx(c, 6, A32), size)?;
                c.write(ES, idx(c, 7, A32), size, v)?;
                advance(c, 6, A32, delta);
                advance(c, 7, A32, delta);
            }
            CMPS => {
                let a = c.read(src_seg, idx(c, 6, A32), size)?;
                let b = c.read(ES, idx(c, 7, A32), size)?;
                alu::op(c, 5, size, a, b);
                advance(c, 6, A32, delta);
                advance(c, 7, A32, delta);
            }
            SCAS => {
                let b = c.read(ES, idx(c, 7, A32), size)?;
                let a = c.cpu.get(size, 0);
                alu::op(c, 5, size, a, b);
                advance(c, 7, A32, delta);
            }
            LODS => {
                let v = c.read(src_seg, idx(c, 6, A32), size)?;
                c.cpu.set(size, 0, v);
                advance(c, 6, A32, delta);
            }
            STOS => {
                let v = c.cpu.get(size, 0);
                c.write(ES, idx(c, 7, A32), size, v)?;
                advance(c, 7, A32, delta);
            }
            INS => {
                c.probe_write(ES, idx(c, 7, A32), size)?;
                let port = c.cpu.get16(2) as u16;
                let v = c.io_read(port, size);
                c.write(ES, idx(c, 7, A32), size, v)?;
                advance(c, 7, A32, delta);
            }
            _ => {
                let v = c.read(src_seg, idx(c, 6, A32), size)?;
                let port = c.cpu.get16(2) as u16;
                c.io_write(port, size, v);
                advance(c, 6, A32, delta);
            }
        }
        if !rep {
            return Ok(());
        }
        advance(c, 1, A32, u32::MAX);
        n += 1;
        if K == CMPS || K == SCAS {
            let zf = c.cpu.flags.zf();
            if (repne && zf) || (!repne && !zf) {
                return Ok(());
            }
        }
    }
}
