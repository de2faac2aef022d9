//! Fuzzes the PrusaSlicer config import: any text gives a validated profile or an error, never a panic.
//!
//! The check of the `prusa_ini` fuzz target: libFuzzer runs it (`fuzz_targets/prusa_ini.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(import) = slicer::import_prusa_ini(&text, &slicer::Profile::default()) {
        assert!(import.profile.validate().is_ok(), "an accepted import must be valid");
    }
}
