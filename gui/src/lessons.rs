//! The lesson side panel: scripted demos for the classroom. A lesson is a list of steps,
//! each with markdown text (English and Spanish) and actions (load an image, run to a
//! symbol, step, point at a panel). Owns the lesson data and the player; the actions are
//! ordinary `Command`s, so a lesson can do nothing the toolbar cannot.

use crate::app::sample_path;
use crate::i18n::{tr, Lang};
use crate::panels::{PanelId, Panels};
use crate::view::View;
use crate::worker::Command;
use egui::RichText;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Action {
    /// Load the first of these sample images that boots.
    Load(&'static [&'static str]),
    /// Run until this symbol or address.
    RunTo(&'static str),
    Step(u32),
    StepOut,
    Run,
    Pause,
    /// Point at a panel (and select its tab).
    Highlight(PanelId),
    /// Show this linear address in the paging panel.
    Explain(u32),
    /// Boot the virtualization sample whose menu name starts with this.
    Sample(&'static str),
    /// Show this view of the Hypervisor tab.
    Virt(crate::panels::virt::VirtView),
    /// Walk this guest-virtual address in the nested paging view.
    Nested(u32),
    /// Select this tab (without a highlight).
    Tab(PanelId),
    /// Run this many instructions more, and stop.
    RunFor(u64),
    /// Run to the next switch into the hypervisor (true) or back into the guest (false).
    ToSwitch(bool),
    /// Type this on the serial console (the next action runs the guest to read it).
    Type(&'static str),
    /// Start the comparison (`traplab compare`, reduced) in the comparison chart.
    Compare,
}

pub struct LessonStep {
    pub en: &'static str,
    pub es: &'static str,
    pub actions: &'static [Action],
}

pub struct Lesson {
    pub title_en: &'static str,
    pub title_es: &'static str,
    pub steps: &'static [LessonStep],
}

/// Every lesson: these first, then the virtualization ones (`lessons_virt`).
pub fn all() -> impl Iterator<Item = &'static Lesson> {
    LESSONS.iter().chain(crate::lessons_virt::LESSONS)
}

/// Lesson `i` (the last one past the end).
pub fn lesson_at(i: usize) -> &'static Lesson {
    all().nth(i).or_else(|| all().last()).expect("lessons")
}

