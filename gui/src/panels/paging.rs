//! Paging panel: type a linear address and see its walk (`mmu::paging::explain_regs`), two
//! levels or PAE's three (PDPTE register, PDE, PTE, 64-bit entries): each entry read, its
//! bits (`describe_entry`), and the result or the #PF error code for supervisor/user reads
//! and writes. Under nested paging (a guest with NP_ENABLE) each guest entry's
//! guest-physical address is followed by its nested walk ("n." rows) and the final
//! guest-physical address by its own; a nested fault shows the #VMEXIT NPF's EXITINFO1/2.
//! The walk has no side effects on the guest.

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::mmu::paging::{describe_entry, NestedWalk, WalkStep};

#[derive(Default)]
pub struct State {
    pub text: String,
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label(tr(lang, "linear_address"));
        let r = ui.add(
            egui::TextEdit::singleline(&mut p.paging.text)
                .desired_width(120.0)
                .hint_text("0x400000"),
        );
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button(tr(lang, "explain")).clicked() || enter {
            if let Some(a) = view.parse_address(&p.paging.text) {
                p.update_request(cmds, |r| r.walk_addr = a);
            }
        }
    });
    let Some(m) = &view.machine else {
        return;
    };
    let c = &m.cpu.control;
    ui.label(mono(format!(
        "CR0.PG={} CR0.WP={} CR4.PSE={} CR4.PAE={} CR3={:08x}",
        c.paging() as u8,
        c.write_protect() as u8,
        c.page_size_extensions() as u8,
        c.pae() as u8,
        c.cr3
    )));
    let Some(first) = m.walks.first().map(|w| &w.report) else {
        return;
    };
    let lin = first.linear;
    ui.label(mono(if first.pae {
        format!(
            "{:08x} = pdpt {} | dir {:#05x} | table {:#05x} | offset {:#05x}",
            lin,
            lin >> 30,
            (lin >> 21) & 0x1FF,
            (lin >> 12) & 0x1FF,
            lin & 0xFFF
        )
    } else {
        format!(
            "{:08x} = dir {:#05x} | table {:#05x} | offset {:#05x}",
            lin,
            lin >> 22,
            (lin >> 12) & 0x3FF,
            lin & 0xFFF
        )
    }));
    let nested = first.nested.is_some() || first.npf.is_some();
    if nested {
        ui.label(tr(lang, "nested_paging_on"));
    }
    if !first.paging && !nested {
        ui.label(tr(lang, "paging_off"));
        return;
    }
    egui::Grid::new("walk")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for s in &first.steps {
                step_row(ui, s, first.pae, "", lang);
                if let Some(n) = &s.nested {
                    nested_rows(ui, n, lang);
                }
            }
            if let Some(n) = &first.nested {
                ui.label(mono(tr(lang, "final_gpa")));
                ui.label(mono(format!("{:08x}", n.gpa)));
                ui.label("");
                ui.end_row();
                nested_rows(ui, n, lang);
            }
        });
    ui.separator();
    ui.label(RichText::new(tr(lang, "result")).strong());
    for w in &m.walks {
        let who = format!(
            "{} {}",
            tr(lang, if w.user { "user" } else { "supervisor" }),
            tr(lang, if w.write { "write" } else { "read" })
        );
        let (text, color) = match (w.report.npf, w.report.result) {
            (Some((info1, gpa)), _) => (
                format!("{who:<22} -> #VMEXIT NPF, EXITINFO1 {info1:#x}, EXITINFO2 {gpa:#x}"),
                Color32::from_rgb(255, 170, 60),
            ),
            (None, Ok(phys)) => (
                format!("{who:<22} -> {phys:#010x}"),
                Color32::from_rgb(120, 220, 120),
            ),
            (None, Err(code)) => (
                format!("{who:<22} -> #PF, {} {code:#x}", tr(lang, "page_fault")),
                Color32::from_rgb(255, 110, 110),
            ),
        };
        ui.label(mono(text).color(color));
    }
}

/// One entry of a walk: level, where it was read and its value, its bits.
fn step_row(ui: &mut egui::Ui, s: &WalkStep, wide: bool, indent: &str, lang: Lang) {
    ui.label(mono(format!("{indent}{}", s.level)));
    let entry = if wide {
        format!("{:016x}", s.entry)
    } else {
        format!("{:08x}", s.entry)
    };
    ui.label(mono(format!(
        "{} {:08x}: {entry}",
        tr(lang, "at"),
        s.entry_addr
    )));
    ui.label(mono(describe_entry(s.entry)));
    ui.end_row();
}

/// The nested walk of one guest-physical address, indented, and its host-physical result.
fn nested_rows(ui: &mut egui::Ui, n: &NestedWalk, lang: Lang) {
    let wide = n.steps.first().is_some_and(|s| s.level == "PDPTE");
    for s in &n.steps {
        step_row(ui, s, wide, "  n.", lang);
    }
    ui.label("");
    ui.label(mono(match n.result {
        Ok(h) => format!("  {:08x} -> {} {h:08x}", n.gpa, tr(lang, "host_physical")),
        Err(info1) => format!("  {:08x} -> NPF {info1:#x}", n.gpa),
    }));
    ui.label("");
    ui.end_row();
}
