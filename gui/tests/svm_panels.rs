//! The CPU panel says which world runs and decodes the VMCB; the events panel lists the
//! world switches with the exits' names. Both in English and Spanish, on the SVM test guest
//! (`samples/svmtest`) stopped while its first guest runs, and after it finished.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::sync::Arc;
use traplab::debug::session::Session;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::{cpu, events, Panels};
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::load_bytes_with;

struct St {
    panels: Panels,
    view: View,
    lang: Lang,
}

fn svmtest() -> (Session, Symbols) {
    let bytes =
        std::fs::read(traplab_gui::app::sample_path("samples/svmtest/svmtest.elf")).unwrap();
    (
        Session::new(load_bytes_with(&bytes, "").unwrap()),
        Symbols::from_elf(&bytes),
    )
}

fn view_of(s: &Session, syms: Symbols) -> View {
    let mv = MachineView::capture(
        s,
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

fn harness(view: View, lang: Lang, panel: fn(&mut egui::Ui, &mut St)) -> Harness<'static, St> {
    Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_ui_state(
            move |ui, st: &mut St| panel(ui, st),
            St {
                panels: Panels::default(),
                view,
                lang,
            },
        )
}

fn cpu_panel(ui: &mut egui::Ui, st: &mut St) {
    cpu::ui(ui, &mut st.panels, &st.view, st.lang, &mut Vec::new());
}

fn events_panel(ui: &mut egui::Ui, st: &mut St) {
    events::ui(ui, &mut st.panels, &st.view, st.lang, &mut Vec::new());
}

#[test]
fn the_cpu_panel_shows_the_world_and_the_vmcb_and_the_events_list_exits() {
    let (mut s, syms) = svmtest();
    // Small steps until the third guest runs (two exits are behind us).
    while !(s.m.core.svm.guest && s.m.inspect().ledger().vmruns >= 3) {
        s.advance(200);
        assert!(s.icount() < 20_000_000, "svmtest entered its guests");
    }
    let asid = s.m.core.svm.ctl.asid;
    let view = view_of(&s, syms);
    let v = view.machine.as_ref().unwrap().vmcb.clone().expect("a VMCB");
    assert!(v.running && v.asid == asid);
    assert!(
        v.intercepts.iter().any(|i| i == "VMRUN"),
        "{:?}",
        v.intercepts
    );

    for (lang, world, running, intercepts) in [
        (
            Lang::En,
            format!("World: guest, ASID {asid} (kernel)"),
            "guest running",
            "Intercepts on",
        ),
        (
            Lang::Es,
            format!("Mundo: invitado, ASID {asid} (núcleo)"),
            "invitado en ejecución",
            "Intercepciones activas",
        ),
    ] {
        let mut h = harness(view.clone(), lang, cpu_panel);
        h.run_steps(2);
        h.get_by_label(&world);
        h.get_by_label_contains(running);
        h.get_by_label(intercepts);
        // The intercept list, and the last exit decoded.
        assert!(h.query_all_by_label_contains("VMRUN").count() > 0);
        h.get_by_label("EXITCODE");
    }

    for (lang, vmrun) in [
        (Lang::En, format!("VMRUN: enter guest ASID {asid}")),
        (Lang::Es, format!("VMRUN: entra al invitado ASID {asid}")),
    ] {
        let mut h = harness(view.clone(), lang, events_panel);
        h.run_steps(2);
        assert!(
            h.query_all_by_label_contains(&vmrun).count() >= 1,
            "{vmrun}"
        );
        // svmtest's first scenario intercepts CPUID: its exit is listed by name.
        assert!(
            h.query_all_by_label_contains("#VMEXIT CPUID (0x72)")
                .count()
                >= 1
        );
    }

    // Once the guest hypervisor is done, the host runs and the VMCB is the last guest's.
    let _ = s.advance(50_000_000);
    let (_, syms) = svmtest();
    let view = view_of(&s, syms);
    let mut h = harness(view, Lang::En, cpu_panel);
    h.run_steps(2);
    h.get_by_label("World: host (kernel)");
    h.get_by_label_contains("last guest");
}
