//! System instructions: CLI/STI, descriptor-table registers (LGDT/LIDT/SGDT/SIDT, LLDT/SLDT,
//! LTR/STR), control and debug registers (MOV CRn/DRn, LMSW/SMSW, CLTS), INVLPG, INVD,
//! WBINVD, CPUID, RDTSC, RDMSR/WRMSR, SYSENTER/SYSEXIT, LAR/LSL/VERR/VERW/ARPL.
//! CR writes flush the TLB exactly as SDM Vol. 3A 4.10.4 requires.

use crate::cpu::ctx::{Core, Request};
use crate::cpu::descriptor::read_descriptor;
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::sensitive::umip;
use crate::cpu::flags::{IF, RF, VM, ZF};
use crate::cpu::insn::{ea, Handler, Insn, K_MEM, K_REG};
use crate::cpu::state::{cr0, cr4};
use crate::cpu::svm::intercept::{self as svm_ic, w3, w4};
use crate::cpu::svm::{self, EFER_SVME, MSR_VM_CR, MSR_VM_HSAVE_PA, VM_CR_LOCK, VM_CR_SVMDIS};
use crate::mmu::segment::{Seg, TableReg, CS, SS};
use crate::trace::EventKind;
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

pub fn select(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Cli => cli,
        Sti => sti,
        Lgdt => lgdt,
        Lidt => lidt,
        Sgdt => sgdt,
        Sidt => sidt,
        Lldt => lldt,
        Sldt => sldt,
        Ltr => ltr,
        Str => str_,
        Lmsw => lmsw,
        Smsw => smsw,
        Clts => clts,
        Invlpg => invlpg,
        Invd => invd,
        Wbinvd => wbinvd,
        Cpuid => cpuid,
        Rdtsc => rdtsc,
        Rdpmc => rdpmc,
        Rdmsr => rdmsr,
        Wrmsr => wrmsr,
        Sysenter => sysenter,
        Sysexit => sysexit,
        Lar => lar,
        Lsl => lsl,
        Verr => verr,
        Verw => verw,
        Arpl => arpl,
        Mov if ins.op_kind(0) == OpKind::Register && ins.op0_register().is_cr() => mov_to_cr,
        Mov if ins.op_kind(1) == OpKind::Register && ins.op1_register().is_cr() => mov_from_cr,
        Mov if ins.op_kind(0) == OpKind::Register && ins.op0_register().is_dr() => mov_to_dr,
        Mov if ins.op_kind(1) == OpKind::Register && ins.op1_register().is_dr() => mov_from_dr,
        _ => return None,
    })
}

/// #GP(0) unless CPL 0 (privileged instructions; in v8086 mode CPL is 3).
#[inline]
pub fn require_cpl0(c: &Core) -> Res {
    if c.cpu.pe() && c.cpu.cpl != 0 {
        return Err(Exception::gp(0));
    }
    Ok(())
}

fn cli(c: &mut Core, _i: &Insn) -> Res {
    if c.cpu.pe() && c.cpu.cpl > c.cpu.flags.iopl() {
        return Err(Exception::gp(0));
    }
    c.cpu.flags.bits &= !IF;
    Ok(())
}

fn sti(c: &mut Core, _i: &Insn) -> Res {
    if c.cpu.pe() && c.cpu.cpl > c.cpu.flags.iopl() {
        return Err(Exception::gp(0));
    }
    if c.cpu.flags.bits & IF == 0 {
        // Interrupts stay blocked until after the next instruction (SDM STI).
        c.cpu.shadow = true;
    }
    c.cpu.flags.bits |= IF;
    c.request(Request::Rescan);
    Ok(())
}

fn table_operand(c: &mut Core, i: &Insn) -> Res<(u16, u32)> {
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    let a = ea(c, i);
    let limit = c.read(i.seg as usize, a, 2)? as u16;
    let base = c.read(i.seg as usize, a.wrapping_add(2), 4)?;
    // With a 16-bit operand size only 24 bits of base are loaded.
    let base = if i.ins.code() == iced_x86::Code::Lgdt_m1632_16
        || i.ins.code() == iced_x86::Code::Lidt_m1632_16
    {
        base & 0xFF_FFFF
    } else {
        base
    };
    Ok((limit, base))
}

