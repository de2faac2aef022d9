//! Welding: turning a triangle soup (three corners per triangle, as STL stores it) into an indexed
//! mesh whose coincident corners share one vertex.
//!
//! Both welds hash coordinates with foldhash: several times faster than std's SipHash on this hot
//! path (loading a 1M-triangle STL), and still seeded per process, so a crafted file cannot aim
//! for hash collisions the way it could with an unseeded hasher.

use foldhash::HashMap;
use foldhash::HashMapExt;

use crate::{IndexedMesh, MeshError, Vec3};

/// Joins corners that are bit-for-bit equal. This is what STL exporters produce for shared corners,
/// and it is exact, so it never merges two distinct vertices. Runs in one pass with a hash map.
pub fn weld_exact(soup: &[[Vec3; 3]]) -> Result<IndexedMesh, MeshError> {
    let mut index: HashMap<[u32; 3], u32> = HashMap::with_capacity(soup.len() / 2 + 3);
    let mut vertices = Vec::with_capacity(soup.len() / 2 + 3);
    let mut triangles = Vec::with_capacity(soup.len());
    for tri in soup {
        let mut t = [0u32; 3];
        for (slot, p) in t.iter_mut().zip(tri) {
            // -0.0 and 0.0 are the same point.
            let key = p.map(|c| if c == 0.0 { 0 } else { c.to_bits() });
            *slot = *index.entry(key).or_insert_with(|| {
                vertices.push(*p);
                (vertices.len() - 1) as u32
            });
        }
        triangles.push(t);
    }
    IndexedMesh::new(vertices, triangles)
}

/// Merges vertices closer than `tolerance` millimetres. Points are hashed into cells twice the
/// tolerance wide, so a point's neighbourhood touches at most two cells per axis (8 in all); each
/// cell is a linked list threaded through one array, so there is no allocation per cell. Triangles
/// keep their order; ones that collapse are kept here and left for repair to drop, so counts stay
/// explainable.
pub fn weld_tolerance(mesh: &IndexedMesh, tolerance: f32) -> IndexedMesh {
    if tolerance.is_nan() || tolerance <= 0.0 {
        return mesh.clone();
    }
    const NONE: u32 = u32::MAX;
    let inv_cell = 1.0 / (2.0 * f64::from(tolerance));
    let cell_of = |c: f64| (c * inv_cell).floor() as i64;
    let n = mesh.vertices().len();
    let mut heads: HashMap<[i64; 3], u32> = HashMap::with_capacity(n);
    let mut next: Vec<u32> = Vec::with_capacity(n);
    let mut vertices: Vec<Vec3> = Vec::with_capacity(n);
    let mut remap = vec![0u32; n];
    let tol2 = tolerance * tolerance;
    let tol = f64::from(tolerance);
    for (i, p) in mesh.vertices().iter().enumerate() {
        let pd = p.map(f64::from);
        let lo = pd.map(|c| cell_of(c - tol));
        let hi = pd.map(|c| cell_of(c + tol));
        let mut found = NONE;
        'search: for x in lo[0]..=hi[0] {
            for y in lo[1]..=hi[1] {
                for z in lo[2]..=hi[2] {
                    let mut j = heads.get(&[x, y, z]).copied().unwrap_or(NONE);
                    while j != NONE {
                        let q = vertices[j as usize];
                        let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
                        if d2 <= tol2 {
                            found = j;
                            break 'search;
                        }
                        j = next[j as usize];
                    }
                }
            }
        }
        remap[i] = if found != NONE {
            found
        } else {
            let j = vertices.len() as u32;
            vertices.push(*p);
            let head = heads.entry(pd.map(cell_of)).or_insert(NONE);
            next.push(*head);
            *head = j;
            j
        };
    }
    let triangles = mesh.triangles().iter().map(|t| t.map(|i| remap[i as usize])).collect();
    IndexedMesh::new(vertices, triangles).expect("remapped indices stay in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soup_of(m: &IndexedMesh) -> Vec<[Vec3; 3]> {
        m.triangles().iter().map(|t| t.map(|i| m.vertices()[i as usize])).collect()
    }

    #[test]
    fn exact_weld_recovers_shared_vertices() {
        let cube = IndexedMesh::cube(5.0);
        let welded = weld_exact(&soup_of(&cube)).unwrap();
        assert_eq!(welded.vertices().len(), 8);
        assert_eq!(welded.triangle_count(), 12);
        assert!((welded.signed_volume() - 125.0).abs() < 1e-9);
    }

    #[test]
    fn exact_weld_treats_signed_zero_as_one_point() {
        let soup = [
            [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            [[-0.0, 0.0, -0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
        ];
        assert_eq!(weld_exact(&soup).unwrap().vertices().len(), 3);
    }

    #[test]
    fn exact_weld_refuses_nan() {
        let soup = [[[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]];
        assert!(matches!(weld_exact(&soup), Err(MeshError::NonFiniteVertex { .. })));
    }

    #[test]
    fn tolerance_weld_merges_near_points_across_cell_boundaries() {
        // 0.0999 and 0.1001 fall in different 0.01-mm cells but are within tolerance.
        let m = IndexedMesh::new(
            vec![[0.0999, 0.0, 0.0], [0.1001, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            vec![[0, 2, 3], [1, 3, 2]],
        )
        .unwrap();
        let w = weld_tolerance(&m, 0.01);
        assert_eq!(w.vertices().len(), 3);
        assert_eq!(w.triangles()[0][0], w.triangles()[1][0]);
        assert_eq!(weld_tolerance(&m, 0.0001).vertices().len(), 4);
    }
}
