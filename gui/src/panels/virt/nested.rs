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
use crate::view::{ShadowPair, View};
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
    if let Some(sp) = &m.shadow {
        ui.separator();
        shadow_ui(ui, sp, m.cpu.control.cr3, lang);
    }
}

/// What the two walks of a shadow pair say, as an i18n key: the shadow entry copies the
/// guest's translation, is not built yet (the next access is a hidden fault), or the
/// guest's own tables do not map the address (a true guest fault).
pub fn shadow_verdict(sp: &ShadowPair) -> &'static str {
    match (sp.guest.result, sp.shadow.result) {
        (Err(_), _) => "shadow_true_fault",
        (Ok(_), Err(_)) => "shadow_hidden_next",
        (Ok(g), Ok(h)) if g == h => "shadow_same_frame",
        (Ok(_), Ok(_)) => "shadow_frames_differ",
    }
}

/// The guest's walk (its virtual CR3) beside the real one (the shadow tables), level by
/// level, then what it means for the next access.
fn shadow_ui(ui: &mut egui::Ui, sp: &ShadowPair, real_cr3: u32, lang: Lang) {
    ui.label(RichText::new(tr(lang, "shadow_title")).strong());
    ui.label(mono(format!(
        "{} {:#010x}    {} {:#010x}",
        tr(lang, "shadow_guest_cr3"),
        sp.vcr[1],
        tr(lang, "shadow_real_cr3"),
        real_cr3
    )));
    let entry = |s: Option<&WalkStep>| match s {
        Some(s) => format!(
            "[{:#010x}] {:#010x} {}",
            s.entry_addr,
            s.entry,
            describe_entry(s.entry)
        ),
        None => String::new(),
    };
    let result = |r: &Result<u32, u32>| match r {
        Ok(p) => format!("-> {p:#010x}"),
        Err(e) => format!("#PF ({e:#x})"),
    };
    egui::Grid::new("shadow-grid")
        .striped(true)
        .min_col_width(110.0)
        .show(ui, |ui| {
            ui.label("");
            ui.label(
                RichText::new(tr(lang, "shadow_guest_table"))
                    .small()
                    .strong(),
            );
            ui.label(RichText::new(tr(lang, "shadow_table")).small().strong());
            ui.end_row();
            let n = sp.guest.steps.len().max(sp.shadow.steps.len());
            for k in 0..n {
                let (g, h) = (sp.guest.steps.get(k), sp.shadow.steps.get(k));
                ui.label(mono(g.or(h).map_or("", |s| s.level.as_str())));
                ui.label(mono(entry(g)));
                ui.label(mono(entry(h)));
                ui.end_row();
            }
            ui.label("");
            ui.label(mono(result(&sp.guest.result)));
            ui.label(mono(result(&sp.shadow.result)));
            ui.end_row();
        });
    ui.label(tr(lang, shadow_verdict(sp)));
    // The leaf entries' W bits: the monitor keeps a page read-only in the shadow while it
    // holds guest page tables or until its first write (the dirty bit goes back then).
    let leaf = |w: &WalkReport| w.steps.last().map(|s| s.entry);
    if let (Some(g), Some(h)) = (leaf(&sp.guest), leaf(&sp.shadow)) {
        if g & 2 != 0 && h & 2 == 0 && sp.shadow.result.is_ok() {
            ui.label(tr(lang, "shadow_write_protected"));
        }
    }
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
