//! A real Linux in Traplab: a Debian i386 kernel (the non-PAE 686 flavour) boots by the
//! Linux/x86 boot protocol with a busybox initramfs built here, reaches `/init`, answers
//! `uname -a` and runs a command typed on the serial console; its output must be what the
//! same kernel and initramfs print under QEMU (`-M isapc -cpu pentium2,-apic`), recorded in
//! `samples/linux/expected-qemu.txt` by `samples/linux/check-qemu.sh`. A second boot runs
//! the same guest on the machine of `--apic` (local APIC, I/O APIC, MP table).
//!
//! The kernel and busybox are not in the repository: `samples/linux/fetch.sh` gets them
//! with apt (a private state directory, the system's configuration untouched) into
//! `samples/linux/cache/` (or `$TRAPLAB_LINUX_DIR`); `.ci/run` does that. Without them the
//! test says so and passes, unless `TRAPLAB_LINUX_REQUIRED=1` (set by `.ci/run`), when it
//! fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_traplab");
/// The command typed on the serial console once `/init` asks for it.
const COMMAND: &str = "echo sum=$((6*7)); cat /proc/cmdline";
const CMDLINE: &str = "console=ttyS0";
/// Bounds the run: a boot to the prompt takes about 6.5 billion instructions (most of them
/// the decompressor's and the kernel's initcalls), the command and the exit a few million.
const BUDGET: u64 = 12_000_000_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guest_dir() -> PathBuf {
    std::env::var_os("TRAPLAB_LINUX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("samples/linux/cache"))
}

/// The initramfs: busybox, /init, /dev/console and the mount points
/// (`traplab::boot::initramfs::busybox`).
pub fn initramfs(busybox: &[u8], init: &[u8]) -> Vec<u8> {
    traplab::boot::initramfs::busybox(busybox, init)
}

/// The lines `/init` prints, from its marker to its last line, without carriage returns;
/// the kernel's release and version in `uname -a`'s line become `<release>`, so that a
/// newer Debian kernel still compares with the recording.
fn init_part(out: &str) -> Vec<String> {
    let out = out.replace('\r', "");
    let Some(start) = out.find("TRAPLAB-INIT-OK") else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for l in out[start..].lines() {
        if l.starts_with('[') {
            continue; // a kernel message between init's lines
        }
        let l = match (
            l.strip_prefix("Linux (none) "),
            l.strip_suffix(" i686 GNU/Linux"),
        ) {
            (Some(_), Some(_)) => "Linux (none) <release> i686 GNU/Linux".to_string(),
            _ => l.to_string(),
        };
        let last = l == "TRAPLAB-DONE";
        lines.push(l);
        if last {
            break;
        }
    }
    lines
}

/// What one boot printed.
struct Boot {
    stdout: String,
    stderr: String,
    status: Option<i32>,
    /// The last 3000 characters of the output, for failure messages.
    tail: String,
}

/// Boots the kernel with the test's initramfs and command line, `extra` CLI flags, and
/// the command typed once `/init` asks; None (after saying why) when the guest is absent
/// and not required.
fn boot_linux(test: &str, extra: &[&str]) -> Option<Boot> {
    let dir = guest_dir();
    let (kernel, busybox) = (dir.join("vmlinuz"), dir.join("busybox"));
    if !kernel.exists() || !busybox.exists() {
        let msg = format!(
            "no Linux guest in {} (run samples/linux/fetch.sh to get a Debian i386 kernel \
             and busybox-static)",
            dir.display()
        );
        if std::env::var_os("TRAPLAB_LINUX_REQUIRED").is_some_and(|v| v == "1") {
            panic!("{msg}; TRAPLAB_LINUX_REQUIRED=1 says it must run");
        }
        eprintln!("SKIPPED {test}: {msg}");
        return None;
    }
    let init = std::fs::read(root().join("samples/linux/init")).unwrap();
    let cpio = initramfs(&std::fs::read(&busybox).unwrap(), &init);
    // Beside the kernel: samples/linux/check-qemu.sh boots the same bytes under QEMU. The
    // tests may run at once: each writes its own copy, then renames it into place.
    let rd = dir.join("initramfs.cpio");
    if std::fs::read(&rd).ok().as_deref() != Some(&cpio[..]) {
        let tmp = dir.join(format!("initramfs.cpio.{test}.tmp"));
        std::fs::write(&tmp, &cpio).unwrap();
        std::fs::rename(&tmp, &rd).unwrap();
    }
    let input = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linux-input-{test}-{}", std::process::id()));
    std::fs::write(&input, format!("{COMMAND}\n")).unwrap();
    let t = Instant::now();
    let out = Command::new(BIN)
        .current_dir(root())
        .args([
            "run",
            path(&kernel),
            "--initrd",
            path(&rd),
            "--cmdline",
            CMDLINE,
        ])
        .args(extra)
        .args([
            "--mem",
            "256",
            "--input",
            path(&input),
            "--wait-for",
            "command?",
        ])
        .args(["--max-instructions", &BUDGET.to_string(), "--stats"])
        .output()
        .expect("cannot start traplab");
    let wall = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The figures for the README's table, visible with --nocapture.
    eprintln!(
        "Linux boot {extra:?}: {:.1} s wall\n{stderr}",
        wall.as_secs_f64()
    );
    let tail: String = stdout
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Some(Boot {
        stdout,
        stderr,
        status: out.status.code(),
        tail,
    })
}

/// The checks both boots share: the exit status, `/init`'s lines equal to QEMU's, the
/// typed command's answers, `uname -a`, no failed crypto self-test, and FXSAVE chosen for
/// FPU state.
fn check_init_and_command(b: &Boot) {
    let (stdout, tail) = (&b.stdout, &b.tail);
    assert_eq!(
        b.status,
        Some(3),
        "exit status; output ends:\n{tail}\n{}",
        b.stderr
    );
    let got = init_part(stdout);
    let recorded = std::fs::read_to_string(root().join("samples/linux/expected-qemu.txt"))
        .expect("samples/linux/expected-qemu.txt (samples/linux/check-qemu.sh records it)");
    assert_eq!(
        got,
        init_part(&recorded),
        "Traplab vs QEMU; output ends:\n{tail}"
    );
    // What the comparison rests on, said directly.
    assert!(got.iter().any(|l| l == "sum=42"), "{got:?}");
    assert!(got.iter().any(|l| l == CMDLINE), "{got:?}");
    let uname = stdout
        .lines()
        .find(|l| l.starts_with("Linux (none) "))
        .unwrap_or("");
    assert!(
        uname.contains("-686 ") && uname.trim_end().ends_with("i686 GNU/Linux"),
        "{uname}"
    );
    // The kernel's crypto self-tests (crypto/testmgr.c, started by a late initcall) run on
    // the emulated CPU before /init, about half of the boot's instructions, most of them
    // in the public-key algorithms' multi-precision arithmetic (`cryptomgr.notests` would
    // skip them); a wrong result is an "alg: ... failed" line, and none may appear.
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("alg: ") && l.contains("fail"))
        .collect();
    assert!(failed.is_empty(), "crypto self-tests failed: {failed:#?}");
    // CPUID offers FXSR (x87/fxsr.rs): the kernel then saves and restores FPU state with
    // FXSAVE/FXRSTOR on every task switch that needs it, and says so at boot.
    assert!(
        stdout.contains("x86/fpu: x87 FPU will use FXSAVE"),
        "the kernel did not choose FXSAVE:\n{tail}"
    );
}

