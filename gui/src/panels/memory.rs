//! Memory panel: hex + ASCII of physical or linear memory at an address or following a
//! register; the stack from ESP with return addresses resolved to symbols; watchpoints.

use super::{mono, Panels};
use crate::i18n::{tr, Lang};
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
            if let Some(a) = view.parse_address(&p.memory.addr_text) {
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
        egui::ScrollArea::both()
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
                        // One row each, never wrapped (the area scrolls sideways).
                        ui.add(
                            egui::Label::new(mono(format!(
                                "{a:08x}  {:<48} {ascii}",
                                hex.join(" ")
                            )))
                            .extend(),
                        );
                    }
                }
            });
        let ui = &mut cols[1];
        ui.label(RichText::new(tr(lang, "stack")).strong());
        let labels = stack_labels(&m.stack, m.cpu.cpl, &view.symbols, lang);
        egui::ScrollArea::both()
            .id_salt("stack")
            .max_height((ui.available_height() - 90.0).max(80.0))
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for (k, ((a, v), label)) in m.stack.iter().zip(&labels).enumerate() {
                    let value = v.map_or("????????".to_string(), |v| format!("{v:08x}"));
                    let line = format!(
                        "{a:08x} {} {value}  {label}",
                        if k == 0 { "ESP->" } else { "     " }
                    );
                    let mut rt = mono(line);
                    if label.starts_with('[') {
                        rt = rt.color(Color32::from_rgb(150, 210, 255));
                    }
                    ui.add(egui::Label::new(rt).extend());
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
                if let Some(a) = view.parse_address(&p.memory.watch_text) {
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

/// Looks like EFLAGS as an interrupt pushes it: bit 1 set, reserved bits 3, 5, 15 and
/// 22-31 clear.
fn eflags_like(v: u32) -> bool {
    v & 2 != 0 && v & (1 << 3 | 1 << 5 | 1 << 15) == 0 && v >> 22 == 0
}

/// Looks like a code selector pushed on the stack: a GDT selector, not null, upper half 0.
fn selector_like(v: u32) -> bool {
    v >> 16 == 0 && v & 0xFFF8 != 0 && v & 4 == 0
}

/// A label for each stack word: the fields of an interrupt frame (EIP, CS, EFLAGS, and
/// ESP, SS when it came from an outer ring), else "return to f+0x12" for a word that
/// points inside a function; nothing for other words.
pub fn stack_labels(
    stack: &[(u32, Option<u32>)],
    cpl: u8,
    syms: &crate::symbols::Symbols,
    lang: Lang,
) -> Vec<String> {
    let w: Vec<Option<u32>> = stack.iter().map(|(_, v)| *v).collect();
    let mut out = vec![String::new(); w.len()];
    let mut k = 0;
    while k < w.len() {
        let at = |i: usize| w.get(i).copied().flatten();
        let frame = match (at(k), at(k + 1), at(k + 2)) {
            (Some(eip), Some(cs), Some(fl))
                if syms.lookup(eip).is_some() && selector_like(cs) && eflags_like(fl) =>
            {
                Some((eip, cs, fl))
            }
            _ => None,
        };
        if let Some((eip, cs, fl)) = frame {
            let ring = (cs & 3) as u8;
            let sym = syms.describe(eip).unwrap_or_default();
            out[k] = format!("[{}] EIP -> {sym}", tr(lang, "int_frame"));
            out[k + 1] = format!(
                "[{}] CS ({} {ring})",
                tr(lang, "int_frame"),
                tr(lang, "ring")
            );
            out[k + 2] = format!("[{}] EFLAGS (IF={})", tr(lang, "int_frame"), (fl >> 9) & 1);
            k += 3;
            if ring > cpl && k + 1 < w.len() {
                out[k] = format!(
                    "[{}] ESP ({})",
                    tr(lang, "int_frame"),
                    tr(lang, "outer_ring")
                );
                out[k + 1] = format!(
                    "[{}] SS ({})",
                    tr(lang, "int_frame"),
                    tr(lang, "outer_ring")
                );
                k += 2;
            }
            continue;
        }
        if let Some(v) = at(k) {
            // A return address points inside a function, past its first byte.
            if let Some((_, off)) = syms.lookup(v) {
                if off > 0 {
                    out[k] = format!(
                        "{} {}",
                        tr(lang, "return_to"),
                        syms.describe(v).unwrap_or_default()
                    );
                }
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::Symbols;

    #[test]
    fn an_interrupt_frame_from_ring_3_is_labelled_field_by_field() {
        let bytes = std::fs::read(crate::app::sample_path("samples/minios/minios.elf")).unwrap();
        let syms = Symbols::from_elf(&bytes);
        let kmain = syms.address_of("kmain").unwrap();
        assert!(
            syms.address_of("_end").is_some(),
            "_end shares its address with the archive"
        );
        let words = [
            0x0000_0080,  // vector pushed by a stub: no label
            kmain + 0x10, // saved EIP
            0x1b,         // saved CS, ring 3
            0x0000_0202,  // saved EFLAGS, IF=1
            0x00bf_f000,  // saved ESP
            0x23,         // saved SS
            kmain + 0x22, // a return address
            0x00f0_0000,  // past the image: no symbol
        ];
        let stack: Vec<(u32, Option<u32>)> = words
            .iter()
            .enumerate()
            .map(|(i, &v)| (0x1000 + 4 * i as u32, Some(v)))
            .collect();
        let l = stack_labels(&stack, 0, &syms, Lang::En);
        assert_eq!(l[0], "");
        assert_eq!(l[1], "[interrupt frame] EIP -> kmain+0x10");
        assert_eq!(l[2], "[interrupt frame] CS (ring 3)");
        assert_eq!(l[3], "[interrupt frame] EFLAGS (IF=1)");
        assert_eq!(l[4], "[interrupt frame] ESP (outer ring)");
        assert_eq!(l[5], "[interrupt frame] SS (outer ring)");
        assert_eq!(l[6], "return to kmain+0x22");
        assert_eq!(l[7], "", "no symbol past the image");
        // From ring 0 to ring 0 there is no ESP/SS.
        let mut same = stack.clone();
        same[2].1 = Some(0x08);
        let l = stack_labels(&same, 0, &syms, Lang::Es);
        assert_eq!(l[2], "[marco de interrupción] CS (anillo 0)");
        assert!(!l[4].contains("ESP"));
    }
}
