//! The settings (rows) of the comparison: what boots, with which modules and command line,
//! and what is typed at its shell. One `Setting` per row; a new row is one more entry in
//! `SETTINGS` and, if its start needs more than a shell command, a `plan` function.
//!
//! Must not: measure anything (that is `measure.rs`) or know how a table is drawn.

use super::{ExitKind, Images};
use crate::boot::multiboot::Module;

/// Where start-up is measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// Power-on: the machine boots the VM (its monitor is the machine's first software).
    PowerOn,
    /// The first command a shell reads (`MARK_COMMAND`): a process, a container, or a VM
    /// started by a host process.
    FirstCommand,
}

/// How one run of a setting starts.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The Multiboot kernel the machine boots (a path under `samples/`, a key of `Images`).
    pub kernel: &'static str,
    pub cmdline: String,
    pub modules: Vec<&'static str>,
    /// Typed at the (first) shell, queued on the serial port at power-on.
    pub input: String,
}

/// A row of the table.
pub struct Setting {
    /// Short name (`--settings native,tevmm`, CSV, JSON).
    pub id: &'static str,
    /// Row title.
    pub title: &'static str,
    /// What runs where, one line.
    pub about: &'static str,
    /// The images it needs (paths under `samples/`).
    pub needs: &'static [&'static str],
    pub start_from: StartFrom,
    pub exits: ExitKind,
    /// The run for a minios command (`work cpu 40`).
    pub plan: fn(&str) -> Plan,
    /// Why the row cannot run yet, if so (reported in every cell, never a number).
    pub unavailable: Option<&'static str>,
}

impl PartialEq for Setting {
    fn eq(&self, other: &Setting) -> bool {
        self.id == other.id
    }
}

impl Setting {
    /// Why this setting cannot run with `images`, if it cannot.
    pub fn missing(&self, images: &Images) -> Option<String> {
        if let Some(why) = self.unavailable {
            return Some(why.to_string());
        }
        let gone: Vec<_> = self
            .needs
            .iter()
            .filter(|n| !images.contains_key(**n))
            .map(|n| format!("samples/{n}"))
            .collect();
        (!gone.is_empty()).then(|| format!("image not found: {}", gone.join(", ")))
    }

    /// The modules of `plan` as the Multiboot loader wants them.
    pub fn modules(plan: &Plan, images: &Images) -> Vec<Module> {
        plan.modules
            .iter()
            .filter_map(|m| {
                images.get(*m).map(|d| Module {
                    data: d.clone(),
                    string: format!("samples/{m}"),
                })
            })
            .collect()
    }
}

const MINIOS: &str = "minios/minios.elf";
const MINIOS_PV: &str = "minios/minios-pv.elf";
const TEVMM: &str = "tevmm/tevmm.elf";
const HV1: &str = "hv1/hv1.elf";

/// The container's options: the namespaces and limits of `isolate` (minios's clone3 +
/// chroot + cgroup), with a layered root (an overlay over the image `/images/box`).
pub const CONTAINER: &str =
    "isolate --pid --overlay=/images/box --hostname box --mem 1024 --pids 8";

fn native(cmd: &str) -> Plan {
    Plan {
        kernel: MINIOS,
        cmdline: String::new(),
        modules: vec![],
        input: format!("{cmd}\n"),
    }
}

fn container(cmd: &str) -> Plan {
    Plan {
        input: format!("{CONTAINER} {cmd}\n"),
        ..native(cmd)
    }
}

/// The same program as a Docker-like container: the shell runs the `docker` client, which
/// asks `dockerd` (started at boot) over `/var/run/docker.sock` to create and start it
/// (the image `box`, default network `bridge`); dockerd calls `isolate` as the container row.
fn docker(cmd: &str) -> Plan {
    Plan {
        input: format!("docker run box {cmd}\n"),
        ..native(cmd)
    }
}

fn tevmm(cmd: &str) -> Plan {
    Plan {
        kernel: TEVMM,
        cmdline: String::new(),
        modules: vec![MINIOS],
        input: format!("{cmd}\n"),
    }
}

fn tevmm_pv(cmd: &str) -> Plan {
    Plan {
        modules: vec![MINIOS_PV],
        ..tevmm(cmd)
    }
}

/// hv1 with one VM: the keys go to vm1 from the start.
fn hv1(cmd: &str) -> Plan {
    Plan {
        kernel: HV1,
        cmdline: "vms=1".into(),
        modules: vec![MINIOS],
        input: format!("{cmd}\n"),
    }
}

/// hv2: minios hosts minios. The host's shell starts `vmm` (the guest image is the module,
/// `/boot/minios.elf` to the host); vmm hands the rest of the input to the guest's shell,
/// and passes the guest's marker writes on with the host's own `mark()`.
fn hv2(cmd: &str) -> Plan {
    Plan {
        kernel: MINIOS,
        cmdline: String::new(),
        modules: vec![MINIOS],
        input: format!("vmm\n{cmd}\n"),
    }
}

/// Every row, in table order. `native` must stay first: ratios are taken against it.
pub static SETTINGS: [Setting; 7] = [
    Setting {
        id: "native",
        title: "minios process",
        about: "the program as an ordinary minios process",
        needs: &[MINIOS],
        start_from: StartFrom::FirstCommand,
        exits: ExitKind::None,
        plan: native,
        unavailable: None,
    },
    Setting {
        id: "container",
        title: "container",
        about: "the same program under isolate: PID and UTS namespaces, an overlay root, a cgroup",
        needs: &[MINIOS],
        start_from: StartFrom::FirstCommand,
        exits: ExitKind::None,
        plan: container,
        unavailable: None,
    },
    Setting {
        id: "docker",
        title: "docker run",
        about: "the same program started by `docker run box`: client -> dockerd over HTTP on its \
                socket -> isolate, plus a network namespace on the bridge and an /etc/hosts",
        needs: &[MINIOS],
        start_from: StartFrom::FirstCommand,
        exits: ExitKind::None,
        plan: docker,
        unavailable: None,
    },
    Setting {
        id: "tevmm",
        title: "trap-and-emulate VM",
        about:
            "minios deprivileged under tevmm (ring 1/3, shadow paging), the VM booted at power-on",
        needs: &[TEVMM, MINIOS],
        start_from: StartFrom::PowerOn,
        exits: ExitKind::Traps,
        plan: tevmm,
        unavailable: None,
    },
    Setting {
        id: "tevmm-pv",
        title: "paravirtual VM",
        about: "minios-pv.elf under tevmm: hypercalls instead of trapped privileged instructions",
        needs: &[TEVMM, MINIOS_PV],
        start_from: StartFrom::PowerOn,
        exits: ExitKind::Traps,
        plan: tevmm_pv,
        unavailable: None,
    },
    Setting {
        id: "hv1",
        title: "type 1 VM (SVM, NPT)",
        about: "minios in the one VM of hv1, a type-1 hypervisor on SVM with nested paging",
        needs: &[HV1, MINIOS],
        start_from: StartFrom::PowerOn,
        exits: ExitKind::VmExits,
        plan: hv1,
        unavailable: None,
    },
    Setting {
        id: "hv2",
        title: "type 2 VM (SVM)",
        about: "minios in a VM run by a vmm process on minios with a KVM-like driver",
        needs: &[MINIOS],
        start_from: StartFrom::FirstCommand,
        exits: ExitKind::VmExits,
        plan: hv2,
        unavailable: None,
    },
];

/// The setting named `id`.
pub fn setting(id: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.id == id)
}
