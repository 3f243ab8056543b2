//! Guest MIPS of the interpreter on three workloads (criterion; `cargo bench --bench
//! interpreter`). Each iteration boots a sample guest and runs it to its exit through port
//! 0xF4: the real dispatch path, decode cache, TLB and devices included. Throughput is in
//! guest instructions, so criterion's "elem/s" reads as instructions per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use traplab::boot::{boot, BootKind};
use traplab::machine::{MachineConfig, RunExit};

const WORKLOADS: &[(&str, &str, &str)] = &[
    (
        "integer loop (intloop)",
        "samples/bench/intloop.elf",
        "iters=400000",
    ),
    (
        "memory + paging (memloop)",
        "samples/bench/memloop.elf",
        "iters=600000",
    ),
    (
        "call/return + stack (callret)",
        "samples/bench/callret.elf",
        "iters=2",
    ),
];

fn run_once(image: &[u8], cmdline: &str) -> u64 {
    let kind = BootKind::Multiboot {
        cmdline: cmdline.into(),
        modules: vec![],
    };
    let mut m = boot(MachineConfig::default(), image, &kind).expect("sample boots");
    let r = m.run(2_000_000_000);
    assert_eq!(r, RunExit::Exit(1), "guest must exit cleanly");
    m.icount()
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

fn run_flat(code: &[u8]) -> u64 {
    let kind = BootKind::Flat {
        addr: 0x10_0000,
        real: false,
    };
    let mut m = boot(MachineConfig::default(), code, &kind).expect("flat boots");
    let r = m.run(2_000_000_000);
    assert_eq!(r, RunExit::Exit(1), "loop must exit cleanly");
    m.icount()
}

fn bench(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut g = c.benchmark_group("guest");
    g.sample_size(10);
    let code = synthetic(2_000_000);
    let n = run_flat(&code);
    g.throughput(Throughput::Elements(n));
    g.bench_function("register loop (synthetic)", |b| {
        b.iter(|| run_flat(black_box(&code)))
    });
    for (name, path, cmdline) in WORKLOADS {
        let image = std::fs::read(format!("{root}/{path}")).expect("sample image");
        let n = run_once(&image, cmdline);
        g.throughput(Throughput::Elements(n));
        g.bench_function(*name, |b| b.iter(|| run_once(black_box(&image), cmdline)));
    }
    // minios running its CPU-bound demo (`autorun=cpu`, then `exit`): a whole OS with the
    // timer interrupt, scheduler and system calls, not just a loop.
    let minios = std::fs::read(format!("{root}/samples/minios/minios.elf")).expect("minios image");
    let run_minios = |image: &[u8]| -> u64 {
        let kind = BootKind::Multiboot {
            cmdline: "autorun=cpu".into(),
            modules: vec![],
        };
        let mut m = boot(MachineConfig::default(), image, &kind).expect("minios boots");
        m.core.dev.push_serial_input(b"exit\n");
        let r = m.run(2_000_000_000);
        assert_eq!(r, RunExit::Exit(1), "minios must shut down cleanly");
        m.icount()
    };
    let n = run_minios(&minios);
    g.throughput(Throughput::Elements(n));
    g.bench_function("minios cpu demo", |b| {
        b.iter(|| run_minios(black_box(&minios)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
