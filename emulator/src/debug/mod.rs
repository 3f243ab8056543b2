//! Debugging and verification aids that sit on top of `Machine`: debugging sessions
//! (stepping, breakpoints, reverse execution), a GDB remote target over a session, and CPU
//! test-vector runners. Nothing here is
//! needed to run a guest, and nothing here may do host I/O (callers hand in bytes).

pub mod gdb;
mod gdb_monitor;
pub mod gdb_server;
pub mod session;
pub mod vectors;
