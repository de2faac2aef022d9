//! G-code output: path ordering, travel and retraction, cooling, object labels, progress and the metadata
//! printer hosts read (PrusaSlicer-compatible header, footer and thumbnails).

use std::fmt::Write as _;

use glam::DVec2;

use crate::estimate::{self, Move};
use crate::geom::Polygons;
use crate::index::RegionIndex;
use crate::settings::{Flavour, Profile, SeamPosition};
use crate::toolpath::{ExtrusionPath, LayerPaths, Role};

fn render(template: &str, profile: &Profile) -> String {
    // Profiles are validated before slicing, so an unknown placeholder cannot reach here; keep the text if it does.
    crate::settings::render_template(template, profile).unwrap_or_else(|_| template.to_string())
}

/// A number for a comment or header line, formatted like coordinates.
fn fmt_num(v: f64) -> String {
    let mut s = String::new();
    push_num(&mut s, v, 3);
    s
}

/// Writes a coordinate the way slicers do: 3 decimals, no trailing zeros.
fn push_num(out: &mut String, v: f64, decimals: usize) {
    let start = out.len();
    let _ = write!(out, "{v:.decimals$}");
    if out[start..].contains('.') {
        while out.ends_with('0') {
            out.pop();
        }
        if out.ends_with('.') {
            out.pop();
        }
    }
    if &out[start..] == "-0" {
        out.truncate(start);
        out.push('0');
    }
}

/// Material and time totals of a finished G-code file.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Totals {
    pub print_time_s: f64,
    pub filament_mm: f64,
    pub filament_cm3: f64,
    pub filament_g: f64,
    pub cost: f64,
    pub layer_times_s: Vec<f64>,
}

/// Header facts that do not come from the profile.
pub struct Header<'a> {
    pub timestamp: (i64, u32, u32, u32, u32, u32),
    pub thumbnails: &'a [(u32, u32, Vec<u8>)],
    pub object_names: &'a [String],
    pub object_outlines: &'a [Polygons],
}

/// Nozzle-side state while emitting.
struct Writer<'a> {
    profile: &'a Profile,
    out: String,
    pos: DVec2,
    z: f64,
    e: f64,
    retracted: bool,
    feed: f64,
    filament_area: f64,
    relative_e: bool,
    total_e: f64,
    role: Option<Role>,
    width: f32,
    moves: Vec<Move>,
    speed_factor: f64,
    first_layer: bool,
}

impl<'a> Writer<'a> {
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn set_feed(&mut self, feed_mm_s: f64) {
        if (feed_mm_s - self.feed).abs() > 1e-9 {
            self.out.push_str(" F");
            push_num(&mut self.out, feed_mm_s * 60.0, 0);
            self.feed = feed_mm_s;
        }
    }

    fn retract(&mut self) {
        let len = self.profile.material.retract_length;
        if self.retracted || len <= 0.0 {
            return;
        }
        let speed = self.profile.material.retract_speed;
        self.e_move(-len, speed);
        self.retracted = true;
        if self.profile.quality.z_hop > 0.0 {
            self.z_move(self.z + self.profile.quality.z_hop);
        }
    }

    fn unretract(&mut self) {
        if !self.retracted {
            return;
        }
        if self.profile.quality.z_hop > 0.0 {
            let layer_z = self.z - self.profile.quality.z_hop;
            self.z_move(layer_z);
        }
        let len = self.profile.material.retract_length;
        self.e_move(len, self.profile.material.retract_speed);
        self.retracted = false;
    }

    fn e_move(&mut self, delta: f64, speed: f64) {
        self.out.push_str("G1 E");
        if self.relative_e {
            push_num(&mut self.out, delta, 5);
        } else {
            self.e += delta;
            push_num(&mut self.out, self.e, 5);
        }
        self.total_e += delta;
        self.set_feed(speed);
        self.out.push('\n');
        self.moves.push(Move { delta: [0.0, 0.0, 0.0, delta], feed: speed });
    }

    fn z_move(&mut self, z: f64) {
        self.out.push_str("G1 Z");
        push_num(&mut self.out, z, 3);
        let feed = self.profile.printer.max_feedrate.z;
        self.set_feed(feed);
        self.out.push('\n');
        self.moves.push(Move { delta: [0.0, 0.0, z - self.z, 0.0], feed });
        self.z = z;
    }

