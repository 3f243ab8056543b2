//! tevmm, the trap-and-emulate monitor in samples/tevmm/, against the oracle that matters:
//! minios run natively. For the same serial input, minios under tevmm must print exactly
//! what it prints on the bare machine, once the monitor's own lines (`tevmm: ...`) are
//! taken out; and the trap ledger must show the monitor really was in the way (the traps
//! each run has to take). The recorded outputs, also checked under QEMU, are boot tests in
//! tests/boot/tevmm-*.json.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .current_dir(root())
        .args(args)
        .args(["--max-instructions", "600000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start traplab");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().expect("traplab did not finish");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The guest's output: every `tevmm:` line and the blank line the ledger starts with removed.
fn guest_part(out: &str) -> String {
    let lines: Vec<&str> = out.split('\n').collect();
    let mut keep = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let before_ledger = l.is_empty()
            && lines
                .get(i + 1)
                .is_some_and(|n| n.starts_with("tevmm: trap ledger"));
        if !l.starts_with("tevmm:") && !before_ledger {
            keep.push(*l);
        }
    }
    keep.join("\n")
}

/// The count on the ledger line `tevmm:   NAME   N`.
fn ledger(out: &str, name: &str) -> u64 {
    let line = out
        .lines()
        .rev()
        .find(|l| {
            l.starts_with("tevmm:   ")
                && l[9..].trim_end_matches(|c: char| c.is_ascii_digit()).trim() == name
        })
        .unwrap_or_else(|| panic!("no ledger line {name:?} in\n{out}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn same_as_native(input: &str) -> String {
    same_as_native_with(input, "samples/minios/minios.elf")
}

/// Like `same_as_native_with`, with more arguments for the run under tevmm.
fn same_as_native_args(input: &str, guest: &str, extra: &[&str]) -> String {
    let data = std::fs::read(root().join(input)).unwrap();
    let (ns, native) = run(&["run", "samples/minios/minios.elf"], &data);
    let mut args = vec!["run", "samples/tevmm/tevmm.elf", "--module", guest];
    args.extend_from_slice(extra);
    let (vs, virt) = run(&args, &data);
    assert_eq!(
        vs, ns,
        "exit status under tevmm ({input}, {extra:?}):\n{virt}"
    );
    assert!(!virt.contains("tevmm: stopped"), "{virt}");
    assert_eq!(
        guest_part(&virt),
        native,
        "minios under tevmm differs ({input}, {extra:?})"
    );
    virt
}

/// Runs `guest` under tevmm and the native minios with the same input; compares.
fn same_as_native_with(input: &str, guest: &str) -> String {
    let data = std::fs::read(root().join(input)).unwrap();
    let (ns, native) = run(&["run", "samples/minios/minios.elf"], &data);
    let (vs, virt) = run(
        &["run", "samples/tevmm/tevmm.elf", "--module", guest],
        &data,
    );
    assert_eq!(ns, Some(1), "native run of {input}:\n{native}");
    assert_eq!(vs, ns, "exit status under tevmm ({input}):\n{virt}");
    assert!(!virt.contains("tevmm: stopped"), "{virt}");
    assert_eq!(
        guest_part(&virt),
        native,
        "minios under tevmm differs ({input})"
    );
    virt
}

#[test]
fn shell_script_as_natively() {
    let out = same_as_native("samples/expected/minios-script.input");
    // minios's boot: one LGDT, LIDT, LTR; CR3 loads and CR0.PG through MOV to CR; the shell's
    // output through OUT; programs started with INT 0x80 reflected.
    for name in ["LGDT", "LIDT", "LTR", "MOV to SS"] {
        assert_eq!(ledger(&out, name), 1, "{name}");
    }
    assert!(ledger(&out, "MOV to CR") >= 3);
    assert!(ledger(&out, "OUT") > 1000);
    assert!(ledger(&out, "INT n reflected") > 10);
    assert!(ledger(&out, "#PF hidden") > 10);
    assert_eq!(ledger(&out, "#PF of the guest"), 0);
}

#[test]
fn fault_killed_by_the_guest_kernel() {
    let out = same_as_native("samples/expected/minios-fault.input");
    assert_eq!(ledger(&out, "#PF of the guest"), 1);
    assert_eq!(ledger(&out, "exceptions reflected"), 1);
}

#[test]
fn syscalls_and_cpu_as_natively() {
    let out = same_as_native("samples/expected/minios-sys.input");
    assert!(ledger(&out, "INT n reflected") > 1000);
    let out = same_as_native("samples/expected/tevmm-cpu.input");
    assert!(ledger(&out, "IRQs reflected") > 10);
    // An IRQ that comes while one of the same line is still held (virtual IF = 0, mostly
    // during boot) is merged with it, as the PIC's request register would do.
    let (taken, reflected) = (ledger(&out, "IRQs taken"), ledger(&out, "IRQs reflected"));
    assert!(reflected <= taken, "{taken} {reflected}");
}

/// The rest of minios's scripted sessions (file system, pipes, namespaces, modules, bad
/// input): the same output under tevmm.
#[test]
fn other_minios_sessions_as_natively() {
    for name in ["files", "pipe", "isolate", "module", "fuzz"] {
        let input = format!("samples/expected/minios-{name}.input");
        if root().join(&input).exists() {
            same_as_native(&input);
        }
    }
}

/// The paravirtual build (same sources, -DPARAVIRT): the same session, and the privileged
/// instructions that trapped are gone from the ledger, counted as hypercalls instead.
#[test]
fn paravirtual_minios_as_natively() {
    for input in [
        "samples/expected/minios-script.input",
        "samples/expected/minios-fault.input",
        "samples/expected/tevmm-sys.input",
    ] {
        let pv = same_as_native_with(input, "samples/minios/minios-pv.elf");
        let trapping = same_as_native(input);
        for name in [
            "IN",
            "OUT",
            "LGDT",
            "LIDT",
            "LTR",
            "MOV to CR",
            "MOV from CR",
            "INVLPG",
            "MOV to SS",
            "#PF page-table write",
        ] {
            assert_eq!(
                ledger(&pv, name),
                0,
                "{name} trapped in the paravirtual run ({input})"
            );
        }
        assert!(ledger(&pv, "hypercalls") > 100);
        assert_eq!(ledger(&pv, "hypercall LGDT"), 1);
        // The console costs one hypercall per character instead of six traps.
        assert!(ledger(&pv, "traps") < ledger(&trapping, "traps"), "{input}");
        assert_eq!(
            ledger(&pv, "#PF of the guest"),
            ledger(&trapping, "#PF of the guest")
        );
    }
}

/// `--popek-goldberg`: every sensitive instruction traps, at ring 1 and at ring 3, and tevmm
/// emulates it, so the unmodified minios (whose shell the switch kills natively) behaves as
/// on an ordinary x86: theorem 1, with the ledger counting the extra traps.
#[test]
fn popek_goldberg_switch_under_tevmm() {
    for input in [
        "samples/expected/minios-script.input",
        "samples/expected/minios-fault.input",
        "samples/expected/minios-sys.input",
    ] {
        let out = same_as_native_args(input, "samples/minios/minios.elf", &["--popek-goldberg"]);
        // minios's interrupt entry pushes, loads and pops DS/ES/FS/GS; its GDT setup does one
        // far JMP; the user's INT 0x80 and the kernel's IRETs to user mode trap now.
        for name in [
            "PUSH Sreg",
            "POP Sreg",
            "MOV to DS/ES/FS/GS",
            "INT n reflected",
        ] {
            assert!(ledger(&out, name) > 10, "{name} ({input})");
        }
        assert_eq!(ledger(&out, "far JMP/CALL/RET"), 1);
        assert!(ledger(&out, "IRET") > ledger(&out, "INT n reflected") / 2);
        let plain = same_as_native(input);
        assert!(ledger(&out, "traps") > ledger(&plain, "traps"));
        assert_eq!(
            ledger(&out, "#PF of the guest"),
            ledger(&plain, "#PF of the guest")
        );
    }
    // The paravirtual build too.
    same_as_native_args(
        "samples/expected/minios-script.input",
        "samples/minios/minios-pv.elf",
        &["--popek-goldberg"],
    );
}
