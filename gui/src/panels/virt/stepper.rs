//! Trap-and-emulate stepper: "run to the next exit" stops on the guest instruction that
//! traps (a #VMEXIT under SVM, a trap into ring 0 under tevmm), "step through the handler"
//! steps the hypervisor one instruction at a time (its code in the disassembly, named with
//! the symbols of the hypervisor's ELF), "back to the guest" runs to the switch that
//! resumes the guest. Side by side: the trapping instruction, the exit's fields decoded
//! (the VMCB's EXITCODE/EXITINFO1/2, or the trap frame tevmm's stub received), where the
//! handler is, and what the handling changed in the registers (the emulated effect).

use super::model::{Cause, Timeline};
use super::timeline::{cause_text, lane_name};
use crate::i18n::{tr, Lang};
use crate::panels::disasm::{decode, Syntax};
use crate::panels::mono;
use crate::view::{MachineView, View};
use crate::worker::Command;
use egui::{Color32, RichText};
use traplab::cpu::state::REG_NAMES;

#[derive(Default)]
pub struct State {
    /// The trapping instruction as seen when the machine stood on it: (icount, text).
    pub trapping: Option<(u64, String)>,
}

/// IOIO EXITINFO1 decoded (AMD APM Vol. 2 15.10.2).
pub fn ioio(info1: u64) -> String {
    let size = if info1 & 0x40 != 0 {
        32
    } else if info1 & 0x20 != 0 {
        16
    } else {
        8
    };
    format!(
        "{} port {:#06x}, {size}-bit{}{}",
        if info1 & 1 != 0 { "IN" } else { "OUT" },
        info1 >> 16,
        if info1 & 4 != 0 { ", string" } else { "" },
        if info1 & 8 != 0 { ", REP" } else { "" },
    )
}

/// NPF EXITINFO1 decoded (APM 15.25.6).
pub fn npf(info1: u64) -> String {
    let mut v = vec![if info1 & 1 != 0 {
        "protection"
    } else {
        "not present"
    }];
    v.push(if info1 & 2 != 0 { "write" } else { "read" });
    if info1 & 0x10 != 0 {
        v.push("fetch");
    }
    v.push(if info1 & (1 << 33) != 0 {
        "on a guest page-table access"
    } else {
        "on the final guest-physical address"
    });
    v.join(", ")
}

/// A decoded line for the exit's code (what the fields mean for it).
fn exit_meaning(code: u64, info1: u64, info2: u64) -> String {
    match code {
        0x7B => ioio(info1),
        0x400 => format!("{}; gPA {info2:#x}", npf(info1)),
        0x40..=0x5F => format!("exception {}, error code {info1:#x}", code - 0x40),
        0x7C => format!("{} MSR", if info1 & 1 != 0 { "WRMSR" } else { "RDMSR" }),
        _ => String::new(),
    }
}

