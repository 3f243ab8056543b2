//! The Samples menu's Linux entry: offered only when fetch.sh's kernel and busybox are
//! there, it builds the initramfs (busybox + samples/linux/init-shell) beside them and boots
//! the kernel with it and `console=ttyS0`; a path typed in the toolbar takes the CLI's
//! `--initrd` and `--cmdline`. The real boot (billions of instructions) is the ignored test.

mod common;

use common::{app_harness, drain_serial, wait_for};
use egui_kittest::kittest::Queryable;
use traplab::debug::session::Session;
use traplab_gui::app::{sample_path, typed_load};
use traplab_gui::linux_sample;
use traplab_gui::worker::{BootSpec, Command};

#[test]
fn the_linux_entry_appears_with_the_files_and_boots_them_with_the_initramfs() {
    let dir = std::env::temp_dir().join(format!("traplab-linux-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One test in this binary sets the variable (tests of one binary share the environment).
    std::env::set_var("TRAPLAB_LINUX_DIR", &dir);
    assert!(!linux_sample::available(), "no kernel: no entry");
    let mut h = app_harness("samples/hello/hello.elf");
    wait_for(&mut h, 60, "loaded", |a| a.view.machine.is_some());
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("hv1: two minios VMs (type 1, SVM + NPT)");
    assert!(h.query_by_label(linux_sample::NAME).is_none());

    std::fs::write(dir.join("vmlinuz"), b"not really a kernel").unwrap();
    std::fs::write(dir.join("busybox"), b"not really busybox").unwrap();
    assert!(linux_sample::available());
    h.run_steps(2);
    let Command::LoadSpec(BootSpec {
        path,
        cmdline,
        modules,
        ..
    }) = linux_sample::command().unwrap()
    else {
        panic!("a boot spec");
    };
    assert_eq!(path, dir.join("vmlinuz").to_string_lossy());
    assert_eq!(cmdline, "console=ttyS0");
    assert_eq!(
        modules,
        [dir.join("initramfs-shell.cpio").to_string_lossy()]
    );
    let init = std::fs::read(sample_path("samples/linux/init-shell")).unwrap();
    assert_eq!(
        std::fs::read(&modules[0]).unwrap(),
        traplab::boot::initramfs::busybox(b"not really busybox", &init)
    );
    // The menu offers it; a click boots it: this "kernel" is junk, the banner says so.
    h.get_by_label(linux_sample::NAME).click();
    wait_for(&mut h, 60, "the error for the junk kernel", |a| {
        a.view
            .error
            .as_deref()
            .is_some_and(|e| e.contains("vmlinuz"))
    });
    std::fs::remove_dir_all(&dir).unwrap();

    // The toolbar's path field takes the CLI's flags.
    assert!(matches!(typed_load(" samples/a.elf "), Command::Load(p) if p == "samples/a.elf"));
    let Command::LoadSpec(s) =
        typed_load("k/vmlinuz --initrd k/rd.cpio --cmdline console=ttyS0 quiet")
    else {
        panic!("a boot spec");
    };
    assert_eq!(
        (s.path.as_str(), s.modules, s.cmdline.as_str()),
        (
            "k/vmlinuz",
            vec!["k/rd.cpio".to_string()],
            "console=ttyS0 quiet"
        )
    );
}

/// The real kernel through the GUI's loader (its RAM, the initramfs as the first module,
/// the command line): a shell prompt, then a command typed on the serial console.
#[test]
#[ignore = "boots Debian's kernel: about 7 billion instructions (minutes in a debug build); needs samples/linux/fetch.sh's files (or TRAPLAB_LINUX_DIR)"]
fn the_linux_sample_boots_to_a_shell() {
    assert!(
        linux_sample::available(),
        "run samples/linux/fetch.sh first"
    );
    let Command::LoadSpec(spec) = linux_sample::command().unwrap() else {
        panic!("a boot spec");
    };
    let kernel = std::fs::read(&spec.path).unwrap();
    let rd = traplab::boot::multiboot::Module {
        data: std::fs::read(&spec.modules[0]).unwrap(),
        string: spec.modules[0].clone(),
    };
    let m = traplab_gui::worker::load_bytes_modules(&kernel, &spec.cmdline, vec![rd]).unwrap();
    let mut s = Session::new(m);
    let mut out = String::new();
    let mut typed = false;
    while s.icount() < 12_000_000_000 {
        s.advance(50_000_000);
        drain_serial(&mut s, &mut out);
        if !typed && out.contains("TRAPLAB-SHELL: Linux ") && out.ends_with("# ") {
            s.input(traplab::debug::session::Input::Serial(
                b"echo sum=$((6*7))\n".to_vec(),
            ));
            typed = true;
        }
        if out.contains("sum=42") {
            return;
        }
    }
    panic!("no shell answer within the budget:\n{out}");
}
