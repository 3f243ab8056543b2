//! Traplab's emulator core: an i686-class CPU, its MMU, physical memory and the PC devices,
//! as a pure library. It owns the machine state and its execution; it must not know about
//! terminals, files, threads, wall-clock time or any front end. Front ends read machine
//! state through `Machine::inspect()` (the `inspect` module) and drive it through `Machine`,
//! `debug::session` and `boot`. The README's "What is inside" maps modules to files.
//!
//! Layers, highest first; a module uses only its own and lower layers (checked by
//! `tests/layering.rs`, so there is no import cycle between `cpu`, `mmu`, `machine` and
//! `boot`):
//! - `compare`: the matrix of workloads and settings behind `traplab compare`;
//! - `debug`, `snapshot`: services over a whole machine (debugger session, test vectors,
//!   saved states);
//! - `inspect`: the read-only inspection API front ends read the machine through (named
//!   snapshot structs, each tagged with the `World` it describes);
//! - `boot`: loaders and the built-in BIOS, which reaches the CPU only as a port hook
//!   registered on the core (`boot::bios::attach`);
//! - `machine`: the dispatch loop and block fetch;
//! - `cpu`: registers, instruction handlers, event delivery, descriptor helpers, and the
//!   CPU's segment:offset accesses (`cpu::access`);
//! - `mmu`: segment types, paging, the TLB and `mmu::Mmu`, the one owner of translation;
//! - `bus`, `devices`, `trace`: physical memory (`bus::PhysMem`), PC devices, events.
#![forbid(unsafe_code)]

pub mod boot;
pub mod bus;
pub mod compare;
pub mod cpu;
pub mod debug;
pub mod devices;
pub mod inspect;
pub mod machine;
pub mod mmu;
pub mod snapshot;
pub mod trace;

pub use cpu::exception::Exception;
pub use iced_x86;
pub use machine::{Machine, MachineConfig, RunExit};
