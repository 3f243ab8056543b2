//! Hostile input to the `traplab` CLI (issue 19): option combinations that used to be
//! silently ignored, files that must never be touched, endless inputs under a memory limit,
//! and one-line error messages that name the option and the file.
//! Memory limits are set with `ulimit -v` in a shell around the binary: a run that tried to
//! read an endless file whole would die of an allocation failure instead of exiting with 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh empty directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Out {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_cmd(mut cmd: Command, input: Option<&[u8]>) -> Out {
    cmd.current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("cannot start traplab");
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(data);
    }
    let out = child.wait_with_output().expect("traplab did not finish");
    Out {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Out {
    let mut c = Command::new(BIN);
    c.args(args);
    run_cmd(c, None)
}

/// Runs traplab in `sh` after `prelude` (ulimit, trap), with the arguments quoted.
fn run_sh(prelude: &str, args: &[&str], input: Option<&[u8]>) -> Out {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{prelude}; exec '{BIN}' {}", quoted.join(" ")));
    run_cmd(c, input)
}

/// One clean error: status 2, one line on stderr starting with "traplab: ", containing
/// every `needle`.
fn assert_clean_error(o: &Out, needles: &[&str]) {
    assert_eq!(o.status, Some(2), "stderr: {}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {:?}", o.stderr);
    assert!(lines[0].starts_with("traplab: "), "{}", lines[0]);
    for n in needles {
        assert!(lines[0].contains(n), "{:?} not in {:?}", n, lines[0]);
    }
    assert!(!o.stderr.contains("panicked"));
}

/// An error after the run: status 2 and a last line with every `needle`.
fn assert_error_after_run(o: &Out, needles: &[&str]) {
    assert_eq!(o.status, Some(2), "stderr: {}", o.stderr);
    let last = o.stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("traplab: "), "{last}");
    for n in needles {
        assert!(last.contains(n), "{:?} not in {:?}", n, last);
    }
    assert!(!o.stderr.contains("panicked"));
}

/// Every file of a directory with its contents.
fn listing(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap_or_default())
        })
        .collect();
    v.sort();
    v
}

const HELLO: &str = "samples/hello/hello.elf";
const MINIOS: &str = "samples/minios/minios.elf";
const BOOTSECTOR: &str = "samples/bootsector/bootsector.img";

/// A snapshot of the boot sector sample, whose machine has a 512-byte disk.
fn disk_snapshot(d: &Path) -> PathBuf {
    let s = d.join("s.snap");
    let o = run(&[
        "run",
        "--save-snapshot",
        s.to_str().unwrap(),
        "--snapshot-at",
        "2000",
        BOOTSECTOR,
    ]);
    assert!(s.exists(), "{}", o.stderr);
    s
}

/// The issue's reproducer: `--load-snapshot s.snap --disk victim.img --writable` wrote the
/// snapshot's 512-byte disk over a 10 MiB victim. Now every machine option is refused with
/// --load-snapshot, and the victim is untouched.
#[test]
fn load_snapshot_refuses_machine_options() {
    let d = dir("load");
    let snap = disk_snapshot(&d);
    let victim = d.join("victim.img");
    let pattern: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&victim, &pattern).unwrap();
    let (s, v) = (snap.to_str().unwrap(), victim.to_str().unwrap());
    let cases: [&[&str]; 13] = [
        &["--disk", v, "--writable"],
        &["--disk", v],
        &["--disk2", v],
        &["--bios", v],
        &["--module", v],
        &["--mem", "64"],
        &["--boot", "disk"],
        &["--cmdline", "x"],
        &["--load-addr", "0x2000"],
        &["--popek-goldberg"],
        &["--cost", "vmrun=100"],
        &["--writable"],
        &[v],
    ];
    for extra in cases {
        let mut args = vec!["run", "--load-snapshot", s, "--max-instructions", "1000"];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_clean_error(&o, &["--load-snapshot"]);
        assert!(o.stdout.is_empty(), "{extra:?}: the run must not start");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), pattern);
    // Alone, the snapshot still runs.
    let o = run(&["run", "--load-snapshot", s, "--max-instructions", "1000"]);
    assert!(o.status.is_some_and(|s| s != 2), "{}", o.stderr);
    std::fs::remove_dir_all(&d).ok();
}

