//! A minimal headless runner for profiling the interpreter (callgrind, perf) without the
//! CLI's or the GUI's dependencies: `cargo run -p traplab --release --example profile_run --
//! IMAGE [CMDLINE [BUDGET [INPUT]]]`. Boots a Multiboot image, runs it to its exit (or for
//! BUDGET instructions), with INPUT queued on COM1, and prints the count and the speed.
//! `PROFILE_MODULES=A:B` loads files A and B as Multiboot modules (a hypervisor's guests:
//! `PROFILE_MODULES=samples/minios/minios.elf profile_run samples/hv1/hv1.elf vms=1`).

use traplab::boot::multiboot::Module;
use traplab::boot::{boot, BootKind};
use traplab::machine::MachineConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: profile_run IMAGE [CMDLINE]");
        std::process::exit(2);
    };
    let cmdline = args.next().unwrap_or_default();
    let budget: u64 = args
        .next()
        .and_then(|b| b.parse().ok())
        .unwrap_or(u64::MAX / 2);
    let input = args.next().unwrap_or_default().replace("\\n", "\n");
    let image = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("profile_run: cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut modules = Vec::new();
    for p in std::env::var("PROFILE_MODULES")
        .unwrap_or_default()
        .split(':')
    {
        if p.is_empty() {
            continue;
        }
        match std::fs::read(p) {
            Ok(data) => modules.push(Module {
                data,
                string: p.to_string(),
            }),
            Err(e) => {
                eprintln!("profile_run: cannot read module {p}: {e}");
                std::process::exit(2);
            }
        }
    }
    let kind = BootKind::Multiboot { cmdline, modules };
    let mut m = match boot(MachineConfig::default(), &image, &kind) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("profile_run: {e}");
            std::process::exit(2);
        }
    };
    m.core.dev.push_serial_input(input.as_bytes());
    let t = std::time::Instant::now();
    let r = m.run(budget);
    let dt = t.elapsed().as_secs_f64();
    print!(
        "{}",
        String::from_utf8_lossy(&m.core.dev.take_serial_output())
    );
    println!(
        "{r:?} after {} instructions in {dt:.6} s ({:.1} MIPS)",
        m.icount(),
        m.icount() as f64 / dt / 1e6
    );
}
