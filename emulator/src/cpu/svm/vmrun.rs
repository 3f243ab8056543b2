//! VMRUN's world switch into the guest (AMD64 APM Vol. 2 15.5): the host's state to the
//! host save area, the controls and the guest's state from the VMCB, the consistency checks
//! of 15.5.1 (a failure is #VMEXIT with VMEXIT_INVALID, never a host fault or panic),
//! ASID and TLB_CONTROL (15.16), then event injection (15.20). Must not check the
//! instruction's own exceptions (`insn`) or run guest code.

use super::intercept::w4;
use super::vmcb::{ctl, save, Image};
use super::{code, Controls, EFER_SVME, NUM_ASIDS, PHYS_BITS};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::flags::{IF, RF, VM};
use crate::cpu::state::{cr0, cr4, EFER_WRITABLE};
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

/// The controls of the VMCB `v` (Table B-1), as VMRUN caches them, with the two
/// permission-map bases as written.
pub fn read_controls(v: &Image) -> (Controls, u64, u64) {
    let vi = v.r64(ctl::V_INTR);
    let iopm = v.r64(ctl::IOPM_BASE_PA);
    let msrpm = v.r64(ctl::MSRPM_BASE_PA);
    let ctl = Controls {
        cr: v.r32(ctl::INTERCEPT_CR),
        dr: v.r32(ctl::INTERCEPT_DR),
        exceptions: v.r32(ctl::INTERCEPT_EXC),
        misc1: v.r32(ctl::INTERCEPT_MISC1),
        misc2: v.r32(ctl::INTERCEPT_MISC2),
        // Bits 11:0 of the map bases are ignored (15.10.1, 15.11).
        iopm_base: (iopm as u32) & !0xFFF,
        msrpm_base: (msrpm as u32) & !0xFFF,
        tsc_offset: v.r64(ctl::TSC_OFFSET),
        asid: v.r32(ctl::ASID),
        v_tpr: (vi & 0xF) as u8,
        v_irq: vi & (1 << 8) != 0,
        v_intr_prio: ((vi >> 16) & 0xF) as u8,
        v_ign_tpr: vi & (1 << 20) != 0,
        v_intr_masking: vi & (1 << 24) != 0,
        v_intr_vector: (vi >> 32) as u8,
        np_enable: v.r64(ctl::NP_ENABLE) & 1 != 0,
        n_cr3: v.r64(ctl::N_CR3),
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
/// VMCB `v` whose controls are `ctl`, `iopm` and `msrpm` (`read_controls`). Traplab also
/// refuses an ASID at or above the count CPUID reports (16).
pub fn check(v: &Image, ctl: &Controls, iopm: u64, msrpm: u64) -> Result<(), Illegal> {
    let efer = v.r64(save::EFER);
    let cr0 = v.r64(save::CR0);
    let cr3 = v.r64(save::CR3);
    let cr4 = v.r64(save::CR4);
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
    if v.r64(save::DR6) >> 32 != 0 {
        return Err(Illegal::Dr6High);
    }
    if v.r64(save::DR7) >> 32 != 0 {
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
    if !eventinj_legal(v.r64(ctl::EVENTINJ)) {
        return Err(Illegal::EventInj);
    }
    Ok(())
}

/// The host state VMRUN saves (15.5.1): ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR3, CR4,
/// RFLAGS, RIP (of the instruction after VMRUN), RSP, RAX.
fn save_host(c: &mut Core) {
    let mut h = Image::load_save(c, c.svm.hsave_pa as u32);
    h.set_switched(&c.cpu, c.cpu.eip);
    h.store(c);
}

/// 15.5.1: #VMEXIT with VMEXIT_INVALID. The guest never ran: the VMCB gets the exit
/// code, the host (its state unchanged) continues after VMRUN with GIF = 0.
fn invalid(c: &mut Core, v: &mut Image, why: &str) {
    v.w64(ctl::EXITCODE, code::INVALID);
    v.w64(ctl::EXITINFO1, 0);
    v.w64(ctl::EXITINFO2, 0);
    v.store(c);
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
pub fn vmrun(c: &mut Core, pa: u32) {
    save_host(c);
    c.svm.vmcb = pa;
    // Read after the host's state was stored (a VMCB may share its page with the save
    // area).
    let mut v = Image::load(c, pa);
    let (controls, iopm, msrpm) = read_controls(&v);
    if let Err(why) = check(&v, &controls, iopm, msrpm) {
        invalid(c, &mut v, &format!("{why:?}"));
        return;
    }
    c.svm.host_if = c.cpu.flags.bits & IF != 0;
    c.svm.ctl = controls;
    // The guest's state (15.5.1): ES, CS, SS, DS, GDTR, IDTR, EFER, CR4, CR3, CR2, CR0,
    // RFLAGS, RIP, RSP, RAX, DR7, DR6, CPL.
    c.segs_changed();
    v.load_switched_segs(&mut c.cpu);
    c.cpu.msr.efer = v.r64(save::EFER);
    // Nested paging takes the host's paging format at VMRUN (15.25.3).
    let host_cr4 = c.cpu.cr4;
    c.cpu.cr4 = v.r32(save::CR4);
    c.cpu.cr3 = v.r32(save::CR3);
    c.cpu.cr2 = v.r32(save::CR2);
    c.cpu.cr0 = v.r32(save::CR0) | cr0::ET;
    let flags = v.r32(save::RFLAGS);
    c.cpu.flags.set(flags);
    c.cpu.eip = v.r32(save::RIP);
    c.cpu.gpr[4] = v.r32(save::RSP);
    c.cpu.gpr[0] = v.r32(save::RAX);
    c.cpu.dr[7] = (v.r32(save::DR7) & 0xFFFF_2BFF) | 0x400;
    c.cpu.dr[6] = (v.r32(save::DR6) & 0xE00F) | 0xFFFF_0FF0;
    // CPL: 0 in real mode, 3 in virtual-8086 mode, else the VMCB's (15.5.1).
    c.cpu.cpl = if c.cpu.cr0 & cr0::PE == 0 {
        0
    } else if flags & VM != 0 {
        3
    } else {
        v.r8(save::CPL) & 3
    };
    // A PAE guest without nested paging: the PDPTE registers from its CR3 (15.5.1); a
    // reserved bit in one is illegal state, and the host comes back as for any check.
    if c.cpu.pae_paging() && !controls.np_enable {
        let cr3 = c.cpu.cr3;
        match crate::mmu::pae::load_pdptes(&mut c.mem, cr3) {
            Ok(p) => c.cpu.pdpte = p,
            Err(_) => {
                super::vmexit::load_host(c);
                invalid(c, &mut v, "guest PDPTE reserved bits");
                return;
            }
        }
    }
    c.cpu.halted = false;
    c.cpu.shadow = v.r32(ctl::INTERRUPT_SHADOW) & 1 != 0;
    c.cpu.flags.bits &= !RF;
    // ASID and TLB_CONTROL (15.16): 1 flushes every ASID, 3 this guest's, 7 this guest's
    // non-global entries; other values are reserved (Traplab flushes everything).
    let asid = controls.asid;
    match v.r8(ctl::TLB_CONTROL) {
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
    let inj = v.r64(ctl::EVENTINJ);
    super::inject::inject(c, inj);
}
