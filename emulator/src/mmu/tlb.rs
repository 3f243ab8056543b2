//! Software TLB: direct-mapped, one table per (read|write) x (supervisor|user) context,
//! mapping a linear page to a physical page. Flushed exactly when the architecture says
//! (MOV CR3 keeps global pages, INVLPG, CR0.PG/WP and CR4.PSE/PGE changes flush all, task
//! switch reloads CR3). A write entry exists only for pages that may be written directly
//! (dirty already set, not ROM, no cached code), so the write fast path needs no checks.

pub const TLB_BITS: u32 = 10;
pub const TLB_SIZE: usize = 1 << TLB_BITS;
pub const INVALID: u32 = 1; // never equals a page-aligned tag

#[derive(Clone, Copy, Debug)]
pub struct Entry {
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
    /// Bumped whenever entries are removed (flush, INVLPG): cached translations made
    /// outside the TLB (the fetch hint) are valid only for the generation they saw.
    pub generation: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb {
            e: vec![EMPTY; 4 * TLB_SIZE],
            hits: 0,
            misses: 0,
            flushes: 0,
            generation: 0,
        }
    }
}

#[inline(always)]
pub fn slot(write: bool, user: bool, lin: u32) -> usize {
    ((write as usize * 2 + user as usize) << TLB_BITS) | ((lin >> 12) as usize & (TLB_SIZE - 1))
}

impl Tlb {
    pub fn flush_all(&mut self) {
        self.e.fill(EMPTY);
        self.flushes += 1;
        self.generation += 1;
    }
    pub fn flush_nonglobal(&mut self) {
        for e in self.e.iter_mut() {
            if !e.global {
                *e = EMPTY;
            }
        }
        self.flushes += 1;
        self.generation += 1;
    }
    pub fn invlpg(&mut self, lin: u32) {
        self.generation += 1;
        let tag = lin & !0xFFF;
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
            tag: lin & !0xFFF,
            phys: phys & !0xFFF,
            global,
        };
    }
}
