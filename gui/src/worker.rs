//! The machine thread: owns the `Session` (machine + debugger), executes the typed commands
//! the UI sends, runs the guest in short slices paced by the speed setting, and publishes
//! a `View` (everything the panels show) between slices: 64 a second while running,
//! so the window can draw at display rate. The UI never touches the machine.

use crate::symbols::Symbols;
use crate::view::{self, View, ViewRequest};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use traplab::boot::{boot, BootKind, ImageKind};
use traplab::debug::session::{Input, Session, Stop, Watchpoint};
use traplab::machine::{Machine, MachineConfig, RunExit};

/// What the UI can ask of the machine thread.
#[derive(Clone, Debug)]
pub enum Command {
    Run,
    Pause,
    Step,
    StepOver,
    StepOut,
    StepBack,
    RunTo(u32),
    /// Travel to an instruction count (backwards by replay, forwards by running).
    GoTo(u64),
    /// Run to the next world switch into the hypervisor (true: a #VMEXIT or a trap into
    /// ring 0) or back into the guest (false), and stop exactly at it (`switch_goal`).
    RunToSwitch(bool),
    ToggleBreakpoint(u32),
    ClearBreakpoints,
    AddWatchpoint(Watchpoint),
    ClearWatchpoints,
    /// Load an image or snapshot from a path; on error the current machine stays.
    Load(String),
    /// Load the first of these paths that boots (lessons: a preferred image and fallbacks).
    LoadFirst(Vec<String>),
    /// Load a Multiboot kernel with a command line and modules (a hypervisor and its
    /// guest: tevmm + minios), with the `--popek-goldberg` CPU or not. Reset boots it the
    /// same way.
    LoadSpec(BootSpec),
    SaveSnapshot(String),
    Reset,
    /// A character typed on the PS/2 keyboard.
    Key(char),
    /// Bytes typed into the serial terminal (COM1).
    Serial(Vec<u8>),
    /// Instructions per second; None = flat out.
    SetSpeed(Option<u64>),
    /// What the panels want to see (memory window, page walk address...).
    SetRequest(ViewRequest),
    /// true: the registers now are the baseline of the changes shown until `false`
    /// (a lesson's step of several instructions highlights all they changed).
    Baseline(bool),
    /// "Attach gdb": serve gdb at this address (the window uses 127.0.0.1:1234), or stop
    /// (None).
    AttachGdb(Option<std::net::SocketAddr>),
    /// The `--popek-goldberg` CPU on or off. The loaded image restarts with it (time travel
    /// cannot cross a change of CPU); a snapshot brings its own setting.
    SetPopekGoldberg(bool),
    /// Show an error the window met before it could ask anything (the error banner).
    ReportError(String),
    Quit,
}

/// How to boot an image: Multiboot command line and module paths (in order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootSpec {
    pub path: String,
    pub cmdline: String,
    pub modules: Vec<String>,
    /// Some: the CPU with (or without) `--popek-goldberg`; None keeps the current choice.
    pub popek_goldberg: Option<bool>,
    /// The machine has a local APIC and an I/O APIC (the CLI's `--apic`).
    pub apic: bool,
    /// A disk image for the primary master (the CLI's `--disk`).
    pub disk: Option<String>,
}

/// The handle the UI holds.
pub struct Worker {
    tx: Sender<Command>,
    view: Arc<Mutex<Arc<View>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the machine thread with `path` loaded (or an empty machine and an error).
    /// `repaint` is called after each published view (the UI's `request_repaint`).
    pub fn start(path: Option<&str>, repaint: Box<dyn Fn() + Send>) -> Worker {
        Worker::start_with(path, "", repaint)
    }

