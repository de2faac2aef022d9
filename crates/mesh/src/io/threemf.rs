//! 3MF: a zip archive holding XML model parts.
//!
//! Read with `zip` + `quick-xml` rather than the `threemf` crate, which inflates entries without any
//! size limit, ignores component paths (the production extension PrusaSlicer, Bambu Studio and Cura
//! use for multi-part objects) and has no component depth limit. Here every entry's declared size is
//! checked against the budget before inflating, and inflation stops one byte past the declared size so
//! a lying header cannot bomb us. Model parts are parsed as they inflate, never held inflated whole, so
//! a part's XML costs a buffer of one element, not its size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufReader, Cursor, Read, Write};

use glam::{Mat4, Vec4};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{default_name, Format, Limits, ReadError, WriteError};
use crate::{IndexedMesh, Model, ModelObject, Rgba, Vec3};

const ROOT_FALLBACK: &str = "3D/3dmodel.model";
const CORE_NS: &str = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02";

/// Millimetres per unit, for the `unit` attribute of `<model>`.
fn unit_scale(unit: &str) -> Option<f32> {
    Some(match unit {
        "micron" => 0.001,
        "millimeter" => 1.0,
        "centimeter" => 10.0,
        "inch" => 25.4,
        "foot" => 304.8,
        "meter" => 1000.0,
        _ => return None,
    })
}

/// The zip archive plus how many inflated bytes may still be read from it.
struct Archive<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    budget: u64,
    limit: u64,
    /// Entry names (without a leading slash) to indices, exact and lower-cased, built once so
    /// lookups stay cheap however many parts a file references.
    exact: HashMap<String, usize>,
    loose: HashMap<String, usize>,
}

impl<'a> Archive<'a> {
    fn new(bytes: &'a [u8], limits: &Limits) -> Result<Self, ReadError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Zip(e.to_string()))?;
        let (mut exact, mut loose) = (HashMap::new(), HashMap::new());
        for i in 0..zip.len() {
            if let Some(Ok(name)) = zip.name_for_index(i) {
                let name = name.trim_start_matches('/');
                exact.entry(name.to_owned()).or_insert(i);
                loose.entry(name.to_ascii_lowercase()).or_insert(i);
            }
        }
        let limit = limits.max_uncompressed_bytes;
        Ok(Self { zip, budget: limit, limit, exact, loose })
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        let want = name.trim_start_matches('/');
        // Zip names are case-sensitive, but some writers disagree with their own relationships on case.
        self.exact.get(want).or_else(|| self.loose.get(&want.to_ascii_lowercase())).copied()
    }

    /// Inflates one entry, refusing before inflating when its declared size is over budget and stopping
    /// when it inflates past what it declared.
    fn read(&mut self, index: usize) -> Result<Vec<u8>, ReadError> {
        let zip_err = |e: zip::result::ZipError| ReadError::Zip(e.to_string());
        let mut file = self.zip.by_index(index).map_err(zip_err)?;
        let entry = file.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
        let declared = file.size();
        if declared > self.budget {
            return Err(ReadError::TooLarge {
                format: Format::ThreeMf,
                entry: format!("entry {entry}"),
                size: declared,
                limit: self.limit,
            });
        }
        // Grow as data really arrives rather than trusting the declared size for the allocation.
        let mut out = Vec::with_capacity(declared.min(16 << 20) as usize);
        let result = (&mut file).take(declared + 1).read_to_end(&mut out);
        // The zip crate may itself stop at the declared size with an error; either way the header lied.
        if out.len() as u64 > declared || (result.is_err() && out.len() as u64 >= declared) {
            return Err(ReadError::SizeMismatch { entry, declared });
        }
        result.map_err(|e| ReadError::Zip(format!("{entry}: {e}")))?;
        self.budget -= out.len() as u64;
        Ok(out)
    }

