//! Nested paging (AMD APM Vol. 2 15.25): the two-dimensional walk of a guest running with
//! NP_ENABLE. Owns the nested context ([`Nested`]: N_CR3 and the nested tables' format, taken
//! from the host at VMRUN), the nested walk of one guest-physical address, the guest table
//! reader that sends every guest table reference through it ([`GuestTables`]), the #VMEXIT
//! NPF information ([`Npf`]) and the counters of nested walks. It must not cache
//! translations (the TLB caches the combined guest-linear -> host-physical result) nor
//! perform the #VMEXIT: an NPF is returned as a value, the CPU turns it into the exit.
//!
//! The rules followed, from the APM (15.25.3-15.25.6):
//! - The nested tables have the host's format at VMRUN: legacy two-level (4 KiB pages, and
//!   4 MiB pages when the host had CR4.PSE) without host PAE, three-level PAE with it.
//!   N_CR3 is a host-physical address and so are the nested entries.
//! - Every guest table reference (the guest's CR3 and each entry's pointer are guest-
//!   physical) and the final guest-physical address go through a nested walk: up to
//!   n*m + n + m memory references (8 for a two-level guest over two-level nested tables).
//! - Nested accesses are user accesses; guest table references are checked as writes (the
//!   processor may write their accessed/dirty bits; KVM's model and QEMU do the same). So a
//!   nested fault during the guest walk has EXITINFO1 RW = US = 1, and bit 33; a fault on
//!   the final address has the access's RW, US = 1, and bit 32. P and RSVD as for #PF. ID
//!   (bit 4) stays 0: like #PF's I/D it needs EFER.NXE, which Traplab does not have.
//! - Accessed bits are set in every nested entry used, dirty bits in the nested entry that
//!   maps a written page (including the guest's table pages, written for A/D).
//! - PDPTEs are read from memory at each walk, for the nested PAE tables and for a PAE
//!   guest (the processor does not keep PDPTE registers for them under nested paging).
//! - A guest #PF found by the guest walk comes before the nested fault of the final
//!   address (which the walk must reach first).

use super::paging::{
    self, Access, NestedWalk, PagingRegs, TableReader, Translation, WalkError, WalkStep, CR0_PG,
    CR4_PAE, CR4_PSE,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// EXITINFO1 bit 32: the fault is on the final guest-physical address.
pub const INFO1_FINAL: u64 = 1 << 32;
/// EXITINFO1 bit 33: the fault is on a guest page-table reference.
pub const INFO1_TABLE: u64 = 1 << 33;

/// The nested paging context of a guest run (VMRUN with NP_ENABLE until #VMEXIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nested {
    /// N_CR3: host-physical address of the nested page directory (or PDPT under PAE).
    pub n_cr3: u32,
    /// The host had PAE paging at VMRUN: three-level PAE nested tables.
    pub pae: bool,
    /// The host had CR4.PSE at VMRUN: 4 MiB pages in two-level nested tables.
    pub pse: bool,
}

/// Counters of nested translation: 2-D walks (TLB misses of a nested guest) and the memory
/// references they made (entry reads: nested and guest entries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedStats {
    pub walks: u64,
    pub refs: u64,
}

/// A #VMEXIT NPF: EXITINFO1 (error bits and bit 32 or 33) and EXITINFO2 (the guest-physical
/// address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Npf {
    pub info1: u64,
    pub gpa: u32,
}

/// Why a 2-D translation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A guest #PF (its error code), delivered to the guest (or intercepted).
    Page(u32),
    /// A nested page fault.
    Npf(Npf),
}

/// A table reader over host-physical memory that counts its reads.
struct Counted<'a, H> {
    host: &'a mut H,
    refs: u64,
}

impl<H: TableReader<Fault = Infallible>> TableReader for Counted<'_, H> {
    type Fault = Infallible;
    #[inline]
    fn read_entry(&mut self, addr: u32) -> Result<u32, Infallible> {
        self.refs += 1;
        self.host.read_entry(addr)
    }
    #[inline]
    fn read_entry64(&mut self, addr: u32) -> Result<u64, Infallible> {
        self.refs += 1;
        self.host.read_entry64(addr)
    }
    #[inline]
    fn write_entry(&mut self, addr: u32, v: u32) -> Result<(), Infallible> {
        self.host.write_entry(addr, v)
    }
}

