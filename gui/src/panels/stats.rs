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
    // The counters and the chart side by side while they fit, else one under the other:
    // a long (Spanish) label never runs into the chart.
    ui.horizontal_wrapped(|ui| {
        ui.vertical(|ui| {
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
        });
        ui.vertical(|ui| {
            ui.label(RichText::new(tr(lang, "mips")).strong());
            let runs = runs(&view.mips_history);
            Plot::new("mips")
                .height(200.0)
                .width(ui.available_width().clamp(200.0, 420.0))
                .allow_scroll(false)
                .show(ui, |pui| {
                    for run in runs {
                        let pts: PlotPoints = run.iter().copied().collect();
                        pui.line(Line::new("MIPS", pts));
                    }
                });
        });
    });
}

/// The MIPS samples split where the machine was paused (a gap between samples, taken
/// every quarter second while running): one line per run, no slope across a pause.
pub fn runs(history: &[[f64; 2]]) -> Vec<&[[f64; 2]]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..history.len() {
        if history[i][0] - history[i - 1][0] > 0.75 {
            out.push(&history[start..i]);
            start = i;
        }
    }
    if start < history.len() {
        out.push(&history[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pause_splits_the_chart() {
        let h = [
            [0.0, 100.0],
            [0.25, 110.0],
            [0.5, 105.0],
            [9.0, 90.0],
            [9.25, 95.0],
        ];
        let r = super::runs(&h);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].len(), 3);
        assert_eq!(r[1], &h[3..]);
        assert!(super::runs(&[]).is_empty());
    }
}