pub const LESSONS: &[Lesson] = &[
    Lesson {
        title_en: "From power-on to protected mode",
        title_es: "Del encendido al modo protegido",
        steps: &[
            LessonStep {
                en: "# Power-on\nAt reset an x86 CPU starts in **real mode**: 16-bit code, segments are `selector * 16`, no protection.\n- Press *Do it* to boot the 512-byte boot sector from a disk with the built-in BIOS.\n- Look at the CPU panel: **Mode**, CR0 and the CS hidden cache.",
                es: "# Encendido\nAl arrancar, una CPU x86 está en **modo real**: código de 16 bits, los segmentos son `selector * 16`, sin protección.\n- Pulsa *Hazlo* para arrancar el sector de arranque de 512 bytes desde un disco con la BIOS integrada.\n- Mira el panel de CPU: **Modo**, CR0 y la caché oculta de CS.",
                actions: &[
                    Action::Load(&["samples/bootsector/bootsector.img"]),
                    Action::Highlight(PanelId::Cpu),
                ],
            },
            LessonStep {
                en: "# Real mode\nThe BIOS loaded the boot sector at 0000:7C00 and jumped to it. The code prints with the BIOS (int 10h), enables the A20 line and prepares a **GDT**.\n- *Do it* runs to the LGDT instruction at 0x7C40.\n- CPU panel: CS base = selector * 16, 16-bit segments.",
                es: "# Modo real\nLa BIOS cargó el sector de arranque en 0000:7C00 y saltó a él. El código escribe con la BIOS (int 10h), activa la línea A20 y prepara una **GDT**.\n- *Hazlo* ejecuta hasta la instrucción LGDT en 0x7C40.\n- Panel de CPU: base de CS = selector * 16, segmentos de 16 bits.",
                actions: &[Action::RunTo("0x7c40"), Action::Highlight(PanelId::Cpu)],
            },
            LessonStep {
                en: "# The GDT and CR0.PE\nLGDT loads GDTR (base and limit of the table); MOV CR0 sets **PE = 1**. The CPU is now in protected mode, but CS still holds its real-mode cache until the far jump reloads it from descriptor 0x08: base 0, limit 4 GiB, D = 1 (32-bit code).\n- *Do it* steps five instructions; watch GDTR, CR0 and CS change (highlighted).",
                es: "# La GDT y CR0.PE\nLGDT carga GDTR (base y límite de la tabla); MOV CR0 pone **PE = 1**. La CPU ya está en modo protegido, pero CS conserva su caché de modo real hasta que el salto lejano lo recarga desde el descriptor 0x08: base 0, límite 4 GiB, D = 1 (código de 32 bits).\n- *Hazlo* avanza cinco instrucciones; mira cómo cambian GDTR, CR0 y CS (resaltados).",
                actions: &[Action::Step(5), Action::Highlight(PanelId::Cpu)],
            },
            LessonStep {
                en: "# Running\nRun the machine: the guest writes to the serial port and to the VGA text screen.\n- The Screen tab shows video memory at 0xB8000 decoded as characters.",
                es: "# En marcha\nEjecuta la máquina: el invitado escribe en el puerto serie y en la pantalla de texto VGA.\n- La pestaña Pantalla muestra la memoria de vídeo en 0xB8000 como caracteres.",
                actions: &[Action::Run, Action::Highlight(PanelId::Screen)],
            },
        ],
    },
    Lesson {
        title_en: "A system call, from user mode to the kernel and back",
        title_es: "Una llamada al sistema, de modo usuario al núcleo y vuelta",
        steps: &[
            LessonStep {
                en: "# minios\nLoad the teaching kernel. Its shell runs in **ring 3** and asks the kernel for services with `int $0x80` (EAX = call number, EBX/ECX/EDX = arguments).",
                es: "# minios\nCarga el núcleo didáctico. Su shell corre en el **anillo 3** y pide servicios al núcleo con `int $0x80` (EAX = número de llamada, EBX/ECX/EDX = argumentos).",
                actions: &[Action::Load(&["samples/minios/minios.elf"]), Action::Highlight(PanelId::Disassembly)],
            },
            LessonStep {
                en: "# Into the kernel\n*Do it* runs until the entry stub of vector 0x80 (`isr128`). The IDT gate has DPL 3, so ring 3 may use it. The CPU switched to the kernel stack from the **TSS** (SS0:ESP0) and pushed the user's SS, ESP, EFLAGS, CS and EIP.\n- CPU panel: CPL is now 0.\n- Memory panel: the stack shows the saved user state.",
                es: "# Entrada al núcleo\n*Hazlo* ejecuta hasta la entrada del vector 0x80 (`isr128`). La puerta de la IDT tiene DPL 3, así que el anillo 3 puede usarla. La CPU cambió a la pila del núcleo indicada en la **TSS** (SS0:ESP0) y apiló SS, ESP, EFLAGS, CS y EIP del usuario.\n- Panel de CPU: el CPL ahora es 0.\n- Panel de memoria: la pila muestra el estado guardado del usuario.",
                actions: &[Action::RunTo("isr128"), Action::Highlight(PanelId::Memory)],
            },
            LessonStep {
                en: "# The handler\nThe C handler `syscall_handler` reads the saved registers, does the work and stores the result in the saved EAX.",
                es: "# El manejador\nEl manejador en C `syscall_handler` lee los registros guardados, hace el trabajo y deja el resultado en el EAX guardado.",
                actions: &[Action::RunTo("syscall_handler"), Action::Highlight(PanelId::Disassembly)],
            },
            LessonStep {
                en: "# Back to user mode\n*Do it* steps out of the handler; then use *Step over* until `iret`, and *Step*: IRET pops CS with RPL 3, so the CPU returns to ring 3 and reloads the user stack. The Events tab lists the privilege changes.",
                es: "# Vuelta a modo usuario\n*Hazlo* sale del manejador; luego usa *Saltar llamada* hasta `iret`, y *Paso*: IRET desapila un CS con RPL 3, así que la CPU vuelve al anillo 3 y recarga la pila de usuario. La pestaña Eventos lista los cambios de privilegio.",
                actions: &[Action::StepOut, Action::Highlight(PanelId::Events)],
            },
        ],
    },
];

