//! Disassembly panel: decodes the code bytes published around EIP with iced-x86 (Intel,
//! AT&T or MASM syntax), shows guest symbols as `kmain+0x14`, highlights the current
//! instruction, toggles breakpoints on click, follows jumps, and runs to a line.

use super::{mono, Panels, CURRENT_BG};
use crate::i18n::{tr, Lang};
use crate::symbols::Symbols;
use crate::view::View;
use crate::worker::Command;
use egui::{Color32, RichText};
use std::sync::Arc;
use traplab::iced_x86::{
    Decoder, DecoderOptions, FlowControl, Formatter, GasFormatter, Instruction, IntelFormatter,
    MasmFormatter, SymbolResolver, SymbolResult,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Syntax {
    #[default]
    Intel,
    Gas,
    Masm,
}

pub struct State {
    pub syntax: Syntax,
    pub goto: String,
    /// The listing follows EIP and scrolls to the current line (on by default; following
    /// a jump turns it off until the next stop).
    pub follow: bool,
    /// Focus mode: a large marker and a larger current line.
    pub big_marker: bool,
    /// A small window: one row of controls, no hint line.
    pub compact: bool,
    /// The visible part of the listing in the last frame.
    pub list_rect: egui::Rect,
    /// (icount, EIP, running) of the last view drawn: a change is a stop to scroll to.
    seen: Option<(u64, u32, bool)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            syntax: Syntax::default(),
            goto: String::new(),
            follow: true,
            big_marker: false,
            compact: false,
            list_rect: egui::Rect::NOTHING,
            seen: None,
        }
    }
}

struct Resolver(Arc<Symbols>);

impl SymbolResolver for Resolver {
    fn symbol(
        &mut self,
        _i: &Instruction,
        _op: u32,
        _iop: Option<u32>,
        address: u64,
        _size: u32,
    ) -> Option<SymbolResult<'_>> {
        let name = self.0.describe(address as u32)?;
        Some(SymbolResult::with_string(address, name))
    }
}

/// One decoded line.
pub struct Line {
    pub lin: u32,
    pub bytes: String,
    pub text: String,
    pub target: Option<u32>,
}

