//! glTF 2.0 (JSON with `data:` URIs) and GLB.
//!
//! The `gltf` crate parses and validates the document; buffers and accessors are read here, because
//! the crate's importer (off for wasm32) reads files, and because every accessor range must be
//! checked against the bytes actually present. glTF is metres and Y-up; printers are millimetres and
//! Z-up, so meshes get `C = rotate +90° about X, scale 1000` baked in and node transforms become
//! `C · W · C⁻¹`, which places every point exactly where `C · W` would.

use std::borrow::Cow;
use std::fmt::Write as _;

use ::gltf::accessor::{DataType, Dimensions};
use ::gltf::buffer::Source;
use ::gltf::mesh::{Mode, Semantic};
use glam::Mat4;

use super::{default_name, Format, Limits, ReadError, WriteError};
use crate::{weld::weld_exact, IndexedMesh, Model, ModelObject, Rgba, Vec3};

/// glTF (metres, Y-up) → model (millimetres, Z-up).
#[cfg(test)]
fn to_model() -> Mat4 {
    Mat4::from_rotation_x(std::f32::consts::FRAC_PI_2) * Mat4::from_scale(glam::Vec3::splat(1000.0))
}

fn point_to_model(p: Vec3) -> Vec3 {
    // Exact form of to_model() for points: (x, y, z) → (x, -z, y) · 1000, without trigonometric rounding.
    [p[0] * 1000.0, -p[2] * 1000.0, p[1] * 1000.0]
}

fn point_from_model(p: Vec3) -> Vec3 {
    [p[0] / 1000.0, p[2] / 1000.0, -p[1] / 1000.0]
}

