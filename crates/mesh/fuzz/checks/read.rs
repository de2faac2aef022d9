//! Fuzzes format detection plus every reader through `read`, with each extension hint.
//!
//! The check of the `read` fuzz target: libFuzzer runs it (`fuzz_targets/read.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use mesh::io::{read, Limits};

pub fn check(data: &[u8]) {
    let limits = Limits { max_triangles: 100_000, max_uncompressed_bytes: 16 << 20, max_depth: 32, max_objects: 1_000 };
    let (hint, data) = match data.split_first() {
        Some((h, rest)) => {
            ([None, Some("stl"), Some("3mf"), Some("glb"), Some("gltf"), Some("obj")][*h as usize % 6], rest)
        }
        None => (None, data),
    };
    if let Ok(model) = read(data, hint, &limits) {
        assert!(model.triangle_count() <= limits.max_triangles);
        assert!(model.objects.len() <= limits.max_objects);
    }
}