    /// Like `start`, with a Multiboot command line for that first image (`iters=N` for the
    /// bench guests, `autorun=cpu` for minios); images loaded later boot without one.
    pub fn start_with(path: Option<&str>, cmdline: &str, repaint: Box<dyn Fn() + Send>) -> Worker {
        let (tx, rx) = channel();
        let view = Arc::new(Mutex::new(Arc::new(View::default())));
        let v2 = view.clone();
        let path = path.map(str::to_string);
        let cmdline = cmdline.to_string();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let mut e = Engine::new(v2, repaint);
                if let Some(p) = path {
                    e.boot_cmdline = Some((p.clone(), cmdline));
                    e.handle(Command::Load(p));
                }
                e.publish();
                e.main_loop(rx);
            })
            .expect("spawning the machine thread");
        Worker {
            tx,
            view,
            thread: Some(thread),
        }
    }

    pub fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }

    /// The latest published view.
    pub fn view(&self) -> Arc<View> {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Guest RAM of machines the GUI creates.
pub fn machine_config() -> MachineConfig {
    MachineConfig::default()
}

/// Boots an image file's bytes: a Traplab snapshot, or what `traplab::boot::detect` finds
/// (a Multiboot kernel, a disk image whose sector 0 ends in 55 AA booted by the built-in
/// BIOS, or a ROM image started at the reset vector).
pub fn load_bytes(bytes: &[u8]) -> Result<Machine, String> {
    load_bytes_with(bytes, "")
}

/// `load_bytes` with a Multiboot command line (ignored for snapshots and disks).
pub fn load_bytes_with(bytes: &[u8], cmdline: &str) -> Result<Machine, String> {
    load_bytes_modules(bytes, cmdline, vec![])
}

/// `load_bytes_with` and Multiboot modules (files read by the caller, named by path).
pub fn load_bytes_modules(
    bytes: &[u8],
    cmdline: &str,
    modules: Vec<traplab::boot::multiboot::Module>,
) -> Result<Machine, String> {
    load_bytes_config(bytes, cmdline, modules, machine_config())
}

/// `load_bytes_modules` on a machine built from `config` (its devices: the APICs, disks;
/// a Linux kernel still gets at least `LINUX_RAM`).
pub fn load_bytes_config(
    bytes: &[u8],
    cmdline: &str,
    modules: Vec<traplab::boot::multiboot::Module>,
    mut config: MachineConfig,
) -> Result<Machine, String> {
    if bytes.starts_with(traplab::snapshot::MAGIC) {
        return traplab::snapshot::restore(bytes).map_err(|e| e.to_string());
    }
    // The same rules as the CLI's `--boot auto`.
    let kind = match traplab::boot::detect(bytes).map_err(|e| e.to_string())? {
        ImageKind::Multiboot => BootKind::Multiboot {
            cmdline: cmdline.to_string(),
            modules,
        },
        // A Linux kernel's first module is its initrd; without a command line its console
        // is the serial port (the Serial tab).
        ImageKind::Linux => BootKind::Linux {
            cmdline: if cmdline.is_empty() {
                crate::linux_sample::CMDLINE.to_string()
            } else {
                cmdline.to_string()
            },
            initrd: modules
                .into_iter()
                .next()
                .map(|m| m.data)
                .unwrap_or_default(),
        },
        ImageKind::BootSector => BootKind::Disk,
        ImageKind::Rom => BootKind::Firmware,
    };
    if matches!(kind, BootKind::Linux { .. }) {
        // Debian's kernel needs about 36 MiB to boot; leave its page cache some room.
        config.ram_bytes = config.ram_bytes.max(LINUX_RAM);
    }
    boot(config, bytes, &kind).map_err(|e| e.to_string())
}

/// Guest RAM for a Linux kernel.
pub const LINUX_RAM: usize = 128 << 20;

/// Share of the machine thread's time that checkpoints may take while running flat out.
const CHECKPOINT_SHARE: f64 = 0.04;
/// `Session::checkpoint_every` while this thread takes the checkpoints itself (large, but
/// far from overflowing the session's `last + every`).
const MANUAL_CHECKPOINTS: u64 = 1 << 50;

/// The machine thread's name (as `top -H` and `/proc` show it).
pub const THREAD_NAME: &str = "traplab-machine";

/// Views published per second while the guest runs: a little above a 60 Hz display's rate,
/// so the window never waits for a fresh view. A view costs tens of microseconds here
/// (`gui_frame` bench); each frame drawn from it costs the UI far more.
pub const RUNNING_VIEWS_PER_SECOND: u64 = 64;

struct Engine {
    session: Option<Session>,
    symbols: Arc<Symbols>,
    /// The symbols of the first Multiboot module that is an ELF (a guest kernel).
    guest_symbols: Arc<Symbols>,
    image: String,
    /// The Multiboot modules the image was booted with (their names, as the guest sees them).
    modules: Arc<Vec<String>>,
    /// (image path, Multiboot command line) for the image given at start.
    boot_cmdline: Option<(String, String)>,
    /// How the image of the last `LoadSpec` boots (kept for Reset).
    spec: Option<BootSpec>,
    out: Arc<Mutex<Arc<View>>>,
    repaint: Box<dyn Fn() + Send>,
    running: bool,
    /// A multi-slice goal (step over/out, run to) is in progress.
    pending: bool,
    speed: Option<u64>,
    request: ViewRequest,
    status: String,
    error: Option<String>,
    serial: String,
    /// `serial` as last published (shared by the views until the guest prints again).
    serial_shared: Arc<String>,
    prev_cpu: Option<traplab::inspect::CpuState>,
    /// `prev_cpu` stays while set (`Command::Baseline`).
    hold_baseline: bool,
    /// What a pending goal is (an i18n key), shown while it runs.
    pending_what: &'static str,
    mips_history: Vec<[f64; 2]>,
    history_shared: Arc<Vec<[f64; 2]>>,
    events_cache: view::EventsCache,
    started: Instant,
    /// Instructions and time since the last MIPS sample.
    sample_icount: u64,
    sample_time: Instant,
    mips: f64,
    slice: u64,
    /// Measured instructions per second while running flat out.
    rate: f64,
    credit: f64,
    last_pace: Instant,
    /// Running flat out: icount of the last checkpoint and the measured cost of one (s).
    last_checkpoint: u64,
    checkpoint_cost: f64,
    seq: u64,
    /// "Attach gdb": gdb drives run and step through the same session.
    gdb: crate::gdb_link::GdbAttach,
    /// Images load with the `--popek-goldberg` CPU (`Command::SetPopekGoldberg`).
    popek_goldberg: bool,
}

impl Engine {
    fn new(out: Arc<Mutex<Arc<View>>>, repaint: Box<dyn Fn() + Send>) -> Engine {
        Engine {
            session: None,
            symbols: Arc::new(Symbols::default()),
            guest_symbols: Arc::new(Symbols::default()),
            image: String::new(),
            modules: Arc::default(),
            boot_cmdline: None,
            spec: None,
            out,
            repaint,
            running: false,
            pending: false,
            speed: None,
            request: ViewRequest::default(),
            status: String::new(),
            error: None,
            serial: String::new(),
            serial_shared: Arc::default(),
            prev_cpu: None,
            hold_baseline: false,
            pending_what: "",
            mips_history: Vec::new(),
            history_shared: Arc::default(),
            events_cache: view::EventsCache::default(),
            started: Instant::now(),
            sample_icount: 0,
            sample_time: Instant::now(),
            mips: 0.0,
            slice: 100_000,
            rate: 50e6,
            credit: 0.0,
            last_pace: Instant::now(),
            last_checkpoint: 0,
            checkpoint_cost: 0.01,
            seq: 0,
            gdb: Default::default(),
            popek_goldberg: false,
        }
    }

    fn main_loop(&mut self, rx: Receiver<Command>) {
        let mut last_publish = Instant::now();
        let mut next_view = last_publish;
        loop {
            let busy = self.running || self.pending || self.gdb_running();
            // Wait for a command when idle; only peek while running (or listening for gdb).
            let idle_wait = if self.gdb.active() { 20 } else { 250 };
            let first = if busy {
                rx.try_recv().ok()
            } else {
                match rx.recv_timeout(Duration::from_millis(idle_wait)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            let mut changed = false;
            if let Some(c) = first {
                if matches!(c, Command::Quit) {
                    return;
                }
                self.handle(c);
                changed = true;
                while let Ok(c) = rx.try_recv() {
                    if matches!(c, Command::Quit) {
                        return;
                    }
                    self.handle(c);
                }
            }
            if self.running || self.pending {
                self.slice_once();
                changed = true;
            }
            changed |= self.poll_gdb();
            self.sample_mips();
            // While running: RUNNING_VIEWS_PER_SECOND, on a fixed schedule (a late view
            // does not push the next ones back); when paused: at once after a command;
            // idle: a heartbeat twice a second.
            let now = Instant::now();
            let busy = self.running || self.pending || self.gdb_running();
            let publish = if changed {
                !busy || now >= next_view
            } else {
                now.duration_since(last_publish) >= Duration::from_millis(500)
            };
            if publish {
                self.publish();
                last_publish = now;
                let period = Duration::from_secs(1) / RUNNING_VIEWS_PER_SECOND as u32;
                next_view = if next_view + period > now {
                    next_view + period
                } else {
                    now + period
                };
            }
        }
    }

    /// One slice of execution: ~2 ms flat out, or the instructions due at the set speed.
    fn slice_once(&mut self) {
        let due = self.checkpoint_due();
        let Some(s) = self.session.as_mut() else {
            self.running = false;
            self.pending = false;
            return;
        };
        let budget = match self.speed {
            None => self.slice,
            Some(ips) => {
                let now = Instant::now();
                self.credit += ips as f64 * now.duration_since(self.last_pace).as_secs_f64();
                self.last_pace = now;
                let n = self.credit.floor() as u64;
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                    return;
                }
                self.credit -= n as f64;
                self.credit = self.credit.min(ips as f64);
                n
            }
        };
        // Checkpoints for reverse execution cost a scan of guest RAM (10-25 ms for 32 MB
        // here): flat out, this thread takes them itself, paced by their measured cost
        // (`checkpoint_due`); at a set speed, the session takes one every 10,000.
        s.checkpoint_every = match self.speed {
            None => MANUAL_CHECKPOINTS,
            Some(_) => 10_000,
        };
        let t0 = Instant::now();
        let ic0 = s.icount();
        let stop = s.advance(budget);
        if self.speed.is_none() {
            // Aim at ~2 ms per slice so the UI's commands are answered promptly.
            let dt = t0.elapsed().as_secs_f64().max(1e-6);
            let done = s.icount().saturating_sub(ic0) as f64;
            if done > 10_000.0 {
                self.rate = 0.8 * self.rate + 0.2 * (done / dt);
            }
            let ideal = (budget as f64 * 0.002 / dt) as u64;
            self.slice = ideal.clamp(1_000, 5_000_000);
            if matches!(stop, Stop::Pending | Stop::Done)
                && s.icount() >= self.last_checkpoint.saturating_add(due)
            {
                let t = Instant::now();
                s.checkpoint();
                let cost = t.elapsed().as_secs_f64();
                self.checkpoint_cost = 0.7 * self.checkpoint_cost + 0.3 * cost;
                self.last_checkpoint = s.icount();
            }
        }
        self.after_stop(stop);
        if self.speed.is_some() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn gdb_running(&self) -> bool {
        self.session.as_ref().is_some_and(|s| self.gdb.running(s))
    }

    /// Serves an attached gdb (its stops show in the window like the window's own).
    fn poll_gdb(&mut self) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        if !self.gdb.active() {
            return false;
        }
        let was_attached = self.gdb.attached();
        let (changed, stop) = self.gdb.poll(s, self.slice.min(200_000));
        if self.gdb.attached() && !was_attached {
            // gdb takes the machine stopped, as it expects.
            self.running = false;
            self.pending = false;
            s.cancel_goal();
            self.status = self.gdb.describe().unwrap_or_default();
        }
        if let Some(stop) = stop {
            self.status = view::stop_text(&stop);
            self.take_serial();
        }
        changed
    }

    /// Instructions between checkpoints running flat out: as often as keeps their cost
    /// under `CHECKPOINT_SHARE` of the time, but at least every 0.1 s and at most every 2 s
    /// of execution (a step back or a pause replays up to that much).
    fn checkpoint_due(&self) -> u64 {
        let secs = (self.checkpoint_cost / CHECKPOINT_SHARE).clamp(0.1, 2.0);
        (self.rate * secs) as u64
    }

    fn after_stop(&mut self, stop: Stop) {
        match stop {
            Stop::Pending => {}
            Stop::Done => {
                if self.pending {
                    self.pending = false;
                    self.status = String::new();
                }
            }
            other => {
                self.running = false;
                self.pending = false;
                self.status = view::stop_text(&other);
                if other == Stop::Machine(RunExit::Halted) {
                    // Say why nothing can wake the CPU (interrupts off, IRQs masked...).
                    if let Some(h) = self.session.as_ref().and_then(|s| s.m.halt_reason()) {
                        self.status = format!("{}: {h}", self.status);
                    }
                }
            }
        }
        self.take_serial();
    }

    fn take_serial(&mut self) {
        if let Some(s) = self.session.as_mut() {
            let out = s.m.core.dev.take_serial_output();
            let dbg = s.m.core.dev.take_debugcon();
            for b in out.into_iter().chain(dbg) {
                match b {
                    b'\r' => {}
                    b'\n' | b'\t' | 0x20..=0x7E => self.serial.push(b as char),
                    0x08 => {
                        self.serial.pop();
                    }
                    _ => self.serial.push(traplab::devices::vga::cp437_to_char(b)),
                }
            }
            if self.serial.len() > 64_000 {
                let cut = self.serial.len() - 48_000;
                let cut = (cut..self.serial.len())
                    .find(|&i| self.serial.is_char_boundary(i))
                    .unwrap_or(0);
                self.serial.drain(..cut);
            }
        }
    }

    fn sample_mips(&mut self) {
        let dt = self.sample_time.elapsed().as_secs_f64();
        if dt < 0.25 {
            return;
        }
        let ic = self.session.as_ref().map_or(0, |s| s.icount());
        let n = ic.saturating_sub(self.sample_icount);
        self.mips = n as f64 / dt / 1e6;
        self.sample_icount = ic;
        self.sample_time = Instant::now();
        if self.running || self.mips > 0.0 {
            let t = self.started.elapsed().as_secs_f64();
            self.mips_history.push([t, self.mips]);
            if self.mips_history.len() > 240 {
                self.mips_history.remove(0);
            }
        }
    }

    /// A debugger step: remember the registers before, for change highlighting.
    fn stepped<F: FnOnce(&mut Session) -> Stop>(&mut self, f: F) {
        self.running = false;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.checkpoint_every = 10_000;
        if !self.hold_baseline || self.prev_cpu.is_none() {
            self.prev_cpu = Some(s.m.inspect().cpu());
        }
        let stop = f(s);
        self.pending = matches!(stop, Stop::Pending);
        self.status = String::new();
        self.after_stop(stop);
    }

    fn handle(&mut self, c: Command) {
        let gdb_has_it = self.gdb.attached()
            && matches!(
                c,
                Command::Run
                    | Command::Step
                    | Command::StepOver
                    | Command::StepOut
                    | Command::StepBack
                    | Command::RunTo(_)
                    | Command::GoTo(_)
                    | Command::RunToSwitch(_)
            );
        if gdb_has_it {
            self.status = "gdb is attached: run and step from gdb (Pause interrupts it)".into();
            return;
        }
        match c {
            Command::Run => {
                if self.session.is_some() {
                    self.running = true;
                    self.pending = false;
                    self.status = String::new();
                    self.last_pace = Instant::now();
                    self.credit = 0.0;
                    if let Some(s) = self.session.as_mut() {
                        s.cancel_goal();
                        if !self.hold_baseline {
                            self.prev_cpu = Some(s.m.inspect().cpu());
                        }
                        // Stepping left dense checkpoints up to here.
                        self.last_checkpoint = s.icount();
                    }
                }
            }
            Command::Pause => {
                self.running = false;
                self.pending = false;
                if let Some(s) = self.session.as_mut() {
                    self.gdb.interrupt(s);
                    s.cancel_goal();
                    // Pay the replay now, so the first step back is instant.
                    s.densify();
                }
            }
            Command::Step => self.stepped(|s| s.step()),
            Command::StepOver => {
                self.pending_what = "pending_step_over";
                self.stepped(|s| s.step_over(200_000))
            }
            Command::StepOut => {
                self.pending_what = "pending_step_out";
                self.stepped(|s| s.step_out(200_000))
            }
            Command::RunTo(a) => {
                self.pending_what = "pending_run_to";
                self.stepped(|s| s.run_to(a, 200_000))
            }
            Command::StepBack => self.stepped(|s| s.step_back()),
            Command::GoTo(ic) => self.stepped(|s| s.go_to(ic)),
            Command::RunToSwitch(into_host) => {
                let mut out = Ok(0);
                self.stepped(|s| {
                    out = crate::switch_goal::run_to_switch(s, into_host, 50_000_000);
                    Stop::Done
                });
                self.status = match out {
                    Ok(ic) if into_host => format!("world switch at {ic}"),
                    Ok(ic) => format!("back in the guest at {ic}"),
                    Err(e) => e,
                };
            }
            Command::ToggleBreakpoint(a) => {
                if let Some(s) = self.session.as_mut() {
                    s.toggle_breakpoint(a);
                }
            }
            Command::ClearBreakpoints => {
                if let Some(s) = self.session.as_mut() {
                    s.breakpoints.clear();
                }
            }
            Command::AddWatchpoint(w) => {
                if let Some(s) = self.session.as_mut() {
                    s.watchpoints.push(w);
                }
            }
            Command::ClearWatchpoints => {
                if let Some(s) = self.session.as_mut() {
                    s.watchpoints.clear();
                }
            }
            Command::Load(path) => self.load(&path),
            Command::LoadSpec(spec) => {
                if let Some(pg) = spec.popek_goldberg {
                    self.popek_goldberg = pg;
                }
                let path = spec.path.clone();
                self.spec = Some(spec);
                self.load(&path);
            }
            Command::LoadFirst(paths) => {
                for p in &paths {
                    self.error = None;
                    self.load(p);
                    if self.error.is_none() {
                        break;
                    }
                }
            }
            Command::SaveSnapshot(path) => {
                if let Some(s) = self.session.as_ref() {
                    let bytes = traplab::snapshot::save(&s.m);
                    match std::fs::write(&path, bytes) {
                        Ok(()) => self.status = format!("snapshot -> {path}"),
                        Err(e) => self.error = Some(format!("{path}: {e}")),
                    }
                }
            }
            Command::Reset => {
                if !self.image.is_empty() {
                    let p = self.image.clone();
                    self.load(&p);
                }
            }
            Command::Key(ch) => {
                if let Some(s) = self.session.as_mut() {
                    s.input(Input::Key(ch));
                }
            }
            Command::Serial(bytes) => {
                if let Some(s) = self.session.as_mut() {
                    s.input(Input::Serial(bytes));
                }
            }
            Command::SetSpeed(sp) => {
                self.speed = sp;
                self.credit = 0.0;
                self.last_pace = Instant::now();
            }
            Command::SetRequest(r) => self.request = r,
            Command::Baseline(hold) => {
                self.hold_baseline = hold;
                if hold {
                    self.prev_cpu = self.session.as_ref().map(|s| s.m.inspect().cpu());
                }
            }
            Command::AttachGdb(Some(addr)) => match self.gdb.enable(addr) {
                Ok(()) => self.status = self.gdb.describe().unwrap_or_default(),
                Err(e) => self.error = Some(e),
            },
            Command::AttachGdb(None) => self.gdb.disable(self.session.as_mut()),
            Command::SetPopekGoldberg(on) => {
                self.popek_goldberg = on;
                if !self.image.is_empty() {
                    let p = self.image.clone();
                    self.load(&p);
                }
            }
            Command::ReportError(e) => self.error = Some(e),
            Command::Quit => {}
        }
    }

    fn load(&mut self, path: &str) {
        let bytes = match crate::images::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(format!("{path}: {e}"));
                return;
            }
        };
        let spec = self.spec.as_ref().filter(|s| s.path == path);
        let cmdline = match (&self.boot_cmdline, spec) {
            (_, Some(s)) => s.cmdline.as_str(),
            (Some((p, c)), _) if p == path => c.as_str(),
            _ => "",
        };
        let mut modules = Vec::new();
        let mut names = Vec::new();
        for mp in spec.map_or(&[][..], |s| &s.modules[..]) {
            names.push(crate::images::display_path(mp));
            match crate::images::read(mp) {
                Ok(data) => modules.push(traplab::boot::multiboot::Module {
                    data,
                    string: crate::images::display_path(mp),
                }),
                Err(e) => {
                    self.error = Some(format!("{mp}: {e}"));
                    return;
                }
            }
        }
        let guest_symbols = modules
            .iter()
            .map(|m| Symbols::from_elf(&m.data))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let mut config = machine_config();
        if let Some(s) = spec {
            config.devices.apic = s.apic;
            if let Some(d) = &s.disk {
                match crate::images::read(d) {
                    Ok(data) => config.devices.disk = Some(data.into()),
                    Err(e) => {
                        self.error = Some(format!("{d}: {e}"));
                        return;
                    }
                }
            }
        }
        match load_bytes_config(&bytes, cmdline, modules, config) {
            Ok(mut m) => {
                if bytes.starts_with(traplab::snapshot::MAGIC) {
                    self.popek_goldberg = m.popek_goldberg();
                } else {
                    m.set_popek_goldberg(self.popek_goldberg);
                }
                // gdb's view of the old machine ends with it (it may attach again).
                self.gdb.detach(self.session.as_mut());
                self.symbols = Arc::new(Symbols::from_elf(&bytes));
                self.guest_symbols = Arc::new(guest_symbols);
                // A new session takes a checkpoint of all RAM: the first estimate of the cost.
                let t = Instant::now();
                self.session = Some(Session::new(m));
                self.checkpoint_cost = t.elapsed().as_secs_f64();
                self.image = path.to_string();
                self.modules = Arc::new(names);
                self.running = false;
                self.pending = false;
                self.serial.clear();
                self.events_cache = view::EventsCache::default();
                self.last_checkpoint = 0;
                self.prev_cpu = None;
                self.error = None;
                self.status = format!("{}: loaded", crate::images::clean_name(path));
                self.sample_icount = 0;
            }
            Err(e) => self.error = Some(format!("{path}: {e}")),
        }
    }

    /// Publishes a view. The parts that grow (serial text, MIPS history, events) are shared
    /// with the previous view unless they changed, so a view running flat out costs a few
    /// small copies.
    fn publish(&mut self) {
        self.take_serial();
        self.seq += 1;
        if *self.serial_shared != self.serial {
            self.serial_shared = Arc::new(self.serial.clone());
        }
        if self.history_shared.len() != self.mips_history.len()
            || self.history_shared.last() != self.mips_history.last()
        {
            self.history_shared = Arc::new(self.mips_history.clone());
        }
        let guest = self
            .session
            .as_ref()
            .is_some_and(|s| view::guest_code_runs(s, !self.guest_symbols.is_empty()));
        let symbols = if guest && !self.guest_symbols.is_empty() {
            self.guest_symbols.clone()
        } else {
            self.symbols.clone()
        };
        let machine = self.session.as_ref().map(|s| {
            let mut mv = view::MachineView::capture(
                s,
                &self.request,
                self.prev_cpu.as_ref(),
                &symbols,
                &mut self.events_cache,
            );
            mv.capture_os(s, &self.request, &self.symbols, &self.guest_symbols);
            mv.capture_shadow(s, &self.request, &self.symbols);
            mv
        });
        let v = View {
            seq: self.seq,
            image: self.image.clone(),
            modules: self.modules.clone(),
            running: self.running || self.pending || self.gdb_running(),
            status: self.status.clone(),
            pending: (self.pending && !self.pending_what.is_empty()).then_some(self.pending_what),
            gdb: self.gdb.describe(),
            error: self.error.clone(),
            serial: self.serial_shared.clone(),
            mips: self.mips,
            mips_history: self.history_shared.clone(),
            speed: self.speed,
            symbols,
            host_symbols: self.symbols.clone(),
            guest_symbols: self.guest_symbols.clone(),
            machine,
        };
        if let Ok(mut g) = self.out.lock() {
            *g = Arc::new(v);
        }
        (self.repaint)();
    }
}

