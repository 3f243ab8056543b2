//! The nested-paging view under tevmm: the guest's own walk (through the virtual CR3 read
//! from the monitor's `struct vcpu`) beside the real one (the shadow tables), checked
//! against tevmm's ELF: the real CR3 is its shadow directory `spd`, the guest's is another
//! page, and an address the guest just executed translates to the same frame through both.

mod common;

use common::{app_harness, boot_sample, wait_for};
use egui_kittest::kittest::Queryable;
use traplab_gui::app::sample_path;
use traplab_gui::panels::virt::nested::shadow_verdict;
use traplab_gui::panels::PanelId;
use traplab_gui::symbols::Symbols;
use traplab_gui::worker::Command;

#[test]
fn tevmm_shows_the_guests_table_beside_the_shadow_table() {
    let tevmm = Symbols::from_elf(&std::fs::read(sample_path("samples/tevmm/tevmm.elf")).unwrap());
    let spd = tevmm.address_of("spd").expect("tevmm's shadow directory");
    // tevmm.h: the monitor is linked at 0xFFC00000 and loaded at 4 MiB.
    let spd_phys = spd - (0xFFC0_0000 - 0x0040_0000);

    let mut h = app_harness("samples/hello/hello.elf");
    wait_for(&mut h, 60, "hello loaded", |a| a.view.machine.is_some());
    // At the shell's prompt minios pages (its own tables), under the monitor's shadows.
    boot_sample(&mut h, "tevmm + minios (trap", "minios> ");
    h.state().send(Command::Pause);
    h.state().send(Command::RunToSwitch(false));
    wait_for(&mut h, 240, "in the guest", |a| {
        a.view.status.starts_with("back in the guest at") && a.view.image.ends_with("tevmm.elf")
    });
    // Once more through the monitor and back: the guest's code is in the shadow now.
    let first = h.state().view.machine.as_ref().unwrap().icount;
    h.state().send(Command::RunToSwitch(true));
    h.state().send(Command::RunToSwitch(false));
    wait_for(&mut h, 240, "in the guest again", |a| {
        a.view.machine.as_ref().is_some_and(|m| {
            m.icount > first && a.view.status == format!("back in the guest at {}", m.icount)
        })
    });
    let pc = h.state().view.machine.as_ref().unwrap().pc;
    let mut cmds = Vec::new();
    h.state_mut()
        .panels
        .update_request(&mut cmds, |r| r.walk_addr = pc);
    for c in cmds {
        h.state().send(c);
    }
    h.state_mut().panels.tab = PanelId::Virtualization;
    h.run_steps(2);
    h.get_by_label("Nested paging").click();
    wait_for(&mut h, 30, "the shadow pair of the guest's EIP", |a| {
        a.view
            .machine
            .as_ref()
            .and_then(|m| m.shadow.as_ref())
            .is_some_and(|s| s.guest.linear == pc)
    });
    h.run_steps(2);
    let m = h.state().view.machine.clone().unwrap();
    let sp = m.shadow.as_ref().unwrap();
    assert_eq!(
        m.cpu.control.cr3 & !0xfff,
        spd_phys,
        "the real CR3 is tevmm's shadow directory"
    );
    assert_ne!(
        sp.vcr[1] & !0xfff,
        spd_phys,
        "the guest has its own directory"
    );
    assert!(
        sp.guest.paging && sp.vcr[0] & 0x8000_0000 != 0,
        "minios pages"
    );
    let g = sp.guest.result.expect("the guest maps the code it runs");
    assert_eq!(sp.shadow.result, Ok(g), "both tables reach the same frame");
    assert_eq!(shadow_verdict(sp), "shadow_same_frame");
    // The two walks read different tables.
    assert_ne!(
        sp.guest.steps.first().map(|s| s.entry_addr & !0xfff),
        sp.shadow.steps.first().map(|s| s.entry_addr & !0xfff)
    );
    h.get_by_label("Shadow paging (tevmm): the guest's tables and the monitor's");
    h.get_by_label("Same frame: the shadow entry copies the guest's translation.");
}
