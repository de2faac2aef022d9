//! A uniform grid over a region's edges: fast point-in-region, segment crossings and polyline clipping.

use glam::DVec2;

use crate::geom::Polygons;

/// Edges of a region bucketed into square cells.
pub struct RegionIndex {
    edges: Vec<(DVec2, DVec2)>,
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
        let mut index = RegionIndex { edges: Vec::new(), origin: lo, cell, nx, ny, cells: vec![Vec::new(); nx * ny] };
        for ring in region {
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
                ts.push(t);
            }
        }
        ts.sort_by(f64::total_cmp);
        ts
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
    }
}
