//! Devices panel: the registers of the PIC pair, the PIT channels and the COM1 UART, as
//! the machine thread last published them.

use super::mono;
use crate::i18n::{tr, Lang};
use crate::view::View;
use egui::RichText;

pub fn ui(ui: &mut egui::Ui, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        return;
    };
    let d = &m.devices;
    ui.columns(3, |cols| {
        let ui = &mut cols[0];
        ui.label(RichText::new(tr(lang, "pic")).strong());
        egui::Grid::new("pic").striped(true).show(ui, |ui| {
            for h in ["", "IRR", "ISR", "IMR", "base"] {
                ui.label(mono(h));
            }
            ui.end_row();
            for (n, irr, isr, imr, base) in &d.pics {
                ui.label(mono(*n));
                ui.label(mono(format!("{irr:08b}")));
                ui.label(mono(format!("{isr:08b}")));
                ui.label(mono(format!("{imr:08b}")));
                ui.label(mono(format!("{base:#04x}")));
                ui.end_row();
            }
        });
        let ui = &mut cols[1];
        ui.label(RichText::new(tr(lang, "pit")).strong());
        egui::Grid::new("pit").striped(true).show(ui, |ui| {
            for h in ["ch", "mode", "reload", "Hz"] {
                ui.label(mono(h));
            }
            ui.end_row();
            for (i, mode, reload) in &d.pit {
                ui.label(mono(i.to_string()));
                ui.label(mono(mode.to_string()));
                ui.label(mono(reload.to_string()));
                ui.label(mono(format!(
                    "{:.1}",
                    1_193_182.0 / (*reload).max(1) as f64
                )));
                ui.end_row();
            }
        });
        let ui = &mut cols[2];
        ui.label(RichText::new(tr(lang, "uart")).strong());
        egui::Grid::new("uart").striped(true).show(ui, |ui| {
            for (n, v) in &d.uart {
                ui.label(mono(*n));
                ui.label(mono(v));
                ui.end_row();
            }
        });
    });
}
