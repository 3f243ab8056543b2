//! The APICs in the devices panel: samples/apictest booted the way the Samples menu's entry
//! says (`apic_sample`: `--apic` and its disk), stopped while it waits for the keyboard
//! bytes (the local APIC software-enabled, the keyboard's I/O APIC entry programmed) and
//! again at its end; the panel's rows are checked in English and Spanish. A machine without
//! the APICs shows neither.

mod common;

use common::drain_serial;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use traplab::debug::session::{Input, Session};
use traplab::inspect::ApicRegs;
use traplab_gui::apic_sample;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::devices;
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::{load_bytes_config, machine_config, BootSpec, Command};

/// The machine the menu's command describes.
fn session() -> Session {
    let Command::LoadSpec(BootSpec {
        path, apic, disk, ..
    }) = apic_sample::command()
    else {
        panic!("the APIC sample loads a spec");
    };
    assert!(apic, "the APIC sample asks for the APICs");
    let mut config = machine_config();
    config.devices.apic = apic;
    config.devices.disk = Some(std::fs::read(disk.expect("a disk")).unwrap().into());
    let bytes = std::fs::read(path).unwrap();
    Session::new(load_bytes_config(&bytes, "", vec![], config).unwrap())
}

/// Runs until the console shows `want` (or the budget ends); returns the console.
fn run_until(s: &mut Session, out: &mut String, want: &str) {
    while s.icount() < 50_000_000 && !out.contains(want) {
        s.advance(200_000);
        drain_serial(s, out);
    }
    assert!(out.contains(want), "no {want:?} in:\n{out}");
}

fn view(s: &Session) -> View {
    let mv = MachineView::capture(
        s,
        &ViewRequest::default(),
        None,
        &Symbols::default(),
        &mut EventsCache::default(),
    );
    View {
        machine: Some(mv),
        ..Default::default()
    }
}

fn harness(v: View, lang: Lang) -> Harness<'static, (View, Lang)> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1200.0))
        .build_ui_state(
            |ui, st: &mut (View, Lang)| devices::ui(ui, &st.0, st.1),
            (v, lang),
        );
    h.run();
    h
}

/// The panel shows a label with exactly `text`.
fn has(h: &Harness<'_, (View, Lang)>, text: &str) {
    assert!(
        h.query_all_by_label(text).next().is_some(),
        "no label {text:?} in the panel"
    );
}

fn apics(v: &View) -> ApicRegs {
    v.machine
        .as_ref()
        .unwrap()
        .devices
        .apic
        .clone()
        .expect("APICs in the view")
}

#[test]
fn apictest_state_in_the_devices_panel() {
    assert!(apic_sample::available());
    let mut s = session();
    let mut out = String::new();
    // Waiting for the keyboard bytes: the keyboard's entry is programmed and unmasked.
    run_until(&mut s, &mut out, "ok    ioapic: keyboard entry reads back");
    s.advance(10_000);
    let v = view(&s);
    let a = apics(&v);
    assert!(a.lapic.software_enabled && a.lapic.enabled);
    assert_eq!(a.lapic.spurious_vector, 0xFF);
    assert_eq!(a.lapic.version, 0x0004_0014);
    assert_eq!(a.ioapic.redir.len(), 24);
    let kbd = a.ioapic.redir[1];
    assert_eq!((kbd.vector, kbd.masked, kbd.level), (0x31, false, false));

    let h = harness(v.clone(), Lang::En);
    has(&h, "Local APIC");
    has(&h, "I/O APIC (82093AA)");
    has(&h, "0x00040014");
    has(&h, "0xfee00000, enabled");
    has(&h, "spurious 0xff, APIC enabled");
    has(&h, "ID 0, at 0xfec00000, version 0x170011, 24 entries");
    // The keyboard's row: pin 1, IRQ1, vector 0x31, fixed, physical 0, edge, unmasked.
    for cell in [
        "IRQ1",
        "0x31",
        "fixed",
        "physical 0",
        "edge, high",
        "unmasked",
    ] {
        has(&h, cell);
    }
    // The timer ran one-shot then periodic and was stopped (initial count 0).
    assert_eq!(a.lapic.initial_count, 0);
    assert_eq!(a.lapic.current_count, 0);
    assert!(a.lapic.timer_fired >= 6, "{}", a.lapic.timer_fired);
    let h = harness(v, Lang::Es);
    has(&h, "APIC local");
    has(&h, "APIC de E/S (82093AA)");
    has(&h, "0xfee00000, habilitado");
    has(&h, "espuria 0xff, APIC activo");
    for cell in ["flanco, alto", "activa", "físico 0", "cuenta actual"] {
        has(&h, cell);
    }

    // The keyboard bytes, then the guest runs to its end.
    s.input(Input::Serial(b"apic\n".to_vec()));
    run_until(&mut s, &mut out, "apictest: all checks passed");
    let v = view(&s);
    let a = apics(&v);
    let (kbd, disk) = (a.ioapic.redir[1], a.ioapic.redir[14]);
    // "apic" and the level-triggered '!': at least five keyboard messages; one from the disk.
    assert!(kbd.delivered >= 5 && kbd.masked, "{kbd:?}");
    assert_eq!((disk.vector, disk.delivered, disk.masked), (0x3E, 1, true));
    assert!(a.lapic.isr.is_empty() && a.lapic.irr.is_empty());
    let h = harness(v, Lang::En);
    for cell in ["IRQ14", "0x3e", "masked", &kbd.delivered.to_string()] {
        has(&h, cell);
    }
    // Every row of the local APIC is drawn, the LVT timer's decoded from its register.
    let t = a.lapic.lvt[0];
    let rows = traplab_gui::panels::apic::lapic_rows(&a.lapic, Lang::En);
    let timer = &rows
        .iter()
        .find(|(n, _)| n == "LVT timer")
        .expect("LVT timer row")
        .1;
    let mode = if a.lapic.timer_periodic {
        "periodic"
    } else {
        "one-shot"
    };
    let mask = if t.masked { "masked" } else { "unmasked" };
    assert_eq!(*timer, format!("{mode}, vector {:#04x}, {mask}", t.vector));
    for (n, v) in rows {
        has(&h, &n);
        has(&h, &v);
    }
}

#[test]
fn no_apic_rows_without_the_apics() {
    let bytes = std::fs::read(traplab_gui::app::sample_path(apic_sample::IMAGE)).unwrap();
    let s = Session::new(load_bytes_config(&bytes, "", vec![], machine_config()).unwrap());
    let v = view(&s);
    assert!(v.machine.as_ref().unwrap().devices.apic.is_none());
    let h = harness(v, Lang::En);
    has(&h, "PIC (8259A)");
    assert!(h.query_all_by_label("Local APIC").next().is_none());
    assert!(h.query_all_by_label("I/O APIC (82093AA)").next().is_none());
}
