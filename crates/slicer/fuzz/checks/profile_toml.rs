//! Fuzzes profile TOML parsing and `--set` overrides: accepted profiles round-trip through TOML.
//!
//! The check of the `profile_toml` fuzz target: libFuzzer runs it (`fuzz_targets/profile_toml.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(profile) = slicer::Profile::from_toml(&text) {
        let again = slicer::Profile::from_toml(&profile.to_toml()).expect("our own TOML parses");
        assert_eq!(again, profile);
    }
    // The same bytes as a `key=value` override on the default profile.
    let mut p = slicer::Profile::default();
    let _ = p.set_arg(&text);
}
