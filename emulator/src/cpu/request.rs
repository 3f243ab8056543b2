//! Requests to the dispatch loop: the one way a handler, a device access or an event
//! delivery asks `Machine` to act between instructions. `Core::req` holds the pending set
//! in one byte that the block loops test once per instruction (zero: keep going).
//!
//! This module owns the kinds of request and their set; what the loop does with each, and
//! in which order, is `machine`'s (see its module docs for the phases). It must not grow
//! data that the loop would have to inspect per instruction: anything new (the SVM global
//! interrupt flag changing, a virtual interrupt posted, a world switch) is one more bit
//! here and one more step in the loop's pending-requests phase.
//!
//! Snapshots store only the requests that outlive a run call (exit, reset, triple fault),
//! as the `Option<Request>` they always were: the bytes and state hashes do not change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing the dispatch loop is asked to do. The first three are the ones a snapshot
/// can hold; keep their order (postcard stores the variant index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The guest wrote to the exit port: process status (v << 1) | 1. Ends the run.
    Exit(u32),
    /// The guest asked for a system reset. Ends the run.
    Reset,
    /// Shutdown after a triple fault. Ends every run until the machine is reset.
    TripleFault,
    /// A taken conditional branch in the middle of a block: only the block ends, and the
    /// chain goes on with the target's block (nothing else can be pending during a Jcc).
    Branch,
    /// State the loop decides on may have changed: IF, TF, DR7, CPL, the code size, the
    /// paging mode or a translation, written code, a port access (a device may raise an
    /// IRQ or change its deadline). The chain ends and the loop's phases run again.
    Rescan,
}

const EXIT: u8 = 1 << 0;
const RESET: u8 = 1 << 1;
const SHUTDOWN: u8 = 1 << 2;
const BRANCH: u8 = 1 << 3;
const RESCAN: u8 = 1 << 4;
/// The requests that end a `Machine::run` call.
const ENDING: u8 = EXIT | RESET | SHUTDOWN;

/// The set of pending requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// `bits != 0`, kept in a byte of its own: the per-instruction test is then one
    /// compare with memory (measured: testing `bits` itself costs the chained loop one
    /// more host instruction per guest instruction, as the value is kept for the
    /// `only_branch` test that follows).
    any: bool,
    bits: u8,
    /// The status of a pending `Exit`.
    exit_status: u32,
}

impl Requests {
    /// Adds `r` to the set.
    #[inline(always)]
    pub fn set(&mut self, r: Request) {
        if let Request::Branch = r {
            // Nothing else is pending in the middle of a block (any request ends it before
            // the next instruction), so two plain stores do: this runs per taken branch.
            debug_assert!(!self.any);
            self.any = true;
            self.bits = BRANCH;
            return;
        }
        self.any = true;
        self.bits |= match r {
            Request::Exit(s) => {
                self.exit_status = s;
                EXIT
            }
            Request::Reset => RESET,
            Request::TripleFault => SHUTDOWN,
            Request::Branch => BRANCH,
            Request::Rescan => RESCAN,
        };
    }

    /// True when anything is pending (the per-instruction test).
    #[inline(always)]
    pub fn any(&self) -> bool {
        self.any
    }

    /// True when the only request is `Branch` (the chain may go on).
    #[inline(always)]
    pub fn only_branch(&self) -> bool {
        self.bits == BRANCH
    }

    /// Forgets a lone `Branch` (after `only_branch`: the chain goes on with the target's
    /// block). Two plain stores, as this runs once per taken branch.
    #[inline(always)]
    pub fn clear_branch(&mut self) {
        debug_assert!(self.only_branch());
        self.bits = 0;
        self.any = false;
    }

    /// Forgets `Branch` and `Rescan`: the loop is about to look at everything again.
    #[inline(always)]
    pub fn clear_transient(&mut self) {
        self.bits &= ENDING;
        self.any = self.bits != 0;
    }

    /// Forgets everything (a test harness resetting a core).
    pub fn clear(&mut self) {
        *self = Requests::default();
    }

    /// The pending request that ends the run, most urgent first: triple fault, reset, exit
    /// (SDM Vol. 3A 6.9: a reset outranks everything; an exit is a port write that has
    /// already completed).
    pub fn ending(self) -> Option<Request> {
        if self.bits & SHUTDOWN != 0 {
            Some(Request::TripleFault)
        } else if self.bits & RESET != 0 {
            Some(Request::Reset)
        } else if self.bits & EXIT != 0 {
            Some(Request::Exit(self.exit_status))
        } else {
            None
        }
    }

    /// Removes `r` (the loop has acted on it).
    pub fn take(&mut self, r: Request) {
        let mut one = Requests::default();
        one.set(r);
        self.bits &= !one.bits;
        self.any = self.bits != 0;
    }
}

impl Serialize for Requests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ending().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Requests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut r = Requests::default();
        match Option::<Request>::deserialize(d)? {
            Some(q @ (Request::Exit(_) | Request::Reset | Request::TripleFault)) => r.set(q),
            // A saved per-block request means nothing after a restore.
            Some(Request::Branch | Request::Rescan) | None => {}
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_keeps_its_kinds_apart() {
        let mut r = Requests::default();
        assert!(!r.any());
        r.set(Request::Branch);
        assert!(r.any() && r.only_branch());
        r.clear_branch();
        assert!(!r.any());
        r.set(Request::Exit(7));
        r.set(Request::Rescan);
        assert!(r.any() && !r.only_branch());
        r.clear_transient();
        assert_eq!(r.ending(), Some(Request::Exit(7)));
        r.set(Request::TripleFault);
        assert_eq!(r.ending(), Some(Request::TripleFault));
        r.take(Request::TripleFault);
        assert_eq!(r.ending(), Some(Request::Exit(7)));
        r.take(Request::Exit(7));
        assert!(!r.any());
    }

    #[test]
    fn snapshots_store_the_ending_request_as_before() {
        // The bytes of the `Option<Request>` that `Core::request` used to be.
        for old in [
            None,
            Some(Request::Exit(0x43)),
            Some(Request::Reset),
            Some(Request::TripleFault),
        ] {
            let mut r = Requests::default();
            if let Some(q) = old {
                r.set(q);
            }
            r.set(Request::Rescan); // not saved
            let bytes = postcard::to_stdvec(&r).unwrap();
            assert_eq!(bytes, postcard::to_stdvec(&old).unwrap());
            let back: Requests = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.ending(), old);
            assert!(!back.any() || back.ending().is_some());
        }
    }
}
