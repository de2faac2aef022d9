//! libFuzzer entry for the check in `checks/model_upload.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/model_upload.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
