//! Events panel: the timeline of `core.events` (exceptions, interrupts, page faults,
//! privilege and mode changes, world switches (VMRUN, #VMEXIT with the exit's name),
//! control-register writes, I/O...) with filters. Clicking an
//! event travels to the machine state at that moment (reverse execution to its icount).

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::trace::{Event, EventClass, EventKind};

pub struct State {
    pub exceptions: bool,
    pub interrupts: bool,
    pub privilege: bool,
    pub other: bool,
    /// World switches: VMRUN and #VMEXIT (AMD SVM).
    pub worlds: bool,
    /// Runs of timer interrupts and HLTs shown as one line with counts.
    pub collapse: bool,
    /// Ring 3 and ring 0 in two lanes.
    pub lanes: bool,
    cache: Option<(CacheKey, std::sync::Arc<Vec<Row>>)>,
}

type CacheKey = (u64, [bool; 6]);

impl Default for State {
    fn default() -> Self {
        State {
            exceptions: true,
            interrupts: true,
            privilege: true,
            other: true,
            worlds: true,
            collapse: true,
            lanes: false,
            cache: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Exception,
    Interrupt,
    Privilege,
    World,
    Other,
}

fn class(k: &EventKind) -> Class {
    match k {
        EventKind::Exception { .. }
        | EventKind::PageFault { .. }
        | EventKind::DoubleFault
        | EventKind::TripleFault => Class::Exception,
        EventKind::Interrupt { .. } => Class::Interrupt,
        EventKind::PrivilegeChange { .. } | EventKind::ModeChange { .. } => Class::Privilege,
        EventKind::Vmrun { .. } | EventKind::Vmexit { .. } => Class::World,
        _ => Class::Other,
    }
}

/// One line of the list: an event, or a run of frequent ones (timer interrupts, HLT)
/// with how many of each.
#[derive(Clone, Debug)]
pub enum Row {
    One(Event),
    Run {
        first: Event,
        last_icount: u64,
        counts: Vec<(String, u64)>,
    },
}

impl Row {
    pub fn icount(&self) -> u64 {
        match self {
            Row::One(e) => e.icount,
            Row::Run { first, .. } => first.icount,
        }
    }
}

impl State {
    fn shows(&self, k: &EventKind) -> bool {
        match class(k) {
            Class::Exception => self.exceptions,
            Class::Interrupt => self.interrupts,
            Class::Privilege => self.privilege,
            Class::World => self.worlds,
            Class::Other => self.other,
        }
    }

    /// The rows to show: the lasting events older than the recent ones, then the recent
    /// ones; filtered first, then (when asked) runs of frequent events collapsed.
    pub fn rows(&self, lasting: &[Event], recent: &[Event], lang: Lang) -> Vec<Row> {
        let first = recent.first();
        let older = lasting.iter().filter(|e| match first {
            None => true,
            Some(f) => {
                e.icount < f.icount
                    || (e.icount == f.icount
                        && !recent
                            .iter()
                            .take_while(|r| r.icount == f.icount)
                            .any(|r| r == *e))
            }
        });
        let mut rows: Vec<Row> = Vec::new();
        for e in older.chain(recent.iter()).filter(|e| self.shows(&e.kind)) {
            let frequent = e.kind.class() == EventClass::Frequent;
            if !(self.collapse && frequent) {
                rows.push(Row::One(e.clone()));
                continue;
            }
            let what = describe(e, lang);
            match rows.last_mut() {
                Some(Row::Run {
                    last_icount,
                    counts,
                    ..
                }) => {
                    *last_icount = e.icount;
                    match counts.iter_mut().find(|(w, _)| *w == what) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((what, 1)),
                    }
                }
                _ => rows.push(Row::Run {
                    first: e.clone(),
                    last_icount: e.icount,
                    counts: vec![(what, 1)],
                }),
            }
        }
        rows
    }
}

/// A short human description of an event.
pub fn describe(e: &Event, lang: Lang) -> String {
    match &e.kind {
        EventKind::Exception { vector, error_code } => match error_code {
            Some(c) => format!(
                "{} {} ({vector}) error {c:#x}",
                tr(lang, "exception"),
                vector_name(*vector)
            ),
            None => format!(
                "{} {} ({vector})",
                tr(lang, "exception"),
                vector_name(*vector)
            ),
        },
        EventKind::Interrupt { vector, external } => {
            format!(
                "{} {vector:#04x}",
                tr(
                    lang,
                    if *external {
                        "external_interrupt"
                    } else {
                        "software_interrupt"
                    }
                )
            )
        }
        EventKind::PageFault { addr, error_code } => {
            format!(
                "{} {addr:#010x}, error {error_code:#x}",
                tr(lang, "page_fault_at")
            )
        }
        EventKind::PrivilegeChange { from, to } => format!("CPL {from} -> {to}"),
        EventKind::ModeChange { to } => format!(
            "{} -> {}",
            tr(lang, "mode").to_lowercase(),
            tr_mode(lang, to)
        ),
        EventKind::Halt => tr(lang, "hlt_event").to_string(),
        EventKind::CrWrite { cr, old, new } => format!("CR{cr} {old:#010x} -> {new:#010x}"),
        EventKind::MsrWrite { msr, value } => format!("WRMSR {msr:#x} = {value:#x}"),
        EventKind::Io {
            write,
            port,
            size,
            value,
        } => {
            format!(
                "{} port {port:#06x} ({size}) {value:#x}",
                if *write { "OUT" } else { "IN" }
            )
        }
        EventKind::Vmrun { asid, rip } => {
            format!("{} {asid}, EIP {rip:#010x}", tr(lang, "vmrun_event"))
        }
        EventKind::Vmexit {
            code,
            info1,
            info2,
            rip,
            asid,
        } => format!(
            "{} {} ({code:#x}) info1 {info1:#x} info2 {info2:#x}, ASID {asid} EIP {rip:#010x}",
            tr(lang, "vmexit_event"),
            traplab::inspect::exit_name(*code)
        ),
        other => format!("{other:?}"),
    }
}

pub fn vector_name(v: u8) -> &'static str {
    const N: [&str; 21] = [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
        "#GP", "#PF", "-", "#MF", "#AC", "#MC", "#XM", "#VE",
    ];
    N.get(v as usize).copied().unwrap_or("")
}

