//! AMD SVM (Secure Virtual Machine, AMD64 APM Vol. 2 ch. 15) in 32-bit legacy protected
//! mode: the state the CPU keeps while a guest runs, world switches and intercepts.
//!
//! Owns, one file per concern:
//! - `mod.rs`: [`SvmState`] (guest-mode flag, GIF, VM_CR, VM_HSAVE_PA, the current VMCB and
//!   the control fields cached at VMRUN), the exit codes and their names, and the public
//!   entry points other modules call ([`vmexit`], [`exit_fault`]);
//! - `vmcb.rs`: the VMCB layout (APM Appendix B) and segment/register load and save;
//! - `insn.rs`: the instructions VMRUN, VMLOAD, VMSAVE, VMMCALL, STGI, CLGI, INVLPGA, SKINIT;
//! - `vmrun.rs`: VMRUN's world switch into the guest and the consistency checks (15.5);
//! - `vmexit.rs`: #VMEXIT back to the host (15.6);
//! - `intercept.rs`: the cheap "does this exit?" tests that the slow instruction handlers,
//!   exception delivery and interrupt acceptance call (15.9-15.13), and the I/O and MSR
//!   permission maps;
//! - `inject.rs`: event injection (EVENTINJ, 15.20) and EXITINTINFO (15.7.2);
//! - `vintr.rs`: virtual interrupts (V_IRQ, V_TPR..., 15.21).
//!
//! Must not: run on the host-mode hot path (every test here starts from `svm.guest`, checked
//! only by slow handlers and event delivery); translate guest-physical addresses (nested
//! paging is the MMU's, which reads `ctl.np_enable`/`ctl.n_cr3`); keep state outside
//! `SvmState` (it is saved in snapshots with the core).

pub mod inject;
pub mod insn;
pub mod intercept;
pub mod vintr;
pub mod vmcb;
pub mod vmexit;
pub mod vmrun;

use crate::cpu::ctx::Core;
use crate::cpu::exception::{vec, Exception};
use serde::{Deserialize, Serialize};

pub use vmexit::vmexit;

/// EFER bit 12: SVM enable (APM 15.4).
pub const EFER_SVME: u64 = 1 << 12;

/// VM_CR MSR (APM 15.30.1) and its bits.
pub const MSR_VM_CR: u32 = 0xC001_0114;
pub const VM_CR_LOCK: u64 = 1 << 3;
pub const VM_CR_SVMDIS: u64 = 1 << 4;
/// VM_HSAVE_PA MSR (APM 15.30.4): physical address of the host save area.
pub const MSR_VM_HSAVE_PA: u32 = 0xC001_0117;

/// Physical address width this CPU reports (CPUID 0x8000_0008 EAX[7:0]): 32 bits.
pub const PHYS_BITS: u32 = 32;
/// Number of ASIDs (CPUID 0x8000_000A EBX): 16, as QEMU's TCG reports (the APM asks for
/// at least one guest ASID; 0 is the host's).
pub const NUM_ASIDS: u32 = 16;

/// #VMEXIT codes (APM Appendix C, Table C-1).
pub mod code {
    pub const CR0_READ: u64 = 0x00;
    pub const CR0_WRITE: u64 = 0x10;
    pub const DR0_READ: u64 = 0x20;
    pub const DR0_WRITE: u64 = 0x30;
    pub const EXCP_BASE: u64 = 0x40;
    pub const INTR: u64 = 0x60;
    pub const NMI: u64 = 0x61;
    pub const SMI: u64 = 0x62;
    pub const INIT: u64 = 0x63;
    pub const VINTR: u64 = 0x64;
    pub const CR0_SEL_WRITE: u64 = 0x65;
    pub const IDTR_READ: u64 = 0x66;
    pub const GDTR_READ: u64 = 0x67;
    pub const LDTR_READ: u64 = 0x68;
    pub const TR_READ: u64 = 0x69;
    pub const IDTR_WRITE: u64 = 0x6A;
    pub const GDTR_WRITE: u64 = 0x6B;
    pub const LDTR_WRITE: u64 = 0x6C;
    pub const TR_WRITE: u64 = 0x6D;
    pub const RDTSC: u64 = 0x6E;
    pub const RDPMC: u64 = 0x6F;
    pub const PUSHF: u64 = 0x70;
    pub const POPF: u64 = 0x71;
    pub const CPUID: u64 = 0x72;
    pub const RSM: u64 = 0x73;
    pub const IRET: u64 = 0x74;
    pub const SWINT: u64 = 0x75;
    pub const INVD: u64 = 0x76;
    pub const PAUSE: u64 = 0x77;
    pub const HLT: u64 = 0x78;
    pub const INVLPG: u64 = 0x79;
    pub const INVLPGA: u64 = 0x7A;
    pub const IOIO: u64 = 0x7B;
    pub const MSR: u64 = 0x7C;
    pub const TASK_SWITCH: u64 = 0x7D;
    pub const FERR_FREEZE: u64 = 0x7E;
    pub const SHUTDOWN: u64 = 0x7F;
    pub const VMRUN: u64 = 0x80;
    pub const VMMCALL: u64 = 0x81;
    pub const VMLOAD: u64 = 0x82;
    pub const VMSAVE: u64 = 0x83;
    pub const STGI: u64 = 0x84;
    pub const CLGI: u64 = 0x85;
    pub const SKINIT: u64 = 0x86;
    pub const RDTSCP: u64 = 0x87;
    pub const ICEBP: u64 = 0x88;
    pub const WBINVD: u64 = 0x89;
    pub const NPF: u64 = 0x400;
    /// VMRUN found illegal guest state (APM 15.5.1): -1.
    pub const INVALID: u64 = u64::MAX;
}

