//! From layer outlines to toolpaths: walls, solid and sparse regions, bridges, supports, skirt and brim.
//!
//! Per-layer work runs in parallel; the passes that need neighbouring layers (top/bottom solid, supports) read
//! the finished outlines of those layers, never each other's results, so every step stays data-parallel.

use std::f64::consts::PI;

use glam::DVec2;
use rayon::prelude::*;

use crate::geom::{self, Island, Polygon, Polygons};
use crate::index::RegionIndex;
use crate::infill;
use crate::settings::{InfillPattern, Profile, SeamPosition, SolidPattern};
use crate::toolpath::{ExtrusionPath, IslandPaths, ObjectLayer, Role};

/// Geometry of one bead: width and the spacing between neighbouring centre lines.
#[derive(Debug, Clone, Copy)]
pub struct Bead {
    pub width: f64,
    pub height: f64,
}

impl Bead {
    /// Centre-line distance at which neighbouring beads just touch (rectangle with round ends, as PrusaSlicer).
    pub fn spacing(&self) -> f64 {
        self.width - self.height * (1.0 - PI / 4.0)
    }

    /// Cross-section area of the bead, mm².
    pub fn area(&self) -> f64 {
        self.height * self.spacing()
    }
}

/// One layer of one object after wall generation.
#[derive(Debug, Clone, Default)]
pub struct WalledLayer {
    pub islands: Vec<WalledIsland>,
}

/// An island with its walls and the area left inside them.
#[derive(Debug, Clone, Default)]
pub struct WalledIsland {
    pub island: Island,
    /// Wall loops, outermost first, each with its role.
    pub loops: Vec<(Polygon, Role)>,
    /// What the walls enclose: the area infill covers.
    pub inner: Polygons,
}

/// Layer geometry that the passes share: heights and bead sizes per layer.
pub struct LayerSpec {
    pub z: f64,
    pub height: f64,
    pub bead: Bead,
}

/// Builds walls for every island of a layer.
pub fn walls(outline: &Polygons, bead: Bead, perimeters: u32) -> WalledLayer {
    let spacing = bead.spacing();
    let islands = geom::islands(outline.clone())
        .into_iter()
        .map(|island| {
            let region = island.to_polygons();
            let mut loops = Vec::new();
            let mut current = geom::offset(&region, -bead.width / 2.0);
            let mut inner = Vec::new();
            for k in 0..perimeters {
                if current.is_empty() {
                    break;
                }
                let role = if k == 0 { Role::ExternalPerimeter } else { Role::Perimeter };
                loops.extend(current.iter().map(|p| (p.clone(), role)));
                inner = geom::offset(&current, -spacing / 2.0);
                if k + 1 < perimeters {
                    current = geom::offset(&current, -spacing);
                }
            }
            if perimeters == 0 {
                inner = region.clone();
            }
            WalledIsland { island, loops, inner }
        })
        .collect();
    WalledLayer { islands }
}

/// The solid, top, bridge and sparse parts of one island's inner area.
#[derive(Debug, Clone, Default)]
pub struct FillRegions {
    pub top: Polygons,
    pub bridge: Polygons,
    pub solid: Polygons,
    pub sparse: Polygons,
    /// Outline of the layer below, where bridges anchor.
    pub below: Polygons,
}

/// How far solid skins extend into sparse infill, mm.
pub const SOLID_MARGIN: f64 = 3.0;

