//! Import of PrusaSlicer configs (`.ini` exports or the `; prusaslicer_config = begin` footer of its G-code), so a
//! farm can bring its tuned profiles. Only the keys with a Printfarm equivalent are mapped; the rest are listed.

use std::collections::HashMap;

use super::{BedShape, Flavour, InfillPattern, MaterialKind, Profile, SeamPosition, SettingsError, SolidPattern};

/// The outcome of [`import_prusa_ini`]: the profile plus what could not be carried over.
#[derive(Debug, Clone, PartialEq)]
pub struct PrusaImport {
    /// The base profile with every mapped key applied; already validated.
    pub profile: Profile,
    /// Keys present in the file that Printfarm does not map, in file order.
    pub ignored: Vec<String>,
    /// Values mapped only approximately, or kept from the base, with the reason.
    pub warnings: Vec<String>,
}

/// Maps the common keys of a PrusaSlicer config onto `base`; keys absent from the file keep `base`'s values.
///
/// Percentages are resolved the way PrusaSlicer defines them (external perimeter speed over perimeter speed,
/// extrusion widths over the nozzle, …), against the file's value or else `base`'s. Errors name the line.
pub fn import_prusa_ini(text: &str, base: &Profile) -> Result<PrusaImport, SettingsError> {
    let mut ini = Ini::parse(text)?;
    let mut profile = base.clone();
    ini.printer(&mut profile)?;
    ini.material(&mut profile)?;
    ini.quality(&mut profile)?;
    profile.validate()?;
    let mut ignored: Vec<(usize, String)> =
        ini.entries.into_iter().filter(|(_, e)| !e.used).map(|(k, e)| (e.line, k)).collect();
    ignored.sort();
    Ok(PrusaImport { profile, ignored: ignored.into_iter().map(|(_, k)| k).collect(), warnings: ini.warnings })
}

struct Entry {
    line: usize,
    value: String,
    used: bool,
}

struct Ini {
    entries: HashMap<String, Entry>,
    warnings: Vec<String>,
}

const FOOTER_BEGIN: &str = "; prusaslicer_config = begin";
const FOOTER_END: &str = "; prusaslicer_config = end";

impl Ini {
    fn parse(text: &str) -> Result<Ini, SettingsError> {
        let lines: Vec<&str> = text.lines().collect();
        // In G-code only the footer block is config; everything else is moves and comments.
        let (body, first_line, footer) = match lines.iter().position(|l| l.trim() == FOOTER_BEGIN) {
            Some(begin) => {
                let len = lines[begin + 1..].iter().position(|l| l.trim() == FOOTER_END).ok_or_else(|| {
                    SettingsError::Ini { line: begin + 1, message: format!("`{FOOTER_BEGIN}` without `{FOOTER_END}`") }
                })?;
                (&lines[begin + 1..begin + 1 + len], begin + 2, true)
            }
            None => (&lines[..], 1, false),
        };
        let mut ini = Ini { entries: HashMap::new(), warnings: Vec::new() };
        for (i, raw) in body.iter().enumerate() {
            let line = first_line + i;
            let mut l = raw.trim();
            if footer {
                l = l.strip_prefix(';').map(str::trim).unwrap_or(l);
            } else if l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if l.is_empty() {
                continue;
            }
            if l.starts_with('[') {
                return Err(SettingsError::Ini {
                    line,
                    message: format!(
                        "section `{l}` belongs to a config bundle; export a single config instead \
                         (File > Export > Export Config)"
                    ),
                });
            }
            let parsed = l.split_once('=').map(|(k, v)| (k.trim(), v.trim()));
            let Some((key, value)) =
                parsed.filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            else {
                return Err(SettingsError::Ini { line, message: format!("expected `key = value`, found `{l}`") });
            };
            let entry = Entry { line, value: value.to_string(), used: false };
            if let Some(old) = ini.entries.insert(key.to_string(), entry) {
                ini.warnings.push(format!("line {line}: `{key}` repeats line {}; the later value is used", old.line));
            }
        }
        Ok(ini)
    }

    /// The raw value of `key`, marking it used; `nil` (PrusaSlicer's "not overridden") counts as absent.
    fn raw(&mut self, key: &str) -> Option<(usize, String)> {
        let e = self.entries.get_mut(key)?;
        e.used = true;
        let first = e.value.split(',').next().unwrap_or_default().trim();
        (first != "nil").then(|| (e.line, e.value.clone()))
    }

