//! Text from the bundled font: DejaVu Sans Bold (Bitstream Vera licence, see
//! `assets/fonts/LICENSE-DejaVu.txt`), laid out left to right with the font's kerning, curves
//! flattened into polylines, returned as closed loops ready to extrude.
//!
//! Loops come out in millimetres, cleaned (no repeated or collinear corners) and oriented by
//! the even-odd rule within each glyph: outlines counter-clockwise, counters (the inside of "o",
//! "A", "8") clockwise. Glyphs never touch one another: a pair whose outlines would meet is pushed
//! apart. Characters missing from the font are skipped and listed in [`TextOutline::missing`].

use ttf_parser::{Face, GlyphId, OutlineBuilder};

use crate::procedural::geom::{self, P2};

/// The bundled font file.
pub static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// Extra space between letters, as a fraction of the font size, so bold letters stay apart when
/// printed.
const TRACKING_EM: f64 = 0.03;
/// Most characters laid out; longer texts are cut (nothing printable holds more anyway).
pub const MAX_CHARS: usize = 64;

/// Laid-out text as closed loops in millimetres (baseline at y = 0 before fitting).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextOutline {
    /// Every glyph's loops, even-odd oriented (outer CCW, holes CW).
    pub loops: Vec<Vec<P2>>,
    /// Bounding box of all loops; `[0,0]`/`[0,0]` when empty.
    pub min: P2,
    pub max: P2,
    /// Height of a capital letter in mm.
    pub cap_height: f64,
    /// Characters the font has no glyph for (skipped).
    pub missing: Vec<char>,
}

impl TextOutline {
    pub fn is_empty(&self) -> bool {
        self.loops.is_empty()
    }
    pub fn width(&self) -> f64 {
        self.max[0] - self.min[0]
    }
    pub fn height(&self) -> f64 {
        self.max[1] - self.min[1]
    }

    fn update_bounds(&mut self) {
        let (min, max) = geom::bounds(&self.loops);
        self.min = min;
        self.max = max;
    }

    /// Scales about the origin.
    pub fn scale(&mut self, s: f64) {
        for l in &mut self.loops {
            for p in l.iter_mut() {
                *p = [p[0] * s, p[1] * s];
            }
        }
        self.cap_height *= s;
        self.update_bounds();
    }

    /// Moves the text so its bounding box is centred on `c`.
    pub fn centre_on(&mut self, c: P2) {
        let d = [c[0] - (self.min[0] + self.max[0]) / 2.0, c[1] - (self.min[1] + self.max[1]) / 2.0];
        for l in &mut self.loops {
            for p in l.iter_mut() {
                *p = [p[0] + d[0], p[1] + d[1]];
            }
        }
        self.update_bounds();
    }

    /// Turns the text by `degrees` counter-clockwise about the origin.
    pub fn rotate(&mut self, degrees: f64) {
        let (s, c) = degrees.to_radians().sin_cos();
        for l in &mut self.loops {
            for p in l.iter_mut() {
                *p = [p[0] * c - p[1] * s, p[0] * s + p[1] * c];
            }
        }
        self.update_bounds();
    }
}

/// Why text could not be placed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error(
        "the text \"{text}\" is too long to fit: its letters would be only {cap_mm:.1} mm tall, and \
         letters smaller than {min_mm:.1} mm do not print clearly. Use a shorter text or make the object bigger."
    )]
    TooLong { text: String, cap_mm: f64, min_mm: f64 },
    #[error(
        "none of the letters in \"{0}\" are in our font, so there is nothing to print. Try writing it with \
         the letters A to Z."
    )]
    NoPrintableLetters(String),
}

/// The bundled font, parsed (parsing only reads the table directory, so this is cheap).
pub fn font() -> Face<'static> {
    Face::parse(FONT_BYTES, 0).expect("the bundled font parses")
}

