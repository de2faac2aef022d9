//! Validation: is this mesh printable, and if not, why — in words a student understands.

use serde::Serialize;

use crate::repair::is_degenerate;
use crate::topology::{edge_samples, EdgeMap};
use crate::{IndexedMesh, Vec3};

/// Below this largest dimension (mm) a part is probably in the wrong unit (metres, or inches read
/// as mm would be 25× small) and too small to print anyway.
pub const TINY_MM: f32 = 1.0;
/// A typical 0.4 mm nozzle cannot lay down a wall thinner than its line width.
pub const THIN_MM: f32 = 0.4;
/// Sample locations listed per problem.
const SAMPLES: usize = 5;

/// A bounding box as it appears in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoxReport {
    pub min: Vec3,
    pub max: Vec3,
    pub size: Vec3,
}

/// Everything a user or the slicer needs to know about a mesh before printing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    pub triangle_count: usize,
    pub vertex_count: usize,
    /// Every edge has exactly two faces: the surface encloses a volume.
    pub watertight: bool,
    /// No edge has more than two faces.
    pub manifold: bool,
    /// Neighbouring faces agree on which side is outside.
    pub consistently_oriented: bool,
    pub shell_count: usize,
    /// Openings in the surface (closed loops of open edges).
    pub holes: usize,
    pub open_edges: usize,
    pub non_manifold_edges: usize,
    pub flipped_edges: usize,
    pub degenerate_triangles: usize,
    /// A few places (mm) where open or non-manifold edges are.
    pub problem_locations: Vec<Vec3>,
    /// Enclosed volume in mm³ (signed: negative means inside out).
    pub volume_mm3: f64,
    pub surface_area_mm2: f64,
    pub bounding_box: Option<BoxReport>,
    pub build_volume: Option<Vec3>,
    pub fits_build_volume: Option<bool>,
    /// Would fit after turning it 90° about Z (x and y swapped).
    pub fits_after_rotating_90: Option<bool>,
    pub printable: bool,
    /// Why it is not printable; empty when it is.
    pub reasons: Vec<String>,
    /// Things that may go wrong but do not stop a print.
    pub warnings: Vec<String>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn mm(x: f32) -> String {
    if x >= 10.0 {
        format!("{x:.0} mm")
    } else {
        format!("{x:.2} mm")
    }
}

