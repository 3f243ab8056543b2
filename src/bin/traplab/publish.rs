//! `traplab run --publish HOSTPORT:GUESTPORT`: the host side of the host-socket device
//! (`traplab::devices::hostsock`), like `docker run -p`. For each flag it listens on
//! 127.0.0.1:HOSTPORT (loopback only: nothing outside this machine can connect; HOSTPORT 0
//! takes any free port, printed on stderr). Every connection accepted there is offered to
//! the guest as a new channel for GUESTPORT; between two slices of the run `pump` moves the
//! bytes each way with non-blocking host I/O and reports each side's end to the other.
//!
//! Owns: the listening sockets and the accepted connections. It must not open any other host
//! socket nor let the guest choose an address: the guest only answers connections made here
//! (the device has no "connect" command). Which bytes arrive in which slice depends on the
//! host, so a run with `--publish` is not deterministic; a run without it has no device.

use anyhow::{bail, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use traplab::devices::hostsock::{self, HostSock};

/// One `--publish` value: (host port, guest port). Both 1-65535, the host port may be 0.
pub fn parse(spec: &str) -> Result<(u16, u16)> {
    let bad = || {
        anyhow::anyhow!(
            "--publish {spec}: expected HOSTPORT:GUESTPORT, two port numbers \
             (host 0-65535, 0 = any free port; guest 1-65535), e.g. --publish 2375:2375"
        )
    };
    let (h, g) = spec.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u16>().ok()
    };
    match (num(h), num(g)) {
        (Some(h), Some(g)) if g != 0 => Ok((h, g)),
        _ => Err(bad()),
    }
}

struct Conn {
    stream: TcpStream,
    /// Guest bytes not yet written to the host.
    out: Vec<u8>,
    /// The host will send no more (it closed, or the connection failed).
    host_eof: bool,
}

pub struct Publish {
    listeners: Vec<(TcpListener, u16)>,
    conns: Vec<Option<Conn>>,
}

impl Publish {
    /// Listens for every `--publish` value (before the guest boots: a port that is taken is
    /// an error at once). Prints one line per port on stderr.
    pub fn open(specs: &[String]) -> Result<Publish> {
        let mut listeners = Vec::new();
        let mut seen = Vec::new();
        for spec in specs {
            let (h, g) = parse(spec)?;
            if h != 0 && seen.contains(&h) {
                bail!("--publish {spec}: host port {h} is given twice");
            }
            seen.push(h);
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, h))
                .with_context(|| format!("--publish {spec}: cannot listen on 127.0.0.1:{h}"))?;
            l.set_nonblocking(true)
                .with_context(|| format!("--publish {spec}: cannot listen on 127.0.0.1:{h}"))?;
            let port = l.local_addr().map(|a| a.port()).unwrap_or(h);
            eprintln!("traplab: 127.0.0.1:{port} is published to guest port {g}");
            listeners.push((l, g));
        }
        Ok(Publish {
            listeners,
            conns: (0..hostsock::CHANNELS).map(|_| None).collect(),
        })
    }

    /// Moves what is ready each way; true when anything moved (the caller then runs the guest
    /// without pausing).
    pub fn pump(&mut self, dev: &mut HostSock) -> bool {
        let mut moved = false;
        // Only as many as there are free channels: the others wait in the host's backlog.
        for (l, g) in &self.listeners {
            while dev.free_channels() > 0 {
                let Ok((stream, _)) = l.accept() else { break };
                moved = true;
                match dev.offer(*g) {
                    Some(ch) if stream.set_nonblocking(true).is_ok() => {
                        let _ = stream.set_nodelay(true);
                        self.conns[ch] = Some(Conn {
                            stream,
                            out: Vec::new(),
                            host_eof: false,
                        });
                    }
                    Some(ch) => dev.release(ch),
                    None => {}
                }
            }
        }
        let mut buf = vec![0u8; 16 << 10];
        for (ch, slot) in self.conns.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            let tx = dev.take_tx(ch);
            moved |= !tx.is_empty();
            c.out.extend_from_slice(&tx);
            while !c.out.is_empty() {
                match c.stream.write(&c.out) {
                    Ok(0) => break,
                    Ok(n) => {
                        c.out.drain(..n);
                        moved = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        // The host client has gone: what the guest still sends is dropped.
                        c.out.clear();
                        c.host_eof = true;
                        dev.host_closed(ch);
                    }
                }
            }
            if dev.guest_closed(ch) {
                if c.out.is_empty() || c.host_eof {
                    let _ = c.stream.shutdown(Shutdown::Both);
                    *slot = None;
                    dev.release(ch);
                    moved = true;
                }
                continue;
            }
            while !c.host_eof {
                let room = dev.rx_room(ch).min(buf.len());
                if room == 0 {
                    break;
                }
                match c.stream.read(&mut buf[..room]) {
                    Ok(0) => {
                        c.host_eof = true;
                        dev.host_closed(ch);
                        moved = true;
                    }
                    Ok(n) => {
                        dev.push_rx(ch, &buf[..n]);
                        moved = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        c.host_eof = true;
                        dev.host_closed(ch);
                        moved = true;
                    }
                }
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_loopback_only() {
        let p = Publish::open(&["0:80".to_string()]).unwrap();
        let addr = p.listeners[0].0.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        assert_eq!(p.listeners[0].1, 80);
        let taken = format!("{}:80", addr.port());
        let e = Publish::open(&[taken]).err().unwrap();
        assert!(
            format!("{e:#}").contains("cannot listen on 127.0.0.1"),
            "{e:#}"
        );
    }

    #[test]
    fn publish_values() {
        assert_eq!(parse("2375:2375").unwrap(), (2375, 2375));
        assert_eq!(parse("0:80").unwrap(), (0, 80));
        for bad in [
            "", "2375", ":1", "1:", "1:0", "65536:1", "a:1", "1:2:3", "-1:2", "+1:2",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
