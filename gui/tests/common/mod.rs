//! Helpers shared by the kittest files that drive the real app (machine thread included):
//! a harness on a sample image, waiting for the machine thread, and typing a line into the
//! serial console through the Serial tab's line field; and, for tests that drive a
//! `Session` directly, draining its serial output. Each test file uses only some.
#![allow(dead_code)]

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use traplab::debug::session::Session;
use traplab_gui::app::{sample_path, VirtSample, VIRT_SAMPLES};
use traplab_gui::i18n::Lang;
use traplab_gui::panels::PanelId;
use traplab_gui::TraplabApp;

/// The real app on `image` (a path under the repository), in English, 1400x900.
pub fn app_harness<'a>(image: &str) -> Harness<'a, TraplabApp> {
    let mut app = TraplabApp::new(&egui::Context::default(), Some(&sample_path(image)));
    app.lang = Lang::En;
    app.lessons.delay = 0.0;
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app)
}

/// Runs frames until `cond` holds (the machine thread answers asynchronously); fails after
/// `secs` seconds showing the console.
pub fn wait_for(
    h: &mut Harness<'_, TraplabApp>,
    secs: u64,
    what: &str,
    cond: impl Fn(&TraplabApp) -> bool,
) {
    let t0 = Instant::now();
    loop {
        h.step();
        if cond(h.state()) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for: {what}\n{}",
            h.state().view.serial
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Samples menu's entry whose name starts with `name`.
pub fn virt_sample(name: &str) -> &'static VirtSample {
    VIRT_SAMPLES
        .iter()
        .find(|v| v.name.starts_with(name))
        .unwrap_or_else(|| panic!("no sample named {name}..."))
}

/// Boots a Samples-menu entry, runs it, and waits until `want` is on the console.
pub fn boot_sample(h: &mut Harness<'_, TraplabApp>, name: &str, want: &str) {
    let s = virt_sample(name);
    h.state().send(s.command());
    let image = s.path;
    wait_for(h, 60, "the sample loaded", |a| {
        a.view.image.ends_with(image) && a.view.machine.is_some() && a.view.serial.is_empty()
    });
    h.state().send(traplab_gui::worker::Command::Run);
    wait_for(h, 240, want, |a| a.view.serial.contains(want));
}

/// Types `line` and Enter into the serial console (the Serial tab's line field and its
/// Send button), then waits until the console has printed `until` after it.
pub fn type_line(h: &mut Harness<'_, TraplabApp>, line: &str, until: &str) {
    let before = h.state().view.serial.len();
    h.state_mut().panels.tab = PanelId::Serial;
    h.run_steps(2);
    h.state_mut().panels.serial.line = line.to_string();
    h.get_by_label("Send").click();
    h.run_steps(2);
    wait_for(h, 240, until, |a| {
        a.view.serial.len() >= before
            && a.view
                .serial
                .get(before..)
                .is_some_and(|s| s.contains(until))
    });
}

/// Appends what the guest wrote to its serial port since the last call to `out`.
pub fn drain_serial(s: &mut Session, out: &mut String) {
    out.extend(
        s.m.core
            .dev
            .take_serial_output()
            .into_iter()
            .map(char::from),
    );
}