    fn bad(line: usize, key: &str, value: &str, expected: &str) -> SettingsError {
        SettingsError::Ini { line, message: format!("`{key} = {value}`: expected {expected}") }
    }

    /// A number; per-extruder lists (`0.4,0.4`) and normal/silent pairs (`200,100`) give their first element.
    fn num(&mut self, key: &str) -> Result<Option<f64>, SettingsError> {
        let Some((line, value)) = self.raw(key) else { return Ok(None) };
        let first = value.split(',').next().unwrap_or_default().trim();
        match first.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(Self::bad(line, key, &value, "a number")),
        }
    }

    /// A number or `N%` of `base` (PrusaSlicer's "float or percent" options).
    fn num_or_percent(&mut self, key: &str, base: f64) -> Result<Option<f64>, SettingsError> {
        let Some((line, value)) = self.raw(key) else { return Ok(None) };
        let first = value.split(',').next().unwrap_or_default().trim();
        let (digits, scale) = match first.strip_suffix('%') {
            Some(p) => (p.trim(), base / 100.0),
            None => (first, 1.0),
        };
        match digits.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v * scale)),
            _ => Err(Self::bad(line, key, &value, "a number or a percentage")),
        }
    }

    fn count(&mut self, key: &str) -> Result<Option<u32>, SettingsError> {
        let Some((line, value)) = self.raw(key) else { return Ok(None) };
        let first = value.split(',').next().unwrap_or_default().trim();
        first.parse().map(Some).map_err(|_| Self::bad(line, key, &value, "a whole number ≥ 0"))
    }

    fn flag(&mut self, key: &str) -> Result<Option<bool>, SettingsError> {
        let Some((line, value)) = self.raw(key) else { return Ok(None) };
        match value.split(',').next().unwrap_or_default().trim() {
            "1" => Ok(Some(true)),
            "0" => Ok(Some(false)),
            _ => Err(Self::bad(line, key, &value, "0 or 1")),
        }
    }

    /// A string option, C-style escapes undone (`\n` in G-code templates).
    fn text(&mut self, key: &str) -> Option<(usize, String)> {
        self.raw(key).map(|(line, v)| (line, unescape(&v)))
    }

    /// The first element of a string list (`filament_type = PLA;PETG`, `"Generic PLA";"x"`).
    fn first_string(&mut self, key: &str) -> Option<(usize, String)> {
        let (line, v) = self.raw(key)?;
        let s = match v.strip_prefix('"') {
            Some(rest) => {
                let mut out = String::new();
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => out.extend(chars.next()),
                        c => out.push(c),
                    }
                }
                out
            }
            None => v.split(';').next().unwrap_or_default().trim().to_string(),
        };
        Some((line, s))
    }

    fn warn(&mut self, line: usize, message: String) {
        self.warnings.push(format!("line {line}: {message}"));
    }

    fn printer(&mut self, p: &mut Profile) -> Result<(), SettingsError> {
        if let Some((line, tech)) = self.first_string("printer_technology") {
            if tech != "FFF" {
                return Err(SettingsError::Ini {
                    line,
                    message: format!("printer_technology = {tech}: only FFF is supported"),
                });
            }
        }
        let pr = &mut p.printer;
        if let Some((_, name)) = self.first_string("printer_settings_id").filter(|(_, n)| !n.is_empty()) {
            pr.name = name;
        }
        set(&mut pr.nozzle_diameter, self.num("nozzle_diameter")?);
        if let Some((line, value)) = self.raw("bed_shape") {
            pr.bed = self.bed_shape(line, &value)?;
        }
        set(&mut pr.max_height, self.num("max_print_height")?);
        if let Some((line, flavor)) = self.first_string("gcode_flavor") {
            match flavor.as_str() {
                "marlin2" => pr.flavour = Flavour::Marlin2,
                "klipper" => pr.flavour = Flavour::Klipper,
                "reprapfirmware" => pr.flavour = Flavour::RepRapFirmware,
                "marlin" | "marlinlegacy" => {
                    pr.flavour = Flavour::Marlin2;
                    self.warn(line, format!("gcode_flavor = {flavor} is treated as Marlin 2"));
                }
                other => self.warn(line, format!("gcode_flavor = {other} is not supported; keeping {:?}", pr.flavour)),
            }
        }
        for (axis, feed, acc, jerk) in [
            ("x", &mut pr.max_feedrate.x, &mut pr.max_acceleration.x, &mut pr.max_jerk.x),
            ("y", &mut pr.max_feedrate.y, &mut pr.max_acceleration.y, &mut pr.max_jerk.y),
            ("z", &mut pr.max_feedrate.z, &mut pr.max_acceleration.z, &mut pr.max_jerk.z),
            ("e", &mut pr.max_feedrate.e, &mut pr.max_acceleration.e, &mut pr.max_jerk.e),
        ] {
            set(feed, self.num(&format!("machine_max_feedrate_{axis}"))?);
            set(acc, self.num(&format!("machine_max_acceleration_{axis}"))?);
            set(jerk, self.num(&format!("machine_max_jerk_{axis}"))?);
        }
        // Print acceleration: the print profile's default_acceleration when set, else the machine's M204 P.
        let extruding = self.num("machine_max_acceleration_extruding")?.filter(|a| *a > 0.0);
        let default = self.num("default_acceleration")?.filter(|a| *a > 0.0);
        set(&mut pr.acceleration_print, default.or(extruding));
        // Travel: 2.6+'s travel_acceleration, else M204 T; a 0 there means "same as extruding" (legacy Marlin).
        let travel = self.num("travel_acceleration")?.filter(|a| *a > 0.0);
        let machine_travel = self.num("machine_max_acceleration_travel")?.filter(|a| *a > 0.0);
        set(&mut pr.acceleration_travel, travel.or(machine_travel).or(extruding));
        for key in ["start_gcode", "end_gcode"] {
            if let Some((line, template)) = self.text(key) {
                let (translated, unknown) = translate_macros(&template);
                if unknown.is_empty() {
                    *if key == "start_gcode" { &mut pr.start_gcode } else { &mut pr.end_gcode } = translated;
                } else {
                    self.warn(
                        line,
                        format!(
                            "{key} uses PrusaSlicer macros Printfarm cannot evaluate ({}); the base profile's \
                             {key} is kept, port it by hand",
                            unknown.join(", ")
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn bed_shape(&mut self, line: usize, value: &str) -> Result<BedShape, SettingsError> {
        let points: Option<Vec<(f64, f64)>> = value
            .split(',')
            .map(|pt| {
                let (x, y) = pt.trim().split_once('x')?;
                Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
            })
            .collect();
        let points = points
            .filter(|p| p.len() >= 3)
            .ok_or_else(|| Self::bad(line, "bed_shape", value, "at least three points like 0x0,220x0,220x220"))?;
        let (min_x, max_x, min_y, max_y) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |(a, b, c, d), &(x, y)| {
                (a.min(x), b.max(x), c.min(y), d.max(y))
            });
        if min_x != 0.0 || min_y != 0.0 {
            self.warn(line, format!("bed origin offset ({min_x}, {min_y}) is not supported; the bed starts at 0,0"));
        }
        let (w, d) = (max_x - min_x, max_y - min_y);
        // PrusaSlicer stores round beds as a many-sided polygon; rectangles have four corners.
        Ok(if points.len() > 8 && (w - d).abs() < 1e-6 * w.max(1.0) {
            BedShape::Circle { diameter: w }
        } else {
            BedShape::Rectangle { x: w, y: d }
        })
    }

    fn material(&mut self, p: &mut Profile) -> Result<(), SettingsError> {
        let m = &mut p.material;
        if let Some((_, name)) = self.first_string("filament_settings_id").filter(|(_, n)| !n.is_empty()) {
            m.name = name;
        }
        if let Some((_, kind)) = self.first_string("filament_type") {
            m.kind = match kind.to_ascii_uppercase().as_str() {
                "PLA" => MaterialKind::Pla,
                "PETG" => MaterialKind::Petg,
                "ABS" => MaterialKind::Abs,
                "TPU" | "FLEX" => MaterialKind::Tpu,
                "ASA" => MaterialKind::Asa,
                _ => MaterialKind::Other,
            };
        }
        set(&mut m.diameter, self.num("filament_diameter")?);
        set(&mut m.density, self.num("filament_density")?);
        set(&mut m.cost_per_kg, self.num("filament_cost")?);
        set(&mut m.first_layer_temperature, self.num("first_layer_temperature")?);
        set(&mut m.temperature, self.num("temperature")?);
        set(&mut m.first_layer_bed_temperature, self.num("first_layer_bed_temperature")?);
        set(&mut m.bed_temperature, self.num("bed_temperature")?);
        set(&mut m.fan_min, self.num("min_fan_speed")?);
        set(&mut m.fan_max, self.num("max_fan_speed")?);
        set(&mut m.disable_fan_first_layers, self.count("disable_fan_first_layers")?);
        set(&mut m.fan_below_layer_time, self.num("fan_below_layer_time")?);
        set(&mut m.slowdown_below_layer_time, self.num("slowdown_below_layer_time")?);
        set(&mut m.min_print_speed, self.num("min_print_speed")?);
        set(&mut m.flow, self.num("extrusion_multiplier")?);
        // Retraction is a printer setting in PrusaSlicer that a filament may override (`nil` = not overridden).
        set(&mut m.retract_length, self.num("retract_length")?);
        set(&mut m.retract_speed, self.num("retract_speed")?);
        set(&mut m.retract_length, self.num("filament_retract_length")?);
        set(&mut m.retract_speed, self.num("filament_retract_speed")?);
        if let Some((_, colour)) = self.first_string("filament_colour").filter(|(_, c)| !c.is_empty()) {
            m.colour = colour.to_ascii_uppercase();
        }
        Ok(())
    }

    fn quality(&mut self, p: &mut Profile) -> Result<(), SettingsError> {
        let nozzle = p.printer.nozzle_diameter;
        let q = &mut p.quality;
        if let Some((_, name)) = self.first_string("print_settings_id").filter(|(_, n)| !n.is_empty()) {
            q.name = name;
        }
        set(&mut q.layer_height, self.num("layer_height")?);
        // Older PrusaSlicer allowed the first layer as a percentage of the layer height.
        set(&mut q.first_layer_height, self.num_or_percent("first_layer_height", q.layer_height)?);
        set(&mut q.perimeters, self.count("perimeters")?);
        set(&mut q.top_layers, self.count("top_solid_layers")?);
        set(&mut q.bottom_layers, self.count("bottom_solid_layers")?);
        // A percent option: `20%`, or a bare `20` meaning the same.
        if let Some((line, value)) = self.raw("fill_density") {
            let v = value.trim_end_matches('%').trim().parse::<f64>();
            q.infill_density =
                v.map(|v| v / 100.0).map_err(|_| Self::bad(line, "fill_density", &value, "a percentage"))?;
        }
        if let Some((line, pattern)) = self.first_string("fill_pattern") {
            match pattern.as_str() {
                "rectilinear" | "alignedrectilinear" | "line" | "monotonic" | "monotoniclines" => {
                    q.infill_pattern = InfillPattern::Rectilinear
                }
                "grid" => q.infill_pattern = InfillPattern::Grid,
                "gyroid" => q.infill_pattern = InfillPattern::Gyroid,
                "honeycomb" => q.infill_pattern = InfillPattern::Honeycomb,
                "3dhoneycomb" => {
                    q.infill_pattern = InfillPattern::Honeycomb;
                    self.warn(line, "fill_pattern = 3dhoneycomb is printed as honeycomb".into());
                }
                other => {
                    self.warn(line, format!("fill_pattern = {other} is not supported; keeping {:?}", q.infill_pattern))
                }
            }
        }
        let mut solid = Vec::new();
        for key in ["top_fill_pattern", "bottom_fill_pattern"] {
            if let Some((line, pattern)) = self.first_string(key) {
                let mapped = match pattern.as_str() {
                    "rectilinear" | "alignedrectilinear" | "monotonic" | "monotoniclines" => {
                        Some(SolidPattern::Rectilinear)
                    }
                    "concentric" => Some(SolidPattern::Concentric),
                    other => {
                        self.warn(line, format!("{key} = {other} is not supported; keeping {:?}", q.solid_pattern));
                        None
                    }
                };
                solid.extend(mapped.map(|m| (line, m)));
            }
        }
        if let Some(&(line, pattern)) = solid.first() {
            q.solid_pattern = pattern;
            if solid.iter().any(|(_, s)| *s != pattern) {
                self.warn(line, "top and bottom fill patterns differ; Printfarm uses the top one for both".into());
            }
        }
        set(&mut q.infill_angle, self.num("fill_angle")?);
        // Extrusion widths: mm, or % of the nozzle; 0 means automatic in both programs.
        set(&mut q.line_width, self.num_or_percent("extrusion_width", nozzle)?);
        set(&mut q.first_layer_line_width, self.num_or_percent("first_layer_extrusion_width", nozzle)?);

        // Speeds; each percentage is over the option PrusaSlicer documents as its base.
        let s = &mut q.speeds;
        self.speed(&mut s.perimeter, "perimeter_speed", None)?;
        self.speed(&mut s.external_perimeter, "external_perimeter_speed", Some(s.perimeter))?;
        self.speed(&mut s.infill, "infill_speed", None)?;
        self.speed(&mut s.solid_infill, "solid_infill_speed", Some(s.infill))?;
        self.speed(&mut s.top_solid_infill, "top_solid_infill_speed", Some(s.solid_infill))?;
        self.speed(&mut s.bridge, "bridge_speed", None)?;
        self.speed(&mut s.support, "support_material_speed", None)?;
        self.speed(&mut s.travel, "travel_speed", None)?;
        if let Some((line, value)) = self.entries.get("first_layer_speed").map(|e| (e.line, e.value.clone())) {
            self.speed(&mut s.first_layer, "first_layer_speed", Some(s.perimeter))?;
            if value.trim().ends_with('%') {
                let message = format!(
                    "first_layer_speed = {value} scales every feature in PrusaSlicer; Printfarm uses {} mm/s \
                     (that share of the perimeter speed) for the whole first layer",
                    s.first_layer
                );
                self.warn(line, message);
            }
        }

        set(&mut q.skirt_loops, self.count("skirts")?);
        set(&mut q.skirt_distance, self.num("skirt_distance")?);
        set(&mut q.brim_width, self.num("brim_width")?);

        let width = q.width(nozzle);
        let layer = q.layer_height;
        let sup = &mut q.supports;
        set(&mut sup.enabled, self.flag("support_material")?);
        // Both measure the slope from the horizontal; PrusaSlicer's 0 means automatic, which is our usual 55°.
        if let Some(t) = self.num("support_material_threshold")? {
            sup.overhang_angle = if t > 0.0 { t.min(90.0) } else { 55.0 };
        }
        if let Some(d) = self.num("support_material_contact_distance")? {
            sup.z_gap_layers = (d / layer).round().max(0.0) as u32;
        }
        set(&mut sup.interface_layers, self.count("support_material_interface_layers")?);
        if let Some((line, v)) =
            self.num("support_material_spacing")?.map(|v| (self.line("support_material_spacing"), v))
        {
            if v > 0.0 {
                sup.spacing = v;
            } else {
                self.warn(
                    line,
                    format!(
                        "support_material_spacing = {v} (solid support) is not supported; keeping {} mm",
                        sup.spacing
                    ),
                );
            }
        }
        // PrusaSlicer's percentage here is over the external perimeter width; ours has one width for all lines.
        set(&mut sup.xy_gap, self.num_or_percent("support_material_xy_spacing", width)?);

        if let Some((line, seam)) = self.first_string("seam_position") {
            match seam.as_str() {
                "aligned" => q.seam = SeamPosition::Aligned,
                "rear" => q.seam = SeamPosition::Rear,
                "nearest" => q.seam = SeamPosition::Nearest,
                other => self.warn(line, format!("seam_position = {other} is not supported; keeping {:?}", q.seam)),
            }
        }
        set(&mut q.retract_min_travel, self.num("retract_before_travel")?);
        set(&mut q.retract_on_layer_change, self.flag("retract_layer_change")?);
        set(&mut q.z_hop, self.num("retract_lift")?);
        set(&mut q.avoid_crossing_perimeters, self.flag("avoid_crossing_perimeters")?);
        if let Some((line, value)) = self.raw("thumbnails") {
            q.thumbnails = parse_thumbnails(&value)
                .ok_or_else(|| Self::bad(line, "thumbnails", &value, "sizes like 32x32,220x124"))?;
        }
        Ok(())
    }

    fn line(&self, key: &str) -> usize {
        self.entries.get(key).map_or(0, |e| e.line)
    }

    /// A speed in mm/s or `N%` of `base`; PrusaSlicer's 0 ("use a default") keeps ours.
    fn speed(&mut self, slot: &mut f64, key: &str, base: Option<f64>) -> Result<(), SettingsError> {
        let v = match base {
            Some(b) => self.num_or_percent(key, b)?,
            None => self.num(key)?,
        };
        match v {
            Some(v) if v > 0.0 => *slot = v,
            Some(_) => {
                let line = self.line(key);
                self.warn(line, format!("{key} = 0 (automatic) is not supported; keeping {slot} mm/s"));
            }
            None => {}
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Undoes PrusaSlicer's C-style string escaping (`\n`, `\r`, `\t`, `\\`, `\"`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `32x32,220x124`, or 2.6+'s `32x32/PNG, 220x124/QOI` (the format is ours to choose, so it is dropped).
fn parse_thumbnails(value: &str) -> Option<Vec<[u32; 2]>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let size = t.split('/').next()?;
            let (w, h) = size.split_once('x')?;
            Some([w.trim().parse().ok()?, h.trim().parse().ok()?])
        })
        .collect()
}

/// PrusaSlicer placeholder names with a Printfarm equivalent.
const MACRO_NAMES: &[(&str, &str)] = &[
    ("first_layer_temperature", "first_layer_temperature"),
    ("temperature", "temperature"),
    ("first_layer_bed_temperature", "first_layer_bed_temperature"),
    ("bed_temperature", "bed_temperature"),
    ("nozzle_diameter", "nozzle_diameter"),
    ("filament_diameter", "filament_diameter"),
    ("layer_height", "layer_height"),
    ("first_layer_height", "first_layer_height"),
    ("max_print_height", "max_height"),
    ("filament_type", "filament_type"),
];

/// Rewrites `[name]`, `[name_0]`, `{name}` and `{name[0]}` to our `{name}`; returns the constructs it could not
/// translate (expressions, conditionals, names we do not have).
fn translate_macros(template: &str) -> (String, Vec<String>) {
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let lookup = |name: &str| MACRO_NAMES.iter().find(|(p, _)| *p == name).map(|(_, ours)| *ours);
    let mut out = String::with_capacity(template.len());
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['[', '{']) {
        out.push_str(&rest[..i]);
        let open = rest.as_bytes()[i];
        let close = if open == b'[' { ']' } else { '}' };
        let Some(len) = rest[i + 1..].find(close) else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let inner = rest[i + 1..i + 1 + len].trim();
        let whole = &rest[i..i + 2 + len];
        rest = &rest[i + 2 + len..];
        // `[temperature_0]` is the legacy indexed form; `{temperature[0]}` the modern one.
        let name = if open == b'[' {
            inner
                .rsplit_once('_')
                .filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
                .map_or(inner, |(n, _)| n)
        } else {
            inner.split_once('[').filter(|(_, idx)| idx.ends_with(']')).map_or(inner, |(n, _)| n.trim())
        };
        match lookup(name).or_else(|| lookup(inner)) {
            Some(ours) => {
                out.push('{');
                out.push_str(ours);
                out.push('}');
            }
            // Square brackets around non-identifiers are ordinary G-code text (comments), not macros.
            None if open == b'[' && !ident(inner) => out.push_str(whole),
            None => {
                unknown.push(whole.to_string());
                out.push_str(whole);
            }
        }
    }
    out.push_str(rest);
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use super::super::presets;
    use super::*;

    const BENCH: &str = include_str!("../../profiles/tests/prusaslicer-bench.ini");

    #[test]
    fn bench_ini_maps_onto_the_defaults() {
        let got = import_prusa_ini(BENCH, &Profile::default()).unwrap();
        // The bench profile was written to match our defaults, except that it turns avoid_crossing_perimeters off.
        let mut expected = Profile::default();
        expected.quality.avoid_crossing_perimeters = false;
        assert_eq!(got.profile, expected);
        assert_eq!(got.warnings, Vec::<String>::new());
        for key in ["wipe", "gcode_label_objects", "perimeter_generator", "top_infill_extrusion_width", "cooling"] {
            assert!(got.ignored.contains(&key.to_string()), "{key} should be ignored: {:?}", got.ignored);
        }
        for key in ["layer_height", "printer_technology", "start_gcode", "default_acceleration", "top_fill_pattern"] {
            assert!(!got.ignored.contains(&key.to_string()), "{key} is mapped");
        }
        assert_eq!(got.ignored.first().map(String::as_str), Some("use_relative_e_distances"));
        assert_eq!(got.ignored.last().map(String::as_str), Some("output_filename_format"));
    }

    #[test]
    fn bench_ini_values_come_from_the_file_not_the_base() {
        let base = presets::profile("voron-350-klipper", "petg", "0.28-draft").unwrap();
        let mut got = import_prusa_ini(BENCH, &base).unwrap().profile;
        // Only what the ini does not mention may differ: names, colour, skirt and support speeds.
        assert_eq!(got.printer.flavour, Flavour::Marlin2);
        assert_eq!(got.material.kind, MaterialKind::Pla);
        assert_eq!(got.quality.infill_pattern, InfillPattern::Rectilinear);
        assert_eq!(got.quality.speeds.skirt, base.quality.speeds.skirt);
        let default = Profile::default();
        got.printer.name = default.printer.name.clone();
        got.material.name = default.material.name.clone();
        got.material.colour = default.material.colour.clone();
        got.quality.name = default.quality.name.clone();
        got.quality.speeds.skirt = default.quality.speeds.skirt;
        got.quality.speeds.support = default.quality.speeds.support;
        got.quality.avoid_crossing_perimeters = true;
        assert_eq!(got, default);
    }

    const GCODE: &str = r#"; generated by PrusaSlicer 2.5.0 on 2026-11-25 at 05:59:42 UTC
G1 X10 Y10 E1
; filament used [mm] = 1354.42
; layer_height = 9
; prusaslicer_config = begin
; avoid_crossing_perimeters = 1
; bed_shape = 0x0,250x0,250x210,0x210
; external_perimeter_speed = 50%
; extrusion_width = 112.5%
; filament_colour = #ff8000
; filament_retract_length = nil
; filament_retract_speed = 40
; filament_settings_id = "Prusament PLA \"Galaxy\""
; fill_density = 15%
; fill_pattern = gyroid
; first_layer_extrusion_width = 0
; first_layer_speed = 50%
; gcode_flavor = klipper
; infill_speed = 200
; layer_height = 0.2
; machine_max_feedrate_x = 500,200
; nozzle_diameter = 0.4,0.4
; perimeter_speed = 60
; retract_length = 0.7,0.7
; seam_position = rear
; solid_infill_speed = 50%
; start_gcode = M104 S{first_layer_temperature[0]}\nM190 S[first_layer_bed_temperature_0]\nG28 W ; home [x y]\nG1 Z{max_print_height}
; support_material = 1
; support_material_contact_distance = 0.2
; support_material_spacing = 2
; support_material_threshold = 40
; support_material_xy_spacing = 50%
; thumbnails = 16x16/PNG, 313x173/QOI
; top_solid_infill_speed = 25%
; prusaslicer_config = end
"#;

    #[test]
    fn gcode_footer_with_percentages_lists_and_macros() {
        let got = import_prusa_ini(GCODE, &Profile::default()).unwrap();
        let p = &got.profile;
        assert_eq!(p.quality.layer_height, 0.2, "lines outside the footer are not config");
        assert_eq!(p.printer.bed, BedShape::Rectangle { x: 250.0, y: 210.0 });
        assert_eq!(p.printer.flavour, Flavour::Klipper);
        assert_eq!(p.printer.max_feedrate.x, 500.0);
        assert_eq!(
            p.printer.start_gcode,
            "M104 S{first_layer_temperature}\nM190 S{first_layer_bed_temperature}\nG28 W ; home [x y]\nG1 Z{max_height}"
        );
        let s = &p.quality.speeds;
        assert_eq!((s.perimeter, s.external_perimeter, s.first_layer), (60.0, 30.0, 30.0));
        assert_eq!((s.infill, s.solid_infill, s.top_solid_infill), (200.0, 100.0, 25.0));
        assert!((p.quality.line_width - 0.45).abs() < 1e-12);
        assert_eq!(p.quality.first_layer_line_width, 0.0);
        assert_eq!((p.quality.infill_density, p.quality.infill_pattern), (0.15, InfillPattern::Gyroid));
        assert_eq!(p.quality.seam, SeamPosition::Rear);
        assert_eq!(p.quality.thumbnails, vec![[16, 16], [313, 173]]);
        let sup = &p.quality.supports;
        assert!(sup.enabled);
        assert_eq!((sup.overhang_angle, sup.z_gap_layers, sup.spacing), (40.0, 1, 2.0));
        assert!((sup.xy_gap - 0.225).abs() < 1e-12);
        assert_eq!((p.material.retract_length, p.material.retract_speed), (0.7, 40.0));
        assert_eq!(p.material.name, "Prusament PLA \"Galaxy\"");
        assert_eq!(p.material.colour, "#FF8000");
        assert!(p.quality.avoid_crossing_perimeters);
        assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
        assert!(got.warnings[0].contains("first_layer_speed = 50%"), "{:?}", got.warnings);
        assert_eq!(got.ignored, Vec::<String>::new());
    }

    #[test]
    fn untranslatable_macros_keep_the_base_template() {
        let ini = "start_gcode = G28\\n{if first_layer_temperature[0] > 250}M106{endif}\\nG1 Z[layer_z]\n";
        let got = import_prusa_ini(ini, &Profile::default()).unwrap();
        assert_eq!(got.profile.printer.start_gcode, Profile::default().printer.start_gcode);
        assert_eq!(got.warnings.len(), 1);
        let w = &got.warnings[0];
        assert!(
            w.starts_with("line 1: start_gcode uses PrusaSlicer macros")
                && w.contains("{endif}")
                && w.contains("[layer_z]"),
            "{w}"
        );
        let (text, unknown) = translate_macros("M104 S[temperature] T0 ; [a b]");
        assert_eq!((text.as_str(), unknown.len()), ("M104 S{temperature} T0 ; [a b]", 0));
    }

    fn err(text: &str) -> String {
        import_prusa_ini(text, &Profile::default()).unwrap_err().to_string()
    }

    #[test]
    fn malformed_lines_name_their_line() {
        assert_eq!(
            err("layer_height = 0.2\nthis is not a setting\n"),
            "PrusaSlicer config line 2: expected `key = value`, found `this is not a setting`"
        );
        assert_eq!(
            err("# c\n\nlayer_height = thin"),
            "PrusaSlicer config line 3: `layer_height = thin`: expected a number"
        );
        assert!(
            err("[print:Fast]\nlayer_height = 0.2").starts_with("PrusaSlicer config line 1: section `[print:Fast]`")
        );
        assert!(err("\n fill_density = lots").starts_with("PrusaSlicer config line 2: `fill_density = lots`"));
        assert!(err("bed_shape = 0x0,220").contains("line 1: `bed_shape = 0x0,220`: expected at least three points"));
        assert!(err("perimeters = -2").contains("expected a whole number"));
        assert!(err("support_material = maybe").contains("expected 0 or 1"));
        assert!(err("thumbnails = big").contains("`thumbnails = big`"));
        assert!(err("G1 X0\n; prusaslicer_config = begin\n; layer_height = 0.2\n")
            .starts_with("PrusaSlicer config line 2:"));
        assert!(err("printer_technology = SLA").contains("only FFF"));
        assert!(err(" = 3").contains("line 1: expected `key = value`"));
    }

    #[test]
    fn imported_values_are_validated_and_duplicates_warned() {
        assert_eq!(err("layer_height = 0.5"), "quality.layer_height = 0.5 is out of range (allowed: 0.01…0.32)");
        let got = import_prusa_ini("perimeters = 2\nperimeters = 3\n", &Profile::default()).unwrap();
        assert_eq!(got.profile.quality.perimeters, 3);
        assert_eq!(got.warnings, ["line 2: `perimeters` repeats line 1; the later value is used"]);
        let got = import_prusa_ini("bed_shape = -100x-100,100x-100,100x100,-100x100\n", &Profile::default()).unwrap();
        assert_eq!(got.profile.printer.bed, BedShape::Rectangle { x: 200.0, y: 200.0 });
        assert!(got.warnings[0].contains("origin offset"));
    }
}
