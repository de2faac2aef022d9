//! Mesh repair: weld, drop degenerate and duplicate faces, orient consistently and outward, fill
//! small holes, and report what was done and what could not be fixed (with locations).

use std::collections::VecDeque;

use serde::Serialize;

use crate::ops::triangulate::{triangulate, P2};
use crate::topology::EdgeMap;
use crate::{IndexedMesh, Vec3};

/// Default weld distance: 0.1 µm is far below any printer's resolution, yet joins the corners that
/// exporters write with rounding differences.
pub const DEFAULT_WELD_TOLERANCE: f32 = 1e-4;
/// Default largest hole (in boundary edges) that is filled; bigger openings are probably meant to
/// be open (or need a human), and a huge flat patch would change the shape.
pub const DEFAULT_MAX_HOLE_EDGES: usize = 100;
/// How many sample locations a report lists per problem: enough to find it, few enough to read.
pub const SAMPLE_LOCATIONS: usize = 5;
/// A triangle whose height is below this fraction of its longest edge counts as zero-area: that is
/// at the level of f32 rounding, so its normal is noise.
const DEGENERATE_RELATIVE_HEIGHT: f64 = 1e-7;

/// What repair may do.
#[derive(Debug, Clone, Serialize)]
pub struct RepairOptions {
    /// Vertices closer than this (mm) become one; 0 turns welding off.
    pub weld_tolerance: f32,
    /// Holes with at most this many edges are filled; 0 turns hole filling off.
    pub max_hole_edges: usize,
}

impl Default for RepairOptions {
    fn default() -> Self {
        Self { weld_tolerance: DEFAULT_WELD_TOLERANCE, max_hole_edges: DEFAULT_MAX_HOLE_EDGES }
    }
}

/// A problem left in the mesh: how many, and a few places (mm) to look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Problem {
    pub count: usize,
    pub samples: Vec<Vec3>,
}

/// One connected piece of the repaired mesh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShellSummary {
    pub triangles: usize,
    /// No open edges: it encloses a volume.
    pub closed: bool,
    /// Signed volume in mm³ (meaningful for closed shells).
    pub volume_mm3: f64,
}

/// Everything repair did, and what is still wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepairReport {
    pub vertices_before: usize,
    pub vertices_after: usize,
    pub triangles_before: usize,
    pub triangles_after: usize,
    /// Vertices joined to a neighbour within the weld tolerance.
    pub vertices_welded: usize,
    pub degenerate_faces_removed: usize,
    pub duplicate_faces_removed: usize,
    /// Faces turned around to agree with their neighbours.
    pub faces_flipped: usize,
    /// Closed shells that were inside out and were turned outward.
    pub shells_turned_outward: usize,
    pub holes_filled: usize,
    pub triangles_added: usize,
    /// Holes larger than the limit, left open.
    pub holes_left_open: Problem,
    /// Edges shared by more than two faces.
    pub non_manifold_edges: Problem,
    /// Edges used by one face only, after filling.
    pub open_edges: Problem,
    /// Edges where the orientation could not be made consistent (a Möbius-like surface).
    pub orientation_conflicts: usize,
    pub shells: Vec<ShellSummary>,
}

impl RepairReport {
    /// True when the result is closed and manifold: nothing left for a human to fix.
    pub fn is_clean(&self) -> bool {
        self.non_manifold_edges.count == 0 && self.open_edges.count == 0 && self.orientation_conflicts == 0
    }
}

fn f64v(v: Vec3) -> [f64; 3] {
    v.map(f64::from)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm2(a: [f64; 3]) -> f64 {
    a[0] * a[0] + a[1] * a[1] + a[2] * a[2]
}

/// True for a triangle with a repeated corner or (numerically) no area.
pub fn is_degenerate(v: &[Vec3], t: [u32; 3]) -> bool {
    if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
        return true;
    }
    let [a, b, c] = t.map(|i| f64v(v[i as usize]));
    let longest2 = norm2(sub(b, a)).max(norm2(sub(c, b))).max(norm2(sub(a, c)));
    // |cross| = 2·area = height·longest; compare squared to avoid square roots.
    let cross2 = norm2(cross3(sub(b, a), sub(c, a)));
    cross2 <= (DEGENERATE_RELATIVE_HEIGHT * longest2).powi(2)
}

