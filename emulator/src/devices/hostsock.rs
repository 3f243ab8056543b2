//! The host-socket device behind `traplab run --publish HOSTPORT:GUESTPORT`: a small
//! paravirtual device, in the spirit of virtio-vsock but on I/O ports, that carries stream
//! connections made on the host into the guest, where its kernel hands them to a listening
//! socket (minios: `hsock.c`). It exists only when the front end attaches it (`--publish`):
//! without it the ports are unmapped (they read 0xFF, as on QEMU or a PC), so every run
//! without `--publish` is unchanged and deterministic.
//!
//! Owns: up to `CHANNELS` channels, each a connection in one of three states (free, offered
//! to the guest, connected), the guest port it is for, the bytes each way and who has
//! closed. It does no host I/O and knows no host address: the front end (src/bin/traplab
//! `publish.rs`) accepts connections on 127.0.0.1:HOSTPORT only, calls `offer`, moves bytes
//! with `push_rx` / `take_tx` and reports the end with `host_closed`; the guest can reach
//! nothing but the connections the host offers it (it cannot open one itself). The device
//! raises no interrupt: the guest polls it (minios: on every timer tick). It is not part of
//! a snapshot (host connections cannot be saved); the state hash does not see it either.
//!
//! Registers (base 0x5A0, byte-wide; 16-bit values are read as two consecutive bytes):
//! - +0 read: ID, 0x48 ('H'). Write: SELECT the channel (0..CHANNELS-1) the others act on.
//! - +1 read: EVENTS, bit n set when channel n has something for the guest: an offer, bytes
//!   to read, or the host's end of stream not yet acknowledged.
//! - +2 read: STATUS of the selected channel: bit 0 OFFERED (waits for ACCEPT or CLOSE),
//!   bit 1 CONNECTED, bit 2 RX (bytes to read), bit 3 HOST_EOF (the host will send no
//!   more), bit 4 GUEST_CLOSED. Write: COMMAND: 1 ACCEPT an offer, 2 CLOSE (refuse an offer,
//!   or the guest has finished: bytes not yet read are dropped), 3 ACK_EOF (the guest has seen
//!   HOST_EOF: it leaves EVENTS).
//! - +3 read: the next received byte (0 when none). Write: a byte to send to the host
//!   (dropped when there is no room or the channel is not connected).
//! - +4/+5: the guest port of the selected channel. +6/+7: bytes to read (at most 0xFFFF).
//!   +8/+9: room to send (bytes the guest may write now).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// First port of the device.
pub const BASE: u16 = 0x5A0;
/// Ports it decodes: BASE..=BASE + 9.
pub const PORTS: u16 = 10;
/// Last port it decodes.
pub const LAST: u16 = BASE + PORTS - 1;
/// Connections at once.
pub const CHANNELS: usize = 8;
/// Bytes each direction may hold before the sender waits.
pub const BUF: usize = 16 << 10;
/// Value of the ID register.
pub const ID: u8 = b'H';

pub const ST_OFFERED: u8 = 1;
pub const ST_CONNECTED: u8 = 2;
pub const ST_RX: u8 = 4;
pub const ST_HOST_EOF: u8 = 8;
pub const ST_GUEST_CLOSED: u8 = 16;

pub const CMD_ACCEPT: u8 = 1;
pub const CMD_CLOSE: u8 = 2;
pub const CMD_ACK_EOF: u8 = 3;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    #[default]
    Free,
    Offered,
    Connected,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Channel {
    state: State,
    port: u16,
    rx: VecDeque<u8>,
    tx: VecDeque<u8>,
    host_eof: bool,
    eof_acked: bool,
    guest_closed: bool,
}

/// The device: see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSock {
    chans: Vec<Channel>,
    select: usize,
}

impl Default for HostSock {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSock {
    pub fn new() -> Self {
        HostSock {
            chans: vec![Channel::default(); CHANNELS],
            select: 0,
        }
    }

    /// Offers a new host connection for guest port `port`: its channel, or None when all
    /// are in use (the front end then closes the host connection).
    pub fn offer(&mut self, port: u16) -> Option<usize> {
        let i = self.chans.iter().position(|c| c.state == State::Free)?;
        self.chans[i] = Channel {
            state: State::Offered,
            port,
            ..Channel::default()
        };
        Some(i)
    }

