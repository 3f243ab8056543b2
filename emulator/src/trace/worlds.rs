//! Worlds, the exit ledger and the cost model: the rules, in one place, by which every
//! retired instruction, world switch and nested page walk is attributed and charged.
//!
//! # The rules
//! - A **world** is where an instruction retires: the host (ASID 0: the machine itself, or
//!   the hypervisor that runs on it) or an SVM guest, named by the ASID its VMRUN loaded; and
//!   within each, **kernel** (CPL 0-2) or **user** (CPL 3, virtual-8086 mode included).
//! - An instruction is counted in the world it retires in. The instruction that switches
//!   worlds (VMRUN, an IRET to user mode, a SYSENTER...) retires in the world it leaves;
//!   an intercepted instruction that exits does not retire (it is the guest's fault, like a
//!   page fault), so it counts nowhere.
//! - Counting is not per instruction: the dispatch loop keeps one retired-instruction count,
//!   and the ledger adds the difference since the last world switch to the world that was
//!   running whenever the world changes (`Ledger::switch`, called by the loop between
//!   instruction chains, which every CPL change and world switch ends). The current world's
//!   share since then is added when the counts are read.
//! - Every VMRUN that enters a guest and every #VMEXIT (VMEXIT_INVALID included) is counted,
//!   exits by their code.
//! - **Costs** (virtual time, `Costs`): each VMRUN that enters a guest, each #VMEXIT and
//!   each memory reference of a nested page walk adds its cost to the virtual clock on top
//!   of the retired instructions (one instruction = one tick = 10 ns). Charges are kept in
//!   nanoseconds and turned into whole ticks as they add up, so no fraction is lost or
//!   depends on how a run is sliced. A machine that never enters a guest is charged nothing.
//!
//! Must not: influence execution other than by the charged virtual time; import other
//! modules of the crate (the `trace` layer is the lowest: callers pass plain numbers).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where instructions retire: ASID (0 = host) and user mode, packed as `asid << 1 | user`
/// so the dispatch loop compares one word.
pub fn place_key(asid: u32, user: bool) -> u32 {
    asid << 1 | user as u32
}

/// The costs of events that retire no instruction, in virtual nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Costs {
    /// A VMRUN that enters its guest.
    pub vmrun: u64,
    /// A #VMEXIT back to the host.
    pub vmexit: u64,
    /// One memory reference of a nested (two-dimensional) page walk.
    pub nested_ref: u64,
}

/// The default costs and why (the README's cost table says the same).
///
/// A VMRUN/#VMEXIT round trip on AMD hardware measured about 1,350 cycles from just before
/// VMRUN to just after (KVM on AMD, Linux kernel mailing list, Dec 2020; REFERENCES.md
/// "Costs measured by others"): we take that CPU, and Traplab's virtual CPU retires one
/// instruction per 10 ns tick, i.e. we count one cycle as one instruction's time, so the
/// round trip costs 13,500 ns, split evenly between the entry and the exit (the
/// measurement does not split it). A nested-walk reference that the caches serve costs a
/// few cycles on real hardware; we charge one instruction's time (10 ns) per reference:
/// our assumption, no published figure is behind it.
impl Default for Costs {
    fn default() -> Self {
        Costs {
            vmrun: 6_750,
            vmexit: 6_750,
            nested_ref: 10,
        }
    }
}

impl Costs {
    /// The names `--cost NAME=NS` accepts, with what each charges.
    pub const NAMES: [(&'static str, &'static str); 3] = [
        ("vmrun", "a VMRUN that enters its guest"),
        ("vmexit", "a #VMEXIT back to the host"),
        ("nested_ref", "one memory reference of a nested page walk"),
    ];

    /// Largest cost accepted for one event: 1 s of virtual time.
    pub const MAX_NS: u64 = 1_000_000_000;

