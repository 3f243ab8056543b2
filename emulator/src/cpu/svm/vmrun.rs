//! VMRUN's world switch into the guest (AMD64 APM Vol. 2 15.5): the host's state to the
//! host save area, the controls and the guest's state from the VMCB, the consistency checks
//! of 15.5.1 (a failure is #VMEXIT with VMEXIT_INVALID, never a host fault or panic),
//! ASID and TLB_CONTROL (15.16), then event injection (15.20). Must not check the
//! instruction's own exceptions (`insn`) or run guest code.

use super::intercept::w4;
use super::vmcb::{self, ctl, save, VmcbSeg};
use super::{code, Controls, EFER_SVME, NUM_ASIDS, PHYS_BITS};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::flags::{IF, RF, VM};
use crate::cpu::state::{cr0, cr4, EFER_WRITABLE};
use crate::mmu::segment::{CS, DS, ES, SS};
use crate::trace::EventKind;

/// Why a VMCB is refused (APM 15.5.1, "Canonicalization and Consistency Checks").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Illegal {
    SvmeClear,
    NwWithoutCd,
    Cr0High,
    Cr3Mbz,
    Cr4Mbz,
    Dr6High,
    Dr7High,
    EferMbz,
    NoVmrunIntercept,
    IopmOutOfRange,
    MsrpmOutOfRange,
    Asid,
    EventInj,
}

/// The controls of the VMCB at `v` (Table B-1), as VMRUN caches them.
pub fn read_controls(c: &Core, v: u32) -> (Controls, u64, u64) {
    let vi = vmcb::r64(c, v, ctl::V_INTR);
    let iopm = vmcb::r64(c, v, ctl::IOPM_BASE_PA);
    let msrpm = vmcb::r64(c, v, ctl::MSRPM_BASE_PA);
    let ctl = Controls {
        cr: vmcb::r32(c, v, ctl::INTERCEPT_CR),
        dr: vmcb::r32(c, v, ctl::INTERCEPT_DR),
        exceptions: vmcb::r32(c, v, ctl::INTERCEPT_EXC),
        misc1: vmcb::r32(c, v, ctl::INTERCEPT_MISC1),
        misc2: vmcb::r32(c, v, ctl::INTERCEPT_MISC2),
        // Bits 11:0 of the map bases are ignored (15.10.1, 15.11).
        iopm_base: (iopm as u32) & !0xFFF,
        msrpm_base: (msrpm as u32) & !0xFFF,
        tsc_offset: vmcb::r64(c, v, ctl::TSC_OFFSET),
        asid: vmcb::r32(c, v, ctl::ASID),
        v_tpr: (vi & 0xF) as u8,
        v_irq: vi & (1 << 8) != 0,
        v_intr_prio: ((vi >> 16) & 0xF) as u8,
        v_ign_tpr: vi & (1 << 20) != 0,
        v_intr_masking: vi & (1 << 24) != 0,
        v_intr_vector: (vi >> 32) as u8,
        np_enable: vmcb::r64(c, v, ctl::NP_ENABLE) & 1 != 0,
        n_cr3: vmcb::r64(c, v, ctl::N_CR3),
    };
    (ctl, iopm, msrpm)
}

/// True when a permission map of `len` bytes at `base` (bits 11:0 ignored) reaches the
/// maximum physical address (15.5.1).
fn map_out_of_range(base: u64, len: u64) -> bool {
    (base & !0xFFF) + len > 1u64 << PHYS_BITS
}

/// The EVENTINJ checks (15.20): reserved types, and an exception type whose vector is
/// not an exception (NMI's 2, or above 31).
pub fn eventinj_legal(inj: u64) -> bool {
    if inj & (1 << 31) == 0 {
        return true;
    }
    let vector = inj as u8;
    match (inj >> 8) & 7 {
        0 | 2 | 4 => true,
        3 => vector != 2 && vector < 32,
        _ => false,
    }
}

