//! "Attach gdb" in the window: the machine thread serves the real gdb on its own session,
//! and the window's views show the stops gdb causes; the window's Pause interrupts a
//! guest that gdb is running. Needs /usr/bin/gdb (.ci/run installs it).

use std::io::{Read, Write};
use std::process::{Child, Command as Proc, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traplab_gui::app::sample_path;
use traplab_gui::view::View;
use traplab_gui::worker::{Command, Worker};

fn wait_view(w: &Worker, what: &str, cond: impl Fn(&View) -> bool) -> Arc<View> {
    let t0 = Instant::now();
    loop {
        let v = w.view();
        if cond(&v) {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Turns "Attach gdb" on at a free port and returns it.
fn attach(w: &Worker) -> u16 {
    wait_view(w, "loaded", |v| v.machine.is_some());
    w.send(Command::AttachGdb(Some(([127, 0, 0, 1], 0).into())));
    let v = wait_view(w, "listening", |v| v.gdb.is_some());
    let g = v.gdb.clone().unwrap();
    g.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no port in {g:?}"))
}

/// gdb (stderr merged into stdout) on `elf`, commands on its stdin.
fn gdb(elf: &str, batch: &[String]) -> Child {
    let p = "/usr/bin/gdb";
    assert!(std::path::Path::new(p).exists(), "this test needs gdb");
    let mut c = Proc::new("sh");
    c.args(["-c", "exec \"$0\" \"$@\" 2>&1", p, "-nx", "-q"]);
    if !batch.is_empty() {
        c.arg("-batch");
        for b in batch {
            c.args(["-ex", b]);
        }
    }
    c.arg(sample_path(elf))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting gdb")
}

fn output(mut child: Child) -> String {
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("gdb did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().unwrap()
}

#[test]
fn the_window_shows_the_breakpoint_stop_gdb_caused() {
    let w = Worker::start(
        Some(&sample_path("samples/hello/hello.elf")),
        Box::new(|| {}),
    );
    let port = attach(&w);
    let g = gdb(
        "samples/hello/hello.elf",
        &[
            format!("target remote 127.0.0.1:{port}"),
            "break vga_putc".into(),
            "continue".into(),
            "print $pc".into(),
            "detach".into(),
        ],
    );
    let out = output(g);
    assert!(out.contains("Breakpoint 1, 0x"), "{out}");
    let pc = out
        .split("$1 = (void (*)()) ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| u32::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no pc in {out}"));
    // The window saw the same stop, and gdb's breakpoint left with it.
    let v = wait_view(&w, "detached", |v| {
        v.gdb
            .as_deref()
            .is_some_and(|g| g.contains("target remote"))
    });
    assert!(v.status.contains("breakpoint"), "status: {}", v.status);
    let m = v.machine.as_ref().unwrap();
    assert_eq!(m.pc, pc);
    assert!(m.breakpoints.is_empty(), "{:?}", m.breakpoints);
    assert!(!v.running);
    // The toggle off stops listening.
    w.send(Command::AttachGdb(None));
    wait_view(&w, "off", |v| v.gdb.is_none());
}

#[test]
fn the_windows_pause_interrupts_a_guest_gdb_is_running() {
    let w = Worker::start(
        Some(&sample_path("samples/minios/minios.elf")),
        Box::new(|| {}),
    );
    let port = attach(&w);
    let mut g = gdb("samples/minios/minios.elf", &[]);
    let mut input = g.stdin.take().unwrap();
    let mut say = |line: &str| {
        let _ = writeln!(input, "{line}");
        let _ = input.flush();
    };
    say(&format!("target remote 127.0.0.1:{port}"));
    wait_view(&w, "attached", |v| {
        v.gdb.as_deref().is_some_and(|g| g.contains("attached"))
    });
    say("continue &");
    // The window is live while gdb runs the guest: its views move on.
    let v = wait_view(&w, "running under gdb", |v| v.running);
    let ic = v.machine.as_ref().unwrap().icount;
    wait_view(&w, "instructions retired", |v| {
        v.machine.as_ref().unwrap().icount > ic + 1_000_000
    });
    w.send(Command::Pause);
    wait_view(&w, "paused", |v| !v.running);
    std::thread::sleep(Duration::from_millis(300));
    say("info registers eip");
    say("detach");
    say("quit");
    drop(input);
    let out = output(g);
    assert!(out.contains("Program received signal SIGINT"), "{out}");
    assert!(out.contains("eip            0x"), "{out}");
}
