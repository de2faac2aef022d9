//! Plane cut: splits a mesh in two along a plane and closes both halves with flat caps, so a part
//! too tall for the printer becomes two printable halves.

use foldhash::{HashMap, HashMapExt};

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

/// Which side of the plane a vertex is on, after snapping.
/// (Bits, so that or-ing a triangle's three tells whether they all agree.)
const BELOW: u8 = 1;
const ON: u8 = 2;
const ABOVE: u8 = 4;
/// A vertex not yet copied into a half.
const UNSET: u32 = u32::MAX;

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
    let largest = largest_magnitude(src);
    let snap = SNAP_RELATIVE * off.abs().max(f64::from(largest));
    let distance = |p: &Vec3| n.dot(glam::DVec3::from(p.map(f64::from))) - off;
    let dist = |p: &Vec3| {
        let x = distance(p);
        if x.abs() <= snap {
            0.0
        } else {
            x
        }
    };
    let mut split = Split::new(src, mesh.triangle_count(), &distance, snap);

    // The section point on edge (a below, b above); one point per edge, so both faces share it.
    let mut crossing: HashMap<u64, u32> = HashMap::new();
    let mut point = |a: u32, b: u32, split: &mut Split| -> u32 {
        if split.side[a as usize] == ON {
            return a;
        }
        let key = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
        *crossing.entry(key).or_insert_with(|| {
            let (pa, pb) = (src[a as usize].map(f64::from), src[b as usize].map(f64::from));
            let (da, db) = (dist(&src[a as usize]), dist(&src[b as usize]));
            let t = da / (da - db);
            split.add_section_point([0, 1, 2].map(|k| (pa[k] + t * (pb[k] - pa[k])) as f32))
        })
    };
    let mut segs = Vec::new();
    for &t in mesh.triangles() {
        let side = [split.side[t[0] as usize], split.side[t[1] as usize], split.side[t[2] as usize]];
        // Most triangles lie wholly on one side, off the plane: their corners need no shared row.
        let all = side[0] | side[1] | side[2];
        if all == BELOW || all == ABOVE {
            split.emit_off_plane(usize::from(all == ABOVE), t);
            continue;
        }
        let up = side.map(|s| s == ABOVE);
        let count = up.iter().filter(|&&u| u).count();
        if count == 0 || count == 3 {
            split.emit(usize::from(count == 3), t);
            continue;
        }
        // Rotate so the lone vertex (the only one above, or the only one below) comes first.
        let lone_up = count == 1;
        let k = (0..3).find(|&k| up[k] == lone_up).expect("one vertex differs");
        let (x, y, z) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
        let (pxy, pxz) = if lone_up {
            (point(y, x, &mut split), point(z, x, &mut split))
        } else {
            (point(x, y, &mut split), point(x, z, &mut split))
        };
        let (tip, quad) = if lone_up { (1, 0) } else { (0, 1) };
        split.emit(tip, [x, pxy, pxz]);
        split.emit(quad, [pxy, y, z]);
        split.emit(quad, [pxy, z, pxz]);
        if pxy != pxz {
            segs.push((pxy, pxz));
        }
    }

    let cap = cap_triangles(&|g| split.position(g), &segs, n);
    for t in &cap {
        split.push(0, *t);
        split.push(1, [t[0], t[2], t[1]]);
    }
    // A side lying entirely in the plane (e.g. the bottom face when cutting at z = 0) is no part.
    let [lower, upper] = split.halves;
    let below = if split.lower_leaves_plane { lower.into_mesh() } else { IndexedMesh::default() };
    let above = if upper.tris.is_empty() { IndexedMesh::default() } else { upper.into_mesh() };
    Ok((below, above))
}

/// One half being built: its own vertices (in first-use order) and triangles.
#[derive(Default)]
struct Half {
    verts: Vec<Vec3>,
    tris: Vec<[u32; 3]>,
}

impl Half {
    fn with_capacity(verts: usize, tris: usize) -> Self {
        Self { verts: Vec::with_capacity(verts), tris: Vec::with_capacity(tris) }
    }

    fn into_mesh(mut self) -> IndexedMesh {
        // The capacities were estimates; give back what the estimate over-reserved.
        self.verts.shrink_to_fit();
        self.tris.shrink_to_fit();
        IndexedMesh::from_parts_unchecked(self.verts, self.tris)
    }
}

/// Builds both halves in one pass over the triangles, renumbering vertices as they are first
/// used, so neither the whole vertex list is copied nor a half is compacted afterwards.
///
/// Vertex ids while splitting: below `src.len()` a vertex of the input; from there on the
/// section points, in the order they were made. A vertex off the plane can only be used by the
/// half on its side, so one slot per vertex holds its index there; a vertex on the plane and a
/// section point can be used by both halves and get a row of two indices in `shared`.
struct Split<'a> {
    src: &'a [Vec3],
    side: Vec<u8>,
    /// Off the plane: the vertex's index in its half (or `UNSET`); on the plane: its row in `shared`.
    slot: Vec<u32>,
    /// Index in (below, above) of each on-plane vertex, then of each section point.
    shared: Vec<[u32; 2]>,
    on_plane: usize,
    section: Vec<Vec3>,
    halves: [Half; 2],
    /// Whether the lower half has a triangle with a corner strictly below the plane.
    lower_leaves_plane: bool,
}