/// `--save-snapshot X --force` where the write fails (here: a file size limit, as on a full
/// disk) leaves the old X whole and no temporary file behind.
#[test]
fn failed_snapshot_write_keeps_the_old_snapshot() {
    let d = dir("force");
    let old = d.join("old.snap");
    let old_bytes = b"an old snapshot the user wants to keep".repeat(10);
    std::fs::write(&old, &old_bytes).unwrap();
    // SIGXFSZ ignored: the write fails with EFBIG instead of killing the process.
    let o = run_sh(
        "trap '' XFSZ; ulimit -f 8",
        &[
            "run",
            "--save-snapshot",
            old.to_str().unwrap(),
            "--force",
            "--max-instructions",
            "1000",
            HELLO,
        ],
        None,
    );
    assert_error_after_run(&o, &["--save-snapshot", "old.snap", "cannot write"]);
    assert_eq!(std::fs::read(&old).unwrap(), old_bytes);
    assert_eq!(listing(&d).len(), 1, "no temporary file is left");
    // Without the limit the same command replaces it with a snapshot that restores.
    let o = run(&[
        "run",
        "--save-snapshot",
        old.to_str().unwrap(),
        "--force",
        "--max-instructions",
        "1000",
        HELLO,
    ]);
    assert_eq!(o.status, Some(124), "{}", o.stderr);
    assert!(std::fs::read(&old).unwrap().starts_with(b"TRAPSNAP"));
    assert_eq!(listing(&d).len(), 1);
    std::fs::remove_dir_all(&d).ok();
}

/// `--writable` and `--save-snapshot` write only the files named for them, on success and
/// on failure.
#[test]
fn outputs_touch_only_the_named_files() {
    let d = dir("only");
    let disk = d.join("disk.img");
    std::fs::copy(root().join("tests/boot/biostest.img"), &disk).unwrap();
    std::fs::write(d.join("other.txt"), b"leave me alone").unwrap();
    let snap = d.join("out.snap");
    let args = [
        "run",
        "--boot",
        "disk",
        "--disk",
        disk.to_str().unwrap(),
        "--writable",
        "--save-snapshot",
        snap.to_str().unwrap(),
    ];
    let before = listing(&d);
    // Failure: the snapshot cannot be written (file size limit); the disk write-back came
    // first and is whole, nothing else appears.
    let o = run_sh("trap '' XFSZ; ulimit -f 64", &args, Some(b"x\r"));
    assert_error_after_run(&o, &["--save-snapshot", "out.snap", "cannot write"]);
    let after = listing(&d);
    let names: Vec<&str> = after.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["disk.img", "other.txt"]);
    assert_eq!(after[1], before[1]);
    let img = &after[0].1;
    assert_eq!(img.len(), before[0].1.len());
    assert_eq!(&img[3072..3080], b"WRITTEN\0");
    // Success: exactly the snapshot is added.
    let o = run_sh("true", &args, Some(b"x\r"));
    assert_eq!(o.status, Some(1), "{}", o.stderr);
    let names: Vec<String> = listing(&d).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["disk.img", "other.txt", "out.snap"]);
    std::fs::remove_dir_all(&d).ok();
}