    fn travel(&mut self, to: DVec2, boundary: Option<&RegionIndex>) {
        let dist = self.pos.distance(to);
        if dist < 1e-6 {
            return;
        }
        let q = &self.profile.quality;
        // With avoid-crossing on, travel inside the island follows its outline instead of crossing walls, and
        // needs no retraction; otherwise only a travel that stays inside skips it.
        let route = match boundary {
            Some(b) if q.avoid_crossing_perimeters && dist > q.retract_min_travel => b.route_inside(self.pos, to),
            Some(b) if b.segment_inside(self.pos, to) => Some(vec![to]),
            _ => None,
        };
        if dist > q.retract_min_travel && route.is_none() {
            self.retract();
        }
        let feed = q.speeds.travel;
        for p in route.unwrap_or_else(|| vec![to]) {
            if self.pos.distance(p) < 1e-6 {
                continue;
            }
            self.out.push_str("G1 X");
            push_num(&mut self.out, p.x, 3);
            self.out.push_str(" Y");
            push_num(&mut self.out, p.y, 3);
            self.set_feed(feed);
            self.out.push('\n');
            self.moves.push(Move { delta: [p.x - self.pos.x, p.y - self.pos.y, 0.0, 0.0], feed });
            self.pos = p;
        }
    }

    fn extrude_path(&mut self, path: &ExtrusionPath, height: f64, boundary: Option<&RegionIndex>) {
        self.travel(path.start(), boundary);
        self.unretract();
        if self.role != Some(path.role) {
            let _ = writeln!(self.out, ";TYPE:{}", path.role.label());
            self.role = Some(path.role);
        }
        let speed = self.speed_for(path.role);
        let n = path.points.len();
        let count = if path.closed { n + 1 } else { n };
        for k in 1..count {
            let i = k % n;
            let to = path.points[i];
            let w = (path.widths[k - 1].max(0.0) + path.widths[i].max(0.0)) / 2.0;
            if (w - self.width).abs() > 1e-4 {
                let _ = writeln!(self.out, ";WIDTH:{}", fmt_num(w as f64));
                self.width = w;
            }
            let len = self.pos.distance(to);
            if len < 1e-6 {
                continue;
            }
            let area = if matches!(path.role, Role::BridgeInfill | Role::OverhangPerimeter) {
                // Bridges hang as round threads the nozzle's size.
                std::f64::consts::PI * (w as f64 / 2.0).powi(2)
            } else {
                height * (w as f64 - height * (1.0 - std::f64::consts::FRAC_PI_4))
            };
            let de = len * area / self.filament_area * self.profile.material.flow;
            self.out.push_str("G1 X");
            push_num(&mut self.out, to.x, 3);
            self.out.push_str(" Y");
            push_num(&mut self.out, to.y, 3);
            self.out.push_str(" E");
            if self.relative_e {
                push_num(&mut self.out, de, 5);
            } else {
                self.e += de;
                push_num(&mut self.out, self.e, 5);
            }
            self.total_e += de;
            self.set_feed(speed);
            self.out.push('\n');
            self.moves.push(Move { delta: [to.x - self.pos.x, to.y - self.pos.y, 0.0, de], feed: speed });
            self.pos = to;
        }
    }

    fn speed_for(&self, role: Role) -> f64 {
        let s = &self.profile.quality.speeds;
        let base = match role {
            Role::ExternalPerimeter => s.external_perimeter,
            Role::Perimeter => s.perimeter,
            Role::InternalInfill => s.infill,
            Role::SolidInfill => s.solid_infill,
            Role::TopSolidInfill => s.top_solid_infill,
            Role::BridgeInfill | Role::OverhangPerimeter => s.bridge,
            Role::Skirt | Role::Brim => s.skirt,
            Role::Support | Role::SupportInterface => s.support,
        };
        let base = if self.first_layer { base.min(s.first_layer) } else { base };
        (base * self.speed_factor).max(self.profile.material.min_print_speed.min(base))
    }
}

