use crate::{Aabb, Vec3};

/// Why a mesh could not be built from the data given.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MeshError {
    #[error("triangle {triangle} refers to vertex {index}, but the mesh has only {vertex_count} vertices")]
    IndexOutOfRange { triangle: usize, index: u32, vertex_count: usize },
    #[error("vertex {vertex} has a coordinate that is not a finite number")]
    NonFiniteVertex { vertex: usize },
}

/// A triangle mesh with shared vertices, in millimetres. Triangles wind counter-clockwise seen from outside.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexedMesh {
    vertices: Vec<Vec3>,
    triangles: Vec<[u32; 3]>,
}

impl IndexedMesh {
    /// Builds a mesh, rejecting out-of-range indices and NaN/infinite coordinates.
    pub fn new(vertices: Vec<Vec3>, triangles: Vec<[u32; 3]>) -> Result<Self, MeshError> {
        if let Some(vertex) = vertices.iter().position(|v| v.iter().any(|c| !c.is_finite())) {
            return Err(MeshError::NonFiniteVertex { vertex });
        }
        for (t, tri) in triangles.iter().enumerate() {
            if let Some(&index) = tri.iter().find(|&&i| i as usize >= vertices.len()) {
                return Err(MeshError::IndexOutOfRange { triangle: t, index, vertex_count: vertices.len() });
            }
        }
        Ok(Self { vertices, triangles })
    }

    /// Builds a mesh the caller has made valid by construction (finite vertices, indices in
    /// range), skipping `new`'s pass over every vertex and index.
    pub(crate) fn from_parts_unchecked(vertices: Vec<Vec3>, triangles: Vec<[u32; 3]>) -> Self {
        debug_assert!(vertices.iter().flatten().all(|c| c.is_finite()));
        debug_assert!(triangles.iter().flatten().all(|&i| (i as usize) < vertices.len()));
        Self { vertices, triangles }
    }

    /// An axis-aligned cube with one corner at the origin, outward-facing.
    pub fn cube(edge: f32) -> Self {
        let e = edge;
        let vertices = vec![
            [0.0, 0.0, 0.0],
            [e, 0.0, 0.0],
            [e, e, 0.0],
            [0.0, e, 0.0],
            [0.0, 0.0, e],
            [e, 0.0, e],
            [e, e, e],
            [0.0, e, e],
        ];
        let triangles = vec![
            [0, 2, 1],
            [0, 3, 2], // bottom (-z)
            [4, 5, 6],
            [4, 6, 7], // top (+z)
            [0, 1, 5],
            [0, 5, 4], // front (-y)
            [2, 3, 7],
            [2, 7, 6], // back (+y)
            [1, 2, 6],
            [1, 6, 5], // right (+x)
            [3, 0, 4],
            [3, 4, 7], // left (-x)
        ];
        Self { vertices, triangles }
    }

    pub fn vertices(&self) -> &[Vec3] {
        &self.vertices
    }

    pub fn triangles(&self) -> &[[u32; 3]] {
        &self.triangles
    }

    /// The bounding box, or `None` for a mesh without vertices.
    pub fn bounding_box(&self) -> Option<Aabb> {
        Aabb::around(&self.vertices)
    }

    /// Signed volume in mm³ by the divergence theorem: positive for a closed, outward-facing mesh.
    pub fn signed_volume(&self) -> f64 {
        // Accumulate in f64: summing thousands of f32 tetrahedra loses millimetres on large parts.
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.vertices[i as usize].map(f64::from));
                a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                    + a[2] * (b[0] * c[1] - b[1] * c[0])
            })
            .sum::<f64>()
            / 6.0
    }

    /// Total triangles.
    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// Gives up the vertex and triangle buffers.
    pub fn into_parts(self) -> (Vec<Vec3>, Vec<[u32; 3]>) {
        (self.vertices, self.triangles)
    }

    /// Appends another mesh's vertices and triangles (no welding).
    pub fn append(&mut self, other: &IndexedMesh) {
        let base = self.vertices.len() as u32;
        self.vertices.extend_from_slice(&other.vertices);
        self.triangles.extend(other.triangles.iter().map(|t| t.map(|i| i + base)));
    }

    /// Applies an affine transform to every vertex. A mirroring transform (negative determinant)
    /// also flips the winding, so outward faces stay outward.
    pub fn transform(&mut self, m: &glam::Mat4) {
        for v in &mut self.vertices {
            *v = crate::model::transform_point(m, *v);
        }
        if m.determinant() < 0.0 {
            for t in &mut self.triangles {
                t.swap(1, 2);
            }
        }
    }

    /// Surface area in mm².
    pub fn surface_area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.vertices[i as usize].map(f64::from));
                let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
                let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
                let n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
                (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() / 2.0
            })
            .sum()
    }

    /// Moves every vertex by `offset` millimetres.
    pub fn translate(&mut self, offset: Vec3) {
        for v in &mut self.vertices {
            for i in 0..3 {
                v[i] += offset[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_volume_is_edge_cubed() {
        let m = IndexedMesh::cube(10.0);
        assert!((m.signed_volume() - 1000.0).abs() < 1e-9);
        assert_eq!(m.bounding_box().unwrap().size(), [10.0, 10.0, 10.0]);
    }

    #[test]
    fn cube_area_and_mirroring_keeps_volume_positive() {
        let mut m = IndexedMesh::cube(10.0);
        assert!((m.surface_area() - 600.0).abs() < 1e-9);
        m.transform(&glam::Mat4::from_scale(glam::Vec3::new(-1.0, 1.0, 1.0)));
        assert!((m.signed_volume() - 1000.0).abs() < 1e-6, "{}", m.signed_volume());
        assert_eq!(m.bounding_box().unwrap().min, [-10.0, 0.0, 0.0]);
    }

    #[test]
    fn flipped_winding_gives_negative_volume() {
        let c = IndexedMesh::cube(2.0);
        let flipped: Vec<_> = c.triangles().iter().map(|t| [t[0], t[2], t[1]]).collect();
        let m = IndexedMesh::new(c.vertices().to_vec(), flipped).unwrap();
        assert!((m.signed_volume() + 8.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_indices_and_nan() {
        assert_eq!(
            IndexedMesh::new(vec![[0.0; 3]], vec![[0, 0, 1]]),
            Err(MeshError::IndexOutOfRange { triangle: 0, index: 1, vertex_count: 1 })
        );
        assert_eq!(IndexedMesh::new(vec![[0.0, f32::NAN, 0.0]], vec![]), Err(MeshError::NonFiniteVertex { vertex: 0 }));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn volume_is_translation_invariant(edge in 0.1f32..200.0, dx in -500f32..500.0, dy in -500f32..500.0, dz in -500f32..500.0) {
                let mut m = IndexedMesh::cube(edge);
                let before = m.signed_volume();
                m.translate([dx, dy, dz]);
                let after = m.signed_volume();
                // f32 vertices far from the origin lose relative precision; allow for it.
                prop_assert!((before - after).abs() <= before.abs() * 1e-3 + 1e-3, "{before} vs {after}");
            }
        }
    }
}
