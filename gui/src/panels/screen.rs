//! Screen panel: the guest's VGA text screen (80x25, 16 colours, cursor). Clicking it gives
//! it the keyboard: typed keys go to the guest's PS/2 keyboard (`inject_ascii_key`).

use super::Panels;
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId, RichText, Sense, Stroke};

#[derive(Default)]
pub struct State {}

/// The 16 CGA/VGA text colours.
pub const PALETTE: [Color32; 16] = [
    Color32::from_rgb(0, 0, 0),
    Color32::from_rgb(0, 0, 170),
    Color32::from_rgb(0, 170, 0),
    Color32::from_rgb(0, 170, 170),
    Color32::from_rgb(170, 0, 0),
    Color32::from_rgb(170, 0, 170),
    Color32::from_rgb(170, 85, 0),
    Color32::from_rgb(170, 170, 170),
    Color32::from_rgb(85, 85, 85),
    Color32::from_rgb(85, 85, 255),
    Color32::from_rgb(85, 255, 85),
    Color32::from_rgb(85, 255, 255),
    Color32::from_rgb(255, 85, 85),
    Color32::from_rgb(255, 85, 255),
    Color32::from_rgb(255, 255, 85),
    Color32::from_rgb(255, 255, 255),
];

/// Characters typed while `focused`, as the guest should receive them.
pub fn typed_chars(ui: &egui::Ui) -> Vec<char> {
    ui.input(|i| {
        let mut out = Vec::new();
        for e in &i.events {
            match e {
                egui::Event::Text(t) => out.extend(t.chars()),
                egui::Event::Key {
                    key, pressed: true, ..
                } => match key {
                    egui::Key::Enter => out.push('\n'),
                    egui::Key::Backspace => out.push('\x08'),
                    egui::Key::Tab => out.push('\t'),
                    egui::Key::Escape => out.push('\x1b'),
                    _ => {}
                },
                _ => {}
            }
        }
        out
    })
}

pub fn ui(ui: &mut egui::Ui, _p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    let Some(m) = &view.machine else {
        return;
    };
    // Fit 80 columns in the panel: lay out at 14 pt, shrink if too wide.
    let layout = |ui: &egui::Ui, size: f32| {
        let font = FontId::monospace(size);
        let mut rows = Vec::with_capacity(25);
        for r in 0..25 {
            // One section per run of equal colours (a few per row, not 80), and no
            // background where it is black: the screen is already black behind the text.
            let mut job = LayoutJob::default();
            let mut run = String::new();
            let mut attr = (m.cell(r, 0).fg & 15, m.cell(r, 0).bg & 7);
            let flush = |job: &mut LayoutJob, run: &mut String, (fg, bg): (u8, u8)| {
                let background = if bg == 0 {
                    Color32::TRANSPARENT
                } else {
                    PALETTE[bg as usize]
                };
                let format = TextFormat {
                    font_id: font.clone(),
                    color: PALETTE[fg as usize],
                    background,
                    ..Default::default()
                };
                job.append(run, 0.0, format);
                run.clear();
            };
            for c in 0..80 {
                let cell = m.cell(r, c);
                let a = (cell.fg & 15, cell.bg & 7);
                if a != attr {
                    flush(&mut job, &mut run, attr);
                    attr = a;
                }
                run.push(traplab::devices::vga::cp437_to_char(cell.ch));
            }
            flush(&mut job, &mut run, attr);
            rows.push(ui.fonts_mut(|f| f.layout_job(job)));
        }
        rows
    };
    let mut rows = layout(ui, 14.0);
    let avail = ui.available_width() - 10.0;
    let w0 = rows.iter().map(|g| g.size().x).fold(0.0, f32::max);
    if w0 > avail && avail > 100.0 {
        rows = layout(ui, (14.0 * avail / w0).max(6.0));
    }
    let w = rows.iter().map(|g| g.size().x).fold(0.0, f32::max);
    let h = rows.first().map_or(16.0, |g| g.size().y);
    let id = ui.make_persistent_id("vga-screen");
    let (rect, _) = ui.allocate_exact_size(egui::vec2(w + 8.0, h * 25.0 + 8.0), Sense::click());
    let resp = ui.interact(rect, id, Sense::click());
    if resp.clicked() {
        resp.request_focus();
    }
    let focused = resp.has_focus();
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::BLACK);
    let origin = rect.min + egui::vec2(4.0, 4.0);
    for (r, g) in rows.into_iter().enumerate() {
        painter.galley(origin + egui::vec2(0.0, r as f32 * h), g, Color32::WHITE);
    }
    let (crow, ccol) = (m.cursor.row, m.cursor.col);
    if m.cursor.visible && (crow as usize) < 25 && (ccol as usize) < 80 {
        let cw = w / 80.0;
        let p = origin + egui::vec2(ccol as f32 * cw, crow as f32 * h + h - 3.0);
        painter.rect_filled(
            egui::Rect::from_min_size(p, egui::vec2(cw, 2.0)),
            0.0,
            Color32::LIGHT_GRAY,
        );
    }
    if focused {
        painter.rect_stroke(
            rect,
            2.0,
            Stroke::new(2.0, Color32::from_rgb(255, 200, 0)),
            egui::StrokeKind::Inside,
        );
        ui.memory_mut(|mem| {
            mem.set_focus_lock_filter(
                id,
                egui::EventFilter {
                    tab: true,
                    horizontal_arrows: true,
                    vertical_arrows: true,
                    escape: true,
                },
            )
        });
        for ch in typed_chars(ui) {
            cmds.push(Command::Key(ch));
        }
        ui.label(RichText::new(tr(lang, "typing")).color(Color32::from_rgb(255, 200, 0)));
    } else {
        ui.label(RichText::new(tr(lang, "keyboard_to_guest")).small().weak());
    }
}
