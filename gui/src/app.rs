//! The application shell: menu and toolbar, panel layout, keyboard shortcuts (Ctrl +/-
//! zoom, F11 full screen), theme and language, the error banner and the lesson side panel.
//! It turns clicks into `Command`s for the machine thread; it holds no machine state.

use crate::i18n::{tr, Lang};
use crate::lessons::LessonPlayer;
use crate::panels::{self, PanelId, Panels};
use crate::view::View;
use crate::worker::{Command, Worker};
use egui::{Color32, RichText};
use std::sync::Arc;

/// Sample images offered in the Samples menu (paths relative to the repository root).
pub const SAMPLES: &[(&str, &str)] = &[
    ("minios", "samples/minios/minios.elf"),
    ("hello", "samples/hello/hello.elf"),
    (
        "bootsector (BIOS disk boot)",
        "samples/bootsector/bootsector.img",
    ),
    ("bench: intloop", "samples/bench/intloop.elf"),
    ("bench: memloop", "samples/bench/memloop.elf"),
    ("bench: callret", "samples/bench/callret.elf"),
];

/// A virtualization sample: a hypervisor image, its guest as a Multiboot module, and
/// whether the CPU has `--popek-goldberg`.
pub struct VirtSample {
    pub name: &'static str,
    pub path: &'static str,
    pub modules: &'static [&'static str],
    pub cmdline: &'static str,
    pub popek_goldberg: bool,
}

/// The virtualization samples of the Samples menu (those whose files exist are offered).
pub const VIRT_SAMPLES: &[VirtSample] = &[
    VirtSample {
        name: "svmtest (AMD SVM, nested paging)",
        path: "samples/svmtest/svmtest.elf",
        modules: &[],
        cmdline: "",
        popek_goldberg: false,
    },
    VirtSample {
        name: "tevmm + minios (trap-and-emulate)",
        path: "samples/tevmm/tevmm.elf",
        modules: &["samples/minios/minios.elf"],
        cmdline: "",
        popek_goldberg: false,
    },
    VirtSample {
        name: "tevmm + minios, --popek-goldberg",
        path: "samples/tevmm/tevmm.elf",
        modules: &["samples/minios/minios.elf"],
        cmdline: "",
        popek_goldberg: true,
    },
    VirtSample {
        name: "tevmm + minios-pv (paravirtual)",
        path: "samples/tevmm/tevmm.elf",
        modules: &["samples/minios/minios-pv.elf"],
        cmdline: "",
        popek_goldberg: false,
    },
    VirtSample {
        name: "hv1: two minios VMs (type 1, SVM + NPT)",
        path: "samples/hv1/hv1.elf",
        modules: &["samples/minios/minios.elf"],
        cmdline: "vms=2",
        popek_goldberg: false,
    },
    VirtSample {
        name: "hv2: minios runs vmm, minios inside (type 2)",
        path: "samples/minios/minios.elf",
        modules: &["samples/minios/minios.elf"],
        cmdline: "autorun=vmm",
        popek_goldberg: false,
    },
    VirtSample {
        name: "minios with the engine (dockerd at boot)",
        path: "samples/minios/minios.elf",
        modules: &[],
        cmdline: "",
        popek_goldberg: false,
    },
];

impl VirtSample {
    /// The command that boots it (paths resolved like the other samples).
    pub fn command(&self) -> Command {
        Command::LoadSpec(crate::worker::BootSpec {
            path: sample_path(self.path),
            cmdline: self.cmdline.to_string(),
            modules: self.modules.iter().map(|m| sample_path(m)).collect(),
            popek_goldberg: Some(self.popek_goldberg),
            apic: false,
            disk: None,
        })
    }

    /// Its image and modules are where the samples are.
    pub fn available(&self) -> bool {
        std::iter::once(self.path)
            .chain(self.modules.iter().copied())
            .all(|p| std::path::Path::new(&sample_path(p)).is_file())
    }
}

