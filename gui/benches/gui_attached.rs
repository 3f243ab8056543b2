//! Guest MIPS with and without the GUI's machine thread attached (criterion;
//! `cargo bench -p traplab-gui --bench gui_attached`). "bare" runs the machine directly;
//! "gui thread" runs the same guest through the `Worker` (slices, checkpoints for reverse
//! execution, view publishing) while this thread polls the views. Both time the run only,
//! from start to the guest's exit: loading (the session's first checkpoint scans all of
//! guest RAM, ~50 ms) is not running speed. Throughput is in guest instructions, so
//! "elem/s" reads as instructions per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::{Duration, Instant};
use traplab::debug::session::{Session, Stop};
use traplab_gui::app::sample_path;
use traplab_gui::worker::{load_bytes, Command, Worker};

const IMAGE: &str = "samples/bench/intloop.elf";

/// Runs the guest to its exit on a bare machine: (instructions, time running).
fn bare(image: &[u8]) -> (u64, Duration) {
    let mut m = load_bytes(image).expect("bench guest boots");
    let t0 = Instant::now();
    while traplab_gui::worker::runnable(m.run(50_000_000)) {}
    (m.icount(), t0.elapsed())
}

/// Runs the guest to its exit in a debugger session (reverse-execution log, 1,000-
/// instruction granules) without checkpoints: the session's own cost.
fn session(image: &[u8]) -> Duration {
    let mut s = Session::new(load_bytes(image).expect("bench guest boots"));
    s.checkpoint_every = 1 << 50;
    let t0 = Instant::now();
    while matches!(s.advance(50_000_000), Stop::Pending | Stop::Done) {}
    t0.elapsed()
}

/// Runs the guest to its exit through the GUI's machine thread: the time from the Run
/// command to the first view that shows it stopped (polled every millisecond).
fn attached(path: &str) -> Duration {
    let w = Worker::start(Some(path), Box::new(|| {}));
    while w.view().machine.is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    w.send(Command::Run);
    let mut seen_running = false;
    loop {
        std::thread::sleep(Duration::from_millis(1));
        let v = w.view();
        seen_running |= v.running;
        if (seen_running && !v.running) || t0.elapsed() > Duration::from_secs(120) {
            return t0.elapsed();
        }
    }
}

fn bench(c: &mut Criterion) {
    let path = sample_path(IMAGE);
    let image = std::fs::read(&path).expect("bench guest image");
    let n = bare(&image).0;
    let mut g = c.benchmark_group("intloop");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bare(&image).1).sum())
    });
    g.bench_function("session, no checkpoints", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| session(&image)).sum())
    });
    g.bench_function("gui thread", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| attached(&path)).sum())
    });
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
