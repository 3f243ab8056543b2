//! Bit tests and scans, and the atomic read-modify-write instructions: BT, BTS, BTR, BTC,
//! BSF, BSR, CMPXCHG, CMPXCHG8B, XADD (SDM Vol. 2A). SETcc, CMOVcc and BSWAP live in
//! `data`. Must not know about other families.
//!
//! LOCK (SDM Vol. 2A "LOCK"): a single CPU executes every instruction atomically, so the
//! prefix needs no action here. Its misuse (a non-lockable instruction, or a register
//! destination) is #UD: iced-x86 decodes those byte sequences as `Code::INVALID`, which
//! `exec::select` maps to #UD; the tests below pin that down.

use crate::cpu::ctx::Core;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::alu;
use crate::cpu::flags::{mask, CF, ZF};
use crate::cpu::insn::{ea, get0, get1, Handler, Insn, K_IMM, K_MEM, K_REG};
use iced_x86::{Instruction, Mnemonic};

const BT: u8 = 0;
const BTS: u8 = 1;
const BTR: u8 = 2;
const BTC: u8 = 3;

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Bt => bt::<BT>,
        Mnemonic::Bts => bt::<BTS>,
        Mnemonic::Btr => bt::<BTR>,
        Mnemonic::Btc => bt::<BTC>,
        Mnemonic::Bsf => bsf,
        Mnemonic::Bsr => bsr,
        // SDM Vol. 2B TZCNT/LZCNT: on a processor without BMI1 / LZCNT (a P6, which CPUID
        // here describes), F3 0F BC and F3 0F BD execute as BSF and BSR, the REP prefix
        // ignored. Compilers emit TZCNT for BSF on purpose (Linux's __ffs does).
        Mnemonic::Tzcnt => bsf,
        Mnemonic::Lzcnt => bsr,
        Mnemonic::Cmpxchg => cmpxchg,
        Mnemonic::Cmpxchg8b => cmpxchg8b,
        Mnemonic::Xadd => xadd,
        _ => return None,
    })
}

/// BT/BTS/BTR/BTC (SDM BT, "bit base / bit offset"). With an immediate, or with a register
/// as the bit base, the offset is taken modulo the operand width. With a register offset
/// and a memory bit base the offset is signed and may address memory outside the operand:
/// the operand-sized unit at EA + size * floor(offset / width) is accessed.
/// CF = the selected bit; ZF unchanged; OF SF AF PF undefined and left unchanged
/// (`cpu::undefined_flags`).
fn bt<const K: u8>(c: &mut Core, i: &Insn) -> Res {
    let bits = i.size as u32 * 8;
    let off = get1(c, i)?;
    let mut addr = 0;
    let bit = if i.k0 == K_MEM && i.k1 != K_IMM {
        let signed = if i.size == 2 {
            off as u16 as i16 as i32
        } else {
            off as i32
        };
        let unit = signed >> bits.trailing_zeros();
        addr = ea(c, i).wrapping_add((unit as u32).wrapping_mul(i.size as u32));
        if i.a16 {
            addr &= 0xFFFF;
        }
        off & (bits - 1)
    } else {
        if i.k0 == K_MEM {
            addr = ea(c, i);
        }
        off & (bits - 1)
    };
    let seg = i.seg as usize;
    let old = if i.k0 == K_REG {
        c.cpu.get(i.size, i.r0 as usize)
    } else if K == BT {
        c.read(seg, addr, i.size)?
    } else {
        // Check the write before anything changes.
        c.probe_write(seg, addr, i.size)?;
        c.read(seg, addr, i.size)?
    };
    let b = 1u32 << bit;
    let new = match K {
        BTS => old | b,
        BTR => old & !b,
        BTC => old ^ b,
        _ => old,
    };
    if K != BT {
        if i.k0 == K_REG {
            c.cpu.set(i.size, i.r0 as usize, new);
        } else {
            c.write(seg, addr, i.size, new)?;
        }
    }
    c.cpu.flags.set_bit(CF, old & b != 0);
    Ok(())
}

/// BSF/BSR: a zero source sets ZF and leaves the destination unchanged (P6 behaviour; the
/// SDM says "undefined"). CF OF SF AF PF are undefined and left unchanged.
fn bsf(c: &mut Core, i: &Insn) -> Res {
    let s = get1(c, i)? & mask(i.size);
    scan_result(c, i, s, s.trailing_zeros())
}

fn bsr(c: &mut Core, i: &Insn) -> Res {
    let s = get1(c, i)? & mask(i.size);
    scan_result(c, i, s, 31u32.wrapping_sub(s.leading_zeros()))
}

