//! Guest MIPS with and without the GUI's machine thread attached (criterion;
//! `cargo bench -p traplab-gui --bench gui_attached`). "bare" runs the machine directly;
//! "gui thread" runs the same guest through the `Worker` (slices, checkpoints for reverse
//! execution, view publishing) while this thread polls views at 60 Hz like the UI does.
//! Throughput is in guest instructions, so "elem/s" reads as instructions per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
