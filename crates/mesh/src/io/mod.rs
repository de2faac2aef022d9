//! Model files in and out: STL (binary and ASCII), 3MF, glTF/GLB and OBJ.
//!
//! Readers take untrusted bytes: they pick the format by content (the file name is only a hint), check
//! every count and offset against the bytes actually present and against [`Limits`], and report what is
//! wrong in plain words instead of panicking. Natively, [`read_file`] and [`write_file`] add file access.

mod gltf;
mod obj;
mod stl;
mod threemf;

use std::fmt;

use crate::{MeshError, Model};

/// A model file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// STL, binary or ASCII (one unnamed triangle soup, or one solid per object in ASCII).
    Stl,
    /// 3MF: a zip archive of XML models with objects, components and build transforms.
    ThreeMf,
    /// glTF 2.0 as JSON, with buffers embedded as `data:` URIs.
    Gltf,
    /// glTF 2.0 binary container.
    Glb,
    /// Wavefront OBJ.
    Obj,
}

impl Format {
    /// Every format, in the order [`Format::detect`] tries them.
    pub const ALL: [Format; 5] = [Format::ThreeMf, Format::Glb, Format::Gltf, Format::Stl, Format::Obj];

    /// Recognises a format from the file's content alone; `None` when nothing matches.
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        detect_with_len(bytes, bytes.len() as u64)
    }

    /// The format for a file extension or file name (`"stl"`, `".3MF"`, `"part.glb"`), case-insensitive.
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.rsplit('.').next().unwrap_or(ext).trim().to_ascii_lowercase();
        match ext.as_str() {
            "stl" => Some(Format::Stl),
            "3mf" => Some(Format::ThreeMf),
            "gltf" => Some(Format::Gltf),
            "glb" => Some(Format::Glb),
            "obj" => Some(Format::Obj),
            _ => None,
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Stl => "stl",
            Format::ThreeMf => "3mf",
            Format::Gltf => "gltf",
            Format::Glb => "glb",
            Format::Obj => "obj",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Stl => "STL",
            Format::ThreeMf => "3MF",
            Format::Gltf => "glTF",
            Format::Glb => "GLB",
            Format::Obj => "OBJ",
        })
    }
}

/// Detection on a prefix of a file whose full length is `total_len` (so files can be sniffed before
/// they are read whole).
pub(crate) fn detect_with_len(bytes: &[u8], total_len: u64) -> Option<Format> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(Format::ThreeMf);
    }
    if bytes.starts_with(b"glTF") {
        return Some(Format::Glb);
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = trim_text_start(head);
    if text.starts_with(b"{") && contains(head, b"\"asset\"") {
        return Some(Format::Gltf);
    }
    let binary_size_matches = stl::binary_size_matches(bytes, total_len);
    if text.len() >= 5 && text[..5].eq_ignore_ascii_case(b"solid") {
        // ASCII, or a binary STL whose header starts with "solid" (SolidWorks does that): the STL
        // reader tells them apart.
        return Some(Format::Stl);
    }
    if binary_size_matches {
        return Some(Format::Stl);
    }
    if obj::looks_like_obj(head) {
        return Some(Format::Obj);
    }
    None
}

fn trim_text_start(mut b: &[u8]) -> &[u8] {
    if let Some(rest) = b.strip_prefix(b"\xEF\xBB\xBF") {
        b = rest;
    }
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Caps on what a reader may build from one file, so a small hostile file cannot exhaust memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most triangles over all objects (after 3MF components and glTF node instances are expanded).
    pub max_triangles: usize,
    /// Most bytes any compressed or encoded payload (3MF zip entries, glTF data URIs) may expand to, in total.
    pub max_uncompressed_bytes: u64,
    /// Deepest nesting of 3MF components or glTF nodes.
    pub max_depth: usize,
    /// Most objects in the resulting model.
    pub max_objects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_triangles: 20_000_000, max_uncompressed_bytes: 1 << 30, max_depth: 64, max_objects: 100_000 }
    }
}

impl Limits {
    pub(crate) fn check_triangles(&self, count: u64) -> Result<(), ReadError> {
        if count > self.max_triangles as u64 {
            return Err(ReadError::TooManyTriangles { count, limit: self.max_triangles });
        }
        Ok(())
    }

    pub(crate) fn check_objects(&self, count: usize) -> Result<(), ReadError> {
        if count > self.max_objects {
            return Err(ReadError::TooManyObjects { count, limit: self.max_objects });
        }
        Ok(())
    }
}

