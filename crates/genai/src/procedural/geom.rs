//! 2D loops and an exact mesh builder: rings of vertices, planar caps triangulated as polygons
//! with holes, and walls stitched between rings that share their vertices, so every solid comes
//! out closed and 2-manifold by construction.

use mesh::ops::triangulate::{signed_area2, triangulate};
use mesh::IndexedMesh;

pub use mesh::ops::triangulate::{contains, P2};

use std::f64::consts::{PI, TAU};

/// Signed area (positive counter-clockwise).
pub fn signed_area(l: &[P2]) -> f64 {
    signed_area2(l) / 2.0
}

/// Bounding box of a set of loops (`[0,0]`, `[0,0]` when empty).
pub fn bounds(loops: &[Vec<P2>]) -> (P2, P2) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in loops.iter().flatten() {
        for k in 0..2 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    if min[0] > max[0] {
        return ([0.0; 2], [0.0; 2]);
    }
    (min, max)
}

fn sub(a: P2, b: P2) -> P2 {
    [a[0] - b[0], a[1] - b[1]]
}
fn cross(a: P2, b: P2) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}
fn len(a: P2) -> f64 {
    a[0].hypot(a[1])
}

/// Snaps to f32 (what the mesh stores), drops repeated points (closer than `eps`) and corners
/// where the loop runs straight on, until none is left.
pub fn clean_loop(l: &[P2], eps: f64) -> Vec<P2> {
    let mut pts: Vec<P2> = l.iter().map(|p| [f64::from(p[0] as f32), f64::from(p[1] as f32)]).collect();
    loop {
        let n = pts.len();
        if n < 3 {
            return pts;
        }
        let mut keep = vec![true; n];
        let mut changed = false;
        for i in 0..n {
            let prev = (0..n).rev().map(|k| (i + k) % n).find(|&j| j != i && keep[j]).unwrap_or(i);
            let next = (i + 1) % n;
            let (a, b, c) = (pts[prev], pts[i], pts[next]);
            let (ab, bc) = (sub(b, a), sub(c, b));
            let (lab, lbc) = (len(ab), len(bc));
            if lab < eps || (cross(ab, bc).abs() <= 1e-9 * lab * lbc && ab[0] * bc[0] + ab[1] * bc[1] > 0.0) {
                keep[i] = false;
                changed = true;
            }
        }
        if !changed {
            return pts;
        }
        let mut k = keep.iter();
        pts.retain(|_| *k.next().unwrap_or(&true));
    }
}

/// How many other loops contain each loop (by its first point).
pub fn depths(loops: &[Vec<P2>]) -> Vec<usize> {
    (0..loops.len())
        .map(|i| {
            (0..loops.len()).filter(|&j| j != i && loops[j].len() >= 3 && contains(&loops[j], loops[i][0])).count()
        })
        .collect()
}

/// Orients loops by the even-odd rule: even depth counter-clockwise, odd depth clockwise.
pub fn orient_even_odd(mut loops: Vec<Vec<P2>>) -> Vec<Vec<P2>> {
    let d = depths(&loops);
    for (l, d) in loops.iter_mut().zip(d) {
        if (signed_area(l) > 0.0) != d.is_multiple_of(2) {
            l.reverse();
        }
    }
    loops
}

fn seg_bbox_apart(a: P2, b: P2, c: P2, d: P2) -> bool {
    a[0].max(b[0]) < c[0].min(d[0])
        || c[0].max(d[0]) < a[0].min(b[0])
        || a[1].max(b[1]) < c[1].min(d[1])
        || c[1].max(d[1]) < a[1].min(b[1])
}

/// Do segments ab and cd touch or cross?
fn segments_meet(a: P2, b: P2, c: P2, d: P2) -> bool {
    if seg_bbox_apart(a, b, c, d) {
        return false;
    }
    let d1 = cross(sub(b, a), sub(c, a));
    let d2 = cross(sub(b, a), sub(d, a));
    let d3 = cross(sub(d, c), sub(a, c));
    let d4 = cross(sub(d, c), sub(b, c));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |p: P2, q: P2, r: P2, v: f64| {
        v == 0.0 && r[0] >= p[0].min(q[0]) && r[0] <= p[0].max(q[0]) && r[1] >= p[1].min(q[1]) && r[1] <= p[1].max(q[1])
    };
    on(a, b, c, d1) || on(a, b, d, d2) || on(c, d, a, d3) || on(c, d, b, d4)
}

