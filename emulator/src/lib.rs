//! Traplab's emulator core: an i686-class CPU, its MMU, physical memory and the PC devices,
//! as a pure library. It owns the machine state and its execution; it must not know about
//! terminals, files, threads, wall-clock time or any front end (see `DESIGN.md`).
#![forbid(unsafe_code)]

pub mod boot;
pub mod bus;
pub mod cpu;
pub mod debug;
pub mod devices;
pub mod machine;
pub mod mmu;
pub mod snapshot;
pub mod trace;

pub use cpu::exception::Exception;
pub use iced_x86;
pub use machine::{Machine, MachineConfig, RunExit};
