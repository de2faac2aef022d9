//! 2D polygon geometry for one layer: regions with holes, offsets and booleans (Clipper2 on a 1 nm grid).
//!
//! Regions are kept as plain `f64` millimetre polygons so our own algorithms (scanline infill, seams, ordering)
//! read them directly; every boolean or offset converts to Clipper2's integer grid and back. Outer contours are
//! counter-clockwise (positive area), holes clockwise.

use clipper2::{EndType, FillRule, JoinType, Path, Paths, PointScaler};
use glam::DVec2;

/// Clipper2 point scale: integer nanometres, as PrusaSlicer uses, so offsets of 0.01 mm stay exact.
#[derive(Debug, Default, Copy, Clone, PartialEq, Hash)]
pub struct Nano;

impl PointScaler for Nano {
    const MULTIPLIER: f64 = 1e6;
}

/// A closed polygon; the last point connects back to the first.
pub type Polygon = Vec<DVec2>;

/// A set of closed polygons with mixed orientation: counter-clockwise outers, clockwise holes.
pub type Polygons = Vec<Polygon>;

/// Signed area, positive for counter-clockwise.
pub fn area(poly: &[DVec2]) -> f64 {
    let n = poly.len();
    if n < 3 {
        return 0.0;
    }
    let mut a = 0.0;
    for i in 0..n {
        let p = poly[i];
        let q = poly[(i + 1) % n];
        a += p.x * q.y - q.x * p.y;
    }
    a / 2.0
}

/// Total signed area of a region (holes subtract).
pub fn total_area(polys: &[Polygon]) -> f64 {
    polys.iter().map(|p| area(p)).sum()
}

/// Length of a closed polygon's outline.
pub fn perimeter(poly: &[DVec2]) -> f64 {
    let n = poly.len();
    (0..n).map(|i| poly[i].distance(poly[(i + 1) % n])).sum()
}

fn to_paths(polys: &[Polygon]) -> Paths<Nano> {
    Paths::new(polys.iter().map(|p| Path::new(p.iter().map(|v| (v.x, v.y).into()).collect())).collect())
}

fn from_paths(paths: Paths<Nano>) -> Polygons {
    paths.iter().filter(|p| p.len() >= 3).map(|p| p.iter().map(|pt| DVec2::new(pt.x(), pt.y())).collect()).collect()
}

/// Grows (positive `delta`) or shrinks (negative) a region, with mitred corners like every slicer uses for walls.
pub fn offset(polys: &[Polygon], delta: f64) -> Polygons {
    if polys.is_empty() {
        return Vec::new();
    }
    from_paths(to_paths(polys).inflate(delta, JoinType::Miter, EndType::Polygon, 3.0))
}

/// Grows a region with rounded corners (skirts and brims keep an even distance all round).
pub fn offset_round(polys: &[Polygon], delta: f64) -> Polygons {
    if polys.is_empty() {
        return Vec::new();
    }
    from_paths(to_paths(polys).inflate(delta, JoinType::Round, EndType::Polygon, 0.0))
}

/// Shrinks then grows back: removes slivers narrower than `2 × delta` without moving the remaining outline.
pub fn opening(polys: &[Polygon], delta: f64) -> Polygons {
    offset(&offset(polys, -delta), delta)
}

