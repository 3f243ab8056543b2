//! Boot tests as data: every `tests/boot/*.json` names an image, how to boot it, its input,
//! an instruction budget, the expected serial output and the expected exit status. Each one
//! runs through the real `traplab` binary; all mismatches are reported together.
//! `BOOT_TEST=name` runs only the tests whose name contains `name`. `BOOT_BLESS=1` rewrites
//! the `expect_file` of every test whose output differs (after an intended guest change);
//! the other checks still run, and files recorded under QEMU must then be re-checked there
//! with `samples/check-qemu.sh` (a blessed file is Traplab's output, not an oracle's).
//!
//! Fields (paths are relative to the repository root):
//! - `image`, `boot` (auto|multiboot|disk|flat|flat-real, default auto), `args` (more CLI
//!   arguments), `cmdline`, `budget` (instructions), `input` (text piped to COM1) or
//!   `input_file`, `status` (expected exit status).
//! - `expect_file` with `match`: `exact` (byte for byte, the default), `lines` (the same
//!   multiset of lines, any order) or `mem` (exact except `multiboot: ` lines, whose KiB
//!   figures depend on the memory map: they only need the same shape) or `ledger` (exact
//!   except the lines of tevmm's trap ledger, `tevmm: ...`, and of hv2's vmm ledger,
//!   `vmm:   ...`, compared without digits and spaces: their counts are asserted with
//!   `contains` where they are deterministic).
//! - `contains`, `not_contains`, `ends_with`: substrings of the serial output;
//!   `before`: pairs [a, b] where a must occur before b; `stderr_contains`.
//!
//! The `--bios`, `--disk` and `--writable` paths are tested below with images built here.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("boot-{}-{name}", std::process::id()))
}

struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[String], input: Option<&[u8]>) -> Outcome {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("cannot start traplab");
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(data).expect("cannot write stdin");
    }
    let out = child.wait_with_output().expect("traplab did not finish");
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `multiboot: mem_lower=N KiB mem_upper=N KiB` with the digits blanked.
fn mem_shape(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect::<String>()
        .replace("##", "#")
        .replace("##", "#")
        .replace("##", "#")
        .replace("##", "#")
}

/// Compares one test's outcome with its expectations; returns the mismatches.
fn check(t: &Value, o: &Outcome) -> Vec<String> {
    let mut bad = Vec::new();
    let out = &o.stdout;
    if let Some(s) = t["status"].as_i64() {
        if o.status != Some(s as i32) {
            bad.push(format!("exit status {:?}, expected {s}", o.status));
        }
    }
    if let Some(f) = t["expect_file"].as_str() {
        let want = read(f);
        let ok = match t["match"].as_str().unwrap_or("exact") {
            "exact" => *out == want,
            "lines" => {
                let mut a: Vec<&str> = out.lines().collect();
                let mut b: Vec<&str> = want.lines().collect();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }
            "mem" => {
                let norm = |s: &str| -> Vec<String> {
                    s.split('\n')
                        .map(|l| {
                            if l.starts_with("multiboot: ") {
                                mem_shape(l)
                            } else {
                                l.to_string()
                            }
                        })
                        .collect()
                };
                norm(out) == norm(&want)
            }
            "ledger" => {
                let norm = |s: &str| -> Vec<String> {
                    s.split('\n')
                        .map(|l| {
                            if l.starts_with("tevmm:") || l.starts_with("vmm:   ") {
                                l.replace(|c: char| c.is_ascii_digit() || c == ' ', "")
                            } else {
                                l.to_string()
                            }
                        })
                        .collect()
                };
                norm(out) == norm(&want)
            }
            m => {
                bad.push(format!("unknown match mode {m}"));
                true
            }
        };
        if !ok && std::env::var_os("BOOT_BLESS").is_some() {
            std::fs::write(root().join(f), out).unwrap_or_else(|e| panic!("bless {f}: {e}"));
            println!("  blessed {f}");
        } else if !ok {
            bad.push(format!(
                "serial output differs from {f}\n--- expected ---\n{want}\n--- got ---\n{out}\n---"
            ));
        }
    }
    for s in strs(t, "contains") {
        if !out.contains(&s) {
            bad.push(format!("serial output lacks {s:?}"));
        }
    }
    for s in strs(t, "not_contains") {
        if out.contains(&s) {
            bad.push(format!("serial output contains {s:?}"));
        }
    }
    if let Some(s) = t["ends_with"].as_str() {
        if !out.ends_with(s) {
            bad.push(format!("serial output does not end with {s:?}"));
        }
    }
    for pair in t["before"].as_array().into_iter().flatten() {
        let (a, b) = (
            pair[0].as_str().unwrap_or(""),
            pair[1].as_str().unwrap_or(""),
        );
        match (out.find(a), out.find(b)) {
            (Some(i), Some(j)) if i < j => {}
            (i, j) => bad.push(format!(
                "{a:?} (at {i:?}) must come before {b:?} (at {j:?})"
            )),
        }
    }
    for s in strs(t, "stderr_contains") {
        if !o.stderr.contains(&s) {
            bad.push(format!("stderr lacks {s:?}"));
        }
    }
    if !bad.is_empty() && !o.stderr.is_empty() {
        bad.push(format!("stderr:\n{}", o.stderr));
    }
    bad
}

