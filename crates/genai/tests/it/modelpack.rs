//! Model packs installed from real directories and tar files in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use genai::modelpack::{InstallProgress, ModelPackError, ModelStore, PackVerifier};
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

/// A real (tiny) safetensors file: one 2×2 f32 tensor "w".
fn safetensors_bytes(values: [f32; 4]) -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}  "#;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Checks what the Shap-E verifier will: the tensor is there with the right shape and dtype.
struct TensorCheck;

impl PackVerifier for TensorCheck {
    fn verify(&self, staged: &Path) -> Result<(), String> {
        let bytes = fs::read(staged.join("weights.safetensors")).map_err(|e| e.to_string())?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("weights.safetensors: {e}"))?;
        let w = st.tensor("w").map_err(|_| "tensor 'w' is missing".to_string())?;
        if w.shape() != [2, 2] || w.dtype() != Dtype::F32 {
            return Err(format!("tensor 'w' is {:?} {:?}, expected F32 [2, 2]", w.dtype(), w.shape()));
        }
        Ok(())
    }
}

struct Reject;
impl PackVerifier for Reject {
    fn verify(&self, _: &Path) -> Result<(), String> {
        Err("tensor 'w' has the wrong shape".into())
    }
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

struct Pack {
    version: String,
    files: Vec<(String, Vec<u8>)>,
    /// (path, bytes, sha256) overrides for the manifest, when a test lies in it.
    manifest_files: Option<Vec<(String, u64, String)>>,
}

impl Pack {
    fn new(version: &str) -> Self {
        Self {
            version: version.into(),
            files: vec![
                ("weights.safetensors".into(), safetensors_bytes([1.0, 2.0, 3.0, 4.0])),
                ("clip/bpe.txt".into(), b"hello world\n".repeat(1000)),
            ],
            manifest_files: None,
        }
    }

    fn manifest(&self) -> Vec<u8> {
        let files: Vec<serde_json::Value> = match &self.manifest_files {
            Some(m) => m.iter().map(|(p, b, h)| serde_json::json!({"path": p, "bytes": b, "sha256": h})).collect(),
            None => self
                .files
                .iter()
                .map(|(p, b)| serde_json::json!({"path": p, "bytes": b.len(), "sha256": sha(b)}))
                .collect(),
        };
        serde_json::to_vec_pretty(&serde_json::json!({
            "format": 1, "id": "shap-e-text300m", "version": self.version,
            "name": "Shap-E text300M (fp16)", "licence": "MIT", "files": files,
        }))
        .unwrap()
    }

    fn write_dir(&self, at: &Path) -> PathBuf {
        let dir = at.join(format!("pack-{}", self.version));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("manifest.json"), self.manifest()).unwrap();
        for (p, b) in &self.files {
            let f = dir.join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, b).unwrap();
        }
        dir
    }

    /// A tar with the data files first and the manifest last (any order must work), plus a `./`
    /// directory entry as `tar` itself writes.
    fn write_tar(&self, at: &Path, extra: impl FnOnce(&mut tar::Builder<fs::File>)) -> PathBuf {
        let path = at.join(format!("pack-{}.tar", self.version));
        let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, "./", std::io::empty()).unwrap();
        for (p, data) in &self.files {
            append(&mut b, &format!("./{p}"), data);
        }
        append(&mut b, "manifest.json", &self.manifest());
        extra(&mut b);
        b.into_inner().unwrap();
        path
    }
}

fn append(b: &mut tar::Builder<fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
}