/// Output files are checked before booting: a directory, a missing directory, an existing
/// file without --force, --writable without a disk. One line each, and no guest output.
#[test]
fn output_problems_fail_before_booting() {
    let d = dir("early");
    let exists = d.join("exists.snap");
    std::fs::write(&exists, b"x").unwrap();
    let missing = d.join("no/such/dir/x.snap");
    let dstr = d.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--save-snapshot", dstr],
            &["--save-snapshot", "is a directory"],
        ),
        (
            &["--save-snapshot", missing.to_str().unwrap()],
            &["--save-snapshot", "does not exist"],
        ),
        (
            &["--save-snapshot", exists.to_str().unwrap()],
            &["--save-snapshot", "--force"],
        ),
        (&["--writable"], &["--writable", "no disk"]),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["run", "--max-instructions", "100000"];
        args.extend_from_slice(extra);
        args.push(HELLO);
        let o = run(&args);
        assert_clean_error(&o, needles);
        assert!(o.stdout.is_empty(), "{extra:?}: booted anyway");
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `--writable` on a file that cannot be written fails before the run. As a normal user
/// the file is made read-only; root writes through permissions, so there the file is made
/// immutable (`chattr +i`, which binds root too). Only where neither holds (root on a file
/// system without the attribute) does the test check nothing, and it says so.
#[test]
fn unwritable_disk_fails_before_booting() {
    let d = dir("ro");
    let disk = d.join("ro.img");
    std::fs::copy(root().join(BOOTSECTOR), &disk).unwrap();
    let mut perms = std::fs::metadata(&disk).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&disk, perms).unwrap();
    let writable = || std::fs::OpenOptions::new().write(true).open(&disk).is_ok();
    let immutable = writable()
        && Command::new("chattr")
            .arg("+i")
            .arg(&disk)
            .status()
            .is_ok_and(|s| s.success());
    if writable() {
        eprintln!("unwritable_disk_fails_before_booting: root without chattr +i, nothing to check");
        std::fs::remove_dir_all(&d).ok();
        return;
    }
    let o = run(&[
        "run",
        "--writable",
        "--max-instructions",
        "1000",
        disk.to_str().unwrap(),
    ]);
    if immutable {
        let _ = Command::new("chattr").arg("-i").arg(&disk).status();
    }
    assert_clean_error(&o, &["--writable", "ro.img"]);
    std::fs::remove_dir_all(&d).ok();
}

/// Endless or huge inputs are read only as far as their format allows, under a 1 GiB
/// address-space limit (a whole read of /dev/zero would die of an allocation failure).
/// Serial input is streamed: an endless one feeds a guest that reads it, in bounded memory.
#[test]
fn endless_inputs_are_bounded() {
    let limit = "ulimit -v 1048576";
    let cases: [(&[&str], &[&str]); 4] = [
        (&["/dev/zero"], &["IMAGE /dev/zero", "too big"]),
        (&["--boot", "disk", "/dev/zero"], &["IMAGE /dev/zero"]),
        (&["--bios", "/dev/zero"], &["--bios /dev/zero", "256 KiB"]),
        (&["--module", "/dev/zero", HELLO], &["--module /dev/zero"]),
    ];
    for (args, needles) in cases {
        let mut a = vec!["run", "--max-instructions", "1000"];
        a.extend_from_slice(args);
        let o = run_sh(limit, &a, None);
        assert_clean_error(&o, needles);
    }
    let o = run_sh(
        limit,
        &[
            "run",
            "--max-instructions",
            "3000000",
            "--input",
            "/dev/zero",
            MINIOS,
        ],
        None,
    );
    assert_eq!(o.status, Some(124), "{}", o.stderr);
    // `yes | traplab run minios.elf`: the shell answers every "y" line.
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "{limit}; yes | '{BIN}' run --max-instructions 3000000 {MINIOS}"
    ));
    let o = run_cmd(c, None);
    assert_eq!(o.status, Some(124), "{}", o.stderr);
    assert!(o.stdout.matches("minios>").count() > 10, "{}", o.stdout);
}

