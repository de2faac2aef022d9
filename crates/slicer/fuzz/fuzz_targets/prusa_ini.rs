//! libFuzzer entry for the check in `checks/prusa_ini.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/prusa_ini.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
