//! The layout a class sees on a projector: zoomed, small and large windows keep the
//! disassembly readable, the tab bar stays put, the current line stays in view, and a
//! lesson's highlights add up over its instructions.

use egui_kittest::kittest::{By, NodeT, Queryable};
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::PanelId;
use traplab_gui::TraplabApp;

fn harness<'a>(image: &str, size: egui::Vec2, zoom: f32, lesson: bool) -> Harness<'a, TraplabApp> {
    let ctx = egui::Context::default();
    let mut app = TraplabApp::new(&ctx, Some(&sample_path(image)));
    app.lang = Lang::En;
    app.lessons.open = lesson;
    let mut h = Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut TraplabApp| app.ui(ui), app);
    let c = h.ctx.clone();
    h.state_mut().set_zoom(&c, zoom);
    h
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

fn icount(a: &TraplabApp) -> u64 {
    a.view.machine.as_ref().map_or(0, |m| m.icount)
}

/// A disassembly line: "=>" or "  ", the breakpoint mark, an 8-digit address, then text.
fn is_line(l: &str) -> bool {
    let b = l.as_bytes();
    l.len() > 13
        && (l.starts_with("  ") || l.starts_with("=>"))
        && b[3] == b' '
        && l[4..12].bytes().all(|c| c.is_ascii_hexdigit())
        && b[12] == b' '
}

/// A widget's text (a button's label, a label's value).
fn text_of(n: &egui_kittest::kittest::AccessKitNode<'_>) -> Option<String> {
    n.label().or_else(|| n.value())
}

/// The disassembly lines drawn wholly inside the listing's visible rectangle, which must
/// lie inside the window and overlap no other panel.
fn visible_lines(h: &Harness<'_, TraplabApp>) -> Vec<(String, egui::Rect)> {
    let l = &h.state().layout;
    let list = l.disasm_list;
    let screen = h.ctx.content_rect();
    assert!(
        screen.expand(1.0).contains_rect(list),
        "listing {list:?} outside the window {screen:?}"
    );
    for other in [l.lesson, l.cpu, l.tabs].into_iter().flatten() {
        assert!(
            other.intersect(list).area() < 1.0,
            "listing {list:?} overlaps {other:?}"
        );
    }
    // Address and mnemonic (the first 20 characters) must be in view; the operands may
    // need the horizontal scroll bar.
    let char_w = h.ctx.global_style().text_styles[&egui::TextStyle::Monospace].size * 0.55;
    h.query_all(By::new().predicate(|n| text_of(n).is_some_and(|s| is_line(&s))))
        .map(|n| (text_of(&n.accesskit_node()).unwrap_or_default(), n.rect()))
        .filter(|(_, r)| {
            r.min.y >= list.min.y - 0.5
                && r.max.y <= list.max.y + 0.5
                && r.min.x >= list.min.x - 0.5
                && r.min.x + 20.0 * char_w <= list.max.x
        })
        .collect()
}

#[test]
fn zoomed_windows_keep_eight_lines_of_disassembly() {
    for (size, zoom, lesson) in [
        (egui::vec2(1280.0, 800.0), 1.0, true),
        (egui::vec2(1280.0, 800.0), 1.5, true),
        (egui::vec2(1280.0, 800.0), 2.0, true),
        (egui::vec2(1280.0, 800.0), 3.0, true),
        (egui::vec2(1024.0, 640.0), 1.0, true),
        (egui::vec2(1024.0, 640.0), 2.0, false),
        (egui::vec2(3840.0, 2160.0), 1.0, true),
        (egui::vec2(3840.0, 2160.0), 3.0, true),
    ] {
        let mut h = harness("samples/minios/minios.elf", size, zoom, lesson);
        wait(&mut h, "loaded", |a| a.view.machine.is_some());
        h.run_steps(3);
        let lines = visible_lines(&h);
        assert!(
            lines.len() >= 8,
            "{size:?} at {zoom}x (lesson {lesson}): {} lines visible: {lines:?}",
            lines.len()
        );
        // Each shows its mnemonic: the listing is at least 24 characters wide.
        let list = h.state().layout.disasm_list;
        let char_w = h.ctx.global_style().text_styles[&egui::TextStyle::Monospace].size * 0.55;
        assert!(
            list.width() > 24.0 * char_w,
            "{size:?} at {zoom}x: listing {} points wide",
            list.width()
        );
    }
}

#[test]
fn the_tab_bar_is_the_same_for_every_tab() {
    for (size, zoom) in [
        (egui::vec2(1600.0, 1000.0), 1.0),
        (egui::vec2(1280.0, 800.0), 2.0),
    ] {
        let mut h = harness("samples/minios/minios.elf", size, zoom, false);
        wait(&mut h, "loaded", |a| a.view.machine.is_some());
        h.run_steps(2);
        let mut bars = Vec::new();
        let mut disasm = Vec::new();
        let tabs: Vec<PanelId> = if h.state().layout.compact {
            std::iter::once(PanelId::Cpu).chain(PanelId::TABS).collect()
        } else {
            PanelId::TABS.to_vec()
        };
        for id in tabs {
            let name = traplab_gui::i18n::tr(Lang::En, id.key());
            if h.state().layout.compact {
                // A narrow column: the tabs are a drop-down list.
                h.get_by_label("Panel").click();
                h.run_steps(2);
                h.get_all_by_label(name).last().unwrap().click();
            } else {
                h.get_by_role_and_label(egui::accesskit::Role::Button, name)
                    .click();
            }
            h.run_steps(3);
            assert_eq!(h.state().panels.tab, id, "clicking {name}");
            bars.push((name, h.state().layout.tabbar));
            disasm.push((name, h.state().layout.disasm_list));
        }
        for w in bars.windows(2) {
            assert_eq!(
                w[0].1, w[1].1,
                "{size:?} {zoom}x: tab bar with {} vs {}: {:?} {:?}",
                w[0].0, w[1].0, w[0].1, w[1].1
            );
        }
        for w in disasm.windows(2) {
            assert_eq!(
                w[0].1, w[1].1,
                "{size:?} {zoom}x: listing with {} vs {}: {:?} {:?}",
                w[0].0, w[1].0, w[0].1, w[1].1
            );
        }
    }
}