/// A disk image whose file is larger than the limit is refused from its size, unread.
#[test]
fn oversized_disk_is_refused_unread() {
    let d = dir("big");
    let big = d.join("big.img");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(3 << 30).unwrap(); // sparse: takes no space
    let o = run_sh(
        "ulimit -v 1048576",
        &["run", "--boot", "disk", "--disk", big.to_str().unwrap()],
        None,
    );
    assert_clean_error(&o, &["--disk", "big.img", "at most 2 GiB"]);
    std::fs::remove_dir_all(&d).ok();
}

/// A disk given by file is read as the guest needs its sectors (copy-on-write over the
/// file), not held whole: a 1.5 GiB image boots under a 1 GiB address-space limit, and the
/// file is left as it was.
#[test]
fn big_disk_boots_without_being_read_whole() {
    let d = dir("bigboot");
    let big = d.join("big.img");
    std::fs::copy(root().join(BOOTSECTOR), &big).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
    f.set_len(3 << 29).unwrap(); // 1.5 GiB, sparse
    drop(f);
    let before = std::fs::metadata(&big).unwrap().modified().unwrap();
    let o = run_sh("ulimit -v 1048576", &["run", big.to_str().unwrap()], None);
    assert_eq!(o.status, Some(1), "stderr: {}", o.stderr);
    assert!(o.stdout.contains("protected mode"), "{}", o.stdout);
    let after = std::fs::metadata(&big).unwrap();
    assert_eq!((after.len(), after.modified().unwrap()), (3 << 29, before));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn clap_errors_are_one_line() {
    for args in [
        &["run", "--bogus"][..],
        &["run", "--mem", "1", HELLO],
        &["frobnicate"],
        &["run", "--load-addr", "zz", HELLO],
    ] {
        let o = run(args);
        assert_clean_error(&o, &["see --help"]);
    }
}

/// `--cost NAME=NS`: an unknown name, a bad number or a missing `=` is one line naming the
/// option (and the known names), before anything runs; good ones run.
#[test]
fn cost_errors_are_one_line() {
    for (arg, needles) in [
        (
            "vmentry=100",
            &[
                "--cost",
                "unknown cost `vmentry`",
                "vmrun, vmexit, nested_ref",
            ][..],
        ),
        ("vmrun=-5", &["--cost vmrun", "`-5`", "whole number"]),
        ("vmexit=1e3", &["--cost vmexit", "`1e3`"]),
        ("vmexit=99999999999", &["--cost vmexit", "0 to 1000000000"]),
        ("vmrun", &["--cost wants NAME=NS", "`vmrun`"]),
    ] {
        let o = run(&["run", "--cost", "vmrun=10", "--cost", arg, HELLO]);
        assert_clean_error(&o, needles);
        assert!(o.stdout.is_empty(), "{arg}: the run must not start");
    }
    let o = run(&["run", "--cost", "vmrun=0", "--cost", "nested_ref=3", HELLO]);
    assert!(o.stdout.starts_with("Hello from Traplab!"), "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
}

/// The guest's output going to a closed pipe: one line saying it was standard output.
#[test]
fn broken_pipe_names_standard_output() {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "'{BIN}' run --max-instructions 100000 {HELLO} | true"
    ));
    // `true` exits at once; traplab's first write finds the pipe closed.
    let o = run_cmd(c, None);
    let err = o.stderr.trim();
    assert!(
        err.is_empty() || err.contains("standard output"),
        "unexpected stderr: {err}"
    );
    assert!(!err.contains("panicked"));
}

/// `--boot flat-real --load-addr 0x110000` ran at 1000:0000; now it is refused by name.
#[test]
fn flat_real_load_address_above_1mib_is_refused() {
    let o = run(&[
        "run",
        "--boot",
        "flat-real",
        "--load-addr",
        "0x110000",
        "--max-instructions",
        "10",
        BOOTSECTOR,
    ]);
    assert_clean_error(&o, &["--load-addr 0x110000", "flat-real"]);
}

