//! The i686 CPU: register state, lazy flags, decoded instructions and their handlers
//! (one file per instruction family under `exec/`), the decoded-instruction cache and
//! exception/interrupt delivery, and AMD SVM (`svm/`). It sees memory and devices only through `ctx::Core`.

pub mod access;
pub mod cache;
pub mod ctx;
pub mod descriptor;
pub mod exception;
pub mod exec;
pub mod flags;
pub mod insn;
pub mod interrupt;
pub mod npt;
pub mod request;
pub mod state;
pub mod svm;
pub mod undefined_flags;
pub mod x87;