/// Like `append`, but writes the name into the header as is: the builder refuses `..`, a hostile
/// tool would not.
fn append_raw(b: &mut tar::Builder<fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn store(tmp: &Path) -> ModelStore {
    ModelStore::open(tmp.join("models")).unwrap()
}

fn install(s: &ModelStore, src: &Path) -> Result<genai::modelpack::InstalledPack, ModelPackError> {
    s.install(src, &TensorCheck, &mut |_| {})
}

fn staging_is_empty(s: &ModelStore) -> bool {
    fs::read_dir(s.root().join(".staging")).unwrap().next().is_none()
}

/// A store with v1 installed and active, for the failure tests.
fn with_v1(tmp: &Path) -> ModelStore {
    let s = store(tmp);
    install(&s, &Pack::new("1.0.0").write_dir(tmp)).unwrap();
    s
}

fn assert_v1_active(s: &ModelStore) {
    let a = s.active().unwrap();
    assert_eq!(a.version, "1.0.0");
    assert!(a.dir.join("weights.safetensors").is_file());
    assert!(staging_is_empty(s));
}

#[test]
fn good_pack_from_a_directory_installs_and_activates() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    assert!(s.active().is_none());
    let pack = Pack::new("1.0.0");
    let mut last = None;
    let p = s.install(&pack.write_dir(tmp.path()), &TensorCheck, &mut |p: InstallProgress| last = Some(p)).unwrap();
    assert_eq!((p.id.as_str(), p.version.as_str(), p.active), ("shap-e-text300m", "1.0.0", true));
    assert_eq!(p.dir, s.root().join("shap-e-text300m-1.0.0"));
    for (path, bytes) in &pack.files {
        assert_eq!(&fs::read(p.dir.join(path)).unwrap(), bytes);
    }
    let last = last.unwrap();
    assert_eq!(last.done_bytes, last.total_bytes);
    assert_eq!(p.bytes, last.total_bytes);
    assert_eq!(s.active(), Some(p.clone()));
    assert_eq!(s.list(), vec![p]);
    assert!(staging_is_empty(&s));
}

#[test]
fn good_pack_from_a_tar_installs_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    // Manifest last, a directory entry for clip/ in the middle.
    let tar = Pack::new("1.0.0").write_tar(tmp.path(), |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_cksum();
        b.append_data(&mut h, "clip/", std::io::empty()).unwrap();
    });
    let p = install(&s, &tar).unwrap();
    assert!(p.active);
    assert_eq!(fs::read(p.dir.join("clip/bpe.txt")).unwrap(), b"hello world\n".repeat(1000));
}

#[test]
fn corrupted_byte_names_the_file_and_keeps_the_previous_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let pack = Pack::new("2.0.0");
    let dir = pack.write_dir(tmp.path());
    let mut bytes = fs::read(dir.join("clip/bpe.txt")).unwrap();
    bytes[100] ^= 1;
    fs::write(dir.join("clip/bpe.txt"), bytes).unwrap();
    let e = install(&s, &dir).unwrap_err();
    assert!(matches!(&e, ModelPackError::HashMismatch { file } if file == "clip/bpe.txt"), "{e}");
    assert!(e.to_string().contains("clip/bpe.txt") && e.to_string().contains("damaged"));
    assert_v1_active(&s);
    assert!(!s.root().join("shap-e-text300m-2.0.0").exists());
    // The same damage inside a tar.
    let mut pack = Pack::new("2.0.0");
    pack.manifest_files = Some(pack.files.iter().map(|(p, b)| (p.clone(), b.len() as u64, sha(b))).collect());
    pack.files[0].1[20] ^= 0x40;
    let e = install(&s, &pack.write_tar(tmp.path(), |_| {})).unwrap_err();
    assert!(matches!(&e, ModelPackError::HashMismatch { file } if file == "weights.safetensors"), "{e}");
    assert_v1_active(&s);
}

#[test]
fn truncated_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let pack = Pack::new("2.0.0");
    let dir = pack.write_dir(tmp.path());
    let full = fs::read(dir.join("clip/bpe.txt")).unwrap();
    fs::write(dir.join("clip/bpe.txt"), &full[..full.len() - 7]).unwrap();
    let e = install(&s, &dir).unwrap_err();
    assert!(
        matches!(&e, ModelPackError::Truncated { file, declared, got } if file == "clip/bpe.txt" && *got + 7 == *declared),
        "{e}"
    );
    assert_v1_active(&s);
}

#[test]
fn unlisted_file_in_a_tar_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let tar = Pack::new("2.0.0").write_tar(tmp.path(), |b| append(b, "autorun.sh", b"rm -rf /"));
    let e = install(&s, &tar).unwrap_err();
    assert!(matches!(&e, ModelPackError::UnexpectedEntry(n) if n == "autorun.sh"), "{e}");
    assert_v1_active(&s);
}

