//! Fuzzes model-pack manifest parsing: never a panic, and whatever is accepted is safe to install
//! (relative, traversal-free, unique paths; a safe id and version; bounded sizes).
//!
//! The check of the `modelpack_manifest` fuzz target: libFuzzer runs it (`fuzz_targets/modelpack_manifest.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use genai::modelpack::{Manifest, MAX_FILES, MAX_FILE_BYTES, MAX_MANIFEST_BYTES, MAX_PACK_BYTES};

pub fn check(data: &[u8]) {
    let Ok(m) = Manifest::parse(data) else { return };
    assert!(data.len() as u64 <= MAX_MANIFEST_BYTES);
    assert!(!m.files.is_empty() && m.files.len() <= MAX_FILES);
    assert!(m.total_bytes() <= MAX_PACK_BYTES);
    let dir = m.id_version();
    assert!(!dir.starts_with('.') && !dir.contains('/') && !dir.contains('\\'));
    let mut seen = std::collections::HashSet::new();
    for f in &m.files {
        assert!(f.bytes <= MAX_FILE_BYTES);
        assert!(!f.path.starts_with('/') && !f.path.contains('\\') && !f.path.contains(':'));
        assert!(f.path.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
        assert!(f.path != "manifest.json");
        assert!(seen.insert(f.path.to_ascii_lowercase()));
        let p = std::path::Path::new(&f.path);
        assert!(p.is_relative());
        assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
    }
    // Accepted manifests survive a round trip unchanged.
    let bytes = serde_json::to_vec(&m).expect("a manifest serialises");
    assert_eq!(Manifest::parse(&bytes).expect("a valid manifest re-parses"), m);
}