    /// Hands one entry to `parse` as it inflates, with the same checks as [`Archive::read`]: its declared
    /// size against the budget before anything is inflated, and what it really inflates to against what
    /// it declared.
    fn parse_entry<T>(
        &mut self,
        index: usize,
        parse: impl FnOnce(&mut dyn Read) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        let zip_err = |e: zip::result::ZipError| ReadError::Zip(e.to_string());
        let file = self.zip.by_index(index).map_err(zip_err)?;
        let entry = file.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
        let declared = file.size();
        if declared > self.budget {
            return Err(ReadError::TooLarge {
                format: Format::ThreeMf,
                entry: format!("entry {entry}"),
                size: declared,
                limit: self.limit,
            });
        }
        let mut counted = Counted { inner: file.take(declared + 1), declared, read: 0, failed: None };
        let parsed = parse(&mut counted);
        // The zip crate may itself stop at the declared size with an error; either way the header lied.
        if counted.read > declared || (counted.failed.is_some() && counted.read >= declared) {
            return Err(ReadError::SizeMismatch { entry, declared });
        }
        if let Some(e) = counted.failed {
            return Err(ReadError::Zip(format!("{entry}: {e}")));
        }
        let value = parsed?;
        self.budget -= counted.read;
        Ok(value)
    }
}

/// XML with every run of whitespace cut to its first byte. The parser holds one event at a time, and text
/// between two tags is one event: a bomb's hundreds of MB of blanks would be held whole. Runs of blanks
/// mean nothing in a model part (numbers are trimmed; metadata keeps a separator).
struct SpaceRuns<R> {
    inner: R,
    after_space: bool,
}

impl<R: Read> Read for SpaceRuns<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let b = buf[i];
                let space = b.is_ascii_whitespace();
                if !(space && self.after_space) {
                    buf[kept] = b;
                    kept += 1;
                }
                self.after_space = space;
            }
            // A read of only blanks after a blank gives nothing to pass on; read on rather than say "end".
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// A reader that counts what passes through it and keeps its first error (the XML parser would only
/// report it as a syntax error). It asks for no more than the declared size until all of it has come,
/// then for one byte more, so an entry that inflates past what it declared is told from a damaged one
/// (the zip reader fails a read that would go past the declared size).
struct Counted<R> {
    inner: R,
    declared: u64,
    read: u64,
    failed: Option<std::io::Error>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.declared.saturating_sub(self.read).max(1);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match self.inner.read(&mut buf[..want]) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                self.failed.get_or_insert(e);
                Err(std::io::Error::from(kind))
            }
        }
    }
}

enum Shape {
    Mesh(IndexedMesh),
    Components(Vec<Component>),
    Nothing,
}

struct ObjectDef {
    name: Option<String>,
    shape: Shape,
    pid: Option<u32>,
    pindex: Option<u32>,
}

struct Component {
    object: u32,
    transform: Mat4,
    path: Option<String>,
}

/// An `<object>` being parsed: id, definition, and its vertices and triangles so far.
type OpenObject = (u32, ObjectDef, Vec<Vec3>, Vec<[u32; 3]>);

/// A base material: name and display colour.
type Material = (String, Option<Rgba>);

/// One parsed `.model` part.
struct Part {
    unit: f32,
    metadata: Vec<(String, String)>,
    objects: HashMap<u32, ObjectDef>,
    materials: HashMap<u32, Vec<Material>>,
    items: Vec<Component>,
}