/// True when any two edges of the loops (other than neighbours on one loop) touch or cross.
pub fn any_crossing(loops: &[Vec<P2>]) -> bool {
    // (loop, index, min x, max x), swept by x.
    let mut segs: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (li, l) in loops.iter().enumerate() {
        for i in 0..l.len() {
            let (a, b) = (l[i], l[(i + 1) % l.len()]);
            segs.push((li, i, a[0].min(b[0]), a[0].max(b[0])));
        }
    }
    segs.sort_by(|x, y| x.2.total_cmp(&y.2));
    for s in 0..segs.len() {
        let (la, ia, _, amax) = segs[s];
        let l = &loops[la];
        let (a, b) = (l[ia], l[(ia + 1) % l.len()]);
        for &(lb, ib, bmin, _) in &segs[s + 1..] {
            if bmin > amax {
                break;
            }
            if la == lb {
                let n = l.len();
                if ib == (ia + 1) % n || ia == (ib + 1) % n {
                    continue;
                }
            }
            let m = &loops[lb];
            if segments_meet(a, b, m[ib], m[(ib + 1) % m.len()]) {
                return true;
            }
        }
    }
    false
}

fn point_segment_distance(p: P2, a: P2, b: P2) -> f64 {
    let ab = sub(b, a);
    let l2 = ab[0] * ab[0] + ab[1] * ab[1];
    let t = if l2 > 0.0 { ((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / l2 } else { 0.0 }.clamp(0.0, 1.0);
    len(sub(p, [a[0] + t * ab[0], a[1] + t * ab[1]]))
}

/// Smallest distance between two sets of loops (vertex to edge, both ways).
pub fn min_distance(a: &[Vec<P2>], b: &[Vec<P2>]) -> f64 {
    let one_way = |x: &[Vec<P2>], y: &[Vec<P2>]| {
        let mut best = f64::INFINITY;
        for p in x.iter().flatten() {
            for l in y {
                for i in 0..l.len() {
                    best = best.min(point_segment_distance(*p, l[i], l[(i + 1) % l.len()]));
                }
            }
        }
        best
    };
    one_way(a, b).min(one_way(b, a))
}

/// Smallest distance from any point of the loops to the boundary of `l`.
pub fn clearance(loops: &[Vec<P2>], l: &[P2]) -> f64 {
    min_distance(loops, &[l.to_vec()])
}

// ---- shapes -------------------------------------------------------------------------------

/// A circle of `n` points, counter-clockwise, starting at angle 0.
pub fn circle(c: P2, r: f64, n: usize) -> Vec<P2> {
    (0..n).map(|i| i as f64 * TAU / n as f64).map(|a| [c[0] + r * a.cos(), c[1] + r * a.sin()]).collect()
}

/// Segments for a circle of radius `r` so chords stay within ~0.03 mm (between 16 and 128).
pub fn segments_for(r: f64) -> usize {
    let n = (PI / (1.0 - 0.03 / r.max(0.1)).clamp(-1.0, 1.0).acos()).ceil();
    (n as usize).clamp(16, 128)
}

/// A regular polygon with circumradius `r`, a flat side at the bottom.
pub fn regular_polygon(c: P2, r: f64, sides: usize, sub_per_side: usize) -> Vec<P2> {
    let sides = sides.max(3);
    let start = -PI / 2.0 - PI / sides as f64;
    let corner = |k: usize| {
        let a = start + k as f64 * TAU / sides as f64;
        [c[0] + r * a.cos(), c[1] + r * a.sin()]
    };
    let mut out = Vec::new();
    for k in 0..sides {
        let (p, q) = (corner(k), corner(k + 1));
        for s in 0..sub_per_side.max(1) {
            let t = s as f64 / sub_per_side.max(1) as f64;
            out.push([p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]);
        }
    }
    out
}

/// A rectangle `w` × `h` centred on `c` with corners rounded to `r` (0 for sharp).
pub fn rounded_rect(c: P2, w: f64, h: f64, r: f64) -> Vec<P2> {
    let r = r.min(w / 2.0 - 0.01).min(h / 2.0 - 0.01).max(0.0);
    let (hw, hh) = (w / 2.0, h / 2.0);
    if r < 0.05 {
        return vec![[c[0] - hw, c[1] - hh], [c[0] + hw, c[1] - hh], [c[0] + hw, c[1] + hh], [c[0] - hw, c[1] + hh]];
    }
    let n = (segments_for(r) / 4).max(4);
    let mut out = Vec::new();
    for (k, (cx, cy)) in
        [(hw - r, -hh + r), (hw - r, hh - r), (-hw + r, hh - r), (-hw + r, -hh + r)].into_iter().enumerate()
    {
        let a0 = -PI / 2.0 + k as f64 * PI / 2.0;
        for i in 0..=n {
            let a = a0 + i as f64 * (PI / 2.0) / n as f64;
            out.push([c[0] + cx + r * a.cos(), c[1] + cy + r * a.sin()]);
        }
    }
    clean_loop(&out, 1e-4)
}

/// A stadium (rectangle with round ends) `w` long and `h` high, centred on `c`.
pub fn stadium(c: P2, w: f64, h: f64) -> Vec<P2> {
    rounded_rect(c, w, h, h / 2.0)
}

/// A heart fitting a `size` × `size` box, centred on `c`: two overlapping circles and the lines
/// from a tip tangent to them, so every corner has a finite angle (offsets stay clean).
pub fn heart(c: P2, size: f64) -> Vec<P2> {
    let (r, cx, tip) = (1.0f64, 0.6f64, 1.9f64);
    let top = (r * r - cx * cx).sqrt();
    // Tangent point on the right circle, seen from the tip (0, -tip).
    let d = [-cx, -tip];
    let dist = d[0].hypot(d[1]);
    let base = d[1].atan2(d[0]);
    let off = (r / dist).acos();
    let (a1, a2) = (base + off, base - off);
    let pick = |a: f64| cx + r * a.cos();
    let t_right = if pick(a1) > pick(a2) { a1 } else { a2 };
    let q_right = top.atan2(-cx);
    let n = 48;
    let mut pts: Vec<P2> = vec![[0.0, -tip]];
    let mut a0 = t_right;
    while a0 > q_right - TAU {
        a0 -= TAU;
    }
    let a0 = if a0 < q_right - TAU + 1e-9 { a0 + TAU } else { a0 };
    for i in 0..n {
        let a = a0 + (q_right - a0) * i as f64 / n as f64;
        pts.push([cx + r * a.cos(), r * a.sin()]);
    }
    pts.push([0.0, top]);
    // The left side mirrors the right, walked the other way.
    let right: Vec<P2> = pts[1..pts.len() - 1].to_vec();
    for p in right.iter().rev() {
        pts.push([-p[0], p[1]]);
    }
    fit_into(pts, c, size)
}

/// A star with `points` tips, inner radius `inner` × outer, fitting a `size` box, centred on `c`.
pub fn star(c: P2, size: f64, points: usize, inner: f64) -> Vec<P2> {
    let points = points.clamp(3, 12);
    let raw: Vec<P2> = (0..2 * points)
        .map(|i| {
            let a = PI / 2.0 + i as f64 * PI / points as f64;
            let r = if i % 2 == 0 { 1.0 } else { inner };
            [r * a.cos(), r * a.sin()]
        })
        .collect();
    fit_into(raw, c, size)
}

/// Scales `pts` uniformly so the larger side of its box is `size`, centred on `c`; made CCW.
pub fn fit_into(mut pts: Vec<P2>, c: P2, size: f64) -> Vec<P2> {
    let (mn, mx) = bounds(std::slice::from_ref(&pts));
    let s = size / (mx[0] - mn[0]).max(mx[1] - mn[1]).max(1e-9);
    let mid = [(mn[0] + mx[0]) / 2.0, (mn[1] + mx[1]) / 2.0];
    for p in &mut pts {
        *p = [c[0] + (p[0] - mid[0]) * s, c[1] + (p[1] - mid[1]) * s];
    }
    if signed_area(&pts) < 0.0 {
        pts.reverse();
    }
    clean_loop(&pts, 1e-4)
}

/// Offsets a counter-clockwise loop by `d` (positive outwards) with mitred corners, bevelled where
/// a mitre would reach further than twice `d`. Returns `None` when the result folds over itself
/// (the offset is too large for the shape).
pub fn offset(l: &[P2], d: f64) -> Option<Vec<P2>> {
    let n = l.len();
    let mut out = Vec::with_capacity(n + 8);
    for i in 0..n {
        let (a, b, c) = (l[(i + n - 1) % n], l[i], l[(i + 1) % n]);
        let (e1, e2) = (sub(b, a), sub(c, b));
        let (l1, l2) = (len(e1), len(e2));
        let n1 = [e1[1] / l1, -e1[0] / l1];
        let n2 = [e2[1] / l2, -e2[0] / l2];
        let dot = n1[0] * n2[0] + n1[1] * n2[1];
        let m = [(n1[0] + n2[0]) / (1.0 + dot).max(1e-9), (n1[1] + n2[1]) / (1.0 + dot).max(1e-9)];
        // Convex corner with an outward offset, or reflex with an inward one, opens a gap.
        let opens = cross(e1, e2) * d > 0.0;
        if opens && len(m) > 2.0 {
            out.push([b[0] + d * n1[0], b[1] + d * n1[1]]);
            out.push([b[0] + d * n2[0], b[1] + d * n2[1]]);
        } else {
            out.push([b[0] + d * m[0], b[1] + d * m[1]]);
        }
    }
    let original = [l.to_vec()];
    let far_enough = |p: P2, k: f64| min_distance(&[vec![p]], &original) >= d.abs() * k;
    let mut out = remove_local_loops(out);
    // Corners left inside a fold that did not cross itself (short edges at a deep notch) are
    // closer than |d| to the outline: drop them, and cut any loop that leaves.
    out.retain(|&p| far_enough(p, 0.98));
    let out = clean_loop(&remove_local_loops(out), 1e-4);
    if out.len() < 3 || signed_area(&out) <= 0.0 || any_crossing(std::slice::from_ref(&out)) {
        return None;
    }
    // A fold can also turn the loop inside out without crossing itself (a circle offset past its
    // centre): every corner must lie on the right side, about |d| from the original outline.
    let ok = out.iter().all(|&p| contains(l, p) == (d < 0.0) && far_enough(p, 0.9));
    ok.then_some(out)
}

/// Where segments ab and cd cross (strictly inside both).
fn crossing_point(a: P2, b: P2, c: P2, d: P2) -> Option<P2> {
    if seg_bbox_apart(a, b, c, d) {
        return None;
    }
    let (r, s) = (sub(b, a), sub(d, c));
    let den = cross(r, s);
    if den.abs() < 1e-15 {
        return None;
    }
    let t = cross(sub(c, a), s) / den;
    let u = cross(sub(c, a), r) / den;
    (t > 1e-12 && t < 1.0 - 1e-12 && u > 1e-12 && u < 1.0 - 1e-12).then(|| [a[0] + t * r[0], a[1] + t * r[1]])
}

/// Cuts off the small loops an offset makes where it folds over itself (at a concave corner
/// offset outwards, or a pointy tip offset inwards): from two crossing edges, the shorter way
/// round between them is dropped and the crossing point kept.
fn remove_local_loops(mut pts: Vec<P2>) -> Vec<P2> {
    for _ in 0..pts.len() {
        let n = pts.len();
        if n < 4 {
            break;
        }
        // The widest crossing first: it removes a whole fold at once.
        let mut cut: Option<(usize, usize, P2)> = None;
        let mut widest = 0;
        for i in 0..n {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            for step in (widest + 1).max(2)..=(n / 2) {
                let j = (i + step) % n;
                if (j + 1) % n == i {
                    continue;
                }
                if let Some(x) = crossing_point(a, b, pts[j], pts[(j + 1) % n]) {
                    cut = Some((i, j, x));
                    widest = step;
                }
            }
        }
        let Some((i, j, x)) = cut else { break };
        // Keep j+1 ..= i (cyclically), then the crossing point.
        let mut next = Vec::with_capacity(n);
        let mut k = (j + 1) % n;
        loop {
            next.push(pts[k]);
            if k == i {
                break;
            }
            k = (k + 1) % n;
        }
        next.push(x);
        pts = next;
    }
    pts
}

// ---- mesh builder -------------------------------------------------------------------------

fn cross3(a: P2, b: P2, c: P2) -> f64 {
    cross(sub(b, a), sub(c, a))
}

/// Does segment ab properly cross segment cd, or pass through one of its ends?
fn blocks(a: P2, b: P2, c: P2, d: P2) -> bool {
    if c == a || c == b || d == a || d == b || seg_bbox_apart(a, b, c, d) {
        return false;
    }
    segments_meet(a, b, c, d)
}

/// Triangulates `outer` with `holes`: every hole is first joined to the outline by a bridge to
/// the nearest corner that can see it (checked against every edge, and from inside that corner's
/// angle, so a corner already used by another bridge is entered from the right side), then the
/// resulting single polygon is ear-clipped. Returns counter-clockwise triples indexing `outer`
/// followed by every hole, as [`mesh::ops::triangulate::triangulate`] does.
pub fn triangulate_holes(outer: &[P2], holes: &[&[P2]]) -> Vec<[usize; 3]> {
    let mut pts: Vec<P2> = outer.to_vec();
    let mut ranges = Vec::new();
    for h in holes {
        ranges.push(pts.len()..pts.len() + h.len());
        pts.extend_from_slice(h);
    }
    let ccw = |r: std::ops::Range<usize>, want_ccw: bool| -> Vec<usize> {
        let mut v: Vec<usize> = r.collect();
        let ring: Vec<P2> = v.iter().map(|&i| pts[i]).collect();
        if (signed_area2(&ring) > 0.0) != want_ccw {
            v.reverse();
        }
        v
    };
    let mut poly = ccw(0..outer.len(), true);
    if poly.len() < 3 {
        return Vec::new();
    }
    let mut pending: Vec<Vec<usize>> = ranges.into_iter().filter(|r| r.len() >= 3).map(|r| ccw(r, false)).collect();
    // Right-most holes first, as in Eberly's method: bridges then tend to be short and apart.
    pending.sort_by(|a, b| {
        let mx = |h: &Vec<usize>| h.iter().map(|&i| pts[i][0]).fold(f64::MIN, f64::max);
        mx(b).total_cmp(&mx(a))
    });
    let mut failed = false;
    while let Some(hole) = pending.first().cloned() {
        pending.remove(0);
        let (im, _) =
            hole.iter()
                .enumerate()
                .fold((0, f64::MIN), |(bi, bx), (k, &i)| if pts[i][0] > bx { (k, pts[i][0]) } else { (bi, bx) });
        let m = pts[hole[im]];
        let mut order: Vec<usize> = (0..poly.len()).collect();
        let d2 = |k: &usize| {
            let p = pts[poly[*k]];
            (p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)
        };
        order.sort_by(|a, b| d2(a).total_cmp(&d2(b)));
        let n = poly.len();
        let visible = |k: usize| -> bool {
            let v = pts[poly[k]];
            let (pv, nv) = (pts[poly[(k + n - 1) % n]], pts[poly[(k + 1) % n]]);
            let inside = if cross3(pv, v, nv) > 0.0 {
                cross3(v, nv, m) > 0.0 && cross3(pv, v, m) > 0.0
            } else {
                cross3(v, nv, m) > 0.0 || cross3(pv, v, m) > 0.0
            };
            if !inside || v == m {
                return false;
            }
            let edges_of = |ring: &[usize]| {
                let len = ring.len();
                (0..len).any(|j| blocks(v, m, pts[ring[j]], pts[ring[(j + 1) % len]]))
            };
            !edges_of(&poly) && !edges_of(&hole) && !pending.iter().any(|h| edges_of(h))
        };
        let Some(k) = order.into_iter().find(|&k| visible(k)) else {
            failed = true;
            break;
        };
        let mut joined: Vec<usize> = poly[..=k].to_vec();
        joined.extend(hole[im..].iter().chain(hole[..=im].iter()));
        joined.push(poly[k]);
        joined.extend_from_slice(&poly[k + 1..]);
        poly = joined;
    }
    if failed {
        return triangulate(outer, holes);
    }
    let (core, flat) = drop_flat(&pts, &poly);
    let mut tris = ear_clip(&pts, &core);
    for &(a, b, c) in flat.iter().rev() {
        // The corner lay on edge a→c: split the triangle on that edge at it.
        if let Some((t, k)) = tris
            .iter()
            .enumerate()
            .find_map(|(t, tri)| (0..3).find(|&k| tri[k] == a && tri[(k + 1) % 3] == c).map(|k| (t, k)))
        {
            let d = tris[t][(k + 2) % 3];
            tris[t] = [a, b, d];
            tris.push([b, c, d]);
        }
    }
    fix_slivers(&pts, &mut tris);
    tris
}

/// Takes out corners lying on the straight line between their neighbours (the sides of a polygon
/// vessel are runs of them): ear clipping around such runs can corner itself into a strip of no
/// area. Returns the polygon left and, in order, (previous, corner, next) of each corner taken.
fn drop_flat(pts: &[P2], poly: &[usize]) -> (Vec<usize>, Vec<(usize, usize, usize)>) {
    let n = poly.len();
    let mut prev: Vec<usize> = (0..n).map(|i| (i + n - 1) % n).collect();
    let mut next: Vec<usize> = (0..n).map(|i| (i + 1) % n).collect();
    let mut alive = vec![true; n];
    let mut live = n;
    let mut taken = Vec::new();
    let mut changed = true;
    while changed && live > 3 {
        changed = false;
        for b in 0..n {
            if !alive[b] || live <= 3 {
                continue;
            }
            let (a, c) = (prev[b], next[b]);
            let (pa, pb, pc) = (pts[poly[a]], pts[poly[b]], pts[poly[c]]);
            if pa == pb || pb == pc || pa == pc {
                continue;
            }
            let (d1, d2) = (sub(pb, pa), sub(pc, pb));
            let ac = sub(pc, pa);
            let flat =
                cross(d1, d2).abs() <= 1e-5 * (ac[0] * ac[0] + ac[1] * ac[1]) && d1[0] * d2[0] + d1[1] * d2[1] > 0.0;
            if flat {
                taken.push((poly[a], poly[b], poly[c]));
                next[a] = c;
                prev[c] = a;
                alive[b] = false;
                live -= 1;
                changed = true;
            }
        }
    }
    let start = (0..n).find(|&k| alive[k]).unwrap_or(0);
    let mut core = vec![poly[start]];
    let mut k = next[start];
    while k != start && core.len() < n {
        core.push(poly[k]);
        k = next[k];
    }
    (core, taken)
}

/// Ear clipping of one counter-clockwise polygon given as point ids (a corner may appear twice,
/// where a bridge enters and leaves a hole). Ears of (almost) no area are skipped while proper
/// ones exist, so straight runs of corners (the sides of a polygon vessel, letters lined up) never
/// turn into slivers.
fn ear_clip(pts: &[P2], poly: &[usize]) -> Vec<[usize; 3]> {
    let n = poly.len();
    let mut out = Vec::with_capacity(n.saturating_sub(2));
    if n < 3 {
        return out;
    }
    let mut prev: Vec<usize> = (0..n).map(|i| (i + n - 1) % n).collect();
    let mut next: Vec<usize> = (0..n).map(|i| (i + 1) % n).collect();
    let mut alive = vec![true; n];
    let mut live = n;
    let at = |k: usize| pts[poly[k]];
    // 0: proper ears only; 1: any ear with positive area; 2: the most convex corner, whatever it is.
    let mut level = 0;
    let mut ear = 0;
    let mut stall = 0;
    while live > 3 {
        let (a, b, c) = (prev[ear], ear, next[ear]);
        let (pa, pb, pc) = (at(a), at(b), at(c));
        let area = cross3(pa, pb, pc);
        let longest =
            [sub(pb, pa), sub(pc, pb), sub(pa, pc)].iter().map(|e| e[0] * e[0] + e[1] * e[1]).fold(0.0, f64::max);
        let mut ok = pa == pb || pb == pc || (area > 0.0 && (level > 0 || area > 1e-6 * longest));
        if ok && area > 0.0 {
            // Corners on an edge of the ear block it too (with a little slack for rounding).
            let tol = -1e-9 * longest;
            let (minx, maxx) = (pa[0].min(pb[0]).min(pc[0]), pa[0].max(pb[0]).max(pc[0]));
            let (miny, maxy) = (pa[1].min(pb[1]).min(pc[1]), pa[1].max(pb[1]).max(pc[1]));
            let mut r = next[c];
            while r != a {
                let q = at(r);
                if q[0] >= minx
                    && q[0] <= maxx
                    && q[1] >= miny
                    && q[1] <= maxy
                    && q != pa
                    && q != pb
                    && q != pc
                    && cross3(pa, pb, q) >= tol
                    && cross3(pb, pc, q) >= tol
                    && cross3(pc, pa, q) >= tol
                {
                    ok = false;
                    break;
                }
                r = next[r];
            }
        }
        if level == 2 {
            ok = true;
        }
        if ok {
            out.push([poly[a], poly[b], poly[c]]);
            next[a] = c;
            prev[c] = a;
            alive[b] = false;
            live -= 1;
            ear = c;
            stall = 0;
            level = 0;
        } else {
            ear = next[ear];
            stall += 1;
            if stall > live {
                stall = 0;
                level += 1;
                if level == 2 {
                    // Nothing clips cleanly (bad input): take the most convex corner.
                    let mut best = ear;
                    let mut best_area = f64::MIN;
                    let mut k = ear;
                    for _ in 0..live {
                        let ar = cross3(at(prev[k]), at(k), at(next[k]));
                        if ar > best_area {
                            best_area = ar;
                            best = k;
                        }
                        k = next[k];
                    }
                    ear = best;
                }
            }
        }
    }
    if let Some(b) = (0..n).find(|&k| alive[k]) {
        out.push([poly[prev[b]], poly[b], poly[next[b]]]);
    }
    out
}

/// Is the triangle (nearly) without area: its height under 1e-6 of its longest side?
fn sliver(pts: &[P2], t: [usize; 3]) -> bool {
    let [a, b, c] = t.map(|i| pts[i]);
    let l2 = [sub(b, a), sub(c, b), sub(a, c)].iter().map(|e| e[0] * e[0] + e[1] * e[1]).fold(0.0, f64::max);
    cross3(a, b, c).abs() <= 1e-6 * l2
}

/// Flips away triangles of no area (three corners in a line, which the ear clipper can leave when
/// outlines have corners level with one another): the sliver and its neighbour across its long
/// side become two proper triangles.
fn fix_slivers(pts: &[P2], tris: &mut [[usize; 3]]) {
    for _ in 0..4 {
        let mut changed = false;
        for s in 0..tris.len() {
            let t = tris[s];
            if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] || !sliver(pts, t) {
                continue;
            }
            // The long side is opposite the corner lying between the other two.
            let len2 = |i: usize, j: usize| {
                let e = sub(pts[t[j]], pts[t[i]]);
                e[0] * e[0] + e[1] * e[1]
            };
            let k = (0..3)
                .max_by(|&x, &y| len2((x + 1) % 3, (x + 2) % 3).total_cmp(&len2((y + 1) % 3, (y + 2) % 3)))
                .unwrap_or(0);
            // t = (b, u, v) with b the middle corner and u→v the long side.
            let (b, u, v) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
            // The neighbour runs v→u.
            let Some(o) =
                (0..tris.len()).find(|&o| o != s && (0..3).any(|m| tris[o][m] == v && tris[o][(m + 1) % 3] == u))
            else {
                continue;
            };
            let m = (0..3).find(|&m| tris[o][m] == v).unwrap_or(0);
            let d = tris[o][(m + 2) % 3];
            let (n1, n2) = ([b, u, d], [b, d, v]);
            let ok = |t: [usize; 3]| cross3(pts[t[0]], pts[t[1]], pts[t[2]]) > 0.0 && !sliver(pts, t);
            if ok(n1) && ok(n2) {
                tris[s] = n1;
                tris[o] = n2;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Triangulates loops by the even-odd rule (see [`triangulate_holes`]); triples index the loops
/// concatenated.
pub fn triangulate_even_odd(loops: &[Vec<P2>]) -> Vec<[usize; 3]> {
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
        if let Some(&j) = order[..k].iter().rev().find(|&&j| contains(&loops[j], loops[i][0])) {
            parent[i] = j;
            depth[i] = depth[j] + 1;
        }
    }
    let mut out = Vec::new();
    for &i in order.iter().filter(|&&i| depth[i].is_multiple_of(2)) {
        let holes: Vec<usize> = valid.iter().copied().filter(|&h| parent[h] == i).collect();
        let hole_refs: Vec<&[P2]> = holes.iter().map(|&h| loops[h].as_slice()).collect();
        let mut map: Vec<usize> = (0..loops[i].len()).map(|k| offsets[i] + k).collect();
        for &h in &holes {
            map.extend((0..loops[h].len()).map(|k| offsets[h] + k));
        }
        out.extend(triangulate_holes(&loops[i], &hole_refs).into_iter().map(|t| t.map(|k| map[k])));
    }
    out
}

/// Vertices and triangles being built; every ring's vertices are shared by the caps and walls
/// that meet there.
#[derive(Debug, Default)]
pub struct MeshBuilder {
    pub v: Vec<[f32; 3]>,
    pub t: Vec<[u32; 3]>,
}

impl MeshBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn vertex(&mut self, p: [f64; 3]) -> u32 {
        self.v.push([p[0] as f32, p[1] as f32, p[2] as f32]);
        (self.v.len() - 1) as u32
    }

    /// A horizontal ring of vertices at height `z`.
    pub fn ring(&mut self, pts: &[P2], z: f64) -> Vec<u32> {
        pts.iter().map(|p| self.vertex([p[0], p[1], z])).collect()
    }

    /// A ring of 3D points.
    pub fn ring3(&mut self, pts: impl IntoIterator<Item = [f64; 3]>) -> Vec<u32> {
        pts.into_iter().map(|p| self.vertex(p)).collect()
    }

    /// A horizontal planar face over rings (even-odd), facing up or down.
    pub fn cap(&mut self, rings: &[&[u32]], up: bool) {
        let loops: Vec<Vec<P2>> = rings
            .iter()
            .map(|r| r.iter().map(|&i| [f64::from(self.v[i as usize][0]), f64::from(self.v[i as usize][1])]).collect())
            .collect();
        let idx: Vec<u32> = rings.iter().flat_map(|r| r.iter().copied()).collect();
        for t in triangulate_even_odd(&loops) {
            let [a, b, c] = t.map(|k| idx[k]);
            // A bridge's two copies of one corner can meet in a sliver of no area; leave it out.
            if a == b || b == c || a == c {
                continue;
            }
            self.t.push(if up { [a, b, c] } else { [a, c, b] });
        }
    }

    /// A planar face in a local 2D frame: `outer` with `holes`, given as (2D points, vertex ids);
    /// triangles are wound counter-clockwise in that frame.
    pub fn cap_local(&mut self, outer: (&[P2], &[u32]), holes: &[(&[P2], &[u32])]) {
        let hole_pts: Vec<&[P2]> = holes.iter().map(|h| h.0).collect();
        let mut idx: Vec<u32> = outer.1.to_vec();
        for h in holes {
            idx.extend_from_slice(h.1);
        }
        for t in triangulate_holes(outer.0, &hole_pts) {
            let t = t.map(|k| idx[k]);
            if t[0] != t[1] && t[1] != t[2] && t[0] != t[2] {
                self.t.push(t);
            }
        }
    }

    /// A closed band between two rings of equal length. Its faces point to the right of the
    /// ring's direction when `to` lies above `from` (so a counter-clockwise outline gets an
    /// outward wall going up), and to the left when `to` lies below.
    pub fn wall(&mut self, from: &[u32], to: &[u32]) {
        let n = from.len();
        for i in 0..n {
            let j = (i + 1) % n;
            self.t.push([from[i], from[j], to[j]]);
            self.t.push([from[i], to[j], to[i]]);
        }
    }

    /// Closes a ring onto one vertex (a cone tip), same facing rule as [`MeshBuilder::wall`].
    pub fn fan(&mut self, from: &[u32], tip: u32) {
        let n = from.len();
        for i in 0..n {
            self.t.push([from[i], from[(i + 1) % n], tip]);
        }
    }

    pub fn finish(self) -> IndexedMesh {
        IndexedMesh::new(self.v, self.t).expect("builder indices are in range and finite")
    }
}

/// Prepares loops for building: cleaned and oriented even-odd.
pub fn prepare(loops: Vec<Vec<P2>>) -> Vec<Vec<P2>> {
    orient_even_odd(loops.into_iter().map(|l| clean_loop(&l, 1e-4)).filter(|l| l.len() >= 3).collect())
}

/// A plate: `outline` (even-odd loops: outer edges and through-holes) extruded from 0 to
/// `thickness`, with `raised` loops standing `raised_h` above its top and `engraved` loops cut
/// `engraved_d` into it. Raised and engraved loops must lie inside the plate's material and apart
/// from each other. One closed manifold: the top face is triangulated with the features' outlines
/// as holes and their walls start from exactly those edges.
pub fn plate(
    outline: &[Vec<P2>],
    thickness: f64,
    raised: &[Vec<P2>],
    raised_h: f64,
    engraved: &[Vec<P2>],
    engraved_d: f64,
) -> IndexedMesh {
    let mut b = MeshBuilder::new();
    let bottom: Vec<Vec<u32>> = outline.iter().map(|l| b.ring(l, 0.0)).collect();
    let top: Vec<Vec<u32>> = outline.iter().map(|l| b.ring(l, thickness)).collect();
    let r_low: Vec<Vec<u32>> = raised.iter().map(|l| b.ring(l, thickness)).collect();
    let r_high: Vec<Vec<u32>> = raised.iter().map(|l| b.ring(l, thickness + raised_h)).collect();
    let e_top: Vec<Vec<u32>> = engraved.iter().map(|l| b.ring(l, thickness)).collect();
    let e_floor: Vec<Vec<u32>> = engraved.iter().map(|l| b.ring(l, thickness - engraved_d)).collect();
    b.cap(&refs(&bottom), false);
    for (lo, hi) in bottom.iter().zip(&top) {
        b.wall(lo, hi);
    }
    let mut top_face = refs(&top);
    top_face.extend(refs(&r_low));
    top_face.extend(refs(&e_top));
    b.cap(&top_face, true);
    for (lo, hi) in r_low.iter().zip(&r_high) {
        b.wall(lo, hi);
    }
    if !r_high.is_empty() {
        b.cap(&refs(&r_high), true);
    }
    for (hi, lo) in e_top.iter().zip(&e_floor) {
        b.wall(hi, lo);
    }
    if !e_floor.is_empty() {
        b.cap(&refs(&e_floor), true);
    }
    b.finish()
}

fn refs(v: &[Vec<u32>]) -> Vec<&[u32]> {
    v.iter().map(|r| r.as_slice()).collect()
}

/// Loops moved by `d`.
pub fn translated(loops: &[Vec<P2>], d: P2) -> Vec<Vec<P2>> {
    loops.iter().map(|l| l.iter().map(|p| [p[0] + d[0], p[1] + d[1]]).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plate_with_hole_and_features_is_closed() {
        let outline = prepare(vec![rounded_rect([0.0, 0.0], 60.0, 20.0, 3.0), circle([-24.0, 0.0], 2.5, 24)]);
        let raised = prepare(vec![rounded_rect([0.0, 0.0], 10.0, 10.0, 0.0), circle([0.0, 0.0], 2.0, 16)]);
        let engraved = prepare(vec![circle([15.0, 0.0], 3.0, 24)]);
        let m = plate(&outline, 3.0, &raised, 1.0, &engraved, 1.0);
        let r = mesh::validate::validate(&m, Some([180.0; 3]));
        assert!(r.printable && r.watertight && r.consistently_oriented, "{:?}", r.reasons);
        let expect =
            signed_area(&outline[0]) * 3.0 + signed_area(&outline[1]) * 3.0 + (100.0 + signed_area(&raised[1]))
                - signed_area(&engraved[0]);
        assert!((r.volume_mm3 - expect).abs() < 0.01 * expect, "{} vs {expect}", r.volume_mm3);
    }

    #[test]
    fn offsets_stay_simple() {
        let s = star([0.0, 0.0], 60.0, 5, 0.5);
        let inner = offset(&s, -1.0).unwrap();
        let outer = offset(&s, 5.0).unwrap();
        assert!(signed_area(&inner) < signed_area(&s) && signed_area(&s) < signed_area(&outer));
        assert!(!any_crossing(&[inner, s.clone(), outer]));
        assert!(offset(&circle([0.0, 0.0], 2.0, 32), -3.0).is_none());
    }

    #[test]
    fn clean_drops_repeats_and_straight_runs() {
        let l = vec![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]];
        assert_eq!(clean_loop(&l, 1e-6).len(), 4);
    }
}
