//! libFuzzer entry for the check in `checks/stl.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/stl.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
