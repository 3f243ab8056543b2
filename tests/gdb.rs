//! The real gdb against `traplab run --gdb`: the built binary serves a sample guest on a
//! free port (port 0, the chosen port read from its first stderr line) and `/usr/bin/gdb`
//! drives it, in batch mode (connect, breakpoint at an ELF symbol, continue, registers, a
//! variable read and written, single step, watchpoints that fire, the guest's exit) and
//! through a pipe for what batch mode cannot do (Ctrl-C while the guest runs). The checks
//! are on gdb's own output. Every wait has a timeout, so a broken stub fails, never hangs.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// gdb with its stderr (where monitor output and errors go) merged into its stdout.
fn gdb_command() -> Command {
    let p = "/usr/bin/gdb";
    assert!(
        std::path::Path::new(p).exists(),
        "this test needs gdb (`apt-get install gdb`; .ci/run installs it)"
    );
    let mut c = Command::new("sh");
    c.args(["-c", "exec \"$0\" \"$@\" 2>&1", p]);
    c
}

/// A `traplab run --gdb 127.0.0.1:0 IMAGE` process and the port it listens on.
struct Stub {
    child: Child,
    port: u16,
    stderr: Receiver<String>,
}

impl Stub {
    fn start(image: &str, extra: &[&str]) -> Stub {
        let mut child = Command::new(BIN)
            .args(["run", "--gdb", "127.0.0.1:0"])
            .args(extra)
            .arg(root().join(image))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting traplab");
        let (tx, rx) = channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("traplab printed no listening line");
        // "traplab: waiting for gdb on 127.0.0.1:PORT (...)"
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        Stub {
            child,
            port,
            stderr: rx,
        }
    }

    /// Waits for traplab to end; returns its status, stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!("traplab did not end after gdb was done");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let err: Vec<String> = self.stderr.try_iter().collect();
        (status, out, err.join("\n"))
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a child with a deadline, killing it on timeout; returns its stdout+stderr.
fn wait_output(mut child: Child, what: &str) -> String {
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().unwrap()
}

/// Runs gdb in batch mode on `elf` with these commands; returns everything it printed.
fn gdb_batch(elf: &str, port: u16, cmds: &[&str]) -> String {
    let mut args: Vec<String> = vec!["-batch".into(), "-nx".into()];
    args.push("-ex".into());
    args.push(format!("target remote 127.0.0.1:{port}"));
    for c in cmds {
        args.push("-ex".into());
        args.push(c.to_string());
    }
    args.push(root().join(elf).display().to_string());
    let child = gdb_command()
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting gdb");
    wait_output(child, "gdb")
}

/// The text after `$N = ` on the line of gdb's N-th value history entry.
fn value(out: &str, n: u32) -> &str {
    let key = format!("${n} = ");
    let i = out
        .find(&key)
        .unwrap_or_else(|| panic!("no {key} in gdb's output:\n{out}"));
    out[i + key.len()..].lines().next().unwrap().trim()
}

#[test]
fn gdb_breaks_steps_watches_and_sees_the_exit() {
    let stub = Stub::start("samples/hello/hello.elf", &[]);
    let out = gdb_batch(
        "samples/hello/hello.elf",
        stub.port,
        &[
            "info registers",
            "break vga_putc",
            "continue",
            "print $pc",
            "print (int)vga_pos",
            "stepi",
            "print $pc",
            "print/x $eflags",
            "watch *(int*)&vga_pos",
            "continue",
            "print (int)vga_pos",
            "delete",
            "set var *(int*)&vga_pos = 5",
            "print (int)vga_pos",
            "rwatch *(int*)&vga_pos",
            "continue",
            "delete",
            "hbreak serial_putc",
            "continue",
            "delete",
            "print $pc",
            "reverse-stepi",
            "print $pc",
            "stepi",
            "print $pc",
            "monitor cr",
            "monitor walk 0x100000",
            "continue",
        ],
    );
    let (status, stdout, stderr) = stub.finish();
    let ctx = format!("gdb:\n{out}\ntraplab stderr:\n{stderr}");
    // Connected at the first instruction: the ELF's entry point.
    assert!(out.contains("in _start ()"), "{ctx}");
    // The i386 register set with segment registers and EFLAGS.
    for r in ["eax", "esp", "eip", "eflags", "cs ", "ss ", "ds ", "gs "] {
        assert!(out.lines().any(|l| l.starts_with(r)), "no {r} in {ctx}");
    }
    assert!(out.contains("Breakpoint 1, 0x"), "{ctx}");
    assert!(out.contains(" in vga_putc ()"), "{ctx}");
    // The breakpoint stop is at the address gdb put it on; stepi moved the PC.
    let bp = out
        .lines()
        .find(|l| l.starts_with("Breakpoint 1 at 0x"))
        .and_then(|l| l.split("at ").nth(1))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|| panic!("no breakpoint address in {ctx}"));
    assert!(
        value(&out, 1).contains(&bp),
        "pc {} vs {bp}: {ctx}",
        value(&out, 1)
    );
    assert_eq!(value(&out, 2), "0", "{ctx}");
    assert_ne!(value(&out, 3), value(&out, 1), "stepi did not move: {ctx}");
    // The write watchpoint fires after the store, with both values.
    assert!(
        out.contains("Hardware watchpoint 2: *(int*)&vga_pos"),
        "{ctx}"
    );
    assert!(out.contains("Old value = 0"), "{ctx}");
    assert!(out.contains("New value = 1"), "{ctx}");
    assert_eq!(value(&out, 5), "1", "{ctx}");
    // A memory write by gdb lands in guest memory.
    assert_eq!(value(&out, 6), "5", "{ctx}");
    // The read watchpoint fires at the next read of vga_pos.
    assert!(
        out.contains("Hardware read watchpoint 3: *(int*)&vga_pos"),
        "{ctx}"
    );
    assert!(out.contains("Value = 5"), "{ctx}");
    // A hardware breakpoint.
    assert!(out.contains("Hardware assisted breakpoint 4"), "{ctx}");
    assert!(out.contains(" in serial_putc ()"), "{ctx}");
    // reverse-stepi goes back one instruction (the session replays from a checkpoint) and
    // stepi comes forward to the same place.
    let (at, back, again) = (value(&out, 7), value(&out, 8), value(&out, 9));
    assert!(at.contains("serial_putc"), "{ctx}");
    assert_ne!(back, at, "reverse-stepi did not move: {ctx}");
    assert_eq!(again, at, "{ctx}");
    // monitor commands.
    assert!(out.contains("cr0  0x00000011  [PE ET]"), "{ctx}");
    assert!(out.contains("paging is off (CR0.PG = 0)"), "{ctx}");
    // The guest's exit is the inferior's exit (port 0xF4: status (0 << 1) | 1 = 1).
    assert!(out.contains("exited with code 01]"), "{ctx}");
    assert_eq!(status, Some(1), "{ctx}");
    assert!(stdout.contains("Hello from Traplab!"), "{stdout}");
}

