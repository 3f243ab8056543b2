//! The exit ledger panel shows tevmm's own trap ledger (reported on the monitor ledger port)
//! beside the machine's counts by vector, and what it shows is exactly the ledger tevmm
//! prints at exit: every non-zero counter, with the same number, and nothing else.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::collections::BTreeMap;
use std::sync::Arc;
use traplab::boot::multiboot::Module;
use traplab::debug::session::{Session, Stop};
use traplab::RunExit;
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::virt::{self, VirtView};
use traplab_gui::panels::Panels;
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::load_bytes_modules;

/// tevmm running `guest` to its exit with `input` typed: the session and its serial output.
fn run_to_exit(guest: &str, input: &str) -> (Session, String) {
    let bytes = std::fs::read(sample_path("samples/tevmm/tevmm.elf")).unwrap();
    let mods = vec![Module {
        data: std::fs::read(sample_path(guest)).unwrap(),
        string: guest.to_string(),
    }];
    let mut s = Session::new(load_bytes_modules(&bytes, "", mods).unwrap());
    s.m.core.dev.push_serial_input(input.as_bytes());
    let mut out = Vec::new();
    for _ in 0..400 {
        let stop = s.advance(1_000_000);
        out.extend(s.m.core.dev.take_serial_output());
        match stop {
            Stop::Done | Stop::Pending => {}
            Stop::Machine(RunExit::Exit(_)) => {
                return (s, String::from_utf8_lossy(&out).into_owned());
            }
            other => panic!("{other:?}\n{}", String::from_utf8_lossy(&out)),
        }
    }
    panic!("tevmm did not exit");
}

/// The non-zero counters of the last ledger tevmm printed (`tevmm:   NAME   VALUE`).
fn printed_ledger(out: &str) -> BTreeMap<String, u64> {
    let start = out.rfind("tevmm: trap ledger").expect("a printed ledger");
    let mut l = BTreeMap::new();
    for line in out[start..].lines().skip(1) {
        let Some(rest) = line.strip_prefix("tevmm:") else {
            continue;
        };
        let Some((name, value)) = rest.trim().rsplit_once(' ') else {
            continue;
        };
        if let Ok(v) = value.parse::<u64>() {
            if v != 0 {
                l.insert(name.trim().to_string(), v);
            }
        }
    }
    l
}

fn machine_view(s: &Session) -> MachineView {
    MachineView::capture(
        s,
        &ViewRequest::default(),
        None,
        &Symbols::default(),
        &mut EventsCache::default(),
    )
}

fn check(guest: &str, input: &str, causes: &[&str]) -> MachineView {
    let (s, out) = run_to_exit(guest, input);
    let printed = printed_ledger(&out);
    let mv = machine_view(&s);
    let shown: BTreeMap<String, u64> = virt::ledger::monitor_rows(&mv).into_iter().collect();
    assert_eq!(shown, printed, "{out}");
    assert!(shown.len() > 15, "{shown:?}");
    for &cause in causes {
        assert!(shown.contains_key(cause), "{cause}: {shown:?}");
    }
    mv
}

#[test]
fn the_panel_shows_the_ledger_tevmm_prints_at_exit() {
    let mv = check(
        "samples/minios/minios.elf",
        "run hello\nrun fault\nexit\n",
        &[
            "#PF hidden",
            "#PF of the guest",
            "IRQs reflected",
            "OUT",
            "traps",
        ],
    );
    // Beside it, the machine's vectors: tevmm's traps are #GP and #PF mostly.
    let vectors: BTreeMap<String, u64> = virt::ledger::vector_rows(&mv).into_iter().collect();
    assert!(
        vectors["#GP (13)"] > 1000 && vectors["#PF (14)"] > 100,
        "{vectors:?}"
    );
    let monitor: BTreeMap<String, u64> = virt::ledger::monitor_rows(&mv).into_iter().collect();
    // Every #PF the monitor sorted (hidden, a page-table write, the guest's own) is one the
    // machine delivered; the few others came while an IRQ was waiting for the guest: the
    // monitor delivered the IRQ first and let the instruction fault again.
    let pf = ["#PF hidden", "#PF page-table write", "#PF of the guest"]
        .iter()
        .map(|k| monitor.get(*k).copied().unwrap_or(0))
        .sum::<u64>();
    let delivered = vectors["#PF (14)"];
    assert!(
        pf <= delivered && delivered - pf < 20,
        "{pf} sorted, {delivered} delivered"
    );

    for (lang, heading, cause_head) in [
        (Lang::En, "The monitor's own ledger", "cause"),
        (Lang::Es, "El libro del propio monitor", "causa"),
    ] {
        let view = View {
            seq: 1,
            machine: Some(mv.clone()),
            symbols: Arc::new(Symbols::default()),
            ..View::default()
        };
        let mut h = Harness::builder()
            .with_size(egui::vec2(1200.0, 900.0))
            .build_ui_state(
                |ui, st: &mut (Panels, View, Lang)| {
                    st.0.virt.view = VirtView::Ledger;
                    virt::ui(ui, &mut st.0, &st.1, st.2, &mut Vec::new());
                },
                (Panels::default(), view, lang),
            );
        h.run_steps(2);
        h.get_by_label_contains(heading);
        assert!(h.query_all_by_label(cause_head).count() >= 1);
        h.get_by_label("#PF hidden");
        h.get_by_label(&monitor["#PF hidden"].to_string());
        h.get_by_label("#GP (13)");
    }
}

#[test]
fn the_paravirtual_build_shows_its_hypercalls() {
    let mv = check(
        "samples/minios/minios-pv.elf",
        "run hello\nexit\n",
        &["#PF hidden", "hypercalls", "traps"],
    );
    let monitor: BTreeMap<String, u64> = virt::ledger::monitor_rows(&mv).into_iter().collect();
    assert!(monitor["hypercall CONSOLE_PUTC"] > 100, "{monitor:?}");
    assert!(
        !monitor.contains_key("OUT"),
        "PV's port I/O is by hypercall: {monitor:?}"
    );
}
