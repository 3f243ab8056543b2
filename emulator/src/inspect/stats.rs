//! Counters and statistics: retired instructions and virtual time, exceptions and
//! interrupts by vector, the MMU's paging mode and TLB counters, the decoded-instruction
//! cache's counters, and a read-only view of the event log.

use super::World;
use crate::cpu::cache::DecodeCache;
use crate::cpu::ctx::Core;
use crate::cpu::state::{cr0, cr4};
use crate::machine::Machine;
use crate::trace::{Event, EventLog, LASTING_CLASSES};

/// Counts since power-on (or since the snapshot the machine was restored from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    pub world: World,
    /// Retired instructions.
    pub icount: u64,
    /// Virtual clock in ticks: retired instructions plus ticks skipped while halted.
    pub clock: u64,
    /// Virtual time in nanoseconds (`clock` * 10).
    pub now_ns: u64,
    /// Ticks skipped while the CPU sat in HLT.
    pub halted_ticks: u64,
    /// Exceptions delivered, by vector (0-31).
    pub exceptions: Vec<u64>,
    /// Interrupts delivered (external and INT n), by vector (0-255).
    pub interrupts: Vec<u64>,
    /// Unimplemented instructions executed (each raised #UD).
    pub unimplemented: u64,
}

impl Counters {
    pub(super) fn capture(m: &Machine, world: World) -> Counters {
        let c = &m.core;
        Counters {
            world,
            icount: c.icount,
            clock: c.clock(),
            now_ns: c.now_ns(),
            halted_ticks: c.stats.halted_ticks,
            exceptions: c.stats.exceptions.clone(),
            interrupts: c.stats.interrupts.clone(),
            unimplemented: c.stats.unimplemented,
        }
    }
}

/// How linear addresses become physical ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// CR0.PG clear: linear = physical.
    Off,
    /// Two-level 32-bit paging; `large_pages` when CR4.PSE allows 4 MiB pages.
    TwoLevel { large_pages: bool },
    /// PAE paging: three levels, 64-bit entries, 2 MiB large pages.
    Pae,
}

/// The nested paging of a running guest (VMRUN with NP_ENABLE) and the 2-D walks so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NestedPaging {
    /// Nested paging is on now: N_CR3 and whether the nested tables are PAE.
    pub active: Option<(u32, bool)>,
    /// 2-D walks (TLB misses of guests with nested paging), over the whole run.
    pub walks: u64,
    /// Their memory references (guest and nested entries read).
    pub refs: u64,
}

/// Counters of the software TLB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbStats {
    /// Lookups that found a translation.
    pub hits: u64,
    /// Lookups that needed a page walk.
    pub misses: u64,
    /// Whole-TLB flushes (CR3 writes, paging mode changes).
    pub flushes: u64,
}

impl TlbStats {
    /// Hits as a percentage of lookups (100 when there were none).
    pub fn hit_rate(&self) -> f64 {
        percent(self.hits, self.hits + self.misses)
    }
}

/// The MMU's state as a front end shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmuState {
    pub world: World,
    pub paging: PagingMode,
    /// Supervisor writes honour read-only pages (CR0.WP).
    pub write_protect: bool,
    /// Physical address of the page directory (CR3 bits 31:12), or under PAE of the page
    /// directory pointer table (CR3 bits 31:5). Guest-physical under nested paging.
    pub page_directory: u32,
    /// The A20 gate is open (address bit 20 passes through).
    pub a20: bool,
    pub tlb: TlbStats,
    pub nested: NestedPaging,
}

impl MmuState {
    pub(super) fn capture(c: &Core, world: World) -> MmuState {
        let cpu = &c.cpu;
        MmuState {
            world,
            paging: if cpu.cr0 & cr0::PG == 0 {
                PagingMode::Off
            } else if cpu.cr4 & cr4::PAE != 0 {
                PagingMode::Pae
            } else {
                PagingMode::TwoLevel {
                    large_pages: cpu.cr4 & cr4::PSE != 0,
                }
            },
            write_protect: cpu.cr0 & cr0::WP != 0,
            page_directory: if cpu.cr4 & cr4::PAE != 0 {
                cpu.cr3 & 0xFFFF_FFE0
            } else {
                cpu.cr3 & 0xFFFF_F000
            },
            a20: c.mmu.a20_mask & (1 << 20) != 0,
            tlb: TlbStats {
                hits: c.mmu.tlb.hits,
                misses: c.mmu.tlb.misses,
                flushes: c.mmu.tlb.flushes,
            },
            nested: NestedPaging {
                active: c.mmu.nested.map(|n| (n.n_cr3, n.pae)),
                walks: c.mmu.nstats.walks,
                refs: c.mmu.nstats.refs,
            },
        }
    }
}

/// Counters of the decoded-instruction cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCacheStats {
    pub world: World,
    /// Block lookups that found a decoded block.
    pub hits: u64,
    /// Lookups that decoded a new block.
    pub misses: u64,
    /// Blocks dropped because their code page was written (self-modifying code).
    pub invalidations: u64,
    /// Whole-cache flushes.
    pub flushes: u64,
}

impl DecodeCacheStats {
    pub(super) fn capture(d: &DecodeCache, world: World) -> DecodeCacheStats {
        DecodeCacheStats {
            world,
            hits: d.hits,
            misses: d.misses,
            invalidations: d.invalidations,
            flushes: d.flushes,
        }
    }

    /// Hits as a percentage of lookups (100 when there were none).
    pub fn hit_rate(&self) -> f64 {
        percent(self.hits, self.hits + self.misses)
    }
}

fn percent(a: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        a as f64 * 100.0 / total as f64
    }
}

/// The event log, read-only: the most recent events (a bounded ring) and how many were
/// ever recorded, so a reader can ask for what is new since it last looked.
#[derive(Clone, Copy)]
pub struct Events<'a> {
    world: World,
    log: &'a EventLog,
}

impl<'a> Events<'a> {
    pub(super) fn new(log: &'a EventLog, world: World) -> Events<'a> {
        Events { world, log }
    }

    pub fn world(&self) -> World {
        self.world
    }

    /// Events ever recorded (including those the ring has dropped).
    pub fn total(&self) -> u64 {
        self.log.total
    }

    /// Events still kept.
    pub fn len(&self) -> usize {
        self.log.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.events.is_empty()
    }

    /// The kept events, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a Event> + ExactSizeIterator {
        self.log.events.iter()
    }

    pub fn last(&self) -> Option<&'a Event> {
        self.log.events.back()
    }

    /// The events recorded after the reader saw `seen` in total (those still kept).
    pub fn since(&self, seen: u64) -> impl Iterator<Item = &'a Event> {
        let new = self.log.total.saturating_sub(seen);
        let new = usize::try_from(new).unwrap_or(usize::MAX);
        let skip = self.log.events.len().saturating_sub(new);
        self.log.events.iter().skip(skip)
    }

    /// Events of each lasting class (faults, privilege, system) ever recorded.
    pub fn lasting_total(&self) -> [u64; LASTING_CLASSES] {
        self.log.lasting_total
    }

    /// Events of the lasting classes still kept (they outlive the frequent ones).
    pub fn lasting_len(&self) -> usize {
        self.log.lasting.iter().map(|r| r.len()).sum()
    }

    /// The kept events of the lasting classes, class by class (each oldest first).
    pub fn lasting(&self) -> impl Iterator<Item = &'a Event> {
        self.log.lasting.iter().flatten()
    }

    /// Port accesses are being recorded (`--trace-io`).
    pub fn records_io(&self) -> bool {
        self.log.io
    }
}
