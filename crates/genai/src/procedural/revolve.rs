//! Vessels: surfaces of revolution from a profile, round or with flat sides, twisted ring by
//! ring, optionally ribbed, with drainage holes through the base.

use std::f64::consts::{PI, TAU};

use super::geom::{self, MeshBuilder, P2};
use super::{Params, Part};

/// A vessel's shape.
pub(crate) struct Vessel {
    pub height: f64,
    /// Outer radius at a height fraction 0..1.
    pub radius: Box<dyn Fn(f64) -> f64>,
    /// Whether the profile is straight (then two rings suffice when not twisted).
    pub straight: bool,
    /// 0 (or < 3) for round.
    pub sides: usize,
    pub twist_deg: f64,
    pub ribs: usize,
    pub wall: f64,
    pub base: f64,
    /// Drainage holes through the base: (centre, radius).
    pub holes: Vec<(P2, f64)>,
}

/// Unit cross-section (circumradius 1 before ribs), counter-clockwise, and the factor by which
/// the radius must shrink for a wall of unit thickness.
fn section(sides: usize, ribs: usize) -> (Vec<P2>, f64) {
    let (mut pts, wall_factor) = if sides >= 3 {
        let sub = 96usize.div_ceil(sides).max(1);
        (geom::regular_polygon([0.0, 0.0], 1.0, sides, sub), 1.0 / (PI / sides as f64).cos())
    } else {
        (geom::circle([0.0, 0.0], 1.0, if ribs > 0 { (ribs * 8).max(96) } else { 96 }), 1.0)
    };
    if ribs > 0 {
        for p in &mut pts {
            let a = p[1].atan2(p[0]);
            // Ribs stand out by up to 4% of the radius.
            let f = 1.0 + 0.02 * (1.0 + (ribs as f64 * a).cos());
            *p = [p[0] * f, p[1] * f];
        }
    }
    (pts, wall_factor * if ribs > 0 { 1.15 } else { 1.0 })
}

pub(crate) fn build_vessel(v: &Vessel) -> mesh::IndexedMesh {
    let (unit, wall_factor) = section(v.sides, v.ribs);
    let rings = if v.straight && v.twist_deg.abs() < 1e-9 { 1 } else { 48 };
    let twist = v.twist_deg.to_radians();
    let rib_scale = if v.ribs > 0 { 1.04 } else { 1.0 };
    let ring_at = |b: &mut MeshBuilder, z: f64, inset: f64| -> Vec<u32> {
        let h = (z / v.height).clamp(0.0, 1.0);
        let r = (v.radius)(h) / rib_scale - inset * wall_factor;
        let (s, c) = (twist * h).sin_cos();
        b.ring3(unit.iter().map(|p| {
            let (x, y) = (p[0] * r, p[1] * r);
            [x * c - y * s, x * s + y * c, z]
        }))
    };
    let mut b = MeshBuilder::new();
    let outer: Vec<Vec<u32>> = (0..=rings).map(|j| ring_at(&mut b, v.height * j as f64 / rings as f64, 0.0)).collect();
    let inner: Vec<Vec<u32>> =
        (0..=rings).map(|j| ring_at(&mut b, v.base + (v.height - v.base) * j as f64 / rings as f64, v.wall)).collect();
    let holes: Vec<Vec<P2>> = v
        .holes
        .iter()
        .map(|&(c, r)| {
            let mut h = geom::circle(c, r, 24);
            h.reverse();
            h
        })
        .collect();
    let h0: Vec<Vec<u32>> = holes.iter().map(|h| b.ring(h, 0.0)).collect();
    let h1: Vec<Vec<u32>> = holes.iter().map(|h| b.ring(h, v.base)).collect();
    // Bottom, outside, rim, inside, floor, drainage holes.
    let mut bottom: Vec<&[u32]> = vec![&outer[0]];
    bottom.extend(h0.iter().map(|r| r.as_slice()));
    b.cap(&bottom, false);
    for j in 0..rings {
        b.wall(&outer[j], &outer[j + 1]);
    }
    b.wall(&outer[rings], &inner[rings]);
    for j in (0..rings).rev() {
        b.wall(&inner[j + 1], &inner[j]);
    }
    let mut floor: Vec<&[u32]> = vec![&inner[0]];
    floor.extend(h1.iter().map(|r| r.as_slice()));
    b.cap(&floor, true);
    for (a, c) in h0.iter().zip(&h1) {
        b.wall(a, c);
    }
    b.finish()
}

fn sides(p: &Params) -> usize {
    match p.count("sides") {
        n if n >= 3 => n,
        _ => 0,
    }
}

pub(super) fn vase(p: &Params) -> Vec<Part> {
    let r = p.num("diameter") / 2.0;
    let bulge = p.num("bulge");
    let v = Vessel {
        height: p.num("height"),
        radius: Box::new(move |h| r * (1.0 - bulge * (1.0 - (PI * (0.15 + 0.85 * h)).sin()))),
        straight: bulge == 0.0,
        sides: sides(p),
        twist_deg: p.num("twist"),
        ribs: p.count("ribs"),
        wall: p.num("wall"),
        base: p.num("base"),
        holes: Vec::new(),
    };
    vec![Part { name: "vase".into(), mesh: build_vessel(&v) }]
}

pub(super) fn pencil_cup(p: &Params) -> Vec<Part> {
    let r = p.num("diameter") / 2.0;
    let v = Vessel {
        height: p.num("height"),
        radius: Box::new(move |_| r),
        straight: true,
        sides: sides(p),
        twist_deg: p.num("twist"),
        ribs: p.count("ribs"),
        wall: p.num("wall"),
        base: p.num("base"),
        holes: Vec::new(),
    };
    vec![Part { name: "pencil cup".into(), mesh: build_vessel(&v) }]
}

pub(super) fn plant_pot(p: &Params) -> Vec<Part> {
    let top = p.num("diameter") / 2.0;
    let bottom = top * (1.0 - p.num("taper"));
    let (wall, base) = (p.num("wall"), p.num("base"));
    let n = p.count("drainage_holes");
    let sides = sides(p);
    // The floor's inscribed radius, then holes that keep 1.5 mm of plastic around them.
    let apothem = if sides >= 3 { (PI / sides as f64).cos() } else { 1.0 };
    let floor_r = (bottom + (top - bottom) * base / p.num("height")) * apothem - wall * 1.0 - 0.5;
    let mut holes = Vec::new();
    if n == 1 {
        let r = (p.num("hole_diameter") / 2.0).min(floor_r - 1.5);
        if r >= 1.5 {
            holes.push(([0.0, 0.0], r));
        }
    } else if n >= 2 {
        let ring = floor_r * 0.5;
        let r = (p.num("hole_diameter") / 2.0).min(ring * (PI / n as f64).sin() - 1.0).min(floor_r - ring - 1.5);
        if r >= 1.5 {
            for k in 0..n {
                let a = PI / 2.0 + k as f64 * TAU / n as f64;
                holes.push(([ring * a.cos(), ring * a.sin()], r));
            }
        }
    }
    let height = p.num("height");
    let v = Vessel {
        height,
        radius: Box::new(move |h| bottom + (top - bottom) * h),
        straight: true,
        sides,
        twist_deg: 0.0,
        ribs: 0,
        wall,
        base,
        holes,
    };
    vec![Part { name: "plant pot".into(), mesh: build_vessel(&v) }]
}
