//! Fuzzes the PrusaSlicer config import: any text gives a validated profile or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(import) = slicer::import_prusa_ini(&text, &slicer::Profile::default()) {
        assert!(import.profile.validate().is_ok(), "an accepted import must be valid");
    }
});
