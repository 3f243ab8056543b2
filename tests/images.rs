//! The engine's committed images (samples/minios/registry, built by
//! samples/minios/images/imgbuild.c) checked with tools nobody here wrote: every blob's
//! name is the start of its SHA-256 as the host's `sha256sum` computes it, every layer is
//! an archive the host's `tar` lists, and every manifest names blobs of the sizes and
//! digests on disk (the config's diff_ids are the layers' digests: they are not compressed).

use std::path::{Path, PathBuf};
use std::process::Command;

fn registry() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/minios/registry")
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn blob(digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("a sha256: digest");
    assert_eq!(hex.len(), 64, "{digest}");
    registry().join("blobs").join(&hex[..24])
}

/// The string values of every `"key":"..."` in a JSON text, in order.
fn values(json: &str, key: &str) -> Vec<String> {
    let pat = format!("\"{key}\":\"");
    json.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &json[i + pat.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn sizes(json: &str) -> Vec<u64> {
    json.match_indices("\"size\":")
        .map(|(i, _)| {
            let rest = &json[i + 7..];
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap();
            rest[..end].parse().unwrap()
        })
        .collect()
}

#[test]
fn every_blob_is_named_by_its_sha256() {
    let mut n = 0;
    for e in std::fs::read_dir(registry().join("blobs")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            sha256sum(&path).starts_with(&name),
            "{name}: content does not match its name"
        );
        n += 1;
    }
    assert!(n >= 7, "only {n} blobs");
}

#[test]
fn manifests_name_their_config_and_layers() {
    let catalog = std::fs::read_to_string(registry().join("catalog")).unwrap();
    let mut names = Vec::new();
    for line in catalog.lines() {
        let mut w = line.split(' ');
        let (reference, digest) = (w.next().unwrap(), w.next().unwrap());
        let (name, tag) = reference.split_once(':').unwrap();
        names.push(name.to_string());
        let tagged =
            std::fs::read_to_string(registry().join("repositories").join(name).join(tag)).unwrap();
        assert_eq!(tagged.trim(), digest, "{reference}");
        let path = blob(digest);
        assert_eq!(sha256sum(&path), digest[7..], "{reference}: manifest");
        let manifest = std::fs::read_to_string(&path).unwrap();
        assert!(manifest.contains("\"schemaVersion\":2"), "{manifest}");
        let digests = values(&manifest, "digest");
        let sizes = sizes(&manifest);
        assert_eq!(digests.len(), sizes.len());
        assert!(
            digests.len() >= 2,
            "{reference}: a config and at least one layer"
        );
        for (d, s) in digests.iter().zip(&sizes) {
            let p = blob(d);
            assert_eq!(sha256sum(&p), d[7..], "{reference}: {d}");
            assert_eq!(
                std::fs::metadata(&p).unwrap().len(),
                *s,
                "{reference}: size of {d}"
            );
            let link = registry()
                .join("repositories")
                .join(name)
                .join("_blobs")
                .join(&d[7..31]);
            assert!(
                link.exists(),
                "{reference}: {d} is not linked to the repository"
            );
        }
        let config = std::fs::read_to_string(blob(&digests[0])).unwrap();
        let layers = &digests[1..];
        let diff_ids: Vec<String> = config
            .split("\"diff_ids\":[")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap()
            .split(',')
            .map(|s| s.trim_matches('"').to_string())
            .collect();
        assert_eq!(&diff_ids, layers, "{reference}: diff_ids");
        for l in layers {
            let out = Command::new("tar")
                .arg("-tf")
                .arg(blob(l))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{reference}: host tar rejects layer {l}"
            );
            assert!(!out.stdout.is_empty());
        }
    }
    for want in ["base", "hello", "echo"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} is not in the catalog"
        );
    }
}

#[test]
fn echo_shares_the_layers_of_base() {
    let manifest = |name: &str| {
        let d = std::fs::read_to_string(registry().join("repositories").join(name).join("latest"))
            .unwrap();
        std::fs::read_to_string(blob(d.trim())).unwrap()
    };
    let base = values(&manifest("base"), "digest");
    let echo = values(&manifest("echo"), "digest");
    assert_eq!(echo[1..base.len()], base[1..], "echo = base's layers + one");
    assert_eq!(echo.len(), base.len() + 1);
}

/// One ustar entry as imgbuild.c writes it: a directory (`None`) or a file, times and owners 0,
/// mode 0755 for directories and 0644 for these files, the checksum as six octal digits, NUL,
/// space.
fn ustar_entry(name: &str, data: Option<&[u8]>) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    let mut field = |off: usize, width: usize, v: usize| {
        let s = format!("{v:0w$o}", w = width - 1);
        h[off..off + width - 1].copy_from_slice(s.as_bytes());
    };
    field(100, 8, if data.is_none() { 0o755 } else { 0o644 });
    field(108, 8, 0);
    field(116, 8, 0);
    field(124, 12, data.map_or(0, |d| d.len()));
    field(136, 12, 0);
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[156] = if data.is_none() { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    if let Some(d) = data {
        h.extend_from_slice(d);
        h.resize(512 + d.len().div_ceil(512) * 512, 0);
    }
    h
}

