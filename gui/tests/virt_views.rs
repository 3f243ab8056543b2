//! The virtualization views (kittest): the worlds timeline and the exit ledger open, show
//! the rows a known run gives (svmtest's SVM exits, tevmm's traps), in English and Spanish,
//! and a click on a world switch travels back to it in the real app.

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use std::sync::Arc;
use std::time::{Duration, Instant};
use traplab::boot::multiboot::Module;
use traplab::debug::session::Session;
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::virt::{self, VirtView};
use traplab_gui::panels::{PanelId, Panels};
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, View, ViewRequest};
use traplab_gui::worker::{load_bytes_modules, Command};
use traplab_gui::TraplabApp;

struct St {
    panels: Panels,
    view: View,
    lang: Lang,
    cmds: Vec<Command>,
}

fn session(image: &str, modules: &[&str]) -> (Session, Symbols) {
    let bytes = std::fs::read(sample_path(image)).unwrap();
    let mods = modules
        .iter()
        .map(|m| Module {
            data: std::fs::read(sample_path(m)).unwrap(),
            string: m.to_string(),
        })
        .collect();
    (
        Session::new(load_bytes_modules(&bytes, "", mods).unwrap()),
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

fn harness(view: View, lang: Lang, which: VirtView) -> Harness<'static, St> {
    let mut panels = Panels::default();
    panels.virt.view = which;
    Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, st: &mut St| {
                virt::ui(ui, &mut st.panels, &st.view, st.lang, &mut st.cmds);
            },
            St {
                panels,
                view,
                lang,
                cmds: Vec::new(),
            },
        )
}

/// svmtest after its first scenarios: the host runs, several exits are behind us.
fn svmtest_after_exits() -> (Session, Symbols) {
    let (mut s, syms) = session("samples/svmtest/svmtest.elf", &[]);
    while s.m.core.svm.guest || s.m.inspect().ledger().exit_total < 6 {
        s.advance(500);
        assert!(s.icount() < 20_000_000, "svmtest took its exits");
    }
    (s, syms)
}

#[test]
fn the_timeline_lists_svmtests_exits_by_lane_and_cause_and_a_click_asks_to_travel() {
    let (s, syms) = svmtest_after_exits();
    let ledger = s.m.inspect().ledger();
    let asid = s.m.core.svm.ctl.asid;
    let view = view_of(&s, syms);
    for (lang, cpuid_row, tab) in [
        (
            Lang::En,
            format!("guest ASID {asid} kernel -> hypervisor / host kernel (ring 0)  #VMEXIT CPUID"),
            "Worlds timeline",
        ),
        (
            Lang::Es,
            format!(
                "invitado ASID {asid} núcleo -> hipervisor / núcleo anfitrión (anillo 0)  #VMEXIT CPUID"
            ),
            "Cronograma de mundos",
        ),
    ] {
        let mut h = harness(view.clone(), lang, VirtView::Timeline);
        h.run_steps(2);
        h.get_by_label(tab);
        // Every exit the ledger counted is in the list (svmtest's first exits are all kept).
        let exits = h.query_all_by_label_contains(" #VMEXIT ").count() as u64;
        let hypercalls = h.query_all_by_label_contains("VMMCALL").count() as u64;
        assert_eq!(exits + hypercalls, ledger.exit_total, "{lang:?}");
        let vmruns = h.query_all_by_label_contains("  VMRUN  ").count() as u64;
        assert_eq!(vmruns, ledger.vmruns);
        // svmtest's first scenario intercepts CPUID: its exit, with the lanes it crossed.
        let row = h.query_all_by_label_contains(&cpuid_row).next().unwrap();
        let text = row.accesskit_node().label().unwrap_or_default();
        let icount: u64 = text.split_whitespace().next().unwrap().parse().unwrap();
        row.click();
        h.run_steps(2);
        assert!(
            h.state()
                .cmds
                .iter()
                .any(|c| matches!(c, Command::GoTo(i) if *i == icount)),
            "a click on the CPUID exit travels to icount {icount}"
        );
    }
}