/// Repairs a mesh and reports what it did. Never fails: what cannot be fixed is reported.
pub fn repair(mesh: &IndexedMesh, options: &RepairOptions) -> (IndexedMesh, RepairReport) {
    let mut report = RepairReport {
        vertices_before: mesh.vertices().len(),
        triangles_before: mesh.triangle_count(),
        ..Default::default()
    };
    // Bit-identical corners (an STL soup) are joined first by sorting, which is much cheaper than
    // the tolerance weld's neighbourhood search; that then only sees the distinct positions.
    let exact = merge_identical(mesh);
    let welded =
        if options.weld_tolerance > 0.0 { crate::weld::weld_tolerance(&exact, options.weld_tolerance) } else { exact };
    report.vertices_welded = mesh.vertices().len() - welded.vertices().len();
    let (verts, tris) = welded.into_parts();

    let before = tris.len();
    let mut tris: Vec<[u32; 3]> = tris.into_iter().filter(|&t| !is_degenerate(&verts, t)).collect();
    report.degenerate_faces_removed = before - tris.len();

    let before = tris.len();
    // Duplicates (same corners, either winding) found by sorting rather than hashing: a million
    // faces sort faster than they hash, and the first copy is kept in place.
    let mut order: Vec<u32> = (0..tris.len() as u32).collect();
    let sorted_key = |f: u32| {
        let mut k = tris[f as usize];
        k.sort_unstable();
        k
    };
    order.sort_unstable_by_key(|&f| (sorted_key(f), f));
    let mut duplicate = vec![false; tris.len()];
    for w in order.windows(2) {
        if sorted_key(w[0]) == sorted_key(w[1]) {
            duplicate[w[1] as usize] = true;
        }
    }
    drop(order);
    let mut k = 0;
    tris.retain(|_| {
        k += 1;
        !duplicate[k - 1]
    });
    drop(duplicate);
    report.duplicate_faces_removed = before - tris.len();

    // One edge map serves every step; it is rebuilt only when faces were flipped or added.
    let mut edges = EdgeMap::from_triangles(&tris);
    let (flipped, conflicts) = orient_with(&edges, &mut tris);
    report.faces_flipped = flipped;
    report.orientation_conflicts = conflicts;
    if flipped > 0 {
        edges = EdgeMap::from_triangles(&tris);
    }

    if options.max_hole_edges >= 3 {
        let added = fill_holes(&edges, &verts, &mut tris, options.max_hole_edges, &mut report);
        if added > 0 {
            edges = EdgeMap::from_triangles(&tris);
        }
    }

    let (shell_of, shell_count) = edges.shells(tris.len());
    let mut shell_open = vec![false; shell_count];
    for e in 0..edges.edge_count() {
        if edges.use_count(e) != 2 {
            for u in edges.uses(e) {
                shell_open[shell_of[u.face as usize] as usize] = true;
            }
        }
    }
    let mut volume = vec![0.0f64; shell_count];
    let mut count = vec![0usize; shell_count];
    for (f, t) in tris.iter().enumerate() {
        let s = shell_of[f] as usize;
        volume[s] += tet_volume(&verts, *t);
        count[s] += 1;
    }
    // Outward means positive enclosed volume; only a closed shell has a meaningful one.
    let turn: Vec<bool> = (0..shell_count).map(|s| !shell_open[s] && volume[s] < 0.0).collect();
    report.shells_turned_outward = turn.iter().filter(|&&t| t).count();
    if report.shells_turned_outward > 0 {
        for (f, t) in tris.iter_mut().enumerate() {
            if turn[shell_of[f] as usize] {
                t.swap(1, 2);
            }
        }
        for s in 0..shell_count {
            if turn[s] {
                volume[s] = -volume[s];
            }
        }
    }
    report.shells = (0..shell_count)
        .map(|s| ShellSummary { triangles: count[s], closed: !shell_open[s], volume_mm3: volume[s] })
        .collect();

    // Flipping whole shells changes no edge, so the map still describes the final surface.
    let nm = edges.non_manifold_edges();
    let open = edges.boundary_edges();
    report.non_manifold_edges = Problem { count: nm.len(), samples: samples_at(&verts, &nm) };
    report.open_edges = Problem { count: open.len(), samples: samples_at(&verts, &open) };
    drop(edges);

    // Drop vertices no triangle uses any more (welded away or left by removed faces).
    let mut remap = vec![u32::MAX; verts.len()];
    let mut kept = Vec::with_capacity(verts.len());
    for t in &mut tris {
        for i in t.iter_mut() {
            if remap[*i as usize] == u32::MAX {
                remap[*i as usize] = kept.len() as u32;
                kept.push(verts[*i as usize]);
            }
            *i = remap[*i as usize];
        }
    }
    let out = IndexedMesh::new(kept, tris).unwrap_or_default();
    report.vertices_after = out.vertices().len();
    report.triangles_after = out.triangle_count();
    (out, report)
}

