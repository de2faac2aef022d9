//! The fuzz targets' checks (`fuzz/checks/`) over their committed seeds and seeded mutations of them, as
//! ordinary tests: the same code libFuzzer runs in `scripts/fuzz`, on every test run (see the `fuzz-seeds` crate).

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks/marlin_line.rs"]
mod marlin_line;

/// Folders relative to the crate.
fn dirs(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(n)).collect()
}

#[test]
fn marlin_line_seeds() {
    fuzz_seeds::run("marlin_line", &dirs(&["fuzz/seeds/marlin_line"]), 256, marlin_line::check);
}
