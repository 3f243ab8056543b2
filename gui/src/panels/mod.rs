//! The panels, one file each. Every panel is a function `ui(ui, state, view, lang, cmds)`
//! that draws from the published `View` and pushes `Command`s; `Panels` keeps their
//! UI-only state (text fields, choices), the selected tab and the lesson highlight.

/// The APICs, drawn inside the devices panel (issue 21).
pub mod apic;
pub mod cpu;
pub mod devices;
pub mod disasm;
pub mod events;
/// Owned by the Linux/x87 work (issue 21); drawn inside the CPU panel.
pub mod fpu;
pub mod memory;
pub mod paging;
pub mod screen;
pub mod serial;
pub mod stats;
pub mod virt;

use crate::i18n::{tr, Lang};
use crate::view::{View, ViewRequest};
use crate::worker::Command;
use egui::{Color32, Stroke};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelId {
    Disassembly,
    Cpu,
    Memory,
    Paging,
    Screen,
    Serial,
    Events,
    Devices,
    Statistics,
    Virtualization,
}

impl PanelId {
    pub const TABS: [PanelId; 8] = [
        PanelId::Screen,
        PanelId::Serial,
        PanelId::Memory,
        PanelId::Paging,
        PanelId::Events,
        PanelId::Devices,
        PanelId::Statistics,
        PanelId::Virtualization,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PanelId::Disassembly => "disassembly",
            PanelId::Cpu => "cpu",
            PanelId::Memory => "memory",
            PanelId::Paging => "paging",
            PanelId::Screen => "screen",
            PanelId::Serial => "serial",
            PanelId::Events => "events",
            PanelId::Devices => "devices",
            PanelId::Statistics => "statistics",
            PanelId::Virtualization => "virtualization",
        }
    }
}

pub struct Panels {
    pub tab: PanelId,
    /// A panel a lesson points at (drawn with a bright frame).
    pub highlight: Option<PanelId>,
    /// What the panels asked the machine thread to publish.
    pub request: ViewRequest,
    pub disasm: disasm::State,
    pub memory: memory::State,
    pub paging: paging::State,
    pub screen: screen::State,
    pub serial: serial::State,
    pub events: events::State,
    pub virt: virt::State,
}

impl Default for Panels {
    fn default() -> Self {
        Panels {
            tab: PanelId::Screen,
            highlight: None,
            request: ViewRequest::default(),
            disasm: Default::default(),
            memory: Default::default(),
            paging: Default::default(),
            screen: Default::default(),
            serial: Default::default(),
            events: Default::default(),
            virt: Default::default(),
        }
    }
}

impl Panels {
    /// Changes the view request and tells the machine thread if it changed.
    pub fn update_request(&mut self, cmds: &mut Vec<Command>, f: impl FnOnce(&mut ViewRequest)) {
        let before = self.request.clone();
        f(&mut self.request);
        if self.request != before {
            cmds.push(Command::SetRequest(self.request.clone()));
        }
    }

    /// Draws `f` with a heading, inside a highlight frame when a lesson points at it.
    pub fn framed(
        &mut self,
        ui: &mut egui::Ui,
        id: PanelId,
        lang: Lang,
        f: impl FnOnce(&mut Panels, &mut egui::Ui),
    ) {
        let lit = self.highlight == Some(id);
        let frame = egui::Frame::new().inner_margin(2.0).stroke(if lit {
            Stroke::new(3.0, Color32::from_rgb(255, 200, 0))
        } else {
            Stroke::NONE
        });
        frame.show(ui, |ui| {
            // Tabs have their name in the tab bar; a small window leaves no room for titles.
            let room = ui.available_height() > 320.0;
            if (id == PanelId::Disassembly || id == PanelId::Cpu) && room && self.tab != id {
                ui.heading(tr(lang, id.key()));
            }
            f(self, ui);
        });
    }

    /// The tab bar and the selected panel, inside the area given (with the CPU as the
    /// first tab when `with_cpu`). The bar is the same for every tab and the panel is
    /// clipped to the area: a tab can never grow it. Returns the tab bar's rectangle.
    pub fn tabs(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        view: &View,
        cmds: &mut Vec<Command>,
        with_cpu: bool,
    ) -> egui::Rect {
        if !with_cpu && self.tab == PanelId::Cpu {
            self.tab = PanelId::Screen;
        }
        // One row whatever the width: buttons when they fit, else a drop-down list.
        let ids: Vec<PanelId> = with_cpu
            .then_some(PanelId::Cpu)
            .into_iter()
            .chain(PanelId::TABS)
            .collect();
        let label = |id: PanelId| {
            let t = egui::RichText::new(tr(lang, id.key()));
            if self.highlight == Some(id) {
                t.color(Color32::from_rgb(255, 200, 0)).strong()
            } else {
                t
            }
        };
        let room = ui.available_width() / (ui.text_style_height(&egui::TextStyle::Button) * 4.2)
            >= ids.len() as f32;
        let bar = ui
            .horizontal(|ui| {
                if room {
                    for &id in &ids {
                        let t = label(id);
                        ui.selectable_value(&mut self.tab, id, t);
                    }
                } else {
                    egui::ComboBox::from_label(tr(lang, "panel"))
                        .selected_text(label(self.tab))
                        .show_ui(ui, |ui| {
                            for &id in &ids {
                                let t = label(id);
                                ui.selectable_value(&mut self.tab, id, t);
                            }
                        });
                }
            })
            .response
            .rect;
        ui.separator();
        let tab = self.tab;
        if tab != PanelId::Virtualization {
            // The Containers view is not shown: stop reading the process tables.
            self.update_request(cmds, |r| r.os_tables = false);
        }
        let area = ui.available_rect_before_wrap();
        let mut child = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(area)
                .layout(egui::Layout::top_down(egui::Align::Min)),
        );
        child.set_clip_rect(area.intersect(ui.clip_rect()));
        self.framed(&mut child, tab, lang, |p, ui| match tab {
            PanelId::Memory => memory::ui(ui, p, view, lang, cmds),
            PanelId::Paging => scrolled(ui, "paging", |ui| paging::ui(ui, p, view, lang, cmds)),
            PanelId::Screen => screen::ui(ui, p, view, lang, cmds),
            PanelId::Serial => serial::ui(ui, p, view, lang, cmds),
            PanelId::Events => events::ui(ui, p, view, lang, cmds),
            PanelId::Devices => scrolled(ui, "devices", |ui| devices::ui(ui, view, lang)),
            PanelId::Statistics => scrolled(ui, "stats", |ui| stats::ui(ui, view, lang)),
            PanelId::Cpu => cpu::ui(ui, p, view, lang, cmds),
            PanelId::Virtualization => virt::ui(ui, p, view, lang, cmds),
            PanelId::Disassembly => {}
        });
        ui.advance_cursor_after_rect(area);
        bar
    }
}

/// `f` in a scroll area that fills the space left.
fn scrolled(ui: &mut egui::Ui, id: &str, f: impl FnOnce(&mut egui::Ui)) {
    egui::ScrollArea::both()
        .id_salt(id)
        .auto_shrink([false, false])
        .show(ui, f);
}

/// Monospace text helper.
pub fn mono(s: impl Into<String>) -> egui::RichText {
    egui::RichText::new(s.into()).monospace()
}

/// Colour for values that changed in the last step.
pub const CHANGED: Color32 = Color32::from_rgb(255, 170, 40);
/// Colour of the current instruction / highlighted rows.
pub const CURRENT_BG: Color32 = Color32::from_rgb(30, 70, 140);