fn scan_result(c: &mut Core, i: &Insn, s: u32, idx: u32) -> Res {
    if s != 0 {
        c.cpu.set(i.size, i.r0 as usize, idx);
    }
    c.cpu.flags.set_bit(ZF, s == 0);
    Ok(())
}

/// CMPXCHG r/m, r (SDM CMPXCHG): flags as CMP accumulator, destination. Equal: destination
/// = source. Not equal: accumulator = destination, and a memory destination is written
/// back with its own value (the processor always writes), so the write is checked first.
fn cmpxchg(c: &mut Core, i: &Insn) -> Res {
    let src = c.cpu.get(i.size, i.r1 as usize);
    let acc = c.cpu.get(i.size, 0);
    let dest = if i.k0 == K_REG {
        c.cpu.get(i.size, i.r0 as usize)
    } else {
        let a = ea(c, i);
        c.probe_write(i.seg as usize, a, i.size)?;
        c.read(i.seg as usize, a, i.size)?
    };
    let eq = acc == dest;
    let new = if eq { src } else { dest };
    if i.k0 == K_REG {
        c.cpu.set(i.size, i.r0 as usize, new);
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, i.size, new)?;
    }
    alu::op(c, alu::SUB, i.size, acc, dest);
    if !eq {
        c.cpu.set(i.size, 0, dest);
    }
    Ok(())
}

/// CMPXCHG8B m64 (SDM CMPXCHG8B): compares EDX:EAX with m64; equal: ZF = 1 and m64 =
/// ECX:EBX; else ZF = 0 and EDX:EAX = m64 (memory is written back either way). Other flags
/// unchanged. A register operand is #UD (iced decodes it as invalid; kept as a guard).
fn cmpxchg8b(c: &mut Core, i: &Insn) -> Res {
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    let a = ea(c, i);
    let a4 = if i.a16 {
        a.wrapping_add(4) & 0xFFFF
    } else {
        a.wrapping_add(4)
    };
    let seg = i.seg as usize;
    c.check_operand_alignment(seg, a, 8)?; // #AC: m64 must be 8-aligned (SDM Table 6-7)
    c.probe_write(seg, a, 4)?;
    c.probe_write(seg, a4, 4)?;
    let lo = c.read(seg, a, 4)?;
    let hi = c.read(seg, a4, 4)?;
    let g = &c.cpu.gpr;
    let eq = lo == g[0] && hi == g[2];
    let (nlo, nhi) = if eq { (g[3], g[1]) } else { (lo, hi) };
    c.write(seg, a, 4, nlo)?;
    c.write(seg, a4, 4, nhi)?;
    if !eq {
        c.cpu.gpr[0] = lo;
        c.cpu.gpr[2] = hi;
    }
    c.cpu.flags.set_bit(ZF, eq);
    Ok(())
}

