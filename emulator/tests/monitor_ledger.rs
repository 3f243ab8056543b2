//! The monitor ledger port (`traplab::trace::monitor`): what tevmm reports there is exactly
//! the trap ledger it prints at exit, counter by counter (trap and emulate, and the
//! paravirtual build with its hypercalls); a machine without a monitor has an empty one.

use std::collections::BTreeMap;
use std::path::Path;
use traplab::boot::multiboot::Module;
use traplab::boot::{boot, BootKind};
use traplab::inspect::MonitorCounter;
use traplab::machine::{Machine, MachineConfig, RunExit};

fn sample(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn machine(kernel: &str, module: Option<&str>) -> Machine {
    let modules = module
        .map(|m| {
            vec![Module {
                data: sample(m),
                string: format!("samples/{m}"),
            }]
        })
        .unwrap_or_default();
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules,
    };
    let cfg = MachineConfig {
        ram_bytes: 32 << 20,
        ..MachineConfig::default()
    };
    boot(cfg, &sample(kernel), &kind).expect("boot")
}

/// Runs to the guest's exit with `input` on the serial line; the serial output.
fn run_to_exit(m: &mut Machine, input: &str) -> String {
    m.core.dev.push_serial_input(input.as_bytes());
    let mut out = Vec::new();
    for _ in 0..400 {
        let r = m.run_limited(1_000_000, 10_000_000);
        out.extend(m.core.dev.take_serial_output());
        match r {
            RunExit::Budget => {}
            RunExit::Exit(_) => return String::from_utf8_lossy(&out).into_owned(),
            other => panic!("run ended: {other:?}\n{}", String::from_utf8_lossy(&out)),
        }
    }
    panic!("no exit within the budget");
}

/// The counters of the last ledger tevmm printed: `tevmm:   NAME   VALUE` lines after the
/// last "trap ledger" heading (the per-1000 line is derived, not a counter).
fn printed_ledger(out: &str) -> BTreeMap<String, u64> {
    let start = out.rfind("tevmm: trap ledger").expect("a printed ledger");
    let mut l = BTreeMap::new();
    for line in out[start..].lines().skip(1) {
        let Some(rest) = line.strip_prefix("tevmm:") else {
            continue;
        };
        let Some((name, value)) = rest.trim().rsplit_once(' ') else {
            continue;
        };
        if let Ok(v) = value.parse::<u64>() {
            l.insert(name.trim().to_string(), v);
        }
    }
    l
}

fn reported(m: &Machine) -> BTreeMap<String, u64> {
    m.inspect()
        .monitor_ledger()
        .into_iter()
        .map(|MonitorCounter { name, value, .. }| (name, value))
        .collect()
}

fn check_equal(kernel_module: &str, input: &str, hypercalls: bool) {
    let mut m = machine("tevmm/tevmm.elf", Some(kernel_module));
    let out = run_to_exit(&mut m, input);
    let printed = printed_ledger(&out);
    let core = reported(&m);
    assert!(printed.len() >= 50, "{printed:?}");
    for (name, v) in &printed {
        assert_eq!(core.get(name), Some(v), "counter {name:?}\n{out}");
    }
    // Nothing the monitor reported is missing from what it printed (hypercall lines are
    // printed only when there were hypercalls).
    for name in core.keys() {
        if hypercalls || !name.starts_with("hypercall ") {
            assert!(printed.contains_key(name), "{name:?} not printed");
        }
    }
    assert!(printed["traps"] > 1000);
    assert!(printed["TSC in the guest"] > 100_000);
    assert_eq!(
        printed["hypercalls"] > 0,
        hypercalls,
        "{kernel_module}: hypercalls"
    );
    assert!(m.core.monitor.reports >= 1);
}

#[test]
fn what_tevmm_reports_is_the_ledger_it_prints() {
    check_equal("minios/minios.elf", "run hello\nrun fault\nexit\n", false);
}

#[test]
fn the_paravirtual_build_reports_its_hypercalls() {
    check_equal("minios/minios-pv.elf", "run hello\nexit\n", true);
}

#[test]
fn a_machine_without_a_monitor_has_an_empty_ledger() {
    let mut m = machine("minios/minios.elf", None);
    run_to_exit(&mut m, "exit\n");
    assert!(m.inspect().monitor_ledger().is_empty());
    assert_eq!(m.core.monitor.writes, 0);
}
