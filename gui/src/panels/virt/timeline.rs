//! Worlds timeline: one lane per world (hypervisor or host kernel, host user space, a
//! deprivileged guest kernel, each SVM guest's kernel and user space), the stretches of
//! instructions each ran as bars, and every world switch as a line between lanes coloured
//! by its cause (#VMEXIT by exit name, trap, hypercall, interrupt, return). Scroll to zoom,
//! drag to pan; a click on a switch (on the canvas or in the list below) travels to it by
//! reverse execution (`Command::GoTo`). Draws from `model::Timeline`; owns only its
//! zoom/pan state.

use super::model::{Cause, Lane, Switch, Timeline};
use crate::i18n::{tr, Lang};
use crate::panels::mono;
use crate::view::{MachineView, View};
use crate::worker::Command;
use egui::{Color32, RichText, Sense, Stroke};

#[derive(Default)]
pub struct State {
    /// The instruction counts shown, left to right; None fits the whole window of events.
    pub range: Option<(f64, f64)>,
    /// The switch travelled to last.
    pub selected: Option<u64>,
}

/// A lane's name in the user's language.
pub fn lane_name(lang: Lang, lane: Lane, deprivileged: bool) -> String {
    match lane {
        Lane::Host { ring: 0 } => tr(lang, "lane_hypervisor").to_string(),
        Lane::Host { ring: 3 } if deprivileged => tr(lang, "lane_guest_user_r3").to_string(),
        Lane::Host { ring: 3 } => tr(lang, "lane_host_user").to_string(),
        Lane::Host { ring } => format!("{} {ring})", tr(lang, "lane_deprivileged")),
        Lane::Guest { asid, user } => format!(
            "{} {asid} {}",
            tr(lang, "lane_guest"),
            tr(lang, if user { "world_user" } else { "world_kernel" })
        ),
    }
}

/// A cause in the user's language.
pub fn cause_text(lang: Lang, c: &Cause) -> String {
    let s = c.short();
    if lang == Lang::Es {
        s.replace("hypercall", "hiperllamada")
            .replace(" trap", " (trampa)")
            .replace("return", "retorno")
    } else {
        s
    }
}

/// The colour of a cause (the legend says which is which).
pub fn cause_colour(c: &Cause) -> Color32 {
    if c.is_hypercall() {
        return Color32::from_rgb(200, 120, 255);
    }
    match c {
        Cause::Exit { .. } => Color32::from_rgb(90, 160, 255),
        Cause::Vmrun => Color32::from_rgb(90, 210, 120),
        Cause::Trap { .. } => Color32::from_rgb(255, 110, 90),
        Cause::PageFault { .. } => Color32::from_rgb(255, 170, 60),
        Cause::SoftInt { .. } => Color32::from_rgb(240, 220, 80),
        Cause::Irq { .. } => Color32::from_rgb(120, 200, 210),
        Cause::Return => Color32::from_rgb(150, 150, 150),
    }
}

fn lane_colour(l: Lane) -> Color32 {
    match l {
        Lane::Host { ring: 0 } => Color32::from_rgb(200, 90, 90),
        Lane::Host { ring: 3 } => Color32::from_rgb(110, 170, 110),
        Lane::Host { .. } => Color32::from_rgb(200, 160, 80),
        Lane::Guest { user: false, .. } => Color32::from_rgb(90, 130, 210),
        Lane::Guest { user: true, .. } => Color32::from_rgb(110, 190, 230),
    }
}

