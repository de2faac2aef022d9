//! libFuzzer entry for the check in `checks/threemf.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/threemf.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
