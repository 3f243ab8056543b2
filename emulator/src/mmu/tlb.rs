//! Software TLB: direct-mapped, one table per (read|write) x (supervisor|user) context,
//! mapping a linear page of one address space to a physical page. Flushed exactly when the
//! architecture says (MOV CR3 keeps global pages, INVLPG, CR0.PG/WP and CR4.PSE/PGE changes
//! flush all, task switch reloads CR3). A write entry exists only for pages that may be
//! written directly (dirty already set, not ROM, no cached code), so the write fast path
//! needs no checks.
//!
//! Every entry carries the address-space tag (ASID) it was made for, folded into the low 12
//! bits of its tag: a lookup matches only entries of the current address space, so worlds
//! can share the table without flushing it on each switch. The host is address space 0.
//! Owns the entries, the statistics and the generation; it must not walk page tables.

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
}

const EMPTY: Entry = Entry {
    tag: INVALID,
    phys: 0,
    global: false,
};

#[derive(Clone, Debug)]
pub struct Tlb {
    pub e: Vec<Entry>,
    pub hits: u64,
    pub misses: u64,
    pub flushes: u64,
    /// Bumped whenever entries are removed (flush, INVLPG) or the address space changes:
    /// cached translations made outside the TLB (the fetch hint) are valid only for the
    /// generation they saw.
    pub generation: u64,
    /// Address-space tag of lookups and new entries (0: the host).
    asid: u32,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            e: vec![EMPTY; 4 * TLB_SIZE],
            hits: 0,
            misses: 0,
            flushes: 0,
            generation: 0,
            asid: 0,
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
            self.generation += 1;
        }
    }
    pub fn flush_all(&mut self) {
        self.e.fill(EMPTY);
        self.flushes += 1;
        self.generation += 1;
    }
    /// Drops the non-global entries (of every address space: conservative until guests
    /// have their own).
    pub fn flush_nonglobal(&mut self) {
        for e in self.e.iter_mut() {
            if !e.global {
                *e = EMPTY;
            }
        }
        self.flushes += 1;
        self.generation += 1;
    }
    /// INVLPG: drops the entries of `lin`'s page in the current address space.
    pub fn invlpg(&mut self, lin: u32) {
        self.generation += 1;
        let tag = self.tag(lin);
        for k in 0..4 {
            let i = (k << TLB_BITS) | ((lin >> 12) as usize & (TLB_SIZE - 1));
            if self.e[i].tag == tag {
                self.e[i] = EMPTY;
            }
        }
    }
    /// Drops write entries that map `phys_page` (it now holds cached code or is protected).
    pub fn drop_writes_to(&mut self, phys_page: u32) {
        for e in self.e[2 * TLB_SIZE..].iter_mut() {
            if e.tag != INVALID && e.phys == phys_page {
                *e = EMPTY;
            }
        }
    }
    #[inline(always)]
    pub fn insert(&mut self, write: bool, user: bool, lin: u32, phys: u32, global: bool) {
        self.e[slot(write, user, lin)] = Entry {
            tag: self.tag(lin),
            phys: phys & !0xFFF,
            global,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_only_their_address_space() {
        let mut t = Tlb::default();
        t.insert(false, false, 0x1234_5000, 0x7000, false);
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
}
