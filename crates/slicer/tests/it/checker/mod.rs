//! An independent G-code checker for FDM slicers (issue #4's correctness requirements, notes §4).
//!
//! It shares no code with the slicer: it reads the G-code with its own state machine ([`parse`]),
//! cuts the mesh with its own plane/triangle intersection ([`section`]), rasterises sections for its
//! volume model ([`raster`]), estimates time with its own trapezoid planner ([`time`]) and reads
//! metadata with Moonraker's regular expressions ([`meta`]). Only `mesh` is used, for the mesh type.
//!
//! Checks (name: rule):
//! 1. `heating`: before the first printing move the hotend target is ≥ `min_hotend` (170 °C) and an
//!    `M109` waited for at least that, and the bed target was set (`M140`/`M190`); no printing move
//!    while the hotend target is below `min_hotend`.
//! 2. `travel`: no `G0` carries E; no move pushes filament while moving only in Z.
//! 3. `e_bookkeeping`: net E (Σ ΔE over the file, `M82`/`M83`/`G90`/`G91`/`G92` tracked exactly) equals
//!    the footer's `filament used [mm]` within 1 mm + 0.1 %; absolute E never drops by > 10 mm without
//!    `G92`; no E word where Marlin (`G90`/`G91` also switch E) and Klipper (they do not) disagree.
//! 4. `layers`: the layer count (distinct Z of printing moves) is 1 + (H − first)/h (either
//!    rounding when that is not whole), the first is at `first_layer_height`, every step is `h`, the
//!    last is within h/2 of the mesh top, and the `;Z:` tags (if any) name exactly those layers.
//! 5. `z_bounds`: Z of printing moves never decreases; every position inside the bed volume.
//! 6. `volume`: extruded volume (skirt/brim/support excluded) within ±`volume_tolerance` of the model
//!    Σ h·(shell + solid + density·sparse), see [`Config`] and `volume_model`.
//! 7. `geometry`: every printing move's ends and midpoint lie inside the mesh section at its layer's
//!    mid-height grown by w/2 + 0.15 mm; skirt/brim on layer 1 may lie in the skirt ring: at least
//!    skirt distance − w/2 − 0.15 mm from the part, at most twice (skirt distance + loops·w + w/2 +
//!    0.15 mm) from the first layer's convex hull (so mitered corners pass), or within the brim width;
//!    support only has to stay on the bed.
//! 8. `flow`: for moves longer than 0.5 mm, ΔE·A_filament / (length · h · (w − h(1 − π/4))) is in
//!    0.3…2.5.
//! 9. `time`: the footer's `estimated printing time (normal mode)` within ±`time_tolerance` of the
//!    checker's own estimate.
//! 10. `metadata`: Moonraker's PrusaSlicer-class fields parse (first line, time, filament, layer
//!     heights, nozzle, temperatures, filament type/diameter, object height); every thumbnail block's
//!     base64 length equals its LEN and decodes to a PNG of the stated size; `M73` progress monotonic;
//!     every started object was defined.
//! 11. `rests_on`: every point of every printing move above layer 1 (sampled every 0.2 mm) is within
//!     w + 0.15 mm of a printing move on the layer below (or within `support_xy_reach` of support up to
//!     `support_gap_layers` + 1 layers below), or belongs to an unsupported run that is a
//!     bridge (anchored at both ends, ≤ `max_bridge`) or a short cantilever (one end, ≤
//!     `max_cantilever`). With `allow_model_overhang` (supports off), runs over places where the mesh
//!     itself has nothing below are tolerated and counted instead.
#![allow(dead_code)]

pub mod meshes;
pub mod meta;
pub mod parse;
pub mod raster;
pub mod section;
pub mod time;

use std::fmt;

use mesh::IndexedMesh;

/// What the G-code is checked against: the print settings it was sliced with, plus thresholds.
#[derive(Debug, Clone)]
pub struct Config {
    pub layer_height: f64,
    pub first_layer_height: f64,
    /// Nominal extrusion width (mm).
    pub line_width: f64,
    pub filament_diameter: f64,
    pub bed: [f64; 2],
    pub max_z: f64,
    pub perimeters: u32,
    pub top_layers: u32,
    pub bottom_layers: u32,
    /// Sparse infill density, 0…1.
    pub infill_density: f64,
    /// How far solid top/bottom regions are grown into sparse infill (PrusaSlicer: 3 mm).
    pub solid_margin: f64,
    pub skirt_distance: f64,
    pub skirt_loops: u32,
    /// Brim width (mm, 0 = none).
    pub brim_width: f64,
    pub min_hotend: f64,
    pub volume_tolerance: f64,
    pub time_tolerance: f64,
    pub flow_range: (f64, f64),
    pub machine: time::Machine,
    pub require_thumbnails: bool,
    pub allow_model_overhang: bool,
    /// Layers of air between support and the part above it.
    pub support_gap_layers: u32,
    /// How far (centre line to centre line) a line may be from support below and still rest on it: the
    /// support's XY gap to the walls plus a line width.
    pub support_xy_reach: f64,
    pub max_bridge: f64,
    pub max_cantilever: f64,
}

