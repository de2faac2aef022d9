//! STL, binary and ASCII.
//!
//! Parsed by hand rather than with `stl_io`: binary STL is fixed 50-byte records, so reading them
//! straight into a triangle soup sized from the (checked) header is both faster and lets every count be
//! verified against the bytes present before anything is allocated. Corners are then joined with
//! [`crate::weld::weld_exact`], which is exactly what STL exporters mean by a shared corner.

use super::{contains, default_name, Format, Limits, ReadError, WriteError};
use crate::{weld::weld_exact, Model, ModelObject, Vec3};

const HEADER: usize = 84;
const RECORD: usize = 50;

/// Whether the 4-byte triangle count at offset 80 matches a file of `total_len` bytes exactly.
pub(crate) fn binary_size_matches(bytes: &[u8], total_len: u64) -> bool {
    match bytes.get(80..84) {
        Some(&[a, b, c, d]) => HEADER as u64 + RECORD as u64 * u64::from(u32::from_le_bytes([a, b, c, d])) == total_len,
        _ => false,
    }
}

/// ASCII unless it looks like a binary STL whose header happens to start with "solid".
fn is_ascii(bytes: &[u8]) -> bool {
    is_ascii_prefix(bytes, bytes.len() as u64)
}

/// [`is_ascii`] for the first bytes of a file of `total_len` bytes.
pub(crate) fn is_ascii_prefix(bytes: &[u8], total_len: u64) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let starts_solid = head.get(start..start + 5).is_some_and(|s| s.eq_ignore_ascii_case(b"solid"));
    if !starts_solid {
        return false;
    }
    if binary_size_matches(bytes, total_len) {
        let after_header = head.get(HEADER..).unwrap_or(&[]);
        let looks_binary = after_header.iter().any(|&b| b == 0 || (b < 0x20 && !b.is_ascii_whitespace()));
        if looks_binary || !(contains(head, b"facet") || contains(head, b"endsolid")) {
            return false;
        }
    }
    true
}

/// Reads binary or ASCII STL.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Model, ReadError> {
    if is_ascii(bytes) {
        return read_ascii(bytes, limits);
    }
    let declared = check_header(bytes.get(..HEADER), bytes.len() as u64, limits)?;
    let mut soup = Vec::with_capacity(declared as usize);
    let body = bytes.get(HEADER..).unwrap_or(&[]);
    let (records, _trailing) = body.as_chunks::<RECORD>();
    let records = records.get(..declared as usize).unwrap_or(records);
    parse_records(records, &mut soup)?;
    weld_one(&soup)
}

/// Checks the header against the file length and limits; returns the triangle count.
fn check_header(header: Option<&[u8]>, len: u64, limits: &Limits) -> Result<u32, ReadError> {
    let Some([.., a, b, c, d]) = header else {
        return Err(ReadError::StlTooShort { len });
    };
    let declared = u32::from_le_bytes([*a, *b, *c, *d]);
    let actual = (len.saturating_sub(HEADER as u64)) / RECORD as u64;
    if u64::from(declared) > actual {
        return Err(ReadError::StlTruncated { declared, actual });
    }
    // A few stray bytes after the last record are padding some exporters add; a whole extra record is
    // a header that lies.
    if u64::from(declared) < actual {
        return Err(ReadError::StlCountMismatch { declared, actual });
    }
    limits.check_triangles(u64::from(declared))?;
    Ok(declared)
}

fn parse_records(records: &[[u8; RECORD]], soup: &mut Vec<[Vec3; 3]>) -> Result<(), ReadError> {
    let f = |r: &[u8; RECORD], o: usize| f32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
    for r in records {
        // Bytes 0..12 are the facet normal: ignored, as every slicer does, since winding defines it.
        let tri = [[f(r, 12), f(r, 16), f(r, 20)], [f(r, 24), f(r, 28), f(r, 32)], [f(r, 36), f(r, 40), f(r, 44)]];
        if !tri.as_flattened().iter().all(|c| c.is_finite()) {
            return Err(ReadError::NonFinite { format: Format::Stl, what: format!("triangle {}", soup.len() + 1) });
        }
        soup.push(tri);
    }
    Ok(())
}

fn weld_one(soup: &[[Vec3; 3]]) -> Result<Model, ReadError> {
    let name = default_name(0);
    let mesh = weld_exact(soup).map_err(|error| ReadError::Mesh { object: name.clone(), error })?;
    Ok(Model::single(name, mesh))
}

/// Errors of the streaming reader: a bad file, or the file system failing.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) enum StreamError {
    Read(ReadError),
    Io(std::io::Error),
}

#[cfg(not(target_arch = "wasm32"))]
impl From<ReadError> for StreamError {
    fn from(e: ReadError) -> Self {
        StreamError::Read(e)
    }
}

/// Reads a binary STL of `len` bytes from a stream in fixed chunks, so only the soup and the mesh
/// are ever in memory, not the file too.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read_binary_stream(mut r: impl std::io::Read, len: u64, limits: &Limits) -> Result<Model, StreamError> {
    let mut header = [0u8; HEADER];
    r.read_exact(&mut header).map_err(StreamError::Io)?;
    let declared = check_header(Some(&header), len, limits)? as usize;
    let mut soup = Vec::with_capacity(declared);
    let mut buf = vec![[0u8; RECORD]; 4096];
    while soup.len() < declared {
        let n = (declared - soup.len()).min(buf.len());
        let chunk = &mut buf[..n];
        r.read_exact(chunk.as_flattened_mut()).map_err(StreamError::Io)?;
        parse_records(chunk, &mut soup)?;
    }
    Ok(weld_one(&soup)?)
}

