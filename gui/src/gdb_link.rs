//! The TCP side of a gdb attach, shared by the GUI's machine thread and the `traplab run
//! --gdb` command line (the emulator core owns no sockets). A reader thread turns the
//! socket into a channel of byte chunks, so the machine's thread never blocks on gdb
//! while the guest runs; replies are buffered and written on flush.
//! Listening is on 127.0.0.1 unless the user names another address.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;
use traplab::debug::gdb::gdbstub::conn::Connection;
use traplab::debug::gdb_server::{Ended, GdbServer};
use traplab::debug::session::{Session, Stop};

/// The port gdb users expect (QEMU's `-s`).
pub const DEFAULT_PORT: u16 = 1234;

/// Parses `[ADDR:]PORT`: a bare port (or `:PORT`) listens on 127.0.0.1 only.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!("not [ADDR:]PORT: `{s}` (e.g. 1234 or 127.0.0.1:1234; to use port {DEFAULT_PORT}, write --gdb {DEFAULT_PORT} before the image)")
    };
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(p) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
    }
    s.parse::<SocketAddr>().map_err(|_| bad())
}

/// The reply side of the connection: bytes are buffered until `flush`.
#[derive(Clone)]
pub struct Link {
    out: Rc<RefCell<Vec<u8>>>,
    stream: Rc<TcpStream>,
}

impl Connection for Link {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        self.out.borrow_mut().push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.out.borrow_mut().extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        let mut out = self.out.borrow_mut();
        if !out.is_empty() {
            (&*self.stream).write_all(&out)?;
            out.clear();
        }
        (&*self.stream).flush()
    }
}

/// One attached gdb.
pub struct GdbLink {
    pub server: GdbServer<Link>,
    link: Link,
    rx: Receiver<Option<Vec<u8>>>,
    closed: bool,
    pub peer: SocketAddr,
}

impl GdbLink {
    /// Serves gdb on an accepted connection; the machine is stopped until gdb resumes it.
    pub fn new(stream: TcpStream, s: &mut Session) -> std::io::Result<GdbLink> {
        let peer = stream.peer_addr()?;
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("traplab-gdb-reader".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            let _ = tx.send(None);
                            return;
                        }
                        Ok(n) => {
                            if tx.send(Some(buf[..n].to_vec())).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        let link = Link {
            out: Rc::new(RefCell::new(Vec::new())),
            stream: Rc::new(stream),
        };
        let server = GdbServer::new(link.clone(), s).map_err(std::io::Error::other)?;
        Ok(GdbLink {
            server,
            link,
            rx,
            closed: false,
            peer,
        })
    }

    /// Takes what gdb sent (waiting up to `wait` for it when gdb has the machine stopped),
    /// hands it to the stub, runs the guest one slice of `slice` instructions if gdb has
    /// it running, and sends the replies. Returns the stop gdb was told about, if any.
    pub fn service(&mut self, s: &mut Session, wait: Duration, slice: u64) -> Option<Stop> {
        let mut bytes = Vec::new();
        if !self.closed {
            let first = if self.server.running(s) {
                self.rx
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected)
            } else {
                self.rx
                    .recv_timeout(wait)
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            };
            let mut next = first;
            loop {
                match next {
                    Ok(Some(b)) => bytes.extend_from_slice(&b),
                    Ok(None) | Err(true) => {
                        self.closed = true;
                        break;
                    }
                    Err(false) => break,
                }
                next = self
                    .rx
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected);
            }
        }
        self.server.feed(s, &bytes);
        let stop = self.server.run(s, slice);
        if self.link.flush().is_err() {
            self.closed = true;
        }
        if self.closed {
            self.server.disconnect(s);
        }
        stop
    }

    /// Stops the guest on the front end's behalf and tells gdb (as an interrupt).
    pub fn interrupt(&mut self, s: &mut Session) {
        self.server.interrupt(s);
        if self.link.flush().is_err() {
            self.server.disconnect(s);
        }
    }

    pub fn ended(&self) -> Option<Ended> {
        self.server.ended()
    }
}

