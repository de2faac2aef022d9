//! `printfarm mesh ...` on real files: check, repair, convert, thumbnail, and garbage in.

use std::path::Path;
use std::process::{Command, Output};

use mesh::io::{write, Format};
use mesh::{IndexedMesh, Model};

const BIN: &str = env!("CARGO_BIN_EXE_printfarm");

fn printfarm(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(dir).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn info_convert_and_thumbnail_a_cube() {
    let dir = tempfile::tempdir().unwrap();
    let stl = write(&Model::single("cube", IndexedMesh::cube(10.0)), Format::Stl).unwrap();
    std::fs::write(dir.path().join("cube.stl"), stl).unwrap();

    let report = json(&printfarm(&["mesh", "info", "cube.stl", "--json", "--build-volume", "250x210x220"], dir.path()));
    let r = &report["report"];
    assert_eq!(r["watertight"], true);
    assert_eq!(r["printable"], true);
    assert_eq!(r["fits_build_volume"], true);
    assert!((r["volume_mm3"].as_f64().unwrap() - 1000.0).abs() < 1e-3, "{r}");

    assert!(printfarm(&["mesh", "convert", "cube.stl", "cube.3mf"], dir.path()).status.success());
    let again = json(&printfarm(&["mesh", "info", "cube.3mf", "--json"], dir.path()));
    assert!((again["report"]["volume_mm3"].as_f64().unwrap() - 1000.0).abs() < 1e-3);

    let out = printfarm(&["mesh", "thumbnail", "cube.3mf", "cube.png", "--size", "64x48"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(dir.path().join("cube.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let human = printfarm(&["mesh", "info", "cube.stl", "--build-volume", "5x5x5"], dir.path());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("printable     no"), "{text}");
}

#[test]
fn repair_closes_a_cube_with_a_missing_face() {
    let dir = tempfile::tempdir().unwrap();
    let cube = IndexedMesh::cube(10.0);
    let (v, mut t) = cube.into_parts();
    t.remove(0);
    let broken = IndexedMesh::new(v, t).unwrap();
    std::fs::write(dir.path().join("broken.stl"), write(&Model::single("broken", broken), Format::Stl).unwrap())
        .unwrap();

    let before = json(&printfarm(&["mesh", "info", "broken.stl", "--json"], dir.path()));
    assert_eq!(before["report"]["watertight"], false);
    assert_eq!(before["report"]["printable"], false);

    let fixed = json(&printfarm(&["mesh", "repair", "broken.stl", "fixed.stl", "--json"], dir.path()));
    assert_eq!(fixed[0]["report"]["holes_filled"], 1);
    let after = json(&printfarm(&["mesh", "info", "fixed.stl", "--json"], dir.path()));
    assert_eq!(after["report"]["watertight"], true);
    assert!((after["report"]["volume_mm3"].as_f64().unwrap() - 1000.0).abs() < 1e-3);
}

#[test]
fn garbage_and_unknown_formats_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.stl"), b"this is not a model at all").unwrap();
    let out = printfarm(&["mesh", "info", "junk.stl"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read junk.stl"));

    std::fs::write(
        dir.path().join("cube.stl"),
        write(&Model::single("c", IndexedMesh::cube(1.0)), Format::Stl).unwrap(),
    )
    .unwrap();
    let out = printfarm(&["mesh", "convert", "cube.stl", "cube.xyz"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell the output format"));
}