pub struct LessonPlayer {
    pub open: bool,
    pub lesson: usize,
    pub step: usize,
    /// Seconds between the instructions of a step's "Do it".
    pub delay: f32,
    /// Go on to the next step by itself, `autoplay_delay` seconds after one ends.
    pub autoplay: bool,
    pub autoplay_delay: f32,
    /// Drawn inside a scroll area (a small window).
    pub small: bool,
    /// The actions of "Do it" still to perform, one at a time.
    queue: VecDeque<Action>,
    /// The view seq when the last command went out: the next waits for a newer view of a
    /// paused machine (and for `next_at`).
    wait_seq: Option<u64>,
    next_at: Option<Instant>,
    /// A `RunFor` in progress: the instruction count to pause at, and whether a view has
    /// shown the guest running yet.
    until: Option<(u64, bool)>,
}

impl Default for LessonPlayer {
    fn default() -> Self {
        LessonPlayer {
            open: false,
            lesson: 0,
            step: 0,
            delay: 0.5,
            autoplay: false,
            autoplay_delay: 4.0,
            small: false,
            queue: VecDeque::new(),
            wait_seq: None,
            next_at: None,
            until: None,
        }
    }
}

impl LessonPlayer {
    /// Is a step's "Do it" still being played?
    pub fn busy(&self) -> bool {
        !self.queue.is_empty() || self.wait_seq.is_some() || self.until.is_some()
    }

    /// Starts the current step's actions (stepping instructions one by one).
    pub fn do_it(&mut self, view: &View, cmds: &mut Vec<Command>, panels: &mut Panels) {
        let lesson = lesson_at(self.lesson);
        let step = &lesson.steps[self.step.min(lesson.steps.len() - 1)];
        self.play(step.actions, view, cmds, panels);
    }

    /// Plays these actions as a step's "Do it" does (a lesson's, or `--demo`'s).
    pub fn play(
        &mut self,
        actions: &[Action],
        view: &View,
        cmds: &mut Vec<Command>,
        panels: &mut Panels,
    ) {
        self.queue.clear();
        for a in actions {
            match a {
                Action::Step(n) => self.queue.extend((0..*n).map(|_| Action::Step(1))),
                // What to look at shows at once, while the instructions play.
                Action::Highlight(_) | Action::Explain(_) | Action::Virt(_) | Action::Nested(_) => {
                    perform(a, view, cmds, panels);
                }
                other => self.queue.push_back(other.clone()),
            }
        }
        // Everything this step changes stays highlighted.
        cmds.push(Command::Baseline(true));
        self.next_at = None;
        self.wait_seq = None;
        self.until = None;
    }

    fn go(&mut self, to: usize, cmds: &mut Vec<Command>) {
        let n = lesson_at(self.lesson).steps.len();
        if to < n {
            self.step = to;
            self.queue.clear();
            self.wait_seq = None;
            self.next_at = None;
            self.until = None;
            cmds.push(Command::Baseline(false));
        }
    }

