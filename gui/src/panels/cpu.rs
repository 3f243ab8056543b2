//! CPU panel: general registers, EIP, EFLAGS bit by bit, segment registers with their hidden
//! descriptor caches, CR0/CR2/CR3/CR4 decoded, GDTR/IDTR/LDTR/TR, CPL and mode, the world
//! that runs (host, or an SVM guest by ASID) and the current VMCB decoded (intercepts on,
//! the last exit's fields), and the x87 FPU (`fpu`). Values changed by the last step are
//! highlighted.

use super::{mono, Panels, CHANGED};
use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::cpu::state::REG_NAMES;
use traplab::inspect::{CpuState, SegmentState, World};
use traplab::mmu::segment::SEG_NAMES;

const FLAG_BITS: &[(u32, &str)] = &[
    (0, "CF"),
    (2, "PF"),
    (4, "AF"),
    (6, "ZF"),
    (7, "SF"),
    (8, "TF"),
    (9, "IF"),
    (10, "DF"),
    (11, "OF"),
    (14, "NT"),
    (16, "RF"),
    (17, "VM"),
    (18, "AC"),
    (21, "ID"),
];

const CR0_BITS: &[(u32, &str)] = &[
    (0, "PE"),
    (1, "MP"),
    (2, "EM"),
    (3, "TS"),
    (4, "ET"),
    (5, "NE"),
    (16, "WP"),
    (18, "AM"),
    (29, "NW"),
    (30, "CD"),
    (31, "PG"),
];

const CR4_BITS: &[(u32, &str)] = &[
    (0, "VME"),
    (1, "PVI"),
    (2, "TSD"),
    (3, "DE"),
    (4, "PSE"),
    (5, "PAE"),
    (6, "MCE"),
    (7, "PGE"),
    (8, "PCE"),
    (11, "UMIP"),
];

fn bits(v: u32, names: &[(u32, &str)]) -> String {
    let on: Vec<&str> = names
        .iter()
        .filter(|(b, _)| v & (1 << b) != 0)
        .map(|(_, n)| *n)
        .collect();
    if on.is_empty() {
        "-".into()
    } else {
        on.join(" ")
    }
}

fn val(text: String, changed: bool) -> RichText {
    let t = mono(text);
    if changed {
        t.color(CHANGED).strong()
    } else {
        t
    }
}

/// "code 32 RX", "data RW", "TSS busy"... from the attribute bits.
pub fn seg_type(s: &SegmentState) -> String {
    let a = s.attr;
    if a & 0x10 == 0 {
        let t = a & 0xF;
        let name = match t {
            0x1 => "TSS16 avail",
            0x2 => "LDT",
            0x3 => "TSS16 busy",
            0x9 => "TSS32 avail",
            0xB => "TSS32 busy",
            0xC => "call gate",
            0xE => "int gate",
            0xF => "trap gate",
            _ => "system",
        };
        return name.into();
    }
    let mut t = String::new();
    if a & 8 != 0 {
        t += "code";
        if a & 2 != 0 {
            t += " R";
        }
        if a & 4 != 0 {
            t += " conf";
        }
    } else {
        t += "data";
        if a & 2 != 0 {
            t += " RW";
        } else {
            t += " RO";
        }
        if a & 4 != 0 {
            t += " down";
        }
    }
    t += if a & 0x400 != 0 { " 32" } else { " 16" };
    if a & 0x80 == 0 {
        t += " !P";
    }
    t
}

