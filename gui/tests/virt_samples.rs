//! The Samples menu's virtualization section: every entry's files exist, and each boots
//! the way the menu says (the same images, modules and command line the menu's command
//! gives the machine thread), checked on the guest's console.

mod common;

use common::drain_serial;
use traplab::boot::multiboot::Module;
use traplab::debug::session::Session;
use traplab_gui::app::{sample_path, VIRT_SAMPLES};
use traplab_gui::worker::{load_bytes_modules, BootSpec, Command};

/// Boots what `c` (a `LoadSpec`) names and runs it until `want` is on the console.
fn boots_to(c: &Command, want: &[&str], budget: u64) -> String {
    let Command::LoadSpec(BootSpec {
        path,
        cmdline,
        modules,
        ..
    }) = c
    else {
        panic!("a virtualization sample loads a spec");
    };
    let mods = modules
        .iter()
        .map(|m| Module {
            data: std::fs::read(m).unwrap(),
            string: traplab_gui::app::display_path(m),
        })
        .collect();
    let bytes = std::fs::read(path).unwrap();
    let mut s = Session::new(load_bytes_modules(&bytes, cmdline, mods).unwrap());
    let mut out = String::new();
    while s.icount() < budget {
        s.advance(2_000_000);
        drain_serial(&mut s, &mut out);
        if want.iter().all(|w| out.contains(w)) {
            return out;
        }
    }
    panic!("{path} {cmdline}: not all of {want:?} within {budget} instructions:\n{out}");
}

fn sample(name_starts: &str) -> &'static traplab_gui::app::VirtSample {
    VIRT_SAMPLES
        .iter()
        .find(|v| v.name.starts_with(name_starts))
        .unwrap_or_else(|| panic!("no sample named {name_starts}..."))
}

#[test]
fn every_virtualization_sample_is_offered() {
    for v in VIRT_SAMPLES {
        assert!(
            v.available(),
            "{}: {} and its modules exist",
            v.name,
            v.path
        );
        assert!(std::path::Path::new(&sample_path(v.path)).is_file());
    }
}

#[test]
fn hv1_boots_two_minios_vms() {
    boots_to(
        &sample("hv1").command(),
        &[
            "hv1: vm2: 8 MiB, ASID 2",
            "[vm1] minios shell",
            "[vm2] minios shell",
        ],
        300_000_000,
    );
}

#[test]
fn hv2_boots_minios_in_a_vm_run_by_vmm() {
    // The host's shell runs vmm; the guest's shell comes after vmm's line.
    let out = boots_to(
        &sample("hv2").command(),
        &["autorun: vmm", "vmm: vm 1: /boot/minios.elf", "\nminios> "],
        300_000_000,
    );
    let vmm = out.find("vmm: vm 1").unwrap();
    assert!(out[..vmm].contains("minios shell, pid 1"), "{out}");
    assert!(out[vmm..].contains("minios shell, pid 1"), "{out}");
}

#[test]
fn the_engine_sample_starts_dockerd_at_boot() {
    boots_to(
        &sample("minios with the engine").command(),
        &["init: dockerd started, pid 2", "minios> "],
        200_000_000,
    );
}
