//! `TRAPLAB_FPS_REPORT=SECONDS`: a measurement mode of the real window. The window runs a
//! guest flat out (by default intloop with a long iteration count), counts the frames it
//! draws and the guest instructions executed for SECONDS, prints them next to the same
//! guest's headless speed on this machine, and closes. It reports; it judges nothing.
//! On Linux it also reads the CPU time of the UI and machine threads, so the figures can
//! be told apart from other programs' load. This module owns the counting and the report;
//! it does not touch the machine.

use crate::view::View;
use std::time::{Duration, Instant};

/// The environment variable that turns the measurement on (its value: seconds to measure).
pub const ENV: &str = "TRAPLAB_FPS_REPORT";
/// The guest measured when no image is given: CPU-bound and long enough for any duration.
pub const DEFAULT_IMAGE: &str = "samples/bench/intloop.elf";
pub const DEFAULT_CMDLINE: &str = "iters=1000000000";
/// Frames ignored after the guest starts (font atlas upload, first layouts).
const WARMUP: Duration = Duration::from_millis(1_000);
/// Give up when the guest has not started running after this long.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The measurement duration asked for in the environment, if any.
pub fn seconds_from_env() -> Option<f64> {
    let v = std::env::var(ENV).ok()?;
    let s: f64 = v.trim().parse().ok()?;
    (s > 0.0).then_some(s.min(3_600.0))
}

/// Seconds a thread has spent on a CPU, from a Linux `schedstat` file (None elsewhere).
fn schedstat_seconds(path: &std::path::Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// CPU seconds of the calling thread.
pub fn this_thread_cpu() -> Option<f64> {
    schedstat_seconds("/proc/thread-self/schedstat".as_ref())
}

/// CPU seconds of this process's thread called `name` (the machine thread's name is
/// `worker::THREAD_NAME`), and of all its other threads together (UI, renderer...).
pub fn threads_cpu(name: &str) -> (Option<f64>, Option<f64>) {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (None, None);
    };
    let (mut named, mut others) = (None, None);
    for task in dir.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if let Some(c) = schedstat_seconds(&task.path().join("schedstat")) {
            if comm.trim_end() == name {
                named = Some(c);
            } else {
                others = Some(others.unwrap_or(0.0) + c);
            }
        }
    }
    (named, others)
}

/// Guest speed of `image` on a bare machine (no debugger, no views) for about `secs`.
#[derive(Clone, Copy, Debug)]
pub struct Headless {
    pub mips: f64,
    /// Millions of guest instructions per second of CPU time (not slowed by other load).
    pub mips_per_cpu: Option<f64>,
}

pub fn headless_mips(image: &[u8], cmdline: &str, secs: f64) -> Result<Headless, String> {
    let mut m = crate::worker::load_bytes_with(image, cmdline)?;
    let t0 = Instant::now();
    let cpu0 = this_thread_cpu();
    let ic0 = m.icount();
    while t0.elapsed().as_secs_f64() < secs {
        if !crate::worker::runnable(m.run(5_000_000)) {
            break;
        }
    }
    let dt = t0.elapsed().as_secs_f64().max(1e-9);
    let n = (m.icount() - ic0) as f64 / 1e6;
    let cpu = this_thread_cpu().zip(cpu0).map(|(b, a)| b - a);
    Ok(Headless {
        mips: n / dt,
        mips_per_cpu: cpu.filter(|c| *c > 0.0).map(|c| n / c),
    })
}

/// What one measurement found.
#[derive(Clone, Debug)]
pub struct Report {
    pub seconds: f64,
    pub frames: u64,
    /// Views the machine thread published during the measurement.
    pub views: u64,
    pub instructions: u64,
    /// Mean time in `TraplabApp::ui` (building the frame) per frame.
    pub ui_ms: f64,
    /// Mean CPU time per frame as eframe counts it (ui + tessellation + GL calls, without
    /// waiting for the buffer swap), when the backend reports it.
    pub cpu_ms: Option<f64>,
    /// CPU seconds of the machine thread and of all the others (UI: building, tessellating,
    /// and software rendering when Mesa's llvmpipe draws), where readable (Linux).
    pub ui_cpu: Option<f64>,
    pub machine_cpu: Option<f64>,
    /// Why it ended early, if it did.
    pub note: Option<String>,
}

