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
