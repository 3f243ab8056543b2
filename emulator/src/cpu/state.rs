//! The architectural register file of the i686 CPU. Owns registers, control registers,
//! descriptor-table registers and MSR values; it must not touch memory or devices.

use super::flags::Flags;
use crate::mmu::paging::{PagingRegs, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE};
use crate::mmu::segment::{Seg, TableReg, CS, SS};
use serde::{Deserialize, Serialize};

pub const EAX: usize = 0;
pub const ECX: usize = 1;
pub const EDX: usize = 2;
pub const EBX: usize = 3;
pub const ESP: usize = 4;
pub const EBP: usize = 5;
pub const ESI: usize = 6;
pub const EDI: usize = 7;
pub const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

pub mod cr0 {
    pub const PE: u32 = 1;
    pub const MP: u32 = 2;
    pub const EM: u32 = 4;
    pub const TS: u32 = 8;
    pub const ET: u32 = 0x10;
    pub const NE: u32 = 0x20;
    pub const WP: u32 = super::CR0_WP;
    pub const AM: u32 = 1 << 18;
    pub const NW: u32 = 1 << 29;
    pub const CD: u32 = 1 << 30;
    pub const PG: u32 = super::CR0_PG;
}

pub mod cr4 {
    pub const VME: u32 = 1;
    pub const PVI: u32 = 2;
    pub const TSD: u32 = 4;
    pub const DE: u32 = 8;
    pub const PSE: u32 = super::CR4_PSE;
    pub const PAE: u32 = super::CR4_PAE;
    pub const MCE: u32 = 0x40;
    pub const PGE: u32 = super::CR4_PGE;
    pub const PCE: u32 = 0x100;
    /// User-mode instruction prevention (SDM Vol. 3A 2.5): SGDT, SIDT, SLDT, SMSW and STR
    /// raise #GP(0) at CPL > 0.
    pub const UMIP: u32 = 1 << 11;
    /// The OS saves the SSE state with FXSAVE/FXRSTOR (SDM Vol. 3A 2.5). This CPU has FXSR
    /// but no SSE: the bit is settable and changes nothing (`x87::fxsr`).
    pub const OSFXSR: u32 = 1 << 9;
    /// Bits this CPU implements; setting others is #GP(0).
    pub const SUPPORTED: u32 = VME | PVI | TSD | DE | PSE | PAE | MCE | PGE | PCE | OSFXSR | UMIP;
}

/// EFER bits software may set (others are reserved, MBZ: WRMSR #GP(0), VMRUN refuses a
/// guest EFER with them): SVME (bit 12, AMD APM 15.4).
pub const EFER_WRITABLE: u64 = 1 << 12;

/// Model-specific registers Traplab implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msrs {
    pub sysenter_cs: u32,
    pub sysenter_esp: u32,
    pub sysenter_eip: u32,
    pub efer: u64,
    pub apic_base: u64,
    /// TSC = retired instructions + this offset (written by WRMSR 0x10).
    pub tsc_offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub gpr: [u32; 8],
    pub eip: u32,
    pub flags: Flags,
    pub seg: [Seg; 6],
    pub ldtr: Seg,
    pub tr: Seg,
    pub gdtr: TableReg,
    pub idtr: TableReg,
    pub cr0: u32,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
    /// The PDPTE registers of PAE paging (SDM Vol. 3A 4.4.1): loaded from CR3 by MOV to CR3
    /// while PAE paging is on, by MOV to CR0/CR4 that turns it on or changes its bits, and by
    /// task switches; the walk reads them instead of memory.
    pub pdpte: [u64; 4],
    pub dr: [u32; 8],
    pub cpl: u8,
    pub msr: Msrs,
    /// HLT executed; cleared by an interrupt.
    pub halted: bool,
    /// One-instruction interrupt shadow after STI / MOV SS / POP SS.
    pub shadow: bool,
    /// The x87 FPU's registers (`cpu::x87`).
    pub fpu: super::x87::Fpu,
}

impl Default for Cpu {
    fn default() -> Self {
        Self::power_on()
    }
}

