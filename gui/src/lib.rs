//! Traplab's desktop debugger (egui/eframe): a see-through PC that students step through
//! and instructors project. The machine runs on its own thread (`worker`); the UI sends it
//! `Command`s and draws the `View`s it publishes, one file per panel (`panels`). This crate
//! observes the emulator; stepping, breakpoints and reverse execution live in
//! `traplab::debug::session`.

pub mod apic_sample;
pub mod app;
pub mod demo;
pub mod fps;
pub mod gdb_link;
pub mod i18n;
pub mod i18n_virt;
pub mod images;
pub mod lessons;
pub mod lessons_virt;
pub mod linux_sample;
pub mod minios_tables;
pub mod panels;
pub mod switch_goal;
pub mod symbols;
pub mod view;
pub mod worker;

pub use app::TraplabApp;

/// Command line: `[IMAGE] [--run] [--lesson] [--zoom F] [--cmdline TEXT]`. The image defaults to
/// minios; `--cmdline` is its Multiboot command line.
pub struct Args {
    pub image: String,
    /// The image was named on the command line.
    pub image_given: bool,
    pub cmdline: String,
    pub run: bool,
    pub lesson: bool,
    /// `--zoom F`: the starting zoom (1 = 100%).
    pub zoom: f32,
    /// `--demo SCRIPT`: lesson actions played at start (`demo`).
    pub demo: Option<String>,
    /// `--shot FILE`: when the demo is over, save the window as PNG and quit.
    pub shot: Option<String>,
    /// `--lang es|en`.
    pub lang: Option<i18n::Lang>,
    /// `--tabs-full`: the tabs fill the window (F9).
    pub tabs_full: bool,
}

pub fn parse_args(args: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        image: images::default_image(),
        image_given: false,
        cmdline: String::new(),
        run: false,
        lesson: false,
        zoom: 1.0,
        demo: None,
        shot: None,
        lang: None,
        tabs_full: false,
    };
    let mut args = args;
    while let Some(s) = args.next() {
        match s.as_str() {
            "--run" => a.run = true,
            "--lesson" => a.lesson = true,
            "--cmdline" => a.cmdline = args.next().unwrap_or_default(),
            "--demo" => a.demo = args.next(),
            "--shot" => a.shot = args.next(),
            "--tabs-full" => a.tabs_full = true,
            "--lang" => {
                a.lang = match args.next().as_deref() {
                    Some("es") => Some(i18n::Lang::Es),
                    Some("en") => Some(i18n::Lang::En),
                    _ => None,
                }
            }
            "--zoom" => {
                a.zoom = args
                    .next()
                    .and_then(|z| z.parse().ok())
                    .filter(|z: &f32| (0.5..=3.0).contains(z))
                    .unwrap_or(1.0)
            }
            _ => {
                a.image = s;
                a.image_given = true;
            }
        }
    }
    a
}

/// Mesa's software renderer (llvmpipe: no GPU, or Xvfb) shades pixels on one thread per
/// core by default, which takes the machine thread's core while the guest runs flat out.
/// Unless the user chose (`LP_NUM_THREADS` set), leave one core to the machine thread and
/// one to the UI thread: with 2 cores llvmpipe renders on the UI thread itself. Must run
/// before any thread starts; it only affects Mesa's software renderers.
fn software_renderer_threads() {
    if std::env::var_os("LP_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("LP_NUM_THREADS", cores.saturating_sub(2).to_string());
    }
}

/// The app as eframe drives it, with the frame meter of `TRAPLAB_FPS_REPORT` when asked.
struct Window {
    app: TraplabApp,
    /// `--shot`: where to save, and the frames drawn since the demo ended.
    shot: Option<(String, u32)>,
    /// The screenshot was saved (set by its callback).
    shot_done: std::sync::Arc<std::sync::Mutex<bool>>,
    meter: Option<fps::FpsMeter>,
    headless_mips: Option<fps::Headless>,
}

