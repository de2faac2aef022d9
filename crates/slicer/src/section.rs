//! Cutting a mesh into layer outlines.
//!
//! Each triangle that spans a plane contributes one segment running from the edge where the surface goes down
//! through the plane to the edge where it comes back up, so material is always on the segment's left. Segments
//! join through the mesh edges they share (topology, not float matching), which is exact for a welded mesh;
//! what is left open (a mesh with holes) is joined end to nearest start and closed, so broken meshes still slice.

use foldhash::HashMap;
use glam::DVec2;
use mesh::IndexedMesh;
use rayon::prelude::*;

use crate::geom::{self, Polygon, Polygons};

/// How far apart two open chain ends may be and still be joined, mm.
const GAP_CLOSING: f64 = 2.0;

/// Resolution the outlines are simplified to, mm (PrusaSlicer's default G-code resolution).
pub const RESOLUTION: f64 = 0.0125;

/// Cuts `mesh` at every height in `zs`; returns one non-zero-unioned, simplified region per height.
pub fn slice_mesh(mesh: &IndexedMesh, zs: &[f64], cancelled: &(dyn Fn() -> bool + Sync)) -> Vec<Polygons> {
    let vertices = mesh.vertices();
    let triangles = mesh.triangles();
    // Bucket triangles by the first layer they may cross so each layer only visits its own facets.
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); zs.len()];
    for (t, tri) in triangles.iter().enumerate() {
        let z = tri.map(|i| vertices[i as usize][2] as f64);
        let lo = z[0].min(z[1]).min(z[2]);
        let hi = z[0].max(z[1]).max(z[2]);
        let first = zs.partition_point(|&layer_z| layer_z < lo);
        let mut k = first;
        while k < zs.len() && zs[k] <= hi {
            buckets[k].push(t as u32);
            k += 1;
        }
    }
    buckets
        .into_par_iter()
        .zip(zs.par_iter())
        .map(|(tris, &z)| if cancelled() { Vec::new() } else { slice_layer(vertices, triangles, &tris, z) })
        .collect()
}

fn edge_key(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    ((lo as u64) << 32) | hi as u64
}

/// Where the plane crosses edge (a, b), always interpolated from the lower index so both faces agree exactly.
fn crossing(vertices: &[[f32; 3]], a: u32, b: u32, z: f64) -> DVec2 {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let pa = glam::Vec3::from(vertices[a as usize]).as_dvec3();
    let pb = glam::Vec3::from(vertices[b as usize]).as_dvec3();
    let t = (z - pa.z) / (pb.z - pa.z);
    DVec2::new(pa.x + (pb.x - pa.x) * t, pa.y + (pb.y - pa.y) * t)
}

struct Segment {
    from_edge: u64,
    to_edge: u64,
    from: DVec2,
    to: DVec2,
}

fn slice_layer(vertices: &[[f32; 3]], triangles: &[[u32; 3]], tris: &[u32], z: f64) -> Polygons {
    // A vertex exactly on the plane counts as above it: every spanning triangle then has exactly two crossing
    // edges and no segment degenerates to a point.
    let above = |i: u32| vertices[i as usize][2] as f64 >= z;
    let mut segments: Vec<Segment> = Vec::with_capacity(tris.len());
    for &t in tris {
        let tri = triangles[t as usize];
        let up = tri.map(above);
        if up[0] == up[1] && up[1] == up[2] {
            continue;
        }
        let mut falling = None;
        let mut rising = None;
        for k in 0..3 {
            let (a, b) = (tri[k], tri[(k + 1) % 3]);
            match (up[k], up[(k + 1) % 3]) {
                (true, false) => falling = Some((a, b)),
                (false, true) => rising = Some((a, b)),
                _ => {}
            }
        }
        let (Some((fa, fb)), Some((ra, rb))) = (falling, rising) else { continue };
        segments.push(Segment {
            from_edge: edge_key(fa, fb),
            to_edge: edge_key(ra, rb),
            from: crossing(vertices, fa, fb, z),
            to: crossing(vertices, ra, rb, z),
        });
    }
    if segments.is_empty() {
        return Vec::new();
    }
    let mut by_start: HashMap<u64, usize> = HashMap::default();
    by_start.reserve(segments.len());
    for (i, s) in segments.iter().enumerate() {
        by_start.insert(s.from_edge, i);
    }
    let by_end: HashMap<u64, usize> = segments.iter().enumerate().map(|(i, s)| (s.to_edge, i)).collect();
    let mut used = vec![false; segments.len()];
    let mut closed: Polygons = Vec::new();
    let mut open: Vec<Polygon> = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        // Walk backwards first so an open chain is collected from its true beginning.
        let mut first = start;
        loop {
            match by_end.get(&segments[first].from_edge) {
                Some(&prev) if !used[prev] && prev != start => first = prev,
                _ => break,
            }
            if first == start {
                break;
            }
        }
        let mut chain = vec![segments[first].from];
        let mut cur = first;
        let is_closed = loop {
            used[cur] = true;
            chain.push(segments[cur].to);
            match by_start.get(&segments[cur].to_edge) {
                Some(&next) if next == first => break true,
                Some(&next) if !used[next] => cur = next,
                _ => break false,
            }
        };
        if is_closed {
            chain.pop(); // the last point repeats the first
            closed.push(chain);
        } else {
            open.push(chain);
        }
    }
    close_gaps(&mut closed, open);
    let region = geom::union(&closed);
    geom::simplify(&region, RESOLUTION)
}

