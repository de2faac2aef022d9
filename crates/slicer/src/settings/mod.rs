//! Slicing settings as three profiles: the printer, the material on it and the print quality.
//!
//! Each profile is plain data that round-trips through TOML; [`Profile`] bundles one of each and is what
//! [`crate::slice`] reads. Around the data: TOML in and out ([`Profile::from_toml`]), checks
//! ([`Profile::validate`]), G-code templates ([`render_template`]) and built-in presets ([`presets`]),
//! `--set key=value` overrides ([`Profile::set`]) and PrusaSlicer `.ini` import ([`import_prusa_ini`]).
//! Defaults describe a generic 220×220 Marlin 2 printer with PLA at 0.2 mm.
//!
//! ```
//! use slicer::settings::{import_prusa_ini, presets};
//!
//! let mut profile = presets::profile("prusa-mk3s", "petg", "0.15-fine")?;
//! profile.set("quality.infill_pattern", "gyroid")?; // --set quality.infill_pattern=gyroid
//! profile.set_arg("layer_height=0.1")?; // bare keys work when unique
//! profile.validate()?;
//! assert!(profile.render_start_gcode()?.contains("M104 S240"));
//!
//! let farm = import_prusa_ini("layer_height = 0.25\nfill_density = 15%\n", &profile)?;
//! assert_eq!(farm.profile.quality.infill_density, 0.15);
//! # Ok::<(), slicer::settings::SettingsError>(())
//! ```

use serde::{Deserialize, Serialize};

mod error;
mod overrides;
pub mod presets;
mod prusa_ini;
mod template;
mod toml_io;
mod validate;

pub use error::SettingsError;
pub use prusa_ini::{import_prusa_ini, PrusaImport};
pub use template::{placeholder_value, render_template, PLACEHOLDERS};

/// Everything the slicer needs to know besides the geometry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub printer: PrinterProfile,
    pub material: MaterialProfile,
    pub quality: QualityProfile,
}

/// Which firmware reads the G-code; decides object labels and a few commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    #[default]
    Marlin2,
    Klipper,
    RepRapFirmware,
}

/// Outline of the bed, in millimetres, origin at the front-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BedShape {
    /// A rectangle from (0, 0) to (x, y).
    Rectangle { x: f64, y: f64 },
    /// A round bed of this diameter, centred at (diameter/2, diameter/2).
    Circle { diameter: f64 },
}

impl Default for BedShape {
    fn default() -> Self {
        BedShape::Rectangle { x: 220.0, y: 220.0 }
    }
}

impl BedShape {
    /// Width and depth of the bed's bounding rectangle.
    pub fn size(&self) -> (f64, f64) {
        match *self {
            BedShape::Rectangle { x, y } => (x, y),
            BedShape::Circle { diameter } => (diameter, diameter),
        }
    }

    /// Whether a point (mm) lies on the bed.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        match *self {
            BedShape::Rectangle { x: w, y: d } => (0.0..=w).contains(&x) && (0.0..=d).contains(&y),
            BedShape::Circle { diameter } => {
                let r = diameter / 2.0;
                (x - r).hypot(y - r) <= r
            }
        }
    }
}

/// Per-axis machine limits, used by the time estimate (X, Y, Z, E).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisLimits {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub e: f64,
}

/// The machine: bed, nozzle, firmware and motion limits, start and end G-code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterProfile {
    pub name: String,
    pub bed: BedShape,
    /// Highest printable Z in mm.
    pub max_height: f64,
    pub nozzle_diameter: f64,
    pub flavour: Flavour,
    /// mm/s.
    pub max_feedrate: AxisLimits,
    /// mm/s².
    pub max_acceleration: AxisLimits,
    /// Acceleration used for printing and travel moves, mm/s² (M204 P/T).
    pub acceleration_print: f64,
    pub acceleration_travel: f64,
    /// Classic jerk, mm/s.
    pub max_jerk: AxisLimits,
    /// Template run before the print; `{placeholders}` are listed in [`PLACEHOLDERS`].
    pub start_gcode: String,
    pub end_gcode: String,
}

