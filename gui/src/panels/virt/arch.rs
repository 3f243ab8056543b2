//! The architecture view: type 1 beside type 2. The layers of the machine that runs
//! (hardware, hypervisor or host kernel, the VMM process, guest kernels, guest user space)
//! drawn from what the live machine shows: which worlds ran (the worlds model and the
//! core's counts of instructions per world), which image runs in each (the booted image on
//! the host, the Multiboot module in the guests), and the path of the last exit through
//! the layers it crossed, animated, with its cost (host instructions until the guest ran
//! again at 10 ns each, plus the cost model's #VMEXIT and VMRUN charges). The kind that is
//! not running is drawn beside it, dimmed, as the reference to compare with.
//!
//! Pure reading of the view and the model; it must not send commands or keep machine state.

use super::model::{Cause, Lane, Timeline};
use crate::i18n::{tr, Lang};
use crate::view::{MachineView, View};
use egui::{Color32, Pos2, RichText, Stroke};
use traplab::inspect::World;

/// What kind of machine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No hypervisor: an OS on the hardware.
    Native,
    /// A monitor at ring 0 runs a deprivileged guest kernel (tevmm): type 1, no SVM.
    TrapEmulate,
    /// SVM guests, and the host never ran user code: a bare-metal hypervisor (hv1).
    Type1,
    /// SVM guests started by a host whose user space runs (minios + vmm: hv2).
    Type2,
}

/// A layer of the stack, bottom to top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Hardware,
    /// Host ring 0: the hypervisor, monitor or host kernel.
    Ring0,
    /// Host user space: the VMM process (type 2) or the applications (native).
    HostUser,
    GuestOs,
    GuestApps,
}

/// The kind of the live machine, from the worlds that ran.
pub fn kind(t: &Timeline, m: &MachineView) -> Kind {
    let host_user = m
        .ledger
        .retired
        .iter()
        .any(|w| w.world == World::Host && w.user > 0);
    let svm = m.ledger.svm_used || t.lanes.iter().any(|l| matches!(l, Lane::Guest { .. }));
    match (svm, host_user) {
        (true, true) => Kind::Type2,
        (true, false) => Kind::Type1,
        _ if t.deprivileged() => Kind::TrapEmulate,
        _ => Kind::Native,
    }
}

/// The layer a lane belongs to in a machine of `kind`.
pub fn layer_of(kind: Kind, lane: Lane) -> Layer {
    match lane {
        Lane::Host { ring: 0 } => Layer::Ring0,
        Lane::Host { ring: 1 | 2 } => Layer::GuestOs,
        Lane::Host { .. } => match kind {
            Kind::TrapEmulate => Layer::GuestApps,
            _ => Layer::HostUser,
        },
        Lane::Guest { user: false, .. } => Layer::GuestOs,
        Lane::Guest { user: true, .. } => Layer::GuestApps,
    }
}

/// The last exit from a guest and what it crossed until the guest ran again.
#[derive(Clone, Debug, PartialEq)]
pub struct ExitPath {
    pub icount: u64,
    pub cause: Cause,
    /// The layers in the order they ran, from the guest's layer back to it (or to the one
    /// running now, when the guest has not resumed yet).
    pub layers: Vec<Layer>,
    /// Host instructions until the guest resumed (None: not yet).
    pub handler: Option<u64>,
    /// Virtual nanoseconds: the host's instructions at 10 ns each, plus the #VMEXIT and
    /// VMRUN charges for an SVM exit.
    pub cost_ns: Option<u64>,
}

