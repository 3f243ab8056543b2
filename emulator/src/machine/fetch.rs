//! Instruction fetch for the dispatch loop: translate CS:EIP, find or build the block of
//! decoded instructions. Blocks never cross a page; an instruction that does is a block of
//! its own, used while its second page maps the frame it was decoded from (`crossing`). A
//! new block copies the instructions other blocks already decoded (`DecodeCache::recall`).

use super::Machine;
use crate::cpu::cache::{key, MAX_BLOCK};
use crate::cpu::exception::{Exception, Res};
use crate::cpu::exec::{self, Dispatch};
use crate::cpu::insn::Insn;
use crate::mmu::segment::CS;
use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl};

/// A one-entry translation cache for code fetch, valid for one TLB generation.
#[derive(Clone, Copy, Debug)]
pub struct Hint {
    lin_page: u32,
    phys_page: u32,
    user: bool,
    gen: u64,
}

impl Hint {
    /// The physical page of linear address `lin`, if the hint is for its page and is valid
    /// for this privilege and TLB generation.
    #[inline(always)]
    fn page(&self, lin: u32, user: bool, gen: u64) -> Option<u32> {
        (self.lin_page == lin & !0xFFF && self.user == user && self.gen == gen)
            .then_some(self.phys_page)
    }

    /// The hint for the page of `lin`, found at physical address `phys`.
    fn new(lin: u32, phys: u32, user: bool, gen: u64) -> Hint {
        Hint {
            lin_page: lin & !0xFFF,
            phys_page: phys & !0xFFF,
            user,
            gen,
        }
    }
}

impl Default for Hint {
    fn default() -> Self {
        Hint {
            lin_page: 1,
            phys_page: 0,
            user: false,
            gen: u64::MAX,
        }
    }
}

pub enum Fetched {
    Cached(u32),
    Temp(Vec<Insn>),
}

/// The common case, inlined into the dispatch loop: the code page is the one translated
/// last (same TLB generation and privilege) or one the TLB holds, and the block is
/// cached. None otherwise. `code32` and `user` are the caller's: the dispatch loop
/// computes them once per chain (anything that changes the code size or the privilege
/// level ends the chain).
#[inline(always)]
pub fn fast(m: &mut Machine, code32: bool, user: bool) -> Option<u32> {
    let c = &mut m.core;
    let eip = c.cpu.eip;
    let cs = &c.cpu.seg[CS];
    let limit = cs.limit;
    let lin = cs.base.wrapping_add(eip);
    let gen = c.mmu.tlb.generation;
    let phys_page = match m.hint.page(lin, user, gen) {
        Some(p) => p,
        None => {
            // Another code page (a call or jump between pages): a TLB hit is what
            // `translate` would find, without the general path's trip.
            let p = c.mmu.code_page(lin, user)?;
            m.hint = Hint::new(lin, p, user, gen);
            p
        }
    };
    let k = key(phys_page | (lin & 0xFFF), code32);
    let idx = m.cache.lookup(k, eip)?;
    // The whole block within CS.limit (so EIP too: the block starts there).
    if m.cache.blocks[idx as usize].last > limit {
        return None;
    }
    Some(idx)
}