/// Normalises a part path so `/3D/Objects/a.model` and `3D/Objects/a.model` are one key.
fn part_key(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

/// Reads a 3MF: every build item becomes an object whose parts (components, nested to any depth the
/// limits allow) are merged with their transforms applied; the item's transform stays the object's.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Model, ReadError> {
    let mut archive = Archive::new(bytes, limits)?;
    let root = root_part_name(&mut archive)?;
    let mut parts: HashMap<String, Part> = HashMap::new();
    let mut triangles_parsed = 0u64;
    let mut pending = vec![root.clone()];
    // Load the root and every part reachable through component or item paths before resolving, so
    // resolution can borrow all parts at once.
    while let Some(name) = pending.pop() {
        if parts.contains_key(&name) {
            continue;
        }
        let index = archive.index_of(&name).ok_or_else(|| ReadError::ThreeMf {
            entry: root.clone(),
            message: format!("refers to the part /{name}, which is not in the archive"),
        })?;
        let part = archive.parse_entry(index, |xml| parse_part(xml, &name, limits, &mut triangles_parsed))?;
        for c in part.items.iter().chain(part.objects.values().flat_map(|o| match &o.shape {
            Shape::Components(cs) => cs.as_slice(),
            _ => &[],
        })) {
            if let Some(p) = &c.path {
                pending.push(part_key(p));
            }
        }
        parts.insert(name, part);
    }
    let root_part = parts.get(&root).ok_or_else(|| ReadError::Zip("root model part missing".into()))?;
    let mut resolver = Resolver { parts: &parts, limits, memo: HashMap::new() };

    // Items of the root part, or (for files without a build) every top-level object of it.
    let mut items: Vec<Component> = root_part
        .items
        .iter()
        .map(|i| Component { object: i.object, transform: i.transform, path: i.path.clone() })
        .collect();
    if items.is_empty() {
        let mut referenced = std::collections::HashSet::new();
        for o in root_part.objects.values() {
            if let Shape::Components(cs) = &o.shape {
                referenced.extend(cs.iter().filter(|c| c.path.is_none()).map(|c| c.object));
            }
        }
        let mut ids: Vec<u32> = root_part.objects.keys().copied().filter(|id| !referenced.contains(id)).collect();
        ids.sort_unstable();
        items = ids.into_iter().map(|object| Component { object, transform: Mat4::IDENTITY, path: None }).collect();
    }
    limits.check_objects(items.len())?;

    let mut total = Cost::default();
    for item in &items {
        let key = item.path.as_deref().map(part_key).unwrap_or_else(|| root.clone());
        total = total.add(resolver.cost(&key, item.object, 0)?);
    }
    limits.check_triangles(total.triangles)?;
    if total.nodes > limits.max_triangles as u64 {
        return Err(ReadError::ThreeMf {
            entry: root.clone(),
            message: format!("components expand to {} parts, over the limit of {}", total.nodes, limits.max_triangles),
        });
    }

    let scale = root_part.unit;
    let s = Mat4::from_scale(glam::Vec3::splat(scale));
    let s_inv = Mat4::from_scale(glam::Vec3::splat(1.0 / scale));
    let mut objects = Vec::with_capacity(items.len());
    for item in &items {
        let key = item.path.as_deref().map(part_key).unwrap_or_else(|| root.clone());
        let Some(def) = parts.get(&key).and_then(|p| p.objects.get(&item.object)) else { continue };
        let mut mesh = IndexedMesh::default();
        resolver.merge(&key, item.object, Mat4::IDENTITY, &mut mesh);
        if mesh.triangle_count() == 0 {
            continue;
        }
        if scale != 1.0 {
            mesh.transform(&s);
        }
        let name = def.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| default_name(objects.len()));
        let mut object = ModelObject::new(name, mesh);
        object.transform = if scale != 1.0 { s * item.transform * s_inv } else { item.transform };
        let material =
            def.pid.and_then(|pid| parts.get(&key)?.materials.get(&pid)?.get(def.pindex.unwrap_or(0) as usize));
        if let Some((name, colour)) = material {
            object.material = Some(name.clone()).filter(|n| !n.is_empty());
            object.colour = *colour;
        }
        objects.push(object);
    }
    let metadata = root_part.metadata.iter().cloned().collect();
    Ok(Model { objects, metadata })
}