/// Exact conjugation of an affine transform by the axis swap and scale (no trigonometric rounding).
fn conjugate(m: &Mat4, into_model: bool) -> Mat4 {
    // The axis permutation P maps (x, y, z) → (x, -z, y); as a matrix it is exact in f32.
    let p = Mat4::from_cols_array(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let (s, s_inv) = (Mat4::from_scale(glam::Vec3::splat(1000.0)), Mat4::from_scale(glam::Vec3::splat(0.001)));
    if into_model {
        (p * s) * *m * (s_inv * p.transpose())
    } else {
        (p.transpose() * s_inv) * *m * (s * p)
    }
}

fn gerr(message: String) -> ReadError {
    ReadError::Gltf(message)
}

/// Reads glTF or GLB: every node with a mesh (in the default scene, or all root nodes) becomes an object.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Model, ReadError> {
    if let Some(rest) = bytes.strip_prefix(b"glTF") {
        // The gltf crate subtracts the 12-byte header from the declared length unchecked (a panic in
        // debug builds), so the header is checked here first.
        let declared = rest.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        match declared {
            Some(n) if (20..=bytes.len()).contains(&n) => {}
            Some(n) => return Err(gerr(format!("the GLB header declares {n} bytes but the file has {}", bytes.len()))),
            None => return Err(gerr(format!("the file is {} bytes, too short for a GLB header", bytes.len()))),
        }
    }
    let parse_err = |e: ::gltf::Error| gerr(e.to_string().chars().take(400).collect());
    let ::gltf::Gltf { document, blob } = ::gltf::Gltf::from_slice_without_validation(bytes).map_err(parse_err)?;
    // gltf-json's validation indexes the accessor list with the POSITION index before checking it
    // (found by fuzzing), so that one reference is checked here before validating the rest.
    let json = document.into_json();
    for (mi, m) in json.meshes.iter().enumerate() {
        for (pi, p) in m.primitives.iter().enumerate() {
            if let Some(bad) = p.attributes.values().find(|i| i.value() >= json.accessors.len()) {
                return Err(gerr(format!(
                    "mesh {mi} primitive {pi} refers to accessor {}, but the file has only {}",
                    bad.value(),
                    json.accessors.len()
                )));
            }
        }
    }
    let document = ::gltf::Document::from_json(json).map_err(parse_err)?;
    let doc = &document;
    if let Some(ext) = doc.extensions_required().find(|e| e.contains("draco") || e.contains("meshopt")) {
        return Err(ReadError::Unsupported { format: Format::Gltf, what: format!("compressed meshes ({ext})") });
    }

    let mut budget = limits.max_uncompressed_bytes;
    let mut buffers: Vec<Cow<[u8]>> = Vec::new();
    for b in doc.buffers() {
        let data: Cow<[u8]> = match b.source() {
            Source::Bin => Cow::Borrowed(
                blob.as_deref()
                    .ok_or_else(|| gerr("a buffer refers to the GLB binary chunk, but there is none".into()))?,
            ),
            Source::Uri(uri) => Cow::Owned(decode_data_uri(uri, b.index(), limits, &mut budget)?),
        };
        if data.len() < b.length() {
            return Err(gerr(format!(
                "buffer {} declares {} bytes but holds only {}",
                b.index(),
                b.length(),
                data.len()
            )));
        }
        buffers.push(data);
    }

    let mut roots: Vec<usize> = match doc.default_scene().or_else(|| doc.scenes().next()) {
        Some(scene) => scene.nodes().map(|n| n.index()).collect(),
        None => {
            let mut is_child = vec![false; doc.nodes().len()];
            for n in doc.nodes() {
                for c in n.children() {
                    if let Some(slot) = is_child.get_mut(c.index()) {
                        *slot = true;
                    }
                }
            }
            (0..is_child.len()).filter(|&i| !is_child[i]).collect()
        }
    };
    roots.dedup();

    let nodes: Vec<::gltf::Node> = doc.nodes().collect();
    let meshes: Vec<::gltf::Mesh> = doc.meshes().collect();
    let mesh_triangles: Vec<u64> = meshes.iter().map(triangle_estimate).collect();

    // Count what the node tree expands to before building anything: memoised, so a tree that shares
    // nodes exponentially still costs linear time to count.
    let mut memo: Vec<Option<Option<(u64, u64)>>> = vec![None; nodes.len()];
    let (mut triangles, mut instances) = (0u64, 0u64);
    for &r in &roots {
        let (t, i) = node_cost(&nodes, &mesh_triangles, r, 0, limits, &mut memo)?;
        triangles = triangles.saturating_add(t);
        instances = instances.saturating_add(i);
    }
    limits.check_triangles(triangles)?;
    limits.check_objects(usize::try_from(instances).unwrap_or(usize::MAX))?;

    let mut built: Vec<Option<Built>> = vec![None; meshes.len()];
    let mut objects = Vec::new();
    let mut stack: Vec<(usize, Mat4)> = roots.iter().rev().map(|&r| (r, Mat4::IDENTITY)).collect();
    while let Some((index, parent)) = stack.pop() {
        let Some(node) = nodes.get(index) else { continue };
        let world = parent * Mat4::from_cols_array_2d(&node.transform().matrix());
        if !world.is_finite() {
            return Err(ReadError::NonFinite { format: Format::Gltf, what: format!("node {index} transform") });
        }
        if let Some(mesh) = node.mesh() {
            let b = match &built[mesh.index()] {
                Some(b) => b.clone(),
                None => {
                    let b = build_mesh(&mesh, &buffers)?;
                    built[mesh.index()] = Some(b.clone());
                    b
                }
            };
            if b.mesh.triangle_count() > 0 {
                let name = node
                    .name()
                    .or(mesh.name())
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_owned)
                    .unwrap_or_else(|| default_name(objects.len()));
                let mut object = ModelObject::new(name, b.mesh);
                object.transform = conjugate(&world, true);
                object.material = b.material;
                object.colour = b.colour;
                objects.push(object);
            }
        }
        for child in node.children().collect::<Vec<_>>().into_iter().rev() {
            stack.push((child.index(), world));
        }
    }
    Ok(Model { objects, ..Model::default() })
}

/// Triangles a mesh will produce, from accessor counts alone.
fn triangle_estimate(mesh: &::gltf::Mesh) -> u64 {
    mesh.primitives()
        .map(|p| {
            let n = p.indices().or_else(|| p.get(&Semantic::Positions)).map_or(0, |a| a.count() as u64);
            match p.mode() {
                Mode::Triangles => n / 3,
                Mode::TriangleStrip | Mode::TriangleFan => n.saturating_sub(2),
                _ => 0,
            }
        })
        .fold(0u64, u64::saturating_add)
}

