//! Plane cut: splits a mesh in two along a plane and closes both halves with flat caps, so a part
//! too tall for the printer becomes two printable halves.

use std::collections::HashMap;

use super::triangulate::{triangulate_nested, P2};
use super::OpError;
use crate::repair::plane_basis;
use crate::{IndexedMesh, Vec3};

/// Distances to the plane below this fraction of the coordinates' magnitude are rounding noise
/// (f32 keeps about 7 digits), so such vertices count as lying on the plane.
const SNAP_RELATIVE: f64 = 1e-6;

/// A plane: the points p with `normal · p = offset`. "Below" is the side the normal points away from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    pub normal: Vec3,
    pub offset: f32,
}

impl Plane {
    /// The horizontal plane at height `z` (normal +Z).
    pub fn horizontal(z: f32) -> Self {
        Self { normal: [0.0, 0.0, 1.0], offset: z }
    }

    /// The plane through `point` with normal `normal` (any length).
    pub fn through(point: Vec3, normal: Vec3) -> Self {
        Self { normal, offset: normal[0] * point[0] + normal[1] * point[1] + normal[2] * point[2] }
    }
}

/// Cuts `mesh` by `plane` into (below, above), each closed with a cap over the cut (holes in the
/// section, such as a tube's bore, stay open in the cap). A side with nothing on it is empty.
/// Vertices exactly on the plane count as below, so no sliver is left on either side.
pub fn cut(mesh: &IndexedMesh, plane: &Plane) -> Result<(IndexedMesh, IndexedMesh), OpError> {
    let n = glam::DVec3::from(plane.normal.map(f64::from));
    let len = n.length();
    if !(len.is_finite() && len > 0.0 && plane.offset.is_finite()) {
        return Err(OpError::BadPlane);
    }
    let (n, off) = (n / len, f64::from(plane.offset) / len);
    let src = mesh.vertices();
    // Vertices within rounding distance of the plane are put exactly on it: otherwise a section
    // point would land on top of a vertex and leave a zero-length edge in the cap.
    let reach = src.iter().flatten().fold(off.abs(), |m, c| m.max(f64::from(c.abs())));
    let snap = SNAP_RELATIVE * reach;
    let d: Vec<f64> = src
        .iter()
        .map(|p| n.dot(glam::DVec3::from(p.map(f64::from))) - off)
        .map(|x| if x.abs() <= snap { 0.0 } else { x })
        .collect();
    let above = |i: u32| d[i as usize] > 0.0;

    let mut verts: Vec<Vec3> = src.to_vec();
    let mut crossing: HashMap<u64, u32> = HashMap::new();
    // The section point on edge (a below, b above); one point per edge, so both faces share it.
    let mut point = |a: u32, b: u32, verts: &mut Vec<Vec3>| -> u32 {
        if d[a as usize] == 0.0 {
            return a;
        }
        let key = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
        *crossing.entry(key).or_insert_with(|| {
            let (pa, pb) = (src[a as usize].map(f64::from), src[b as usize].map(f64::from));
            let t = d[a as usize] / (d[a as usize] - d[b as usize]);
            verts.push([0, 1, 2].map(|k| (pa[k] + t * (pb[k] - pa[k])) as f32));
            (verts.len() - 1) as u32
        })
    };
    let (mut lower, mut upper, mut segs) = (Vec::new(), Vec::new(), Vec::new());
    for &t in mesh.triangles() {
        let up = t.map(above);
        let count = up.iter().filter(|&&u| u).count();
        if count == 0 || count == 3 {
            if count == 0 { &mut lower } else { &mut upper }.push(t);
            continue;
        }
        // Rotate so the lone vertex (the only one above, or the only one below) comes first.
        let lone_up = count == 1;
        let k = (0..3).find(|&k| up[k] == lone_up).expect("one vertex differs");
        let (x, y, z) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
        let (pxy, pxz) = if lone_up {
            (point(y, x, &mut verts), point(z, x, &mut verts))
        } else {
            (point(x, y, &mut verts), point(x, z, &mut verts))
        };
        let (tip, quad) = if lone_up { (&mut upper, &mut lower) } else { (&mut lower, &mut upper) };
        tip.push([x, pxy, pxz]);
        quad.push([pxy, y, z]);
        quad.push([pxy, z, pxz]);
        if pxy != pxz {
            segs.push((pxy, pxz));
        }
    }
    let keep = |t: &[u32; 3]| t[0] != t[1] && t[1] != t[2] && t[0] != t[2];
    lower.retain(keep);
    upper.retain(keep);

    let cap = cap_triangles(&verts, &segs, n);
    lower.extend(cap.iter().copied());
    upper.extend(cap.iter().map(|t| [t[0], t[2], t[1]]));
    // A side lying entirely in the plane (e.g. the bottom face when cutting at z = 0) is no part.
    let flat =
        |tris: &[[u32; 3]]| tris.iter().flatten().all(|&i| (i as usize) >= d.len() || d[i as usize].abs() <= 0.0);
    let below = if flat(&lower) { IndexedMesh::default() } else { super::compact(&verts, lower) };
    let above = if upper.is_empty() { IndexedMesh::default() } else { super::compact(&verts, upper) };
    Ok((below, above))
}

