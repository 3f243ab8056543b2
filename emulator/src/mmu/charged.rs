//! The TLB that the cost model charges: which guest pages a TLB "without capacity limit"
//! would hold, so that a nested (two-dimensional) page walk is charged in virtual time
//! exactly when such a TLB misses (a compulsory miss: the first access to a page of a guest
//! address space since the architecture last flushed it).
//!
//! Why not charge the software TLB's own misses: the software TLB ([`super::tlb`]) is a
//! host-side cache. It is not saved in snapshots, the instruction cache lets fetches skip it,
//! and pages that hold cached code get no write entries; its misses depend on all of that,
//! so charging them would make virtual time differ between a run and its replay from a
//! snapshot. This model changes only on architectural events (a translation, MOV CR3,
//! INVLPG/INVLPGA, TLB_CONTROL, paging-mode changes) and is saved with the machine: the same
//! run charges the same walks, always. Every access to a page that is not here reaches
//! `Mmu::translate` (the software TLB and the fetch hint are flushed by the same events), so
//! no charged walk is missed. What the model leaves out is capacity misses (a real TLB holds
//! 64-1,536 entries): its figures are a lower bound, as the README's cost table says.
//!
//! Only guest address spaces (ASID > 0) are tracked: the host never pays for nested walks.
//! Owns the set of pages; it must not walk page tables or touch the software TLB.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const GLOBAL: u8 = 1;
const LARGE: u8 = 2;

/// Pages (linear page | ASID, as the software TLB tags them) translated since their last
/// architectural flush, with their global and large-page bits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargedTlb {
    pages: BTreeMap<u32, u8>,
}

impl ChargedTlb {
    /// A translation of the page tagged `tag` (linear page | ASID): true when the model did
    /// not hold it (the walk is charged).
    pub fn touch(&mut self, tag: u32, global: bool, large: bool) -> bool {
        let bits = if global { GLOBAL } else { 0 } | if large { LARGE } else { 0 };
        self.pages.insert(tag, bits).is_none()
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    pub fn flush_all(&mut self) {
        self.pages.clear();
    }

    /// Drops the pages of address space `asid`: all, or only the non-global ones.
    pub fn flush_asid(&mut self, asid: u32, keep_global: bool) {
        if self.pages.is_empty() {
            return;
        }
        self.pages
            .retain(|tag, bits| tag & 0xFFF != asid || (keep_global && *bits & GLOBAL != 0));
    }

    /// INVLPG/INVLPGA of `lin` in `asid`: its page, and every large-page piece of that
    /// address space in its 4 MiB-aligned region (the software TLB's rule).
    pub fn invlpg(&mut self, lin: u32, asid: u32) {
        if self.pages.is_empty() {
            return;
        }
        self.pages.remove(&((lin & !0xFFF) | asid));
        self.pages.retain(|tag, bits| {
            *bits & LARGE == 0 || tag & 0xFFF != asid || (tag ^ lin) & 0xFFC0_0000 != 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_charged_once_until_it_is_flushed() {
        let mut t = ChargedTlb::default();
        assert!(t.touch(0x5000 | 1, false, false));
        assert!(!t.touch(0x5000 | 1, false, false), "a hit is not charged");
        assert!(
            t.touch(0x5000 | 2, false, false),
            "another ASID is another page"
        );
        t.invlpg(0x5123, 1);
        assert!(t.touch(0x5000 | 1, false, false), "INVLPG drops it");
        assert!(!t.touch(0x5000 | 2, false, false), "only in its own ASID");
    }

    #[test]
    fn cr3_loads_keep_global_pages_and_tlb_control_drops_them() {
        let mut t = ChargedTlb::default();
        t.touch(0x1000 | 1, true, false);
        t.touch(0x2000 | 1, false, false);
        t.touch(0x3000 | 2, false, false);
        t.flush_asid(1, true);
        assert!(!t.touch(0x1000 | 1, true, false), "global page kept");
        assert!(t.touch(0x2000 | 1, false, false), "non-global page dropped");
        assert!(!t.touch(0x3000 | 2, false, false), "other ASID kept");
        t.flush_asid(1, false);
        assert!(t.touch(0x1000 | 1, true, false));
        t.flush_all();
        assert!(t.is_empty(), "flush_all empties it");
    }

    #[test]
    fn invlpg_in_a_large_page_drops_its_pieces() {
        let mut t = ChargedTlb::default();
        t.touch(0x0040_1000 | 1, false, true);
        t.touch(0x0040_2000 | 1, false, true);
        t.touch(0x0080_0000 | 1, false, true);
        t.invlpg(0x0040_3000, 1);
        assert_eq!(
            t.len(),
            1,
            "only the piece outside the 4 MiB region is left"
        );
    }
}
