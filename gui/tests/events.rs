//! The Events panel keeps what matters: minios's `fault` program takes a page fault, then a
//! million timer interrupts and HLTs follow; with only Exceptions and Privilege ticked the
//! page fault is still listed, and the noise is grouped into counted runs.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::sync::Arc;
use traplab::debug::session::Session;
use traplab::trace::{Event, EventKind};
use traplab_gui::i18n::Lang;
use traplab_gui::panels::{events, Panels};
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::load_bytes_with;

struct St {
    panels: Panels,
    view: View,
}

/// minios after `run fault`, with `noise` timer interrupt + HLT pairs logged after the
/// page fault.
fn minios_after_a_fault(noise: u64) -> View {
    let bytes = std::fs::read(traplab_gui::app::sample_path("samples/minios/minios.elf")).unwrap();
    let mut s = Session::new(load_bytes_with(&bytes, "autorun=fault").unwrap());
    let has_pf = |s: &Session| {
        s.m.core
            .events
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PageFault { .. }))
    };
    // Small steps: stop right after the fault, before the shell is back at its prompt and
    // the idle loop logs HLTs of its own.
    while !has_pf(&s) {
        s.advance(1_000);
        assert!(s.icount() < 500_000_000, "minios's fault program faulted");
    }
    let ic = s.icount();
    for i in 0..noise {
        for kind in [
            EventKind::Interrupt {
                vector: 0x20,
                external: true,
            },
            EventKind::Halt,
        ] {
            s.m.core.events.push(Event {
                icount: ic + i,
                cs: 0x08,
                eip: 0x0010_0000,
                kind,
            });
        }
    }
    let syms = Symbols::from_elf(&bytes);
    let mv = MachineView::capture(
        &s,
        &ViewRequest::default(),
        None,
        &syms,
        &mut EventsCache::default(),
    );
    View {
        seq: 1,
        machine: Some(mv),
        host_symbols: Arc::new(syms.clone()),
        symbols: Arc::new(syms),
        ..View::default()
    }
}

fn harness(view: View) -> Harness<'static, St> {
    let mut panels = Panels::default();
    panels.events.interrupts = false;
    panels.events.other = false;
    Harness::builder()
        .with_size(egui::vec2(1000.0, 500.0))
        .build_ui_state(
            |ui, st: &mut St| {
                events::ui(ui, &mut st.panels, &st.view, Lang::En, &mut Vec::new());
            },
            St { panels, view },
        )
}

#[test]
fn a_page_fault_stays_listed_after_a_million_timer_events() {
    let view = minios_after_a_fault(500_000);
    let m = view.machine.as_ref().unwrap();
    assert!(
        m.events_total > 1_000_000,
        "{} events logged",
        m.events_total
    );
    assert!(
        !m.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PageFault { .. })),
        "the recent events are all noise now"
    );
    let mut h = harness(view);
    h.run_steps(2);
    h.get_by_label_contains("page fault at");
    // The privilege changes around it are listed too.
    let m = h.state().view.machine.as_ref().unwrap();
    let rows = h
        .state()
        .panels
        .events
        .rows(&m.lasting, &m.events, Lang::En);
    let text: Vec<String> = rows
        .iter()
        .filter_map(|r| match r {
            events::Row::One(e) => Some(events::describe(e, Lang::En)),
            _ => None,
        })
        .collect();
    let pf = text.iter().position(|t| t.starts_with("page fault at"));
    assert_eq!(
        text.get(pf.unwrap() + 1).map(|s| s.as_str()),
        Some("CPL 3 -> 0")
    );
    assert!(h.query_all_by_label_contains("CPL 3 -> 0").count() > 0);
}

#[test]
fn timer_noise_is_collapsed_into_counts() {
    let view = minios_after_a_fault(300);
    let mut h = harness(view);
    h.state_mut().panels.events.interrupts = true;
    h.state_mut().panels.events.other = true;
    h.run_steps(2);
    // The last group holds the 300 pairs added, plus any interrupt or halt the kernel's idle
    // loop took around them; its label is drawn with those counts.
    let m = h.state().view.machine.as_ref().unwrap();
    let rows = h
        .state()
        .panels
        .events
        .rows(&m.lasting, &m.events, Lang::En);
    let counts = rows
        .iter()
        .rev()
        .find_map(|r| match r {
            events::Row::Run { counts, .. } => Some(counts.clone()),
            _ => None,
        })
        .expect("the timer noise is grouped");
    let n = |what: &str| counts.iter().find(|(w, _)| w == what).map_or(0, |c| c.1);
    assert!(
        (300..=310).contains(&n("external interrupt 0x20"))
            && (300..=310).contains(&n("HLT (waiting for an interrupt)")),
        "{counts:?}"
    );
    let label: Vec<String> = counts.iter().map(|(w, c)| format!("{c} × {w}")).collect();
    h.get_by_label_contains(&label.join(", "));
    // Without grouping, each one is a line of its own.
    h.state_mut().panels.events.collapse = false;
    h.run_steps(2);
    assert!(h
        .query_by_label_contains("300 × external interrupt")
        .is_none());
    // Spanish labels.
    let rows = h.state().panels.events.rows(
        &h.state().view.machine.as_ref().unwrap().lasting,
        &h.state().view.machine.as_ref().unwrap().events,
        Lang::Es,
    );
    let text: Vec<String> = rows
        .iter()
        .filter_map(|r| match r {
            events::Row::One(e) => Some(events::describe(e, Lang::Es)),
            _ => None,
        })
        .collect();
    assert!(
        text.iter().any(|t| t.contains("fallo de página en")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.contains("interrupción externa")));
}
