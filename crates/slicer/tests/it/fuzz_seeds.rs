//! The fuzz targets' checks (`fuzz/checks/`) over their committed seeds and seeded mutations of them, as
//! ordinary tests: the same code libFuzzer runs in `scripts/fuzz`, on every test run (see the `fuzz-seeds` crate).

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks/prusa_ini.rs"]
mod prusa_ini;

#[path = "../../fuzz/checks/profile_toml.rs"]
mod profile_toml;

#[path = "../../fuzz/checks/slice_mesh.rs"]
mod slice_mesh;

/// Folders relative to the crate.
fn dirs(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(n)).collect()
}

#[test]
fn prusa_ini_seeds() {
    fuzz_seeds::run("prusa_ini", &dirs(&["profiles/tests"]), 64, prusa_ini::check);
}

#[test]
fn profile_toml_seeds() {
    fuzz_seeds::run(
        "profile_toml",
        &dirs(&["profiles/printers", "profiles/materials", "profiles/qualities"]),
        32,
        profile_toml::check,
    );
}

#[test]
fn slice_mesh_seeds() {
    fuzz_seeds::run("slice_mesh", &dirs(&["fuzz/seeds/slice_mesh"]), 24, slice_mesh::check);
}
