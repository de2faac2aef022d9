//! # finish — the one output path every generated object takes to become printable
//!
//! Both tiers end here. [`finish`] takes a [`RawShape`]:
//!
//! - [`RawShape::Mesh`] (procedural templates: exact meshes): repair if it is not closed, turn it
//!   right side out, scale if asked, place it on the bed centred on the origin, decimate above the
//!   triangle budget, validate.
//! - [`RawShape::Field`] (Shap-E: a signed field on a grid, negative inside, any units): on a voxel
//!   grid at print scale (see `voxel.rs`) — orient z-up, scale, drop floating pieces, fill hidden
//!   cavities, thicken thin parts to the minimum wall, flatten the bottom or add a plinth — then
//!   marching cubes, decimation, exact final scale, bed placement, validation.
//!
//! The result is always checked with [`mesh::validate::validate`]; an unprintable result is an error
//! listing the validator's reasons, never a silent return. [`Finished`] then writes 3MF, STL or GLB
//! and draws a PNG thumbnail.
//!
//! What the field path guarantees: one closed, consistently oriented shell (components and cavities
//! are counted with the same neighbourhood marching cubes connects through, see `voxel.rs`); the
//! largest dimension exactly the target; on the voxel grid, every thin feature grown so it lies in
//! balls of diameter `min_wall_mm` (not the roots where a feature meets a thick part, not sharp
//! corners of thick parts, not detail finer than the generator's own grid); a flat bottom of at least
//! the needed contact area, or a plinth. The mesh path trusts its templates for walls and bases.
//!
//! Cost (2-core dev box, under load): cleanup + marching cubes of a 128³ Shap-E-sized field is about
//! 150–250 ms at 0.4–0.5 mm voxels; QEM decimation of the resulting 350–650 k triangles to 100 k takes
//! 1–2 s and dominates (`benches/finish.rs`).

mod voxel;

use std::time::Instant;

use mesh::io::Format;
use mesh::marching_cubes::{marching_cubes, SdfGrid};
use mesh::topology::EdgeMap;
use mesh::validate::{validate, ValidationReport};
use mesh::{IndexedMesh, Model, Rgba};

/// What to do about the bottom of a field-path object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseMode {
    /// Flatten the bottom by cutting a little off (at most 2 mm or 10 % of the height) until the
    /// contact area is enough to stand and stick; if that is not enough, add a 1.5 mm plinth under
    /// the object's shadow instead.
    #[default]
    Auto,
    /// Always cut for a flat bottom (up to a quarter of the height), never add a plinth.
    Flatten,
    /// Leave the bottom as it is.
    None,
}

/// Which axis of a field's grid points up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Axis {
    X,
    Y,
    /// Shap-E's convention.
    #[default]
    Z,
}

/// How to finish an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishOptions {
    /// Scale so the largest dimension equals this (mm). `None` keeps a mesh's size; a field (which has
    /// no size of its own) then gets [`crate::DEFAULT_SIZE_MM`].
    pub target_size_mm: Option<f32>,
    /// Thinnest wall or feature (mm) the field path leaves; 0 turns thickening off.
    pub min_wall_mm: f32,
    /// Decimate above this many triangles.
    pub max_triangles: usize,
    /// Bottom treatment (field path).
    pub base: BaseMode,
    /// Printer build volume (mm) to validate against.
    pub build_volume: [f32; 3],
    /// Voxel size at print scale for the field cleanup, 0.05 to 2 mm. Raised automatically so the
    /// object spans at most 150 voxels (the grid stays ≤ ~170³, ~5 M voxels). The minimum wall holds
    /// while the voxel is at most half of it (0.6 mm for the default 1.2 mm wall: objects up to 90 mm
    /// at 150 voxels); beyond that, thin parts are made at least two voxels thick.
    pub voxel_mm: f32,
}

impl Default for FinishOptions {
    fn default() -> Self {
        Self {
            target_size_mm: None,
            min_wall_mm: 1.2,
            max_triangles: 100_000,
            base: BaseMode::Auto,
            build_volume: [180.0; 3],
            voxel_mm: 0.4,
        }
    }
}

/// What a generator produced.
#[derive(Debug, Clone)]
pub enum RawShape {
    /// An exact mesh (procedural tier).
    Mesh(IndexedMesh),
    /// A signed field in arbitrary units, negative inside (Shap-E gives the [-1, 1] cube).
    Field { grid: SdfGrid, up: Axis },
}

