//! The fuzz targets' checks (`fuzz/checks/`) over their committed seeds and seeded mutations of them, as
//! ordinary tests: the same code libFuzzer runs in `scripts/fuzz`, on every test run (see the `fuzz-seeds` crate).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks/read.rs"]
mod read;

#[path = "../../fuzz/checks/stl.rs"]
mod stl;

#[path = "../../fuzz/checks/threemf.rs"]
mod threemf;

#[path = "../../fuzz/checks/gltf.rs"]
mod gltf;

#[path = "../../fuzz/checks/obj.rs"]
mod obj;

/// Folders relative to the crate.
fn dirs(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(n)).collect()
}

#[test]
fn read_seeds() {
    fuzz_seeds::run("read", &dirs(&["tests/corpus/good", "tests/corpus/bad"]), 64, read::check);
}

#[test]
fn stl_seeds() {
    fuzz_seeds::run("stl", &dirs(&["tests/corpus/good", "tests/corpus/bad"]), 32, stl::check);
}

#[test]
fn threemf_seeds() {
    fuzz_seeds::run("threemf", &dirs(&["tests/corpus/good", "tests/corpus/bad"]), 32, threemf::check);
}

#[test]
fn gltf_seeds() {
    fuzz_seeds::run("gltf", &dirs(&["tests/corpus/good", "tests/corpus/bad"]), 32, gltf::check);
}

#[test]
fn obj_seeds() {
    fuzz_seeds::run("obj", &dirs(&["tests/corpus/good", "tests/corpus/bad"]), 32, obj::check);
}
