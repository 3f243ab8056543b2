//! `traplab run --wait-for TEXT`: watches the guest's serial output for TEXT, so that the
//! run can hold its serial input until the guest is ready for it. Owns only the matching;
//! it must not touch the machine.

/// `--wait-for TEXT`: has the guest's output shown TEXT yet (across slice boundaries)?
pub struct WaitFor {
    text: Vec<u8>,
    /// The last bytes seen, shorter than `text`: a match may straddle two slices.
    tail: Vec<u8>,
    pub seen: bool,
}

impl WaitFor {
    pub fn new(text: &str) -> WaitFor {
        WaitFor {
            text: text.as_bytes().to_vec(),
            tail: Vec::new(),
            seen: text.is_empty(),
        }
    }

    pub fn look(&mut self, out: &[u8]) {
        if self.seen || out.is_empty() {
            return;
        }
        self.tail.extend_from_slice(out);
        self.seen = self.tail.windows(self.text.len()).any(|w| w == self.text);
        let keep = self.text.len() - 1;
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitFor;

    #[test]
    fn wait_for_sees_text_across_slices() {
        let mut w = WaitFor::new("command?");
        w.look(b"booting... comm");
        assert!(!w.seen);
        w.look(b"");
        w.look(b"and");
        assert!(!w.seen);
        w.look(b"?\r\n");
        assert!(w.seen);
        let mut w = WaitFor::new("x");
        w.look(b"abc");
        assert!(!w.seen);
        w.look(b"x");
        assert!(w.seen);
        assert!(WaitFor::new("").seen);
    }
}