impl<'a> Split<'a> {
    /// Sorts the vertices by side: above when `distance > snap`, on the plane when within `snap`.
    fn new(src: &'a [Vec3], triangles: usize, distance: &impl Fn(&Vec3) -> f64, snap: f64) -> Self {
        // Branch-free, so the loop vectorises: BELOW, ON, ABOVE are 1 << 0, 1, 2.
        let side: Vec<u8> = src
            .iter()
            .map(|p| {
                let x = distance(p);
                BELOW << (u8::from(x >= -snap) + u8::from(x > snap))
            })
            .collect();
        let below = side.iter().filter(|&&s| s == BELOW).count();
        let mut slot = vec![UNSET; src.len()];
        let mut on_plane = 0usize;
        for (cell, _) in slot.iter_mut().zip(&side).filter(|(_, &s)| s == ON) {
            *cell = on_plane as u32;
            on_plane += 1;
        }
        // Reserve by the share of vertices on each side, with some room for section points and
        // split triangles; a wrong guess only costs a reallocation.
        let room = triangles / 64 + 64;
        let lower_verts = below + on_plane;
        let upper_verts = src.len() - below;
        let halves = [
            Half::with_capacity(lower_verts + room, share(triangles, lower_verts, src.len()) + 2 * room),
            Half::with_capacity(upper_verts + room, share(triangles, upper_verts, src.len()) + 2 * room),
        ];
        Self {
            src,
            side,
            slot,
            shared: vec![[UNSET; 2]; on_plane],
            on_plane,
            section: Vec::new(),
            halves,
            lower_leaves_plane: false,
        }
    }

    fn add_section_point(&mut self, p: Vec3) -> u32 {
        self.section.push(p);
        self.shared.push([UNSET; 2]);
        (self.src.len() + self.section.len() - 1) as u32
    }

    fn position(&self, id: u32) -> Vec3 {
        let i = id as usize;
        if i < self.src.len() {
            self.src[i]
        } else {
            self.section[i - self.src.len()]
        }
    }

    /// The index of vertex `id` in half `h`, copying it there on first use.
    #[inline(always)]
    fn local(&mut self, h: usize, id: u32) -> u32 {
        let i = id as usize;
        let (cell, pos) = if i < self.src.len() {
            if self.side[i] == ON {
                (&mut self.shared[self.slot[i] as usize][h], self.src[i])
            } else {
                (&mut self.slot[i], self.src[i])
            }
        } else {
            let j = i - self.src.len();
            (&mut self.shared[self.on_plane + j][h], self.section[j])
        };
        let half = &mut self.halves[h];
        if *cell == UNSET {
            *cell = half.verts.len() as u32;
            half.verts.push(pos);
        }
        *cell
    }

    #[inline(always)]
    fn push(&mut self, h: usize, t: [u32; 3]) {
        // Not `t.map(..)`: that is not inlined through its closure, and costs a call per corner.
        let local = [self.local(h, t[0]), self.local(h, t[1]), self.local(h, t[2])];
        self.halves[h].tris.push(local);
    }

    /// `emit` for a triangle whose corners are all strictly on side `h`.
    #[inline(always)]
    fn emit_off_plane(&mut self, h: usize, t: [u32; 3]) {
        if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            return;
        }
        self.lower_leaves_plane |= h == 0;
        let half = &mut self.halves[h];
        let mut local = |id: u32| {
            let cell = &mut self.slot[id as usize];
            if *cell == UNSET {
                *cell = half.verts.len() as u32;
                half.verts.push(self.src[id as usize]);
            }
            *cell
        };
        let l = [local(t[0]), local(t[1]), local(t[2])];
        half.tris.push(l);
    }

    /// Adds a triangle of the input (or a piece of one) to half `h`, unless it has collapsed.
    #[inline]
    fn emit(&mut self, h: usize, t: [u32; 3]) {
        if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            return;
        }
        if h == 0 && !self.lower_leaves_plane {
            let n = self.src.len();
            self.lower_leaves_plane = t.iter().any(|&id| (id as usize) < n && self.side[id as usize] == BELOW);
        }
        self.push(h, t);
    }
}

/// The largest |coordinate|. For finite floats the order of |x| is the order of its bits with the
/// sign cleared, and an integer maximum vectorises where a float one (NaN rules) does not.
fn largest_magnitude(points: &[Vec3]) -> f32 {
    let mut m = [0u32; 3];
    for p in points {
        for k in 0..3 {
            m[k] = m[k].max(p[k].to_bits() & 0x7fff_ffff);
        }
    }
    f32::from_bits(m[0].max(m[1]).max(m[2]))
}

