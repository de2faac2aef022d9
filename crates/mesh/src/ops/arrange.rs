//! Arranging several parts on a bed without overlap: shelf packing of footprint boxes.

use serde::Serialize;

use crate::IndexedMesh;

/// Which parts found a place on the bed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ArrangeReport {
    /// Indices of the parts that were placed.
    pub placed: Vec<usize>,
    /// Indices of the parts that did not fit; they were left where they were.
    pub did_not_fit: Vec<usize>,
}

/// Packs footprints (`[width, depth]`, mm) onto a `bed` with `spacing` mm between parts.
/// Returns each footprint's lower-left corner, or `None` when it does not fit.
///
/// First-fit shelves, tallest first: simple, fast and close to optimal for the handful of parts a
/// print job has; the packed group is centred on the bed, leaving the border free for skirts.
pub fn arrange_footprints(sizes: &[[f32; 2]], bed: [f32; 2], spacing: f32) -> Vec<Option<[f32; 2]>> {
    let spacing = if spacing.is_finite() { spacing.max(0.0) } else { 0.0 };
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b][1].total_cmp(&sizes[a][1]).then(sizes[b][0].total_cmp(&sizes[a][0])));
    // Each shelf: (y, height, next free x).
    let mut shelves: Vec<(f32, f32, f32)> = Vec::new();
    let mut out = vec![None; sizes.len()];
    for i in order {
        let [w, h] = sizes[i];
        if !(w.is_finite() && h.is_finite()) || w > bed[0] || h > bed[1] {
            continue;
        }
        if let Some(s) = shelves.iter_mut().find(|s| s.2 + w <= bed[0] && h <= s.1) {
            out[i] = Some([s.2, s.0]);
            s.2 += w + spacing;
            continue;
        }
        let y = shelves.last().map_or(0.0, |s| s.0 + s.1 + spacing);
        if y + h <= bed[1] {
            out[i] = Some([0.0, y]);
            shelves.push((y, h, w + spacing));
        }
    }
    // Centre the packed group on the bed.
    let used_x = shelves.iter().map(|s| s.2 - spacing).fold(0.0f32, f32::max);
    let used_y = shelves.last().map_or(0.0, |s| s.0 + s.1);
    let (dx, dy) = (((bed[0] - used_x) * 0.5).max(0.0), ((bed[1] - used_y) * 0.5).max(0.0));
    for p in out.iter_mut().flatten() {
        *p = [p[0] + dx, p[1] + dy];
    }
    out
}

/// Moves `meshes` onto a bed of `bed` (x, y) mm with its corner at the origin, without overlap and
/// `spacing` mm apart, each standing on z = 0. Parts that do not fit are left untouched.
pub fn arrange(meshes: &mut [IndexedMesh], bed: [f32; 2], spacing: f32) -> ArrangeReport {
    let boxes: Vec<_> = meshes.iter().map(|m| m.bounding_box()).collect();
    let sizes: Vec<[f32; 2]> =
        boxes.iter().map(|b| b.map_or([f32::INFINITY; 2], |b| [b.max[0] - b.min[0], b.max[1] - b.min[1]])).collect();
    let spots = arrange_footprints(&sizes, bed, spacing);
    let mut report = ArrangeReport::default();
    for (i, (m, spot)) in meshes.iter_mut().zip(spots).enumerate() {
        match (spot, boxes[i]) {
            (Some(p), Some(b)) => {
                m.translate([p[0] - b.min[0], p[1] - b.min[1], -b.min[2]]);
                report.placed.push(i);
            }
            _ => report.did_not_fit.push(i),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, uv_sphere};

    fn overlap(a: &crate::Aabb, b: &crate::Aabb) -> bool {
        (0..2).all(|k| a.min[k] < b.max[k] && b.min[k] < a.max[k])
    }

    #[test]
    fn parts_are_placed_apart_inside_the_bed() {
        let mut parts: Vec<IndexedMesh> = (0..12)
            .map(|i| {
                let s = 10.0 + (i % 4) as f32 * 7.0;
                box_mesh([100.0, -50.0, 3.0], [100.0 + s, -50.0 + s * 0.7, 3.0 + s])
            })
            .collect();
        parts.push(uv_sphere(30.0, 16, 8));
        let r = arrange(&mut parts, [220.0, 220.0], 5.0);
        assert_eq!(r.placed.len(), 13);
        let boxes: Vec<_> = parts.iter().map(|m| m.bounding_box().unwrap()).collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.min[0] >= 0.0 && a.min[1] >= 0.0 && a.max[0] <= 220.0 && a.max[1] <= 220.0);
            assert_eq!(a.min[2], 0.0);
            for b in &boxes[i + 1..] {
                assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn too_big_and_empty_parts_are_reported() {
        let mut parts =
            vec![box_mesh([0.0; 3], [300.0, 10.0, 10.0]), IndexedMesh::default(), box_mesh([0.0; 3], [10.0; 3])];
        let r = arrange(&mut parts, [200.0, 200.0], 2.0);
        assert_eq!(r.placed, vec![2]);
        assert_eq!(r.did_not_fit, vec![0, 1]);
        // Only so many 60 mm squares fit on a 200 mm bed (3 × 3).
        let spots = arrange_footprints(&[[60.0, 60.0]; 12], [200.0, 200.0], 5.0);
        assert_eq!(spots.iter().filter(|s| s.is_some()).count(), 9);
    }
}
