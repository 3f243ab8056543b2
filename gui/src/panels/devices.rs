//! Devices panel: the registers of the PIC pair, the PIT channels and the COM1 UART, and
//! the local and I/O APICs on a machine that has them (`apic`), as the machine thread last
//! published them.

use super::{apic, mono};
use crate::i18n::{tr, Lang};
use crate::view::View;
use egui::RichText;

pub fn ui(ui: &mut egui::Ui, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        return;
    };
    let d = &m.devices;
    // Each table at its own width, side by side while they fit (never over each other).
    ui.horizontal_wrapped(|ui| {
        ui.group(|ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new(tr(lang, "pic")).strong());
                egui::Grid::new("pic").striped(true).show(ui, |ui| {
                    for h in ["", "IRR", "ISR", "IMR", "base"] {
                        ui.label(mono(h));
                    }
                    ui.end_row();
                    for p in &d.pics {
                        ui.label(mono(p.name));
                        ui.label(mono(format!("{:08b}", p.irr)));
                        ui.label(mono(format!("{:08b}", p.isr)));
                        ui.label(mono(format!("{:08b}", p.imr)));
                        ui.label(mono(format!("{:#04x}", p.vector_base)));
                        ui.end_row();
                    }
                });
            });
        });
        ui.group(|ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new(tr(lang, "pit")).strong());
                egui::Grid::new("pit").striped(true).show(ui, |ui| {
                    for h in ["ch", "mode", "reload", "Hz"] {
                        ui.label(mono(h));
                    }
                    ui.end_row();
                    for ch in &d.pit {
                        ui.label(mono(ch.channel.to_string()));
                        ui.label(mono(ch.mode.to_string()));
                        ui.label(mono(ch.reload.to_string()));
                        ui.label(mono(format!("{:.1}", ch.frequency_hz())));
                        ui.end_row();
                    }
                });
            });
        });
        ui.group(|ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new(tr(lang, "uart")).strong());
                egui::Grid::new("uart").striped(true).show(ui, |ui| {
                    let u = &d.uart;
                    let rows = [
                        ("IER", format!("{:#04x}", u.ier)),
                        ("LCR", format!("{:#04x}", u.lcr)),
                        ("MCR", format!("{:#04x}", u.mcr)),
                        ("IIR", format!("{:#04x}", u.iir)),
                        ("divisor", format!("{} ({} baud)", u.divisor, u.baud())),
                        ("FIFO", u.fifo_enabled.to_string()),
                        ("RX", format!("{} + {}", u.rx_len, u.pending_input)),
                    ];
                    for (n, v) in rows {
                        ui.label(mono(n));
                        ui.label(mono(v));
                        ui.end_row();
                    }
                });
            });
        });
    });
    if let Some(a) = &d.apic {
        ui.separator();
        apic::ui(ui, a, lang);
    }
}
