//! #VMEXIT (AMD64 APM Vol. 2 15.6): the guest's state and the exit's code and information
//! go to the VMCB, the host's state comes back from the host save area, GIF is cleared.
//! Owns the order of those steps; must not decide whether something exits (`intercept`).

use super::vmcb::{ctl, save, Image};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::flags::RF;
use crate::trace::EventKind;

/// Performs a #VMEXIT now, with `code`, EXITINFO1 and EXITINFO2, saving `c.cpu.eip` as
/// the guest's RIP. For an exit found inside an instruction (a fault path), use
/// `svm::exit_fault` instead so that RIP is that instruction's. Does nothing in host mode.
pub fn vmexit(c: &mut Core, code: u64, info1: u64, info2: u64) {
    exit_with(c, code, info1, info2, 0);
}

/// Performs the exit recorded by `svm::exit_fault`/`exit_insn` (from `interrupt::raise`,
/// once EIP is back at the faulting instruction).
pub fn perform_pending(c: &mut Core) {
    if let Some(p) = c.svm.pending.take() {
        exit_with(c, p.code, p.info1, p.info2, p.nrip);
    }
}

fn exit_with(c: &mut Core, exitcode: u64, info1: u64, info2: u64, nrip: u32) {
    c.svm.pending = None;
    if !c.svm.guest {
        return;
    }
    let mut v = Image::load(c, c.svm.vmcb);
    let guest_rip = c.cpu.eip;
    let asid = c.svm.ctl.asid;
    // APM 15.6 step 1: GIF = 0.
    c.svm.gif = false;
    // Step 2: the guest's state to the VMCB save area.
    let cpu = &c.cpu;
    v.set_switched(cpu, guest_rip);
    v.w64(save::CR2, cpu.cr2 as u64);
    v.w64(save::DR7, cpu.dr[7] as u64);
    v.w64(save::DR6, cpu.dr[6] as u64);
    v.w8(save::CPL, cpu.cpl);
    // V_TPR and V_IRQ are written back (15.21.1): the guest may have taken its virtual
    // interrupt (V_IRQ cleared) or changed its TPR.
    let vi = v.r32(ctl::V_INTR);
    let vi = (vi & !0x1FF) | c.svm.ctl.v_tpr as u32 | (c.svm.ctl.v_irq as u32) << 8;
    v.w32(ctl::V_INTR, vi);
    let shadow = v.r32(ctl::INTERRUPT_SHADOW);
    v.w32(ctl::INTERRUPT_SHADOW, (shadow & !1) | cpu.shadow as u32);
    v.w64(ctl::EXITCODE, exitcode);
    v.w64(ctl::EXITINFO1, info1);
    v.w64(ctl::EXITINFO2, info2);
    v.w64(ctl::EXITINTINFO, c.svm.delivering);
    v.w64(ctl::NRIP, nrip as u64);
    // EVENTINJ.V is cleared: the injected event was delivered (15.20).
    let inj = v.r32(ctl::EVENTINJ);
    v.w32(ctl::EVENTINJ, inj & !(1 << 31));
    v.store(c);
    c.svm.delivering = 0;
    // Step 3: back to the host's address space.
    c.svm.guest = false;
    c.mmu.tlb.set_asid(0);
    c.mmu.leave_nested();
    load_host(c);
    c.svm.exits += 1;
    c.ledger_vmexit(exitcode);
    c.event(EventKind::Vmexit {
        code: exitcode,
        info1,
        info2,
        rip: guest_rip,
        asid,
    });
}

/// Step 4: the host's state from the host save area; CR0.PE forced on, DR7 with every
/// breakpoint disabled, CPL 0 (15.6).
pub(super) fn load_host(c: &mut Core) {
    let h = Image::load_save(c, c.svm.hsave_pa as u32);
    c.segs_changed();
    h.load_switched_segs(&mut c.cpu);
    c.cpu.msr.efer = h.r64(save::EFER);
    c.cpu.cr4 = h.r32(save::CR4);
    c.cpu.cr3 = h.r32(save::CR3);
    c.cpu.cr0 = h.r32(save::CR0) | crate::cpu::state::cr0::PE;
    let flags = h.r32(save::RFLAGS);
    c.cpu.flags.set(flags & !RF);
    c.cpu.eip = h.r32(save::RIP);
    c.cpu.gpr[4] = h.r32(save::RSP);
    c.cpu.gpr[0] = h.r32(save::RAX);
    c.cpu.dr[7] = 0x400;
    c.cpu.cpl = 0;
    // A PAE host gets its PDPTE registers back from its CR3; illegal ones shut the
    // machine down (15.6).
    if c.cpu.pae_paging() {
        let cr3 = c.cpu.cr3;
        match crate::mmu::pae::load_pdptes(&mut c.mem, cr3) {
            Ok(p) => c.cpu.pdpte = p,
            Err(_) => c.request(Request::TripleFault),
        }
    }
    c.cpu.halted = false;
    c.cpu.shadow = false;
    c.update_align_check();
    c.request(Request::Rescan);
}