fn lgdt(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    svm_ic::insn1(c, i, w3::GDTR_WRITE)?;
    let (limit, base) = table_operand(c, i)?;
    c.cpu.gdtr = TableReg { base, limit };
    Ok(())
}

fn lidt(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    svm_ic::insn1(c, i, w3::IDTR_WRITE)?;
    let (limit, base) = table_operand(c, i)?;
    c.cpu.idtr = TableReg { base, limit };
    Ok(())
}

fn store_table(c: &mut Core, i: &Insn, t: TableReg) -> Res {
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    let a = ea(c, i);
    c.probe_write(i.seg as usize, a, 2)?;
    c.probe_write(i.seg as usize, a.wrapping_add(2), 4)?;
    c.write(i.seg as usize, a, 2, t.limit as u32)?;
    c.write(i.seg as usize, a.wrapping_add(2), 4, t.base)
}

fn sgdt(c: &mut Core, i: &Insn) -> Res {
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    umip(c)?;
    svm_ic::insn1(c, i, w3::GDTR_READ)?;
    let t = c.cpu.gdtr;
    store_table(c, i, t)
}

fn sidt(c: &mut Core, i: &Insn) -> Res {
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    umip(c)?;
    svm_ic::insn1(c, i, w3::IDTR_READ)?;
    let t = c.cpu.idtr;
    store_table(c, i, t)
}

fn prot_only(c: &Core) -> Res {
    if !c.cpu.protected() {
        return Err(Exception::ud());
    }
    Ok(())
}

fn read_rm16(c: &mut Core, i: &Insn) -> Res<u16> {
    Ok(if i.k0 == K_REG {
        c.cpu.get16(i.r0 as usize) as u16
    } else {
        let a = ea(c, i);
        c.read(i.seg as usize, a, 2)? as u16
    })
}

fn write_rm16(c: &mut Core, i: &Insn, v: u32) -> Res {
    if i.k0 == K_REG {
        // Register destinations get the selector zero-extended (P6 behaviour for 32-bit).
        c.cpu.set(i.size.max(2), i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, 2, v)
    }
}

fn lldt(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    require_cpl0(c)?;
    svm_ic::insn1(c, i, w3::LDTR_WRITE)?;
    let sel = read_rm16(c, i)?;
    if sel & !3 == 0 {
        c.cpu.ldtr = Seg {
            sel,
            valid: false,
            ..Seg::default()
        };
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(Exception::gp(sel as u32 & !3));
    }
    let d = read_descriptor(c, sel)?.ok_or(Exception::gp(sel as u32 & !3))?;
    if d.is_seg() || d.typ() != 2 {
        return Err(Exception::gp(sel as u32 & !3));
    }
    if !d.present() {
        return Err(Exception::np(sel as u32 & !3));
    }
    c.cpu.ldtr = d.to_seg(sel);
    Ok(())
}

fn sldt(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    umip(c)?;
    svm_ic::insn1(c, i, w3::LDTR_READ)?;
    let v = c.cpu.ldtr.sel as u32;
    write_rm16(c, i, v)
}

fn ltr(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    require_cpl0(c)?;
    svm_ic::insn1(c, i, w3::TR_WRITE)?;
    let sel = read_rm16(c, i)?;
    let err = sel as u32 & !3;
    if sel & !3 == 0 || sel & 4 != 0 {
        return Err(Exception::gp(err));
    }
    let d = read_descriptor(c, sel)?.ok_or(Exception::gp(err))?;
    // Available 16-bit (1) or 32-bit (9) TSS.
    if d.is_seg() || !matches!(d.typ(), 1 | 9) {
        return Err(Exception::gp(err));
    }
    if !d.present() {
        return Err(Exception::np(err));
    }
    // Mark busy in the descriptor.
    let a = c.cpu.gdtr.base.wrapping_add((sel & !7) as u32 + 4);
    c.write_sys(a, 4, d.hi() | 0x200)?;
    let mut s = d.to_seg(sel);
    s.attr |= 2;
    c.cpu.tr = s;
    Ok(())
}

fn str_(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    umip(c)?;
    svm_ic::insn1(c, i, w3::TR_READ)?;
    let v = c.cpu.tr.sel as u32;
    write_rm16(c, i, v)
}

