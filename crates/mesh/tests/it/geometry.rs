//! Property tests for the geometry operations: transforms keep volume and area, lay-flat, cut,
//! repair and decimation behave on procedurally built solids.
#![cfg(not(target_arch = "wasm32"))]

use mesh::ops::{self, cut, decimate, Plane};
use mesh::primitives::{box_mesh, cylinder, torus, uv_sphere};
use mesh::repair::{repair, RepairOptions};
use mesh::topology::EdgeMap;
use mesh::validate::validate;
use mesh::IndexedMesh;
use proptest::prelude::*;

fn closed(m: &IndexedMesh) -> bool {
    let e = EdgeMap::new(m);
    m.triangle_count() > 0
        && e.boundary_edges().is_empty()
        && e.non_manifold_edges().is_empty()
        && e.inconsistent_edges().is_empty()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn solid(kind: u8) -> IndexedMesh {
    match kind % 4 {
        0 => box_mesh([-3.0, -4.0, -5.0], [7.0, 6.0, 15.0]),
        1 => uv_sphere(12.0, 48, 24),
        2 => torus(15.0, 4.0, 48, 24),
        _ => cylinder(6.0, 20.0, 40),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn rigid_transforms_keep_volume_and_area(
        kind in 0u8..4, rx in -180f32..180.0, ry in -180f32..180.0, rz in -180f32..180.0,
        dx in -200f32..200.0, dy in -200f32..200.0, dz in -200f32..200.0,
    ) {
        let m0 = solid(kind);
        let mut m = m0.clone();
        ops::rotate_euler(&mut m, [rx, ry, rz]).unwrap();
        ops::translate(&mut m, [dx, dy, dz]);
        prop_assert!(rel(m.signed_volume(), m0.signed_volume()) < 1e-4, "{} vs {}", m.signed_volume(), m0.signed_volume());
        prop_assert!(rel(m.surface_area(), m0.surface_area()) < 1e-4);
        prop_assert!(validate(&m, None).printable);
    }

    #[test]
    fn scaling_multiplies_volume_and_mirroring_keeps_it_outward(
        kind in 0u8..4, sx in 0.2f32..3.0, sy in 0.2f32..3.0, sz in 0.2f32..3.0, mx in any::<bool>(), my in any::<bool>(),
    ) {
        let m0 = solid(kind);
        let mut m = m0.clone();
        let f = [if mx { -sx } else { sx }, if my { -sy } else { sy }, sz];
        ops::scale(&mut m, f).unwrap();
        let expect = m0.signed_volume() * f64::from(sx * sy * sz);
        prop_assert!(rel(m.signed_volume(), expect) < 1e-4, "{} vs {expect}", m.signed_volume());
        prop_assert!(closed(&m));
    }

    #[test]
    fn lay_flat_puts_the_face_on_the_bed_facing_down(
        face_seed in any::<u32>(), rx in -180f32..180.0, ry in -180f32..180.0, convex in 0u8..2,
    ) {
        let mut m = if convex == 0 { uv_sphere(10.0, 24, 12) } else { cylinder(5.0, 12.0, 20) };
        ops::rotate_euler(&mut m, [rx, ry, 0.0]).unwrap();
        let face = face_seed as usize % m.triangle_count();
        ops::lay_flat(&mut m, face).unwrap();
        let n = ops::face_normals(&m)[face];
        prop_assert!((n[2] + 1.0).abs() < 1e-3, "normal {n:?}");
        for &i in &m.triangles()[face] {
            prop_assert!(m.vertices()[i as usize][2].abs() < 1e-3, "{:?}", m.vertices()[i as usize]);
        }
        prop_assert!(m.bounding_box().unwrap().min[2] == 0.0);
    }

    #[test]
    fn cut_gives_two_closed_halves_with_the_same_total_volume(
        kind in 1u8..4, nx in -1f32..1.0, ny in -1f32..1.0, nz in 0.2f32..1.0, t in -0.6f32..0.6,
    ) {
        let m = solid(kind);
        let b = m.bounding_box().unwrap();
        let c = [0, 1, 2].map(|k| (b.min[k] + b.max[k]) * 0.5 + t * (b.max[k] - b.min[k]) * 0.5);
        let (lo, hi) = cut(&m, &Plane::through(c, [nx, ny, nz])).unwrap();
        for part in [&lo, &hi] {
            prop_assert!(part.triangle_count() == 0 || closed(part), "a half is open");
        }
        let total = lo.signed_volume() + hi.signed_volume();
        prop_assert!(rel(total, m.signed_volume()) < 1e-3, "{total} vs {}", m.signed_volume());
        prop_assert!(lo.signed_volume() >= 0.0 && hi.signed_volume() >= 0.0);
    }

    #[test]
    fn cut_through_a_ring_of_vertices_gives_two_closed_halves(kind in 1u8..4, ring_seed in any::<u32>()) {
        // The plane passes exactly through vertices (the height of one of them), so the section
        // is made of mesh vertices and section points mixed.
        let m = solid(kind);
        let z = m.vertices()[ring_seed as usize % m.vertices().len()][2];
        let (lo, hi) = cut(&m, &Plane::horizontal(z)).unwrap();
        for part in [&lo, &hi] {
            prop_assert!(part.triangle_count() == 0 || closed(part), "a half is open");
        }
        let total = lo.signed_volume() + hi.signed_volume();
        prop_assert!(rel(total, m.signed_volume()) < 1e-3, "{total} vs {}", m.signed_volume());
    }

    #[test]
    fn repair_restores_a_damaged_solid(
        kind in 0u8..4, remove_seed in any::<u32>(), flips in proptest::collection::vec(any::<u32>(), 0..20),
        dups in proptest::collection::vec(any::<u32>(), 0..5), inside_out in any::<bool>(),
    ) {
        let m0 = solid(kind);
        let n = m0.triangle_count();
        let mut tris = m0.triangles().to_vec();
        if inside_out {
            for t in &mut tris { t.swap(1, 2); }
        }
        for f in flips { tris[f as usize % n].swap(0, 1); }
        for d in dups { let t = tris[d as usize % n]; tris.push([t[2], t[1], t[0]]); }
        tris.remove(remove_seed as usize % n);
        let broken = IndexedMesh::new(m0.vertices().to_vec(), tris).unwrap();
        let (fixed, report) = repair(&broken, &RepairOptions::default());
        prop_assert!(report.is_clean(), "{report:?}");
        prop_assert!(closed(&fixed));
        prop_assert_eq!(fixed.triangle_count(), n);
        prop_assert!(rel(fixed.signed_volume(), m0.signed_volume()) < 1e-6);
        prop_assert!(validate(&fixed, None).printable);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any mesh at all (random corners, repeated indices, slivers, fins) goes through every
    /// operation without a panic, and repair's output is consistent with its report.
    #[test]
    fn weird_meshes_never_panic(
        verts in proptest::collection::vec(proptest::array::uniform3(-3i8..3), 1..14),
        tris in proptest::collection::vec(proptest::array::uniform3(0u32..14), 0..40),
        target in 0usize..20,
    ) {
        let v: Vec<[f32; 3]> = verts.iter().map(|p| p.map(|c| f32::from(c) * 0.5)).collect();
        let t: Vec<[u32; 3]> = tris.iter().map(|t| t.map(|i| i % v.len() as u32)).collect();
        let m = IndexedMesh::new(v, t).unwrap();
        let (fixed, report) = repair(&m, &RepairOptions::default());
        prop_assert_eq!(report.triangles_after, fixed.triangle_count());
        let r = validate(&fixed, Some([1.0, 1.0, 1.0]));
        prop_assert_eq!(r.printable, r.reasons.is_empty());
        let _ = validate(&m, None);
        let _ = decimate(&m, target);
        let _ = cut(&m, &Plane::horizontal(0.25));
        let _ = ops::split_shells(&m);
        let _ = ops::vertex_normals(&m);
        let mut laid = m.clone();
        let _ = ops::lay_flat(&mut laid, 0);
        let mut parts = vec![m.clone(), fixed];
        let _ = ops::arrange(&mut parts, [5.0, 5.0], 0.5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn decimation_keeps_a_sphere_volume_and_closure(target in 800usize..8000) {
        let s = uv_sphere(25.0, 128, 64);
        let d = decimate(&s, target);
        prop_assert!(d.triangle_count() <= target);
        prop_assert!(d.triangle_count() as f64 >= target as f64 * 0.9);
        prop_assert!(closed(&d));
        prop_assert!(rel(d.signed_volume(), s.signed_volume()) < 0.03);
    }
}

#[test]
fn too_tall_model_is_cut_into_two_printable_halves() {
    let tall = cylinder(20.0, 300.0, 64);
    let bed = [220.0, 220.0, 250.0];
    assert!(!validate(&tall, Some(bed)).printable);
    let (mut lo, mut hi) = cut(&tall, &Plane::horizontal(150.0)).unwrap();
    ops::place_on_bed(&mut hi);
    for part in [&lo, &hi] {
        let r = validate(part, Some(bed));
        assert!(r.printable, "{:?}", r.reasons);
    }
    ops::place_on_bed(&mut lo);
    let mut parts = vec![lo, hi];
    let report = ops::arrange(&mut parts, [220.0, 220.0], 5.0);
    assert_eq!(report.did_not_fit, Vec::<usize>::new());
}

#[test]
fn cut_annulus_cap_keeps_the_bore() {
    // A tube: a torus cut across its hole leaves ring-shaped caps, holes and all.
    let t = torus(20.0, 6.0, 64, 32);
    let (lo, hi) = cut(&t, &Plane::horizontal(0.0)).unwrap();
    assert!(closed(&lo) && closed(&hi));
    assert!(rel(lo.signed_volume(), hi.signed_volume()) < 1e-3);
    assert_eq!(ops::split_shells(&lo).len(), 1);
}
