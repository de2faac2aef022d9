//! The finishing path end to end: analytic fields and meshes in, printable meshes and files out.

use std::f64::consts::PI;

use genai::finish::{self, Axis, BaseMode, ExportFormat, FinishError, FinishOptions, Finished, RawShape};
use mesh::io::Limits;
use mesh::marching_cubes::SdfGrid;
use mesh::{Aabb, IndexedMesh};
use proptest::prelude::*;

/// Samples `f` (negative inside) on `n`³ points spanning [-1, 1]³, like Shap-E's grid.
fn cube_grid(n: usize, f: impl Fn([f32; 3]) -> f32) -> SdfGrid {
    let spacing = 2.0 / (n - 1) as f32;
    let mut values = Vec::with_capacity(n * n * n);
    for z in 0..n {
        for y in 0..n {
            for x in 0..n {
                values.push(f([x, y, z].map(|i| -1.0 + spacing * i as f32)));
            }
        }
    }
    SdfGrid::new([n; 3], [-1.0; 3], spacing, values).unwrap()
}

fn len(p: [f32; 3]) -> f32 {
    (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt()
}

fn sphere(c: [f32; 3], r: f32) -> impl Fn([f32; 3]) -> f32 {
    move |p| len([p[0] - c[0], p[1] - c[1], p[2] - c[2]]) - r
}

fn boxed(c: [f32; 3], half: [f32; 3]) -> impl Fn([f32; 3]) -> f32 {
    move |p| {
        let q: [f32; 3] = std::array::from_fn(|i| (p[i] - c[i]).abs() - half[i]);
        len(q.map(|v| v.max(0.0))) + q[0].max(q[1]).max(q[2]).min(0.0)
    }
}

fn field(grid: SdfGrid) -> RawShape {
    RawShape::Field { grid, up: Axis::Z }
}

fn opts(base: BaseMode) -> FinishOptions {
    FinishOptions { target_size_mm: Some(60.0), base, ..FinishOptions::default() }
}

/// The invariants every finished object has.
fn assert_printable(f: &Finished) {
    let r = &f.report;
    assert!(r.printable, "{:?}", r.reasons);
    assert!(r.watertight && r.manifold && r.consistently_oriented, "{r:?}");
    assert_eq!(r.shell_count, 1, "steps: {:?}", f.steps);
    let b = f.mesh.bounding_box().unwrap();
    assert!(b.min[2].abs() < 1e-4, "on the bed: {b:?}");
    assert!((b.min[0] + b.max[0]).abs() < 1e-3 && (b.min[1] + b.max[1]).abs() < 1e-3, "centred: {b:?}");
}

fn largest(f: &Finished) -> f32 {
    f.mesh.bounding_box().unwrap().size().iter().copied().fold(0.0, f32::max)
}

/// Area (mm²) of the triangles lying flat on the bed.
fn contact_area(m: &IndexedMesh) -> f64 {
    let v = m.vertices();
    m.triangles()
        .iter()
        .filter(|t| t.iter().all(|&i| v[i as usize][2].abs() < 1e-4))
        .map(|t| {
            let [a, b, c] = t.map(|i| v[i as usize].map(f64::from));
            let (u, w) = ([b[0] - a[0], b[1] - a[1]], [c[0] - a[0], c[1] - a[1]]);
            0.5 * (u[0] * w[1] - u[1] * w[0]).abs()
        })
        .sum()
}

#[test]
fn sphere_volume_within_one_percent() {
    let f = finish::finish(field(cube_grid(64, sphere([0.0; 3], 0.8))), &opts(BaseMode::None)).unwrap();
    assert_printable(&f);
    assert!((largest(&f) - 60.0).abs() < 1e-3);
    let exact = 4.0 / 3.0 * PI * 30f64.powi(3);
    let err = (f.report.volume_mm3 - exact) / exact;
    assert!(err.abs() < 0.01, "volume {} vs {exact}: {err:+.4}", f.report.volume_mm3);
    // A 60 mm sphere at 0.4 mm voxels is ~200k triangles before simplification.
    assert!(f.report.triangle_count <= 100_000 * 3 / 2, "{}", f.report.triangle_count);
}

#[test]
fn torus_volume_within_one_percent() {
    let (big, small) = (0.6f32, 0.25f32);
    let torus = move |p: [f32; 3]| {
        let q = (p[0] * p[0] + p[1] * p[1]).sqrt() - big;
        (q * q + p[2] * p[2]).sqrt() - small
    };
    let f = finish::finish(field(cube_grid(80, torus)), &opts(BaseMode::None)).unwrap();
    assert_printable(&f);
    let s = 60.0 / (2.0 * f64::from(big + small)); // mm per unit
    let exact = 2.0 * PI * PI * f64::from(big) * f64::from(small).powi(2) * s.powi(3);
    let err = (f.report.volume_mm3 - exact) / exact;
    assert!(err.abs() < 0.01, "volume {} vs {exact}: {err:+.4}", f.report.volume_mm3);
}

#[test]
fn floating_speck_is_removed() {
    let (a, b) = (sphere([-0.1, 0.0, 0.0], 0.6), sphere([0.85, 0.85, 0.85], 0.06));
    let f = finish::finish(field(cube_grid(64, move |p| a(p).min(b(p)))), &opts(BaseMode::None)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s == "removed 1 floating piece"), "{:?}", f.steps);
    // The speck did not count towards the size either: the ball alone is 60 mm.
    let exact = 4.0 / 3.0 * PI * 30f64.powi(3);
    assert!((f.report.volume_mm3 - exact).abs() / exact < 0.01);
}

