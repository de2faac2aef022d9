//! Which slicer profile a job prints with on a printer: the printer's preset, corrected by what the
//! farm knows of the printer (bed, height, nozzle, firmware), the job's material and its quality.

use slicer::settings::{presets, BedShape};
use slicer::{Flavour, Profile};

use crate::db::{JobRecord, PrinterRecord};

/// The profile, and a key that changes whenever the G-code would (to know when to re-slice).
pub fn for_job(printer: &PrinterRecord, job: &JobRecord) -> Result<(Profile, String), String> {
    let preset = printer.slicer_profile.clone().unwrap_or_else(|| presets::DEFAULT_PRINTER.to_string());
    let mut p = presets::printer(&preset).map_err(|e| format!("printer {}: {e}", printer.name))?;
    p.bed = BedShape::Rectangle { x: printer.build_x_mm, y: printer.build_y_mm };
    p.max_height = printer.build_z_mm;
    p.nozzle_diameter = printer.nozzle_mm;
    p.flavour = match printer.firmware.as_str() {
        "klipper" => Flavour::Klipper,
        "reprapfirmware" => Flavour::RepRapFirmware,
        _ => Flavour::Marlin2,
    };
    let material_id = material_preset(job.material_kind.as_deref());
    let material = presets::material(material_id).map_err(|e| e.to_string())?;
    let quality_id = quality_preset(&job.quality);
    let quality = presets::quality(quality_id).map_err(|e| e.to_string())?;
    let key = format!(
        "{preset}|{}x{}x{}|{}|{:?}|{material_id}|{quality_id}",
        printer.build_x_mm, printer.build_y_mm, printer.build_z_mm, printer.nozzle_mm, p.flavour
    );
    Ok((Profile { printer: p, material, quality }, key))
}

/// The material preset for a job's material kind (PLA when it names none or one we have no preset for).
pub fn material_preset(kind: Option<&str>) -> &'static str {
    match kind.map(|k| k.trim().to_ascii_lowercase()).as_deref() {
        Some("petg") => "petg",
        Some("abs") => "abs",
        Some("asa") => "asa",
        Some("tpu") => "tpu",
        _ => presets::DEFAULT_MATERIAL,
    }
}

/// The quality preset for the words people use: draft, standard (normal), fine, detail, or a preset id.
pub fn quality_preset(quality: &str) -> &'static str {
    match quality.trim().to_ascii_lowercase().as_str() {
        "draft" | "0.28-draft" => "0.28-draft",
        "fine" | "0.15-fine" => "0.15-fine",
        "detail" | "0.10-detail" => "0.10-detail",
        _ => presets::DEFAULT_QUALITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_words_map_to_presets() {
        assert_eq!(quality_preset("Draft"), "0.28-draft");
        assert_eq!(quality_preset("normal"), "0.20-standard");
        assert_eq!(quality_preset("0.15-fine"), "0.15-fine");
        assert_eq!(material_preset(Some(" PETG ")), "petg");
        assert_eq!(material_preset(None), "pla");
        assert_eq!(material_preset(Some("PA")), "pla");
    }
}
