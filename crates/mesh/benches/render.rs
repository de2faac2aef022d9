//! Timing of the thumbnail renderer and marching cubes: `cargo bench -p mesh --bench render`.
//! Plain `Instant` timing (no criterion): median of several runs, printed one line per case.

use std::time::{Duration, Instant};

use mesh::marching_cubes::{marching_cubes, SdfGrid};
use mesh::primitives::torus;
use mesh::thumbnail::{render, render_png, Shading, ThumbnailOptions};
use mesh::Aabb;

/// Runs of each case; the median is reported, which ignores the first (cold-cache) run.
const RUNS: usize = 7;
/// Goal from issue 3 for a 1,000,000-triangle thumbnail at 256x256.
const THUMBNAIL_GOAL: Duration = Duration::from_millis(300);

fn median_of<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    (times[RUNS / 2], last.expect("RUNS > 0"))
}

fn main() {
    let mesh = torus(40.0, 15.0, 1000, 500);
    let default = ThumbnailOptions::sized(256, 256);
    let cases = [
        ("default (smooth, supersample 2, edges)", default.clone()),
        ("supersample 1", ThumbnailOptions { supersample: 1, ..default.clone() }),
        ("flat shading", ThumbnailOptions { shading: Shading::Flat, ..default.clone() }),
        ("with bed shadow", ThumbnailOptions { shadow: true, ..default.clone() }),
        ("220x124", ThumbnailOptions::sized(220, 124)),
        ("32x32", ThumbnailOptions::sized(32, 32)),
    ];
    for (name, opts) in cases {
        let (t, img) = median_of(|| render(&mesh, &opts).expect("torus renders"));
        let verdict = if t < THUMBNAIL_GOAL { "ok" } else { "SLOWER THAN GOAL" };
        println!(
            "thumbnail {} triangles {}x{} {name}: median {:.1} ms ({verdict}, goal {} ms), {} px drawn",
            mesh.triangle_count(),
            opts.width,
            opts.height,
            t.as_secs_f64() * 1e3,
            THUMBNAIL_GOAL.as_millis(),
            img.pixels().filter(|p| p.0[3] > 0).count()
        );
    }
    // Set MESH_BENCH_PNG_DIR to look at what was timed.
    if let Some(dir) = std::env::var_os("MESH_BENCH_PNG_DIR") {
        let png = render_png(&mesh, &default).expect("torus renders");
        std::fs::write(std::path::Path::new(&dir).join("torus-1m.png"), png).expect("PNG dir is writable");
    }

    let bounds = Aabb { min: [-1.0; 3], max: [1.0; 3] };
    // `sample` takes ceil(2 / spacing) + 3 samples per axis (one margin sample on each side):
    // 124.5 steps round up to 125, giving a 128³ grid without depending on float rounding.
    let spacing = 2.0 / 124.5;
    let gyroid_ball = |p: [f32; 3]| {
        let k = 6.0;
        let g = (k * p[0]).sin() * (k * p[1]).cos()
            + (k * p[1]).sin() * (k * p[2]).cos()
            + (k * p[2]).sin() * (k * p[0]).cos();
        let ball = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - 0.95;
        (g.abs() - 0.3).max(ball)
    };
    let (t_sample, grid) = median_of(|| SdfGrid::sample(bounds, spacing, gyroid_ball).expect("grid fits"));
    assert_eq!(grid.dims, [128; 3]);
    let (t_mc, m) = median_of(|| marching_cubes(&grid));
    println!(
        "marching cubes {:?} grid (gyroid in a ball): sample median {:.1} ms, extract median {:.1} ms, {} triangles",
        grid.dims,
        t_sample.as_secs_f64() * 1e3,
        t_mc.as_secs_f64() * 1e3,
        m.triangle_count()
    );
    let sphere = |p: [f32; 3]| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - 0.9;
    let grid = SdfGrid::sample(bounds, spacing, sphere).expect("grid fits");
    let (t_mc, m) = median_of(|| marching_cubes(&grid));
    println!(
        "marching cubes {:?} grid (sphere): extract median {:.1} ms, {} triangles",
        grid.dims,
        t_mc.as_secs_f64() * 1e3,
        m.triangle_count()
    );
}
