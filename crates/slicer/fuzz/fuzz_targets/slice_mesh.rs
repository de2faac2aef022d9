//! libFuzzer entry for the check in `checks/slice_mesh.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/slice_mesh.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