impl Default for Config {
    /// The settings (notes §3.3 bench.ini): 0.2 mm layers, 0.45 mm lines, 2 perimeters,
    /// 4 top / 3 bottom, 20 % infill, one skirt loop 6 mm out, 220 × 220 × 250 bed, 1.75 mm PLA.
    fn default() -> Self {
        Config {
            layer_height: 0.2,
            first_layer_height: 0.2,
            line_width: 0.45,
            filament_diameter: 1.75,
            bed: [220.0, 220.0],
            max_z: 250.0,
            perimeters: 2,
            top_layers: 4,
            bottom_layers: 3,
            infill_density: 0.2,
            solid_margin: 3.0,
            skirt_distance: 6.0,
            skirt_loops: 1,
            brim_width: 0.0,
            min_hotend: 170.0,
            volume_tolerance: 0.15,
            time_tolerance: 0.10,
            flow_range: (0.3, 2.5),
            machine: time::Machine::default(),
            require_thumbnails: false,
            allow_model_overhang: true,
            support_gap_layers: 1,
            support_xy_reach: 1.2,
            max_bridge: 25.0,
            max_cantilever: 2.0,
        }
    }
}

/// One check's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub pass: bool,
    pub detail: String,
}

/// The numbers behind the verdicts.
#[derive(Debug, Clone, Default)]
pub struct Numbers {
    pub lines: usize,
    pub moves: usize,
    pub layers: usize,
    pub expected_layers: (usize, usize),
    pub first_layer_z: f64,
    pub net_e_mm: f64,
    pub filament_claim_mm: Option<f64>,
    pub volume_extruded_mm3: f64,
    pub volume_model_mm3: f64,
    pub volume_ratio: f64,
    pub geometry_points: usize,
    pub geometry_outside: usize,
    pub geometry_worst_mm: f64,
    pub flow_min: f64,
    pub flow_median: f64,
    pub flow_max: f64,
    pub flow_outside: usize,
    pub time_claim_s: Option<f64>,
    pub time_estimate_s: f64,
    pub rest_samples: usize,
    pub rest_unsupported_samples: usize,
    pub rest_bridges: usize,
    pub rest_longest_bridge_mm: f64,
    pub rest_failures: usize,
    pub rest_tolerated_overhang_mm: f64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
    pub numbers: Numbers,
    pub metadata: meta::Metadata,
}

impl Report {
    pub fn all_pass(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }
    pub fn get(&self, name: &str) -> &Check {
        self.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check named {name}"))
    }
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| !c.pass).map(|c| c.name).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{} {:<14} {}", if c.pass { "PASS" } else { "FAIL" }, c.name, c.detail)?;
        }
        Ok(())
    }
}

fn is_skirt(ty: &str) -> bool {
    let t = ty.to_ascii_lowercase();
    t.starts_with("skirt") || t.contains("brim")
}

fn is_support(ty: &str) -> bool {
    ty.to_ascii_lowercase().starts_with("support")
}