/// SMSW: an SVM guest's SMSW is a CR0 read for the intercepts (AMD APM 15.9.1).
fn smsw(c: &mut Core, i: &Insn) -> Res {
    umip(c)?;
    svm_ic::cr_read(c, i, 0)?;
    let v = c.cpu.cr0;
    if i.k0 == K_REG {
        c.cpu.set(i.size, i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, 2, v & 0xFFFF)
    }
}

fn lmsw(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    let v = read_rm16(c, i)? as u32;
    // LMSW changes PE, MP, EM, TS only, and cannot clear PE.
    let old = c.cpu.cr0;
    let new = (old & !0xE) | (v & 0xF) | (old & cr0::PE);
    // AMD APM 15.9.1-15.9.2: LMSW is a CR0 write for the intercepts. Its operand is read
    // first (the selective-write test needs it), so a fault reading a memory operand
    // comes before the intercept, where the APM puts memory faults after it; the register
    // form cannot fault.
    svm_ic::cr_write(c, i, 0, new)?;
    write_cr0(c, new)
}

fn clts(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    // AMD APM 15.9.1: CLTS is a CR0 write (it changes only TS: never a selective write).
    let new = c.cpu.cr0 & !cr0::TS;
    svm_ic::cr_write(c, i, 0, new)?;
    c.cpu.cr0 &= !cr0::TS;
    Ok(())
}

fn invlpg(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    if i.k0 != K_MEM {
        return Err(Exception::ud());
    }
    svm_ic::insn1(c, i, w3::INVLPG)?;
    let off = ea(c, i);
    let lin = c.cpu.seg[i.seg as usize].base.wrapping_add(off);
    c.mmu.tlb.invlpg(lin);
    // A translation changed: the dispatch loop must not follow block links recorded with
    // the old one (see `Machine::exec_chain`).
    c.request(Request::Rescan);
    Ok(())
}

fn invd(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    svm_ic::insn1(c, i, w3::INVD)
}

fn wbinvd(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    svm_ic::insn2(c, i, w4::WBINVD)
}

pub fn write_cr0(c: &mut Core, v: u32) -> Res {
    let v = v | cr0::ET;
    // PG without PE, or NW without CD: #GP(0) (SDM MOV CR).
    if (v & cr0::PG != 0 && v & cr0::PE == 0) || (v & cr0::NW != 0 && v & cr0::CD == 0) {
        return Err(Exception::gp(0));
    }
    let old = c.cpu.cr0;
    // SDM Vol. 3A 4.4.1: PAE paging turned on, or PG/CD/NW changed under it, loads the
    // PDPTEs; a present one with reserved bits set is #GP(0) and nothing changes.
    if v & cr0::PG != 0 && c.cpu.cr4 & cr4::PAE != 0 && (old ^ v) & PDPTE_CR0 != 0 && !nested(c) {
        load_pdptes(c, c.cpu.cr3)?;
    }
    c.cpu.cr0 = v;
    c.segs_changed();
    if (old ^ v) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
        c.mmu.tlb.flush_all();
    }
    if (old ^ v) & cr0::PE != 0 {
        let to = if v & cr0::PE != 0 {
            "protected"
        } else {
            "real"
        };
        c.event(EventKind::ModeChange { to: to.into() });
        if v & cr0::PE == 0 {
            c.cpu.cpl = 0;
        }
    }
    c.event(EventKind::CrWrite { cr: 0, old, new: v });
    c.update_align_check();
    c.request(Request::Rescan);
    Ok(())
}

/// The CR0 bits whose change under PAE paging reloads the PDPTEs (SDM Vol. 3A 4.4.1).
const PDPTE_CR0: u32 = cr0::PG | cr0::CD | cr0::NW;
/// The CR4 bits whose change reloads the PDPTEs when PAE paging follows (SDM 4.4.1).
const PDPTE_CR4: u32 = cr4::PAE | cr4::PGE | cr4::PSE;

/// A guest with nested paging runs: its PDPTEs are guest-physical and are read at each walk
/// (`mmu::nested`), so no PDPTE register is loaded.
fn nested(c: &Core) -> bool {
    c.mmu.nested.is_some()
}

