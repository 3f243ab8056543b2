//! Snapshots of the CPU's register file: general registers, EFLAGS materialized from the
//! lazy flags, segment registers with their hidden descriptor caches, control, debug and
//! model-specific registers.

use super::World;
use crate::cpu::state::{cr0, cr4, Cpu};
use crate::mmu::segment::{attr, Seg, TableReg};

/// The CPU's operating mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuMode {
    Real,
    /// Virtual-8086 mode (protected mode with EFLAGS.VM).
    V8086,
    /// Protected mode with a 16-bit code segment.
    Protected16,
    /// Protected mode with a 32-bit code segment.
    Protected32,
}

impl CpuMode {
    pub(super) fn of(c: &Cpu) -> CpuMode {
        if !c.pe() {
            CpuMode::Real
        } else if c.vm86() {
            CpuMode::V8086
        } else if c.code32() {
            CpuMode::Protected32
        } else {
            CpuMode::Protected16
        }
    }

    /// `real`, `v8086`, `protected 16` or `protected 32`.
    pub fn name(&self) -> &'static str {
        match self {
            CpuMode::Real => "real",
            CpuMode::V8086 => "v8086",
            CpuMode::Protected16 => "protected 16",
            CpuMode::Protected32 => "protected 32",
        }
    }

    /// CR0.PE is set (protected or virtual-8086 mode).
    pub fn protection_enabled(&self) -> bool {
        *self != CpuMode::Real
    }
}

/// A segment register: the visible selector and the hidden descriptor cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentState {
    pub selector: u16,
    pub base: u32,
    /// Byte-granular limit (the G bit already applied).
    pub limit: u32,
    /// Descriptor attributes: bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G.
    pub attr: u16,
    /// False when a null selector was loaded in protected mode (any access is #GP(0)).
    pub valid: bool,
}

impl SegmentState {
    pub(super) fn capture(s: &Seg) -> SegmentState {
        SegmentState {
            selector: s.sel,
            base: s.base,
            limit: s.limit,
            attr: s.attr,
            valid: s.valid,
        }
    }

    pub fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.attr & attr::P != 0
    }
    /// A code or data segment (S=1), not a system descriptor.
    pub fn code_or_data(&self) -> bool {
        self.attr & attr::S != 0
    }
    pub fn is_code(&self) -> bool {
        self.code_or_data() && self.attr & attr::CODE != 0
    }
    /// D/B: 32-bit default operand size (code) or 32-bit stack (SS).
    pub fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }
    /// The 4-bit type field.
    pub fn type_bits(&self) -> u8 {
        (self.attr & 0xF) as u8
    }
}

/// GDTR or IDTR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableRegState {
    pub base: u32,
    pub limit: u16,
}

impl TableRegState {
    fn capture(t: &TableReg) -> TableRegState {
        TableRegState {
            base: t.base,
            limit: t.limit,
        }
    }
}

/// CR0, CR2, CR3 and CR4, with the bits front ends ask about decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlRegs {
    pub cr0: u32,
    /// The last page-fault linear address.
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
}

impl ControlRegs {
    pub(super) fn capture(c: &Cpu) -> ControlRegs {
        ControlRegs {
            cr0: c.cr0,
            cr2: c.cr2,
            cr3: c.cr3,
            cr4: c.cr4,
        }
    }
    /// CR0.PE: protection enabled.
    pub fn protection(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }
    /// CR0.PG: paging enabled.
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }
    /// CR0.WP: supervisor writes honour read-only pages.
    pub fn write_protect(&self) -> bool {
        self.cr0 & cr0::WP != 0
    }
    /// CR4.PSE: 4 MiB pages allowed.
    pub fn page_size_extensions(&self) -> bool {
        self.cr4 & cr4::PSE != 0
    }
    /// CR4.PAE: three-level PAE paging with 64-bit entries.
    pub fn pae(&self) -> bool {
        self.cr4 & cr4::PAE != 0
    }
    /// Physical address of the page directory (CR3 bits 31:12), or under PAE of the page
    /// directory pointer table (CR3 bits 31:5).
    pub fn page_directory(&self) -> u32 {
        if self.pae() {
            self.cr3 & 0xFFFF_FFE0
        } else {
            self.cr3 & 0xFFFF_F000
        }
    }
}

