//! Interaction tests on the real app (egui_kittest): the same `TraplabApp`, machine thread
//! included, driven by clicks on its widgets.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::TraplabApp;

fn harness<'a>(image: &str) -> Harness<'a, TraplabApp> {
    let mut app = TraplabApp::new(&egui::Context::default(), Some(&sample_path(image)));
    app.lang = Lang::En;
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app)
}

/// Runs frames until `cond` holds (the machine thread answers asynchronously).
fn wait(h: &mut Harness<'_, TraplabApp>, what: &str, cond: impl Fn(&TraplabApp) -> bool) {
    let t0 = Instant::now();
    loop {
        h.step();
        if cond(h.state()) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn loaded(h: &mut Harness<'_, TraplabApp>) {
    wait(h, "image loaded", |a| a.view.machine.is_some());
}

fn pc(a: &TraplabApp) -> u32 {
    a.view.machine.as_ref().map_or(0, |m| m.pc)
}

fn icount(a: &TraplabApp) -> u64 {
    a.view.machine.as_ref().map_or(0, |m| m.icount)
}

#[test]
fn starts_paused_at_the_entry_point() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    assert_eq!(pc(h.state()), 0x0010_000c, "hello's _start");
    assert_eq!(icount(h.state()), 0);
    assert!(!h.state().view.running);
    // The disassembly shows the entry with its symbol.
    h.step();
    h.get_by_label_contains("00100012 _start+0x6 ");
}

#[test]
fn step_advances_eip_to_the_next_instruction() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.get_by_label("Step").click();
    wait(&mut h, "one step", |a| icount(a) == 1);
    // cli (1 byte) at 0x10000c, then mov esp at 0x10000d.
    assert_eq!(pc(h.state()), 0x0010_000d);
    h.get_by_label("Step").click();
    wait(&mut h, "two steps", |a| icount(a) == 2);
    assert_eq!(pc(h.state()), 0x0010_0012, "mov esp, imm32 is 5 bytes");
    let m = h.state().view.machine.clone().unwrap();
    assert_eq!(m.cpu.gpr[4], 0x0010_4470, "ESP loaded");
}

#[test]
fn breakpoint_set_by_clicking_stops_a_run_there() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.step();
    // Click the disassembly line of `mov esi, eax` at 0x100012... no: 0x100014 (mov edi, ebx).
    h.get_by_label_contains(" 00100014 ").click();
    wait(&mut h, "breakpoint set", |a| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| m.breakpoints.contains(&0x0010_0014))
    });
    h.get_by_label("Run").click();
    wait(&mut h, "stopped at the breakpoint", |a| {
        !a.view.running && pc(a) == 0x0010_0014
    });
    assert_eq!(icount(h.state()), 3);
    assert!(
        h.state().view.status.contains("breakpoint"),
        "{}",
        h.state().view.status
    );
}

#[test]
fn step_back_restores_the_previous_registers_exactly() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    for n in 1..=4 {
        h.get_by_label("Step").click();
        wait(&mut h, "step", |a| icount(a) == n);
    }
    let before = h.state().view.machine.as_ref().unwrap().cpu.clone();
    for n in 5..=8 {
        h.get_by_label("Step").click();
        wait(&mut h, "step", |a| icount(a) == n);
    }
    assert_ne!(
        h.state().view.machine.as_ref().unwrap().cpu,
        before,
        "the far jump changed CS"
    );
    for n in (4..=7).rev() {
        h.get_by_label("Step back").click();
        wait(&mut h, "step back", |a| icount(a) == n);
    }
    assert_eq!(h.state().view.machine.as_ref().unwrap().cpu, before);
}

#[test]
fn switching_language_changes_the_labels() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.get_by_label("Step");
    assert!(h.query_by_label("Paso").is_none());
    h.get_by_label("Español").click();
    h.step();
    h.step();
    assert_eq!(h.state().lang, Lang::Es);
    h.get_by_label("Paso");
    h.get_by_label("Paso atrás");
    assert!(h.query_by_label("Step").is_none());
    assert!(h.query_by_label("Step back").is_none());
    // And back through the menu.
    h.get_by_label("Idioma").click();
    h.run_steps(3);
    h.get_by_role_and_label(egui::accesskit::Role::RadioButton, "English")
        .click();
    h.run_steps(3);
    assert_eq!(h.state().lang, Lang::En);
    h.get_by_label("Step");
}

