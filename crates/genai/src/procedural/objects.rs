//! Box with lid, involute spur gear, cookie cutter, phone stand and dice.

use std::f64::consts::{PI, TAU};

use super::geom::{self, plate, prepare, MeshBuilder, P2};
use super::plates::shape_outline;
use super::{Params, Part, ProceduralError};

/// Gap between parts laid out on one plate (mm).
const PART_GAP: f64 = 10.0;

/// Box outline sizes: (outer w, outer d, corner radius, inner w, inner d, inner corner radius).
pub(crate) fn box_dims(p: &Params) -> [f64; 6] {
    let (w, d, wall) = (p.num("width"), p.num("depth"), p.num("wall"));
    let r = p.num("corner_radius").min(w.min(d) / 2.0 - 1.0).max(0.0);
    [w, d, r, w - 2.0 * wall, d - 2.0 * wall, (r - wall).max(0.5)]
}

pub(super) fn box_with_lid(p: &Params) -> Vec<Part> {
    let [w, d, r, iw, id, ir] = box_dims(p);
    let (h, floor, lip, gap) = (p.num("height"), p.num("floor"), p.num("lip"), p.num("clearance"));
    let cx = w / 2.0 + PART_GAP / 2.0;
    // The box: open at the top.
    let outer = geom::rounded_rect([-cx, 0.0], w, d, r);
    let inner = geom::rounded_rect([-cx, 0.0], iw, id, ir);
    let mut b = MeshBuilder::new();
    let o0 = b.ring(&outer, 0.0);
    let o1 = b.ring(&outer, h);
    let mut inner_cw = inner.clone();
    inner_cw.reverse();
    let i1 = b.ring(&inner_cw, h);
    let i0 = b.ring(&inner_cw, floor);
    b.cap(&[&o0], false);
    b.wall(&o0, &o1);
    b.cap(&[&o1, &i1], true);
    b.wall(&i0, &i1);
    b.cap(&[&i0], true);
    let box_mesh = b.finish();
    // The lid, printed upside down: a plate with a lip that slides inside the box.
    let lid_outer = geom::rounded_rect([cx, 0.0], w, d, r);
    let lip_w = (p.num("wall") * 0.8).max(1.2);
    let lo = geom::rounded_rect([cx, 0.0], iw - 2.0 * gap, id - 2.0 * gap, (ir - gap).max(0.5));
    let li = geom::rounded_rect(
        [cx, 0.0],
        iw - 2.0 * gap - 2.0 * lip_w,
        id - 2.0 * gap - 2.0 * lip_w,
        (ir - gap - lip_w).max(0.5),
    );
    let mut loops = prepare(vec![lid_outer, lo, li]);
    // The lip stands on the plate: its outside faces out (counter-clockwise), its inside in.
    loops[1].reverse();
    loops[2].reverse();
    let mut b = MeshBuilder::new();
    let p0 = b.ring(&loops[0], 0.0);
    let p1 = b.ring(&loops[0], floor);
    let lo1 = b.ring(&loops[1], floor);
    let lo2 = b.ring(&loops[1], floor + lip);
    let li1 = b.ring(&loops[2], floor);
    let li2 = b.ring(&loops[2], floor + lip);
    b.cap(&[&p0], false);
    b.wall(&p0, &p1);
    b.cap(&[&p1, &lo1, &li1], true);
    b.wall(&lo1, &lo2);
    b.wall(&li1, &li2);
    b.cap(&[&lo2, &li2], true);
    vec![Part { name: "box".into(), mesh: box_mesh }, Part { name: "lid".into(), mesh: b.finish() }]
}

fn involute_fn(a: f64) -> f64 {
    a.tan() - a
}

/// Effective gear sizes: (module, pitch radius, root radius, tip radius, bore radius or 0).
pub(crate) fn gear_dims(p: &Params) -> (f64, f64, f64, f64, f64) {
    let z = p.count("teeth").max(3) as f64;
    // Keep the gear on the bed.
    let m = p.num("module").min(170.0 / (z + 2.0));
    let rp = m * z / 2.0;
    let rf = rp - 1.25 * m;
    let ra = rp + m;
    let bore = (p.num("bore") / 2.0).min(rf - 2.5);
    (m, rp, rf, ra, if bore >= 0.75 { bore } else { 0.0 })
}