/// Loads the four PDPTE registers from the PDPT that `cr3` names (SDM Vol. 3A 4.4.1): a
/// present PDPTE with a reserved bit set is #GP(0), and then none is loaded.
pub fn load_pdptes(c: &mut Core, cr3: u32) -> Res {
    let p = crate::mmu::pae::load_pdptes(&mut c.mem, cr3).map_err(|_| Exception::gp(0))?;
    c.cpu.pdpte = p;
    Ok(())
}

/// MOV to CR3: the whole value is kept (bits 11:5 are the PDPT address under PAE; the
/// ignored bits read back as written, as on QEMU); under PAE paging the PDPTEs are loaded
/// first (#GP(0) leaves CR3 unchanged). The current address space's non-global
/// translations are flushed (a guest's MOV CR3 flushes its ASID's: AMD APM Vol. 2 15.16).
pub fn write_cr3(c: &mut Core, v: u32) -> Res {
    if c.cpu.pae_paging() && !nested(c) {
        load_pdptes(c, v)?;
    }
    let old = c.cpu.cr3;
    c.cpu.cr3 = v;
    c.mmu.tlb.flush_nonglobal();
    c.event(EventKind::CrWrite { cr: 3, old, new: v });
    c.request(Request::Rescan);
    Ok(())
}

/// MOV to CR4: unimplemented bits are #GP(0); turning PAE paging on (or changing PGE/PSE
/// under it) loads the PDPTEs first (#GP(0) leaves CR4 unchanged).
pub fn write_cr4(c: &mut Core, v: u32) -> Res {
    if v & !CR4_IMPLEMENTED != 0 {
        return Err(Exception::gp(0));
    }
    let old = c.cpu.cr4;
    if c.cpu.paging() && v & cr4::PAE != 0 && (old ^ v) & PDPTE_CR4 != 0 && !nested(c) {
        load_pdptes(c, c.cpu.cr3)?;
    }
    c.cpu.cr4 = v;
    if (old ^ v) & (cr4::PSE | cr4::PGE | cr4::PAE) != 0 {
        c.mmu.tlb.flush_all();
    }
    c.event(EventKind::CrWrite { cr: 4, old, new: v });
    c.request(Request::Rescan);
    Ok(())
}

fn mov_to_cr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    let v = c.cpu.gpr[i.r1 as usize];
    if i.r0 < 16 {
        svm_ic::cr_write(c, i, i.r0, v)?;
    }
    match i.r0 {
        0 => write_cr0(c, v),
        2 => {
            c.cpu.cr2 = v;
            Ok(())
        }
        3 => write_cr3(c, v),
        4 => write_cr4(c, v),
        _ => Err(Exception::ud()),
    }
}

fn mov_from_cr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    if i.r1 < 16 {
        svm_ic::cr_read(c, i, i.r1)?;
    }
    let v = match i.r1 {
        0 => c.cpu.cr0,
        2 => c.cpu.cr2,
        3 => c.cpu.cr3,
        4 => c.cpu.cr4,
        _ => return Err(Exception::ud()),
    };
    c.cpu.gpr[i.r0 as usize] = v;
    Ok(())
}

/// DR7.GD (general detect, SDM Vol. 3A 17.2.4): a MOV to or from any debug register is a
/// #DB fault with DR6.BD set; GD is cleared so that the handler can use them.
fn general_detect(c: &mut Core) -> Res {
    if c.cpu.dr[7] & (1 << 13) != 0 {
        c.cpu.dr[6] |= 1 << 13;
        c.cpu.dr[7] &= !(1 << 13);
        return Err(Exception::new(crate::cpu::exception::vec::DB));
    }
    Ok(())
}

fn mov_to_dr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    let v = c.cpu.gpr[i.r1 as usize];
    let n = i.r0 as usize;
    if n > 7 || ((n == 4 || n == 5) && c.cpu.cr4 & cr4::DE != 0) {
        return Err(Exception::ud());
    }
    svm_ic::dr(c, i, n as u8, true)?;
    general_detect(c)?;
    let n = if n == 4 {
        6
    } else if n == 5 {
        7
    } else {
        n
    };
    c.cpu.dr[n] = match n {
        6 => (v & 0xE00F) | 0xFFFF_0FF0,
        7 => (v & 0xFFFF_2BFF) | 0x400,
        _ => v,
    };
    c.request(Request::Rescan);
    Ok(())
}

