//! Fill patterns: each turns a region into polylines (centre lines of beads).
//!
//! Line families are anchored to a fixed world grid, so the same pattern lines up from layer to layer and across
//! islands. Rectilinear uses an exact scanline sweep; curved patterns are generated over the region's bounds and
//! clipped with [`RegionIndex`].

use std::f64::consts::TAU;
use std::sync::OnceLock;

use glam::DVec2;

use crate::geom::{self, Polygon, Polygons};
use crate::index::RegionIndex;

fn rotate(p: DVec2, angle: f64) -> DVec2 {
    let (s, c) = angle.sin_cos();
    DVec2::new(p.x * c - p.y * s, p.x * s + p.y * c)
}

/// Parallel lines `spacing` apart at `angle_deg`, clipped to `region`; `connect` joins neighbouring lines along the
/// boundary into zig-zags when the joint is short and inside, saving a travel per line.
pub fn rectilinear(region: &Polygons, angle_deg: f64, spacing: f64, connect: bool) -> Vec<Vec<DVec2>> {
    if region.is_empty() || spacing <= 0.0 {
        return Vec::new();
    }
    let angle = angle_deg.to_radians();
    // Work in a frame where the lines are horizontal.
    let rotated: Polygons = region.iter().map(|ring| ring.iter().map(|p| rotate(*p, -angle)).collect()).collect();
    let mut hits: Vec<(i64, f64)> = Vec::new();
    for ring in &rotated {
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            if a.y == b.y {
                continue;
            }
            let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
            // Half-open [lo.y, hi.y) so a vertex on a scanline is counted once.
            let k0 = (lo.y / spacing).ceil() as i64;
            let mut k = k0;
            loop {
                let y = k as f64 * spacing;
                if y >= hi.y {
                    break;
                }
                let x = lo.x + (hi.x - lo.x) * (y - lo.y) / (hi.y - lo.y);
                hits.push((k, x));
                k += 1;
            }
        }
    }
    hits.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // Segments per scanline, in order.
    let mut rows: Vec<(i64, Vec<(f64, f64)>)> = Vec::new();
    for pair in hits.chunk_by(|a, b| a.0 == b.0) {
        let k = pair[0].0;
        let segs: Vec<(f64, f64)> =
            pair.chunks_exact(2).filter(|c| c[1].1 - c[0].1 > 1e-6).map(|c| (c[0].1, c[1].1)).collect();
        if !segs.is_empty() {
            rows.push((k, segs));
        }
    }
    let to_world = |x: f64, k: i64| rotate(DVec2::new(x, k as f64 * spacing), angle);
    if !connect {
        let mut out = Vec::new();
        for (i, (k, segs)) in rows.iter().enumerate() {
            for &(x0, x1) in segs {
                let (a, b) = if i % 2 == 0 { (x0, x1) } else { (x1, x0) };
                out.push(vec![to_world(a, *k), to_world(b, *k)]);
            }
        }
        return out;
    }
    // Joints run along the boundary, so test their midpoints against a slightly grown outline.
    let index = RegionIndex::new(&geom::offset(&rotated, spacing * 0.25), (spacing * 4.0).max(1.0));
    let max_joint = spacing * 3.0;
    // Open chains: (points in the rotated frame, row of last segment).
    let mut chains: Vec<(Vec<DVec2>, i64)> = Vec::new();
    let mut finished: Vec<Vec<DVec2>> = Vec::new();
    for (k, segs) in rows {
        let y = k as f64 * spacing;
        let mut claimed = vec![false; chains.len()];
        let mut next: Vec<(Vec<DVec2>, i64)> = Vec::new();
        for (x0, x1) in segs {
            let a = DVec2::new(x0, y);
            let b = DVec2::new(x1, y);
            let mut best: Option<(usize, bool, f64)> = None;
            for (ci, (pts, row)) in chains.iter().enumerate() {
                if claimed[ci] || *row != k - 1 {
                    continue;
                }
                let end = *pts.last().unwrap();
                for (to_a, target) in [(true, a), (false, b)] {
                    let d = end.distance(target);
                    if d <= max_joint && best.is_none_or(|(_, _, bd)| d < bd) && index.contains((end + target) * 0.5) {
                        best = Some((ci, to_a, d));
                    }
                }
            }
            match best {
                Some((ci, to_a, _)) => {
                    claimed[ci] = true;
                    let mut pts = std::mem::take(&mut chains[ci].0);
                    if to_a {
                        pts.extend([a, b]);
                    } else {
                        pts.extend([b, a]);
                    }
                    next.push((pts, k));
                }
                None => next.push((vec![a, b], k)),
            }
        }
        for (ci, (pts, _)) in chains.into_iter().enumerate() {
            if !claimed[ci] && !pts.is_empty() {
                finished.push(pts);
            }
        }
        chains = next;
    }
    finished.extend(chains.into_iter().map(|c| c.0));
    finished.into_iter().map(|pts| pts.into_iter().map(|p| rotate(p, angle)).collect()).collect()
}