/// The outline of an involute spur gear (20° pressure angle), counter-clockwise.
pub(crate) fn gear_outline(z: usize, m: f64) -> Vec<P2> {
    let zf = z as f64;
    let pa = 20f64.to_radians();
    let rp = m * zf / 2.0;
    let rb = rp * pa.cos();
    let rf = rp - 1.25 * m;
    let mut ra = rp + m;
    // Half the tooth's angular thickness at radius r.
    let half = |r: f64| PI / (2.0 * zf) + involute_fn(pa) - involute_fn((rb / r.max(rb)).clamp(-1.0, 1.0).acos());
    // Few teeth make pointed tips: cut the tip where it is still 0.2 module wide.
    while half(ra) * ra < 0.1 * m && ra > rp {
        ra -= 0.02 * m;
    }
    let start = rf.max(rb);
    let steps = 10;
    let mut radii: Vec<f64> = Vec::new();
    if rf < rb {
        radii.push(rf);
    }
    for k in 0..=steps {
        // Denser near the base circle, where the involute curves most.
        let t = (k as f64 / steps as f64).powf(1.5);
        radii.push(start + (ra - start) * t);
    }
    let pitch = TAU / zf;
    let mut out = Vec::new();
    let at = |r: f64, a: f64| [r * a.cos(), r * a.sin()];
    for k in 0..z {
        let c = k as f64 * pitch;
        for &r in &radii {
            out.push(at(r, c - half(r)));
        }
        let (t0, t1) = (c - half(ra), c + half(ra));
        for s in 1..4 {
            out.push(at(ra, t0 + (t1 - t0) * s as f64 / 4.0));
        }
        for &r in radii.iter().rev() {
            out.push(at(r, c + half(r)));
        }
        let (g0, g1) = (c + half(rf), c + pitch - half(rf));
        for s in 1..4 {
            out.push(at(rf, g0 + (g1 - g0) * s as f64 / 4.0));
        }
    }
    geom::clean_loop(&out, 1e-4)
}

pub(super) fn gear(p: &Params) -> Vec<Part> {
    let (m, _, _, _, bore) = gear_dims(p);
    let mut loops = vec![gear_outline(p.count("teeth").max(3), m)];
    if bore > 0.0 {
        loops.push(geom::circle([0.0, 0.0], bore, geom::segments_for(bore)));
    }
    let loops = prepare(loops);
    vec![Part { name: "gear".into(), mesh: plate(&loops, p.num("thickness"), &[], 0.0, &[], 0.0) }]
}

pub(super) fn cookie_cutter(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let shape = p.txt("shape");
    let (blade, flange) = (p.num("blade"), p.num("flange_width"));
    let (h, fh) = (p.num("height"), p.num("flange_height"));
    let s = shape_outline(shape, p.num("size"));
    let too_small = || ProceduralError::ShapeTooSmall { shape: shape.to_string(), blade, flange };
    let inner = geom::offset(&s, -blade).ok_or_else(too_small)?;
    let outer = geom::offset(&s, flange).ok_or_else(too_small)?;
    let loops = prepare(vec![outer, s, inner]);
    if geom::any_crossing(&loops) || geom::depths(&loops) != [0, 1, 2] {
        return Err(too_small());
    }
    let mut b = MeshBuilder::new();
    let (o, m) = (&loops[0], &loops[1]);
    // The middle loop came back clockwise (a hole of the flange); the blade wants it outward.
    let mut m_ccw = m.clone();
    m_ccw.reverse();
    let mut inner_cw = loops[2].clone();
    inner_cw.reverse();
    let o0 = b.ring(o, 0.0);
    let o1 = b.ring(o, fh);
    let m1 = b.ring(&m_ccw, fh);
    let m2 = b.ring(&m_ccw, h);
    let i2 = b.ring(&inner_cw, h);
    let i0 = b.ring(&inner_cw, 0.0);
    b.cap(&[&o0, &i0], false);
    b.wall(&o0, &o1);
    b.cap(&[&o1, &m1], true);
    b.wall(&m1, &m2);
    b.cap(&[&m2, &i2], true);
    b.wall(&i0, &i2);
    Ok(vec![Part { name: "cookie cutter".into(), mesh: b.finish() }])
}

pub(super) fn phone_stand(p: &Params) -> Vec<Part> {
    let a = p.num("angle").to_radians();
    let (ts, lb) = (p.num("thickness"), p.num("back_length"));
    let tb = ts;
    let lip_t = 5.0;
    let x0 = lip_t + p.num("phone_thickness");
    let xb = x0 + ts / a.sin();
    let (ca, sa) = (a.cos(), a.sin());
    let l = p.num("base_length").max(xb + lb * ca + 10.0);
    let lip_h = tb + p.num("lip_height");
    // The side profile, lying on the bed: printed on its side, it needs no supports.
    let profile = vec![
        [0.0, 0.0],
        [l, 0.0],
        [l, tb],
        [xb, tb],
        [xb + lb * ca, tb + lb * sa],
        [x0 + lb * ca, tb + lb * sa],
        [x0, tb],
        [lip_t, tb],
        [lip_t, lip_h],
        [0.0, lip_h],
    ];
    let loops = prepare(vec![profile]);
    vec![Part { name: "phone stand".into(), mesh: plate(&loops, p.num("width"), &[], 0.0, &[], 0.0) }]
}

