//! Our G-code as a printer host sees it: real Moonraker 0.11.0's metadata reader (installed by scripts/setup-test
//! into `$PRINTFARM_PEERS_DIR/moonraker`) must find the slicer, time, filament, layers and thumbnails.

use std::path::PathBuf;
use std::process::Command;

fn moonraker_venv() -> PathBuf {
    let dir = std::env::var_os("PRINTFARM_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/printfarm/peers"));
    dir.join("moonraker")
}

#[test]
fn moonraker_reads_our_metadata() {
    let venv = moonraker_venv();
    let python = venv.join("bin/python");
    let script = std::fs::read_dir(venv.join("lib"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("site-packages/moonraker/components/file_manager/metadata.py"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Moonraker is not installed at {}: run scripts/setup-test (it installs moonraker==0.11.0 from PyPI)",
                venv.display()
            )
        });

    let cube = mesh::primitives::box_mesh([100.0, 100.0, 0.0], [120.0, 115.0, 10.0]);
    let mut profile = slicer::Profile::default();
    profile.printer.flavour = slicer::Flavour::Klipper;
    let out = slicer::slice(
        &slicer::Plate::from_meshes(vec![("block".into(), cube)]),
        &profile,
        &slicer::SliceControl::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("block.gcode"), &out.gcode).unwrap();
    let run = Command::new(python)
        .arg(script)
        .arg("-p")
        .arg(dir.path())
        .args(["-f", "block.gcode", "--check-objects"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let json: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let m = &json["metadata"];
    assert_eq!(m["slicer"], "Printfarm", "{m}");
    assert_eq!(m["layer_count"], out.summary.layers as u64, "{m}");
    assert_eq!(m["estimated_time"].as_f64().unwrap().round(), out.summary.print_time_s.round(), "{m}");
    assert!((m["filament_total"].as_f64().unwrap() - out.summary.filament_mm).abs() < 0.01, "{m}");
    assert!((m["object_height"].as_f64().unwrap() - 10.0).abs() < 1e-6, "{m}");
    assert_eq!(m["layer_height"], 0.2);
    assert_eq!(m["first_layer_extr_temp"], 215.0);
    assert_eq!(m["filament_type"], "PLA");
    let thumbs = m["thumbnails"].as_array().unwrap();
    assert_eq!(thumbs.len(), 2, "{m}");
    assert!(thumbs.iter().all(|t| t["size"].as_u64().unwrap() > 0));
    // Moonraker wrote the PNGs it decoded from our base64 blocks.
    assert!(dir.path().join(".thumbs/block-220x124.png").is_file());
}