/// The world that runs, and the VMCB of the guest that runs (or ran last).
fn world(ui: &mut egui::Ui, m: &crate::view::MachineView, lang: Lang) {
    let l = &m.ledger;
    let place = match l.current {
        World::Host => tr(lang, "world_host").to_string(),
        World::Guest { asid } => format!("{} {asid}", tr(lang, "world_guest")),
    };
    let ring = tr(
        lang,
        if l.current_user {
            "world_user"
        } else {
            "world_kernel"
        },
    );
    let mut t = RichText::new(format!("{}: {place} ({ring})", tr(lang, "world"))).strong();
    if l.current != World::Host {
        t = t.color(Color32::from_rgb(120, 180, 255));
    }
    ui.label(t);
    let Some(v) = &m.vmcb else {
        return;
    };
    egui::CollapsingHeader::new(format!(
        "{} {:#010x}: {}, ASID {}, {} {}",
        tr(lang, "vmcb"),
        v.addr,
        tr(
            lang,
            if v.running {
                "vmcb_running"
            } else {
                "vmcb_last"
            }
        ),
        v.asid,
        l.exit_total,
        tr(lang, "exits_total"),
    ))
    .id_salt("vmcb")
    .default_open(true)
    .show(ui, |ui| {
        ui.label(RichText::new(tr(lang, "intercepts")).strong());
        ui.label(mono(if v.intercepts.is_empty() {
            "-".to_string()
        } else {
            v.intercepts.join(" ")
        }));
        if v.np_enable {
            ui.label(mono(tr(lang, "nested_paging")));
        }
        ui.label(RichText::new(tr(lang, "last_exit")).strong());
        egui::Grid::new("vmcb-exit").num_columns(2).show(ui, |ui| {
            ui.label(mono("EXITCODE"));
            ui.label(mono(format!("{:#x} {}", v.exitcode, v.exit_name)));
            ui.end_row();
            for (n, x) in [
                ("EXITINFO1", v.exitinfo1),
                ("EXITINFO2", v.exitinfo2),
                ("EXITINTINFO", v.exitintinfo),
                ("NextRIP", v.nrip),
            ] {
                ui.label(mono(n));
                ui.label(mono(format!("{x:#x}")));
                ui.end_row();
            }
        });
    });
}