fn node_cost(
    nodes: &[::gltf::Node],
    mesh_triangles: &[u64],
    index: usize,
    depth: usize,
    limits: &Limits,
    memo: &mut [Option<Option<(u64, u64)>>],
) -> Result<(u64, u64), ReadError> {
    if depth >= limits.max_depth {
        return Err(ReadError::TooDeep { what: "glTF nodes", limit: limits.max_depth });
    }
    match memo.get(index) {
        Some(Some(Some(c))) => return Ok(*c),
        Some(Some(None)) => return Err(ReadError::Cycle { what: "glTF nodes" }),
        Some(None) => {}
        None => return Err(gerr(format!("node {index} does not exist"))),
    }
    memo[index] = Some(None);
    let node = &nodes[index];
    let mut cost = match node.mesh() {
        Some(m) => (mesh_triangles.get(m.index()).copied().unwrap_or(0), 1),
        None => (0u64, 1u64),
    };
    for child in node.children() {
        let (t, i) = node_cost(nodes, mesh_triangles, child.index(), depth + 1, limits, memo)?;
        cost = (cost.0.saturating_add(t), cost.1.saturating_add(i));
    }
    memo[index] = Some(Some(cost));
    Ok(cost)
}

#[derive(Clone)]
struct Built {
    mesh: IndexedMesh,
    material: Option<String>,
    colour: Option<Rgba>,
}

/// Joins a mesh's triangle primitives into one welded mesh in model space. Exporters split vertices
/// along normal and UV seams; welding exact positions again keeps those edges closed for printing.
fn build_mesh(mesh: &::gltf::Mesh, buffers: &[Cow<[u8]>]) -> Result<Built, ReadError> {
    let name = mesh.name().map(str::to_owned).unwrap_or_else(|| format!("mesh {}", mesh.index()));
    let mut soup: Vec<[Vec3; 3]> = Vec::new();
    let mut material = None;
    for (pi, prim) in mesh.primitives().enumerate() {
        let what = |m: String| gerr(format!("mesh {name:?} primitive {pi}: {m}"));
        match prim.mode() {
            Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan => {}
            // Points and lines have no surface to print.
            _ => continue,
        }
        if material.is_none() {
            material = prim.material().index().map(|_| prim.material());
        }
        let positions_acc =
            prim.get(&Semantic::Positions).ok_or_else(|| what("it has no POSITION attribute".into()))?;
        if positions_acc.data_type() != DataType::F32 || positions_acc.dimensions() != Dimensions::Vec3 {
            return Err(ReadError::Unsupported {
                format: Format::Gltf,
                what: format!(
                    "positions stored as {:?} {:?} (only 32-bit float VEC3)",
                    positions_acc.data_type(),
                    positions_acc.dimensions()
                ),
            });
        }
        let (data, stride) = accessor_bytes(&positions_acc, buffers, 12)?;
        let mut positions: Vec<Vec3> = Vec::with_capacity(positions_acc.count());
        for i in 0..positions_acc.count() {
            let f = |k: usize| -> f32 {
                let o = i * stride + k * 4;
                data.get(o..o + 4).map_or(f32::NAN, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            let p = [f(0), f(1), f(2)];
            if !p.iter().all(|c| c.is_finite()) {
                return Err(ReadError::NonFinite { format: Format::Gltf, what: format!("mesh {name:?} vertex {i}") });
            }
            positions.push(point_to_model(p));
        }
        let indices: Vec<u32> = match prim.indices() {
            Some(acc) => read_indices(&acc, buffers)?,
            None => (0..positions.len() as u32).collect(),
        };
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= positions.len()) {
            return Err(what(format!("index {bad} points past the {} vertices", positions.len())));
        }
        let corner = |i: u32| positions[i as usize];
        let n = indices.len();
        match prim.mode() {
            Mode::Triangles => {
                for t in indices.chunks_exact(3) {
                    soup.push([corner(t[0]), corner(t[1]), corner(t[2])]);
                }
            }
            Mode::TriangleStrip => {
                for i in 0..n.saturating_sub(2) {
                    // Every other triangle of a strip is stored clockwise; swap to keep winding.
                    let (a, b) = if i % 2 == 0 { (indices[i], indices[i + 1]) } else { (indices[i + 1], indices[i]) };
                    soup.push([corner(a), corner(b), corner(indices[i + 2])]);
                }
            }
            _ => {
                for i in 1..n.saturating_sub(1) {
                    soup.push([corner(indices[0]), corner(indices[i]), corner(indices[i + 1])]);
                }
            }
        }
    }
    let mesh = weld_exact(&soup).map_err(|error| ReadError::Mesh { object: name.clone(), error })?;
    let (material, colour) = match material {
        Some(m) => {
            let c = m.pbr_metallic_roughness().base_color_factor();
            (m.name().map(str::to_owned), Some(c.map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8)))
        }
        None => (None, None),
    };
    Ok(Built { mesh, material, colour })
}

