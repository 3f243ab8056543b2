//! The real window's frame meter: launches the app binary under Xvfb with
//! `TRAPLAB_FPS_REPORT=2`, which runs a guest flat out, counts frames and closes the window.
//! The frame rate is a measurement (recorded in the README), not a pass mark: this checks
//! only what must hold on any machine: the window kept drawing while the guest ran, the
//! guest advanced, and the window closed by itself. Skipped without xvfb-run (unless `CI`).

use std::path::PathBuf;
use std::process::Command;

fn number_after(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn the_window_draws_while_the_guest_runs_flat_out() {
    let have = Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let msg = "fps test skipped: needs xvfb-run (apt-get install xvfb xauth libgl1-mesa-dri)";
        assert!(std::env::var_os("CI").is_none(), "{msg}: CI must have it");
        eprintln!("{msg}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_traplab-window");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // `timeout` keeps a hung window from hanging the test run.
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "timeout", "120", bin])
        .env("TRAPLAB_FPS_REPORT", "2")
        .current_dir(&root)
        .output()
        .expect("running xvfb-run");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the window did not exit cleanly: {}",
        out.status
    );
    assert!(!text.contains("note:"), "the measurement ended early");
    let frames: f64 = text
        .split("per second (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a frame count in the report");
    assert!(frames >= 10.0, "only {frames} frames in 2 s of running");
    let mips = number_after(&text, "guest in the window: ").expect("guest MIPS in the report");
    let headless = number_after(&text, "headless: ").expect("headless MIPS in the report");
    assert!(mips > 0.0 && headless > 0.0, "the guest did not advance");
}