pub fn ui(ui: &mut egui::Ui, _p: &mut Panels, view: &View, lang: Lang, _cmds: &mut Vec<Command>) {
    let Some(m) = &view.machine else {
        return;
    };
    let c = &m.cpu;
    let prev = m.prev_cpu.as_ref();
    let ch = |f: &dyn Fn(&CpuState) -> u64| prev.is_some_and(|p| f(p) != f(c));
    egui::ScrollArea::both()
        .id_salt("cpu-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(
                RichText::new(format!(
                    "{}: {}   {}: {}   icount {}",
                    tr(lang, "mode"),
                    c.mode.name(),
                    tr(lang, "cpl"),
                    c.cpl,
                    m.icount
                ))
                .strong(),
            );
            world(ui, m, lang);
            ui.label(
                RichText::new(format!("* {}", tr(lang, "changed")))
                    .color(CHANGED)
                    .small(),
            );
            ui.separator();
            ui.label(RichText::new(tr(lang, "registers")).strong());
            egui::Grid::new("gpr")
                .num_columns(4)
                .striped(true)
                .show(ui, |ui| {
                    for (r, name) in REG_NAMES.iter().enumerate() {
                        ui.label(mono(name.to_uppercase()));
                        ui.label(val(format!("{:08x}", c.gpr[r]), ch(&|x| x.gpr[r] as u64)));
                        if r % 2 == 1 {
                            ui.end_row();
                        }
                    }
                    ui.label(mono("EIP"));
                    ui.label(val(format!("{:08x}", c.eip), ch(&|x| x.eip as u64)));
                    let fl = c.eflags;
                    let pf = prev.map(|p| p.eflags);
                    ui.label(mono("EFLAGS"));
                    ui.label(val(format!("{fl:08x}"), pf.is_some_and(|p| p != fl)));
                    ui.end_row();
                });
            ui.label(RichText::new(tr(lang, "flags")).strong());
            let fl = c.eflags;
            let pf = prev.map(|p| p.eflags);
            ui.horizontal_wrapped(|ui| {
                for (b, n) in FLAG_BITS {
                    let on = fl & (1 << b) != 0;
                    let changed = pf.is_some_and(|p| (p ^ fl) & (1 << b) != 0);
                    let mut t = mono(format!("{n}={}", on as u8));
                    if !on {
                        t = t.weak();
                    }
                    if changed {
                        t = t.color(CHANGED).strong();
                    }
                    ui.label(t);
                }
                ui.label(mono(format!("IOPL={}", (fl >> 12) & 3)));
            });
            ui.separator();
            ui.label(RichText::new(tr(lang, "segments")).strong());
            egui::Grid::new("segs")
                .num_columns(6)
                .striped(true)
                .show(ui, |ui| {
                    for h in ["", "selector", "base", "limit", "dpl", "type"] {
                        ui.label(
                            RichText::new(if h.is_empty() { "" } else { tr(lang, h) }).small(),
                        );
                    }
                    ui.end_row();
                    let row = |ui: &mut egui::Ui,
                               name: &str,
                               s: &SegmentState,
                               ps: Option<&SegmentState>| {
                        let changed = ps.is_some_and(|p| p != s);
                        ui.label(mono(name.to_uppercase()));
                        ui.label(val(format!("{:04x}", s.selector), changed));
                        ui.label(val(format!("{:08x}", s.base), changed));
                        ui.label(val(format!("{:08x}", s.limit), changed));
                        ui.label(mono(s.dpl().to_string()));
                        ui.label(mono(if s.valid { seg_type(s) } else { "null".into() }));
                        ui.end_row();
                    };
                    for (i, name) in SEG_NAMES.iter().enumerate() {
                        row(ui, name, &c.seg[i], prev.map(|p| &p.seg[i]));
                    }
                    row(ui, "ldtr", &c.ldtr, prev.map(|p| &p.ldtr));
                    row(ui, "tr", &c.tr, prev.map(|p| &p.tr));
                });
            ui.separator();
            ui.label(RichText::new(tr(lang, "control")).strong());
            egui::Grid::new("crs").num_columns(3).show(ui, |ui| {
                ui.label(mono("CR0"));
                ui.label(val(
                    format!("{:08x}", c.control.cr0),
                    ch(&|x| x.control.cr0 as u64),
                ));
                ui.label(mono(bits(c.control.cr0, CR0_BITS)));
                ui.end_row();
                ui.label(mono("CR2"));
                ui.label(val(
                    format!("{:08x}", c.control.cr2),
                    ch(&|x| x.control.cr2 as u64),
                ));
                ui.label(mono(tr(lang, "pf_address")));
                ui.end_row();
                ui.label(mono("CR3"));
                ui.label(val(
                    format!("{:08x}", c.control.cr3),
                    ch(&|x| x.control.cr3 as u64),
                ));
                ui.label(mono(format!(
                    "{} {:#010x}",
                    tr(lang, "page_directory"),
                    c.control.page_directory()
                )));
                ui.end_row();
                ui.label(mono("CR4"));
                ui.label(val(
                    format!("{:08x}", c.control.cr4),
                    ch(&|x| x.control.cr4 as u64),
                ));
                ui.label(mono(bits(c.control.cr4, CR4_BITS)));
                ui.end_row();
            });
            ui.label(RichText::new(tr(lang, "tables")).strong());
            egui::Grid::new("dts").num_columns(3).show(ui, |ui| {
                for (n, t, pt) in [
                    ("GDTR", &c.gdtr, prev.map(|p| &p.gdtr)),
                    ("IDTR", &c.idtr, prev.map(|p| &p.idtr)),
                ] {
                    let changed = pt.is_some_and(|p| p != t);
                    ui.label(mono(n));
                    ui.label(val(format!("base {:08x}", t.base), changed));
                    ui.label(val(format!("limit {:04x}", t.limit), changed));
                    ui.end_row();
                }
            });
            if c.halted {
                ui.label(RichText::new("HLT").color(Color32::from_rgb(255, 200, 0)));
            }
            super::fpu::ui(ui, &c.fpu, prev.map(|p| &p.fpu), lang);
        });
}
