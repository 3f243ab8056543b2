//! Software TLB: direct-mapped, one table per (read|write) x (supervisor|user) context,
//! mapping a linear page of one address space to a physical page. Flushed exactly when the
//! architecture says (MOV CR3 keeps global pages, INVLPG, CR0.PG/WP and CR4.PSE/PGE changes
//! flush all, task switch reloads CR3). A write entry exists only for pages that may be
//! written directly (dirty already set, not ROM, no cached code), so the write fast path
//! needs no checks.
//!
//! A large page (4 MiB, or 2 MiB under PAE) is cached as the 4 KiB pieces that were used;
//! each piece is marked `large`, so that INVLPG of any address in the large page drops all
//! of its pieces (SDM Vol. 3A 4.10.4.1), by a scan that runs only while large pieces exist.
//!
//! Every entry carries the address-space tag (ASID) it was made for, folded into the low 12
//! bits of its tag: a lookup matches only entries of the current address space, so worlds
//! can share the table without flushing it on each switch. The host is address space 0.
//!
//! Its flush methods are the architecture's flushes and also flush the model of the TLB the
//! cost model charges (`charged`, see `mmu::charged`), which is the only part saved in
//! snapshots; host-side reasons to drop entries (a restored snapshot, a bulk memory load)
//! use [`Tlb::drop_entries`], which leaves the model alone.
//!
//! `stack` is a copy of one write entry, the page the stack fast paths last used
//! (`Core::stack_write32_fast` and friends): one comparison instead of a probe. Every method
//! that drops or replaces an entry, or switches the address space, clears it, so it is
//! always a copy of an entry the table holds (checked in debug builds where it is used).
//! Owns the entries, the statistics and the generation; it must not walk page tables.

use super::charged::ChargedTlb;
use serde::{Deserialize, Serialize};

pub const TLB_BITS: u32 = 10;
pub const TLB_SIZE: usize = 1 << TLB_BITS;
/// The tag of an empty entry: never a lookup key (ASID 0xFFF is not handed out).
pub const INVALID: u32 = 0xFFF;
/// The largest address-space tag.
pub const MAX_ASID: u32 = 0xFFE;

#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Linear page | ASID.
    pub tag: u32,
    pub phys: u32,
    pub global: bool,
    /// A piece of a large page.
    pub large: bool,
}

const EMPTY: Entry = Entry {
    tag: INVALID,
    phys: 0,
    global: false,
    large: false,
};

/// A copy of the write entry of the page the stack fast paths last used (see the module
/// documentation): `key` is its linear page (low 12 bits zero), or `STACK_NONE`; `phys` is
/// the physical page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackEntry {
    pub key: u32,
    pub phys: u32,
}

/// The key of an empty `StackEntry`. A lookup compares the key with the stack pointer's
/// page and its two low bits (zero when aligned); bit 2 is never among them, so no stack
/// pointer matches this key.
pub const STACK_NONE: u32 = 4;

impl Default for StackEntry {
    fn default() -> Self {
        StackEntry {
            key: STACK_NONE,
            phys: 0,
        }
    }
}

/// Only `charged` is saved in a snapshot; the entries start empty on restore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tlb {
    /// Four tables of `TLB_SIZE` entries (see `slot`); a fixed-size array, so that the
    /// fast paths' index needs no bounds check.
    #[serde(skip, default = "empty_entries")]
    pub e: Box<[Entry; 4 * TLB_SIZE]>,
    #[serde(skip)]
    pub hits: u64,
    #[serde(skip)]
    pub misses: u64,
    #[serde(skip)]
    pub flushes: u64,
    /// Bumped whenever entries are removed (flush, INVLPG) or the address space changes:
    /// cached translations made outside the TLB (the fetch hint) are valid only for the
    /// generation they saw.
    #[serde(skip)]
    pub generation: u64,
    /// Bumped whenever entries are removed (flush, INVLPG), not by address-space switches:
    /// what a translation cached outside the TLB for one address space (a block link,
    /// `machine::exec`) is valid for, with that space's tag.
    #[serde(skip)]
    pub removals: u64,
    /// Address-space tag of lookups and new entries (0: the host). Restored from the CPU's
    /// state (`snapshot::restore`), not saved here.
    #[serde(skip)]
    asid: u32,
    /// Some entry may be a piece of a large page (cleared by a full flush).
    #[serde(skip)]
    has_large: bool,
    /// The entries may include global ones or ones of another address space (an ASID
    /// switch since they were last all dropped): false lets `flush_asid` of the current
    /// space drop everything at once instead of testing each entry.
    #[serde(skip)]
    mixed: bool,
    /// The TLB the cost model charges nested walks by (`mmu::charged`).
    pub charged: ChargedTlb,
    /// The stack fast paths' copy of one write entry (see the module documentation).
    #[serde(skip)]
    pub stack: StackEntry,
}