    /// Applies one `NAME=NS` assignment (as `--cost` gives it), or says what is wrong.
    pub fn assign(&mut self, text: &str) -> Result<(), String> {
        let names = || {
            Self::NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((name, value)) = text.split_once('=') else {
            return Err(format!(
                "--cost wants NAME=NS (nanoseconds), got `{text}`; names: {}",
                names()
            ));
        };
        let name = name.trim();
        let ns: u64 = match value.trim().parse() {
            Ok(v) if v <= Self::MAX_NS => v,
            _ => {
                return Err(format!(
                    "--cost {name}: `{}` is not a whole number of nanoseconds from 0 to {}",
                    value.trim(),
                    Self::MAX_NS
                ))
            }
        };
        match name {
            "vmrun" => self.vmrun = ns,
            "vmexit" => self.vmexit = ns,
            "nested_ref" => self.nested_ref = ns,
            _ => return Err(format!("--cost: unknown cost `{name}`; names: {}", names())),
        }
        Ok(())
    }

    /// The cost named `name` (one of `NAMES`).
    pub fn get(&self, name: &str) -> Option<u64> {
        match name {
            "vmrun" => Some(self.vmrun),
            "vmexit" => Some(self.vmexit),
            "nested_ref" => Some(self.nested_ref),
            _ => None,
        }
    }
}

/// Virtual time charged, by what it was charged for (nanoseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charged {
    pub vmrun: u64,
    pub vmexit: u64,
    pub nested_ref: u64,
}

impl Charged {
    pub fn total(&self) -> u64 {
        self.vmrun + self.vmexit + self.nested_ref
    }
}

/// The ledger: instructions by world, world switches, exits by code, nested walks, and the
/// virtual time charged for them. Saved in snapshots with the core (the costs are part of
/// the machine's configuration, the charged time part of its clock).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub costs: Costs,
    /// The world running now (`place_key`) and the retired count when it started.
    key: u32,
    since: u64,
    /// Instructions retired before `since`, by ASID: [kernel, user].
    retired: Vec<[u64; 2]>,
    /// Exits taken, by exit code.
    pub exits: BTreeMap<u64, u64>,
    /// VMRUNs that entered a guest.
    pub vmruns: u64,
    /// Nested page walks done and the memory references they made (guest page-table
    /// entries and nested entries together).
    pub nested_walks: u64,
    pub nested_refs: u64,
    pub charged: Charged,
    /// Whole ticks already added to the clock for `charged` (the rest is below one tick).
    charged_ticks: u64,
}

impl Ledger {
    /// The world running now (`place_key`).
    #[inline(always)]
    pub fn key(&self) -> u32 {
        self.key
    }

    /// The world is now `key`, at retired count `icount`: the instructions since the last
    /// switch go to the world that ran them.
    pub fn switch(&mut self, icount: u64, key: u32) {
        let (asid, user) = ((self.key >> 1) as usize, (self.key & 1) as usize);
        if self.retired.len() <= asid {
            self.retired.resize(asid + 1, [0; 2]);
        }
        self.retired[asid][user] += icount.saturating_sub(self.since);
        self.since = icount;
        self.key = key;
    }

    /// Instructions retired in each world up to `icount`: (ASID, kernel, user), host (ASID 0)
    /// first, the worlds that never ran left out (the host always listed).
    pub fn retired(&self, icount: u64) -> Vec<(u32, u64, u64)> {
        let mut r = self.retired.clone();
        let (asid, user) = ((self.key >> 1) as usize, (self.key & 1) as usize);
        if r.len() <= asid {
            r.resize(asid + 1, [0; 2]);
        }
        r[asid][user] += icount.saturating_sub(self.since);
        r.iter()
            .enumerate()
            .filter(|(a, k)| *a == 0 || k[0] + k[1] > 0)
            .map(|(a, k)| (a as u32, k[0], k[1]))
            .collect()
    }

    /// A guest was entered or an exit taken: SVM was used on this machine.
    pub fn svm_used(&self) -> bool {
        self.vmruns > 0 || !self.exits.is_empty()
    }

    /// Exits taken, all codes together.
    pub fn exit_total(&self) -> u64 {
        self.exits.values().sum()
    }

