//! The VMCB (AMD64 APM Vol. 2 Appendix B): byte offsets of the control area (Table B-1)
//! and of the state-save area (Table B-2), and physical reads and writes of its fields,
//! segment registers included. The host save area (VM_HSAVE_PA) uses the same save-area
//! layout (its format is implementation-specific, APM 15.30.4; this one is the VMCB's).
//! Must not decide anything: callers (VMRUN, #VMEXIT, VMLOAD/VMSAVE) choose what moves.

use crate::cpu::ctx::Core;
use crate::mmu::segment::{Seg, TableReg};

/// Control area offsets (Table B-1).
pub mod ctl {
    pub const INTERCEPT_CR: u32 = 0x000;
    pub const INTERCEPT_DR: u32 = 0x004;
    pub const INTERCEPT_EXC: u32 = 0x008;
    pub const INTERCEPT_MISC1: u32 = 0x00C;
    pub const INTERCEPT_MISC2: u32 = 0x010;
    pub const IOPM_BASE_PA: u32 = 0x040;
    pub const MSRPM_BASE_PA: u32 = 0x048;
    pub const TSC_OFFSET: u32 = 0x050;
    pub const ASID: u32 = 0x058;
    pub const TLB_CONTROL: u32 = 0x05C;
    pub const V_INTR: u32 = 0x060;
    pub const INTERRUPT_SHADOW: u32 = 0x068;
    pub const EXITCODE: u32 = 0x070;
    pub const EXITINFO1: u32 = 0x078;
    pub const EXITINFO2: u32 = 0x080;
    pub const EXITINTINFO: u32 = 0x088;
    pub const NP_ENABLE: u32 = 0x090;
    pub const EVENTINJ: u32 = 0x0A8;
    pub const N_CR3: u32 = 0x0B0;
    pub const NRIP: u32 = 0x0C8;
}

/// State-save area offsets (Table B-2).
pub mod save {
    pub const ES: u32 = 0x400;
    pub const CS: u32 = 0x410;
    pub const SS: u32 = 0x420;
    pub const DS: u32 = 0x430;
    pub const FS: u32 = 0x440;
    pub const GS: u32 = 0x450;
    pub const GDTR: u32 = 0x460;
    pub const LDTR: u32 = 0x470;
    pub const IDTR: u32 = 0x480;
    pub const TR: u32 = 0x490;
    pub const CPL: u32 = 0x4CB;
    pub const EFER: u32 = 0x4D0;
    pub const CR4: u32 = 0x548;
    pub const CR3: u32 = 0x550;
    pub const CR0: u32 = 0x558;
    pub const DR7: u32 = 0x560;
    pub const DR6: u32 = 0x568;
    pub const RFLAGS: u32 = 0x570;
    pub const RIP: u32 = 0x578;
    pub const RSP: u32 = 0x5D8;
    pub const RAX: u32 = 0x5F8;
    pub const STAR: u32 = 0x600;
    pub const LSTAR: u32 = 0x608;
    pub const CSTAR: u32 = 0x610;
    pub const SFMASK: u32 = 0x618;
    pub const KERNEL_GS_BASE: u32 = 0x620;
    pub const SYSENTER_CS: u32 = 0x628;
    pub const SYSENTER_ESP: u32 = 0x630;
    pub const SYSENTER_EIP: u32 = 0x638;
    pub const CR2: u32 = 0x640;
}

/// Segment-register slots of the save area by `mmu::segment` index (ES..GS).
pub const SEG_OFF: [u32; 6] = [save::ES, save::CS, save::SS, save::DS, save::FS, save::GS];

/// Reads a 32-bit field of the VMCB at physical `vmcb`.
pub fn r32(c: &Core, vmcb: u32, off: u32) -> u32 {
    c.mem.read(vmcb.wrapping_add(off), 4)
}

pub fn r16(c: &Core, vmcb: u32, off: u32) -> u16 {
    c.mem.read(vmcb.wrapping_add(off), 2) as u16
}

pub fn r8(c: &Core, vmcb: u32, off: u32) -> u8 {
    c.mem.read_u8(vmcb.wrapping_add(off))
}

pub fn r64(c: &Core, vmcb: u32, off: u32) -> u64 {
    r32(c, vmcb, off) as u64 | (r32(c, vmcb, off.wrapping_add(4)) as u64) << 32
}

/// Writes go through `write_phys`: a VMCB on a page of cached code invalidates it.
pub fn w32(c: &mut Core, vmcb: u32, off: u32, v: u32) {
    c.write_phys(vmcb.wrapping_add(off), 4, v);
}

pub fn w16(c: &mut Core, vmcb: u32, off: u32, v: u16) {
    c.write_phys(vmcb.wrapping_add(off), 2, v as u32);
}

pub fn w8(c: &mut Core, vmcb: u32, off: u32, v: u8) {
    c.write_phys(vmcb.wrapping_add(off), 1, v as u32);
}