/// Checks one G-code file against the mesh (in bed coordinates) it was sliced from.
pub fn check(gcode: &str, mesh: &IndexedMesh, cfg: &Config) -> Report {
    let trace = parse::read(gcode, cfg.min_hotend);
    let md = meta::parse(gcode);
    let slicer = section::Slicer::new(mesh, cfg.layer_height);
    let mut n = Numbers { lines: trace.lines, moves: trace.moves.len(), ..Default::default() };
    let mut checks = Vec::new();
    let w_nom = cfg.line_width;
    let a_fil = std::f64::consts::PI * (cfg.filament_diameter / 2.0).powi(2);

    // 1. Heating.
    let (pass, detail) = match trace.at_first_extrusion {
        None => (false, "no printing move at all".to_string()),
        Some(fx) => {
            let ok = fx.hotend_target >= cfg.min_hotend
                && fx.waited_hotend >= cfg.min_hotend
                && fx.bed_set
                && trace.cold_extrusion_count == 0;
            (
                ok,
                format!(
                    "first extrusion line {}: hotend target {} °C, waited (M109) for {} °C, bed {} ({} °C); {} cold extrusions {:?}",
                    fx.line,
                    fx.hotend_target,
                    fx.waited_hotend,
                    if fx.bed_set { "set" } else { "NOT set" },
                    fx.bed_target,
                    trace.cold_extrusion_count,
                    trace.cold_extrusions
                ),
            )
        }
    };
    checks.push(Check { name: "heating", pass, detail });

    // 2. No extrusion on travel.
    checks.push(Check {
        name: "travel",
        pass: trace.g0_with_e.is_empty() && trace.z_only_extrusions.is_empty(),
        detail: format!(
            "G0 with E: {} {:?}; extrusion while moving only Z: {} {:?}",
            trace.g0_with_e.len(),
            &trace.g0_with_e[..trace.g0_with_e.len().min(5)],
            trace.z_only_extrusions.len(),
            &trace.z_only_extrusions[..trace.z_only_extrusions.len().min(5)]
        ),
    });

    // 3. E bookkeeping.
    n.net_e_mm = trace.net_e;
    n.filament_claim_mm = md.filament_total_mm;
    let e_ok = match md.filament_total_mm {
        Some(c) => (trace.net_e - c).abs() <= 1.0 + 0.001 * c,
        None => false,
    };
    checks.push(Check {
        name: "e_bookkeeping",
        pass: e_ok && trace.big_e_drops.is_empty() && trace.ambiguous_e.is_empty(),
        detail: format!(
            "net E {:.2} mm vs footer filament used {} mm; absolute-E drops > 10 mm: {:?}; E words with Marlin/Klipper E-mode disagreement: {} {:?}",
            trace.net_e,
            md.filament_total_mm.map_or("MISSING".into(), |c| format!("{c:.2}")),
            &trace.big_e_drops[..trace.big_e_drops.len().min(5)],
            trace.ambiguous_e.len(),
            &trace.ambiguous_e[..trace.ambiguous_e.len().min(5)]
        ),
    });

    // Layers from the printing moves of the part (support may be printed at heights of its own).
    let extr: Vec<&parse::Move> = trace.moves.iter().filter(|m| m.extrudes()).collect();
    let key = |z: f64| (z * 1e4).round() as i64;
    let mut zs: Vec<i64> = extr.iter().filter(|m| !is_support(&trace.types[m.ty])).map(|m| key(m.to[2])).collect();
    zs.sort_unstable();
    zs.dedup();
    let mut all_zs: Vec<i64> = extr.iter().map(|m| key(m.to[2])).collect();
    all_zs.sort_unstable();
    all_zs.dedup();
    let layer_z: Vec<f64> = zs.iter().map(|&k| k as f64 / 1e4).collect();
    let layer_of = |z: f64| zs.binary_search(&key(z)).ok();
    let height = slicer.max[2];
    let steps = (height - cfg.first_layer_height) / cfg.layer_height;
    let expected = if (steps - steps.round()).abs() < 0.01 {
        let e = 1 + steps.round() as usize;
        (e, e)
    } else {
        (1 + steps.floor() as usize, 1 + steps.ceil() as usize)
    };
    n.layers = layer_z.len();
    n.expected_layers = expected;
    n.first_layer_z = layer_z.first().copied().unwrap_or(f64::NAN);
    let layer_h: Vec<f64> =
        (0..layer_z.len()).map(|i| if i == 0 { cfg.first_layer_height } else { layer_z[i] - layer_z[i - 1] }).collect();

    // 4. Layers.
    let bad_steps: Vec<f64> =
        layer_h.iter().skip(1).copied().filter(|h| (h - cfg.layer_height).abs() > 0.005).collect();
    let last = layer_z.last().copied().unwrap_or(f64::NAN);
    // `;Z:` comments (what previews and hosts read) must name every printed layer of the part and
    // nothing where nothing was printed.
    let mut z_tags: Vec<i64> = trace.z_comments.iter().map(|&z| key(z)).collect();
    z_tags.sort_unstable();
    z_tags.dedup();
    // Tags may carry more decimals than the G1 Z words (PrusaSlicer: ;Z:9.0125 vs G1 Z9.012).
    let near = |sorted: &[i64], z: i64| {
        let i = sorted.partition_point(|&x| x < z);
        [i.wrapping_sub(1), i].iter().any(|&j| sorted.get(j).is_some_and(|&x| (x - z).abs() <= 20))
    };
    let z_tags_ok =
        z_tags.is_empty() || (zs.iter().all(|&z| near(&z_tags, z)) && z_tags.iter().all(|&z| near(&all_zs, z)));
    checks.push(Check {
        name: "layers",
        pass: z_tags_ok
            && n.layers >= expected.0
            && n.layers <= expected.1
            && (n.first_layer_z - cfg.first_layer_height).abs() <= 0.005
            && bad_steps.is_empty()
            && (last - height).abs() <= cfg.layer_height / 2.0 + 1e-3,
        detail: format!(
            "{} layers (expected {}{}), first Z {:.3} (expected {}), last Z {:.3} vs mesh top {:.3}, {} steps ≠ {} mm {:?}, {} distinct `;Z:` tags{}",
            n.layers,
            expected.0,
            if expected.1 != expected.0 { format!("…{}", expected.1) } else { String::new() },
            n.first_layer_z,
            cfg.first_layer_height,
            last,
            height,
            bad_steps.len(),
            cfg.layer_height,
            &bad_steps[..bad_steps.len().min(5)],
            z_tags.len(),
            if z_tags_ok { "" } else { " NOT matching the printed layers" }
        ),
    });

    // 5. Z monotonic, bed bounds.
    let mut z_back = Vec::new();
    let mut zmax = f64::NEG_INFINITY;
    for m in &extr {
        if m.to[2] < zmax - 1e-4 {
            z_back.push(m.line);
        }
        zmax = zmax.max(m.to[2]);
    }
    let out_of_bed: Vec<usize> = trace
        .moves
        .iter()
        .filter(|m| {
            let p = m.to;
            p[0] < -0.01
                || p[1] < -0.01
                || p[2] < -0.01
                || p[0] > cfg.bed[0] + 0.01
                || p[1] > cfg.bed[1] + 0.01
                || p[2] > cfg.max_z + 0.01
        })
        .map(|m| m.line)
        .collect();
    checks.push(Check {
        name: "z_bounds",
        pass: z_back.is_empty() && out_of_bed.is_empty(),
        detail: format!(
            "printing Z decreases: {} {:?}; positions outside 0…{}×0…{}×0…{}: {} {:?}",
            z_back.len(),
            &z_back[..z_back.len().min(5)],
            cfg.bed[0],
            cfg.bed[1],
            cfg.max_z,
            out_of_bed.len(),
            &out_of_bed[..out_of_bed.len().min(5)]
        ),
    });

    // Sections at each printed layer's mid-height (geometry, rests-on).
    let sections: Vec<section::Section> =
        layer_z.iter().zip(&layer_h).map(|(z, h)| section::Section::new(slicer.segments(z - h / 2.0))).collect();

    // 7. Geometry (before volume: it classifies untyped skirt moves).
    // The skirt goes around the convex hull of the first layer, the brim hugs the outline.
    // Support on the first layer counts as part of what the skirt goes around.
    let mut first_layer_segs: Vec<[f64; 4]> = sections.first().map(|s| s.segs.clone()).unwrap_or_default();
    first_layer_segs.extend(
        extr.iter()
            .filter(|m| is_support(&trace.types[m.ty]) && m.to[2] <= cfg.first_layer_height + 1e-3)
            .map(|m| [m.from[0], m.from[1], m.to[0], m.to[1]]),
    );
    let hull = convex_hull(&first_layer_segs);
    let skirt_band = (
        cfg.skirt_distance - w_nom / 2.0 - 0.15,
        cfg.skirt_distance + f64::from(cfg.skirt_loops) * w_nom + w_nom / 2.0 + 0.15,
    );
    let brim_out = cfg.brim_width + w_nom / 2.0 + 0.15;
    let mut outside: Vec<(usize, f64)> = Vec::new();
    let mut excluded = vec![false; trace.moves.len()];
    let index_of: std::collections::HashMap<usize, usize> =
        trace.moves.iter().enumerate().map(|(i, m)| (m.line, i)).collect();
    for m in &extr {
        let ty = trace.types[m.ty].as_str();
        if is_support(ty) {
            excluded[index_of[&m.line]] = true;
            continue;
        }
        let Some(k) = layer_of(m.to[2]) else { continue };
        let w = if m.width > 0.0 { m.width.max(w_nom) } else { w_nom };
        let tol = w / 2.0 + 0.15;
        let mid = [(m.from[0] + m.to[0]) / 2.0, (m.from[1] + m.to[1]) / 2.0];
        let pts = [[m.from[0], m.from[1]], mid, [m.to[0], m.to[1]]];
        n.geometry_points += 3;
        let mut move_outside = false;
        for p in pts {
            if sections[k].within(p, tol) {
                continue;
            }
            let d = sections[k].distance(p, 60.0);
            let in_ring = k == 0 && (is_skirt(ty) || ty.is_empty()) && {
                let dh = hull_distance(&hull, p);
                // No closer to the part than the skirt distance (an offset of the outline or of its hull
                // both qualify); no further from the hull than the ring, twice that for mitered corners.
                (d >= skirt_band.0 && dh <= 2.0 * skirt_band.1) || (cfg.brim_width > 0.0 && d <= brim_out)
            };
            if in_ring {
                move_outside = true;
                continue;
            }
            outside.push((m.line, d));
        }
        if k == 0 && (is_skirt(ty) || move_outside && ty.is_empty()) {
            excluded[index_of[&m.line]] = true;
        }
    }
    n.geometry_outside = outside.len();
    n.geometry_worst_mm = outside.iter().map(|o| o.1).fold(0.0, f64::max);
    let geometry = Check {
        name: "geometry",
        pass: outside.is_empty(),
        detail: format!(
            "{} of {} points outside section + w/2 + 0.15 mm (worst {:.3} mm beyond the outline); first: {:?}",
            outside.len(),
            n.geometry_points,
            n.geometry_worst_mm,
            outside.iter().take(5).map(|o| format!("line {} ({:.2} mm)", o.0, o.1)).collect::<Vec<_>>()
        ),
    };

    // 6. Volume.
    n.volume_extruded_mm3 =
        trace.moves.iter().enumerate().filter(|(i, m)| m.extrudes() && !excluded[*i]).map(|(_, m)| m.de * a_fil).sum();
    n.volume_model_mm3 = volume_model(&slicer, cfg, expected.0.max(n.layers.min(expected.1)));
    n.volume_ratio = n.volume_extruded_mm3 / n.volume_model_mm3;
    checks.push(Check {
        name: "volume",
        pass: (n.volume_ratio - 1.0).abs() <= cfg.volume_tolerance,
        detail: format!(
            "extruded {:.0} mm³ (skirt/brim/support excluded) vs model {:.0} mm³: {:+.1} % (limit ±{:.0} %)",
            n.volume_extruded_mm3,
            n.volume_model_mm3,
            (n.volume_ratio - 1.0) * 100.0,
            cfg.volume_tolerance * 100.0
        ),
    });
    checks.push(geometry);

    // 8. Flow.
    let mut flows: Vec<(f64, usize)> = Vec::new();
    for m in &extr {
        let len = m.xy_len();
        if len <= 0.5 {
            continue;
        }
        let Some(k) = layer_of(m.to[2]) else { continue };
        // After a missing layer (check 4 reports it) judge the bead at the nominal height.
        let h = if (layer_h[k] - cfg.layer_height).abs() > 0.005 && k > 0 { cfg.layer_height } else { layer_h[k] };
        let w = if m.width > 0.0 { m.width } else { w_nom };
        let bead = h * (w - h * (1.0 - std::f64::consts::FRAC_PI_4));
        flows.push((m.de * a_fil / (len * bead), m.line));
    }
    flows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bad_flow: Vec<&(f64, usize)> =
        flows.iter().filter(|f| f.0 < cfg.flow_range.0 || f.0 > cfg.flow_range.1).collect();
    n.flow_min = flows.first().map_or(f64::NAN, |f| f.0);
    n.flow_max = flows.last().map_or(f64::NAN, |f| f.0);
    n.flow_median = flows.get(flows.len() / 2).map_or(f64::NAN, |f| f.0);
    n.flow_outside = bad_flow.len();
    checks.push(Check {
        name: "flow",
        pass: !flows.is_empty() && bad_flow.is_empty(),
        detail: format!(
            "{} moves > 0.5 mm: flow/nominal min {:.2} median {:.2} max {:.2}; {} outside {}…{} {:?}",
            flows.len(),
            n.flow_min,
            n.flow_median,
            n.flow_max,
            bad_flow.len(),
            cfg.flow_range.0,
            cfg.flow_range.1,
            bad_flow.iter().take(5).map(|f| format!("line {} ×{:.2}", f.1, f.0)).collect::<Vec<_>>()
        ),
    });

    // 9. Time.
    n.time_estimate_s = time::estimate(&trace.moves, &cfg.machine.with_file(&trace.limits));
    n.time_claim_s = md.estimated_time_s;
    let time_ok = md.estimated_time_s.is_some_and(|c| (c / n.time_estimate_s - 1.0).abs() <= cfg.time_tolerance);
    checks.push(Check {
        name: "time",
        pass: time_ok,
        detail: format!(
            "claimed {} vs independent {} ({})",
            md.estimated_time_s.map_or("MISSING".into(), hms),
            hms(n.time_estimate_s),
            md.estimated_time_s.map_or("—".into(), |c| format!(
                "{:+.1} %, limit ±{:.0} %",
                (c / n.time_estimate_s - 1.0) * 100.0,
                cfg.time_tolerance * 100.0
            ))
        ),
    });

    // 10. Metadata.
    checks.push(metadata_check(&md, &trace, cfg, height));

    // 11. Rests on something.
    let all_layer_z: Vec<f64> = all_zs.iter().map(|&k| k as f64 / 1e4).collect();
    checks.push(rests_on(&trace, &all_layer_z, &layer_z, &sections, cfg, &mut n));

    Report { checks, numbers: n, metadata: md }
}

