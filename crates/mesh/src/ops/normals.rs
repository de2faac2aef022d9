//! Face normals and area-weighted vertex normals (for rendering, export and lay-flat choices).

use crate::{IndexedMesh, Vec3};

fn face_cross(v: &[Vec3], t: &[u32; 3]) -> [f64; 3] {
    let [a, b, c] = t.map(|i| v[i as usize].map(f64::from));
    let (u, w) = ([b[0] - a[0], b[1] - a[1], b[2] - a[2]], [c[0] - a[0], c[1] - a[1], c[2] - a[2]]);
    [u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]]
}

fn unit(n: [f64; 3]) -> Vec3 {
    let l = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    // A degenerate face or a vertex whose faces cancel has no direction; zero says so.
    if l > 0.0 {
        n.map(|c| (c / l) as f32)
    } else {
        [0.0; 3]
    }
}

/// One unit normal per triangle (zero for a degenerate one).
pub fn face_normals(mesh: &IndexedMesh) -> Vec<Vec3> {
    let v = mesh.vertices();
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        mesh.triangles().par_iter().map(|t| unit(face_cross(v, t))).collect()
    }
    #[cfg(not(feature = "parallel"))]
    mesh.triangles().iter().map(|t| unit(face_cross(v, t))).collect()
}

/// One unit normal per vertex: the sum of its faces' normals weighted by their areas, so slivers
/// do not tilt it.
pub fn vertex_normals(mesh: &IndexedMesh) -> Vec<Vec3> {
    let v = mesh.vertices();
    let mut acc = vec![[0.0f64; 3]; v.len()];
    for t in mesh.triangles() {
        // The cross product's length is twice the area: it is the area weight already.
        let n = face_cross(v, t);
        for &i in t {
            for k in 0..3 {
                acc[i as usize][k] += n[k];
            }
        }
    }
    acc.into_iter().map(unit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::uv_sphere;

    #[test]
    fn cube_faces_point_outward_and_sphere_vertices_radially() {
        let c = IndexedMesh::cube(1.0);
        assert_eq!(face_normals(&c)[0], [0.0, 0.0, -1.0]);
        assert_eq!(face_normals(&c)[2], [0.0, 0.0, 1.0]);
        let s = uv_sphere(3.0, 32, 16);
        for (p, n) in s.vertices().iter().zip(vertex_normals(&s)) {
            let dot = (p[0] * n[0] + p[1] * n[1] + p[2] * n[2]) / 3.0;
            assert!(dot > 0.99, "{p:?} {n:?}");
        }
    }

    #[test]
    fn degenerate_faces_and_lonely_vertices_get_zero() {
        let m = IndexedMesh::new(vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [5.0; 3]], vec![[0, 1, 2]]).unwrap();
        assert_eq!(face_normals(&m), vec![[0.0; 3]]);
        assert_eq!(vertex_normals(&m)[3], [0.0; 3]);
    }
}
