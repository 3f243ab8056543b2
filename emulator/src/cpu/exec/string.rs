//! String instructions MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS with REP/REPE/REPNE.
//! A REP instruction runs in chunks of at most `CHUNK` iterations per dispatch so that
//! interrupts and the instruction budget are honoured; it is restartable after a fault
//! (ECX/ESI/EDI reflect the completed iterations, EIP the instruction), as on hardware.
//! REP MOVS and REP STOS with 32-bit addresses, DF = 0 and flat segments copy or fill the
//! iterations that stay in one page of each operand at once (`bulk`), with the result and
//! the counts of the iterations one at a time.

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

/// Runs the next iterations of REP MOVS / REP STOS (32-bit addresses, DF = 0) that lie in
/// one page of each operand, at most up to the chunk's end: both segments flat, both
/// pages in the TLB as RAM (the destination's with a write entry, so it holds no cached
/// code), the elements aligned. A forward copy whose destination starts inside its
/// source is split so that no copied run overlaps its source (the iterations one at a
/// time read bytes that earlier ones wrote). Returns false, having done nothing, when
/// the next iteration does not qualify (it then runs on its own).
fn bulk<const K: u8>(c: &mut Core, size: u8, src_seg: usize, n: &mut u32) -> bool {
    let count = c.cpu.gpr[1];
    let left = (CHUNK - *n).min(count);
    if left == 0 || !c.seg_is_flat(ES) || (K == MOVS && !c.seg_is_flat(src_seg)) {
        return false;
    }
    let user = c.cpu.cpl == 3;
    let sz = size as u32;
    let di = c.cpu.gpr[7];
    let Some(dp) = c.mmu.direct_aligned(true, di, size, user) else {
        return false;
    };
    let mut k = left.min((0x1000 - (di & 0xFFF)) / sz);
    if K == MOVS {
        let si = c.cpu.gpr[6];
        let Some(sp) = c.mmu.direct_aligned(false, si, size, user) else {
            return false;
        };
        k = k.min((0x1000 - (si & 0xFFF)) / sz);
        if dp > sp && dp - sp < (k * sz) as usize {
            k = (dp - sp) as u32 / sz;
        }
        let len = (k * sz) as usize;
        let ram = c.mem.ram.len();
        if k == 0 || sp + len > ram || dp + len > ram {
            return false;
        }
        c.mem.ram.copy_within(sp..sp + len, dp);
        c.cpu.gpr[6] = si.wrapping_add(k * sz);
        c.mmu.tlb.hits += 2 * k as u64;
    } else {
        let len = (k * sz) as usize;
        let Some(d) = c.mem.ram.get_mut(dp..dp + len) else {
            return false;
        };
        let v = c.cpu.gpr[0].to_le_bytes();
        if v[..size as usize].iter().all(|&b| b == v[0]) {
            d.fill(v[0]);
        } else {
            for e in d.chunks_exact_mut(size as usize) {
                e.copy_from_slice(&v[..size as usize]);
            }
        }
        c.mmu.tlb.hits += k as u64;
    }
    c.cpu.gpr[7] = di.wrapping_add(k * sz);
    c.cpu.gpr[1] = count - k;
    *n += k;
    true
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
    let bulky = (K == MOVS || K == STOS) && rep && A32 && c.cpu.flags.bits & DF == 0;
    loop {
        if bulky && bulk::<K>(c, size, src_seg, &mut n) {
            continue;
        }
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

#[cfg(test)]
mod tests {
    use crate::boot::{boot, BootKind};
    use crate::machine::{MachineConfig, RunExit};

    /// REP MOVSB / STOSD in flat 32-bit code, where whole pages go at once (`bulk`):
    /// a forward copy onto its own source replicates the first byte as the iterations one
    /// at a time do, an unaligned fill (one iteration at a time) and an aligned one cross
    /// pages, and the registers end as after the last iteration.
    #[test]
    fn bulk_rep_movs_and_stos_equal_the_iterations_one_at_a_time() {
        let code: &[u8] = &[
            0xC6, 0x05, 0x00, 0x00, 0x30, 0x00, 0x5A, // mov byte [0x300000], 0x5A
            0xBE, 0x00, 0x00, 0x30, 0x00, // mov esi, 0x300000
            0xBF, 0x01, 0x00, 0x30, 0x00, // mov edi, 0x300001
            0xB9, 0x88, 0x13, 0x00, 0x00, // mov ecx, 5000
            0xFC, // cld
            0xF3, 0xA4, // rep movsb
            0xBF, 0xFD, 0x0F, 0x40, 0x00, // mov edi, 0x400FFD
            0xB9, 0xD0, 0x07, 0x00, 0x00, // mov ecx, 2000
            0xB8, 0x44, 0x43, 0x42, 0x41, // mov eax, 0x41424344
            0xF3, 0xAB, // rep stosd
            0xBF, 0x00, 0x00, 0x50, 0x00, // mov edi, 0x500000
            0xB9, 0xB8, 0x0B, 0x00, 0x00, // mov ecx, 3000
            0xF3, 0xAB, // rep stosd
            0xB0, 0x00, 0xE6, 0xF4, // mov al, 0; out 0xF4, al (exit)
        ];
        let kind = BootKind::Flat {
            addr: 0x10_0000,
            real: false,
        };
        let mut m = boot(MachineConfig::default(), code, &kind).expect("boots");
        assert_eq!(m.run(1_000_000), RunExit::Exit(1));
        let ram = &m.core.mem.ram;
        assert!(ram[0x30_0000..0x30_0000 + 5001].iter().all(|&b| b == 0x5A));
        assert_eq!(ram[0x30_0000 + 5001], 0);
        let fill = |at: usize, n: usize| {
            ram[at..at + 4 * n]
                .chunks(4)
                .all(|e| e == [0x44, 0x43, 0x42, 0x41])
                && ram[at + 4 * n] == 0
                && ram[at - 1] == 0
        };
        assert!(fill(0x40_0FFD, 2000));
        assert!(fill(0x50_0000, 3000));
        let g = &m.core.cpu.gpr;
        assert_eq!((g[1], g[6], g[7]), (0, 0x30_0000 + 5000, 0x50_0000 + 12000));
        // 12 other instructions; 5000, 2000 and 3000 iterations in chunks of 1024 (each
        // chunk counts once: the dispatch loop may take interrupts between them).
        assert_eq!(m.icount(), 12 + 5 + 2 + 3);
    }
}
