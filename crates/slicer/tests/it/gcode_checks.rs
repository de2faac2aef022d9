//! Issue #4's correctness requirements: slice each known mesh with the default PLA profile and run the
//! independent checker (tests/checker, no slicer code) over the G-code. Every check must pass.

use crate::checker;

use std::time::{Duration, UNIX_EPOCH};

use checker::{check, meshes, Config, Report};

/// The checker's expectations, read from the profile the slice used (settings only, no slicer code).
fn config_for(p: &slicer::Profile) -> Config {
    let q = &p.quality;
    let (bx, by) = p.printer.bed.size();
    Config {
        layer_height: q.layer_height,
        first_layer_height: q.first_layer_height,
        line_width: q.width(p.printer.nozzle_diameter),
        filament_diameter: p.material.diameter,
        bed: [bx, by],
        perimeters: q.perimeters,
        top_layers: q.top_layers,
        bottom_layers: q.bottom_layers,
        infill_density: q.infill_density,
        skirt_distance: q.skirt_distance,
        skirt_loops: q.skirt_loops,
        brim_width: q.brim_width,
        require_thumbnails: !q.thumbnails.is_empty(),
        allow_model_overhang: !q.supports.enabled,
        support_gap_layers: q.supports.z_gap_layers,
        ..Config::default()
    }
}

fn slice_and_check(name: &str, tweak: impl FnOnce(&mut slicer::Profile)) -> Report {
    let mesh = meshes::build(name).expect("known mesh");
    let mut profile = slicer::Profile::default();
    tweak(&mut profile);
    let plate = slicer::Plate::from_meshes(vec![(name.to_string(), mesh.clone())]);
    let control =
        slicer::SliceControl { timestamp: Some(UNIX_EPOCH + Duration::from_secs(1_764_064_800)), ..Default::default() };
    let out = slicer::slice(&plate, &profile, &control).expect("the mesh slices");
    let gcode = String::from_utf8(out.gcode).expect("G-code is UTF-8");
    let report = check(&gcode, &mesh, &config_for(&profile));
    eprintln!("{name}:\n{report}");
    // The summary the UI shows must agree with the footer hosts read.
    let claim = report.numbers.filament_claim_mm.expect("footer filament");
    assert!(
        (out.summary.filament_mm - claim).abs() <= 0.01 * claim.max(1.0),
        "summary {} vs footer {claim}",
        out.summary.filament_mm
    );
    report
}

fn assert_all_pass(r: &Report) {
    assert!(r.all_pass(), "failed checks {:?}:\n{r}", r.failed());
}

#[test]
fn cube() {
    assert_all_pass(&slice_and_check("cube20", |_| {}));
}

#[test]
fn sphere() {
    assert_all_pass(&slice_and_check("sphere40", |_| {}));
}

#[test]
fn torus() {
    assert_all_pass(&slice_and_check("torus", |_| {}));
}

#[test]
fn thin_walled_tube() {
    assert_all_pass(&slice_and_check("tube", |_| {}));
}

#[test]
fn overhang_without_support_bridges() {
    // The 10 mm gap must be bridged from pillar to pillar; the 45° side needs nothing.
    let r = slice_and_check("overhang", |_| {});
    assert_all_pass(&r);
    assert!(r.numbers.rest_bridges > 0, "no bridge found over the gap:\n{r}");
}

#[test]
fn overhang_with_support() {
    // With supports on, nothing at all may hang in the air (mesh overhangs are not excused).
    let r = slice_and_check("overhang", |p| p.quality.supports.enabled = true);
    assert_all_pass(&r);
}

#[test]
fn cantilever_with_support_rests_on_support() {
    // 10 mm cantilevers cannot be bridged: with supports on, every line must rest on the part or the
    // support below (within the profile's air gap), no mesh-overhang excuse.
    let r = slice_and_check("tee", |p| p.quality.supports.enabled = true);
    assert_all_pass(&r);
}

#[test]
fn cantilever_without_support_is_caught() {
    // The same part without support prints its cantilevers in mid-air; the strict rule must say so.
    let mesh = meshes::build("tee").unwrap();
    let profile = slicer::Profile::default();
    let plate = slicer::Plate::from_meshes(vec![("tee".into(), mesh.clone())]);
    let out = slicer::slice(&plate, &profile, &slicer::SliceControl::default()).unwrap();
    let cfg = Config { allow_model_overhang: false, ..config_for(&profile) };
    let r = check(&String::from_utf8(out.gcode).unwrap(), &mesh, &cfg);
    assert!(!r.get("rests_on").pass, "{r}");
    assert!(r.numbers.rest_failures > 0);
}

#[test]
fn mesh_with_holes() {
    assert_all_pass(&slice_and_check("holey_cube", |_| {}));
}

#[test]
fn dense_sphere() {
    assert_all_pass(&slice_and_check("dense_sphere", |_| {}));
}
