//! # slicer — turns placed meshes into G-code
//!
//! Input: a [`Plate`] of meshes already placed in bed coordinates, plus a [`Profile`] (printer, material,
//! quality). Output: [`SliceOutput`] with G-code that printer hosts understand (time, filament, thumbnails), a
//! [`SliceSummary`] and a compact per-layer [`preview::Preview`].
//!
//! Map, in pipeline order:
//! - [`settings`]: printer, material and quality profiles ([`Profile`]).
//! - [`layers`]: where each layer's slicing plane sits.
//! - [`section`]: mesh → closed outlines per layer (topological chaining, gap closing).
//! - [`geom`], [`index`]: polygon booleans and offsets (Clipper2), a grid index for clipping and travel checks.
//! - [`plan`]: walls, top/bottom/bridge/sparse regions, supports, skirt and brim.
//! - [`infill`]: fill patterns (rectilinear, grid, gyroid, honeycomb, concentric) and bridge direction.
//! - [`toolpath`]: the extrusion model (per-vertex width, roles).
//! - [`gcode`]: ordering, travel and retraction, cooling, labels, metadata; [`estimate`]: the planner time model.
//! - [`preview`]: layer data for the browser.

pub mod estimate;
pub mod gcode;
pub mod geom;
pub mod index;
pub mod infill;
pub mod layers;
pub mod plan;
pub mod preview;
pub mod section;
pub mod settings;
pub mod toolpath;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use glam::DVec2;
use rayon::prelude::*;

pub use settings::{
    import_prusa_ini, render_template, Flavour, MaterialProfile, PrinterProfile, Profile, PrusaImport, QualityProfile,
    SettingsError, PLACEHOLDERS,
};

/// Why a plate could not be sliced.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SliceError {
    #[error("layer height must be positive and at most the nozzle diameter, got {0} mm")]
    BadLayerHeight(f32),
    #[error("the plate is empty: add at least one object")]
    EmptyPlate,
    #[error("object {name:?} has no triangles")]
    EmptyObject { name: String },
    #[error("object {name:?} is outside the {bed_x}×{bed_y} mm bed (it spans x {min_x:.1}…{max_x:.1}, y {min_y:.1}…{max_y:.1})")]
    OffBed { name: String, bed_x: f64, bed_y: f64, min_x: f64, max_x: f64, min_y: f64, max_y: f64 },
    #[error("object {name:?} is {height:.1} mm tall but the printer reaches only {max:.1} mm")]
    TooTall { name: String, height: f64, max: f64 },
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error("nothing to print: the objects are flatter than one layer")]
    NothingToPrint,
    #[error("slicing was cancelled")]
    Cancelled,
}

/// One object on the plate: a name (shown by hosts, used to cancel it alone) and its mesh in bed coordinates.
#[derive(Debug, Clone)]
pub struct PlateObject {
    pub name: String,
    pub mesh: mesh::IndexedMesh,
}

/// Everything to print in one go.
#[derive(Debug, Clone, Default)]
pub struct Plate {
    pub objects: Vec<PlateObject>,
}

impl Plate {
    /// A plate from named meshes that are already placed.
    pub fn from_meshes(meshes: Vec<(String, mesh::IndexedMesh)>) -> Self {
        Plate { objects: meshes.into_iter().map(|(name, mesh)| PlateObject { name, mesh }).collect() }
    }

