//! Model file readers and writers: round trips, units, transforms, and every kind of broken file.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{Cursor, Write};
use std::path::PathBuf;

use glam::{Mat4, Quat, Vec3 as GVec3};
use mesh::io::{read, read_file, write, write_file, Format, Limits, ReadError, WriteError};
use mesh::{IndexedMesh, MeshError, Model, ModelObject};

fn tetra() -> IndexedMesh {
    IndexedMesh::new(
        vec![[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 5.0]],
        vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
    )
    .unwrap()
}

fn two_objects() -> Model {
    let mut a = ModelObject::new("Left cube", IndexedMesh::cube(10.0));
    a.transform = Mat4::from_translation(GVec3::new(-20.0, 5.0, 0.0));
    a.colour = Some([255, 0, 0, 255]);
    a.material = Some("PLA red".into());
    let mut b = ModelObject::new("Right <tetra> & \"co\"", tetra());
    b.transform = Mat4::from_scale_rotation_translation(
        GVec3::splat(2.0),
        Quat::from_rotation_z(0.5),
        GVec3::new(30.0, 0.0, 1.0),
    );
    let mut m = Model { objects: vec![a, b], ..Model::default() };
    m.metadata.insert("Designer".into(), "Tester".into());
    m
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
}

fn same_placed_geometry(a: &ModelObject, b: &ModelObject) {
    let (pa, pb) = (a.placed_mesh(), b.placed_mesh());
    assert_eq!(pa.triangle_count(), pb.triangle_count(), "{}", a.name);
    assert!(
        close(pa.signed_volume(), pb.signed_volume()),
        "{}: {} vs {}",
        a.name,
        pa.signed_volume(),
        pb.signed_volume()
    );
    assert!(close(pa.surface_area(), pb.surface_area()), "{}", a.name);
    let (ba, bb) = (pa.bounding_box().unwrap(), pb.bounding_box().unwrap());
    for k in 0..3 {
        assert!(
            close(ba.min[k].into(), bb.min[k].into()) && close(ba.max[k].into(), bb.max[k].into()),
            "{ba:?} {bb:?}"
        );
    }
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn scene_formats_round_trip_names_transforms_and_materials() {
    let model = two_objects();
    for format in [Format::ThreeMf, Format::Glb, Format::Gltf] {
        let bytes = write(&model, format).unwrap();
        assert_eq!(Format::detect(&bytes), Some(format), "{format}");
        let back = read(&bytes, None, &limits()).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(back.objects.len(), 2, "{format}");
        for (a, b) in model.objects.iter().zip(&back.objects) {
            assert_eq!(a.name, b.name, "{format}");
            assert_eq!(a.mesh.vertices().len(), b.mesh.vertices().len(), "{format}");
            assert!(a.transform.abs_diff_eq(b.transform, 1e-3), "{format}: {} vs {}", a.transform, b.transform);
            same_placed_geometry(a, b);
        }
        assert_eq!(back.objects[0].material.as_deref(), Some("PLA red"), "{format}");
        assert_eq!(back.objects[0].colour, Some([255, 0, 0, 255]), "{format}");
        assert_eq!(back.objects[1].material, None, "{format}");
    }
}

#[test]
fn threemf_writes_title_application_and_metadata() {
    let back = read(&write(&two_objects(), Format::ThreeMf).unwrap(), None, &limits()).unwrap();
    assert_eq!(back.metadata.get("Application").map(String::as_str), Some("Printfarm"));
    assert_eq!(back.metadata.get("Title").map(String::as_str), Some("Left cube"));
    assert_eq!(back.metadata.get("Designer").map(String::as_str), Some("Tester"));
}

#[test]
fn obj_round_trip_keeps_names_materials_and_placed_geometry() {
    let model = two_objects();
    let bytes = write(&model, Format::Obj).unwrap();
    assert_eq!(Format::detect(&bytes), Some(Format::Obj));
    let back = read(&bytes, None, &limits()).unwrap();
    assert_eq!(back.objects.len(), 2);
    for (a, b) in model.objects.iter().zip(&back.objects) {
        assert_eq!(a.name, b.name);
        assert_eq!(b.transform, Mat4::IDENTITY, "OBJ has no transforms, so they are applied");
        same_placed_geometry(a, b);
    }
    assert_eq!(back.objects[0].material.as_deref(), Some("PLA red"));
}

#[test]
fn stl_round_trip_merges_placed_objects_and_welds() {
    let model = two_objects();
    let bytes = write(&model, Format::Stl).unwrap();
    assert_eq!(bytes.len(), 84 + 50 * 16);
    let back = read(&bytes, Some("x.stl"), &limits()).unwrap();
    assert_eq!(back.objects.len(), 1);
    let merged = model.merged();
    let got = &back.objects[0].mesh;
    assert_eq!(got.vertices().len(), 12, "8 cube corners + 4 tetra corners after the exact weld");
    assert!(close(got.signed_volume(), merged.signed_volume()));
    // stl_io, an independent reader, agrees on the triangles.
    let parsed = stl_io::read_stl(&mut Cursor::new(&bytes)).unwrap();
    assert_eq!(parsed.faces.len(), 16);
}

#[test]
fn ascii_stl_with_names_is_read() {
    let text = "solid part one\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n   vertex 0 1 0\n  endloop\n endfacet\nendsolid part one\n";
    let m = read(text.as_bytes(), None, &limits()).unwrap();
    assert_eq!(m.objects[0].name, "part one");
    assert_eq!(m.triangle_count(), 1);
}

/// A 3MF archive from raw parts, for tests that need exact XML.
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(data.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

const NS: &str = r#"xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02""#;
const PROD_NS: &str = r#"xmlns:p="http://schemas.microsoft.com/3dmanufacturing/production/2015/06""#;

fn cube_object_xml(id: u32, edge: f32, name: &str) -> String {
    let c = IndexedMesh::cube(edge);
    let mut s = format!(r#"<object id="{id}" name="{name}" type="model"><mesh><vertices>"#);
    for v in c.vertices() {
        s += &format!(r#"<vertex x="{}" y="{}" z="{}"/>"#, v[0], v[1], v[2]);
    }
    s += "</vertices><triangles>";
    for t in c.triangles() {
        s += &format!(r#"<triangle v1="{}" v2="{}" v3="{}"/>"#, t[0], t[1], t[2]);
    }
    s + "</triangles></mesh></object>"
}

fn threemf(model_xml: &str) -> Vec<u8> {
    zip_of(&[("3D/3dmodel.model", model_xml)])
}

#[test]
fn threemf_units_are_converted_to_millimetres() {
    for (unit, mm) in [
        ("micron", 0.001f32),
        ("millimeter", 1.0),
        ("centimeter", 10.0),
        ("inch", 25.4),
        ("foot", 304.8),
        ("meter", 1000.0),
    ] {
        let xml = format!(
            r#"<?xml version="1.0"?><model unit="{unit}" {NS}><resources>{}</resources><build><item objectid="1" transform="1 0 0 0 1 0 0 0 1 2 0 0"/></build></model>"#,
            cube_object_xml(1, 1.0, "c")
        );
        let m = read(&threemf(&xml), None, &limits()).unwrap();
        let b = m.bounding_box().unwrap();
        assert!((b.size()[0] - mm).abs() < mm * 1e-5, "{unit}: {:?}", b.size());
        assert!((b.min[0] - 2.0 * mm).abs() < mm * 1e-5, "{unit}: translation scaled too, {:?}", b.min);
    }
}

#[test]
fn threemf_components_across_parts_like_bambu_and_prusa() {
    // The root part's object is an assembly of two components, one in a separate production part
    // (as Bambu Studio writes), each moved by its component transform; the build item moves it all.
    let root = format!(
        r#"<?xml version="1.0"?><model unit="millimeter" {NS} {PROD_NS}><metadata name="Title">Assembly</metadata><resources>
        {}
        <object id="2" name="Assembly" type="model"><components>
          <component p:path="/3D/Objects/object_1.model" objectid="7" transform="1 0 0 0 1 0 0 0 1 100 0 0"/>
          <component objectid="1"/>
        </components></object></resources>
        <build><item objectid="2" transform="1 0 0 0 1 0 0 0 1 0 0 5"/></build></model>"#,
        cube_object_xml(1, 1.0, "local")
    );
    let part = format!(
        r#"<?xml version="1.0"?><model unit="millimeter" {NS}><resources>{}</resources><build/></model>"#,
        cube_object_xml(7, 2.0, "far")
    );
    let rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>"#;
    let bytes = zip_of(&[("_rels/.rels", rels), ("3D/3dmodel.model", &root), ("3D/Objects/object_1.model", &part)]);
    let m = read(&bytes, Some("a.3mf"), &limits()).unwrap();
    assert_eq!(m.objects.len(), 1);
    let o = &m.objects[0];
    assert_eq!(o.name, "Assembly");
    assert_eq!(o.mesh.triangle_count(), 24);
    let b = m.bounding_box().unwrap();
    assert_eq!(b.min, [0.0, 0.0, 5.0]);
    assert_eq!(b.max, [102.0, 2.0, 7.0]);
    assert!((o.placed_mesh().signed_volume() - 9.0).abs() < 1e-6);
    assert_eq!(m.metadata.get("Title").map(String::as_str), Some("Assembly"));
}

#[test]
fn threemf_every_build_item_is_an_object() {
    let xml = format!(
        r#"<model {NS}><resources>{}</resources><build><item objectid="1"/><item objectid="1" transform="1 0 0 0 1 0 0 0 1 0 50 0"/></build></model>"#,
        cube_object_xml(1, 1.0, "peg")
    );
    let m = read(&threemf(&xml), None, &limits()).unwrap();
    assert_eq!(m.objects.len(), 2);
    assert_eq!(m.objects[1].transform.w_axis.y, 50.0);
}

/// A glTF with one triangle mesh (1 m right triangle in the XY plane) and the given nodes.
fn gltf_json(nodes: &str, scene_nodes: &str, accessor_count: usize) -> String {
    let mut bin = Vec::new();
    for f in [0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0] {
        bin.extend_from_slice(&f.to_le_bytes());
    }
    let b64 = base64(&bin);
    format!(
        r#"{{"asset":{{"version":"2.0"}},"scene":0,"scenes":[{{"nodes":[{scene_nodes}]}}],"nodes":[{nodes}],
        "meshes":[{{"name":"tri","primitives":[{{"attributes":{{"POSITION":0}}}}]}}],
        "accessors":[{{"bufferView":0,"componentType":5126,"count":{accessor_count},"type":"VEC3","min":[0,0,0],"max":[1,1,0]}}],
        "bufferViews":[{{"buffer":0,"byteLength":36}}],
        "buffers":[{{"byteLength":36,"uri":"data:application/octet-stream;base64,{b64}"}}]}}"#
    )
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            s.push(if i <= c.len() { T[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    s
}

#[test]
fn gltf_node_hierarchy_metres_and_y_up_become_mm_and_z_up() {
    // Parent lifts by 2 m along glTF's up (+Y); child scales by 0.5 and has the mesh.
    let nodes =
        r#"{"name":"parent","translation":[0,2,0],"children":[1]},{"name":"child","scale":[0.5,0.5,0.5],"mesh":0}"#;
    let m = read(gltf_json(nodes, "0", 3).as_bytes(), None, &limits()).unwrap();
    assert_eq!(m.objects.len(), 1);
    assert_eq!(m.objects[0].name, "child");
    let b = m.bounding_box().unwrap();
    // The triangle spans x 0..0.5 m and glTF y 0..0.5 m (→ z up), lifted 2 m.
    for (got, want) in b.min.iter().zip([0.0, 0.0, 2000.0]).chain(b.max.iter().zip([500.0, 0.0, 2500.0])) {
        assert!((got - want).abs() < 1e-3, "{b:?}");
    }
}

#[test]
fn glb_written_for_the_editor_has_normals_and_u32_indices() {
    let bytes = write(&Model::single("cube", IndexedMesh::cube(1.0)), Format::Glb).unwrap();
    let g = gltf::Gltf::from_slice(&bytes).unwrap();
    let prim = g.meshes().next().unwrap().primitives().next().unwrap();
    assert!(prim.get(&gltf::Semantic::Normals).is_some());
    assert_eq!(prim.indices().unwrap().data_type(), gltf::accessor::DataType::U32);
    assert_eq!(g.nodes().next().unwrap().name(), Some("cube"));
}

#[test]
fn obj_polygons_negative_indices_and_objects() {
    let text = "o plate\nv 0 0 0\nv 2 0 0\nv 2 2 0\nv 1 1 0\nv 0 2 0\nf 1 2 3 4 5\no tri\nv 0 0 1\nv 1 0 1\nv 0 1 1\nf -3 -2 -1\n";
    let m = read(text.as_bytes(), None, &limits()).unwrap();
    assert_eq!(m.objects.len(), 2);
    assert_eq!(m.objects[0].mesh.triangle_count(), 3);
    assert!((m.objects[0].mesh.surface_area() - 3.0).abs() < 1e-6, "concave pentagon area");
    assert_eq!(m.objects[1].name, "tri");
}

#[test]
fn files_round_trip_through_the_file_system() {
    let dir = std::env::temp_dir().join(format!("printfarm-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = two_objects();
    for ext in ["stl", "3mf", "glb", "gltf", "obj"] {
        let path = dir.join(format!("m.{ext}"));
        write_file(&model, &path).unwrap();
        let back = read_file(&path, &limits()).unwrap();
        assert_eq!(back.triangle_count(), 16, "{ext}");
    }
    // The streaming binary STL path checks the header and limits like the in-memory one.
    let tight = Limits { max_triangles: 15, ..Limits::default() };
    assert!(matches!(read_file(dir.join("m.stl"), &tight), Err(ReadError::TooManyTriangles { count: 16, .. })));
    std::fs::write(dir.join("lying.stl"), binary_stl(1000, 12)).unwrap();
    assert!(matches!(
        read_file(dir.join("lying.stl"), &limits()),
        Err(ReadError::StlTruncated { declared: 1000, actual: 12 })
    ));
    assert!(matches!(write_file(&model, dir.join("m.txt")), Err(WriteError::UnknownExtension { .. })));
    assert!(matches!(read_file(dir.join("missing.stl"), &limits()), Err(ReadError::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Broken files -------------------------------------------------------------------------------

fn binary_stl(declared: u32, records: usize) -> Vec<u8> {
    let mut b = vec![b' '; 80];
    b.extend_from_slice(&declared.to_le_bytes());
    for i in 0..records {
        b.extend_from_slice(&[0u8; 12]);
        for p in [[0.0f32, 0.0, i as f32], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] {
            for c in p {
                b.extend_from_slice(&c.to_le_bytes());
            }
        }
        b.extend_from_slice(&[0, 0]);
    }
    b
}

/// Every broken file the corpus holds, as (name, bytes); the name's prefix is the expected error.
fn broken_files() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| out.push((name.to_owned(), bytes));
    add("Empty__empty.stl", Vec::new());
    add("Empty__whitespace.obj", b"  \n\n ".to_vec());
    add("UnknownFormat__text.bin", b"just some notes, nothing else".to_vec());
    add("StlTooShort__short.stl", vec![0u8; 50]);
    add("StlTruncated__lying_header.stl", binary_stl(1000, 12));
    let mut cut = binary_stl(4, 4);
    cut.truncate(cut.len() - 20);
    add("StlTruncated__truncated.stl", cut);
    add("StlCountMismatch__extra_records.stl", binary_stl(2, 12));
    let mut nan = binary_stl(3, 3);
    nan[84 + 50 + 16..84 + 50 + 20].copy_from_slice(&f32::NAN.to_le_bytes());
    add("NonFinite__nan.stl", nan);
    let mut inf = binary_stl(1, 1);
    inf[84 + 12..84 + 16].copy_from_slice(&f32::INFINITY.to_le_bytes());
    add("NonFinite__inf.stl", inf);
    add("NonFinite__ascii_nan.stl", b"solid x\nfacet normal 0 0 0\nouter loop\nvertex nan 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n".to_vec());
    add("Syntax__ascii_quad.stl", b"solid x\nfacet normal 0 0 0\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nvertex 1 1 0\nendloop\nendfacet\nendsolid\n".to_vec());
    add("Syntax__ascii_bad_number.stl", b"solid x\nfacet normal 0 0 0\nouter loop\nvertex 0 zero 0\n".to_vec());

    add("Zip__not_a_zip.3mf", b"PK\x03\x04this is not really a zip archive".to_vec());
    add("Zip__no_model.3mf", zip_of(&[("readme.txt", "hello")]));
    add("TooLarge__claims_huge_size.3mf", zip_bomb_claiming(4_000_000_000));
    add("SizeMismatch__lying_size.3mf", zip_lying_small());
    let out_of_range = format!(
        r#"<model {NS}><resources><object id="1"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="3"/></triangles></mesh></object></resources><build><item objectid="1"/></build></model>"#
    );
    add("Mesh__index_out_of_range.3mf", threemf(&out_of_range));
    let nan_vertex = format!(
        r#"<model {NS}><resources><object id="1"><mesh><vertices><vertex x="NaN" y="0" z="0"/></vertices><triangles/></mesh></object></resources><build><item objectid="1"/></build></model>"#
    );
    add("NonFinite__nan_vertex.3mf", threemf(&nan_vertex));
    add(
        "ThreeMf__missing_object.3mf",
        threemf(&format!(
            r#"<model {NS}><resources>{}</resources><build><item objectid="9"/></build></model>"#,
            cube_object_xml(1, 1.0, "c")
        )),
    );
    add(
        "ThreeMf__bad_transform.3mf",
        threemf(&format!(
            r#"<model {NS}><resources>{}</resources><build><item objectid="1" transform="1 0 0"/></build></model>"#,
            cube_object_xml(1, 1.0, "c")
        )),
    );
    add(
        "ThreeMf__unknown_unit.3mf",
        threemf(&format!(
            r#"<model unit="furlong" {NS}><resources>{}</resources><build><item objectid="1"/></build></model>"#,
            cube_object_xml(1, 1.0, "c")
        )),
    );
    add("ThreeMf__broken_xml.3mf", threemf(r#"<model><resources><object id="1"><mesh></resources>"#));
    let cycle = format!(
        r#"<model {NS}><resources><object id="1"><components><component objectid="2"/></components></object><object id="2"><components><component objectid="1"/></components></object></resources><build><item objectid="1"/></build></model>"#
    );
    add("Cycle__component_loop.3mf", threemf(&cycle));
    let mut deep = format!(r#"<model {NS}><resources>{}"#, cube_object_xml(1, 1.0, "leaf"));
    for id in 2..=100 {
        deep += &format!(r#"<object id="{id}"><components><component objectid="{}"/></components></object>"#, id - 1);
    }
    deep += r#"</resources><build><item objectid="100"/></build></model>"#;
    add("TooDeep__nested_components.3mf", threemf(&deep));
    // Ten levels of ten components each: a small file that expands to 10^10 cubes.
    let mut fan = format!(r#"<model {NS}><resources>{}"#, cube_object_xml(1, 1.0, "leaf"));
    for id in 2..=11 {
        let comps: String = (0..10).map(|_| format!(r#"<component objectid="{}"/>"#, id - 1)).collect();
        fan += &format!(r#"<object id="{id}"><components>{comps}</components></object>"#);
    }
    fan += r#"</resources><build><item objectid="11"/></build></model>"#;
    add("TooManyTriangles__component_explosion.3mf", threemf(&fan));

    let mut deep_nodes = String::new();
    for i in 0..100 {
        if i > 0 {
            deep_nodes.push(',');
        }
        if i == 99 {
            deep_nodes += r#"{"mesh":0}"#;
        } else {
            deep_nodes += &format!(r#"{{"children":[{}]}}"#, i + 1);
        }
    }
    add("TooDeep__nested_nodes.gltf", gltf_json(&deep_nodes, "0", 3).into_bytes());
    add("Gltf__accessor_past_buffer.gltf", gltf_json(r#"{"mesh":0}"#, "0", 300).into_bytes());
    add("ExternalUri__external_buffer.gltf", {
        let json = gltf_json(r#"{"mesh":0}"#, "0", 3);
        let start = json.find("data:").unwrap();
        let end = start + json[start..].find('"').unwrap();
        format!("{}../../etc/passwd{}", &json[..start], &json[end..]).into_bytes()
    });
    add("Gltf__not_json.gltf", b"{\"asset\": {\"version\": \"2.0\"}, \"nodes\": [".to_vec());
    add("Gltf__truncated.glb", {
        let mut g = write(&Model::single("c", IndexedMesh::cube(1.0)), Format::Glb).unwrap();
        g.truncate(g.len() / 2);
        g
    });

    // Found by fuzzing: a GLB header whose length is below the header's own 12 bytes.
    add("Gltf__glb_length_below_header.glb", b"glTF\x02\0\0\0\x05\0\0\0\x10\0\0\0JSON{}\0\0".to_vec());
    // Found by fuzzing: a POSITION attribute naming an accessor that does not exist.
    add(
        "Gltf__position_accessor_missing.gltf",
        gltf_json(r#"{"mesh":0}"#, "0", 3).replace(r#""POSITION":0"#, r#""POSITION":7"#).into_bytes(),
    );
    add("Syntax__index_zero.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n".to_vec());
    add("Syntax__index_out_of_range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n".to_vec());
    add("Syntax__relative_index_out_of_range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n".to_vec());
    add("Syntax__non_utf8_number.obj", b"v 0 0 0\nv 1 \xff 0\nv 0 1 0\nf 1 2 3\n".to_vec());
    add("Syntax__two_corner_face.obj", b"v 0 0 0\nv 1 0 0\nf 1 2\n".to_vec());
    add("NonFinite__inf_vertex.obj", b"v 0 0 inf\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".to_vec());
    add("NoTriangles__vertices_only.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n".to_vec());
    out
}

/// A 3MF whose model entry's size fields claim `claimed` bytes (data is tiny).
fn zip_bomb_claiming(claimed: u32) -> Vec<u8> {
    let mut z = threemf(&format!(
        r#"<model {NS}><resources>{}</resources><build><item objectid="1"/></build></model>"#,
        cube_object_xml(1, 1.0, "c")
    ));
    patch_uncompressed_size(&mut z, claimed);
    z
}

/// A 3MF whose model entry inflates to 4 MB while its headers claim 1 KB.
fn zip_lying_small() -> Vec<u8> {
    let big = format!("<model {NS}><resources>{}</resources><build/></model>", " ".repeat(4 << 20));
    let mut z = threemf(&big);
    patch_uncompressed_size(&mut z, 1000);
    z
}

fn patch_uncompressed_size(zip: &mut [u8], size: u32) {
    for i in 0..zip.len().saturating_sub(4) {
        match &zip[i..i + 4] {
            b"PK\x03\x04" => zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
            b"PK\x01\x02" => zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
    }
}

fn variant_name(e: &ReadError) -> String {
    format!("{e:?}").split([' ', '(', '{']).next().unwrap_or_default().to_owned()
}

fn check_broken(name: &str, bytes: &[u8], limits: &Limits) {
    let expected = name.split("__").next().unwrap();
    let ext = name.rsplit('.').next();
    match read(bytes, ext, limits) {
        Ok(m) => panic!("{name}: read {} objects, expected {expected}", m.objects.len()),
        Err(e) => {
            assert_eq!(variant_name(&e), expected, "{name}: {e}");
            let message = e.to_string();
            assert!(message.len() > 10 && !message.contains("Error {"), "{name}: unhelpful message {message:?}");
        }
    }
}

#[test]
fn every_broken_file_gives_its_expected_error() {
    for (name, bytes) in broken_files() {
        check_broken(&name, &bytes, &limits());
    }
}

#[test]
fn error_messages_name_the_problem() {
    let e = read(&binary_stl(1000, 12), Some("x.stl"), &limits()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "binary STL header says 1000 triangles but the file holds only 12: the file is truncated"
    );
    let e = read(&zip_bomb_claiming(4_000_000_000), None, &limits()).unwrap_err();
    assert_eq!(e.to_string(), "3MF entry 3D/3dmodel.model would expand to 3.7 GiB, over the 1 GiB limit");
    let e = read(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", None, &limits()).unwrap_err();
    assert_eq!(e.to_string(), "OBJ line 4: face refers to vertex 4, but only 3 vertices are defined so far");
    let m = read(
        &broken_files().into_iter().find(|(n, _)| n.contains("index_out_of_range.3mf")).unwrap().1,
        None,
        &limits(),
    );
    assert!(matches!(m, Err(ReadError::Mesh { error: MeshError::IndexOutOfRange { index: 3, .. }, .. })), "{m:?}");
}

#[test]
fn zip_bomb_is_refused_by_the_uncompressed_limit() {
    // 8 MB of spaces compresses to a few KB; with a 1 MB budget it must be refused before inflating.
    let big = format!("<model {NS}><resources>{}</resources><build/></model>", " ".repeat(8 << 20));
    let z = threemf(&big);
    assert!(z.len() < 100_000, "{}", z.len());
    let tight = Limits { max_uncompressed_bytes: 1 << 20, ..Limits::default() };
    let e = read(&z, None, &tight).unwrap_err();
    assert!(matches!(e, ReadError::TooLarge { format: Format::ThreeMf, .. }), "{e}");
    assert!(e.to_string().contains("over the 1 MiB limit"), "{e}");
}

/// Issue 20, finding 5: a part padded with blanks (how small bombs inflate to hundreds of MB) is read as
/// it inflates, its blank runs never held, and reads the same as the unpadded part.
#[test]
fn blank_padded_parts_read_as_they_inflate() {
    let padding = " \n\t ".repeat(2 << 20);
    let padded = format!(
        "<model {NS}>{padding}<resources>{}</resources>{padding}<build><item objectid=\"1\"/></build></model>",
        cube_object_xml(1, 10.0, "  spaced   name ")
    );
    let model = read(&threemf(&padded), None, &Limits::default()).unwrap();
    assert_eq!(model.triangle_count(), 12);
    assert_eq!(model.objects[0].name, " spaced name ");
}

/// Vertices without triangles are held to the triangle limit too (three per triangle).
#[test]
fn threemf_vertices_are_limited() {
    let vertices = "<vertex x=\"0\" y=\"0\" z=\"0\"/>".repeat(40);
    let xml = format!("<model {NS}><resources><object id=\"1\" type=\"model\"><mesh><vertices>{vertices}</vertices><triangles/></mesh></object></resources><build/></model>");
    let tight = Limits { max_triangles: 10, ..Limits::default() };
    let e = read(&threemf(&xml), None, &tight).unwrap_err();
    assert!(e.to_string().contains("vertices"), "{e}");
}

#[test]
fn triangle_limit_applies_to_every_format() {
    let model = Model::single("c", IndexedMesh::cube(1.0));
    let tight = Limits { max_triangles: 11, ..Limits::default() };
    for format in [Format::Stl, Format::ThreeMf, Format::Glb, Format::Gltf, Format::Obj] {
        let bytes = write(&model, format).unwrap();
        let e = read(&bytes, None, &tight).unwrap_err();
        assert!(matches!(e, ReadError::TooManyTriangles { limit: 11, .. }), "{format}: {e}");
        assert!(read(&bytes, None, &Limits { max_triangles: 12, ..Limits::default() }).is_ok(), "{format}");
    }
}

#[test]
fn non_utf8_names_are_read_lossily() {
    let m = read(b"o caf\xe9\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", None, &limits()).unwrap();
    assert_eq!(m.objects[0].name, "caf\u{fffd}");
}

#[test]
fn content_wins_over_a_wrong_extension() {
    let bytes = write(&Model::single("c", IndexedMesh::cube(1.0)), Format::Obj).unwrap();
    assert_eq!(read(&bytes, Some("model.stl"), &limits()).unwrap().triangle_count(), 12);
    // A binary STL with a lying header cannot be recognised by size; the extension decides.
    assert!(matches!(read(&binary_stl(1000, 12), Some("m.stl"), &limits()), Err(ReadError::StlTruncated { .. })));
}

// ---- The committed corpus ------------------------------------------------------------------------

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Regenerates `tests/corpus` (run with `--ignored` after changing the broken files above).
#[test]
#[ignore]
fn regenerate_corpus() {
    let bad = corpus().join("bad");
    let good = corpus().join("good");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::create_dir_all(&good).unwrap();
    for (name, bytes) in broken_files() {
        std::fs::write(bad.join(name), bytes).unwrap();
    }
    let model = two_objects();
    for format in [Format::Stl, Format::ThreeMf, Format::Glb, Format::Gltf, Format::Obj] {
        std::fs::write(good.join(format!("two_objects.{}", format.extension())), write(&model, format).unwrap())
            .unwrap();
    }
    std::fs::write(good.join("ascii.stl"), b"solid tri\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid tri\n").unwrap();
    std::fs::write(
        good.join("hierarchy.gltf"),
        gltf_json(r#"{"translation":[0,2,0],"children":[1]},{"mesh":0}"#, "0", 3),
    )
    .unwrap();
}

#[test]
fn corpus_files_read_or_fail_as_named() {
    let read_dir = |d: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(corpus().join(d)).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    let good = read_dir("good");
    assert!(good.len() >= 5);
    for path in good {
        let m = read_file(&path, &limits()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(m.triangle_count() > 0);
    }
    let bad = read_dir("bad");
    assert!(bad.len() >= 30);
    for path in bad {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        check_broken(&name, &std::fs::read(&path).unwrap(), &limits());
    }
}

// ---- Hostile input never panics ----------------------------------------------------------------

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    fn seeds() -> &'static [Vec<u8>] {
        static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        SEEDS.get_or_init(make_seeds)
    }

    fn make_seeds() -> Vec<Vec<u8>> {
        let model = two_objects();
        let mut v: Vec<Vec<u8>> = [Format::Stl, Format::ThreeMf, Format::Glb, Format::Gltf, Format::Obj]
            .iter()
            .map(|&f| write(&model, f).unwrap())
            .collect();
        v.extend(broken_files().into_iter().map(|(_, b)| b).filter(|b| b.len() < 100_000));
        v
    }

    fn small_limits() -> Limits {
        Limits { max_triangles: 5_000, max_uncompressed_bytes: 1 << 20, max_depth: 16, max_objects: 100 }
    }

    fn check(bytes: &[u8], hint: Option<&str>) {
        let limits = small_limits();
        if let Ok(m) = read(bytes, hint, &limits) {
            assert!(m.triangle_count() <= limits.max_triangles);
            assert!(m.objects.len() <= limits.max_objects);
            for o in &m.objects {
                assert!(o.mesh.vertices().iter().flatten().all(|c| c.is_finite()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), hint in 0usize..6) {
            let hints = [None, Some("stl"), Some("3mf"), Some("glb"), Some("gltf"), Some("obj")];
            check(&bytes, hints[hint]);
        }

        #[test]
        fn mutated_files_never_panic(
            seed in 0usize..64,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
            cut in any::<usize>(),
            do_cut in any::<bool>(),
        ) {
            let seeds = seeds();
            let mut bytes = seeds[seed % seeds.len()].clone();
            for (at, value) in edits {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = value;
                }
            }
            if do_cut && !bytes.is_empty() {
                bytes.truncate(cut % bytes.len());
            }
            check(&bytes, None);
            check(&bytes, Some("stl"));
        }
    }
}