impl Nested {
    /// The nested tables as paging registers for the common walker.
    fn regs(&self) -> PagingRegs {
        PagingRegs {
            cr0: 1 | CR0_PG,
            cr3: self.n_cr3,
            cr4: if self.pae { CR4_PAE } else { 0 } | if self.pse { CR4_PSE } else { 0 },
            pdpte: [0; 4],
            pdpte_mem: true,
        }
    }

    /// Guest-physical -> host-physical through the nested tables, read from `host`
    /// (host-physical memory, or a peek of it). A user access, a write when `write`.
    /// Err is the #PF-style error code (P, RW, US = 1, RSVD). With `commit`, sets
    /// accessed/dirty bits in the nested entries. Counts its reads in `stats`.
    pub fn walk<H: TableReader<Fault = Infallible>>(
        &self,
        host: &mut H,
        gpa: u32,
        write: bool,
        commit: bool,
        stats: &mut NestedStats,
        steps: Option<&mut Vec<WalkStep>>,
    ) -> Result<Translation, u32> {
        let acc = Access {
            write,
            user: true,
            fetch: false,
        };
        let mut c = Counted { host, refs: 0 };
        let r = paging::walk(&mut c, &self.regs(), gpa, acc, commit, steps);
        stats.refs += c.refs;
        r.map_err(WalkError::code)
    }
}

/// The guest's table reader under nested paging: each entry address is guest-physical and
/// is translated by a nested walk (checked as a user write) before host memory is read or
/// written. A nested fault is the walk's `Fault` ([`Npf`] with bit 33). With `log`, each
/// nested walk is recorded (for the explain view), in the order of the guest's reads.
pub struct GuestTables<'a, H> {
    pub host: &'a mut H,
    pub nested: &'a Nested,
    pub stats: &'a mut NestedStats,
    pub commit: bool,
    pub log: Option<Vec<NestedWalk>>,
    /// The guest table pages translated by this walk (gPA page, hPA page): the
    /// accessed/dirty write-back of an entry read needs no second nested walk.
    seen: [(u32, u32); 4],
    nseen: usize,
}

impl<'a, H: TableReader<Fault = Infallible>> GuestTables<'a, H> {
    pub fn new(
        host: &'a mut H,
        nested: &'a Nested,
        stats: &'a mut NestedStats,
        commit: bool,
        log: bool,
    ) -> Self {
        GuestTables {
            host,
            nested,
            stats,
            commit,
            log: log.then(Vec::new),
            seen: [(0, 0); 4],
            nseen: 0,
        }
    }

    fn xlate(&mut self, gpa: u32) -> Result<u32, Npf> {
        let mut steps = self.log.as_ref().map(|_| Vec::new());
        let r = self.nested.walk(
            self.host,
            gpa,
            true,
            self.commit,
            self.stats,
            steps.as_mut(),
        );
        let r = r.map(|t| t.phys).map_err(|code| Npf {
            info1: code as u64 | INFO1_TABLE,
            gpa,
        });
        if let (Some(log), Some(steps)) = (self.log.as_mut(), steps) {
            log.push(NestedWalk {
                gpa,
                steps,
                result: r.map_err(|f| f.info1),
            });
        }
        let hpa = r?;
        self.seen[self.nseen % 4] = (gpa & !0xFFF, hpa & !0xFFF);
        self.nseen += 1;
        Ok(hpa)
    }
}

impl<H: TableReader<Fault = Infallible>> TableReader for GuestTables<'_, H> {
    type Fault = Npf;
    fn read_entry(&mut self, gpa: u32) -> Result<u32, Npf> {
        let hpa = self.xlate(gpa)?;
        self.stats.refs += 1;
        Ok(self.host.read_entry(hpa).unwrap_or_else(|n| match n {}))
    }
    fn read_entry64(&mut self, gpa: u32) -> Result<u64, Npf> {
        let hpa = self.xlate(gpa)?;
        self.stats.refs += 1;
        Ok(self.host.read_entry64(hpa).unwrap_or_else(|n| match n {}))
    }
    fn write_entry(&mut self, gpa: u32, v: u32) -> Result<(), Npf> {
        let page = gpa & !0xFFF;
        let seen = &self.seen[..self.nseen.min(4)];
        let hpa = match seen.iter().find(|(g, _)| *g == page) {
            Some((_, h)) => h | (gpa & 0xFFF),
            None => self.xlate(gpa)?,
        };
        self.host.write_entry(hpa, v).unwrap_or_else(|n| match n {});
        Ok(())
    }
}

