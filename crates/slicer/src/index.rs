//! A uniform grid over a region's edges: fast point-in-region, segment crossings and polyline clipping.

use glam::DVec2;

use crate::geom::Polygons;

/// Edges of a region bucketed into square cells.
pub struct RegionIndex {
    edges: Vec<(DVec2, DVec2)>,
    /// Index of each ring's first edge, so an edge id maps back to (ring, position).
    ring_starts: Vec<u32>,
    rings: Polygons,
    origin: DVec2,
    cell: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Vec<u32>>,
}

impl RegionIndex {
    /// Indexes every edge of `region` with cells about `cell` mm wide (grown when the region is huge).
    pub fn new(region: &Polygons, cell: f64) -> Self {
        let (lo, hi) = crate::geom::bounds(region).unwrap_or((DVec2::ZERO, DVec2::ZERO));
        let size = (hi - lo).max(DVec2::splat(1e-6));
        // Keep the grid under ~1M cells whatever the region's size.
        let cell = cell.max((size.x * size.y / 1.0e6).sqrt()).max(1e-3);
        let nx = (size.x / cell).ceil() as usize + 1;
        let ny = (size.y / cell).ceil() as usize + 1;
        let mut index = RegionIndex {
            edges: Vec::new(),
            ring_starts: Vec::new(),
            rings: region.clone(),
            origin: lo,
            cell,
            nx,
            ny,
            cells: vec![Vec::new(); nx * ny],
        };
        for ring in region {
            index.ring_starts.push(index.edges.len() as u32);
            let n = ring.len();
            for i in 0..n {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                let id = index.edges.len() as u32;
                index.edges.push((a, b));
                let mut touched = Vec::new();
                index.for_cells_on_segment(a, b, |c| touched.push(c));
                for c in touched {
                    index_push(&mut index.cells, c, id);
                }
            }
        }
        index
    }

    fn cell_of(&self, p: DVec2) -> (isize, isize) {
        let q = (p - self.origin) / self.cell;
        (q.x.floor() as isize, q.y.floor() as isize)
    }

    /// Visits every cell a segment passes through (Amanatides–Woo traversal), clamped to the grid.
    fn for_cells_on_segment(&self, a: DVec2, b: DVec2, mut visit: impl FnMut(usize)) {
        let (nx, ny) = (self.nx as isize, self.ny as isize);
        let (mut cx, mut cy) = self.cell_of(a);
        let (ex, ey) = self.cell_of(b);
        let d = b - a;
        let step_x: isize = if d.x > 0.0 { 1 } else { -1 };
        let step_y: isize = if d.y > 0.0 { 1 } else { -1 };
        let next_boundary = |c: isize, step: isize, o: f64, p: f64, dir: f64| {
            if dir == 0.0 {
                f64::INFINITY
            } else {
                let edge = o + (c + if step > 0 { 1 } else { 0 }) as f64 * self.cell;
                (edge - p) / dir
            }
        };
        let mut t_max_x = next_boundary(cx, step_x, self.origin.x, a.x, d.x);
        let mut t_max_y = next_boundary(cy, step_y, self.origin.y, a.y, d.y);
        let t_dx = if d.x == 0.0 { f64::INFINITY } else { self.cell / d.x.abs() };
        let t_dy = if d.y == 0.0 { f64::INFINITY } else { self.cell / d.y.abs() };
        let limit = (ex - cx).abs() + (ey - cy).abs() + 2;
        for _ in 0..=limit {
            if (0..nx).contains(&cx) && (0..ny).contains(&cy) {
                visit((cy * nx + cx) as usize);
            }
            if cx == ex && cy == ey {
                break;
            }
            if t_max_x < t_max_y {
                t_max_x += t_dx;
                cx += step_x;
            } else {
                t_max_y += t_dy;
                cy += step_y;
            }
        }
    }

