//! What one window frame costs on the CPU while the guest runs flat out (criterion;
//! `cargo bench -p traplab-gui --bench gui_frame`), split the way eframe spends it:
//! building the frame (`TraplabApp::ui`, every visible panel), tessellating its shapes into
//! triangles, and, on the machine thread, publishing one view (`MachineView::capture`).
//! Rasterising (Mesa llvmpipe under Xvfb, or a GPU) is not in here: `TRAPLAB_FPS_REPORT`
//! measures the whole window (see `traplab_gui::fps`).

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};
use traplab::debug::session::Session;
use traplab_gui::app::sample_path;
use traplab_gui::panels::PanelId;
use traplab_gui::view::{EventsCache, MachineView, ViewRequest};
use traplab_gui::worker::{load_bytes, Command};
use traplab_gui::TraplabApp;

fn input() -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    }
}

/// One frame of the app, as eframe runs it (the texture updates are a renderer's job).
fn frame(ctx: &egui::Context, app: &mut TraplabApp) -> egui::FullOutput {
    let mut out = ctx.run_ui(input(), |ui| app.ui(ui));
    out.textures_delta.clear();
    out
}

fn publish(c: &mut Criterion) {
    // minios at its prompt after booting: a full event log, text on the screen.
    let image = std::fs::read(sample_path("samples/minios/minios.elf")).expect("minios");
    let mut s = Session::new(load_bytes(&image).expect("minios boots"));
    s.advance(3_000_000);
    let req = ViewRequest::default();
    let syms = traplab_gui::symbols::Symbols::from_elf(&image);
    let mut g = c.benchmark_group("publish one view");
    g.bench_function("minios, events unchanged", |b| {
        let mut cache = EventsCache::default();
        b.iter(|| MachineView::capture(&s, &req, None, &syms, &mut cache))
    });
    g.bench_function("minios, events changed", |b| {
        b.iter(|| MachineView::capture(&s, &req, None, &syms, &mut EventsCache::default()))
    });
    g.finish();
}

fn frames(c: &mut Criterion) {
    let ctx = egui::Context::default();
    let mut app = TraplabApp::new_with(
        &ctx,
        Some(&sample_path(traplab_gui::fps::DEFAULT_IMAGE)),
        traplab_gui::fps::DEFAULT_CMDLINE,
    );
    app.lang = traplab_gui::i18n::Lang::En;
    app.send(Command::Run);
    let t0 = Instant::now();
    while !app.worker.view().running {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the guest never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut g = c.benchmark_group("ui frame, guest running");
    for tab in [
        PanelId::Screen,
        PanelId::Memory,
        PanelId::Events,
        PanelId::Statistics,
    ] {
        app.panels.tab = tab;
        let mut out = frame(&ctx, &mut app);
        for _ in 0..5 {
            out = frame(&ctx, &mut app);
        }
        g.bench_function(format!("build, {} tab", tab.key()), |b| {
            b.iter(|| frame(&ctx, &mut app))
        });
        let shapes = out.shapes;
        g.bench_function(format!("tessellate, {} tab", tab.key()), |b| {
            b.iter(|| ctx.tessellate(shapes.clone(), 1.0))
        });
    }
    g.finish();
    assert!(app.view.running, "the guest ran during the whole bench");
}

criterion_group!(benches, publish, frames);
criterion_main!(benches);
