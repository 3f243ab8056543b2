//! `traplab vectors DIR`: runs SingleStepTests-style CPU vectors (`*.json` / `*.json.gz`,
//! one file per instruction form, with `metadata.json` and `i686-differences.txt` beside
//! them) and prints a per-form table and a total. Reading files and printing live here;
//! running and comparing is `traplab::debug::vectors`, shared with `tests/vectors.rs`.
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use traplab::debug::vectors::{
    form_of_file, parse_tests, totals, Differences, FormResult, Metadata, Runner,
};

#[derive(Args)]
pub struct VectorArgs {
    /// Directory with the test vector files (e.g. tests/data/sst-80286-real).
    pub dir: PathBuf,
    /// Run only this form (file stem, e.g. `A4` or `80.3`).
    #[arg(long)]
    pub form: Option<String>,
    /// Print the mismatches of every failing test.
    #[arg(long)]
    pub verbose: bool,
}

/// The vector files of a directory as (form, path), sorted by form.
pub fn vector_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(form) = form_of_file(name) {
            v.push((form, p));
        }
    }
    v.sort();
    Ok(v)
}

pub fn main(a: VectorArgs) -> anyhow::Result<u8> {
    let meta = match std::fs::read_to_string(a.dir.join("metadata.json")) {
        Ok(s) => Metadata::parse(&s).map_err(anyhow::Error::msg)?,
        Err(_) => Metadata::default(),
    };
    let diffs = match std::fs::read_to_string(a.dir.join("i686-differences.txt")) {
        Ok(s) => Differences::parse(&s)
            .map_err(anyhow::Error::msg)
            .context("i686-differences.txt")?,
        Err(_) => Differences::default(),
    };
    let mut files = vector_files(&a.dir)?;
    if let Some(f) = &a.form {
        let f = f.to_ascii_uppercase();
        files.retain(|(form, _)| *form == f);
        anyhow::ensure!(!files.is_empty(), "no vector file for form {f}");
    }
    anyhow::ensure!(!files.is_empty(), "no vector files in {}", a.dir.display());
    let keep = if a.verbose { usize::MAX } else { 0 };
    let mut runner = Runner::new();
    let mut results: Vec<FormResult> = Vec::new();
    println!(
        "{:<8} {:>7} {:>7} {:>7}",
        "form", "passed", "failed", "listed"
    );
    for (form, path) in &files {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let tests = parse_tests(&data, gz)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("parsing {}", path.display()))?;
        let r = runner.run_form(form, &tests, &meta, &diffs, keep);
        println!(
            "{:<8} {:>7} {:>7} {:>7}",
            r.form, r.passed, r.failed, r.listed
        );
        for (idx, name, d) in &r.failures {
            println!("  FAIL {form} #{idx} {name}");
            for line in d {
                println!("    {line}");
            }
        }
        results.push(r);
    }
    let mut by_rule = vec![0u32; diffs.rules.len()];
    for r in &results {
        for &(k, n) in &r.listed_by_rule {
            by_rule[k] += n;
        }
    }
    for (rule, n) in diffs.rules.iter().zip(by_rule) {
        if n > 0 {
            println!("listed {n:>6}  {}", rule.spec);
        }
    }
    let (p, f, l) = totals(&results);
    println!("vectors: {p} passed, {f} failed, {l} listed as 286/i686 differences");
    Ok(if f == 0 { 0 } else { 1 })
}
