//! Symbols per world (kittest, the real app): the disassembly names guest code with the
//! guest kernel's ELF (minios.elf, the Multiboot module) and the hypervisor's code with the
//! hypervisor's ELF, although both are linked at 1 MiB: under hv1 (SVM) stopped on a
//! guest instruction that exits and then in hv1's handler, and under tevmm
//! (trap-and-emulate) back in the deprivileged guest kernel.

mod common;

use common::{app_harness, virt_sample, wait_for};
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use traplab_gui::app::sample_path;
use traplab_gui::panels::PanelId;
use traplab_gui::symbols::Symbols;
use traplab_gui::worker::Command;
use traplab_gui::TraplabApp;

fn elf_symbols(p: &str) -> Symbols {
    Symbols::from_elf(&std::fs::read(sample_path(p)).unwrap())
}

fn pc(a: &TraplabApp) -> u32 {
    a.view.machine.as_ref().map_or(0, |m| m.pc)
}

/// The disassembly's current line names `pc` with `name` (`=>  00101234 name+0x4 ...`).
fn current_line_names(h: &egui_kittest::Harness<'_, TraplabApp>, pc: u32, name: &str) {
    h.get_by_label_contains(&format!("=>  {pc:08x} {name} "));
}

#[test]
fn hv1_and_its_guest_are_named_each_by_its_own_elf() {
    let hv1 = elf_symbols("samples/hv1/hv1.elf");
    let minios = elf_symbols("samples/minios/minios.elf");
    let mut h = app_harness("samples/hello/hello.elf");
    wait_for(&mut h, 60, "hello loaded", |a| a.view.machine.is_some());
    h.state().send(virt_sample("hv1").command());
    h.state().send(Command::RunToSwitch(true));
    wait_for(&mut h, 240, "stopped at hv1's first exit", |a| {
        a.view.status.starts_with("world switch at") && a.view.image.ends_with("hv1/hv1.elf")
    });
    h.state_mut().panels.tab = PanelId::Screen;
    h.run_steps(2);
    // In the guest: minios's names, not hv1's at the same address.
    let at = pc(h.state());
    let guest = minios
        .describe(at)
        .expect("the exiting guest instruction is in minios");
    assert_ne!(hv1.describe(at).as_deref(), Some(guest.as_str()));
    let v = h.state().view.clone();
    assert!(Arc::ptr_eq(&v.symbols, &v.guest_symbols));
    current_line_names(&h, at, &guest);

    // One step takes the exit: hv1's handler, named by hv1.elf.
    h.state().send(Command::Step);
    wait_for(&mut h, 60, "in hv1", |a| {
        a.view
            .machine
            .as_ref()
            .is_some_and(|m| m.ledger.current == traplab::inspect::World::Host)
    });
    h.run_steps(2);
    let at = pc(h.state());
    let host = hv1.describe(at).expect("hv1's code after its VMRUN");
    current_line_names(&h, at, &host);
    // A name typed by the user is found in either world: minios's kmain from the host.
    let kmain = minios.address_of("kmain").unwrap();
    assert_eq!(h.state().view.parse_address("kmain"), Some(kmain));
}

#[test]
fn tevmm_names_the_deprivileged_guest_kernel_with_minios_symbols() {
    let tevmm = elf_symbols("samples/tevmm/tevmm.elf");
    let minios = elf_symbols("samples/minios/minios.elf");
    let mut h = app_harness("samples/hello/hello.elf");
    wait_for(&mut h, 60, "hello loaded", |a| a.view.machine.is_some());
    h.state()
        .send(virt_sample("tevmm + minios (trap").command());
    // The monitor enters the guest kernel at ring 1 (its first IRET).
    h.state().send(Command::RunToSwitch(false));
    wait_for(&mut h, 240, "in the guest", |a| {
        a.view.status.starts_with("back in the guest at") && a.view.image.ends_with("tevmm.elf")
    });
    // Its first instruction is not mapped yet (the shadow tables fill on the hidden #PF):
    // once more through the monitor and back, the code can be read.
    let first: u64 = h.state().view.machine.as_ref().unwrap().icount;
    h.state().send(Command::RunToSwitch(true));
    h.state().send(Command::RunToSwitch(false));
    wait_for(&mut h, 240, "in the guest again", |a| {
        a.view.machine.as_ref().is_some_and(|m| {
            m.icount > first && a.view.status == format!("back in the guest at {}", m.icount)
        })
    });
    h.state_mut().panels.tab = PanelId::Screen;
    h.run_steps(2);
    let m = h.state().view.machine.clone().unwrap();
    assert!(m.cpu.cpl > 0, "deprivileged");
    assert!(m.code.is_some(), "the guest's code is mapped now");
    let guest = minios.describe(m.pc).expect("minios's entry code");
    assert_ne!(tevmm.describe(m.pc).as_deref(), Some(guest.as_str()));
    current_line_names(&h, m.pc, &guest);
}
