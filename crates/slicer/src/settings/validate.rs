//! Checks a whole [`Profile`] before slicing, so bad values fail with the setting's path instead of bad G-code.

use super::error::out_of_range;
use super::template::check_template;
use super::{AxisLimits, BedShape, Profile, SettingsError};

/// Largest bed or height we accept, mm: bigger than any FDM printer, small enough to catch unit mix-ups (µm).
const MAX_SIZE: f64 = 10_000.0;

impl Profile {
    /// Checks every setting against what the slicer and real hardware can use; the first problem is returned.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let (p, m, q) = (&self.printer, &self.material, &self.quality);

        // Printer.
        match p.bed {
            BedShape::Rectangle { x, y } => {
                within("printer.bed.x", x, 1.0, MAX_SIZE)?;
                within("printer.bed.y", y, 1.0, MAX_SIZE)?;
            }
            BedShape::Circle { diameter } => within("printer.bed.diameter", diameter, 1.0, MAX_SIZE)?,
        }
        within("printer.max_height", p.max_height, 1.0, MAX_SIZE)?;
        within("printer.nozzle_diameter", p.nozzle_diameter, 0.05, 3.0)?;
        axes_positive("printer.max_feedrate", &p.max_feedrate)?;
        axes_positive("printer.max_acceleration", &p.max_acceleration)?;
        positive("printer.acceleration_print", p.acceleration_print)?;
        positive("printer.acceleration_travel", p.acceleration_travel)?;
        // Zero jerk is legal (junction deviation firmware ignores it); negative is not.
        for (axis, v) in axes(&p.max_jerk) {
            at_least(&format!("printer.max_jerk.{axis}"), v, 0.0)?;
        }
        check_template(&p.start_gcode, "printer.start_gcode")?;
        check_template(&p.end_gcode, "printer.end_gcode")?;

        // Material.
        within("material.diameter", m.diameter, 0.5, 5.0)?;
        within("material.density", m.density, 0.1, 20.0)?;
        at_least("material.cost_per_kg", m.cost_per_kg, 0.0)?;
        within("material.first_layer_temperature", m.first_layer_temperature, 0.0, 450.0)?;
        within("material.temperature", m.temperature, 0.0, 450.0)?;
        within("material.first_layer_bed_temperature", m.first_layer_bed_temperature, 0.0, 150.0)?;
        within("material.bed_temperature", m.bed_temperature, 0.0, 150.0)?;
        within("material.fan_min", m.fan_min, 0.0, 100.0)?;
        within("material.fan_max", m.fan_max, m.fan_min, 100.0)?;
        at_least("material.fan_below_layer_time", m.fan_below_layer_time, 0.0)?;
        at_least("material.slowdown_below_layer_time", m.slowdown_below_layer_time, 0.0)?;
        positive("material.min_print_speed", m.min_print_speed)?;
        within("material.retract_length", m.retract_length, 0.0, 20.0)?;
        positive("material.retract_speed", m.retract_speed)?;
        within("material.flow", m.flow, 0.5, 2.0)?;
        let hex = m.colour.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
        if hex.is_none() {
            return Err(SettingsError::Invalid {
                field: "material.colour".into(),
                value: m.colour.clone(),
                reason: "expected #RRGGBB".into(),
            });
        }

        // Quality. A layer thicker than ~80 % of the nozzle no longer gets squashed into a bead.
        let nozzle = p.nozzle_diameter;
        within("quality.layer_height", q.layer_height, 0.01, 0.8 * nozzle)?;
        within("quality.first_layer_height", q.first_layer_height, 0.01, 0.8 * nozzle)?;
        // 0 means "derive from the nozzle"; otherwise the bead must be printable by this nozzle.
        for (field, w) in
            [("quality.line_width", q.line_width), ("quality.first_layer_line_width", q.first_layer_line_width)]
        {
            if w != 0.0 {
                within(field, w, 0.6 * nozzle, 2.5 * nozzle).map_err(|e| with_auto_hint(e, "0 = auto or "))?;
            }
        }
        count("quality.perimeters", q.perimeters, 100)?;
        count("quality.top_layers", q.top_layers, 1000)?;
        count("quality.bottom_layers", q.bottom_layers, 1000)?;
        within("quality.infill_density", q.infill_density, 0.0, 1.0)?;
        within("quality.infill_angle", q.infill_angle, -360.0, 360.0)?;
        let s = &q.speeds;
        for (name, v) in [
            ("perimeter", s.perimeter),
            ("external_perimeter", s.external_perimeter),
            ("infill", s.infill),
            ("solid_infill", s.solid_infill),
            ("top_solid_infill", s.top_solid_infill),
            ("bridge", s.bridge),
            ("support", s.support),
            ("skirt", s.skirt),
            ("first_layer", s.first_layer),
            ("travel", s.travel),
        ] {
            // 2000 mm/s is beyond any FDM machine; larger values are unit mistakes (mm/min).
            if !(v > 0.0 && v <= 2000.0) {
                return Err(out_of_range(&format!("quality.speeds.{name}"), v, "> 0 and ≤ 2000"));
            }
        }
        count("quality.skirt_loops", q.skirt_loops, 100)?;
        at_least("quality.skirt_distance", q.skirt_distance, 0.0)?;
        at_least("quality.brim_width", q.brim_width, 0.0)?;
        let sup = &q.supports;
        within("quality.supports.overhang_angle", sup.overhang_angle, 0.0, 90.0)?;
        at_least("quality.supports.xy_gap", sup.xy_gap, 0.0)?;
        positive("quality.supports.spacing", sup.spacing)?;
        at_least("quality.retract_min_travel", q.retract_min_travel, 0.0)?;
        within("quality.z_hop", q.z_hop, 0.0, 10.0)?;
        for (i, [w, h]) in q.thumbnails.iter().enumerate() {
            for (v, axis) in [(w, "width"), (h, "height")] {
                if !(1..=1024).contains(v) {
                    return Err(out_of_range(&format!("quality.thumbnails[{i}] {axis}"), v, "1…1024"));
                }
            }
        }
        Ok(())
    }
}

