//! The CPU's side of nested paging: turning a nested page fault found by the MMU's 2-D
//! walk (`mmu::nested`) into the #VMEXIT NPF (AMD APM Vol. 2 15.25.6). It must not walk
//! tables (that is `mmu::nested`) nor perform world switches itself (that is `cpu::svm`).

use crate::cpu::ctx::Core;
use crate::cpu::exception::Exception;
use crate::mmu::nested::Npf;

impl Core {
    /// A nested page fault of the current instruction: #VMEXIT NPF with EXITINFO1 = the
    /// error bits (bit 32 or 33) and EXITINFO2 = the guest-physical address.
    #[cold]
    pub(crate) fn nested_page_fault(&mut self, f: Npf) -> Exception {
        let npf = crate::cpu::svm::code::NPF;
        crate::cpu::svm::exit_fault(self, npf, f.info1, f.gpa as u64)
    }
}
