//! The checker's own mesh sections: triangles cut by a horizontal plane into loose segments (no loop
//! building), a uniform grid over them, and point queries — "inside" by crossing counts along four
//! axis rays (three of four must agree, so one open gap in a loop, as in a mesh with a hole, does
//! not flip the answer) and distance to the nearest segment.

use mesh::IndexedMesh;

/// Triangles bucketed by z so each plane touches only the facets that can cross it.
pub struct Slicer {
    tris: Vec<[[f64; 3]; 3]>,
    z0: f64,
    bin: f64,
    bins: Vec<Vec<u32>>,
    pub min: [f64; 3],
    pub max: [f64; 3],
}

impl Slicer {
    pub fn new(mesh: &IndexedMesh, bin: f64) -> Self {
        let v = mesh.vertices();
        let tris: Vec<[[f64; 3]; 3]> =
            mesh.triangles().iter().map(|t| t.map(|i| v[i as usize].map(f64::from))).collect();
        let mut min = [f64::INFINITY; 3];
        let mut max = [f64::NEG_INFINITY; 3];
        for t in &tris {
            for p in t {
                for i in 0..3 {
                    min[i] = min[i].min(p[i]);
                    max[i] = max[i].max(p[i]);
                }
            }
        }
        let z0 = min[2];
        let nbins = (((max[2] - z0) / bin).floor() as usize + 1).max(1);
        let mut bins = vec![Vec::new(); nbins];
        for (i, t) in tris.iter().enumerate() {
            let lo = t.iter().map(|p| p[2]).fold(f64::INFINITY, f64::min);
            let hi = t.iter().map(|p| p[2]).fold(f64::NEG_INFINITY, f64::max);
            let (a, b) = (((lo - z0) / bin).floor() as usize, ((hi - z0) / bin).floor() as usize);
            for b in bins.iter_mut().take(b.min(nbins - 1) + 1).skip(a.min(nbins - 1)) {
                b.push(i as u32);
            }
        }
        Slicer { tris, z0, bin, bins, min, max }
    }

    /// Segments [x0, y0, x1, y1] where the plane z cuts the surface. A vertex exactly on the plane
    /// counts as above it, so shared edges are cut consistently.
    pub fn segments(&self, z: f64) -> Vec<[f64; 4]> {
        let mut out = Vec::new();
        if z < self.z0 || self.bins.is_empty() {
            return out;
        }
        let b = (((z - self.z0) / self.bin).floor() as usize).min(self.bins.len() - 1);
        for &i in &self.bins[b] {
            let t = &self.tris[i as usize];
            let above = t.map(|p| p[2] >= z);
            let n_above = above.iter().filter(|a| **a).count();
            if n_above == 0 || n_above == 3 {
                continue;
            }
            let mut pts = Vec::with_capacity(2);
            for k in 0..3 {
                let (p, q) = (t[k], t[(k + 1) % 3]);
                if above[k] != above[(k + 1) % 3] {
                    let s = (z - p[2]) / (q[2] - p[2]);
                    pts.push([p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1])]);
                }
            }
            if pts.len() == 2 {
                out.push([pts[0][0], pts[0][1], pts[1][0], pts[1][1]]);
            }
        }
        out
    }
}

/// One section with a uniform grid over its segments.
pub struct Section {
    pub segs: Vec<[f64; 4]>,
    origin: [f64; 2],
    cell: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Vec<u32>>,
}