/// Chains section segments into loops and triangulates them in the plane; triangles face +normal.
fn cap_triangles(verts: &[Vec3], segs: &[(u32, u32)], normal: glam::DVec3) -> Vec<[u32; 3]> {
    // Undirected chaining: each section point has two segments on a closed manifold.
    let mut ends: Vec<(u32, u32)> = Vec::with_capacity(segs.len() * 2);
    for (s, &(a, b)) in segs.iter().enumerate() {
        ends.push((a, s as u32));
        ends.push((b, s as u32));
    }
    ends.sort_unstable();
    let mut used = vec![false; segs.len()];
    let (u, v) = plane_basis(normal.to_array());
    let project = |i: u32| -> P2 {
        let p = verts[i as usize].map(f64::from);
        [p[0] * u[0] + p[1] * u[1] + p[2] * u[2], p[0] * v[0] + p[1] * v[1] + p[2] * v[2]]
    };
    let mut loops: Vec<Vec<u32>> = Vec::new();
    for s0 in 0..segs.len() {
        if used[s0] {
            continue;
        }
        used[s0] = true;
        let (start, mut at) = segs[s0];
        let mut chain = vec![start];
        let closed = loop {
            if at == start {
                break true;
            }
            chain.push(at);
            let from = ends.partition_point(|e| e.0 < at);
            let next = ends[from..].iter().take_while(|e| e.0 == at).find(|e| !used[e.1 as usize]);
            match next {
                Some(&(_, s)) => {
                    used[s as usize] = true;
                    let (a, b) = segs[s as usize];
                    at = if a == at { b } else { a };
                }
                None => break false,
            }
        };
        if closed && chain.len() >= 3 {
            loops.push(chain);
        }
    }
    let flat: Vec<Vec<P2>> = loops.iter().map(|l| l.iter().map(|&i| project(i)).collect()).collect();
    let ids: Vec<u32> = loops.concat();
    triangulate_nested(&flat).into_iter().map(|t| t.map(|k| ids[k])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, torus};
    use crate::topology::EdgeMap;

    fn closed(m: &IndexedMesh) -> bool {
        EdgeMap::new(m).is_closed_and_oriented()
    }

    #[test]
    fn box_cut_in_half() {
        let m = box_mesh([0.0; 3], [10.0, 10.0, 20.0]);
        let (lo, hi) = cut(&m, &Plane::horizontal(5.0)).unwrap();
        assert!(closed(&lo) && closed(&hi));
        assert!((lo.signed_volume() - 500.0).abs() < 1e-3);
        assert!((hi.signed_volume() - 1500.0).abs() < 1e-3);
    }

    #[test]
    fn cut_at_a_face_or_outside_leaves_one_side() {
        let m = box_mesh([0.0; 3], [10.0; 3]);
        let (lo, hi) = cut(&m, &Plane::horizontal(0.0)).unwrap();
        assert_eq!(lo.triangle_count(), 0);
        assert!(closed(&hi));
        assert!((hi.signed_volume() - 1000.0).abs() < 1e-3);
        let (lo, hi) = cut(&m, &Plane::horizontal(10.0)).unwrap();
        assert_eq!(hi.triangle_count(), 0);
        assert!((lo.signed_volume() - 1000.0).abs() < 1e-3);
        let (lo, hi) = cut(&m, &Plane::horizontal(50.0)).unwrap();
        assert_eq!((lo.triangle_count(), hi.triangle_count()), (12, 0));
        assert_eq!(cut(&m, &Plane { normal: [0.0; 3], offset: 1.0 }), Err(OpError::BadPlane));
    }

    #[test]
    fn torus_cut_through_its_hole_gives_ring_caps() {
        let t = torus(20.0, 5.0, 64, 24);
        // Horizontal cut: the section is an annulus (outer ring with a hole).
        let (lo, hi) = cut(&t, &Plane::horizontal(1.3)).unwrap();
        assert!(closed(&lo) && closed(&hi));
        let total = lo.signed_volume() + hi.signed_volume();
        assert!((total - t.signed_volume()).abs() < 1e-3 * t.signed_volume());
        // Vertical cut through the axis: two disc-shaped sections.
        let (lo, hi) = cut(&t, &Plane::through([0.3, 0.0, 0.0], [1.0, 0.2, 0.0])).unwrap();
        assert!(closed(&lo) && closed(&hi));
        assert!((lo.signed_volume() + hi.signed_volume() - t.signed_volume()).abs() < 1e-3 * t.signed_volume());
    }
}