/// The lane that runs now.
pub fn lane_now(m: &MachineView) -> Lane {
    match m.ledger.current {
        traplab::inspect::World::Guest { asid } => Lane::Guest {
            asid,
            user: m.ledger.current_user,
        },
        traplab::inspect::World::Host => Lane::Host { ring: m.cpu.cpl },
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
    let Some(m) = &view.machine else {
        return;
    };
    let dp = t.deprivileged();
    let (lo, hi) = (t.start as f64, (t.now as f64).max(t.start as f64 + 1.0));
    let (mut x0, mut x1) = st.range.unwrap_or((lo, hi));
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{} {} | {} {} .. {}",
                t.switches.len(),
                tr(lang, "switches_kept"),
                tr(lang, "reverse_window"),
                m.oldest,
                m.icount
            ))
            .small(),
        );
        if ui.button(tr(lang, "fit")).clicked() {
            st.range = None;
            (x0, x1) = (lo, hi);
        }
        for (label, f) in [("+", 0.5), ("-", 2.0)] {
            if ui.button(label).clicked() {
                let c = (x0 + x1) / 2.0;
                let half = ((x1 - x0) * f / 2.0).max(2.0);
                (x0, x1) = (c - half, c + half);
                st.range = Some((x0, x1));
            }
        }
        ui.label(RichText::new(tr(lang, "timeline_hint")).small().weak());
    });
    // The canvas: a label column, then the lanes.
    let lane_h = 20.0;
    let label_w = 210.0_f32.min(ui.available_width() * 0.35);
    let height = t.lanes.len() as f32 * lane_h + 18.0;
    let width = ui.available_width();
    let (resp, painter) = ui.allocate_painter(egui::vec2(width, height), Sense::click_and_drag());
    let rect = resp.rect;
    let plot = egui::Rect::from_min_max(
        egui::pos2(rect.left() + label_w, rect.top()),
        egui::pos2(rect.right() - 4.0, rect.bottom() - 18.0),
    );
    let span = (x1 - x0).max(1.0);
    let from_x = |x: f32| x0 + ((x - plot.left()) / plot.width()) as f64 * span;
    // Zoom about the pointer, pan by dragging.
    if resp.hovered() {
        let (dy, pos) = ui.input(|i| (i.smooth_scroll_delta.y, i.pointer.hover_pos()));
        if dy != 0.0 {
            let f = (-dy as f64 * 0.004).exp();
            let c = pos.map_or((x0 + x1) / 2.0, |p| from_x(p.x));
            (x0, x1) = (c - (c - x0) * f, c + (x1 - c) * f);
            if x1 - x0 < 4.0 {
                (x0, x1) = (c - 2.0, c + 2.0);
            }
            st.range = Some((x0, x1));
        }
    }
    if resp.dragged() {
        let dx = resp.drag_delta().x as f64 / plot.width().max(1.0) as f64 * (x1 - x0);
        (x0, x1) = (x0 - dx, x1 - dx);
        st.range = Some((x0, x1));
    }
    let span = (x1 - x0).max(1.0);
    let to_x = |ic: f64| plot.left() + ((ic - x0) / span) as f32 * plot.width();
    let lane_y = |l: Lane| {
        let i = t.lanes.iter().position(|x| *x == l).unwrap_or(0);
        plot.top() + i as f32 * lane_h
    };
    let font = egui::FontId::monospace(11.0);
    let text_col = ui.visuals().text_color();
    for (i, l) in t.lanes.iter().enumerate() {
        let y = plot.top() + i as f32 * lane_h;
        if i % 2 == 0 {
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(rect.left(), y),
                    egui::pos2(plot.right(), y + lane_h),
                ),
                0.0,
                Color32::from_white_alpha(8),
            );
        }
        painter.text(
            egui::pos2(rect.left() + 4.0, y + lane_h / 2.0),
            egui::Align2::LEFT_CENTER,
            lane_name(lang, *l, dp),
            font.clone(),
            text_col,
        );
    }
    let clip = painter.with_clip_rect(plot.expand2(egui::vec2(0.0, 1.0)));
    // Stretches: at most one rectangle per pixel column and lane.
    let mut last_end: Vec<f32> = vec![f32::NEG_INFINITY; t.lanes.len()];
    let mut pending: Vec<Option<egui::Rect>> = vec![None; t.lanes.len()];
    for s in &t.segments {
        if (s.end as f64) < x0 || (s.start as f64) > x1 {
            continue;
        }
        let li = t.lanes.iter().position(|x| *x == s.lane).unwrap_or(0);
        let y = lane_y(s.lane);
        let a = to_x(s.start as f64).max(plot.left() - 1.0);
        let b = to_x(s.end as f64).min(plot.right() + 1.0).max(a + 1.0);
        let r = egui::Rect::from_min_max(egui::pos2(a, y + 4.0), egui::pos2(b, y + lane_h - 4.0));
        match &mut pending[li] {
            Some(p) if a <= last_end[li] + 1.0 => *p = p.union(r),
            slot => {
                if let Some(p) = slot.take() {
                    clip.rect_filled(p, 1.0, lane_colour(s.lane));
                }
                *slot = Some(r);
            }
        }
        last_end[li] = b;
    }
    for (li, p) in pending.into_iter().enumerate() {
        if let Some(p) = p {
            clip.rect_filled(p, 1.0, lane_colour(t.lanes[li]));
        }
    }
    // Switches: one line per pixel column and pair of lanes; labels where there is room.
    let mut drawn: std::collections::HashMap<(i32, Lane, Lane), ()> = Default::default();
    let mut label_until = f32::NEG_INFINITY;
    let first = t.switches.partition_point(|s| (s.icount as f64) < x0);
    for s in t.switches[first..]
        .iter()
        .take_while(|s| s.icount as f64 <= x1)
    {
        let x = to_x(s.icount as f64);
        if drawn.insert((x as i32, s.from, s.to), ()).is_some() {
            continue;
        }
        let (ya, yb) = (lane_y(s.from) + lane_h / 2.0, lane_y(s.to) + lane_h / 2.0);
        let mut col = cause_colour(&s.cause);
        if s.icount < m.oldest {
            col = col.gamma_multiply(0.4);
        }
        let w = if st.selected == Some(s.icount) {
            3.0
        } else {
            1.5
        };
        clip.line_segment([egui::pos2(x, ya), egui::pos2(x, yb)], Stroke::new(w, col));
        clip.circle_filled(egui::pos2(x, yb), 2.5, col);
        if s.cause.is_entry() && x > label_until {
            let txt = cause_text(lang, &s.cause);
            let g = clip.layout_no_wrap(txt, egui::FontId::proportional(10.0), col);
            let wdt = g.size().x;
            clip.galley(egui::pos2(x + 3.0, ya.min(yb) - 1.0), g, col);
            label_until = x + wdt + 8.0;
        }
    }
    // Now, and the axis.
    let xn = to_x(t.now as f64);
    clip.line_segment(
        [egui::pos2(xn, plot.top()), egui::pos2(xn, plot.bottom())],
        Stroke::new(1.0, Color32::YELLOW),
    );
    for (ic, align) in [(x0, egui::Align2::LEFT_TOP), (x1, egui::Align2::RIGHT_TOP)] {
        painter.text(
            egui::pos2(to_x(ic), plot.bottom() + 2.0),
            align,
            format!("{}", ic.max(0.0).round() as u64),
            font.clone(),
            text_col,
        );
    }
    // A click on (or near) a switch travels to it.
    let hover = resp.hover_pos().and_then(|p| {
        let s = t.nearest(from_x_at(p.x, plot, x0, span))?;
        ((to_x(s.icount as f64) - p.x).abs() <= 6.0).then_some(s)
    });
    if let Some(s) = hover {
        let text = switch_text(lang, s, dp, view);
        let resp = resp.clone().on_hover_text(text);
        if resp.clicked() {
            travel(st, s, m, cmds);
        }
    }
    legend(ui, lang);
    switch_list(ui, st, t, view, lang, cmds);
}

