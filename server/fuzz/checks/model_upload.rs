//! Any bytes as an uploaded model, stored the way `POST /api/v1/models` stores it (format sniffed from the
//! content, the name's extension only a hint): an error or a recorded model with sane measurements,
//! never a panic.
//!
//! The check of the `model_upload` fuzz target: libFuzzer runs it (`fuzz_targets/model_upload.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use std::sync::OnceLock;

use server::db::Db;

struct Library {
    runtime: tokio::runtime::Runtime,
    db: Db,
    dir: tempfile::TempDir,
}

fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = runtime.block_on(Db::open(dir.path())).expect("a fresh database");
        Library { runtime, db, dir }
    })
}

// The first byte picks the name the uploader gave, so the extension fallback is fuzzed too.
const NAMES: [&str; 7] = ["model", "part.stl", "part.obj", "part.3mf", "part.gltf", "part.glb", "../../part.STL"];

pub fn check(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let lib = library();
    let stored = lib.runtime.block_on(server::library::store_model(
        &lib.db,
        lib.dir.path(),
        name,
        bytes.to_vec(),
        None,
        "upload",
    ));
    if let Ok(m) = stored {
        assert!(m.triangles > 0, "a stored model has triangles");
        assert!(m.size_mm.iter().all(|s| s.is_finite() && *s >= 0.0), "size {:?}", m.size_mm);
        assert!(m.volume_mm3.is_finite() && m.volume_mm3 >= 0.0, "volume {}", m.volume_mm3);
        assert!(!m.name.contains('/') && !m.name.contains('\\'), "name {:?}", m.name);
    }
}