    /// Space: do it; Right: next step; Left: previous step.
    pub fn keys(
        &mut self,
        ctx: &egui::Context,
        view: &View,
        cmds: &mut Vec<Command>,
        panels: &mut Panels,
    ) {
        let (space, right, left) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space),
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowLeft),
            )
        });
        if space {
            self.do_it(view, cmds, panels);
        }
        if right {
            self.go(self.step + 1, cmds);
        }
        if left && self.step > 0 {
            self.go(self.step - 1, cmds);
        }
    }

    /// Performs the next queued action when the machine answered the last one and the
    /// delay passed; moves on by itself in auto-play.
    pub fn tick(
        &mut self,
        ctx: &egui::Context,
        view: &View,
        cmds: &mut Vec<Command>,
        panels: &mut Panels,
    ) {
        let now = Instant::now();
        // RunFor: the guest runs (its output shows as it comes) until the count, or
        // until it stops by itself; then it pauses and the next action waits for that.
        if let Some((target, seen)) = self.until {
            let icount = view.machine.as_ref().map_or(0, |m| m.icount);
            // Views published before the machine thread took `Run` say "not running".
            let stopped = seen && !view.running;
            self.until = Some((target, seen || view.running));
            if icount < target && !stopped {
                ctx.request_repaint_after(Duration::from_millis(20));
                return;
            }
            self.until = None;
            cmds.push(Command::Pause);
            self.wait_seq = Some(view.seq);
            ctx.request_repaint_after(Duration::from_millis(20));
            return;
        }
        if let Some(seq) = self.wait_seq {
            if view.seq <= seq || view.running {
                ctx.request_repaint_after(Duration::from_millis(20));
                return;
            }
            self.wait_seq = None;
            let pause = if self.queue.is_empty() {
                cmds.push(Command::Baseline(false));
                if self.autoplay {
                    self.autoplay_delay
                } else {
                    0.0
                }
            } else {
                self.delay
            };
            self.next_at = Some(now + Duration::from_secs_f32(pause.max(0.0)));
        }
        if let Some(t) = self.next_at {
            if now < t {
                ctx.request_repaint_after(t - now);
                return;
            }
            self.next_at = None;
            if self.queue.is_empty() && self.autoplay {
                let n = lesson_at(self.lesson).steps.len();
                if self.step + 1 < n {
                    self.step += 1;
                    self.do_it(view, cmds, panels);
                } else {
                    self.autoplay = false;
                }
            }
        }
        while let Some(a) = self.queue.pop_front() {
            if let Action::RunFor(n) = a {
                let now = view.machine.as_ref().map_or(0, |m| m.icount);
                cmds.push(Command::Run);
                self.until = Some((now + n, false));
                ctx.request_repaint_after(Duration::from_millis(20));
                return;
            }
            let machine = perform(&a, view, cmds, panels);
            if machine {
                self.wait_seq = Some(view.seq);
                ctx.request_repaint_after(Duration::from_millis(20));
                return;
            }
            if self.queue.is_empty() {
                cmds.push(Command::Baseline(false));
            }
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        view: &View,
        cmds: &mut Vec<Command>,
        panels: &mut Panels,
    ) {
        self.tick(&ui.ctx().clone(), view, cmds, panels);
        // The controls first, in fixed places: the text below does not move them.
        ui.horizontal(|ui| {
            ui.strong(tr(lang, "lessons"));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(tr(lang, "close")).clicked() {
                    self.open = false;
                    panels.highlight = None;
                }
            });
        });
        egui::ComboBox::from_label(tr(lang, "lesson"))
            .width((ui.available_width() - 65.0).max(60.0))
            .selected_text(title(lesson_at(self.lesson), lang))
            .show_ui(ui, |ui| {
                for (i, l) in all().enumerate() {
                    if ui
                        .selectable_label(self.lesson == i, title(l, lang))
                        .clicked()
                    {
                        self.lesson = i;
                        self.go(0, cmds);
                    }
                }
            });
        let lesson = lesson_at(self.lesson);
        let step = &lesson.steps[self.step.min(lesson.steps.len() - 1)];
        let bw = ((ui.available_width() - 16.0) / 3.0).max(40.0);
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(
                    self.step > 0,
                    egui::Button::new(tr(lang, "previous")).min_size(egui::vec2(bw, 0.0)),
                )
                .on_hover_text("←")
                .clicked()
            {
                self.go(self.step - 1, cmds);
            }
            let label = if self.busy() {
                tr(lang, "playing")
            } else {
                tr(lang, "do_it")
            };
            if ui
                .add(egui::Button::new(RichText::new(label).strong()).min_size(egui::vec2(bw, 0.0)))
                .on_hover_text(tr(lang, "space"))
                .clicked()
            {
                self.do_it(view, cmds, panels);
            }
            if ui
                .add_enabled(
                    self.step + 1 < lesson.steps.len(),
                    egui::Button::new(tr(lang, "next")).min_size(egui::vec2(bw, 0.0)),
                )
                .on_hover_text("→")
                .clicked()
            {
                self.go(self.step + 1, cmds);
            }
        });
        ui.horizontal_wrapped(|ui| {
            // Narrow enough for a narrow panel (the slider and its text are one widget).
            ui.spacing_mut().slider_width = (ui.available_width() * 0.3).max(30.0);
            ui.add(
                egui::Slider::new(&mut self.delay, 0.0..=2.0)
                    .step_by(0.1)
                    .text(tr(lang, "seconds_per_instr")),
            );
            ui.checkbox(&mut self.autoplay, tr(lang, "autoplay"));
        });
        ui.label(
            RichText::new(format!(
                "{} {}/{}",
                tr(lang, "lesson"),
                self.step + 1,
                lesson.steps.len()
            ))
            .weak(),
        );
        ui.separator();
        let text = if lang == Lang::Es { step.es } else { step.en };
        if self.small {
            // The whole panel scrolls already.
            markdown(ui, text);
        } else {
            egui::ScrollArea::vertical()
                .id_salt("lesson-text")
                .auto_shrink([false, false])
                .show(ui, |ui| markdown(ui, text));
        }
    }
}

