//! The fuzz targets' checks (`fuzz/checks/`) over their committed seeds and seeded mutations of them, as
//! ordinary tests: the same code libFuzzer runs in `scripts/fuzz`, on every test run (see the `fuzz-seeds` crate).

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks/prompt.rs"]
mod prompt;

#[path = "../../fuzz/checks/modelpack_manifest.rs"]
mod modelpack_manifest;

#[path = "../../fuzz/checks/modelpack_tar.rs"]
mod modelpack_tar;

/// Folders relative to the crate.
fn dirs(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(n)).collect()
}

#[test]
fn prompt_seeds() {
    fuzz_seeds::run("prompt", &dirs(&["fuzz/seeds/prompt"]), 128, prompt::check);
}

#[test]
fn modelpack_manifest_seeds() {
    fuzz_seeds::run("modelpack_manifest", &dirs(&["fuzz/seeds/modelpack_manifest"]), 128, modelpack_manifest::check);
}

#[test]
fn modelpack_tar_seeds() {
    fuzz_seeds::run("modelpack_tar", &dirs(&["fuzz/seeds/modelpack_tar"]), 32, modelpack_tar::check);
}
