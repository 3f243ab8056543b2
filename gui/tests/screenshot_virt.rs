//! Screenshots of the virtualization views in the real window under Xvfb: the app is
//! launched with `--demo` (lesson actions that put it in a known state: hv1 with both VMs
//! up, hv2 after an exit that went through vmm, the comparison run...) and `--shot` (it
//! saves the window itself once the demo is over and the machine is idle, then quits).
//! Each picture is checked to show an app (many colours, most of it not background).
//!
//! By default one shot is taken (the architecture view of hv2). `UPDATE_SCREENSHOT=1`
//! takes them all and writes the README's (English, gui/screenshot-virt-*.png) and the
//! workbook's (Spanish, workbook/src/img/gui-virt-*.png). Without xvfb-run the test says
//! why and passes, unless `CI` is set.

use std::path::PathBuf;
use std::process::Command;

/// (file under the repository, language, demo script).
const SHOTS: &[(&str, &str, &str)] = &[
    (
        "gui/screenshot-virt-arch.png",
        "en",
        "sample=hv2;run=80000000;type=ps\\n;run=20000000;exit;guest;step=1;view=arch",
    ),
    (
        "gui/screenshot-virt-timeline.png",
        "en",
        "sample=hv1;run=60000000;view=timeline",
    ),
    (
        "gui/screenshot-virt-compare.png",
        "en",
        "view=compare;compare",
    ),
    (
        "workbook/src/img/gui-virt-cronograma.png",
        "es",
        "sample=hv1;run=60000000;view=timeline",
    ),
    (
        "workbook/src/img/gui-virt-libro.png",
        "es",
        "sample=hv1;run=60000000;view=ledger",
    ),
    (
        "workbook/src/img/gui-virt-paso-tevmm.png",
        "es",
        "sample=tevmm + minios (trap;exit;step=4;view=stepper",
    ),
    (
        "workbook/src/img/gui-virt-paso-hv1.png",
        "es",
        "sample=hv1;run=30000000;exit;step=4;view=stepper",
    ),
    (
        "workbook/src/img/gui-virt-anidada.png",
        "es",
        "sample=hv1;run=60000000;type=run cpu\\n;run=5000000;nested=0x400000",
    ),
    (
        "workbook/src/img/gui-virt-comparacion.png",
        "es",
        "view=compare;compare",
    ),
    (
        "workbook/src/img/gui-virt-arquitectura.png",
        "es",
        "sample=hv2;run=80000000;type=ps\\n;run=20000000;exit;guest;step=1;view=arch",
    ),
];

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Decodes a PNG and checks it shows an app at 1280x800.
fn check(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("the app wrote the screenshot");
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    assert_eq!((info.width, info.height), (1280, 800), "{}", path.display());
    let px = info.color_type.samples();
    let mut colours = std::collections::HashMap::new();
    for c in buf[..info.buffer_size()].chunks(px) {
        *colours.entry([c[0], c[1], c[2]]).or_insert(0usize) += 1;
    }
    let total: usize = colours.values().sum();
    let (bg, n) = colours.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(colours.len() >= 32, "{}: blank?", path.display());
    // Some views are sparse (the stepper's three columns): 3% of the window drawn at least.
    assert!(n * 100 <= total * 97, "{}: all {bg:?}", path.display());
    assert_ne!(*bg, [0, 0, 0], "{}: a black screen", path.display());
}

#[test]
fn virtualization_views_in_a_real_window() {
    if !have("xvfb-run") {
        let msg =
            "screenshot test skipped: needs xvfb-run (apt-get install xvfb xauth libgl1-mesa-dri)";
        assert!(std::env::var_os("CI").is_none(), "{msg}: CI must have it");
        eprintln!("{msg}");
        return;
    }
    let update = std::env::var_os("UPDATE_SCREENSHOT").is_some();
    let bin = env!("CARGO_BIN_EXE_traplab-window");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let shots = if update { SHOTS } else { &SHOTS[..1] };
    for (file, lang, demo) in shots {
        let out = std::env::temp_dir().join(format!(
            "traplab-virt-{}-{}",
            std::process::id(),
            file.replace('/', "_")
        ));
        let st = Command::new("timeout")
            .args(["300", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
            .arg(bin)
            .args(["--lang", lang, "--tabs-full", "--demo", demo, "--shot"])
            .arg(&out)
            .current_dir(&root)
            .status()
            .expect("running xvfb-run");
        assert!(st.success(), "{file}: the window ended with {st}");
        check(&out);
        if update {
            std::fs::copy(&out, root.join(file)).expect("copying the screenshot");
        }
        let _ = std::fs::remove_file(out);
    }
}
