//! Profiles as TOML: a full [`Profile`] with `[printer]`, `[material]` and `[quality]` tables, or one profile alone.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{MaterialProfile, PrinterProfile, Profile, QualityProfile, SettingsError};

/// Parses TOML into `T`; toml's message already carries the line, column and offending key (`deny_unknown_fields`).
fn parse<T: DeserializeOwned>(text: &str, what: &'static str) -> Result<T, SettingsError> {
    toml::from_str(text).map_err(|e| SettingsError::Toml { what, message: e.to_string().trim_end().to_string() })
}

/// Serializes plain profile data, which always has a TOML form.
fn write<T: Serialize>(value: &T) -> String {
    toml::to_string_pretty(value).expect("profiles are plain tables of numbers, strings and arrays")
}

impl Profile {
    /// Reads a full profile; missing keys keep their defaults, unknown keys are errors naming the key and line.
    pub fn from_toml(text: &str) -> Result<Self, SettingsError> {
        parse(text, "profile")
    }

    /// Writes every setting, so the file documents the complete profile.
    pub fn to_toml(&self) -> String {
        write(self)
    }
}

impl PrinterProfile {
    /// Reads a printer profile (the keys of `[printer]`, at top level).
    pub fn from_toml(text: &str) -> Result<Self, SettingsError> {
        parse(text, "printer profile")
    }

    /// Writes this printer profile at top level.
    pub fn to_toml(&self) -> String {
        write(self)
    }
}

impl MaterialProfile {
    /// Reads a material profile (the keys of `[material]`, at top level).
    pub fn from_toml(text: &str) -> Result<Self, SettingsError> {
        parse(text, "material profile")
    }

    /// Writes this material profile at top level.
    pub fn to_toml(&self) -> String {
        write(self)
    }
}

impl QualityProfile {
    /// Reads a quality profile (the keys of `[quality]`, at top level).
    pub fn from_toml(text: &str) -> Result<Self, SettingsError> {
        parse(text, "quality profile")
    }

    /// Writes this quality profile at top level.
    pub fn to_toml(&self) -> String {
        write(self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BedShape, Flavour, InfillPattern, MaterialKind, SeamPosition, SolidPattern};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_round_trips_and_partial_files_keep_defaults() {
        let p = Profile::default();
        assert_eq!(Profile::from_toml(&p.to_toml()).unwrap(), p);
        let q = Profile::from_toml("[quality]\nlayer_height = 0.3\n[quality.speeds]\ninfill = 100\n").unwrap();
        assert_eq!(q.quality.layer_height, 0.3);
        assert_eq!(q.quality.speeds.infill, 100.0);
        assert_eq!(q.quality.speeds.perimeter, Profile::default().quality.speeds.perimeter);
        assert_eq!(q.printer, PrinterProfile::default());
    }

    #[test]
    fn unknown_key_error_names_key_and_line() {
        let e = Profile::from_toml("[quality]\nlayer_height = 0.3\nlayer_heigth = 0.2\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("layer_heigth"), "{e}");
        let e = MaterialProfile::from_toml("name = \"x\"\ntemperature = \"hot\"\n").unwrap_err().to_string();
        assert!(e.starts_with("invalid material profile TOML") && e.contains("line 2"), "{e}");
        let e = PrinterProfile::from_toml("flavour = \"sailfish\"").unwrap_err().to_string();
        assert!(e.contains("sailfish") && e.contains("marlin2"), "{e}");
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![-1e6..1e6f64, Just(0.0), Just(0.1 + 0.2), (0u32..500).prop_map(f64::from)]
    }

    prop_compose! {
        fn profiles()(
            nums in proptest::collection::vec(finite(), 12),
            counts in proptest::collection::vec(0u32..1000, 4),
            text in "\\PC{0,20}( \"'\\\\\n\t\\{x\\}){0,3}",
            flags in proptest::collection::vec(any::<bool>(), 3),
            pick in 0usize..4,
            thumbs in proptest::collection::vec((1u32..2000, 1u32..2000), 0..4),
        ) -> Profile {
            let mut p = Profile::default();
            p.printer.name = text.clone();
            p.printer.start_gcode = format!("{text}\n{}", p.printer.start_gcode);
            p.printer.bed = if flags[0] { BedShape::Circle { diameter: nums[0] } } else { BedShape::Rectangle { x: nums[0], y: nums[1] } };
            p.printer.flavour = [Flavour::Marlin2, Flavour::Klipper, Flavour::RepRapFirmware][pick % 3];
            p.printer.max_jerk.z = nums[2];
            p.printer.acceleration_travel = nums[3];
            p.material.kind = [MaterialKind::Pla, MaterialKind::Tpu, MaterialKind::Asa, MaterialKind::Other][pick];
            p.material.density = nums[4];
            p.material.colour = text;
            p.material.disable_fan_first_layers = counts[0];
            p.material.flow = nums[5];
            p.quality.layer_height = nums[6];
            p.quality.perimeters = counts[1];
            p.quality.top_layers = counts[2];
            p.quality.infill_density = nums[7];
            p.quality.infill_pattern = [InfillPattern::Rectilinear, InfillPattern::Grid, InfillPattern::Gyroid, InfillPattern::Honeycomb][pick];
            p.quality.solid_pattern = if flags[1] { SolidPattern::Concentric } else { SolidPattern::Rectilinear };
            p.quality.seam = [SeamPosition::Aligned, SeamPosition::Rear, SeamPosition::Nearest][pick % 3];
            p.quality.speeds.travel = nums[8];
            p.quality.speeds.first_layer = nums[9];
            p.quality.supports.enabled = flags[2];
            p.quality.supports.z_gap_layers = counts[3];
            p.quality.supports.xy_gap = nums[10];
            p.quality.z_hop = nums[11];
            p.quality.thumbnails = thumbs.into_iter().map(|(w, h)| [w, h]).collect();
            p
        }
    }

    proptest! {
        #[test]
        fn any_profile_round_trips(p in profiles()) {
            let text = p.to_toml();
            prop_assert_eq!(Profile::from_toml(&text).unwrap(), p.clone());
            prop_assert_eq!(PrinterProfile::from_toml(&p.printer.to_toml()).unwrap(), p.printer.clone());
            prop_assert_eq!(MaterialProfile::from_toml(&p.material.to_toml()).unwrap(), p.material.clone());
            prop_assert_eq!(QualityProfile::from_toml(&p.quality.to_toml()).unwrap(), p.quality);
        }
    }
}