fn mov_from_dr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    let n = i.r1 as usize;
    if n > 7 || ((n == 4 || n == 5) && c.cpu.cr4 & cr4::DE != 0) {
        return Err(Exception::ud());
    }
    svm_ic::dr(c, i, n as u8, false)?;
    general_detect(c)?;
    let n = if n == 4 {
        6
    } else if n == 5 {
        7
    } else {
        n
    };
    c.cpu.gpr[i.r0 as usize] = c.cpu.dr[n];
    Ok(())
}

/// CR4 bits this CPU really implements: virtual-8086 mode extensions (VME, PVI) and
/// debugging extensions (DE, I/O breakpoints) are not, so CPUID does not offer them and
/// setting them is #GP(0) (SDM Vol. 3A 2.5, MOV CR4).
pub const CR4_IMPLEMENTED: u32 = cr4::SUPPORTED & !(cr4::VME | cr4::PVI | cr4::DE);

/// CPUID: a P6-class CPU, vendor "TraplabCPU  " (EBX, EDX, ECX), offering the x87 FPU,
/// PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV and FXSR (FXSAVE/FXRSTOR and CR4.OSFXSR, as on
/// a Pentium II: `x87::fxsr`), and UMIP in leaf 7; no VME or DE (not implemented), no MMX
/// or SSE.
/// No PSE-36: the physical address width is 32 bits (`mmu::pae`). Leaves 3 to 6 are all
/// zero (none of their features exists here). The extended leaves offer AMD SVM
/// (0x8000_0001 ECX bit 2; 0x8000_000A: revision 1, 16 ASIDs, nested paging and NRIP save)
/// and say that physical addresses have 32 bits and that IRPerfCount exists (0x8000_0008).
/// Leaf 1 ECX bit 31
/// (hypervisor present) is 0: this is the real CPU.
fn cpuid(c: &mut Core, i: &Insn) -> Res {
    svm_ic::insn1(c, i, w3::CPUID)?;
    let (a, b, cc, d) = cpuid_leaf(c, c.cpu.gpr[0], c.cpu.gpr[1]);
    c.cpu.gpr[0] = a;
    c.cpu.gpr[3] = b;
    c.cpu.gpr[1] = cc;
    c.cpu.gpr[2] = d;
    Ok(())
}

/// What CPUID returns in EAX, EBX, ECX, EDX for `leaf` and `subleaf` (see `cpuid`); the
/// boot code reads leaf 1 for the MP table's processor entry.
pub fn cpuid_leaf(c: &Core, leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    match leaf {
        0 => (
            7,
            u32::from_le_bytes(*b"Trap"),
            u32::from_le_bytes(*b"PU  "),
            u32::from_le_bytes(*b"labC"),
        ),
        1 => {
            // Family 6, model 1 (Pentium Pro class), stepping 9.
            let apic = c.dev.apic.as_ref().is_some_and(|a| a.lapic.enabled());
            let feat = 1 // FPU
                | (1 << 3) // PSE
                | (1 << 4) // TSC
                | (1 << 5) // MSR
                | (1 << 6) // PAE
                | (1 << 8) // CX8
                | (apic as u32) << 9 // APIC (only with --apic, while globally enabled)
                | (1 << 11) // SEP
                | (1 << 13) // PGE
                | (1 << 15) // CMOV
                | (1 << 24); // FXSR
            (0x619, 0, 0, feat)
        }
        2 => (0x0000_0001, 0, 0, 0),
        // Structured extended features, subleaf 0: UMIP (ECX bit 2) only.
        7 if subleaf == 0 => (0, 0, 1 << 2, 0),
        // Highest extended leaf, and the vendor again (as AMD's CPUs return it).
        0x8000_0000 => (
            0x8000_000A,
            u32::from_le_bytes(*b"Trap"),
            u32::from_le_bytes(*b"PU  "),
            u32::from_le_bytes(*b"labC"),
        ),
        // ECX bit 2: SVM (AMD APM 15.4). SKINIT (bit 12) is not offered.
        0x8000_0001 => (0x619, 0, 1 << 2, 0),
        // 32 physical and 32 linear address bits; EBX bit 1 (InstRetCntMsr): the
        // instructions-retired counter IRPerfCount (MSR 0xC000_00E9) exists.
        0x8000_0008 => (0x2020, 1 << 1, 0, 0),
        // SVM features (APM 15.4, CPUID Fn8000_000A): revision 1, 16 ASIDs; EDX bit 0
        // nested paging, bit 3 NRIP save. No other bit: no LBR virtualization, SVM lock,
        // TSC-rate MSR, VMCB clean bits, flush by ASID, decode assists, pause filter...
        0x8000_000A => (1, svm::NUM_ASIDS, 0, 1 | 1 << 3),
        _ => (0, 0, 0, 0),
    }
}