/// The host builder compiled into a fresh directory (the C compiler `make -C samples` uses).
fn imgbuild(dir: &Path) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/minios");
    let exe = dir.join("imgbuild");
    let st = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&exe)
        .arg(root.join("images/imgbuild.c"))
        .arg(root.join("user/sha256.c"))
        .status()
        .expect("cc runs");
    assert!(st.success(), "imgbuild compiles");
    exe
}

/// Builds a one-COPY recipe (`COPY SRC DST` from ctx) with the host builder: its layer's digest.
fn host_layer(exe: &Path, dir: &Path, name: &str, copy: &str) -> String {
    let out = Command::new(exe)
        .arg(dir.join("out"))
        .arg(dir)
        .arg(dir.join(name).join("Recipe"))
        .output()
        .unwrap();
    assert!(out.status.success(), "imgbuild {name}: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let manifest = stdout.split(' ').nth(1).unwrap().to_string();
    let text = std::fs::read_to_string(dir.join("out/blobs").join(&manifest[7..31])).unwrap();
    let digests = values(&text, "digest");
    assert_eq!(digests.len(), 2, "{name} ({copy}): a config and one layer");
    digests[1].clone()
}

/// `docker build` inside minios (dockerd_build.c, recorded by the boot test minios-build and
/// under QEMU) writes its layers as imgbuild does: a COPY layer, and a RUN layer (the files the
/// program wrote in its writable layer) are byte for byte the archives the host builder makes of
/// the same files, so their digests agree. The host builder refuses RUN and says where it runs.
#[test]
fn layers_built_in_minios_match_the_host_builder() {
    let tmp = std::env::temp_dir().join(format!("traplab-imgbuild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("out")).unwrap();
    let exe = imgbuild(&tmp);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let message =
        std::fs::read(root.join("samples/minios/rootfs/src/greeting/message.txt")).unwrap();
    let recorded = std::fs::read_to_string(root.join("samples/expected/minios-build.txt")).unwrap();
    let step = |n: &str| {
        let at = recorded.find(&format!("Step {n}/6 :")).expect("the step");
        let line = recorded[at..]
            .lines()
            .find(|l| l.starts_with(" ---> sha256:"))
            .unwrap();
        line[6..].to_string()
    };
    let recipe = |name: &str, copy: &str, files: &[(&str, Vec<u8>)]| {
        let ctx = tmp.join(name);
        for (path, data) in files {
            let p = ctx.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        std::fs::write(ctx.join("Recipe"), format!("FROM scratch\n{copy}\n")).unwrap();
        host_layer(&exe, &tmp, name, copy)
    };
    // Step 2: COPY message.txt /etc/
    let copy = recipe(
        "copy",
        "COPY message.txt /etc/",
        &[("message.txt", message.clone())],
    );
    assert_eq!(copy, step("2"));
    // Step 3: RUN sh -c cat /etc/message.txt > /etc/greeting: the layer holds etc/ and etc/greeting.
    let run1 = recipe("run1", "COPY etc /", &[("etc/greeting", message.clone())]);
    assert_eq!(run1, step("3"));
    // Step 4: RUN sh -c echo ... >> /etc/greeting: the whole file, copied up and appended to.
    let mut both = message.clone();
    both.extend_from_slice(b"this line was written by RUN in a container\n");
    let run2 = recipe("run2", "COPY etc /", &[("etc/greeting", both)]);
    assert_eq!(run2, step("4"));
    // Step 2 of the boot test's `nomotd`: RUN sh -c rm /etc/motd leaves a whiteout, which the
    // layer stores as an empty etc/.wh.motd (OCI image spec, "Whiteouts"); imgbuild cannot
    // make one (it skips dot files), so the archive is written here and listed by the host's tar.
    let mut wh = ustar_entry("etc/", None);
    wh.extend(ustar_entry("etc/.wh.motd", Some(b"")));
    wh.extend([0u8; 1024]);
    std::fs::write(tmp.join("wh.tar"), &wh).unwrap();
    let at = recorded
        .find("Step 2/2 : RUN sh -c rm /etc/motd")
        .expect("the whiteout step");
    let line = recorded[at..]
        .lines()
        .find(|l| l.starts_with(" ---> sha256:"))
        .unwrap();
    assert_eq!(sha256sum(&tmp.join("wh.tar")), line[13..]);
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(tmp.join("wh.tar"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "etc/\netc/.wh.motd\n"
    );
    std::fs::create_dir_all(tmp.join("run")).unwrap();
    std::fs::write(tmp.join("run/Recipe"), "FROM scratch\nRUN sh -c echo hi\n").unwrap();
    let out = Command::new(&exe)
        .arg(tmp.join("out"))
        .arg(&tmp)
        .arg(tmp.join("run/Recipe"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docker build -t NAME DIR"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