impl eframe::App for Window {
    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        self.app.background.to_normalized_gamma_f32()
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t0 = std::time::Instant::now();
        self.app.ui(ui);
        self.shot(ui.ctx());
        let Some(meter) = self.meter.as_mut() else {
            return;
        };
        if let Some(r) = meter.frame(&self.app.view, t0.elapsed(), frame.info().cpu_usage) {
            print!("{}", r.text(self.headless_mips));
            use std::io::Write;
            let _ = std::io::stdout().flush();
            self.meter = None;
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

/// Opens the window (`cargo run --release`). With `TRAPLAB_FPS_REPORT=SECONDS` set, first
/// measures the guest headless for up to 5 s, then runs it in the window, prints frames
/// per second and guest MIPS, and exits (`fps`).
impl Window {
    /// `--shot`: once the demo is over and the machine and the comparison are idle, a few
    /// frames more (the layout settles), then a screenshot; when it arrives, save and quit.
    fn shot(&mut self, ctx: &egui::Context) {
        let Some((path, frames)) = self.shot.as_mut() else {
            return;
        };
        let done = self.shot_done.lock().map(|d| *d).unwrap_or(false);
        if done {
            self.shot = None;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        let a = &self.app;
        let idle = a.demo.is_none()
            && !a.lessons.busy()
            && !a.view.running
            && !a.panels.virt.compare.running()
            && !a.panels.virt.compare.requested;
        if !idle {
            *frames = 0;
        } else {
            *frames += 1;
            if *frames == 30 {
                let (path, done, c) = (path.clone(), self.shot_done.clone(), ctx.clone());
                ctx.request_screenshot(move |image| {
                    if let Err(e) = demo::save_png(&path, &image) {
                        eprintln!("traplab-gui: {e}");
                    }
                    if let Ok(mut d) = done.lock() {
                        *d = true;
                    }
                    c.request_repaint();
                });
            }
        }
        ctx.request_repaint();
    }
}

pub fn run() -> anyhow::Result<()> {
    let mut args = parse_args(std::env::args().skip(1));
    let demo = match args.demo.as_deref().map(demo::parse) {
        Some(Err(e)) => anyhow::bail!("{e}"),
        Some(Ok(v)) => Some(v),
        None => None,
    };
    software_renderer_threads();
    let fps_seconds = fps::seconds_from_env();
    let mut headless_mips = None;
    if let Some(secs) = fps_seconds {
        if !args.image_given {
            args.image = app::sample_path(fps::DEFAULT_IMAGE);
            args.cmdline = fps::DEFAULT_CMDLINE.to_string();
            if !std::path::Path::new(&args.image).is_file() {
                // Away from the samples: the embedded minios's CPU-bound demo.
                args.image = images::BUILTIN_MINIOS.to_string();
                args.cmdline = "autorun=cpu".to_string();
            }
        }
        args.run = true;
        let bytes =
            images::read(&args.image).map_err(|e| anyhow::anyhow!("{}: {e}", args.image))?;
        let h = fps::headless_mips(&bytes, &args.cmdline, secs.min(5.0))
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.image))?;
        println!(
            "measuring {} {:?} for {secs} s; headless {:.1} MIPS",
            images::clean_name(&args.image),
            args.cmdline,
            h.mips
        );
        headless_mips = Some(h);
    }
    let options = eframe::NativeOptions {
        // Dithering hides banding in gradients; the window has none, and in Mesa's software
        // renderer the noise costs about a third of the time per pixel.
        dithering: false,
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
            let mut app = TraplabApp::new_with(&cc.egui_ctx, Some(&args.image), &args.cmdline);
            if args.run {
                app.send(worker::Command::Run);
            }
            app.lessons.open = args.lesson;
            app.set_zoom(&cc.egui_ctx, args.zoom);
            app.demo = demo;
            app.tabs_full = args.tabs_full;
            if let Some(l) = args.lang {
                app.lang = l;
            }
            Ok(Box::new(Window {
                shot: args.shot.map(|p| (p, 0)),
                shot_done: Default::default(),
                app,
                meter: fps_seconds.map(fps::FpsMeter::new),
                headless_mips,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
