//! Wavefront OBJ, by hand: only positions and faces matter for printing, and a hand-written reader
//! can check every index and keep going on non-UTF-8 names instead of failing the whole file.

use std::fmt::Write as _;

use super::{default_name, Format, Limits, ReadError};
use crate::{IndexedMesh, Model, ModelObject, Vec3};

/// Polygons with more corners than this are fanned instead of ear-clipped, bounding the work a
/// hostile file can cause per line (ear clipping is quadratic or worse).
const MAX_EAR_CLIP: usize = 64;

/// Whether a file's start looks like OBJ: text with vertex, face or material statements.
pub(crate) fn looks_like_obj(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    head.split(|&b| b == b'\n').any(|l| {
        let mut t = l.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        matches!(t.next(), Some(b"v" | b"vn" | b"vt" | b"f" | b"mtllib" | b"usemtl")) && t.next().is_some()
    })
}

struct Group {
    name: String,
    material: Option<String>,
    faces: Vec<[u32; 3]>,
}

impl Group {
    fn new(name: String) -> Self {
        Self { name, material: None, faces: Vec::new() }
    }
}

fn rest_of_line(raw: &[u8], keyword_len: usize) -> String {
    let t = raw.trim_ascii();
    String::from_utf8_lossy(t.get(keyword_len..).unwrap_or(&[])).trim().to_owned()
}

fn number(tok: &[u8]) -> Option<f32> {
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// Reads OBJ: `o` statements (or `g` groups in files without any `o`) become objects.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Model, ReadError> {
    let lines = || bytes.split(|&b| b == b'\n');
    let uses_o = lines().any(|l| l.split(|b| b.is_ascii_whitespace()).find(|t| !t.is_empty()) == Some(b"o"));
    let syntax = |line: usize, message: String| ReadError::Syntax { format: Format::Obj, line, message };

    let mut positions: Vec<Vec3> = Vec::new();
    let mut groups = vec![Group::new(String::new())];
    let mut poly: Vec<u32> = Vec::new();
    let mut total = 0u64;
    for (i, raw) in lines().enumerate() {
        let line = i + 1;
        let raw = match raw.iter().position(|&b| b == b'#') {
            Some(hash) => &raw[..hash],
            None => raw,
        };
        let mut tokens = raw.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let Some(kw) = tokens.next() else { continue };
        match kw {
            b"v" => {
                let mut p = [0f32; 3];
                for c in &mut p {
                    let tok = tokens.next().ok_or_else(|| syntax(line, "a vertex needs 3 coordinates".into()))?;
                    *c = number(tok)
                        .ok_or_else(|| syntax(line, format!("{:?} is not a number", String::from_utf8_lossy(tok))))?;
                }
                if !p.iter().all(|c| c.is_finite()) {
                    return Err(ReadError::NonFinite {
                        format: Format::Obj,
                        what: format!("vertex {} (line {line})", positions.len() + 1),
                    });
                }
                if positions.len() >= u32::MAX as usize {
                    return Err(syntax(line, "too many vertices".into()));
                }
                positions.push(p);
            }
            b"f" | b"fo" => {
                poly.clear();
                for tok in tokens {
                    let index_part = tok.split(|&b| b == b'/').next().unwrap_or(tok);
                    let raw_index: i64 =
                        std::str::from_utf8(index_part).ok().and_then(|s| s.parse().ok()).ok_or_else(|| {
                            syntax(line, format!("{:?} is not a vertex index", String::from_utf8_lossy(tok)))
                        })?;
                    let n = positions.len() as i64;
                    let index = match raw_index {
                        0 => return Err(syntax(line, "vertex index 0 (OBJ counts vertices from 1)".into())),
                        i if i > 0 => i - 1,
                        i => n + i,
                    };
                    if index < 0 || index >= n {
                        return Err(syntax(
                            line,
                            format!("face refers to vertex {raw_index}, but only {n} vertices are defined so far"),
                        ));
                    }
                    poly.push(index as u32);
                }
                if poly.len() < 3 {
                    return Err(syntax(line, format!("a face needs at least 3 vertices, this one has {}", poly.len())));
                }
                total += poly.len() as u64 - 2;
                limits.check_triangles(total)?;
                if let Some(g) = groups.last_mut() {
                    triangulate(&positions, &poly, &mut g.faces);
                }
            }
            b"o" | b"g" if kw == b"o" || !uses_o => {
                let name = rest_of_line(raw, kw.len());
                match groups.last_mut() {
                    Some(g) if g.faces.is_empty() => g.name = name,
                    _ => {
                        limits.check_objects(groups.len() + 1)?;
                        groups.push(Group::new(name));
                    }
                }
            }
            b"usemtl" => {
                if let Some(g) = groups.last_mut() {
                    // An object keeps its first material; later ones colour faces, which a Model cannot hold.
                    g.material.get_or_insert_with(|| rest_of_line(raw, kw.len()));
                }
            }
            // vt, vn, s, l, p, mtllib and the rest carry nothing printable.
            _ => {}
        }
    }
    build(&positions, groups)
}