fn from_x_at(x: f32, plot: egui::Rect, x0: f64, span: f64) -> f64 {
    x0 + ((x - plot.left()) / plot.width().max(1.0)) as f64 * span
}

fn travel(st: &mut State, s: &Switch, m: &MachineView, cmds: &mut Vec<Command>) {
    if s.icount >= m.oldest {
        st.selected = Some(s.icount);
        cmds.push(Command::GoTo(s.icount));
    }
}

/// One line for a switch: instruction count, lanes, cause, where.
pub fn switch_text(lang: Lang, s: &Switch, dp: bool, view: &View) -> String {
    let sym = view
        .symbols_for(s.from.is_guest_code(dp))
        .describe(s.eip)
        .map(|x| format!(" <{x}>"))
        .unwrap_or_default();
    format!(
        "{:>12}  {} -> {}  {}  {:04x}:{:08x}{sym}",
        s.icount,
        lane_name(lang, s.from, dp),
        lane_name(lang, s.to, dp),
        cause_text(lang, &s.cause),
        s.cs,
        s.eip
    )
}

fn legend(ui: &mut egui::Ui, lang: Lang) {
    ui.horizontal_wrapped(|ui| {
        for (c, key) in [
            (
                Cause::Exit {
                    code: 0,
                    info1: 0,
                    info2: 0,
                    asid: 0,
                },
                "legend_exit",
            ),
            (Cause::Vmrun, "legend_vmrun"),
            (
                Cause::Trap {
                    vector: 13,
                    error: None,
                },
                "legend_trap",
            ),
            (Cause::PageFault { addr: 0, error: 0 }, "legend_pf"),
            (Cause::SoftInt { vector: 0x80 }, "legend_int"),
            (Cause::SoftInt { vector: 0x82 }, "legend_hypercall"),
            (Cause::Irq { vector: 0x20 }, "legend_irq"),
            (Cause::Return, "legend_return"),
        ] {
            // A painted swatch (the fonts have no square glyph).
            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), Sense::hover());
            ui.painter().rect_filled(r, 2.0, cause_colour(&c));
            ui.label(RichText::new(tr(lang, key)).small());
        }
    });
}

/// The switches as a list (newest at the bottom): click one to travel to it.
fn switch_list(
    ui: &mut egui::Ui,
    st: &mut State,
    t: &Timeline,
    view: &View,
    lang: Lang,
    cmds: &mut Vec<Command>,
) {
    let Some(m) = &view.machine else {
        return;
    };
    let dp = t.deprivileged();
    // One line per row, whatever the width: show_rows places rows by this height.
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    egui::ScrollArea::vertical()
        .id_salt("switch-list")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, row_h, t.switches.len(), |ui, range| {
            ui.spacing_mut().item_spacing.y = 0.0;
            let w = ui.available_width();
            for s in &t.switches[range] {
                let mut rt = mono(switch_text(lang, s, dp, view)).color(cause_colour(&s.cause));
                if s.icount < m.oldest {
                    rt = rt.color(Color32::GRAY);
                }
                let sel = st.selected == Some(s.icount) && m.icount == s.icount;
                if ui
                    .add_sized(
                        [w, row_h],
                        egui::Button::selectable(sel, rt).frame(false).truncate(),
                    )
                    .clicked()
                {
                    travel(st, s, m, cmds);
                }
            }
        });
}
