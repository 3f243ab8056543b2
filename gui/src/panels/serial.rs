//! Serial panel: the COM1 terminal. Output is what the guest sent; clicking the terminal
//! gives it the keyboard and typed bytes go to the UART's receive queue
//! (`push_serial_input`); a line field sends whole lines. Only the visible lines are drawn.

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText, Sense, Stroke};

#[derive(Default)]
pub struct State {
    pub line: String,
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let r = ui.add(
            egui::TextEdit::singleline(&mut p.serial.line)
                .desired_width(300.0)
                .hint_text("help"),
        );
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button(tr(lang, "send")).clicked() || enter {
            let mut bytes = std::mem::take(&mut p.serial.line).into_bytes();
            bytes.push(b'\n');
            cmds.push(Command::Serial(bytes));
        }
    });
    let id = ui.make_persistent_id("serial-term");
    let out = egui::Frame::new()
        .fill(Color32::from_rgb(10, 10, 10))
        .inner_margin(4.0)
        .show(ui, |ui| {
            // Only the visible lines are laid out: the text is up to 64 KB and changes
            // every frame while the guest prints.
            let lines: Vec<&str> = view.serial.split('\n').collect();
            let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
            egui::ScrollArea::both()
                .stick_to_bottom(true)
                .auto_shrink([false, false])
                .show_rows(ui, row_h, lines.len(), |ui, range| {
                    for line in &lines[range] {
                        ui.add(
                            egui::Label::new(mono(*line).color(Color32::from_rgb(200, 230, 200)))
                                .extend(),
                        );
                    }
                })
                .inner_rect
        });
    // Only the text area takes the keyboard (the frame's own response covers more).
    let term = out.inner;
    let resp = ui.interact(term, id, Sense::click());
    if resp.clicked() {
        resp.request_focus();
    }
    if resp.has_focus() {
        ui.painter().rect_stroke(
            term,
            2.0,
            Stroke::new(2.0, Color32::from_rgb(255, 200, 0)),
            egui::StrokeKind::Inside,
        );
        let chars = super::screen::typed_chars(ui);
        if !chars.is_empty() {
            let s: String = chars.into_iter().collect();
            cmds.push(Command::Serial(s.into_bytes()));
        }
        ui.label(RichText::new(tr(lang, "typing")).color(Color32::from_rgb(255, 200, 0)));
    } else {
        ui.label(RichText::new(tr(lang, "serial_to_guest")).small().weak());
    }
}