/// Splits `inner` of layer `i` using the outlines of the layers around it.
pub fn classify(inner: &Polygons, outlines: &[Polygons], i: usize, top_layers: u32, bottom_layers: u32) -> FillRegions {
    if inner.is_empty() {
        return FillRegions::default();
    }
    let n = outlines.len();
    // Covered on all of the next `top_layers` layers above? Then it is not near a top surface.
    let covered = |range: &mut dyn Iterator<Item = Option<usize>>| -> Polygons {
        let mut acc: Option<Polygons> = None;
        for j in range {
            let Some(j) = j else { return Vec::new() };
            let next = match acc {
                None => outlines[j].clone(),
                Some(a) => geom::intersection(&a, &outlines[j]),
            };
            if next.is_empty() {
                return next;
            }
            acc = Some(next);
        }
        acc.unwrap_or_else(|| inner.clone())
    };
    let above = covered(&mut (1..=top_layers as usize).map(|k| (i + k < n).then_some(i + k)));
    let below = covered(&mut (1..=bottom_layers as usize).map(|k| i.checked_sub(k)));
    // Solid skins reach 3 mm into the sparse area (PrusaSlicer's external infill margin) so they anchor on
    // infill rather than ending in mid-air next to the walls.
    let grow = |r: Polygons| -> Polygons {
        let r = geom::opening(&r, 0.05);
        if r.is_empty() {
            r
        } else {
            geom::intersection(&geom::offset(&r, SOLID_MARGIN), inner)
        }
    };
    let solid_top = grow(geom::difference(inner, &above));
    let solid_bottom = grow(geom::difference(inner, &below));
    let top = if i + 1 < n { geom::difference(inner, &outlines[i + 1]) } else { inner.clone() };
    let below_outline = if i > 0 { outlines[i - 1].clone() } else { Vec::new() };
    let bridge = if i > 0 {
        // Over air: not on the layer below. Grow into the walls' area a little so lines anchor.
        let air = geom::difference(inner, &below_outline);
        let air = geom::opening(&air, 0.2);
        geom::intersection(&geom::offset(&air, 1.0), inner)
    } else {
        Vec::new()
    };
    let top = geom::difference(&top, &bridge);
    let solid = geom::difference(&geom::union2(&solid_top, &solid_bottom), &geom::union2(&top, &bridge));
    let all_solid = geom::union2(&geom::union2(&solid, &top), &bridge);
    let sparse = geom::difference(inner, &all_solid);
    FillRegions { top, bridge, solid, sparse, below: below_outline }
}

/// Turns polylines into paths of one role.
fn paths(lines: Vec<Vec<DVec2>>, role: Role, width: f64) -> Vec<ExtrusionPath> {
    lines.into_iter().filter(|l| l.len() >= 2).map(|l| ExtrusionPath::new(role, l, width, false)).collect()
}

/// Fills the classified regions of one island.
pub fn fill_island(
    regions: &FillRegions,
    profile: &Profile,
    layer_index: usize,
    spec: &LayerSpec,
) -> Vec<ExtrusionPath> {
    let q = &profile.quality;
    let w = spec.bead.width;
    let spacing = spec.bead.spacing();
    let alternate = if layer_index.is_multiple_of(2) { q.infill_angle } else { q.infill_angle + 90.0 };
    let mut out = Vec::new();
    if !regions.bridge.is_empty() {
        let nozzle = profile.printer.nozzle_diameter;
        let bridge_spacing = nozzle + 0.05;
        let angle = infill::best_bridge_angle(&regions.bridge, &regions.below, bridge_spacing);
        out.extend(paths(
            infill::rectilinear(&regions.bridge, angle, bridge_spacing, true),
            Role::BridgeInfill,
            nozzle,
        ));
    }
    let solid_fill = |region: &Polygons, role: Role| -> Vec<ExtrusionPath> {
        if region.is_empty() {
            return Vec::new();
        }
        match q.solid_pattern {
            SolidPattern::Rectilinear => paths(infill::rectilinear(region, alternate, spacing, true), role, w),
            SolidPattern::Concentric => {
                infill::concentric(region, spacing).into_iter().map(|p| ExtrusionPath::new(role, p, w, true)).collect()
            }
        }
    };
    out.extend(solid_fill(&regions.solid, Role::SolidInfill));
    out.extend(solid_fill(&regions.top, Role::TopSolidInfill));
    if !regions.sparse.is_empty() && q.infill_density > 0.0 {
        let d = q.infill_density.min(1.0);
        let lines = match q.infill_pattern {
            InfillPattern::Rectilinear => infill::rectilinear(&regions.sparse, alternate, spacing / d, true),
            InfillPattern::Grid => {
                let mut l = infill::rectilinear(&regions.sparse, q.infill_angle, 2.0 * spacing / d, true);
                l.extend(infill::rectilinear(&regions.sparse, q.infill_angle + 90.0, 2.0 * spacing / d, true));
                l
            }
            InfillPattern::Gyroid => infill::gyroid(&regions.sparse, spec.z, spacing, d),
            InfillPattern::Honeycomb => infill::honeycomb(&regions.sparse, spacing, d),
        };
        out.extend(paths(lines, Role::InternalInfill, w));
    }
    out
}

