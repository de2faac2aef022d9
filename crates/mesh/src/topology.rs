//! Edge topology: which faces meet at each undirected edge and in which direction they run along it.
//! Repair and validation read boundary edges, non-manifold edges, orientation and shells from here.

use crate::{IndexedMesh, Vec3};

/// One face's use of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeUse {
    /// The face (triangle index).
    pub face: u32,
    /// True when the face runs along the edge from its lower to its higher vertex index.
    pub forward: bool,
}

/// Undirected edges of a triangle list, each with the faces that use it.
///
/// Built by sorting half-edges, which is faster and leaner than a hash map of vectors on
/// million-triangle meshes. Edges of collapsed triangles (a repeated index) are left out.
#[derive(Debug, Clone, Default)]
pub struct EdgeMap {
    /// (edge key, face << 1 | forward), sorted by key.
    half: Vec<(u64, u32)>,
    /// Start of each edge's run in `half`, plus one past the end.
    starts: Vec<u32>,
}

fn key(a: u32, b: u32) -> (u64, bool) {
    if a < b {
        ((u64::from(a) << 32) | u64::from(b), true)
    } else {
        ((u64::from(b) << 32) | u64::from(a), false)
    }
}

impl EdgeMap {
    /// The edge map of a mesh's triangles.
    pub fn new(mesh: &IndexedMesh) -> Self {
        Self::from_triangles(mesh.triangles())
    }

    /// The edge map of a triangle list.
    pub fn from_triangles(triangles: &[[u32; 3]]) -> Self {
        let mut half = Vec::with_capacity(triangles.len() * 3);
        for (f, t) in triangles.iter().enumerate() {
            for k in 0..3 {
                let (a, b) = (t[k], t[(k + 1) % 3]);
                if a != b {
                    let (key, fwd) = key(a, b);
                    half.push((key, (f as u32) << 1 | u32::from(fwd)));
                }
            }
        }
        #[cfg(feature = "parallel")]
        {
            use rayon::slice::ParallelSliceMut;
            half.par_sort_unstable();
        }
        #[cfg(not(feature = "parallel"))]
        half.sort_unstable();
        let mut starts = Vec::with_capacity(half.len() / 2 + 1);
        for (i, h) in half.iter().enumerate() {
            if i == 0 || half[i - 1].0 != h.0 {
                starts.push(i as u32);
            }
        }
        starts.push(half.len() as u32);
        Self { half, starts }
    }

    /// Number of distinct undirected edges.
    pub fn edge_count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Edge `e`'s endpoints (lower index first).
    pub fn endpoints(&self, e: usize) -> [u32; 2] {
        let k = self.half[self.starts[e] as usize].0;
        [(k >> 32) as u32, k as u32]
    }