pub use crate::images::sample_path;

/// The command for a path typed in the toolbar: `IMAGE [--initrd FILE] [--disk FILE]
/// [--apic] [--cmdline TEXT]`, the CLI's flags (a Linux kernel's initramfs, the primary
/// master disk, the local and I/O APICs, a Multiboot or Linux command line; the rest of the
/// line after `--cmdline` is the command line). An unknown flag is reported, not loaded.
pub fn typed_load(text: &str) -> Command {
    let text = text.trim();
    let (head, cmdline) = match text.split_once(" --cmdline ") {
        Some((h, c)) => (h.trim(), c.trim()),
        None => (text, ""),
    };
    let mut parts = head.split(" --");
    let path = parts.next().unwrap_or("").trim();
    let mut spec = crate::worker::BootSpec {
        path: path.to_string(),
        cmdline: cmdline.to_string(),
        modules: Vec::new(),
        popek_goldberg: None,
        apic: false,
        disk: None,
    };
    for p in parts {
        let (flag, arg) = p.split_once(' ').unwrap_or((p, ""));
        let arg = arg.trim();
        match (flag, arg.is_empty()) {
            ("initrd", false) => spec.modules = vec![arg.to_string()],
            ("disk", false) => spec.disk = Some(arg.to_string()),
            ("apic", true) => spec.apic = true,
            _ => return Command::ReportError(format!("{text}: not understood at --{p}")),
        }
    }
    if spec.modules.is_empty() && cmdline.is_empty() && spec.disk.is_none() && !spec.apic {
        return Command::Load(path.to_string());
    }
    Command::LoadSpec(spec)
}

/// Where the last frame put each area (in points), for tests and for the layout's own
/// checks.
#[derive(Clone, Debug)]
pub struct Layout {
    pub compact: bool,
    pub top: egui::Rect,
    pub lesson: Option<egui::Rect>,
    pub cpu: Option<egui::Rect>,
    /// The area of the tabs (bottom, or the right column when compact).
    pub tabs: Option<egui::Rect>,
    /// The tab bar itself.
    pub tabbar: egui::Rect,
    pub disasm: egui::Rect,
    /// The visible part of the disassembly listing.
    pub disasm_list: egui::Rect,
}

pub use crate::images::display_path;

fn mono_status(running: bool, pc: Option<u32>, mips: f64) -> RichText {
    let mut s = match pc {
        Some(pc) => format!("EIP {pc:08x}"),
        None => String::new(),
    };
    if running {
        s += &format!(" {mips:.0} MIPS");
    }
    RichText::new(s).monospace()
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            compact: false,
            top: egui::Rect::NOTHING,
            lesson: None,
            cpu: None,
            tabs: None,
            tabbar: egui::Rect::NOTHING,
            disasm: egui::Rect::NOTHING,
            disasm_list: egui::Rect::NOTHING,
        }
    }
}

pub struct TraplabApp {
    pub worker: Worker,
    pub lang: Lang,
    pub high_contrast: bool,
    pub fullscreen: bool,
    pub zoom: f32,
    pub path_text: String,
    pub panels: Panels,
    pub lessons: LessonPlayer,
    pub speed_log: f32,
    pub flat_out: bool,
    /// The latest view (refreshed each frame).
    pub view: Arc<View>,
    /// Frames drawn so far.
    pub frames: u64,
    /// The panels' background colour: what the window is cleared to (`clear_color`).
    pub background: Color32,
    /// The tabs fill the window (F9): a Hypervisor view projected large.
    pub tabs_full: bool,
    /// Actions to play once the first image is loaded (`--demo`, for screenshots).
    pub demo: Option<Vec<crate::lessons::Action>>,
    /// Focus mode (F6): only disassembly, CPU and the lesson.
    pub focus: bool,
    pub layout: Layout,
    /// The user pressed something (the first-screen hint goes away).
    pub acted: bool,
    shown_image: String,
    dismissed_error: Option<String>,
    style_applied: Option<bool>,
}