pub fn fetch(m: &mut Machine) -> Res<Fetched> {
    let pg = m.popek_goldberg;
    let c = &mut m.core;
    let code32 = c.cpu.code32();
    let eip = c.cpu.eip;
    let cs = c.cpu.seg[CS];
    if eip > cs.limit {
        return Err(Exception::gp(0));
    }
    let lin = cs.base.wrapping_add(eip);
    let user = c.user_mode();
    let phys = match m.hint.page(lin, user, c.mmu.tlb.generation) {
        Some(p) => p | (lin & 0xFFF),
        None => {
            let p = c.translate(lin, false, user)?;
            m.hint = Hint::new(lin, p, user, c.mmu.tlb.generation);
            p
        }
    };
    let k = key(phys, code32);
    let mut uncached = false;
    if let Some(idx) = m.cache.lookup(k, eip) {
        if m.cache.blocks[idx as usize].last <= cs.limit {
            return Ok(Fetched::Cached(idx));
        }
        // Decoded under a CS with a larger limit (SDM Vol. 3A 5.3: every byte of an
        // instruction within the limit): decoded again up to this limit, not cached.
        uncached = true;
    } else if phys & 0xFFF > 0x1000 - 15 {
        // An instruction that may cross into the next page: cached for the frame that page
        // translated to when it was decoded.
        if let Some((idx, frame)) = m.cache.lookup_cross(k, eip) {
            if m.cache.blocks[idx as usize].last <= cs.limit {
                // The instruction needs bytes of the next page: a fault there is the
                // fetch's (as `crossing` would find it, translating once).
                let next = (lin & !0xFFF).wrapping_add(0x1000);
                if c.translate(next, false, user)? == frame {
                    return Ok(Fetched::Cached(idx));
                }
            }
            uncached = true;
        }
    }
    // Decode a new block from EIP on in this page (and at the targets of the calls it
    // makes in the page, below).
    let page = (phys & !0xFFF) as usize;
    // Decoded in place from RAM (a copy only for code outside it: ROM, the BIOS).
    let outside_ram;
    let bytes: &[u8] = match c.mem.ram.get(page..page + 0x1000) {
        Some(b) => b,
        None => {
            outside_ram = c.mem.peek(page as u32, 0x1000);
            &outside_ram
        }
    };
    let bits = if code32 { 32 } else { 16 };
    let mut dec = Decoder::with_ip(bits, bytes, eip as u64, DecoderOptions::NONE);
    if dec.set_position((phys & 0xFFF) as usize).is_err() {
        return Err(Exception::gp(0)); // not reached: the offset is within the page
    }
    // Built in the cache's scratch buffer, then copied into an allocation of the block's
    // exact size (no growth, copy by copy, for each new block).
    let mut insns = std::mem::take(&mut m.cache.scratch);
    insns.clear();
    let cs_limit = cs.limit as u64;
    // Each instruction's offset in the page, for the decode memo (`DecodeCache::remember`).
    let mut offs = [0u16; MAX_BLOCK];
    while insns.len() < MAX_BLOCK && dec.can_decode() {
        let pos = dec.position();
        let ik = key(page as u32 | pos as u32, code32);
        // Built in place at the end of the block (a large struct: no moves).
        if let Some(r) = m.cache.recall(ik, dec.ip() as u32) {
            // Decoded already by another block: the same instruction, the decoder moved
            // past it as its decode would have.
            insns.push(r.clone());
            let i = insns.last_mut().expect("just pushed");
            let _ = dec.set_position(pos + i.len as usize);
            dec.set_ip(i.ins.next_ip());
            if i.relinked {
                let (h, d) = exec::select_block(&i.ins, pg);
                exec::set_handler(i, h, d);
                i.skip = crate::cpu::insn::NONE;
                i.back = 0;
                if !exec::fast::is_jcc(&i.ins) {
                    i.imm2 = 0; // a fused flag setter's copy of the Jcc's target
                }
                i.relinked = false;
            }
        } else {
            // Decoded into its slot, the recipe filled in place: no copy of the decode
            // (iced writes it field by field, and a copy read back at once in wide loads
            // waited on those stores: measured with perf).
            insns.push(Insn::blank(exec::invalid));
            let i = insns.last_mut().expect("just pushed");
            dec.decode_out(&mut i.ins);
            if dec.last_error() == DecoderError::NoMoreBytes {
                insns.pop();
                break;
            }
            let (h, d) = exec::select_block(&i.ins, pg);
            i.init();
            exec::set_handler(i, h, d);
        }
        let n = insns.len() - 1;
        let i = &mut insns[n];
        let last = i.ins.ip().wrapping_add(i.len as u64 - 1);
        if last > cs_limit || (!code32 && last > 0xFFFF) {
            insns.pop();
            if insns.is_empty() {
                return Err(Exception::gp(0));
            }
            break;
        }
        i.idx = n as u8;
        let flow = i.ins.flow_control();
        let goes_on = continues_at_target(&i.ins, code32, cs.base, cs.limit, lin);
        // A block goes on past a Jcc (its fall-through path): a taken Jcc in the middle
        // ends the block with `Request::Branch` (see `exec::fast::jcc`).
        let jcc = exec::fast::is_jcc(&i.ins);
        offs[n] = pos as u16;
        if let Some(target) = goes_on {
            // Decoding goes on at the callee, in this page (its bytes are invalidated with
            // the block's): the call runs like any other instruction of the block.
            dec.set_ip(target as u64);
            if dec
                .set_position(((cs.base.wrapping_add(target)) & 0xFFF) as usize)
                .is_err()
            {
                break;
            }
            continue;
        }
        if flow != FlowControl::Next && !jcc {
            break;
        }
    }
    // A Jcc whose target is in the block records the target's index and returns the
    // in-block branch marker when taken (`exec::fast::jcc_in`): the dispatch loop goes on
    // at that instruction without leaving the block (a loop or an `if` that fits in one
    // block runs without block lookups). Another Jcc in the middle of a block ends it when
    // taken (`Request::Branch`).
    let last = insns.len().saturating_sub(1);
    for p in 0..insns.len() {
        if !exec::fast::is_jcc(&insns[p].ins) {
            continue;
        }
        let target = insns[p].imm;
        let t = insns.iter().position(|i| i.ip() == target);
        if let Some(t) = t {
            insns[p].skip = t as u8;
            insns[p].back = (p as i32 + 1 - t as i32) as i8;
            let (h, d) = exec::fast::jcc_in_table(insns[p].cc);
            exec::set_handler(&mut insns[p], h, d);
            insns[p].relinked = true;
            // The flag setter before it may run both (the chained loop calls `thread`,
            // single steps `inner`: see `exec::fast::fuse`).
            if p > 0 {
                if let Some(t) = exec::fast::fuse(&insns[p - 1].ins, insns[p].cc, true) {
                    let (skip, back, target) = (insns[p].skip, insns[p].back, insns[p].imm);
                    let q = &mut insns[p - 1];
                    q.thread = t;
                    q.skip = skip;
                    q.back = back;
                    q.imm2 = target;
                    q.relinked = true;
                }
            }
        } else if p < last {
            let (h, thread) = exec::fast::jcc_table::<true>(insns[p].cc);
            let d = Dispatch::Lazy {
                sets_ip: false,
                thread,
            };
            exec::set_handler(&mut insns[p], h, d);
            insns[p].relinked = true;
            // The flag setter before it may run both in the chained loop, as above.
            if p > 0 {
                if let Some(t) = exec::fast::fuse(&insns[p - 1].ins, insns[p].cc, false) {
                    insns[p - 1].thread = t;
                    insns[p - 1].relinked = true;
                }
            }
        }
    }
    if insns.is_empty() {
        m.cache.scratch = insns;
        return crossing(m, phys, k, uncached);
    }
    let block = insns.to_vec();
    m.cache.scratch = insns;
    if uncached {
        return Ok(Fetched::Temp(block));
    }
    if m.cache.blocks.len() >= (1 << 16) - 1 {
        m.flush_code_cache();
    }
    m.mark_code_page(phys);
    let n = block.len();
    let idx = m.cache.insert(k, eip, block);
    for (j, &off) in offs[..n].iter().enumerate() {
        m.cache
            .remember(key(page as u32 | off as u32, code32), idx, j);
    }
    Ok(Fetched::Cached(idx))
}