    /// The faces using edge `e`.
    pub fn uses(&self, e: usize) -> impl ExactSizeIterator<Item = EdgeUse> + '_ {
        self.half[self.starts[e] as usize..self.starts[e + 1] as usize]
            .iter()
            .map(|&(_, v)| EdgeUse { face: v >> 1, forward: v & 1 == 1 })
    }

    /// How many faces use edge `e`.
    pub fn use_count(&self, e: usize) -> usize {
        (self.starts[e + 1] - self.starts[e]) as usize
    }

    /// Edges used by exactly one face: the rims of holes.
    pub fn boundary_edges(&self) -> Vec<[u32; 2]> {
        (0..self.edge_count()).filter(|&e| self.use_count(e) == 1).map(|e| self.endpoints(e)).collect()
    }

    /// Edges used by more than two faces: the surface meets itself there.
    pub fn non_manifold_edges(&self) -> Vec<[u32; 2]> {
        (0..self.edge_count()).filter(|&e| self.use_count(e) > 2).map(|e| self.endpoints(e)).collect()
    }

    /// Every edge has exactly two faces running along it in opposite directions: a closed,
    /// consistently oriented 2-manifold surface.
    pub fn is_closed_and_oriented(&self) -> bool {
        self.boundary_edges().is_empty() && self.non_manifold_edges().is_empty() && self.inconsistent_edges().is_empty()
    }

    /// Edges shared by two faces that run along it in the same direction (one of them is flipped).
    pub fn inconsistent_edges(&self) -> Vec<[u32; 2]> {
        (0..self.edge_count())
            .filter(|&e| {
                let mut u = self.uses(e);
                u.len() == 2 && u.next().map(|x| x.forward) == u.next().map(|x| x.forward)
            })
            .map(|e| self.endpoints(e))
            .collect()
    }

    /// Shells: faces connected through shared edges. Returns each face's shell id and the count.
    /// Faces with no usable edge (fully collapsed) still get a shell of their own.
    pub fn shells(&self, face_count: usize) -> (Vec<u32>, usize) {
        let mut parent: Vec<u32> = (0..face_count as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        for e in 0..self.edge_count() {
            let mut it = self.uses(e);
            let Some(first) = it.next() else { continue };
            for u in it {
                let (a, b) = (find(&mut parent, first.face), find(&mut parent, u.face));
                if a != b {
                    parent[a.max(b) as usize] = a.min(b);
                }
            }
        }
        let mut id = vec![u32::MAX; face_count];
        let mut out = vec![0u32; face_count];
        let mut count = 0u32;
        for (f, slot) in out.iter_mut().enumerate() {
            let r = find(&mut parent, f as u32) as usize;
            if id[r] == u32::MAX {
                id[r] = count;
                count += 1;
            }
            *slot = id[r];
        }
        (out, count as usize)
    }

    /// The rims of holes as closed vertex loops, each running opposite to its faces (so a patch
    /// triangulated in loop order matches their orientation). Chains that do not close (where
    /// orientation is inconsistent) are left out; the second value counts their edges.
    pub fn boundary_loops(&self) -> (Vec<Vec<u32>>, usize) {
        // Hole half-edges as (from, to), sorted by `from` so each vertex's outgoing ones are adjacent.
        let mut hole: Vec<(u32, u32)> = Vec::new();
        for e in 0..self.edge_count() {
            if self.use_count(e) != 1 {
                continue;
            }
            let forward = self.uses(e).next().is_some_and(|u| u.forward);
            let [lo, hi] = self.endpoints(e);
            // The face runs lo→hi when forward; the hole runs the other way.
            hole.push(if forward { (hi, lo) } else { (lo, hi) });
        }
        hole.sort_unstable();
        let mut used = vec![false; hole.len()];
        let first_from = |v: u32| hole.partition_point(|h| h.0 < v);
        let mut loops = Vec::new();
        let mut stray = 0;
        for start in 0..hole.len() {
            if used[start] {
                continue;
            }
            used[start] = true;
            let origin = hole[start].0;
            let mut chain = vec![origin];
            let mut at = hole[start].1;
            let mut steps = 1;
            let closed = loop {
                if at == origin {
                    break true;
                }
                chain.push(at);
                let mut i = first_from(at);
                let mut next = None;
                while i < hole.len() && hole[i].0 == at {
                    if !used[i] {
                        next = Some(i);
                        break;
                    }
                    i += 1;
                }
                match next {
                    Some(i) => {
                        used[i] = true;
                        steps += 1;
                        at = hole[i].1;
                    }
                    None => break false,
                }
            };
            if closed && chain.len() >= 3 {
                loops.push(chain);
            } else {
                stray += steps;
            }
        }
        (loops, stray)
    }
}

/// Midpoints of up to `limit` edges, in millimetres, to point the user at a problem.
pub fn edge_samples(mesh: &IndexedMesh, edges: &[[u32; 2]], limit: usize) -> Vec<Vec3> {
    let v = mesh.vertices();
    edges
        .iter()
        .take(limit)
        .filter_map(|&[a, b]| {
            let (p, q) = (v.get(a as usize)?, v.get(b as usize)?);
            Some([0, 1, 2].map(|i| (p[i] + q[i]) * 0.5))
        })
        .collect()
}

