//! One gdb connection driving a `Session`: bytes from gdb go in (`feed`), the guest runs
//! when gdb has resumed it (`run`), and stops (breakpoint, watchpoint, step done, Ctrl-C,
//! guest exit) are reported back. The protocol itself is `gdbstub`'s state machine; this
//! module adds what a front end needs around it: packets are framed and checksummed here
//! first, so a malformed, oversized or corrupted packet gets an error reply instead of
//! ending the session, and a packet gdbstub cannot parse restarts its state machine.
//! It owns no socket: the front end reads bytes and hands in a `Connection` for writing.

use super::gdb::{kind_of, Resume};
use super::session::{Session, Stop};
use crate::machine::RunExit;
use gdbstub::common::Signal;
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubBuilder, SingleThreadStopReason};

/// Largest packet accepted, framing included (gdb learns it from qSupported).
pub const PACKET_SIZE: usize = 4096;

type Machine<C> = GdbStubStateMachine<'static, Session, C>;
type Reason = SingleThreadStopReason<u32>;

/// Why the gdb session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// gdb detached (`detach`, `quit`); the guest is free to run on.
    Detached,
    /// gdb killed the target (`kill`).
    Killed,
    /// The guest stopped for good (exit, halt, triple fault, reset) and gdb was told.
    GuestEnded(RunExit),
    /// Writing to gdb failed (the connection is gone).
    ConnectionLost,
}

/// Incremental packet framing: `$body#cc`, or one of the single bytes `+`, `-`, 0x03.
#[derive(Default)]
struct Framer {
    buf: Vec<u8>,
    /// Checksum characters seen after `#` (None while in the body).
    check: Option<usize>,
    /// The current packet overflowed and is being skipped until its end.
    overflow: bool,
}

/// What the framer made of a byte.
enum Unit {
    None,
    /// A complete packet with a valid checksum (all its bytes, framing included).
    Packet(Vec<u8>),
    /// A single control byte (`+`, `-`, Ctrl-C).
    Control(u8),
    /// A complete packet that is corrupted or too long.
    Bad,
}

impl Framer {
    fn push(&mut self, b: u8) -> Unit {
        if self.buf.is_empty() && !self.overflow {
            return match b {
                b'$' => {
                    self.buf.push(b);
                    self.check = None;
                    Unit::None
                }
                b'+' | b'-' | 0x03 => Unit::Control(b),
                // Line noise between packets: ignored, as gdb does.
                _ => Unit::None,
            };
        }
        if self.buf.len() >= PACKET_SIZE {
            self.overflow = true;
            self.buf.clear();
        }
        if !self.overflow {
            self.buf.push(b);
        }
        match self.check {
            None if b == b'#' => {
                self.check = Some(0);
                Unit::None
            }
            None => Unit::None,
            Some(0) => {
                self.check = Some(1);
                Unit::None
            }
            Some(_) => {
                self.check = None;
                let overflow = std::mem::take(&mut self.overflow);
                let pkt = std::mem::take(&mut self.buf);
                if overflow || !checksum_ok(&pkt) {
                    Unit::Bad
                } else {
                    Unit::Packet(pkt)
                }
            }
        }
    }
}

/// `$body#cc` where cc is the two-digit hex sum of the body bytes modulo 256.
fn checksum_ok(pkt: &[u8]) -> bool {
    let n = pkt.len();
    if n < 4 || pkt[0] != b'$' || pkt[n - 3] != b'#' {
        return false;
    }
    let body = &pkt[1..n - 3];
    let Ok(hex) = std::str::from_utf8(&pkt[n - 2..]) else {
        return false;
    };
    let Ok(cc) = u8::from_str_radix(hex, 16) else {
        return false;
    };
    body.iter().fold(0u8, |a, &x| a.wrapping_add(x)) == cc
}

pub struct GdbServer<C: Connection + Clone> {
    sm: Option<Machine<C>>,
    /// A handle on the same connection, to restart the state machine after a packet it
    /// could not parse (it consumes itself on such errors).
    conn: C,
    framer: Framer,
    /// gdb asked for no-ack mode (then no `+`/`-` are exchanged).
    no_ack: bool,
    ended: Option<Ended>,
    /// Packets answered with an error because they were malformed (for tests and logs).
    pub rejected: u64,
}