/// The bytes an accessor covers (from its first element) and the stride between elements, after
/// checking that every element lies inside its buffer view and the view inside its buffer.
fn accessor_bytes<'b>(
    acc: &::gltf::Accessor,
    buffers: &'b [Cow<[u8]>],
    element: usize,
) -> Result<(&'b [u8], usize), ReadError> {
    let index = acc.index();
    if acc.sparse().is_some() {
        return Err(ReadError::Unsupported { format: Format::Gltf, what: format!("sparse accessor {index}") });
    }
    let view = acc.view().ok_or_else(|| gerr(format!("accessor {index} has no buffer view")))?;
    let buffer = buffers
        .get(view.buffer().index())
        .ok_or_else(|| gerr(format!("buffer view {} has no buffer", view.index())))?;
    let view_bytes =
        view.offset().checked_add(view.length()).and_then(|end| buffer.get(view.offset()..end)).ok_or_else(|| {
            gerr(format!("buffer view {} reaches past the end of buffer {}", view.index(), view.buffer().index()))
        })?;
    let stride = view.stride().unwrap_or(element);
    if stride < element {
        return Err(gerr(format!(
            "buffer view {} has stride {stride}, smaller than its {element}-byte elements",
            view.index()
        )));
    }
    if acc.count() == 0 {
        return Ok((&[], stride));
    }
    let needed = (acc.count() - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(element))
        .and_then(|n| n.checked_add(acc.offset()));
    match needed {
        Some(n) if n <= view_bytes.len() => Ok((&view_bytes[acc.offset()..], stride)),
        _ => Err(gerr(format!(
            "accessor {index} ({} elements) reaches past the end of its {}-byte buffer view",
            acc.count(),
            view_bytes.len()
        ))),
    }
}

fn read_indices(acc: &::gltf::Accessor, buffers: &[Cow<[u8]>]) -> Result<Vec<u32>, ReadError> {
    let size = match (acc.data_type(), acc.dimensions()) {
        (DataType::U8, Dimensions::Scalar) => 1,
        (DataType::U16, Dimensions::Scalar) => 2,
        (DataType::U32, Dimensions::Scalar) => 4,
        (t, d) => return Err(gerr(format!("accessor {} holds indices as {t:?} {d:?}", acc.index()))),
    };
    let (data, stride) = accessor_bytes(acc, buffers, size)?;
    let mut out = Vec::with_capacity(acc.count());
    for i in 0..acc.count() {
        let b = data.get(i * stride..i * stride + size).unwrap_or(&[]);
        out.push(match *b {
            [a] => u32::from(a),
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => return Err(gerr(format!("accessor {} is cut short", acc.index()))),
        });
    }
    Ok(out)
}