/// The root model part's name, from the package relationships (falling back to the usual name).
fn root_part_name(archive: &mut Archive) -> Result<String, ReadError> {
    if let Some(index) = archive.index_of("_rels/.rels") {
        let xml = archive.read(index)?;
        let mut reader = Reader::from_reader(xml.as_slice());
        loop {
            match reader.read_event() {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                    let ty = attr(&e, "Type").unwrap_or_default();
                    if ty.ends_with("/3dmodel") {
                        if let Some(target) = attr(&e, "Target") {
                            let key = part_key(&target);
                            if archive.index_of(&key).is_some() {
                                return Ok(key);
                            }
                        }
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
    }
    if archive.index_of(ROOT_FALLBACK).is_some() {
        return Ok(ROOT_FALLBACK.to_owned());
    }
    let mut models: Vec<&String> =
        archive.exact.keys().filter(|n| n.to_ascii_lowercase().ends_with(".model")).collect();
    models.sort();
    models
        .first()
        .map(|n| part_key(n))
        .ok_or_else(|| ReadError::Zip("the archive holds no 3D model part (.model)".into()))
}

/// One attribute's value, unescaped, by local name (so `p:path` is `path`).
fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(Cow::into_owned).unwrap_or_default())
}

/// Parses a 3MF transform: 12 numbers, the 4x3 matrix row by row (row vectors, translation last).
fn parse_transform(text: &str) -> Option<Mat4> {
    let mut m = [0f32; 12];
    let mut it = text.split_ascii_whitespace();
    for slot in &mut m {
        *slot = it.next()?.parse().ok()?;
    }
    if it.next().is_some() || !m.iter().all(|v| v.is_finite()) {
        return None;
    }
    let col = |i: usize, w: f32| Vec4::new(m[i], m[i + 1], m[i + 2], w);
    Some(Mat4::from_cols(col(0, 0.0), col(3, 0.0), col(6, 0.0), col(9, 1.0)))
}

fn format_transform(m: &Mat4) -> String {
    let c = m.to_cols_array();
    let picks = [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14];
    picks.iter().map(|&i| c[i].to_string()).collect::<Vec<_>>().join(" ")
}

fn parse_colour(text: &str) -> Option<Rgba> {
    let hex = text.trim().strip_prefix('#')?;
    if !(hex.len() == 6 || hex.len() == 8) || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?, if hex.len() == 8 { byte(6)? } else { 255 }])
}

