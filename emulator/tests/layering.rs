//! The core's layering, checked from the source: every `crate::x` path (in `use` lines and
//! in code) of a top-level module of `emulator/src` must name the module itself or one of a
//! lower layer. The intended order, highest first (also in `src/lib.rs`):
//!
//! ```text
//! compare                  the workload matrix (boots machines, reads them by inspect)
//! debug, snapshot          front-of-core services over a whole machine
//! boot                     loaders and the built-in BIOS (a device registered on the core)
//! inspect                  the read-only inspection API over a machine (for front ends)
//! machine                  the dispatch loop and block fetch
//! cpu                      registers, instructions, event delivery, the CPU's accesses
//! mmu                      segmentation types, paging, the TLB, `Mmu` (translation)
//! bus, devices, trace      physical memory, PC devices, events (no crate imports)
//! ```
//!
//! So there is no import cycle between `cpu`, `mmu`, `machine` and `boot`. Test code
//! (`#[cfg(test)]` items, `tests.rs` and `*_tests.rs` files) may use any layer: a CPU test
//! may boot a whole machine. Comments are ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layer of each top-level module: a module may use modules of its own layer only if it
/// is itself, and any module of a lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("compare", 6),
    ("debug", 5),
    ("snapshot", 5),
    ("boot", 4),
    ("inspect", 4),
    ("machine", 3),
    ("cpu", 2),
    ("mmu", 1),
    ("bus", 0),
    ("devices", 0),
    ("trace", 0),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable source directory") {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The non-test, non-comment lines of a file: drops `#[cfg(test)]` items (a `mod x;` line,
/// or everything up to the brace that closes the item).
fn code_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        if t.starts_with("#[cfg(test)]") {
            // Skip the item that follows.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                let l = l.split("//").next().unwrap_or("");
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if (!opened && l.trim_end().ends_with(';')) || (opened && depth <= 0) {
                    break;
                }
            }
            continue;
        }
        out.push(line.split("//").next().unwrap_or("").to_string());
    }
    out
}

/// Top-level modules named by `crate::x` paths in `line`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` or an identifier ending in "crate" is not the crate root.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // use crate::{a::b, c};
            let inner = group.split('}').next().unwrap_or("");
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    refs.push(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        refs.push(name);
    }
    refs
}

/// Every (from, to, file) edge that goes against the order.
fn violations(src: &Path) -> (Vec<String>, BTreeSet<(String, String)>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut edges = BTreeSet::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src");
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "tests.rs" || name.ends_with("_tests.rs") || rel == Path::new("lib.rs") {
            continue;
        }
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        let from = layer(&top).unwrap_or_else(|| panic!("{top}: add it to LAYERS"));
        let text = std::fs::read_to_string(&f).expect("readable source file");
        for line in code_lines(&text) {
            for to in crate_refs(&line) {
                let Some(to_layer) = layer(&to) else {
                    continue; // a re-export of lib.rs (crate::Exception, crate::iced_x86)
                };
                if to == top {
                    continue;
                }
                edges.insert((top.clone(), to.clone()));
                if to_layer >= from {
                    bad.push(format!(
                        "{}: {top} (layer {from}) uses {to} (layer {to_layer}): {}",
                        rel.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    (bad, edges)
}

#[test]
fn modules_only_use_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (bad, edges) = violations(&src);
    assert!(
        bad.is_empty(),
        "imports against the layering (see tests/layering.rs):\n{}",
        bad.join("\n")
    );
    // The check sees the edges it must (it is not vacuous).
    for (a, b) in [
        ("boot", "machine"),
        ("machine", "cpu"),
        ("cpu", "mmu"),
        ("mmu", "bus"),
    ] {
        assert!(
            edges.contains(&(a.to_string(), b.to_string())),
            "expected {a} -> {b} in {edges:?}"
        );
    }
}

#[test]
fn the_scanner_sees_paths_groups_and_skips_tests() {
    assert_eq!(crate_refs("use crate::cpu::ctx::Core;"), vec!["cpu"]);
    assert_eq!(
        crate_refs("    if x == crate::boot::rom::PORT && crate::boot::bios::f(c) {"),
        vec!["boot", "boot"]
    );
    assert_eq!(
        crate_refs("use crate::{machine::Machine, mmu};"),
        vec!["machine", "mmu"]
    );
    assert!(crate_refs("$crate::x").is_empty());
    let text = "use crate::a;\n// use crate::b;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n    fn f() { }\n}\nuse crate::d; // crate::e\n#[cfg(test)]\nmod more;\nuse crate::f;\n";
    let refs: Vec<String> = code_lines(text)
        .iter()
        .flat_map(|l| crate_refs(l))
        .collect();
    assert_eq!(refs, vec!["a", "d", "f"]);
}