/// Convex hull (counter-clockwise) of all segment end points, by the monotone chain.
pub fn convex_hull(segs: &[[f64; 4]]) -> Vec<[f64; 2]> {
    let mut p: Vec<[f64; 2]> = segs.iter().flat_map(|s| [[s[0], s[1]], [s[2], s[3]]]).collect();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut h: Vec<[f64; 2]> = Vec::with_capacity(2 * p.len());
    for pass in 0..2 {
        let start = h.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> =
            if pass == 0 { Box::new(p.iter()) } else { Box::new(p.iter().rev()) };
        for &q in iter {
            while h.len() >= start + 2 && cross(h[h.len() - 2], h[h.len() - 1], q) <= 0.0 {
                h.pop();
            }
            h.push(q);
        }
        h.pop();
    }
    h
}

/// Distance from p to a convex polygon (0 inside).
pub fn hull_distance(hull: &[[f64; 2]], p: [f64; 2]) -> f64 {
    if hull.is_empty() {
        return f64::INFINITY;
    }
    let n = hull.len();
    let inside = n >= 3
        && (0..n).all(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % n]);
            (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0.0
        });
    if inside {
        return 0.0;
    }
    (0..n)
        .map(|i| section::seg_dist(p, &[hull[i][0], hull[i][1], hull[(i + 1) % n][0], hull[(i + 1) % n][1]]))
        .fold(f64::INFINITY, f64::min)
}