fn read_ascii(bytes: &[u8], limits: &Limits) -> Result<Model, ReadError> {
    let mut objects = Vec::new();
    let mut name: Option<String> = None;
    let mut soup: Vec<[Vec3; 3]> = Vec::new();
    let mut corners: Vec<Vec3> = Vec::with_capacity(3);
    let mut total = 0u64;
    let mut in_loop = false;
    let syntax = |line: usize, message: String| ReadError::Syntax { format: Format::Stl, line, message };

    let finish = |name: &mut Option<String>, soup: &mut Vec<[Vec3; 3]>, objects: &mut Vec<ModelObject>| {
        let n = name.take().filter(|n| !n.is_empty()).unwrap_or_else(|| default_name(objects.len()));
        if !soup.is_empty() {
            limits.check_objects(objects.len() + 1)?;
            let mesh = weld_exact(soup).map_err(|error| ReadError::Mesh { object: n.clone(), error })?;
            objects.push(ModelObject::new(n, mesh));
        }
        soup.clear();
        Ok::<(), ReadError>(())
    };

    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let mut tokens = raw.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let Some(keyword) = tokens.next() else { continue };
        match keyword.to_ascii_lowercase().as_slice() {
            b"solid" => {
                finish(&mut name, &mut soup, &mut objects)?;
                let rest = raw.trim_ascii();
                name = Some(String::from_utf8_lossy(rest.get(5..).unwrap_or(&[])).trim().to_owned());
            }
            b"endsolid" => finish(&mut name, &mut soup, &mut objects)?,
            b"outer" => {
                in_loop = true;
                corners.clear();
            }
            b"vertex" => {
                if !in_loop || corners.len() == 3 {
                    return Err(syntax(line, "a facet has more than 3 vertices (only triangles are allowed)".into()));
                }
                let mut p = [0f32; 3];
                for c in &mut p {
                    let tok = tokens.next().ok_or_else(|| syntax(line, "vertex needs 3 coordinates".into()))?;
                    *c = std::str::from_utf8(tok)
                        .ok()
                        .and_then(|s| s.parse::<f32>().ok())
                        .ok_or_else(|| syntax(line, format!("{:?} is not a number", String::from_utf8_lossy(tok))))?;
                    if !c.is_finite() {
                        return Err(ReadError::NonFinite {
                            format: Format::Stl,
                            what: format!("vertex on line {line}"),
                        });
                    }
                }
                corners.push(p);
            }
            b"endloop" => {
                let [a, b, c] = corners[..] else {
                    return Err(syntax(line, format!("a facet has {} vertices; it needs 3", corners.len())));
                };
                in_loop = false;
                total += 1;
                limits.check_triangles(total)?;
                soup.push([a, b, c]);
            }
            // facet, endfacet and anything else carry nothing we need.
            _ => {}
        }
    }
    finish(&mut name, &mut soup, &mut objects)?;
    Ok(Model { objects, ..Model::default() })
}

/// Writes one binary STL of every object placed and merged (STL has no objects or names).
pub(crate) fn write(model: &Model) -> Result<Vec<u8>, WriteError> {
    let count = model.triangle_count();
    let count32 = u32::try_from(count)
        .map_err(|_| WriteError::TooLarge { format: Format::Stl, what: format!("{count} triangles") })?;
    let mut out = Vec::with_capacity(HEADER + RECORD * count);
    let mut header = [b' '; 80];
    // Not "solid ...": that would make readers take the file for ASCII.
    let text = b"Printfarm binary STL";
    header[..text.len()].copy_from_slice(text);
    out.extend_from_slice(&header);
    out.extend_from_slice(&count32.to_le_bytes());
    for object in &model.objects {
        let placed = object.placed_mesh();
        let v = placed.vertices();
        for t in placed.triangles() {
            let [a, b, c] = t.map(|i| v[i as usize]);
            let n = normalised(super::face_normal(a, b, c));
            for p in [n, a, b, c] {
                for x in p {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
    }
    Ok(out)
}

fn normalised(n: Vec3) -> Vec3 {
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if len > 0.0 && len.is_finite() {
        n.map(|c| c / len)
    } else {
        [0.0; 3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexedMesh;

    #[test]
    fn binary_round_trip_welds_the_cube() {
        let bytes = write(&Model::single("c", IndexedMesh::cube(2.0))).unwrap();
        assert_eq!(bytes.len(), 84 + 12 * 50);
        let m = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(m.objects[0].mesh.vertices().len(), 8);
        assert!((m.objects[0].mesh.signed_volume() - 8.0).abs() < 1e-9);
    }

    #[test]
    fn ascii_with_two_solids_gives_two_objects() {
        let tri = "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\n";
        let text = format!("solid a\n{tri}endsolid a\nsolid b\n{tri}{tri}endsolid b\n");
        let m = read(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.objects[1].name, "b");
        assert_eq!(m.objects[1].mesh.triangle_count(), 2);
    }

    #[test]
    fn binary_header_starting_with_solid_is_still_binary() {
        let mut bytes = write(&Model::single("c", IndexedMesh::cube(1.0))).unwrap();
        bytes[..6].copy_from_slice(b"solid ");
        assert!(!is_ascii(&bytes));
        assert_eq!(read(&bytes, &Limits::default()).unwrap().triangle_count(), 12);
    }
}