fn title(l: &Lesson, lang: Lang) -> &'static str {
    if lang == Lang::Es {
        l.title_es
    } else {
        l.title_en
    }
}

/// Performs one action; true if it went to the machine (the next one waits for it).
fn perform(a: &Action, view: &View, cmds: &mut Vec<Command>, panels: &mut Panels) -> bool {
    match a {
        Action::Load(paths) => cmds.push(Command::LoadFirst(
            paths.iter().map(|p| sample_path(p)).collect(),
        )),
        Action::RunTo(target) => match view.parse_address(target) {
            Some(addr) => cmds.push(Command::RunTo(addr)),
            None => return false,
        },
        Action::Step(n) => {
            for _ in 0..*n {
                cmds.push(Command::Step);
            }
        }
        Action::StepOut => cmds.push(Command::StepOut),
        // The guest keeps running: nothing to wait for.
        Action::Run => {
            cmds.push(Command::Run);
            return false;
        }
        Action::Pause => cmds.push(Command::Pause),
        Action::Highlight(p) => {
            panels.highlight = Some(*p);
            if PanelId::TABS.contains(p) {
                panels.tab = *p;
            }
        }
        Action::Explain(addr) => {
            let a = *addr;
            panels.update_request(cmds, |r| r.walk_addr = a);
            panels.tab = PanelId::Paging;
        }
        Action::Sample(name) => {
            match crate::app::VIRT_SAMPLES
                .iter()
                .find(|v| v.name.starts_with(name))
            {
                Some(v) => cmds.push(v.command()),
                None => return false,
            }
        }
        Action::Tab(p) => panels.tab = *p,
        Action::Virt(v) => {
            panels.tab = PanelId::Virtualization;
            panels.highlight = Some(PanelId::Virtualization);
            panels.virt.view = *v;
        }
        Action::Nested(addr) => {
            let a = *addr;
            panels.update_request(cmds, |r| r.walk_addr = a);
            panels.tab = PanelId::Virtualization;
            panels.highlight = Some(PanelId::Virtualization);
            panels.virt.view = crate::panels::virt::VirtView::Nested;
        }
        // The player runs and pauses it (`LessonPlayer::tick`).
        Action::RunFor(_) => return false,
        Action::ToSwitch(into) => cmds.push(Command::RunToSwitch(*into)),
        Action::Type(text) => {
            cmds.push(Command::Serial(text.as_bytes().to_vec()));
            return false;
        }
        Action::Compare => {
            panels.virt.compare.requested = true;
            return false;
        }
    }
    !matches!(
        a,
        Action::Highlight(_)
            | Action::Explain(_)
            | Action::Virt(_)
            | Action::Tab(_)
            | Action::Nested(_)
    )
}

