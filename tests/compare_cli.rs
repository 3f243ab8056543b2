//! `traplab compare`'s command line: the table's format, CSV, and one clear line for bad
//! flags (`tests/cmd/compare.trycmd`; numbers are elided there, `emulator/tests/compare.rs`
//! checks them). Re-record after an intended change of the format with `TRYCMD=overwrite
//! cargo test --test compare_cli`, then restore the `[..]` wildcards.

use std::path::Path;

#[test]
fn compare_cli() {
    trycmd::TestCases::new()
        .register_bin("traplab", Path::new(env!("CARGO_BIN_EXE_traplab")))
        .case("tests/cmd/compare.trycmd");
}