/// Characters of `text` the font cannot draw (control characters are ignored, not reported).
pub fn missing_chars(text: &str) -> Vec<char> {
    let face = font();
    let mut out: Vec<char> = Vec::new();
    for c in text.chars().take(MAX_CHARS) {
        if !c.is_whitespace() && !c.is_control() && face.glyph_index(c).is_none_or(|g| g.0 == 0) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

struct Flattener {
    tol: f64,
    loops: Vec<Vec<P2>>,
    cur: Vec<P2>,
    last: P2,
}

impl Flattener {
    fn finish(&mut self) {
        if self.cur.len() >= 3 {
            self.loops.push(std::mem::take(&mut self.cur));
        } else {
            self.cur.clear();
        }
    }
}

impl OutlineBuilder for Flattener {
    fn move_to(&mut self, x: f32, y: f32) {
        self.finish();
        self.last = [f64::from(x), f64::from(y)];
        self.cur.push(self.last);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.last = [f64::from(x), f64::from(y)];
        self.cur.push(self.last);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (p0, p1, p2) = (self.last, [f64::from(x1), f64::from(y1)], [f64::from(x), f64::from(y)]);
        let dd = ((p0[0] - 2.0 * p1[0] + p2[0]).powi(2) + (p0[1] - 2.0 * p1[1] + p2[1]).powi(2)).sqrt();
        let n = ((dd / (4.0 * self.tol)).sqrt().ceil() as usize).clamp(1, 64);
        for i in 1..=n {
            let t = i as f64 / n as f64;
            let u = 1.0 - t;
            self.cur.push([
                u * u * p0[0] + 2.0 * u * t * p1[0] + t * t * p2[0],
                u * u * p0[1] + 2.0 * u * t * p1[1] + t * t * p2[1],
            ]);
        }
        self.last = p2;
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let p =
            [self.last, [f64::from(x1), f64::from(y1)], [f64::from(x2), f64::from(y2)], [f64::from(x), f64::from(y)]];
        let d = |a: P2, b: P2, c: P2| ((a[0] - 2.0 * b[0] + c[0]).powi(2) + (a[1] - 2.0 * b[1] + c[1]).powi(2)).sqrt();
        let m = d(p[0], p[1], p[2]).max(d(p[1], p[2], p[3]));
        let n = ((6.0 * m / (8.0 * self.tol)).sqrt().ceil() as usize).clamp(1, 64);
        for i in 1..=n {
            let t = i as f64 / n as f64;
            let u = 1.0 - t;
            let (a, b, c, e) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            self.cur.push([
                a * p[0][0] + b * p[1][0] + c * p[2][0] + e * p[3][0],
                a * p[0][1] + b * p[1][1] + c * p[2][1] + e * p[3][1],
            ]);
        }
        self.last = p[3];
    }
    fn close(&mut self) {
        self.finish();
    }
}

/// One glyph's loops in font units, cleaned and oriented, or `None` when the font's outline is
/// not a clean set of disjoint simple loops (then the glyph is treated as missing).
fn glyph_loops(face: &Face, gid: GlyphId, tol_units: f64) -> Option<Vec<Vec<P2>>> {
    let mut f = Flattener { tol: tol_units, loops: Vec::new(), cur: Vec::new(), last: [0.0; 2] };
    face.outline_glyph(gid, &mut f)?;
    f.finish();
    let loops: Vec<Vec<P2>> =
        f.loops.into_iter().map(|l| geom::clean_loop(&l, tol_units * 0.01)).filter(|l| l.len() >= 3).collect();
    if loops.is_empty() || geom::any_crossing(&loops) {
        return None;
    }
    Some(geom::orient_even_odd(loops))
}

/// Lays `text` out on one line at `cap_height` mm, flattening curves to within `tolerance` mm.
/// Leading/trailing spaces are dropped; at most [`MAX_CHARS`] characters are used.
pub fn layout(text: &str, cap_height: f64, tolerance: f64) -> TextOutline {
    let face = font();
    let upem = f64::from(face.units_per_em());
    let cap_units = f64::from(face.capital_height().unwrap_or((upem * 0.73) as i16)).max(1.0);
    let scale = cap_height.max(0.01) / cap_units;
    let tol_units = (tolerance.max(0.001) / scale).max(0.5);
    let kern = face.tables().kern;
    let mut out = TextOutline { cap_height, ..Default::default() };
    let mut pen = 0.0f64;
    let mut prev: Option<GlyphId> = None;
    // Glyphs placed so far, with their bounds (font units), to keep neighbours apart.
    let mut placed: Vec<(Vec<Vec<P2>>, P2, P2)> = Vec::new();
    for c in text.trim().chars().take(MAX_CHARS) {
        if c.is_control() {
            continue;
        }
        let gid = match face.glyph_index(c) {
            Some(g) if g.0 != 0 => g,
            _ if c.is_whitespace() => {
                pen += upem * 0.3;
                prev = None;
                continue;
            }
            _ => {
                if !out.missing.contains(&c) {
                    out.missing.push(c);
                }
                continue;
            }
        };
        if let (Some(p), Some(k)) = (prev, kern) {
            if let Some(v) =
                k.subtables.into_iter().filter(|s| s.horizontal && !s.variable).find_map(|s| s.glyphs_kerning(p, gid))
            {
                pen += f64::from(v);
            }
        }
        let advance = f64::from(face.glyph_hor_advance(gid).unwrap_or(0));
        prev = Some(gid);
        if c.is_whitespace() {
            pen += advance;
            continue;
        }
        let Some(loops) = glyph_loops(&face, gid, tol_units) else {
            if !out.missing.contains(&c) {
                out.missing.push(c);
            }
            continue;
        };
        // Shift right until this glyph is clear of the last few.
        let mut shift = 0.0;
        for _ in 0..40 {
            let moved: Vec<Vec<P2>> =
                loops.iter().map(|l| l.iter().map(|p| [p[0] + pen + shift, p[1]]).collect()).collect();
            let (mn, mx) = geom::bounds(&moved);
            let gap = upem * 0.02;
            let clash = placed.iter().rev().take(4).any(|(other, omn, omx)| {
                mn[0] - gap < omx[0] && omn[0] < mx[0] + gap && mn[1] - gap < omx[1] && omn[1] < mx[1] + gap && {
                    let mut both = other.clone();
                    both.extend(moved.iter().cloned());
                    geom::any_crossing(&both)
                        || moved.iter().any(|l| other.iter().any(|o| geom::contains(o, l[0])))
                        || other.iter().any(|o| moved.iter().any(|l| geom::contains(l, o[0])))
                        || geom::min_distance(other, &moved) < gap
                }
            });
            if !clash {
                placed.push((moved, mn, mx));
                break;
            }
            shift += upem * 0.04;
        }
        pen += advance + shift + upem * TRACKING_EM;
    }
    for (loops, _, _) in placed {
        out.loops.extend(loops.into_iter().map(|l| l.into_iter().map(|p| [p[0] * scale, p[1] * scale]).collect()));
    }
    out.update_bounds();
    out
}

/// Lays `text` out and fits it in a `max_w` × `max_h` mm box centred on `centre`: at `cap_height`
/// when it fits, else shrunk, down to `min_cap` mm capitals. Empty text gives an empty outline.
pub fn fit(
    text: &str,
    cap_height: f64,
    max_w: f64,
    max_h: f64,
    min_cap: f64,
    centre: P2,
) -> Result<TextOutline, TextError> {
    let mut t = layout(text, cap_height, 0.04);
    if t.is_empty() {
        if text.chars().any(|c| !c.is_whitespace() && !c.is_control()) {
            return Err(TextError::NoPrintableLetters(text.to_string()));
        }
        return Ok(t);
    }
    let s = (max_w / t.width()).min(max_h / t.height()).min(1.0);
    if cap_height * s < min_cap - 1e-9 {
        return Err(TextError::TooLong { text: text.to_string(), cap_mm: cap_height * s, min_mm: min_cap });
    }
    if s < 1.0 {
        t.scale(s);
    }
    t.centre_on(centre);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latin_letter_is_clean() {
        let face = font();
        let all: String = (0x21u32..0x7f).chain(0xc0..0x100).filter_map(char::from_u32).collect();
        let t = layout(&all, 10.0, 0.04);
        assert!(t.missing.is_empty(), "missing {:?}", t.missing);
        assert!(!geom::any_crossing(&t.loops));
        let _ = face;
    }

    #[test]
    fn counters_are_holes_and_size_is_right() {
        let t = layout("O", 10.0, 0.02);
        assert_eq!(t.loops.len(), 2);
        let areas: Vec<f64> = t.loops.iter().map(|l| geom::signed_area(l)).collect();
        assert!(areas[0] * areas[1] < 0.0);
        assert!(areas.iter().sum::<f64>() > 0.0);
        // An "O" overshoots the cap height a little.
        assert!((t.height() - 10.0).abs() < 0.6, "{}", t.height());
    }

    #[test]
    fn missing_and_empty_text() {
        let t = layout("Maya 猫", 8.0, 0.05);
        assert!(t.missing.contains(&'猫'));
        assert!(!t.is_empty());
        assert!(fit("", 8.0, 50.0, 20.0, 3.0, [0.0, 0.0]).unwrap().is_empty());
        assert!(matches!(fit("猫猫", 8.0, 50.0, 20.0, 3.0, [0.0, 0.0]), Err(TextError::NoPrintableLetters(_))));
    }

    #[test]
    fn long_text_shrinks_then_refuses() {
        let t = fit("Maximilian", 10.0, 40.0, 20.0, 3.0, [5.0, 5.0]).unwrap();
        assert!(t.width() <= 40.0 + 1e-6);
        assert!(((t.min[0] + t.max[0]) / 2.0 - 5.0).abs() < 1e-9);
        let long = "a very long sentence that will never fit on a small tag";
        assert!(matches!(fit(long, 10.0, 40.0, 20.0, 3.0, [0.0, 0.0]), Err(TextError::TooLong { .. })));
    }
}
