//! The editor's plate operations on a 1,000,000-triangle closed sphere, natively (criterion): the
//! placed bounds (place on bed, and every transform's feedback), a pick ray, lay flat on a face and
//! a horizontal cut, and the check for holes each cut runs on its halves. The same operations are
//! timed in wasm by `end2end/bench/editor-frames.mjs`.
//!
//! Run: `cargo bench -p mesh --bench editor_ops`.

use criterion::{criterion_group, criterion_main, Criterion};
use glam::{Mat4, Quat, Vec3};
use mesh::ops::placed::{drop_to_bed, lay_flat_rotation, placed_bounds, raycast};
use mesh::ops::{cut, Plane};
use mesh::primitives::uv_sphere;
use mesh::topology::{is_closed, EdgeMap};

fn editor_ops(c: &mut Criterion) {
    // 2 · 1000 · 500 = 1,000,000 triangles.
    let sphere = uv_sphere(50.0, 1000, 501);
    assert_eq!(sphere.triangle_count(), 1_000_000);
    let placement = Mat4::from_scale_rotation_translation(
        Vec3::splat(1.2),
        Quat::from_rotation_z(0.4),
        Vec3::new(110.0, 110.0, 30.0),
    );
    let mut g = c.benchmark_group("editor 1M triangles");
    g.sample_size(10);
    g.bench_function("placed bounds (transform feedback)", |b| b.iter(|| placed_bounds(&sphere, &placement)));
    g.bench_function("place on bed", |b| b.iter(|| drop_to_bed(&sphere, &placement)));
    g.bench_function("pick ray", |b| b.iter(|| raycast(&sphere, &placement, [110.0, 110.0, 500.0], [0.0, 0.0, -1.0])));
    g.bench_function("lay flat on a face", |b| {
        b.iter(|| {
            let q = lay_flat_rotation(&sphere, &placement, 123_456).unwrap();
            drop_to_bed(&sphere, &(Mat4::from_quat(q) * placement))
        })
    });
    let mut placed = sphere.clone();
    placed.transform(&placement);
    g.bench_function("cut at half height", |b| b.iter(|| cut(&placed, &Plane::horizontal(30.0)).unwrap()));
    // Every cut checks both halves for holes: the linear check against the sorted edge map.
    let n = sphere.vertices().len();
    g.bench_function("closed check (linear)", |b| b.iter(|| is_closed(sphere.triangles(), n)));
    g.bench_function("closed check (edge map)", |b| {
        b.iter(|| {
            let e = EdgeMap::new(&sphere);
            e.boundary_edges().is_empty() && e.non_manifold_edges().is_empty()
        })
    });
    g.finish();
}

criterion_group!(benches, editor_ops);
criterion_main!(benches);
