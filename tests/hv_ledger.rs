//! hv2's ledger (minios's driver `vm.c` and `vmm`) against Traplab's own accounting: the
//! guest's instructions that the driver counts with the IRPerfCount MSR around VMRUN equal
//! the worlds table of `traplab run --stats` (two independent counts: the guest hypervisor
//! reading the CPU's counter, the emulator attributing each retired instruction to a world);
//! the guest's TSC minus its instructions is exactly the charged world-switch time; and the
//! host user time of `vmm` is the same whether or not another process competes for the CPU
//! (the split is made at each kernel entry, so preemption moves time to "other processes",
//! never into vmm's user time).

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");

fn run(input: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(BIN)
        .current_dir(root)
        .args([
            "run",
            "samples/minios/minios.elf",
            "--stats",
            "--max-instructions",
            "200000000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("traplab runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// The numbers on the line that starts with `prefix`.
fn numbers(out: &str, prefix: &str) -> Vec<u64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{out}"));
    line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

/// (instructions, TSC ticks) of a world in vmm's ledger.
fn world(out: &str, name: &str) -> (u64, u64) {
    let n = numbers(out, &format!("vmm:   {name} "));
    (n[n.len() - 2], n[n.len() - 1])
}

/// Charged virtual time in ticks (10 ns), from `--stats`: "vmrun N x C ns, vmexit ...".
fn charged_ticks(out: &str) -> u64 {
    let n = numbers(out, "charged virtual time:");
    // [ms whole, ms fraction, vmrun n, cost, vmexit n, cost, nested n, cost]
    let ns = n[2] * n[3] + n[4] * n[5] + n[6] * n[7];
    assert_eq!(ns % 10, 0);
    ns / 10
}

#[test]
fn the_guest_world_matches_traplab_worlds_and_charges() {
    for guest in ["hello", "io"] {
        let out = run(&format!("vmm -t {guest}\nexit\n"));
        let (insns, tsc) = world(&out, "guest");
        let stats = numbers(&out, "guest 1 ");
        assert_eq!(insns, stats[2], "vmm -t {guest}: ledger vs --stats\n{out}");
        assert_eq!(tsc - insns, charged_ticks(&out), "vmm -t {guest}\n{out}");
    }
}

#[test]
fn preemption_moves_time_out_of_vmm_user_time() {
    let alone = run("vmm -t io\nexit\n");
    let loaded = run("run spin 40 &\nvmm -t io\nexit\n");
    let (user, _) = world(&alone, "host user (vmm)");
    let (user_loaded, _) = world(&loaded, "host user (vmm)");
    assert_eq!(
        user, user_loaded,
        "vmm's own work does not change\n{loaded}"
    );
    let (_, away) = world(&alone, "other processes, idle");
    let (_, away_loaded) = world(&loaded, "other processes, idle");
    assert_eq!(away, 0);
    assert!(
        away_loaded > 1_000_000,
        "spin ran while vmm waited\n{loaded}"
    );
    // Every world adds up to the total.
    for out in [&alone, &loaded] {
        let parts: u64 = [
            "guest",
            "host kernel",
            "host user (vmm)",
            "other processes, idle",
        ]
        .iter()
        .map(|w| world(out, w).1)
        .sum();
        assert_eq!(parts, world(out, "total").1);
    }
}

/// hv1 reads the same counter around its own VMRUN (`samples/hv1/entry.S`): its VM's
/// instructions equal the guest world of `--stats`, and the VM's TSC minus them is exactly
/// the charged time.
#[test]
fn hv1_counts_its_guest_like_traplab() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(BIN)
        .current_dir(root)
        .args([
            "run",
            "samples/hv1/hv1.elf",
            "--module",
            "samples/minios/minios.elf",
            "--cmdline",
            "vms=1",
            "--stats",
            "--max-instructions",
            "100000000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("traplab runs");
    child.stdin.take().unwrap().write_all(b"exit\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    let insns = numbers(&out, "hv1: instructions in vm1 ")[0];
    let tsc = numbers(&out, "hv1: TSC in vm1 ")[0];
    assert_eq!(insns, numbers(&out, "guest 1 ")[2], "{out}");
    assert_eq!(tsc - insns, charged_ticks(&out), "{out}");
}
