//! Nested paging view: the page walk of one linear address of the world that runs, as a
//! grid with every memory reference numbered in the order the CPU makes them. Under nested
//! paging (an SVM guest with NP_ENABLE) it is the two-dimensional walk of AMD APM Vol. 2
//! 15.25: one row per guest level (each guest entry's guest-physical address translated
//! through the nested tables first, left to right, then the guest entry itself) and a last
//! row for the final guest-physical address; natively it is one column. Below it, the TLB
//! entry the walk leaves (linear page -> host-physical page, combined permissions). Reads
//! the `WalkReport` the view carries (`mmu::paging::explain`, no side effects) for the
//! address the paging panel explains.

use crate::i18n::{tr, Lang};
use crate::panels::{mono, Panels};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::mmu::paging::{describe_entry, NestedWalk, WalkReport, WalkStep};

#[derive(Default)]
pub struct State {
    pub text: String,
}

/// One memory reference of a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub n: usize,
    /// Guest level (row) and column: the nested level, or None for the guest entry.
    pub row: usize,
    pub nested_level: Option<String>,
    pub level: String,
    pub addr: u32,
    pub entry: u64,
}

/// The references of a walk in the order the CPU makes them; `rows` names the rows.
pub fn references(r: &WalkReport) -> (Vec<String>, Vec<Reference>) {
    let nested = r.nested.is_some() || r.npf.is_some();
    let mut rows = Vec::new();
    let mut refs = Vec::new();
    let push_nested = |refs: &mut Vec<Reference>, row: usize, n: &NestedWalk| {
        for s in &n.steps {
            refs.push(Reference {
                n: refs.len() + 1,
                row,
                nested_level: Some(s.level.clone()),
                level: s.level.clone(),
                addr: s.entry_addr,
                entry: s.entry,
            });
        }
    };
    for (i, s) in r.steps.iter().enumerate() {
        rows.push(s.level.clone());
        if let Some(n) = &s.nested {
            push_nested(&mut refs, i, n);
        }
        // Native PAE: the PDPTE comes from its register, not from memory.
        if !nested && r.pae && s.level == "PDPTE" {
            continue;
        }
        refs.push(guest_ref(refs.len() + 1, i, s));
    }
    if let Some(n) = &r.nested {
        rows.push("gPA".into());
        push_nested(&mut refs, rows.len() - 1, n);
    }
    (rows, refs)
}

fn guest_ref(n: usize, row: usize, s: &WalkStep) -> Reference {
    Reference {
        n,
        row,
        nested_level: None,
        level: s.level.clone(),
        addr: s.entry_addr,
        entry: s.entry,
    }
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label(tr(lang, "linear_address"));
        let r = ui.add(
            egui::TextEdit::singleline(&mut p.virt.nested.text)
                .desired_width(120.0)
                .hint_text(format!("{:#x}", p.request.walk_addr)),
        );
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button(tr(lang, "explain")).clicked() || enter {
            if let Some(a) = view.parse_address(&p.virt.nested.text) {
                p.update_request(cmds, |r| r.walk_addr = a);
            }
        }
        if let Some(m) = &view.machine {
            if ui.button(tr(lang, "use_eip")).clicked() {
                let a = m.pc;
                p.virt.nested.text = format!("{a:#x}");
                p.update_request(cmds, |r| r.walk_addr = a);
            }
        }
    });
    let Some(m) = &view.machine else {
        return;
    };
    let Some(w) = m.walks.first() else {
        return;
    };
    let r = &w.report;
    let nested = r.nested.is_some() || r.npf.is_some();
    ui.label(
        RichText::new(format!(
            "{} {:#010x}: {}",
            tr(lang, "linear_address"),
            r.linear,
            tr(
                lang,
                if nested {
                    "walk_2d"
                } else if r.paging {
                    "walk_native"
                } else {
                    "paging_off"
                }
            )
        ))
        .strong(),
    );
    let (rows, refs) = references(r);
    let cols: Vec<String> = {
        let mut c: Vec<String> = Vec::new();
        for x in refs.iter().filter_map(|x| x.nested_level.clone()) {
            if !c.contains(&x) {
                c.push(x);
            }
        }
        c
    };
    ui.label(mono(format!(
        "{}: {}",
        tr(lang, "memory_references"),
        refs.len()
    )));
    egui::Grid::new("nested-grid")
        .striped(true)
        .min_col_width(110.0)
        .show(ui, |ui| {
            ui.label(RichText::new(tr(lang, "guest_level")).small().strong());
            for c in &cols {
                ui.label(RichText::new(format!("{} {c}", tr(lang, "nested_short"))).small());
            }
            ui.label(RichText::new(tr(lang, "guest_entry")).small().strong());
            ui.end_row();
            for (i, name) in rows.iter().enumerate() {
                ui.label(mono(name));
                for c in &cols {
                    match refs
                        .iter()
                        .find(|x| x.row == i && x.nested_level.as_ref() == Some(c))
                    {
                        Some(x) => cell(ui, x, Color32::from_rgb(120, 170, 255)),
                        None => {
                            ui.label("");
                        }
                    }
                }
                match refs.iter().find(|x| x.row == i && x.nested_level.is_none()) {
                    Some(x) => cell(ui, x, Color32::from_rgb(255, 200, 90)),
                    None => {
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
    ui.separator();
    ui.label(RichText::new(tr(lang, "tlb_entry")).strong());
    ui.label(mono(tlb_entry(r, m.ledger.current)));
}

fn cell(ui: &mut egui::Ui, x: &Reference, col: Color32) {
    ui.label(mono(format!("#{} {:08x}", x.n, x.addr)).color(col))
        .on_hover_text(format!(
            "{} @ {:#010x} = {:#x}\n{}",
            x.level,
            x.addr,
            x.entry,
            describe_entry(x.entry)
        ));
}

/// The translation the walk leaves in the TLB (tagged with the ASID), or why none.
pub fn tlb_entry(r: &WalkReport, world: traplab::inspect::World) -> String {
    let asid = match world {
        traplab::inspect::World::Guest { asid } => asid,
        traplab::inspect::World::Host => 0,
    };
    if let Some((info1, gpa)) = r.npf {
        return format!("none: #VMEXIT NPF (EXITINFO1 {info1:#x}, gPA {gpa:#010x})");
    }
    match r.result {
        Err(code) => format!("none: #PF, error code {code:#x}"),
        Ok(phys) => {
            let all = r.steps.iter().map(|s| s.entry).chain(
                r.nested
                    .iter()
                    .flat_map(|n| n.steps.iter().map(|s| s.entry)),
            );
            let (mut w, mut u) = (true, true);
            for e in all.filter(|e| e & 1 != 0) {
                w &= e & 2 != 0;
                u &= e & 4 != 0;
            }
            if !r.paging && r.nested.is_none() {
                (w, u) = (true, true);
            }
            format!(
                "ASID {asid}: {:#010x} -> {:#010x}  {} {}",
                r.linear & !0xFFF,
                phys & !0xFFF,
                if w { "RW" } else { "RO" },
                if u { "user" } else { "supervisor" }
            )
        }
    }
}
