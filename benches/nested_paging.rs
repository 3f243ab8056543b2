//! What SVM guests cost the interpreter, in host time (criterion; `cargo bench --bench
//! nested_paging`). The same image, `samples/nptloop/nptloop.elf`, runs the integer loop of
//! `samples/bench/intloop` (4,000,000 iterations, about 50 million instructions) on the host
//! (`native=1`), as an SVM guest (VMRUN, ASID 1) with its own two-level paging over PAE
//! nested tables, where every TLB miss is a 2-D walk, and as a guest without nested paging
//! (`np=0`). Issue 10 asks the guest runs for at least 90% (no nested paging) and 80%
//! (nested paging) of the host's MIPS. The last case (`cpuid=100000`) makes the guest run
//! CPUID 100,000 times with the CPUID intercept on, each exit handled by the smallest host
//! handler (skip the instruction, VMRUN again): its time per element is one exit round trip
//! (guest CPUID, #VMEXIT, host handler, VMRUN), which the issue bounds at 2 µs.
//! Each sample boots a fresh machine (not timed) and runs it to its exit (timed), as
//! `benches/interpreter.rs` does.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use traplab::boot::{boot, BootKind};
use traplab::machine::{Machine, MachineConfig, RunExit};

fn boot_sample(image: &[u8], cmdline: &str) -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: cmdline.into(),
        modules: vec![],
    };
    boot(MachineConfig::default(), image, &kind).expect("sample boots")
}

fn run_to_exit(mut m: Machine) -> Machine {
    let r = m.run(2_000_000_000);
    assert_eq!(r, RunExit::Exit(1), "guest must exit cleanly");
    m
}

fn bench(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let image = std::fs::read(format!("{root}/samples/nptloop/nptloop.elf")).expect("nptloop");
    let mut g = c.benchmark_group("nested paging");
    g.sample_size(10);
    for (name, cmdline, elements) in [
        ("intloop on the host", "native=1", None),
        ("intloop in a guest with nested paging", "", None),
        ("intloop in a guest without nested paging", "np=0", None),
        // Elements: exit round trips (the host's own intloop after the guest is excluded by
        // iters=1; the boot and the few other exits are part of the measured time).
        (
            "CPUID exit round trips",
            "iters=1 cpuid=100000",
            Some(100_000),
        ),
    ] {
        let n = elements.unwrap_or_else(|| run_to_exit(boot_sample(&image, cmdline)).icount());
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter_batched(
                || boot_sample(black_box(&image), cmdline),
                run_to_exit,
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