/// XADD r/m, r (SDM XADD): TEMP = SRC + DEST; SRC = DEST; DEST = TEMP; flags as ADD.
fn xadd(c: &mut Core, i: &Insn) -> Res {
    let src = c.cpu.get(i.size, i.r1 as usize);
    if i.k0 == K_MEM {
        let a = ea(c, i);
        c.probe_write(i.seg as usize, a, i.size)?;
    }
    let dest = get0(c, i)?;
    let sum = alu::op(c, alu::ADD, i.size, dest, src);
    if i.k0 == K_REG {
        c.cpu.set(i.size, i.r1 as usize, dest);
        c.cpu.set(i.size, i.r0 as usize, sum);
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, i.size, sum)?;
        c.cpu.set(i.size, i.r1 as usize, dest);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::exception::vec;
    use crate::machine::{Machine, MachineConfig};
    use iced_x86::{Decoder, DecoderOptions};

    fn exec(m: &mut Machine, bytes: &[u8]) -> Res {
        let ins = Decoder::new(32, bytes, DecoderOptions::NONE).decode();
        let i = Insn::new(ins, crate::cpu::exec::select(&ins));
        (i.inner)(&mut m.core, &i)
    }

    fn machine() -> Machine {
        Machine::new(MachineConfig::default())
    }

    #[test]
    fn bt_register_offset_addresses_beyond_the_operand() {
        let mut m = machine();
        m.core.mem.write(0x2000, 4, 0);
        m.core.mem.write(0x2004, 4, 0);
        m.core.mem.write(0x1FFC, 4, 0x8000_0000);
        m.core.cpu.gpr[0] = 0x2000; // EAX = bit base
                                    // bts [eax], ebx with EBX = 37: dword at 0x2004, bit 5.
        m.core.cpu.gpr[3] = 37;
        exec(&mut m, &[0x0F, 0xAB, 0x18]).unwrap();
        assert_eq!(m.core.mem.read(0x2004, 4), 1 << 5);
        assert_eq!(m.core.mem.read(0x2000, 4), 0);
        assert!(!m.core.cpu.flags.cf());
        // bt [eax], ebx with EBX = -1: bit 31 of the dword at 0x1FFC.
        m.core.cpu.gpr[3] = 0xFFFF_FFFF;
        exec(&mut m, &[0x0F, 0xA3, 0x18]).unwrap();
        assert!(m.core.cpu.flags.cf());
        // 16-bit: btc word [eax], bx with BX = -17 (0xFFEF): word at 0x2000 - 4, bit 15.
        m.core.cpu.gpr[3] = 0xFFEF;
        exec(&mut m, &[0x66, 0x0F, 0xBB, 0x18]).unwrap();
        assert_eq!(m.core.mem.read(0x1FFC, 4), 0x8000_8000);
        // Immediate offsets wrap modulo the width: bt dword [eax], 37 tests bit 5 of 0x2000.
        exec(&mut m, &[0x0F, 0xBA, 0x20, 37]).unwrap();
        assert!(!m.core.cpu.flags.cf());
        // Register base: the offset wraps too (btr ecx, ebx with EBX = 33 clears bit 1).
        m.core.cpu.gpr[1] = 0xF;
        m.core.cpu.gpr[3] = 33;
        exec(&mut m, &[0x0F, 0xB3, 0xD9]).unwrap();
        assert_eq!(m.core.cpu.gpr[1], 0xD);
        assert!(m.core.cpu.flags.cf());
    }

    #[test]
    fn bsf_bsr_zero_source_keeps_destination() {
        let mut m = machine();
        m.core.cpu.gpr[0] = 0xDEAD_BEEF;
        m.core.cpu.gpr[3] = 0;
        exec(&mut m, &[0x0F, 0xBC, 0xC3]).unwrap(); // bsf eax, ebx
        assert_eq!(m.core.cpu.gpr[0], 0xDEAD_BEEF);
        assert!(m.core.cpu.flags.zf());
        m.core.cpu.gpr[3] = 0x0001_0100;
        exec(&mut m, &[0x0F, 0xBD, 0xC3]).unwrap(); // bsr eax, ebx
        assert_eq!(m.core.cpu.gpr[0], 16);
        assert!(!m.core.cpu.flags.zf());
        exec(&mut m, &[0x0F, 0xBC, 0xC3]).unwrap(); // bsf eax, ebx
        assert_eq!(m.core.cpu.gpr[0], 8);
    }

    /// F3 0F BC/BD (TZCNT/LZCNT on a BMI1 CPU) are BSF/BSR on a P6: a zero source leaves
    /// the destination and sets ZF (TZCNT would write 32 and set CF), LZCNT's position is
    /// BSR's index (LZCNT would count the zeros above it).
    #[test]
    fn rep_bsf_and_rep_bsr_are_bsf_and_bsr() {
        let mut m = machine();
        m.core.cpu.gpr[0] = 0xDEAD_BEEF;
        m.core.cpu.gpr[3] = 0;
        exec(&mut m, &[0xF3, 0x0F, 0xBC, 0xC3]).unwrap(); // rep bsf eax, ebx
        assert_eq!(m.core.cpu.gpr[0], 0xDEAD_BEEF);
        assert!(m.core.cpu.flags.zf());
        m.core.cpu.gpr[3] = 0x0001_0100;
        exec(&mut m, &[0xF3, 0x0F, 0xBC, 0xC3]).unwrap();
        assert_eq!(m.core.cpu.gpr[0], 8);
        assert!(!m.core.cpu.flags.zf());
        exec(&mut m, &[0xF3, 0x0F, 0xBD, 0xC3]).unwrap(); // rep bsr eax, ebx
        assert_eq!(m.core.cpu.gpr[0], 16);
        assert_eq!(m.core.stats.unimplemented, 0);
    }

    #[test]
    fn cmpxchg8b_both_outcomes() {
        let mut m = machine();
        m.core.mem.write(0x3000, 4, 0x1111_1111);
        m.core.mem.write(0x3004, 4, 0x2222_2222);
        m.core.cpu.gpr = [0x1111_1111, 0xCCCC, 0x2222_2222, 0xBBBB, 0, 0, 0x3000, 0];
        exec(&mut m, &[0xF0, 0x0F, 0xC7, 0x0E]).unwrap(); // lock cmpxchg8b [esi]
        assert!(m.core.cpu.flags.zf());
        assert_eq!(m.core.mem.read(0x3000, 4), 0xBBBB);
        assert_eq!(m.core.mem.read(0x3004, 4), 0xCCCC);
        // Now EDX:EAX differs: loaded from memory, ZF = 0, memory unchanged.
        exec(&mut m, &[0x0F, 0xC7, 0x0E]).unwrap();
        assert!(!m.core.cpu.flags.zf());
        assert_eq!((m.core.cpu.gpr[0], m.core.cpu.gpr[2]), (0xBBBB, 0xCCCC));
        assert_eq!(m.core.mem.read(0x3000, 4), 0xBBBB);
        // A register operand does not decode: #UD.
        assert_eq!(
            exec(&mut m, &[0x0F, 0xC7, 0xC8]).unwrap_err().vector,
            vec::UD
        );
    }

    #[test]
    fn lock_misuse_is_ud_and_valid_lock_works() {
        let mut m = machine();
        for bad in [
            &[0xF0, 0x01, 0xD8][..],   // lock add eax, ebx (register destination)
            &[0xF0, 0x89, 0x18],       // lock mov [eax], ebx (not lockable)
            &[0xF0, 0x0F, 0xA3, 0x18], // lock bt [eax], ebx (BT is not lockable)
            &[0xF0, 0x0F, 0xB1, 0xC8], // lock cmpxchg eax, ecx (register destination)
            &[0xF0, 0x38, 0x18],       // lock cmp [eax], bl
        ] {
            assert_eq!(exec(&mut m, bad).unwrap_err().vector, vec::UD, "{bad:02x?}");
        }
        m.core.cpu.gpr[0] = 0x4000;
        m.core.cpu.gpr[3] = 7;
        m.core.mem.write(0x4000, 4, 10);
        exec(&mut m, &[0xF0, 0x0F, 0xC1, 0x18]).unwrap(); // lock xadd [eax], ebx
        assert_eq!(m.core.mem.read(0x4000, 4), 17);
        assert_eq!(m.core.cpu.gpr[3], 10);
        exec(&mut m, &[0xF0, 0x0F, 0xAB, 0x18]).unwrap(); // lock bts [eax], ebx (bit 10)
        assert_eq!(m.core.mem.read(0x4000, 4), 17 | 1 << 10);
    }

    /// CMPXCHG and XADD always write a memory destination (SDM CMPXCHG: "the destination
    /// operand is written back if the comparison fails"), so a read-only segment faults even
    /// when the comparison fails, and nothing (accumulator, flags) changes.
    #[test]
    fn cmpxchg_to_read_only_memory_faults_without_changes() {
        use crate::boot::{boot, BootKind};
        use crate::mmu::segment::attr;
        let mut m = boot(
            MachineConfig::default(),
            &[0x90],
            &BootKind::Flat {
                addr: 0x1000,
                real: false,
            },
        )
        .unwrap();
        m.core.mem.write(0x5000, 4, 0x1234);
        m.core.cpu.gpr[0] = 0x9999; // EAX != [ESI]: the comparison fails
        m.core.cpu.gpr[6] = 0x5000;
        m.core.cpu.seg[3].attr &= !attr::RW; // DS read-only
        let flags = m.core.cpu.flags.get();
        // cmpxchg [esi], ecx
        assert_eq!(
            exec(&mut m, &[0x0F, 0xB1, 0x0E]).unwrap_err().vector,
            vec::GP
        );
        assert_eq!(m.core.cpu.gpr[0], 0x9999);
        assert_eq!(m.core.cpu.flags.get(), flags);
        // xadd [esi], ecx and bts [esi], ecx fault the same way; bt only reads.
        assert_eq!(
            exec(&mut m, &[0x0F, 0xC1, 0x0E]).unwrap_err().vector,
            vec::GP
        );
        assert_eq!(
            exec(&mut m, &[0x0F, 0xAB, 0x0E]).unwrap_err().vector,
            vec::GP
        );
        assert_eq!(m.core.cpu.gpr[1], 0);
        assert_eq!(m.core.mem.read(0x5000, 4), 0x1234);
        exec(&mut m, &[0x0F, 0xA3, 0x0E]).unwrap();
        // Writable again: the failed comparison loads EAX from memory.
        m.core.cpu.seg[3].attr |= attr::RW;
        exec(&mut m, &[0x0F, 0xB1, 0x0E]).unwrap();
        assert_eq!(m.core.cpu.gpr[0], 0x1234);
        assert!(!m.core.cpu.flags.zf());
    }
}
