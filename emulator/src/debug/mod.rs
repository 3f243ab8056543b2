//! Debugging and verification aids that sit on top of `Machine`: debugging sessions
//! (stepping, breakpoints, reverse execution) and CPU test-vector runners. Nothing here is
//! needed to run a guest, and nothing here may do host I/O (callers hand in bytes).

pub mod session;
pub mod vectors;