fn hms(s: f64) -> String {
    let s = s.round() as i64;
    if s >= 3600 {
        format!("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{}m {}s", s / 60, s % 60)
    }
}

fn metadata_check(md: &meta::Metadata, trace: &parse::Trace, cfg: &Config, height: f64) -> Check {
    let mut problems: Vec<String> = Vec::new();
    if md.generated_by.is_none() {
        problems
            .push(format!("first line is not `; generated by NAME on YYYY-MM-DD at HH:MM:SS`: {:?}", trace.first_line));
    }
    match md.estimated_time_s {
        Some(t) if t > 0.0 => {}
        _ => problems.push("no `; estimated printing time` > 0".into()),
    }
    match md.filament_total_mm {
        Some(f) if f > 0.0 => {}
        _ => problems.push("no `filament used [mm] =`".into()),
    }
    let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() < 1e-4);
    if !near(md.layer_height, cfg.layer_height) {
        problems.push(format!("layer_height {:?} ≠ {}", md.layer_height, cfg.layer_height));
    }
    if !near(md.first_layer_height, cfg.first_layer_height) {
        problems.push(format!("first_layer_height {:?} ≠ {}", md.first_layer_height, cfg.first_layer_height));
    }
    if !near(md.filament_diameter, cfg.filament_diameter) {
        problems.push(format!("filament_diameter {:?} ≠ {}", md.filament_diameter, cfg.filament_diameter));
    }
    for (name, v) in [
        ("nozzle_diameter", md.nozzle_diameter),
        ("first_layer_temperature", md.first_layer_extr_temp),
        ("first_layer_bed_temperature", md.first_layer_bed_temp),
    ] {
        if v.is_none() {
            problems.push(format!("no `; {name} =`"));
        }
    }
    if md.filament_type.as_deref().is_none_or(str::is_empty) {
        problems.push("no `; filament_type =`".into());
    }
    match md.object_height {
        Some(h) if (h - height).abs() <= cfg.layer_height + 1e-3 => {}
        h => problems.push(format!("object height {h:?} vs mesh {height:.2}")),
    }
    let bad_thumbs: Vec<String> = md
        .thumbnails
        .iter()
        .filter(|t| !t.ok())
        .map(|t| {
            format!(
                "{} {}x{} LEN {} actual {} decoded {:?}",
                t.tag, t.width, t.height, t.declared_len, t.actual_len, t.decoded
            )
        })
        .collect();
    problems.extend(bad_thumbs);
    if cfg.require_thumbnails && md.thumbnails.is_empty() {
        problems.push("no thumbnail block".into());
    }
    if trace.m73_p.windows(2).any(|w| w[1] < w[0]) || trace.m73_p.iter().any(|p| *p > 100.0) {
        problems.push("M73 P not monotonic in 0…100".into());
    }
    if trace.m73_r.windows(2).any(|w| w[1] > w[0]) {
        problems.push("M73 R increases".into());
    }
    let undefined: Vec<&String> = trace.objects_started.iter().filter(|s| !trace.objects_defined.contains(s)).collect();
    if !undefined.is_empty() {
        problems.push(format!("objects started but not defined: {undefined:?}"));
    }
    let summary = format!(
        "generated by {:?} (Moonraker alias {:?}), time {:?} s, filament {:?} mm / {:?} g, h {:?}/{:?}, nozzle {:?}, temps {:?}/{:?}, type {:?}, Ø {:?}, object height {:?}, {} thumbnails {:?}, {} M73, {} objects",
        md.generated_by,
        md.moonraker_alias,
        md.estimated_time_s,
        md.filament_total_mm,
        md.filament_weight_total_g,
        md.layer_height,
        md.first_layer_height,
        md.nozzle_diameter,
        md.first_layer_extr_temp,
        md.first_layer_bed_temp,
        md.filament_type,
        md.filament_diameter,
        md.object_height,
        md.thumbnails.len(),
        md.thumbnails.iter().map(|t| format!("{}x{}", t.width, t.height)).collect::<Vec<_>>(),
        trace.m73_p.len(),
        trace.objects_defined.len(),
    );
    Check {
        name: "metadata",
        pass: problems.is_empty(),
        detail: if problems.is_empty() { summary } else { format!("{}; {summary}", problems.join("; ")) },
    }
}