/// TSC = virtual clock ticks + offset (deterministic).
pub fn tsc(c: &Core) -> u64 {
    c.clock().wrapping_add(c.cpu.msr.tsc_offset)
}

/// The TSC a guest reads: the host's plus the VMCB's TSC_OFFSET (AMD APM 15.15.3).
pub fn guest_tsc(c: &Core) -> u64 {
    if c.svm.guest {
        tsc(c).wrapping_add(c.svm.ctl.tsc_offset)
    } else {
        tsc(c)
    }
}

fn rdtsc(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.cr4 & cr4::TSD != 0 && c.cpu.pe() && c.cpu.cpl != 0 {
        return Err(Exception::gp(0));
    }
    svm_ic::insn1(c, i, w3::RDTSC)?;
    let t = guest_tsc(c);
    c.cpu.gpr[0] = t as u32;
    c.cpu.gpr[2] = (t >> 32) as u32;
    Ok(())
}

/// RDPMC (SDM Vol. 2B): #GP(0) at CPL > 0 without CR4.PCE, or for a counter other than the
/// P6's two. The counters are not modelled: they count nothing and read 0. An SVM guest's
/// RDPMC may be intercepted (AMD APM 15.9, after the CPL check).
fn rdpmc(c: &mut Core, i: &Insn) -> Res {
    if c.cpu.cr4 & cr4::PCE == 0 && c.cpu.pe() && c.cpu.cpl != 0 {
        return Err(Exception::gp(0));
    }
    svm_ic::insn1(c, i, w3::RDPMC)?;
    if c.cpu.gpr[1] > 1 {
        return Err(Exception::gp(0));
    }
    c.cpu.gpr[0] = 0;
    c.cpu.gpr[2] = 0;
    Ok(())
}

/// IRPerfCount (AMD APM vol. 2, "Instructions Retired Performance Counter"; CPUID
/// Fn8000_0008_EBX[1]): the instructions retired since power-on, in every world and at
/// every CPL: Traplab's own retired count, which is also the virtual clock minus halted
/// and charged ticks. Departures from AMD's MSR, said where it is offered: it always
/// counts (HWCR.IRPerfEn is not modelled) and it is read-only (a write is #GP(0)), so it
/// adds nothing to the machine state. The hypervisors read it around VMRUN to give
/// instructions per world in their ledgers (samples/hv1, samples/minios/vm.c).
pub const MSR_IRPERF_COUNT: u32 = 0xC000_00E9;

fn rdmsr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    svm_ic::msr(c, i, c.cpu.gpr[1], false)?;
    let m = &c.cpu.msr;
    let v: u64 = match c.cpu.gpr[1] {
        0x10 => guest_tsc(c),
        MSR_VM_CR => c.svm.vm_cr,
        MSR_VM_HSAVE_PA => c.svm.hsave_pa,
        0x174 => m.sysenter_cs as u64,
        0x175 => m.sysenter_esp as u64,
        0x176 => m.sysenter_eip as u64,
        0x1B => match &c.dev.apic {
            Some(a) => a.lapic.base,
            None => m.apic_base,
        },
        0xC000_0080 => m.efer,
        MSR_IRPERF_COUNT => c.icount,
        _ => return Err(Exception::gp(0)),
    };
    c.cpu.gpr[0] = v as u32;
    c.cpu.gpr[2] = (v >> 32) as u32;
    Ok(())
}

