//! The architecture view (kittest): for hv1 (type 1), hv2 (type 2) and tevmm
//! (trap-and-emulate) it names the kind of machine, the image in each layer and the
//! instructions each world retired (the core's counts), and the path of the last exit.
//! The path's oracle is the CPU itself: the test single-steps the machine from the exit
//! until a guest runs again and writes down the privilege level of every host instruction,
//! then compares the layers and the cost the view shows with that record.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::sync::Arc;
use traplab::boot::multiboot::Module;
use traplab::debug::session::Session;
use traplab::inspect::World;
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::virt::{self, VirtView};
use traplab_gui::panels::Panels;
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::{load_bytes_modules, Command};

struct St {
    panels: Panels,
    view: View,
    lang: Lang,
    cmds: Vec<Command>,
}

fn session(image: &str, cmdline: &str, modules: &[&str]) -> Session {
    let bytes = std::fs::read(sample_path(image)).unwrap();
    let mods = modules
        .iter()
        .map(|m| Module {
            data: std::fs::read(sample_path(m)).unwrap(),
            string: m.to_string(),
        })
        .collect();
    Session::new(load_bytes_modules(&bytes, cmdline, mods).unwrap())
}

fn view_of(s: &Session, image: &str, modules: &[&str]) -> View {
    let syms = Symbols::from_elf(&std::fs::read(sample_path(image)).unwrap());
    let mv = MachineView::capture(
        s,
        &ViewRequest::default(),
        None,
        &syms,
        &mut EventsCache::default(),
    );
    View {
        seq: 1,
        image: image.to_string(),
        modules: Arc::new(modules.iter().map(|m| m.to_string()).collect()),
        machine: Some(mv),
        host_symbols: Arc::new(syms.clone()),
        symbols: Arc::new(syms),
        ..View::default()
    }
}

fn harness(view: View, lang: Lang) -> Harness<'static, St> {
    let mut panels = Panels::default();
    panels.virt.view = VirtView::Arch;
    Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, st: &mut St| virt::ui(ui, &mut st.panels, &st.view, st.lang, &mut st.cmds),
            St {
                panels,
                view,
                lang,
                cmds: Vec::new(),
            },
        )
}

fn in_guest(s: &Session) -> bool {
    s.m.core.svm.guest
}

fn cpl(s: &Session) -> u8 {
    s.m.inspect().cpu().cpl
}

/// Single-steps from inside an SVM guest through its next exit until a guest runs again:
/// the guest's CPL before the exit, each host instruction's CPL, the host instructions.
fn one_exit(s: &mut Session) -> (u8, Vec<u8>, u64) {
    let mut guest_cpl = cpl(s);
    while in_guest(s) {
        guest_cpl = cpl(s);
        s.advance(1);
    }
    let (mut host, mut n) = (Vec::new(), 0u64);
    while !in_guest(s) {
        host.push(cpl(s));
        s.advance(1);
        n += 1;
    }
    (guest_cpl, host, n)
}

/// The layer names of a path: the guest's, the host's by CPL (deduplicated), the guest's.
fn path_names(guest_cpl: u8, host: &[u8], ring0: &str, ring3: &str, back_cpl: u8) -> String {
    let g = |c: u8| {
        if c == 3 {
            "guest applications"
        } else {
            "guest OS"
        }
    };
    let mut v = vec![g(guest_cpl)];
    for &c in host {
        let l = if c == 0 { ring0 } else { ring3 };
        if v.last() != Some(&l) {
            v.push(l);
        }
    }
    let b = g(back_cpl);
    if v.last() != Some(&b) {
        v.push(b);
    }
    v.join(" -> ")
}

