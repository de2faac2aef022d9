//! Flat things with text: name tag, door sign, keychain, bookmark, ruler, coaster.

use super::geom::{self, plate, prepare, MeshBuilder, P2};
use super::{Params, Part, ProceduralError};
use crate::text;

/// Smallest capital letters we print (mm).
const MIN_CAP: f64 = 3.0;
/// Engraving leaves at least this much floor (mm).
const MIN_FLOOR: f64 = 0.8;

fn part(name: &str, mesh: mesh::IndexedMesh) -> Part {
    Part { name: name.to_string(), mesh }
}

/// Text laid out in a box, as loops.
fn text_in_box(s: &str, cap: f64, box_min: P2, box_max: P2) -> Result<Vec<Vec<P2>>, ProceduralError> {
    let (w, h) = (box_max[0] - box_min[0], box_max[1] - box_min[1]);
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    if w < MIN_CAP || h < MIN_CAP {
        return Err(ProceduralError::Text(text::TextError::TooLong {
            text: s.to_string(),
            cap_mm: w.min(h).max(0.0),
            min_mm: MIN_CAP,
        }));
    }
    let centre = [(box_min[0] + box_max[0]) / 2.0, (box_min[1] + box_max[1]) / 2.0];
    let t = text::fit(s, cap, w, h, MIN_CAP, centre)?;
    Ok(t.loops)
}

/// A plate with raised or engraved text; checks that nothing touches.
fn text_plate(
    template: &'static str,
    outline: Vec<Vec<P2>>,
    thickness: f64,
    letters: Vec<Vec<P2>>,
    engraved: bool,
    depth: f64,
) -> Result<mesh::IndexedMesh, ProceduralError> {
    let outline = prepare(outline);
    let letters = prepare(letters);
    let mut all = outline.clone();
    all.extend(letters.iter().cloned());
    if geom::any_crossing(&all) {
        return Err(ProceduralError::NoRoomForText { template });
    }
    Ok(if engraved {
        plate(&outline, thickness, &[], 0.0, &letters, depth.min(thickness - MIN_FLOOR))
    } else {
        plate(&outline, thickness, &letters, depth, &[], 0.0)
    })
}

pub(super) fn name_tag(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let (w, h, t) = (p.num("width"), p.num("height"), p.num("thickness"));
    let mut outline = vec![geom::rounded_rect([0.0, 0.0], w, h, p.num("corner_radius"))];
    let margin = 2.5;
    let mut x0 = -w / 2.0 + margin;
    if p.flag("hole") {
        let r = (p.num("hole_diameter") / 2.0).min(h / 2.0 - 2.0);
        let c = [-w / 2.0 + 2.5 + r, 0.0];
        outline.push(geom::circle(c, r, geom::segments_for(r)));
        x0 = c[0] + r + 2.0;
    }
    let letters = text_in_box(
        p.txt("text"),
        p.num("letter_height"),
        [x0, -h / 2.0 + margin],
        [w / 2.0 - margin, h / 2.0 - margin],
    )?;
    let m = text_plate("name tag", outline, t, letters, p.txt("text_style") == "engraved", p.num("text_depth"))?;
    Ok(vec![part("name tag", m)])
}

pub(super) fn door_sign(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let (w, h, t) = (p.num("width"), p.num("height"), p.num("thickness"));
    let mut outline = vec![geom::rounded_rect([0.0, 0.0], w, h, p.num("corner_radius"))];
    let margin = 5.0;
    let mut x0 = -w / 2.0 + margin;
    if p.flag("screw_holes") {
        let r = 2.25;
        for s in [-1.0, 1.0] {
            outline.push(geom::circle([s * (w / 2.0 - 9.0), 0.0], r, 32));
        }
        x0 = -w / 2.0 + 9.0 + r + 3.0;
    }
    let letters = text_in_box(p.txt("text"), p.num("letter_height"), [x0, -h / 2.0 + margin], [-x0, h / 2.0 - margin])?;
    let m = text_plate("door sign", outline, t, letters, p.txt("text_style") == "engraved", p.num("text_depth"))?;
    Ok(vec![part("door sign", m)])
}