/// Gyroid infill: the zero set of sin x cos y + sin y cos z + sin z cos x at this layer's z, scaled so that the
/// line length per area matches `density` at bead width `width`.
pub fn gyroid(region: &Polygons, z: f64, width: f64, density: f64) -> Vec<Vec<DVec2>> {
    let Some((lo, hi)) = geom::bounds(region) else { return Vec::new() };
    if density <= 0.0 {
        return Vec::new();
    }
    let scale = gyroid_unit_length() * width / density;
    let step = scale * TAU / 16.0;
    // Half a step off the world grid so samples rarely sit exactly on an axis-aligned boundary.
    let origin = DVec2::new((lo.x / step).floor() * step - step * 0.5, (lo.y / step).floor() * step - step * 0.5);
    let nx = ((hi.x - origin.x) / step).ceil() as usize + 1;
    let ny = ((hi.y - origin.y) / step).ceil() as usize + 1;
    let zs = z / scale;
    let field = |i: usize, j: usize| {
        let x = (origin.x + i as f64 * step) / scale;
        let y = (origin.y + j as f64 * step) / scale;
        x.sin() * y.cos() + y.sin() * zs.cos() + zs.sin() * x.cos()
    };
    let values: Vec<f64> = (0..=ny).flat_map(|j| (0..=nx).map(move |i| (i, j))).map(|(i, j)| field(i, j)).collect();
    let at = |i: usize, j: usize| values[j * (nx + 1) + i];
    let segments = marching_squares(nx, ny, &at, |i, j| origin + DVec2::new(i, j) * step);
    let lines = chain_segments(segments, step * 1e-3);
    RegionIndex::new(region, (step * 4.0).max(1.0)).clip_polylines(&lines, width)
}

/// Length of the gyroid's zero set per unit area at scale 1, averaged over z (computed once).
fn gyroid_unit_length() -> f64 {
    static L: OnceLock<f64> = OnceLock::new();
    *L.get_or_init(|| {
        // Same sampling step as `gyroid` (16 per period), so chord shortening cancels out.
        let n = 64;
        let step = TAU / 16.0;
        let mut total = 0.0;
        let samples = 16;
        // Off-grid origin and z: sampling exactly on the surface's symmetry points would double-count crossings.
        for s in 0..samples {
            let zs = TAU * (s as f64 + 0.37) / samples as f64;
            let at = |i: usize, j: usize| {
                let (x, y) = (0.123 + i as f64 * step, 0.321 + j as f64 * step);
                x.sin() * y.cos() + y.sin() * zs.cos() + zs.sin() * x.cos()
            };
            let segs = marching_squares(n, n, &at, |i, j| DVec2::new(i, j) * step);
            total += segs.iter().map(|(a, b)| a.distance(*b)).sum::<f64>() / (4.0 * TAU).powi(2);
        }
        total / samples as f64
    })
}