#[test]
fn hidden_cavity_is_filled() {
    let shell = |p: [f32; 3]| (len(p) - 0.8).max(0.5 - len(p));
    let f = finish::finish(field(cube_grid(64, shell)), &opts(BaseMode::None)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s == "filled 1 hidden cavity"), "{:?}", f.steps);
    let exact = 4.0 / 3.0 * PI * 30f64.powi(3);
    assert!((f.report.volume_mm3 - exact).abs() / exact < 0.01, "{}", f.report.volume_mm3);
}

/// A plate 60 mm × 37.5 mm × 0.3 mm at print scale (1 unit = 37.5 mm).
const PLATE_HALF: f32 = 0.15 / 37.5;

#[test]
fn thin_standing_plate_is_thickened_to_the_minimum_wall() {
    let plate = boxed([0.0; 3], [0.8, PLATE_HALF, 0.5]);
    let f = finish::finish(field(cube_grid(129, plate)), &opts(BaseMode::Auto)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.starts_with("thickened")), "{:?}", f.steps);
    // Thickness: the y-extent of a slab through the middle, away from the edges.
    let ys: Vec<f32> =
        f.mesh.vertices().iter().filter(|v| v[0].abs() < 20.0 && (10.0..25.0).contains(&v[2])).map(|v| v[1]).collect();
    assert!(!ys.is_empty());
    let t = ys.iter().copied().fold(f32::MIN, f32::max) - ys.iter().copied().fold(f32::MAX, f32::min);
    assert!((1.2..2.0).contains(&t), "thickness {t} mm");
}

#[test]
fn thin_lying_plate_is_thickened_and_stays_flat() {
    let plate = boxed([0.0; 3], [0.8, 0.5, PLATE_HALF]);
    let f = finish::finish(field(cube_grid(129, plate)), &opts(BaseMode::Auto)).unwrap();
    assert_printable(&f);
    let b = f.mesh.bounding_box().unwrap();
    assert!((1.2..2.0).contains(&b.size()[2]), "thickness {:?}", b.size());
    assert!(contact_area(&f.mesh) > 0.8 * 60.0 * 37.5, "{}", contact_area(&f.mesh));
}

#[test]
fn sphere_on_its_pole_gets_a_flat_bottom() {
    let f = finish::finish(field(cube_grid(64, sphere([0.0; 3], 0.8))), &opts(BaseMode::Auto)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.contains("flat base")), "{:?}", f.steps);
    let a = contact_area(&f.mesh);
    assert!(a > 60.0, "contact {a} mm²");
    // Only a sliver was cut.
    let exact = 4.0 / 3.0 * PI * 30f64.powi(3);
    assert!(f.report.volume_mm3 > 0.98 * exact);
}