pub(super) fn keychain(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let (h, t) = (p.num("height"), p.num("thickness"));
    // At least twice as long as high, so there is room for a name beside the ring.
    let l = p.num("length").max(2.0 * h);
    // The ring hole sits in the left round end with at least 2 mm of plastic around it.
    let r = (p.num("ring_hole") / 2.0).min(h / 2.0 - 2.0);
    let c = [-l / 2.0 + h / 2.0, 0.0];
    let outline = vec![geom::stadium([0.0, 0.0], l, h), geom::circle(c, r, geom::segments_for(r))];
    let margin = 2.0;
    let x0 = c[0] + r + 2.0;
    let letters = text_in_box(
        p.txt("text"),
        p.num("letter_height"),
        [x0, -h / 2.0 + margin],
        [l / 2.0 - 0.35 * h, h / 2.0 - margin],
    )?;
    let m = text_plate("keychain", outline, t, letters, p.txt("text_style") == "engraved", p.num("text_depth"))?;
    Ok(vec![part("keychain", m)])
}

pub(super) fn bookmark(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let (l, w, t) = (p.num("length"), p.num("width"), p.num("thickness"));
    let mut outline = vec![geom::rounded_rect([0.0, 0.0], l, w, p.num("corner_radius"))];
    let margin = 4.0;
    let mut x0 = -l / 2.0 + margin;
    if p.flag("hole") {
        let r = 2.5;
        outline.push(geom::circle([-l / 2.0 + 7.0, 0.0], r, 32));
        x0 = -l / 2.0 + 7.0 + r + 4.0;
    }
    let letters = text_in_box(
        p.txt("text"),
        p.num("letter_height"),
        [x0, -w / 2.0 + margin],
        [l / 2.0 - margin, w / 2.0 - margin],
    )?;
    let m = text_plate("bookmark", outline, t, letters, false, p.num("text_depth"))?;
    Ok(vec![part("bookmark", m)])
}

pub(super) fn ruler(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let cm = p.count("length_cm").max(1);
    let (w, t) = (p.num("width"), p.num("thickness"));
    let end_margin = 5.0;
    let l = cm as f64 * 10.0 + 2.0 * end_margin;
    let outline = vec![geom::rounded_rect([0.0, 0.0], l, w, 2.0)];
    let x0 = -l / 2.0 + end_margin;
    let top = w / 2.0 - 0.8;
    let mut marks: Vec<Vec<P2>> = Vec::new();
    let half = 0.25;
    for i in 0..=cm * 10 {
        let len = if i % 10 == 0 {
            7.0
        } else if i % 5 == 0 {
            5.0
        } else if p.flag("mm_ticks") {
            3.5
        } else {
            continue;
        };
        let x = x0 + i as f64;
        marks.push(vec![[x - half, top - len], [x + half, top - len], [x + half, top], [x - half, top]]);
    }
    let cap = p.num("number_height");
    let ny = top - 7.0 - 1.0 - cap / 2.0;
    for c in 0..=cm {
        let x = x0 + c as f64 * 10.0;
        let n = text::fit(&c.to_string(), cap, 8.5, cap * 1.4, 2.0, [x, ny])?;
        marks.extend(n.loops);
    }
    let band_top = ny - cap / 2.0 - 1.5;
    let band_bottom = -w / 2.0 + 1.5;
    let label = p.txt("text");
    if !label.trim().is_empty() && band_top - band_bottom >= MIN_CAP {
        let lcap = (band_top - band_bottom).min(8.0);
        marks.extend(text_in_box(label, lcap, [-l / 2.0 + 4.0, band_bottom], [l / 2.0 - 4.0, band_top])?);
    }
    let m = text_plate("ruler", outline, t, marks, true, p.num("tick_depth"))?;
    Ok(vec![part("ruler", m)])
}

