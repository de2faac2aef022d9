//! libFuzzer entry for the check in `checks/modelpack_tar.rs` (what it checks is written there).
#![no_main]

#[path = "../checks/modelpack_tar.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
