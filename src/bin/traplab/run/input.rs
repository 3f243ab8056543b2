//! The serial input of `traplab run` (`--input FILE` or piped stdin), streamed into COM1.
//! Interactive keys from a terminal are `term.rs`'s; holding input until a prompt is
//! `wait_for.rs`'s.

use super::args::RunArgs;
use anyhow::{bail, Context, Result};
use std::io::{IsTerminal, Read};
use traplab::machine::Machine;

/// Feeds COM1 from `--input FILE` or piped stdin, streamed: before every slice of the run
/// the UART's host queue is topped up to `INPUT_AHEAD` bytes (or to the end of the input).
/// A slice retires at most 200,000 instructions, so the guest can never empty the queue
/// between two top-ups while input remains: what it sees is exactly what it would see with
/// all the input queued at the start (deterministic, independent of `--trace` slicing),
/// and an endless input (`yes |`, /dev/zero) takes `INPUT_AHEAD` bytes of memory, not all.
pub(super) struct Input {
    src: Option<Box<dyn Read>>,
    /// The input's name in messages ("--input FILE" or "standard input").
    name: String,
}

/// Serial input kept queued ahead of the guest.
const INPUT_AHEAD: usize = 1 << 20;

impl Input {
    pub(super) fn new(a: &RunArgs) -> Result<Input> {
        if let Some(p) = &a.input {
            let name = format!("--input {}", p.display());
            let f = std::fs::File::open(p).with_context(|| format!("{name}: cannot open"))?;
            if f.metadata().is_ok_and(|m| m.is_dir()) {
                bail!("{name}: is a directory");
            }
            return Ok(Input {
                src: Some(Box::new(f)),
                name,
            });
        }
        let piped = !std::io::stdin().is_terminal();
        Ok(Input {
            src: piped.then(|| Box::new(std::io::stdin()) as Box<dyn Read>),
            name: "standard input".into(),
        })
    }

    pub(super) fn feed(&mut self, m: &mut Machine) -> Result<()> {
        let Some(src) = self.src.as_mut() else {
            return Ok(());
        };
        let mut chunk = vec![0u8; 64 << 10];
        while m.core.dev.uart.pending_input() < INPUT_AHEAD {
            match src.read(&mut chunk) {
                Ok(0) => {
                    self.src = None;
                    break;
                }
                Ok(n) => m.core.dev.push_serial_input(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("{}: cannot read the serial input", self.name)))
                }
            }
        }
        Ok(())
    }
}
