//! The decoded-instruction cache: short blocks of pre-decoded instructions (handler chosen
//! at decode time) keyed by the physical address of their first byte and the code size.
//! A block also remembers the EIP it was decoded at and is found only at that EIP: iced-x86
//! resolves relative branch targets to EIP values, so the same bytes reached through another
//! CS base or linear alias (07C0:0000 and 0000:7C00) must be decoded again.
//! A block is the path execution takes: consecutive instructions, and after a CALL rel32 to
//! the same page, the callee's (`machine::fetch`). It never leaves its page, so invalidating
//! a written page drops every block that could hold stale bytes; the one exception, a block
//! of a single instruction that crosses into the next page, is listed under both pages and
//! kept apart from the others (`insert_cross`), used only while the next page maps the same
//! frame. A new block copies an instruction that a valid block already decoded from the
//! same bytes at the same EIP (the memo, `recall`) instead of decoding it again. Owns
//! lookup, the memo and invalidation; building blocks needs memory and lives in the
//! dispatch loop's block fetch (`machine::fetch::fetch`).

use crate::cpu::insn::Insn;
use rustc_hash::FxHashMap;

pub const MAX_BLOCK: usize = 64;
const FRONT: usize = 4096;
/// Entries of the decoded-instruction memo (`DecodeCache::recall`), a power of two.
const MEMO_BITS: u32 = 13;
// An instruction's index in its block fits the memo's seven bits.
const _: () = assert!(MAX_BLOCK <= 0x80);
/// No entry: block index 0xFF_FFFF (there are at most 1 << 16 blocks).
const MEMO_EMPTY: (u32, u32) = (0, u32::MAX);

#[derive(Clone, Debug)]
pub struct Block {
    pub key: u64,
    /// EIP of the first instruction when it was decoded.
    pub ip: u32,
    /// EIP of the block's last byte: the block runs only while it is within CS.limit
    /// (it was decoded under a CS whose limit may have been larger: `machine::fetch`).
    pub last: u32,
    /// The block's last instruction leaves EIP to the dispatch loop (`Insn::lazy_ip`),
    /// which then stores `end_ip`, the EIP after it, when the block ran to its end.
    pub lazy_end: bool,
    pub end_ip: u32,
    pub insns: Vec<Insn>,
    pub valid: bool,
    /// The last two blocks that followed this one, most recent first: (key, block index),
    /// the key being `link_key` of the link epoch they were recorded in and the EIP they
    /// were found at. A link is valid only during its epoch (see `Machine::exec_chain`),
    /// so a key of another epoch never matches.
    pub links: [(u64, u32); 2],
    /// This block's index in `DecodeCache::blocks` (read back by the dispatch loop after
    /// running the block, so the index need not stay in a register across it).
    pub idx: u32,
}