/// Greedy nearest-neighbour order of open paths (reversing them when that is shorter) starting from `pos`.
fn order_paths(mut paths: Vec<ExtrusionPath>, mut pos: DVec2) -> Vec<ExtrusionPath> {
    let mut out = Vec::with_capacity(paths.len());
    while !paths.is_empty() {
        let mut best = (0, false, f64::MAX);
        for (i, p) in paths.iter().enumerate() {
            let d = p.start().distance_squared(pos);
            if d < best.2 {
                best = (i, false, d);
            }
            if !p.closed {
                let d = p.end().distance_squared(pos);
                if d < best.2 {
                    best = (i, true, d);
                }
            }
        }
        let mut p = paths.swap_remove(best.0);
        if best.1 {
            p.reverse();
        }
        pos = p.end();
        out.push(p);
    }
    out
}

fn nearest_vertex(points: &[DVec2], pos: DVec2) -> usize {
    (0..points.len())
        .min_by(|&a, &b| points[a].distance_squared(pos).total_cmp(&points[b].distance_squared(pos)))
        .unwrap_or(0)
}

fn label_start(w: &mut Writer, flavour: Flavour, names: &[String], id: usize) {
    match flavour {
        Flavour::Klipper => {
            let _ = writeln!(w.out, "EXCLUDE_OBJECT_START NAME={}", names[id]);
        }
        Flavour::Marlin2 | Flavour::RepRapFirmware => {
            let _ = writeln!(w.out, "M486 S{id}");
        }
    }
}

fn label_end(w: &mut Writer, flavour: Flavour, names: &[String], id: usize) {
    match flavour {
        Flavour::Klipper => {
            let _ = writeln!(w.out, "EXCLUDE_OBJECT_END NAME={}", names[id]);
        }
        Flavour::Marlin2 | Flavour::RepRapFirmware => w.line("M486 S-1"),
    }
}

/// Emits one layer's moves; returns the text and the moves for the estimate.
fn emit_layer(w: &mut Writer, layer: &LayerPaths, index: usize, names: &[String]) {
    let flavour = w.profile.printer.flavour;
    let q = &w.profile.quality;
    if q.retract_on_layer_change && index > 0 {
        w.retract();
    }
    w.line(";LAYER_CHANGE");
    let _ = writeln!(w.out, ";Z:{}", fmt_num(layer.z));
    let _ = writeln!(w.out, ";HEIGHT:{}", fmt_num(layer.height));
    w.z_move(layer.z + if w.retracted { q.z_hop } else { 0.0 });
    for p in order_paths(layer.adhesion.clone(), w.pos) {
        w.extrude_path(&p, layer.height, None);
    }
    for (id, obj) in layer.objects.iter().enumerate() {
        if obj.islands.is_empty() && obj.support.is_empty() {
            continue;
        }
        label_start(w, flavour, names, id);
        for p in order_paths(obj.support.clone(), w.pos) {
            w.extrude_path(&p, layer.height, None);
        }
        let mut remaining: Vec<&crate::toolpath::IslandPaths> = obj.islands.iter().collect();
        while !remaining.is_empty() {
            let pos = w.pos;
            let k = (0..remaining.len())
                .min_by(|&a, &b| {
                    let da = remaining[a].perimeters.first().map_or(f64::MAX, |p| p.start().distance_squared(pos));
                    let db = remaining[b].perimeters.first().map_or(f64::MAX, |p| p.start().distance_squared(pos));
                    da.total_cmp(&db)
                })
                .unwrap();
            let island = remaining.swap_remove(k);
            // Travel may run over the outer wall but never outside it.
            let inset = crate::geom::offset(
                &island.boundary,
                -w.profile.quality.width(w.profile.printer.nozzle_diameter) / 4.0,
            );
            let index = RegionIndex::new(&inset, 2.0);
            for p in &island.perimeters {
                let mut p = p.clone();
                if w.profile.quality.seam == SeamPosition::Nearest {
                    let i = nearest_vertex(&p.points, w.pos);
                    p.rotate_start(i);
                }
                w.extrude_path(&p, layer.height, Some(&index));
            }
            for p in order_paths(island.fills.clone(), w.pos) {
                w.extrude_path(&p, layer.height, Some(&index));
            }
        }
        label_end(w, flavour, names, id);
    }
}

