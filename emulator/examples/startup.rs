//! Start-up as a user waits for it, in one process: a new machine from IMAGE (RAM, devices,
//! the Multiboot ELF loaded) run from power-on for BUDGET instructions (minios's prompt
//! comes at 531,214), ITERS times; prints the least and the median wall time. Like the
//! criterion `start-up` bench, each machine is dropped untimed, and only iced-x86's decoder
//! tables (built once per process) are warm after the first iteration.
//!
//! It uses only the API that existed when issue 17 set its start-up target (2026-11-28:
//! `boot`, `BootKind::Multiboot`, `MachineConfig::default`, `Machine::run`), so the same
//! file, copied into a checkout of an older commit, measures that build on the same guest:
//! `cargo run -p traplab --release --example startup -- samples/minios/minios.elf 531214 100`.

use traplab::boot::{boot, BootKind};
use traplab::machine::MachineConfig;

fn usage() -> ! {
    eprintln!("usage: startup IMAGE BUDGET ITERS");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, budget, iters] = args.as_slice() else {
        usage()
    };
    let (Ok(budget), Ok(iters)) = (budget.parse::<u64>(), iters.parse::<usize>()) else {
        usage()
    };
    if iters == 0 {
        usage();
    }
    let image = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("startup: cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: Vec::new(),
    };
    let mut ms = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = std::time::Instant::now();
        let mut m = match boot(MachineConfig::default(), &image, &kind) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("startup: {path}: {e}");
                std::process::exit(2);
            }
        };
        m.run(budget);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        // Dropped here, after the clock stopped.
        drop(m);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{iters} start-ups of {budget} instructions: least {:.3} ms, median {:.3} ms",
        ms[0],
        ms[ms.len() / 2]
    );
}
