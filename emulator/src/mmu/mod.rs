//! The MMU: segmentation (descriptor caches and the checks of one access), paging (two-level
//! and PAE) and the software TLB, and `Mmu`, the one owner of linear-to-physical
//! translation (TLB, page walk, A20 gate, alignment-check mode) over a `bus::PhysMem`. It
//! must not decode instructions, know about the CPU's registers beyond the paging registers
//! it is handed, or deliver exceptions: faults are returned as values. The CPU's
//! segment:offset accesses are `cpu::access`.

pub mod charged;
pub mod explain;
pub mod nested;
pub mod pae;
pub mod paging;
pub mod segment;
pub mod tlb;
pub mod translate;

pub use translate::{Fault, Mmu};
