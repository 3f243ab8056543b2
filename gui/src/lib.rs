//! Traplab's desktop debugger (egui/eframe): a see-through PC that students step through
//! and instructors project. The machine runs on its own thread (`worker`); the UI sends it
//! `Command`s and draws the `View`s it publishes, one file per panel (`panels`). This crate
//! observes the emulator; stepping, breakpoints and reverse execution live in
//! `traplab::debug::session`.

pub mod app;
pub mod i18n;
pub mod lessons;
pub mod panels;
pub mod symbols;
pub mod view;
pub mod worker;

pub use app::TraplabApp;

/// Command line: `[IMAGE] [--run] [--lesson]`. The image defaults to minios.
pub struct Args {
    pub image: String,
    pub run: bool,
    pub lesson: bool,
}

pub fn parse_args(args: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        image: app::sample_path("samples/minios/minios.elf"),
        run: false,
        lesson: false,
    };
    for s in args {
        match s.as_str() {
            "--run" => a.run = true,
            "--lesson" => a.lesson = true,
            _ => a.image = s,
        }
    }
    a
}

/// Opens the window (`cargo run --release`).
pub fn run() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Traplab")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Traplab",
        options,
        Box::new(move |cc| {
            let mut app = TraplabApp::new(&cc.egui_ctx, Some(&args.image));
            if args.run {
                app.send(worker::Command::Run);
            }
            app.lessons.open = args.lesson;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
