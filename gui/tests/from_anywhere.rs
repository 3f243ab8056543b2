//! A `traplab-gui` copied away from the source tree still opens with minios: the binary is
//! copied into a fresh temporary directory outside the repository and started there (as
//! its working directory) under Xvfb with `TRAPLAB_FPS_REPORT=1`, which, with no samples
//! in reach, runs the embedded minios's CPU-bound demo in the real window and reports it
//! by its clean name. Skipped without xvfb-run (unless `CI`).

use std::process::Command;

#[test]
fn a_copied_binary_opens_the_embedded_minios() {
    let have = Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let msg = "from-anywhere test skipped: needs xvfb-run (apt-get install xvfb xauth libgl1-mesa-dri)";
        assert!(std::env::var_os("CI").is_none(), "{msg}: CI must have it");
        eprintln!("{msg}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("traplab-anywhere-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        !dir.starts_with(repo.canonicalize().unwrap()),
        "the temporary directory must be outside the source tree"
    );
    let bin = dir.join("traplab-gui");
    std::fs::copy(env!("CARGO_BIN_EXE_traplab-window"), &bin).unwrap();
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "timeout", "120"])
        .arg(&bin)
        .env("TRAPLAB_FPS_REPORT", "1")
        .current_dir(&dir)
        .output()
        .expect("running xvfb-run");
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the window did not exit cleanly: {}",
        out.status
    );
    assert!(
        text.contains("measuring minios \"autorun=cpu\""),
        "not the embedded minios, or not by its clean name"
    );
    assert!(
        !text.contains(env!("CARGO_MANIFEST_DIR")),
        "a build path leaked: {text}"
    );
    assert!(!text.contains("note:"), "the measurement ended early");
}
