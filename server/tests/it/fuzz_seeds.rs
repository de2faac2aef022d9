//! The fuzz targets' checks (`fuzz/checks/`) over their committed seeds and seeded mutations of them, as
//! ordinary tests: the same code libFuzzer runs in `scripts/fuzz`, on every test run (see the `fuzz-seeds` crate).

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks/api_request.rs"]
mod api_request;

#[path = "../../fuzz/checks/model_upload.rs"]
mod model_upload;

#[path = "../../fuzz/checks/gcode_preview.rs"]
mod gcode_preview;

/// Folders relative to the crate.
fn dirs(names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(n)).collect()
}

#[test]
fn api_request_seeds() {
    fuzz_seeds::run("api_request", &dirs(&["fuzz/seeds/api_request"]), 12, api_request::check);
}

#[test]
fn model_upload_seeds() {
    fuzz_seeds::run("model_upload", &dirs(&["../crates/mesh/tests/corpus/good"]), 16, model_upload::check);
}

#[test]
fn gcode_preview_seeds() {
    fuzz_seeds::run("gcode_preview", &dirs(&["fuzz/seeds/gcode_preview"]), 64, gcode_preview::check);
}
