//! Voxel cleanup + marching cubes on a Shap-E-sized field: a 128³ samples of a blobby SDF (union of
//! spheres and a torus in [-1, 1]³), finished at 60 mm.
//!
//! `cargo bench -p genai --bench finish` prints the median time of each stage first, then criterion's
//! figures for the whole of cleanup + marching cubes (no decimation) and for decimation on its own.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use genai::finish::{finish, Axis, BaseMode, FinishOptions, RawShape};
use mesh::marching_cubes::SdfGrid;

const N: usize = 128;

fn blobby() -> SdfGrid {
    let spacing = 2.0 / (N - 1) as f32;
    let balls =
        [([0.0, 0.0, -0.1], 0.45), ([0.35, 0.1, 0.25], 0.3), ([-0.3, -0.2, 0.3], 0.28), ([0.0, 0.45, -0.3], 0.2)];
    let mut values = Vec::with_capacity(N * N * N);
    for z in 0..N {
        for y in 0..N {
            for x in 0..N {
                let p = [x, y, z].map(|i| -1.0 + spacing * i as f32);
                let mut d = f32::INFINITY;
                for (c, r) in balls {
                    let q = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
                    d = d.min((q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt() - r);
                }
                // A handle: torus around the x axis at the side.
                let (tx, ty, tz) = (p[0] + 0.55, p[1], p[2] - 0.05);
                let ring = (ty * ty + tz * tz).sqrt() - 0.3;
                d = d.min((ring * ring + tx * tx).sqrt() - 0.06);
                values.push(d);
            }
        }
    }
    SdfGrid::new([N; 3], [-1.0; 3], spacing, values).unwrap()
}

fn options(voxel_mm: f32) -> FinishOptions {
    FinishOptions {
        target_size_mm: Some(60.0),
        voxel_mm,
        base: BaseMode::Auto,
        max_triangles: usize::MAX,
        ..FinishOptions::default()
    }
}

fn stage_report(grid: &SdfGrid, voxel_mm: f32, label: &str) {
    let runs = 7;
    let mut per: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut tris = 0;
    for _ in 0..runs {
        let f = finish(RawShape::Field { grid: grid.clone(), up: Axis::Z }, &options(voxel_mm)).unwrap();
        tris = f.mesh.triangle_count();
        for (stage, ms) in f.timings {
            if !order.contains(&stage) {
                order.push(stage);
            }
            per.entry(stage).or_default().push(ms);
        }
    }
    println!("finish stages, {label} (median of {runs}, {tris} triangles):");
    let mut total = 0.0;
    for stage in order {
        let v = per.get_mut(stage).unwrap();
        v.sort_by(f64::total_cmp);
        let m = v[v.len() / 2];
        if stage != "validate" && stage != "decimate" {
            total += m;
        }
        println!("  {stage:<28} {m:8.1} ms");
    }
    println!("  {:<28} {total:8.1} ms", "cleanup + marching cubes");
}

fn bench(c: &mut Criterion) {
    let grid = blobby();
    stage_report(&grid, 0.4, "default 0.4 mm voxels, ~160³ working grid");
    stage_report(&grid, 60.0 / 118.0, "0.51 mm voxels, ~128³ working grid");
    let mut g = c.benchmark_group("finish_field_128");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("cleanup_mc_validate_0.4mm", |b| {
        b.iter(|| finish(RawShape::Field { grid: black_box(grid.clone()), up: Axis::Z }, &options(0.4)).unwrap())
    });
    let f = finish(RawShape::Field { grid: grid.clone(), up: Axis::Z }, &options(0.4)).unwrap();
    g.bench_function("decimate_to_100k", |b| b.iter(|| mesh::ops::decimate::decimate(black_box(&f.mesh), 100_000)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
