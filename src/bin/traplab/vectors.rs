//! `traplab vectors DIR`: runs SingleStepTests-style CPU vectors (`*.json` / `*.json.gz`,
//! one file per instruction form, with `metadata.json` and `i686-differences.txt` beside
//! them) and prints a per-form table and a total. Reading files and printing live here;
//! running and comparing is `traplab::debug::vectors`, shared with `tests/vectors.rs`.
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};
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
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the directory", dir.display()))?;
    for e in entries {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(form) = form_of_file(name) {
            v.push((form, p));
        }
    }
    v.sort();
    Ok(v)
}

/// Largest vector file read (compressed or not); gzip output is bounded by the library.
const MAX_FILE: u64 = 64 << 20;

/// Reads a file beside the vectors, if it is there: (contents, its path for messages).
fn read_optional(dir: &Path, name: &str) -> anyhow::Result<Option<(String, PathBuf)>> {
    let p = dir.join(name);
    match std::fs::read(&p) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Ok(Some((s, p))),
            Err(_) => anyhow::bail!("{}: not UTF-8 text", p.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("{}: cannot read", p.display()))),
    }
}

/// Reads one vector file, at most `MAX_FILE` bytes.
fn read_vector_file(p: &Path) -> anyhow::Result<Vec<u8>> {
    let f = std::fs::File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
    let mut data = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("{}: cannot read", p.display()))?;
    anyhow::ensure!(
        data.len() as u64 <= MAX_FILE,
        "{}: more than {} MiB is too big for a test-vector file",
        p.display(),
        MAX_FILE >> 20
    );
    Ok(data)
}

pub fn main(a: VectorArgs) -> anyhow::Result<u8> {
    let meta = match read_optional(&a.dir, "metadata.json")? {
        Some((s, p)) => Metadata::parse(&s).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        None => Metadata::default(),
    };
    let diffs = match read_optional(&a.dir, "i686-differences.txt")? {
        Some((s, p)) => {
            Differences::parse(&s).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => Differences::default(),
    };
    let mut files = vector_files(&a.dir)?;
    if let Some(f) = &a.form {
        let f = f.to_ascii_uppercase();
        files.retain(|(form, _)| *form == f);
        anyhow::ensure!(
            !files.is_empty(),
            "--form {f}: no vector file for it in {}",
            a.dir.display()
        );
    }
    anyhow::ensure!(!files.is_empty(), "no vector files in {}", a.dir.display());
    let keep = if a.verbose { usize::MAX } else { 0 };
    let mut runner = Runner::new();
    let mut results: Vec<FormResult> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed pipe (`traplab vectors DIR | head`) is an error that says where it was.
    macro_rules! say {
        ($($t:tt)*) => {
            writeln!(out, $($t)*).context("cannot write to standard output")?
        };
    }
    say!(
        "{:<8} {:>7} {:>7} {:>7}",
        "form",
        "passed",
        "failed",
        "listed"
    );
    for (form, path) in &files {
        let data = read_vector_file(path)?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let tests =
            parse_tests(&data, gz).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let r = runner.run_form(form, &tests, &meta, &diffs, keep);
        say!(
            "{:<8} {:>7} {:>7} {:>7}",
            r.form,
            r.passed,
            r.failed,
            r.listed
        );
        for (idx, name, d) in &r.failures {
            say!("  FAIL {form} #{idx} {name}");
            for line in d {
                say!("    {line}");
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
            say!("listed {n:>6}  {}", rule.spec);
        }
    }
    let (p, f, l) = totals(&results);
    say!("vectors: {p} passed, {f} failed, {l} listed as 286/i686 differences");
    Ok(if f == 0 { 0 } else { 1 })
}