fn empty_entries() -> Box<[Entry; 4 * TLB_SIZE]> {
    Box::new([EMPTY; 4 * TLB_SIZE])
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            e: empty_entries(),
            hits: 0,
            misses: 0,
            flushes: 0,
            generation: 0,
            removals: 0,
            asid: 0,
            has_large: false,
            mixed: false,
            charged: ChargedTlb::default(),
            stack: StackEntry::default(),
        }
    }
}

#[inline(always)]
pub fn slot(write: bool, user: bool, lin: u32) -> usize {
    ((write as usize * 2 + user as usize) << TLB_BITS) | ((lin >> 12) as usize & (TLB_SIZE - 1))
}

impl Tlb {
    /// The tag a lookup of `lin` must find: its page in the current address space.
    #[inline(always)]
    pub fn tag(&self, lin: u32) -> u32 {
        (lin & !0xFFF) | self.asid
    }
    pub fn asid(&self) -> u32 {
        self.asid
    }
    /// Switches lookups to address space `asid` (at most [`MAX_ASID`]); entries of other
    /// address spaces stay. Bumps the generation (the fetch hint belongs to one space).
    pub fn set_asid(&mut self, asid: u32) {
        assert!(asid <= MAX_ASID, "ASID {asid:#x} out of range");
        if asid != self.asid {
            self.asid = asid;
            self.mixed = true;
            self.generation += 1;
            self.stack = StackEntry::default();
        }
    }
    pub fn flush_all(&mut self) {
        self.charged.flush_all();
        self.drop_entries();
        self.flushes += 1;
    }
    /// Drops every entry for a host-side reason (a restored snapshot, a bulk memory load):
    /// not an architectural flush, so not counted and the charged model keeps its pages.
    pub fn drop_entries(&mut self) {
        self.empty();
        self.stack = StackEntry::default();
        self.generation += 1;
        self.removals += 1;
    }
    /// Drops the non-global entries of the current address space (MOV CR3, task switch):
    /// other address spaces keep theirs, as with SVM's ASIDs (AMD APM Vol. 2 15.16).
    pub fn flush_nonglobal(&mut self) {
        self.flush_asid(self.asid, true);
    }
    /// INVLPG: drops the entries of `lin`'s page in the current address space (see
    /// [`Tlb::invlpg_asid`]).
    pub fn invlpg(&mut self, lin: u32) {
        self.invlpg_asid(lin, self.asid);
    }
    /// Drops the entries of `lin`'s page in address space `asid` (INVLPG, SVM's INVLPGA);
    /// when `lin` may lie in a large page, the pieces of every large page of that space in
    /// its 4 MiB-aligned region (a 2 MiB page lies within one such region: dropping a
    /// neighbour too is allowed).
    pub fn invlpg_asid(&mut self, lin: u32, asid: u32) {
        self.charged.invlpg(lin, asid);
        self.generation += 1;
        self.removals += 1;
        self.stack = StackEntry::default();
        let tag = (lin & !0xFFF) | asid;
        for k in 0..4 {
            let i = (k << TLB_BITS) | ((lin >> 12) as usize & (TLB_SIZE - 1));
            if self.e[i].tag == tag {
                self.e[i] = EMPTY;
            }
        }
        if self.has_large {
            for e in self.e.iter_mut() {
                if e.large && e.tag & 0xFFF == asid && (e.tag ^ lin) & 0xFFC0_0000 == 0 {
                    *e = EMPTY;
                }
            }
        }
    }
    /// Drops the entries of address space `asid`: all of them, or only the non-global ones
    /// (SVM's TLB_CONTROL 7 and 3).
    pub fn flush_asid(&mut self, asid: u32, keep_global: bool) {
        self.charged.flush_asid(asid, keep_global);
        self.stack = StackEntry::default();
        if !self.mixed && asid == self.asid {
            // Every entry is a non-global one of this space (or empty): all go, as the
            // test below would decide for each (a MOV CR3 of a kernel without PGE).
            self.empty();
        } else {
            for e in self.e.iter_mut() {
                if e.tag != INVALID && e.tag & 0xFFF == asid && !(keep_global && e.global) {
                    *e = EMPTY;
                }
            }
        }
        self.flushes += 1;
        self.generation += 1;
        self.removals += 1;
    }
    /// Every entry dropped, and with them what the flags say about them (`has_large`,
    /// `mixed`); the callers count the removal.
    fn empty(&mut self) {
        self.e.fill(EMPTY);
        self.has_large = false;
        self.mixed = false;
    }
    /// Drops write entries that map `phys_page` (it now holds cached code or is protected).
    pub fn drop_writes_to(&mut self, phys_page: u32) {
        self.stack = StackEntry::default();
        for e in self.e[2 * TLB_SIZE..].iter_mut() {
            if e.tag != INVALID && e.phys == phys_page {
                *e = EMPTY;
            }
        }
    }
    #[inline(always)]
    pub fn insert(
        &mut self,
        write: bool,
        user: bool,
        lin: u32,
        phys: u32,
        global: bool,
        large: bool,
    ) {
        self.has_large |= large;
        self.mixed |= global;
        self.stack = StackEntry::default();
        self.e[slot(write, user, lin)] = Entry {
            tag: self.tag(lin),
            phys: phys & !0xFFF,
            global,
            large,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_only_their_address_space() {
        let mut t = Tlb::default();
        t.insert(false, false, 0x1234_5000, 0x7000, false, false);
        let i = slot(false, false, 0x1234_5000);
        assert_eq!(t.e[i].tag, t.tag(0x1234_5678));
        let g = t.generation;
        t.set_asid(5);
        assert!(
            t.generation > g,
            "an address-space switch bumps the generation"
        );
        assert_ne!(
            t.e[i].tag,
            t.tag(0x1234_5678),
            "host entry not seen from ASID 5"
        );
        // INVLPG in ASID 5 leaves the host's entry alone.
        t.invlpg(0x1234_5000);
        t.set_asid(0);
        assert_eq!(t.e[i].tag, t.tag(0x1234_5000));
        t.invlpg(0x1234_5000);
        assert_eq!(t.e[i].tag, INVALID);
    }

    /// MOV CR3's flush drops every entry at once only while all of them are non-global ones
    /// of the current space: a global entry, or another space's entries after an ASID
    /// switch, stay.
    #[test]
    fn a_flush_of_one_space_keeps_global_entries_and_other_spaces() {
        let mut t = Tlb::default();
        t.insert(false, false, 0x1000, 0x7000, false, false);
        t.insert(true, true, 0x2000, 0x8000, false, false);
        t.flush_nonglobal();
        assert!(t.e.iter().all(|e| e.tag == INVALID), "all dropped");
        t.insert(false, false, 0x1000, 0x7000, false, false);
        t.insert(false, false, 0x3000, 0x9000, true, false);
        t.flush_nonglobal();
        assert_eq!(t.e[slot(false, false, 0x1000)].tag, INVALID);
        assert_eq!(
            t.e[slot(false, false, 0x3000)].tag,
            t.tag(0x3000),
            "global kept"
        );
        t.drop_entries();
        t.insert(false, false, 0x1000, 0x7000, false, false);
        t.set_asid(2);
        t.insert(false, false, 0x4000, 0xA000, false, false);
        t.flush_nonglobal();
        assert_eq!(t.e[slot(false, false, 0x4000)].tag, INVALID);
        t.set_asid(0);
        assert_eq!(
            t.e[slot(false, false, 0x1000)].tag,
            t.tag(0x1000),
            "ASID 0 kept"
        );
    }

    #[test]
    fn per_asid_invalidation_leaves_other_spaces() {
        let mut t = Tlb::default();
        t.insert(false, false, 0x1000, 0x7000, false, false);
        t.insert(false, true, 0x2000, 0x8000, true, false);
        t.set_asid(3);
        t.insert(true, false, 0x1000, 0x9000, false, false);
        t.insert(false, false, 0x3000, 0xA000, true, false);
        let host = t.e[slot(false, false, 0x1000)];
        t.invlpg_asid(0x1000, 3);
        assert_eq!(t.e[slot(true, false, 0x1000)].tag, INVALID);
        assert_eq!(t.e[slot(false, false, 0x1000)].tag, host.tag, "ASID 0 kept");
        t.flush_asid(3, true);
        assert_eq!(
            t.e[slot(false, false, 0x3000)].tag,
            t.tag(0x3000),
            "global kept"
        );
        t.flush_asid(3, false);
        assert_eq!(t.e[slot(false, false, 0x3000)].tag, INVALID);
        t.set_asid(0);
        assert_eq!(
            t.e[slot(false, true, 0x2000)].tag,
            t.tag(0x2000),
            "host kept"
        );
    }

    #[test]
    fn invlpg_drops_every_piece_of_a_large_page() {
        let mut t = Tlb::default();
        // Two pieces of the 2 MiB page at 0x0040_0000, one small page elsewhere.
        t.insert(false, false, 0x0040_1000, 0x0060_1000, false, true);
        t.insert(true, true, 0x005F_F000, 0x007F_F000, false, true);
        t.insert(false, false, 0x0080_0000, 0x9000, false, false);
        t.invlpg(0x0050_0000);
        assert_eq!(t.e[slot(false, false, 0x0040_1000)].tag, INVALID);
        assert_eq!(t.e[slot(true, true, 0x005F_F000)].tag, INVALID);
        assert_eq!(
            t.e[slot(false, false, 0x0080_0000)].tag,
            t.tag(0x0080_0000),
            "a small page outside the region stays"
        );
    }
}