    /// A plate from loaded models, one object per model object. Placement is kept when every object already
    /// stands inside the bed (files exported from another slicer); otherwise all are arranged afresh.
    pub fn arranged(models: Vec<(String, mesh::Model)>, bed: &settings::BedShape) -> Self {
        let mut names = Vec::new();
        let mut meshes = Vec::new();
        for (name, model) in models {
            let many = model.objects.len() > 1;
            for (i, o) in model.objects.iter().enumerate() {
                let label = match (many, o.name.is_empty()) {
                    (true, false) => format!("{name}-{}", o.name),
                    (true, true) => format!("{name}-{i}"),
                    _ => name.clone(),
                };
                names.push(label);
                meshes.push(o.placed_mesh());
            }
        }
        let (bx, by) = bed.size();
        let fits = meshes.iter().all(|m| {
            m.bounding_box().is_some_and(|b| {
                b.min[2] > -0.01
                    && b.min[2] < 0.01
                    && m.vertices().iter().all(|v| bed.contains(v[0] as f64, v[1] as f64))
            })
        });
        if !fits {
            mesh::ops::arrange(&mut meshes, [bx as f32, by as f32], 6.0);
        }
        Plate::from_meshes(names.into_iter().zip(meshes).collect())
    }
}

/// Pipeline stages, reported with progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Slicing,
    Perimeters,
    Infill,
    Supports,
    GCode,
    Done,
}

/// A progress report: the stage and how far through the whole job (0–1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Progress {
    pub stage: Stage,
    pub fraction: f32,
}

/// Callback receiving progress reports from worker threads.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How the caller watches and steers a slice: progress, cancel, and the timestamp written in the header.
#[derive(Clone, Default)]
pub struct SliceControl {
    pub progress: Option<ProgressFn>,
    pub cancel: Arc<AtomicBool>,
    /// Header time; `None` = now. Fixed in tests so output is reproducible.
    pub timestamp: Option<SystemTime>,
}

impl SliceControl {
    fn report(&self, stage: Stage, fraction: f32) {
        if let Some(p) = &self.progress {
            p(Progress { stage, fraction: fraction.clamp(0.0, 1.0) });
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Numbers the scheduler and UI show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SliceSummary {
    pub layers: usize,
    pub objects: usize,
    pub print_time_s: f64,
    pub filament_mm: f64,
    pub filament_cm3: f64,
    pub filament_g: f64,
    pub cost: f64,
    pub max_z: f64,
    pub gcode_lines: usize,
    pub gcode_bytes: usize,
}

/// What a slice produces.
pub struct SliceOutput {
    pub gcode: Vec<u8>,
    pub summary: SliceSummary,
    pub preview: preview::Preview,
    pub layer_times_s: Vec<f64>,
}

fn check(plate: &Plate, profile: &Profile) -> Result<(), SliceError> {
    profile.validate().map_err(|e| SliceError::Settings(e.to_string()))?;
    let q = &profile.quality;
    let nozzle = profile.printer.nozzle_diameter;
    for h in [q.layer_height, q.first_layer_height] {
        if !(h > 0.0 && h <= nozzle) {
            return Err(SliceError::BadLayerHeight(h as f32));
        }
    }
    let positive = nozzle > 0.0 && profile.material.diameter > 0.0 && q.width(nozzle) > q.layer_height;
    if !positive {
        return Err(SliceError::Settings(
            "nozzle, filament diameter and line width must be positive and the line wider than the layer".into(),
        ));
    }
    if plate.objects.is_empty() {
        return Err(SliceError::EmptyPlate);
    }
    let (bed_x, bed_y) = profile.printer.bed.size();
    for o in &plate.objects {
        let Some(bb) = o.mesh.bounding_box() else { return Err(SliceError::EmptyObject { name: o.name.clone() }) };
        let (min, max) = (bb.min.map(f64::from), bb.max.map(f64::from));
        let eps = 1e-3;
        let on_bed = match profile.printer.bed {
            settings::BedShape::Rectangle { .. } => {
                min[0] >= -eps && min[1] >= -eps && max[0] <= bed_x + eps && max[1] <= bed_y + eps
            }
            settings::BedShape::Circle { diameter } => {
                let r = diameter / 2.0 + eps;
                o.mesh
                    .vertices()
                    .iter()
                    .all(|v| (v[0] as f64 - diameter / 2.0).hypot(v[1] as f64 - diameter / 2.0) <= r)
            }
        };
        if !on_bed {
            return Err(SliceError::OffBed {
                name: o.name.clone(),
                bed_x,
                bed_y,
                min_x: min[0],
                max_x: max[0],
                min_y: min[1],
                max_y: max[1],
            });
        }
        let height = max[2] - min[2];
        if height > profile.printer.max_height + eps {
            return Err(SliceError::TooTall { name: o.name.clone(), height, max: profile.printer.max_height });
        }
    }
    Ok(())
}

/// Civil date and time (UTC) of a system time.
fn utc(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, (rem / 3600) as u32, (rem / 60 % 60) as u32, (rem % 60) as u32)
}

/// Slices a plate: the whole pipeline from meshes to G-code, parallel per layer.
pub fn slice(plate: &Plate, profile: &Profile, control: &SliceControl) -> Result<SliceOutput, SliceError> {
    check(plate, profile)?;
    let q = &profile.quality;
    let nozzle = profile.printer.nozzle_diameter;
    control.report(Stage::Slicing, 0.0);
    // Objects rest on the bed: anything floating is dropped onto it, as every slicer does.
    let meshes: Vec<mesh::IndexedMesh> = plate
        .objects
        .iter()
        .map(|o| {
            let mut m = o.mesh.clone();
            let bb = m.bounding_box().expect("checked");
            if bb.min[2].abs() > 1e-6 {
                m.translate([0.0, 0.0, -bb.min[2]]);
            }
            m
        })
        .collect();
    let height = meshes.iter().filter_map(|m| m.bounding_box()).map(|b| b.max[2] as f64).fold(0.0, f64::max);
    let plan = layers::plan_layers(height as f32, q.first_layer_height as f32, q.layer_height as f32)?;
    if plan.is_empty() {
        return Err(SliceError::NothingToPrint);
    }
    let specs: Vec<plan::LayerSpec> = plan
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let width = if i == 0 { q.first_width(nozzle) } else { q.width(nozzle) };
            plan::LayerSpec {
                z: l.top as f64,
                height: l.height as f64,
                bead: plan::Bead { width, height: l.height as f64 },
            }
        })
        .collect();
    let slice_zs: Vec<f64> = specs.iter().map(|s| s.z - s.height / 2.0).collect();
    let n_obj = meshes.len() as f32;
    let cancelled = || control.cancelled();

