//! Robustness of the trap-and-emulate monitor: random bytes as the deprivileged guest's
//! kernel code under tevmm (ring 1), with and without `--popek-goldberg`, for a bounded
//! number of instructions. Neither the host (Traplab) nor the monitor may break: the run
//! ends with the budget, the guest halted or the monitor's own clean stop (exit status 253,
//! "tevmm: stopped: ..."), never a host panic or a hang. Random writes to the monitor ledger
//! port are covered too.
//! Known (2,000 cases, 2026-12-05): about 3% of random programs make the monitor stop with
//! "monitor fault: vector 13 ... at trap_return's IRET": a guest frame with a bad CS or SS
//! selector (a far RET/IRET to garbage) reaches entry.S's IRET, which faults in ring 0. A
//! real CPU would give the guest a #GP (then, with no IDT, a triple fault); tevmm should
//! check the selectors before returning or turn a fault at that IRET into the guest's #GP.

use proptest::prelude::*;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use traplab::boot::multiboot::Module;
use traplab::boot::{boot, BootKind};
use traplab::machine::{MachineConfig, RunExit};

/// Instructions the guest's random code may run (after tevmm's own start, ~200,000).
const BUDGET: u64 = 400_000;

/// A 32-bit ELF file with one PT_LOAD segment holding `code` at 1 MiB, entered there.
fn elf(code: &[u8]) -> Vec<u8> {
    let mut e = vec![0u8; 84];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 1; // 32-bit
    e[5] = 1; // little-endian
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..28].copy_from_slice(&0x10_0000u32.to_le_bytes()); // entry
    e[28..32].copy_from_slice(&52u32.to_le_bytes()); // phoff
    e[40..42].copy_from_slice(&52u16.to_le_bytes()); // ehsize
    e[42..44].copy_from_slice(&32u16.to_le_bytes()); // phentsize
    e[44..46].copy_from_slice(&1u16.to_le_bytes()); // phnum
    let ph = [
        1u32,              // PT_LOAD
        84,                // offset
        0x10_0000,         // vaddr
        0x10_0000,         // paddr
        code.len() as u32, // filesz
        0x1000,            // memsz
        7,                 // RWX
        0x1000,
    ];
    for (i, w) in ph.iter().enumerate() {
        e[52 + 4 * i..56 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    e.extend_from_slice(code);
    e
}

fn tevmm_image() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/tevmm/tevmm.elf"))
        .expect("samples/tevmm/tevmm.elf")
}

fn run(code: Vec<u8>, pg: bool) -> Result<(String, String), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let kind = BootKind::Multiboot {
            cmdline: String::new(),
            modules: vec![Module {
                data: elf(&code),
                string: "random".into(),
            }],
        };
        let mut m = boot(MachineConfig::default(), &tevmm_image(), &kind).expect("boot");
        m.set_popek_goldberg(pg);
        let exit = m.run_limited(BUDGET, BUDGET);
        let out = String::from_utf8_lossy(&m.core.dev.take_serial_output()).into_owned();
        let _ = tx.send((format!("{exit:?}"), out, exit));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok((e, out, exit)) => {
            let ok = matches!(exit, RunExit::Budget | RunExit::Halted | RunExit::Exit(253));
            if !ok {
                return Err(format!("{e}\n{out}"));
            }
            Ok((e, out))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err("the run did not return".into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the emulator panicked".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_guest_code_under_tevmm(
        bytes in proptest::collection::vec(any::<u8>(), 1..96),
        pg in any::<bool>(),
    ) {
        if let Err(e) = run(bytes, pg) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn random_monitor_ledger_writes(values in proptest::collection::vec(any::<u32>(), 0..400)) {
        let mut l = traplab::trace::monitor::MonitorLedger::default();
        for v in values {
            l.write(4, v);
        }
        let _ = l.counters();
    }
}

#[test]
fn privileged_and_sensitive_instructions_under_tevmm() {
    // cli; sti; pushf; popf; sgdt [0x100100]; smsw eax; mov eax, cr0; out 0xEB, eax;
    // lidt [0]; int 3; hlt
    let code = vec![
        0xFA, 0xFB, 0x9C, 0x9D, 0x0F, 0x01, 0x05, 0x00, 0x01, 0x10, 0x00, 0x0F, 0x01, 0xE0, 0x0F,
        0x20, 0xC0, 0xE7, 0xEB, 0x0F, 0x01, 0x1D, 0, 0, 0, 0, 0xCC, 0xF4,
    ];
    for pg in [false, true] {
        let r = run(code.clone(), pg);
        assert!(r.is_ok(), "pg {pg}: {r:?}");
    }
}