/// Gives each group its own compact vertex list (OBJ indices are global to the file).
fn build(positions: &[Vec3], groups: Vec<Group>) -> Result<Model, ReadError> {
    let mut remap = vec![u32::MAX; positions.len()];
    let mut objects = Vec::new();
    for g in groups.into_iter().filter(|g| !g.faces.is_empty()) {
        let mut vertices = Vec::new();
        let mut used = Vec::new();
        let triangles: Vec<[u32; 3]> = g
            .faces
            .iter()
            .map(|t| {
                t.map(|i| {
                    let slot = &mut remap[i as usize];
                    if *slot == u32::MAX {
                        *slot = vertices.len() as u32;
                        vertices.push(positions[i as usize]);
                        used.push(i);
                    }
                    *slot
                })
            })
            .collect();
        for i in used {
            remap[i as usize] = u32::MAX;
        }
        let name = if g.name.is_empty() { default_name(objects.len()) } else { g.name };
        let mesh =
            IndexedMesh::new(vertices, triangles).map_err(|error| ReadError::Mesh { object: name.clone(), error })?;
        let mut object = ModelObject::new(name, mesh);
        object.material = g.material.filter(|m| !m.is_empty());
        objects.push(object);
    }
    Ok(Model { objects, ..Model::default() })
}

/// Triangulates a polygon: a fan when convex, ear clipping when not.
fn triangulate(pos: &[Vec3], poly: &[u32], out: &mut Vec<[u32; 3]>) {
    let p = |i: u32| pos[i as usize];
    if poly.len() > 3 && poly.len() <= MAX_EAR_CLIP {
        let normal = newell_normal(poly.iter().map(|&i| p(i)));
        if !is_convex(poly, &p, normal) && ear_clip(poly, &p, normal, out) {
            return;
        }
    }
    for w in 1..poly.len() - 1 {
        out.push([poly[0], poly[w], poly[w + 1]]);
    }
}

