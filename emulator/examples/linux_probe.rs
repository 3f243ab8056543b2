//! Boots a Linux bzImage headless and prints what went wrong: `cargo run -p traplab
//! --example linux_probe -- [--apic] BZIMAGE INITRD BUDGET [INPUT] [CMDLINE]` (`--apic`: the
//! machine of `traplab run --apic`). Prints the serial output, the fault and mode events the
//! core logged, and the registers where the run stopped.

use traplab::boot::{boot, BootKind};
use traplab::machine::MachineConfig;

fn main() {
    let mut a: Vec<String> = std::env::args().skip(1).collect();
    let apic = a.first().is_some_and(|f| f == "--apic");
    if apic {
        a.remove(0);
    }
    if a.len() < 3 {
        eprintln!("usage: linux_probe [--apic] BZIMAGE INITRD BUDGET [INPUT] [CMDLINE]");
        std::process::exit(2);
    }
    let img = std::fs::read(&a[0]).expect("kernel");
    let initrd = std::fs::read(&a[1]).expect("initrd");
    let budget: u64 = a[2].parse().expect("budget");
    let cmdline = a.get(4).cloned().unwrap_or("console=ttyS0".into());
    let kind = BootKind::Linux { cmdline, initrd };
    let cfg = MachineConfig {
        ram_bytes: 256 << 20,
        devices: traplab::devices::DevicesConfig {
            apic,
            ..Default::default()
        },
    };
    let mut m = boot(cfg, &img, &kind).unwrap_or_else(|e| {
        eprintln!("linux_probe: {e}");
        std::process::exit(2)
    });
    if let Some(i) = a.get(3) {
        m.core
            .dev
            .push_serial_input(i.replace("\\n", "\n").as_bytes());
    }
    let t = std::time::Instant::now();
    let r = m.run(budget);
    let dt = t.elapsed().as_secs_f64();
    print!(
        "{}",
        String::from_utf8_lossy(&m.core.dev.take_serial_output())
    );
    println!("\n--- {r:?} after {} instructions in {dt:.1} s", m.icount());
    for e in m
        .core
        .events
        .kept(|c| c != traplab::trace::EventClass::Frequent)
        .iter()
        .rev()
        .take(60)
        .rev()
    {
        // Kernel addresses map 1:1 from PAGE_OFFSET (0xC0000000) for a 3G/1G split.
        let bytes = m.core.mem.peek(e.eip.wrapping_sub(0xC000_0000), 12);
        println!(
            "{:>12} {:04x}:{:08x} {:?} {:02x?}",
            e.icount, e.cs, e.eip, e.kind, bytes
        );
    }
    let c = &m.core.cpu;
    println!(
        "eip {:08x} gpr {:08x?} cr0 {:08x} cr3 {:08x} cr4 {:08x}",
        c.eip, c.gpr, c.cr0, c.cr3, c.cr4
    );
}
