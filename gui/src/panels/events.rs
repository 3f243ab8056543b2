//! Events panel: the timeline of `core.events` (exceptions, interrupts, page faults,
//! privilege and mode changes, control-register writes, I/O...) with filters. Clicking an
//! event travels to the machine state at that moment (reverse execution to its icount).

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::trace::{Event, EventKind};

pub struct State {
    pub exceptions: bool,
    pub interrupts: bool,
    pub privilege: bool,
    pub other: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            exceptions: true,
            interrupts: true,
            privilege: true,
            other: true,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Exception,
    Interrupt,
    Privilege,
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
        _ => Class::Other,
    }
}

/// A short human description of an event.
pub fn describe(e: &Event) -> String {
    match &e.kind {
        EventKind::Exception { vector, error_code } => match error_code {
            Some(c) => format!("exception {} ({vector}) error {c:#x}", vector_name(*vector)),
            None => format!("exception {} ({vector})", vector_name(*vector)),
        },
        EventKind::Interrupt { vector, external } => {
            format!(
                "{} interrupt {vector:#04x}",
                if *external { "external" } else { "software" }
            )
        }
        EventKind::PageFault { addr, error_code } => {
            format!("page fault at {addr:#010x}, error {error_code:#x}")
        }
        EventKind::PrivilegeChange { from, to } => format!("CPL {from} -> {to}"),
        EventKind::ModeChange { to } => format!("mode -> {to}"),
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

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    let st = &mut p.events;
    ui.horizontal(|ui| {
        ui.label(tr(lang, "filter"));
        ui.checkbox(&mut st.exceptions, tr(lang, "exceptions"));
        ui.checkbox(&mut st.interrupts, tr(lang, "interrupts"));
        ui.checkbox(&mut st.privilege, tr(lang, "privilege"));
        ui.checkbox(&mut st.other, tr(lang, "other"));
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
    let shown: Vec<&Event> = m
        .events
        .iter()
        .filter(|e| match class(&e.kind) {
            Class::Exception => st.exceptions,
            Class::Interrupt => st.interrupts,
            Class::Privilege => st.privilege,
            Class::Other => st.other,
        })
        .collect();
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, row_h, shown.len(), |ui, range| {
            for e in &shown[range] {
                let reachable = e.icount >= m.oldest;
                let sym = view
                    .symbols
                    .describe(e.eip)
                    .map(|s| format!(" <{s}>"))
                    .unwrap_or_default();
                let text = format!(
                    "{:>12}  {:04x}:{:08x}{sym}  {}",
                    e.icount,
                    e.cs,
                    e.eip,
                    describe(e)
                );
                let mut rt = mono(text);
                if !reachable {
                    rt = rt.color(Color32::GRAY);
                } else if class(&e.kind) == Class::Exception {
                    rt = rt.color(Color32::from_rgb(255, 140, 120));
                }
                let r = ui.add(egui::Button::selectable(e.icount == m.icount, rt).frame(false));
                if r.clicked() {
                    cmds.push(Command::GoTo(e.icount));
                }
            }
        });
}
