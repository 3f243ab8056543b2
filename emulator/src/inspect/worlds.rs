//! The ledger as front ends read it: which world runs, instructions retired in each world,
//! exits by code (with the APM's names), VMRUNs, nested walks, TLB flushes and the virtual
//! time the cost model charged. The rules behind the counts are in `trace::worlds`.

use super::World;
use crate::cpu::svm::exit_name;
use crate::machine::Machine;
pub use crate::trace::worlds::{Charged, Costs};

/// Instructions retired in one world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorldCount {
    pub world: World,
    /// At CPL 0-2.
    pub kernel: u64,
    /// At CPL 3 (virtual-8086 mode included).
    pub user: u64,
}

/// One line of the exit ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCount {
    pub code: u64,
    /// As the APM's Appendix C spells it, without `VMEXIT_`.
    pub name: &'static str,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerState {
    /// The world the CPU runs in now, and whether in user mode.
    pub current: World,
    pub current_user: bool,
    /// Instructions by world, host first, then the guests by ASID (those that ran).
    pub retired: Vec<WorldCount>,
    /// VMRUNs that entered a guest.
    pub vmruns: u64,
    /// Exits by code, in code order (VMEXIT_INVALID last).
    pub exits: Vec<ExitCount>,
    pub exit_total: u64,
    /// Nested page walks and their memory references.
    pub nested_walks: u64,
    pub nested_refs: u64,
    /// TLB flushes (whole TLB, or all of one ASID's entries), all worlds together.
    pub tlb_flushes: u64,
    /// The cost model in force and what it charged (virtual ns).
    pub costs: Costs,
    pub charged: Charged,
    /// A guest was entered or an exit taken.
    pub svm_used: bool,
}

impl LedgerState {
    pub(super) fn capture(m: &Machine) -> LedgerState {
        let c = &m.core;
        let l = &c.ledger;
        let world_of = |asid: u32| {
            if asid == 0 {
                World::Host
            } else {
                World::Guest { asid }
            }
        };
        let key = c.world_key();
        LedgerState {
            current: world_of(key >> 1),
            current_user: key & 1 != 0,
            retired: l
                .retired(c.icount)
                .into_iter()
                .map(|(asid, kernel, user)| WorldCount {
                    world: world_of(asid),
                    kernel,
                    user,
                })
                .collect(),
            vmruns: l.vmruns,
            exits: l
                .exits
                .iter()
                .map(|(&code, &count)| ExitCount {
                    code,
                    name: exit_name(code),
                    count,
                })
                .collect(),
            exit_total: l.exit_total(),
            nested_walks: l.nested_walks,
            nested_refs: l.nested_refs,
            tlb_flushes: c.mmu.tlb.flushes,
            costs: l.costs,
            charged: l.charged,
            svm_used: l.svm_used(),
        }
    }
}

/// The VMCB of the guest that runs (or ran last), decoded from memory without side effects:
/// which intercepts are on and the exit fields (AMD APM Appendix B).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmcbState {
    /// Physical address of the VMCB.
    pub addr: u32,
    /// A guest runs with it now.
    pub running: bool,
    pub asid: u32,
    /// Intercepts on, by name: `CR0_READ`, `CR3_WRITE`, `DR7_WRITE`, `EXCP_PF`, `CPUID`,
    /// `IOIO_PROT`... (Table B-1's names, control words 0x000-0x010).
    pub intercepts: Vec<String>,
    pub np_enable: bool,
    pub exitcode: u64,
    pub exit_name: &'static str,
    pub exitinfo1: u64,
    pub exitinfo2: u64,
    pub exitintinfo: u64,
    pub nrip: u64,
}

impl VmcbState {
    pub(super) fn capture(m: &Machine) -> Option<VmcbState> {
        use crate::cpu::svm::vmcb::ctl;
        let c = &m.core;
        if !c.ledger.svm_used() && !c.svm.guest {
            return None;
        }
        let v = c.svm.vmcb;
        let img = crate::cpu::svm::vmcb::Image::load(c, v);
        let r64 = |off: u32| img.r64(off);
        let r32 = |off: u32| img.r32(off);
        // The intercept words as the VMCB in memory holds them (not VMRUN's cached copy).
        let intercepts = super::svm::intercept_names(&crate::cpu::svm::Controls {
            cr: r32(ctl::INTERCEPT_CR),
            dr: r32(ctl::INTERCEPT_DR),
            exceptions: r32(ctl::INTERCEPT_EXC),
            misc1: r32(ctl::INTERCEPT_MISC1),
            misc2: r32(ctl::INTERCEPT_MISC2),
            ..Default::default()
        });
        let exitcode = r64(ctl::EXITCODE);
        Some(VmcbState {
            addr: v,
            running: c.svm.guest,
            asid: r32(ctl::ASID),
            intercepts,
            np_enable: r64(ctl::NP_ENABLE) & 1 != 0,
            exitcode,
            exit_name: exit_name(exitcode),
            exitinfo1: r64(ctl::EXITINFO1),
            exitinfo2: r64(ctl::EXITINFO2),
            exitintinfo: r64(ctl::EXITINTINFO),
            nrip: r64(ctl::NRIP),
        })
    }
}
