//! Any bytes as a job's G-code, read back for the queue's toolpath preview: never a panic, and the preview
//! encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let preview = server::desks::queue::preview_from_gcode(&String::from_utf8_lossy(data));
    let _ = preview.encode();
});