fn wrmsr(c: &mut Core, i: &Insn) -> Res {
    require_cpl0(c)?;
    let v = (c.cpu.gpr[2] as u64) << 32 | c.cpu.gpr[0] as u64;
    let msr = c.cpu.gpr[1];
    svm_ic::msr(c, i, msr, true)?;
    match msr {
        0x10 => c.cpu.msr.tsc_offset = v.wrapping_sub(c.clock()),
        0x174 => c.cpu.msr.sysenter_cs = v as u32,
        0x175 => c.cpu.msr.sysenter_esp = v as u32,
        0x176 => c.cpu.msr.sysenter_eip = v as u32,
        0x1B if c.dev.apic.is_some() => {
            // Reserved bits set are #GP(0) (SDM Vol. 3A 11.4.4; 32 physical address bits).
            if v & !0xFFFF_F900 != 0 {
                return Err(Exception::gp(0));
            }
            // The register page is found by the slow path of memory accesses, which sees
            // only addresses outside RAM: a base moved into RAM is not decoded there.
            let now = c.now_ns();
            c.dev.write_apic_base(v, now);
            c.next_dev_tick = 0;
            c.request(crate::cpu::ctx::Request::Rescan);
        }
        0x1B => c.cpu.msr.apic_base = v & 0xFFFF_F900,
        0xC000_0080 => {
            // Reserved bits are #GP(0); setting SVME while VM_CR.SVMDIS is set too
            // (AMD APM 15.4).
            if v & !crate::cpu::state::EFER_WRITABLE != 0
                || (v & EFER_SVME != 0 && c.svm.vm_cr & VM_CR_SVMDIS != 0)
            {
                return Err(Exception::gp(0));
            }
            c.cpu.msr.efer = v;
        }
        MSR_VM_CR => {
            // APM 15.30.1: LOCK (bit 3) and SVMDIS (bit 4) are writable while LOCK is
            // clear; once set, writes to them are ignored. DPD, R_INIT and DIS_A20M
            // (bits 0-2) are not modelled (read as 0); the rest is reserved (#GP).
            if v & !0x1F != 0 {
                return Err(Exception::gp(0));
            }
            if c.svm.vm_cr & VM_CR_LOCK == 0 {
                c.svm.vm_cr = v & (VM_CR_LOCK | VM_CR_SVMDIS);
            }
        }
        MSR_VM_HSAVE_PA => {
            // APM 15.30.4: 4 KiB aligned, below the maximum physical address.
            if v & 0xFFF != 0 || v >> svm::PHYS_BITS != 0 {
                return Err(Exception::gp(0));
            }
            c.svm.hsave_pa = v;
        }
        _ => return Err(Exception::gp(0)),
    }
    c.event(EventKind::MsrWrite { msr, value: v });
    Ok(())
}

fn flat(sel: u16, code: bool, dpl: u8) -> Seg {
    let typ = if code { 0xB } else { 0x3 };
    Seg {
        sel,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: typ | 0x10 | ((dpl as u16) << 5) | 0x80 | 0x400 | 0x800,
        valid: true,
    }
}

/// SYSENTER (SDM Vol. 2): flat ring-0 CS/SS from IA32_SYSENTER_CS.
fn sysenter(c: &mut Core, _i: &Insn) -> Res {
    let cs = c.cpu.msr.sysenter_cs as u16;
    if !c.cpu.pe() || cs & !3 == 0 {
        return Err(Exception::gp(0));
    }
    let from = c.cpu.cpl;
    c.cpu.flags.set_bit(VM, false);
    c.cpu.flags.bits &= !(IF | RF);
    c.segs_changed();
    c.cpu.seg[CS] = flat(cs & 0xFFFC, true, 0);
    c.cpu.seg[SS] = flat((cs & 0xFFFC) + 8, false, 0);
    c.cpu.cpl = 0;
    c.cpu.gpr[4] = c.cpu.msr.sysenter_esp;
    c.cpu.eip = c.cpu.msr.sysenter_eip;
    c.event(EventKind::PrivilegeChange { from, to: 0 });
    c.update_align_check();
    c.request(Request::Rescan);
    Ok(())
}