/// Used by benches: is the guest still runnable?
pub fn runnable(r: RunExit) -> bool {
    matches!(r, RunExit::Budget | RunExit::Breakpoint(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rel: &str) -> Vec<u8> {
        std::fs::read(crate::app::sample_path(rel)).unwrap()
    }

    /// Waits (up to 60 s) for a view that satisfies `cond`.
    fn wait_view(w: &Worker, what: &str, cond: impl Fn(&View) -> bool) -> Arc<View> {
        let t0 = Instant::now();
        loop {
            let v = w.view();
            if cond(&v) {
                return v;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "timed out: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn icount(v: &View) -> u64 {
        v.machine.as_ref().map_or(0, |m| m.icount)
    }

    #[test]
    fn after_a_flat_out_run_step_back_lands_one_instruction_earlier() {
        // Flat out, this thread takes the checkpoints itself (paced by their cost); a step
        // back after pausing must still replay to exactly one instruction before.
        let path = crate::app::sample_path("samples/bench/intloop.elf");
        let w = Worker::start_with(Some(&path), "iters=1000000000", Box::new(|| {}));
        wait_view(&w, "loaded", |v| v.machine.is_some());
        w.send(Command::Run);
        wait_view(&w, "ran 100M instructions", |v| icount(v) > 100_000_000);
        w.send(Command::Pause);
        let paused = wait_view(&w, "paused", |v| !v.running && v.seq > 0);
        let n = icount(&paused);
        let seq = paused.seq;
        w.send(Command::StepBack);
        let back = wait_view(&w, "stepped back", |v| v.seq > seq && icount(v) != n);
        assert_eq!(icount(&back), n - 1);
        assert!(
            back.machine.as_ref().unwrap().oldest < n / 2,
            "checkpoints from early in the run are kept"
        );
    }

    #[test]
    fn the_embedded_minios_loads_under_its_clean_name() {
        let w = Worker::start_with(Some(crate::images::BUILTIN_MINIOS), "", Box::new(|| {}));
        let v = wait_view(&w, "loaded", |v| v.machine.is_some());
        assert_eq!(v.status, "minios: loaded");
        assert_eq!(v.image, crate::images::BUILTIN_MINIOS);
        assert!(v.symbols.address_of("_end").is_some(), "minios's symbols");
        // A file path shows by its name too, not its directory.
        w.send(Command::Load(crate::app::sample_path(
            "samples/hello/hello.elf",
        )));
        let v = wait_view(&w, "hello", |v| v.status.starts_with("hello"));
        assert_eq!(v.status, "hello: loaded");
    }

    #[test]
    fn the_boot_command_line_reaches_the_guest() {
        let path = crate::app::sample_path("samples/bench/intloop.elf");
        let w = Worker::start_with(Some(&path), "iters=1000", Box::new(|| {}));
        wait_view(&w, "loaded", |v| v.machine.is_some());
        w.send(Command::Run);
        let v = wait_view(&w, "guest exit", |v| v.serial.contains("iters="));
        let v = wait_view(&w, "stopped", |x| !x.running && x.seq >= v.seq);
        assert!(v.serial.contains("iters=1000"), "serial: {}", v.serial);
    }

    #[test]
    fn loads_kernels_disks_and_snapshots_and_rejects_junk() {
        let m = load_bytes(&sample("samples/hello/hello.elf")).unwrap();
        assert!(
            m.inspect().mode().protection_enabled(),
            "multiboot starts in protected mode"
        );
        let m = load_bytes(&sample("samples/bootsector/bootsector.img")).unwrap();
        assert!(
            !m.inspect().mode().protection_enabled(),
            "a boot sector starts in real mode"
        );
        assert_eq!(m.pc(), 0x7C00);
        let snap = traplab::snapshot::save(&m);
        assert_eq!(load_bytes(&snap).unwrap().pc(), 0x7C00);
        assert!(load_bytes(b"hello, I am not a kernel").is_err());
        // The same detector as the CLI: a ROM image boots at the reset vector.
        let rom = load_bytes(&traplab::boot::rom::builtin()).unwrap();
        assert_eq!(rom.pc(), 0xFFFF_FFF0);
        let e = load_bytes(&[0x55; 700]).err().unwrap();
        assert_eq!(e, traplab::boot::DetectError::Unknown.to_string());
        assert!(
            load_bytes(&snap[..snap.len() / 2]).is_err(),
            "truncated snapshot"
        );
    }
}