impl TraplabApp {
    /// A new app whose machine thread loads `image` (if any). `ctx` is used to wake the UI
    /// when the machine thread publishes.
    pub fn new(ctx: &egui::Context, image: Option<&str>) -> TraplabApp {
        TraplabApp::new_with(ctx, image, "")
    }

    /// `new` with a Multiboot command line for `image`.
    pub fn new_with(ctx: &egui::Context, image: Option<&str>, cmdline: &str) -> TraplabApp {
        let c = ctx.clone();
        let worker = Worker::start_with(image, cmdline, Box::new(move || c.request_repaint()));
        TraplabApp {
            worker,
            lang: Lang::from_env(),
            high_contrast: false,
            fullscreen: false,
            zoom: 1.0,
            path_text: image.unwrap_or("").to_string(),
            panels: Panels::default(),
            lessons: LessonPlayer::default(),
            speed_log: 6.0,
            flat_out: true,
            view: Arc::new(View::default()),
            frames: 0,
            background: egui::Visuals::dark().panel_fill,
            focus: false,
            tabs_full: false,
            demo: None,
            layout: Layout::default(),
            acted: false,
            shown_image: String::new(),
            dismissed_error: None,
            style_applied: None,
        }
    }

    pub fn send(&self, c: Command) {
        self.worker.send(c);
    }