/// A block whose first instruction crosses into the next page (`phys`: its first byte,
/// `k` its key): up to 15 bytes fetched through both pages' translations, decoded alone.
/// It faults only if the instruction really needs the bytes it cannot fetch (the next
/// page not present, or beyond CS's limit). Cached unless `uncached`, as a block of that
/// one instruction that both pages drop when written and that is used only while the next
/// page still translates to the same frame (`DecodeCache::insert_cross`: the chained
/// loop's fast lookup never finds it, `fetch` checks the frame).
fn crossing(m: &mut Machine, phys: u32, k: u64, uncached: bool) -> Res<Fetched> {
    let pg = m.popek_goldberg;
    let c = &mut m.core;
    let code32 = c.cpu.code32();
    let eip = c.cpu.eip;
    let cs = c.cpu.seg[CS];
    let lin = cs.base.wrapping_add(eip);
    let user = c.user_mode();
    let bits = if code32 { 32 } else { 16 };
    let first = 0x1000 - (lin & 0xFFF);
    let mut buf = Vec::with_capacity(15);
    let mut next_page = None;
    for n in 0..15u32 {
        if eip.wrapping_add(n) > cs.limit {
            break;
        }
        let p = if n < first {
            phys.wrapping_add(n)
        } else {
            let page = match next_page {
                Some(p) => p,
                None => match c.translate(lin.wrapping_add(n), false, user) {
                    Ok(p) => *next_page.insert(p & !0xFFF),
                    Err(e) => {
                        // Only fault if the instruction really needs the bytes of that page.
                        let mut d = Decoder::with_ip(bits, &buf, eip as u64, DecoderOptions::NONE);
                        let ins = d.decode();
                        if d.last_error() == DecoderError::NoMoreBytes {
                            return Err(e);
                        }
                        let h = exec::select_for(&ins, pg);
                        return Ok(Fetched::Temp(vec![Insn::new(ins, h)]));
                    }
                },
            };
            page | (n - first)
        };
        buf.push(c.mem.read_u8(p));
    }
    let mut d = Decoder::with_ip(bits, &buf, eip as u64, DecoderOptions::NONE);
    let ins = d.decode();
    if d.last_error() == DecoderError::NoMoreBytes {
        // Runs past the CS limit.
        return Err(Exception::gp(0));
    }
    let h = exec::select_for(&ins, pg);
    let insn = Insn::new(ins, h);
    let Some(page) = next_page.filter(|_| !uncached) else {
        return Ok(Fetched::Temp(vec![insn]));
    };
    if m.cache.blocks.len() >= (1 << 16) - 1 {
        m.flush_code_cache();
    }
    m.mark_code_page(phys);
    m.mark_code_page(page);
    let idx = m.cache.insert_cross(k, eip, insn, page);
    Ok(Fetched::Cached(idx))
}

/// The target of a CALL rel32 that its block goes on at: a near call of 32-bit code to an
/// EIP within CS's limit whose linear address lies in the same page as the block's start
/// `lin`. A block is then a path through the code rather than consecutive bytes (a trace:
/// Bochs's traces and QEMU's blocks end at every branch instead), one block transition
/// less per call; the bytes all lie in one page, so writing that page drops the block.
/// A call to a target beyond the limit ends its block and faults when it runs.
fn continues_at_target(
    ins: &iced_x86::Instruction,
    code32: bool,
    cs_base: u32,
    cs_limit: u32,
    lin: u32,
) -> Option<u32> {
    if !code32 || ins.code() != iced_x86::Code::Call_rel32_32 {
        return None;
    }
    let target = ins.near_branch32();
    let same_page = (cs_base.wrapping_add(target) ^ lin) & !0xFFF == 0;
    (target <= cs_limit && same_page).then_some(target)
}
