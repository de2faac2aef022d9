//! Editing operations on meshes: transforms, placement on the bed, lay flat, scale to fit,
//! plane cut, merge/split, arranging on a bed, normals and decimation. Transforms work in place;
//! operations that make new meshes return them.

pub mod arrange;
pub mod cut;
pub mod decimate;
pub mod normals;
pub mod placed;
pub mod triangulate;

pub use arrange::{arrange, arrange_footprints, ArrangeReport};
pub use cut::{cut, Plane};
pub use decimate::decimate;
pub use normals::{face_normals, vertex_normals};

use glam::{EulerRot, Mat4, Quat, Vec3 as GVec3};

use crate::topology::EdgeMap;
use crate::{IndexedMesh, Model, ModelObject, Vec3};

/// Why an operation could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("the mesh has no triangles")]
    EmptyMesh,
    #[error("face {face} does not exist (the mesh has {count} faces)")]
    NoSuchFace { face: usize, count: usize },
    #[error("face {face} has no area, so it has no direction to lay flat on")]
    DegenerateFace { face: usize },
    #[error("scale factors must be finite and non-zero, got {0:?}")]
    BadScale(Vec3),
    #[error("the rotation axis must be a finite, non-zero vector")]
    BadAxis,
    #[error("the build volume must be positive and larger than twice the margin")]
    BadBuildVolume,
    #[error("the cutting plane's normal must be a finite, non-zero vector")]
    BadPlane,
    #[error("object {index} does not exist (the model has {count} objects)")]
    NoSuchObject { index: usize, count: usize },
}

fn centre(mesh: &IndexedMesh) -> GVec3 {
    mesh.bounding_box().map(|b| (GVec3::from(b.min) + GVec3::from(b.max)) * 0.5).unwrap_or(GVec3::ZERO)
}

fn about(m: Mat4, pivot: GVec3) -> Mat4 {
    Mat4::from_translation(pivot) * m * Mat4::from_translation(-pivot)
}

/// Moves the mesh by `offset` mm.
pub fn translate(mesh: &mut IndexedMesh, offset: Vec3) {
    mesh.translate(offset);
}

/// Rotates by `degrees` about `axis` through the bounding-box centre (what an editor expects:
/// the part turns in place).
pub fn rotate_axis_angle(mesh: &mut IndexedMesh, axis: Vec3, degrees: f32) -> Result<(), OpError> {
    let a = GVec3::from(axis);
    if !a.is_finite() || a.length_squared() == 0.0 || !degrees.is_finite() {
        return Err(OpError::BadAxis);
    }
    let c = centre(mesh);
    mesh.transform(&about(Mat4::from_quat(Quat::from_axis_angle(a.normalize(), degrees.to_radians())), c));
    Ok(())
}

/// Rotates by Euler angles in degrees, applied about x, then y, then z (fixed axes), through the
/// bounding-box centre.
pub fn rotate_euler(mesh: &mut IndexedMesh, degrees: Vec3) -> Result<(), OpError> {
    if degrees.iter().any(|d| !d.is_finite()) {
        return Err(OpError::BadAxis);
    }
    let [x, y, z] = degrees.map(f32::to_radians);
    // ZYX intrinsic equals XYZ about fixed axes: x is applied first.
    let q = Quat::from_euler(EulerRot::ZYX, z, y, x);
    let c = centre(mesh);
    mesh.transform(&about(Mat4::from_quat(q), c));
    Ok(())
}

/// Scales per axis about the bounding-box centre. A negative factor mirrors; the winding is fixed
/// so faces stay outward.
pub fn scale(mesh: &mut IndexedMesh, factors: Vec3) -> Result<(), OpError> {
    if factors.iter().any(|f| !f.is_finite() || *f == 0.0) {
        return Err(OpError::BadScale(factors));
    }
    let c = centre(mesh);
    mesh.transform(&about(Mat4::from_scale(GVec3::from(factors)), c));
    Ok(())
}

/// Scales all axes by `factor` about the bounding-box centre.
pub fn scale_uniform(mesh: &mut IndexedMesh, factor: f32) -> Result<(), OpError> {
    scale(mesh, [factor; 3])
}

/// Mirrors across the plane through the bounding-box centre perpendicular to `axis` (0 = x, 1 = y,
/// 2 = z; larger values mean z).
pub fn mirror(mesh: &mut IndexedMesh, axis: usize) {
    let mut f = [1.0; 3];
    f[axis.min(2)] = -1.0;
    let _ = scale(mesh, f);
}

/// Moves the mesh up or down so its lowest point is at z = 0.
pub fn place_on_bed(mesh: &mut IndexedMesh) {
    if let Some(b) = mesh.bounding_box() {
        mesh.translate([0.0, 0.0, -b.min[2]]);
    }
}

/// Centres the footprint on a bed of `bed` (x, y) mm whose corner is the origin, and places it on
/// the bed.
pub fn centre_on_bed(mesh: &mut IndexedMesh, bed: [f32; 2]) {
    if let Some(b) = mesh.bounding_box() {
        let cx = (b.min[0] + b.max[0]) * 0.5;
        let cy = (b.min[1] + b.max[1]) * 0.5;
        mesh.translate([bed[0] * 0.5 - cx, bed[1] * 0.5 - cy, -b.min[2]]);
    }
}