impl Cpu {
    /// State after RESET (SDM Vol. 3A 9.1.1, Table 9-1): real mode, CS:IP = F000:FFF0
    /// with CS base FFFF0000.
    pub fn power_on() -> Cpu {
        let mut seg = [Seg::real(0); 6];
        seg[CS] = Seg {
            sel: 0xF000,
            base: 0xFFFF_0000,
            limit: 0xFFFF,
            attr: 0x9B,
            valid: true,
        };
        let mut flags = Flags::default();
        flags.set(2);
        Cpu {
            gpr: [0, 0, 0x0000_0600 /* family 6 in EDX */, 0, 0, 0, 0, 0],
            eip: 0xFFF0,
            flags,
            seg,
            ldtr: Seg {
                sel: 0,
                base: 0,
                limit: 0xFFFF,
                attr: 0x82,
                valid: true,
            },
            tr: Seg {
                sel: 0,
                base: 0,
                limit: 0xFFFF,
                attr: 0x8B,
                valid: true,
            },
            gdtr: TableReg {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: TableReg {
                base: 0,
                limit: 0xFFFF,
            },
            cr0: 0x6000_0010,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            pdpte: [0; 4],
            dr: [0, 0, 0, 0, 0, 0, 0xFFFF_0FF0, 0x400],
            cpl: 0,
            msr: Msrs {
                apic_base: 0xFEE0_0900,
                ..Default::default()
            },
            halted: false,
            shadow: false,
            fpu: super::x87::Fpu::power_on(),
        }
    }

    #[inline(always)]
    pub fn pe(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }
    /// The registers the page walker reads, as one value.
    #[inline(always)]
    pub fn paging_regs(&self) -> PagingRegs {
        PagingRegs {
            cr0: self.cr0,
            cr3: self.cr3,
            cr4: self.cr4,
            pdpte: self.pdpte,
            pdpte_mem: false,
        }
    }
    #[inline(always)]
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }
    /// PAE paging is in use (CR0.PG and CR4.PAE).
    #[inline(always)]
    pub fn pae_paging(&self) -> bool {
        self.paging() && self.cr4 & cr4::PAE != 0
    }
    #[inline(always)]
    pub fn vm86(&self) -> bool {
        self.flags.bits & super::flags::VM != 0
    }
    /// Protected mode and not virtual-8086.
    #[inline(always)]
    pub fn protected(&self) -> bool {
        self.pe() && !self.vm86()
    }
    /// Default operand/address size of the code segment is 32 bits.
    #[inline(always)]
    pub fn code32(&self) -> bool {
        self.seg[CS].big() && self.protected()
    }
    /// The stack segment is 32-bit (SS.B).
    #[inline(always)]
    pub fn stack32(&self) -> bool {
        self.seg[SS].big() && self.protected()
    }
    pub fn mode_name(&self) -> &'static str {
        if !self.pe() {
            "real"
        } else if self.vm86() {
            "v8086"
        } else if self.code32() {
            "protected 32"
        } else {
            "protected 16"
        }
    }

    // Register access by size. 8-bit indices follow the encoding: AL CL DL BL AH CH DH BH.
    #[inline(always)]
    pub fn get8(&self, r: usize) -> u32 {
        if r < 4 {
            self.gpr[r] & 0xFF
        } else {
            (self.gpr[r & 3] >> 8) & 0xFF
        }
    }
    #[inline(always)]
    pub fn set8(&mut self, r: usize, v: u32) {
        if r < 4 {
            self.gpr[r] = (self.gpr[r] & !0xFF) | (v & 0xFF);
        } else {
            let r = r & 3;
            self.gpr[r] = (self.gpr[r] & !0xFF00) | ((v & 0xFF) << 8);
        }
    }
    #[inline(always)]
    pub fn get16(&self, r: usize) -> u32 {
        self.gpr[r & 7] & 0xFFFF
    }
    #[inline(always)]
    pub fn set16(&mut self, r: usize, v: u32) {
        let r = r & 7;
        self.gpr[r] = (self.gpr[r] & !0xFFFF) | (v & 0xFFFF);
    }
    #[inline(always)]
    pub fn get(&self, size: u8, r: usize) -> u32 {
        match size {
            1 => self.get8(r),
            2 => self.get16(r),
            _ => self.gpr[r & 7],
        }
    }
    #[inline(always)]
    pub fn set(&mut self, size: u8, r: usize, v: u32) {
        match size {
            1 => self.set8(r, v),
            2 => self.set16(r, v),
            _ => self.gpr[r & 7] = v,
        }
    }
}
