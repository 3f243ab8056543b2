//! The virtualization lessons played in the real app (egui_kittest, machine thread
//! included): "Why x86 was not virtualizable" end to end, step by step with "Do it" and
//! "Next", checked on what the guest prints (pgcheck's verdict under tevmm, then under the
//! --popek-goldberg CPU) and on the view each step shows; the other lessons' first steps
//! load what they say and open their view.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::lessons;
use traplab_gui::panels::virt::VirtView;
use traplab_gui::panels::PanelId;
use traplab_gui::TraplabApp;

fn harness<'a>() -> Harness<'a, TraplabApp> {
    let image = sample_path("samples/minios/minios.elf");
    let mut app = TraplabApp::new(&egui::Context::default(), Some(&image));
    app.lang = Lang::En;
    app.lessons.delay = 0.0;
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app)
}

fn wait(h: &mut Harness<'_, TraplabApp>, what: &str, cond: impl Fn(&TraplabApp) -> bool) {
    let t0 = Instant::now();
    loop {
        h.step();
        if cond(h.state()) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(240),
            "timed out waiting for: {what}\n{}",
            h.state().view.serial
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lesson_index(title: &str) -> usize {
    lessons::all()
        .position(|l| l.title_en.starts_with(title))
        .unwrap_or_else(|| panic!("a lesson {title}"))
}

/// Opens the lesson panel on lesson `i`.
fn open(h: &mut Harness<'_, TraplabApp>, i: usize) {
    wait(h, "minios loaded", |a| a.view.machine.is_some());
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    h.state_mut().lessons.lesson = i;
    h.state_mut().lessons.step = 0;
    h.run_steps(2);
}

/// "Do it" and wait until the step's actions are over.
fn do_it(h: &mut Harness<'_, TraplabApp>, what: &str) {
    h.get_by_label("Do it").click();
    h.run_steps(2);
    wait(h, what, |a| !a.lessons.busy() && !a.view.running);
}

fn next(h: &mut Harness<'_, TraplabApp>) {
    h.get_by_label("Next").click();
    h.run_steps(2);
}

#[test]
fn why_x86_was_not_virtualizable_plays_end_to_end() {
    let mut h = harness();
    open(&mut h, lesson_index("Why x86 was not virtualizable"));
    h.get_by_label_contains("Trap-and-emulate without SVM");
    do_it(&mut h, "tevmm + minios up");
    let a = h.state();
    assert!(
        a.view.image.ends_with("tevmm/tevmm.elf"),
        "{}",
        a.view.image
    );
    assert!(a.view.serial.contains("minios> "), "{}", a.view.serial);
    assert_eq!(a.panels.tab, PanelId::Virtualization);
    assert_eq!(a.panels.virt.view, VirtView::Ledger);
    h.get_by_label("#GP trap");

    next(&mut h);
    do_it(&mut h, "pgcheck under tevmm");
    assert!(
        h.state()
            .view
            .serial
            .contains("pgcheck: 11 of 15 checks differ from ring 0"),
        "{}",
        h.state().view.serial
    );
    assert_eq!(h.state().panels.tab, PanelId::Serial);

    next(&mut h);
    do_it(&mut h, "pgcheck under the --popek-goldberg CPU");
    let serial = h.state().view.serial.clone();
    assert!(
        serial.contains("pgcheck: 0 of 15 checks differ from ring 0"),
        "{serial}"
    );
    assert!(!serial.contains("11 of 15"), "a fresh machine: {serial}");

    next(&mut h);
    do_it(&mut h, "the ledger");
    assert_eq!(h.state().panels.virt.view, VirtView::Ledger);
    h.get_by_label("#GP trap");
    assert_eq!(
        h.state().lessons.step + 1,
        lessons::lesson_at(h.state().lessons.lesson).steps.len()
    );
}

#[test]
fn type_1_against_type_2_shows_each_architecture() {
    let mut h = harness();
    open(&mut h, lesson_index("Type 1 against type 2"));
    do_it(&mut h, "hv1 through one exit");
    assert!(h.state().view.image.ends_with("hv1/hv1.elf"));
    assert_eq!(h.state().panels.virt.view, VirtView::Arch);
    h.get_by_label("This machine: type 1 hypervisor (SVM)");
    h.get_by_label_contains("Last exit: #VMEXIT ");
    next(&mut h);
    do_it(&mut h, "hv2 up");
    assert!(h
        .state()
        .view
        .serial
        .contains("vmm: vm 1: /boot/minios.elf"));
    h.get_by_label("This machine: type 2 hypervisor (SVM, a host OS and a VMM process)");
}

#[test]
fn a_container_is_a_process_shows_pid_1_inside() {
    let mut h = harness();
    open(&mut h, lesson_index("A container is a process"));
    do_it(&mut h, "hello twice");
    let serial = h.state().view.serial.clone();
    let inside = serial
        .find("docker run --name first box hello")
        .expect(&serial);
    assert!(
        serial[inside..].contains("Hello from user space! I am process 1."),
        "{serial}"
    );
    assert!(!serial[..inside].contains("I am process 1."), "{serial}");

    // A container that stays, seen in the Containers view from the kernel's tables.
    next(&mut h);
    do_it(&mut h, "web started");
    assert_eq!(h.state().panels.virt.view, VirtView::Containers);
    wait(&mut h, "the tables read", |a| {
        a.view.machine.as_ref().is_some_and(|m| m.os_host.is_some())
    });
    h.run_steps(2);
    h.get_by_label("Container web");
    h.get_by_label_contains("PID 1 = host PID ");
}
