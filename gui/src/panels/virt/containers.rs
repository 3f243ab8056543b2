//! The Containers view: what minios's kernel knows of its processes, read from guest memory
//! through its symbols (`minios_tables`): the host's processes, and each container (the
//! processes of one PID namespace) with its PID mapping (pid inside = pid on the host),
//! hostname (UTS), root layers (mount), network interfaces and cgroup limits and usage,
//! as Linux shows them in /proc/PID/status (NSpid), /proc/PID/ns and /sys/fs/cgroup.
//! Below them, dockerd's API requests as they are answered (its request log, the lines of
//! `dockerd --debug`). Beside it, the virtual machines that ran: each has a kernel of its
//! own, read the same way (with the guest kernel's symbols) whenever a view is taken while
//! it runs.
//!
//! Pure reading of the view; the only state kept is the last tables read from each VM.

use crate::i18n::{tr, Lang};
use crate::minios_tables::{Proc, Tables, API_LOG};
use crate::panels::mono;
use crate::view::{MachineView, View};
use egui::{Color32, RichText};
use std::collections::BTreeMap;
use std::sync::Arc;
use traplab::inspect::World;

#[derive(Default)]
pub struct State {
    /// The image the cache belongs to.
    image: String,
    /// The last tables read from each guest (by ASID), with the instruction count then.
    guests: BTreeMap<u32, (u64, Arc<Result<Tables, String>>)>,
}

const HOST: Color32 = Color32::from_rgb(120, 180, 255);
const CONTAINER: Color32 = Color32::from_rgb(120, 220, 140);
const VM: Color32 = Color32::from_rgb(240, 170, 90);

pub fn ui(ui: &mut egui::Ui, st: &mut State, view: &View, lang: Lang) {
    let Some(m) = &view.machine else {
        ui.label(tr(lang, "ct_no_machine"));
        return;
    };
    if st.image != view.image {
        st.image = view.image.clone();
        st.guests.clear();
    }
    if let Some((asid, t)) = &m.os_guest {
        st.guests.insert(*asid, (m.icount, t.clone()));
    }
    ui.label(tr(lang, "ct_intro"));
    ui.add_space(4.0);
    ui.columns(2, |cols| {
        host(&mut cols[0], m, view, lang);
        vms(&mut cols[1], st, m, view, lang);
    });
}

fn host(ui: &mut egui::Ui, m: &MachineView, view: &View, lang: Lang) {
    let image = crate::images::clean_name(&view.image);
    ui.label(
        RichText::new(format!("{} {image}", tr(lang, "ct_host_kernel")))
            .strong()
            .color(HOST),
    );
    match m.os_host.as_deref() {
        None => {
            ui.label(tr(lang, "ct_reading"));
        }
        Some(Err(e)) => {
            ui.label(tr(lang, "ct_not_minios"));
            ui.label(RichText::new(e).small());
        }
        Some(Ok(t)) => kernel(ui, t, "host", lang),
    }
}

fn vms(ui: &mut egui::Ui, st: &State, m: &MachineView, view: &View, lang: Lang) {
    ui.label(RichText::new(tr(lang, "ct_vms")).strong().color(VM));
    let guests: Vec<(u32, u64)> = m
        .ledger
        .retired
        .iter()
        .filter_map(|w| match w.world {
            World::Guest { asid } => Some((asid, w.kernel + w.user)),
            World::Host => None,
        })
        .collect();
    if guests.is_empty() {
        ui.label(tr(lang, "ct_no_vms"));
        return;
    }
    let module = view
        .modules
        .first()
        .map(|p| crate::images::clean_name(p))
        .unwrap_or_default();
    for (asid, instructions) in guests {
        let title = format!(
            "{} {asid}: {} {module}",
            tr(lang, "ct_vm"),
            tr(lang, "ct_own_kernel")
        );
        egui::CollapsingHeader::new(RichText::new(title).color(VM))
            .id_salt(("ct-vm", asid))
            .default_open(true)
            .show(ui, |ui| {
                ui.label(format!("{instructions} {}", tr(lang, "ct_vm_instructions")));
                match st.guests.get(&asid) {
                    None => {
                        ui.label(tr(lang, "ct_vm_unread"));
                    }
                    Some((ic, t)) => {
                        ui.label(RichText::new(format!("{} {ic}", tr(lang, "ct_read_at"))).small());
                        match &**t {
                            Ok(t) => kernel(ui, t, &format!("vm{asid}"), lang),
                            Err(e) => {
                                ui.label(tr(lang, "ct_not_minios"));
                                ui.label(RichText::new(e).small());
                            }
                        }
                    }
                }
            });
    }
}