    fn t(&self, key: &'static str) -> &'static str {
        tr(self.lang, key)
    }

    /// Draws one frame (called by eframe and by the tests' harness).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.frames += 1;
        self.view = self.worker.view();
        self.apply_style(&ctx);
        let mut cmds: Vec<Command> = Vec::new();
        self.shortcuts(&ctx, &mut cmds);

        let screen = ctx.content_rect();
        let (w, h) = (screen.width(), screen.height());
        // Below this size (in points: the window divided by the zoom) the tabs join the
        // CPU panel in one column and the disassembly takes the whole height.
        let compact = w < 900.0 || h < 560.0;
        self.layout = Layout {
            compact,
            ..Layout::default()
        };
        // Panels are sized by their share of the window each frame, so zooming enlarges
        // the text, not the panels.
        let top = egui::Panel::top("menu").show(ui, |ui| {
            self.menu_bar(ui, &mut cmds, compact);
            self.toolbar(ui, &mut cmds, compact);
            self.error_banner(ui);
        });
        self.layout.top = top.response.rect;
        if self.lessons.open {
            let view = self.view.clone();
            let r = egui::Panel::left("lesson")
                .resizable(false)
                .exact_size(w * if compact { 0.25 } else { 0.24 })
                .show(ui, |ui| {
                    // A small window: the whole lesson scrolls (controls first).
                    self.lessons.small = ui.available_height() < 320.0;
                    if self.lessons.small {
                        egui::ScrollArea::vertical()
                            .id_salt("lesson-all")
                            .auto_shrink([false, false])
                            .show(ui, |ui| {
                                // Text wraps at the panel's width, not at the widest row.
                                let w = ui.available_width();
                                ui.set_max_width(w);
                                self.lessons
                                    .ui(ui, self.lang, &view, &mut cmds, &mut self.panels)
                            });
                    } else {
                        self.lessons
                            .ui(ui, self.lang, &view, &mut cmds, &mut self.panels);
                    }
                });
            self.layout.lesson = Some(r.response.rect);
        }
        if self.view.machine.is_some() {
            if let Some(actions) = self.demo.take() {
                let view = self.view.clone();
                self.lessons
                    .play(&actions, &view, &mut cmds, &mut self.panels);
            }
        }
        if !self.lessons.open && self.lessons.busy() {
            let view = self.view.clone();
            self.lessons.tick(&ctx, &view, &mut cmds, &mut self.panels);
        }
        let view = self.view.clone();
        let lang = self.lang;
        if self.tabs_full {
            let r = egui::CentralPanel::default().show(ui, |ui| {
                self.layout.tabbar = self.panels.tabs(ui, lang, &view, &mut cmds, true);
            });
            self.layout.tabs = Some(r.response.rect);
        } else {
            if compact && !self.focus {
                // One column of tabs: CPU first, then the bottom area's tabs.
                let r = egui::Panel::right("cpu")
                    .resizable(false)
                    .exact_size(w * 0.3)
                    .show(ui, |ui| {
                        self.layout.tabbar = self.panels.tabs(ui, lang, &view, &mut cmds, true);
                    });
                self.layout.tabs = Some(r.response.rect);
            } else {
                let r = egui::Panel::right("cpu")
                    .resizable(false)
                    .exact_size(w * if self.focus { 0.36 } else { 0.32 })
                    .show(ui, |ui| {
                        self.panels.framed(ui, PanelId::Cpu, lang, |p, ui| {
                            panels::cpu::ui(ui, p, &view, lang, &mut cmds)
                        });
                    });
                self.layout.cpu = Some(r.response.rect);
                if !self.focus {
                    let r = egui::Panel::bottom("tabs")
                        .resizable(false)
                        .exact_size(h * 0.36)
                        .show(ui, |ui| {
                            self.layout.tabbar =
                                self.panels.tabs(ui, lang, &view, &mut cmds, false);
                        });
                    self.layout.tabs = Some(r.response.rect);
                }
            }
            let focus = self.focus;
            let margin = if compact { 2 } else { 8 };
            let r = egui::CentralPanel::default()
                .frame(egui::Frame::central_panel(&ctx.global_style()).inner_margin(margin))
                .show(ui, |ui| {
                    self.panels.framed(ui, PanelId::Disassembly, lang, |p, ui| {
                        p.disasm.big_marker = focus;
                        p.disasm.compact = compact;
                        panels::disasm::ui(ui, p, &view, lang, &mut cmds)
                    });
                });
            self.layout.disasm = r.response.rect;
            self.layout.disasm_list = self.panels.disasm.list_rect;
        }
        // The path box shows the image loaded (also by a lesson), as the user would type it.
        if self.view.image != self.shown_image {
            self.shown_image = self.view.image.clone();
            if !self.view.image.is_empty() {
                self.path_text = display_path(&self.view.image);
                ui.ctx()
                    .send_viewport_cmd(egui::ViewportCommand::Title(format!(
                        "Traplab - {}",
                        crate::images::clean_name(&self.view.image)
                    )));
            }
        }
        for c in cmds {
            if !matches!(c, Command::SetRequest(_)) {
                self.acted = true;
            }
            self.send(c);
        }
        // The machine thread wakes the UI with each view (64 a second while running);
        // this keeps a 60 Hz pace should a view be late.
        if self.view.running {
            ctx.request_repaint_after(std::time::Duration::from_millis(16));
        }
    }

    /// True until the user does something on a freshly started machine.
    fn first_screen(&self) -> bool {
        !self.acted && self.view.machine.as_ref().is_some_and(|m| m.icount == 0)
    }