/// Decodes `bytes` (at linear `start`, CS base `cs_base`) into lines.
pub fn decode(
    bytes: &[u8],
    start: u32,
    cs_base: u32,
    code32: bool,
    syntax: Syntax,
    syms: &Arc<Symbols>,
) -> Vec<Line> {
    let bits = if code32 { 32 } else { 16 };
    let ip = start.wrapping_sub(cs_base) as u64;
    let mut d = Decoder::with_ip(bits, bytes, ip, DecoderOptions::NONE);
    let res = || Some(Box::new(Resolver(syms.clone())) as Box<dyn SymbolResolver>);
    let mut f: Box<dyn Formatter> = match syntax {
        Syntax::Intel => Box::new(IntelFormatter::with_options(res(), None)),
        Syntax::Gas => Box::new(GasFormatter::with_options(res(), None)),
        Syntax::Masm => Box::new(MasmFormatter::with_options(res(), None)),
    };
    f.options_mut().set_first_operand_char_index(8);
    let mut out = Vec::new();
    let mut insn = Instruction::default();
    while d.can_decode() {
        let pos = d.position();
        d.decode_out(&mut insn);
        if d.position() >= bytes.len() && !d.can_decode() && pos + insn.len() > bytes.len() {
            break;
        }
        let mut text = String::new();
        f.format(&insn, &mut text);
        let raw = &bytes[pos..(pos + insn.len()).min(bytes.len())];
        let target = match insn.flow_control() {
            FlowControl::UnconditionalBranch
            | FlowControl::ConditionalBranch
            | FlowControl::Call
                if insn.near_branch_target() != 0 =>
            {
                Some(cs_base.wrapping_add(insn.near_branch_target() as u32))
            }
            _ => None,
        };
        out.push(Line {
            lin: start.wrapping_add(pos as u32),
            bytes: raw
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(""),
            text,
            target,
        });
    }
    out
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    let mut code_addr = p.request.code_addr;
    let st = &mut p.disasm;
    // A new stop (or a step) brings the listing back to EIP.
    let now = view
        .machine
        .as_ref()
        .map(|m| (m.icount, m.pc, view.running));
    let stopped = now != st.seen;
    if stopped
        && st
            .seen
            .is_some_and(|(ic, _, _)| Some(ic) != now.map(|n| n.0))
    {
        st.follow = true;
    }
    st.seen = now;
    let mut controls = |ui: &mut egui::Ui, st: &mut State, code_addr: &mut Option<u32>| {
        egui::ComboBox::from_label(tr(lang, "syntax"))
            .selected_text(match st.syntax {
                Syntax::Intel => "Intel",
                Syntax::Gas => "AT&T",
                Syntax::Masm => "MASM",
            })
            .width(70.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut st.syntax, Syntax::Intel, "Intel");
                ui.selectable_value(&mut st.syntax, Syntax::Gas, "AT&T");
                ui.selectable_value(&mut st.syntax, Syntax::Masm, "MASM");
            });
        ui.checkbox(&mut st.follow, tr(lang, "follow_pc"));
        ui.add(
            egui::TextEdit::singleline(&mut st.goto)
                .desired_width(110.0)
                .hint_text("kmain / 0x100000"),
        );
        if ui.button(tr(lang, "go")).clicked() {
            if let Some(a) = view.parse_address(&st.goto) {
                *code_addr = Some(a);
                st.follow = false;
            }
        }
        if ui.button(tr(lang, "run_to")).clicked() {
            if let Some(a) = view.parse_address(&st.goto) {
                cmds.push(Command::RunTo(a));
            }
        }
        // Breakpoints by address or symbol name (`kmain`, `syscall_handler+0x10`).
        if ui.button(tr(lang, "toggle_bp")).clicked() {
            if let Some(a) = view.parse_address(&st.goto) {
                cmds.push(Command::ToggleBreakpoint(a));
            }
        }
    };
    if st.compact && ui.available_height() < 200.0 {
        // Very little room (a high zoom): the listing only; the toolbar and the
        // Debug menu still step and run.
    } else if st.compact {
        egui::ScrollArea::horizontal()
            .id_salt("disasm-controls")
            .show(ui, |ui| {
                ui.horizontal(|ui| controls(ui, st, &mut code_addr))
            });
    } else {
        ui.horizontal_wrapped(|ui| controls(ui, st, &mut code_addr));
    }
    if st.follow {
        code_addr = None;
    }
    if let Some(m) = &view.machine {
        if !m.breakpoints.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(tr(lang, "breakpoints"));
                for &b in &m.breakpoints {
                    let name = view
                        .describe_any(b)
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default();
                    if ui
                        .small_button(format!("{b:08x}{name}"))
                        .on_hover_text(tr(lang, "remove"))
                        .clicked()
                    {
                        cmds.push(Command::ToggleBreakpoint(b));
                    }
                }
                if ui.small_button(tr(lang, "clear")).clicked() {
                    cmds.push(Command::ClearBreakpoints);
                }
            });
        }
    }
    p.update_request(cmds, |r| r.code_addr = code_addr);
    if !p.disasm.compact {
        ui.label(RichText::new(tr(lang, "click_bp")).small().weak());
    }
    let Some(m) = &view.machine else {
        return;
    };
    let st = &mut p.disasm;
    let Some(code) = &m.code else {
        ui.label(tr(lang, "unmapped"));
        return;
    };
    let lines = decode(
        code,
        m.code_start,
        m.cs_base(),
        m.code32,
        st.syntax,
        &view.symbols,
    );
    // Columns by the room there is: address and instruction always; symbol and bytes
    // when they fit.
    let char_w = ui.text_style_height(&egui::TextStyle::Monospace) * 0.62;
    let chars = (ui.available_width() / char_w) as usize;
    let (show_sym, show_bytes) = (chars >= 56, chars >= 78);
    let mut follow = None;
    let scroll_to_pc = st.follow && stopped;
    let big = st.big_marker;
    let out = egui::ScrollArea::both()
        .id_salt("disasm-list")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            // One text row per line: no gaps, and "->" no taller than the text.
            ui.spacing_mut().item_spacing.y = 0.0;
            ui.spacing_mut().button_padding.y = 0.0;
            ui.spacing_mut().interact_size.y = 0.0;
            for l in lines.iter().take(48) {
                let bp = m.breakpoints.contains(&l.lin);
                let cur = l.lin == m.pc;
                if let Some(name) = view.symbols.at(l.lin) {
                    ui.label(
                        RichText::new(format!("{name}:"))
                            .monospace()
                            .color(Color32::from_rgb(120, 200, 255)),
                    );
                }
                let mut text = format!(
                    "{}{} {:08x} ",
                    if cur { "=>" } else { "  " },
                    if bp { "*" } else { " " },
                    l.lin
                );
                if show_sym {
                    let sym = view.symbols.describe(l.lin).unwrap_or_default();
                    text += &format!("{sym:<18} ");
                }
                if show_bytes {
                    text += &format!("{:<20} ", l.bytes);
                }
                text += &l.text;
                ui.horizontal(|ui| {
                    let mut rt = mono(text);
                    if bp {
                        rt = rt.color(Color32::from_rgb(255, 90, 90));
                    }
                    if cur {
                        rt = rt.background_color(CURRENT_BG).strong();
                        if big {
                            rt = rt.size(ui.text_style_height(&egui::TextStyle::Monospace) * 1.5);
                        }
                    }
                    // A label that takes clicks: a line is one text row high.
                    let r = ui.add(
                        egui::Label::new(rt)
                            .sense(egui::Sense::click())
                            .selectable(false)
                            .extend(),
                    );
                    if cur && scroll_to_pc {
                        r.scroll_to_me(Some(egui::Align::Center));
                    }
                    if r.clicked() {
                        cmds.push(Command::ToggleBreakpoint(l.lin));
                    }
                    r.context_menu(|ui| {
                        if ui.button(tr(lang, "run_to")).clicked() {
                            cmds.push(Command::RunTo(l.lin));
                            ui.close();
                        }
                    });
                    if let Some(t) = l.target {
                        if ui
                            .small_button("->")
                            .on_hover_text(format!("{t:#010x}"))
                            .clicked()
                        {
                            follow = Some(t);
                        }
                    }
                });
            }
        });
    st.list_rect = out.inner_rect;
    if let Some(t) = follow {
        st.follow = false;
        p.update_request(cmds, |r| r.code_addr = Some(t));
    }
}