/// A printable object.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Millimetres, z-up, lowest point at z = 0, footprint centred on x = y = 0.
    pub mesh: IndexedMesh,
    /// The validator's report on `mesh` (always `printable`).
    pub report: ValidationReport,
    /// What was done, in words ("removed 3 floating pieces", "added a 1.6 mm base under it").
    pub steps: Vec<String>,
    /// Wall time per stage in milliseconds, in order (for benchmarks and logs).
    pub timings: Vec<(&'static str, f64)>,
}

/// File formats [`Finished::export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    ThreeMf,
    Stl,
    Glb,
}

impl ExportFormat {
    fn format(self) -> Format {
        match self {
            ExportFormat::ThreeMf => Format::ThreeMf,
            ExportFormat::Stl => Format::Stl,
            ExportFormat::Glb => Format::Glb,
        }
    }
    pub fn extension(self) -> &'static str {
        self.format().extension()
    }
}

/// Why an object could not be finished. Messages are for the person who asked for it.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("the generator made nothing solid; try another prompt or seed")]
    Empty,
    #[error("the finishing settings are not usable: {0}")]
    BadOptions(String),
    #[error("the generator's output grid is not usable ({0}); try again, and report it if it keeps happening")]
    BadGrid(String),
    #[error("the shape has holes that could not be closed ({0}); try another prompt or template settings")]
    Unrepairable(String),
    #[error("the result would not print: {}", .0.join(" "))]
    NotPrintable(Vec<String>),
    #[error("the model could not be written as {format}: {message}")]
    Export { format: &'static str, message: String },
    #[error("the preview picture could not be drawn: {0}")]
    Thumbnail(String),
}

/// Stage timer.
#[derive(Debug, Default)]
pub(crate) struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    fn start(&self) -> Instant {
        Instant::now()
    }
    fn stop(&mut self, stage: &'static str, t: Instant) {
        self.0.push((stage, t.elapsed().as_secs_f64() * 1e3));
    }
}

/// A field whose surface needs more than this many times the triangle budget is rebuilt coarser.
const ROUGH_FACTOR: usize = 6;
/// Each rebuild grows the voxel by this factor…
const COARSER: f32 = 1.6;
/// …up to the largest voxel the options allow.
const MAX_VOXEL_MM: f32 = 2.0;

/// Makes `raw` printable; see the module docs for the steps.
pub fn finish(raw: RawShape, opts: &FinishOptions) -> Result<Finished, FinishError> {
    check_options(opts)?;
    let mut steps = Vec::new();
    let mut timings = Timings::default();
    let is_field = matches!(raw, RawShape::Field { .. });
    let (mut mesh, target) = match raw {
        RawShape::Mesh(m) => (prepare_mesh(m, &mut steps)?, opts.target_size_mm),
        RawShape::Field { grid, up } => {
            // A rough field (a poor sample, untrained weights) can give millions of triangles that no
            // simplification keeps closed; then the cleanup runs again on coarser voxels.
            let mut voxel_mm = opts.voxel_mm;
            loop {
                let attempt = FinishOptions { voxel_mm, ..opts.clone() };
                let mut attempt_steps = Vec::new();
                let (work, target) = voxel::clean_field(&grid, up, &attempt, &mut attempt_steps, &mut timings)?;
                let t = timings.start();
                let cleaned = work.into_grid()?;
                let m = marching_cubes(&cleaned);
                timings.stop("marching cubes", t);
                if m.triangle_count() == 0 {
                    return Err(FinishError::Empty);
                }
                let coarser = (voxel_mm * COARSER).min(MAX_VOXEL_MM);
                if m.triangle_count() > ROUGH_FACTOR * opts.max_triangles && coarser > voxel_mm {
                    voxel_mm = coarser;
                    continue;
                }
                steps.extend(attempt_steps);
                if voxel_mm > opts.voxel_mm {
                    steps.push(format!(
                        "the surface was very rough, so it was rebuilt from {voxel_mm:.2} mm voxels to keep the file a sensible size"
                    ));
                }
                break (m, Some(target));
            }
        }
    };
    let t = timings.start();
    mesh = decimate_closed(mesh, opts.max_triangles, &mut steps);
    timings.stop("decimate", t);
    if let Some(target) = target {
        if let Some(f) = scale_to_largest(&mut mesh, target) {
            if is_field || (f - 1.0).abs() > 1e-3 {
                steps.push(format!("sized it to {target:.0} mm on its longest side"));
            }
        }
    }
    place(&mut mesh);
    let t = timings.start();
    let report = validate(&mesh, Some(opts.build_volume));
    timings.stop("validate", t);
    if !report.printable {
        return Err(FinishError::NotPrintable(report.reasons));
    }
    Ok(Finished { mesh, report, steps, timings: timings.0 })
}