fn decode_data_uri(uri: &str, index: usize, limits: &Limits, budget: &mut u64) -> Result<Vec<u8>, ReadError> {
    let Some(rest) = uri.strip_prefix("data:") else {
        return Err(ReadError::ExternalUri { uri: uri.chars().take(200).collect() });
    };
    let (header, payload) =
        rest.split_once(',').ok_or_else(|| gerr(format!("buffer {index} has a malformed data: URI")))?;
    if !header.ends_with(";base64") {
        return Err(ReadError::Unsupported {
            format: Format::Gltf,
            what: format!("buffer {index}: data: URI without base64"),
        });
    }
    let size = payload.len() as u64 / 4 * 3;
    if size > *budget {
        return Err(ReadError::TooLarge {
            format: Format::Gltf,
            entry: format!("buffer {index}"),
            size,
            limit: limits.max_uncompressed_bytes,
        });
    }
    let data = base64_decode(payload.as_bytes()).ok_or_else(|| gerr(format!("buffer {index} is not valid base64")))?;
    *budget -= (data.len() as u64).min(*budget);
    Ok(data)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn json_string(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn json_floats(v: &[f32]) -> String {
    v.iter().map(|x| if x.is_finite() { x.to_string() } else { "0".into() }).collect::<Vec<_>>().join(",")
}

/// Area-weighted vertex normals (each face adds its unnormalised normal to its corners).
fn vertex_normals(vertices: &[Vec3], triangles: &[[u32; 3]]) -> Vec<Vec3> {
    let mut n = vec![[0f32; 3]; vertices.len()];
    for t in triangles {
        let f = super::face_normal(vertices[t[0] as usize], vertices[t[1] as usize], vertices[t[2] as usize]);
        for &i in t {
            let slot = &mut n[i as usize];
            for k in 0..3 {
                slot[k] += f[k];
            }
        }
    }
    for v in &mut n {
        let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        *v = if len > 0.0 && len.is_finite() { v.map(|c| c / len) } else { [0.0, 0.0, 1.0] };
    }
    n
}

/// Writes GLB (`glb = true`) or glTF JSON with the buffer as a data: URI: one node and one mesh per
/// object, with positions, area-weighted normals and u32 indices.
pub(crate) fn write(model: &Model, glb: bool) -> Result<Vec<u8>, WriteError> {
    let mut bin: Vec<u8> = Vec::new();
    let (mut views, mut accessors, mut meshes, mut nodes, mut materials) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut push_view = |bin: &mut Vec<u8>, bytes: &[u8], target: u32| {
        let offset = bin.len();
        bin.extend_from_slice(bytes);
        views.push(format!(r#"{{"buffer":0,"byteOffset":{offset},"byteLength":{},"target":{target}}}"#, bytes.len()));
        views.len() - 1
    };
    for (i, o) in model.objects.iter().enumerate() {
        if !o.transform.is_finite() {
            return Err(WriteError::TooLarge {
                format: Format::Glb,
                what: format!("object {:?}'s non-finite transform", o.name),
            });
        }
        let name = if o.name.is_empty() { default_name(i) } else { o.name.clone() };
        let mut node = format!(r#"{{"name":{}"#, json_string(&name));
        let m = conjugate(&o.transform, false);
        if m != Mat4::IDENTITY {
            let _ = write!(node, r#","matrix":[{}]"#, json_floats(&m.to_cols_array()));
        }
        if o.mesh.triangle_count() > 0 {
            let vertices: Vec<Vec3> = o.mesh.vertices().iter().map(|&p| point_from_model(p)).collect();
            let normals = vertex_normals(&vertices, o.mesh.triangles());
            let mut min = [f32::INFINITY; 3];
            let mut max = [f32::NEG_INFINITY; 3];
            for v in &vertices {
                for k in 0..3 {
                    min[k] = min[k].min(v[k]);
                    max[k] = max[k].max(v[k]);
                }
            }
            let floats = |vs: &[Vec3]| vs.iter().flatten().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            let pos_view = push_view(&mut bin, &floats(&vertices), 34962);
            let nrm_view = push_view(&mut bin, &floats(&normals), 34962);
            let idx: Vec<u8> = o.mesh.triangles().iter().flatten().flat_map(|i| i.to_le_bytes()).collect();
            let idx_view = push_view(&mut bin, &idx, 34963);
            let a = accessors.len();
            accessors.push(format!(
                r#"{{"bufferView":{pos_view},"componentType":5126,"count":{},"type":"VEC3","min":[{}],"max":[{}]}}"#,
                vertices.len(),
                json_floats(&min),
                json_floats(&max)
            ));
            accessors.push(format!(
                r#"{{"bufferView":{nrm_view},"componentType":5126,"count":{},"type":"VEC3"}}"#,
                vertices.len()
            ));
            accessors.push(format!(
                r#"{{"bufferView":{idx_view},"componentType":5125,"count":{},"type":"SCALAR"}}"#,
                o.mesh.triangle_count() * 3
            ));
            let material = if o.colour.is_some() || o.material.is_some() {
                let c = o.colour.unwrap_or([255; 4]).map(|x| f32::from(x) / 255.0);
                let mat_name =
                    o.material.as_deref().map(|n| format!(r#""name":{},"#, json_string(n))).unwrap_or_default();
                materials.push(format!(
                    r#"{{{mat_name}"pbrMetallicRoughness":{{"baseColorFactor":[{}]}}}}"#,
                    json_floats(&c)
                ));
                format!(r#","material":{}"#, materials.len() - 1)
            } else {
                String::new()
            };
            meshes.push(format!(
                r#"{{"name":{},"primitives":[{{"attributes":{{"POSITION":{a},"NORMAL":{}}},"indices":{},"mode":4{material}}}]}}"#,
                json_string(&name),
                a + 1,
                a + 2
            ));
            let _ = write!(node, r#","mesh":{}"#, meshes.len() - 1);
        }
        node.push('}');
        nodes.push(node);
    }
    if bin.len() > u32::MAX as usize - 1024 {
        return Err(WriteError::TooLarge { format: Format::Glb, what: format!("{} bytes of geometry", bin.len()) });
    }
    let extras = if model.metadata.is_empty() {
        String::new()
    } else {
        let fields: Vec<String> =
            model.metadata.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_string(v))).collect();
        format!(r#","extras":{{{}}}"#, fields.join(","))
    };
    let buffer = if glb {
        format!(r#"{{"byteLength":{}}}"#, bin.len())
    } else {
        format!(
            r#"{{"byteLength":{},"uri":"data:application/octet-stream;base64,{}"}}"#,
            bin.len(),
            base64_encode(&bin)
        )
    };
    let list = |v: &[String]| v.join(",");
    let mut json = format!(
        r#"{{"asset":{{"version":"2.0","generator":"Printfarm"}},"scene":0,"scenes":[{{"nodes":[{}]{extras}}}],"nodes":[{}],"meshes":[{}],"accessors":[{}],"bufferViews":[{}],"buffers":[{buffer}]"#,
        (0..nodes.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(","),
        list(&nodes),
        list(&meshes),
        list(&accessors),
        list(&views),
    );
    if !materials.is_empty() {
        let _ = write!(json, r#","materials":[{}]"#, list(&materials));
    }
    json.push('}');
    if !glb {
        return Ok(json.into_bytes());
    }
    let mut json = json.into_bytes();
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json.len() + if bin.is_empty() { 0 } else { 8 + bin.len() };
    let total32 = u32::try_from(total).map_err(|_| WriteError::TooLarge {
        format: Format::Glb,
        what: format!("{total} bytes (GLB's limit is 4 GiB)"),
    })?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&total32.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json);
    if !bin.is_empty() {
        out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&bin);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for len in 0..10 {
            let data: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(base64_encode(&data).as_bytes()).unwrap(), data);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_decode(b"!!"), None);
    }

    #[test]
    fn conjugation_matches_the_rotation() {
        let w = Mat4::from_translation(glam::Vec3::new(0.0, 1.0, 0.0));
        let m = conjugate(&w, true);
        // One metre up in glTF is 1000 mm up in Z.
        let p = m.transform_point3(glam::Vec3::ZERO);
        assert!((p - glam::Vec3::new(0.0, 0.0, 1000.0)).length() < 1e-3, "{p}");
        let r = to_model().transform_point3(glam::Vec3::new(1.0, 2.0, 3.0));
        let exact = point_to_model([1.0, 2.0, 3.0]);
        assert!((r - glam::Vec3::from_array(exact)).length() < 1e-2);
        let back = conjugate(&m, false);
        assert!(back.abs_diff_eq(w, 1e-6));
    }
}
