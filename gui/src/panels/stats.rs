//! Statistics panel: instructions, MIPS (with a live chart), exceptions and interrupts by
//! vector, TLB and decode-cache hit rates.

use super::mono;
use crate::i18n::{tr, Lang};
use crate::view::View;
use egui::RichText;
use egui_plot::{Line, Plot, PlotPoints};

fn rate(h: u64, m: u64) -> String {
    if h + m == 0 {
        "-".into()
    } else {
        format!(
            "{:.2}% ({h} / {})",
            100.0 * h as f64 / (h + m) as f64,
            h + m
        )
    }
}

pub fn ui(ui: &mut egui::Ui, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        return;
    };
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        egui::Grid::new("stats").striped(true).show(ui, |ui| {
            ui.label(tr(lang, "instructions"));
            ui.label(mono(m.icount.to_string()));
            ui.end_row();
            ui.label(tr(lang, "mips"));
            ui.label(mono(format!("{:.1}", view.mips)));
            ui.end_row();
            ui.label(tr(lang, "halted_ticks"));
            ui.label(mono(m.counters.halted_ticks.to_string()));
            ui.end_row();
            ui.label(tr(lang, "tlb_hits"));
            ui.label(mono(rate(m.mmu.tlb.hits, m.mmu.tlb.misses)));
            ui.end_row();
            ui.label(tr(lang, "cache_hits"));
            ui.label(mono(rate(m.decode_cache.hits, m.decode_cache.misses)));
            ui.end_row();
            ui.label(tr(lang, "reverse_window"));
            ui.label(mono(format!("{} .. {}", m.oldest, m.icount)));
            ui.end_row();
        });
        ui.separator();
        ui.label(
            RichText::new(format!(
                "{} {}",
                tr(lang, "exceptions"),
                tr(lang, "by_vector")
            ))
            .strong(),
        );
        for (v, n) in m
            .counters
            .exceptions
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            ui.label(mono(format!(
                "{v:>3} {:<4} {n}",
                super::events::vector_name(v as u8)
            )));
        }
        ui.label(
            RichText::new(format!(
                "{} {}",
                tr(lang, "interrupts"),
                tr(lang, "by_vector")
            ))
            .strong(),
        );
        for (v, n) in m
            .counters
            .interrupts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            ui.label(mono(format!("{v:#04x} {n}")));
        }
        let ui = &mut cols[1];
        ui.label(RichText::new(tr(lang, "mips")).strong());
        let pts: PlotPoints = view.mips_history.iter().copied().collect();
        Plot::new("mips")
            .height(200.0)
            .allow_scroll(false)
            .show(ui, |pui| {
                pui.line(Line::new("MIPS", pts));
            });
    });
}