impl<C: Connection + Clone> GdbServer<C> {
    /// Starts serving gdb on `conn` with the machine stopped.
    pub fn new(conn: C, s: &mut Session) -> Result<GdbServer<C>, String> {
        s.gdb = Default::default();
        let sm = start(conn.clone(), s)?;
        Ok(GdbServer {
            sm: Some(sm),
            conn,
            framer: Framer::default(),
            no_ack: false,
            ended: None,
            rejected: 0,
        })
    }

    /// Why the session ended, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// True while gdb has the guest running (the front end should call `run`).
    pub fn running(&self, s: &Session) -> bool {
        matches!(self.sm, Some(GdbStubStateMachine::Running(_))) && s.gdb.resume != Resume::Stopped
    }

    /// Hands bytes received from gdb to the stub.
    pub fn feed(&mut self, s: &mut Session, bytes: &[u8]) {
        for &b in bytes {
            if self.ended.is_some() {
                return;
            }
            match self.framer.push(b) {
                Unit::None => {}
                Unit::Control(c) => self.pump(s, &[c]),
                Unit::Packet(p) => {
                    let no_ack_request = p.starts_with(b"$QStartNoAckMode#");
                    self.pump(s, &p);
                    if no_ack_request && self.ended.is_none() {
                        self.no_ack = true;
                    }
                }
                Unit::Bad => {
                    self.rejected += 1;
                    // A corrupted packet: ask for it again (ack mode), or say it failed.
                    let r = if self.no_ack {
                        self.conn.write_all(b"$E01#a6")
                    } else {
                        self.conn.write(b'-')
                    };
                    if r.and_then(|_| self.conn.flush()).is_err() {
                        self.end(s, Ended::ConnectionLost);
                    }
                }
            }
        }
    }

    /// Feeds one framed unit to the state machine, handling Ctrl-C and protocol errors.
    fn pump(&mut self, s: &mut Session, bytes: &[u8]) {
        for &b in bytes {
            let Some(sm) = self.sm.take() else { return };
            let r = match sm {
                GdbStubStateMachine::Idle(g) => g.incoming_data(s, b),
                GdbStubStateMachine::Running(g) => g.incoming_data(s, b),
                other => Ok(other),
            };
            match r {
                Ok(next) => self.settle(s, next),
                Err(e) if e.is_connection_error() => return self.end(s, Ended::ConnectionLost),
                Err(_) => {
                    // A packet gdbstub could not parse: answer it with an error and go on
                    // with a fresh state machine on the same connection, stopped.
                    self.rejected += 1;
                    s.gdb.resume = Resume::Stopped;
                    let mut reply: Vec<u8> = Vec::new();
                    if !self.no_ack {
                        reply.push(b'+');
                    }
                    reply.extend_from_slice(b"$E01#a6");
                    if self
                        .conn
                        .write_all(&reply)
                        .and_then(|_| self.conn.flush())
                        .is_err()
                    {
                        return self.end(s, Ended::ConnectionLost);
                    }
                    match start(self.conn.clone(), s) {
                        Ok(sm) => self.sm = Some(sm),
                        Err(_) => return self.end(s, Ended::ConnectionLost),
                    }
                    return;
                }
            }
        }
    }