/// Whether every edge of a triangle list is used by exactly two faces: closed, with no hole and no
/// non-manifold edge (what [`EdgeMap`]'s boundary and non-manifold lists say when both are empty).
/// Linear time, with no sort of all the edges, so the editor can check every cut of a
/// million-triangle part within a frame or two. Edges of collapsed triangles are left out.
pub fn is_closed(triangles: &[[u32; 3]], vertex_count: usize) -> bool {
    edges_pair_up(triangles, vertex_count, false)
}

/// Like [`is_closed`], and the two faces at each edge also run along it in opposite directions
/// (what [`EdgeMap::is_closed_and_oriented`] says).
pub fn is_closed_and_oriented(triangles: &[[u32; 3]], vertex_count: usize) -> bool {
    edges_pair_up(triangles, vertex_count, true)
}

/// Buckets each edge use by its lower vertex (a counting sort), then checks each vertex's few
/// neighbours: every neighbour must appear exactly twice (and, if `oriented`, once each way).
fn edges_pair_up(triangles: &[[u32; 3]], vertex_count: usize, oriented: bool) -> bool {
    let mut start = vec![0u32; vertex_count + 1];
    for t in triangles {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            if a == b {
                continue;
            }
            let low = a.min(b) as usize;
            if a.max(b) as usize >= vertex_count {
                return false;
            }
            start[low + 1] += 1;
        }
    }
    for v in 0..vertex_count {
        start[v + 1] += start[v];
    }
    let mut fill = start.clone();
    let mut other = vec![0u32; start[vertex_count] as usize];
    for t in triangles {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            if a == b {
                continue;
            }
            let (low, high, forward) = if a < b { (a, b, 1) } else { (b, a, 0) };
            let slot = &mut fill[low as usize];
            other[*slot as usize] = high << 1 | forward;
            *slot += 1;
        }
    }
    for v in 0..vertex_count {
        let uses = &mut other[start[v] as usize..start[v + 1] as usize];
        // A vertex has a handful of neighbours: this sorts a few numbers at a time.
        uses.sort_unstable();
        if !uses.len().is_multiple_of(2) {
            return false;
        }
        for pair in uses.chunks_exact(2) {
            let (x, y) = (pair[0], pair[1]);
            if x >> 1 != y >> 1 || (oriented && x == y) {
                return false;
            }
        }
        // A third use of an edge would pair with the next edge's first use, which has a different
        // neighbour, unless the edge is used four times: pairs of the same neighbour side by side.
        if uses.windows(3).any(|w| w[0] >> 1 == w[2] >> 1) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, torus};

    #[test]
    fn closed_cube_has_no_boundary_and_one_shell() {
        let m = IndexedMesh::cube(1.0);
        let em = EdgeMap::new(&m);
        assert_eq!(em.edge_count(), 18);
        assert!(em.boundary_edges().is_empty());
        assert!(em.non_manifold_edges().is_empty());
        assert!(em.inconsistent_edges().is_empty());
        assert_eq!(em.shells(12).1, 1);
    }

    #[test]
    fn removed_face_leaves_one_triangular_hole() {
        let m = IndexedMesh::cube(1.0);
        let tris: Vec<_> = m.triangles()[1..].to_vec();
        let em = EdgeMap::from_triangles(&tris);
        assert_eq!(em.boundary_edges().len(), 3);
        let (loops, stray) = em.boundary_loops();
        assert_eq!((loops.len(), stray), (1, 0));
        // The loop runs against the missing face's neighbours, i.e. like the missing face itself.
        let missing = m.triangles()[0];
        let l = &loops[0];
        let pos = l.iter().position(|&v| v == missing[0]).unwrap();
        assert_eq!([l[pos], l[(pos + 1) % 3], l[(pos + 2) % 3]], missing);
    }

    #[test]
    fn two_boxes_are_two_shells_and_torus_is_one() {
        let mut m = box_mesh([0.0; 3], [1.0; 3]);
        m.append(&box_mesh([5.0; 3], [6.0; 3]));
        let em = EdgeMap::new(&m);
        let (ids, n) = em.shells(m.triangle_count());
        assert_eq!(n, 2);
        assert_eq!(ids[0], 0);
        assert_eq!(ids[23], 1);
        let t = torus(5.0, 1.0, 16, 8);
        assert_eq!(EdgeMap::new(&t).shells(t.triangle_count()).1, 1);
    }

    #[test]
    fn flipped_face_and_fin_are_detected() {
        let m = IndexedMesh::cube(1.0);
        let mut tris = m.triangles().to_vec();
        tris[0].swap(1, 2);
        assert_eq!(EdgeMap::from_triangles(&tris).inconsistent_edges().len(), 3);
        let mut tris = m.triangles().to_vec();
        tris.push([0, 1, 6]);
        tris.push([0, 0, 0]);
        let em = EdgeMap::from_triangles(&tris);
        assert_eq!(em.non_manifold_edges(), vec![[0, 1], [1, 6]]);
    }

    #[test]
    fn closed_check_agrees_with_the_edge_map_on_the_usual_cases() {
        let cube = IndexedMesh::cube(1.0);
        let n = cube.vertices().len();
        assert!(is_closed(cube.triangles(), n) && is_closed_and_oriented(cube.triangles(), n));
        let holed = &cube.triangles()[1..];
        assert!(!is_closed(holed, n));
        let mut flipped = cube.triangles().to_vec();
        flipped[0].swap(1, 2);
        assert!(is_closed(&flipped, n) && !is_closed_and_oriented(&flipped, n));
        // The same face twice more: each of its edges used four times.
        let mut doubled = cube.triangles().to_vec();
        doubled.extend([cube.triangles()[0], [cube.triangles()[0][0], cube.triangles()[0][2], cube.triangles()[0][1]]]);
        assert!(!is_closed(&doubled, n));
        assert!(!is_closed(cube.triangles(), 3), "indices past the vertex count");
    }

    // proptest does not build for wasm32; the wasm run keeps the unit tests above.
    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;

        proptest::proptest! {
            /// On random triangle soups over a few vertices (so edges repeat, collapse and tangle),
            /// the linear check says what the sorted edge map says.
            #[test]
            fn closed_check_agrees_with_the_edge_map(
                tris in proptest::collection::vec(proptest::array::uniform3(0u32..6), 0..24),
            ) {
                let em = EdgeMap::from_triangles(&tris);
                let closed = em.boundary_edges().is_empty() && em.non_manifold_edges().is_empty();
                proptest::prop_assert_eq!(is_closed(&tris, 6), closed);
                proptest::prop_assert_eq!(is_closed_and_oriented(&tris, 6), em.is_closed_and_oriented());
            }

            /// Closed meshes made by doubling a random soup with every face reversed: always closed,
            /// except where a face meets its own reverse on a shared edge more than twice.
            #[test]
            fn closed_check_agrees_on_doubled_soups(
                tris in proptest::collection::vec(proptest::array::uniform3(0u32..8), 1..12),
            ) {
                let mut all = tris.clone();
                all.extend(tris.iter().map(|t| [t[0], t[2], t[1]]));
                let em = EdgeMap::from_triangles(&all);
                proptest::prop_assert_eq!(is_closed(&all, 8), em.boundary_edges().is_empty() && em.non_manifold_edges().is_empty());
                proptest::prop_assert_eq!(is_closed_and_oriented(&all, 8), em.is_closed_and_oriented());
            }
        }
    }
}