    fn shortcuts(&mut self, ctx: &egui::Context, cmds: &mut Vec<Command>) {
        let (plus, minus) = ctx.input(|i| {
            let cmd = i.modifiers.command;
            (
                cmd && (i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals)),
                cmd && i.key_pressed(egui::Key::Minus),
            )
        });
        if plus {
            self.set_zoom(ctx, self.zoom + 0.25);
        }
        if minus {
            self.set_zoom(ctx, self.zoom - 0.25);
        }
        let pressed = |k: egui::Key, shift: bool| {
            ctx.input(|i| i.key_pressed(k) && i.modifiers.shift == shift)
        };
        if pressed(egui::Key::F11, false) {
            self.toggle_fullscreen(ctx);
        }
        if pressed(egui::Key::F6, false) {
            self.focus = !self.focus;
        }
        if pressed(egui::Key::F9, false) {
            self.tabs_full = !self.tabs_full;
        }
        if pressed(egui::Key::F5, false) {
            cmds.push(if self.view.running {
                Command::Pause
            } else {
                Command::Run
            });
        }
        if pressed(egui::Key::F10, false) {
            cmds.push(Command::Step);
        }
        if pressed(egui::Key::F8, false) {
            cmds.push(Command::StepOver);
        }
        if pressed(egui::Key::F8, true) {
            cmds.push(Command::StepOut);
        }
        if pressed(egui::Key::F7, false) {
            cmds.push(Command::StepBack);
        }
        // The lesson's keys, unless a text field or the guest's screen has the keyboard.
        let typing = ctx.memory(|m| m.focused().is_some());
        if self.lessons.open && !typing {
            self.lessons.keys(ctx, &self.view, cmds, &mut self.panels);
        }
    }

    pub fn set_zoom(&mut self, ctx: &egui::Context, z: f32) {
        self.zoom = z.clamp(0.5, 3.0);
        ctx.set_zoom_factor(self.zoom);
    }

    fn toggle_fullscreen(&mut self, ctx: &egui::Context) {
        self.fullscreen = !self.fullscreen;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(self.fullscreen));
    }

    fn apply_style(&mut self, ctx: &egui::Context) {
        if self.style_applied == Some(self.high_contrast) {
            return;
        }
        self.style_applied = Some(self.high_contrast);
        // Ctrl +/- are ours (0.25 steps up to 3x), not egui's built-in 0.1 steps.
        ctx.options_mut(|o| o.zoom_with_keyboard = false);
        if self.high_contrast {
            let mut v = egui::Visuals::dark();
            v.override_text_color = Some(Color32::WHITE);
            v.panel_fill = Color32::BLACK;
            v.window_fill = Color32::BLACK;
            v.extreme_bg_color = Color32::BLACK;
            v.faint_bg_color = Color32::from_gray(30);
            v.selection.bg_fill = Color32::from_rgb(0, 70, 200);
            v.selection.stroke = egui::Stroke::new(2.0, Color32::YELLOW);
            v.hyperlink_color = Color32::YELLOW;
            for w in [
                &mut v.widgets.noninteractive,
                &mut v.widgets.inactive,
                &mut v.widgets.hovered,
                &mut v.widgets.active,
                &mut v.widgets.open,
            ] {
                w.fg_stroke = egui::Stroke::new(2.0, Color32::WHITE);
                w.bg_stroke = egui::Stroke::new(1.5, Color32::WHITE);
            }
            v.widgets.inactive.bg_fill = Color32::from_gray(20);
            v.widgets.inactive.weak_bg_fill = Color32::from_gray(20);
            v.widgets.hovered.bg_fill = Color32::from_rgb(40, 40, 0);
            v.widgets.hovered.weak_bg_fill = Color32::from_rgb(40, 40, 0);
            self.set_visuals(ctx, v);
        } else {
            self.set_visuals(ctx, egui::Visuals::dark());
        }
    }

    /// Installs `v`, with the panels' background drawn by clearing the window to
    /// `background` instead of by a window-sized rectangle per panel: the same picture, and
    /// a software renderer (Mesa llvmpipe) shades a million fewer pixels per frame.
    fn set_visuals(&mut self, ctx: &egui::Context, mut v: egui::Visuals) {
        self.background = v.panel_fill;
        v.panel_fill = Color32::TRANSPARENT;
        ctx.set_visuals(v);
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>, compact: bool) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button(self.t("file"), |ui| {
                ui.label(self.t("samples"));
                for (name, rel) in SAMPLES {
                    if ui.button(*name).clicked() {
                        cmds.push(Command::Load(sample_path(rel)));
                        ui.close();
                    }
                }
                ui.separator();
                ui.label(self.t("virtualization_samples"));
                for v in VIRT_SAMPLES.iter().filter(|v| v.available()) {
                    if ui.button(v.name).clicked() {
                        cmds.push(v.command());
                        ui.close();
                    }
                }
                if crate::apic_sample::available() {
                    ui.separator();
                    if ui.button(crate::apic_sample::NAME).clicked() {
                        cmds.push(crate::apic_sample::command());
                        ui.close();
                    }
                }
                if crate::linux_sample::available() {
                    ui.separator();
                    if ui.button(crate::linux_sample::NAME).clicked() {
                        cmds.push(
                            crate::linux_sample::command().unwrap_or_else(Command::ReportError),
                        );
                        ui.close();
                    }
                }
                ui.separator();
                if ui.button(self.t("save_snapshot")).clicked() {
                    cmds.push(Command::SaveSnapshot("traplab.snap".into()));
                    ui.close();
                }
            });
            ui.menu_button(self.t("debug"), |ui| {
                for (key, c) in [
                    ("run_key", Command::Run),
                    ("pause_key", Command::Pause),
                    ("step_key", Command::Step),
                    ("step_over_key", Command::StepOver),
                    ("step_out_key", Command::StepOut),
                    ("step_back_key", Command::StepBack),
                    ("reset", Command::Reset),
                ] {
                    if ui.button(self.t(key)).clicked() {
                        cmds.push(c);
                        ui.close();
                    }
                }
            });
            ui.menu_button(self.t("view"), |ui| {
                let ctx = ui.ctx().clone();
                let label = self.t("focus_mode");
                ui.checkbox(&mut self.focus, label);
                let label = self.t("tabs_full");
                ui.checkbox(&mut self.tabs_full, label);
                if ui.button(self.t("zoom_in")).clicked() {
                    self.set_zoom(&ctx, self.zoom + 0.25);
                }
                if ui.button(self.t("zoom_out")).clicked() {
                    self.set_zoom(&ctx, self.zoom - 0.25);
                }
                let label = self.t("high_contrast");
                ui.checkbox(&mut self.high_contrast, label);
                if ui.button(self.t("fullscreen")).clicked() {
                    self.toggle_fullscreen(&ctx);
                }
            });
            ui.menu_button(self.t("language"), |ui| {
                ui.radio_value(&mut self.lang, Lang::En, "English");
                ui.radio_value(&mut self.lang, Lang::Es, "Español");
            });
            if ui.button(self.t("lessons")).clicked() {
                self.lessons.open = !self.lessons.open;
            }
            if compact {
                return;
            }
            ui.separator();
            // Load by typed path (no native file dialog: it would need system libraries).
            ui.label(self.t("path"));
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.path_text)
                    .desired_width(260.0)
                    .hint_text("samples/minios/minios.elf"),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button(self.t("load")).clicked() || enter {
                cmds.push(typed_load(&self.path_text));
            }
            ui.separator();
            ui.label(format!(
                "{}: {}",
                self.t("zoom_in").split(' ').next().unwrap_or(""),
                (self.zoom * 100.0).round()
            ));
        });
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>, compact: bool) {
        let running = self.view.running;
        ui.horizontal_wrapped(|ui| {
            if running {
                if ui.button(self.t("pause")).clicked() {
                    cmds.push(Command::Pause);
                }
            } else if ui.button(self.t("run")).clicked() {
                cmds.push(Command::Run);
            }
            if ui.button(self.t("step")).clicked() {
                cmds.push(Command::Step);
            }
            if ui.button(self.t("step_over")).clicked() {
                cmds.push(Command::StepOver);
            }
            if ui.button(self.t("step_out")).clicked() {
                cmds.push(Command::StepOut);
            }
            if ui.button(self.t("step_back")).clicked() {
                cmds.push(Command::StepBack);
            }
            if !compact && ui.button(self.t("reset")).clicked() {
                cmds.push(Command::Reset);
            }
            if let Some(what) = self.view.pending {
                ui.label(
                    RichText::new(self.t(what))
                        .color(Color32::from_rgb(255, 200, 80))
                        .strong(),
                );
            }
            if self.first_screen() {
                ui.label(
                    RichText::new(self.t("first_hint"))
                        .color(Color32::from_rgb(255, 200, 80))
                        .strong(),
                );
            }
            if compact {
                // The rest is in the menus; a short status.
                let m = self.view.machine.as_ref();
                ui.label(mono_status(running, m.map(|m| m.pc), self.view.mips));
                if !self.view.status.is_empty() {
                    ui.label(
                        RichText::new(&self.view.status).color(Color32::from_rgb(255, 200, 80)),
                    );
                }
                return;
            }
            // "Attach gdb": serve gdb on 127.0.0.1:1234 (gdb -ex 'target remote :1234').
            let mut gdb_on = self.view.gdb.is_some();
            if ui.checkbox(&mut gdb_on, self.t("attach_gdb")).changed() {
                let addr = ([127, 0, 0, 1], crate::gdb_link::DEFAULT_PORT).into();
                cmds.push(Command::AttachGdb(gdb_on.then_some(addr)));
            }
            if let Some(g) = &self.view.gdb {
                ui.label(g.as_str());
            }
            // The hypothetical virtualizable CPU (`traplab run --popek-goldberg`).
            if let Some(m) = self.view.machine.as_ref() {
                let mut pg = m.cpu.popek_goldberg;
                let label = self.t("popek_goldberg");
                if ui
                    .checkbox(&mut pg, label)
                    .on_hover_text(self.t("popek_goldberg_hint"))
                    .changed()
                {
                    cmds.push(Command::SetPopekGoldberg(pg));
                }
            }
            // One click switches the language (the Language menu has both).
            let other = if self.lang == Lang::En {
                (Lang::Es, "Español")
            } else {
                (Lang::En, "English")
            };
            if ui.button(other.1).clicked() {
                self.lang = other.0;
            }
            ui.separator();
            ui.label(self.t("speed"));
            let before = (self.flat_out, self.speed_log);
            let label = self.t("flat_out");
            ui.checkbox(&mut self.flat_out, label);
            if !self.flat_out {
                let ips = self.t("ips");
                ui.add(
                    egui::Slider::new(&mut self.speed_log, 0.0..=8.0)
                        .custom_formatter(|v, _| format!("{:.0}", 10f64.powf(v)))
                        .suffix(format!(" {ips}")),
                );
            }
            if before != (self.flat_out, self.speed_log) {
                let sp = (!self.flat_out)
                    .then(|| 10f64.powf(self.speed_log as f64).round().max(1.0) as u64);
                cmds.push(Command::SetSpeed(sp));
            }
            ui.separator();
            let state = if running {
                self.t("running")
            } else {
                self.t("paused")
            };
            let mut line = format!("{}: {state}", self.t("status"));
            if let Some(m) = &self.view.machine {
                line += &format!(
                    "  |  {} {}  |  EIP {:#010x}",
                    self.t("instructions"),
                    m.icount,
                    m.pc
                );
            }
            if running {
                line += &format!("  |  {:.1} MIPS", self.view.mips);
            }
            ui.label(RichText::new(line).monospace());
            if !self.view.status.is_empty() {
                ui.label(RichText::new(&self.view.status).color(Color32::from_rgb(255, 200, 80)));
            }
        });
    }

    fn error_banner(&mut self, ui: &mut egui::Ui) {
        let Some(err) = self.view.error.clone() else {
            return;
        };
        if self.dismissed_error.as_ref() == Some(&err) {
            return;
        }
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{}: {err}", self.t("error")))
                    .color(Color32::from_rgb(255, 90, 90))
                    .strong(),
            );
            if ui.button(self.t("dismiss")).clicked() {
                self.dismissed_error = Some(err.clone());
            }
        });
    }
}

impl eframe::App for TraplabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        TraplabApp::ui(self, ui);
    }

    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        self.background.to_normalized_gamma_f32()
    }
}
