//! `traplab compare`'s matrix on reduced sizes: every row and column is there, the rows that
//! cannot run say why instead of giving numbers, and the shape is the published one where
//! Traplab can show it: a container within 10% of native on CPU-bound work, VMs with more
//! exits than a container on console I/O, a VM that starts far later than a process. And the
//! numbers are deterministic: a cell measured twice gives the same figures.

use std::path::Path;
use traplab::compare::{self, Images, Options, Sizes, Workload, SETTINGS, WORKLOADS};

fn images() -> Images {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut images = Images::new();
    for s in SETTINGS.iter() {
        for n in s.needs {
            if let Ok(d) = std::fs::read(dir.join(n)) {
                images.insert(n.to_string(), d);
            }
        }
    }
    images
}

fn reduced() -> Options {
    Options {
        sizes: Sizes::REDUCED,
        ..Options::default()
    }
}

#[test]
fn reduced_matrix_has_the_published_shape() {
    let images = images();
    let settings: Vec<_> = SETTINGS.iter().collect();
    let mut reports = 0;
    let m = compare::run_matrix(&settings, &WORKLOADS, &images, &reduced(), &mut |p| {
        assert!(p.done <= p.total && p.total == SETTINGS.len() * WORKLOADS.len());
        reports += 1;
    });
    assert!(
        reports > m.cells.len(),
        "progress is reported during the run too"
    );

    // Every row and column, in table order.
    assert_eq!(m.cells.len(), SETTINGS.len() * WORKLOADS.len());
    for (i, c) in m.cells.iter().enumerate() {
        assert_eq!(c.setting, SETTINGS[i / WORKLOADS.len()].id);
        assert_eq!(c.workload, WORKLOADS[i % WORKLOADS.len()]);
        match (&c.result, SETTINGS[i / WORKLOADS.len()].missing(&images)) {
            (Ok(f), None) => {
                assert!(f.instructions > 0 || c.workload == Workload::Start, "{c:?}");
                assert!(f.frames > 50, "{c:?}");
            }
            (Err(e), Some(why)) => assert!(e.starts_with("not available") && e.contains(&why)),
            (r, why) => panic!("{} {:?}: {r:?} (missing: {why:?})", c.setting, c.workload),
        }
    }
    for id in [
        "native",
        "container",
        "docker",
        "tevmm",
        "tevmm-pv",
        "hv1",
        "hv2",
    ] {
        for w in WORKLOADS {
            assert!(m.figures(id, w).is_some(), "{id} {w:?} did not run");
        }
    }

    let fig = |s, w| m.figures(s, w).unwrap();
    // Containers: close to native on CPU-bound work, and never any exit.
    let r = m.ratio("container", Workload::Cpu).unwrap();
    assert!((0.9..=1.1).contains(&r), "container/native on cpu: {r}");
    for w in WORKLOADS {
        assert_eq!(fig("native", w).exit_total, 0);
        assert_eq!(fig("container", w).exit_total, 0);
    }
    // VMs: more exits than a container on I/O, and more per instruction than on CPU work.
    for vm in ["tevmm", "tevmm-pv"] {
        let io = fig(vm, Workload::Io);
        assert!(
            io.exit_total > fig("container", Workload::Io).exit_total,
            "{vm}"
        );
        assert!(
            io.exits_per_k() > 10.0 * fig(vm, Workload::Cpu).exits_per_k(),
            "{vm}"
        );
        let r = m.ratio(vm, Workload::Cpu).unwrap();
        assert!(r < 1.1, "{vm} on CPU-bound work: {r}x native");
        assert!(m.ratio(vm, Workload::Io).unwrap() > 1.2, "{vm} on I/O");
        assert!(
            m.ratio(vm, Workload::Pf).unwrap() > 2.0,
            "{vm} on page tables"
        );
    }
    // Type 1 on SVM: every console byte is an IOIO exit; CPU-bound work hardly exits.
    let io = fig("hv1", Workload::Io);
    assert!(io.exit_total > fig("container", Workload::Io).exit_total);
    assert!(io.exits.iter().any(|c| c.name == "IOIO"), "{:?}", io.exits);
    assert!(m.ratio("hv1", Workload::Cpu).unwrap() < 1.1);
    assert!(m.ratio("hv1", Workload::Io).unwrap() > 1.2);
    assert!(fig("hv1", Workload::Cpu)
        .worlds
        .iter()
        .any(|w| w.world == "guest 1"));
    // Type 2: the same exits per guest instruction as type 1 (the same guest, the same
    // devices by intercept), but each takes the long path through the host kernel and the
    // vmm process, so the console costs more; the vmm process runs in host user mode.
    let (io1, io2) = (fig("hv1", Workload::Io), fig("hv2", Workload::Io));
    let (k1, k2) = (
        io1.exits_per_k_guest().unwrap(),
        io2.exits_per_k_guest().unwrap(),
    );
    assert!(
        (k2 / k1 - 1.0).abs() < 0.1,
        "exits per 1000 guest instructions: hv1 {k1}, hv2 {k2}"
    );
    assert!(
        io2.time_ns > io1.time_ns,
        "hv2's console is slower than hv1's"
    );
    let host = io2.worlds.iter().find(|w| w.world == "host").unwrap();
    assert!(host.user > 0, "vmm in host user mode: {:?}", io2.worlds);
    assert!(m.ratio("hv2", Workload::Cpu).unwrap() < 1.1);
    assert!(fig("native", Workload::Cpu).exits_per_k_guest().is_none());
    // Start-up instructions are counted from the start, boot figures from power-on.
    let s = fig("hv2", Workload::Start);
    assert!(s.boot_instructions > s.startup_instructions && s.startup_instructions > 0);
    assert_eq!(
        fig("hv1", Workload::Start).boot_instructions,
        fig("hv1", Workload::Start).startup_instructions
    );
    // Trap-and-emulate pays per OUT to the console; the paravirtual kernel per hypercall.
    assert!(
        fig("tevmm", Workload::Io).time_ns > 2 * fig("tevmm-pv", Workload::Io).time_ns,
        "paravirtual console output is cheaper"
    );
    // docker run: the client's HTTP round trips to dockerd and the network set-up come on
    // top of isolate, yet it starts the program far sooner than a VM boots (the notes'
    // "containers start faster", samples/README.md); its program runs as natively.
    let start = |s| fig(s, Workload::Start).startup_instructions;
    assert!(start("docker") > start("container") && start("container") > start("native"));
    assert!(
        start("hv1") > 5 * start("docker"),
        "hv1 {} docker {}",
        start("hv1"),
        start("docker")
    );
    let r = m.ratio("docker", Workload::Cpu).unwrap();
    assert!((0.9..=1.1).contains(&r), "docker/native on cpu: {r}");
    // Start-up: a VM boots a whole kernel, a process does not.
    assert!(
        fig("tevmm", Workload::Start).startup_ns
            > 20 * fig("container", Workload::Start).startup_ns
    );
    assert!(fig("tevmm", Workload::Start).frames > fig("native", Workload::Start).frames);
    // The cpu workload runs in user mode almost entirely, natively.
    let w = &fig("native", Workload::Cpu).worlds;
    assert_eq!(w.len(), 1);
    assert!(w[0].user * 100 > 95 * (w[0].user + w[0].kernel));
}

#[test]
fn a_cell_measured_twice_gives_the_same_figures() {
    let images = images();
    let tevmm = compare::setting("tevmm").unwrap();
    let a = compare::run_cell(tevmm, Workload::Sys, &images, &reduced(), &mut |_| {});
    let b = compare::run_cell(tevmm, Workload::Sys, &images, &reduced(), &mut |_| {});
    assert!(a.result.is_ok(), "{a:?}");
    assert_eq!(a, b);
}

#[test]
fn a_cell_that_cannot_finish_says_why() {
    let images = images();
    let native = compare::setting("native").unwrap();
    let opts = Options {
        budget: 100_000,
        ..reduced()
    };
    let c = compare::run_cell(native, Workload::Cpu, &images, &opts, &mut |_| {});
    let e = c.result.unwrap_err();
    assert!(e.starts_with("did not finish within 100000"), "{e}");
    let c = compare::run_cell(native, Workload::Cpu, &Images::new(), &opts, &mut |_| {});
    assert_eq!(
        c.result.unwrap_err(),
        "not available: image not found: samples/minios/minios.elf"
    );
}