    // Per object: outlines, walls, fills, supports.
    let mut per_object: Vec<Vec<toolpath::ObjectLayer>> = Vec::with_capacity(meshes.len());
    let mut first_layers: Vec<geom::Polygons> = Vec::new();
    let mut outlines_for_labels: Vec<geom::Polygons> = Vec::new();
    for (oi, m) in meshes.iter().enumerate() {
        let base = oi as f32 / n_obj;
        let outlines = section::slice_mesh(m, &slice_zs, &cancelled);
        if cancelled() {
            return Err(SliceError::Cancelled);
        }
        control.report(Stage::Perimeters, base + 0.25 / n_obj);
        let walled: Vec<plan::WalledLayer> =
            outlines.par_iter().zip(specs.par_iter()).map(|(o, s)| plan::walls(o, s.bead, q.perimeters)).collect();
        if cancelled() {
            return Err(SliceError::Cancelled);
        }
        control.report(Stage::Supports, base + 0.45 / n_obj);
        let support_regions = plan::supports(&outlines, &specs, profile);
        control.report(Stage::Infill, base + 0.55 / n_obj);
        let bb = m.bounding_box().expect("checked");
        // Aligned seams aim at the object's rear right, where they are least visible from the front.
        let seam_ref = DVec2::new(bb.max[0] as f64 + 10.0, bb.max[1] as f64 + 10.0);
        let layers: Vec<toolpath::ObjectLayer> = (0..specs.len())
            .into_par_iter()
            .map(|i| {
                if cancelled() {
                    return toolpath::ObjectLayer::default();
                }
                let spec = &specs[i];
                let fills = walled[i]
                    .islands
                    .iter()
                    .map(|isl| {
                        let regions = plan::classify(&isl.inner, &outlines, i, q.top_layers, q.bottom_layers);
                        plan::fill_island(&regions, profile, i, spec)
                    })
                    .collect();
                let support = plan::support_paths(&support_regions[i], profile, spec);
                // Walls beyond the layer below (grown by half a bead) hang in the air.
                let below = (i > 0 && !outlines[i - 1].is_empty())
                    .then(|| index::RegionIndex::new(&geom::offset(&outlines[i - 1], spec.bead.width / 2.0), 2.0));
                plan::object_layer(&walled[i], fills, support, profile, spec, seam_ref, below.as_ref())
            })
            .collect();
        if cancelled() {
            return Err(SliceError::Cancelled);
        }
        let mut first = outlines.first().cloned().unwrap_or_default();
        if let Some(s) = support_regions.first() {
            first = geom::union2(&geom::union2(&first, &s.base), &s.interface);
        }
        outlines_for_labels.push(
            outlines
                .iter()
                .max_by(|a, b| geom::total_area(a).total_cmp(&geom::total_area(b)))
                .cloned()
                .unwrap_or_default(),
        );
        first_layers.push(first);
        per_object.push(layers);
    }

