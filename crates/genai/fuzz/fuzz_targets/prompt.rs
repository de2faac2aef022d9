//! libFuzzer entry for the check in `checks/prompt.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/prompt.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
