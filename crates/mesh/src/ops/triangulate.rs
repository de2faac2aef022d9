//! Polygon triangulation by ear clipping, with holes bridged into the outer ring (Eberly's method).
//! Used for cut caps and for filling holes. It always returns a full triangulation (n − 2 triangles
//! per ring, plus two per hole) so the surface it closes stays watertight even when the polygon
//! is self-intersecting; then the worst ears are clipped anyway.

/// A 2D point.
pub type P2 = [f64; 2];

fn cross(a: P2, b: P2, c: P2) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Twice the signed area: positive for a counter-clockwise ring.
pub fn signed_area2(ring: &[P2]) -> f64 {
    let n = ring.len();
    (0..n).map(|i| ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1]).sum()
}

/// Even-odd point-in-polygon test.
pub fn contains(ring: &[P2], p: P2) -> bool {
    let n = ring.len();
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) {
            inside = !inside;
        }
    }
    inside
}

/// A doubly linked ring of polygon corners; bridging duplicates corners, so nodes ≠ points.
struct Rings<'a> {
    pts: &'a [P2],
    pt: Vec<usize>,
    prev: Vec<usize>,
    next: Vec<usize>,
}

impl Rings<'_> {
    fn at(&self, node: usize) -> P2 {
        self.pts[self.pt[node]]
    }

    fn push(&mut self, point: usize) -> usize {
        let n = self.pt.len();
        self.pt.push(point);
        self.prev.push(n);
        self.next.push(n);
        n
    }

    /// Links points `range` into a ring with the requested orientation; returns a node on it.
    fn ring(&mut self, range: std::ops::Range<usize>, ccw: bool) -> Option<usize> {
        if range.len() < 3 {
            return None;
        }
        let mut order: Vec<usize> = range.collect();
        if (signed_area2(&order.iter().map(|&i| self.pts[i]).collect::<Vec<_>>()) > 0.0) != ccw {
            order.reverse();
        }
        let first = self.pt.len();
        for &p in &order {
            self.push(p);
        }
        let n = order.len();
        for k in 0..n {
            self.next[first + k] = first + (k + 1) % n;
            self.prev[first + k] = first + (k + n - 1) % n;
        }
        Some(first)
    }

    fn cycle(&self, start: usize) -> Vec<usize> {
        let mut out = vec![start];
        let mut n = self.next[start];
        while n != start && out.len() <= self.pt.len() {
            out.push(n);
            n = self.next[n];
        }
        out
    }

    /// Joins the hole ring through `hole` into the outer ring through `outer` by a bridge.
    fn bridge(&mut self, outer: usize, hole: usize) {
        let hole_nodes = self.cycle(hole);
        let m = *hole_nodes.iter().max_by(|&&a, &&b| self.at(a)[0].total_cmp(&self.at(b)[0])).expect("ring has nodes");
        let mp = self.at(m);
        let outer_nodes = self.cycle(outer);
        // Cast a ray from M towards +x; the nearest edge hit gives a candidate corner.
        let mut best: Option<(f64, usize)> = None;
        for &p in &outer_nodes {
            let q = self.next[p];
            let (a, b) = (self.at(p), self.at(q));
            if (a[1] <= mp[1] && b[1] >= mp[1]) || (b[1] <= mp[1] && a[1] >= mp[1]) {
                let x =
                    if a[1] == b[1] { a[0].max(b[0]) } else { a[0] + (mp[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) };
                if x >= mp[0] && best.is_none_or(|(bx, _)| x < bx) {
                    best = Some((x, if a[0] > b[0] { p } else { q }));
                }
            }
        }
        let target = match best {
            Some((ix, cand)) => {
                // A corner inside triangle (M, I, candidate) would block the bridge; take the one
                // closest in angle to the ray instead.
                let i = [ix, mp[1]];
                let c = self.at(cand);
                let (t0, t1, t2) = if cross(mp, i, c) >= 0.0 { (mp, i, c) } else { (mp, c, i) };
                let mut pick = cand;
                let mut best_key = (f64::INFINITY, f64::INFINITY);
                for &r in &outer_nodes {
                    let rp = self.at(r);
                    if r == cand || rp == mp {
                        continue;
                    }
                    if cross(t0, t1, rp) >= 0.0 && cross(t1, t2, rp) >= 0.0 && cross(t2, t0, rp) >= 0.0 {
                        let (dx, dy) = (rp[0] - mp[0], rp[1] - mp[1]);
                        let k = ((dy.abs()).atan2(dx), dx * dx + dy * dy);
                        if k < best_key {
                            best_key = k;
                            pick = r;
                        }
                    }
                }
                pick
            }
            None => *outer_nodes
                .iter()
                .min_by(|&&a, &&b| {
                    let (pa, pb) = (self.at(a), self.at(b));
                    let da = (pa[0] - mp[0]).powi(2) + (pa[1] - mp[1]).powi(2);
                    let db = (pb[0] - mp[0]).powi(2) + (pb[1] - mp[1]).powi(2);
                    da.total_cmp(&db)
                })
                .expect("ring has nodes"),
        };
        let (pn, mprev) = (self.next[target], self.prev[m]);
        let m2 = self.push(self.pt[m]);
        let p2 = self.push(self.pt[target]);
        self.next[target] = m;
        self.prev[m] = target;
        self.next[mprev] = m2;
        self.prev[m2] = mprev;
        self.next[m2] = p2;
        self.prev[p2] = m2;
        self.next[p2] = pn;
        self.prev[pn] = p2;
    }

    /// Whether the corner at `node` turns left (strictly), so it can be the tip of an ear.
    fn convex(&self, node: usize) -> bool {
        cross(self.at(self.prev[node]), self.at(node), self.at(self.next[node])) > 0.0
    }

    /// `blockers` must hold every live corner that is not strictly convex (and may hold others).
    fn is_ear(&self, e: usize, blockers: &Blockers, dead: &[bool]) -> bool {
        let (p, n) = (self.prev[e], self.next[e]);
        let (a, b, c) = (self.at(p), self.at(e), self.at(n));
        // A corner on top of its neighbour spans no area: clipping it first is always safe, and
        // leaving it would hide every real ear behind a zero-length edge.
        if b == a || b == c {
            return true;
        }
        if cross(a, b, c) <= 0.0 {
            return false;
        }
        // Only a reflex (or flat) corner can lie in an ear's triangle when the polygon is simple:
        // a convex one inside implies a reflex one inside too (Eberly, "Triangulation by Ear
        // Clipping"). Checking just those, and only those near the triangle, makes a cut cap
        // (thousands of corners, half of them flat to rounding) linear instead of quadratic.
        let lo = [a[0].min(b[0]).min(c[0]), a[1].min(b[1]).min(c[1])];
        let hi = [a[0].max(b[0]).max(c[0]), a[1].max(b[1]).max(c[1])];
        blockers.near(lo, hi).all(|r| {
            let q = self.at(r);
            dead[r]
                || r == p
                || r == e
                || r == n
                || q == a
                || q == b
                || q == c
                || !(cross(a, b, q) >= 0.0 && cross(b, c, q) >= 0.0 && cross(c, a, q) >= 0.0)
        })
    }

    fn clip(&mut self, start: usize, out: &mut Vec<[usize; 3]>) {
        let ring = self.cycle(start);
        let mut live = ring.len();
        let mut dead = vec![false; self.pt.len()];
        let mut listed = vec![false; self.pt.len()];
        let mut blockers = Blockers::new(ring.iter().map(|&x| self.at(x)));
        for &x in &ring {
            if !self.convex(x) {
                listed[x] = true;
                blockers.insert(x, self.at(x));
            }
        }
        let mut ear = start;
        let mut stall = 0;
        while live > 3 {
            let chosen = if self.is_ear(ear, &blockers, &dead) {
                Some(ear)
            } else {
                stall += 1;
                None
            };
            let chosen = chosen.or_else(|| {
                (stall >= live).then(|| {
                    // No proper ear (self-intersecting or degenerate input): clip the most convex
                    // corner so the triangulation still closes.
                    *self
                        .cycle(ear)
                        .iter()
                        .max_by(|&&x, &&y| {
                            let cx = cross(self.at(self.prev[x]), self.at(x), self.at(self.next[x]));
                            let cy = cross(self.at(self.prev[y]), self.at(y), self.at(self.next[y]));
                            cx.total_cmp(&cy)
                        })
                        .expect("more than three live corners")
                })
            });
            match chosen {
                Some(e) => {
                    let (p, n) = (self.prev[e], self.next[e]);
                    out.push([self.pt[p], self.pt[e], self.pt[n]]);
                    self.next[p] = n;
                    self.prev[n] = p;
                    dead[e] = true;
                    live -= 1;
                    // The neighbours' corners changed: one that stopped being convex must block.
                    // (One that became convex may stay listed: checking it is merely wasted.)
                    for x in [p, n] {
                        if !listed[x] && !self.convex(x) {
                            listed[x] = true;
                            blockers.insert(x, self.at(x));
                        }
                    }
                    ear = p;
                    stall = 0;
                }
                None => ear = self.next[ear],
            }
        }
        if live == 3 {
            let (p, n) = (self.prev[ear], self.next[ear]);
            out.push([self.pt[p], self.pt[ear], self.pt[n]]);
        }
    }
}

