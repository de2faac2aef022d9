//! Rasters for the volume model and the "rests on the layer below" test: a fixed grid over the plate
//! region, section fill by crossing parity (rows and columns, so one open gap in a loop only loses
//! the rows it cuts and the columns fill them), an exact Euclidean distance transform (Felzenszwalb
//! & Huttenlocher) for insets and margins, and stroked line capsules.

#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub origin: [f64; 2],
    pub cell: f64,
    pub nx: usize,
    pub ny: usize,
}

impl Grid {
    /// A grid covering [min, max] (plus `pad` mm) with square cells of at most `cell` mm, and at most
    /// `max_cells` cells (the cell grows if needed).
    pub fn covering(min: [f64; 2], max: [f64; 2], pad: f64, cell: f64, max_cells: usize) -> Grid {
        let (w, h) = (max[0] - min[0] + 2.0 * pad, max[1] - min[1] + 2.0 * pad);
        let cell = cell.max((w * h / max_cells as f64).sqrt());
        Grid {
            origin: [min[0] - pad, min[1] - pad],
            cell,
            nx: (w / cell).ceil() as usize + 1,
            ny: (h / cell).ceil() as usize + 1,
        }
    }
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }
    pub fn centre(&self, i: usize, j: usize) -> [f64; 2] {
        [self.origin[0] + (i as f64 + 0.5) * self.cell, self.origin[1] + (j as f64 + 0.5) * self.cell]
    }
    pub fn index(&self, p: [f64; 2]) -> Option<usize> {
        let i = ((p[0] - self.origin[0]) / self.cell).floor();
        let j = ((p[1] - self.origin[1]) / self.cell).floor();
        (i >= 0.0 && j >= 0.0 && (i as usize) < self.nx && (j as usize) < self.ny)
            .then(|| j as usize * self.nx + i as usize)
    }
    pub fn cell_area(&self) -> f64 {
        self.cell * self.cell
    }
}

/// Fills a section given as loose segments.
pub fn fill(g: &Grid, segs: &[[f64; 4]]) -> Vec<bool> {
    let mut out = vec![false; g.len()];
    // Rows.
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); g.ny];
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); g.nx];
    for s in segs {
        let (y0, y1) = (s[1].min(s[3]), s[1].max(s[3]));
        let j0 = (((y0 - g.origin[1]) / g.cell) - 0.5).ceil().max(0.0) as usize;
        let j1 = ((((y1 - g.origin[1]) / g.cell) - 0.5).floor().max(-1.0) + 1.0) as usize;
        for (j, row) in rows.iter_mut().enumerate().take(j1.min(g.ny)).skip(j0) {
            let yc = g.origin[1] + (j as f64 + 0.5) * g.cell;
            if (s[1] > yc) != (s[3] > yc) {
                row.push(s[0] + (yc - s[1]) * (s[2] - s[0]) / (s[3] - s[1]));
            }
        }
        let (x0, x1) = (s[0].min(s[2]), s[0].max(s[2]));
        let i0 = (((x0 - g.origin[0]) / g.cell) - 0.5).ceil().max(0.0) as usize;
        let i1 = ((((x1 - g.origin[0]) / g.cell) - 0.5).floor().max(-1.0) + 1.0) as usize;
        for (i, col) in cols.iter_mut().enumerate().take(i1.min(g.nx)).skip(i0) {
            let xc = g.origin[0] + (i as f64 + 0.5) * g.cell;
            if (s[0] > xc) != (s[2] > xc) {
                col.push(s[1] + (xc - s[0]) * (s[3] - s[1]) / (s[2] - s[0]));
            }
        }
    }
    for (j, xs) in rows.iter_mut().enumerate() {
        if xs.len() % 2 == 1 {
            continue;
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks(2) {
            let a = ((pair[0] - g.origin[0]) / g.cell - 0.5).ceil().max(0.0) as usize;
            let b = ((pair[1] - g.origin[0]) / g.cell - 0.5).ceil().max(0.0) as usize;
            for c in out.iter_mut().skip(j * g.nx).take(g.nx).take(b).skip(a) {
                *c = true;
            }
        }
    }
    for (i, ys) in cols.iter_mut().enumerate() {
        if ys.len() % 2 == 1 {
            continue;
        }
        ys.sort_by(f64::total_cmp);
        for pair in ys.chunks(2) {
            let a = ((pair[0] - g.origin[1]) / g.cell - 0.5).ceil().max(0.0) as usize;
            let b = (((pair[1] - g.origin[1]) / g.cell - 0.5).ceil().max(0.0) as usize).min(g.ny);
            for j in a..b {
                out[j * g.nx + i] = true;
            }
        }
    }
    out
}

