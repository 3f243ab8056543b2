//! The comparison chart: `traplab compare`'s matrix (the same minios workloads natively,
//! in a container and in each VM), run from the GUI on a worker thread of its own and drawn
//! as grouped bars (one group per workload, one bar per setting) with the table under it.
//!
//! Owns the run (a thread that measures the cells one by one with `compare::run_cell`, so
//! it can stop between cells) and its progress; the frames only read a shared snapshot
//! under a short lock, never wait for a cell. It must not touch the machine the other
//! views show: every cell boots its own fresh machine inside the core's `compare` module.

use crate::i18n::{tr, Lang};
use egui::Color32;
use egui_plot::{Bar, BarChart};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use traplab::compare::{self, Images, Matrix, Options, Setting, Sizes, Workload, SETTINGS};

/// What the bars measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The headline time (work, or start-up) over native's for the same workload.
    Ratio,
    /// Exits (or traps into the monitor) per thousand instructions.
    ExitsPerK,
}

/// Where a run is: cells done, the one running, its instructions so far.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub setting: &'static str,
    pub workload: &'static str,
    pub instructions: u64,
}

/// A run in progress, shared with its thread.
pub struct Job {
    pub progress: Mutex<Progress>,
    pub result: Mutex<Option<Matrix>>,
    pub stop: AtomicBool,
    pub finished: AtomicBool,
}

pub struct State {
    /// Quarter-size workloads (a few seconds in all: for a demo).
    pub reduced: bool,
    pub metric: Metric,
    /// Bars on a log10 scale (start-up differs by orders of magnitude).
    pub log: bool,
    pub job: Option<Arc<Job>>,
    /// The last matrix that finished.
    pub matrix: Option<Arc<Matrix>>,
    /// Start a run at the next frame (a lesson asks for it).
    pub requested: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            reduced: true,
            metric: Metric::Ratio,
            log: true,
            job: None,
            matrix: None,
            requested: false,
        }
    }
}

impl State {
    pub fn running(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| !j.finished.load(Ordering::Acquire))
    }

    /// Starts a run of every setting and workload on a new thread; `wake` is called when
    /// there is something new to draw.
    pub fn start(&mut self, wake: impl Fn() + Send + 'static) {
        if self.running() {
            return;
        }
        let settings: Vec<&'static Setting> = SETTINGS.iter().collect();
        let images = read_images(&settings);
        let opts = Options {
            sizes: if self.reduced {
                Sizes::REDUCED
            } else {
                Sizes::FULL
            },
            ..Options::default()
        };
        let job = Arc::new(Job {
            progress: Mutex::new(Progress::default()),
            result: Mutex::new(None),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        });
        self.job = Some(job.clone());
        let spawned = std::thread::Builder::new()
            .name("compare".into())
            .spawn(move || run(&job, &settings, &images, &opts, &wake));
        if spawned.is_err() {
            self.job = None;
        }
    }

    /// Asks a run to stop after the cell it is measuring.
    pub fn stop(&self) {
        if let Some(j) = &self.job {
            j.stop.store(true, Ordering::Release);
        }
    }

    /// Takes a finished run's matrix.
    fn collect(&mut self) {
        let Some(job) = &self.job else { return };
        if !job.finished.load(Ordering::Acquire) {
            return;
        }
        if let Some(m) = job.result.lock().ok().and_then(|mut r| r.take()) {
            self.matrix = Some(Arc::new(m));
        }
        self.job = None;
    }
}