#[test]
fn opening_a_bad_file_shows_an_error_and_keeps_the_machine() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.get_by_label("Step").click();
    wait(&mut h, "step", |a| icount(a) == 1);
    let bad = sample_path("Cargo.toml");
    h.state_mut().path_text = bad.clone();
    h.step();
    h.get_by_label("Load").click();
    wait(&mut h, "error shown", |a| a.view.error.is_some());
    h.step();
    h.get_by_label_contains("Error:");
    let a = h.state();
    assert!(a.view.error.as_ref().unwrap().contains("Cargo.toml"));
    assert_eq!(icount(a), 1, "the previous machine stays");
    assert!(a.view.image.ends_with("hello.elf"));
    // A corrupt snapshot too.
    let dir = std::env::temp_dir().join(format!("traplab-gui-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let snap = dir.join("corrupt.snap");
    let mut bytes = b"TRAPSNAP".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(b"not gzip at all");
    std::fs::write(&snap, bytes).unwrap();
    h.state_mut().path_text = snap.to_string_lossy().into_owned();
    h.step();
    h.get_by_label("Load").click();
    wait(&mut h, "snapshot error", |a| {
        a.view.error.as_ref().is_some_and(|e| e.contains("corrupt"))
    });
    assert_eq!(icount(h.state()), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn zoom_and_high_contrast() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Plus);
    h.step();
    assert_eq!(h.state().zoom, 1.25);
    assert_eq!(h.ctx.zoom_factor(), 1.25);
    h.get_by_label("View").click();
    h.run_steps(3);
    h.get_by_label("High contrast").click();
    h.run_steps(3);
    assert!(h.state().high_contrast);
    // The panels' background is the window's clear colour (panels are not filled).
    assert_eq!(h.state().background, egui::Color32::BLACK);
    assert_eq!(
        h.ctx.global_style().visuals.panel_fill,
        egui::Color32::TRANSPARENT
    );
}

#[test]
fn lesson_power_on_to_protected_mode_plays() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    h.get_by_label("Do it").click();
    wait(&mut h, "boot sector loaded", |a| {
        a.view.image.ends_with("bootsector.img") && pc(a) == 0x7C00
    });
    assert!(
        !h.state()
            .view
            .machine
            .as_ref()
            .unwrap()
            .cpu
            .control
            .protection(),
        "real mode"
    );
    h.get_by_label("Next").click();
    h.run_steps(2);
    h.get_by_label("Do it").click();
    wait(&mut h, "at LGDT", |a| pc(a) == 0x7C40 && !a.view.running);
    h.get_by_label("Next").click();
    h.run_steps(2);
    let before = icount(h.state());
    h.get_by_label("Do it").click();
    wait(&mut h, "five steps", |a| icount(a) == before + 5);
    let m = h.state().view.machine.clone().unwrap();
    assert!(m.cpu.control.protection(), "CR0.PE set");
    assert_eq!(m.cpu.seg[1].selector, 0x08, "CS reloaded from the GDT");
    assert!(m.cpu.code32(), "32-bit code segment");
    assert_eq!(m.pc, 0x7C54);
    assert_eq!(
        h.state().panels.highlight,
        Some(traplab_gui::panels::PanelId::Cpu)
    );
}

#[test]
fn breakpoint_on_a_symbol_by_name() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    h.state_mut().panels.disasm.goto = "main".into();
    h.step();
    h.get_by_label("Breakpoint").click();
    let main = h
        .state()
        .view
        .symbols
        .address_of("main")
        .expect("hello has main");
    wait(&mut h, "breakpoint on main", |a| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| m.breakpoints.contains(&main))
    });
    h.get_by_label("Run").click();
    wait(&mut h, "stopped in main", |a| {
        !a.view.running && pc(a) == main
    });
    h.step();
    // The breakpoint list names it; clicking it removes the breakpoint.
    h.get_by_label(&format!("{main:08x} main")).click();
    wait(&mut h, "breakpoint removed", |a| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| m.breakpoints.is_empty())
    });
}

#[test]
fn serial_terminal_talks_to_the_minios_shell() {
    let mut h = harness("samples/minios/minios.elf");
    loaded(&mut h);
    h.get_by_label("Run").click();
    wait(&mut h, "the shell prompt", |a| {
        a.view.serial.contains("minios> ")
    });
    h.get_by_label("Serial").click();
    h.run_steps(2);
    h.state_mut().panels.serial.line = "help".into();
    h.step();
    h.get_by_label("Send").click();
    wait(&mut h, "the help text", |a| {
        a.view.serial.contains("run PROG")
    });
    // The VGA screen shows the same console.
    let screen = h
        .state()
        .view
        .machine
        .as_ref()
        .unwrap()
        .screen
        .to_string_lossy();
    assert!(screen.contains("minios"), "{screen}");
    h.get_by_label("Pause").click();
    wait(&mut h, "paused", |a| !a.view.running);
}

#[test]
fn the_popek_goldberg_box_restarts_the_image_with_the_switch() {
    let mut h = harness("samples/hello/hello.elf");
    loaded(&mut h);
    let pg = |a: &TraplabApp| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| m.cpu.popek_goldberg)
    };
    assert!(!pg(h.state()));
    h.get_by_label("Step").click();
    wait(&mut h, "one step", |a| icount(a) == 1);
    h.get_by_label("Popek-Goldberg CPU").click();
    wait(&mut h, "the switch on", pg);
    assert_eq!(icount(h.state()), 0, "the image restarted");
    h.get_by_label("Español").click();
    h.step();
    h.step();
    h.get_by_label("CPU Popek-Goldberg").click();
    wait(&mut h, "the switch off", |a| !pg(a));
}