    /// Channels free for `offer`.
    pub fn free_channels(&self) -> usize {
        self.chans.iter().filter(|c| c.state == State::Free).count()
    }

    /// True while channel `ch` is offered or connected (not closed by the guest).
    pub fn is_open(&self, ch: usize) -> bool {
        self.chans
            .get(ch)
            .is_some_and(|c| c.state != State::Free && !c.guest_closed)
    }

    /// True once the guest has closed (or refused) channel `ch`: the front end sends what
    /// `take_tx` still gives, closes the host connection and calls `release`.
    pub fn guest_closed(&self, ch: usize) -> bool {
        self.chans.get(ch).is_some_and(|c| c.guest_closed)
    }

    /// Bytes the host may push into channel `ch` now.
    pub fn rx_room(&self, ch: usize) -> usize {
        match self.chans.get(ch) {
            Some(c) if c.state != State::Free && !c.guest_closed && !c.host_eof => BUF - c.rx.len(),
            _ => 0,
        }
    }

    /// Host bytes for the guest; only `rx_room` of them are taken. Returns how many.
    pub fn push_rx(&mut self, ch: usize, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.rx_room(ch));
        if n > 0 {
            self.chans[ch].rx.extend(&bytes[..n]);
        }
        n
    }

    /// The host closed its side (or its connection failed): the guest reads the end.
    pub fn host_closed(&mut self, ch: usize) {
        if let Some(c) = self.chans.get_mut(ch) {
            if c.state != State::Free {
                c.host_eof = true;
            }
        }
    }

    /// Bytes the guest sent on channel `ch` since the last call.
    pub fn take_tx(&mut self, ch: usize) -> Vec<u8> {
        self.chans
            .get_mut(ch)
            .map_or_else(Vec::new, |c| c.tx.drain(..).collect())
    }

    /// Frees channel `ch` (after `guest_closed`, or when the front end gives it up).
    pub fn release(&mut self, ch: usize) {
        if let Some(c) = self.chans.get_mut(ch) {
            *c = Channel::default();
        }
    }

    fn events(&self) -> u8 {
        let mut e = 0;
        for (i, c) in self.chans.iter().enumerate() {
            let wants = match c.state {
                State::Free => false,
                _ if c.guest_closed => false,
                State::Offered => true,
                State::Connected => !c.rx.is_empty() || (c.host_eof && !c.eof_acked),
            };
            e |= (wants as u8) << i;
        }
        e
    }

    fn status(&self) -> u8 {
        let c = &self.chans[self.select];
        let mut s = 0;
        if c.state == State::Offered && !c.guest_closed {
            s |= ST_OFFERED;
        }
        if c.state == State::Connected && !c.guest_closed {
            s |= ST_CONNECTED;
        }
        if !c.rx.is_empty() {
            s |= ST_RX;
        }
        if c.host_eof {
            s |= ST_HOST_EOF;
        }
        if c.guest_closed {
            s |= ST_GUEST_CLOSED;
        }
        s
    }

    fn tx_room(&self) -> usize {
        let c = &self.chans[self.select];
        if c.state == State::Connected && !c.guest_closed {
            BUF - c.tx.len()
        } else {
            0
        }
    }

    /// A byte read at `offset` from BASE.
    pub fn read(&mut self, offset: u16) -> u8 {
        let (port, rx_len) = {
            let c = &self.chans[self.select];
            (c.port, c.rx.len().min(0xFFFF) as u16)
        };
        let room = self.tx_room().min(0xFFFF) as u16;
        match offset {
            0 => ID,
            1 => self.events(),
            2 => self.status(),
            3 => self.chans[self.select].rx.pop_front().unwrap_or(0),
            4 => port as u8,
            5 => (port >> 8) as u8,
            6 => rx_len as u8,
            7 => (rx_len >> 8) as u8,
            8 => room as u8,
            9 => (room >> 8) as u8,
            _ => 0xFF,
        }
    }

    /// A byte written at `offset` from BASE.
    pub fn write(&mut self, offset: u16, value: u8) {
        match offset {
            0 => self.select = (value as usize) % CHANNELS,
            2 => {
                let c = &mut self.chans[self.select];
                match value {
                    CMD_ACCEPT if c.state == State::Offered && !c.guest_closed => {
                        c.state = State::Connected
                    }
                    CMD_CLOSE if c.state != State::Free => {
                        c.guest_closed = true;
                        c.rx.clear();
                    }
                    CMD_ACK_EOF if c.host_eof => c.eof_acked = true,
                    _ => {}
                }
            }
            3 if self.tx_room() > 0 => self.chans[self.select].tx.push_back(value),
            _ => {}
        }
    }