#[test]
fn the_ledger_counts_svmtests_exits_per_vm_with_their_virtual_time() {
    let (s, syms) = svmtest_after_exits();
    let ledger = s.m.inspect().ledger();
    let view = view_of(&s, syms);
    let cpuid = ledger
        .exits
        .iter()
        .find(|e| e.name == "CPUID")
        .unwrap()
        .count;
    for (lang, header, all) in [
        (Lang::En, "Ledger (since boot)", "all since boot"),
        (
            Lang::Es,
            "Libro (desde el arranque)",
            "todas desde el arranque",
        ),
    ] {
        let mut h = harness(view.clone(), lang, VirtView::Ledger);
        h.run_steps(2);
        h.get_by_label_contains(header);
        h.get_by_label_contains(&format!("#VMEXIT {}", ledger.exit_total));
        // The window holds every exit since boot, so it says so.
        h.get_by_label_contains(all);
        h.get_by_label("#VMEXIT CPUID");
        assert!(h.query_all_by_label(&cpuid.to_string()).count() >= 2);
    }
    // The rows' virtual time: the charged exit and entry plus the handler's instructions.
    let m = view.machine.as_ref().unwrap();
    let t =
        virt::model::Timeline::build(&m.lasting, &m.events, m.icount, virt::timeline::lane_now(m));
    let rows = virt::ledger::rows(&t.entries(), m);
    let n: u64 = rows.iter().map(|r| r.count).sum();
    assert_eq!(n, ledger.exit_total);
    for r in &rows {
        let c = ledger.costs;
        assert_eq!(
            r.time_ns,
            r.count * c.vmexit + r.resumed * c.vmrun + r.handler * 10,
            "{r:?}"
        );
        assert!(r.resumed > 0 && r.handler > 0, "{r:?}");
    }
}

#[test]
fn tevmm_traps_show_as_switches_from_the_deprivileged_guest_kernel() {
    let (mut s, syms) = session("samples/tevmm/tevmm.elf", &["samples/minios/minios.elf"]);
    s.advance(3_000_000);
    let gp = s.m.inspect().counters().exceptions[13];
    assert!(
        gp > 100,
        "tevmm's guest traps with #GP while minios boots ({gp})"
    );
    let view = view_of(&s, syms);
    let mut h = harness(view.clone(), Lang::En, VirtView::Timeline);
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains(
            "guest kernel (deprivileged, ring 1) -> hypervisor / host kernel (ring 0)  #GP trap"
        )
        .count()
            > 10
    );
    assert!(h.query_all_by_label_contains("  return  ").count() > 10);
    let mut h = harness(view, Lang::Es, VirtView::Ledger);
    h.run_steps(2);
    h.get_by_label("#GP trap");
    assert!(h.query_all_by_label("invitado desprivilegiado").count() >= 1);
    // tevmm has no SVM: nothing claims the window is every exit since boot.
    assert!(
        h.query_all_by_label_contains("todas desde el arranque")
            .count()
            == 0
    );
}

