//! The interactive terminal of `traplab run`: when stdin and stdout are a terminal, stdin is
//! put in raw mode so every key reaches COM1 as it is typed (as on a real serial console),
//! and Ctrl-] ends the run (the telnet convention; Ctrl-C goes to the guest). It owns the
//! terminal mode and restores it on drop; it must not touch the machine.

use crossterm::terminal;
use std::io::{IsTerminal, Read};
use std::sync::mpsc::{channel, Receiver, TryRecvError};

/// Ctrl-]: leave the interactive session.
pub const ESCAPE: u8 = 0x1D;

pub struct Terminal {
    rx: Receiver<u8>,
}

impl Terminal {
    /// Raw mode and a reader thread, or None when stdin/stdout are not both terminals.
    pub fn start() -> Option<Terminal> {
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        terminal::enable_raw_mode().ok()?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 64];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    if tx.send(b).is_err() {
                        return;
                    }
                }
            }
        });
        eprint!("traplab: interactive serial console; Ctrl-] quits\r\n");
        Some(Terminal { rx })
    }

    /// Keys typed since the last call, and whether the user asked to quit.
    pub fn poll(&mut self) -> (Vec<u8>, bool) {
        let mut keys = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(ESCAPE) => return (keys, true),
                Ok(b) => keys.push(b),
                Err(TryRecvError::Empty) => return (keys, false),
                Err(TryRecvError::Disconnected) => return (keys, false),
            }
        }
    }

    /// Guest output for a raw terminal: a bare LF also returns the carriage.
    pub fn cook(out: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(out.len() + 8);
        let mut prev = 0u8;
        for &b in out {
            if b == b'\n' && prev != b'\r' {
                v.push(b'\r');
            }
            v.push(b);
            prev = b;
        }
        v
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}