    /// After a charge: the whole ticks to add to the virtual clock now.
    fn ticks_due(&mut self, tick_ns: u64) -> u64 {
        let before = self.charged_ticks;
        self.charged_ticks = self.charged.total() / tick_ns.max(1);
        self.charged_ticks - before
    }

    /// A VMRUN entered a guest: returns the ticks to add to the clock.
    pub fn vmrun(&mut self, tick_ns: u64) -> u64 {
        self.vmruns += 1;
        self.charged.vmrun += self.costs.vmrun;
        self.ticks_due(tick_ns)
    }

    /// A #VMEXIT with `code`: returns the ticks to add to the clock.
    pub fn vmexit(&mut self, code: u64, tick_ns: u64) -> u64 {
        *self.exits.entry(code).or_insert(0) += 1;
        self.charged.vmexit += self.costs.vmexit;
        self.ticks_due(tick_ns)
    }

    /// A nested page walk made `refs` memory references: returns the ticks to add.
    pub fn nested_walk(&mut self, refs: u64, tick_ns: u64) -> u64 {
        self.nested_walks += 1;
        self.nested_refs += refs;
        self.charged.nested_ref += self.costs.nested_ref * refs;
        self.ticks_due(tick_ns)
    }

    /// Whether a restored ledger is consistent (snapshot validation).
    pub fn check(&self) -> Result<(), String> {
        if self.retired.len() > 1 << 16 || (self.key >> 1) > 1 << 16 {
            return Err(format!(
                "ledger with {} worlds (current ASID {})",
                self.retired.len(),
                self.key >> 1
            ));
        }
        for (n, c) in [
            ("vmrun", self.costs.vmrun),
            ("vmexit", self.costs.vmexit),
            ("nested_ref", self.costs.nested_ref),
        ] {
            if c > Costs::MAX_NS {
                return Err(format!("cost {n} = {c} ns"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_go_to_the_world_that_ran_them() {
        let mut l = Ledger::default();
        l.switch(100, place_key(0, true)); // host kernel ran 0..100
        l.switch(150, place_key(3, false)); // host user 100..150
        l.switch(170, place_key(3, true)); // guest 3 kernel 150..170
        assert_eq!(l.retired(200), vec![(0, 100, 50), (3, 20, 30)]);
        assert_eq!(l.retired(170), vec![(0, 100, 50), (3, 20, 0)]);
    }

    #[test]
    fn charges_add_up_in_ns_and_reach_the_clock_as_whole_ticks() {
        let mut l = Ledger {
            costs: Costs {
                vmrun: 15,
                vmexit: 4,
                nested_ref: 3,
            },
            ..Ledger::default()
        };
        assert_eq!(l.vmrun(10), 1); // 15 ns: 1 tick, 5 left
        assert_eq!(l.vmexit(0x72, 10), 0); // 19
        assert_eq!(l.nested_walk(4, 10), 2); // 31: 3 ticks in all
        assert_eq!(l.charged.total(), 31);
        assert_eq!(l.exits.get(&0x72), Some(&1));
        assert_eq!((l.nested_walks, l.nested_refs), (1, 4));
        assert!(l.svm_used());
    }

    #[test]
    fn cost_assignments_are_checked() {
        let mut c = Costs::default();
        c.assign("vmexit=1200").unwrap();
        assert_eq!(c.vmexit, 1200);
        c.assign(" nested_ref = 0 ").unwrap();
        assert_eq!(c.nested_ref, 0);
        let e = c.assign("vmentry=5").unwrap_err();
        assert!(e.contains("unknown cost `vmentry`") && e.contains("vmrun, vmexit, nested_ref"));
        let e = c.assign("vmrun=-3").unwrap_err();
        assert!(e.contains("not a whole number"), "{e}");
        assert!(c.assign("vmrun=1.5").is_err());
        assert!(c.assign("vmrun=2000000000").is_err());
        assert!(c.assign("vmrun").unwrap_err().contains("NAME=NS"));
        assert_eq!(
            c.vmrun,
            Costs::default().vmrun,
            "a refused value changes nothing"
        );
    }
}