    /// Even-odd inside test, casting a ray towards +x through the cells of the point's row.
    pub fn contains(&self, p: DVec2) -> bool {
        let (cx, cy) = self.cell_of(p);
        if cy < 0 || cy >= self.ny as isize {
            return false;
        }
        let row = cy as usize * self.nx;
        let mut seen: Vec<u32> = Vec::new();
        let mut inside = false;
        for x in cx.max(0) as usize..self.nx {
            for &e in &self.cells[row + x] {
                if seen.contains(&e) {
                    continue;
                }
                seen.push(e);
                let (a, b) = self.edges[e as usize];
                if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Parameters `t` in [0, 1) where segment a→b crosses an edge of the region, sorted.
    pub fn crossings(&self, a: DVec2, b: DVec2) -> Vec<f64> {
        self.crossings_with_edges(a, b).into_iter().map(|(t, _)| t).collect()
    }

    /// Like [`Self::crossings`], with the id of the edge crossed.
    fn crossings_with_edges(&self, a: DVec2, b: DVec2) -> Vec<(f64, u32)> {
        let mut candidates: Vec<u32> = Vec::new();
        self.for_cells_on_segment(a, b, |c| candidates.extend_from_slice(&self.cells[c]));
        candidates.sort_unstable();
        candidates.dedup();
        let d = b - a;
        let mut ts = Vec::new();
        for e in candidates {
            let (p, q) = self.edges[e as usize];
            let r = q - p;
            let denom = d.perp_dot(r);
            if denom.abs() < 1e-15 {
                continue;
            }
            let w = p - a;
            let t = w.perp_dot(r) / denom;
            let u = w.perp_dot(d) / denom;
            // Half-open in both parameters: a crossing exactly at a shared vertex is counted once.
            if (0.0..1.0).contains(&t) && (0.0..1.0).contains(&u) {
                ts.push((t, e));
            }
        }
        ts.sort_by(|x, y| x.0.total_cmp(&y.0));
        ts
    }

    /// A travel from `a` to `b` that stays inside the region, walking along the outline (the shorter way round)
    /// wherever the straight line would leave it. `None` when an end is outside or the detour is unreasonable.
    pub fn route_inside(&self, a: DVec2, b: DVec2) -> Option<Vec<DVec2>> {
        if !self.contains(a) || !self.contains(b) {
            return None;
        }
        let hits = self.crossings_with_edges(a, b);
        if hits.is_empty() {
            return Some(vec![b]);
        }
        let ring_of = |e: u32| self.ring_starts.partition_point(|&s| s <= e) - 1;
        // First and last crossing of each ring along the segment, in the order the segment meets them.
        // (ring, first crossing, last crossing), each crossing as (t, edge id).
        type Crossing = (f64, u32);
        let mut groups: Vec<(usize, Crossing, Crossing)> = Vec::new();
        for &(t, e) in &hits {
            let r = ring_of(e);
            match groups.iter_mut().find(|g| g.0 == r) {
                Some(g) => g.2 = (t, e),
                None => groups.push((r, (t, e), (t, e))),
            }
        }
        let mut path = Vec::new();
        let mut last_t = 0.0;
        for (r, (t0, e0), (t1, e1)) in groups {
            if t0 < last_t {
                return None; // rings interleave along the segment: give up rather than guess
            }
            let ring = &self.rings[r];
            let n = ring.len();
            let (i0, i1) = ((e0 - self.ring_starts[r]) as usize, (e1 - self.ring_starts[r]) as usize);
            // Edge k runs from vertex k to k+1.
            let forward: Vec<DVec2> = (1..=((i1 + n - i0) % n)).map(|k| ring[(i0 + k) % n]).collect();
            let backward: Vec<DVec2> = (0..((i0 + n - i1) % n)).map(|k| ring[(i0 + n - k) % n]).collect();
            let p0 = a + (b - a) * t0;
            let p1 = a + (b - a) * t1;
            let len = |pts: &[DVec2]| {
                let mut prev = p0;
                let mut l = 0.0;
                for p in pts.iter().chain(std::iter::once(&p1)) {
                    l += prev.distance(*p);
                    prev = *p;
                }
                l
            };
            path.push(p0);
            path.extend(if len(&forward) <= len(&backward) { forward } else { backward });
            path.push(p1);
            last_t = t1;
        }
        path.push(b);
        let straight = a.distance(b);
        let mut total = 0.0;
        let mut prev = a;
        for p in &path {
            total += prev.distance(*p);
            prev = *p;
        }
        (total <= straight * 3.0 + 20.0).then_some(path)
    }

    /// Whether the segment a→b stays inside the region (both ends inside, no edge crossed).
    pub fn segment_inside(&self, a: DVec2, b: DVec2) -> bool {
        self.contains(a) && self.crossings(a, b).is_empty()
    }

    /// The parts of each polyline that lie inside the region; pieces shorter than `min_len` are dropped.
    pub fn clip_polylines(&self, lines: &[Vec<DVec2>], min_len: f64) -> Vec<Vec<DVec2>> {
        let mut out = Vec::new();
        for line in lines {
            if line.len() < 2 {
                continue;
            }
            let mut inside = self.contains(line[0]);
            let mut current: Vec<DVec2> = if inside { vec![line[0]] } else { Vec::new() };
            for w in line.windows(2) {
                let (a, b) = (w[0], w[1]);
                for t in self.crossings(a, b) {
                    let p = a + (b - a) * t;
                    if inside {
                        current.push(p);
                        out.push(std::mem::take(&mut current));
                    } else {
                        current = vec![p];
                    }
                    inside = !inside;
                }
                if inside {
                    current.push(b);
                }
            }
            if inside && current.len() >= 2 {
                out.push(current);
            }
        }
        out.retain(|l| l.len() >= 2 && l.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() >= min_len);
        out
    }
}

fn index_push(cells: &mut [Vec<u32>], cell: usize, id: u32) {
    if cells[cell].last() != Some(&id) {
        cells[cell].push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_with_hole() {
        let outer = vec![DVec2::new(0.0, 0.0), DVec2::new(10.0, 0.0), DVec2::new(10.0, 10.0), DVec2::new(0.0, 10.0)];
        let hole = vec![DVec2::new(4.0, 4.0), DVec2::new(4.0, 6.0), DVec2::new(6.0, 6.0), DVec2::new(6.0, 4.0)];
        let idx = RegionIndex::new(&vec![outer, hole], 1.0);
        assert!(idx.contains(DVec2::new(1.0, 1.0)));
        assert!(!idx.contains(DVec2::new(5.0, 5.0)));
        assert!(!idx.contains(DVec2::new(11.0, 5.0)));
        assert!(!idx.contains(DVec2::new(-1.0, 5.0)));
        let clipped = idx.clip_polylines(&[vec![DVec2::new(-5.0, 5.0), DVec2::new(15.0, 5.0)]], 0.0);
        assert_eq!(clipped.len(), 2);
        assert!((clipped[0][0].x - 0.0).abs() < 1e-9 && (clipped[0][1].x - 4.0).abs() < 1e-9);
        assert!((clipped[1][0].x - 6.0).abs() < 1e-9 && (clipped[1][1].x - 10.0).abs() < 1e-9);
        assert!(idx.segment_inside(DVec2::new(1.0, 1.0), DVec2::new(9.0, 1.0)));
        assert!(!idx.segment_inside(DVec2::new(1.0, 5.0), DVec2::new(9.0, 5.0)));
        // Around the hole instead of through it: every leg stays inside.
        let route = idx.route_inside(DVec2::new(1.0, 5.0), DVec2::new(9.0, 5.0)).unwrap();
        let mut prev = DVec2::new(1.0, 5.0);
        for p in &route {
            let mid = (prev + *p) / 2.0;
            assert!(idx.contains(mid + DVec2::new(1e-6, 1e-6)) || idx.crossings(prev, *p).len() <= 1, "{route:?}");
            prev = *p;
        }
        assert_eq!(*route.last().unwrap(), DVec2::new(9.0, 5.0));
        let length: f64 = std::iter::once(DVec2::new(1.0, 5.0))
            .chain(route.iter().copied())
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[0].distance(w[1]))
            .sum();
        assert!((length - 10.0).abs() < 1e-9, "goes round two corners of the hole: {length}");
        assert!(idx.route_inside(DVec2::new(5.0, 5.0), DVec2::new(9.0, 5.0)).is_none(), "starts in the hole");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::geom;

    /// A star-shaped polygon around (cx, cy) from radii at even angles: simple, often concave.
    fn star(cx: f64, cy: f64, radii: &[f64]) -> Vec<DVec2> {
        let n = radii.len();
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                DVec2::new(cx + radii[i] * a.cos(), cy + radii[i] * a.sin())
            })
            .collect()
    }

    proptest! {
        #[test]
        fn index_agrees_with_brute_force(
            radii in proptest::collection::vec(1.0f64..20.0, 3..40),
            points in proptest::collection::vec((-25.0f64..25.0, -25.0f64..25.0), 1..50),
            cell in 0.3f64..8.0,
        ) {
            let region = vec![star(0.0, 0.0, &radii)];
            let idx = RegionIndex::new(&region, cell);
            for (x, y) in points {
                let p = DVec2::new(x, y);
                prop_assert_eq!(idx.contains(p), geom::contains(&region, p), "at {:?}", p);
            }
        }

        #[test]
        fn clipped_lines_stay_inside_and_routes_do_not_leave(
            radii in proptest::collection::vec(3.0f64..20.0, 3..30),
            a in (-2.0f64..2.0, -2.0f64..2.0),
            b in (-25.0f64..25.0, -25.0f64..25.0),
        ) {
            let region = vec![star(0.0, 0.0, &radii)];
            let idx = RegionIndex::new(&region, 2.0);
            let line = vec![DVec2::new(-30.0, b.1), DVec2::new(30.0, b.0)];
            for piece in idx.clip_polylines(&[line], 0.0) {
                let mid = (piece[0] + piece[piece.len() - 1]) / 2.0;
                prop_assert!(geom::contains(&geom::offset(&region, 1e-3), mid));
            }
            let (a, b) = (DVec2::new(a.0, a.1), DVec2::new(b.0, b.1));
            if let Some(route) = idx.route_inside(a, b) {
                // Every leg's midpoint is inside the region grown by a hair (legs may run along the outline).
                let grown = geom::offset(&region, 1e-3);
                let mut prev = a;
                for p in route {
                    prop_assert!(geom::contains(&grown, (prev + p) / 2.0), "leg {:?} → {:?}", prev, p);
                    prev = p;
                }
                prop_assert_eq!(prev, b);
            }
        }
    }
}
