//! `compare`: the same workloads in every setting (a plain minios process, a container,
//! trap-and-emulate under tevmm, paravirtualized under tevmm, and the SVM hypervisors when
//! their images exist), measured on the emulated machine: the matrix behind `traplab
//! compare` and the GUI's comparison chart.
//!
//! This module owns the list of settings (`settings.rs`: one entry per row, so adding a row
//! is a few lines there), the workloads (minios's `/bin/work`, `samples/minios/user/work.c`),
//! the marker protocol and the measurement of one run (`measure.rs`). It must not read
//! files, print, use threads or the host clock: the front end hands it the images
//! (`Images`), gets back numbers (`Cell`) and a progress callback, and renders them.
//!
//! # How a cell is measured
//! A cell is one workload in one setting: a fresh machine boots the setting's images and
//! gets the command line (`work cpu 40`, ...) on its serial port. minios's `mark()` system
//! call (`SYS_MARK` = 70) writes a marker to port `MARK_PORT` (0xEA; nothing is there on a
//! PC, so real hardware and QEMU ignore it): the shell writes `MARK_COMMAND` when it has
//! read a command line, `work` writes `MARK_BEGIN` as its first system call and `MARK_END`
//! when its work is done. Whatever the layers in between (tevmm emulates the guest's OUT,
//! the paravirtual kernel asks for it by hypercall, a hypervisor passes the port through),
//! the write reaches the machine's port, where a port hook stops the run at that
//! instruction, so the counters are read exactly there. Between BEGIN and END: virtual time,
//! instructions retired (all worlds), instructions by world, exits by cause. Start-up is
//! from the start of the setting's command to BEGIN of `work start`: the shell's command
//! for a process and a container, power-on for a VM that the machine boots (tevmm), the
//! host shell's command for a VM started by a host process (type 2). Memory footprint:
//! the 4 KiB frames of the machine's RAM that hold anything but zeros at that BEGIN (RAM
//! starts zeroed), whoever wrote them: kernel, monitor, shadow or nested tables, guest.
//!
//! Everything is virtual (retired instructions, halted ticks, the cost model's charges),
//! so the numbers are the same on every machine and in every build.

mod measure;
mod settings;

pub use measure::{run_cell, MARK_PORT};
pub use settings::{setting, Plan, Setting, SETTINGS};

use crate::trace::worlds::Costs;
use serde::Serialize;
use std::collections::BTreeMap;

/// One workload: a column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Counting primes by trial division: no system calls.
    Cpu,
    /// getpid() in a loop: kernel entries and exits.
    Sys,
    /// Child processes that map and touch heap pages: page tables built, used, dropped.
    Pf,
    /// Lines to the console (serial port and VGA).
    Io,
    /// Nothing: the time from the command to the program's first instruction, and the
    /// machine's memory in use at that point.
    Start,
}

/// The workloads in table order.
pub const WORKLOADS: [Workload; 5] = [
    Workload::Cpu,
    Workload::Sys,
    Workload::Pf,
    Workload::Io,
    Workload::Start,
];

impl Workload {
    /// The name used on the command line (`--workloads cpu,io`) and in CSV/JSON.
    pub fn id(self) -> &'static str {
        match self {
            Workload::Cpu => "cpu",
            Workload::Sys => "sys",
            Workload::Pf => "pf",
            Workload::Io => "io",
            Workload::Start => "start",
        }
    }

    /// A column title.
    pub fn title(self) -> &'static str {
        match self {
            Workload::Cpu => "CPU-bound",
            Workload::Sys => "system calls",
            Workload::Pf => "page tables",
            Workload::Io => "console I/O",
            Workload::Start => "start-up",
        }
    }

    /// What the workload does, at `sizes`.
    pub fn about(self, sizes: &Sizes) -> String {
        match self {
            Workload::Cpu => format!("primes below {} by trial division", sizes.cpu * 1000),
            Workload::Sys => format!("{} getpid() calls", sizes.sys * 1000),
            Workload::Pf => format!(
                "{} child processes, each mapping 64 heap pages and touching each 4 times",
                sizes.pf
            ),
            Workload::Io => format!("{} lines of 64 characters to the console", sizes.io),
            Workload::Start => "an empty program: command to first instruction".into(),
        }
    }

    /// Parses `id()`.
    pub fn from_id(s: &str) -> Option<Workload> {
        WORKLOADS.into_iter().find(|w| w.id() == s)
    }

    /// The minios command that runs it.
    pub fn command(self, sizes: &Sizes) -> String {
        let n = match self {
            Workload::Cpu => sizes.cpu,
            Workload::Sys => sizes.sys,
            Workload::Pf => sizes.pf,
            Workload::Io => sizes.io,
            Workload::Start => return "work start".into(),
        };
        format!("work {} {n}", self.id())
    }
}