/// The consistency checks of 15.5.1 that apply to a 32-bit CPU without long mode, on the
/// VMCB at `v`. Traplab also refuses an ASID at or above the count CPUID reports (16).
pub fn check(c: &Core, v: u32) -> Result<(), Illegal> {
    let efer = vmcb::r64(c, v, save::EFER);
    let cr0 = vmcb::r64(c, v, save::CR0);
    let cr3 = vmcb::r64(c, v, save::CR3);
    let cr4 = vmcb::r64(c, v, save::CR4);
    let (ctl, iopm, msrpm) = read_controls(c, v);
    if efer & EFER_SVME == 0 {
        return Err(Illegal::SvmeClear);
    }
    if cr0 & cr0::CD as u64 == 0 && cr0 & cr0::NW as u64 != 0 {
        return Err(Illegal::NwWithoutCd);
    }
    if cr0 >> 32 != 0 {
        return Err(Illegal::Cr0High);
    }
    if cr3 >> 32 != 0 {
        return Err(Illegal::Cr3Mbz);
    }
    if cr4 & !(crate::cpu::exec::system::CR4_IMPLEMENTED as u64) != 0 {
        return Err(Illegal::Cr4Mbz);
    }
    if vmcb::r64(c, v, save::DR6) >> 32 != 0 {
        return Err(Illegal::Dr6High);
    }
    if vmcb::r64(c, v, save::DR7) >> 32 != 0 {
        return Err(Illegal::Dr7High);
    }
    // LME and LMA are MBZ too: this CPU has no long mode.
    if efer & !EFER_WRITABLE != 0 {
        return Err(Illegal::EferMbz);
    }
    if ctl.misc2 & w4::VMRUN == 0 {
        return Err(Illegal::NoVmrunIntercept);
    }
    if map_out_of_range(iopm, 12 << 10) {
        return Err(Illegal::IopmOutOfRange);
    }
    if map_out_of_range(msrpm, 8 << 10) {
        return Err(Illegal::MsrpmOutOfRange);
    }
    if ctl.asid == 0 || ctl.asid >= NUM_ASIDS {
        return Err(Illegal::Asid);
    }
    if !eventinj_legal(vmcb::r64(c, v, ctl::EVENTINJ)) {
        return Err(Illegal::EventInj);
    }
    Ok(())
}

/// The host state VMRUN saves (15.5.1): ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR3, CR4,
/// RFLAGS, RIP (of the instruction after VMRUN), RSP, RAX.
fn save_host(c: &mut Core) {
    let h = c.svm.hsave_pa as u32;
    for (s, off) in [
        (ES, save::ES),
        (CS, save::CS),
        (SS, save::SS),
        (DS, save::DS),
    ] {
        let img = VmcbSeg::from_seg(&c.cpu.seg[s]);
        vmcb::write_seg(c, h, off, img);
    }
    let g = VmcbSeg::from_table(&c.cpu.gdtr);
    vmcb::write_seg(c, h, save::GDTR, g);
    let i = VmcbSeg::from_table(&c.cpu.idtr);
    vmcb::write_seg(c, h, save::IDTR, i);
    let cpu = c.cpu.clone();
    vmcb::w64(c, h, save::EFER, cpu.msr.efer);
    vmcb::w64(c, h, save::CR0, cpu.cr0 as u64);
    vmcb::w64(c, h, save::CR3, cpu.cr3 as u64);
    vmcb::w64(c, h, save::CR4, cpu.cr4 as u64);
    vmcb::w64(c, h, save::RFLAGS, cpu.flags.get() as u64);
    vmcb::w64(c, h, save::RIP, cpu.eip as u64);
    vmcb::w64(c, h, save::RSP, cpu.gpr[4] as u64);
    vmcb::w64(c, h, save::RAX, cpu.gpr[0] as u64);
}

/// 15.5.1: #VMEXIT with VMEXIT_INVALID. The guest never ran: the VMCB gets the exit
/// code, the host (its state unchanged) continues after VMRUN with GIF = 0.
fn invalid(c: &mut Core, v: u32, why: &str) {
    vmcb::w64(c, v, ctl::EXITCODE, code::INVALID);
    vmcb::w64(c, v, ctl::EXITINFO1, 0);
    vmcb::w64(c, v, ctl::EXITINFO2, 0);
    c.svm.gif = false;
    c.event(EventKind::Note(format!("VMRUN: illegal VMCB ({why})")));
    c.event(EventKind::Vmexit {
        code: code::INVALID,
        info1: 0,
        info2: 0,
        rip: 0,
        asid: 0,
    });
    c.svm.exits += 1;
    c.ledger_vmexit(code::INVALID);
    c.request(Request::Rescan);
}

