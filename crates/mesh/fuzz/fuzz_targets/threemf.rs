//! Fuzzes the ThreeMf reader directly (no detection), checking limits hold on success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh::io::{read_as, Format, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_triangles: 100_000, max_uncompressed_bytes: 16 << 20, max_depth: 32, max_objects: 1_000 };
    if let Ok(model) = read_as(data, Format::ThreeMf, &limits) {
        assert!(model.triangle_count() <= limits.max_triangles);
        assert!(model.objects.len() <= limits.max_objects);
    }
});