fn wait(h: &mut Harness<'_, TraplabApp>, what: &str, cond: impl Fn(&TraplabApp) -> bool) {
    let t0 = Instant::now();
    loop {
        h.step();
        if cond(h.state()) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn in_the_app_a_click_on_an_exit_travels_back_to_it() {
    let mut app = TraplabApp::new(
        &egui::Context::default(),
        Some(&sample_path("samples/svmtest/svmtest.elf")),
    );
    app.lang = Lang::En;
    app.panels.tab = PanelId::Virtualization;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1000.0))
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app);
    wait(&mut h, "loaded", |a| a.view.machine.is_some());
    h.get_by_label("Run").click();
    wait(&mut h, "svmtest finished", |a| {
        !a.view.running && a.view.machine.as_ref().is_some_and(|m| m.icount > 100_000)
    });
    let end = h.state().view.machine.clone().unwrap();
    // The list sticks to its bottom with an animated scroll: let it settle.
    for _ in 0..30 {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    // An exit long ago (one in the middle of the rows the list shows): travel back to it.
    let rows: Vec<_> = h.query_all_by_label_contains(" #VMEXIT ").collect();
    let row = &rows[rows.len() / 2];
    let icount: u64 = row
        .accesskit_node()
        .label()
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(icount < end.icount);
    let t = virt::model::Timeline::build(
        &end.lasting,
        &end.events,
        end.icount,
        virt::timeline::lane_now(&end),
    );
    let exits_before = t
        .switches
        .iter()
        .filter(|s| s.icount < icount && matches!(s.cause, virt::model::Cause::Exit { .. }))
        .count() as u64;
    row.click();
    wait(&mut h, "travelled to the exit", |a| {
        a.view.machine.as_ref().is_some_and(|m| m.icount == icount)
    });
    let m = h.state().view.machine.clone().unwrap();
    // At the switch: the guest is about to run the instruction that exits, and the ledger
    // counts the exits before it only.
    assert!(matches!(
        m.ledger.current,
        traplab::inspect::World::Guest { .. }
    ));
    assert_eq!(m.ledger.exit_total, exits_before);
    assert!(m.ledger.exit_total < end.ledger.exit_total);
}

#[test]
fn the_nested_view_numbers_the_references_of_the_2d_walk() {
    // hv1's guest (minios on SVM with nested paging) once it has booted: the machine alone
    // runs there fast (a session would keep checkpoints all the way).
    let bytes = std::fs::read(sample_path("samples/hv1/hv1.elf")).unwrap();
    let syms = Symbols::from_elf(&bytes);
    let module = Module {
        data: std::fs::read(sample_path("samples/minios/minios.elf")).unwrap(),
        string: "samples/minios/minios.elf".into(),
    };
    let mut m = load_bytes_modules(&bytes, "vms=1", vec![module]).unwrap();
    m.run(20_000_000);
    while !(m.core.svm.guest && m.core.svm.ctl.np_enable && m.inspect().control().paging()) {
        m.run(100);
        assert!(
            m.inspect().icount() < 60_000_000,
            "hv1 ran its nested-paging guest"
        );
    }
    let s = Session::new(m);
    let pc = s.m.inspect().pc();
    let req = ViewRequest {
        walk_addr: pc,
        ..ViewRequest::default()
    };
    let mv = MachineView::capture(&s, &req, None, &syms, &mut EventsCache::default());
    let r = &mv.walks[0].report;
    let g = r.steps.len();
    let n = r.nested.as_ref().expect("a 2-D walk").steps.len();
    assert!(r
        .steps
        .iter()
        .all(|x| x.nested.as_ref().map(|w| w.steps.len()) == Some(n)));
    let (_, refs) = virt::nested::references(r);
    // Each guest level: its nested walk, then the entry; then the final address's walk.
    assert_eq!(refs.len(), g * (n + 1) + n);
    let view = View {
        seq: 1,
        machine: Some(mv),
        host_symbols: Arc::new(syms.clone()),
        symbols: Arc::new(syms),
        ..View::default()
    };
    for (lang, refs_label, tlb) in [
        (Lang::En, "memory references", "TLB entry it leaves"),
        (Lang::Es, "accesos a memoria", "Entrada de TLB que deja"),
    ] {
        let mut h = harness(view.clone(), lang, VirtView::Nested);
        h.run_steps(2);
        h.get_by_label(&format!("{refs_label}: {}", refs.len()));
        for k in 1..=refs.len() {
            h.get_by_label_contains(&format!("#{k} "));
        }
        h.get_by_label(tlb);
        let asid = s.m.core.svm.ctl.asid;
        h.get_by_label_contains(&format!("ASID {asid}: {:#010x} -> ", pc & !0xfff));
    }

    // Natively (minios's two-level tables, 4 KiB pages): two references.
    let (mut s, syms) = session("samples/minios/minios.elf", &[]);
    s.advance(2_000_000);
    let req = ViewRequest {
        walk_addr: s.m.inspect().pc(),
        ..ViewRequest::default()
    };
    let mv = MachineView::capture(&s, &req, None, &syms, &mut EventsCache::default());
    assert!(mv.cpu.control.paging());
    assert_eq!(virt::nested::references(&mv.walks[0].report).1.len(), 2);
}