#[test]
fn gdb_interrupts_a_running_guest_and_gets_errors_for_unmapped_memory() {
    let stub = Stub::start("samples/minios/minios.elf", &[]);
    let mut gdb = gdb_command()
        .args(["-nx", "-q"])
        .arg(root().join("samples/minios/minios.elf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting gdb");
    let mut input = gdb.stdin.take().unwrap();
    let mut say = |line: &str, pause_ms: u64| {
        let _ = writeln!(input, "{line}");
        let _ = input.flush();
        std::thread::sleep(Duration::from_millis(pause_ms));
    };
    say(&format!("target remote 127.0.0.1:{}", stub.port), 500);
    // The guest runs in the background (minios boots and waits at its shell prompt)...
    say("continue &", 1500);
    // ...until gdb interrupts it (what Ctrl-C sends).
    say("interrupt", 1000);
    say("monitor icount", 200);
    // Under minios's page tables: an unmapped address is an error reply, not a crash.
    say("x/x 0xdead0000", 200);
    say("monitor walk 0xdead0000", 200);
    say("monitor world", 200);
    say("monitor exits", 200);
    say("monitor nonsense", 200);
    say("kill", 500);
    say("quit", 0);
    drop(input);
    let out = wait_output(gdb, "gdb");
    let (_, stdout, stderr) = stub.finish();
    let ctx = format!("gdb:\n{out}\ntraplab stderr:\n{stderr}\nstdout:\n{stdout}");
    assert!(out.contains("Program received signal SIGINT"), "{ctx}");
    let n: u64 = out
        .split("instructions retired: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no icount in {ctx}"));
    assert!(n > 0, "{ctx}");
    assert!(stdout.contains("minios> "), "{ctx}");
    assert!(
        out.contains("Cannot access memory at address 0xdead0000"),
        "{ctx}"
    );
    assert!(out.contains("-> page fault (#PF), error code 0x0"), "{ctx}");
    assert!(out.contains("world: host"), "{ctx}");
    assert!(out.contains("exit ledger: empty"), "{ctx}");
    assert!(out.contains("unknown monitor command `nonsense`"), "{ctx}");
    assert!(stderr.contains("gdb killed the guest"), "{ctx}");
}

#[test]
fn with_no_wait_the_guest_runs_before_gdb_attaches() {
    let stub = Stub::start("samples/minios/minios.elf", &["--gdb-no-wait"]);
    // minios boots to its prompt on its own, before any gdb.
    let mut stdout = String::new();
    let t0 = Instant::now();
    let mut out = stub_stdout(&stub);
    while !stdout.contains("minios> ") {
        assert!(t0.elapsed() < TIMEOUT, "no prompt without gdb: {stdout}");
        let mut buf = [0u8; 256];
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "traplab ended: {stdout}");
        stdout.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let out = gdb_batch(
        "samples/minios/minios.elf",
        stub.port,
        &["monitor icount", "kill"],
    );
    let n: u64 = out
        .split("instructions retired: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no icount in {out}"));
    assert!(n > 1_000_000, "{out}");
}

/// The stub's stdout, read while it runs.
fn stub_stdout(stub: &Stub) -> std::fs::File {
    let fd = stub.child.stdout.as_ref().unwrap();
    std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap())
}

#[test]
fn gdb_flag_rejects_a_malformed_address_with_one_line() {
    let out = Command::new(BIN)
        .args(["run", "--gdb", "localhost:notaport"])
        .arg(root().join("samples/hello/hello.elf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not [ADDR:]PORT"), "{err}");
}

/// `--gdb` queues all serial input before the guest runs: an endless input is refused with
/// one line (it used to be read whole, so `--input /dev/zero` grew without bound).
#[cfg(unix)]
#[test]
fn gdb_refuses_an_endless_serial_input() {
    let out = Command::new(BIN)
        .args(["run", "--gdb", "127.0.0.1:0", "--input", "/dev/zero"])
        .arg(root().join("samples/hello/hello.elf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--input /dev/zero: more than 16 MiB"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