pub fn w64(c: &mut Core, vmcb: u32, off: u32, v: u64) {
    w32(c, vmcb, off, v as u32);
    w32(c, vmcb, off.wrapping_add(4), (v >> 32) as u32);
}

/// A segment register as the save area holds it: selector, attrib (12 bits, laid out as
/// `Seg::attr`), limit, base (64 bits; the high half must be zero for a 32-bit CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmcbSeg {
    pub sel: u16,
    pub attrib: u16,
    pub limit: u32,
    pub base: u64,
}

pub fn read_seg(c: &Core, vmcb: u32, off: u32) -> VmcbSeg {
    VmcbSeg {
        sel: r16(c, vmcb, off),
        attrib: r16(c, vmcb, off + 2),
        limit: r32(c, vmcb, off + 4),
        base: r64(c, vmcb, off + 8),
    }
}

pub fn write_seg(c: &mut Core, vmcb: u32, off: u32, s: VmcbSeg) {
    w16(c, vmcb, off, s.sel);
    w16(c, vmcb, off + 2, s.attrib);
    w32(c, vmcb, off + 4, s.limit);
    w64(c, vmcb, off + 8, s.base);
}

impl VmcbSeg {
    /// The VMCB image of a segment register. A null selector loaded in protected mode
    /// (`valid` false) is stored with P = 0, as the APM's attribute format has no other way.
    pub fn from_seg(s: &Seg) -> VmcbSeg {
        let mut attrib = s.attr & 0xFFF;
        if !s.valid {
            attrib &= !crate::mmu::segment::attr::P;
        }
        VmcbSeg {
            sel: s.sel,
            attrib,
            limit: s.limit,
            base: s.base as u64,
        }
    }

    /// The segment register this image loads: a segment with P = 0 is unusable.
    pub fn to_seg(self) -> Seg {
        let attr = self.attrib & 0xFFF;
        Seg {
            sel: self.sel,
            base: self.base as u32,
            limit: self.limit,
            attr,
            valid: attr & crate::mmu::segment::attr::P != 0,
        }
    }

    pub fn from_table(t: &TableReg) -> VmcbSeg {
        VmcbSeg {
            sel: 0,
            attrib: 0,
            limit: t.limit as u32,
            base: t.base as u64,
        }
    }

    /// GDTR/IDTR: only limit (16 bits) and base are used.
    pub fn to_table(self) -> TableReg {
        TableReg {
            base: self.base as u32,
            limit: self.limit as u16,
        }
    }
}

/// The register file of the world that does not run now, for the inspection API (read
/// only): the live registers with those the world switch exchanges taken from the save
/// area at `area` (the VMCB for a guest while the host runs, the host save area for the
/// host while a guest runs): ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR3, CR4, RFLAGS, RIP,
/// RSP, RAX and CPL, plus CR2, DR6 and DR7 for a guest. The other registers (EBX..EDI, FS,
/// GS, TR, LDTR) are not switched by VMRUN or #VMEXIT: a hypervisor keeps its own copies
/// in software, so the live values are the truthful answer. PDPTEs of a PAE world are read
/// from its CR3 (the real registers of the host are reloaded that way at #VMEXIT).
pub fn saved_cpu(c: &Core, area: u32, guest: bool) -> crate::cpu::state::Cpu {
    let mut cpu = c.cpu.clone();
    for (s, off) in SEG_OFF.iter().enumerate().take(4) {
        cpu.seg[s] = read_seg(c, area, *off).to_seg();
    }
    cpu.gdtr = read_seg(c, area, save::GDTR).to_table();
    cpu.idtr = read_seg(c, area, save::IDTR).to_table();
    cpu.msr.efer = r64(c, area, save::EFER);
    cpu.cr0 = r32(c, area, save::CR0);
    cpu.cr3 = r32(c, area, save::CR3);
    cpu.cr4 = r32(c, area, save::CR4);
    cpu.flags.set(r32(c, area, save::RFLAGS));
    cpu.eip = r32(c, area, save::RIP);
    cpu.gpr[4] = r32(c, area, save::RSP);
    cpu.gpr[0] = r32(c, area, save::RAX);
    if guest {
        cpu.cr2 = r32(c, area, save::CR2);
        cpu.dr[6] = r32(c, area, save::DR6);
        cpu.dr[7] = r32(c, area, save::DR7);
        cpu.cpl = r8(c, area, save::CPL) & 3;
    } else {
        cpu.cpl = 0;
    }
    cpu.halted = false;
    if cpu.pae_paging() {
        for (i, e) in cpu.pdpte.iter_mut().enumerate() {
            let a = crate::mmu::pae::pdpte_addr(cpu.cr3, i);
            *e = c.mem.read(a, 4) as u64 | (c.mem.read(a.wrapping_add(4), 4) as u64) << 32;
        }
    }
    cpu
}
