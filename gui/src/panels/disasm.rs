//! Disassembly panel: decodes the code bytes published around EIP with iced-x86 (Intel,
//! AT&T or MASM syntax), shows guest symbols as `kmain+0x14`, highlights the current
//! instruction, toggles breakpoints on click, follows jumps, and runs to a line.

use super::{mono, Panels, CURRENT_BG};
use crate::i18n::{tr, Lang};
use crate::symbols::{parse_address, Symbols};
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

#[derive(Default)]
pub struct State {
    pub syntax: Syntax,
    pub goto: String,
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
    ui.horizontal(|ui| {
        ui.label(tr(lang, "syntax"));
        ui.radio_value(&mut st.syntax, Syntax::Intel, "Intel");
        ui.radio_value(&mut st.syntax, Syntax::Gas, "AT&T");
        ui.radio_value(&mut st.syntax, Syntax::Masm, "MASM");
        ui.separator();
        if ui.button(tr(lang, "follow_pc")).clicked() {
            code_addr = None;
        }
        ui.add(
            egui::TextEdit::singleline(&mut st.goto)
                .desired_width(120.0)
                .hint_text("kmain / 0x100000"),
        );
        if ui.button(tr(lang, "go")).clicked() {
            if let Some(a) = parse_address(&st.goto, &view.symbols) {
                code_addr = Some(a);
            }
        }
        if ui.button(tr(lang, "run_to")).clicked() {
            if let Some(a) = parse_address(&st.goto, &view.symbols) {
                cmds.push(Command::RunTo(a));
            }
        }
        // Breakpoints by address or symbol name (`kmain`, `syscall_handler+0x10`).
        if ui.button(tr(lang, "toggle_bp")).clicked() {
            if let Some(a) = parse_address(&st.goto, &view.symbols) {
                cmds.push(Command::ToggleBreakpoint(a));
            }
        }
    });
    if let Some(m) = &view.machine {
        if !m.breakpoints.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(tr(lang, "breakpoints"));
                for &b in &m.breakpoints {
                    let name = view
                        .symbols
                        .describe(b)
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
    ui.label(RichText::new(tr(lang, "click_bp")).small().weak());
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
    let mut follow = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
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
                let sym = view.symbols.describe(l.lin).unwrap_or_default();
                let text = format!(
                    "{} {:08x} {:<18} {:<20} {}",
                    if bp { "*" } else { " " },
                    l.lin,
                    sym,
                    l.bytes,
                    l.text
                );
                ui.horizontal(|ui| {
                    let mut rt = mono(text);
                    if bp {
                        rt = rt.color(Color32::from_rgb(255, 90, 90));
                    }
                    if cur {
                        rt = rt.background_color(CURRENT_BG).strong();
                    }
                    let r = ui.add(egui::Button::selectable(cur, rt).frame(false));
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
    if let Some(t) = follow {
        p.update_request(cmds, |r| r.code_addr = Some(t));
    }
}