/// VMRUN after its own exceptions were checked (`insn::vmrun`): `v` is the VMCB's
/// physical address (EAX, 4 KiB aligned). EIP already points after VMRUN.
pub fn vmrun(c: &mut Core, v: u32) {
    save_host(c);
    c.svm.vmcb = v;
    if let Err(why) = check(c, v) {
        invalid(c, v, &format!("{why:?}"));
        return;
    }
    let (controls, _, _) = read_controls(c, v);
    c.svm.host_if = c.cpu.flags.bits & IF != 0;
    c.svm.ctl = controls;
    // The guest's state (15.5.1): ES, CS, SS, DS, GDTR, IDTR, EFER, CR4, CR3, CR2, CR0,
    // RFLAGS, RIP, RSP, RAX, DR7, DR6, CPL.
    for (s, off) in [
        (ES, save::ES),
        (CS, save::CS),
        (SS, save::SS),
        (DS, save::DS),
    ] {
        c.segs_changed();
        c.cpu.seg[s] = vmcb::read_seg(c, v, off).to_seg();
    }
    c.cpu.gdtr = vmcb::read_seg(c, v, save::GDTR).to_table();
    c.cpu.idtr = vmcb::read_seg(c, v, save::IDTR).to_table();
    c.cpu.msr.efer = vmcb::r64(c, v, save::EFER);
    // Nested paging takes the host's paging format at VMRUN (15.25.3).
    let host_cr4 = c.cpu.cr4;
    c.cpu.cr4 = vmcb::r32(c, v, save::CR4);
    c.cpu.cr3 = vmcb::r32(c, v, save::CR3);
    c.cpu.cr2 = vmcb::r32(c, v, save::CR2);
    c.cpu.cr0 = vmcb::r32(c, v, save::CR0) | cr0::ET;
    let flags = vmcb::r32(c, v, save::RFLAGS);
    c.cpu.flags.set(flags);
    c.cpu.eip = vmcb::r32(c, v, save::RIP);
    c.cpu.gpr[4] = vmcb::r32(c, v, save::RSP);
    c.cpu.gpr[0] = vmcb::r32(c, v, save::RAX);
    c.cpu.dr[7] = (vmcb::r32(c, v, save::DR7) & 0xFFFF_2BFF) | 0x400;
    c.cpu.dr[6] = (vmcb::r32(c, v, save::DR6) & 0xE00F) | 0xFFFF_0FF0;
    // CPL: 0 in real mode, 3 in virtual-8086 mode, else the VMCB's (15.5.1).
    c.cpu.cpl = if c.cpu.cr0 & cr0::PE == 0 {
        0
    } else if flags & VM != 0 {
        3
    } else {
        vmcb::r8(c, v, save::CPL) & 3
    };
    // A PAE guest without nested paging: the PDPTE registers from its CR3 (15.5.1); a
    // reserved bit in one is illegal state, and the host comes back as for any check.
    if c.cpu.pae_paging() && !controls.np_enable {
        let cr3 = c.cpu.cr3;
        match crate::mmu::pae::load_pdptes(&mut c.mem, cr3) {
            Ok(p) => c.cpu.pdpte = p,
            Err(_) => {
                super::vmexit::load_host(c);
                invalid(c, v, "guest PDPTE reserved bits");
                return;
            }
        }
    }
    c.cpu.halted = false;
    c.cpu.shadow = vmcb::r32(c, v, ctl::INTERRUPT_SHADOW) & 1 != 0;
    c.cpu.flags.bits &= !RF;
    // ASID and TLB_CONTROL (15.16): 1 flushes every ASID, 3 this guest's, 7 this guest's
    // non-global entries; other values are reserved (Traplab flushes everything).
    let asid = controls.asid;
    match vmcb::r8(c, v, ctl::TLB_CONTROL) {
        0 => {}
        3 => c.mmu.tlb.flush_asid(asid, false),
        7 => c.mmu.tlb.flush_asid(asid, true),
        _ => c.mmu.tlb.flush_all(),
    }
    c.mmu.tlb.set_asid(asid);
    if controls.np_enable {
        // N_CR3 bits 63:32 lie beyond the 32-bit physical address width: not used.
        c.mmu.enter_nested(crate::mmu::nested::Nested {
            n_cr3: controls.n_cr3 as u32,
            pae: host_cr4 & cr4::PAE != 0,
            pse: host_cr4 & cr4::PSE != 0,
        });
    } else {
        c.mmu.leave_nested();
    }
    c.svm.guest = true;
    c.svm.gif = true;
    c.svm.delivering = 0;
    c.svm.pending = None;
    c.svm.vmruns += 1;
    c.ledger_vmrun();
    c.update_align_check();
    c.request(Request::Rescan);
    let rip = c.cpu.eip;
    c.event(EventKind::Vmrun { asid, rip });
    // Event injection happens after the guest's state is loaded, before its first
    // instruction (15.20).
    let inj = vmcb::r64(c, v, ctl::EVENTINJ);
    super::inject::inject(c, inj);
}
