//! Fuzzes the ThreeMf reader directly (no detection), checking limits hold on success.
//!
//! The check of the `threemf` fuzz target: libFuzzer runs it (`fuzz_targets/threemf.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use mesh::io::{read_as, Format, Limits};

pub fn check(data: &[u8]) {
    let limits = Limits { max_triangles: 100_000, max_uncompressed_bytes: 16 << 20, max_depth: 32, max_objects: 1_000 };
    if let Ok(model) = read_as(data, Format::ThreeMf, &limits) {
        assert!(model.triangle_count() <= limits.max_triangles);
        assert!(model.objects.len() <= limits.max_objects);
    }
}