impl Default for PrinterProfile {
    fn default() -> Self {
        PrinterProfile {
            name: "Generic 220 Marlin 2".into(),
            bed: BedShape::default(),
            max_height: 250.0,
            nozzle_diameter: 0.4,
            flavour: Flavour::Marlin2,
            max_feedrate: AxisLimits { x: 200.0, y: 200.0, z: 12.0, e: 60.0 },
            max_acceleration: AxisLimits { x: 1000.0, y: 1000.0, z: 100.0, e: 5000.0 },
            acceleration_print: 1000.0,
            acceleration_travel: 1000.0,
            max_jerk: AxisLimits { x: 8.0, y: 8.0, z: 0.4, e: 5.0 },
            start_gcode: "M140 S{first_layer_bed_temperature}\nM104 S{first_layer_temperature}\n\
                          M190 S{first_layer_bed_temperature}\nM109 S{first_layer_temperature}\nG28 ; home\nG92 E0"
                .into(),
            end_gcode: "M104 S0\nM140 S0\nM107\nG91\nG1 Z5 F600\nG90\nM84".into(),
        }
    }
}

/// The kind of plastic; the presets cover these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MaterialKind {
    #[default]
    Pla,
    Petg,
    Abs,
    Tpu,
    Asa,
    Other,
}

impl MaterialKind {
    /// The name hosts show (`; filament_type = PLA`).
    pub fn label(self) -> &'static str {
        match self {
            MaterialKind::Pla => "PLA",
            MaterialKind::Petg => "PETG",
            MaterialKind::Abs => "ABS",
            MaterialKind::Tpu => "TPU",
            MaterialKind::Asa => "ASA",
            MaterialKind::Other => "OTHER",
        }
    }
}

/// The filament: geometry, price, temperatures, cooling and retraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaterialProfile {
    pub name: String,
    pub kind: MaterialKind,
    /// Filament diameter, mm.
    pub diameter: f64,
    /// g/cm³.
    pub density: f64,
    /// Currency units per kg.
    pub cost_per_kg: f64,
    /// Hotend °C on the first layer and after it.
    pub first_layer_temperature: f64,
    pub temperature: f64,
    pub first_layer_bed_temperature: f64,
    pub bed_temperature: f64,
    /// Fan duty in percent (0–100).
    pub fan_min: f64,
    pub fan_max: f64,
    /// Layers at the bottom printed with the fan off.
    pub disable_fan_first_layers: u32,
    /// Fan runs between min and max when a layer takes less than this many seconds.
    pub fan_below_layer_time: f64,
    /// Print slower when a layer would take less than this many seconds.
    pub slowdown_below_layer_time: f64,
    /// Never slow down below this speed, mm/s.
    pub min_print_speed: f64,
    /// Retraction length (mm) and speed (mm/s).
    pub retract_length: f64,
    pub retract_speed: f64,
    /// Extrusion multiplier.
    pub flow: f64,
    /// `#RRGGBB`, for previews and hosts.
    pub colour: String,
}

impl Default for MaterialProfile {
    fn default() -> Self {
        MaterialProfile {
            name: "Generic PLA".into(),
            kind: MaterialKind::Pla,
            diameter: 1.75,
            density: 1.24,
            cost_per_kg: 20.0,
            first_layer_temperature: 215.0,
            temperature: 210.0,
            first_layer_bed_temperature: 60.0,
            bed_temperature: 60.0,
            fan_min: 100.0,
            fan_max: 100.0,
            disable_fan_first_layers: 1,
            fan_below_layer_time: 60.0,
            slowdown_below_layer_time: 5.0,
            min_print_speed: 15.0,
            retract_length: 0.8,
            retract_speed: 35.0,
            flow: 1.0,
            colour: "#3B82F6".into(),
        }
    }
}

/// Sparse infill patterns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfillPattern {
    #[default]
    Rectilinear,
    Grid,
    Gyroid,
    Honeycomb,
}

/// Patterns for solid (top/bottom) layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolidPattern {
    #[default]
    Rectilinear,
    Concentric,
}

/// Where each perimeter loop starts and ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeamPosition {
    /// The same corner on every layer, preferring concave corners.
    #[default]
    Aligned,
    /// The point farthest back (largest Y).
    Rear,
    /// Wherever the nozzle already is.
    Nearest,
}

/// Print speeds per feature, mm/s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Speeds {
    pub perimeter: f64,
    pub external_perimeter: f64,
    pub infill: f64,
    pub solid_infill: f64,
    pub top_solid_infill: f64,
    pub bridge: f64,
    pub support: f64,
    pub skirt: f64,
    pub first_layer: f64,
    pub travel: f64,
}