/// The volume model: for each planned layer (tops at first + i·h), on a raster of the checker's own
/// section at mid-height: shell = section minus its inset by perimeters × spacing (spacing =
/// w − h(1 − π/4), the bead's effective width); interior cells not covered by the section of every
/// one of the `top_layers` layers above or the `bottom_layers` below are solid, grown by
/// `solid_margin` within the interior; the rest of the interior is sparse at `infill_density`.
/// Volume = Σ h · (shell + solid + density · sparse).
pub fn volume_model(slicer: &section::Slicer, cfg: &Config, layers: usize) -> f64 {
    let g = raster::Grid::covering([slicer.min[0], slicer.min[1]], [slicer.max[0], slicer.max[1]], 1.0, 0.1, 60_000);
    let tops: Vec<(f64, f64)> = (0..layers)
        .map(|i| {
            if i == 0 {
                (cfg.first_layer_height, cfg.first_layer_height)
            } else {
                (cfg.first_layer_height + i as f64 * cfg.layer_height, cfg.layer_height)
            }
        })
        .collect();
    let inside: Vec<Vec<bool>> = tops.iter().map(|(z, h)| raster::fill(&g, &slicer.segments(z - h / 2.0))).collect();
    let mut total = 0.0;
    for (k, (_, h)) in tops.iter().enumerate() {
        let spacing = cfg.line_width - h * (1.0 - std::f64::consts::FRAC_PI_4);
        let inset = f64::from(cfg.perimeters) * spacing;
        let outside: Vec<bool> = inside[k].iter().map(|b| !b).collect();
        let d_out = raster::distance_to(&g, &outside);
        let interior: Vec<bool> = d_out.iter().map(|d| *d - g.cell / 2.0 > inset).collect();
        let covered = |j: isize, c: usize| j >= 0 && (j as usize) < layers && inside[j as usize][c];
        let mut seeds = vec![false; g.len()];
        let mut any = false;
        for c in 0..g.len() {
            if !interior[c] {
                continue;
            }
            let k = k as isize;
            let top = (1..=cfg.top_layers as isize).any(|j| !covered(k + j, c));
            let bottom = (1..=cfg.bottom_layers as isize).any(|j| !covered(k - j, c));
            if top || bottom {
                seeds[c] = true;
                any = true;
            }
        }
        let solid: Vec<bool> = if any && cfg.solid_margin > 0.0 {
            let d = raster::distance_to(&g, &seeds);
            interior.iter().zip(&d).map(|(i, d)| *i && *d <= cfg.solid_margin).collect()
        } else {
            seeds
        };
        let count = |v: &[bool]| v.iter().filter(|b| **b).count() as f64;
        let n_inside = count(&inside[k]);
        let n_interior = count(&interior);
        let n_solid = count(&solid);
        let area = g.cell_area();
        total += h * area * ((n_inside - n_interior) + n_solid + cfg.infill_density * (n_interior - n_solid));
    }
    total
}