#[test]
fn debian_kernel_boots_to_init_and_runs_a_typed_command() {
    let Some(b) = boot_linux("isa", &[]) else {
        return;
    };
    check_init_and_command(&b);
}

/// The same kernel on the machine of `--apic`: it finds the MP table (Traplab has no ACPI
/// tables), switches to the I/O APIC ("symmetric I/O mode"), routes the PIT through pin 2
/// and runs its clock events on the local APIC timer (vector 0xEC); `/init` then prints
/// what it prints under QEMU `-M pc -cpu pentium2` with its APIC (`check-qemu.sh --apic`:
/// the same lines as the ISA recording). It runs beside the ISA boot (the test threads of
/// this binary), so CI's wall time grows by much less than a second boot.
#[test]
fn debian_kernel_boots_on_the_apics() {
    let Some(b) = boot_linux("apic", &["--apic"]) else {
        return;
    };
    check_init_and_command(&b);
    let log = b.stdout.replace('\r', "");
    for line in [
        "Intel MultiProcessor Specification v1.4",
        "MPTABLE: APIC at: 0xFEE00000",
        "Processor #0 (Bootup-CPU)",
        "IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23",
        "Enabling APIC mode:  Flat.  Using 1 I/O APICs",
        "..TIMER: vector=0x30 apic1=0 pin1=2",
    ] {
        assert!(log.contains(line), "no {line:?} in the kernel log:\n{log}");
    }
    // --stats: interrupts by vector. 0xEC (236) is Linux's LOCAL_TIMER_VECTOR.
    let by_vector = b
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("interrupts by vector:"))
        .unwrap_or("");
    let count = |v: &str| {
        by_vector
            .split_whitespace()
            .find_map(|p| p.strip_prefix(&format!("{v}:")))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(
        count("236") > 1000,
        "local APIC timer interrupts: {by_vector}"
    );
    assert!(count("48") > 0, "the PIT through the I/O APIC: {by_vector}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