/// How much work each workload does (`work cpu N`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sizes {
    /// Primes below cpu * 1000.
    pub cpu: u32,
    /// sys * 1000 system calls.
    pub sys: u32,
    /// Child processes.
    pub pf: u32,
    /// Console lines.
    pub io: u32,
}

impl Sizes {
    /// The sizes of `traplab compare`: a few million instructions each natively.
    pub const FULL: Sizes = Sizes {
        cpu: 40,
        sys: 20,
        pf: 20,
        io: 60,
    };
    /// A quarter of the work or less, for tests.
    pub const REDUCED: Sizes = Sizes {
        cpu: 10,
        sys: 5,
        pf: 5,
        io: 15,
    };
}

/// The guest images, by their path under `samples/` (`minios/minios.elf`...). The front
/// end reads the files each setting `needs`; a setting whose files are missing is reported
/// as not available.
pub type Images = BTreeMap<String, Vec<u8>>;

/// Options of a matrix run.
#[derive(Clone, Debug)]
pub struct Options {
    pub sizes: Sizes,
    /// The cost model of world switches (`--cost`).
    pub costs: Costs,
    /// Instructions plus ticks halted a cell may take, boot included, before it is
    /// reported as not finishing.
    pub budget: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sizes: Sizes::FULL,
            costs: Costs::default(),
            budget: 600_000_000,
        }
    }
}

/// What counts as an exit in a setting: a transfer of control to a hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitKind {
    /// No hypervisor: nothing exits (kernel entries are not exits).
    None,
    /// A monitor that owns the IDT (tevmm): every exception and interrupt the CPU delivers
    /// is a trap into it.
    Traps,
    /// SVM: every #VMEXIT.
    VmExits,
}

/// A count by cause (an exception or interrupt vector, an SVM exit code), named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub name: String,
    pub count: u64,
}

/// Instructions retired in one world (`trace::worlds`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorldShare {
    /// `host` or `guest N` (by ASID).
    pub world: String,
    pub kernel: u64,
    pub user: u64,
}

/// The measured figures of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Virtual time from BEGIN to END, in nanoseconds.
    pub time_ns: u64,
    /// Instructions retired from BEGIN to END, all worlds together.
    pub instructions: u64,
    /// Virtual time from the start (power-on or the command, `Setting::start_from`) to
    /// BEGIN, in nanoseconds.
    pub startup_ns: u64,
    /// Instructions retired from the start to BEGIN.
    pub startup_instructions: u64,
    /// Virtual time and instructions from power-on to BEGIN: boot (the hypervisor's, the
    /// host's, the guest's), the prompt, the command, the program's start.
    pub boot_ns: u64,
    pub boot_instructions: u64,
    /// RAM frames (4 KiB) holding anything but zeros at BEGIN.
    pub frames: u64,
    /// Exits from BEGIN to END by cause, most frequent first (`ExitKind`).
    pub exits: Vec<Cause>,
    pub exit_total: u64,
    /// Kernel entries (exceptions and interrupts delivered) from BEGIN to END by cause,
    /// whoever handled them.
    pub traps: Vec<Cause>,
    /// Instructions by world from BEGIN to END.
    pub worlds: Vec<WorldShare>,
    /// Virtual time the cost model charged from BEGIN to END (ns).
    pub charged_ns: u64,
    /// Instructions of the whole run up to END (boot included).
    pub run_instructions: u64,
    /// From BEGIN to END, the guest's instructions as a monitor in the guest's machine
    /// counted them and reported at each marker on the monitor ledger port
    /// (`trace::monitor::GUEST_SHARE`: tevmm's "TSC in the guest"); None without one.
    pub monitor_guest_instructions: Option<u64>,
}

impl Figures {
    /// Instructions retired in the guest from BEGIN to END: in SVM guests (worlds `guest
    /// N`), or as tevmm counted them (its guest runs in the host's world at ring 1 and 3,
    /// which the machine does not tell apart from the monitor's ring 0; the monitor's
    /// ledger does: `monitor_guest_instructions`). `None` without a guest (native,
    /// containers).
    pub fn guest_instructions(&self) -> Option<u64> {
        let n: u64 = self
            .worlds
            .iter()
            .filter(|w| w.world.starts_with("guest"))
            .map(|w| w.kernel + w.user)
            .sum();
        if n > 0 {
            return Some(n);
        }
        self.monitor_guest_instructions.filter(|&g| g > 0)
    }