/// The corners that may block an ear, bucketed in a uniform grid over the polygon's bounds so
/// an ear test looks only at those near its triangle.
struct Blockers {
    lo: P2,
    /// Cells per unit length, per axis.
    scale: P2,
    side: usize,
    cells: Vec<Vec<usize>>,
    /// Box margin: an ear test computed in floating point can count a point just outside its
    /// triangle's box as inside; one further out than this it cannot.
    margin: f64,
}

impl Blockers {
    fn new(points: impl Iterator<Item = P2> + Clone) -> Self {
        let count = points.clone().count();
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in points {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        if count == 0 {
            (lo, hi) = ([0.0; 2], [0.0; 2]);
        }
        // About two corners per cell if they were spread evenly; a small ring gets one cell.
        let side = ((count / 2) as f64).sqrt().clamp(1.0, 1024.0) as usize;
        let scale = [0, 1].map(|k| if hi[k] > lo[k] { side as f64 / (hi[k] - lo[k]) } else { 0.0 });
        let magnitude = [lo[0].abs(), lo[1].abs(), hi[0].abs(), hi[1].abs()].into_iter().fold(0.0, f64::max);
        Self { lo, scale, side, cells: vec![Vec::new(); side * side], margin: 1e-9 * magnitude }
    }

    fn cell(&self, k: usize, x: f64) -> usize {
        // Clamped, so points beyond the bounds (none are) or NaN land in an edge cell, never lost.
        (((x - self.lo[k]) * self.scale[k]).max(0.0) as usize).min(self.side - 1)
    }

    fn insert(&mut self, node: usize, at: P2) {
        let c = self.cell(1, at[1]) * self.side + self.cell(0, at[0]);
        self.cells[c].push(node);
    }

    /// Every inserted corner whose point may lie in the box `lo..=hi` (and some that do not).
    fn near(&self, lo: P2, hi: P2) -> impl Iterator<Item = usize> + '_ {
        let m = self.margin;
        let (x0, x1) = (self.cell(0, lo[0] - m), self.cell(0, hi[0] + m));
        let (y0, y1) = (self.cell(1, lo[1] - m), self.cell(1, hi[1] + m));
        (y0..=y1).flat_map(move |y| (x0..=x1).flat_map(move |x| self.cells[y * self.side + x].iter().copied()))
    }
}