fn boolean(subject: &[Polygon], clip: &[Polygon], op: Op, rule: FillRule) -> Polygons {
    let clipper = clipper2::Clipper::<_, Nano>::new().add_subject(to_paths(subject));
    let clipper = clipper.add_clip(to_paths(clip));
    let result = match op {
        Op::Union => clipper.union(rule),
        Op::Difference => clipper.difference(rule),
        Op::Intersection => clipper.intersect(rule),
    };
    // Clipper2 only fails on coordinates beyond ±4.6e18 nm, far outside any bed; an empty result is the safe answer.
    result.map(from_paths).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum Op {
    Union,
    Difference,
    Intersection,
}

/// Union under the non-zero rule: overlapping shells merge, clockwise holes cut.
pub fn union(polys: &[Polygon]) -> Polygons {
    if polys.is_empty() {
        return Vec::new();
    }
    boolean(polys, &[], Op::Union, FillRule::NonZero)
}

/// Union of two regions.
pub fn union2(a: &[Polygon], b: &[Polygon]) -> Polygons {
    if b.is_empty() {
        return a.to_vec();
    }
    if a.is_empty() {
        return b.to_vec();
    }
    boolean(a, b, Op::Union, FillRule::NonZero)
}

/// `a` minus `b`.
pub fn difference(a: &[Polygon], b: &[Polygon]) -> Polygons {
    if a.is_empty() || b.is_empty() {
        return a.to_vec();
    }
    boolean(a, b, Op::Difference, FillRule::NonZero)
}

/// Where `a` and `b` overlap.
pub fn intersection(a: &[Polygon], b: &[Polygon]) -> Polygons {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    boolean(a, b, Op::Intersection, FillRule::NonZero)
}

/// Drops vertices closer than `tolerance` to the line through their neighbours (Clipper2's simplify).
pub fn simplify(polys: &[Polygon], tolerance: f64) -> Polygons {
    if polys.is_empty() {
        return Vec::new();
    }
    from_paths(to_paths(polys).simplify(tolerance, false))
}

/// Axis-aligned bounds of a region: (min, max).
pub fn bounds(polys: &[Polygon]) -> Option<(DVec2, DVec2)> {
    let mut it = polys.iter().flatten();
    let first = *it.next()?;
    Some(it.fold((first, first), |(lo, hi), p| (lo.min(*p), hi.max(*p))))
}

/// Even-odd point-in-polygon over every ring of a region (holes toggle back to outside).
pub fn contains(polys: &[Polygon], p: DVec2) -> bool {
    let mut inside = false;
    for poly in polys {
        let n = poly.len();
        let mut j = n.wrapping_sub(1);
        for i in 0..n {
            let a = poly[i];
            let b = poly[j];
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
    }
    inside
}

/// One connected piece of a layer: an outer contour and the holes inside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Island {
    pub contour: Polygon,
    pub holes: Polygons,
}

impl Island {
    /// Contour and holes as one region.
    pub fn to_polygons(&self) -> Polygons {
        let mut v = Vec::with_capacity(1 + self.holes.len());
        v.push(self.contour.clone());
        v.extend(self.holes.iter().cloned());
        v
    }

    /// Area without the holes.
    pub fn area(&self) -> f64 {
        area(&self.contour) + self.holes.iter().map(|h| area(h)).sum::<f64>()
    }
}

/// Splits a region into islands: each hole joins the smallest outer contour that contains it.
pub fn islands(polys: Polygons) -> Vec<Island> {
    let (outers, holes): (Vec<_>, Vec<_>) = polys.into_iter().partition(|p| area(p) > 0.0);
    let mut islands: Vec<Island> = outers.into_iter().map(|contour| Island { contour, holes: Vec::new() }).collect();
    let boxes: Vec<_> = islands.iter().map(|i| bounds(std::slice::from_ref(&i.contour)).unwrap()).collect();
    let areas: Vec<f64> = islands.iter().map(|i| area(&i.contour)).collect();
    for hole in holes {
        let probe = hole[0];
        let mut best: Option<usize> = None;
        for (k, island) in islands.iter().enumerate() {
            let (lo, hi) = boxes[k];
            if probe.x < lo.x || probe.y < lo.y || probe.x > hi.x || probe.y > hi.y {
                continue;
            }
            if contains(std::slice::from_ref(&island.contour), probe) && best.is_none_or(|b| areas[k] < areas[b]) {
                best = Some(k);
            }
        }
        if let Some(k) = best {
            islands[k].holes.push(hole);
        }
    }
    islands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, s: f64) -> Polygon {
        vec![DVec2::new(x, y), DVec2::new(x + s, y), DVec2::new(x + s, y + s), DVec2::new(x, y + s)]
    }

    #[test]
    fn offsets_and_booleans() {
        let sq = vec![square(0.0, 0.0, 10.0)];
        assert!((total_area(&offset(&sq, -1.0)) - 64.0).abs() < 1e-6);
        assert!((total_area(&offset(&sq, 1.0)) - 144.0).abs() < 1e-6, "mitred corners stay square");
        let hole = [square(2.0, 2.0, 6.0).into_iter().rev().collect::<Polygon>()];
        let ring = union(&[sq[0].clone(), hole[0].clone()]);
        assert!((total_area(&ring) - 64.0).abs() < 1e-6);
        let isl = islands(ring);
        assert_eq!(isl.len(), 1);
        assert_eq!(isl[0].holes.len(), 1);
        assert!(contains(&isl[0].to_polygons(), DVec2::new(1.0, 1.0)));
        assert!(!contains(&isl[0].to_polygons(), DVec2::new(5.0, 5.0)));
        assert!((total_area(&difference(&sq, &[square(5.0, 0.0, 10.0)])) - 50.0).abs() < 1e-6);
        assert!((total_area(&intersection(&sq, &[square(5.0, 5.0, 10.0)])) - 25.0).abs() < 1e-6);
    }
}
