//! A read-only view of the CPU's SVM state (AMD64 APM Vol. 2 ch. 15) for front ends: which
//! world runs, GIF, the MSRs, the controls VMRUN cached (intercepts decoded by name, the
//! virtual-interrupt fields, nested paging) and the last exit as the VMCB records it.
//! Reads guest memory only through side-effect-free peeks.

use super::World;
use crate::cpu::ctx::Core;
use crate::cpu::svm::vmcb::{ctl, Image};
use crate::cpu::svm::{exit_name, Controls};

/// Names of the intercept-word-3 bits (VMCB offset 0x00C, APM Table B-1), bit 0 first.
const MISC1: [&str; 32] = [
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
    "INTn",
    "INVD",
    "PAUSE",
    "HLT",
    "INVLPG",
    "INVLPGA",
    "IOIO_PROT",
    "MSR_PROT",
    "TASK_SWITCH",
    "FERR_FREEZE",
    "SHUTDOWN",
];

/// Names of the intercept-word-4 bits (VMCB offset 0x010) this CPU knows.
const MISC2: [&str; 10] = [
    "VMRUN", "VMMCALL", "VMLOAD", "VMSAVE", "STGI", "CLGI", "SKINIT", "RDTSCP", "ICEBP", "WBINVD",
];

/// The last #VMEXIT as the current VMCB holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastExit {
    pub code: u64,
    /// `exit_name(code)`: `CPUID`, `IOIO`, `EXCP_PF`, `INVALID`...
    pub name: &'static str,
    pub info1: u64,
    pub info2: u64,
    pub exitintinfo: u64,
    pub next_rip: u64,
}

/// The SVM state of the CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SvmView {
    pub world: World,
    /// EFER.SVME.
    pub enabled: bool,
    /// A guest runs (between VMRUN and #VMEXIT).
    pub guest_mode: bool,
    pub gif: bool,
    pub vm_cr: u64,
    pub hsave_pa: u64,
    /// Physical address of the current (or last) VMCB.
    pub vmcb: u32,
    /// The controls VMRUN cached.
    pub controls: Controls,
    /// The intercepts that are on, by name (`CR3_READ`, `EXCP_PF`, `CPUID`, `VMRUN`...).
    pub intercepts: Vec<String>,
    /// The VMCB's exit fields, once a VMRUN has happened and the host runs.
    pub last_exit: Option<LastExit>,
    pub vmruns: u64,
    pub exits: u64,
}

/// The intercepts of `k`, named as the exit codes they cause.
pub fn intercept_names(k: &Controls) -> Vec<String> {
    let mut v = Vec::new();
    for n in 0..16 {
        if k.cr & (1 << n) != 0 {
            v.push(format!("CR{n}_READ"));
        }
        if k.cr & (1 << (16 + n)) != 0 {
            v.push(format!("CR{n}_WRITE"));
        }
    }
    for n in 0..16 {
        if k.dr & (1 << n) != 0 {
            v.push(format!("DR{n}_READ"));
        }
        if k.dr & (1 << (16 + n)) != 0 {
            v.push(format!("DR{n}_WRITE"));
        }
    }
    for n in 0..32u64 {
        if k.exceptions & (1 << n) != 0 {
            v.push(exit_name(0x40 + n).to_string());
        }
    }
    for (n, name) in MISC1.iter().enumerate() {
        if k.misc1 & (1 << n) != 0 {
            v.push((*name).to_string());
        }
    }
    for (n, name) in MISC2.iter().enumerate() {
        if k.misc2 & (1 << n) != 0 {
            v.push((*name).to_string());
        }
    }
    v
}

impl SvmView {
    pub(super) fn capture(c: &Core, world: World) -> SvmView {
        let s = &c.svm;
        let last_exit = (s.exits > 0 && !s.guest).then(|| {
            let v = Image::load(c, s.vmcb);
            let code = v.r64(ctl::EXITCODE);
            LastExit {
                code,
                name: exit_name(code),
                info1: v.r64(ctl::EXITINFO1),
                info2: v.r64(ctl::EXITINFO2),
                exitintinfo: v.r64(ctl::EXITINTINFO),
                next_rip: v.r64(ctl::NRIP),
            }
        });
        SvmView {
            world,
            enabled: c.cpu.msr.efer & crate::cpu::svm::EFER_SVME != 0,
            guest_mode: s.guest,
            gif: s.gif,
            vm_cr: s.vm_cr,
            hsave_pa: s.hsave_pa,
            vmcb: s.vmcb,
            controls: s.ctl,
            intercepts: intercept_names(&s.ctl),
            last_exit,
            vmruns: s.vmruns,
            exits: s.exits,
        }
    }
}
