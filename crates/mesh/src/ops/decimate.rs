//! Mesh decimation by quadric error metrics (Garland & Heckbert 1997), for preview LODs.
//!
//! Edges are collapsed cheapest first, in passes: each pass costs and sorts the live edges and
//! collapses the cheapest ones whose neighbourhoods the pass has not yet changed. Open and
//! non-manifold edges keep their vertices fixed, so outlines and holes keep their shape; a collapse
//! that would flip a face or pinch the surface (the link condition) is skipped.

use crate::topology::EdgeMap;
use crate::IndexedMesh;

/// A symmetric 4×4 quadric, upper triangle: a², ab, ac, ad, b², bc, bd, c², cd, d².
type Quadric = [f64; 10];

/// Below this |det| (relative to the matrix scale cubed) the optimal point is ill-defined (flat or
/// straight regions), and the best of the endpoints and midpoint is used instead.
const SINGULAR_RELATIVE_DET: f64 = 1e-10;
/// A collapse must leave each moved face's normal within ~84° of where it was (cos > 0.1): beyond
/// that the face is nearly folded over, which shows in previews as dark creases.
const MIN_NORMAL_COS: f64 = 0.1;
/// Within one pass, collapses up to this factor dearer than the pass's goal collapse are allowed
/// (meshoptimizer uses the same idea): enough to make progress, few enough to stay near greedy order.
const PASS_ERROR_BOUND: f32 = 1.5;

fn plane_quadric(n: [f64; 3], d: f64, w: f64) -> Quadric {
    let [a, b, c] = n;
    [a * a * w, a * b * w, a * c * w, a * d * w, b * b * w, b * c * w, b * d * w, c * c * w, c * d * w, d * d * w]
}

fn add(q: &mut Quadric, r: &Quadric) {
    for k in 0..10 {
        q[k] += r[k];
    }
}