/// Check 11; see the module docs.
fn rests_on(
    trace: &parse::Trace,
    layer_z: &[f64],
    part_z: &[f64],
    sections: &[section::Section],
    cfg: &Config,
    n: &mut Numbers,
) -> Check {
    let w = cfg.line_width;
    let reach = w + 0.15;
    let key = |z: f64| (z * 1e4).round() as i64;
    let zkeys: Vec<i64> = layer_z.iter().map(|z| key(*z)).collect();
    // Per layer: printing moves (in file order) and paths (split where anything else moves or pushes E).
    let mut paths: Vec<Vec<Vec<&parse::Move>>> = vec![Vec::new(); layer_z.len()];
    let mut current: Option<(usize, Vec<&parse::Move>)> = None;
    for m in &trace.moves {
        if m.extrudes() {
            let Ok(k) = zkeys.binary_search(&key(m.to[2])) else { continue };
            match &mut current {
                Some((ck, p))
                    if *ck == k
                        && p.last().is_some_and(|l| (l.to[0] - m.from[0]).hypot(l.to[1] - m.from[1]) < 1e-6) =>
                {
                    p.push(m)
                }
                _ => {
                    if let Some((ck, p)) = current.take() {
                        paths[ck].push(p);
                    }
                    current = Some((k, vec![m]));
                }
            }
        } else if m.len3() > 1e-9 || m.de.abs() > 1e-9 {
            if let Some((ck, p)) = current.take() {
                paths[ck].push(p);
            }
        }
    }
    if let Some((ck, p)) = current.take() {
        paths[ck].push(p);
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for m in trace.moves.iter().filter(|m| m.extrudes()) {
        for p in [m.from, m.to] {
            lo = [lo[0].min(p[0]), lo[1].min(p[1])];
            hi = [hi[0].max(p[0]), hi[1].max(p[1])];
        }
    }
    let mut failures: Vec<String> = Vec::new();
    if !lo[0].is_finite() {
        return Check { name: "rests_on", pass: false, detail: "no printing moves".into() };
    }
    let g = raster::Grid::covering(lo, hi, 1.0, 0.1, 4_000_000);
    let mut below = vec![false; g.len()];
    for k in 1..layer_z.len() {
        // What a line at z may rest on: anything printed within one layer height below it, and support
        // up to `support_gap_layers` more below (the air gap between support and part).
        let z = layer_z[k];
        let h = cfg.layer_height;
        let support_reach = (1 + cfg.support_gap_layers) as f64 * h;
        below.iter_mut().for_each(|b| *b = false);
        for j in (0..k).rev() {
            let dz = z - layer_z[j];
            // The layer right below always counts (a skipped layer is the `layers` check's business).
            let adjacent = j + 1 == k;
            if dz > support_reach + 0.01 && !adjacent {
                break;
            }
            for path in &paths[j] {
                let support = is_support(&trace.types[path[0].ty]);
                if !adjacent && dz > h + 0.01 && !(support && dz <= support_reach + 0.01) {
                    continue;
                }
                // Support stays an XY gap away from the part's walls; walls within that gap of it are held.
                let r = if support { reach.max(cfg.support_xy_reach) } else { reach };
                for m in path {
                    raster::stroke(&g, &mut below, [m.from[0], m.from[1]], [m.to[0], m.to[1]], r);
                }
            }
        }
        // The part's own section just below, for telling mesh overhangs from slicer gaps.
        let Some(below_section) = part_z.iter().rposition(|pz| *pz < z - 1e-4).map(|i| &sections[i]) else {
            continue;
        };
        for path in &paths[k] {
            // Samples: (arclength, supported, over the model's own section below).
            let mut s: Vec<(f64, bool, usize, [f64; 2])> = Vec::new();
            let mut arc = 0.0;
            for m in path {
                let len = m.xy_len();
                let steps = (len / 0.2).ceil().max(1.0) as usize;
                let first = if s.is_empty() { 0 } else { 1 };
                for i in first..=steps {
                    let t = i as f64 / steps as f64;
                    let p = [m.from[0] + t * (m.to[0] - m.from[0]), m.from[1] + t * (m.to[1] - m.from[1])];
                    let sup = g.index(p).is_some_and(|c| below[c]);
                    s.push((arc + t * len, sup, m.line, p));
                }
                arc += len;
            }
            n.rest_samples += s.len();
            n.rest_unsupported_samples += s.iter().filter(|x| !x.1).count();
            if s.iter().all(|x| x.1) {
                continue;
            }
            let start = [path[0].from[0], path[0].from[1]];
            let end = {
                let l = path[path.len() - 1];
                [l.to[0], l.to[1]]
            };
            let closed = (start[0] - end[0]).hypot(start[1] - end[1]) <= w && s.iter().any(|x| x.1);
            if closed {
                // Rotate so the path starts at a supported sample: every run is then anchored twice.
                let r = s.iter().position(|x| x.1).unwrap_or(0);
                let total = arc;
                let mut rot: Vec<(f64, bool, usize, [f64; 2])> =
                    s[r..].iter().map(|x| (x.0 - s[r].0, x.1, x.2, x.3)).collect();
                rot.extend(s[..r].iter().map(|x| (x.0 + total - s[r].0, x.1, x.2, x.3)));
                rot.push((total, true, s[r].2, s[r].3));
                s = rot;
            }
            let mut i = 0;
            while i < s.len() {
                if s[i].1 {
                    i += 1;
                    continue;
                }
                let mut j = i;
                while j + 1 < s.len() && !s[j + 1].1 {
                    j += 1;
                }
                let left = i > 0;
                let right = j + 1 < s.len();
                let a = if left { s[i - 1].0 } else { s[i].0 };
                let b = if right { s[j + 1].0 } else { s[j].0 };
                let span = b - a;
                let ok =
                    if left && right { span <= cfg.max_bridge } else { (left || right) && span <= cfg.max_cantilever };
                if left && right && ok && span > 2.0 * reach {
                    n.rest_bridges += 1;
                    n.rest_longest_bridge_mm = n.rest_longest_bridge_mm.max(span);
                }
                if !ok {
                    // Is there model below any of it? Without supports, overhangs of the mesh itself are tolerated.
                    // A sample is over the mesh when the section below holds it at least one line width deep;
                    // within a line width of that outline (or outside it) it is an overhang of the mesh.
                    let over_nothing = (i..=j).all(|q| {
                        let p = s[q].3;
                        !(below_section.inside(p) && below_section.distance(p, w) > w)
                    });
                    if cfg.allow_model_overhang && over_nothing {
                        n.rest_tolerated_overhang_mm += span;
                    } else {
                        n.rest_failures += 1;
                        if failures.len() < 5 {
                            failures.push(format!(
                                "line {} z {:.2}: {:.2} mm unsupported, anchored {}{}",
                                s[i].2,
                                layer_z[k],
                                span,
                                if left && right {
                                    "both ends"
                                } else if left || right {
                                    "one end"
                                } else {
                                    "nowhere"
                                },
                                if over_nothing { " (mesh overhang)" } else { " (mesh below it)" }
                            ));
                        }
                    }
                }
                i = j + 1;
            }
        }
    }
    Check {
        name: "rests_on",
        pass: n.rest_failures == 0,
        detail: format!(
            "{} samples, {} unsupported ({:.2} %), {} bridges (longest {:.1} mm, limit {}), {} mid-air runs, {:.1} mm over mesh overhangs tolerated{}; {:?}",
            n.rest_samples,
            n.rest_unsupported_samples,
            100.0 * n.rest_unsupported_samples as f64 / n.rest_samples.max(1) as f64,
            n.rest_bridges,
            n.rest_longest_bridge_mm,
            cfg.max_bridge,
            n.rest_failures,
            n.rest_tolerated_overhang_mm,
            if cfg.allow_model_overhang { "" } else { " (not allowed)" },
            failures
        ),
    }
}