/// Where loops start: a score per vertex, lowest wins.
pub fn place_seam(loop_: &mut ExtrusionPath, seam: SeamPosition, reference: DVec2) {
    let pts = &loop_.points;
    let n = pts.len();
    if n < 3 {
        return;
    }
    let best = match seam {
        SeamPosition::Rear => (0..n).max_by(|&a, &b| pts[a].y.total_cmp(&pts[b].y).then(pts[b].x.total_cmp(&pts[a].x))),
        SeamPosition::Aligned | SeamPosition::Nearest => {
            let orientation = geom::area(pts).signum();
            (0..n).min_by(|&a, &b| {
                let score = |i: usize| {
                    let prev = pts[(i + n - 1) % n];
                    let next = pts[(i + 1) % n];
                    let turn = (pts[i] - prev).perp_dot(next - pts[i]) * orientation;
                    let sharp = 1.0 - (pts[i] - prev).normalize_or_zero().dot((next - pts[i]).normalize_or_zero());
                    // Concave corners hide the seam best, then sharp convex ones; otherwise stay near the reference.
                    let bonus = if turn < 0.0 { 8.0 * sharp } else { 3.0 * sharp };
                    pts[i].distance(reference) - bonus
                };
                score(a).total_cmp(&score(b))
            })
        }
    };
    if let Some(i) = best {
        loop_.rotate_start(i);
    }
}

/// Builds the finished paths of one island: walls (innermost first, external last) then fills.
pub fn island_paths(
    walled: &WalledIsland,
    fills: Vec<ExtrusionPath>,
    profile: &Profile,
    spec: &LayerSpec,
    seam_ref: DVec2,
    below: Option<&RegionIndex>,
) -> IslandPaths {
    let mut perimeters: Vec<ExtrusionPath> = Vec::new();
    for (poly, role) in walled.loops.iter().rev() {
        let mut p = ExtrusionPath::new(*role, poly.clone(), spec.bead.width, true);
        if p.length() <= spec.bead.width {
            continue;
        }
        place_seam(&mut p, profile.quality.seam, seam_ref);
        match below {
            Some(below) => perimeters.extend(split_overhangs(p, below, spec.bead.width)),
            None => perimeters.push(p),
        }
    }
    IslandPaths { perimeters, fills, boundary: walled.island.to_polygons() }
}

/// Splits a wall loop where it leaves the layer below (`below` is that layer grown by half a bead): the parts
/// over air become open [`Role::OverhangPerimeter`] paths, printed in the same order without a travel.
pub fn split_overhangs(path: ExtrusionPath, below: &RegionIndex, width: f64) -> Vec<ExtrusionPath> {
    // Subdivide long segments so a wall half over air is classified piece by piece.
    let n = path.points.len();
    let mut pts: Vec<DVec2> = Vec::with_capacity(n + 1);
    let step = width * 2.0;
    for i in 0..n {
        let (a, b) = (path.points[i], path.points[(i + 1) % n]);
        let pieces = (a.distance(b) / step).ceil().max(1.0) as usize;
        for k in 0..pieces {
            pts.push(a + (b - a) * (k as f64 / pieces as f64));
        }
    }
    pts.push(path.points[0]);
    let supported: Vec<bool> = pts.windows(2).map(|w| below.contains((w[0] + w[1]) * 0.5)).collect();
    if supported.iter().all(|s| *s) {
        return vec![path];
    }
    // Runs of equal support; runs over air shorter than a bead are noise from the layer outline's tolerance.
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for (i, &s) in supported.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.0 == s => r.2 = i + 1,
            _ => runs.push((s, i, i + 1)),
        }
    }
    let seg_len = |from: usize, to: usize| pts[from..=to].windows(2).map(|w| w[0].distance(w[1])).sum::<f64>();
    for r in runs.iter_mut() {
        if !r.0 && seg_len(r.1, r.2) < width {
            r.0 = true;
        }
    }
    let mut merged: Vec<(bool, usize, usize)> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(m) if m.0 == r.0 => m.2 = r.2,
            _ => merged.push(r),
        }
    }
    let w = path.widths.first().copied().unwrap_or(width as f32) as f64;
    merged
        .into_iter()
        .map(|(ok, from, to)| {
            let role = if ok { path.role } else { Role::OverhangPerimeter };
            ExtrusionPath::new(role, pts[from..=to].to_vec(), w, false)
        })
        .collect()
}

/// Support regions for one object: the base (sparse) and interface (dense) areas per layer.
#[derive(Debug, Clone, Default)]
pub struct SupportLayer {
    pub base: Polygons,
    pub interface: Polygons,
}

