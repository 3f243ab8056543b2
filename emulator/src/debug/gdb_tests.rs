//! The gdb stub under hostile input: error replies for corrupted and malformed packets,
//! the session still answering afterwards, and random and mutated packets (a fuzz loop
//! with a fixed seed) that must end without a panic.

use super::*;
use crate::boot::{boot, BootKind};
use crate::machine::MachineConfig;
use std::cell::RefCell;
use std::rc::Rc;

/// An in-memory connection: what the stub writes.
#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl Connection for Wire {
    type Error = ();
    fn write(&mut self, b: u8) -> Result<(), ()> {
        self.0.borrow_mut().push(b);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

impl Wire {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.borrow_mut())).into_owned()
    }
}

// 0x1000: inc ecx ; mov [0x3000],ecx ; jmp 0x1000
const PROG: &[u8] = &[0x41, 0x89, 0x0D, 0x00, 0x30, 0, 0, 0xEB, 0xF7];

fn session() -> Session {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        ..Default::default()
    };
    let m = boot(
        cfg,
        PROG,
        &BootKind::Flat {
            addr: 0x1000,
            real: false,
        },
    )
    .unwrap();
    let mut s = Session::new(m);
    s.checkpoint_every = u64::MAX;
    s
}

/// The reply body with gdb's run-length encoding (`X*n`: n - 29 more X's) expanded.
fn unrle(reply: &str) -> String {
    let b = reply.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'*' && i + 1 < b.len() && !out.is_empty() {
            let last = *out.last().unwrap();
            out.extend(std::iter::repeat_n(last, (b[i + 1] - 29) as usize));
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The signal number of a stop reply (`$S05...` / `$T05...`), if that is what it is.
fn stop_signal(reply: &str) -> Option<&str> {
    let r = reply.strip_prefix('+').unwrap_or(reply);
    r.strip_prefix("$S")
        .or_else(|| r.strip_prefix("$T"))
        .map(|x| &x[..2])
}

fn packet(body: &[u8]) -> Vec<u8> {
    let sum = body.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    let mut p = vec![b'$'];
    p.extend_from_slice(body);
    p.extend_from_slice(format!("#{sum:02x}").as_bytes());
    p
}

#[test]
fn corrupted_and_malformed_packets_get_error_replies_and_the_stub_goes_on() {
    let mut s = session();
    let w = Wire::default();
    let mut g = GdbServer::new(w.clone(), &mut s).unwrap();
    // A wrong checksum: NACK (gdb retransmits).
    g.feed(&mut s, b"$g#00");
    assert_eq!(w.take(), "-");
    // A known command with arguments gdbstub cannot parse: an error reply.
    g.feed(&mut s, &packet(b"mZZZ,QQ"));
    assert_eq!(w.take(), "+$E01#a6");
    // Line noise between packets is ignored; an oversized packet is refused.
    g.feed(&mut s, b"garbage");
    let mut big = vec![b'$'];
    big.extend(std::iter::repeat_n(b'a', PACKET_SIZE + 10));
    big.extend_from_slice(b"#00");
    g.feed(&mut s, &big);
    assert_eq!(w.take(), "-");
    assert_eq!(g.rejected, 3);
    // Still serving: the registers (EIP = 0x1000 in gdb's little-endian hex).
    g.feed(&mut s, &packet(b"g"));
    let reply = unrle(&w.take());
    assert!(reply.starts_with("+$"), "{reply}");
    assert_eq!(&reply[2 + 8 * 8..2 + 9 * 8], "00100000", "{reply}");
    // Memory: the program's first bytes.
    g.feed(&mut s, &packet(b"m1000,3"));
    assert_eq!(w.take(), "+$41890d#6a");
    assert!(g.ended().is_none());
}

#[test]
fn a_step_and_a_breakpoint_are_reported_to_gdb() {
    let mut s = session();
    let w = Wire::default();
    let mut g = GdbServer::new(w.clone(), &mut s).unwrap();
    g.feed(&mut s, &packet(b"QStartNoAckMode"));
    assert_eq!(w.take(), "+$OK#9a");
    g.feed(&mut s, &packet(b"s"));
    assert!(g.running(&s));
    assert!(matches!(g.run(&mut s, 100), Some(Stop::Done)));
    assert_eq!(stop_signal(&w.take()), Some("05"));
    assert_eq!(s.m.pc(), 0x1001);
    g.feed(&mut s, &packet(b"Z0,1007,1"));
    assert_eq!(w.take(), "$OK#9a");
    g.feed(&mut s, &packet(b"c"));
    let stop = g.run(&mut s, 1000);
    assert_eq!(stop, Some(Stop::Breakpoint(0x1007)));
    let r = w.take();
    assert_eq!(stop_signal(&r), Some("05"), "{r}");
    assert!(r.contains("swbreak"), "{r}");
    // Ctrl-C while running: a SIGINT stop.
    g.feed(&mut s, &packet(b"c"));
    g.feed(&mut s, &[0x03]);
    assert_eq!(stop_signal(&w.take()), Some("02"));
    assert!(!g.running(&s));
    // Detach: gdb's breakpoints leave with it.
    g.feed(&mut s, &packet(b"D"));
    assert_eq!(g.ended(), Some(Ended::Detached));
    assert!(s.breakpoints.is_empty());
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Packets a real gdb sends, as seeds for mutation.
const CORPUS: &[&[u8]] = &[
    b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386",
    b"vMustReplyEmpty",
    b"QStartNoAckMode",
    b"Hg0",
    b"qXfer:features:read:target.xml:0,ffb",
    b"qTStatus",
    b"?",
    b"qfThreadInfo",
    b"qAttached",
    b"Hc-1",
    b"qC",
    b"qOffsets",
    b"g",
    b"G0000000000000000000000000000000000000000000000000000000000000000",
    b"p8",
    b"P0=01000000",
    b"m1000,10",
    b"m0,4",
    b"mffffffff,10",
    b"M3000,4:01020304",
    b"X3000,2:ab",
    b"Z0,1007,1",
    b"z0,1007,1",
    b"Z1,1000,1",
    b"Z2,3000,4",
    b"Z3,3000,4",
    b"Z4,3000,4",
    b"z2,3000,4",
    b"vCont?",
    b"vCont;s:p1.-1",
    b"vCont;c",
    b"s",
    b"c",
    b"qRcmd,68656c70",
    b"qRcmd,77616c6b20307831303030",
    b"qRcmd,6576656e7473203130",
    b"qRcmd,6372",
    b"D",
    b"k",
];

#[test]
fn random_and_mutated_packets_never_panic_the_stub() {
    let mut rng = Rng(0x7A4F_5EED_1234_5678);
    let mut sessions = 0;
    let mut replies = 0usize;
    for _round in 0..40 {
        let mut s = session();
        let w = Wire::default();
        let mut g = GdbServer::new(w.clone(), &mut s).unwrap();
        sessions += 1;
        for _ in 0..400 {
            if g.ended().is_some() {
                break;
            }
            let mut body: Vec<u8> = CORPUS[rng.below(CORPUS.len())].to_vec();
            match rng.below(6) {
                // As is.
                0 => {}
                // Flip, insert or delete bytes.
                1 | 2 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(body.len().max(1));
                        match rng.below(3) {
                            0 if !body.is_empty() => body[i] = rng.next() as u8,
                            1 => body.insert(i.min(body.len()), rng.next() as u8),
                            _ if !body.is_empty() => {
                                body.remove(i);
                            }
                            _ => {}
                        }
                    }
                }
                // Truncate.
                3 => body.truncate(rng.below(body.len() + 1)),
                // Pure noise, framed.
                4 => body = (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
                // Pure noise, unframed (sometimes with a stray `$` or `#`).
                _ => {
                    let noise: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                    g.feed(&mut s, &noise);
                    continue;
                }
            }
            // `$` and `#` inside a body end or restart framing: gdb escapes them.
            let mut p = packet(&body);
            if rng.below(8) == 0 {
                // A wrong checksum now and then.
                let n = p.len();
                p[n - 1] ^= 1;
            }
            g.feed(&mut s, &p);
            if rng.below(4) == 0 {
                g.feed(&mut s, &[0x03]);
            }
            if g.running(&s) {
                g.run(&mut s, 50);
            }
            replies += w.take().len();
        }
    }
    assert_eq!(sessions, 40);
    // The stub answered (an all-silent stub would pass the no-panic check vacuously).
    assert!(replies > 10_000, "only {replies} reply bytes");
}