pub fn ui(
    ui: &mut egui::Ui,
    st: &mut State,
    t: &Timeline,
    view: &View,
    lang: Lang,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        if ui.button(tr(lang, "run_to_exit")).clicked() {
            cmds.push(Command::RunToSwitch(true));
        }
        if ui.button(tr(lang, "step_handler")).clicked() {
            cmds.push(Command::Step);
        }
        if ui.button(tr(lang, "step_over")).clicked() {
            cmds.push(Command::StepOver);
        }
        if ui.button(tr(lang, "back_to_guest")).clicked() {
            cmds.push(Command::RunToSwitch(false));
        }
    });
    let Some(m) = &view.machine else {
        return;
    };
    let dp = t.deprivileged();
    // The last entry into the hypervisor at or before now.
    let last = t
        .switches
        .iter()
        .rev()
        .find(|s| s.cause.is_entry() && s.icount <= m.icount);
    // "Run to next exit" stopped on the guest instruction that traps (the switch happens
    // when it runs): remember it for the steps that follow.
    let at_switch = view.status == format!("world switch at {}", m.icount)
        && super::timeline::lane_now(m) != (super::model::Lane::Host { ring: 0 });
    if at_switch && st.trapping.as_ref().map(|x| x.0) != Some(m.icount) {
        if let Some(code) = &m.code {
            let at = m.pc.wrapping_sub(m.code_start) as usize;
            let lines = decode(
                code.get(at..).unwrap_or(&[]),
                m.pc,
                m.cs_base(),
                m.code32,
                Syntax::Intel,
                &view.symbols,
            );
            if let Some(l) = lines.first() {
                st.trapping = Some((m.icount, format!("{:08x}  {}", l.lin, l.text)));
            }
        }
    }
    ui.columns(3, |cols| {
        // The guest's side.
        let ui = &mut cols[0];
        ui.label(RichText::new(tr(lang, "trapping_instruction")).strong());
        if at_switch {
            ui.label(
                RichText::new(tr(lang, "about_to_trap")).color(Color32::from_rgb(255, 200, 90)),
            );
        }
        // The instruction captured at the switch (now, or the exit just taken).
        if let Some((ic, text)) = &st.trapping {
            if *ic == m.icount || last.is_some_and(|s| s.icount == *ic) {
                ui.label(mono(text).color(Color32::from_rgb(255, 200, 90)));
            }
        }
        match last.filter(|_| !at_switch) {
            Some(s) => {
                ui.label(mono(format!(
                    "{} {}  ({})",
                    tr(lang, "at_icount"),
                    s.icount,
                    lane_name(lang, s.from, dp)
                )));
                let sym = view
                    .symbols_for(s.from.is_guest_code(dp))
                    .describe(s.eip)
                    .map(|x| format!(" <{x}>"))
                    .unwrap_or_default();
                ui.label(mono(format!("EIP {:08x}{sym}", s.eip)));
                ui.label(
                    mono(cause_text(lang, &s.cause)).color(super::timeline::cause_colour(&s.cause)),
                );
            }
            None if !at_switch => {
                ui.label(tr(lang, "no_exit_yet"));
            }
            None => {}
        }
        // The exit's fields.
        let ui = &mut cols[1];
        ui.label(RichText::new(tr(lang, "exit_fields")).strong());
        match (last.filter(|_| !at_switch).map(|s| &s.cause), &m.vmcb) {
            (Some(Cause::Exit { .. }), Some(v)) if !v.running => {
                egui::Grid::new("stepper-vmcb")
                    .num_columns(2)
                    .show(ui, |ui| {
                        for (n, x) in [
                            ("EXITCODE", v.exitcode),
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
                ui.label(mono(format!(
                    "{} {}",
                    v.exit_name,
                    exit_meaning(v.exitcode, v.exitinfo1, v.exitinfo2)
                )));
            }
            (
                Some(Cause::Exit {
                    code, info1, info2, ..
                }),
                _,
            ) => {
                ui.label(mono(format!(
                    "{} (code {code:#x}) info1 {info1:#x} info2 {info2:#x}",
                    traplab::inspect::exit_name(*code)
                )));
                ui.label(mono(exit_meaning(*code, *info1, *info2)));
                ui.label(RichText::new(tr(lang, "step_to_see_vmcb")).small().weak());
            }
            (Some(c), _) if m.cpu.cpl == 0 => trap_frame(ui, c, m, lang),
            (Some(_), _) => {
                ui.label(RichText::new(tr(lang, "step_to_see_frame")).small().weak());
            }
            (None, _) => {}
        }
        // The hypervisor's side.
        let ui = &mut cols[2];
        ui.label(RichText::new(tr(lang, "handler")).strong());
        let sym = view.symbols.describe(m.pc).unwrap_or_else(|| "?".into());
        ui.label(mono(format!("EIP {:08x} <{sym}>  CPL {}", m.pc, m.cpu.cpl)));
        if let Some(s) = last {
            ui.label(mono(format!(
                "{} {}",
                m.icount.saturating_sub(s.icount),
                tr(lang, "instr_since_exit")
            )));
        }
        ui.label(RichText::new(tr(lang, "effect")).strong());
        if let Some(p) = &m.prev_cpu {
            let mut any = false;
            for (r, name) in REG_NAMES.iter().enumerate() {
                if p.gpr[r] != m.cpu.gpr[r] {
                    any = true;
                    ui.label(mono(format!(
                        "{}: {:08x} -> {:08x}",
                        name.to_uppercase(),
                        p.gpr[r],
                        m.cpu.gpr[r]
                    )));
                }
            }
            if p.eflags != m.cpu.eflags {
                any = true;
                ui.label(mono(format!(
                    "EFLAGS: {:08x} -> {:08x}",
                    p.eflags, m.cpu.eflags
                )));
            }
            if !any {
                ui.label(mono("-"));
            }
        }
    });
}

/// The frame the CPU pushed on the ring-0 stack for a trap (tevmm's stubs receive it).
fn trap_frame(ui: &mut egui::Ui, c: &Cause, m: &MachineView, lang: Lang) {
    let with_error = match c {
        Cause::Trap { error, .. } => error.is_some(),
        Cause::PageFault { .. } => true,
        _ => false,
    };
    let mut names = vec!["EIP", "CS", "EFLAGS", "ESP", "SS"];
    if with_error {
        names.insert(0, "error code");
    }
    ui.label(RichText::new(tr(lang, "trap_frame_hint")).small().weak());
    egui::Grid::new("stepper-frame")
        .num_columns(3)
        .show(ui, |ui| {
            for (n, (lin, v)) in names.iter().zip(&m.stack) {
                ui.label(mono(*n));
                ui.label(mono(format!("{lin:08x}")));
                ui.label(mono(v.map_or("--------".into(), |v| format!("{v:08x}"))));
                ui.end_row();
            }
        });
}