/// Triangulates `outer` with `holes` (each at least 3 points; orientation of the input does not
/// matter). Returns counter-clockwise index triples into `outer` followed by every hole in order.
pub fn triangulate(outer: &[P2], holes: &[&[P2]]) -> Vec<[usize; 3]> {
    let mut pts: Vec<P2> = outer.to_vec();
    let mut ranges = Vec::with_capacity(holes.len());
    for h in holes {
        ranges.push(pts.len()..pts.len() + h.len());
        pts.extend_from_slice(h);
    }
    let mut rings = Rings { pts: &pts, pt: Vec::new(), prev: Vec::new(), next: Vec::new() };
    let Some(head) = rings.ring(0..outer.len(), true) else { return Vec::new() };
    let mut hole_heads: Vec<usize> = ranges.into_iter().filter_map(|r| rings.ring(r, false)).collect();
    // Right-most holes first, so each bridge sees the holes already joined to its right.
    let max_x = |rings: &Rings, h: usize| rings.cycle(h).iter().map(|&n| rings.at(n)[0]).fold(f64::MIN, f64::max);
    hole_heads.sort_by(|&a, &b| max_x(&rings, b).total_cmp(&max_x(&rings, a)));
    for h in hole_heads {
        rings.bridge(head, h);
    }
    let mut out = Vec::with_capacity(pts.len());
    rings.clip(head, &mut out);
    out
}

