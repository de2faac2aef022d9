//! Procedural solids (box, UV sphere, cylinder, torus): closed, outward-facing meshes for tests,
//! benchmarks, placeholders and the procedural templates.

use std::f64::consts::TAU;

use crate::{IndexedMesh, Vec3};

/// An axis-aligned box from `min` to `max` (12 triangles, outward-facing).
pub fn box_mesh(min: Vec3, max: Vec3) -> IndexedMesh {
    let (vertices, triangles) = IndexedMesh::cube(1.0).into_parts();
    let vertices = vertices.into_iter().map(|v| [0, 1, 2].map(|i| if v[i] > 0.5 { max[i] } else { min[i] })).collect();
    IndexedMesh::new(vertices, triangles).unwrap_or_default()
}

/// A UV sphere centred on the origin: `segments` around z (at least 3) and `rings` from pole to
/// pole (at least 2); `2 * segments * (rings - 1)` triangles.
pub fn uv_sphere(radius: f32, segments: u32, rings: u32) -> IndexedMesh {
    let (seg, rings) = (segments.max(3), rings.max(2));
    let r = f64::from(radius);
    let mut vertices = Vec::with_capacity((seg * (rings - 1) + 2) as usize);
    vertices.push([0.0, 0.0, radius]);
    for i in 1..rings {
        let theta = std::f64::consts::PI * f64::from(i) / f64::from(rings);
        let (z, rxy) = (r * theta.cos(), r * theta.sin());
        for j in 0..seg {
            let phi = TAU * f64::from(j) / f64::from(seg);
            vertices.push([(rxy * phi.cos()) as f32, (rxy * phi.sin()) as f32, z as f32]);
        }
    }
    let south = vertices.len() as u32;
    vertices.push([0.0, 0.0, -radius]);
    let ring = |i: u32, j: u32| 1 + (i - 1) * seg + j % seg;
    let mut triangles = Vec::with_capacity((2 * seg * (rings - 1)) as usize);
    for j in 0..seg {
        triangles.push([0, ring(1, j), ring(1, j + 1)]);
    }
    for i in 1..rings - 1 {
        for j in 0..seg {
            let (a, b, c, d) = (ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1));
            triangles.push([a, b, c]);
            triangles.push([a, c, d]);
        }
    }
    for j in 0..seg {
        triangles.push([ring(rings - 1, j), south, ring(rings - 1, j + 1)]);
    }
    IndexedMesh::new(vertices, triangles).unwrap_or_default()
}

/// A closed cylinder standing on z = 0 around the z axis, `segments` (at least 3) around.
pub fn cylinder(radius: f32, height: f32, segments: u32) -> IndexedMesh {
    let seg = segments.max(3);
    let mut vertices = vec![[0.0, 0.0, 0.0], [0.0, 0.0, height]];
    for z in [0.0, height] {
        for j in 0..seg {
            let phi = TAU * f64::from(j) / f64::from(seg);
            vertices.push([(f64::from(radius) * phi.cos()) as f32, (f64::from(radius) * phi.sin()) as f32, z]);
        }
    }
    let b = |j: u32| 2 + j % seg;
    let t = |j: u32| 2 + seg + j % seg;
    let mut triangles = Vec::with_capacity(4 * seg as usize);
    for j in 0..seg {
        triangles.push([0, b(j + 1), b(j)]);
        triangles.push([1, t(j), t(j + 1)]);
        triangles.push([b(j), b(j + 1), t(j + 1)]);
        triangles.push([b(j), t(j + 1), t(j)]);
    }
    IndexedMesh::new(vertices, triangles).unwrap_or_default()
}

/// A torus around the z axis: `major` radius to the tube's centre, `minor` tube radius,
/// `segments` around z and `sides` around the tube (each at least 3).
pub fn torus(major: f32, minor: f32, segments: u32, sides: u32) -> IndexedMesh {
    let (seg, sides) = (segments.max(3), sides.max(3));
    let (big, small) = (f64::from(major), f64::from(minor));
    let mut vertices = Vec::with_capacity((seg * sides) as usize);
    for i in 0..seg {
        let phi = TAU * f64::from(i) / f64::from(seg);
        for j in 0..sides {
            let theta = TAU * f64::from(j) / f64::from(sides);
            let rr = big + small * theta.cos();
            vertices.push([(rr * phi.cos()) as f32, (rr * phi.sin()) as f32, (small * theta.sin()) as f32]);
        }
    }
    let at = |i: u32, j: u32| (i % seg) * sides + j % sides;
    let mut triangles = Vec::with_capacity((2 * seg * sides) as usize);
    for i in 0..seg {
        for j in 0..sides {
            let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            triangles.push([a, b, c]);
            triangles.push([a, c, d]);
        }
    }
    IndexedMesh::new(vertices, triangles).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn box_has_expected_volume_and_area() {
        let m = box_mesh([-1.0, -2.0, 0.0], [1.0, 2.0, 3.0]);
        assert!((m.signed_volume() - 24.0).abs() < 1e-9);
        assert!((m.surface_area() - 2.0 * (8.0 + 6.0 + 12.0)).abs() < 1e-9);
    }

    #[test]
    fn sphere_cylinder_torus_approach_analytic_volumes() {
        let pi = std::f64::consts::PI;
        let s = uv_sphere(10.0, 256, 128);
        assert_eq!(s.triangle_count(), 2 * 256 * 127);
        assert!(rel(s.signed_volume(), 4.0 / 3.0 * pi * 1000.0) < 2e-3);
        let c = cylinder(5.0, 10.0, 256);
        assert!(rel(c.signed_volume(), pi * 25.0 * 10.0) < 1e-3);
        let t = torus(20.0, 5.0, 256, 128);
        assert!(rel(t.signed_volume(), 2.0 * pi * pi * 20.0 * 25.0) < 1e-3);
        assert!(rel(t.surface_area(), 4.0 * pi * pi * 20.0 * 5.0) < 1e-3);
    }

    #[test]
    fn tiny_parameters_are_clamped() {
        assert_eq!(uv_sphere(1.0, 0, 0).triangle_count(), 6);
        assert!(torus(2.0, 1.0, 1, 1).signed_volume() > 0.0);
        assert!(cylinder(1.0, 1.0, 0).signed_volume() > 0.0);
    }
}