/// Rotates so face `face` points straight down (normal −Z), then places the mesh on the bed. The
/// face ends up on the bed when it lies on the outer hull; otherwise a lower part touches first.
pub fn lay_flat(mesh: &mut IndexedMesh, face: usize) -> Result<(), OpError> {
    let count = mesh.triangle_count();
    let t = *mesh.triangles().get(face).ok_or(OpError::NoSuchFace { face, count })?;
    let [a, b, c] = t.map(|i| glam::DVec3::from(mesh.vertices()[i as usize].map(f64::from)));
    let n = (b - a).cross(c - a);
    if n.length_squared().is_nan() || n.length_squared() <= 0.0 {
        return Err(OpError::DegenerateFace { face });
    }
    let q = glam::DQuat::from_rotation_arc(n.normalize(), glam::DVec3::NEG_Z);
    let rot = Mat4::from_quat(q.as_quat());
    let c = centre(mesh);
    mesh.transform(&about(rot, c));
    place_on_bed(mesh);
    Ok(())
}

/// Scales uniformly (up or down) so the part fits `volume` with `margin` mm free on every side,
/// then places it on the bed. Returns the factor used.
pub fn scale_to_fit(mesh: &mut IndexedMesh, volume: Vec3, margin: f32) -> Result<f32, OpError> {
    let b = mesh.bounding_box().ok_or(OpError::EmptyMesh)?;
    if volume.iter().any(|v| !v.is_finite() || *v <= 2.0 * margin) || !margin.is_finite() || margin < 0.0 {
        return Err(OpError::BadBuildVolume);
    }
    let size = b.size();
    let factor =
        (0..3).filter(|&i| size[i] > 0.0).map(|i| (volume[i] - 2.0 * margin) / size[i]).fold(f32::INFINITY, f32::min);
    if !factor.is_finite() {
        // A single point has no size to scale.
        return Err(OpError::EmptyMesh);
    }
    scale_uniform(mesh, factor)?;
    place_on_bed(mesh);
    Ok(factor)
}

/// Joins meshes into one (vertices are not shared between them).
pub fn merge(meshes: &[IndexedMesh]) -> IndexedMesh {
    let mut out = IndexedMesh::default();
    for m in meshes {
        out.append(m);
    }
    out
}

/// Splits a mesh into its shells (pieces connected through shared edges), largest first; each
/// keeps only the vertices it uses.
pub fn split_shells(mesh: &IndexedMesh) -> Vec<IndexedMesh> {
    let edges = EdgeMap::new(mesh);
    let (shell_of, count) = edges.shells(mesh.triangle_count());
    let mut parts: Vec<(Vec<Vec3>, Vec<[u32; 3]>)> = vec![(Vec::new(), Vec::new()); count];
    // Visit faces shell by shell so one stamp per vertex suffices; a vertex touching two shells
    // (a shared corner) is copied into each.
    let mut order: Vec<u32> = (0..mesh.triangle_count() as u32).collect();
    order.sort_by_key(|&f| shell_of[f as usize]);
    let mut remap = vec![(u32::MAX, 0u32); mesh.vertices().len()];
    for f in order {
        let s = shell_of[f as usize];
        let (verts, tris) = &mut parts[s as usize];
        let nt = mesh.triangles()[f as usize].map(|i| {
            let slot = &mut remap[i as usize];
            if slot.0 != s {
                *slot = (s, verts.len() as u32);
                verts.push(mesh.vertices()[i as usize]);
            }
            slot.1
        });
        tris.push(nt);
    }
    let mut out: Vec<IndexedMesh> =
        parts.into_iter().filter_map(|(v, t)| IndexedMesh::new(v, t).ok()).filter(|m| m.triangle_count() > 0).collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.triangle_count()));
    out
}

/// Replaces object `index` of a model by one object per shell, named "name 1", "name 2", …
/// Returns how many objects it became.
pub fn split_object(model: &mut Model, index: usize) -> Result<usize, OpError> {
    let count = model.objects.len();
    let obj = model.objects.get(index).ok_or(OpError::NoSuchObject { index, count })?.clone();
    let parts = split_shells(&obj.mesh);
    if parts.len() <= 1 {
        return Ok(1);
    }
    let n = parts.len();
    let new: Vec<ModelObject> = parts
        .into_iter()
        .enumerate()
        .map(|(k, mesh)| ModelObject { name: format!("{} {}", obj.name, k + 1), mesh, ..obj.clone() })
        .collect();
    model.objects.splice(index..=index, new);
    Ok(n)
}

