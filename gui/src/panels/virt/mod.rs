//! The virtualization tab: one view at a time, chosen in a row of buttons, one file each
//! (worlds timeline, exit ledger...). They share the worlds model (`model`), built once per
//! published view from the events it carries; each view owns only its UI state.

pub mod arch;
pub mod compare;
pub mod containers;
pub mod ledger;
pub mod model;
pub mod nested;
pub mod stepper;
pub mod timeline;

use crate::i18n::{tr, Lang};
use crate::panels::Panels;
use crate::view::View;
use crate::worker::Command;
use model::Timeline;
use std::sync::Arc;

/// A grouped bar chart's frame, shared by the exit ledger and the comparison chart: a fixed
/// plot (no drag, zoom or scroll, so a projected chart does not move under the mouse) whose
/// x axis names one category at each integer.
pub(crate) fn category_plot(id: &str, height: f32, names: Vec<String>) -> egui_plot::Plot<'static> {
    egui_plot::Plot::new(id)
        .height(height)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .include_y(0.0)
        .legend(egui_plot::Legend::default())
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
}

/// The x of bar `k` of `n` in category `i`'s group (the group spans 0.8 around `i`), and
/// each bar's width.
pub(crate) fn group_bar(i: usize, k: usize, n: usize) -> (f64, f64) {
    let width = 0.8 / n.max(1) as f64;
    (i as f64 - 0.4 + width * (k as f64 + 0.5), width * 0.9)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtView {
    Timeline,
    Ledger,
    Nested,
    Stepper,
    Arch,
    Containers,
    Compare,
}

impl VirtView {
    pub const ALL: [VirtView; 7] = [
        VirtView::Timeline,
        VirtView::Ledger,
        VirtView::Nested,
        VirtView::Stepper,
        VirtView::Arch,
        VirtView::Containers,
        VirtView::Compare,
    ];

    pub fn key(self) -> &'static str {
        match self {
            VirtView::Timeline => "virt_timeline",
            VirtView::Ledger => "virt_ledger",
            VirtView::Nested => "virt_nested",
            VirtView::Stepper => "virt_stepper",
            VirtView::Arch => "virt_arch",
            VirtView::Containers => "virt_containers",
            VirtView::Compare => "virt_compare",
        }
    }
}

pub struct State {
    pub view: VirtView,
    pub timeline: timeline::State,
    pub ledger: ledger::State,
    pub nested: nested::State,
    pub stepper: stepper::State,
    pub compare: compare::State,
    pub containers: containers::State,
    /// The model of the last view drawn (by view seq).
    cache: Option<(u64, Arc<Timeline>)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            view: VirtView::Timeline,
            timeline: Default::default(),
            ledger: Default::default(),
            nested: Default::default(),
            stepper: Default::default(),
            compare: Default::default(),
            containers: Default::default(),
            cache: None,
        }
    }
}

impl State {
    /// The worlds model of `view` (rebuilt when a new view was published).
    pub fn model(&mut self, view: &View) -> Arc<Timeline> {
        match &self.cache {
            Some((seq, t)) if *seq == view.seq => t.clone(),
            _ => {
                let t = Arc::new(match &view.machine {
                    Some(m) => {
                        Timeline::build(&m.lasting, &m.events, m.icount, timeline::lane_now(m))
                    }
                    None => Timeline::default(),
                });
                self.cache = Some((view.seq, t.clone()));
                t
            }
        }
    }
}

pub fn ui(ui: &mut egui::Ui, p: &mut Panels, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        for v in VirtView::ALL {
            ui.selectable_value(&mut p.virt.view, v, tr(lang, v.key()));
        }
    });
    ui.separator();
    // Only the Containers view needs minios's process tables read for every view.
    let want = p.virt.view == VirtView::Containers;
    p.update_request(cmds, |r| r.os_tables = want);
    if want {
        let st = &mut p.virt.containers;
        return scrolled(ui, "virt-containers", |ui| {
            containers::ui(ui, st, view, lang)
        });
    }
    if p.virt.view == VirtView::Nested {
        // It changes the view request (the address to walk): it needs all the panels.
        return scrolled(ui, "virt-nested", |ui| nested::ui(ui, p, view, lang, cmds));
    }
    let st = &mut p.virt;
    if st.view == VirtView::Compare {
        // Its own machines, not the one shown: no worlds model needed.
        return scrolled(ui, "virt-compare", |ui| {
            compare::ui(ui, &mut st.compare, lang)
        });
    }
    let t = st.model(view);
    match st.view {
        VirtView::Timeline => timeline::ui(ui, &mut st.timeline, &t, view, lang, cmds),
        VirtView::Ledger => scrolled(ui, "virt-ledger", |ui| {
            ledger::ui(ui, &mut st.ledger, &t, view, lang)
        }),
        VirtView::Stepper => scrolled(ui, "virt-stepper", |ui| {
            stepper::ui(ui, &mut st.stepper, &t, view, lang, cmds)
        }),
        VirtView::Arch => scrolled(ui, "virt-arch", |ui| arch::ui(ui, &t, view, lang)),
        VirtView::Nested | VirtView::Compare | VirtView::Containers => {}
    }
}

fn scrolled(ui: &mut egui::Ui, id: &str, f: impl FnOnce(&mut egui::Ui)) {
    egui::ScrollArea::both()
        .id_salt(id)
        .auto_shrink([false, false])
        .show(ui, f);
}