impl Section {
    pub fn new(segs: Vec<[f64; 4]>) -> Self {
        let mut min = [f64::INFINITY; 2];
        let mut max = [f64::NEG_INFINITY; 2];
        for s in &segs {
            for (x, y) in [(s[0], s[1]), (s[2], s[3])] {
                min = [min[0].min(x), min[1].min(y)];
                max = [max[0].max(x), max[1].max(y)];
            }
        }
        if segs.is_empty() {
            return Section { segs, origin: [0.0; 2], cell: 1.0, nx: 0, ny: 0, cells: Vec::new() };
        }
        let (w, h) = ((max[0] - min[0]).max(1e-3), (max[1] - min[1]).max(1e-3));
        // About 4 segments per occupied cell, at least 0.25 mm.
        let cell = ((w * h) / (segs.len() as f64 / 4.0).max(1.0)).sqrt().max(0.25);
        let nx = ((w / cell).ceil() as usize).clamp(1, 4096);
        let ny = ((h / cell).ceil() as usize).clamp(1, 4096);
        let cell = (w / nx as f64).max(h / ny as f64);
        let mut s = Section { segs, origin: min, cell, nx, ny, cells: vec![Vec::new(); nx * ny] };
        for (i, g) in s.segs.iter().enumerate() {
            let (cx0, cy0) = s.cell_of(g[0].min(g[2]), g[1].min(g[3]));
            let (cx1, cy1) = s.cell_of(g[0].max(g[2]), g[1].max(g[3]));
            for cy in cy0..=cy1 {
                for cx in cx0..=cx1 {
                    s.cells[cy * nx + cx].push(i as u32);
                }
            }
        }
        s
    }

    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let cx = ((x - self.origin[0]) / self.cell).floor().clamp(0.0, (self.nx - 1) as f64) as usize;
        let cy = ((y - self.origin[1]) / self.cell).floor().clamp(0.0, (self.ny - 1) as f64) as usize;
        (cx, cy)
    }

    fn in_bounds(&self, x: f64, y: f64) -> bool {
        let m = self.cell * 1e-6;
        x >= self.origin[0] - m
            && y >= self.origin[1] - m
            && x <= self.origin[0] + self.nx as f64 * self.cell + m
            && y <= self.origin[1] + self.ny as f64 * self.cell + m
    }

    /// Crossings of the ray from p along +x (dir 0), −x (1), +y (2), −y (3).
    fn ray_crossings(&self, p: [f64; 2], dir: usize) -> usize {
        let (cx, cy) = self.cell_of(p[0], p[1]);
        let horizontal = dir < 2;
        let cells: Vec<(usize, usize)> = match dir {
            0 => (cx..self.nx).map(|x| (x, cy)).collect(),
            1 => (0..=cx).rev().map(|x| (x, cy)).collect(),
            2 => (cy..self.ny).map(|y| (cx, y)).collect(),
            _ => (0..=cy).rev().map(|y| (cx, y)).collect(),
        };
        let mut n = 0;
        for (x, y) in cells {
            for &i in &self.cells[y * self.nx + x] {
                let s = &self.segs[i as usize];
                // Swap roles for vertical rays.
                let (a0, b0, a1, b1, pa, pb) = if horizontal {
                    (s[0], s[1], s[2], s[3], p[0], p[1])
                } else {
                    (s[1], s[0], s[3], s[2], p[1], p[0])
                };
                if (b0 > pb) == (b1 > pb) {
                    continue;
                }
                let a = a0 + (pb - b0) * (a1 - a0) / (b1 - b0);
                let ahead = if dir.is_multiple_of(2) { a > pa } else { a < pa };
                if !ahead {
                    continue;
                }
                // Count each crossing once: only in the cell that contains it.
                let (qx, qy) = if horizontal { self.cell_of(a, pb) } else { self.cell_of(pb, a) };
                if qx == x && qy == y {
                    n += 1;
                }
            }
        }
        n
    }

    /// Inside by the even-odd rule on at least three of four axis rays.
    pub fn inside(&self, p: [f64; 2]) -> bool {
        if self.segs.is_empty() || !self.in_bounds(p[0], p[1]) {
            return false;
        }
        (0..4).filter(|&d| self.ray_crossings(p, d) % 2 == 1).count() >= 3
    }

    /// Distance to the nearest segment, searching at most `limit` away (returns > limit if none).
    pub fn distance(&self, p: [f64; 2], limit: f64) -> f64 {
        if self.segs.is_empty() {
            return f64::INFINITY;
        }
        let (cx0, cy0) = self.cell_of(p[0] - limit, p[1] - limit);
        let (cx1, cy1) = self.cell_of(p[0] + limit, p[1] + limit);
        let mut best = f64::INFINITY;
        for cy in cy0..=cy1 {
            for cx in cx0..=cx1 {
                for &i in &self.cells[cy * self.nx + cx] {
                    best = best.min(seg_dist(p, &self.segs[i as usize]));
                }
            }
        }
        best
    }

    /// Signed-ish test: inside, or within `tol` of the outline.
    pub fn within(&self, p: [f64; 2], tol: f64) -> bool {
        self.inside(p) || self.distance(p, tol) <= tol
    }

    /// Outline length (sum of segment lengths).
    pub fn perimeter(&self) -> f64 {
        self.segs.iter().map(|s| (s[2] - s[0]).hypot(s[3] - s[1])).sum()
    }
}

pub fn seg_dist(p: [f64; 2], s: &[f64; 4]) -> f64 {
    let (dx, dy) = (s[2] - s[0], s[3] - s[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 { (((p[0] - s[0]) * dx + (p[1] - s[1]) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
    (p[0] - s[0] - t * dx).hypot(p[1] - s[1] - t * dy)
}
