//! The MMU: segmentation (descriptor caches and checks), paging and the software TLB, and
//! the memory access paths every instruction uses (`Core::read*`/`write*`). It must not
//! decode instructions or deliver exceptions: faults are returned as values.

pub mod access;
pub mod paging;
pub mod segment;
pub mod tlb;
