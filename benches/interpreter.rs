//! Guest MIPS of the interpreter on three workloads (criterion; `cargo bench --bench
//! interpreter`). Each iteration boots a fresh machine with a sample guest (not timed: that
//! is ELF loading and RAM allocation, not guest execution) and runs it to its exit through
//! port 0xF4 (timed): the real dispatch path with a cold decode cache, TLB and devices
//! included. The samples run with their default sizes (about 50 million instructions), so
//! the first-touch costs of a new machine are a small part of each run. Throughput is in
//! guest instructions, so criterion's "elem/s" reads as instructions per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use traplab::boot::{boot, BootKind};
use traplab::machine::{Machine, MachineConfig, RunExit};

const WORKLOADS: &[(&str, &str, &str)] = &[
    ("integer loop (intloop)", "samples/bench/intloop.elf", ""),
    ("memory + paging (memloop)", "samples/bench/memloop.elf", ""),
    (
        "call/return + stack (callret)",
        "samples/bench/callret.elf",
        "",
    ),
];

fn boot_sample(image: &[u8], cmdline: &str) -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: cmdline.into(),
        modules: vec![],
    };
    boot(MachineConfig::default(), image, &kind).expect("sample boots")
}

/// Runs a booted machine to its exit; returns it so that dropping it is not timed.
fn run_to_exit(mut m: Machine) -> Machine {
    let r = m.run(2_000_000_000);
    assert_eq!(r, RunExit::Exit(1), "guest must exit cleanly");
    m
}

/// A hand-encoded register loop (5 instructions per iteration) that isolates the dispatch
/// loop from guest code: `mov ecx,N; l: add eax,ebx; xor edx,eax; sub ebx,3; dec ecx;
/// jnz l; mov al,0; out 0xf4,al`.
fn synthetic(iters: u32) -> Vec<u8> {
    let mut v = vec![0xB9];
    v.extend_from_slice(&iters.to_le_bytes());
    v.extend_from_slice(&[
        0x01, 0xD8, 0x31, 0xC2, 0x83, 0xEB, 0x03, 0x49, 0x75, 0xF6, 0xB0, 0x00, 0xE6, 0xF4,
    ]);
    v
}

fn boot_flat(code: &[u8]) -> Machine {
    let kind = BootKind::Flat {
        addr: 0x10_0000,
        real: false,
    };
    boot(MachineConfig::default(), code, &kind).expect("flat boots")
}

fn bench(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut g = c.benchmark_group("guest");
    g.sample_size(10);
    let code = synthetic(10_000_000);
    let n = run_to_exit(boot_flat(&code)).icount();
    g.throughput(Throughput::Elements(n));
    g.bench_function("register loop (synthetic)", |b| {
        b.iter_batched(
            || boot_flat(black_box(&code)),
            run_to_exit,
            BatchSize::PerIteration,
        )
    });
    for (name, path, cmdline) in WORKLOADS {
        let image = std::fs::read(format!("{root}/{path}")).expect("sample image");
        let n = run_to_exit(boot_sample(&image, cmdline)).icount();
        g.throughput(Throughput::Elements(n));
        g.bench_function(*name, |b| {
            b.iter_batched(
                || boot_sample(black_box(&image), cmdline),
                run_to_exit,
                BatchSize::PerIteration,
            )
        });
    }
    // minios running its CPU-bound demo (`autorun=cpu`, then `exit`): a whole OS with the
    // timer interrupt, scheduler and system calls, not just a loop.
    let minios = std::fs::read(format!("{root}/samples/minios/minios.elf")).expect("minios image");
    let boot_minios = |image: &[u8]| -> Machine {
        let mut m = boot_sample(image, "autorun=cpu");
        m.core.dev.push_serial_input(b"exit\n");
        m
    };
    let n = run_to_exit(boot_minios(&minios)).icount();
    g.throughput(Throughput::Elements(n));
    g.bench_function("minios cpu demo", |b| {
        b.iter_batched(
            || boot_minios(black_box(&minios)),
            run_to_exit,
            BatchSize::PerIteration,
        )
    });
    g.finish();
    start_up(c, &minios);
}

/// Start-up: a new machine (RAM, devices, the ELF loaded) and minios run from power-on to
/// its shell's prompt, all timed, as a user waits for it. The decode cache, TLB and guest
/// RAM start cold; only the decoder's tables (iced-x86 builds them once per process) are
/// warm after the first iteration.
fn start_up(c: &mut Criterion, minios: &[u8]) {
    let mut g = c.benchmark_group("start-up");
    g.sample_size(30);
    // The instructions to the prompt, to the next thousand (the prompt is printed, then the
    // shell waits for input in HLT).
    let mut m = boot_sample(minios, "");
    let mut out = Vec::new();
    while !out.ends_with(b"minios> ") {
        m.run_limited(1000, u64::MAX);
        out.extend(m.core.dev.take_serial_output());
        assert!(m.icount() < 5_000_000, "minios prints its prompt");
    }
    let n = m.icount();
    g.throughput(Throughput::Elements(n));
    g.bench_function("minios to its prompt", |b| {
        // Dropping the machine is not timed.
        b.iter_with_large_drop(|| {
            let mut m = boot_sample(black_box(minios), "");
            m.run_limited(n, u64::MAX);
            m
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