/// A dice face: outward normal, u and v axes (u × v = normal), and its number.
type Face = ([f64; 3], [f64; 3], [f64; 3], usize);

/// Pip positions on a face for a value 1..=6, in units of the pip spacing.
fn pips(n: usize) -> Vec<P2> {
    let c = [0.0, 0.0];
    let (a, b, cc, d) = ([-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]);
    match n {
        1 => vec![c],
        2 => vec![a, b],
        3 => vec![a, c, b],
        4 => vec![a, b, cc, d],
        5 => vec![a, b, cc, d, c],
        _ => vec![a, b, cc, d, [-1.0, 0.0], [1.0, 0.0]],
    }
}

pub(super) fn dice(p: &Params) -> Vec<Part> {
    let s = p.num("size");
    let h = s / 2.0;
    let q = s * 0.25;
    let rp = (p.num("pip_diameter") / 2.0).min(q / 2.0 - 0.4);
    let depth = p.num("pip_depth").min(rp * 0.9);
    // Spherical dimples: sphere radius from the opening radius and the depth.
    let rs = (rp * rp + depth * depth) / (2.0 * depth);
    let theta0 = (rp / rs).clamp(-1.0, 1.0).asin();
    let seg = 24;
    let rings = 4;
    let mut b = MeshBuilder::new();
    let corner: Vec<u32> = (0..8)
        .map(|i| {
            let sx = if i & 1 == 0 { -h } else { h };
            let sy = if i & 2 == 0 { -h } else { h };
            let sz = if i & 4 == 0 { -h } else { h };
            b.vertex([sx, sy, sz + h])
        })
        .collect();
    let corner_at = |v: [f64; 3]| -> u32 {
        let i = usize::from(v[0] > 0.0) | usize::from(v[1] > 0.0) << 1 | usize::from(v[2] > 0.0) << 2;
        corner[i]
    };
    // (normal, u, v) with u × v = normal; opposite faces add up to 7.
    let faces: [Face; 6] = [
        ([0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], 1),
        ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], 6),
        ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], 2),
        ([-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], 5),
        ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], 3),
        ([0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], 4),
    ];
    for (n, u, v, value) in faces {
        let to3 = |x: f64, y: f64, below: f64| -> [f64; 3] {
            [
                n[0] * (h - below) + u[0] * x + v[0] * y,
                n[1] * (h - below) + u[1] * x + v[1] * y,
                n[2] * (h - below) + u[2] * x + v[2] * y + h,
            ]
        };
        let square: Vec<P2> = vec![[-h, -h], [h, -h], [h, h], [-h, h]];
        let square_ids: Vec<u32> = square
            .iter()
            .map(|c| {
                let w = to3(c[0], c[1], 0.0);
                corner_at([w[0], w[1], w[2] - h])
            })
            .collect();
        let mut hole_pts: Vec<Vec<P2>> = Vec::new();
        let mut hole_ids: Vec<Vec<u32>> = Vec::new();
        for c in pips(value) {
            let (cx, cy) = (c[0] * q, c[1] * q);
            let mut ring_ids: Vec<Vec<u32>> = Vec::new();
            for k in 0..rings {
                let th = theta0 * (1.0 - k as f64 / rings as f64);
                let (r, below) = (rs * th.sin(), rs * th.cos() - rs * theta0.cos());
                let pts: Vec<[f64; 3]> = (0..seg)
                    .map(|i| {
                        let a = i as f64 * TAU / seg as f64;
                        to3(cx + r * a.cos(), cy + r * a.sin(), below)
                    })
                    .collect();
                ring_ids.push(b.ring3(pts));
            }
            let bottom = b.vertex(to3(cx, cy, depth));
            for k in 0..rings - 1 {
                b.wall(&ring_ids[k], &ring_ids[k + 1]);
            }
            b.fan(&ring_ids[rings - 1], bottom);
            hole_pts.push(
                (0..seg).map(|i| i as f64 * TAU / seg as f64).map(|a| [cx + rp * a.cos(), cy + rp * a.sin()]).collect(),
            );
            hole_ids.push(ring_ids.swap_remove(0));
        }
        let holes: Vec<(&[P2], &[u32])> =
            hole_pts.iter().zip(&hole_ids).map(|(p, i)| (p.as_slice(), i.as_slice())).collect();
        b.cap_local((&square, &square_ids), &holes);
    }
    vec![Part { name: "dice".into(), mesh: b.finish() }]
}
