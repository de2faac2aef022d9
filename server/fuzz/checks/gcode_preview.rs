//! Any bytes as a job's G-code, read back for the queue's toolpath preview: never a panic, and the preview
//! encodes.
//!
//! The check of the `gcode_preview` fuzz target: libFuzzer runs it (`fuzz_targets/gcode_preview.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

pub fn check(data: &[u8]) {
    let preview = server::desks::queue::preview_from_gcode(&String::from_utf8_lossy(data));
    let _ = preview.encode();
}