#[test]
fn hv1_is_type_1_and_its_last_exit_goes_through_the_hypervisor_only() {
    let mods = ["samples/minios/minios.elf"];
    let mut s = session("samples/hv1/hv1.elf", "vms=2", &mods);
    while !(in_guest(&s) && s.m.inspect().ledger().exit_total > 50) {
        s.advance(1000);
        assert!(s.icount() < 50_000_000, "hv1 takes its exits");
    }
    let (gcpl, host, n) = one_exit(&mut s);
    assert!(
        host.iter().all(|&c| c == 0),
        "hv1 handles exits at ring 0 only"
    );
    let view = view_of(&s, "samples/hv1/hv1.elf", &mods);
    let ledger = s.m.inspect().ledger();
    let mut h = harness(view, Lang::En);
    h.run_steps(2);
    h.get_by_label("This machine: type 1 hypervisor (SVM)");
    h.get_by_label("Type 1 (bare metal) — running now");
    h.get_by_label("Type 2 (hosted) — for comparison");
    h.get_by_label("hypervisor: hv1.elf (ring 0)");
    h.get_by_label("guest OS: minios.elf (CPL 0)");
    for w in &ledger.retired {
        if let World::Guest { asid } = w.world {
            h.get_by_label(&format!("ASID {asid}: {} instructions", w.kernel));
        }
    }
    let path = path_names(gcpl, &host, "hypervisor", "?", cpl(&s));
    h.get_by_label_contains(&format!(": {path} @ "));
    let c = ledger.costs;
    let ns = n * 10 + c.vmexit + c.vmrun;
    h.get_by_label_contains(&format!(
        "its cost: {n} host instructions x 10 ns + #VMEXIT {} ns + VMRUN {} ns = {:.2} µs",
        c.vmexit,
        c.vmrun,
        ns as f64 / 1000.0
    ));
}

#[test]
fn hv2_is_type_2_and_an_exit_can_cross_the_host_kernel_and_the_vmm_process() {
    let mods = ["samples/minios/minios.elf"];
    let mut s = session("samples/minios/minios.elf", "autorun=vmm", &mods);
    while !in_guest(&s) {
        s.advance(1000);
        assert!(s.icount() < 200_000_000, "vmm starts its guest");
    }
    // The first exit that the VMM process (host ring 3) handles.
    let mut tries = 0;
    let (gcpl, host, n) = loop {
        let r = one_exit(&mut s);
        if r.1.contains(&3) {
            break r;
        }
        tries += 1;
        assert!(tries < 500, "an exit reaches vmm");
    };
    let view = view_of(&s, "samples/minios/minios.elf", &mods);
    for (lang, kind, layer, live) in [
        (
            Lang::En,
            "This machine: type 2 hypervisor (SVM, a host OS and a VMM process)",
            "host OS with a KVM-like driver: minios.elf (ring 0)",
            "Type 2 (hosted) — running now",
        ),
        (
            Lang::Es,
            "Esta máquina: hipervisor de tipo 2 (SVM, un SO anfitrión y un proceso VMM)",
            "SO anfitrión con un driver al estilo de KVM: minios.elf (ring 0)",
            "Tipo 2 (alojado) — en ejecución",
        ),
    ] {
        let mut h = harness(view.clone(), lang);
        h.run_steps(2);
        h.get_by_label(kind);
        h.get_by_label(layer);
        h.get_by_label(live);
    }
    let mut h = harness(view, Lang::En);
    h.run_steps(2);
    h.get_by_label("VMM process (host ring 3)");
    let path = path_names(
        gcpl,
        &host,
        "host OS with a KVM-like driver",
        "VMM process (host ring 3)",
        cpl(&s),
    );
    assert!(path.contains("VMM process"));
    h.get_by_label_contains(&format!(": {path} @ "));
    h.get_by_label_contains(&format!("its cost: {n} host instructions"));
}

#[test]
fn tevmm_is_trap_and_emulate_with_the_guest_kernel_deprivileged() {
    let mods = ["samples/minios/minios.elf"];
    let mut s = session("samples/tevmm/tevmm.elf", "", &mods);
    s.advance(3_000_000);
    // Back in the guest: the last trap has been handled.
    while cpl(&s) == 0 {
        s.advance(1);
    }
    let view = view_of(&s, "samples/tevmm/tevmm.elf", &mods);
    let mut h = harness(view, Lang::En);
    h.run_steps(2);
    h.get_by_label("This machine: type 1, trap-and-emulate (no SVM)");
    h.get_by_label("monitor: tevmm.elf (ring 0)");
    h.get_by_label("guest OS: minios.elf (ring 1, deprivileged)");
    h.get_by_label_contains("Last exit: ");
    h.get_by_label_contains(" x 10 ns = ");
}