fn error(q: &Quadric, p: [f64; 3]) -> f64 {
    let [x, y, z] = p;
    q[0] * x * x
        + 2.0 * q[1] * x * y
        + 2.0 * q[2] * x * z
        + 2.0 * q[3] * x
        + q[4] * y * y
        + 2.0 * q[5] * y * z
        + 2.0 * q[6] * y
        + q[7] * z * z
        + 2.0 * q[8] * z
        + q[9]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The point minimising the quadric, if the system is well-conditioned.
fn optimum(q: &Quadric) -> Option<[f64; 3]> {
    let (a, b, c, d, e, f) = (q[0], q[1], q[2], q[4], q[5], q[7]);
    let (r0, r1, r2) = (-q[3], -q[6], -q[8]);
    let c00 = d * f - e * e;
    let c01 = c * e - b * f;
    let c02 = b * e - c * d;
    let det = a * c00 + b * c01 + c * c02;
    let scale = a.abs().max(d.abs()).max(f.abs());
    // Written so that NaN also counts as singular.
    if det.abs().partial_cmp(&(SINGULAR_RELATIVE_DET * scale * scale * scale)) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let c11 = a * f - c * c;
    let c12 = b * c - a * e;
    let c22 = a * d - b * b;
    let p = [
        (c00 * r0 + c01 * r1 + c02 * r2) / det,
        (c01 * r0 + c11 * r1 + c12 * r2) / det,
        (c02 * r0 + c12 * r1 + c22 * r2) / det,
    ];
    p.iter().all(|x| x.is_finite()).then_some(p)
}

struct State {
    pos: Vec<[f64; 3]>,
    quad: Vec<Quadric>,
    locked: Vec<bool>,
    dead_v: Vec<bool>,
    tris: Vec<[u32; 3]>,
    dead_f: Vec<bool>,
    faces_of: Vec<Vec<u32>>,
    /// Scratch marks for neighbour sets: a vertex is in the current set when its mark is `epoch`.
    mark: Vec<u32>,
    seen: Vec<u32>,
    epoch: u32,
}

impl State {
    /// Where edge (a, b) would collapse to, and the error there.
    fn plan(&self, a: u32, b: u32) -> Option<([f64; 3], f64)> {
        let (a, b) = (a as usize, b as usize);
        let mut q = self.quad[a];
        add(&mut q, &self.quad[b]);
        let target = match (self.locked[a], self.locked[b]) {
            (true, true) => return None,
            (true, false) => self.pos[a],
            (false, true) => self.pos[b],
            (false, false) => {
                let (pa, pb) = (self.pos[a], self.pos[b]);
                let mid = [0.0, 1.0, 2.0].map(|k: f64| (pa[k as usize] + pb[k as usize]) * 0.5);
                let len2 = dot(sub(pa, pb), sub(pa, pb));
                match optimum(&q) {
                    // A far-away optimum (nearly parallel planes) would stretch the surface.
                    Some(p) if dot(sub(p, mid), sub(p, mid)) <= 4.0 * len2 => p,
                    _ => [pa, pb, mid]
                        .into_iter()
                        .min_by(|x, y| error(&q, *x).total_cmp(&error(&q, *y)))
                        .expect("three candidates"),
                }
            }
        };
        Some((target, error(&q, target).max(0.0)))
    }

    /// Whether collapsing b into a at `target` keeps the surface manifold and unflipped.
    /// Neighbour sets are compared with epoch marks rather than sorted lists: this runs for every
    /// candidate collapse.
    fn allowed(&mut self, a: u32, b: u32, target: [f64; 3]) -> bool {
        self.epoch = self.epoch.wrapping_add(1);
        let ep = self.epoch;
        let mut shared = 0;
        for &f in &self.faces_of[a as usize] {
            if self.dead_f[f as usize] {
                continue;
            }
            let t = self.tris[f as usize];
            if t.contains(&b) {
                shared += 1;
            }
            for x in t {
                if x != a {
                    self.mark[x as usize] = ep;
                }
            }
        }
        // Link condition: the common neighbours must be exactly the tips of the shared faces.
        let mut common = 0;
        for &f in &self.faces_of[b as usize] {
            if self.dead_f[f as usize] {
                continue;
            }
            for x in self.tris[f as usize] {
                if x != b && self.mark[x as usize] == ep && self.seen[x as usize] != ep {
                    self.seen[x as usize] = ep;
                    common += 1;
                }
            }
        }
        if shared == 0 || common != shared {
            return false;
        }
        for v in [a, b] {
            for &f in &self.faces_of[v as usize] {
                let t = self.tris[f as usize];
                if self.dead_f[f as usize] || (t.contains(&a) && t.contains(&b)) {
                    continue;
                }
                let p = t.map(|x| self.pos[x as usize]);
                let old = cross(sub(p[1], p[0]), sub(p[2], p[0]));
                let q = t.map(|x| if x == v { target } else { self.pos[x as usize] });
                let new = cross(sub(q[1], q[0]), sub(q[2], q[0]));
                let (lo, ln) = (dot(old, old).sqrt(), dot(new, new).sqrt());
                if ln.is_nan() || ln <= 0.0 || dot(old, new) < MIN_NORMAL_COS * lo * ln {
                    return false;
                }
            }
        }
        true
    }
}

/// Reduces `mesh` to about `target_triangles` triangles (fewer are never removed than needed; it
/// may stop above the target where every remaining collapse would damage the surface).
pub fn decimate(mesh: &IndexedMesh, target_triangles: usize) -> IndexedMesh {
    let tris: Vec<[u32; 3]> = mesh.triangles().to_vec();
    if tris.len() <= target_triangles {
        return mesh.clone();
    }
    let nv = mesh.vertices().len();
    let pos: Vec<[f64; 3]> = mesh.vertices().iter().map(|p| p.map(f64::from)).collect();
    let mut quad = vec![[0.0f64; 10]; nv];
    let mut dead_f = vec![false; tris.len()];
    let mut counts = vec![0u32; nv];
    for (f, t) in tris.iter().enumerate() {
        if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            dead_f[f] = true;
            continue;
        }
        let p = t.map(|i| pos[i as usize]);
        let n = cross(sub(p[1], p[0]), sub(p[2], p[0]));
        let len = dot(n, n).sqrt();
        for &i in t {
            counts[i as usize] += 1;
        }
        if len > 0.0 {
            let n = n.map(|c| c / len);
            // Weighting by area makes big flat faces resist more than slivers.
            let q = plane_quadric(n, -dot(n, p[0]), len * 0.5);
            for &i in t {
                add(&mut quad[i as usize], &q);
            }
        }
    }
    let mut faces_of: Vec<Vec<u32>> = counts.iter().map(|&c| Vec::with_capacity(c as usize)).collect();
    for (f, t) in tris.iter().enumerate() {
        if !dead_f[f] {
            for &i in t {
                faces_of[i as usize].push(f as u32);
            }
        }
    }
    let edges = EdgeMap::from_triangles(&tris);
    let mut locked = vec![false; nv];
    for e in 0..edges.edge_count() {
        if edges.use_count(e) != 2 {
            for v in edges.endpoints(e) {
                locked[v as usize] = true;
            }
        }
    }
    let mut live = dead_f.iter().filter(|&&d| !d).count();
    let mut st = State {
        pos,
        quad,
        locked,
        dead_v: vec![false; nv],
        tris,
        dead_f,
        faces_of,
        mark: vec![0; nv],
        seen: vec![0; nv],
        epoch: 0,
    };
    drop(edges);
    // Passes rather than one global priority queue: each pass costs every live edge, sorts them and
    // collapses the cheapest ones whose neighbourhoods this pass has not touched yet. A global heap
    // outdates ~6 entries per collapse and spends its time on cache misses; passes stream memory.
    let mut touched = vec![0u32; nv];
    let mut pass = 0u32;
    let mut candidates: Vec<(u32, u32, u32)> = Vec::new();
    while live > target_triangles {
        pass += 1;
        candidates.clear();
        for (f, t) in st.tris.iter().enumerate() {
            if st.dead_f[f] {
                continue;
            }
            for k in 0..3 {
                let (a, b) = (t[k], t[(k + 1) % 3]);
                // An interior edge runs once each way through its two faces; cost it once.
                if a < b {
                    if let Some((_, cost)) = st.plan(a, b) {
                        candidates.push(((cost as f32).to_bits(), a, b));
                    }
                }
            }
        }
        if candidates.is_empty() {
            break;
        }
        // Non-negative f32 costs order like their bits.
        candidates.sort_unstable();
        // Each collapse removes about two faces. Collapses much dearer than the one that would meet
        // the goal wait for a later pass, where costs are fresh; this keeps the greedy order.
        let goal = (live - target_triangles).div_ceil(2).min(candidates.len() - 1);
        let bound = f32::from_bits(candidates[goal].0) * PASS_ERROR_BOUND;
        let mut collapsed = 0usize;
        for &(cost, a, b) in &candidates {
            if live <= target_triangles || (collapsed > 0 && f32::from_bits(cost) > bound) {
                break;
            }
            let (ai, bi) = (a as usize, b as usize);
            if st.dead_v[ai] || st.dead_v[bi] || touched[ai] == pass || touched[bi] == pass {
                continue;
            }
            let Some((target, _)) = st.plan(a, b) else { continue };
            // The locked (boundary) end survives, so the outline does not move.
            let (keep, gone) = if st.locked[bi] { (b, a) } else { (a, b) };
            if !st.allowed(keep, gone, target) {
                continue;
            }
            let (k, g) = (keep as usize, gone as usize);
            st.pos[k] = target;
            let qg = st.quad[g];
            add(&mut st.quad[k], &qg);
            st.dead_v[g] = true;
            let moved = std::mem::take(&mut st.faces_of[g]);
            for f in moved {
                let fi = f as usize;
                if st.dead_f[fi] {
                    continue;
                }
                let t = &mut st.tris[fi];
                if t.contains(&keep) {
                    st.dead_f[fi] = true;
                    live -= 1;
                } else {
                    for x in t.iter_mut() {
                        if *x == gone {
                            *x = keep;
                        }
                    }
                    st.faces_of[k].push(f);
                }
            }
            let dead_f = &st.dead_f;
            st.faces_of[k].retain(|&f| !dead_f[f as usize]);
            // Only edges at the moved vertex changed cost (its quadric and position moved); the rest
            // of this pass's list stays exact, and `allowed` re-checks topology at collapse time.
            touched[k] = pass;
            collapsed += 1;
        }
        if collapsed == 0 {
            break;
        }
    }
    let vertices: Vec<[f32; 3]> = st.pos.iter().map(|p| p.map(|c| c as f32)).collect();
    let faces = st.tris.iter().zip(&st.dead_f).filter(|(_, &dead)| !dead).map(|(t, _)| *t).collect();
    super::compact(&vertices, faces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, uv_sphere};

    fn closed(m: &IndexedMesh) -> bool {
        EdgeMap::new(m).is_closed_and_oriented()
    }

    #[test]
    fn sphere_keeps_volume_and_stays_closed() {
        let s = uv_sphere(20.0, 128, 64);
        let d = decimate(&s, 2000);
        assert!(d.triangle_count() <= 2000 && d.triangle_count() > 1500, "{}", d.triangle_count());
        assert!(closed(&d));
        let rel = (d.signed_volume() - s.signed_volume()).abs() / s.signed_volume();
        assert!(rel < 0.02, "volume changed by {rel}");
    }

    #[test]
    fn open_boundary_is_preserved() {
        // Half a sphere: its rim must not move.
        let s = uv_sphere(10.0, 64, 32);
        let tris: Vec<_> = s.triangles()[..s.triangle_count() / 2].to_vec();
        let half = IndexedMesh::new(s.vertices().to_vec(), tris).unwrap();
        let rim_before = EdgeMap::new(&half).boundary_edges().len();
        let d = decimate(&half, 300);
        assert_eq!(EdgeMap::new(&d).boundary_edges().len(), rim_before);
    }

    #[test]
    fn small_or_empty_meshes_pass_through() {
        let b = box_mesh([0.0; 3], [1.0; 3]);
        assert_eq!(decimate(&b, 100), b);
        let d = decimate(&b, 0);
        assert!(d.triangle_count() <= 12);
        assert_eq!(decimate(&IndexedMesh::default(), 0).triangle_count(), 0);
    }
}