    /// Exits per thousand instructions of the guest (`guest_instructions`).
    pub fn exits_per_k_guest(&self) -> Option<f64> {
        self.guest_instructions()
            .map(|g| self.exit_total as f64 * 1000.0 / g as f64)
    }

    /// Exits per thousand instructions retired (BEGIN to END).
    pub fn exits_per_k(&self) -> f64 {
        if self.instructions == 0 {
            0.0
        } else {
            self.exit_total as f64 * 1000.0 / self.instructions as f64
        }
    }

    /// The figure a workload's column compares: the start-up time for `Start`, the time
    /// of the work for the others.
    pub fn headline_ns(&self, w: Workload) -> u64 {
        if w == Workload::Start {
            self.startup_ns
        } else {
            self.time_ns
        }
    }
}

/// One cell: a workload in a setting, measured or not (with the reason).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub setting: &'static str,
    pub workload: Workload,
    pub command: String,
    pub result: Result<Figures, String>,
}

/// The whole matrix, in table order.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub settings: Vec<&'static str>,
    pub workloads: Vec<Workload>,
    pub sizes: Sizes,
    pub costs: Costs,
    pub cells: Vec<Cell>,
}

impl Matrix {
    pub fn cell(&self, setting: &str, w: Workload) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.setting == setting && c.workload == w)
    }

    /// The measured figures of a cell, if it ran.
    pub fn figures(&self, setting: &str, w: Workload) -> Option<&Figures> {
        self.cell(setting, w).and_then(|c| c.result.as_ref().ok())
    }

    /// A cell's headline figure over the native one for the same workload.
    pub fn ratio(&self, setting: &str, w: Workload) -> Option<f64> {
        let base = self.figures("native", w)?.headline_ns(w);
        let me = self.figures(setting, w)?.headline_ns(w);
        (base > 0).then(|| me as f64 / base as f64)
    }
}

/// Progress of a matrix run, for a progress bar.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Cells finished, and in all.
    pub done: usize,
    pub total: usize,
    /// The cell running now (or the last one, when `done == total`).
    pub setting: &'static str,
    pub workload: Workload,
    /// Instructions the running cell has retired so far.
    pub instructions: u64,
}

/// The cells of a matrix, in table order.
pub fn plan(settings: &[&'static Setting], workloads: &[Workload]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for s in 0..settings.len() {
        for w in 0..workloads.len() {
            v.push((s, w));
        }
    }
    v
}

/// Runs every cell, one after another, calling `progress` now and then (after every slice
/// of a few million instructions and after every cell). A front end that wants to use
/// several threads runs `run_cell` itself on the cells of `plan`.
pub fn run_matrix(
    settings: &[&'static Setting],
    workloads: &[Workload],
    images: &Images,
    opts: &Options,
    progress: &mut dyn FnMut(&Progress),
) -> Matrix {
    let cells = plan(settings, workloads);
    let total = cells.len();
    let mut out = Vec::with_capacity(total);
    for (done, &(s, w)) in cells.iter().enumerate() {
        let (setting, workload) = (settings[s], workloads[w]);
        let mut tick = |instructions| {
            progress(&Progress {
                done,
                total,
                setting: setting.id,
                workload,
                instructions,
            })
        };
        out.push(run_cell(setting, workload, images, opts, &mut tick));
    }
    if let Some(last) = out.last() {
        progress(&Progress {
            done: total,
            total,
            setting: last.setting,
            workload: last.workload,
            instructions: 0,
        });
    }
    assemble(settings, workloads, opts, out)
}

/// A matrix from cells measured in any order (by threads, say): put in table order.
pub fn assemble(
    settings: &[&'static Setting],
    workloads: &[Workload],
    opts: &Options,
    mut cells: Vec<Cell>,
) -> Matrix {
    let pos = |c: &Cell| {
        (
            settings.iter().position(|s| s.id == c.setting),
            workloads.iter().position(|w| *w == c.workload),
        )
    };
    cells.sort_by_key(pos);
    Matrix {
        settings: settings.iter().map(|s| s.id).collect(),
        workloads: workloads.to_vec(),
        sizes: opts.sizes,
        costs: opts.costs,
        cells,
    }
}