/// Merges the listed objects of a model into one (placed, in model coordinates), taking the first
/// one's name, colour and material; it replaces the first listed object.
pub fn merge_objects(model: &mut Model, indices: &[usize]) -> Result<(), OpError> {
    let count = model.objects.len();
    if let Some(&index) = indices.iter().find(|&&i| i >= count) {
        return Err(OpError::NoSuchObject { index, count });
    }
    let mut idx: Vec<usize> = indices.to_vec();
    idx.dedup();
    let Some(&first) = idx.first() else { return Ok(()) };
    let meshes: Vec<IndexedMesh> = idx.iter().map(|&i| model.objects[i].placed_mesh()).collect();
    let mut merged = model.objects[first].clone();
    merged.mesh = merge(&meshes);
    merged.transform = Mat4::IDENTITY;
    let mut sorted = idx.clone();
    sorted.sort_unstable();
    sorted.dedup();
    for &i in sorted.iter().rev() {
        if i != first {
            model.objects.remove(i);
        }
    }
    let pos = sorted.iter().filter(|&&i| i < first).count();
    model.objects[first - pos] = merged;
    Ok(())
}

/// Keeps only the vertices `tris` use, renumbered in first-use order.
pub(crate) fn compact(verts: &[Vec3], mut tris: Vec<[u32; 3]>) -> IndexedMesh {
    let mut remap = vec![u32::MAX; verts.len()];
    let mut out = Vec::new();
    for t in &mut tris {
        for i in t.iter_mut() {
            if remap[*i as usize] == u32::MAX {
                remap[*i as usize] = out.len() as u32;
                out.push(verts[*i as usize]);
            }
            *i = remap[*i as usize];
        }
    }
    IndexedMesh::new(out, tris).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, uv_sphere};

    fn approx(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn rotate_scale_mirror_keep_outward_volume() {
        let mut m = box_mesh([0.0; 3], [10.0, 20.0, 30.0]);
        rotate_axis_angle(&mut m, [0.0, 0.0, 1.0], 90.0).unwrap();
        let s = m.bounding_box().unwrap().size();
        assert!(approx(s[0], 20.0) && approx(s[1], 10.0), "{s:?}");
        rotate_euler(&mut m, [90.0, 0.0, 0.0]).unwrap();
        let s = m.bounding_box().unwrap().size();
        assert!(approx(s[2], 10.0) && approx(s[1], 30.0), "{s:?}");
        scale(&mut m, [-2.0, 1.0, 1.0]).unwrap();
        assert!((m.signed_volume() - 12000.0).abs() < 0.1, "{}", m.signed_volume());
        mirror(&mut m, 2);
        assert!((m.signed_volume() - 12000.0).abs() < 0.1);
        assert_eq!(scale(&mut m, [0.0, 1.0, 1.0]), Err(OpError::BadScale([0.0, 1.0, 1.0])));
        assert_eq!(rotate_axis_angle(&mut m, [0.0; 3], 1.0), Err(OpError::BadAxis));
    }

    #[test]
    fn placement_on_bed() {
        let mut m = box_mesh([-5.0, -5.0, 3.0], [5.0, 5.0, 8.0]);
        place_on_bed(&mut m);
        assert_eq!(m.bounding_box().unwrap().min[2], 0.0);
        centre_on_bed(&mut m, [200.0, 100.0]);
        let b = m.bounding_box().unwrap();
        assert_eq!((b.min, b.max), ([95.0, 45.0, 0.0], [105.0, 55.0, 5.0]));
    }

    #[test]
    fn scale_to_fit_respects_margin() {
        let mut m = uv_sphere(100.0, 32, 16);
        let f = scale_to_fit(&mut m, [180.0, 180.0, 180.0], 5.0).unwrap();
        assert!(approx(f, 0.85));
        let s = m.bounding_box().unwrap().size();
        assert!(s.iter().all(|&x| x <= 170.01));
        assert_eq!(scale_to_fit(&mut IndexedMesh::default(), [1.0; 3], 0.0), Err(OpError::EmptyMesh));
        assert_eq!(scale_to_fit(&mut m, [10.0; 3], 5.0), Err(OpError::BadBuildVolume));
    }

    #[test]
    fn lay_flat_rejects_bad_faces() {
        let mut m = IndexedMesh::new(vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], vec![[0, 1, 2]]).unwrap();
        assert_eq!(lay_flat(&mut m, 0), Err(OpError::DegenerateFace { face: 0 }));
        assert_eq!(lay_flat(&mut m, 5), Err(OpError::NoSuchFace { face: 5, count: 1 }));
    }

    #[test]
    fn split_and_merge_objects() {
        let m = merge(&[box_mesh([0.0; 3], [1.0; 3]), uv_sphere(1.0, 8, 4), box_mesh([5.0; 3], [6.0; 3])]);
        let parts = split_shells(&m);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].triangle_count(), 48);
        assert_eq!(parts[1].vertices().len(), 8);
        let mut model = Model::single("thing", m);
        assert_eq!(split_object(&mut model, 0).unwrap(), 3);
        assert_eq!(model.objects[2].name, "thing 3");
        merge_objects(&mut model, &[2, 0]).unwrap();
        assert_eq!(model.objects.len(), 2);
        assert_eq!(model.triangle_count(), 72);
        assert!(matches!(merge_objects(&mut model, &[9]), Err(OpError::NoSuchObject { .. })));
    }
}
