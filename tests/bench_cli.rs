//! `traplab bench`'s options: `--callgrind` prints host instructions per guest instruction
//! beside MIPS, measured by valgrind's callgrind (issue 17), and `--only` picks workloads.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_traplab");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

#[test]
fn callgrind_prints_host_instructions_per_guest_instruction() {
    let o = Command::new(BIN)
        .args(["bench", "--callgrind", "--only", "integer", "--runs", "1"])
        .args(["--samples", SAMPLES])
        .output()
        .expect("cannot start traplab");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "one workload: {out}");
    assert!(lines[0].ends_with("host/guest"), "{out}");
    assert!(lines[1].starts_with("integer loop"), "{out}");
    let hg: f64 = lines[1]
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no host/guest figure: {out}"));
    // A handler call alone costs more than a few host instructions, and the integer loop
    // costs tens of them per guest instruction (31.6 in the release build, README "Speed"),
    // well under a thousand even in a debug build.
    assert!((5.0..1000.0).contains(&hg), "host/guest {hg}: {out}");
}

#[test]
fn only_without_a_match_is_one_line() {
    let o = Command::new(BIN)
        .args(["bench", "--only", "nothing-like-this", "--samples", SAMPLES])
        .output()
        .expect("cannot start traplab");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no workload matches"), "{stderr}");
}
