//! FPU section of the CPU panel: the x87 register stack in ST(i) order (physical register,
//! tag, class, value, raw 80 bits), the status word (TOP, condition codes, exception flags)
//! and the control word (precision, rounding, masks) decoded, and the last instruction and
//! operand pointers. Values changed by the last step are highlighted. Reads
//! `CpuState::fpu` only; labels in Spanish and English.

use super::{mono, CHANGED};
use crate::i18n::Lang;
use egui::RichText;
use traplab::inspect::{FpuState, EXCEPTION_BITS, MASK_BITS, STATUS_BITS};

fn t(lang: Lang, es: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Es => es,
        Lang::En => en,
    }
}

fn val(text: String, changed: bool) -> RichText {
    if changed {
        mono(text).color(CHANGED)
    } else {
        mono(text)
    }
}

fn tag_name(lang: Lang, tag: u8) -> &'static str {
    match tag {
        0 => t(lang, "válido", "valid"),
        1 => t(lang, "cero", "zero"),
        2 => t(lang, "especial", "special"),
        _ => t(lang, "vacío", "empty"),
    }
}

/// Precision control (CW bits 8-9), in the panel's language.
fn precision(lang: Lang, cw: u16) -> &'static str {
    match (cw >> 8) & 3 {
        0 => t(lang, "24 bits (simple)", "24 bits (single)"),
        2 => t(lang, "53 bits (doble)", "53 bits (double)"),
        3 => t(lang, "64 bits (extendida)", "64 bits (extended)"),
        _ => t(lang, "reservada", "reserved"),
    }
}

/// Rounding control (CW bits 10-11), in the panel's language.
fn rounding(lang: Lang, cw: u16) -> &'static str {
    match (cw >> 10) & 3 {
        0 => t(lang, "al más cercano", "to nearest"),
        1 => t(lang, "hacia abajo", "down"),
        2 => t(lang, "hacia arriba", "up"),
        _ => t(lang, "hacia cero", "toward zero"),
    }
}

/// The FPU section (a collapsing header, closed by default).
pub fn ui(ui: &mut egui::Ui, f: &FpuState, prev: Option<&FpuState>, lang: Lang) {
    egui::CollapsingHeader::new(RichText::new(t(lang, "FPU x87", "x87 FPU")).strong())
        .id_salt("fpu-section")
        .show(ui, |ui| {
            egui::Grid::new("fpu-stack")
                .num_columns(5)
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        t(lang, "pila", "stack"),
                        t(lang, "etiqueta", "tag"),
                        t(lang, "clase", "class"),
                        t(lang, "valor (aprox.)", "value (approx.)"),
                        t(lang, "80 bits", "80 bits"),
                    ] {
                        ui.label(RichText::new(h).small());
                    }
                    ui.end_row();
                    for (i, r) in f.st.iter().enumerate() {
                        let changed = prev.is_some_and(|p| p.st[i] != *r);
                        ui.label(mono(format!("ST({i}) = R{}", r.phys)));
                        ui.label(val(tag_name(lang, r.tag).to_string(), changed));
                        ui.label(val(r.class.to_string(), changed));
                        let v = if r.tag == 3 {
                            "-".to_string()
                        } else {
                            format!("{:e}", r.approx)
                        };
                        ui.label(val(v, changed));
                        let raw: String =
                            r.bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
                        ui.label(val(raw, changed));
                        ui.end_row();
                    }
                });
            let sw_changed = prev.is_some_and(|p| p.sw != f.sw);
            let cw_changed = prev.is_some_and(|p| p.cw != f.cw);
            let flags = |w: u16, bits: &[(u16, &'static str)]| {
                let v = FpuState::set_bits(w, bits);
                if v.is_empty() {
                    "-".to_string()
                } else {
                    v.join(" ")
                }
            };
            egui::Grid::new("fpu-words").num_columns(2).show(ui, |ui| {
                ui.label(mono("SW"));
                ui.label(val(
                    format!(
                        "{:04x}  TOP={}  {}  {}",
                        f.sw,
                        f.top,
                        flags(f.sw, &STATUS_BITS),
                        flags(f.sw, &EXCEPTION_BITS)
                    ),
                    sw_changed,
                ));
                ui.end_row();
                ui.label(mono("CW"));
                ui.label(val(
                    format!(
                        "{:04x}  {}: {}  {}: {}  {}: {}",
                        f.cw,
                        t(lang, "precisión", "precision"),
                        precision(lang, f.cw),
                        t(lang, "redondeo", "rounding"),
                        rounding(lang, f.cw),
                        t(lang, "máscaras", "masks"),
                        flags(f.cw, &MASK_BITS)
                    ),
                    cw_changed,
                ));
                ui.end_row();
                ui.label(mono("TW"));
                ui.label(val(
                    format!("{:04x}", f.tw),
                    prev.is_some_and(|p| p.tw != f.tw),
                ));
                ui.end_row();
                ui.label(mono(t(lang, "última", "last")));
                ui.label(mono(format!(
                    "FIP {:04x}:{:08x}  FOP {:03x}  FDP {:04x}:{:08x}",
                    f.fcs, f.fip, f.fop, f.fds, f.fdp
                )));
                ui.end_row();
            });
        });
}