/// Triangulates closed loops by the even-odd rule: a loop inside an odd number of others is a hole
/// of the smallest loop around it. Returns index triples into all loops concatenated, wound
/// counter-clockwise.
pub fn triangulate_nested(loops: &[Vec<P2>]) -> Vec<[usize; 3]> {
    let offsets: Vec<usize> = loops
        .iter()
        .scan(0, |acc, l| {
            let o = *acc;
            *acc += l.len();
            Some(o)
        })
        .collect();
    let valid: Vec<usize> = (0..loops.len()).filter(|&i| loops[i].len() >= 3).collect();
    let area: Vec<f64> = loops.iter().map(|l| signed_area2(l).abs()).collect();
    let mut order = valid.clone();
    order.sort_by(|&a, &b| area[b].total_cmp(&area[a]));
    let mut depth = vec![0usize; loops.len()];
    let mut parent = vec![usize::MAX; loops.len()];
    for (k, &i) in order.iter().enumerate() {
        let probe = loops[i][0];
        // The smallest enclosing loop comes last among the larger ones.
        if let Some(&j) = order[..k].iter().rev().find(|&&j| contains(&loops[j], probe)) {
            parent[i] = j;
            depth[i] = depth[j] + 1;
        }
    }
    let mut out = Vec::new();
    for &i in order.iter().filter(|&&i| depth[i].is_multiple_of(2)) {
        let holes: Vec<usize> =
            valid.iter().copied().filter(|&h| parent[h] == i && !depth[h].is_multiple_of(2)).collect();
        let hole_refs: Vec<&[P2]> = holes.iter().map(|&h| loops[h].as_slice()).collect();
        let mut local_to_global: Vec<usize> = (0..loops[i].len()).map(|k| offsets[i] + k).collect();
        for &h in &holes {
            local_to_global.extend((0..loops[h].len()).map(|k| offsets[h] + k));
        }
        out.extend(triangulate(&loops[i], &hole_refs).into_iter().map(|t| t.map(|k| local_to_global[k])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area_of(pts: &[P2], tris: &[[usize; 3]]) -> f64 {
        tris.iter().map(|t| cross(pts[t[0]], pts[t[1]], pts[t[2]]) / 2.0).sum()
    }

    #[test]
    fn square_and_concave_l() {
        let sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let t = triangulate(&sq, &[]);
        assert_eq!(t.len(), 2);
        assert!((area_of(&sq, &t) - 1.0).abs() < 1e-12);
        // Clockwise input comes back counter-clockwise.
        let mut cw = sq;
        cw.reverse();
        assert!((area_of(&cw, &triangulate(&cw, &[])) - 1.0).abs() < 1e-12);
        let l = [[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 2.0], [0.0, 2.0]];
        let t = triangulate(&l, &[]);
        assert_eq!(t.len(), 4);
        assert!((area_of(&l, &t) - 3.0).abs() < 1e-12);
        assert!(t.iter().all(|x| cross(l[x[0]], l[x[1]], l[x[2]]) > 0.0));
    }

    #[test]
    fn square_with_two_holes() {
        let outer = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let h1 = [[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]];
        let h2 = [[6.0, 6.0], [8.0, 6.0], [8.0, 8.0], [6.0, 8.0]];
        let mut pts = outer.to_vec();
        pts.extend_from_slice(&h1);
        pts.extend_from_slice(&h2);
        let t = triangulate(&outer, &[&h1, &h2]);
        assert_eq!(t.len(), 12 + 2 * 2 - 2);
        assert!((area_of(&pts, &t) - 92.0).abs() < 1e-9);
        assert!(t.iter().all(|x| cross(pts[x[0]], pts[x[1]], pts[x[2]]) >= 0.0));
    }

    #[test]
    fn nested_rings_by_even_odd() {
        let ring = |r: f64, n: usize| -> Vec<P2> {
            (0..n).map(|i| (i as f64 / n as f64) * std::f64::consts::TAU).map(|a| [r * a.cos(), r * a.sin()]).collect()
        };
        let loops = vec![ring(1.0, 16), ring(10.0, 64), ring(5.0, 32), ring(20.0, 8)];
        let pts: Vec<P2> = loops.concat();
        let t = triangulate_nested(&loops);
        let expect = signed_area2(&loops[3]) / 2.0 - signed_area2(&loops[1]) / 2.0 + signed_area2(&loops[2]) / 2.0
            - signed_area2(&loops[0]) / 2.0;
        assert!((area_of(&pts, &t) - expect).abs() < 1e-9, "{} vs {expect}", area_of(&pts, &t));
    }

    #[test]
    fn repeated_points_in_a_hole_still_triangulate_cleanly() {
        // Section points that round onto one another give zero-length edges.
        let ring = |r: f64, n: usize, twice: bool| -> Vec<P2> {
            (0..n)
                .map(|i| (i as f64 / n as f64) * std::f64::consts::TAU)
                .flat_map(|a| std::iter::repeat_n([r * a.cos(), r * a.sin()], if twice { 2 } else { 1 }))
                .collect()
        };
        let loops = vec![ring(26.0, 64, false), ring(14.0, 64, true)];
        let pts = loops.concat();
        let t = triangulate_nested(&loops);
        assert_eq!(t.len(), 64 + 128);
        let abs: f64 = t.iter().map(|x| cross(pts[x[0]], pts[x[1]], pts[x[2]]).abs() / 2.0).sum();
        let expect = (signed_area2(&loops[0]) - signed_area2(&loops[1])) / 2.0;
        assert!((abs - expect).abs() < 1e-6, "{abs} vs {expect}");
    }

    #[test]
    fn degenerate_input_never_panics() {
        assert!(triangulate(&[[0.0, 0.0], [1.0, 1.0]], &[]).is_empty());
        let line = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        assert_eq!(triangulate(&line, &[]).len(), 2);
        let bow = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        assert_eq!(triangulate(&bow, &[]).len(), 2);
    }

    #[test]
    fn many_reflex_corners_and_holes_tile_exactly() {
        // A 600-point star (every other corner reflex) with two star-shaped holes: the ear test
        // looks only at nearby reflex corners, so a blocker it missed would show as overlap.
        let star = |cx: f64, cy: f64, r: f64, n: usize| -> Vec<P2> {
            (0..n)
                .map(|i| {
                    let a = (i as f64 / n as f64) * std::f64::consts::TAU;
                    let rr = if i % 2 == 0 { r } else { r * 0.55 };
                    [cx + rr * a.cos(), cy + rr * a.sin()]
                })
                .collect()
        };
        let loops = vec![star(0.0, 0.0, 100.0, 600), star(-35.0, 0.0, 15.0, 40), star(30.0, 10.0, 20.0, 60)];
        let pts = loops.concat();
        let t = triangulate_nested(&loops);
        assert_eq!(t.len(), pts.len() - 2 + 2 * 2);
        assert!(t.iter().all(|x| cross(pts[x[0]], pts[x[1]], pts[x[2]]) >= 0.0), "a triangle is flipped");
        // All counter-clockwise and summing to the area: no two overlap, nothing is left uncovered.
        let expect = (signed_area2(&loops[0]) - signed_area2(&loops[1]) - signed_area2(&loops[2])) / 2.0;
        assert!((area_of(&pts, &t) - expect).abs() < 1e-6 * expect, "{} vs {expect}", area_of(&pts, &t));
    }
}