/// The model-specific registers Traplab implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsrState {
    pub sysenter_cs: u32,
    pub sysenter_esp: u32,
    pub sysenter_eip: u32,
    pub efer: u64,
    pub apic_base: u64,
    /// TSC = retired instructions + this offset.
    pub tsc_offset: u64,
}

/// The whole register file of one world's CPU at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuState {
    pub world: World,
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (encoding order; names in
    /// `cpu::state::REG_NAMES`, indices `cpu::state::EAX`..).
    pub gpr: [u32; 8],
    pub eip: u32,
    /// EFLAGS as PUSHF would see it.
    pub eflags: u32,
    /// Current privilege level.
    pub cpl: u8,
    pub mode: CpuMode,
    /// ES, CS, SS, DS, FS, GS (indices `mmu::segment::ES`..; names in `SEG_NAMES`).
    pub seg: [SegmentState; 6],
    pub ldtr: SegmentState,
    pub tr: SegmentState,
    pub gdtr: TableRegState,
    pub idtr: TableRegState,
    pub control: ControlRegs,
    /// DR0-DR7 (DR4/DR5 alias DR6/DR7 and are kept as read).
    pub dr: [u32; 8],
    pub msr: MsrState,
    /// HLT executed; waiting for an interrupt.
    pub halted: bool,
    /// The one-instruction interrupt shadow after STI / MOV SS / POP SS.
    pub interrupt_shadow: bool,
    /// The hypothetical virtualizable CPU (`--popek-goldberg`): the sensitive instructions
    /// of `cpu::exec::sensitive` fault at CPL > 0.
    pub popek_goldberg: bool,
    /// The x87 FPU (one per CPU: a world switch does not save it).
    pub fpu: super::fpu::FpuState,
}

impl CpuState {
    pub(super) fn capture(c: &Cpu, world: World) -> CpuState {
        let m = &c.msr;
        CpuState {
            world,
            gpr: c.gpr,
            eip: c.eip,
            eflags: c.flags.get(),
            cpl: c.cpl,
            mode: CpuMode::of(c),
            seg: c.seg.map(|s| SegmentState::capture(&s)),
            ldtr: SegmentState::capture(&c.ldtr),
            tr: SegmentState::capture(&c.tr),
            gdtr: TableRegState::capture(&c.gdtr),
            idtr: TableRegState::capture(&c.idtr),
            control: ControlRegs::capture(c),
            dr: c.dr,
            msr: MsrState {
                sysenter_cs: m.sysenter_cs,
                sysenter_esp: m.sysenter_esp,
                sysenter_eip: m.sysenter_eip,
                efer: m.efer,
                apic_base: m.apic_base,
                tsc_offset: m.tsc_offset,
            },
            halted: c.halted,
            interrupt_shadow: c.shadow,
            popek_goldberg: false, // a machine option: `Inspector::cpu` fills it in
            fpu: super::fpu::FpuState::capture(&c.fpu),
        }
    }

    /// Linear address of the next instruction (CS base + EIP).
    pub fn pc(&self) -> u32 {
        self.seg[crate::mmu::segment::CS]
            .base
            .wrapping_add(self.eip)
    }

    /// The code segment is 32-bit in protected mode (instructions decode as 32-bit).
    pub fn code32(&self) -> bool {
        self.mode == CpuMode::Protected32
    }

    /// The I/O privilege level from EFLAGS.
    pub fn iopl(&self) -> u8 {
        ((self.eflags >> 12) & 3) as u8
    }
}