/// The guest's paging registers under nested paging: PAE guests' PDPTEs come from memory.
fn guest_regs(regs: &PagingRegs) -> PagingRegs {
    PagingRegs {
        pdpte_mem: true,
        ..*regs
    }
}

/// Guest-linear -> host-physical (the 2-D walk): the guest's own walk under `regs` (or
/// none without guest paging) with every table reference through the nested tables, then
/// the nested walk of the final guest-physical address. Returns the combined translation
/// (rights and global/large from the guest's walk, the host-physical address).
pub fn translate2d<H: TableReader<Fault = Infallible>>(
    host: &mut H,
    n: &Nested,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
    commit: bool,
    stats: &mut NestedStats,
) -> Result<Translation, Fault> {
    stats.walks += 1;
    let g = if regs.enabled() {
        let mut t = GuestTables::new(host, n, stats, commit, false);
        match paging::walk(&mut t, &guest_regs(regs), lin, acc, commit, None) {
            Ok(g) => g,
            Err(WalkError::Page(c)) => return Err(Fault::Page(c)),
            Err(WalkError::Table(f)) => return Err(Fault::Npf(f)),
        }
    } else {
        unpaged(lin)
    };
    let h = n
        .walk(host, g.phys, acc.write, commit, stats, None)
        .map_err(|code| {
            Fault::Npf(Npf {
                info1: code as u64 | INFO1_FINAL,
                gpa: g.phys,
            })
        })?;
    Ok(Translation { phys: h.phys, ..g })
}

fn unpaged(lin: u32) -> Translation {
    Translation {
        phys: lin,
        global: false,
        large: false,
        writable: true,
        user: true,
    }
}

/// The side-effect-free 2-D walk for the explain view: the guest's steps, each with its
/// nested walk, and the nested walk of the final guest-physical address.
pub fn explain2d<H: TableReader<Fault = Infallible>>(
    host: &mut H,
    n: &Nested,
    regs: &PagingRegs,
    lin: u32,
    acc: Access,
) -> paging::WalkReport {
    let mut stats = NestedStats::default();
    let mut steps = Vec::new();
    let (g, log) = if regs.enabled() {
        let mut t = GuestTables::new(host, n, &mut stats, false, true);
        let r = paging::walk(&mut t, &guest_regs(regs), lin, acc, false, Some(&mut steps));
        (r, t.log.take().unwrap_or_default())
    } else {
        (Ok(unpaged(lin)), vec![])
    };
    // Each guest entry read was preceded by the nested walk of its address, in order; a
    // failed nested walk has no guest step: it is added as one without an entry.
    let mut log = log.into_iter();
    for s in steps.iter_mut() {
        s.nested = log.next();
    }
    if let Some(failed) = log.next() {
        let mut s = WalkStep::new("(table)", failed.gpa, 0);
        s.nested = Some(failed);
        steps.push(s);
    }
    let mut report = paging::WalkReport {
        linear: lin,
        paging: regs.enabled(),
        pae: regs.enabled() && regs.pae(),
        steps,
        result: Err(0),
        nested: None,
        npf: None,
    };
    match g {
        Err(WalkError::Page(c)) => report.result = Err(c),
        Err(WalkError::Table(f)) => report.npf = Some((f.info1, f.gpa)),
        Ok(g) => {
            let mut nsteps = Vec::new();
            let r = n.walk(
                host,
                g.phys,
                acc.write,
                false,
                &mut stats,
                Some(&mut nsteps),
            );
            let result = r.map(|t| t.phys).map_err(|c| c as u64 | INFO1_FINAL);
            match result {
                Ok(h) => report.result = Ok(h),
                Err(info1) => report.npf = Some((info1, g.phys)),
            }
            report.nested = Some(NestedWalk {
                gpa: g.phys,
                steps: nsteps,
                result,
            });
        }
    }
    report
}

#[cfg(test)]
#[path = "nested_tests.rs"]
mod tests;