impl Report {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.seconds.max(1e-9)
    }

    pub fn mips(&self) -> f64 {
        self.instructions as f64 / self.seconds.max(1e-9) / 1e6
    }

    /// The lines printed at the end of a measurement.
    pub fn text(&self, headless: Option<Headless>) -> String {
        let mut s = format!(
            "frames: {:.1} per second ({} in {:.2} s; {:.1} views/s published)\n",
            self.fps(),
            self.frames,
            self.seconds,
            self.views as f64 / self.seconds.max(1e-9)
        );
        s += &format!("ui build: {:.2} ms per frame", self.ui_ms);
        if let Some(c) = self.cpu_ms {
            s += &format!(", frame CPU (ui + tessellate + GL calls): {c:.2} ms");
        }
        s += "\n";
        let secs = self.seconds.max(1e-9);
        if let Some(c) = self.ui_cpu {
            s += &format!(
                "UI and renderer threads: {:.0}% of a core, {:.2} ms of CPU per frame \
                 (ui, tessellation, and rendering when it is software)\n",
                100.0 * c / secs,
                1e3 * c / self.frames.max(1) as f64
            );
        }
        s += &format!("guest in the window: {:.1} MIPS", self.mips());
        if let Some(h) = headless {
            s += &format!(
                "; headless: {:.1} MIPS; ratio {:.0}%",
                h.mips,
                100.0 * self.mips() / h.mips.max(1e-9)
            );
        }
        s += "\n";
        if let Some(c) = self.machine_cpu.filter(|c| *c > 0.0) {
            let per_cpu = self.instructions as f64 / 1e6 / c;
            s += &format!(
                "machine thread: {:.0}% of a core; {per_cpu:.1} MIPS per CPU-second",
                100.0 * c / secs
            );
            if let Some(h) = headless.and_then(|h| h.mips_per_cpu) {
                s += &format!(
                    " (headless {h:.1}; ratio {:.0}%)",
                    100.0 * per_cpu / h.max(1e-9)
                );
            }
            s += "\n";
        }
        if let Some(n) = &self.note {
            s += &format!("note: {n}\n");
        }
        s
    }
}

struct Mark {
    t: Instant,
    icount: u64,
    seq: u64,
    ui_cpu: Option<f64>,
    machine_cpu: Option<f64>,
}

impl Mark {
    fn now(t: Instant, icount: u64, seq: u64) -> Mark {
        let (machine_cpu, ui_cpu) = threads_cpu(crate::worker::THREAD_NAME);
        Mark {
            t,
            icount,
            seq,
            ui_cpu,
            machine_cpu,
        }
    }
}

/// Counts frames while the guest runs; `frame` is called once per drawn frame.
pub struct FpsMeter {
    seconds: f64,
    created: Instant,
    running_since: Option<Instant>,
    start: Option<Mark>,
    frames: u64,
    ui_time: Duration,
    cpu_time: f64,
    cpu_frames: u64,
    last: Option<Mark>,
}

impl FpsMeter {
    pub fn new(seconds: f64) -> FpsMeter {
        FpsMeter {
            seconds,
            created: Instant::now(),
            running_since: None,
            start: None,
            frames: 0,
            ui_time: Duration::ZERO,
            cpu_time: 0.0,
            cpu_frames: 0,
            last: None,
        }
    }

    /// Records one frame drawn from `view` (`ui_time`: time spent building it; `cpu`:
    /// eframe's CPU time of the previous frame). Returns the report when the measurement
    /// is over.
    pub fn frame(&mut self, view: &View, ui_time: Duration, cpu: Option<f32>) -> Option<Report> {
        let now = Instant::now();
        let icount = view.machine.as_ref().map_or(0, |m| m.icount);
        if self.start.is_none() {
            if !view.running {
                if now.duration_since(self.created) > START_TIMEOUT {
                    return Some(self.report(now, icount, view.seq, Some("the guest never ran")));
                }
                return None;
            }
            let since = *self.running_since.get_or_insert(now);
            if now.duration_since(since) >= WARMUP {
                self.start = Some(Mark::now(now, icount, view.seq));
            }
            return None;
        }
        self.frames += 1;
        self.ui_time += ui_time;
        if let Some(c) = cpu {
            self.cpu_time += c as f64;
            self.cpu_frames += 1;
        }
        if view.running {
            self.last = Some(Mark::now(now, icount, view.seq));
        } else {
            return Some(self.report(now, icount, view.seq, Some("the guest stopped early")));
        }
        let elapsed = now.duration_since(self.start.as_ref()?.t).as_secs_f64();
        (elapsed >= self.seconds).then(|| self.report(now, icount, view.seq, None))
    }

