//! libFuzzer entry for the check in `checks/api_request.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/api_request.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