/// The images the settings need, from the samples folder (a missing one makes its setting
/// "not available", as on the command line).
fn read_images(settings: &[&'static Setting]) -> Images {
    let mut images = Images::new();
    for s in settings {
        for n in s.needs {
            if images.contains_key(*n) {
                continue;
            }
            let p = crate::app::sample_path(&format!("samples/{n}"));
            if let Ok(data) = crate::images::read(&p) {
                images.insert(n.to_string(), data);
            }
        }
    }
    images
}

fn run(job: &Job, settings: &[&'static Setting], images: &Images, opts: &Options, wake: &dyn Fn()) {
    let workloads = compare::WORKLOADS;
    let plan = compare::plan(settings, &workloads);
    let total = plan.len();
    let mut cells = Vec::with_capacity(total);
    for (done, &(si, wi)) in plan.iter().enumerate() {
        if job.stop.load(Ordering::Acquire) {
            break;
        }
        let (s, w) = (settings[si], workloads[wi]);
        let mut last = 0u64;
        let mut tick = |n: u64| {
            if let Ok(mut p) = job.progress.lock() {
                *p = Progress {
                    done,
                    total,
                    setting: s.id,
                    workload: w.id(),
                    instructions: n,
                };
            }
            // A repaint every few million instructions is plenty for a progress bar.
            if n == 0 || n >= last + 4_000_000 {
                last = n;
                wake();
            }
        };
        tick(0);
        cells.push(compare::run_cell(s, w, images, opts, &mut tick));
    }
    let stopped = cells.len() < total;
    if let Ok(mut p) = job.progress.lock() {
        p.done = cells.len();
    }
    if !stopped {
        if let Ok(mut r) = job.result.lock() {
            *r = Some(compare::assemble(settings, &workloads, opts, cells));
        }
    }
    job.finished.store(true, Ordering::Release);
    wake();
}

/// The colour of a setting's bars.
fn colour(i: usize) -> Color32 {
    const C: [Color32; 6] = [
        Color32::from_rgb(90, 170, 90),
        Color32::from_rgb(120, 200, 220),
        Color32::from_rgb(230, 160, 60),
        Color32::from_rgb(220, 200, 80),
        Color32::from_rgb(200, 90, 90),
        Color32::from_rgb(170, 110, 220),
    ];
    C[i % C.len()]
}

/// A workload's column title.
pub fn workload_title(lang: Lang, w: Workload) -> &'static str {
    tr(
        lang,
        match w {
            Workload::Cpu => "cmp_cpu",
            Workload::Sys => "cmp_sys",
            Workload::Pf => "cmp_pf",
            Workload::Io => "cmp_io",
            Workload::Start => "cmp_start",
        },
    )
}

/// The figure a bar shows for one cell (None: not measured).
pub fn figure(m: &Matrix, setting: &str, w: Workload, metric: Metric) -> Option<f64> {
    match metric {
        Metric::Ratio => m.ratio(setting, w),
        Metric::ExitsPerK => m.figures(setting, w).map(|f| f.exits_per_k()),
    }
}

pub fn ui(ui: &mut egui::Ui, st: &mut State, lang: Lang) {
    st.collect();
    if std::mem::take(&mut st.requested) {
        let ctx = ui.ctx().clone();
        st.start(move || ctx.request_repaint());
    }
    ui.horizontal_wrapped(|ui| {
        if st.running() {
            if ui.button(tr(lang, "cmp_stop")).clicked() {
                st.stop();
            }
        } else if ui.button(tr(lang, "cmp_run")).clicked() {
            let ctx = ui.ctx().clone();
            st.start(move || ctx.request_repaint());
        }
        ui.add_enabled(
            !st.running(),
            egui::Checkbox::new(&mut st.reduced, tr(lang, "cmp_reduced")),
        );
        ui.separator();
        ui.selectable_value(&mut st.metric, Metric::Ratio, tr(lang, "cmp_ratio"));
        ui.selectable_value(&mut st.metric, Metric::ExitsPerK, tr(lang, "cmp_exits"));
        ui.checkbox(&mut st.log, tr(lang, "cmp_log"));
    });
    if let Some(job) = &st.job {
        let p = job.progress.lock().map(|p| p.clone()).unwrap_or_default();
        let frac = if p.total == 0 {
            0.0
        } else {
            p.done as f32 / p.total as f32
        };
        let text = format!(
            "{} {}/{}: {} · {} ({:.1} M)",
            tr(lang, "cmp_running"),
            p.done,
            p.total,
            p.setting,
            p.workload,
            p.instructions as f64 / 1e6
        );
        ui.add(egui::ProgressBar::new(frac).text(text));
    }
    let Some(m) = st.matrix.clone() else {
        ui.label(tr(lang, "cmp_none"));
        return;
    };
    ui.label(format!(
        "{} cpu {} · sys {} · pf {} · io {}",
        tr(lang, "cmp_sizes"),
        m.sizes.cpu,
        m.sizes.sys,
        m.sizes.pf,
        m.sizes.io
    ));
    chart(ui, st, &m, lang);
    table(ui, st, &m, lang);
}

fn chart(ui: &mut egui::Ui, st: &State, m: &Matrix, lang: Lang) {
    let names: Vec<String> = m
        .workloads
        .iter()
        .map(|w| workload_title(lang, *w).to_string())
        .collect();
    let log = st.log;
    super::category_plot("compare-chart", 260.0, names)
        .y_axis_formatter(move |mark, _| {
            if log {
                format!("{}", 10f64.powf(mark.value))
            } else {
                format!("{}", mark.value)
            }
        })
        .show(ui, |pui| {
            for (k, s) in m.settings.iter().enumerate() {
                let bars: Vec<Bar> = m
                    .workloads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, w)| {
                        let v = figure(m, s, *w, st.metric)?;
                        let h = if log { v.max(1e-3).log10() } else { v };
                        let (x, width) = super::group_bar(i, k, m.settings.len());
                        Some(
                            Bar::new(x, h)
                                .width(width)
                                .fill(colour(k))
                                .name(format!("{s} {}: {v:.2}", w.id())),
                        )
                    })
                    .collect();
                pui.bar_chart(BarChart::new(*s, bars).color(colour(k)));
            }
        });
}

/// Rows: settings; columns: workloads; a cell shows the metric, or why it was not measured.
fn table(ui: &mut egui::Ui, st: &State, m: &Matrix, lang: Lang) {
    egui::Grid::new("compare-table")
        .striped(true)
        .spacing([14.0, 2.0])
        .show(ui, |ui| {
            ui.strong(tr(lang, "cmp_setting"));
            for w in &m.workloads {
                ui.strong(workload_title(lang, *w));
            }
            ui.end_row();
            for s in &m.settings {
                ui.label(*s);
                for w in &m.workloads {
                    let cell = m.cell(s, *w);
                    match (figure(m, s, *w, st.metric), cell.map(|c| &c.result)) {
                        (Some(v), _) => match st.metric {
                            Metric::Ratio => ui.monospace(format!("{v:.2}x")),
                            Metric::ExitsPerK => ui.monospace(format!("{v:.3}")),
                        },
                        (None, Some(Err(why))) => ui
                            .label(egui::RichText::new("—").weak())
                            .on_hover_text(why.as_str()),
                        _ => ui.label("—"),
                    };
                }
                ui.end_row();
            }
        });
    for s in &m.settings {
        if let Some(Err(why)) = m.cell(s, Workload::Cpu).map(|c| &c.result) {
            ui.label(egui::RichText::new(format!("{s}: {why}")).weak());
        }
    }
}
