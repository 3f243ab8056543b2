//! `traplab run --publish`, end to end with the real `curl` on the host (installed by
//! .ci/run): minios boots with the host-socket device, dockerd listens on guest port 2375,
//! and host connections to the published port are answered by it, several at once. Also:
//! bad `--publish` values are one clear error with exit status 2.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_traplab");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The guest, killed when the test ends (even when it fails).
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "-m", "60"])
        .args(args)
        .output()
        .expect("the host's curl is needed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Boots minios (its init starts dockerd) with `--publish 0:2375` and returns the guest and
/// the host port it got.
fn boot() -> (Guest, u16) {
    let mut child = Command::new(BIN)
        .current_dir(root())
        .args(["run", "--publish", "0:2375", "samples/minios/minios.elf"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start traplab");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let guest = Guest(child);
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .strip_prefix("traplab: 127.0.0.1:")
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no published port in {line:?}"));
    assert!(
        line.ends_with("is published to guest port 2375\n"),
        "{line}"
    );
    // Keep draining stderr so the guest never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (guest, port)
}

#[test]
fn host_curl_reaches_dockerd_through_publish() {
    let (_guest, port) = boot();
    let base = format!("http://127.0.0.1:{port}");
    // Until dockerd listens, the guest refuses the connection (curl reads an empty reply).
    let start = Instant::now();
    loop {
        let (ok, out) = curl(&[&format!("{base}/_ping")]);
        if ok && out == "OK" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "dockerd never answered: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, v) = curl(&[&format!("{base}/version")]);
    assert!(ok, "{v}");
    let v: serde_json::Value = serde_json::from_str(&v).expect("/version is JSON");
    assert_eq!(v["ApiVersion"], "1.43");
    assert_eq!(v["Os"], "minios");
    let (ok, list) = curl(&[&format!("{base}/containers/json")]);
    assert!(ok, "{list}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&list).unwrap(),
        serde_json::json!([])
    );
    // A container made from the host shows up in the list.
    let (ok, made) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"Image":"box","Cmd":["hello"]}"#,
        &format!("{base}/containers/create?name=fromhost"),
    ]);
    assert!(ok && made.contains("\"Id\""), "{made}");
    let (ok, list) = curl(&[&format!("{base}/containers/json?all=1")]);
    assert!(ok, "{list}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["Names"][0], "/fromhost");
    assert_eq!(list[0]["State"], "created");
    // A malformed request is a 400 from the daemon, not a broken connection.
    let (ok, bad) = curl(&[
        "-i",
        "-X",
        "POST",
        "-d",
        "{bad",
        &format!("{base}/containers/create"),
    ]);
    assert!(
        ok && bad.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{bad}"
    );
    // Twelve clients at once: more than the device's 8 channels and dockerd's 4 slots.
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let url = format!("{base}/version");
            std::thread::spawn(move || curl(&[&url]))
        })
        .collect();
    for c in clients {
        let (ok, out) = c.join().unwrap();
        assert!(ok && out.contains("\"ApiVersion\":\"1.43\""), "{out}");
    }
}

/// The answers' block of the workbook's `--publish` lab (chapter 11): the block of
/// `respuestas.md` that names this test, as (command, expected output) pairs.
fn workbook_publish_answers() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("workbook/src/respuestas.md")).unwrap();
    let block = text
        .split("```text\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap())
        .find(|b| {
            b.lines()
                .next()
                .is_some_and(|l| l.contains("tests/publish.rs"))
        })
        .expect("respuestas.md has no ```text block naming tests/publish.rs");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines().filter(|l| !l.starts_with('#')) {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_owned(), String::new()));
        } else {
            let (_, expected) = out.last_mut().expect("output before the first `$ curl`");
            expected.push_str(line);
            expected.push('\n');
        }
    }
    out
}

/// The words of a shell command line as the lab writes it: spaces separate them, single
/// quotes keep anything together.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    words.extend(word);
    words
}

/// `got` matches `expected` line by line, where `[..]` in an expected line stands for any text.
fn matches(expected: &str, got: &str) -> bool {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    e.len() == g.len()
        && e.iter().zip(&g).all(|(e, g)| {
            let parts: Vec<&str> = e.split("[..]").collect();
            let mut rest = *g;
            for (i, part) in parts.iter().enumerate() {
                if i == 0 {
                    let Some(r) = rest.strip_prefix(part) else {
                        return false;
                    };
                    rest = r;
                } else if i == parts.len() - 1 {
                    return rest.ends_with(part);
                } else {
                    let Some(at) = rest.find(part) else {
                        return false;
                    };
                    rest = &rest[at + part.len()..];
                }
            }
            rest.is_empty()
        })
}

/// The workbook's lab with the host's curl (chapter 11, `traplab run --publish 2375:2375`):
/// every command of its answers' block is run against a guest published on a free port, and
/// what curl prints must be what the book says.
#[test]
fn workbook_publish_lab_is_what_curl_sees() {
    let steps = workbook_publish_answers();
    assert!(steps.len() >= 5, "{steps:?}");
    let chapter = std::fs::read_to_string(root().join("workbook/src/11-docker.md")).unwrap();
    let (_guest, port) = boot();
    let start = Instant::now();
    while curl(&[&format!("http://127.0.0.1:{port}/_ping")]) != (true, "OK".to_owned()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "dockerd never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for (cmd, expected) in steps {
        assert!(
            chapter.lines().any(|l| l == cmd),
            "`{cmd}` is in the answers but not in chapter 11's lab"
        );
        let words = shell_words(&cmd);
        assert_eq!(words[0], "curl", "{cmd}");
        let args: Vec<String> = words[1..]
            .iter()
            .map(|w| w.replace("127.0.0.1:2375", &format!("127.0.0.1:{port}")))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, got) = curl(&args);
        assert!(ok, "{cmd}: {got}");
        assert!(
            matches(&expected, &got),
            "{cmd}\n--- the book says ---\n{expected}--- curl printed ---\n{got}"
        );
    }
}

#[test]
fn bad_publish_values_are_one_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("{}:80", taken.local_addr().unwrap().port());
    for (value, says) in [
        ("2375", "expected HOSTPORT:GUESTPORT"),
        ("2375:0", "expected HOSTPORT:GUESTPORT"),
        ("x:1", "expected HOSTPORT:GUESTPORT"),
        ("70000:1", "expected HOSTPORT:GUESTPORT"),
        (busy.as_str(), "cannot listen on 127.0.0.1"),
    ] {
        let out = Command::new(BIN)
            .current_dir(root())
            .args(["run", "--publish", value, "samples/minios/minios.elf"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(err.contains(says) && err.contains(value), "{value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "{value}: the guest must not boot");
    }
}