/// Zero-crossing segments of a sampled field on an `nx × ny` cell grid.
fn marching_squares(
    nx: usize,
    ny: usize,
    at: &dyn Fn(usize, usize) -> f64,
    pos: impl Fn(f64, f64) -> DVec2,
) -> Vec<(DVec2, DVec2)> {
    let mut out = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let v = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
            let corners = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
            let mut pts: Vec<DVec2> = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (v[e], v[(e + 1) % 4]);
                if (a < 0.0) != (b < 0.0) {
                    let t = a / (a - b);
                    let (ca, cb) = (corners[e], corners[(e + 1) % 4]);
                    pts.push(pos(i as f64 + ca.0 + (cb.0 - ca.0) * t, j as f64 + ca.1 + (cb.1 - ca.1) * t));
                }
            }
            match pts.len() {
                2 => out.push((pts[0], pts[1])),
                4 => {
                    // Saddle: pair by the centre value so the curve does not cross itself.
                    let centre = v.iter().sum::<f64>() / 4.0;
                    if (centre < 0.0) == (v[0] < 0.0) {
                        out.push((pts[0], pts[3]));
                        out.push((pts[1], pts[2]));
                    } else {
                        out.push((pts[0], pts[1]));
                        out.push((pts[2], pts[3]));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Joins segments sharing endpoints (within `eps`) into polylines.
fn chain_segments(segments: Vec<(DVec2, DVec2)>, eps: f64) -> Vec<Vec<DVec2>> {
    use foldhash::HashMap;
    let key = |p: DVec2| ((p.x / eps).round() as i64, (p.y / eps).round() as i64);
    let mut ends: HashMap<(i64, i64), Vec<usize>> = HashMap::default();
    for (i, (a, b)) in segments.iter().enumerate() {
        ends.entry(key(*a)).or_default().push(i);
        ends.entry(key(*b)).or_default().push(i);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut line = std::collections::VecDeque::from([segments[start].0, segments[start].1]);
        for forward in [true, false] {
            loop {
                let tip = if forward { *line.back().unwrap() } else { *line.front().unwrap() };
                let next = ends.get(&key(tip)).and_then(|c| c.iter().copied().find(|&s| !used[s]));
                let Some(s) = next else { break };
                used[s] = true;
                let (a, b) = segments[s];
                let other = if key(a) == key(tip) { b } else { a };
                if forward {
                    line.push_back(other);
                } else {
                    line.push_front(other);
                }
            }
        }
        lines.push(line.into_iter().collect());
    }
    lines
}

/// Honeycomb infill: flat-topped hexagons whose wall length per area matches `density`; every layer the same so
/// the cells stack into closed columns.
pub fn honeycomb(region: &Polygons, width: f64, density: f64) -> Vec<Vec<DVec2>> {
    let Some((lo, hi)) = geom::bounds(region) else { return Vec::new() };
    if density <= 0.0 {
        return Vec::new();
    }
    // A hexagonal tiling of side a has 2 / (√3 a) of wall per unit area.
    let a = 2.0 * width / (3f64.sqrt() * density);
    let h = a * 3f64.sqrt() / 2.0;
    let period = 3.0 * a;
    let x0 = (lo.x / period).floor() * period - period;
    let x1 = hi.x + period;
    let row0 = (lo.y / (2.0 * h)).floor() as i64 - 1;
    let row1 = (hi.y / (2.0 * h)).ceil() as i64 + 1;
    let mut lines = Vec::new();
    for row in row0..=row1 {
        let y = row as f64 * 2.0 * h;
        // Zig-zag from y to y+h: flat, up, flat, down… covering every flat at y and y+h.
        let mut zig = Vec::new();
        let mut x = x0;
        while x <= x1 {
            zig.extend([
                DVec2::new(x, y),
                DVec2::new(x + a, y),
                DVec2::new(x + 1.5 * a, y + h),
                DVec2::new(x + 2.5 * a, y + h),
            ]);
            x += period;
        }
        lines.push(zig);
        // Between y+h and y+2h only the slanted walls are new (the flats belong to the zig-zags).
        let mut x = x0;
        while x <= x1 {
            lines.push(vec![DVec2::new(x + 2.5 * a, y + h), DVec2::new(x + 3.0 * a, y + 2.0 * h)]);
            lines.push(vec![DVec2::new(x + 4.0 * a, y + 2.0 * h), DVec2::new(x + 4.5 * a, y + h)]);
            x += period;
        }
    }
    RegionIndex::new(region, (a * 2.0).max(1.0)).clip_polylines(&lines, width)
}

/// Concentric loops inside `region`, `spacing` apart, the first half a spacing in from its edge.
pub fn concentric(region: &Polygons, spacing: f64) -> Vec<Polygon> {
    let mut loops = Vec::new();
    let mut current = geom::offset(region, -spacing / 2.0);
    let mut guard = 0;
    while !current.is_empty() && guard < 10_000 {
        loops.extend(current.iter().cloned());
        current = geom::offset(&current, -spacing);
        guard += 1;
    }
    loops
}

/// Picks the bridge direction whose lines land on support at both ends for the greatest length.
pub fn best_bridge_angle(bridge: &Polygons, anchors: &Polygons, spacing: f64) -> f64 {
    let grown = geom::offset(bridge, spacing * 3.0);
    let anchor_index = RegionIndex::new(anchors, 2.0);
    let mut best = (0.0, f64::MIN);
    for step in 0..12 {
        let angle = step as f64 * 15.0;
        let lines = rectilinear(&grown, angle, spacing * 2.0, false);
        let score: f64 = lines
            .iter()
            .map(|l| {
                let (a, b) = (l[0], l[l.len() - 1]);
                let inset = (b - a).normalize_or_zero() * spacing;
                let anchored = anchor_index.contains(a + inset) && anchor_index.contains(b - inset);
                if anchored {
                    a.distance(b)
                } else {
                    -a.distance(b) * 0.5
                }
            })
            .sum();
        if score > best.1 + 1e-9 {
            best = (angle, score);
        }
    }
    best.0
}

/// Total length of a set of polylines.
pub fn length(lines: &[Vec<DVec2>]) -> f64 {
    lines.iter().map(|l| l.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(s: f64) -> Polygons {
        vec![vec![DVec2::new(0.0, 0.0), DVec2::new(s, 0.0), DVec2::new(s, s), DVec2::new(0.0, s)]]
    }

    #[test]
    fn rectilinear_covers_at_the_requested_spacing() {
        let lines = rectilinear(&square(20.0), 0.0, 1.0, false);
        assert_eq!(lines.len(), 20, "y = 0..19 (20 excluded by the half-open rule)");
        assert!((length(&lines) - 400.0).abs() < 1e-6);
        let diag = rectilinear(&square(20.0), 45.0, 1.0, false);
        // Length per area equals 1/spacing whatever the angle.
        assert!((length(&diag) / 400.0 - 1.0).abs() < 0.05, "{}", length(&diag));
    }

    #[test]
    fn connected_rectilinear_is_one_zigzag_in_a_square() {
        let lines = rectilinear(&square(20.0), 0.0, 1.0, true);
        assert_eq!(lines.len(), 1);
        // The joints add the 19 vertical steps.
        assert!((length(&lines) - 419.0).abs() < 1e-6, "{}", length(&lines));
    }

    #[test]
    fn patterns_match_their_density() {
        let region = square(40.0);
        // The gyroid's length varies with z; over a period it averages to the target.
        let gyroid_avg: Vec<Vec<DVec2>> = (0..16).flat_map(|k| gyroid(&region, k as f64 * 1.1, 0.45, 0.2)).collect();
        let gyroid_avg_per_area = length(&gyroid_avg) / 16.0 / 1600.0;
        assert!((gyroid_avg_per_area / (0.2 / 0.45) - 1.0).abs() < 0.08, "gyroid {gyroid_avg_per_area}");
        for (name, lines) in [
            ("gyroid", gyroid(&region, 3.0, 0.45, 0.2)),
            ("honeycomb", honeycomb(&region, 0.45, 0.2)),
            ("rectilinear", rectilinear(&region, 45.0, 0.45 / 0.2, false)),
        ] {
            let per_area = length(&lines) / 1600.0;
            let target = 0.2 / 0.45;
            assert!((per_area / target - 1.0).abs() < 0.2, "{name}: {per_area} vs {target}");
            let idx = RegionIndex::new(&geom::offset(&region, 1e-6), 1.0);
            assert!(lines.iter().flatten().all(|p| idx.contains(*p)), "{name} leaves the region");
        }
    }

    #[test]
    fn bridge_spans_the_short_way() {
        // A 10 mm gap between two pillars along x: lines must run along x (0°).
        let bridge =
            vec![vec![DVec2::new(5.0, 0.0), DVec2::new(15.0, 0.0), DVec2::new(15.0, 30.0), DVec2::new(5.0, 30.0)]];
        let anchors = vec![
            vec![DVec2::new(0.0, 0.0), DVec2::new(5.0, 0.0), DVec2::new(5.0, 30.0), DVec2::new(0.0, 30.0)],
            vec![DVec2::new(15.0, 0.0), DVec2::new(20.0, 0.0), DVec2::new(20.0, 30.0), DVec2::new(15.0, 30.0)],
        ];
        assert_eq!(best_bridge_angle(&bridge, &anchors, 0.5), 0.0);
    }
}
