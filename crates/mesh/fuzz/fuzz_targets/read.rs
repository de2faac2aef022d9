//! libFuzzer entry for the check in `checks/read.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/read.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