/// Joins open chains end to nearest start within [`GAP_CLOSING`], then closes whatever forms a loop.
fn close_gaps(closed: &mut Polygons, mut open: Vec<Polygon>) {
    while let Some(mut chain) = open.pop() {
        loop {
            let end = *chain.last().unwrap();
            let start = chain[0];
            let best = open
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c[0].distance(end)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|&(_, d)| d <= GAP_CLOSING && d < end.distance(start).max(1e-9));
            match best {
                Some((i, _)) => {
                    let next = open.swap_remove(i);
                    chain.extend(next);
                }
                None => break,
            }
        }
        if chain.len() >= 3 && chain[0].distance(*chain.last().unwrap()) <= GAP_CLOSING.max(1e-9) {
            closed.push(chain);
        } else if chain.len() >= 3 && geom::area(&chain).abs() > 1.0 {
            // A big hole in the mesh: close it straight, as PrusaSlicer does, rather than lose the layer.
            closed.push(chain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> bool {
        false
    }

    #[test]
    fn cube_sections_are_squares() {
        let cube = mesh::primitives::box_mesh([0.0; 3], [20.0, 10.0, 5.0]);
        let layers = slice_mesh(&cube, &[0.1, 2.5, 4.9, 5.1], &never);
        for l in &layers[..3] {
            assert_eq!(l.len(), 1);
            assert!((geom::total_area(l) - 200.0).abs() < 1e-3, "{}", geom::total_area(l));
        }
        assert!(layers[3].is_empty());
    }

    #[test]
    fn torus_has_a_hole_and_a_plane_through_vertices_works() {
        let torus = mesh::primitives::torus(20.0, 5.0, 64, 32);
        let bb = torus.bounding_box().unwrap();
        let mid = (bb.min[2] + bb.max[2]) as f64 / 2.0;
        // The middle plane passes exactly through a ring of vertices.
        let layers = slice_mesh(&torus, &[mid], &never);
        let islands = geom::islands(layers[0].clone());
        assert_eq!(islands.len(), 1);
        assert_eq!(islands[0].holes.len(), 1);
        let expected = std::f64::consts::PI * (25.0f64.powi(2) - 15.0f64.powi(2));
        let got = islands[0].area();
        assert!((got - expected).abs() / expected < 0.01, "{got} vs {expected}");
    }

    #[test]
    fn a_mesh_with_a_missing_face_still_slices() {
        let cube = mesh::primitives::box_mesh([0.0; 3], [10.0; 3]);
        let (v, mut t) = cube.into_parts();
        // Remove one side triangle: the section has a gap that must be closed.
        let side = t.iter().position(|tri| tri.iter().all(|&i| v[i as usize][0] == 0.0)).unwrap();
        t.remove(side);
        let broken = IndexedMesh::new(v, t).unwrap();
        let layers = slice_mesh(&broken, &[1.0, 5.0, 9.0], &never);
        for l in &layers {
            assert!((geom::total_area(l) - 100.0).abs() < 1e-3, "{}", geom::total_area(l));
        }
    }

    proptest::proptest! {
        #[test]
        fn box_sections_have_the_box_area(
            x in 1.0f32..100.0, y in 1.0f32..100.0, z in 0.5f32..50.0,
            ox in 0.0f32..100.0, oy in 0.0f32..100.0, frac in 0.01f64..0.99,
        ) {
            let b = mesh::primitives::box_mesh([ox, oy, 0.0], [ox + x, oy + y, z]);
            let layers = slice_mesh(&b, &[z as f64 * frac], &never);
            let area = geom::total_area(&layers[0]);
            proptest::prop_assert!((area - (x * y) as f64).abs() < 1e-3 * (x * y) as f64, "{} vs {}", area, x * y);
        }
    }
}
