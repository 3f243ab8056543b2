//! The VMCB (AMD64 APM Vol. 2 Appendix B): byte offsets of the control area (Table B-1)
//! and of the state-save area (Table B-2), and a copy of its bytes that world switches
//! read and change field by field (`Image`), segment registers included. The host save
//! area (VM_HSAVE_PA) uses the same save-area layout (its format is
//! implementation-specific, APM 15.30.4; this one is the VMCB's).
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

/// The control area's bytes this CPU uses (through NRIP) and the state-save area's
/// (from ES through CR2): the two parts of a VMCB a world switch copies.
const CTL_LEN: usize = ctl::NRIP as usize + 8;
const SAVE_AT: usize = save::ES as usize;
const SAVE_LEN: usize = save::CR2 as usize + 8 - SAVE_AT;

/// A copy of the VMCB at physical `pa`: a world switch reads it once (`load`), reads and
/// changes fields in the copy, and writes the changed bytes back with one copy per part
/// (`store`), instead of a physical access per field. Physical reads have no side effects,
/// so the copy reads exactly what field reads would; `store` goes through
/// `Core::write_phys_from` (a VMCB on a page of cached code invalidates it, as field
/// writes did).
pub struct Image {
    pub pa: u32,
    /// The control area's part, then the save area's.
    buf: [u8; CTL_LEN + SAVE_LEN],
    /// The control area was read (`load`; `load_save` reads only the save area).
    has_ctl: bool,
    /// The changed bytes of each part, as `lo..hi` in `buf` (empty when none changed).
    dirty: [(usize, usize); 2],
}

impl Image {
    /// The control and state-save areas of the VMCB at `pa`.
    pub fn load(c: &Core, pa: u32) -> Image {
        let mut img = Image::load_save(c, pa);
        c.mem.read_into(pa, &mut img.buf[..CTL_LEN]);
        img.has_ctl = true;
        img
    }

    /// Only the state-save area (the host save area, VMLOAD and VMSAVE).
    pub fn load_save(c: &Core, pa: u32) -> Image {
        let mut buf = [0u8; CTL_LEN + SAVE_LEN];
        c.mem
            .read_into(pa.wrapping_add(SAVE_AT as u32), &mut buf[CTL_LEN..]);
        Image {
            pa,
            buf,
            has_ctl: false,
            dirty: [(usize::MAX, 0); 2],
        }
    }

    /// Where field `off`, `n` bytes long, lies in `buf`.
    fn at(&self, off: u32, n: usize) -> usize {
        let o = off as usize;
        if o < SAVE_AT {
            debug_assert!(
                self.has_ctl && o + n <= CTL_LEN,
                "VMCB control field {o:#x}"
            );
            o
        } else {
            debug_assert!(o + n <= SAVE_AT + SAVE_LEN, "VMCB save field {o:#x}");
            o - SAVE_AT + CTL_LEN
        }
    }

    fn bytes<const N: usize>(&self, off: u32) -> [u8; N] {
        let o = self.at(off, N);
        let mut b = [0u8; N];
        b.copy_from_slice(&self.buf[o..o + N]);
        b
    }

    pub fn r8(&self, off: u32) -> u8 {
        self.buf[self.at(off, 1)]
    }

    pub fn r16(&self, off: u32) -> u16 {
        u16::from_le_bytes(self.bytes(off))
    }

    pub fn r32(&self, off: u32) -> u32 {
        u32::from_le_bytes(self.bytes(off))
    }

    pub fn r64(&self, off: u32) -> u64 {
        u64::from_le_bytes(self.bytes(off))
    }

    fn put(&mut self, off: u32, b: &[u8]) {
        let o = self.at(off, b.len());
        self.buf[o..o + b.len()].copy_from_slice(b);
        let d = &mut self.dirty[(o >= CTL_LEN) as usize];
        *d = (d.0.min(o), d.1.max(o + b.len()));
    }

    pub fn w8(&mut self, off: u32, v: u8) {
        self.put(off, &[v]);
    }