fn edt_1d(f: &[f64], d: &mut [f64], v: &mut [usize], z: &mut [f64]) {
    let n = f.len();
    let mut k = 0usize;
    v[0] = 0;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        loop {
            let p = v[k];
            let s = ((f[q] + (q * q) as f64) - (f[p] + (p * p) as f64)) / (2.0 * q as f64 - 2.0 * p as f64);
            if s <= z[k] && k > 0 {
                k -= 1;
                continue;
            }
            if s <= z[k] {
                // k == 0 and the new parabola dominates everywhere.
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                break;
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f64::INFINITY;
            break;
        }
    }
    k = 0;
    for (q, dq) in d.iter_mut().enumerate().take(n) {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        *dq = (q as f64 - p as f64).powi(2) + f[p];
    }
}

/// Distance (mm) from every cell centre to the nearest `feature` cell centre (∞ if none).
pub fn distance_to(g: &Grid, feature: &[bool]) -> Vec<f64> {
    const INF: f64 = 1e20;
    let mut f: Vec<f64> = feature.iter().map(|&b| if b { 0.0 } else { INF }).collect();
    let n = g.nx.max(g.ny);
    let (mut buf, mut d, mut v, mut z) = (vec![0.0; n], vec![0.0; n], vec![0usize; n], vec![0.0; n + 1]);
    for i in 0..g.nx {
        for j in 0..g.ny {
            buf[j] = f[j * g.nx + i];
        }
        edt_1d(&buf[..g.ny], &mut d[..g.ny], &mut v, &mut z);
        for j in 0..g.ny {
            f[j * g.nx + i] = d[j];
        }
    }
    for j in 0..g.ny {
        buf[..g.nx].copy_from_slice(&f[j * g.nx..(j + 1) * g.nx]);
        edt_1d(&buf[..g.nx], &mut d[..g.nx], &mut v, &mut z);
        f[j * g.nx..(j + 1) * g.nx].copy_from_slice(&d[..g.nx]);
    }
    f.into_iter().map(|s| if s >= INF / 2.0 { f64::INFINITY } else { s.sqrt() * g.cell }).collect()
}

/// Marks every cell whose centre is within `r` of the segment a–b.
pub fn stroke(g: &Grid, out: &mut [bool], a: [f64; 2], b: [f64; 2], r: f64) {
    let lo = [a[0].min(b[0]) - r, a[1].min(b[1]) - r];
    let hi = [a[0].max(b[0]) + r, a[1].max(b[1]) + r];
    let i0 = ((lo[0] - g.origin[0]) / g.cell).floor().max(0.0) as usize;
    let j0 = ((lo[1] - g.origin[1]) / g.cell).floor().max(0.0) as usize;
    let i1 = (((hi[0] - g.origin[0]) / g.cell).ceil().max(0.0) as usize).min(g.nx);
    let j1 = (((hi[1] - g.origin[1]) / g.cell).ceil().max(0.0) as usize).min(g.ny);
    let s = [a[0], a[1], b[0], b[1]];
    for j in j0..j1 {
        for i in i0..i1 {
            if super::section::seg_dist(g.centre(i, j), &s) <= r {
                out[j * g.nx + i] = true;
            }
        }
    }
}