/// Joins vertices with bit-identical coordinates (0.0 and -0.0 alike) and drops unused ones.
fn merge_identical(mesh: &IndexedMesh) -> IndexedMesh {
    let v = mesh.vertices();
    let key = |i: u32| v[i as usize].map(|c| if c == 0.0 { 0 } else { c.to_bits() });
    let mut order: Vec<u32> = (0..v.len() as u32).collect();
    order.sort_unstable_by_key(|&i| key(i));
    let mut remap = vec![0u32; v.len()];
    let mut out: Vec<Vec3> = Vec::with_capacity(v.len());
    for (k, &i) in order.iter().enumerate() {
        if k == 0 || key(order[k - 1]) != key(i) {
            out.push(v[i as usize]);
        }
        remap[i as usize] = (out.len() - 1) as u32;
    }
    let tris = mesh.triangles().iter().map(|t| t.map(|i| remap[i as usize])).collect();
    IndexedMesh::new(out, tris).unwrap_or_default()
}

fn tet_volume(v: &[Vec3], t: [u32; 3]) -> f64 {
    let [a, b, c] = t.map(|i| f64v(v[i as usize]));
    (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0
}

fn samples_at(verts: &[Vec3], edges: &[[u32; 2]]) -> Vec<Vec3> {
    edges
        .iter()
        .take(SAMPLE_LOCATIONS)
        .map(|&[a, b]| {
            let (p, q) = (verts[a as usize], verts[b as usize]);
            [0, 1, 2].map(|i| (p[i] + q[i]) * 0.5)
        })
        .collect()
}

/// Flips faces so neighbours across every two-face edge agree, patch by patch (breadth-first).
/// In each patch the majority orientation wins, so a few flipped faces are what gets turned.
/// Returns (faces flipped, edges where a conflict remained).
pub fn orient_consistently(tris: &mut [[u32; 3]]) -> (usize, usize) {
    let edges = EdgeMap::from_triangles(tris);
    orient_with(&edges, tris)
}

fn orient_with(edges: &EdgeMap, tris: &mut [[u32; 3]]) -> (usize, usize) {
    // Per face: its three edge ids, found again by key lookup in the sorted map.
    let n = tris.len();
    let mut face_edges: Vec<[u32; 3]> = vec![[u32::MAX; 3]; n];
    for e in 0..edges.edge_count() {
        let [lo, hi] = edges.endpoints(e);
        for u in edges.uses(e) {
            let t = tris[u.face as usize];
            for k in 0..3 {
                let (a, b) = (t[k], t[(k + 1) % 3]);
                if (a.min(b), a.max(b)) == (lo, hi) {
                    face_edges[u.face as usize][k] = e as u32;
                }
            }
        }
    }
    let mut flip = vec![false; n];
    let mut seen = vec![false; n];
    let mut conflicts = 0;
    let mut queue = VecDeque::new();
    let mut patch = Vec::new();
    let mut flipped_total = 0;
    for seed in 0..n {
        if seen[seed] {
            continue;
        }
        seen[seed] = true;
        queue.push_back(seed);
        patch.clear();
        while let Some(f) = queue.pop_front() {
            patch.push(f);
            for &e in &face_edges[f] {
                if e == u32::MAX || edges.use_count(e as usize) != 2 {
                    continue;
                }
                let mut it = edges.uses(e as usize);
                let (x, y) = (it.next().expect("two uses"), it.next().expect("two uses"));
                let (me, other) = if x.face as usize == f { (x, y) } else { (y, x) };
                let g = other.face as usize;
                if g == f {
                    continue;
                }
                let my_dir = me.forward ^ flip[f];
                // The neighbour must run the other way along the shared edge.
                let want_flip = other.forward == my_dir;
                if seen[g] {
                    if flip[g] != want_flip {
                        conflicts += 1;
                    }
                } else {
                    seen[g] = true;
                    flip[g] = want_flip;
                    queue.push_back(g);
                }
            }
        }
        let flipped = patch.iter().filter(|&&f| flip[f]).count();
        if flipped * 2 > patch.len() {
            for &f in &patch {
                flip[f] = !flip[f];
            }
            flipped_total += patch.len() - flipped;
        } else {
            flipped_total += flipped;
        }
    }
    for (t, &f) in tris.iter_mut().zip(&flip) {
        if f {
            t.swap(1, 2);
        }
    }
    // Each conflicting edge was seen from both sides.
    (flipped_total, conflicts / 2)
}

/// Best-fit plane normal of a closed loop (Newell's method), not normalised.
pub(crate) fn newell_normal(pts: &[[f64; 3]]) -> [f64; 3] {
    let mut n = [0.0; 3];
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    n
}

/// Two unit vectors spanning the plane perpendicular to `n` with u × v along n.
pub(crate) fn plane_basis(n: [f64; 3]) -> ([f64; 3], [f64; 3]) {
    let len = norm2(n).sqrt();
    let n = if len > 0.0 { n.map(|c| c / len) } else { [0.0, 0.0, 1.0] };
    let helper = if n[0].abs() < 0.9 { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
    let u = cross3(helper, n);
    let ul = norm2(u).sqrt();
    let u = u.map(|c| c / ul);
    (u, cross3(n, u))
}

/// Fills holes of at most `max_edges` edges; returns the number of triangles added.
fn fill_holes(
    edges: &EdgeMap,
    verts: &[Vec3],
    tris: &mut Vec<[u32; 3]>,
    max_edges: usize,
    report: &mut RepairReport,
) -> usize {
    let (loops, _) = edges.boundary_loops();
    let added_before = report.triangles_added;
    let mut too_big = Vec::new();
    for l in loops {
        if l.len() > max_edges {
            too_big.push(l);
            continue;
        }
        let pts: Vec<[f64; 3]> = l.iter().map(|&i| f64v(verts[i as usize])).collect();
        let (u, v) = plane_basis(newell_normal(&pts));
        let flat: Vec<P2> = pts
            .iter()
            .map(|p| [p[0] * u[0] + p[1] * u[1] + p[2] * u[2], p[0] * v[0] + p[1] * v[1] + p[2] * v[2]])
            .collect();
        let patch = triangulate(&flat, &[]);
        // The loop is counter-clockwise around its Newell normal, so triangulate() kept its order
        // and the patch runs like the loop: against its neighbours, as it must.
        report.triangles_added += patch.len();
        report.holes_filled += 1;
        tris.extend(patch.into_iter().map(|t| t.map(|k| l[k])));
    }
    report.holes_left_open.count = too_big.len();
    report.holes_left_open.samples = too_big
        .iter()
        .take(SAMPLE_LOCATIONS)
        .map(|l| {
            let n = l.len() as f32;
            let mut c = [0.0f32; 3];
            for &i in l {
                for k in 0..3 {
                    c[k] += verts[i as usize][k] / n;
                }
            }
            c
        })
        .collect();
    report.triangles_added - added_before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, torus, uv_sphere};

    fn cube() -> IndexedMesh {
        IndexedMesh::cube(10.0)
    }

    #[test]
    fn clean_mesh_passes_through_unchanged() {
        let (m, r) = repair(&cube(), &RepairOptions::default());
        assert_eq!(m.triangle_count(), 12);
        assert!(r.is_clean());
        assert_eq!(r.faces_flipped + r.holes_filled + r.duplicate_faces_removed + r.degenerate_faces_removed, 0);
        assert_eq!(r.shells.len(), 1);
        assert!((m.signed_volume() - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn flipped_removed_and_duplicated_faces_are_fixed() {
        let c = cube();
        let mut tris = c.triangles().to_vec();
        tris[3].swap(0, 1); // flipped
        tris.remove(6); // hole
        tris.push(tris[0]); // duplicate
        tris.push([tris[1][0], tris[1][2], tris[1][1]]); // duplicate, opposite winding
        tris.push([0, 0, 1]); // degenerate
        let broken = IndexedMesh::new(c.vertices().to_vec(), tris).unwrap();
        let (m, r) = repair(&broken, &RepairOptions::default());
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.faces_flipped, 1);
        assert_eq!(r.holes_filled, 1);
        assert_eq!(r.duplicate_faces_removed, 2);
        assert_eq!(r.degenerate_faces_removed, 1);
        assert_eq!(m.triangle_count(), 12);
        assert!((m.signed_volume() - 1000.0).abs() < 1e-6, "{}", m.signed_volume());
    }

    #[test]
    fn inside_out_sphere_is_turned_outward_and_split_soup_is_welded() {
        let s = uv_sphere(5.0, 24, 12);
        let inv: Vec<_> = s.triangles().iter().map(|t| [t[0], t[2], t[1]]).collect();
        let inv = IndexedMesh::new(s.vertices().to_vec(), inv).unwrap();
        let (m, r) = repair(&inv, &RepairOptions::default());
        assert_eq!(r.shells_turned_outward, 1);
        assert!(m.signed_volume() > 0.0);
        // An unwelded soup with a tiny jitter welds back to the sphere.
        let mut v = Vec::new();
        let mut t = Vec::new();
        for tri in s.triangles() {
            let base = v.len() as u32;
            for &i in tri {
                let p = s.vertices()[i as usize];
                v.push([p[0] + 1e-5, p[1], p[2]]);
            }
            t.push([base, base + 1, base + 2]);
        }
        let soup = IndexedMesh::new(v, t).unwrap();
        let (m, r) = repair(&soup, &RepairOptions::default());
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(m.vertices().len(), s.vertices().len());
        assert!((m.signed_volume() - s.signed_volume()).abs() < 1e-3 * s.signed_volume());
    }

    #[test]
    fn big_holes_stay_open_and_are_reported() {
        let t = torus(10.0, 3.0, 64, 16);
        // Remove one ring of faces around the tube: two 16-edge holes.
        let tris: Vec<_> = t.triangles()[32..].to_vec();
        let broken = IndexedMesh::new(t.vertices().to_vec(), tris).unwrap();
        let (_, r) = repair(&broken, &RepairOptions { max_hole_edges: 8, ..Default::default() });
        assert_eq!(r.holes_left_open.count, 2);
        assert_eq!(r.open_edges.count, 32);
        assert!(!r.open_edges.samples.is_empty());
        assert!(!r.is_clean());
        let (m, r) = repair(&broken, &RepairOptions::default());
        assert!(r.is_clean(), "{r:?}");
        assert!(m.signed_volume() > 0.0);
    }

    #[test]
    fn non_manifold_and_shells_are_reported() {
        let mut m = box_mesh([0.0; 3], [1.0; 3]);
        m.append(&box_mesh([3.0; 3], [4.0; 3]));
        let (v, mut t) = m.into_parts();
        t.push([0, 1, 6]);
        t.push([0, 6, 1]);
        let m = IndexedMesh::new(v, t).unwrap();
        let (_, r) = repair(&m, &RepairOptions::default());
        assert!(r.non_manifold_edges.count >= 1);
        assert_eq!(r.non_manifold_edges.samples.len().min(1), 1);
        assert_eq!(r.shells.len(), 2);
    }

    #[test]
    fn empty_and_all_degenerate_meshes_do_not_panic() {
        let (m, r) = repair(&IndexedMesh::default(), &RepairOptions::default());
        assert_eq!(m.triangle_count(), 0);
        assert!(r.is_clean());
        let m = IndexedMesh::new(vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], vec![[0, 1, 2], [0, 0, 0]]).unwrap();
        let (m, r) = repair(&m, &RepairOptions::default());
        assert_eq!(m.triangle_count(), 0);
        assert_eq!(r.degenerate_faces_removed, 2);
    }
}