    pub fn w32(&mut self, off: u32, v: u32) {
        self.put(off, &v.to_le_bytes());
    }

    pub fn w64(&mut self, off: u32, v: u64) {
        self.put(off, &v.to_le_bytes());
    }

    pub fn seg(&self, off: u32) -> VmcbSeg {
        VmcbSeg {
            sel: self.r16(off),
            attrib: self.r16(off + 2),
            limit: self.r32(off + 4),
            base: self.r64(off + 8),
        }
    }

    pub fn set_seg(&mut self, off: u32, s: VmcbSeg) {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&s.sel.to_le_bytes());
        b[2..4].copy_from_slice(&s.attrib.to_le_bytes());
        b[4..8].copy_from_slice(&s.limit.to_le_bytes());
        b[8..16].copy_from_slice(&s.base.to_le_bytes());
        self.put(off, &b);
    }

    /// What both world switches save of `cpu` (VMRUN the host's, #VMEXIT the guest's, APM
    /// 15.5.1 and 15.6): ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR3, CR4, RFLAGS, RIP (as
    /// `rip`), RSP and RAX.
    pub fn set_switched(&mut self, cpu: &crate::cpu::state::Cpu, rip: u32) {
        for (s, off) in SEG_OFF.iter().enumerate().take(4) {
            self.set_seg(*off, VmcbSeg::from_seg(&cpu.seg[s]));
        }
        self.set_seg(save::GDTR, VmcbSeg::from_table(&cpu.gdtr));
        self.set_seg(save::IDTR, VmcbSeg::from_table(&cpu.idtr));
        self.w64(save::EFER, cpu.msr.efer);
        self.w64(save::CR0, cpu.cr0 as u64);
        self.w64(save::CR3, cpu.cr3 as u64);
        self.w64(save::CR4, cpu.cr4 as u64);
        self.w64(save::RFLAGS, cpu.flags.get() as u64);
        self.w64(save::RIP, rip as u64);
        self.w64(save::RSP, cpu.gpr[4] as u64);
        self.w64(save::RAX, cpu.gpr[0] as u64);
    }

    /// The same registers from the save area into `cpu` (the caller empties the
    /// flat-segment cache, `Core::segs_changed`, when `cpu` is the live one).
    pub fn load_switched_segs(&self, cpu: &mut crate::cpu::state::Cpu) {
        for (s, off) in SEG_OFF.iter().enumerate().take(4) {
            cpu.seg[s] = self.seg(*off).to_seg();
        }
        cpu.gdtr = self.seg(save::GDTR).to_table();
        cpu.idtr = self.seg(save::IDTR).to_table();
    }

    /// Writes the changed bytes back to physical memory (nothing when none changed).
    pub fn store(&self, c: &mut Core) {
        for &(lo, hi) in &self.dirty {
            if lo < hi {
                // Back from `buf` to the VMCB's offsets.
                let off = if lo < CTL_LEN {
                    lo
                } else {
                    lo - CTL_LEN + SAVE_AT
                };
                c.write_phys_from(self.pa.wrapping_add(off as u32), &self.buf[lo..hi]);
            }
        }
    }
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
    let a = Image::load_save(c, area);
    a.load_switched_segs(&mut cpu);
    cpu.msr.efer = a.r64(save::EFER);
    cpu.cr0 = a.r32(save::CR0);
    cpu.cr3 = a.r32(save::CR3);
    cpu.cr4 = a.r32(save::CR4);
    cpu.flags.set(a.r32(save::RFLAGS));
    cpu.eip = a.r32(save::RIP);
    cpu.gpr[4] = a.r32(save::RSP);
    cpu.gpr[0] = a.r32(save::RAX);
    if guest {
        cpu.cr2 = a.r32(save::CR2);
        cpu.dr[6] = a.r32(save::DR6);
        cpu.dr[7] = a.r32(save::DR7);
        cpu.cpl = a.r8(save::CPL) & 3;
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
