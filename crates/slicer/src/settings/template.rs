//! Start and end G-code templates: `{name}` placeholders filled from the profile before slicing.

use super::{Profile, SettingsError};

/// Placeholders a start or end G-code template may use, written `{name}`; `{{` and `}}` are literal braces.
///
/// Only values known before slicing are offered, so a template can be checked when the profile is loaded:
/// - `first_layer_temperature`, `temperature`: hotend °C (material)
/// - `first_layer_bed_temperature`, `bed_temperature`: bed °C (material)
/// - `nozzle_diameter` (printer), `filament_diameter` (material), mm
/// - `layer_height`, `first_layer_height`: mm (quality)
/// - `bed_x`, `bed_y`: bed width and depth, mm; `max_height`: highest printable Z, mm (printer)
/// - `filament_type`: `PLA`, `PETG`, `ABS`, `TPU`, `ASA` or `OTHER`
pub const PLACEHOLDERS: &[&str] = &[
    "first_layer_temperature",
    "temperature",
    "first_layer_bed_temperature",
    "bed_temperature",
    "nozzle_diameter",
    "filament_diameter",
    "layer_height",
    "first_layer_height",
    "bed_x",
    "bed_y",
    "max_height",
    "filament_type",
];

/// The value of one placeholder for this profile, or `None` if the name is not in [`PLACEHOLDERS`].
pub fn placeholder_value(name: &str, profile: &Profile) -> Option<String> {
    let (p, m, q) = (&profile.printer, &profile.material, &profile.quality);
    // f64's Display is the shortest exact form (215.0 → "215", 0.2 → "0.2"), which is what G-code wants.
    let number = |v: f64| Some(v.to_string());
    match name {
        "first_layer_temperature" => number(m.first_layer_temperature),
        "temperature" => number(m.temperature),
        "first_layer_bed_temperature" => number(m.first_layer_bed_temperature),
        "bed_temperature" => number(m.bed_temperature),
        "nozzle_diameter" => number(p.nozzle_diameter),
        "filament_diameter" => number(m.diameter),
        "layer_height" => number(q.layer_height),
        "first_layer_height" => number(q.first_layer_height),
        "bed_x" => number(p.bed.size().0),
        "bed_y" => number(p.bed.size().1),
        "max_height" => number(p.max_height),
        "filament_type" => Some(m.kind.label().to_string()),
        _ => None,
    }
}

/// Fills every `{name}` in `template` from `profile`; unknown names and unclosed braces are errors.
pub fn render_template(template: &str, profile: &Profile) -> Result<String, SettingsError> {
    render_field(template, "template", profile)
}

impl Profile {
    /// The printer's start G-code with placeholders filled; errors name `printer.start_gcode`.
    pub fn render_start_gcode(&self) -> Result<String, SettingsError> {
        render_field(&self.printer.start_gcode, "printer.start_gcode", self)
    }

    /// The printer's end G-code with placeholders filled; errors name `printer.end_gcode`.
    pub fn render_end_gcode(&self) -> Result<String, SettingsError> {
        render_field(&self.printer.end_gcode, "printer.end_gcode", self)
    }
}

/// [`render_template`] with the setting's path in errors, e.g. `printer.start_gcode`.
pub(crate) fn render_field(template: &str, field: &str, profile: &Profile) -> Result<String, SettingsError> {
    let mut out = String::with_capacity(template.len() + 32);
    walk(template, field, |piece| match piece {
        Piece::Text(t) => {
            out.push_str(t);
            Ok(())
        }
        Piece::Placeholder(name) => match placeholder_value(name, profile) {
            Some(v) => {
                out.push_str(&v);
                Ok(())
            }
            None => Err(unknown(name, field)),
        },
    })?;
    Ok(out)
}

/// Checks a template's syntax and names without a profile (what validation needs).
pub(crate) fn check_template(template: &str, field: &str) -> Result<(), SettingsError> {
    walk(template, field, |piece| match piece {
        Piece::Placeholder(name) if !PLACEHOLDERS.contains(&name) => Err(unknown(name, field)),
        _ => Ok(()),
    })
}

fn unknown(name: &str, field: &str) -> SettingsError {
    SettingsError::UnknownPlaceholder { name: name.into(), field: field.into(), known: PLACEHOLDERS.join(", ") }
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into literal text and placeholder names; one scanner keeps rendering and checking in step.
fn walk<'a>(
    template: &'a str,
    field: &str,
    mut f: impl FnMut(Piece<'a>) -> Result<(), SettingsError>,
) -> Result<(), SettingsError> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        f(Piece::Text(&rest[..i]))?;
        let brace = &rest[i..i + 1];
        let after = &rest[i + 1..];
        if after.starts_with(brace) {
            f(Piece::Text(brace))?;
            rest = &after[1..];
        } else if brace == "}" {
            // A lone `}` is harmless text; only `{` opens a placeholder.
            f(Piece::Text(brace))?;
            rest = after;
        } else {
            let Some(end) = after.find('}') else {
                return Err(SettingsError::Invalid {
                    field: field.into(),
                    value: rest.lines().next().unwrap_or_default().into(),
                    reason: "`{` without a closing `}` (write `{{` for a literal brace)".into(),
                });
            };
            f(Piece::Placeholder(after[..end].trim()))?;
            rest = &after[end + 1..];
        }
    }
    f(Piece::Text(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_default_start_gcode() {
        let p = Profile::default();
        let g = render_template(&p.printer.start_gcode, &p).unwrap();
        assert!(g.starts_with("M140 S60\nM104 S215\nM190 S60\nM109 S215\n"), "{g}");
        assert_eq!(p.render_start_gcode().unwrap(), g);
        assert_eq!(p.render_end_gcode().unwrap(), p.printer.end_gcode, "the default end G-code has no placeholders");
        let mut bad = p.clone();
        bad.printer.end_gcode = "M104 S{hot}".into();
        assert!(bad.render_end_gcode().unwrap_err().to_string().contains("{hot} in printer.end_gcode"));
    }

    #[test]
    fn every_placeholder_has_a_value() {
        let p = Profile::default();
        for name in PLACEHOLDERS {
            assert!(placeholder_value(name, &p).is_some(), "{name}");
        }
        let all: String = PLACEHOLDERS.iter().map(|n| format!("{{{n}}} ")).collect();
        assert_eq!(render_template(&all, &p).unwrap(), "215 210 60 60 0.4 1.75 0.2 0.2 220 220 250 PLA ");
    }

    #[test]
    fn escapes_and_errors() {
        let p = Profile::default();
        assert_eq!(render_template("{{x}} } {temperature}", &p).unwrap(), "{x} } 210");
        let e = render_template("M104 S{foo}", &p).unwrap_err();
        assert!(e.to_string().starts_with("unknown placeholder {foo} in template"), "{e}");
        let e = render_field("M104 S{temperature", "printer.end_gcode", &p).unwrap_err();
        assert!(e.to_string().contains("printer.end_gcode"), "{e}");
        assert!(check_template("G28\n{bed_x}", "printer.start_gcode").is_ok());
    }
}