/// The name of an exit code, as the APM's Appendix C spells it (`VMEXIT_` dropped).
pub fn exit_name(c: u64) -> &'static str {
    const CR: [&str; 32] = [
        "CR0_READ",
        "CR1_READ",
        "CR2_READ",
        "CR3_READ",
        "CR4_READ",
        "CR5_READ",
        "CR6_READ",
        "CR7_READ",
        "CR8_READ",
        "CR9_READ",
        "CR10_READ",
        "CR11_READ",
        "CR12_READ",
        "CR13_READ",
        "CR14_READ",
        "CR15_READ",
        "CR0_WRITE",
        "CR1_WRITE",
        "CR2_WRITE",
        "CR3_WRITE",
        "CR4_WRITE",
        "CR5_WRITE",
        "CR6_WRITE",
        "CR7_WRITE",
        "CR8_WRITE",
        "CR9_WRITE",
        "CR10_WRITE",
        "CR11_WRITE",
        "CR12_WRITE",
        "CR13_WRITE",
        "CR14_WRITE",
        "CR15_WRITE",
    ];
    const DR_READ: [&str; 16] = [
        "DR0_READ",
        "DR1_READ",
        "DR2_READ",
        "DR3_READ",
        "DR4_READ",
        "DR5_READ",
        "DR6_READ",
        "DR7_READ",
        "DR8_READ",
        "DR9_READ",
        "DR10_READ",
        "DR11_READ",
        "DR12_READ",
        "DR13_READ",
        "DR14_READ",
        "DR15_READ",
    ];
    const DR_WRITE: [&str; 16] = [
        "DR0_WRITE",
        "DR1_WRITE",
        "DR2_WRITE",
        "DR3_WRITE",
        "DR4_WRITE",
        "DR5_WRITE",
        "DR6_WRITE",
        "DR7_WRITE",
        "DR8_WRITE",
        "DR9_WRITE",
        "DR10_WRITE",
        "DR11_WRITE",
        "DR12_WRITE",
        "DR13_WRITE",
        "DR14_WRITE",
        "DR15_WRITE",
    ];
    const EXCP: [&str; 32] = [
        "EXCP_DE", "EXCP_DB", "EXCP_NMI", "EXCP_BP", "EXCP_OF", "EXCP_BR", "EXCP_UD", "EXCP_NM",
        "EXCP_DF", "EXCP_9", "EXCP_TS", "EXCP_NP", "EXCP_SS", "EXCP_GP", "EXCP_PF", "EXCP_15",
        "EXCP_MF", "EXCP_AC", "EXCP_MC", "EXCP_XF", "EXCP_20", "EXCP_21", "EXCP_22", "EXCP_23",
        "EXCP_24", "EXCP_25", "EXCP_26", "EXCP_27", "EXCP_28", "EXCP_29", "EXCP_SX", "EXCP_31",
    ];
    const MISC: [&str; 42] = [
        "INTR",
        "NMI",
        "SMI",
        "INIT",
        "VINTR",
        "CR0_SEL_WRITE",
        "IDTR_READ",
        "GDTR_READ",
        "LDTR_READ",
        "TR_READ",
        "IDTR_WRITE",
        "GDTR_WRITE",
        "LDTR_WRITE",
        "TR_WRITE",
        "RDTSC",
        "RDPMC",
        "PUSHF",
        "POPF",
        "CPUID",
        "RSM",
        "IRET",
        "SWINT",
        "INVD",
        "PAUSE",
        "HLT",
        "INVLPG",
        "INVLPGA",
        "IOIO",
        "MSR",
        "TASK_SWITCH",
        "FERR_FREEZE",
        "SHUTDOWN",
        "VMRUN",
        "VMMCALL",
        "VMLOAD",
        "VMSAVE",
        "STGI",
        "CLGI",
        "SKINIT",
        "RDTSCP",
        "ICEBP",
        "WBINVD",
    ];
    match c {
        0x00..=0x1F => CR[c as usize],
        0x20..=0x2F => DR_READ[(c - 0x20) as usize],
        0x30..=0x3F => DR_WRITE[(c - 0x30) as usize],
        0x40..=0x5F => EXCP[(c - 0x40) as usize],
        0x60..=0x89 => MISC[(c - 0x60) as usize],
        code::NPF => "NPF",
        code::INVALID => "INVALID",
        _ => "UNKNOWN",
    }
}