/// An outline shape of size `size` centred on the origin, counter-clockwise.
pub(super) fn shape_outline(shape: &str, size: f64) -> Vec<P2> {
    let r = size / 2.0;
    match shape {
        "square" => geom::rounded_rect([0.0, 0.0], size, size, (size * 0.06).min(4.0)),
        "triangle" => geom::fit_into(geom::regular_polygon([0.0, 0.0], r, 3, 1), [0.0, 0.0], size),
        "pentagon" => geom::regular_polygon([0.0, 0.0], r, 5, 1),
        "hexagon" => geom::regular_polygon([0.0, 0.0], r, 6, 1),
        "octagon" => geom::regular_polygon([0.0, 0.0], r, 8, 1),
        "heart" => geom::heart([0.0, 0.0], size),
        "star" => geom::star([0.0, 0.0], size, 5, 0.5),
        _ => geom::circle([0.0, 0.0], r, geom::segments_for(r).max(64)),
    }
}

pub(super) fn coaster(p: &Params) -> Result<Vec<Part>, ProceduralError> {
    let shape = p.txt("shape");
    let size = p.num("diameter");
    let t = p.num("thickness");
    let outer = shape_outline(shape, size);
    let rim_h = p.num("rim_height");
    let inner = if rim_h > 0.05 { geom::offset(&outer, -p.num("rim_width")) } else { None };
    // Text goes in the middle, in a box that fits the shape (lower in a triangle, higher in a
    // heart); if the letters still reach the rim, the box shrinks.
    let (cy, fw, fh) = match shape {
        "triangle" => (-0.17, 0.26, 0.1),
        "heart" => (0.04, 0.3, 0.13),
        "star" => (0.0, 0.17, 0.09),
        _ => (0.0, 0.3, 0.16),
    };
    let depth = 0.6;
    let text = p.txt("text");
    let mut boundary = vec![outer.clone()];
    boundary.extend(inner.iter().cloned());
    let mut shrink = 1.0;
    let letters = loop {
        let (w, h) = (size * fw * shrink, size * fh * shrink);
        let letters = text_in_box(text, p.num("letter_height"), [-w, size * cy - h], [w, size * cy + h])?;
        let mut all = boundary.clone();
        all.extend(letters.iter().cloned());
        if letters.is_empty() || (!geom::any_crossing(&all) && geom::min_distance(&boundary, &letters) > 1.0) {
            break letters;
        }
        shrink *= 0.85;
    };
    let Some(inner) = inner else {
        let m = text_plate("coaster", vec![outer], t, letters, true, depth)?;
        return Ok(vec![part("coaster", m)]);
    };
    let mut loops = vec![outer, inner];
    loops.extend(letters);
    let loops = prepare(loops);
    if geom::any_crossing(&loops) {
        return Err(ProceduralError::NoRoomForText { template: "coaster" });
    }
    let (o, i, letters) = (&loops[0], &loops[1], &loops[2..]);
    let top = t + rim_h;
    let mut b = MeshBuilder::new();
    let o0 = b.ring(o, 0.0);
    let o1 = b.ring(o, top);
    let i1 = b.ring(i, top);
    let i0 = b.ring(i, t);
    let l0: Vec<Vec<u32>> = letters.iter().map(|l| b.ring(l, t)).collect();
    let l1: Vec<Vec<u32>> = letters.iter().map(|l| b.ring(l, t - depth)).collect();
    b.cap(&[&o0], false);
    b.wall(&o0, &o1);
    b.cap(&[&o1, &i1], true);
    b.wall(&i0, &i1);
    let mut floor: Vec<&[u32]> = vec![&i0];
    floor.extend(l0.iter().map(|r| r.as_slice()));
    b.cap(&floor, true);
    for (a, c) in l0.iter().zip(&l1) {
        b.wall(a, c);
    }
    if !l1.is_empty() {
        b.cap(&l1.iter().map(|r| r.as_slice()).collect::<Vec<_>>(), true);
    }
    Ok(vec![part("coaster", b.finish())])
}
