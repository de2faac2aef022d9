//! libFuzzer entry for the check in `checks/gltf.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/gltf.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