fn parse_part(xml: &mut dyn Read, entry: &str, limits: &Limits, triangles_parsed: &mut u64) -> Result<Part, ReadError> {
    let err = |message: String| ReadError::ThreeMf { entry: entry.to_owned(), message };
    let mut part =
        Part { unit: 1.0, metadata: Vec::new(), objects: HashMap::new(), materials: HashMap::new(), items: Vec::new() };
    let mut reader =
        Reader::from_reader(BufReader::with_capacity(64 << 10, SpaceRuns { inner: xml, after_space: false }));
    let mut buf = Vec::new();
    // A mesh never needs more than three vertices per triangle, so vertices are held to that too (a
    // file of vertices and no triangles would otherwise grow without a limit).
    let max_vertices = (limits.max_triangles as u64).saturating_mul(3);
    let mut vertices_parsed = 0u64;
    let mut object: Option<OpenObject> = None;
    let mut in_mesh = false;
    let mut materials: Option<(u32, Vec<Material>)> = None;
    let mut metadata: Option<(String, String)> = None;
    let num_attr = |e: &BytesStart, name: &str| -> Result<Option<u32>, ReadError> {
        match attr(e, name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| err(format!("<{}> has {}={v:?}, not a number", e.name().as_ref(), name))),
        }
    };
    loop {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| err(format!("XML error near byte {}: {e}", reader.error_position())))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                match e.local_name().as_ref() {
                    "object" => finish_object(&mut part, object.take(), entry)?,
                    "mesh" => in_mesh = false,
                    "basematerials" => {
                        if let Some((id, list)) = materials.take() {
                            part.materials.insert(id, list);
                        }
                    }
                    "metadata" => {
                        if let Some(m) = metadata.take() {
                            part.metadata.push(m);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::Text(t) => {
                if let Some((_, text)) = &mut metadata {
                    text.push_str(&t.xml10_content());
                }
                continue;
            }
            Event::GeneralRef(r) => {
                if let Some((_, text)) = &mut metadata {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        text.push_str(s);
                    }
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.local_name().as_ref() {
            "vertex" if in_mesh => {
                let Some((_, _, vertices, _)) = &mut object else { continue };
                let mut p = [0f32; 3];
                for a in e.attributes().with_checks(false).flatten() {
                    let slot = match a.key.local_name().as_ref() {
                        "x" => 0,
                        "y" => 1,
                        "z" => 2,
                        _ => continue,
                    };
                    p[slot] = a.value.trim().parse::<f32>().ok().ok_or_else(|| {
                        err(format!("vertex {} has a coordinate that is not a number", vertices.len()))
                    })?;
                }
                if !p.iter().all(|c| c.is_finite()) {
                    return Err(ReadError::NonFinite {
                        format: Format::ThreeMf,
                        what: format!("{entry} vertex {}", vertices.len()),
                    });
                }
                vertices_parsed += 1;
                if vertices_parsed > max_vertices {
                    return Err(err(format!(
                        "the model has more than {max_vertices} vertices, over three per triangle of the limit"
                    )));
                }
                vertices.push(p);
            }
            "triangle" if in_mesh => {
                let Some((_, _, _, triangles)) = &mut object else { continue };
                let mut t = [0u32; 3];
                for a in e.attributes().with_checks(false).flatten() {
                    let slot = match a.key.local_name().as_ref() {
                        "v1" => 0,
                        "v2" => 1,
                        "v3" => 2,
                        _ => continue,
                    };
                    t[slot] = a.value.trim().parse::<u32>().ok().ok_or_else(|| {
                        err(format!("triangle {} has a vertex index that is not a number", triangles.len()))
                    })?;
                }
                *triangles_parsed += 1;
                limits.check_triangles(*triangles_parsed)?;
                triangles.push(t);
            }
            "model" => {
                if let Some(unit) = attr(&e, "unit") {
                    part.unit = unit_scale(unit.trim()).ok_or_else(|| err(format!("unknown unit {unit:?}")))?;
                }
            }
            "metadata" if object.is_none() && !empty => {
                metadata = Some((attr(&e, "name").unwrap_or_default(), String::new()));
            }
            "object" => {
                let id = num_attr(&e, "id")?.ok_or_else(|| err("an <object> has no id".into()))?;
                let def = ObjectDef {
                    name: attr(&e, "name"),
                    shape: Shape::Nothing,
                    pid: num_attr(&e, "pid")?,
                    pindex: num_attr(&e, "pindex")?,
                };
                object = Some((id, def, Vec::new(), Vec::new()));
                if empty {
                    finish_object(&mut part, object.take(), entry)?;
                }
            }
            "mesh" => {
                in_mesh = !empty;
                if let Some((_, def, _, _)) = &mut object {
                    def.shape = Shape::Mesh(IndexedMesh::default());
                }
            }
            "component" => {
                let Some((_, def, _, _)) = &mut object else { continue };
                let c = component(&e, &err, &num_attr)?;
                match &mut def.shape {
                    Shape::Components(cs) => cs.push(c),
                    shape => *shape = Shape::Components(vec![c]),
                }
            }
            "item" => {
                let c = component(&e, &err, &num_attr)?;
                part.items.push(c);
            }
            "basematerials" => {
                let id = num_attr(&e, "id")?.ok_or_else(|| err("<basematerials> has no id".into()))?;
                materials = Some((id, Vec::new()));
                if empty {
                    part.materials.insert(id, Vec::new());
                    materials = None;
                }
            }
            "base" => {
                if let Some((_, list)) = &mut materials {
                    let colour = attr(&e, "displaycolor").and_then(|c| parse_colour(&c));
                    list.push((attr(&e, "name").unwrap_or_default(), colour));
                }
            }
            _ => {}
        }
    }
    Ok(part)
}

fn component(
    e: &BytesStart,
    err: &impl Fn(String) -> ReadError,
    num_attr: &impl Fn(&BytesStart, &str) -> Result<Option<u32>, ReadError>,
) -> Result<Component, ReadError> {
    let what = e.local_name().as_ref().to_owned();
    let object = num_attr(e, "objectid")?.ok_or_else(|| err(format!("a <{what}> has no objectid")))?;
    let transform = match attr(e, "transform") {
        None => Mat4::IDENTITY,
        Some(t) => parse_transform(&t).ok_or_else(|| {
            err(format!("<{what} objectid=\"{object}\"> has a bad transform {t:?} (needs 12 finite numbers)"))
        })?,
    };
    Ok(Component { object, transform, path: attr(e, "path").filter(|p| !p.is_empty()) })
}

fn finish_object(part: &mut Part, object: Option<OpenObject>, entry: &str) -> Result<(), ReadError> {
    let Some((id, mut def, vertices, triangles)) = object else { return Ok(()) };
    if let Shape::Mesh(_) = def.shape {
        let name = def.name.clone().unwrap_or_else(|| format!("object {id} in {entry}"));
        def.shape = Shape::Mesh(
            IndexedMesh::new(vertices, triangles).map_err(|error| ReadError::Mesh { object: name, error })?,
        );
    }
    part.objects.insert(id, def);
    Ok(())
}

#[derive(Clone, Copy, Default)]
struct Cost {
    triangles: u64,
    nodes: u64,
}

impl Cost {
    fn add(self, o: Cost) -> Cost {
        Cost { triangles: self.triangles.saturating_add(o.triangles), nodes: self.nodes.saturating_add(o.nodes) }
    }
}

/// Walks component trees across parts; costs are memoised so shared sub-assemblies are counted in
/// time linear in the number of distinct objects, whatever they expand to.
struct Resolver<'a> {
    parts: &'a HashMap<String, Part>,
    limits: &'a Limits,
    memo: HashMap<(String, u32), Option<Cost>>,
}

impl Resolver<'_> {
    fn lookup(&self, part: &str, id: u32) -> Result<&ObjectDef, ReadError> {
        self.parts.get(part).and_then(|p| p.objects.get(&id)).ok_or_else(|| ReadError::ThreeMf {
            entry: part.to_owned(),
            message: format!("refers to object {id}, which the file does not define"),
        })
    }

    fn cost(&mut self, part: &str, id: u32, depth: usize) -> Result<Cost, ReadError> {
        if depth > self.limits.max_depth {
            return Err(ReadError::TooDeep { what: "3MF components", limit: self.limits.max_depth });
        }
        let key = (part.to_owned(), id);
        match self.memo.get(&key) {
            Some(Some(c)) => return Ok(*c),
            Some(None) => return Err(ReadError::Cycle { what: "3MF components" }),
            None => {}
        }
        self.memo.insert(key.clone(), None);
        let parts = self.parts;
        let def = parts.get(part).and_then(|p| p.objects.get(&id)).ok_or_else(|| ReadError::ThreeMf {
            entry: part.to_owned(),
            message: format!("refers to object {id}, which the file does not define"),
        })?;
        let mut cost = Cost { triangles: 0, nodes: 1 };
        match &def.shape {
            Shape::Mesh(m) => cost.triangles = m.triangle_count() as u64,
            Shape::Components(cs) => {
                for c in cs {
                    let child_part = c.path.as_deref().map(part_key).unwrap_or_else(|| part.to_owned());
                    cost = cost.add(self.cost(&child_part, c.object, depth + 1)?);
                }
            }
            Shape::Nothing => {}
        }
        self.memo.insert(key, Some(cost));
        Ok(cost)
    }

    /// Appends the object's meshes, placed by `m`; only called after [`Resolver::cost`] has checked
    /// the tree is finite, acyclic and within limits.
    fn merge(&self, part: &str, id: u32, m: Mat4, out: &mut IndexedMesh) {
        let Ok(def) = self.lookup(part, id) else { return };
        match &def.shape {
            Shape::Mesh(mesh) => {
                if m == Mat4::IDENTITY {
                    out.append(mesh);
                } else {
                    let mut placed = mesh.clone();
                    placed.transform(&m);
                    out.append(&placed);
                }
            }
            Shape::Components(cs) => {
                for c in cs {
                    let child_part = c.path.as_deref().map(part_key).unwrap_or_else(|| part.to_owned());
                    self.merge(&child_part, c.object, m * c.transform, out);
                }
            }
            Shape::Nothing => {}
        }
    }
}

fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => s.push(c),
        }
    }
    s
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
 <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
 <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>
"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
 <Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>
"#;

/// Writes a 3MF with one object and one build item per model object (names, transforms, colour and
/// material kept) plus Title and Application metadata.
pub(crate) fn write(model: &Model) -> Result<Vec<u8>, WriteError> {
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(x, r#"<model unit="millimeter" xml:lang="en-US" xmlns="{CORE_NS}">"#);
    let mut metadata = model.metadata.clone();
    if !metadata.contains_key("Title") {
        if let Some(first) = model.objects.first() {
            metadata.insert("Title".into(), first.name.clone());
        }
    }
    metadata.insert("Application".into(), "Printfarm".into());
    for (name, value) in &metadata {
        let _ = writeln!(x, r#" <metadata name="{}">{}</metadata>"#, escape(name), escape(value));
    }
    x.push_str(" <resources>\n");
    let materials_id = model.objects.len() + 1;
    let with_material: Vec<usize> = (0..model.objects.len())
        .filter(|&i| model.objects[i].colour.is_some() || model.objects[i].material.is_some())
        .collect();
    if !with_material.is_empty() {
        let _ = writeln!(x, r#"  <basematerials id="{materials_id}">"#);
        for &i in &with_material {
            let o = &model.objects[i];
            let [r, g, b, a] = o.colour.unwrap_or([255, 255, 255, 255]);
            let name = o.material.as_deref().unwrap_or("");
            let _ = writeln!(x, r##"   <base name="{}" displaycolor="#{r:02X}{g:02X}{b:02X}{a:02X}"/>"##, escape(name));
        }
        x.push_str("  </basematerials>\n");
    }
    for (i, o) in model.objects.iter().enumerate() {
        let material = with_material
            .iter()
            .position(|&m| m == i)
            .map(|pindex| format!(r#" pid="{materials_id}" pindex="{pindex}""#))
            .unwrap_or_default();
        let _ = writeln!(x, r#"  <object id="{}" type="model" name="{}"{material}>"#, i + 1, escape(&o.name));
        x.push_str("   <mesh>\n    <vertices>\n");
        for v in o.mesh.vertices() {
            let _ = writeln!(x, r#"     <vertex x="{}" y="{}" z="{}"/>"#, v[0], v[1], v[2]);
        }
        x.push_str("    </vertices>\n    <triangles>\n");
        for t in o.mesh.triangles() {
            let _ = writeln!(x, r#"     <triangle v1="{}" v2="{}" v3="{}"/>"#, t[0], t[1], t[2]);
        }
        x.push_str("    </triangles>\n   </mesh>\n  </object>\n");
    }
    x.push_str(" </resources>\n <build>\n");
    for (i, o) in model.objects.iter().enumerate() {
        if o.transform == Mat4::IDENTITY {
            let _ = writeln!(x, r#"  <item objectid="{}"/>"#, i + 1);
        } else {
            let _ = writeln!(x, r#"  <item objectid="{}" transform="{}"/>"#, i + 1, format_transform(&o.transform));
        }
    }
    x.push_str(" </build>\n</model>\n");

    let zip_err = |e: zip::result::ZipError| WriteError::Zip(e.to_string());
    let io_err = |e: std::io::Error| WriteError::Zip(e.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(x.len() > u32::MAX as usize);
    for (name, data) in [
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        (ROOT_FALLBACK, x.as_bytes()),
    ] {
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(data).map_err(io_err)?;
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_parse_row_vector_order() {
        let m = parse_transform("1 0 0 0 1 0 0 0 1 10 20 30").unwrap();
        assert_eq!(m.transform_point3(glam::Vec3::ZERO), glam::Vec3::new(10.0, 20.0, 30.0));
        assert_eq!(parse_transform(&format_transform(&m)), Some(m));
        assert!(parse_transform("1 0 0 0 1 0 0 0 1 10 20").is_none());
        assert!(parse_transform("1 0 0 0 1 0 0 0 1 10 20 NaN").is_none());
    }

    #[test]
    fn colours_parse_with_and_without_alpha() {
        assert_eq!(parse_colour("#FF8000"), Some([255, 128, 0, 255]));
        assert_eq!(parse_colour("#ff800080"), Some([255, 128, 0, 128]));
        assert_eq!(parse_colour("#ff8"), None);
        assert_eq!(parse_colour("#ééé"), None);
    }
}
