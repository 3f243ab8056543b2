//! `traplab compare`: the same minios workloads natively, in a container and in each
//! virtual machine, as a table (or `--csv`, `--json`). The matrix and its measurement are
//! the core's (`traplab::compare`); this file reads the images, runs the cells on a few
//! threads with a progress bar on stderr (when stderr is a terminal), and renders.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use traplab::compare::{
    self, Cell, Images, Matrix, Options, Setting, Sizes, Workload, SETTINGS, WORKLOADS,
};
use traplab::inspect::Costs;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Folder holding the sample guests (minios/minios.elf, tevmm/tevmm.elf, ...).
    #[arg(long, default_value = "samples")]
    pub samples: PathBuf,
    /// Rows to run, comma-separated (default: all): native, container, docker, tevmm, tevmm-pv, hv1, hv2.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub settings: Vec<String>,
    /// Columns to run, comma-separated (default: all): cpu, sys, pf, io, start.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub workloads: Vec<String>,
    /// A quarter of the work per workload (quick look; the tests use it).
    #[arg(long)]
    pub reduced: bool,
    /// A cost of the cost model, in virtual nanoseconds (repeatable): vmrun, vmexit, nested_ref.
    #[arg(long = "cost", value_name = "NAME=NS")]
    pub costs: Vec<String>,
    /// Comma-separated values, one line per cell.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// JSON: every figure of every cell.
    #[arg(long)]
    pub json: bool,
    /// Threads (default: the host's cores); the numbers do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