/// Fan duty (0–255) for a layer that takes `t` seconds, PrusaSlicer's rule.
fn fan_for(profile: &Profile, layer: usize, t: f64) -> u8 {
    let m = &profile.material;
    if layer < m.disable_fan_first_layers as usize {
        return 0;
    }
    let pct = if t < m.slowdown_below_layer_time {
        m.fan_max
    } else if t < m.fan_below_layer_time {
        let f = (m.fan_below_layer_time - t) / (m.fan_below_layer_time - m.slowdown_below_layer_time).max(1e-9);
        m.fan_min + (m.fan_max - m.fan_min) * f
    } else {
        m.fan_min
    };
    (pct.clamp(0.0, 100.0) * 2.55).round() as u8
}

/// Writes the whole file. `progress` receives the fraction of layers written.
pub fn write(
    layers: &[LayerPaths],
    profile: &Profile,
    header: &Header,
    progress: &dyn Fn(f32),
    cancelled: &dyn Fn() -> bool,
) -> Option<(String, Totals)> {
    let flavour = profile.printer.flavour;
    let relative_e = !matches!(flavour, Flavour::Marlin2);
    let filament_area = std::f64::consts::PI * (profile.material.diameter / 2.0).powi(2);
    // Pass 1: emit each layer into its own buffer to learn its time; slow down short layers and re-emit.
    let mut w = Writer {
        profile,
        out: String::new(),
        pos: DVec2::ZERO,
        z: 0.0,
        e: 0.0,
        retracted: false,
        feed: 0.0,
        filament_area,
        relative_e,
        total_e: 0.0,
        role: None,
        width: 0.0,
        moves: Vec::new(),
        speed_factor: 1.0,
        first_layer: true,
    };
    let mut bodies: Vec<(String, f64, u8)> = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        if cancelled() {
            return None;
        }
        w.first_layer = i == 0;
        if !relative_e && i > 0 {
            // Matches the `G92 E0` written before each layer body.
            w.e = 0.0;
        }
        let snapshot = (w.pos, w.z, w.e, w.retracted, w.total_e, w.role, w.width);
        w.out.clear();
        w.moves.clear();
        w.speed_factor = 1.0;
        w.feed = 0.0;
        emit_layer(&mut w, layer, i, header.object_names);
        let mut t = estimate::moves_time(&w.moves, &profile.printer);
        let target = profile.material.slowdown_below_layer_time;
        if t > 0.0 && t < target {
            // Slow the printing moves (not travel) so the layer takes the minimum time and can cool.
            let factor = (t / target).clamp(0.05, 1.0);
            (w.pos, w.z, w.e, w.retracted, w.total_e, w.role, w.width) = snapshot;
            w.out.clear();
            w.moves.clear();
            w.speed_factor = factor;
            w.feed = 0.0;
            emit_layer(&mut w, layer, i, header.object_names);
            t = estimate::moves_time(&w.moves, &profile.printer);
        }
        let fan = fan_for(profile, i, t);
        bodies.push((std::mem::take(&mut w.out), t, fan));
        progress((i + 1) as f32 / layers.len().max(1) as f32);
    }
    let layer_times: Vec<f64> = bodies.iter().map(|b| b.1).collect();
    let total_time: f64 = layer_times.iter().sum();
    let filament_mm = w.total_e;
    let cm3 = filament_mm * filament_area / 1000.0;
    let grams = cm3 * profile.material.density;
    let cost = grams / 1000.0 * profile.material.cost_per_kg;
    let totals = Totals {
        print_time_s: total_time,
        filament_mm,
        filament_cm3: cm3,
        filament_g: grams,
        cost,
        layer_times_s: layer_times.clone(),
    };

    let m = &profile.material;
    let q = &profile.quality;
    let p = &profile.printer;
    let mut out = String::with_capacity(bodies.iter().map(|b| b.0.len()).sum::<usize>() + 64 * 1024);
    let (y, mo, d, h, mi, s) = header.timestamp;
    let _ = writeln!(
        out,
        "; generated by Printfarm {} on {y:04}-{mo:02}-{d:02} at {h:02}:{mi:02}:{s:02} UTC",
        env!("CARGO_PKG_VERSION")
    );
    // Moonraker before 2025 identifies PrusaSlicer-style files only by a known slicer name followed by " on";
    // this line lets those versions read our PrusaSlicer-format footer too (newer ones match the line above).
    out.push_str("; metadata format: PrusaSlicer 2.5 on-disk conventions\n");
    out.push('\n');
    for (tw, th, png) in header.thumbnails {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png);
        let _ = writeln!(out, ";\n; thumbnail begin {tw}x{th} {}", b64.len());
        for chunk in b64.as_bytes().chunks(78) {
            let _ = writeln!(out, "; {}", std::str::from_utf8(chunk).unwrap_or_default());
        }
        out.push_str("; thumbnail end\n;\n");
    }
    out.push('\n');
    let _ = writeln!(out, "; external perimeters extrusion width = {}mm", fmt_num(q.width(p.nozzle_diameter)));
    let _ = writeln!(out, "; perimeters extrusion width = {}mm", fmt_num(q.width(p.nozzle_diameter)));
    let _ = writeln!(out, "; infill extrusion width = {}mm", fmt_num(q.width(p.nozzle_diameter)));
    let _ = writeln!(out, "; first layer extrusion width = {}mm", fmt_num(q.first_width(p.nozzle_diameter)));
    out.push('\n');
    // Object labels so a failed part can be cancelled alone.
    match flavour {
        Flavour::Klipper => {
            for (name, outline) in header.object_names.iter().zip(header.object_outlines) {
                let hull: Vec<String> = outline
                    .iter()
                    .flatten()
                    .step_by(outline.iter().map(Vec::len).sum::<usize>().div_ceil(32).max(1))
                    .map(|v| format!("[{},{}]", fmt_num(v.x), fmt_num(v.y)))
                    .collect();
                let (lo, hi) = crate::geom::bounds(outline).unwrap_or_default();
                let c = (lo + hi) / 2.0;
                let _ = writeln!(
                    out,
                    "EXCLUDE_OBJECT_DEFINE NAME={name} CENTER={},{} POLYGON=[{}]",
                    fmt_num(c.x),
                    fmt_num(c.y),
                    hull.join(",")
                );
            }
        }
        Flavour::Marlin2 | Flavour::RepRapFirmware => {
            let _ = writeln!(out, "M486 T{}", header.object_names.len());
            // Names, so the printer's cancel menu and hosts show which part is which.
            for (id, name) in header.object_names.iter().enumerate() {
                let _ = writeln!(out, "M486 S{id} A\"{name}\"");
            }
            out.push_str("M486 S-1\n");
        }
    }
    if q.progress_markers {
        let _ = writeln!(out, "M73 P0 R{}", (total_time / 60.0).round() as u64);
    }
    if matches!(flavour, Flavour::Marlin2 | Flavour::RepRapFirmware) {
        let (f, a, j) = (&p.max_feedrate, &p.max_acceleration, &p.max_jerk);
        let _ = writeln!(
            out,
            "M201 X{} Y{} Z{} E{} ; max acceleration",
            fmt_num(a.x),
            fmt_num(a.y),
            fmt_num(a.z),
            fmt_num(a.e)
        );
        let _ = writeln!(
            out,
            "M203 X{} Y{} Z{} E{} ; max feedrate",
            fmt_num(f.x),
            fmt_num(f.y),
            fmt_num(f.z),
            fmt_num(f.e)
        );
        let _ = writeln!(
            out,
            "M204 P{} T{} ; print and travel acceleration",
            fmt_num(p.acceleration_print),
            fmt_num(p.acceleration_travel)
        );
        let _ = writeln!(out, "M205 X{} Y{} Z{} E{} ; jerk", fmt_num(j.x), fmt_num(j.y), fmt_num(j.z), fmt_num(j.e));
    }
    out.push_str("M107\n");
    out.push_str(&render(&p.start_gcode, profile));
    out.push('\n');
    // G90 then the E mode: Klipper's G90 does not reset the extruder mode, Marlin's does.
    out.push_str("G21 ; millimetres\nG90 ; absolute coordinates\n");
    out.push_str(if relative_e { "M83 ; relative extrusion\n" } else { "M82 ; absolute extrusion\n" });
    out.push_str("G92 E0\n");
    let mut elapsed = 0.0;
    let mut fan = 0u8;
    for (i, (body, t, layer_fan)) in bodies.iter().enumerate() {
        if i == 1 && (m.temperature - m.first_layer_temperature).abs() > 0.1 {
            let _ = writeln!(out, "M104 S{}", fmt_num(m.temperature));
        }
        if i == 1 && (m.bed_temperature - m.first_layer_bed_temperature).abs() > 0.1 {
            let _ = writeln!(out, "M140 S{}", fmt_num(m.bed_temperature));
        }
        if *layer_fan != fan {
            if *layer_fan == 0 {
                out.push_str("M107\n");
            } else {
                let _ = writeln!(out, "M106 S{layer_fan}");
            }
            fan = *layer_fan;
        }
        if q.progress_markers && i > 0 {
            let pct = (elapsed / total_time.max(1e-9) * 100.0).floor() as u64;
            let _ = writeln!(out, "M73 P{} R{}", pct.min(99), ((total_time - elapsed) / 60.0).round() as u64);
        }
        if !relative_e && i > 0 {
            // Absolute E restarts at each layer so long prints do not lose float precision.
            out.push_str(";BEFORE_LAYER_CHANGE\nG92 E0\n");
        } else {
            out.push_str(";BEFORE_LAYER_CHANGE\n");
        }
        out.push_str(body);
        elapsed += t;
    }
    if q.progress_markers {
        out.push_str("M73 P100 R0\n");
    }
    out.push_str("M107\n");
    out.push_str(&render(&p.end_gcode, profile));
    out.push('\n');
    let max_z = layers.last().map_or(0.0, |l| l.z);
    let _ = writeln!(out, "\n; filament used [mm] = {:.2}", filament_mm);
    let _ = writeln!(out, "; filament used [cm3] = {:.2}", cm3);
    let _ = writeln!(out, "; filament used [g] = {:.2}", grams);
    let _ = writeln!(out, "; filament cost = {:.2}", cost);
    let _ = writeln!(out, "; total filament used [g] = {:.2}", grams);
    let _ = writeln!(out, "; total filament cost = {:.2}", cost);
    let _ = writeln!(out, "; total layers count = {}", layers.len());
    let _ = writeln!(out, "; estimated printing time (normal mode) = {}", estimate::format_time(total_time));
    out.push('\n');
    let _ = writeln!(out, "; bed_temperature = {}", fmt_num(m.bed_temperature));
    let _ = writeln!(out, "; filament_colour = {}", m.colour);
    let _ = writeln!(out, "; filament_cost = {}", fmt_num(m.cost_per_kg));
    let _ = writeln!(out, "; filament_density = {}", fmt_num(m.density));
    let _ = writeln!(out, "; filament_diameter = {}", fmt_num(m.diameter));
    let _ = writeln!(out, "; filament_settings_id = \"{}\"", m.name);
    let _ = writeln!(out, "; filament_type = {}", m.kind.label());
    let _ = writeln!(out, "; first_layer_bed_temperature = {}", fmt_num(m.first_layer_bed_temperature));
    let _ = writeln!(out, "; first_layer_height = {}", fmt_num(q.first_layer_height));
    let _ = writeln!(out, "; first_layer_temperature = {}", fmt_num(m.first_layer_temperature));
    let _ = writeln!(out, "; fill_density = {}%", fmt_num(q.infill_density * 100.0));
    let _ = writeln!(out, "; layer_height = {}", fmt_num(q.layer_height));
    let _ = writeln!(out, "; max_layer_z = {}", fmt_num(max_z));
    let _ = writeln!(out, "; nozzle_diameter = {}", fmt_num(p.nozzle_diameter));
    let _ = writeln!(out, "; perimeters = {}", q.perimeters);
    let _ = writeln!(out, "; print_settings_id = \"{}\"", q.name);
    let _ = writeln!(out, "; printer_settings_id = \"{}\"", p.name);
    let _ = writeln!(out, "; temperature = {}", fmt_num(m.temperature));
    Some((out, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        let mut s = String::new();
        push_num(&mut s, 12.5, 3);
        s.push(' ');
        push_num(&mut s, 3.0, 3);
        s.push(' ');
        push_num(&mut s, -0.0001, 3);
        assert_eq!(s, "12.5 3 0");
        assert_eq!(fmt_num(0.2), "0.2");
    }

    #[test]
    fn fan_follows_layer_time() {
        let mut p = Profile::default();
        p.material.fan_min = 30.0;
        p.material.fan_max = 100.0;
        assert_eq!(fan_for(&p, 0, 1.0), 0, "first layer fan off");
        assert_eq!(fan_for(&p, 5, 1.0), 255);
        assert_eq!(fan_for(&p, 5, 100.0), 77);
    }
}