/// Byte counts the way people read them ("5 GiB", "1.5 MiB").
pub(crate) struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (size, unit) in UNITS {
            if self.0 >= size {
                let v = self.0 as f64 / size as f64;
                return if (v - v.round()).abs() < 0.05 {
                    write!(f, "{} {unit}", v.round())
                } else {
                    write!(f, "{v:.1} {unit}")
                };
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

/// Why a model file could not be read. Messages name the problem so a user can act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("not a model file Printfarm can read (STL, 3MF, glTF, GLB or OBJ)")]
    UnknownFormat,
    #[error("the file is {len} bytes, too short for a binary STL (the header alone is 84 bytes)")]
    StlTooShort { len: u64 },
    #[error("binary STL header says {declared} triangles but the file holds only {actual}: the file is truncated")]
    StlTruncated { declared: u32, actual: u64 },
    #[error("binary STL header says {declared} triangles but the file holds {actual}")]
    StlCountMismatch { declared: u32, actual: u64 },
    #[error("{format} {what} has a coordinate that is not a finite number (NaN or infinity)")]
    NonFinite { format: Format, what: String },
    #[error("{format} line {line}: {message}")]
    Syntax { format: Format, line: usize, message: String },
    #[error("the model has {count} triangles, over the limit of {limit}")]
    TooManyTriangles { count: u64, limit: usize },
    #[error("the model has {count} objects, over the limit of {limit}")]
    TooManyObjects { count: usize, limit: usize },
    #[error("{format} {entry} would expand to {}, over the {} limit", Bytes(*size), Bytes(*limit))]
    TooLarge { format: Format, entry: String, size: u64, limit: u64 },
    #[error("3MF entry {entry} expands to more than the {declared} bytes its zip header declares")]
    SizeMismatch { entry: String, declared: u64 },
    #[error("not a readable 3MF (zip) archive: {0}")]
    Zip(String),
    #[error("3MF {entry}: {message}")]
    ThreeMf { entry: String, message: String },
    #[error("{what} nest deeper than the limit of {limit} levels")]
    TooDeep { what: &'static str, limit: usize },
    #[error("{what} refer to each other in a loop")]
    Cycle { what: &'static str },
    #[error("glTF: {0}")]
    Gltf(String),
    #[error("glTF buffer refers to the external file {uri:?}; only embedded data (GLB or data: URIs) can be read")]
    ExternalUri { uri: String },
    #[error("{format}: {what} is not supported")]
    Unsupported { format: Format, what: String },
    // The messages below embed their cause and deliberately do not chain it as `source`, so
    // printing the whole chain (as anyhow's `{:#}` does) does not say it twice.
    #[error("object {object:?}: {error}")]
    Mesh { object: String, error: MeshError },
    #[error("the file contains no triangles")]
    NoTriangles,
    #[cfg(not(target_arch = "wasm32"))]
    #[error("cannot read {path}: {error}")]
    Io { path: std::path::PathBuf, error: std::io::Error },
}

/// Why a model could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("{format} cannot hold {what}")]
    TooLarge { format: Format, what: String },
    #[error("writing the 3MF archive failed: {0}")]
    Zip(String),
    #[error("no model format for the file name {name:?}; use .stl, .3mf, .glb, .gltf or .obj")]
    UnknownExtension { name: String },
    #[cfg(not(target_arch = "wasm32"))]
    #[error("cannot write {path}: {error}")]
    Io { path: std::path::PathBuf, error: std::io::Error },
}

/// Reads a model from bytes: the format is detected from the content, and `name_hint` (a file name
/// or extension) decides only when the content is ambiguous.
pub fn read(bytes: &[u8], name_hint: Option<&str>, limits: &Limits) -> Result<Model, ReadError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    let format = Format::detect(bytes).or_else(|| name_hint.and_then(Format::from_extension));
    match format {
        Some(format) => read_as(bytes, format, limits),
        None => Err(ReadError::UnknownFormat),
    }
}

/// Reads bytes as one given format, skipping detection.
pub fn read_as(bytes: &[u8], format: Format, limits: &Limits) -> Result<Model, ReadError> {
    let model = match format {
        Format::Stl => stl::read(bytes, limits)?,
        Format::ThreeMf => threemf::read(bytes, limits)?,
        Format::Gltf | Format::Glb => gltf::read(bytes, limits)?,
        Format::Obj => obj::read(bytes, limits)?,
    };
    if model.triangle_count() == 0 {
        return Err(ReadError::NoTriangles);
    }
    Ok(model)
}

/// Writes a model in the given format: binary STL (objects placed and merged), 3MF, glTF (data URI),
/// GLB or OBJ.
pub fn write(model: &Model, format: Format) -> Result<Vec<u8>, WriteError> {
    match format {
        Format::Stl => stl::write(model),
        Format::ThreeMf => threemf::write(model),
        Format::Gltf => gltf::write(model, false),
        Format::Glb => gltf::write(model, true),
        Format::Obj => Ok(obj::write(model)),
    }
}

/// Reads a model file; binary STLs are streamed so the whole file never sits in memory beside the mesh.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_file(path: impl AsRef<std::path::Path>, limits: &Limits) -> Result<Model, ReadError> {
    use std::io::Read;
    let path = path.as_ref();
    let io_err = |error| ReadError::Io { path: path.to_owned(), error };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut prefix = Vec::with_capacity(1024);
    (&mut file).take(1024).read_to_end(&mut prefix).map_err(io_err)?;
    if stl::binary_size_matches(&prefix, len)
        && detect_with_len(&prefix, len) == Some(Format::Stl)
        && !stl::is_ascii_prefix(&prefix, len)
    {
        let reader = std::io::Cursor::new(prefix).chain(std::io::BufReader::with_capacity(1 << 16, file));
        let model = stl::read_binary_stream(reader, len, limits).map_err(|e| match e {
            stl::StreamError::Read(e) => e,
            stl::StreamError::Io(source) => io_err(source),
        })?;
        if model.triangle_count() == 0 {
            return Err(ReadError::NoTriangles);
        }
        return Ok(model);
    }
    let mut bytes = prefix;
    // The length is only a hint for the allocation; a file that grows while being read is still read whole.
    bytes.reserve(usize::try_from(len).unwrap_or(0).saturating_sub(bytes.len()));
    file.read_to_end(&mut bytes).map_err(io_err)?;
    let name = path.file_name().and_then(|n| n.to_str());
    read(&bytes, name, limits)
}

