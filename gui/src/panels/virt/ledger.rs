//! Exit ledger: what the machine's ledger counted (VMRUNs, exits by code, instructions
//! by world, the virtual time the cost model charged: `LedgerState`, exact since boot),
//! and, per VM and cause, the exits or traps of the kept events with the time each cost:
//! the charged #VMEXIT and VMRUN plus the instructions the hypervisor ran before the guest
//! resumed (one instruction = 10 ns of virtual time). As a table and a live bar chart
//! (egui_plot). For a trap-and-emulate monitor (no SVM) the causes are the traps into
//! ring 0 from the deprivileged guest, counted by vector in `Counters`; beside them, the
//! monitor's own ledger (why each trap happened: the instruction it emulated, a hidden or a
//! true guest page fault, a hypercall), as tevmm reported it on the monitor ledger port
//! (`traplab::trace::monitor`): the same numbers tevmm prints at exit.

use super::model::{Cause, Entry, Timeline};
use super::timeline::cause_colour;
use crate::i18n::{tr, Lang};
use crate::panels::mono;
use crate::view::{MachineView, View};
use egui::RichText;
use egui_plot::{Bar, BarChart};
use std::collections::BTreeMap;
use traplab::inspect::World;

/// Virtual nanoseconds per retired instruction (one tick).
pub const TICK_NS: u64 = 10;

pub struct State {
    /// Bars show virtual time (else counts).
    pub chart_time: bool,
}

impl Default for State {
    fn default() -> Self {
        State { chart_time: true }
    }
}

/// One row of the table: a cause in one VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub cause: String,
    pub vm: u32,
    pub count: u64,
    /// Instructions the host ran handling them (those that resumed).
    pub handler: u64,
    pub resumed: u64,
    /// Virtual time in ns: charged exit/entry costs and handler instructions.
    pub time_ns: u64,
    /// The exit code or vector (for the all-time count).
    pub code: Option<u64>,
    pub colour: egui::Color32,
}

/// Sums the entries of the window by (cause, VM), costliest first.
pub fn rows(entries: &[Entry], m: &MachineView) -> Vec<Row> {
    let costs = m.ledger.costs;
    let mut by: BTreeMap<(String, u32), Row> = BTreeMap::new();
    for e in entries {
        let svm = matches!(e.cause, Cause::Exit { .. });
        let r = by.entry((e.cause.key(), e.vm)).or_insert_with(|| Row {
            cause: e.cause.key(),
            vm: e.vm,
            count: 0,
            handler: 0,
            resumed: 0,
            time_ns: 0,
            code: match e.cause {
                Cause::Exit { code, .. } => Some(code),
                Cause::Trap { vector, .. } | Cause::SoftInt { vector } | Cause::Irq { vector } => {
                    Some(vector as u64)
                }
                Cause::PageFault { .. } => Some(14),
                _ => None,
            },
            colour: cause_colour(&e.cause),
        });
        r.count += 1;
        if svm {
            r.time_ns += costs.vmexit;
        }
        if let Some(h) = e.handler {
            r.handler += h;
            r.resumed += 1;
            r.time_ns += h * TICK_NS + if svm { costs.vmrun } else { 0 };
        }
    }
    let mut v: Vec<Row> = by.into_values().collect();
    v.sort_by(|a, b| b.time_ns.cmp(&a.time_ns).then(a.cause.cmp(&b.cause)));
    v
}

