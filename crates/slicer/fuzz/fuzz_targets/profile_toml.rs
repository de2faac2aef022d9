//! libFuzzer entry for the check in `checks/profile_toml.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/profile_toml.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