    /// Validates a restored state (the device is not saved in snapshots, but a clone may be).
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.chans.len() != CHANNELS
            || self.select >= CHANNELS
            || self
                .chans
                .iter()
                .any(|c| c.rx.len() > BUF || c.tx.len() > BUF)
        {
            return Err("host-socket device channels".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(d: &mut HostSock, ch: u8) -> u8 {
        d.write(0, ch);
        d.read(2)
    }

    #[test]
    fn an_offer_is_accepted_and_carries_bytes_both_ways() {
        let mut d = HostSock::new();
        assert_eq!(d.read(0), ID);
        assert_eq!(d.read(1), 0);
        let ch = d.offer(2375).unwrap();
        assert_eq!(ch, 0);
        assert_eq!(d.read(1), 1);
        assert_eq!(status(&mut d, 0), ST_OFFERED);
        assert_eq!(u16::from_le_bytes([d.read(4), d.read(5)]), 2375);
        // Bytes may arrive before the guest accepts: they wait.
        assert_eq!(d.push_rx(0, b"GET /"), 5);
        d.write(3, b'x'); // not connected yet: dropped
        d.write(2, CMD_ACCEPT);
        assert_eq!(status(&mut d, 0), ST_CONNECTED | ST_RX);
        assert_eq!(d.read(6), 5);
        let got: Vec<u8> = (0..5).map(|_| d.read(3)).collect();
        assert_eq!(got, b"GET /");
        assert_eq!(d.read(3), 0);
        assert_eq!(d.read(1), 0, "nothing left for the guest");
        for &b in b"HTTP" {
            d.write(3, b);
        }
        assert_eq!(d.take_tx(0), b"HTTP");
        assert!(d.take_tx(0).is_empty());
        d.host_closed(0);
        assert_eq!(d.read(1), 1, "the end is an event");
        assert_eq!(status(&mut d, 0), ST_CONNECTED | ST_HOST_EOF);
        d.write(2, CMD_ACK_EOF);
        assert_eq!(d.read(1), 0, "acknowledged");
        assert_eq!(d.push_rx(0, b"late"), 0, "nothing after the end");
        assert!(!d.guest_closed(0));
        d.write(2, CMD_CLOSE);
        assert!(d.guest_closed(0));
        assert_eq!(status(&mut d, 0), ST_HOST_EOF | ST_GUEST_CLOSED);
        d.release(0);
        assert_eq!(status(&mut d, 0), 0);
    }

    #[test]
    fn channels_are_independent_and_limited() {
        let mut d = HostSock::new();
        for i in 0..CHANNELS {
            assert_eq!(d.offer(80 + i as u16), Some(i));
        }
        assert_eq!(d.offer(1), None, "all channels in use");
        assert_eq!(d.free_channels(), 0);
        assert_eq!(d.read(1), 0xFF);
        d.write(0, 3);
        d.write(2, CMD_CLOSE); // refused
        assert!(d.guest_closed(3) && !d.guest_closed(2));
        assert_eq!(d.read(1), 0xF7);
        d.write(0, 2);
        assert_eq!(u16::from_le_bytes([d.read(4), d.read(5)]), 82);
        d.write(2, CMD_ACCEPT);
        assert_eq!(
            u16::from_le_bytes([d.read(8), d.read(9)]) as usize,
            BUF.min(0xFFFF)
        );
        d.release(3);
        assert_eq!(d.offer(9), Some(3));
        // Selecting past the last channel wraps instead of failing.
        d.write(0, 200);
        assert_eq!(d.read(0), ID);
    }

    #[test]
    fn buffers_are_bounded() {
        let mut d = HostSock::new();
        d.offer(1);
        d.write(2, CMD_ACCEPT);
        let big = vec![7u8; BUF + 100];
        assert_eq!(d.push_rx(0, &big), BUF);
        assert_eq!(d.rx_room(0), 0);
        for _ in 0..BUF + 5 {
            d.write(3, 1);
        }
        assert_eq!(d.take_tx(0).len(), BUF);
        assert!(d.check().is_ok());
    }
}