/// One kernel's tree: its own processes, then each container.
fn kernel(ui: &mut egui::Ui, t: &Tables, salt: &str, lang: Lang) {
    let host = t.host_procs();
    let title = format!(
        "{} ({} {}): {}",
        tr(lang, "ct_host_procs"),
        tr(lang, "ct_hostname"),
        t.host_name().unwrap_or("?"),
        host.len()
    );
    egui::CollapsingHeader::new(RichText::new(title).color(HOST))
        .id_salt((salt, "host"))
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new((salt, "host-grid"))
                .striped(true)
                .show(ui, |ui| {
                    for h in ["ct_pid", "ct_ppid", "ct_name", "ct_state", "ct_cgroup"] {
                        ui.label(RichText::new(tr(lang, h)).strong());
                    }
                    ui.end_row();
                    for p in &host {
                        ui.label(mono(p.pid.to_string()));
                        ui.label(mono(p.ppid.to_string()));
                        ui.label(mono(&p.name));
                        ui.label(tr(lang, p.state_key()));
                        ui.label(mono(group_name(t, p)));
                        ui.end_row();
                    }
                });
        });
    let containers = t.containers();
    if containers.is_empty() {
        ui.label(tr(lang, "ct_none"));
    }
    for c in containers {
        let title = format!("{} {}", tr(lang, "ct_container"), c.name);
        egui::CollapsingHeader::new(RichText::new(title).color(CONTAINER).strong())
            .id_salt((salt, "ct", c.pidns))
            .default_open(true)
            .show(ui, |ui| {
                egui::Grid::new((salt, "ct-grid", c.pidns)).show(ui, |ui| {
                    let mut row = |k: &'static str, v: String| {
                        ui.label(RichText::new(tr(lang, k)).strong());
                        ui.label(v);
                        ui.end_row();
                    };
                    row("ct_pidns", c.pidns.to_string());
                    row("ct_hostname", c.hostname.unwrap_or("?").to_string());
                    row("ct_layers", layers(&c.layers.join(" | "), lang));
                    let net = if c.eths.is_empty() {
                        tr(lang, "ct_lo_only").to_string()
                    } else {
                        c.eths
                            .iter()
                            .enumerate()
                            .map(|(k, e)| format!("eth{k}: {} {}", e.bridge, e.address()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    row("ct_network", net);
                    if let Some(g) = c.group {
                        let mem = if g.mem_max > 0 {
                            format!("{} / {} {}", g.mem_cur, g.mem_max, tr(lang, "ct_pages"))
                        } else {
                            format!(
                                "{} {} ({})",
                                g.mem_cur,
                                tr(lang, "ct_pages"),
                                tr(lang, "ct_no_limit")
                            )
                        };
                        row("ct_memory", mem);
                        let pids = if g.pids_max > 0 {
                            format!("{} / {}", g.pids_cur, g.pids_max)
                        } else {
                            format!("{} ({})", g.pids_cur, tr(lang, "ct_no_limit"))
                        };
                        row("ct_pids", pids);
                        row(
                            "ct_cpu",
                            format!(
                                "{} {}, {} {}",
                                tr(lang, "ct_weight"),
                                g.weight,
                                g.ticks,
                                tr(lang, "ct_ticks")
                            ),
                        );
                    }
                });
                ui.label(RichText::new(tr(lang, "ct_pid_map")).strong());
                for p in &c.procs {
                    ui.label(mono(pid_line(p, lang)));
                }
            });
    }
    if !t.api_log.is_empty() || host.iter().any(|p| p.name == "dockerd") {
        api_log(ui, t, salt, lang);
    }
}

/// dockerd's last answered requests, newest last: who asked (the local socket or TCP port
/// 2375, where `--publish` brings the host's curl), what, and the status it got.
fn api_log(ui: &mut egui::Ui, t: &Tables, salt: &str, lang: Lang) {
    let title = format!("{} ({API_LOG})", tr(lang, "ct_api"));
    egui::CollapsingHeader::new(RichText::new(title).color(HOST).strong())
        .id_salt((salt, "api"))
        .default_open(true)
        .show(ui, |ui| {
            if t.api_log.is_empty() {
                ui.label(tr(lang, "ct_api_none"));
                return;
            }
            egui::Grid::new((salt, "api-grid"))
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "ct_api_seq",
                        "ct_api_via",
                        "ct_api_request",
                        "ct_api_status",
                    ] {
                        ui.label(RichText::new(tr(lang, h)).strong());
                    }
                    ui.end_row();
                    for r in &t.api_log {
                        ui.label(mono(r.seq.to_string()));
                        ui.label(mono(&r.via));
                        ui.label(mono(format!("{} {}", r.method, r.target)));
                        let colour = if r.status >= 400 {
                            Color32::from_rgb(240, 110, 110)
                        } else {
                            CONTAINER
                        };
                        ui.label(mono(r.status.to_string()).color(colour));
                        ui.end_row();
                    }
                });
        });
}

/// `PID 1 = host PID 5: nc (blocked)`: the PID mapping of one process.
pub fn pid_line(p: &Proc, lang: Lang) -> String {
    format!(
        "PID {} = {} {}: {} ({})",
        p.vpid,
        tr(lang, "ct_host_pid"),
        p.pid,
        p.name,
        tr(lang, p.state_key())
    )
}

/// "/overlays/web | /images/box" as "/overlays/web over /images/box".
fn layers(joined: &str, lang: Lang) -> String {
    if joined.is_empty() {
        return "/".into();
    }
    joined.replace(" | ", &format!(" {} ", tr(lang, "ct_over")))
}

fn group_name(t: &Tables, p: &Proc) -> String {
    usize::try_from(p.cg)
        .ok()
        .and_then(|g| t.groups.get(g))
        .and_then(|g| g.as_ref())
        .map_or_else(|| p.cg.to_string(), |g| g.name.clone())
}