impl Drop for GdbLink {
    fn drop(&mut self) {
        // Ends the reader thread (its read returns) and tells gdb the link is gone.
        let _ = self.link.flush();
        let _ = self.link.stream.shutdown(Shutdown::Both);
    }
}

/// Binds the gdb listener (non-blocking accepts, so a front end can poll it).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// The GUI's "Attach gdb" toggle on the machine thread: a listener while on, and at most
/// one gdb at a time served on the engine's session. gdb drives run and step; the window
/// keeps showing the machine and sees the same stops.
#[derive(Default)]
pub struct GdbAttach {
    listener: Option<TcpListener>,
    link: Option<GdbLink>,
    addr: Option<SocketAddr>,
}

impl GdbAttach {
    /// Starts listening on `addr` (the toggle turned on).
    pub fn enable(&mut self, addr: SocketAddr) -> Result<(), String> {
        if self.listener.is_some() {
            return Ok(());
        }
        let l = listen(addr).map_err(|e| format!("gdb: cannot listen on {addr}: {e}"))?;
        l.set_nonblocking(true)
            .map_err(|e| format!("gdb: cannot listen on {addr}: {e}"))?;
        self.addr = l.local_addr().ok();
        self.listener = Some(l);
        Ok(())
    }

    /// Stops listening and lets an attached gdb go (its breakpoints leave with it).
    pub fn disable(&mut self, s: Option<&mut Session>) {
        self.detach(s);
        self.listener = None;
        self.addr = None;
    }

    /// Lets an attached gdb go (its session is about to be replaced, or the toggle is off).
    pub fn detach(&mut self, s: Option<&mut Session>) {
        if let (Some(l), Some(s)) = (self.link.as_mut(), s) {
            l.server.disconnect(s);
        }
        self.link = None;
    }

    /// Listening or attached.
    pub fn active(&self) -> bool {
        self.listener.is_some()
    }

    pub fn attached(&self) -> bool {
        self.link.is_some()
    }

    /// gdb has the guest running (it continued or stepped).
    pub fn running(&self, s: &Session) -> bool {
        self.link.as_ref().is_some_and(|l| l.server.running(s))
    }

    /// One line for the window: where it listens, or who is attached.
    pub fn describe(&self) -> Option<String> {
        let addr = self.addr?;
        Some(match &self.link {
            Some(l) => format!("gdb: attached from {} ({addr})", l.peer),
            None => format!("gdb: target remote {addr}"),
        })
    }

    /// Accepts a waiting gdb, serves what it sent and runs the guest one slice if gdb has
    /// it running. Returns (something happened, the stop gdb was told about).
    pub fn poll(&mut self, s: &mut Session, slice: u64) -> (bool, Option<Stop>) {
        let mut changed = false;
        if self.link.is_none() {
            if let Some(Ok((stream, _))) = self.listener.as_ref().map(TcpListener::accept) {
                if let Ok(l) = GdbLink::new(stream, s) {
                    self.link = Some(l);
                    changed = true;
                }
            }
        }
        let Some(l) = self.link.as_mut() else {
            return (changed, None);
        };
        let was_running = l.server.running(s);
        let ic = s.icount();
        let stop = l.service(s, Duration::ZERO, slice);
        changed |= stop.is_some() || was_running || s.icount() != ic || l.server.running(s);
        if l.ended().is_some() {
            // Detached, killed, or the guest ended: keep listening for the next gdb.
            self.link = None;
            changed = true;
        }
        (changed, stop)
    }

    /// The window's Pause while gdb runs the guest: gdb sees an interrupt.
    pub fn interrupt(&mut self, s: &mut Session) {
        if let Some(l) = self.link.as_mut() {
            l.interrupt(s);
        }
    }
}