fn vm_name(lang: Lang, vm: u32, svm: bool) -> String {
    if svm {
        format!("{} {vm}", tr(lang, "lane_guest"))
    } else {
        tr(lang, "vm_deprivileged").to_string()
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

/// The all-time count of a row's cause, from the core's counters.
fn all_time(r: &Row, m: &MachineView, svm: bool) -> Option<u64> {
    let code = r.code?;
    if svm {
        return m
            .ledger
            .exits
            .iter()
            .find(|x| x.code == code)
            .map(|x| x.count);
    }
    if r.cause.starts_with("IRQ") || r.cause.starts_with("int") || r.cause.starts_with("hyper") {
        m.counters.interrupts.get(code as usize).copied()
    } else {
        m.counters.exceptions.get(code as usize).copied()
    }
}

pub fn ui(ui: &mut egui::Ui, st: &mut State, t: &Timeline, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        return;
    };
    let l = &m.ledger;
    let svm = l.svm_used;
    // What the core counted since boot.
    ui.label(
        RichText::new(format!(
            "{}: VMRUN {}  |  #VMEXIT {}  |  {} {} µs (VMRUN {} + #VMEXIT {} + {} {})",
            tr(lang, "ledger_core"),
            l.vmruns,
            l.exit_total,
            tr(lang, "charged"),
            us(l.charged.total()),
            us(l.charged.vmrun),
            us(l.charged.vmexit),
            tr(lang, "nested_walks"),
            us(l.charged.nested_ref),
        ))
        .strong(),
    );
    ui.horizontal_wrapped(|ui| {
        for w in &l.retired {
            let name = match w.world {
                World::Host => tr(lang, "world_host").to_string(),
                World::Guest { asid } => format!("{} {asid}", tr(lang, "lane_guest")),
            };
            ui.label(mono(format!(
                "{name}: {} {} + {} {}",
                w.kernel,
                tr(lang, "world_kernel"),
                w.user,
                tr(lang, "world_user")
            )));
            ui.separator();
        }
        ui.label(mono(format!(
            "{}: {} ({} refs)",
            tr(lang, "nested_walks"),
            m.mmu.nested.walks,
            m.mmu.nested.refs
        )));
    });
    if !m.monitor.is_empty() {
        monitor_ui(ui, m, lang);
        ui.separator();
    }
    let entries = t.entries();
    if entries.is_empty() {
        ui.label(tr(lang, "no_exits"));
        return;
    }
    let rows = rows(&entries, m);
    let window: u64 = rows.iter().map(|r| r.count).sum();
    let complete = svm && window == l.exit_total;
    ui.label(
        RichText::new(format!(
            "{} {window} ({} {} .. {}){}",
            tr(lang, "ledger_window"),
            tr(lang, "instructions"),
            t.start,
            t.now,
            if complete {
                format!(" = {}", tr(lang, "ledger_all"))
            } else {
                String::new()
            }
        ))
        .small(),
    );
    ui.horizontal(|ui| {
        ui.label(tr(lang, "bars"));
        ui.radio_value(&mut st.chart_time, true, tr(lang, "virtual_time_us"));
        ui.radio_value(&mut st.chart_time, false, tr(lang, "count"));
    });
    let total_ns: u64 = rows.iter().map(|r| r.time_ns).sum::<u64>().max(1);
    ui.horizontal_top(|ui| {
        let w = ui.available_width();
        ui.vertical(|ui| {
            ui.set_width((w * 0.55).max(300.0));
            egui::ScrollArea::vertical()
                .id_salt("ledger-rows")
                .max_height(260.0)
                .show(ui, |ui| {
                    egui::Grid::new("ledger-grid")
                        .striped(true)
                        .num_columns(7)
                        .show(ui, |ui| {
                            for h in [
                                "cause",
                                "vm",
                                "count",
                                "count_all",
                                "handler_mean",
                                "virtual_time_us",
                                "share",
                            ] {
                                ui.label(RichText::new(tr(lang, h)).small().strong());
                            }
                            ui.end_row();
                            for r in &rows {
                                ui.label(mono(&r.cause).color(r.colour));
                                ui.label(mono(vm_name(lang, r.vm, svm)));
                                ui.label(mono(r.count.to_string()));
                                ui.label(mono(
                                    all_time(r, m, svm).map_or("-".into(), |n| n.to_string()),
                                ));
                                ui.label(mono(
                                    r.handler
                                        .checked_div(r.resumed)
                                        .map_or("-".into(), |n| n.to_string()),
                                ));
                                ui.label(mono(us(r.time_ns)));
                                ui.label(mono(format!(
                                    "{:.1}%",
                                    r.time_ns as f64 * 100.0 / total_ns as f64
                                )));
                                ui.end_row();
                            }
                        });
                });
        });
        chart(ui, st, &rows, svm, lang);
    });
}

/// The monitor's ledger as the panel shows it: its non-zero counters, named by the monitor,
/// in its order (emulated instructions, page faults, interrupts, hypercalls, totals).
pub fn monitor_rows(m: &MachineView) -> Vec<(String, u64)> {
    m.monitor
        .iter()
        .filter(|c| c.value != 0)
        .map(|c| (c.name.clone(), c.value))
        .collect()
}

/// The machine's own counts of the same traps: exceptions and interrupts by vector, non-zero.
pub fn vector_rows(m: &MachineView) -> Vec<(String, u64)> {
    let c = &m.counters;
    let exc = c.exceptions.iter().enumerate().take(32).map(|(v, &n)| {
        let name = crate::panels::events::vector_name(v as u8);
        (format!("{name} ({v})"), n)
    });
    let int = c
        .interrupts
        .iter()
        .enumerate()
        .skip(32)
        .map(|(v, &n)| (format!("int {v:#04x}"), n));
    exc.chain(int).filter(|&(_, n)| n != 0).collect()
}

fn two_columns(
    ui: &mut egui::Ui,
    id: &str,
    head: [&'static str; 2],
    rows: &[(String, u64)],
    lang: Lang,
) {
    egui::ScrollArea::vertical()
        .id_salt(format!("{id}-scroll"))
        .max_height(220.0)
        .show(ui, |ui| {
            egui::Grid::new(id)
                .striped(true)
                .num_columns(2)
                .show(ui, |ui| {
                    for h in head {
                        ui.label(RichText::new(tr(lang, h)).small().strong());
                    }
                    ui.end_row();
                    for (name, n) in rows {
                        ui.label(mono(name));
                        ui.label(mono(n.to_string()));
                        ui.end_row();
                    }
                });
        });
}

/// The monitor's causes beside the machine's vectors.
fn monitor_ui(ui: &mut egui::Ui, m: &MachineView, lang: Lang) {
    ui.horizontal_top(|ui| {
        let w = ui.available_width();
        ui.vertical(|ui| {
            ui.set_width((w * 0.5).max(280.0));
            ui.label(RichText::new(tr(lang, "monitor_ledger")).strong());
            two_columns(
                ui,
                "monitor-ledger",
                ["cause", "count"],
                &monitor_rows(m),
                lang,
            );
            ui.label(RichText::new(tr(lang, "monitor_tsc_note")).small());
        });
        ui.vertical(|ui| {
            ui.label(RichText::new(tr(lang, "machine_vectors")).strong());
            two_columns(
                ui,
                "machine-vectors",
                ["vector", "count"],
                &vector_rows(m),
                lang,
            );
        });
    });
}

/// Grouped bars: one group per cause, one bar per VM.
fn chart(ui: &mut egui::Ui, st: &State, rows: &[Row], svm: bool, lang: Lang) {
    let mut causes: Vec<String> = Vec::new();
    for r in rows {
        if !causes.contains(&r.cause) {
            causes.push(r.cause.clone());
        }
    }
    causes.truncate(12);
    let mut vms: Vec<u32> = rows.iter().map(|r| r.vm).collect();
    vms.sort();
    vms.dedup();
    super::category_plot("ledger-chart", 240.0, causes.clone()).show(ui, |pui| {
        for (k, vm) in vms.iter().enumerate() {
            let bars: Vec<Bar> = causes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let r = rows.iter().find(|r| r.vm == *vm && &r.cause == c)?;
                    let h = if st.chart_time {
                        r.time_ns as f64 / 1000.0
                    } else {
                        r.count as f64
                    };
                    let (x, width) = super::group_bar(i, k, vms.len());
                    Some(Bar::new(x, h).width(width).fill(r.colour).name(c))
                })
                .collect();
            pui.bar_chart(BarChart::new(vm_name(lang, *vm, svm), bars));
        }
    });
}
