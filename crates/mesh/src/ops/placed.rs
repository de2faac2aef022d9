//! Operations on a mesh seen through its placement transform (object → bed coordinates), as the
//! editor keeps a part: the vertices stay untouched and only the 4×4 transform changes, so moving,
//! turning, laying flat and placing on the bed cost one pass over the vertices and no copy.

use glam::{DVec3, Mat4, Quat, Vec3 as GVec3};

use super::OpError;
use crate::{Aabb, IndexedMesh, Vec3};

/// The bounding box of the mesh after `transform`, or `None` for a mesh without vertices.
pub fn placed_bounds(mesh: &IndexedMesh, transform: &Mat4) -> Option<Aabb> {
    let mut it = mesh.vertices().iter().map(|v| transform.transform_point3(GVec3::from_array(*v)));
    let first = it.next()?;
    let (lo, hi) = it.fold((first, first), |(lo, hi), p| (lo.min(p), hi.max(p)));
    Some(Aabb { min: lo.to_array(), max: hi.to_array() })
}

/// The translation that puts the placed mesh's lowest point on the bed (z = 0).
pub fn drop_to_bed(mesh: &IndexedMesh, transform: &Mat4) -> Mat4 {
    match placed_bounds(mesh, transform) {
        Some(b) => Mat4::from_translation(GVec3::new(0.0, 0.0, -b.min[2])) * *transform,
        None => *transform,
    }
}

/// Where a ray first meets a mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RayHit {
    /// The triangle hit.
    pub face: usize,
    /// Distance along the ray in units of the ray's direction vector.
    pub t: f32,
    /// The point hit, in the ray's (placed) coordinates.
    pub point: Vec3,
}

/// The nearest triangle of the placed mesh that the ray `origin + t·dir` (t > 0) meets, in placed
/// coordinates. Triangles are hit from either side. The ray is taken into the mesh's own
/// coordinates once, so the vertices are never transformed.
pub fn raycast(mesh: &IndexedMesh, transform: &Mat4, origin: Vec3, dir: Vec3) -> Option<RayHit> {
    let inv = transform.inverse();
    if !inv.is_finite() {
        return None;
    }
    let o = inv.transform_point3(GVec3::from_array(origin)).as_dvec3();
    let d = inv.transform_vector3(GVec3::from_array(dir)).as_dvec3();
    if !(o.is_finite() && d.is_finite()) || d.length_squared() == 0.0 {
        return None;
    }
    let verts = mesh.vertices();
    let mut best: Option<(usize, f64)> = None;
    for (face, tri) in mesh.triangles().iter().enumerate() {
        let [a, b, c] = tri.map(|i| verts.get(i as usize).copied().unwrap_or_default());
        let a = DVec3::from(a.map(f64::from));
        let e1 = DVec3::from(b.map(f64::from)) - a;
        let e2 = DVec3::from(c.map(f64::from)) - a;
        // Möller–Trumbore.
        let p = d.cross(e2);
        let det = e1.dot(p);
        if det.abs() < 1e-18 {
            continue;
        }
        let inv_det = 1.0 / det;
        let s = o - a;
        let u = s.dot(p) * inv_det;
        if !(0.0..=1.0).contains(&u) {
            continue;
        }
        let q = s.cross(e1);
        let v = d.dot(q) * inv_det;
        if v < 0.0 || u + v > 1.0 {
            continue;
        }
        let t = e2.dot(q) * inv_det;
        if t > 1e-9 && best.is_none_or(|(_, bt)| t < bt) {
            best = Some((face, t));
        }
    }
    best.map(|(face, t)| {
        let point = [0, 1, 2].map(|k| (f64::from(origin[k]) + t * f64::from(dir[k])) as f32);
        RayHit { face, t: t as f32, point }
    })
}

/// The outward normal of triangle `face` after `transform` (unit length).
pub fn placed_face_normal(mesh: &IndexedMesh, transform: &Mat4, face: usize) -> Result<Vec3, OpError> {
    let count = mesh.triangle_count();
    let tri = *mesh.triangles().get(face).ok_or(OpError::NoSuchFace { face, count })?;
    let [a, b, c] = tri.map(|i| {
        let v = mesh.vertices().get(i as usize).copied().unwrap_or_default();
        transform.transform_point3(GVec3::from_array(v)).as_dvec3()
    });
    let mut n = (b - a).cross(c - a);
    // A mirroring transform turns the winding around; the outward side turns with it.
    if transform.determinant() < 0.0 {
        n = -n;
    }
    let len = n.length();
    if !(len.is_finite() && len > 0.0) {
        return Err(OpError::DegenerateFace { face });
    }
    Ok((n / len).as_vec3().to_array())
}

/// The rotation that turns triangle `face` (as placed) to face straight down, so the part can lie on it.
pub fn lay_flat_rotation(mesh: &IndexedMesh, transform: &Mat4, face: usize) -> Result<Quat, OpError> {
    let n = placed_face_normal(mesh, transform, face)?;
    Ok(glam::DQuat::from_rotation_arc(DVec3::from(n.map(f64::from)), DVec3::NEG_Z).as_quat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::box_mesh;

    #[test]
    fn bounds_follow_the_transform() {
        let m = box_mesh([0.0; 3], [10.0, 20.0, 30.0]);
        let t = Mat4::from_translation(GVec3::new(5.0, 0.0, -3.0)) * Mat4::from_rotation_z(std::f32::consts::FRAC_PI_2);
        let b = placed_bounds(&m, &t).unwrap();
        assert!((b.size()[0] - 20.0).abs() < 1e-4 && (b.size()[1] - 10.0).abs() < 1e-4);
        let dropped = drop_to_bed(&m, &t);
        assert!(placed_bounds(&m, &dropped).unwrap().min[2].abs() < 1e-5);
        assert_eq!(placed_bounds(&IndexedMesh::default(), &t), None);
    }

    #[test]
    fn ray_hits_the_nearest_face_through_the_transform() {
        let m = box_mesh([0.0; 3], [10.0; 3]);
        let t = Mat4::from_translation(GVec3::new(100.0, 100.0, 0.0)) * Mat4::from_scale(GVec3::splat(2.0));
        let hit = raycast(&m, &t, [110.0, 110.0, 100.0], [0.0, 0.0, -1.0]).unwrap();
        assert!((hit.point[2] - 20.0).abs() < 1e-4, "{hit:?}");
        assert!((hit.t - 80.0).abs() < 1e-3);
        let n = placed_face_normal(&m, &t, hit.face).unwrap();
        assert!((n[2] - 1.0).abs() < 1e-5, "{n:?}");
        assert_eq!(raycast(&m, &t, [0.0, 0.0, 100.0], [0.0, 0.0, -1.0]), None);
        assert_eq!(raycast(&m, &t, [110.0, 110.0, 100.0], [0.0, 0.0, 1.0]), None, "behind the origin");
    }

    #[test]
    fn lay_flat_turns_the_face_down() {
        let m = box_mesh([0.0; 3], [10.0, 20.0, 30.0]);
        // The top face (+z): after the rotation its normal points down.
        let top =
            (0..m.triangle_count()).find(|&f| placed_face_normal(&m, &Mat4::IDENTITY, f).unwrap()[2] > 0.9).unwrap();
        let q = lay_flat_rotation(&m, &Mat4::IDENTITY, top).unwrap();
        let n = q * GVec3::Z;
        assert!((n.z + 1.0).abs() < 1e-5, "{n:?}");
        assert!(matches!(lay_flat_rotation(&m, &Mat4::IDENTITY, 99), Err(OpError::NoSuchFace { .. })));
    }
}