/// The control-area fields VMRUN caches (APM 15.5.1: the processor may keep them while
/// the guest runs; a hypervisor changes them only between #VMEXIT and the next VMRUN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// Offset 0x000: CR0-15 read intercepts (bits 0-15) and write intercepts (16-31).
    pub cr: u32,
    /// Offset 0x004: DR0-15 read (0-15) and write (16-31) intercepts.
    pub dr: u32,
    /// Offset 0x008: exception intercepts, one bit per vector.
    pub exceptions: u32,
    /// Offset 0x00C: intercept word 3 (INTR, NMI, ..., SHUTDOWN; `intercept::w3`).
    pub misc1: u32,
    /// Offset 0x010: intercept word 4 (VMRUN, VMMCALL, ...; `intercept::w4`).
    pub misc2: u32,
    pub iopm_base: u32,
    pub msrpm_base: u32,
    /// Added to the TSC the guest reads (RDTSC, RDMSR 0x10).
    pub tsc_offset: u64,
    pub asid: u32,
    /// Offset 0x060: V_TPR (bits 3:0 used), V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING.
    pub v_tpr: u8,
    pub v_irq: bool,
    pub v_intr_prio: u8,
    pub v_ign_tpr: bool,
    pub v_intr_masking: bool,
    pub v_intr_vector: u8,
    /// Offset 0x090 bit 0: nested paging for this guest.
    pub np_enable: bool,
    /// Offset 0x0B0: the nested page-table root (host-physical).
    pub n_cr3: u64,
}

/// A #VMEXIT recorded by a fault path, performed by `interrupt::raise` (see [`exit_fault`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExit {
    pub code: u64,
    pub info1: u64,
    pub info2: u64,
    /// NextRIP to store (the instruction after the intercepted one), 0 if none.
    pub nrip: u32,
}

/// What the CPU keeps for SVM (APM 15.5-15.6), saved in snapshots with the core.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvmState {
    /// The guest runs (between VMRUN and #VMEXIT).
    pub guest: bool,
    /// The global interrupt flag (APM 15.17): 1 at reset, cleared by CLGI and #VMEXIT,
    /// set by STGI and VMRUN. While 0, INTR, NMI and virtual interrupts are held.
    pub gif: bool,
    /// VM_CR MSR (only LOCK and SVMDIS are modelled).
    pub vm_cr: u64,
    /// VM_HSAVE_PA MSR.
    pub hsave_pa: u64,
    /// Physical address of the VMCB of the guest that runs (or ran last).
    pub vmcb: u32,
    /// The control fields cached at VMRUN.
    pub ctl: Controls,
    /// Host EFLAGS.IF at VMRUN: with V_INTR_MASKING it masks physical interrupts in the
    /// guest (15.21.1).
    pub host_if: bool,
    /// The event whose delivery through the guest's IDT is under way, in EXITINTINFO
    /// format (0: none): an exit during it reports it (15.7.2).
    pub delivering: u64,
    /// An exit recorded by [`exit_fault`], performed by `interrupt::raise`.
    pub pending: Option<PendingExit>,
    /// Exits taken and VMRUNs completed (for the ledger).
    pub exits: u64,
    pub vmruns: u64,
}

impl Default for SvmState {
    fn default() -> Self {
        SvmState {
            guest: false,
            gif: true,
            vm_cr: 0,
            hsave_pa: 0,
            vmcb: 0,
            ctl: Controls::default(),
            host_if: false,
            delivering: 0,
            pending: None,
            exits: 0,
            vmruns: 0,
        }
    }
}

/// Records a #VMEXIT for a fault path and returns the marker exception that carries it to
/// `interrupt::raise` (which performs it with the guest RIP of the faulting instruction).
/// A handler uses it as `return Err(svm::exit_fault(c, code, info1, info2))`: the
/// instruction has changed nothing, as for any fault.
pub fn exit_fault(c: &mut Core, code: u64, info1: u64, info2: u64) -> Exception {
    c.svm.pending = Some(PendingExit {
        code,
        info1,
        info2,
        nrip: 0,
    });
    Exception::new(vec::VMEXIT)
}

/// `exit_fault` for an intercepted instruction: NextRIP (APM 15.7.1) is the address of the
/// instruction after it.
pub fn exit_insn(c: &mut Core, code: u64, info1: u64, info2: u64, next: u32) -> Exception {
    c.svm.pending = Some(PendingExit {
        code,
        info1,
        info2,
        nrip: next,
    });
    Exception::new(vec::VMEXIT)
}

#[cfg(test)]
mod tests;
