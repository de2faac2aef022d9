//! Fuzzes profile TOML parsing and `--set` overrides: accepted profiles round-trip through TOML.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(profile) = slicer::Profile::from_toml(&text) {
        let again = slicer::Profile::from_toml(&profile.to_toml()).expect("our own TOML parses");
        assert_eq!(again, profile);
    }
    // The same bytes as a `key=value` override on the default profile.
    let mut p = slicer::Profile::default();
    let _ = p.set_arg(&text);
});