/// Errors about a module name the module, not only the kernel.
#[test]
fn module_errors_name_the_module() {
    let d = dir("mod");
    let big = d.join("big.mod");
    std::fs::write(&big, vec![0u8; 3 << 20]).unwrap();
    let o = run(&[
        "run",
        "--mem",
        "4",
        "--module",
        big.to_str().unwrap(),
        "--max-instructions",
        "10",
        HELLO,
    ]);
    assert_clean_error(&o, &["big.mod", "does not fit"]);
    std::fs::remove_dir_all(&d).ok();
}

/// A compressed test-vector bomb (1 GiB of zeros in 1 MiB of gzip) stops at the
/// library's limit, under a 1 GiB address-space limit.
#[test]
fn vector_bomb_is_bounded() {
    use flate2::{write::GzEncoder, Compression};
    let d = dir("vbomb");
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&chunk).unwrap();
    }
    std::fs::write(d.join("00.json.gz"), gz.finish().unwrap()).unwrap();
    let o = run_sh("ulimit -v 1048576", &["vectors", d.to_str().unwrap()], None);
    assert_clean_error(&o, &["00.json.gz", "256 MiB"]);
    std::fs::remove_dir_all(&d).ok();
}

/// Bad vector files and a corrupt metadata.json: one line naming the file, in Traplab's
/// words (no parser-library message).
#[test]
fn bad_vector_files_name_the_file() {
    let d = dir("vbad");
    std::fs::write(d.join("00.json"), b"[{\"name\": 5}]").unwrap();
    let o = run(&["vectors", d.to_str().unwrap()]);
    assert_clean_error(&o, &["00.json", "expected shape"]);
    std::fs::write(d.join("00.json"), b"[").unwrap();
    let o = run(&["vectors", d.to_str().unwrap()]);
    assert_clean_error(&o, &["00.json", "truncated"]);
    std::fs::write(d.join("00.json.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    std::fs::remove_file(d.join("00.json")).unwrap();
    let o = run(&["vectors", d.to_str().unwrap()]);
    assert_clean_error(&o, &["00.json.gz", "corrupt gzip"]);
    std::fs::write(d.join("metadata.json"), b"{not json").unwrap();
    let o = run(&["vectors", d.to_str().unwrap()]);
    assert_clean_error(&o, &["metadata.json"]);
    std::fs::remove_dir_all(&d).ok();
}

/// `traplab vectors DIR | true`: the closed pipe is reported, not a panic.
#[test]
fn vectors_broken_pipe_is_not_a_panic() {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "'{BIN}' vectors tests/data/sst-80286-real --form 00 | true"
    ));
    let o = run_cmd(c, None);
    let err = o.stderr.trim();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty() || err.contains("standard output"), "{err}");
}

/// Saving and restoring a big machine takes its RAM once, not two or three times: a
/// 512 MiB machine round-trips under a 700 MiB address-space limit (the snapshot used to
/// be built in memory, RAM copied twice: over 1.5 GiB).
#[test]
fn big_snapshot_round_trip_takes_ram_once() {
    let d = dir("bigsnap");
    let s = d.join("big.snap");
    let limit = "ulimit -v 716800";
    let o = run_sh(
        limit,
        &[
            "run",
            "--mem",
            "512",
            "--save-snapshot",
            s.to_str().unwrap(),
            "--snapshot-at",
            "100000",
            MINIOS,
        ],
        None,
    );
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    let o = run_sh(
        limit,
        &[
            "run",
            "--load-snapshot",
            s.to_str().unwrap(),
            "--max-instructions",
            "100000",
        ],
        None,
    );
    assert_eq!(o.status, Some(124), "{}", o.stderr);
    std::fs::remove_dir_all(&d).ok();
}