/// The path of the last exit in the window of events the model explains (the last one
/// handled to the end, when there is one).
pub fn last_exit(kind: Kind, t: &Timeline, m: &MachineView) -> Option<ExitPath> {
    let dp = t.deprivileged();
    let entries = t.entries();
    // The last exit the guest came back from (its whole path and cost are known), else
    // the one still being handled.
    let e = entries
        .iter()
        .rev()
        .find(|e| e.handler.is_some())
        .or(entries.last())?;
    let sw = t
        .switches
        .iter()
        .rev()
        .find(|s| s.icount == e.icount && s.cause == e.cause && s.from.vm(dp).is_some())?;
    let mut layers = vec![layer_of(kind, sw.from)];
    for seg in t.segments.iter().filter(|s| s.end > sw.icount) {
        let l = layer_of(kind, seg.lane);
        if layers.last() != Some(&l) {
            layers.push(l);
        }
        // A guest runs again: the exit is over.
        if seg.start > sw.icount && seg.lane.vm(dp).is_some() {
            break;
        }
    }
    let svm = matches!(e.cause, Cause::Exit { .. });
    let cost_ns = e.handler.map(|n| {
        n * 10
            + if svm {
                m.ledger.costs.vmexit + m.ledger.costs.vmrun
            } else {
                0
            }
    });
    Some(ExitPath {
        icount: e.icount,
        cause: e.cause.clone(),
        layers,
        handler: e.handler,
        cost_ns,
    })
}

/// The image that runs on the host, and the guests' (the first Multiboot module).
fn names(view: &View) -> (String, String) {
    let file = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.to_string())
    };
    let host = if view.image == crate::images::BUILTIN_MINIOS {
        "minios.elf".to_string()
    } else {
        file(&view.image)
    };
    let guest = view
        .modules
        .first()
        .map(|m| file(m))
        .unwrap_or_else(|| "?".into());
    (host, guest)
}

fn layer_colour(l: Layer) -> Color32 {
    match l {
        Layer::Hardware => Color32::from_rgb(90, 90, 100),
        Layer::Ring0 => Color32::from_rgb(150, 60, 60),
        Layer::HostUser => Color32::from_rgb(170, 120, 40),
        Layer::GuestOs => Color32::from_rgb(50, 100, 160),
        Layer::GuestApps => Color32::from_rgb(60, 140, 90),
    }
}

/// Instructions retired in a world (kernel, user).
fn retired(m: &MachineView, world: World) -> (u64, u64) {
    m.ledger
        .retired
        .iter()
        .filter(|w| w.world == world)
        .fold((0, 0), |(k, u), w| (k + w.kernel, u + w.user))
}

/// One box of a stack: its layer, its text lines, and whether it is part of the live
/// machine.
struct Boxed {
    layer: Layer,
    lines: Vec<String>,
}

/// The stack of the live machine, top first.
fn live_stack(kind: Kind, view: &View, m: &MachineView, lang: Lang) -> Vec<Boxed> {
    let (host, guest) = names(view);
    let (hk, hu) = retired(m, World::Host);
    let n = |v: u64| format!("{v} {}", tr(lang, "arch_instr"));
    let guests: Vec<u32> = m
        .ledger
        .retired
        .iter()
        .filter_map(|w| match w.world {
            World::Guest { asid } => Some(asid),
            World::Host => None,
        })
        .collect();
    let per_guest = |user: bool| -> Vec<String> {
        guests
            .iter()
            .map(|&a| {
                let (k, u) = retired(m, World::Guest { asid: a });
                format!("ASID {a}: {}", n(if user { u } else { k }))
            })
            .collect()
    };
    let mut v = Vec::new();
    let with = |layer, mut head: Vec<String>, rest: Vec<String>| {
        head.extend(rest);
        Boxed { layer, lines: head }
    };
    match kind {
        Kind::Native => {
            v.push(with(
                Layer::HostUser,
                vec![tr(lang, "arch_apps").into()],
                vec![n(hu)],
            ));
            v.push(with(
                Layer::Ring0,
                vec![format!("{}: {host}", tr(lang, "arch_os"))],
                vec![n(hk)],
            ));
        }
        Kind::TrapEmulate => {
            v.push(with(
                Layer::GuestApps,
                vec![format!("{} (ring 3)", tr(lang, "arch_guest_apps"))],
                vec![n(hu)],
            ));
            v.push(with(
                Layer::GuestOs,
                vec![format!(
                    "{}: {guest} (ring 1, {})",
                    tr(lang, "arch_guest_os"),
                    tr(lang, "arch_depriv")
                )],
                vec![],
            ));
            v.push(with(
                Layer::Ring0,
                vec![format!("{}: {host} (ring 0)", tr(lang, "arch_monitor"))],
                vec![n(hk)],
            ));
        }
        Kind::Type1 | Kind::Type2 => {
            v.push(with(
                Layer::GuestApps,
                vec![format!("{} (CPL 3)", tr(lang, "arch_guest_apps"))],
                per_guest(true),
            ));
            v.push(with(
                Layer::GuestOs,
                vec![format!("{}: {guest} (CPL 0)", tr(lang, "arch_guest_os"))],
                per_guest(false),
            ));
            if kind == Kind::Type2 {
                v.push(with(
                    Layer::HostUser,
                    vec![tr(lang, "arch_vmm").into()],
                    vec![n(hu)],
                ));
                v.push(with(
                    Layer::Ring0,
                    vec![format!("{}: {host} (ring 0)", tr(lang, "arch_host_os"))],
                    vec![n(hk)],
                ));
            } else {
                v.push(with(
                    Layer::Ring0,
                    vec![format!("{}: {host} (ring 0)", tr(lang, "arch_hypervisor"))],
                    vec![n(hk)],
                ));
            }
        }
    }
    v.push(with(
        Layer::Hardware,
        vec![tr(lang, "arch_hardware").into()],
        vec![],
    ));
    v
}

