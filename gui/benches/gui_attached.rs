//! Guest MIPS with and without the GUI's machine thread attached (criterion;
//! `cargo bench -p traplab-gui --bench gui_attached`). "bare" runs the machine directly;
//! "gui thread" runs the same guest through the `Worker` (slices, checkpoints for reverse
//! execution, view publishing) while this thread polls views at 60 Hz like the UI does.
//! Throughput is in guest instructions, so "elem/s" reads as instructions per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::{Duration, Instant};
use traplab::debug::session::Session;
use traplab_gui::app::sample_path;
use traplab_gui::worker::{load_bytes, Command, Worker};

const IMAGE: &str = "samples/bench/intloop.elf";

fn bare(image: &[u8]) -> u64 {
    let mut m = load_bytes(image).expect("bench guest boots");
    loop {
        if !traplab_gui::worker::runnable(m.run(50_000_000)) {
            break;
        }
    }
    m.icount()
}

fn attached(path: &str) -> u64 {
    let w = Worker::start(Some(path), Box::new(|| {}));
    let t0 = Instant::now();
    while w.view().machine.is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    w.send(Command::Run);
    // Wait until the run started, then until it stopped (the guest exited or halted).
    let mut seen_running = false;
    loop {
        std::thread::sleep(Duration::from_millis(16));
        let v = w.view();
        seen_running |= v.running;
        if (seen_running && !v.running) || t0.elapsed() > Duration::from_secs(120) {
            return v.machine.as_ref().map_or(0, |m| m.icount);
        }
    }
}

fn bench(c: &mut Criterion) {
    let path = sample_path(IMAGE);
    let image = std::fs::read(&path).expect("bench guest image");
    let n = bare(&image);
    let mut g = c.benchmark_group("intloop");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("bare", |b| b.iter(|| bare(&image)));
    g.bench_function("gui thread", |b| b.iter(|| attached(&path)));
    g.finish();

    // Reverse execution latency: a step back after running flat out (checkpoints every
    // 5M instructions, as the GUI takes them at ~50 MIPS), then a repeated step back (dense
    // checkpoints taken by the first one).
    let mut g = c.benchmark_group("step back");
    g.sample_size(10);
    let ran = || {
        let mut s = Session::new(load_bytes(&image).unwrap());
        s.checkpoint_every = 5_000_000;
        while s.icount() < 12_345_678 {
            s.advance(1_000_000);
        }
        s
    };
    g.bench_function("first, after a flat-out run", |b| {
        b.iter_batched(ran, |mut s| s.step_back(), BatchSize::PerIteration)
    });
    g.bench_function("first, after pause (densified)", |b| {
        b.iter_batched(
            || {
                let mut s = ran();
                s.densify();
                s
            },
            |mut s| s.step_back(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("repeated", |b| {
        b.iter_batched(
            || {
                let mut s = ran();
                s.step_back();
                s
            },
            |mut s| s.step_back(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