fn check_options(o: &FinishOptions) -> Result<(), FinishError> {
    if let Some(t) = o.target_size_mm {
        if !(t.is_finite() && t > 0.0) {
            return Err(FinishError::BadOptions(format!("a size of {t} mm is not possible")));
        }
    }
    if !(o.min_wall_mm.is_finite() && (0.0..=20.0).contains(&o.min_wall_mm)) {
        return Err(FinishError::BadOptions(format!("a minimum wall of {} mm is not possible", o.min_wall_mm)));
    }
    if !(o.voxel_mm.is_finite() && (0.05..=2.0).contains(&o.voxel_mm)) {
        return Err(FinishError::BadOptions(format!(
            "a voxel size of {} mm is not possible (0.05 to 2 mm)",
            o.voxel_mm
        )));
    }
    if o.build_volume.iter().any(|&v| !(v.is_finite() && v > 0.0)) {
        return Err(FinishError::BadOptions("the build volume must be positive".into()));
    }
    if o.max_triangles < 100 {
        return Err(FinishError::BadOptions(format!("{} triangles is too few to keep a shape", o.max_triangles)));
    }
    Ok(())
}

/// Mesh path: closed and outward-facing, or an error.
fn prepare_mesh(m: IndexedMesh, steps: &mut Vec<String>) -> Result<IndexedMesh, FinishError> {
    if m.triangle_count() == 0 {
        return Err(FinishError::Empty);
    }
    let mut m = m;
    if !EdgeMap::new(&m).is_closed_and_oriented() {
        let (fixed, report) = mesh::repair::repair(&m, &mesh::repair::RepairOptions::default());
        if !report.is_clean() {
            return Err(FinishError::Unrepairable(format!(
                "{} open edges, {} edges shared by more than two faces",
                report.open_edges.count, report.non_manifold_edges.count
            )));
        }
        steps.push(format!(
            "repaired the surface ({} holes filled, {} faces flipped, {} vertices merged)",
            report.holes_filled, report.faces_flipped, report.vertices_welded
        ));
        m = fixed;
    }
    if m.signed_volume() < 0.0 {
        let (v, mut t) = m.into_parts();
        for tri in &mut t {
            tri.swap(1, 2);
        }
        m = IndexedMesh::new(v, t).map_err(|e| FinishError::Unrepairable(e.to_string()))?;
        steps.push("turned it right side out".to_string());
    }
    if m.triangle_count() == 0 || m.signed_volume() <= 0.0 {
        return Err(FinishError::Empty);
    }
    Ok(m)
}

/// Closed, consistently oriented, and how many shells.
fn closure(m: &IndexedMesh) -> (bool, usize) {
    let e = EdgeMap::new(m);
    (e.is_closed_and_oriented(), e.shells(m.triangle_count()).1)
}

/// Decimates to `max` triangles but never returns an opened surface: if the decimated mesh is not
/// closed, has a different number of shells, or lost more than 2 % of its volume, a gentler target is
/// tried, and finally the mesh is kept as it was.
fn decimate_closed(m: IndexedMesh, max: usize, steps: &mut Vec<String>) -> IndexedMesh {
    let before = m.triangle_count();
    if before <= max {
        return m;
    }
    let (closed, shells) = closure(&m);
    let volume = m.signed_volume();
    for target in [max, max + max / 4, max + max / 2] {
        if target >= before {
            break;
        }
        let d = mesh::ops::decimate::decimate(&m, target);
        let (c, s) = closure(&d);
        let dv = (d.signed_volume() - volume).abs() / volume.abs().max(f64::MIN_POSITIVE);
        if c == closed && s == shells && dv < 0.02 {
            steps.push(format!("simplified it from {} to {} triangles", before, d.triangle_count()));
            return d;
        }
    }
    steps.push(format!("kept all {before} triangles (simplifying would have damaged the surface)"));
    m
}

/// Scales about the origin so the largest bounding-box side equals `target`; returns the factor.
fn scale_to_largest(m: &mut IndexedMesh, target: f32) -> Option<f32> {
    let b = m.bounding_box()?;
    let largest = b.size().iter().copied().fold(0.0f32, f32::max);
    if largest.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let f = target / largest;
    if (f - 1.0).abs() > 1e-6 {
        mesh::ops::scale_uniform(m, f).ok()?;
    }
    Some(f)
}

/// Lowest point at z = 0, footprint centred on x = y = 0.
fn place(m: &mut IndexedMesh) {
    if let Some(b) = m.bounding_box() {
        m.translate([-(b.min[0] + b.max[0]) * 0.5, -(b.min[1] + b.max[1]) * 0.5, -b.min[2]]);
    }
}