    fn report(&self, now: Instant, icount: u64, seq: u64, note: Option<&str>) -> Report {
        let (t0, ic0, seq0) = self
            .start
            .as_ref()
            .map_or((now, icount, seq), |m| (m.t, m.icount, m.seq));
        // When the guest stopped, count its instructions up to the last running view.
        let (ic1, seq1) = match (&self.last, note) {
            (Some(l), Some(_)) => (l.icount, l.seq),
            _ => (icount, seq),
        };
        let end = match (&self.last, note) {
            (Some(l), Some(_)) => l.t,
            _ => now,
        };
        let first = self.start.as_ref();
        let cpu = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a).max(0.0));
        let (machine_now, ui_now) = threads_cpu(crate::worker::THREAD_NAME);
        let ui_cpu = cpu(first.and_then(|m| m.ui_cpu), ui_now);
        let machine_cpu = match note {
            Some(_) => cpu(
                first.and_then(|m| m.machine_cpu),
                self.last.as_ref().and_then(|m| m.machine_cpu),
            ),
            None => cpu(first.and_then(|m| m.machine_cpu), machine_now),
        };
        Report {
            seconds: end.duration_since(t0).as_secs_f64(),
            frames: self.frames,
            views: seq1.saturating_sub(seq0),
            instructions: ic1.saturating_sub(ic0),
            ui_ms: 1e3 * self.ui_time.as_secs_f64() / self.frames.max(1) as f64,
            cpu_ms: (self.cpu_frames > 0).then(|| 1e3 * self.cpu_time / self.cpu_frames as f64),
            note: note.map(str::to_string),
            ui_cpu,
            machine_cpu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(running: bool, seq: u64) -> View {
        View {
            running,
            seq,
            ..View::default()
        }
    }

    #[test]
    fn counts_only_frames_after_the_warmup_of_a_running_guest() {
        let mut m = FpsMeter::new(0.05);
        assert!(m.frame(&view(false, 1), Duration::ZERO, None).is_none());
        assert!(m.start.is_none(), "a paused guest does not start the count");
        m.running_since = Some(Instant::now() - WARMUP);
        assert!(m.frame(&view(true, 10), Duration::ZERO, None).is_none());
        assert!(m.start.is_some());
        assert_eq!(
            m.frames, 0,
            "the frame that starts the count is not counted"
        );
        let mut report = None;
        for seq in 11.. {
            report = m.frame(&view(true, seq), Duration::from_millis(1), Some(0.002));
            if report.is_some() || seq > 10_000_000 {
                break;
            }
        }
        let r = report.expect("the measurement ends");
        assert!(r.note.is_none());
        assert!(r.frames >= 1 && r.seconds >= 0.05);
        assert_eq!(r.views, r.frames, "one new view per counted frame here");
        assert!((r.ui_ms - 1.0).abs() < 1e-9 && (r.cpu_ms.unwrap() - 2.0).abs() < 1e-6);
        let h = Headless {
            mips: 100.0,
            mips_per_cpu: Some(120.0),
        };
        assert!(r.text(Some(h)).contains("frames: "));
        if cfg!(target_os = "linux") {
            assert!(r.ui_cpu.is_some(), "schedstat is readable on Linux");
        }
    }

    #[test]
    fn a_guest_that_stops_ends_the_measurement_with_a_note() {
        let mut m = FpsMeter::new(100.0);
        m.running_since = Some(Instant::now() - WARMUP);
        m.frame(&view(true, 1), Duration::ZERO, None);
        m.frame(&view(true, 2), Duration::ZERO, None);
        let r = m.frame(&view(false, 3), Duration::ZERO, None).unwrap();
        assert_eq!(r.note.as_deref(), Some("the guest stopped early"));
        assert_eq!(r.views, 1, "counted up to the last running view");
    }
}