#[test]
fn traversal_in_the_manifest_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let mut pack = Pack::new("2.0.0");
    let mut listed: Vec<_> = pack.files.iter().map(|(p, b)| (p.clone(), b.len() as u64, sha(b))).collect();
    listed.push(("../evil".into(), 4, sha(b"evil")));
    pack.manifest_files = Some(listed);
    let dir = pack.write_dir(tmp.path());
    let e = install(&s, &dir).unwrap_err();
    assert!(matches!(&e, ModelPackError::UnsafePath(p) if p == "../evil"), "{e}");
    let e = install(&s, &pack.write_tar(tmp.path(), |b| append_raw(b, "../evil", b"evil"))).unwrap_err();
    assert!(matches!(&e, ModelPackError::UnsafePath(_)), "{e}");
    assert!(!tmp.path().join("evil").exists());
    assert_v1_active(&s);
}

#[test]
fn links_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    // A tar whose listed name is a symlink to a file elsewhere.
    let pack = Pack::new("2.0.0");
    let tar = pack.write_tar(tmp.path(), |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_link_name("/etc/passwd").unwrap();
        h.set_cksum();
        b.append_data(&mut h, "clip/bpe.txt", std::io::empty()).unwrap();
    });
    let e = install(&s, &tar).unwrap_err();
    assert!(matches!(&e, ModelPackError::LinkEntry(n) if n == "clip/bpe.txt"), "{e}");
    // A directory pack whose file is a symlink.
    let dir = pack.write_dir(tmp.path());
    let target = tmp.path().join("elsewhere.txt");
    fs::rename(dir.join("clip/bpe.txt"), &target).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("clip/bpe.txt")).unwrap();
    let e = install(&s, &dir).unwrap_err();
    assert!(matches!(&e, ModelPackError::LinkEntry(_)), "{e}");
    assert_v1_active(&s);
}

#[test]
fn oversize_file_stops_early() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let mut pack = Pack::new("2.0.0");
    // The manifest says 12 bytes; the stick holds 8 MiB.
    pack.manifest_files = Some(vec![
        ("weights.safetensors".into(), pack.files[0].1.len() as u64, sha(&pack.files[0].1)),
        ("clip/bpe.txt".into(), 12, sha(b"hello world\n")),
    ]);
    pack.files[1].1 = vec![b'x'; 8 << 20];
    let mut most = 0;
    let e = s
        .install(&pack.write_dir(tmp.path()), &TensorCheck, &mut |p: InstallProgress| most = most.max(p.done_bytes))
        .unwrap_err();
    assert!(matches!(&e, ModelPackError::TooBig { file, declared: 12 } if file == "clip/bpe.txt"), "{e}");
    assert!(most < 1 << 20, "read {most} bytes before stopping");
    // In a tar the header gives it away before anything is copied.
    let mut called = false;
    let e = s.install(&pack.write_tar(tmp.path(), |_| {}), &TensorCheck, &mut |_| called = true).unwrap_err();
    assert!(matches!(&e, ModelPackError::TooBig { .. }), "{e}");
    assert!(!called);
    assert_v1_active(&s);
}

#[test]
fn failed_verification_does_not_activate() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let e = s.install(&Pack::new("2.0.0").write_dir(tmp.path()), &Reject, &mut |_| {}).unwrap_err();
    assert!(matches!(&e, ModelPackError::Verification(_)), "{e}");
    assert!(e.to_string().contains("wrong shape") && e.to_string().contains("previous model"));
    assert!(!s.root().join("shap-e-text300m-2.0.0").exists());
    assert_v1_active(&s);
    // A real check on real bytes: a file that is not safetensors at all.
    let mut pack = Pack::new("2.0.0");
    pack.files[0].1 = b"not a tensor file".to_vec();
    let e = install(&s, &pack.write_dir(tmp.path())).unwrap_err();
    assert!(matches!(&e, ModelPackError::Verification(m) if m.contains("weights.safetensors")), "{e}");
    assert_v1_active(&s);
}

#[test]
fn rollback_switches_back_and_forth() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    assert!(matches!(s.rollback(), Err(ModelPackError::NoPrevious)));
    install(&s, &Pack::new("2.0.0").write_tar(tmp.path(), |_| {})).unwrap();
    assert_eq!(s.active().unwrap().version, "2.0.0");
    assert_eq!(s.rollback().unwrap().version, "1.0.0");
    assert_eq!(s.active().unwrap().version, "1.0.0");
    assert_eq!(s.rollback().unwrap().version, "2.0.0");
    let list = s.list();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|p| p.active).count(), 1);
    assert!(list[0].installed_at >= list[1].installed_at);
}