pub fn main(a: CompareArgs) -> Result<u8> {
    let settings = pick(&a.settings, "--settings", compare::setting, || {
        SETTINGS.iter().collect()
    })?;
    let workloads = pick(&a.workloads, "--workloads", Workload::from_id, || {
        WORKLOADS.to_vec()
    })?;
    let mut costs = Costs::default();
    for c in &a.costs {
        costs.assign(c).map_err(anyhow::Error::msg)?;
    }
    let opts = Options {
        sizes: if a.reduced {
            Sizes::REDUCED
        } else {
            Sizes::FULL
        },
        costs,
        ..Options::default()
    };
    let images = read_images(&a.samples, &settings)?;
    let jobs = a
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    let m = run(&settings, &workloads, &images, &opts, jobs);
    let out = if a.json {
        serde_json::to_string_pretty(&m)? + "\n"
    } else if a.csv {
        csv(&m)
    } else {
        table(&m)
    };
    std::io::stdout().write_all(out.as_bytes())?;
    if std::io::stderr().is_terminal() {
        eprintln!(
            "{} cells in {:.1} s of wall time",
            m.cells.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}

/// The settings or workloads named in `ids` (all when empty), or one clear error.
fn pick<T: Clone + PartialEq>(
    ids: &[String],
    flag: &str,
    find: impl Fn(&str) -> Option<T>,
    all: impl Fn() -> Vec<T>,
) -> Result<Vec<T>> {
    if ids.is_empty() {
        return Ok(all());
    }
    let mut v = Vec::new();
    for id in ids {
        match find(id.trim()) {
            Some(x) if !v.contains(&x) => v.push(x),
            Some(_) => bail!("{flag}: `{id}` is named twice"),
            None => bail!(
                "{flag}: unknown name `{id}` (known: {})",
                if flag == "--settings" {
                    SETTINGS.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
                } else {
                    WORKLOADS
                        .iter()
                        .map(|w| w.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        }
    }
    Ok(v)
}

/// The images the chosen settings need that exist under `dir` (a missing one makes its
/// setting "not available"; a missing folder is an error).
fn read_images(dir: &std::path::Path, settings: &[&'static Setting]) -> Result<Images> {
    if !dir.is_dir() {
        bail!(
            "--samples {}: not a folder (it should hold minios/minios.elf...)",
            dir.display()
        );
    }
    let mut images = Images::new();
    for s in settings {
        for n in s.needs {
            let p = dir.join(n);
            if images.contains_key(*n) || !p.exists() {
                continue;
            }
            let data = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            images.insert(n.to_string(), data);
        }
    }
    Ok(images)
}

/// Runs the cells on `jobs` threads, drawing a progress bar when stderr is a terminal.
fn run(
    settings: &[&'static Setting],
    workloads: &[Workload],
    images: &Images,
    opts: &Options,
    jobs: usize,
) -> Matrix {
    let cells = compare::plan(settings, workloads);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bar = Mutex::new(Bar::new(cells.len()));
    let results = Mutex::new(Vec::<Cell>::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, cells.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(si, wi)) = cells.get(k) else { break };
                let (setting, w) = (settings[si], workloads[wi]);
                let mut tick = |_n: u64| {
                    if let Ok(mut b) = bar.lock() {
                        b.draw(done.load(Ordering::Relaxed), setting.id, w.id());
                    }
                };
                let cell = compare::run_cell(setting, w, images, opts, &mut tick);
                done.fetch_add(1, Ordering::Relaxed);
                tick(0);
                if let Ok(mut r) = results.lock() {
                    r.push(cell);
                }
            });
        }
    });
    if let Ok(mut b) = bar.lock() {
        b.finish();
    }
    let cells = results.into_inner().unwrap_or_default();
    compare::assemble(settings, workloads, opts, cells)
}

/// A plain progress bar on stderr, drawn only when stderr is a terminal.
struct Bar {
    total: usize,
    on: bool,
    spin: usize,
}

impl Bar {
    fn new(total: usize) -> Bar {
        Bar {
            total,
            on: std::io::stderr().is_terminal(),
            spin: 0,
        }
    }

    fn draw(&mut self, done: usize, setting: &str, workload: &str) {
        if !self.on {
            return;
        }
        self.spin = (self.spin + 1) % 4;
        let width = 30;
        let full = done * width / self.total.max(1);
        eprint!(
            "\r[{}{}] {done}/{} {} {setting} / {workload}          ",
            "#".repeat(full),
            "-".repeat(width - full),
            self.total,
            ["|", "/", "-", "\\"][self.spin]
        );
    }

    fn finish(&mut self) {
        if self.on {
            eprint!("\r{:78}\r", "");
        }
    }
}

/// Virtual time, in the unit that fits.
fn time(ns: u64) -> String {
    let n = ns as f64;
    if n >= 1e9 {
        format!("{:.3} s", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.3} ms", n / 1e6)
    } else {
        format!("{:.1} us", n / 1e3)
    }
}

fn about(id: &str) -> &'static str {
    compare::setting(id).map_or("?", |s| s.about)
}

/// What a cell that did not run says, shortened for a table cell.
fn why(e: &str) -> String {
    if e.starts_with("not available") {
        "n/a".into()
    } else {
        "failed".into()
    }
}

/// One sub-table: a row per setting, a column per workload, `f` formats a cell.
fn grid(out: &mut String, m: &Matrix, heading: &str, f: impl Fn(&Matrix, &Cell) -> String) {
    out.push_str(&format!("\n{heading}\n"));
    let w = 16;
    out.push_str(&format!("{:<12}", "setting"));
    for wl in &m.workloads {
        out.push_str(&format!("{:>w$}", wl.title()));
    }
    out.push('\n');
    for s in &m.settings {
        out.push_str(&format!("{s:<12}"));
        for wl in &m.workloads {
            let text = match m.cell(s, *wl) {
                Some(c) => match &c.result {
                    Ok(_) => f(m, c),
                    Err(e) => why(e),
                },
                None => "-".into(),
            };
            out.push_str(&format!("{text:>w$}"));
        }
        out.push('\n');
    }
}

/// The headline table: virtual time and ratio to native per workload, and the memory
/// footprint (from the start-up run) as the last column.
fn main_grid(out: &mut String, m: &Matrix) {
    out.push_str("\nvirtual time of the work and its ratio to native (start-up: command to first instruction)\n");
    let w = 19;
    out.push_str(&format!("{:<12}", "setting"));
    for wl in &m.workloads {
        out.push_str(&format!("{:>w$}", wl.title()));
    }
    let start = m.workloads.contains(&Workload::Start);
    if start {
        out.push_str(&format!("{:>w$}", "memory (frames)"));
    }
    out.push('\n');
    for s in &m.settings {
        out.push_str(&format!("{s:<12}"));
        for wl in &m.workloads {
            let text = match m.cell(s, *wl).map(|c| &c.result) {
                Some(Ok(f)) => format!(
                    "{} {}",
                    time(f.headline_ns(*wl)),
                    m.ratio(s, *wl)
                        .map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
                ),
                Some(Err(e)) => why(e),
                None => "-".into(),
            };
            out.push_str(&format!("{text:>w$}"));
        }
        if start {
            let text = match m.cell(s, Workload::Start).map(|c| &c.result) {
                Some(Ok(f)) => f.frames.to_string(),
                Some(Err(e)) => why(e),
                None => "-".into(),
            };
            out.push_str(&format!("{text:>w$}"));
        }
        out.push('\n');
    }
}

/// The text table.
pub fn table(m: &Matrix) -> String {
    let mut out = String::new();
    let s = &m.sizes;
    out.push_str(&format!(
        "traplab compare: {} settings x {} workloads; cost model: vmrun {} ns, vmexit {} ns, \
         nested_ref {} ns\n",
        m.settings.len(),
        m.workloads.len(),
        m.costs.vmrun,
        m.costs.vmexit,
        m.costs.nested_ref
    ));
    out.push_str("settings:\n");
    for id in &m.settings {
        out.push_str(&format!("  {id:<13} {}\n", about(id)));
    }
    out.push_str("workloads (minios /bin/work, between its BEGIN and END markers):\n");
    for w in &m.workloads {
        out.push_str(&format!("  {:<13} {}\n", w.title(), w.about(s)));
    }
    main_grid(&mut out, m);
    grid(
        &mut out,
        m,
        "instructions retired, all worlds (start-up: from the command, or power-on, to the first instruction)",
        |_, c| {
            let f = c.result.as_ref().unwrap();
            if c.workload == Workload::Start {
                f.startup_instructions.to_string()
            } else {
                f.instructions.to_string()
            }
        },
    );
    if m.workloads.contains(&Workload::Start) {
        out.push_str(
            "\nfrom power-on to the first instruction of `work start` (every boot, the prompt, the command)\n",
        );
        out.push_str(&format!(
            "{:<12}{:>16}{:>16}\n",
            "setting", "virtual time", "instructions"
        ));
        for s in &m.settings {
            let (t, n) = match m.cell(s, Workload::Start).map(|c| &c.result) {
                Some(Ok(f)) => (time(f.boot_ns), f.boot_instructions.to_string()),
                Some(Err(e)) => (why(e), why(e)),
                None => ("-".into(), "-".into()),
            };
            out.push_str(&format!("{s:<12}{t:>16}{n:>16}\n"));
        }
    }
    grid(
        &mut out,
        m,
        "exits (traps into a monitor, #VMEXITs) per 1000 instructions",
        |_, c| {
            let f = c.result.as_ref().unwrap();
            if c.workload == Workload::Start {
                "-".into()
            } else {
                format!("{:.3}", f.exits_per_k())
            }
        },
    );

    grid(
        &mut out,
        m,
        "exits per 1000 guest instructions (SVM guests: instructions in the guest's world; tevmm: its guest's share in tevmm's ledger)",
        |_, c| {
            let f = c.result.as_ref().unwrap();
            match f.exits_per_k_guest() {
                Some(k) if c.workload != Workload::Start => format!("{k:.3}"),
                _ => "-".into(),
            }
        },
    );

    out.push_str("\nexits by cause (the three most frequent, per 1000 instructions)\n");
    for c in &m.cells {
        let Ok(f) = &c.result else { continue };
        if f.exits.is_empty() || c.workload == Workload::Start {
            continue;
        }
        let top: Vec<String> = f
            .exits
            .iter()
            .take(3)
            .map(|x| {
                format!(
                    "{} {:.3}",
                    x.name,
                    x.count as f64 * 1000.0 / f.instructions.max(1) as f64
                )
            })
            .collect();
        out.push_str(&format!(
            "  {:<10} {:<6} {}\n",
            c.setting,
            c.workload.id(),
            top.join(", ")
        ));
    }

    out.push_str("\ninstructions by world (kernel = CPL 0-2, user = CPL 3), percent of the work\n");
    for c in &m.cells {
        let Ok(f) = &c.result else { continue };
        if c.workload == Workload::Start {
            continue;
        }
        let total = f.instructions.max(1) as f64;
        let parts: Vec<String> = f
            .worlds
            .iter()
            .map(|w| {
                format!(
                    "{} kernel {:.1}% user {:.1}%",
                    w.world,
                    w.kernel as f64 * 100.0 / total,
                    w.user as f64 * 100.0 / total
                )
            })
            .collect();
        out.push_str(&format!(
            "  {:<10} {:<6} {}\n",
            c.setting,
            c.workload.id(),
            parts.join("; ")
        ));
    }

    let missing: Vec<&Cell> = m.cells.iter().filter(|c| c.result.is_err()).collect();
    if !missing.is_empty() {
        out.push_str("\nnot measured\n");
        let mut seen = Vec::new();
        for c in missing {
            let e = c.result.as_ref().unwrap_err();
            if e.starts_with("not available") {
                if seen.contains(&c.setting) {
                    continue;
                }
                seen.push(c.setting);
                out.push_str(&format!("  {}: {e}\n", c.setting));
            } else {
                out.push_str(&format!("  {} {}: {e}\n", c.setting, c.workload.id()));
            }
        }
    }
    out
}

/// One line per cell.
pub fn csv(m: &Matrix) -> String {
    let mut out = String::from(
        "setting,workload,command,status,time_ns,ratio_to_native,instructions,startup_ns,\
         frames,exits,exits_per_1000,exit_causes,worlds,charged_ns\n",
    );
    for c in &m.cells {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        match &c.result {
            Ok(f) => {
                let causes: Vec<String> = f
                    .exits
                    .iter()
                    .map(|x| format!("{}={}", x.name, x.count))
                    .collect();
                let worlds: Vec<String> = f
                    .worlds
                    .iter()
                    .map(|w| format!("{}:kernel={}:user={}", w.world, w.kernel, w.user))
                    .collect();
                out.push_str(&format!(
                    "{},{},{},ok,{},{},{},{},{},{},{:.3},{},{},{}\n",
                    c.setting,
                    c.workload.id(),
                    q(&c.command),
                    f.headline_ns(c.workload),
                    m.ratio(c.setting, c.workload)
                        .map_or(String::new(), |r| format!("{r:.4}")),
                    f.instructions,
                    f.startup_ns,
                    f.frames,
                    f.exit_total,
                    f.exits_per_k(),
                    q(&causes.join(";")),
                    q(&worlds.join(";")),
                    f.charged_ns
                ));
            }
            Err(e) => out.push_str(&format!(
                "{},{},{},{},,,,,,,,,,\n",
                c.setting,
                c.workload.id(),
                q(&c.command),
                q(e)
            )),
        }
    }
    out
}