/// Writes a model file, choosing the format from the file's extension.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_file(model: &Model, path: impl AsRef<std::path::Path>) -> Result<(), WriteError> {
    let path = path.as_ref();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let has_ext = path.extension().is_some();
    let format = has_ext
        .then(|| Format::from_extension(name))
        .flatten()
        .ok_or_else(|| WriteError::UnknownExtension { name: name.to_owned() })?;
    let bytes = write(model, format)?;
    std::fs::write(path, bytes).map_err(|error| WriteError::Io { path: path.to_owned(), error })
}

/// The triangle's normal scaled by twice its area (unnormalised, so summing it weights by area).
pub(crate) fn face_normal(a: crate::Vec3, b: crate::Vec3, c: crate::Vec3) -> crate::Vec3 {
    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
}

/// Object names for unnamed objects: "Object 1", "Object 2", ...
pub(crate) fn default_name(index: usize) -> String {
    format!("Object {}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_file_names() {
        assert_eq!(Format::from_extension("STL"), Some(Format::Stl));
        assert_eq!(Format::from_extension(".3mf"), Some(Format::ThreeMf));
        assert_eq!(Format::from_extension("part.v2.glb"), Some(Format::Glb));
        assert_eq!(Format::from_extension("readme.txt"), None);
    }

    #[test]
    fn detects_by_content() {
        assert_eq!(Format::detect(b"PK\x03\x04rest"), Some(Format::ThreeMf));
        assert_eq!(Format::detect(b"glTF\x02\0\0\0"), Some(Format::Glb));
        assert_eq!(Format::detect(b" {\"asset\":{\"version\":\"2.0\"}}"), Some(Format::Gltf));
        assert_eq!(Format::detect(b"solid x\nfacet normal 0 0 1\n"), Some(Format::Stl));
        assert_eq!(Format::detect(b"# c\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"), Some(Format::Obj));
        let mut bin = vec![0u8; 84 + 50];
        bin[80] = 1;
        assert_eq!(Format::detect(&bin), Some(Format::Stl));
        assert_eq!(Format::detect(b"hello"), None);
    }

    #[test]
    fn byte_sizes_read_naturally() {
        assert_eq!(Bytes(5 << 30).to_string(), "5 GiB");
        assert_eq!(Bytes(3 << 19).to_string(), "1.5 MiB");
        assert_eq!(Bytes(12).to_string(), "12 bytes");
    }
}