#[test]
fn lollipop_gets_a_plinth() {
    let head = sphere([0.0, 0.0, 0.35], 0.5);
    let stick = move |p: [f32; 3]| ((p[0] * p[0] + p[1] * p[1]).sqrt() - 0.05).max((p[2] + 0.2).abs() - 0.7);
    let f = finish::finish(field(cube_grid(96, move |p| head(p).min(stick(p)))), &opts(BaseMode::Auto)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.contains("base under it")), "{:?}", f.steps);
    // The stick alone touches ~7 mm²; the plinth spans the head's shadow.
    assert!(contact_area(&f.mesh) > 400.0, "{}", contact_area(&f.mesh));
}

#[test]
fn flatten_mode_never_adds_a_plinth() {
    let head = sphere([0.0, 0.0, 0.35], 0.5);
    let stick = move |p: [f32; 3]| ((p[0] * p[0] + p[1] * p[1]).sqrt() - 0.05).max((p[2] + 0.2).abs() - 0.7);
    let f = finish::finish(field(cube_grid(96, move |p| head(p).min(stick(p)))), &opts(BaseMode::Flatten)).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.contains("brim")), "{:?}", f.steps);
    assert!(!f.steps.iter().any(|s| s.contains("base under it")));
    assert!(contact_area(&f.mesh) < 100.0);
}

#[test]
fn a_field_that_is_not_a_distance_gives_the_same_shape() {
    // Shap-E's values are not distances: a squared, scaled field with the same zero level.
    let f = finish::finish(field(cube_grid(64, |p| 50.0 * (len(p).powi(2) - 0.64))), &opts(BaseMode::None)).unwrap();
    assert_printable(&f);
    let exact = 4.0 / 3.0 * PI * 30f64.powi(3);
    assert!((f.report.volume_mm3 - exact).abs() / exact < 0.01, "{}", f.report.volume_mm3);
}

#[test]
fn target_size_and_up_axis_are_respected() {
    // A cylinder along the grid's y axis: with y up it stands, 40 mm tall.
    let cyl = |p: [f32; 3]| ((p[0] * p[0] + p[2] * p[2]).sqrt() - 0.3).max(p[1].abs() - 0.8);
    let o = FinishOptions { target_size_mm: Some(40.0), ..FinishOptions::default() };
    let f = finish::finish(RawShape::Field { grid: cube_grid(64, cyl), up: Axis::Y }, &o).unwrap();
    assert_printable(&f);
    let s = f.mesh.bounding_box().unwrap().size();
    assert!((s[2] - 40.0).abs() < 0.4, "{s:?}");
    assert!((s[0] - 15.0).abs() < 0.8 && (s[1] - 15.0).abs() < 0.8, "{s:?}");
}

#[test]
fn decimation_stays_watertight() {
    let o = FinishOptions { max_triangles: 20_000, ..opts(BaseMode::None) };
    let f = finish::finish(field(cube_grid(64, sphere([0.0; 3], 0.8))), &o).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.starts_with("simplified")), "{:?}", f.steps);
    assert!(f.report.triangle_count <= 30_000, "{}", f.report.triangle_count);
}

/// Noise, as untrained or badly sampled weights give: the result is still one printable shell of a
/// sensible size (rebuilt from coarser voxels) rather than millions of triangles.
#[test]
fn a_rough_field_is_rebuilt_coarser_to_a_sensible_size() {
    let mut state = 0x2545_f491_u32;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let values: Vec<f32> = (0..48 * 48 * 48).map(|_| noise() * 0.5 - 0.15).collect();
    let grid = SdfGrid::new([48; 3], [-1.0; 3], 2.0 / 47.0, values).unwrap();
    let o = FinishOptions { max_triangles: 20_000, ..opts(BaseMode::Auto) };
    let f = finish::finish(field(grid), &o).unwrap();
    assert_printable(&f);
    assert!(f.report.triangle_count <= 6 * 20_000, "{} triangles; {:?}", f.report.triangle_count, f.steps);
    assert!(f.steps.iter().any(|s| s.contains("very rough")), "{:?}", f.steps);
}

