//! Memory panel: hex + ASCII of physical or linear memory at an address or following a
//! register; the stack from ESP with return addresses resolved to symbols; watchpoints.

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
use crate::symbols::parse_address;
use crate::view::{Follow, View, MEM_BYTES};
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::cpu::state::REG_NAMES;
use traplab::debug::session::Watchpoint;

#[derive(Default)]
pub struct State {
    pub addr_text: String,
    pub watch_text: String,
    pub watch_write: bool,
    pub watch_read: bool,
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label(tr(lang, "address"));
        ui.add(
            egui::TextEdit::singleline(&mut p.memory.addr_text)
                .desired_width(110.0)
                .hint_text("0x100000"),
        );
        if ui.button(tr(lang, "go")).clicked() {
            if let Some(a) = parse_address(&p.memory.addr_text, &view.symbols) {
                p.update_request(cmds, |r| {
                    r.mem_addr = a;
                    r.mem_follow = Follow::None;
                });
            }
        }
        let mut phys = p.request.mem_physical;
        ui.radio_value(&mut phys, false, tr(lang, "linear"));
        ui.radio_value(&mut phys, true, tr(lang, "physical"));
        let mut follow = p.request.mem_follow;
        egui::ComboBox::from_label(tr(lang, "follow"))
            .selected_text(match follow {
                Follow::None => tr(lang, "none").to_string(),
                Follow::Eip => "EIP".into(),
                Follow::Gpr(r) => REG_NAMES[r].to_uppercase(),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut follow, Follow::None, tr(lang, "none"));
                ui.selectable_value(&mut follow, Follow::Eip, "EIP");
                for (r, n) in REG_NAMES.iter().enumerate() {
                    ui.selectable_value(&mut follow, Follow::Gpr(r), n.to_uppercase());
                }
            });
        p.update_request(cmds, |r| {
            r.mem_physical = phys;
            r.mem_follow = follow;
        });
    });
    let Some(m) = &view.machine else {
        return;
    };
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        egui::ScrollArea::vertical()
            .id_salt("hex")
            .auto_shrink([false, false])
            .show(ui, |ui| match &m.mem {
                None => {
                    ui.label(format!("{:08x} {}", m.mem_addr, tr(lang, "unmapped")));
                }
                Some(bytes) => {
                    for (row, chunk) in bytes.chunks(16).enumerate().take(MEM_BYTES / 16) {
                        let a = m.mem_addr.wrapping_add(row as u32 * 16);
                        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                        let ascii: String = chunk
                            .iter()
                            .map(|&b| {
                                if (0x20..0x7F).contains(&b) {
                                    b as char
                                } else {
                                    '.'
                                }
                            })
                            .collect();
                        ui.label(mono(format!("{a:08x}  {:<48} {ascii}", hex.join(" "))));
                    }
                }
            });
        let ui = &mut cols[1];
        ui.label(RichText::new(tr(lang, "stack")).strong());
        egui::ScrollArea::vertical()
            .id_salt("stack")
            .max_height(200.0)
            .show(ui, |ui| {
                for (k, (a, v)) in m.stack.iter().enumerate() {
                    let mut line = format!("{a:08x} {}", if k == 0 { "ESP->" } else { "    " });
                    match v {
                        None => line += " ????????",
                        Some(v) => {
                            line += &format!(" {v:08x}");
                            if let Some(s) = view.symbols.describe(*v) {
                                line += &format!("  {} {s}", tr(lang, "return_to"));
                            }
                        }
                    }
                    ui.label(mono(line));
                }
            });
        ui.separator();
        ui.label(RichText::new(tr(lang, "watchpoints")).strong());
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut p.memory.watch_text)
                    .desired_width(110.0)
                    .hint_text("0xb8000"),
            );
            ui.checkbox(&mut p.memory.watch_read, tr(lang, "reads"));
            ui.checkbox(&mut p.memory.watch_write, tr(lang, "writes"));
            if ui.button(tr(lang, "add")).clicked() {
                if let Some(a) = parse_address(&p.memory.watch_text, &view.symbols) {
                    let (r, w) = (
                        p.memory.watch_read,
                        p.memory.watch_write || !p.memory.watch_read,
                    );
                    cmds.push(Command::AddWatchpoint(Watchpoint {
                        addr: a,
                        len: 4,
                        read: r,
                        write: w,
                    }));
                }
            }
            if ui.button(tr(lang, "clear")).clicked() {
                cmds.push(Command::ClearWatchpoints);
            }
        });
        for w in &m.watchpoints {
            ui.label(mono(format!(
                "{:08x}+{} {}{}",
                w.addr,
                w.len,
                if w.read { "R" } else { "" },
                if w.write { "W" } else { "" }
            )));
        }
        if !m.watchpoints.is_empty() {
            ui.label(
                RichText::new("single-step mode: checked before each instruction")
                    .small()
                    .color(Color32::GRAY),
            );
        }
    });
}