/// Checks a mesh, optionally against a printer's build volume (x, y, z mm).
pub fn validate(mesh: &IndexedMesh, build_volume: Option<Vec3>) -> ValidationReport {
    let edges = EdgeMap::new(mesh);
    let open = edges.boundary_edges();
    let nm = edges.non_manifold_edges();
    let flipped = edges.inconsistent_edges().len();
    let (loops, stray) = edges.boundary_loops();
    // Open edges that do not form a loop (orientation mixed up around them) still make a hole.
    let holes = loops.len() + usize::from(stray > 0);
    let (_, shell_count) = edges.shells(mesh.triangle_count());
    drop(edges);
    let degenerate = mesh.triangles().iter().filter(|&&t| is_degenerate(mesh.vertices(), t)).count();
    let mut problem_locations = edge_samples(mesh, &open, SAMPLES);
    problem_locations.extend(edge_samples(mesh, &nm, SAMPLES));
    let volume = mesh.signed_volume();
    let area = mesh.surface_area();
    let bb = mesh.bounding_box().map(|b| BoxReport { min: b.min, max: b.max, size: b.size() });
    let fits = |s: Vec3, v: Vec3| (0..3).all(|i| s[i] <= v[i]);
    let fits_build_volume = build_volume.zip(bb).map(|(v, b)| fits(b.size, v));
    let fits_after_rotating_90 = build_volume.zip(bb).map(|(v, b)| fits([b.size[1], b.size[0], b.size[2]], v));

    let watertight = open.is_empty() && nm.is_empty() && mesh.triangle_count() > 0;
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    if mesh.triangle_count() == 0 {
        reasons.push("The file has no triangles, so there is nothing to print.".to_string());
    }
    if !open.is_empty() {
        reasons.push(format!(
            "The model has {} in its surface, so the slicer can't tell inside from outside. Try Repair.",
            plural(holes.max(1), "hole", "holes")
        ));
    }
    if !nm.is_empty() {
        reasons.push(format!(
            "{} shared by more than two faces (parts of the surface touch or cross), which confuses the slicer. \
             Try Repair, or fix it in your modelling program.",
            plural(nm.len(), "edge is", "edges are")
        ));
    }
    if flipped > 0 {
        reasons.push(format!(
            "Some faces point inwards while their neighbours point outwards ({} disagree). Try Repair.",
            plural(flipped, "edge", "edges")
        ));
    } else if watertight && volume < 0.0 {
        reasons.push("The model is inside out (its faces point inwards). Try Repair.".to_string());
    }
    if let (Some(v), Some(b), Some(false)) = (build_volume, bb, fits_build_volume) {
        let turn_helps = fits_after_rotating_90 == Some(true);
        for (k, what, dim) in [(0, "wide", "x"), (1, "deep", "y"), (2, "tall", "z")] {
            if b.size[k] > v[k] {
                let hint = if turn_helps {
                    "Turn it 90° on the bed and it fits."
                } else if k == 2 {
                    "Scale it down or cut it."
                } else {
                    "Scale it down, cut it, or lay it another way."
                };
                reasons.push(format!(
                    "It is {} {what} but the printer only prints {} in {dim}. {hint}",
                    mm(b.size[k]),
                    mm(v[k])
                ));
            }
        }
    }
    if let Some(b) = bb {
        let largest = b.size.iter().copied().fold(0.0f32, f32::max);
        let smallest = b.size.iter().copied().fold(f32::INFINITY, f32::min);
        if largest < TINY_MM {
            warnings.push(format!(
                "The model is only {} across. It may have been saved in metres or inches; try scaling it up.",
                mm(largest)
            ));
        } else if smallest < THIN_MM {
            warnings.push(format!(
                "The model is only {} thick, thinner than one line of a 0.4 mm nozzle; it may not print.",
                mm(smallest)
            ));
        }
    }
    if shell_count > 1 {
        warnings
            .push(format!("The model is made of {shell_count} separate pieces; they will print as separate parts."));
    }
    if degenerate > 0 {
        warnings.push(format!(
            "{} no area; Repair removes {}.",
            plural(degenerate, "triangle has", "triangles have"),
            if degenerate == 1 { "it" } else { "them" }
        ));
    }
    ValidationReport {
        triangle_count: mesh.triangle_count(),
        vertex_count: mesh.vertices().len(),
        watertight,
        manifold: nm.is_empty(),
        consistently_oriented: flipped == 0,
        shell_count,
        holes: if open.is_empty() { 0 } else { holes.max(1) },
        open_edges: open.len(),
        non_manifold_edges: nm.len(),
        flipped_edges: flipped,
        degenerate_triangles: degenerate,
        problem_locations,
        volume_mm3: volume,
        surface_area_mm2: area,
        bounding_box: bb,
        build_volume,
        fits_build_volume,
        fits_after_rotating_90,
        printable: reasons.is_empty(),
        reasons,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{box_mesh, uv_sphere};

    #[test]
    fn good_cube_is_printable() {
        let r = validate(&IndexedMesh::cube(20.0), Some([250.0, 210.0, 220.0]));
        assert!(r.printable, "{:?}", r.reasons);
        assert!(r.watertight && r.manifold && r.consistently_oriented);
        assert_eq!((r.shell_count, r.holes, r.triangle_count), (1, 0, 12));
        assert!((r.volume_mm3 - 8000.0).abs() < 1e-6);
        assert!((r.surface_area_mm2 - 2400.0).abs() < 1e-6);
        assert_eq!(r.fits_build_volume, Some(true));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn holes_and_tall_parts_are_explained() {
        let s = uv_sphere(10.0, 16, 8);
        let t: Vec<_> =
            s.triangles().iter().copied().enumerate().filter(|(i, _)| i % 37 != 5).map(|(_, t)| t).collect();
        let m = IndexedMesh::new(s.vertices().to_vec(), t).unwrap();
        let r = validate(&m, None);
        assert!(!r.printable);
        assert_eq!(r.holes, 6);
        assert!(r.reasons[0].starts_with("The model has 6 holes in its surface"), "{}", r.reasons[0]);
        assert!(!r.problem_locations.is_empty());

        let tall = box_mesh([0.0; 3], [100.0, 20.0, 312.0]);
        let r = validate(&tall, Some([250.0, 210.0, 250.0]));
        assert_eq!(
            r.reasons,
            vec!["It is 312 mm tall but the printer only prints 250 mm in z. Scale it down or cut it."]
        );
        let wide = box_mesh([0.0; 3], [230.0, 100.0, 20.0]);
        let r = validate(&wide, Some([220.0, 240.0, 250.0]));
        assert_eq!((r.fits_build_volume, r.fits_after_rotating_90), (Some(false), Some(true)));
        assert!(r.reasons[0].contains("Turn it 90°"));
    }

    #[test]
    fn inside_out_tiny_and_empty() {
        let c = IndexedMesh::cube(0.5);
        let inv: Vec<_> = c.triangles().iter().map(|t| [t[0], t[2], t[1]]).collect();
        let r = validate(&IndexedMesh::new(c.vertices().to_vec(), inv).unwrap(), None);
        assert!(r.reasons[0].contains("inside out"));
        assert!(r.warnings[0].contains("only 0.50 mm across"));
        let r = validate(&IndexedMesh::default(), Some([1.0; 3]));
        assert!(!r.printable);
        assert_eq!(r.bounding_box, None);
    }
}
