//! The CLI on guests that halt or never exit (issue 19, item 1), through the real binary
//! under a watchdog: `traplab run` ends within its budget and says why a halt is final;
//! `traplab bench` reports a workload that never exits instead of running forever.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");
/// Far more than any of these runs needs (each takes well under a second here).
const WATCHDOG: Duration = Duration::from_secs(120);

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("halt-{}-{name}", std::process::id()))
}

struct Outcome {
    status: Option<i32>,
    stderr: String,
}

/// Runs traplab with `args`; fails the test if it is still running after `WATCHDOG`.
fn run(args: &[&str]) -> Outcome {
    let err = tmp(&format!("stderr-{}", args.join("_").replace('/', "_")));
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("cannot start traplab");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            child.kill().ok();
            child.wait().ok();
            panic!("traplab {args:?} still running after {WATCHDOG:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    std::fs::remove_file(&err).ok();
    Outcome {
        status: status.code(),
        stderr,
    }
}

fn write_boot_sector(name: &str, code: &[u8]) -> PathBuf {
    let mut img = code.to_vec();
    img.resize(510, 0);
    img.extend_from_slice(&[0x55, 0xAA]);
    let p = tmp(name);
    std::fs::write(&p, img).unwrap();
    p
}

/// The reproducer: an IRQ0 handler at 7C19 that IRETs without an EOI, then
/// `sti; hlt` (the bytes of the printf).
const NO_EOI: &[u8] = b"\xfa\x31\xc0\x8e\xd8\xc7\x06\x20\x00\x19\x7c\xc7\x06\x22\x00\x00\x00\xb0\xfe\xe6\x21\xfb\xf4\xeb\xfd\xcf";

#[test]
fn a_timer_never_acknowledged_ends_the_run_with_the_reason() {
    let p = write_boot_sector("no-eoi.img", NO_EOI);
    let img = p.to_str().unwrap();
    // The command line: the first wait for IRQ0 (5.5 M ticks at 18.2 Hz) already
    // exceeds the budget of 1000, in ticks halted.
    let o = run(&["run", "--max-instructions", "1000", img]);
    assert_eq!(o.status, Some(124), "{}", o.stderr);
    assert!(o.stderr.contains("waited in HLT"), "{}", o.stderr);
    // With the default budget the guest takes its one IRQ0 and then halts for good.
    let o = run(&["run", img]);
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("halted for good after 12 instructions: interrupts enabled, but IRQ0 is in service and never acknowledged"),
        "{}",
        o.stderr
    );
    std::fs::remove_file(&p).ok();
}

#[test]
fn all_irqs_masked_is_not_called_interrupts_disabled() {
    // cli; mov al,0FFh; out 21h,al; out 0A1h,al; sti; hlt; jmp hlt
    let p = write_boot_sector(
        "masked.img",
        &[
            0xFA, 0xB0, 0xFF, 0xE6, 0x21, 0xE6, 0xA1, 0xFB, 0xF4, 0xEB, 0xFD,
        ],
    );
    let o = run(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("interrupts enabled, but every IRQ is masked at the PIC"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("disabled"), "{}", o.stderr);
    std::fs::remove_file(&p).ok();
}

/// A Multiboot kernel (a.out kludge: no ELF needed) loaded at 1 MiB running `code`.
fn multiboot(code: &[u8]) -> Vec<u8> {
    const MAGIC: u32 = 0x1BAD_B002;
    const FLAGS: u32 = 1 << 16;
    let base = 0x10_0000u32;
    let mut v = Vec::new();
    for w in [
        MAGIC,
        FLAGS,
        0u32.wrapping_sub(MAGIC.wrapping_add(FLAGS)),
        base,      // header_addr
        base,      // load_addr
        0,         // load_end_addr: the whole file
        0,         // bss_end_addr
        base + 32, // entry_addr
    ] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(code);
    v
}

fn bench_dir(name: &str, code: &[u8]) -> PathBuf {
    let dir = tmp(name);
    std::fs::create_dir_all(dir.join("bench")).unwrap();
    std::fs::write(dir.join("bench/intloop.elf"), multiboot(code)).unwrap();
    dir
}

fn remove(dir: &Path) {
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bench_reports_a_guest_that_never_exits() {
    // jmp $: before, `traplab bench` ran it for 2^63 instructions.
    let dir = bench_dir("bench-loop", &[0xEB, 0xFE]);
    let o = run(&["bench", "--runs", "1", "--samples", dir.to_str().unwrap()]);
    assert_eq!(o.status, Some(2), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("the guest did not exit within its budget of 100000000 instructions"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    remove(&dir);

    // cli; hlt: halted for good, with the reason.
    let dir = bench_dir("bench-hlt", &[0xFA, 0xF4]);
    let o = run(&["bench", "--runs", "1", "--samples", dir.to_str().unwrap()]);
    assert_eq!(o.status, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "the guest halted for good after 2 instructions: HLT with interrupts disabled (IF=0)"
        ),
        "{}",
        o.stderr
    );
    remove(&dir);
}