/// `total · part / whole`, without overflow.
fn share(total: usize, part: usize, whole: usize) -> usize {
    (total as f64 * part as f64 / whole.max(1) as f64) as usize
}

/// Chains section segments into loops and triangulates them in the plane; triangles face +normal.
fn cap_triangles(position: &dyn Fn(u32) -> Vec3, segs: &[(u32, u32)], normal: glam::DVec3) -> Vec<[u32; 3]> {
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
        let p = position(i).map(f64::from);
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
    use crate::ops::{merge, split_shells};
    use crate::primitives::{box_mesh, cylinder, torus, uv_sphere};
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

    fn moved(mut m: IndexedMesh, by: Vec3) -> IndexedMesh {
        m.translate(by);
        m
    }

    /// Every vertex of `m` is used by a triangle: a half keeps only what it needs.
    fn compact(m: &IndexedMesh) -> bool {
        let mut used = vec![false; m.vertices().len()];
        m.triangles().iter().flatten().for_each(|&i| used[i as usize] = true);
        used.into_iter().all(|u| u)
    }

    #[test]
    fn cut_through_a_ring_of_vertices_uses_them_in_both_caps() {
        // 8 rings: ring 4 lies on z = 0 (to rounding, which the snap absorbs).
        let s = uv_sphere(10.0, 16, 8);
        let on_plane = s.vertices().iter().filter(|p| p[2].abs() < 1e-5).count();
        assert_eq!(on_plane, 16);
        let (lo, hi) = cut(&s, &Plane::horizontal(0.0)).unwrap();
        assert!(closed(&lo) && closed(&hi) && compact(&lo) && compact(&hi));
        // No section points: the cap is made of the ring's own 16 vertices, shared by no one else.
        assert_eq!(lo.vertices().len(), s.vertices().len() / 2 + 8);
        assert_eq!(hi.vertices().len(), lo.vertices().len());
        assert!((lo.signed_volume() - s.signed_volume() / 2.0).abs() < 1e-3);
        assert!((hi.signed_volume() - s.signed_volume() / 2.0).abs() < 1e-3);
    }

    #[test]
    fn plane_below_the_mesh_leaves_it_whole_above() {
        let s = uv_sphere(10.0, 16, 8);
        let (lo, hi) = cut(&s, &Plane::horizontal(-20.0)).unwrap();
        assert_eq!(lo, IndexedMesh::default());
        assert_eq!(hi, s);
        // Through the lowest point only: a lone vertex on the plane is no part below.
        let (lo, hi) = cut(&s, &Plane::horizontal(-10.0)).unwrap();
        assert_eq!((lo.triangle_count(), hi.triangle_count()), (0, s.triangle_count()));
    }

    #[test]
    fn several_shells_and_a_bore_give_several_cap_loops() {
        // A torus (annulus section: outer loop with a hole) beside a box and a cylinder.
        let m = merge(&[
            torus(20.0, 5.0, 48, 24),
            box_mesh([40.0, -5.0, -10.0], [50.0, 5.0, 10.0]),
            moved(cylinder(4.0, 30.0, 32), [-40.0, 0.0, -15.0]),
        ]);
        let (lo, hi) = cut(&m, &Plane::horizontal(0.7)).unwrap();
        assert!(closed(&lo) && closed(&hi) && compact(&lo) && compact(&hi));
        assert_eq!(split_shells(&lo).len(), 3);
        assert_eq!(split_shells(&hi).len(), 3);
        let total = lo.signed_volume() + hi.signed_volume();
        assert!((total - m.signed_volume()).abs() < 1e-4 * m.signed_volume(), "{total} vs {}", m.signed_volume());
    }

    #[test]
    fn unused_vertices_and_collapsed_triangles_are_left_out() {
        let b = box_mesh([0.0; 3], [10.0; 3]);
        let (mut verts, mut tris) = b.clone().into_parts();
        let first = verts.len() as u32;
        verts.extend([[1.0, 1.0, 1.0], [5.0, 5.0, 2.0], [5.0, 5.0, 8.0]]); // the first is used by nothing
                                                                           // Collapsed triangles (a corner repeated): wholly below, wholly above, across the plane.
        tris.extend([[first + 1, first + 1, 0], [first + 2, 6, first + 2], [first + 2, first + 2, 0]]);
        let m = IndexedMesh::new(verts, tris).unwrap();
        let (lo, hi) = cut(&m, &Plane::horizontal(4.0)).unwrap();
        assert!(closed(&lo) && closed(&hi) && compact(&lo) && compact(&hi));
        let (blo, bhi) = cut(&b, &Plane::horizontal(4.0)).unwrap();
        assert_eq!((lo, hi), (blo, bhi));
    }
}