#[test]
fn after_step_out_the_current_line_is_in_view() {
    let mut h = harness(
        "samples/minios/minios.elf",
        egui::vec2(1280.0, 800.0),
        2.0,
        true,
    );
    wait(&mut h, "loaded", |a| a.view.machine.is_some());
    let syms = h.state().view.symbols.clone();
    let target = syms.address_of("gdt_init").expect("minios has gdt_init");
    h.state().send(traplab_gui::worker::Command::RunTo(target));
    wait(&mut h, "in gdt_init", |a| {
        !a.view.running && a.view.machine.as_ref().is_some_and(|m| m.pc == target)
    });
    let n = icount(h.state());
    h.get_by_label("Step out").click();
    wait(&mut h, "stepped out", |a| !a.view.running && icount(a) > n);
    h.run_steps(4);
    let pc = h.state().view.machine.as_ref().unwrap().pc;
    let cur: Vec<_> = visible_lines(&h)
        .into_iter()
        .filter(|(l, _)| l.starts_with("=>"))
        .collect();
    assert_eq!(cur.len(), 1, "the current line {pc:#x} is visible");
    assert!(cur[0].0.contains(&format!("{pc:08x}")));
}

#[test]
fn a_lessons_highlights_accumulate_over_its_instructions() {
    let mut h = harness(
        "samples/hello/hello.elf",
        egui::vec2(1400.0, 900.0),
        1.0,
        true,
    );
    wait(&mut h, "loaded", |a| a.view.machine.is_some());
    h.state_mut().lessons.delay = 0.05;
    h.get_by_label("Do it").click();
    wait(&mut h, "boot sector", |a| {
        a.view.image.ends_with("bootsector.img") && !a.lessons.busy()
    });
    assert_eq!(
        h.state().path_text,
        "samples/bootsector/bootsector.img",
        "the path box shows what the lesson loaded, as typed"
    );
    h.get_by_label("Next").click();
    h.run_steps(2);
    h.get_by_label("Do it").click();
    wait(&mut h, "at LGDT", |a| {
        a.view.machine.as_ref().is_some_and(|m| m.pc == 0x7C40) && !a.lessons.busy()
    });
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().lessons.step, 2, "→ goes to the next step");
    let before = icount(h.state());
    h.key_press(egui::Key::Space);
    // Animated: one instruction at a time, not five at once.
    wait(&mut h, "first step", |a| icount(a) > before);
    assert!(
        icount(h.state()) < before + 5,
        "the five steps are played one by one"
    );
    wait(&mut h, "five steps", |a| {
        icount(a) == before + 5 && !a.lessons.busy()
    });
    let m = h.state().view.machine.clone().unwrap();
    let prev = m.prev_cpu.expect("a baseline");
    assert!(m.cpu.control.cr0 & 1 != 0, "CR0.PE");
    assert_ne!(
        prev.gdtr, m.cpu.gdtr,
        "LGDT (the first instruction) still shows"
    );
    assert_ne!(prev.control.cr0, m.cpu.control.cr0, "MOV CR0 shows");
    assert_ne!(prev.seg[1], m.cpu.seg[1], "the far jump's CS shows");
}

#[test]
fn step_over_a_call_that_never_returns_says_so() {
    let mut h = harness(
        "samples/minios/minios.elf",
        egui::vec2(1280.0, 800.0),
        1.0,
        false,
    );
    wait(&mut h, "loaded", |a| a.view.machine.is_some());
    h.run_steps(2);
    assert_eq!(
        h.query_all_by_label_contains("Press Step (F10) or Run (F5)")
            .count(),
        1,
        "the first-screen hint is shown once"
    );
    for n in 1..=5 {
        h.key_press(egui::Key::F10);
        wait(&mut h, "a step (F10)", |a| icount(a) == n);
    }
    assert!(
        h.query_by_label_contains("Press Step (F10)").is_none(),
        "the hint goes once the user acts"
    );
    let pc = h.state().view.machine.as_ref().unwrap().pc;
    assert_eq!(pc, 0x0010_0016, "at `call kmain`");
    h.get_by_label("Step over").click();
    wait(&mut h, "running the call", |a| a.view.pending.is_some());
    h.run_steps(2);
    assert!(h
        .query_all_by_label_contains("Step over: running until the call returns")
        .next()
        .is_some());
    h.key_press(egui::Key::F5);
    wait(&mut h, "paused", |a| !a.view.running);
    h.run_steps(2);
    assert!(h
        .query_by_label_contains("running until the call")
        .is_none());
}