/// Finds overhangs and grows support columns down to the bed (or onto the part), keeping an air gap.
pub fn supports(outlines: &[Polygons], specs: &[LayerSpec], profile: &Profile) -> Vec<SupportLayer> {
    let s = &profile.quality.supports;
    let n = outlines.len();
    let mut out = vec![SupportLayer::default(); n];
    if !s.enabled || n < 2 {
        return out;
    }
    let threshold = s.overhang_angle.clamp(1.0, 89.0).to_radians();
    // Overhang at layer i: the part of the outline farther out than the threshold slope allows.
    let overhangs: Vec<Polygons> = (0..n)
        .into_par_iter()
        .map(|i| {
            if i == 0 {
                return Vec::new();
            }
            let allowed = specs[i].height / threshold.tan();
            let over = geom::difference(&outlines[i], &geom::offset(&outlines[i - 1], allowed));
            geom::opening(&over, specs[i].bead.width * 0.25)
        })
        .collect();
    let gap = s.z_gap_layers as usize;
    // contact[j]: overhangs whose support top is layer j.
    let mut contact: Vec<Polygons> = vec![Vec::new(); n];
    for (i, o) in overhangs.into_iter().enumerate() {
        if !o.is_empty() && i > gap {
            contact[i - 1 - gap] = o;
        }
    }
    let keep_out: Vec<Polygons> = outlines.par_iter().map(|o| geom::offset(o, s.xy_gap)).collect();
    let mut carry: Polygons = Vec::new();
    for j in (0..n).rev() {
        carry = geom::union2(&carry, &contact[j]);
        // The gap above the top of a column is kept by not carrying into layers that hold the part.
        carry = geom::difference(&carry, &keep_out[j]);
        if j + 1 < n {
            carry = geom::difference(&carry, &keep_out[(j + 1).min(n - 1)]);
        }
        carry = geom::simplify(&carry, 0.05);
        let mut recent: Polygons = Vec::new();
        for c in contact.iter().skip(j).take(s.interface_layers as usize) {
            recent = geom::union2(&recent, c);
        }
        let interface = geom::intersection(&carry, &recent);
        let base = geom::difference(&carry, &interface);
        out[j] = SupportLayer { base, interface };
    }
    out
}

/// Support paths of one layer: base lines at a fixed angle so they stack, interface lines across them.
pub fn support_paths(layer: &SupportLayer, profile: &Profile, spec: &LayerSpec) -> Vec<ExtrusionPath> {
    let s = &profile.quality.supports;
    let w = spec.bead.width;
    let mut out = Vec::new();
    if !layer.base.is_empty() {
        out.extend(paths(infill::rectilinear(&layer.base, 0.0, s.spacing.max(w), true), Role::Support, w));
    }
    if !layer.interface.is_empty() {
        let spacing = spec.bead.spacing() + 0.2;
        out.extend(paths(infill::rectilinear(&layer.interface, 90.0, spacing, true), Role::SupportInterface, w));
    }
    out
}

/// Skirt loops around everything on the first layer.
pub fn skirt(first_layer: &Polygons, profile: &Profile, bead: Bead) -> Vec<ExtrusionPath> {
    let q = &profile.quality;
    if q.skirt_loops == 0 || first_layer.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let base = geom::union(first_layer);
    for k in 0..q.skirt_loops {
        let d = q.skirt_distance + bead.width / 2.0 + k as f64 * bead.spacing();
        // Only outer contours: a skirt never goes inside a part's holes.
        let ring = geom::simplify(&geom::offset_round(&base, d), 0.05);
        for poly in ring.into_iter().filter(|p| geom::area(p) > 0.0) {
            out.push(ExtrusionPath::new(Role::Skirt, poly, bead.width, true));
        }
    }
    // Innermost last so the nozzle ends next to the part.
    out.reverse();
    out
}

/// Brim loops around the outside of each first-layer island.
pub fn brim(first_layer: &Polygons, profile: &Profile, bead: Bead) -> Vec<ExtrusionPath> {
    let width = profile.quality.brim_width;
    if width <= 0.0 {
        return Vec::new();
    }
    let outers: Polygons = geom::islands(first_layer.clone()).into_iter().map(|i| i.contour).collect();
    let mut out = Vec::new();
    let mut k = 0;
    loop {
        let d = bead.width / 2.0 + k as f64 * bead.spacing();
        if d > width {
            break;
        }
        let ring = geom::offset_round(&outers, d);
        out.extend(
            ring.into_iter()
                .filter(|p| geom::area(p) > 0.0)
                .map(|p| ExtrusionPath::new(Role::Brim, p, bead.width, true)),
        );
        k += 1;
    }
    out.reverse();
    out
}

/// Everything on one layer of one object, ready for ordering.
pub fn object_layer(
    walled: &WalledLayer,
    fills: Vec<Vec<ExtrusionPath>>,
    support: Vec<ExtrusionPath>,
    profile: &Profile,
    spec: &LayerSpec,
    seam_ref: DVec2,
    below: Option<&RegionIndex>,
) -> ObjectLayer {
    let islands =
        walled.islands.iter().zip(fills).map(|(w, f)| island_paths(w, f, profile, spec, seam_ref, below)).collect();
    ObjectLayer { islands, support }
}