/// A snapshot bomb through the CLI: a small machine followed by a gigabyte of zeros (in
/// about a megabyte of gzip) is refused at the first extra byte, under a 1 GiB limit.
#[test]
fn snapshot_bomb_is_refused() {
    use flate2::{read::GzDecoder, write::GzEncoder, Compression};
    use std::io::Read;
    let d = dir("sbomb");
    let s = d.join("s.snap");
    let o = run(&[
        "run",
        "--mem",
        "4",
        "--save-snapshot",
        s.to_str().unwrap(),
        "--snapshot-at",
        "1000",
        HELLO,
    ]);
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    let snap = std::fs::read(&s).unwrap();
    let mut body = Vec::new();
    GzDecoder::new(&snap[12..]).read_to_end(&mut body).unwrap();
    let mut gz = GzEncoder::new(snap[..12].to_vec(), Compression::fast());
    gz.write_all(&body).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = d.join("bomb.snap");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let o = run_sh(
        "ulimit -v 1048576",
        &["run", "--load-snapshot", bomb.to_str().unwrap()],
        None,
    );
    assert_clean_error(&o, &["--load-snapshot", "bomb.snap", "after the end"]);
    std::fs::remove_dir_all(&d).ok();
}

/// Closed standard streams: a closed stdin is no input and a closed stdout discards the
/// guest's output (Rust's standard streams treat EBADF as a sink); the run ends with the
/// guest's status (hello exits with 0: status 1), no panic.
#[test]
fn closed_standard_streams() {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "'{BIN}' run --max-instructions 100000 {HELLO} <&- >&-"
    ));
    let o = run_cmd(c, None);
    assert_eq!(o.status, Some(1), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

mod flags {
    use super::*;
    use proptest::prelude::*;

    /// A copy of the boot sector sample, the only disk the combinations may write to.
    fn disk_copy() -> &'static str {
        static P: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        P.get_or_init(|| {
            let p = dir("flags").join("disk.img");
            std::fs::copy(root().join(BOOTSECTOR), &p).unwrap();
            p.to_str().unwrap().to_string()
        })
    }

    /// Options with odd values, in any combination, as a student might type them.
    fn arg() -> impl Strategy<Value = Vec<String>> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        prop_oneof![
            Just(v(&["--boot", "multiboot"])),
            Just(v(&["--boot", "disk"])),
            Just(v(&["--boot", "flat"])),
            Just(v(&["--boot", "flat-real"])),
            prop_oneof![Just("2"), Just("3072"), Just("0"), Just("99999")]
                .prop_map(move |m| v(&["--mem", m])),
            prop_oneof![
                Just("0"),
                Just("0xFFFFFFFF"),
                Just("0x7C00"),
                Just("0xFFFF0")
            ]
            .prop_map(move |a| v(&["--load-addr", a])),
            Just(v(&["--disk", disk_copy()])),
            Just(v(&["--disk", HELLO])),
            Just(v(&["--disk", "/dev/null"])),
            Just(v(&["--writable"])),
            Just(v(&["--bios", disk_copy()])),
            Just(v(&["--module", HELLO])),
            Just(v(&["--module", "/nonexistent"])),
            Just(v(&["--cmdline", "a b c"])),
            Just(v(&["--input", "/dev/null"])),
            Just(v(&["--input", "/"])),
            Just(v(&["--screen"])),
            Just(v(&["--stats"])),
            Just(v(&["--hash"])),
            Just(v(&["--trace-io"])),
            Just(v(&["--snapshot-at", "10"])),
            Just(v(&["--load-snapshot", "/dev/null"])),
            Just(v(&["--load-snapshot", HELLO])),
            Just(v(&[HELLO])),
            Just(v(&[disk_copy()])),
            Just(v(&["samples/minios/minios.elf"])),
            Just(v(&["/dev/null"])),
            Just(v(&["/"])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

        /// Any combination ends within its budget with a known status; a status of 2 is
        /// one line; nothing panics; no file is created or changed in the repository.
        #[test]
        fn any_flags_end_cleanly(args in prop::collection::vec(arg(), 0..5)) {
            let mut a: Vec<String> = vec!["run".into(), "--max-instructions".into(), "20000".into()];
            a.extend(args.into_iter().flatten());
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            let before: Vec<_> = [HELLO, BOOTSECTOR]
                .iter()
                .map(|p| std::fs::read(root().join(p)).unwrap())
                .collect();
            let o = run_sh("ulimit -v 4194304", &refs, Some(b"ps\n"));
            prop_assert!(!o.stderr.contains("panicked"), "{:?}: {}", a, o.stderr);
            let s = o.status;
            prop_assert!(
                matches!(s, Some(0..=2) | Some(124..=126)) || s.is_some_and(|v| v & 1 == 1),
                "{:?}: status {:?} {}", a, s, o.stderr
            );
            if s == Some(2) {
                let last = o.stderr.lines().last().unwrap_or("");
                prop_assert!(last.starts_with("traplab: "), "{:?}: {}", a, o.stderr);
            }
            let after: Vec<_> = [HELLO, BOOTSECTOR]
                .iter()
                .map(|p| std::fs::read(root().join(p)).unwrap())
                .collect();
            prop_assert_eq!(before, after, "{:?} changed a sample", a);
        }
    }
}

/// A disk image is held once: a 768 MiB image without the boot signature is read and
/// refused under a 1.25 GiB address-space limit (it was copied three times: 2.3 GiB).
#[test]
fn disk_image_is_held_once() {
    let d = dir("once");
    let img = d.join("nosig.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(768 << 20)
        .unwrap(); // sparse
    let o = run_sh(
        "ulimit -v 1310720",
        &["run", "--boot", "disk", img.to_str().unwrap()],
        None,
    );
    assert_clean_error(&o, &["nosig.img", "55 AA"]);
    std::fs::remove_dir_all(&d).ok();
}

/// A minimal bzImage (header 2.15, 4 setup sectors) whose 32-bit entry prints the first
/// byte of the zero page's "HdrS" (ESI points there), then the first byte of the command
/// line, on COM1, and halts.
fn tiny_bzimage() -> Vec<u8> {
    let mut d = vec![0u8; 5 * 512];
    d[0x1F1] = 4;
    d[0x1FE..0x200].copy_from_slice(&[0x55, 0xAA]);
    d[0x201] = 0x6A;
    d[0x202..0x206].copy_from_slice(b"HdrS");
    d[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    d[0x211] = 1;
    d[0x22C..0x230].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    d[0x238..0x23C].copy_from_slice(&255u32.to_le_bytes());
    d[0x258..0x260].copy_from_slice(&0x10_0000u64.to_le_bytes());
    d[0x260..0x264].copy_from_slice(&0x1000u32.to_le_bytes());
    #[rustfmt::skip]
    let code = [
        0x66, 0xBA, 0xF8, 0x03,             // mov dx, 0x3F8
        0x8A, 0x86, 0x02, 0x02, 0x00, 0x00, // mov al, [esi + 0x202]
        0xEE,                               // out dx, al
        0x8B, 0x9E, 0x28, 0x02, 0x00, 0x00, // mov ebx, [esi + 0x228] (cmd_line_ptr)
        0x8A, 0x03,                         // mov al, [ebx]
        0xEE,                               // out dx, al
        0xF4,                               // hlt
    ];
    let mut pm = code.to_vec();
    pm.resize(512, 0xF4);
    d[0x1F4..0x1F8].copy_from_slice(&(pm.len() as u32 / 16).to_le_bytes());
    d.extend(pm);
    d
}

#[test]
fn bzimages_boot_and_bad_ones_are_one_line() {
    let d = dir("bzimage");
    let k = d.join("bzImage");
    let rd = d.join("initrd");
    std::fs::write(&k, tiny_bzimage()).unwrap();
    std::fs::write(&rd, b"070701").unwrap();
    let (ks, rds) = (k.to_str().unwrap(), rd.to_str().unwrap());
    let o = run(&[
        "run",
        ks,
        "--initrd",
        rds,
        "--cmdline",
        "Linux",
        "--mem",
        "8",
    ]);
    assert_eq!(
        (o.stdout.as_str(), o.status),
        ("HL", Some(0)),
        "{}",
        o.stderr
    );
    // Cut short: the header promises more than the file holds.
    let img = tiny_bzimage();
    std::fs::write(&k, &img[..img.len() - 100]).unwrap();
    assert_clean_error(&run(&["run", ks]), &["IMAGE", "bzImage", "cut short"]);
    // A kernel that needs more RAM than given.
    let mut big = tiny_bzimage();
    big[0x260..0x264].copy_from_slice(&0x800_0000u32.to_le_bytes());
    std::fs::write(&k, &big).unwrap();
    assert_clean_error(&run(&["run", ks, "--mem", "16"]), &["--mem"]);
    // --initrd for something that is not a Linux kernel, or a file that is not there.
    assert_clean_error(
        &run(&["run", "samples/hello/hello.elf", "--initrd", rds]),
        &["--initrd is for Linux kernels"],
    );
    std::fs::write(&k, tiny_bzimage()).unwrap();
    let missing = d.join("missing");
    assert_clean_error(
        &run(&["run", ks, "--initrd", missing.to_str().unwrap()]),
        &["--initrd", "cannot open"],
    );
    // A command line longer than the kernel's cmdline_size.
    assert_clean_error(
        &run(&["run", ks, "--cmdline", &"x".repeat(300)]),
        &["at most 255"],
    );
}

/// `--disk2` (the primary slave): a missing, unreadable or directory file is one clear
/// line naming `--disk2` and the file, before anything runs; a slave without a master
/// disk is refused (ATA has no slave alone); a regular disk pair boots.
#[test]
fn disk2_errors_are_one_line() {
    let d = dir("disk2");
    let missing = d.join("missing.img");
    let odd = d.join("odd.img");
    std::fs::write(&odd, [0u8; 100]).unwrap();
    let slave = d.join("slave.img");
    std::fs::write(&slave, vec![0u8; 4096]).unwrap();
    let boot = root().join(BOOTSECTOR);
    let (b, m, o, s) = (
        boot.to_str().unwrap(),
        missing.to_str().unwrap(),
        odd.to_str().unwrap(),
        slave.to_str().unwrap(),
    );
    let dd = d.to_str().unwrap();
    for (args, needles) in [
        (
            vec!["run", b, "--disk2", m],
            vec!["--disk2", "missing.img", "cannot open"],
        ),
        (
            vec!["run", b, "--disk2", dd],
            vec!["--disk2", "is a directory"],
        ),
        (vec!["run", b, "--disk2", o], vec!["--disk2", "odd.img"]),
        (
            vec!["run", "samples/hello/hello.elf", "--disk2", s],
            vec!["--disk2", "slave.img", "needs a master"],
        ),
    ] {
        let mut c = Command::new(BIN);
        c.current_dir(root())
            .args(&args)
            .args(["--max-instructions", "100000"]);
        let out = run_cmd(c, None);
        assert_clean_error(&out, &needles);
        assert!(out.stdout.is_empty(), "{args:?}: the run must not start");
    }
    let unreadable = d.join("unreadable.img");
    std::fs::write(&unreadable, vec![0u8; 1024]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&unreadable).is_err() {
        let out = run(&["run", b, "--disk2", unreadable.to_str().unwrap()]);
        assert_clean_error(&out, &["--disk2", "unreadable.img", "cannot open"]);
    } else {
        eprintln!("disk2_errors_are_one_line: root reads mode 000 files, unreadable case skipped");
    }
    // The pair boots (the boot sector halts; the slave is simply there).
    let out = run(&["run", b, "--disk2", s, "--max-instructions", "2000000"]);
    assert_ne!(out.status, Some(2), "{}", out.stderr);
    std::fs::remove_dir_all(&d).ok();
}