impl Finished {
    /// The object as a one-object model named `name`, with an optional colour.
    pub fn model(&self, name: &str, colour: Option<Rgba>) -> Model {
        let mut model = Model::single(name, self.mesh.clone());
        if let Some(o) = model.objects.first_mut() {
            o.colour = colour;
        }
        model.metadata.insert("Title".to_string(), name.to_string());
        model.metadata.insert("Application".to_string(), "Printfarm".to_string());
        model
    }

    /// The object as a file. STL has no colour; 3MF and GLB carry it.
    pub fn export(&self, name: &str, format: ExportFormat, colour: Option<Rgba>) -> Result<Vec<u8>, FinishError> {
        mesh::io::write(&self.model(name, colour), format.format())
            .map_err(|e| FinishError::Export { format: format.extension(), message: e.to_string() })
    }

    /// A shaded isometric preview as PNG bytes.
    pub fn thumbnail_png(&self, width: u32, height: u32) -> Result<Vec<u8>, FinishError> {
        mesh::thumbnail::render_png(&self.mesh, &mesh::thumbnail::ThumbnailOptions::sized(width, height))
            .map_err(|e| FinishError::Thumbnail(e.to_string()))
    }
}

/// One colour for an object from many (e.g. Shap-E's per-vertex colours): the mean in linear light,
/// converted back to sRGB, so a half-black, half-white object comes out mid-grey as the eye sees it.
/// `None` when there are no colours.
pub fn average_colour(colours: &[Rgba]) -> Option<Rgba> {
    if colours.is_empty() {
        return None;
    }
    let to_linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let to_srgb = |l: f64| {
        let c = if l <= 0.003_130_8 { l * 12.92 } else { 1.055 * l.powf(1.0 / 2.4) - 0.055 };
        (c * 255.0).round().clamp(0.0, 255.0) as u8
    };
    let mut sum = [0f64; 4];
    for c in colours {
        for k in 0..3 {
            sum[k] += to_linear(c[k]);
        }
        sum[3] += f64::from(c[3]);
    }
    let n = colours.len() as f64;
    Some([to_srgb(sum[0] / n), to_srgb(sum[1] / n), to_srgb(sum[2] / n), (sum[3] / n).round() as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_colour_is_linear_light() {
        assert_eq!(average_colour(&[]), None);
        assert_eq!(average_colour(&[[10, 20, 30, 255]]), Some([10, 20, 30, 255]));
        let grey = average_colour(&[[0, 0, 0, 255], [255, 255, 255, 255]]).unwrap();
        assert_eq!(grey, [188, 188, 188, 255]);
    }

    #[test]
    fn options_are_checked() {
        let bad = FinishOptions { voxel_mm: 0.0, ..FinishOptions::default() };
        assert!(matches!(finish(RawShape::Mesh(IndexedMesh::cube(10.0)), &bad), Err(FinishError::BadOptions(_))));
        let bad = FinishOptions { target_size_mm: Some(f32::NAN), ..FinishOptions::default() };
        assert!(matches!(finish(RawShape::Mesh(IndexedMesh::cube(10.0)), &bad), Err(FinishError::BadOptions(_))));
    }

    #[test]
    fn mesh_path_places_and_scales() {
        let mut cube = IndexedMesh::cube(10.0);
        cube.translate([50.0, -20.0, 7.0]);
        let opts = FinishOptions { target_size_mm: Some(25.0), ..FinishOptions::default() };
        let f = finish(RawShape::Mesh(cube), &opts).unwrap();
        let b = f.mesh.bounding_box().unwrap();
        assert!((b.size()[0] - 25.0).abs() < 1e-4);
        assert!(b.min[2].abs() < 1e-5);
        assert!((b.min[0] + b.max[0]).abs() < 1e-4 && (b.min[1] + b.max[1]).abs() < 1e-4);
        assert!(f.report.printable);
    }

    #[test]
    fn inside_out_mesh_is_turned() {
        let (v, mut t) = IndexedMesh::cube(10.0).into_parts();
        for tri in &mut t {
            tri.swap(1, 2);
        }
        let f = finish(RawShape::Mesh(IndexedMesh::new(v, t).unwrap()), &FinishOptions::default()).unwrap();
        assert!(f.mesh.signed_volume() > 0.0);
        assert!(f.steps.iter().any(|s| s.contains("right side out")));
    }

    #[test]
    fn too_big_mesh_is_an_error_with_reasons() {
        let opts = FinishOptions { target_size_mm: Some(500.0), ..FinishOptions::default() };
        match finish(RawShape::Mesh(IndexedMesh::cube(10.0)), &opts) {
            Err(FinishError::NotPrintable(r)) => assert!(!r.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