fn newell_normal(points: impl Iterator<Item = Vec3> + Clone) -> Vec3 {
    let mut n = [0f32; 3];
    let next = points.clone().cycle().skip(1);
    for (a, b) in points.zip(next) {
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    n
}

fn dot(a: Vec3, b: Vec3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn is_convex(poly: &[u32], p: &impl Fn(u32) -> Vec3, normal: Vec3) -> bool {
    let n = poly.len();
    (0..n).all(|i| {
        let (a, b, c) = (p(poly[i]), p(poly[(i + 1) % n]), p(poly[(i + 2) % n]));
        dot(super::face_normal(a, b, c), normal) >= 0.0
    })
}

/// Ear clipping in the plane the polygon mostly faces; `false` if the polygon is too degenerate.
fn ear_clip(poly: &[u32], p: &impl Fn(u32) -> Vec3, normal: Vec3, out: &mut Vec<[u32; 3]>) -> bool {
    // Drop the axis the normal points along most; the sign keeps counter-clockwise as positive.
    let abs = normal.map(f32::abs);
    let (u, v, sign) = if abs[2] >= abs[0] && abs[2] >= abs[1] {
        (0, 1, normal[2].signum())
    } else if abs[0] >= abs[1] {
        (1, 2, normal[0].signum())
    } else {
        (2, 0, normal[1].signum())
    };
    let pt = |i: u32| {
        let q = p(i);
        [q[u], q[v]]
    };
    let cross =
        |a: [f32; 2], b: [f32; 2], c: [f32; 2]| ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) * sign;
    let start = out.len();
    let mut ring: Vec<u32> = poly.to_vec();
    while ring.len() > 3 {
        let m = ring.len();
        let ear = (0..m).find(|&i| {
            let (a, b, c) = (pt(ring[(i + m - 1) % m]), pt(ring[i]), pt(ring[(i + 1) % m]));
            cross(a, b, c) > 0.0
                && ring.iter().enumerate().all(|(j, &q)| {
                    if j == i || j == (i + m - 1) % m || j == (i + 1) % m {
                        return true;
                    }
                    let q = pt(q);
                    !(cross(a, b, q) >= 0.0 && cross(b, c, q) >= 0.0 && cross(c, a, q) >= 0.0)
                })
        });
        let Some(i) = ear else {
            out.truncate(start);
            return false;
        };
        out.push([ring[(i + m - 1) % m], ring[i], ring[(i + 1) % m]]);
        ring.remove(i);
    }
    out.push([ring[0], ring[1], ring[2]]);
    true
}

/// Writes OBJ with one `o` per object, vertices placed (OBJ has no transforms), materials as `usemtl`.
pub(crate) fn write(model: &Model) -> Vec<u8> {
    let mut s = String::from("# Printfarm\n");
    let clean = |t: &str| t.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    let mut base = 1usize;
    for (i, object) in model.objects.iter().enumerate() {
        let placed = object.placed_mesh();
        let name = if object.name.trim().is_empty() { default_name(i) } else { clean(&object.name) };
        let _ = writeln!(s, "o {}", name.trim());
        for v in placed.vertices() {
            let _ = writeln!(s, "v {} {} {}", v[0], v[1], v[2]);
        }
        if let Some(m) = object.material.as_deref().map(clean).filter(|m| !m.trim().is_empty()) {
            let _ = writeln!(s, "usemtl {}", m.trim());
        }
        for t in placed.triangles() {
            let _ = writeln!(s, "f {} {} {}", t[0] as usize + base, t[1] as usize + base, t[2] as usize + base);
        }
        base += placed.vertices().len();
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concave_quad_is_ear_clipped_not_fanned() {
        // An arrowhead: fanning from corner 0 would put a triangle outside the shape.
        let pos = [[0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [4.0, 0.0, 0.0], [2.0, 3.0, 0.0]];
        let mut out = Vec::new();
        triangulate(&pos, &[0, 1, 2, 3], &mut out);
        assert_eq!(out.len(), 2);
        let area: f32 = out
            .iter()
            .map(|t| super::super::face_normal(pos[t[0] as usize], pos[t[1] as usize], pos[t[2] as usize])[2] / 2.0)
            .sum();
        assert!((area - 4.0).abs() < 1e-6, "{area}");
        assert!(out.iter().all(|t| super::super::face_normal(
            pos[t[0] as usize],
            pos[t[1] as usize],
            pos[t[2] as usize]
        )[2] > 0.0));
    }

    #[test]
    fn negative_indices_groups_and_materials() {
        let text =
            b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\ng first\nusemtl red\nf -4 -3 -2 -1\ng second\nf 1/1/1 2//2 3\n";
        let m = read(text, &Limits::default()).unwrap();
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.objects[0].name, "first");
        assert_eq!(m.objects[0].material.as_deref(), Some("red"));
        assert_eq!(m.objects[0].mesh.triangle_count(), 2);
        assert_eq!(m.objects[1].mesh.vertices().len(), 3);
    }
}
