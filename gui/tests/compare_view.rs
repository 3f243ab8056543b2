//! The comparison chart (kittest): "Run the comparison" measures the reduced matrix on a
//! thread of its own while frames keep being drawn (the progress bar is seen moving), and
//! the table it shows holds the numbers the core's `compare::run_matrix` gives for the same
//! images, computed here independently; the expected shape (a container within 10% of
//! native on CPU-bound work, VMs with exits on I/O) holds.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::{Duration, Instant};
use traplab::compare::{self, Images, Options, Sizes, Workload, SETTINGS, WORKLOADS};
use traplab_gui::app::sample_path;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::virt::{self, VirtView};
use traplab_gui::panels::Panels;
use traplab_gui::view::View;
use traplab_gui::worker::Command;

struct St {
    panels: Panels,
    view: View,
    cmds: Vec<Command>,
}

fn images() -> Images {
    let mut im = Images::new();
    for s in SETTINGS.iter() {
        for n in s.needs {
            if let Ok(d) = std::fs::read(sample_path(&format!("samples/{n}"))) {
                im.insert(n.to_string(), d);
            }
        }
    }
    im
}

#[test]
fn the_comparison_runs_on_its_own_thread_and_shows_the_cores_numbers() {
    let mut panels = Panels::default();
    panels.virt.view = VirtView::Compare;
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, st: &mut St| virt::ui(ui, &mut st.panels, &st.view, Lang::En, &mut st.cmds),
            St {
                panels,
                view: View::default(),
                cmds: Vec::new(),
            },
        );
    h.run_steps(2);
    h.get_by_label_contains("No comparison yet");
    assert!(h.state().panels.virt.compare.reduced, "reduced by default");
    h.get_by_label("Run the comparison").click();
    let t0 = Instant::now();
    let mut frames_while_running = 0;
    let mut progress_seen = false;
    loop {
        h.run_steps(1);
        let st = &h.state().panels.virt.compare;
        if st.matrix.is_some() && !st.running() {
            break;
        }
        frames_while_running += 1;
        progress_seen |= h.query_by_label_contains("measuring ").is_some();
        assert!(t0.elapsed() < Duration::from_secs(300), "the run finishes");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(progress_seen, "a progress bar while it ran");
    assert!(
        frames_while_running > 10,
        "frames kept coming while the matrix ran ({frames_while_running})"
    );

    // The same matrix, headless, in this thread.
    let opts = Options {
        sizes: Sizes::REDUCED,
        ..Options::default()
    };
    let settings: Vec<_> = SETTINGS.iter().collect();
    let want = compare::run_matrix(&settings, &WORKLOADS, &images(), &opts, &mut |_| {});
    let shown = h.state().panels.virt.compare.matrix.clone().unwrap();
    assert_eq!(shown.settings, want.settings);
    assert_eq!(shown.cells, want.cells, "the GUI's cells are the core's");
    h.run_steps(2);
    // Every measured cell's ratio is in the table, every setting has its row and legend.
    for s in &want.settings {
        assert!(h.query_all_by_label(s).count() >= 1, "row {s}");
        for w in WORKLOADS {
            if let Some(r) = want.ratio(s, w) {
                let text = format!("{r:.2}x");
                assert!(
                    h.query_all_by_label(&text).count() >= 1,
                    "{s} {w:?}: {text}"
                );
            }
        }
    }
    for w in [
        "CPU-bound",
        "system calls",
        "page tables",
        "console I/O",
        "start-up",
    ] {
        assert!(h.query_all_by_label(w).count() >= 1, "column {w}");
    }
    // The expected shape.
    let c = want.ratio("container", Workload::Cpu).unwrap();
    assert!((c - 1.0).abs() < 0.10, "container cpu ratio {c}");
    let io = |s: &str| want.figures(s, Workload::Io).map(|f| f.exit_total);
    assert_eq!(io("container"), Some(0));
    assert!(io("hv1").unwrap() > 0 && io("tevmm").unwrap() > 0);

    // Exits per thousand instructions.
    h.state_mut().panels.virt.compare.metric = virt::compare::Metric::ExitsPerK;
    h.run_steps(2);
    let hv1_io = want.figures("hv1", Workload::Io).unwrap().exits_per_k();
    assert!(h.query_all_by_label(&format!("{hv1_io:.3}")).count() >= 1);
}
