//! The slicer's integration tests
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod checker;
mod checker_selftest;
mod fuzz_seeds;
mod gcode_checks;
mod moonraker_metadata;
