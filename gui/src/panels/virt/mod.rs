//! The virtualization tab: one view at a time, chosen in a row of buttons, one file each
//! (worlds timeline, exit ledger...). They share the worlds model (`model`), built once per
//! published view from the events it carries; each view owns only its UI state.

pub mod ledger;
pub mod model;
pub mod timeline;

use crate::i18n::{tr, Lang};
use crate::view::View;
use crate::worker::Command;
use model::Timeline;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtView {
    Timeline,
    Ledger,
}

impl VirtView {
    pub const ALL: [VirtView; 2] = [VirtView::Timeline, VirtView::Ledger];

    pub fn key(self) -> &'static str {
        match self {
            VirtView::Timeline => "virt_timeline",
            VirtView::Ledger => "virt_ledger",
        }
    }
}

pub struct State {
    pub view: VirtView,
    pub timeline: timeline::State,
    pub ledger: ledger::State,
    /// The model of the last view drawn (by view seq).
    cache: Option<(u64, Arc<Timeline>)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            view: VirtView::Timeline,
            timeline: Default::default(),
            ledger: Default::default(),
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

pub fn ui(ui: &mut egui::Ui, st: &mut State, view: &View, lang: Lang, cmds: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        for v in VirtView::ALL {
            ui.selectable_value(&mut st.view, v, tr(lang, v.key()));
        }
    });
    ui.separator();
    let t = st.model(view);
    match st.view {
        VirtView::Timeline => timeline::ui(ui, &mut st.timeline, &t, view, lang, cmds),
        VirtView::Ledger => {
            egui::ScrollArea::vertical()
                .id_salt("virt-ledger")
                .auto_shrink([false, false])
                .show(ui, |ui| ledger::ui(ui, &mut st.ledger, &t, view, lang))
                .inner
        }
    }
}
