//! libFuzzer entry for the check in `checks/marlin_line.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/marlin_line.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