impl Default for Speeds {
    fn default() -> Self {
        Speeds {
            perimeter: 45.0,
            external_perimeter: 25.0,
            infill: 80.0,
            solid_infill: 40.0,
            top_solid_infill: 30.0,
            bridge: 25.0,
            support: 50.0,
            skirt: 25.0,
            first_layer: 20.0,
            travel: 150.0,
        }
    }
}

/// Support material under overhangs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupportSettings {
    pub enabled: bool,
    /// Overhangs whose slope from the horizontal is below this many degrees get support (PrusaSlicer's
    /// `support_material_threshold`): 55 supports anything flatter than 55°.
    pub overhang_angle: f64,
    /// Vertical air gap between support top and the part, in layers.
    pub z_gap_layers: u32,
    /// Horizontal gap between support and the part, mm.
    pub xy_gap: f64,
    /// Dense layers under the part.
    pub interface_layers: u32,
    /// Distance between support lines, mm.
    pub spacing: f64,
}

impl Default for SupportSettings {
    fn default() -> Self {
        SupportSettings {
            enabled: false,
            overhang_angle: 55.0,
            z_gap_layers: 1,
            xy_gap: 0.6,
            interface_layers: 2,
            spacing: 2.5,
        }
    }
}

/// How the part is printed: layers, walls, infill, speeds, adhesion, supports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityProfile {
    pub name: String,
    pub layer_height: f64,
    pub first_layer_height: f64,
    pub perimeters: u32,
    pub top_layers: u32,
    pub bottom_layers: u32,
    /// Sparse infill density, 0.0–1.0.
    pub infill_density: f64,
    pub infill_pattern: InfillPattern,
    pub solid_pattern: SolidPattern,
    /// Angle of the first infill layer in degrees; later layers alternate.
    pub infill_angle: f64,
    /// Extrusion width, mm (0 = 1.125 × nozzle).
    pub line_width: f64,
    pub first_layer_line_width: f64,
    pub speeds: Speeds,
    pub skirt_loops: u32,
    /// Gap between skirt and parts, mm.
    pub skirt_distance: f64,
    /// Brim width around each part, mm (0 = none).
    pub brim_width: f64,
    pub supports: SupportSettings,
    pub seam: SeamPosition,
    /// Travels shorter than this do not retract, mm.
    pub retract_min_travel: f64,
    /// Retract when changing layers.
    pub retract_on_layer_change: bool,
    /// Lift Z by this much while travelling after a retraction, mm.
    pub z_hop: f64,
    /// Keep travels inside the part's outline instead of crossing perimeters.
    pub avoid_crossing_perimeters: bool,
    /// Write `M73` progress lines.
    pub progress_markers: bool,
    /// Thumbnail sizes embedded in the G-code, e.g. `[[32, 32], [220, 124]]`.
    pub thumbnails: Vec<[u32; 2]>,
}

impl Default for QualityProfile {
    fn default() -> Self {
        QualityProfile {
            name: "0.20 mm standard".into(),
            layer_height: 0.2,
            first_layer_height: 0.2,
            perimeters: 2,
            top_layers: 4,
            bottom_layers: 3,
            infill_density: 0.2,
            infill_pattern: InfillPattern::Rectilinear,
            solid_pattern: SolidPattern::Rectilinear,
            infill_angle: 45.0,
            line_width: 0.45,
            first_layer_line_width: 0.45,
            speeds: Speeds::default(),
            skirt_loops: 1,
            skirt_distance: 6.0,
            brim_width: 0.0,
            supports: SupportSettings::default(),
            seam: SeamPosition::Aligned,
            retract_min_travel: 2.0,
            retract_on_layer_change: true,
            z_hop: 0.0,
            avoid_crossing_perimeters: true,
            progress_markers: true,
            thumbnails: vec![[32, 32], [220, 124]],
        }
    }
}

impl QualityProfile {
    /// The extrusion width actually used, resolving 0 to the nozzle-based default.
    pub fn width(&self, nozzle: f64) -> f64 {
        if self.line_width > 0.0 {
            self.line_width
        } else {
            1.125 * nozzle
        }
    }

    /// First-layer extrusion width, resolving 0 to the normal width.
    pub fn first_width(&self, nozzle: f64) -> f64 {
        if self.first_layer_line_width > 0.0 {
            self.first_layer_line_width
        } else {
            self.width(nozzle)
        }
    }
}
