//! libFuzzer entry for the check in `checks/gcode_preview.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/gcode_preview.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
