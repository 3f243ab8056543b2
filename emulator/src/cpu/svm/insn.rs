//! The SVM instructions (AMD64 APM Vol. 3 instruction reference; Vol. 2 15.5, 15.17,
//! 15.16.3): VMRUN, VMLOAD, VMSAVE, VMMCALL, STGI, CLGI, INVLPGA, and SKINIT (#UD: not
//! offered by CPUID). Each checks its exceptions in the APM's order: #UD when EFER.SVME is
//! 0 or outside protected mode, #GP(0) at CPL > 0, then the instruction's intercept
//! (15.9: after those simple exceptions), then #GP(0) for a misaligned or out-of-range
//! physical address in EAX (an operand-value exception, after the intercept).
//! Must not switch worlds itself (`vmrun`, `vmexit`).

use super::intercept::{insn2, w3, w4};
use super::vmcb::{save, Image, VmcbSeg};
use super::{code, EFER_SVME, PHYS_BITS};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::insn::{Handler, Insn};
use iced_x86::{Instruction, Mnemonic};

pub fn select(ins: &Instruction) -> Option<Handler> {
    Some(match ins.mnemonic() {
        Mnemonic::Vmrun => vmrun,
        Mnemonic::Vmload => vmload,
        Mnemonic::Vmsave => vmsave,
        Mnemonic::Vmmcall => vmmcall,
        Mnemonic::Stgi => stgi,
        Mnemonic::Clgi => clgi,
        Mnemonic::Invlpga => invlpga,
        Mnemonic::Skinit => skinit,
        _ => return None,
    })
}

/// #UD unless EFER.SVME = 1 in protected mode (not real, not virtual-8086); #GP(0) at
/// CPL > 0. The common exceptions of VMRUN, VMLOAD, VMSAVE, STGI, CLGI and INVLPGA.
fn svm_checks(c: &Core) -> Res {
    if c.cpu.msr.efer & EFER_SVME == 0 || !c.cpu.protected() {
        return Err(Exception::ud());
    }
    if c.cpu.cpl != 0 {
        return Err(Exception::gp(0));
    }
    Ok(())
}

/// The VMCB (or save area) address in EAX: #GP(0) unless 4 KiB aligned and below the
/// maximum physical address (with 32 physical bits and a 32-bit EAX the second cannot
/// fail; the test stays for the day PHYS_BITS grows).
fn vmcb_address(c: &Core) -> Res<u32> {
    let a = c.cpu.gpr[0];
    if a & 0xFFF != 0 || (a as u64) + 0x1000 > 1u64 << PHYS_BITS {
        return Err(Exception::gp(0));
    }
    Ok(a)
}

/// VMRUN (15.5): in guest mode always intercepted (VMRUN refuses a VMCB without the
/// VMRUN intercept), so it exits with VMRUN; in host mode it enters the guest.
fn vmrun(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    if c.svm.guest {
        return Err(super::exit_insn(c, code::VMRUN, 0, 0, i.next_ip));
    }
    let v = vmcb_address(c)?;
    super::vmrun::vmrun(c, v);
    Ok(())
}

/// VMLOAD (15.5.2): FS, GS, TR and LDTR with their hidden state, and SYSENTER_CS/ESP/EIP,
/// from the VMCB at EAX. The 64-bit-only registers (KernelGsBase, STAR, LSTAR, CSTAR,
/// SFMASK) have no home in this 32-bit CPU and are not loaded.
fn vmload(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    insn2(c, i, w4::VMLOAD)?;
    let v = vmcb_address(c)?;
    use crate::mmu::segment::{FS, GS};
    let v = Image::load_save(c, v);
    c.segs_changed();
    c.cpu.seg[FS] = v.seg(save::FS).to_seg();
    c.cpu.seg[GS] = v.seg(save::GS).to_seg();
    c.cpu.tr = v.seg(save::TR).to_seg();
    c.cpu.ldtr = v.seg(save::LDTR).to_seg();
    c.cpu.msr.sysenter_cs = v.r32(save::SYSENTER_CS);
    c.cpu.msr.sysenter_esp = v.r32(save::SYSENTER_ESP);
    c.cpu.msr.sysenter_eip = v.r32(save::SYSENTER_EIP);
    c.request(Request::Rescan);
    Ok(())
}

/// VMSAVE (15.5.2): the registers VMLOAD loads, stored to the VMCB at EAX.
fn vmsave(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    insn2(c, i, w4::VMSAVE)?;
    let v = vmcb_address(c)?;
    use crate::mmu::segment::{FS, GS};
    let mut v = Image::load_save(c, v);
    let cpu = &c.cpu;
    v.set_seg(save::FS, VmcbSeg::from_seg(&cpu.seg[FS]));
    v.set_seg(save::GS, VmcbSeg::from_seg(&cpu.seg[GS]));
    v.set_seg(save::TR, VmcbSeg::from_seg(&cpu.tr));
    v.set_seg(save::LDTR, VmcbSeg::from_seg(&cpu.ldtr));
    v.w64(save::SYSENTER_CS, cpu.msr.sysenter_cs as u64);
    v.w64(save::SYSENTER_ESP, cpu.msr.sysenter_esp as u64);
    v.w64(save::SYSENTER_EIP, cpu.msr.sysenter_eip as u64);
    v.store(c);
    Ok(())
}

/// VMMCALL: exits when intercepted; otherwise #UD (APM Vol. 3 VMMCALL), at any CPL and
/// whatever EFER.SVME.
fn vmmcall(c: &mut Core, i: &Insn) -> Res {
    insn2(c, i, w4::VMMCALL)?;
    Err(Exception::ud())
}

/// STGI (15.17): GIF = 1; held interrupts may now be taken.
fn stgi(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    insn2(c, i, w4::STGI)?;
    c.svm.gif = true;
    c.request(Request::Rescan);
    Ok(())
}

/// CLGI (15.17): GIF = 0.
fn clgi(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    insn2(c, i, w4::CLGI)?;
    c.svm.gif = false;
    Ok(())
}

/// INVLPGA (15.16.3): invalidates the TLB entries of the page at linear address EAX in
/// address space ECX (global entries included).
fn invlpga(c: &mut Core, i: &Insn) -> Res {
    svm_checks(c)?;
    super::intercept::insn1(c, i, w3::INVLPGA)?;
    let lin = c.cpu.gpr[0];
    let asid = c.cpu.gpr[1];
    if asid <= crate::mmu::tlb::MAX_ASID {
        c.mmu.tlb.invlpg_asid(lin, asid);
    }
    c.request(Request::Rescan);
    Ok(())
}

/// SKINIT: #UD, as CPUID 0x8000_0001 ECX bit 12 (SKINIT) is 0.
fn skinit(_c: &mut Core, _i: &Insn) -> Res {
    Err(Exception::ud())
}
