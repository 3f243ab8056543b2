//! The APICs in the devices panel, on a machine built with them (`--apic`): the local APIC
//! (ID, version, base and enable, TPR and PPR, the vectors in ISR/IRR/TMR, the spurious
//! vector and software enable, the LVT with the timer's mode, vector and mask, the divide
//! register, initial and current count; Intel SDM Vol. 3A 11.4-11.9) and the I/O APIC (ID,
//! version and the redirection table decoded: vector, delivery mode, destination, trigger,
//! polarity, mask, remote IRR; 82093AA datasheet 3.2.4). Reads `DeviceRegs::apic` only;
//! labels in Spanish and English.

use super::mono;
use crate::i18n::{tr, Lang};
use egui::RichText;
use traplab::inspect::{ApicRegs, IoApicRegs, LapicRegs, LvtEntry, RedirEntry};

fn t(lang: Lang, es: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Es => es,
        Lang::En => en,
    }
}

/// Vectors of a 256-bit register, `-` when none is set.
fn vectors(v: &[u8]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter()
            .map(|v| format!("{v:#04x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn masked(lang: Lang, m: bool) -> &'static str {
    if m {
        t(lang, "enmascarada", "masked")
    } else {
        t(lang, "activa", "unmasked")
    }
}

/// One LVT entry: `mode, vector 0xNN, masked` (the timer's mode first).
fn lvt_text(lang: Lang, e: &LvtEntry, periodic: Option<bool>) -> String {
    let mut s = String::new();
    if let Some(p) = periodic {
        s.push_str(if p {
            t(lang, "periódico, ", "periodic, ")
        } else {
            t(lang, "un disparo, ", "one-shot, ")
        });
    }
    if e.mode != "fixed" {
        s.push_str(e.mode);
        s.push_str(", ");
    }
    s.push_str(&format!(
        "{} {:#04x}, {}",
        t(lang, "vector", "vector"),
        e.vector,
        masked(lang, e.masked)
    ));
    s
}

/// The local APIC's rows: (label, value).
pub fn lapic_rows(l: &LapicRegs, lang: Lang) -> Vec<(String, String)> {
    let mut rows = vec![
        ("ID".to_string(), l.id.to_string()),
        (
            t(lang, "versión", "version").into(),
            format!("{:#010x}", l.version),
        ),
        (
            "IA32_APIC_BASE".into(),
            format!(
                "{:#010x}, {}",
                l.base,
                if l.enabled {
                    t(lang, "habilitado", "enabled")
                } else {
                    t(lang, "deshabilitado", "disabled")
                }
            ),
        ),
        ("TPR".into(), format!("{:#04x}", l.tpr)),
        ("PPR".into(), format!("{:#04x}", l.ppr)),
        ("ISR".into(), vectors(&l.isr)),
        ("IRR".into(), vectors(&l.irr)),
        ("TMR".into(), vectors(&l.tmr)),
        (
            "SVR".into(),
            format!(
                "{} {:#04x}, {}",
                t(lang, "espuria", "spurious"),
                l.spurious_vector,
                if l.software_enabled {
                    t(lang, "APIC activo", "APIC enabled")
                } else {
                    t(
                        lang,
                        "APIC desactivado por software",
                        "APIC software-disabled",
                    )
                }
            ),
        ),
        ("ESR".into(), format!("{:#04x}", l.esr)),
    ];
    for (k, e) in l.lvt.iter().enumerate() {
        let periodic = (k == 0).then_some(l.timer_periodic);
        rows.push((format!("LVT {}", e.name), lvt_text(lang, e, periodic)));
    }
    rows.extend([
        (
            t(lang, "divisor", "divide").to_string(),
            format!("/{} ({:#x})", l.divisor, l.divide_config),
        ),
        (
            t(lang, "cuenta inicial", "initial count").to_string(),
            l.initial_count.to_string(),
        ),
        (
            t(lang, "cuenta actual", "current count").to_string(),
            l.current_count.to_string(),
        ),
        (
            t(lang, "disparos del temporizador", "timer expiries").to_string(),
            l.timer_fired.to_string(),
        ),
    ]);
    rows
}

/// The ISA IRQ the MP table assigns to an I/O APIC pin (`boot::mp`): the 8259's INTR on
/// pin 0, IRQ0 on pin 2, IRQ n on pin n for the other ISA lines.
fn source(pin: u8) -> String {
    match pin {
        0 => "8259".into(),
        2 => "IRQ0".into(),
        1 | 3..=15 => format!("IRQ{pin}"),
        _ => "-".into(),
    }
}

/// Column headers of the redirection table.
pub fn redir_headers(lang: Lang) -> [&'static str; 9] {
    [
        t(lang, "pin", "pin"),
        t(lang, "origen", "source"),
        "vector",
        t(lang, "entrega", "delivery"),
        t(lang, "destino", "destination"),
        t(lang, "disparo", "trigger"),
        t(lang, "máscara", "mask"),
        "remote IRR",
        t(lang, "enviadas", "sent"),
    ]
}

/// One redirection entry's cells, in `redir_headers`' order.
pub fn redir_cells(e: &RedirEntry, lang: Lang) -> [String; 9] {
    let trigger = if e.level {
        t(lang, "nivel", "level")
    } else {
        t(lang, "flanco", "edge")
    };
    let polarity = if e.active_low {
        t(lang, "bajo", "low")
    } else {
        t(lang, "alto", "high")
    };
    [
        e.pin.to_string(),
        source(e.pin),
        format!("{:#04x}", e.vector),
        e.mode.to_string(),
        format!(
            "{} {}",
            if e.logical {
                t(lang, "lógico", "logical")
            } else {
                t(lang, "físico", "physical")
            },
            e.dest
        ),
        format!("{trigger}, {polarity}"),
        masked(lang, e.masked).to_string(),
        if e.remote_irr { "1" } else { "0" }.to_string(),
        e.delivered.to_string(),
    ]
}

/// Entries shown: those programmed since power-up (not the all-masked power-up value) and
/// those that sent something; the rest are summarised in one line.
fn shown(io: &IoApicRegs) -> impl Iterator<Item = &RedirEntry> {
    io.redir.iter().filter(|e| !e.untouched())
}

fn lapic_ui(ui: &mut egui::Ui, l: &LapicRegs, lang: Lang) {
    ui.vertical(|ui| {
        ui.label(RichText::new(tr(lang, "lapic")).strong());
        egui::Grid::new("lapic").striped(true).show(ui, |ui| {
            for (n, v) in lapic_rows(l, lang) {
                ui.label(mono(n));
                ui.label(mono(v));
                ui.end_row();
            }
        });
    });
}

fn ioapic_ui(ui: &mut egui::Ui, io: &IoApicRegs, lang: Lang) {
    ui.vertical(|ui| {
        ui.label(RichText::new(tr(lang, "ioapic")).strong());
        ui.label(mono(format!(
            "ID {}, {} {:#010x}, {} {:#x}, {} {}",
            io.id,
            t(lang, "en", "at"),
            io.base,
            t(lang, "versión", "version"),
            io.version,
            io.redir.len(),
            t(lang, "entradas", "entries"),
        )));
        egui::Grid::new("ioapic").striped(true).show(ui, |ui| {
            for h in redir_headers(lang) {
                ui.label(mono(h));
            }
            ui.end_row();
            for e in shown(io) {
                for c in redir_cells(e, lang) {
                    ui.label(mono(c));
                }
                ui.end_row();
            }
        });
        let rest = io.redir.len() - shown(io).count();
        if rest > 0 {
            ui.label(format!(
                "{rest} {}",
                t(
                    lang,
                    "entradas más como al encender (enmascaradas, vector 0)",
                    "more entries as at power-up (masked, vector 0)"
                )
            ));
        }
    });
}

/// Both APICs, each in its own group.
pub fn ui(ui: &mut egui::Ui, a: &ApicRegs, lang: Lang) {
    ui.horizontal_wrapped(|ui| {
        ui.group(|ui| lapic_ui(ui, &a.lapic, lang));
        ui.group(|ui| ioapic_ui(ui, &a.ioapic, lang));
    });
}
