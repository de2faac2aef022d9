//! Any bytes as a model pack `.tar` handed to the installer: an error that leaves the store as it was, or an
//! installed pack whose files all sit inside the store, and nothing ever written outside it (no `..`, absolute
//! paths or links escaping through the archive).
//!
//! The check of the `modelpack_tar` fuzz target: libFuzzer runs it (`fuzz_targets/modelpack_tar.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use std::path::{Path, PathBuf};

use genai::modelpack::{ModelStore, PackVerifier};

struct AcceptAll;

impl PackVerifier for AcceptAll {
    fn verify(&self, _staged_dir: &Path) -> Result<(), String> {
        Ok(())
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let kind = entry.file_type().expect("a file type");
            assert!(!kind.is_symlink(), "the installer made a link: {}", path.display());
            if kind.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

/// The store as its users see it: everything but the installer's scratch folders.
fn visible(root: &Path) -> Vec<PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| !p.strip_prefix(root).is_ok_and(|r| r.starts_with(".staging") || r.starts_with(".trash")))
        .collect()
}

pub fn check(data: &[u8]) {
    // /dev/shm when there is one: the installer syncs every file, which is slow on a disk.
    let shm = Path::new("/dev/shm");
    let tmp =
        if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a temporary directory");
    let root = tmp.path().join("store").join("models");
    let pack = tmp.path().join("pack.tar");
    std::fs::write(&pack, data).expect("the pack file");
    let store = ModelStore::open(&root).expect("an empty store opens");
    let before = visible(&root);
    let result = store.install(&pack, &AcceptAll, &mut |_| {});
    let after = files_under(tmp.path());
    for path in &after {
        assert!(
            path.starts_with(&root) || *path == pack || *path == root.parent().unwrap(),
            "{} is outside the store",
            path.display()
        );
    }
    match result {
        Ok(installed) => {
            assert!(installed.dir.starts_with(&root), "installed at {}", installed.dir.display());
            assert_eq!(store.active().map(|p| p.dir), Some(installed.dir.clone()));
            let manifest = std::fs::read(installed.dir.join("manifest.json")).expect("the manifest was kept");
            genai::modelpack::Manifest::parse(&manifest).expect("the kept manifest is valid");
        }
        Err(_) => assert_eq!(visible(&root), before, "a failed install changed the store"),
    }
}