#[test]
fn the_stepper_runs_to_an_exit_steps_the_handler_and_goes_back_to_the_guest() {
    let mut app = TraplabApp::new(
        &egui::Context::default(),
        Some(&sample_path("samples/svmtest/svmtest.elf")),
    );
    app.lang = Lang::En;
    app.panels.tab = PanelId::Virtualization;
    app.panels.virt.view = VirtView::Stepper;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1000.0))
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app);
    wait(&mut h, "loaded", |a| a.view.machine.is_some());
    let guest = |a: &TraplabApp| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| matches!(m.ledger.current, traplab::inspect::World::Guest { .. }))
    };
    let status = |a: &TraplabApp| a.view.status.starts_with("world switch at");
    h.get_by_label("Run to next exit").click();
    wait(&mut h, "stopped at the first exit", |a| {
        status(a) && guest(a)
    });
    // Standing on the guest instruction that exits: svmtest's first is CPUID.
    h.step();
    let pc = h.state().view.machine.as_ref().unwrap().pc;
    h.get_by_label(&format!("{pc:08x}  cpuid"));
    h.get_by_label_contains("about to run it");
    let ic = h.state().view.machine.as_ref().unwrap().icount;
    h.get_by_label("Step through the handler").click();
    // One step takes the exit (the intercepted CPUID retires nowhere): the hypervisor
    // stands after its VMRUN with the same instruction count.
    wait(&mut h, "in the handler", |a| {
        !guest(a) && a.view.machine.as_ref().unwrap().icount == ic
    });
    h.step();
    // In the CPU panel's VMCB and in the stepper.
    assert!(h.query_all_by_label("EXITCODE").count() >= 2);
    assert!(h.query_all_by_label_contains("CPUID ").count() >= 2);
    // The trapping instruction stays shown beside the exit it caused.
    h.get_by_label(&format!("{pc:08x}  cpuid"));
    h.get_by_label("#VMEXIT CPUID");
    let host_ic = h.state().view.machine.as_ref().unwrap().icount;
    h.get_by_label("Back to the guest").click();
    wait(&mut h, "back in the guest", |a| {
        let m = a.view.machine.as_ref().unwrap();
        m.icount > host_ic && a.view.status == format!("back in the guest at {}", m.icount)
    });
    // Stopped on the guest's next instruction: the hypervisor's VMRUN has run.
    assert!(guest(h.state()));
    let m = h.state().view.machine.clone().unwrap();
    // The guest's RIP is where the last VMRUN entered it.
    let (vmrun_ic, rip) = m
        .events
        .iter()
        .rev()
        .find_map(|e| match e.kind {
            traplab::inspect::EventKind::Vmrun { rip, .. } => Some((e.icount, rip)),
            _ => None,
        })
        .expect("a VMRUN in the events");
    assert_eq!((vmrun_ic + 1, rip), (m.icount, m.cpu.eip));
    // One instruction back: the hypervisor's VMRUN (0F 01 D8), on the host.
    let back_ic = m.icount - 1;
    h.state().send(Command::StepBack);
    wait(&mut h, "one step back", |a| {
        a.view.machine.as_ref().unwrap().icount == back_ic
    });
    assert!(!guest(h.state()));
    let m = h.state().view.machine.clone().unwrap();
    let at = (m.pc - m.code_start) as usize;
    assert_eq!(&m.code.as_ref().unwrap()[at..at + 3], &[0x0f, 0x01, 0xd8]);
}