fn args_of(t: &Value) -> Vec<String> {
    let mut a = vec![
        "run".to_string(),
        t["image"].as_str().expect("image").to_string(),
    ];
    if let Some(b) = t["boot"].as_str() {
        a.extend(["--boot".into(), b.into()]);
    }
    if let Some(c) = t["cmdline"].as_str() {
        a.extend(["--cmdline".into(), c.into()]);
    }
    let budget = t["budget"].as_u64().expect("budget");
    a.extend(["--max-instructions".into(), budget.to_string()]);
    if let Some(f) = t["input_file"].as_str() {
        a.extend(["--input".into(), f.into()]);
    }
    a.extend(strs(t, "args"));
    a
}

#[test]
fn boot_tests_from_data() {
    let dir = root().join("tests/boot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/boot")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "boot test data missing in {}",
        dir.display()
    );
    let filter = std::env::var("BOOT_TEST").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        if !name.contains(&filter) {
            continue;
        }
        let t: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let input = t["input"].as_str().map(|s| s.as_bytes().to_vec());
        let start = std::time::Instant::now();
        let o = run(&args_of(&t), input.as_deref());
        let bad = check(&t, &o);
        println!(
            "boot test {name}: {} ({:.2} s)",
            if bad.is_empty() { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        ran += 1;
        for b in bad {
            failures.push(format!("[{name}] {b}"));
        }
    }
    assert!(ran > 0, "no boot test matches BOOT_TEST={filter}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A 64 KiB ROM whose reset vector prints "ROM\n" on port 0xE9 and exits with 0x21.
fn tiny_rom() -> Vec<u8> {
    let mut rom = vec![0xF4u8; 0x1_0000]; // hlt everywhere else
    let code: &[u8] = &[
        0xEA, 0x00, 0xE0, 0x00, 0xF0, // FFF0: jmp far F000:E000
    ];
    rom[0xFFF0..0xFFF0 + code.len()].copy_from_slice(code);
    let body: &[u8] = &[
        0xB0, 0x12, 0xE6, 0x80, // mov al, 12h; out 80h, al (POST code)
        0xBE, 0x20, 0xE0, // mov si, E020h
        0x2E, 0xAC, // cs lodsb
        0x84, 0xC0, // test al, al
        0x74, 0x04, // jz +4
        0xE6, 0xE9, // out 0E9h, al
        0xEB, 0xF6, // jmp back to lodsb
        0xB0, 0x21, 0xE6, 0xF4, // mov al, 21h; out 0F4h, al
    ];
    rom[0xE000..0xE000 + body.len()].copy_from_slice(body);
    rom[0xE020..0xE025].copy_from_slice(b"ROM\n\0");
    rom
}

/// `traplab run IMAGE` decides what IMAGE is with `traplab::boot::detect` (the GUI uses the
/// same function): a ROM image given as IMAGE boots like `--bios`, and bytes that are no
/// known kind get one line that says so.
#[test]
fn run_detects_the_image_kind() {
    let p = tmp("detect-rom.bin");
    std::fs::write(&p, tiny_rom()).unwrap();
    let o = run(&["run".into(), p.display().to_string()], None);
    assert_eq!(
        (o.stdout.as_str(), o.status),
        ("ROM\n", Some(0x43)),
        "{}",
        o.stderr
    );
    std::fs::write(&p, b"plain text, no signature").unwrap();
    let o = run(&["run".into(), p.display().to_string()], None);
    assert_eq!(o.status, Some(2));
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("not a Multiboot kernel, a Linux bzImage")
            && o.stderr.contains("--boot flat"),
        "{}",
        o.stderr
    );
    // 55 AA at 510 in a file that is not whole sectors.
    let mut d = vec![0u8; 700];
    d[510..512].copy_from_slice(&[0x55, 0xAA]);
    std::fs::write(&p, d).unwrap();
    let o = run(&["run".into(), p.display().to_string()], None);
    assert_eq!(o.status, Some(2));
    assert!(o.stderr.contains("512-byte sectors"), "{}", o.stderr);
    std::fs::remove_file(&p).ok();
}

#[test]
fn bios_rom_runs_from_the_reset_vector() {
    let p = tmp("rom.bin");
    std::fs::write(&p, tiny_rom()).unwrap();
    let o = run(
        &[
            "run".into(),
            "--bios".into(),
            p.display().to_string(),
            "--max-instructions".into(),
            "1000".into(),
        ],
        None,
    );
    assert_eq!(o.stdout, "ROM\n", "stderr: {}", o.stderr);
    assert_eq!(o.status, Some(0x43), "stderr: {}", o.stderr);

    // 128 KiB: the image ends at the reset vector, the first half is below it.
    let mut big = vec![0xF4u8; 0x1_0000];
    big.extend(tiny_rom());
    std::fs::write(&p, big).unwrap();
    let o = run(
        &["run".into(), "--bios".into(), p.display().to_string()],
        None,
    );
    assert_eq!((o.stdout.as_str(), o.status), ("ROM\n", Some(0x43)));

    std::fs::write(&p, vec![0u8; 0x1_8000]).unwrap();
    let o = run(
        &["run".into(), "--bios".into(), p.display().to_string()],
        None,
    );
    assert_eq!(o.status, Some(2));
    assert!(o.stderr.contains("multiple of 64 KiB"), "{}", o.stderr);
    std::fs::remove_file(&p).ok();
}

/// `--bios` starts with the A20 gate closed: port 0x92 bit 1 reads 0 and FFFF:0510 wraps
/// to 0000:0500; once the ROM opens the gate through port 0x92, it no longer wraps.
#[test]
fn bios_rom_starts_with_a20_closed() {
    let mut rom = vec![0xF4u8; 0x1_0000];
    rom[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0xE0, 0x00, 0xF0]);
    let show_92: &[u8] = &[0xE4, 0x92, 0x24, 0x02, 0x04, 0x30, 0xE6, 0xE9];
    // Writes 11h at 0000:0500 and 22h at FFFF:0510, prints 'A' + 0 (no wrap) or 'R' (wrap).
    let wrap_test: &[u8] = &[
        0xC6, 0x06, 0x00, 0x05, 0x11, // mov byte [0500h], 11h
        0x26, 0xC6, 0x06, 0x10, 0x05, 0x22, // mov byte es:[0510h], 22h
        0xA0, 0x00, 0x05, // mov al, [0500h]
        0x04, 0x30, 0xE6, 0xE9, // add al, 30h; out 0E9h, al
    ];
    let mut code = show_92.to_vec();
    code.extend([0x31, 0xC0, 0x8E, 0xD8, 0xB8, 0xFF, 0xFF, 0x8E, 0xC0]); // ds = 0, es = FFFFh
    code.extend(wrap_test);
    code.extend([0xE4, 0x92, 0x0C, 0x02, 0xE6, 0x92]); // open the gate: port 92h bit 1
    code.extend(wrap_test);
    code.extend(show_92);
    code.extend([0xB0, 0x21, 0xE6, 0xF4]); // exit 21h
    rom[0xE000..0xE000 + code.len()].copy_from_slice(&code);
    let p = tmp("a20rom.bin");
    std::fs::write(&p, rom).unwrap();
    let o = run(
        &["run".into(), "--bios".into(), p.display().to_string()],
        None,
    );
    std::fs::remove_file(&p).ok();
    assert_eq!(o.stdout, "0RA2", "stderr: {}", o.stderr);
    assert_eq!(o.status, Some(0x43), "stderr: {}", o.stderr);
}