    // Adhesion on the first layer around all objects together.
    let first_all: geom::Polygons = first_layers.concat();
    let mut adhesion = plan::brim(&first_all, profile, specs[0].bead);
    let brim_outline =
        if q.brim_width > 0.0 { geom::offset(&geom::union(&first_all), q.brim_width) } else { first_all.clone() };
    let mut skirt = plan::skirt(&brim_outline, profile, specs[0].bead);
    skirt.append(&mut adhesion);
    let adhesion = skirt;

    let mut layer_paths: Vec<toolpath::LayerPaths> = specs
        .iter()
        .map(|s| toolpath::LayerPaths { z: s.z, height: s.height, adhesion: Vec::new(), objects: Vec::new() })
        .collect();
    layer_paths[0].adhesion = adhesion;
    for obj_layers in per_object {
        for (lp, ol) in layer_paths.iter_mut().zip(obj_layers) {
            lp.objects.push(ol);
        }
    }
    // Trailing layers with nothing to print (a mesh top exactly at a plane) are dropped.
    while layer_paths.len() > 1
        && layer_paths.last().is_some_and(|l| l.objects.iter().all(|o| o.islands.is_empty() && o.support.is_empty()))
    {
        layer_paths.pop();
    }

    // Thumbnails of the whole plate.
    let merged = mesh::ops::merge(&meshes);
    let thumbs: Vec<(u32, u32, Vec<u8>)> = q
        .thumbnails
        .iter()
        .filter_map(|&[w, h]| {
            let opts = mesh::thumbnail::ThumbnailOptions::sized(w, h);
            mesh::thumbnail::render_png(&merged, &opts).ok().map(|png| (w, h, png))
        })
        .collect();
    let names: Vec<String> = plate
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let clean: String = o
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
                .collect();
            if clean.is_empty() {
                format!("object_{i}")
            } else {
                format!("{clean}_id{i}")
            }
        })
        .collect();
    let header = gcode::Header {
        timestamp: utc(control.timestamp.unwrap_or_else(SystemTime::now)),
        thumbnails: &thumbs,
        object_names: &names,
        object_outlines: &outlines_for_labels,
    };
    control.report(Stage::GCode, 0.9);
    let report_gcode = |f: f32| control.report(Stage::GCode, 0.9 + 0.1 * f);
    let (text, totals) =
        gcode::write(&layer_paths, profile, &header, &report_gcode, &cancelled).ok_or(SliceError::Cancelled)?;
    let preview = preview::Preview::from_layers(&layer_paths);
    let summary = SliceSummary {
        layers: layer_paths.len(),
        objects: plate.objects.len(),
        print_time_s: totals.print_time_s,
        filament_mm: totals.filament_mm,
        filament_cm3: totals.filament_cm3,
        filament_g: totals.filament_g,
        cost: totals.cost,
        max_z: layer_paths.last().map_or(0.0, |l| l.z),
        gcode_lines: text.lines().count(),
        gcode_bytes: text.len(),
    };
    control.report(Stage::Done, 1.0);
    Ok(SliceOutput { gcode: text.into_bytes(), summary, preview, layer_times_s: totals.layer_times_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube_plate() -> Plate {
        let cube = mesh::primitives::box_mesh([100.0, 100.0, 0.0], [120.0, 120.0, 20.0]);
        Plate::from_meshes(vec![("cube".into(), cube)])
    }

    #[test]
    fn cube_slices_to_marked_gcode() {
        let fixed = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_000_000);
        let control = SliceControl { timestamp: Some(fixed), ..Default::default() };
        let out = slice(&cube_plate(), &Profile::default(), &control).unwrap();
        let text = String::from_utf8(out.gcode).unwrap();
        assert!(text.starts_with("; generated by Printfarm "), "{}", &text[..80]);
        assert!(text.contains(" on 2025-11-24 at 16:00:00"), "{}", &text[..100]);
        assert_eq!(out.summary.layers, 100);
        assert_eq!(text.matches(";LAYER_CHANGE").count(), 100);
        assert!(text.contains(";TYPE:External perimeter"));
        assert!(text.contains(";TYPE:Internal infill"));
        assert!(text.contains(";TYPE:Top solid infill"));
        assert!(text.contains("; estimated printing time (normal mode) = "));
        assert!(text.contains("; thumbnail begin 32x32 "));
        eprintln!("{:#?}", out.summary);
        // PrusaSlicer 2.5 uses 1354 mm on this cube with the same settings.
        assert!((out.summary.filament_mm / 1354.42 - 1.0).abs() < 0.15, "{}", out.summary.filament_mm);
    }

    #[test]
    fn cancel_stops_the_slice() {
        let control = SliceControl::default();
        control.cancel.store(true, Ordering::Relaxed);
        assert_eq!(slice(&cube_plate(), &Profile::default(), &control).err(), Some(SliceError::Cancelled));
    }

    #[test]
    fn an_object_off_the_bed_is_refused() {
        let cube = mesh::primitives::box_mesh([210.0, 0.0, 0.0], [230.0, 20.0, 20.0]);
        let err = slice(&Plate::from_meshes(vec![("big".into(), cube)]), &Profile::default(), &SliceControl::default());
        assert!(matches!(err, Err(SliceError::OffBed { .. })), "{:?}", err.err());
    }
}
#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    fn soup(bytes: &[u8]) -> mesh::IndexedMesh {
        let tris: Vec<[[f32; 3]; 3]> = bytes
            .chunks_exact(9)
            .map(|c| {
                let p = |i: usize| [60.0 + c[i] as f32 / 6.4, 60.0 + c[i + 1] as f32 / 6.4, c[i + 2] as f32 / 12.8];
                [p(0), p(3), p(6)]
            })
            .collect();
        mesh::weld::weld_exact(&tris).unwrap()
    }

    #[test]
    fn a_lone_sliver_triangle_finishes() {
        run(&[0x2f, 0, 3, 0, 0, 0, 0, 0, 0, 0x2f, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0x72]);
    }

    #[test]
    fn two_crossed_slivers_finish() {
        run(&[0x0b, 0, 0x7d, 0x29, 2, 0, 0x11, 0x3d, 0, 0x25, 0, 2, 0x7a, 0, 0x23, 0, 0, 0x80, 0x60]);
    }

    fn run(bytes: &[u8]) {
        let m = soup(bytes);
        let mut profile = Profile::default();
        profile.quality.thumbnails.clear();
        profile.quality.layer_height = 0.3;
        profile.quality.first_layer_height = 0.3;
        profile.quality.supports.enabled = bytes[0] & 1 == 1;
        let control = SliceControl { progress: Some(Arc::new(|p: Progress| eprintln!("{p:?}"))), ..Default::default() };
        let _ = slice(&Plate::from_meshes(vec![("x".into(), m)]), &profile, &control);
    }
}