impl Block {
    /// The block that a link records after this one for link key `key` (`link_key`), if
    /// one does (read by the dispatch loop and by the threads, `exec::thread::follow`).
    #[inline(always)]
    pub fn link(&self, key: u64) -> Option<u32> {
        if self.links[0].0 == key {
            Some(self.links[0].1)
        } else if self.links[1].0 == key {
            Some(self.links[1].1)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DecodeCache {
    pub blocks: Vec<Block>,
    map: FxHashMap<u64, u32>,
    /// The blocks of one instruction that crosses into the next page (`machine::fetch`), by
    /// key: (block index, the physical frame the next page translated to when it was
    /// decoded). Found only by `lookup_cross`, never by `lookup` (so never by the chained
    /// loop's fast lookup, nor through a link). Kept here rather than in `Block`, whose size
    /// the hot paths index by.
    crossing: FxHashMap<u64, (u32, u32)>,
    /// Direct-mapped front table: (key, EIP, block index).
    front: Vec<(u64, u32, u32)>,
    /// Direct-mapped memo of decoded instructions: (the physical address of an instruction's
    /// first byte; a block holding it << 8 | its index there << 1 | the code size bit of its
    /// key), eight bytes an entry, so that building a block copies an
    /// instruction another block already decoded (a jump into a block's middle, a callee
    /// decoded into each caller's trace: `machine::fetch`) instead of decoding it again.
    /// Empty (no memo) in a cache made by `Default`.
    memo: Vec<(u32, u32)>,
    page_blocks: FxHashMap<u32, Vec<u32>>,
    pub hits: u64,
    pub misses: u64,
    /// Instructions of new blocks copied from the memo rather than decoded (`recall`).
    pub recalls: u64,
    pub invalidations: u64,
    pub flushes: u64,
    /// Bumped whenever blocks are dropped (a written page, a flush): block links recorded
    /// before may lead to a dropped block (`Machine::exec_chain` keeps links only within
    /// one generation).
    pub generation: u64,
    /// Where `machine::fetch` builds a new block before copying it into an allocation of
    /// its exact size (a buffer reused from block to block, not part of the cache's state).
    pub scratch: Vec<Insn>,
}

/// The key of a block link recorded in link epoch `chain` (1 to `u32::MAX`, so never 0,
/// the key of no link) for EIP `eip`.
#[inline(always)]
pub fn link_key(chain: u64, eip: u32) -> u64 {
    chain << 32 | eip as u64
}

/// The memo's entry for key `k`: the instruction's offset in its page from a base that
/// depends on the page (Fibonacci hashing of the page and code size), so that the
/// instructions of one page, decoded together, share cache lines, while pages still
/// spread over the table.
#[inline(always)]
fn memo_slot(k: u64) -> usize {
    let base = (k >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_BITS);
    (base.wrapping_add(k & 0xFFF) as usize) & ((1 << MEMO_BITS) - 1)
}

/// The front table's entry for key `k` (its low bits, the page folded in).
#[inline(always)]
fn front_slot(k: u64) -> usize {
    ((k ^ (k >> 12)) as usize) & (FRONT - 1)
}

#[inline(always)]
pub fn key(phys: u32, code32: bool) -> u64 {
    phys as u64 | (code32 as u64) << 32
}

impl DecodeCache {
    pub fn new() -> Self {
        DecodeCache {
            front: vec![(u64::MAX, 0, 0); FRONT],
            memo: vec![MEMO_EMPTY; 1 << MEMO_BITS],
            ..Default::default()
        }
    }

    #[inline(always)]
    pub fn lookup(&mut self, k: u64, ip: u32) -> Option<u32> {
        let f = front_slot(k);
        let (fk, fip, idx) = self.front[f];
        if fk == k && fip == ip {
            self.hits += 1;
            return Some(idx);
        }
        match self.map.get(&k) {
            Some(&idx) if self.blocks[idx as usize].ip == ip => {
                self.front[f] = (k, ip, idx);
                self.hits += 1;
                Some(idx)
            }
            _ => None,
        }
    }

    /// The instruction decoded from key `k` (its first byte's physical address and the code
    /// size) at EIP `ip` by a block still valid (its page not written since), if the memo
    /// holds one: the same bytes at the same EIP decode to the same instruction. The copy's
    /// `idx` and, if `relinked`, its handler are the caller's to set.
    #[inline]
    pub fn recall(&mut self, k: u64, ip: u32) -> Option<&Insn> {
        let &(phys, tag) = self.memo.get(memo_slot(k))?;
        if phys != k as u32 || tag & 1 != (k >> 32) as u32 & 1 {
            return None;
        }
        let blk = self.blocks.get((tag >> 8) as usize).filter(|b| b.valid)?;
        let i = blk
            .insns
            .get((tag >> 1 & 0x7F) as usize)
            .filter(|i| i.ip() == ip)?;
        self.recalls += 1;
        Some(i)
    }

    /// Turns the decoded-instruction memo on (the default of `new`) or off, for tests and
    /// measurements: with it off, every instruction of a new block is decoded.
    pub fn set_memo(&mut self, on: bool) {
        self.memo = if on {
            vec![MEMO_EMPTY; 1 << MEMO_BITS]
        } else {
            Vec::new()
        };
    }

    /// Records that instruction `j` of block `b` was decoded from key `k` (`recall`).
    #[inline]
    pub fn remember(&mut self, k: u64, b: u32, j: usize) {
        if let Some(e) = self.memo.get_mut(memo_slot(k)) {
            *e = (k as u32, b << 8 | (j as u32) << 1 | (k >> 32) as u32 & 1);
        }
    }

    /// A block of one instruction that crosses into the next page (`insert_cross`) at key
    /// `k`, decoded at EIP `ip`: its index and the frame the next page translated to. The
    /// caller checks that translation.
    pub fn lookup_cross(&mut self, k: u64, ip: u32) -> Option<(u32, u32)> {
        let (idx, frame) = *self.crossing.get(&k)?;
        (self.blocks[idx as usize].ip == ip).then(|| {
            self.hits += 1;
            (idx, frame)
        })
    }

    /// Adds a block; returns its index. The caller marks the page as holding code.
    pub fn insert(&mut self, k: u64, ip: u32, insns: Vec<Insn>) -> u32 {
        let idx = self.push(k, ip, insns);
        self.map.insert(k, idx);
        let f = front_slot(k);
        self.front[f] = (k, ip, idx);
        idx
    }

    /// Adds a block of one instruction that crosses into the next page, which translated
    /// to frame `page`; returns its index. Writing either page drops it. The caller marks
    /// both pages as holding code.
    pub fn insert_cross(&mut self, k: u64, ip: u32, insn: Insn, page: u32) -> u32 {
        let idx = self.push(k, ip, vec![insn]);
        self.crossing.insert(k, (idx, page));
        self.page_blocks.entry(page >> 12).or_default().push(idx);
        idx
    }

    fn push(&mut self, k: u64, ip: u32, insns: Vec<Insn>) -> u32 {
        if self.blocks.len() >= 1 << 16 {
            self.flush();
        }
        self.misses += 1;
        let idx = self.blocks.len() as u32;
        let last = insns
            .iter()
            .map(|i| i.ip().wrapping_add(i.len.max(1) as u32 - 1))
            .max()
            .unwrap_or(ip);
        let (lazy_end, end_ip) = insns.last().map_or((false, 0), |i| (i.lazy_ip, i.next_ip));
        self.blocks.push(Block {
            key: k,
            ip,
            last,
            lazy_end,
            end_ip,
            insns,
            valid: true,
            links: [(0, 0); 2],
            idx,
        });
        self.page_blocks
            .entry((k as u32) >> 12)
            .or_default()
            .push(idx);
        idx
    }

    /// Drops every block from a physical page. Returns true if anything was dropped.
    pub fn invalidate_page(&mut self, page: u32) -> bool {
        let Some(list) = self.page_blocks.remove(&page) else {
            return false;
        };
        for idx in list {
            let b = &mut self.blocks[idx as usize];
            if b.valid {
                b.valid = false;
                if self.map.get(&b.key) == Some(&idx) {
                    self.map.remove(&b.key);
                }
                if self.crossing.get(&b.key).map(|e| e.0) == Some(idx) {
                    self.crossing.remove(&b.key);
                }
                let f = front_slot(b.key);
                if self.front[f].2 == idx {
                    self.front[f] = (u64::MAX, 0, 0);
                }
                b.insns = Vec::new();
            }
        }
        self.invalidations += 1;
        self.generation += 1;
        true
    }

    /// Forgets every block link (`Block::links`), so that no key of an earlier epoch can
    /// match again when the epoch counter starts over.
    pub fn clear_links(&mut self) {
        for b in self.blocks.iter_mut() {
            b.links = [(0, 0); 2];
        }
    }

    pub fn has_page(&self, page: u32) -> bool {
        self.page_blocks.contains_key(&page)
    }

    pub fn flush(&mut self) {
        self.blocks.clear();
        self.map.clear();
        self.crossing.clear();
        self.page_blocks.clear();
        self.front.fill((u64::MAX, 0, 0));
        self.memo.fill(MEMO_EMPTY);
        self.flushes += 1;
        self.generation += 1;
    }

    pub fn pages(&self) -> impl Iterator<Item = u32> + '_ {
        self.page_blocks.keys().copied()
    }
}