#[test]
fn empty_field_is_a_plain_error() {
    let err = finish::finish(field(cube_grid(16, |_| 1.0)), &FinishOptions::default()).unwrap_err();
    assert!(matches!(err, FinishError::Empty));
    assert!(err.to_string().contains("nothing solid"));
}

#[test]
fn open_mesh_is_repaired_and_scaled() {
    let (v, mut t) = IndexedMesh::cube(10.0).into_parts();
    t.pop();
    let o = FinishOptions { target_size_mm: Some(20.0), ..FinishOptions::default() };
    let f = finish::finish(RawShape::Mesh(IndexedMesh::new(v, t).unwrap()), &o).unwrap();
    assert_printable(&f);
    assert!(f.steps.iter().any(|s| s.starts_with("repaired")), "{:?}", f.steps);
    assert!((largest(&f) - 20.0).abs() < 1e-4);
}

#[test]
fn exports_round_trip_and_thumbnail_is_png() {
    let o = FinishOptions { target_size_mm: Some(30.0), max_triangles: 5_000, ..FinishOptions::default() };
    let f = finish::finish(field(cube_grid(40, sphere([0.0; 3], 0.8))), &o).unwrap();
    let bb = f.mesh.bounding_box().unwrap();
    for format in [ExportFormat::ThreeMf, ExportFormat::Stl, ExportFormat::Glb] {
        let bytes = f.export("ball", format, Some([200, 40, 40, 255])).unwrap();
        let model = mesh::io::read(&bytes, Some(&format!("ball.{}", format.extension())), &Limits::default()).unwrap();
        let m = model.merged();
        assert_eq!(m.triangle_count(), f.mesh.triangle_count(), "{format:?}");
        if format != ExportFormat::Stl {
            assert_eq!(m.vertices().len(), f.mesh.vertices().len(), "{format:?}");
        }
        let b: Aabb = m.bounding_box().unwrap();
        for k in 0..3 {
            assert!((b.min[k] - bb.min[k]).abs() < 1e-3 && (b.max[k] - bb.max[k]).abs() < 1e-3, "{format:?}");
        }
        if format == ExportFormat::ThreeMf {
            assert_eq!(model.objects[0].colour, Some([200, 40, 40, 255]));
        }
    }
    let png = f.thumbnail_png(64, 48).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
}

/// A random solid: a union of up to four spheres and boxes somewhere in the cube.
fn blob() -> impl Strategy<Value = Vec<(bool, [f32; 3], [f32; 3])>> {
    prop::collection::vec(
        (any::<bool>(), prop::array::uniform3(-0.7f32..0.7), prop::array::uniform3(0.02f32..0.4)),
        1..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_unions_finish_or_fail_plainly(
        parts in blob(),
        size in 15.0f32..90.0,
        base in 0usize..3,
        up in 0usize..3,
        min_wall in prop::sample::select(vec![0.0f32, 0.8, 1.2, 2.0]),
    ) {
        let f = move |p: [f32; 3]| {
            parts
                .iter()
                .map(|&(is_ball, c, s)| if is_ball { sphere(c, s[0])(p) } else { boxed(c, s)(p) })
                .fold(f32::INFINITY, f32::min)
        };
        let base = [BaseMode::Auto, BaseMode::Flatten, BaseMode::None][base];
        let o = FinishOptions { target_size_mm: Some(size), base, min_wall_mm: min_wall, ..FinishOptions::default() };
        let up = [Axis::X, Axis::Y, Axis::Z][up];
        match finish::finish(RawShape::Field { grid: cube_grid(40, f), up }, &o) {
            Ok(done) => {
                assert_printable(&done);
                prop_assert!((largest(&done) - size).abs() < 0.01 * size);
            }
            Err(FinishError::Empty) | Err(FinishError::NotPrintable(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }
}