fn axes(a: &AxisLimits) -> [(&'static str, f64); 4] {
    [("x", a.x), ("y", a.y), ("z", a.z), ("e", a.e)]
}

fn axes_positive(field: &str, a: &AxisLimits) -> Result<(), SettingsError> {
    for (axis, v) in axes(a) {
        positive(&format!("{field}.{axis}"), v)?;
    }
    Ok(())
}

/// `lo ≤ v ≤ hi`; NaN always fails because every comparison with it is false.
fn within(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), SettingsError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(out_of_range(field, v, format!("{}…{}", round(lo), round(hi))))
    }
}

/// Loop and layer counts: an upper bound catches a typo (`perimeters = 1000`) before it becomes a huge job.
fn count(field: &str, v: u32, max: u32) -> Result<(), SettingsError> {
    if v <= max {
        Ok(())
    } else {
        Err(out_of_range(field, v, format!("0…{max}")))
    }
}

fn positive(field: &str, v: f64) -> Result<(), SettingsError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(out_of_range(field, v, "> 0"))
    }
}

fn at_least(field: &str, v: f64, lo: f64) -> Result<(), SettingsError> {
    if v >= lo && v.is_finite() {
        Ok(())
    } else {
        Err(out_of_range(field, v, format!("≥ {lo}")))
    }
}

/// Bounds derived from the nozzle (0.8 × 0.4) print as 0.32000000000000006 without this.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn with_auto_hint(e: SettingsError, prefix: &str) -> SettingsError {
    match e {
        SettingsError::OutOfRange { field, value, allowed } => {
            SettingsError::OutOfRange { field, value, allowed: format!("{prefix}{allowed}") }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(f: impl FnOnce(&mut Profile)) -> String {
        let mut p = Profile::default();
        f(&mut p);
        p.validate().unwrap_err().to_string()
    }

    #[test]
    fn default_is_valid() {
        Profile::default().validate().unwrap();
    }

    #[test]
    fn errors_name_field_value_and_range() {
        assert_eq!(
            err(|p| p.quality.layer_height = 0.35),
            "quality.layer_height = 0.35 is out of range (allowed: 0.01…0.32)"
        );
        assert!(err(|p| p.quality.first_layer_height = 0.5).starts_with("quality.first_layer_height = 0.5"));
        assert_eq!(
            err(|p| p.quality.line_width = 0.2),
            "quality.line_width = 0.2 is out of range (allowed: 0 = auto or 0.24…1)"
        );
        assert!(err(|p| p.material.temperature = 500.0).contains("material.temperature = 500"));
        assert!(err(|p| p.material.bed_temperature = 151.0).contains("0…150"));
        assert_eq!(
            err(|p| {
                p.material.fan_min = 80.0;
                p.material.fan_max = 50.0;
            }),
            "material.fan_max = 50 is out of range (allowed: 80…100)"
        );
        assert!(err(|p| p.quality.infill_density = 1.2).contains("quality.infill_density = 1.2"));
        assert_eq!(
            err(|p| p.quality.speeds.infill = 0.0),
            "quality.speeds.infill = 0 is out of range (allowed: > 0 and ≤ 2000)"
        );
        assert!(err(|p| p.quality.speeds.travel = 9000.0).contains("quality.speeds.travel = 9000"));
        assert!(err(|p| p.printer.max_acceleration.y = -1.0).contains("printer.max_acceleration.y = -1"));
        assert!(err(|p| p.printer.acceleration_travel = f64::NAN).contains("printer.acceleration_travel = NaN"));
        assert!(err(|p| p.material.density = 0.0).contains("material.density"));
        assert!(err(|p| p.quality.thumbnails.push([2048, 10])).contains("quality.thumbnails[2] width = 2048"));
        assert!(err(|p| p.printer.bed = BedShape::Circle { diameter: 0.0 }).contains("printer.bed.diameter"));
        assert!(err(|p| p.material.colour = "blue".into()).contains("material.colour"));
        assert!(err(|p| p.quality.perimeters = 1000).contains("quality.perimeters = 1000"));
    }

    #[test]
    fn line_width_zero_is_auto_and_bounds_follow_the_nozzle() {
        let mut p = Profile::default();
        p.quality.line_width = 0.0;
        p.quality.first_layer_line_width = 0.0;
        p.validate().unwrap();
        p.printer.nozzle_diameter = 0.6;
        p.quality.layer_height = 0.45;
        p.quality.line_width = 1.5;
        p.validate().unwrap();
    }

    #[test]
    fn unknown_placeholder_names_template() {
        let e = err(|p| p.printer.start_gcode.push_str("\nM117 {foo}"));
        assert!(e.starts_with("unknown placeholder {foo} in printer.start_gcode"), "{e}");
        let e = err(|p| p.printer.end_gcode = "M104 S{temperature[0]}".into());
        assert!(e.contains("{temperature[0]} in printer.end_gcode"), "{e}");
    }
}
