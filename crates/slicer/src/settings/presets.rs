//! Built-in presets, embedded from `crates/slicer/profiles/{printers,materials,qualities}/*.toml`.
//!
//! A preset's id is its file stem (`prusa-mk3s`, `petg`, `0.20-standard`); the files are the source of truth and
//! are readable examples for users writing their own profiles.

use super::{MaterialProfile, PrinterProfile, Profile, QualityProfile, SettingsError};

macro_rules! embed {
    ($dir:literal: $($id:literal),* $(,)?) => {
        &[$(($id, include_str!(concat!("../../profiles/", $dir, "/", $id, ".toml")))),*]
    };
}

/// (id, TOML) of every printer preset.
const PRINTERS: &[(&str, &str)] =
    embed!("printers": "generic-220-marlin2", "prusa-mk3s", "voron-350-klipper", "ender3");
/// (id, TOML) of every material preset.
const MATERIALS: &[(&str, &str)] = embed!("materials": "pla", "petg", "abs", "asa", "tpu");
/// (id, TOML) of every quality preset.
const QUALITIES: &[(&str, &str)] = embed!("qualities": "0.10-detail", "0.15-fine", "0.20-standard", "0.28-draft");

/// Id of the printer preset equal to [`PrinterProfile::default`].
pub const DEFAULT_PRINTER: &str = "generic-220-marlin2";
/// Id of the material preset equal to [`MaterialProfile::default`].
pub const DEFAULT_MATERIAL: &str = "pla";
/// Id of the quality preset equal to [`QualityProfile::default`].
pub const DEFAULT_QUALITY: &str = "0.20-standard";

fn find<'a>(kind: &'static str, table: &[(&'a str, &'a str)], id: &str) -> Result<&'a str, SettingsError> {
    table.iter().find(|(i, _)| *i == id).map(|(_, text)| *text).ok_or_else(|| SettingsError::UnknownPreset {
        kind,
        id: id.into(),
        available: table.iter().map(|(i, _)| i.to_string()).collect(),
    })
}

/// The printer preset with this id.
pub fn printer(id: &str) -> Result<PrinterProfile, SettingsError> {
    PrinterProfile::from_toml(find("printer", PRINTERS, id)?)
}

/// The material preset with this id.
pub fn material(id: &str) -> Result<MaterialProfile, SettingsError> {
    MaterialProfile::from_toml(find("material", MATERIALS, id)?)
}

/// The quality preset with this id.
pub fn quality(id: &str) -> Result<QualityProfile, SettingsError> {
    QualityProfile::from_toml(find("quality", QUALITIES, id)?)
}

/// A full profile from three preset ids (not yet validated: overrides usually follow).
pub fn profile(printer_id: &str, material_id: &str, quality_id: &str) -> Result<Profile, SettingsError> {
    Ok(Profile { printer: printer(printer_id)?, material: material(material_id)?, quality: quality(quality_id)? })
}

/// (id, display name) of every printer preset, in a stable order.
pub fn list_printers() -> Vec<(&'static str, String)> {
    PRINTERS.iter().map(|(id, _)| (*id, printer(id).map(|p| p.name).unwrap_or_default())).collect()
}

/// (id, display name) of every material preset, in a stable order.
pub fn list_materials() -> Vec<(&'static str, String)> {
    MATERIALS.iter().map(|(id, _)| (*id, material(id).map(|m| m.name).unwrap_or_default())).collect()
}

/// (id, display name) of every quality preset, in a stable order.
pub fn list_qualities() -> Vec<(&'static str, String)> {
    QUALITIES.iter().map(|(id, _)| (*id, quality(id).map(|q| q.name).unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Flavour, MaterialKind};
    use super::*;

    #[test]
    fn every_combination_parses_and_validates() {
        for (p, _) in PRINTERS {
            for (m, _) in MATERIALS {
                for (q, _) in QUALITIES {
                    let profile = profile(p, m, q).unwrap_or_else(|e| panic!("{p}/{m}/{q}: {e}"));
                    profile.validate().unwrap_or_else(|e| panic!("{p}/{m}/{q}: {e}"));
                    // Start and end G-code must render for every combination, not just pass the name check.
                    super::super::render_template(&profile.printer.start_gcode, &profile).unwrap();
                }
            }
        }
    }

    #[test]
    fn default_presets_equal_defaults() {
        assert_eq!(printer(DEFAULT_PRINTER).unwrap(), PrinterProfile::default());
        assert_eq!(material(DEFAULT_MATERIAL).unwrap(), MaterialProfile::default());
        assert_eq!(quality(DEFAULT_QUALITY).unwrap(), QualityProfile::default());
        assert_eq!(profile(DEFAULT_PRINTER, DEFAULT_MATERIAL, DEFAULT_QUALITY).unwrap(), Profile::default());
    }

    #[test]
    fn presets_carry_their_distinguishing_values() {
        let mk3 = printer("prusa-mk3s").unwrap();
        assert_eq!((mk3.bed.size(), mk3.max_height, mk3.flavour), ((250.0, 210.0), 210.0, Flavour::Marlin2));
        let voron = printer("voron-350-klipper").unwrap();
        assert_eq!(voron.flavour, Flavour::Klipper);
        assert!(voron.acceleration_print > PrinterProfile::default().acceleration_print);
        assert_eq!(printer("ender3").unwrap().bed.size(), (220.0, 220.0));
        let densities: Vec<_> = ["pla", "petg", "abs", "tpu", "asa"].map(|m| material(m).unwrap().density).into();
        assert_eq!(densities, [1.24, 1.27, 1.04, 1.21, 1.07]);
        let (tpu, abs) = (material("tpu").unwrap(), material("abs").unwrap());
        assert_eq!(tpu.kind, MaterialKind::Tpu);
        assert!(tpu.retract_length < MaterialProfile::default().retract_length && tpu.retract_speed < 30.0);
        assert!(abs.fan_max <= 30.0);
        let heights: Vec<_> = list_qualities().iter().map(|(id, _)| quality(id).unwrap().layer_height).collect();
        assert_eq!(heights, [0.1, 0.15, 0.2, 0.28]);
    }

    #[test]
    fn lists_and_unknown_ids() {
        assert_eq!(list_printers()[1], ("prusa-mk3s", "Prusa i3 MK3S".to_string()));
        assert_eq!(list_materials().len(), 5);
        assert!(list_qualities().iter().all(|(_, name)| !name.is_empty()));
        let e = material("nylon").unwrap_err().to_string();
        assert_eq!(e, "unknown material preset `nylon` (available: pla, petg, abs, asa, tpu)");
    }
}