/// A mode name as the core writes it ("protected", "real"...) in the user's language.
pub fn tr_mode(lang: Lang, mode: &str) -> String {
    match mode {
        "protected" => tr(lang, "mode_protected").to_string(),
        "real" => tr(lang, "mode_real").to_string(),
        "v8086" | "virtual-8086" => tr(lang, "mode_v86").to_string(),
        other => other.to_string(),
    }
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    let st = &mut p.events;
    ui.horizontal_wrapped(|ui| {
        ui.label(tr(lang, "filter"));
        ui.checkbox(&mut st.exceptions, tr(lang, "exceptions"));
        ui.checkbox(&mut st.interrupts, tr(lang, "interrupts"));
        ui.checkbox(&mut st.privilege, tr(lang, "privilege"));
        ui.checkbox(&mut st.worlds, tr(lang, "worlds"));
        ui.checkbox(&mut st.other, tr(lang, "other"));
        ui.separator();
        ui.checkbox(&mut st.collapse, tr(lang, "collapse_noise"));
        ui.checkbox(&mut st.lanes, tr(lang, "lanes"));
    });
    let Some(m) = &view.machine else {
        return;
    };
    ui.label(
        RichText::new(format!(
            "{} | {} {} .. {}",
            tr(lang, "goto_event"),
            tr(lang, "reverse_window"),
            m.oldest,
            m.icount
        ))
        .small()
        .weak(),
    );
    let key: CacheKey = (
        view.seq ^ ((lang == Lang::Es) as u64) << 63,
        [
            st.exceptions,
            st.interrupts,
            st.privilege,
            st.other,
            st.worlds,
            st.collapse,
        ],
    );
    let rows = match &st.cache {
        Some((k, rows)) if *k == key => rows.clone(),
        _ => {
            let rows = std::sync::Arc::new(st.rows(&m.lasting, &m.events, lang));
            st.cache = Some((key, rows.clone()));
            rows
        }
    };
    let lanes = st.lanes;
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    if lanes {
        ui.horizontal(|ui| {
            let w = ui.available_width() / 2.0;
            ui.add_sized(
                [w, row_h],
                egui::Label::new(RichText::new(tr(lang, "lane_user")).strong()),
            );
            ui.add_sized(
                [w, row_h],
                egui::Label::new(RichText::new(tr(lang, "lane_kernel")).strong()),
            );
        });
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, row_h, rows.len(), |ui, range| {
            for row in &rows[range] {
                let (e, what) = match row {
                    Row::One(e) => (e, describe(e, lang)),
                    Row::Run {
                        first,
                        last_icount,
                        counts,
                    } => {
                        let list: Vec<String> =
                            counts.iter().map(|(w, n)| format!("{n} × {w}")).collect();
                        let span = last_icount - first.icount;
                        (
                            first,
                            format!("{} (+{span} {})", list.join(", "), tr(lang, "instr_short")),
                        )
                    }
                };
                let reachable = e.icount >= m.oldest;
                let sym = view
                    .symbols
                    .describe(e.eip)
                    .map(|s| format!(" <{s}>"))
                    .unwrap_or_default();
                let text = if lanes {
                    format!("{:>10} {what}{sym}", e.icount)
                } else {
                    format!("{:>12}  {:04x}:{:08x}{sym}  {what}", e.icount, e.cs, e.eip)
                };
                let mut rt = mono(text);
                if !reachable {
                    rt = rt.color(Color32::GRAY);
                } else if class(&e.kind) == Class::Exception {
                    rt = rt.color(Color32::from_rgb(255, 140, 120));
                } else if class(&e.kind) == Class::World {
                    rt = rt.color(Color32::from_rgb(120, 180, 255));
                } else if matches!(row, Row::Run { .. }) {
                    rt = rt.weak();
                }
                let selected = e.icount == m.icount;
                let r = if lanes {
                    // Ring 3 on the left, everything else (ring 0, real mode) on the right.
                    let user = e.cs & 3 == 3 && m.cpu.mode.protection_enabled();
                    ui.horizontal(|ui| {
                        let w = ui.available_width() / 2.0;
                        if !user {
                            ui.add_space(w);
                        }
                        ui.add_sized(
                            [w, row_h],
                            egui::Button::selectable(selected, rt)
                                .frame(false)
                                .truncate(),
                        )
                    })
                    .inner
                } else {
                    ui.add(egui::Button::selectable(selected, rt).frame(false))
                };
                if r.clicked() {
                    cmds.push(Command::GoTo(e.icount));
                }
            }
        });
}
