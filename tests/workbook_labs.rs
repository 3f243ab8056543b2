//! Runs the workbook's labs: every ```` ```console ```` block of `workbook/src/*.md` is a
//! trycmd case. Each `$ traplab ...` line is executed with the repository root as working
//! directory (no `X.in` folder exists next to the chapters), and its output (stdout and stderr
//! merged, as trycmd does for Markdown) and exit status (`? N`, success when absent) must match
//! the book; `[..]` stands for the variable part of a line (wall time, MIPS) and `...` for
//! omitted lines. So a change in Traplab that breaks a lab fails this test.
//!
//! The blocks of one chapter run in order, so a lab may save a snapshot and load it in a later
//! command of the same chapter; chapters may run in parallel, so each one uses its own
//! snapshot names, always under `target/` (never in the source tree). The format rules for the
//! blocks are checked by `tests/workbook_build.rs`.
//!
//! To re-record after an intended change of the CLI's output: `TRYCMD=overwrite cargo test
//! --test workbook_labs`, then restore the wildcards and review the diff of the Spanish text.

use std::path::Path;

#[test]
fn workbook_labs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The snapshot labs write into target/, which may not exist when CARGO_TARGET_DIR points
    // elsewhere.
    std::fs::create_dir_all(root.join("target")).expect("cannot create target/");
    trycmd::TestCases::new()
        .register_bin("traplab", Path::new(env!("CARGO_BIN_EXE_traplab")))
        .case("workbook/src/*.md");
}