/// A small markdown subset: `# heading`, `- bullet`, paragraphs; inline `**strong**`,
/// `*emphasis*` and `` `code` ``. Everything else is shown as written: a `*` with spaces
/// around it (`selector * 16`) is a multiplication, not emphasis.
pub fn markdown(ui: &mut egui::Ui, text: &str) {
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            ui.label(inline(ui, h, true));
        } else if let Some(b) = line.strip_prefix("- ") {
            ui.horizontal_wrapped(|ui| {
                ui.label("•");
                ui.label(inline(ui, b, false));
            });
        } else if line.trim().is_empty() {
            ui.add_space(6.0);
        } else {
            ui.label(inline(ui, line, false));
        }
    }
}

/// The spans of a line: (text, strong, emphasis, code).
pub fn spans(line: &str) -> Vec<(String, bool, bool, bool)> {
    let b = line.as_bytes();
    let mut out: Vec<(String, bool, bool, bool)> = Vec::new();
    let (mut strong, mut em) = (false, false);
    let mut cur = String::new();
    let mut i = 0;
    let flush = |cur: &mut String, out: &mut Vec<_>, s: bool, e: bool, c: bool| {
        if !cur.is_empty() {
            out.push((std::mem::take(cur), s, e, c));
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'`' {
            if let Some(end) = line[i + 1..].find('`') {
                flush(&mut cur, &mut out, strong, em, false);
                out.push((line[i + 1..i + 1 + end].to_string(), strong, em, true));
                i += end + 2;
                continue;
            }
        }
        if c == b'*' {
            let double = b.get(i + 1) == Some(&b'*');
            let n = if double { 2 } else { 1 };
            let before = if i == 0 { b' ' } else { b[i - 1] };
            let after = b.get(i + n).copied().unwrap_or(b' ');
            let open = !after.is_ascii_whitespace();
            let close = !before.is_ascii_whitespace();
            let on = if double { strong } else { em };
            // A marker counts when it touches the text it marks (and, opening, has a
            // matching marker later on the line).
            let toggles = if on {
                close
            } else {
                open && line[i + n..].contains(if double { "**" } else { "*" })
            };
            if toggles {
                flush(&mut cur, &mut out, strong, em, false);
                if double {
                    strong = !strong;
                } else {
                    em = !em;
                }
                i += n;
                continue;
            }
        }
        let ch = line[i..].chars().next().unwrap_or(' ');
        cur.push(ch);
        i += ch.len_utf8();
    }
    flush(&mut cur, &mut out, strong, em, false);
    out
}

fn inline(ui: &egui::Ui, line: &str, heading: bool) -> egui::text::LayoutJob {
    let mut job = egui::text::LayoutJob::default();
    let style = ui.style();
    for (t, strong, em, code) in spans(line) {
        let mut rt = RichText::new(t);
        if heading {
            rt = rt.heading().strong();
        }
        if strong {
            rt = rt.strong();
        }
        if em {
            rt = rt.italics();
        }
        if code {
            rt = rt.code();
        }
        rt.append_to(
            &mut job,
            style,
            egui::FontSelection::Default,
            egui::Align::Center,
        );
    }
    job.wrap = egui::text::TextWrapping::default();
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(line: &str) -> String {
        spans(line).into_iter().map(|s| s.0).collect()
    }

    #[test]
    fn text_is_shown_as_written() {
        assert_eq!(
            plain("segments are `selector * 16`, no protection"),
            "segments are selector * 16, no protection"
        );
        assert_eq!(
            plain("base = selector * 16, 16-bit"),
            "base = selector * 16, 16-bit"
        );
        assert_eq!(
            plain("sets **PE = 1**. Press *Do it*"),
            "sets PE = 1. Press Do it"
        );
        let s = spans("sets **PE = 1** now");
        assert_eq!(s[1], ("PE = 1".to_string(), true, false, false));
        assert_eq!(plain("a * b and c*"), "a * b and c*");
        let first: String = LESSONS[0].steps[0].en.lines().map(plain).collect();
        assert!(first.contains("segments are selector * 16"), "{first}");
    }
}