#[test]
fn bad_disk_images_are_refused() {
    let p = tmp("bad.img");
    std::fs::write(&p, vec![0u8; 700]).unwrap();
    for args in [vec!["--boot", "disk"], vec!["--disk"]] {
        let mut a: Vec<String> = vec!["run".into()];
        if args[0] == "--disk" {
            a.extend([
                "samples/hello/hello.elf".into(),
                "--disk".into(),
                p.display().to_string(),
            ]);
        } else {
            a.extend([p.display().to_string(), "--boot".into(), "disk".into()]);
        }
        let o = run(&a, None);
        assert_eq!(o.status, Some(2), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("multiple of 512"), "{}", o.stderr);
    }
    std::fs::remove_file(&p).ok();
}

fn biostest_copy(name: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::copy(root().join("tests/boot/biostest.img"), &p).unwrap();
    p
}

fn sector6(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()[3072..3080].to_vec()
}

#[test]
fn writable_saves_guest_writes_only_when_asked() {
    let args = |p: &Path, extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "run".into(),
            "--boot".into(),
            "disk".into(),
            "--disk".into(),
            p.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let p = biostest_copy("ro.img");
    let o = run(&args(&p, &[]), Some(b"x\r"));
    assert_eq!(o.status, Some(1), "{}", o.stderr);
    assert!(o.stdout.contains("WRITTEN"));
    assert_eq!(
        sector6(&p),
        b"old\0\0\0\0\0",
        "without --writable the file is untouched"
    );

    let q = biostest_copy("rw.img");
    let o = run(&args(&q, &["--writable"]), Some(b"x\r"));
    assert_eq!(o.status, Some(1), "{}", o.stderr);
    assert_eq!(sector6(&q), b"WRITTEN\0");
    assert!(o.stderr.contains("written back"), "{}", o.stderr);

    // A guest that never writes leaves the file alone even with --writable.
    let r = tmp("boot.img");
    std::fs::copy(root().join("samples/bootsector/bootsector.img"), &r).unwrap();
    let before = std::fs::metadata(&r).unwrap().modified().unwrap();
    let o = run(&args(&r, &["--writable"]), None);
    assert_eq!(o.status, Some(1));
    assert!(!o.stderr.contains("written back"));
    assert_eq!(std::fs::metadata(&r).unwrap().modified().unwrap(), before);
    for f in [p, q, r] {
        std::fs::remove_file(f).ok();
    }
}