/// The reference stack of the kind that is not running (generic names).
fn reference_stack(type2: bool, lang: Lang) -> Vec<Boxed> {
    let b = |layer, key: &'static str| Boxed {
        layer,
        lines: vec![tr(lang, key).into()],
    };
    let mut v = vec![
        b(Layer::GuestApps, "arch_guest_apps"),
        b(Layer::GuestOs, "arch_guest_os"),
    ];
    if type2 {
        v.push(b(Layer::HostUser, "arch_vmm"));
        v.push(b(Layer::Ring0, "arch_host_os"));
    } else {
        v.push(b(Layer::Ring0, "arch_hypervisor"));
    }
    v.push(b(Layer::Hardware, "arch_hardware"));
    v
}

fn layer_name(lang: Lang, kind: Kind, l: Layer) -> &'static str {
    tr(
        lang,
        match (l, kind) {
            (Layer::Hardware, _) => "arch_hardware",
            (Layer::Ring0, Kind::Type2) => "arch_host_os",
            (Layer::Ring0, Kind::TrapEmulate) => "arch_monitor",
            (Layer::Ring0, Kind::Native) => "arch_os",
            (Layer::Ring0, _) => "arch_hypervisor",
            (Layer::HostUser, Kind::Native) => "arch_apps",
            (Layer::HostUser, _) => "arch_vmm",
            (Layer::GuestOs, _) => "arch_guest_os",
            (Layer::GuestApps, _) => "arch_guest_apps",
        },
    )
}

/// Draws a stack in a column; returns each layer's rectangle.
fn draw_stack(
    ui: &mut egui::Ui,
    title: String,
    stack: &[Boxed],
    live: bool,
) -> Vec<(Layer, egui::Rect)> {
    let mut rects = Vec::new();
    ui.vertical(|ui| {
        ui.strong(title);
        for b in stack {
            let mut fill = layer_colour(b.layer);
            if !live {
                fill = fill.gamma_multiply(0.35);
            }
            let r = egui::Frame::new()
                .fill(fill)
                .inner_margin(6.0)
                .corner_radius(4.0)
                .show(ui, |ui| {
                    ui.set_min_width(ui.available_width().min(360.0));
                    for (i, line) in b.lines.iter().enumerate() {
                        let t = RichText::new(line.as_str()).color(Color32::WHITE);
                        ui.label(if i == 0 { t.strong() } else { t.monospace() });
                    }
                })
                .response
                .rect;
            rects.push((b.layer, r));
        }
    });
    rects
}