/// SYSEXIT: back to flat ring-3 CS = SYSENTER_CS+16, SS = +24; EIP = EDX, ESP = ECX.
fn sysexit(c: &mut Core, _i: &Insn) -> Res {
    let cs = c.cpu.msr.sysenter_cs as u16;
    if !c.cpu.protected() || c.cpu.cpl != 0 || cs & !3 == 0 {
        return Err(Exception::gp(0));
    }
    c.segs_changed();
    c.cpu.seg[CS] = flat(((cs & 0xFFFC) + 16) | 3, true, 3);
    c.cpu.seg[SS] = flat(((cs & 0xFFFC) + 24) | 3, false, 3);
    c.cpu.cpl = 3;
    c.cpu.gpr[4] = c.cpu.gpr[1];
    c.cpu.eip = c.cpu.gpr[2];
    c.event(EventKind::PrivilegeChange { from: 0, to: 3 });
    c.update_align_check();
    c.request(Request::Rescan);
    Ok(())
}

/// Common checks of LAR/LSL/VERR/VERW: Some(descriptor) when visible at CPL/RPL.
fn visible(
    c: &mut Core,
    sel: u16,
    system_ok: fn(u8) -> bool,
) -> Res<Option<crate::mmu::segment::Descriptor>> {
    if sel & !3 == 0 {
        return Ok(None);
    }
    let Some(d) = read_descriptor(c, sel)? else {
        return Ok(None);
    };
    if !d.is_seg() && !system_ok(d.typ()) {
        return Ok(None);
    }
    let conforming = d.is_code() && d.typ() & 4 != 0;
    let rpl = (sel & 3) as u8;
    if !conforming && (d.dpl() < c.cpu.cpl || d.dpl() < rpl) {
        return Ok(None);
    }
    Ok(Some(d))
}

fn lar(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    let sel = if i.k1 == K_REG {
        c.cpu.get16(i.r1 as usize) as u16
    } else {
        let a = ea(c, i);
        c.read(i.seg as usize, a, 2)? as u16
    };
    let d = visible(c, sel, |t| matches!(t, 1 | 2 | 3 | 4 | 5 | 9 | 0xB | 0xC))?;
    match d {
        Some(d) => {
            let v = d.hi() & if i.size == 2 { 0xFF00 } else { 0x00FF_FF00 };
            c.cpu.set(i.size, i.r0 as usize, v);
            c.cpu.flags.set_bit(ZF, true);
        }
        None => c.cpu.flags.set_bit(ZF, false),
    }
    Ok(())
}

fn lsl(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    let sel = if i.k1 == K_REG {
        c.cpu.get16(i.r1 as usize) as u16
    } else {
        let a = ea(c, i);
        c.read(i.seg as usize, a, 2)? as u16
    };
    let d = visible(c, sel, |t| matches!(t, 1 | 2 | 3 | 9 | 0xB))?;
    match d {
        Some(d) => {
            c.cpu.set(i.size, i.r0 as usize, d.limit());
            c.cpu.flags.set_bit(ZF, true);
        }
        None => c.cpu.flags.set_bit(ZF, false),
    }
    Ok(())
}

fn verx(c: &mut Core, i: &Insn, write: bool) -> Res {
    prot_only(c)?;
    let sel = read_rm16(c, i)?;
    let d = visible(c, sel, |_| false)?;
    let ok = match d {
        Some(d) => {
            if write {
                !d.is_code() && d.typ() & 2 != 0
            } else {
                !d.is_code() || d.typ() & 2 != 0
            }
        }
        None => false,
    };
    c.cpu.flags.set_bit(ZF, ok);
    Ok(())
}

fn verr(c: &mut Core, i: &Insn) -> Res {
    verx(c, i, false)
}

fn verw(c: &mut Core, i: &Insn) -> Res {
    verx(c, i, true)
}

fn arpl(c: &mut Core, i: &Insn) -> Res {
    prot_only(c)?;
    let src = c.cpu.get16(i.r1 as usize);
    let mut res = Ok(());
    let mut zf = false;
    let dst = read_rm16(c, i)? as u32;
    if dst & 3 < src & 3 {
        zf = true;
        res = write_rm16_exact(c, i, (dst & !3) | (src & 3));
    }
    res?;
    c.cpu.flags.set_bit(ZF, zf);
    Ok(())
}

fn write_rm16_exact(c: &mut Core, i: &Insn, v: u32) -> Res {
    if i.k0 == K_REG {
        c.cpu.set16(i.r0 as usize, v);
        Ok(())
    } else {
        let a = ea(c, i);
        c.write(i.seg as usize, a, 2, v)
    }
}

#[allow(dead_code)]
fn unused(_: Register) {}