    /// Stores the next state, acting on interrupts and disconnects at once.
    fn settle(&mut self, s: &mut Session, next: Machine<C>) {
        match next {
            GdbStubStateMachine::CtrlCInterrupt(g) => {
                // Ctrl-C in gdb: the guest stops where it is.
                s.gdb.resume = Resume::Stopped;
                match g.interrupt_handled(s, Some(Reason::Signal(Signal::SIGINT))) {
                    Ok(n) => self.settle(s, n),
                    Err(_) => self.end(s, Ended::ConnectionLost),
                }
            }
            GdbStubStateMachine::Disconnected(g) => {
                let e = match g.get_reason() {
                    DisconnectReason::Kill => Ended::Killed,
                    DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_) => {
                        Ended::GuestEnded(RunExit::Halted)
                    }
                    DisconnectReason::Disconnect => Ended::Detached,
                };
                self.end(s, e);
            }
            n => self.sm = Some(n),
        }
    }

    fn end(&mut self, s: &mut Session, why: Ended) {
        // gdb's breakpoints and watchpoints go with it; the session's own stay.
        let g = std::mem::take(&mut s.gdb);
        for a in g.sw_breaks.iter().chain(g.hw_breaks.iter()) {
            if !g.shared_breaks.contains(a) {
                s.breakpoints.remove(a);
            }
        }
        for w in &g.watches {
            if let Some(j) = s.watchpoints.iter().position(|x| x == w) {
                s.watchpoints.remove(j);
            }
        }
        self.sm = None;
        if self.ended.is_none() {
            self.ended = Some(why);
        }
    }

    /// Runs the guest for at most `budget` instructions as gdb asked (one instruction for a
    /// step) and reports the stop to gdb if there is one. Returns the session's stop when
    /// the guest stopped (None: still running, call again).
    pub fn run(&mut self, s: &mut Session, budget: u64) -> Option<Stop> {
        if !self.running(s) {
            return None;
        }
        let stepping = matches!(s.gdb.resume, Resume::Step | Resume::StepBack);
        let mut stop = match s.gdb.resume {
            Resume::Step => s.step(),
            Resume::StepBack => s.step_back(),
            _ => s.advance(budget),
        };
        let reason = match stop {
            Stop::Done if stepping => Reason::DoneStep,
            Stop::Done | Stop::Pending => return None,
            Stop::Breakpoint(pc) => {
                if s.gdb.hw_breaks.contains(&pc) && !s.gdb.sw_breaks.contains(&pc) {
                    Reason::HwBreak(())
                } else {
                    Reason::SwBreak(())
                }
            }
            Stop::Watchpoint { addr, .. } => {
                // The session stops before the access; gdb (like x86 debug registers)
                // expects the stop after it, with the new value in memory.
                let w = s
                    .watchpoints
                    .iter()
                    .find(|w| w.addr <= addr.wrapping_add(15) && addr < w.addr.wrapping_add(w.len))
                    .copied();
                match (s.step(), w) {
                    (Stop::Machine(x), _) => {
                        stop = Stop::Machine(x);
                        ended_reason(x)
                    }
                    (_, Some(w)) => Reason::Watch {
                        tid: (),
                        kind: kind_of(&w),
                        addr: addr.max(w.addr),
                    },
                    (_, None) => Reason::DoneStep,
                }
            }
            Stop::Machine(x) => ended_reason(x),
            // History ends here: gdb says "No more reverse-execution history".
            Stop::TooFarBack { .. } => Reason::ReplayLog {
                tid: None,
                pos: gdbstub::target::ext::base::reverse_exec::ReplayLogPosition::Begin,
            },
        };
        self.report(s, reason);
        // Keep the precise end (gdb's state machine only knows an exit code or signal).
        if let (Some(Ended::GuestEnded(_)), Stop::Machine(x)) = (self.ended, &stop) {
            self.ended = Some(Ended::GuestEnded(*x));
        }
        Some(stop)
    }

    /// The connection is gone (the front end saw it close): gdb's breakpoints go.
    pub fn disconnect(&mut self, s: &mut Session) {
        self.end(s, Ended::ConnectionLost);
    }

    /// Stops the running guest on the front end's behalf (the GUI's pause, or one of its
    /// own breakpoints) and tells gdb, which sees it as an interrupt.
    pub fn interrupt(&mut self, s: &mut Session) {
        if self.running(s) {
            self.report(s, Reason::Signal(Signal::SIGINT));
        }
    }

    fn report(&mut self, s: &mut Session, reason: Reason) {
        s.gdb.resume = Resume::Stopped;
        let Some(GdbStubStateMachine::Running(g)) = self.sm.take() else {
            return;
        };
        match g.report_stop(s, reason) {
            Ok(n) => self.settle(s, n),
            Err(_) => self.end(s, Ended::ConnectionLost),
        }
    }
}

/// How a guest's end looks to gdb: an exit with the guest's status, or a termination by
/// a signal for a machine that died (triple fault: SIGSEGV; reset: SIGHUP).
fn ended_reason(x: RunExit) -> Reason {
    match x {
        RunExit::Exit(v) => Reason::Exited((v & 0xFF) as u8),
        RunExit::Halted => Reason::Exited(0),
        RunExit::TripleFault => Reason::Terminated(Signal::SIGSEGV),
        RunExit::Reset => Reason::Terminated(Signal::SIGHUP),
        RunExit::Budget | RunExit::Breakpoint(_) => Reason::DoneStep,
    }
}

fn start<C: Connection + Clone>(conn: C, s: &mut Session) -> Result<Machine<C>, String> {
    let stub: GdbStub<'static, Session, C> = GdbStubBuilder::new(conn)
        .packet_buffer_size(PACKET_SIZE)
        .build()
        .map_err(|e| e.to_string())?;
    stub.run_state_machine(s)
        .map_err(|_| "cannot start the gdb stub on this connection".to_string())
}

#[cfg(test)]
#[path = "gdb_tests.rs"]
mod tests;