pub fn ui(ui: &mut egui::Ui, t: &Timeline, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        return;
    };
    let kind = kind(t, m);
    let kind_key = match kind {
        Kind::Native => "arch_kind_native",
        Kind::TrapEmulate => "arch_kind_te",
        Kind::Type1 => "arch_kind_type1",
        Kind::Type2 => "arch_kind_type2",
    };
    ui.label(format!(
        "{}: {}",
        tr(lang, "arch_running"),
        tr(lang, kind_key)
    ));
    let path = last_exit(kind, t, m);
    let live_left = kind != Kind::Type2;
    let live = live_stack(kind, view, m, lang);
    let reference = reference_stack(live_left, lang);
    let col_w = (ui.available_width() / 2.0 - 12.0).max(160.0);
    let mut live_rects = Vec::new();
    ui.horizontal_top(|ui| {
        let mut column = |ui: &mut egui::Ui, is_live: bool, type2: bool| {
            ui.allocate_ui(egui::vec2(col_w, 0.0), |ui| {
                ui.set_width(col_w);
                let title = format!(
                    "{} — {}",
                    tr(lang, if type2 { "arch_type2" } else { "arch_type1" }),
                    tr(
                        lang,
                        if is_live {
                            "arch_live"
                        } else {
                            "arch_reference"
                        }
                    )
                );
                let stack = if is_live { &live } else { &reference };
                let r = draw_stack(ui, title, stack, is_live);
                if is_live {
                    live_rects = r;
                }
            });
        };
        column(ui, live_left, false);
        column(ui, !live_left, true);
    });
    ui.separator();
    let Some(p) = path else {
        ui.label(tr(lang, "arch_no_exit"));
        return;
    };
    let names: Vec<&str> = p
        .layers
        .iter()
        .map(|l| layer_name(lang, kind, *l))
        .collect();
    ui.label(format!(
        "{} {}: {} @ {}",
        tr(lang, "arch_last_exit"),
        p.cause.short(),
        names.join(" -> "),
        p.icount
    ));
    ui.label(match (p.handler, p.cost_ns) {
        (Some(n), Some(ns)) => format!(
            "{}: {n} {} {} = {:.2} µs",
            tr(lang, "arch_cost"),
            tr(lang, "arch_host_instr"),
            if matches!(p.cause, Cause::Exit { .. }) {
                format!(
                    "x 10 ns + #VMEXIT {} ns + VMRUN {} ns",
                    m.ledger.costs.vmexit, m.ledger.costs.vmrun
                )
            } else {
                "x 10 ns".to_string()
            },
            ns as f64 / 1000.0
        ),
        _ => tr(lang, "arch_not_resumed").to_string(),
    });
    animate(ui, &p.layers, &live_rects);
}

/// A dot travelling through the layers the exit crossed (one round every two seconds),
/// over arrows between them.
fn animate(ui: &egui::Ui, layers: &[Layer], rects: &[(Layer, egui::Rect)]) {
    // The path runs down the right-hand side of the boxes, one column per step so that
    // the way down and the way back up are told apart.
    let n = layers.len();
    let pts: Vec<Pos2> = layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let r = rects.iter().find(|(x, _)| x == l)?.1;
            Some(egui::pos2(
                r.right() - 16.0 - (n - 1 - i) as f32 * 14.0,
                r.center().y,
            ))
        })
        .collect();
    if pts.len() < 2 {
        return;
    }
    let painter = ui.painter();
    let stroke = Stroke::new(2.5, Color32::from_rgb(255, 220, 0));
    for w in pts.windows(2) {
        painter.arrow(w[0], w[1] - w[0], stroke);
    }
    let time = ui.input(|i| i.time);
    let f = (time % 2.0) / 2.0 * (pts.len() - 1) as f64;
    let (k, frac) = (f.floor() as usize, (f - f.floor()) as f32);
    let pos = pts[k] + (pts[(k + 1).min(pts.len() - 1)] - pts[k]) * frac;
    painter.circle_filled(pos, 7.0, Color32::from_rgb(255, 240, 120));
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(33));
}
