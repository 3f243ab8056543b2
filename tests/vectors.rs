//! Runs every SingleStepTests 80286 real-mode vector in `tests/data/sst-80286-real` through
//! `traplab::debug::vectors` (the same runner as `traplab vectors`). Fails with one line per
//! failing form (counts plus the first mismatch), never with 162k lines. Tests that differ
//! only where `i686-differences.txt` says the 286 and an i686 differ are "listed".
use std::path::{Path, PathBuf};
use std::time::Instant;
use traplab::debug::vectors::{form_of_file, parse_tests, totals, Differences, Metadata, Runner};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sst-80286-real")
}

#[test]
fn sst_80286_real_mode_vectors() {
    let dir = data_dir();
    let meta = Metadata::parse(&std::fs::read_to_string(dir.join("metadata.json")).unwrap())
        .expect("metadata.json");
    let diffs =
        Differences::parse(&std::fs::read_to_string(dir.join("i686-differences.txt")).unwrap())
            .expect("i686-differences.txt");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let form = form_of_file(p.file_name()?.to_str()?)?;
            Some((form, p))
        })
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        325,
        "vector files missing from {}",
        dir.display()
    );

    let start = Instant::now();
    let mut runner = Runner::new();
    let mut results = Vec::new();
    for (form, path) in &files {
        let tests = parse_tests(&std::fs::read(path).unwrap(), true)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!tests.is_empty(), "{form}: no tests");
        results.push(runner.run_form(form, &tests, &meta, &diffs, 1));
    }
    let (passed, failed, listed) = totals(&results);
    println!(
        "vectors: {passed} passed, {failed} failed, {listed} listed as 286/i686 differences ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(passed + failed + listed, 162_500, "every vector must run");
    let report: Vec<String> = results
        .iter()
        .filter(|r| r.failed > 0)
        .map(|r| {
            let (idx, name, d) = &r.failures[0];
            format!(
                "{}: {} failed / {} passed / {} listed; first #{idx} {name}: {}",
                r.form,
                r.failed,
                r.passed,
                r.listed,
                d.join("; ")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "{failed} vectors failed in {} forms:\n{}",
        report.len(),
        report.join("\n")
    );
}