#[test]
fn remove_refuses_the_active_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    install(&s, &Pack::new("2.0.0").write_dir(tmp.path())).unwrap();
    let e = s.remove("shap-e-text300m-2.0.0").unwrap_err();
    assert!(matches!(e, ModelPackError::ActivePack(_)), "{e}");
    s.remove("shap-e-text300m-1.0.0").unwrap();
    assert!(!s.root().join("shap-e-text300m-1.0.0").exists());
    assert_eq!(s.list().len(), 1);
    // The removed pack was the rollback target: there is none now.
    assert!(matches!(s.rollback(), Err(ModelPackError::NoPrevious)));
    assert!(matches!(s.remove("shap-e-text300m-1.0.0"), Err(ModelPackError::NotInstalled(_))));
    assert!(matches!(s.remove("../../etc"), Err(ModelPackError::NotInstalled(_))));
    assert_eq!(s.active().unwrap().version, "2.0.0");
}

#[test]
fn reinstalling_the_active_pack_replaces_it_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let before = s.active().unwrap();
    // A damaged copy of the same version changes nothing.
    let mut bad = Pack::new("1.0.0");
    bad.manifest_files = Some(bad.files.iter().map(|(p, b)| (p.clone(), b.len() as u64, sha(b))).collect());
    bad.files[1].1[0] ^= 1;
    assert!(install(&s, &bad.write_tar(tmp.path(), |_| {})).is_err());
    assert_eq!(s.active().unwrap(), before);
    // A good copy replaces it and it stays active.
    let again = install(&s, &Pack::new("1.0.0").write_tar(tmp.path(), |_| {})).unwrap();
    assert!(again.active);
    assert_eq!(s.list().len(), 1);
    assert!(!s.root().join(".trash/replace-shap-e-text300m-1.0.0").exists());
}

#[test]
fn crash_leftovers_are_cleaned_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let s = with_v1(tmp.path());
    let root = s.root().to_path_buf();
    fs::create_dir_all(root.join(".staging/shap-e-text300m-2.0.0-123-456/clip")).unwrap();
    fs::write(root.join(".staging/shap-e-text300m-2.0.0-123-456/clip/bpe.txt"), b"half").unwrap();
    fs::write(root.join("active.json.tmp"), b"{\"act").unwrap();
    // A reinstall interrupted between moving the old copy aside and moving the new one in.
    fs::create_dir_all(root.join(".trash")).unwrap();
    fs::rename(root.join("shap-e-text300m-1.0.0"), root.join(".trash/replace-shap-e-text300m-1.0.0")).unwrap();
    assert!(s.active().is_none());
    let s = ModelStore::open(&root).unwrap();
    assert!(staging_is_empty(&s));
    assert!(!root.join("active.json.tmp").exists());
    assert_v1_active(&s);
    assert!(fs::read_dir(root.join(".trash")).unwrap().next().is_none());
}

#[test]
fn not_a_pack_is_said_plainly() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let junk = tmp.path().join("holiday.jpg");
    fs::write(&junk, vec![0xffu8; 3000]).unwrap();
    let e = install(&s, &junk).unwrap_err();
    assert!(matches!(e, ModelPackError::NotAPack(_)), "{e}");
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(matches!(install(&s, &empty), Err(ModelPackError::NotAPack(_))));
    let e = install(&s, &tmp.path().join("missing")).unwrap_err();
    assert!(matches!(e, ModelPackError::Io { .. }), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

    /// Paths made of hostile pieces: whatever the manifest check accepts stays inside the pack.
    #[test]
    fn accepted_paths_stay_inside(pieces in proptest::collection::vec(
        proptest::sample::select(vec!["..", ".", "/", "\\", "a", "b.bin", ":", "~", "", "C:", "%2e%2e", "\u{0}", "é"]),
        1..8,
    )) {
        let path: String = pieces.concat();
        let json = serde_json::json!({
            "format": 1, "id": "p", "version": "1", "name": "P",
            "files": [{ "path": path, "bytes": 1, "sha256": "0".repeat(64) }],
        });
        if let Ok(m) = genai::modelpack::Manifest::parse(&serde_json::to_vec(&json).unwrap()) {
            let p = Path::new(&m.files[0].path);
            proptest::prop_assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))), "{path:?}");
            proptest::prop_assert!(Path::new("/root/pack").join(p).starts_with("/root/pack"));
        }
    }
}
