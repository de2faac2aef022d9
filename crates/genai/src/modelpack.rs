//! # modelpack — installing the Shap-E weights from a USB stick, safely
//!
//! A pack is a directory or an uncompressed `.tar` holding `manifest.json` and the files it lists:
//!
//! ```json
//! { "format": 1, "id": "shap-e-text300m", "version": "1.0.0", "name": "Shap-E text300M (fp16)",
//!   "licence": "MIT …", "files": [ { "path": "denoiser.safetensors", "bytes": 123, "sha256": "…" } ] }
//! ```
//!
//! [`ModelStore::install`]:
//! 1. reads the manifest first (at most 1 MiB) and checks it ([`Manifest::validate`]): a format this
//!    build understands, a safe id and version, relative file paths without `..`, no duplicates,
//!    bounded counts and sizes;
//! 2. for a tar, walks the headers once (seeking past data) and refuses anything but plain files the
//!    manifest lists — links, devices, path tricks, unlisted or repeated names — before writing a byte;
//! 3. streams each file into `<root>/.staging/<id>-<version>-<unique>/`, hashing (SHA-256) and counting
//!    as it goes and stopping the moment a file runs past its declared size; then compares size and
//!    hash, and checks every listed file arrived;
//! 4. hands the staged directory to a [`PackVerifier`] (the Shap-E module checks tensor names, shapes
//!    and dtypes and runs a load self-test);
//! 5. activates: renames the staging directory to `<root>/<id>-<version>/` and atomically replaces
//!    `active.json` (`active.json.tmp`, fsync, rename, fsync the directory), which keeps the previous
//!    pack's name for [`ModelStore::rollback`].
//!
//! A failed install removes its staging directory and leaves the active pack as it was. Reinstalling
//! the active id+version moves the old copy aside first (`.trash/replace-…`) and only deletes it once
//! the new copy is in place; [`ModelStore::open`] finishes or undoes a swap a crash interrupted, and
//! deletes leftover staging directories. One installer at a time is assumed (the admin UI or CLI).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest format this build reads.
pub const FORMAT: u32 = 1;
/// Largest `manifest.json` read.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Most files in a pack.
pub const MAX_FILES: usize = 256;
/// Largest single file (16 GiB) and whole pack (64 GiB): far above Shap-E (~1.3 GB), far below a
/// typo that would fill the data partition with a declared-but-never-ending file.
pub const MAX_FILE_BYTES: u64 = 16 << 30;
pub const MAX_PACK_BYTES: u64 = 64 << 30;
const MAX_ID_LEN: usize = 64;
const MAX_VERSION_LEN: usize = 32;
const MAX_PATH_LEN: usize = 200;
const MAX_PATH_DEPTH: usize = 4;
const MAX_TEXT_LEN: usize = 64 * 1024;
const MANIFEST: &str = "manifest.json";
const INSTALLED: &str = "installed.json";
const ACTIVE: &str = "active.json";
const ACTIVE_TMP: &str = "active.json.tmp";
const STAGING: &str = ".staging";
const TRASH: &str = ".trash";
const CHUNK: usize = 1 << 20;

/// Why a pack could not be installed or changed. Messages say what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModelPackError {
    #[error("could not {what}: {source}. Check that the stick is still plugged in and the data partition has space")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("this is not a Printfarm model pack: {0}")]
    NotAPack(String),
    #[error(
        "the pack's manifest.json is larger than {MAX_MANIFEST_BYTES} bytes; the pack is damaged or not a model pack"
    )]
    ManifestTooLarge,
    #[error("the pack's manifest.json is not valid: {0}. Get a fresh copy of the pack from the vendor")]
    BadManifest(String),
    #[error("this pack uses manifest format {0}, which this Printfarm cannot read (it reads format {FORMAT}); update Printfarm first")]
    UnsupportedFormat(u32),
    #[error("the pack names an unsafe file path '{0}', so nothing was installed. Get a fresh copy of the pack from the vendor")]
    UnsafePath(String),
    #[error("the pack contains '{0}', which its manifest does not list, so nothing was installed. Get a fresh copy of the pack")]
    UnexpectedEntry(String),
    #[error(
        "the pack contains a link or special file ('{0}'); packs may only hold plain files, so nothing was installed"
    )]
    LinkEntry(String),
    #[error("the pack contains '{0}' twice, so nothing was installed. Get a fresh copy of the pack")]
    Duplicate(String),
    #[error("the pack is missing '{0}'; the copy on the stick is incomplete. Copy the pack again")]
    MissingFile(String),
    #[error("'{file}' is larger than the {declared} bytes the manifest declares; the stick's copy is damaged. Copy the pack again")]
    TooBig { file: String, declared: u64 },
    #[error("'{file}' has only {got} of its {declared} bytes; the stick's copy is damaged or was not copied completely. Copy the pack again")]
    Truncated { file: String, declared: u64, got: u64 },
    #[error("'{file}' does not match its checksum; the stick's copy is damaged. Copy the pack again")]
    HashMismatch { file: String },
    #[error(
        "the pack's model files failed the self-test ({0}), so it was not activated; the previous model stays in use"
    )]
    Verification(String),
    #[error("there is no installed model pack called '{0}'")]
    NotInstalled(String),
    #[error("'{0}' is the model in use; activate another pack or roll back before removing it")]
    ActivePack(String),
    #[error("there is no earlier model pack to roll back to")]
    NoPrevious,
    #[error("a different pack is already installed as '{0}'; remove it first")]
    Conflict(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ModelPackError {
    let what = what.into();
    move |source| ModelPackError::Io { what, source }
}

/// One file of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative path inside the pack, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// Lower- or upper-case hex SHA-256 of the contents.
    pub sha256: String,
}

/// `manifest.json`. Unknown fields are ignored (later packs may add some); `format` says whether
/// this build can read the pack at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub version: String,
    pub name: String,
    #[serde(default)]
    pub licence: String,
    pub files: Vec<ManifestFile>,
}

/// `[a-z0-9._-]`, starting with a letter or digit, 1..=max characters.
fn safe_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// A relative `/`-separated path of 1..=4 components of `[A-Za-z0-9._-]`, none `.` or `..`.
fn safe_path(p: &str) -> bool {
    p.len() <= MAX_PATH_LEN && {
        let parts: Vec<&str> = p.split('/').collect();
        parts.len() <= MAX_PATH_DEPTH
            && parts.iter().all(|c| {
                !c.is_empty()
                    && *c != "."
                    && *c != ".."
                    && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            })
    }
}

impl Manifest {
    /// Parses and validates manifest bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ModelPackError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ModelPackError::ManifestTooLarge);
        }
        // Check the format first so a newer pack gets "update Printfarm", not a parse error.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(f) = v.get("format").and_then(|f| f.as_u64()) {
                if f != u64::from(FORMAT) {
                    return Err(ModelPackError::UnsupportedFormat(u32::try_from(f).unwrap_or(u32::MAX)));
                }
            }
        }
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| ModelPackError::BadManifest(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// Checks everything install relies on; see the module docs.
    pub fn validate(&self) -> Result<(), ModelPackError> {
        let bad = |s: String| Err(ModelPackError::BadManifest(s));
        if self.format != FORMAT {
            return Err(ModelPackError::UnsupportedFormat(self.format));
        }
        if !safe_name(&self.id, MAX_ID_LEN) {
            return bad(format!("the id '{}' must be 1–{MAX_ID_LEN} of a–z, 0–9, '.', '_', '-'", self.id));
        }
        if !safe_name(&self.version, MAX_VERSION_LEN) {
            return bad(format!(
                "the version '{}' must be 1–{MAX_VERSION_LEN} of a–z, 0–9, '.', '_', '-'",
                self.version
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 200 || self.name.chars().any(char::is_control) {
            return bad("the name must be 1–200 printable characters".into());
        }
        if self.licence.len() > MAX_TEXT_LEN {
            return bad("the licence text is too long".into());
        }
        if self.files.is_empty() {
            return bad("it lists no files".into());
        }
        if self.files.len() > MAX_FILES {
            return bad(format!("it lists {} files; at most {MAX_FILES} are allowed", self.files.len()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        for f in &self.files {
            if !safe_path(&f.path) {
                return Err(ModelPackError::UnsafePath(f.path.clone()));
            }
            let lower = f.path.to_ascii_lowercase();
            if lower == MANIFEST || lower == INSTALLED {
                return bad(format!("'{}' is a reserved name", f.path));
            }
            if !seen.insert(lower) {
                return Err(ModelPackError::Duplicate(f.path.clone()));
            }
            if f.bytes > MAX_FILE_BYTES {
                return bad(format!("'{}' is declared as {} bytes; the limit is {MAX_FILE_BYTES}", f.path, f.bytes));
            }
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(format!("the checksum of '{}' is not 64 hex digits", f.path));
            }
            total = total.saturating_add(f.bytes);
        }
        // A file's parent directory must not also be a listed file ("a" and "a/b").
        for f in &self.files {
            let mut prefix = String::new();
            for part in f.path.split('/').collect::<Vec<_>>().split_last().map(|(_, d)| d.to_vec()).unwrap_or_default()
            {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                if seen.contains(&prefix.to_ascii_lowercase()) {
                    return Err(ModelPackError::UnsafePath(f.path.clone()));
                }
            }
        }
        if total > MAX_PACK_BYTES {
            return bad(format!("the files add up to {total} bytes; the limit is {MAX_PACK_BYTES}"));
        }
        Ok(())
    }

    /// Sum of the declared file sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// The installed directory's name, `<id>-<version>`.
    pub fn id_version(&self) -> String {
        format!("{}-{}", self.id, self.version)
    }

    fn file(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.path == path)
    }

    /// Parent directories of listed files ("a", "a/b" for "a/b/c.bin").
    fn dirs(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for f in &self.files {
            let mut parts: Vec<&str> = f.path.split('/').collect();
            parts.pop();
            for k in 1..=parts.len() {
                out.insert(parts[..k].join("/"));
            }
        }
        out
    }
}

/// Checks a staged pack before it is activated. The Shap-E module implements this: tensor names,
/// shapes and dtypes, and a load self-test. `Err` explains what is wrong, in words.
pub trait PackVerifier {
    fn verify(&self, staged_dir: &Path) -> Result<(), String>;
}

/// An installed pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledPack {
    pub id: String,
    pub version: String,
    pub name: String,
    pub dir: PathBuf,
    /// Unix seconds.
    pub installed_at: u64,
    pub bytes: u64,
    pub active: bool,
}

impl InstalledPack {
    /// `<id>-<version>`, the name [`ModelStore::remove`] takes.
    pub fn id_version(&self) -> String {
        format!("{}-{}", self.id, self.version)
    }
}

/// How far an install has got: `done_bytes` of `total_bytes` over the whole pack, now in `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallProgress {
    pub file: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ActiveFile {
    active: Option<String>,
    #[serde(default)]
    previous: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct InstalledFile {
    installed_at: u64,
    bytes: u64,
}

/// The model packs on the data partition (e.g. `<data>/models`).
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), nanos, UNIQUE.fetch_add(1, Ordering::Relaxed))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn sync_dir(dir: &Path) -> Result<(), ModelPackError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err(format!("flush {}", dir.display())))
}

/// Reads at most `MAX_MANIFEST_BYTES` (+1 to notice more).
fn read_bounded(r: impl Read) -> Result<Vec<u8>, ModelPackError> {
    let mut buf = Vec::new();
    r.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut buf).map_err(io_err("read manifest.json"))?;
    if buf.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ModelPackError::ManifestTooLarge);
    }
    Ok(buf)
}

/// Where files are being staged, with the running totals.
struct Stager<'a> {
    dir: PathBuf,
    manifest: &'a Manifest,
    received: Vec<bool>,
    done: u64,
    progress: &'a mut dyn FnMut(InstallProgress),
}

impl Stager<'_> {
    /// Copies one listed file from `src`, hashing and counting, stopping as soon as it runs past its
    /// declared size.
    fn copy(&mut self, index: usize, mut src: impl Read) -> Result<(), ModelPackError> {
        let f = &self.manifest.files[index];
        if self.received[index] {
            return Err(ModelPackError::Duplicate(f.path.clone()));
        }
        let dest = self.dir.join(&f.path);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("create {}", parent.display())))?;
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(io_err(format!("create {}", dest.display())))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(format!("read '{}' from the pack", f.path))(e)),
            };
            got += n as u64;
            if got > f.bytes {
                return Err(ModelPackError::TooBig { file: f.path.clone(), declared: f.bytes });
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err(format!("write {}", dest.display())))?;
            self.done += n as u64;
            (self.progress)(InstallProgress {
                file: f.path.clone(),
                done_bytes: self.done,
                total_bytes: self.manifest.total_bytes(),
            });
        }
        if got < f.bytes {
            return Err(ModelPackError::Truncated { file: f.path.clone(), declared: f.bytes, got });
        }
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if !hex.eq_ignore_ascii_case(&f.sha256) {
            return Err(ModelPackError::HashMismatch { file: f.path.clone() });
        }
        out.sync_all().map_err(io_err(format!("flush {}", dest.display())))?;
        self.received[index] = true;
        Ok(())
    }

    fn check_complete(&self) -> Result<(), ModelPackError> {
        match self.received.iter().position(|&r| !r) {
            Some(i) => Err(ModelPackError::MissingFile(self.manifest.files[i].path.clone())),
            None => Ok(()),
        }
    }
}

/// A tar entry's name, normalised ("./a/b" → "a/b"), or why it is refused.
fn tar_name(entry: &tar::Entry<'_, impl Read>) -> Result<String, ModelPackError> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let mut n = name.as_str();
    while let Some(rest) = n.strip_prefix("./") {
        n = rest;
    }
    let n = n.trim_end_matches('/');
    if n.starts_with('/') || n.split('/').any(|c| c == "..") || n.contains('\\') {
        return Err(ModelPackError::UnsafePath(name));
    }
    Ok(n.to_string())
}

/// What a tar entry is, or why it is refused. `Ok(None)`: a directory entry to skip.
fn tar_entry_kind(
    entry: &tar::Entry<'_, impl Read>,
    manifest: Option<&Manifest>,
    dirs: &std::collections::HashSet<String>,
) -> Result<Option<String>, ModelPackError> {
    let name = tar_name(entry)?;
    let t = entry.header().entry_type();
    if t.is_symlink() || t.is_hard_link() {
        return Err(ModelPackError::LinkEntry(name));
    }
    if t.is_dir() {
        if name.is_empty() || name == "." || dirs.contains(&name) || manifest.is_none() {
            return Ok(None);
        }
        return Err(ModelPackError::UnexpectedEntry(name));
    }
    if !t.is_file() {
        return Err(ModelPackError::LinkEntry(name));
    }
    if name == MANIFEST {
        return Ok(Some(name));
    }
    match manifest {
        Some(m) if m.file(&name).is_some() => Ok(Some(name)),
        Some(_) => Err(ModelPackError::UnexpectedEntry(name)),
        None => Ok(Some(name)),
    }
}

impl ModelStore {
    /// Opens (creating if needed) a store at `root`, deleting leftover staging directories and
    /// finishing or undoing any pack swap a crash interrupted.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ModelPackError> {
        let root = root.into();
        fs::create_dir_all(root.join(STAGING)).map_err(io_err(format!("create {}", root.display())))?;
        let store = Self { root };
        store.recover()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn recover(&self) -> Result<(), ModelPackError> {
        let staging = self.root.join(STAGING);
        for e in fs::read_dir(&staging).map_err(io_err("list the staging directory"))?.flatten() {
            let p = e.path();
            let r = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
            r.map_err(io_err(format!("remove the unfinished install {}", p.display())))?;
        }
        let _ = fs::remove_file(self.root.join(ACTIVE_TMP));
        let trash = self.root.join(TRASH);
        if let Ok(entries) = fs::read_dir(&trash) {
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                // "replace-<dir>": the old copy of a pack being reinstalled. If the new copy never
                // arrived, put the old one back; otherwise it is garbage.
                if let Some(dir) = name.strip_prefix("replace-") {
                    let live = self.root.join(dir);
                    if !live.exists() && safe_dir_name(dir) {
                        fs::rename(&p, &live).map_err(io_err(format!("restore {}", live.display())))?;
                        continue;
                    }
                }
                let _ = fs::remove_dir_all(&p);
            }
        }
        Ok(())
    }

    fn read_active(&self) -> ActiveFile {
        fs::read(self.root.join(ACTIVE))
            .ok()
            .and_then(|b| serde_json::from_slice::<ActiveFile>(&b).ok())
            .unwrap_or_default()
    }

    fn write_active(&self, a: &ActiveFile) -> Result<(), ModelPackError> {
        let tmp = self.root.join(ACTIVE_TMP);
        let bytes = serde_json::to_vec_pretty(a).map_err(|e| ModelPackError::BadManifest(e.to_string()))?;
        {
            let mut f = File::create(&tmp).map_err(io_err("write active.json.tmp"))?;
            f.write_all(&bytes).map_err(io_err("write active.json.tmp"))?;
            f.sync_all().map_err(io_err("flush active.json.tmp"))?;
        }
        fs::rename(&tmp, self.root.join(ACTIVE)).map_err(io_err("replace active.json"))?;
        sync_dir(&self.root)
    }

    /// Reads an installed pack's record from its directory.
    fn load(&self, dir_name: &str, active: bool) -> Option<InstalledPack> {
        if !safe_dir_name(dir_name) {
            return None;
        }
        let dir = self.root.join(dir_name);
        let m: Manifest = serde_json::from_slice(&fs::read(dir.join(MANIFEST)).ok()?).ok()?;
        let i: InstalledFile = serde_json::from_slice(&fs::read(dir.join(INSTALLED)).ok()?).ok()?;
        if m.id_version() != dir_name {
            return None;
        }
        Some(InstalledPack {
            id: m.id,
            version: m.version,
            name: m.name,
            dir,
            installed_at: i.installed_at,
            bytes: i.bytes,
            active,
        })
    }

    /// The pack the generator should load, if any.
    pub fn active(&self) -> Option<InstalledPack> {
        let a = self.read_active();
        self.load(a.active.as_deref()?, true)
    }

    /// Installed packs, newest first; `active` marks the one in use.
    pub fn list(&self) -> Vec<InstalledPack> {
        let active = self.read_active().active;
        let mut out: Vec<InstalledPack> = fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let is_active = active.as_deref() == Some(name.as_str());
                        self.load(&name, is_active)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| b.installed_at.cmp(&a.installed_at).then_with(|| b.dir.cmp(&a.dir)));
        out
    }

    /// Re-activates the pack that was active before the current one.
    pub fn rollback(&self) -> Result<InstalledPack, ModelPackError> {
        let a = self.read_active();
        let prev = a.previous.clone().ok_or(ModelPackError::NoPrevious)?;
        if self.load(&prev, false).is_none() {
            return Err(ModelPackError::NoPrevious);
        }
        self.write_active(&ActiveFile { active: Some(prev.clone()), previous: a.active })?;
        self.load(&prev, true).ok_or(ModelPackError::NoPrevious)
    }

    /// Deletes an installed pack (`<id>-<version>`); never the active one.
    pub fn remove(&self, id_version: &str) -> Result<(), ModelPackError> {
        let mut a = self.read_active();
        if a.active.as_deref() == Some(id_version) {
            return Err(ModelPackError::ActivePack(id_version.to_string()));
        }
        if self.load(id_version, false).is_none() {
            return Err(ModelPackError::NotInstalled(id_version.to_string()));
        }
        if a.previous.as_deref() == Some(id_version) {
            a.previous = None;
            self.write_active(&a)?;
        }
        // Move it out of sight first (atomic), then delete at leisure.
        let trash = self.root.join(TRASH);
        fs::create_dir_all(&trash).map_err(io_err("create the trash directory"))?;
        let gone = trash.join(format!("remove-{id_version}-{}", unique()));
        fs::rename(self.root.join(id_version), &gone).map_err(io_err(format!("remove {id_version}")))?;
        sync_dir(&self.root)?;
        fs::remove_dir_all(&gone).map_err(io_err(format!("delete {}", gone.display())))
    }

    /// Installs the pack at `source` (a directory or a `.tar`), verifies it and makes it active. On
    /// any error nothing changes but a removed staging directory.
    pub fn install(
        &self,
        source: &Path,
        verifier: &dyn PackVerifier,
        progress: &mut dyn FnMut(InstallProgress),
    ) -> Result<InstalledPack, ModelPackError> {
        let meta = fs::metadata(source).map_err(io_err(format!("open {}", source.display())))?;
        let (manifest, raw) = if meta.is_dir() { read_dir_manifest(source)? } else { read_tar_manifest(source)? };
        let name = manifest.id_version();
        if let Some(existing) = self.load_any(&name) {
            if existing != (manifest.id.clone(), manifest.version.clone()) {
                return Err(ModelPackError::Conflict(name));
            }
        }
        let staged = self.root.join(STAGING).join(format!("{name}-{}", unique()));
        fs::create_dir(&staged).map_err(io_err(format!("create {}", staged.display())))?;
        let result = self.stage_and_activate(source, meta.is_dir(), &manifest, &raw, &staged, verifier, progress);
        if staged.exists() {
            let _ = fs::remove_dir_all(&staged);
        }
        result
    }

    /// (id, version) of whatever is installed under `dir_name`, even if its record is incomplete.
    fn load_any(&self, dir_name: &str) -> Option<(String, String)> {
        let m: Manifest = serde_json::from_slice(&fs::read(self.root.join(dir_name).join(MANIFEST)).ok()?).ok()?;
        Some((m.id, m.version))
    }

    #[allow(clippy::too_many_arguments)]
    fn stage_and_activate(
        &self,
        source: &Path,
        is_dir: bool,
        manifest: &Manifest,
        raw_manifest: &[u8],
        staged: &Path,
        verifier: &dyn PackVerifier,
        progress: &mut dyn FnMut(InstallProgress),
    ) -> Result<InstalledPack, ModelPackError> {
        let mut stager = Stager {
            dir: staged.to_path_buf(),
            manifest,
            received: vec![false; manifest.files.len()],
            done: 0,
            progress,
        };
        if is_dir {
            for (i, f) in manifest.files.iter().enumerate() {
                let path = plain_file_in(source, &f.path)?;
                let file = File::open(&path).map_err(io_err(format!("open '{}' on the stick", f.path)))?;
                stager.copy(i, file)?;
            }
        } else {
            let file = File::open(source).map_err(io_err(format!("open {}", source.display())))?;
            let mut archive = tar::Archive::new(file);
            let dirs = manifest.dirs();
            let mut seen_manifest = false;
            for entry in archive.entries().map_err(io_err("read the pack"))? {
                let entry = entry.map_err(io_err("read the pack"))?;
                let Some(name) = tar_entry_kind(&entry, Some(manifest), &dirs)? else { continue };
                if name == MANIFEST {
                    if seen_manifest {
                        return Err(ModelPackError::Duplicate(name));
                    }
                    seen_manifest = true;
                    continue;
                }
                let i = manifest.file(&name).ok_or_else(|| ModelPackError::UnexpectedEntry(name.clone()))?;
                if entry.size() > manifest.files[i].bytes {
                    return Err(ModelPackError::TooBig { file: name, declared: manifest.files[i].bytes });
                }
                stager.copy(i, entry)?;
            }
        }
        stager.check_complete()?;
        drop(stager);
        write_synced(&staged.join(MANIFEST), raw_manifest)?;
        let record = InstalledFile { installed_at: now_unix(), bytes: manifest.total_bytes() };
        let record = serde_json::to_vec_pretty(&record).map_err(|e| ModelPackError::BadManifest(e.to_string()))?;
        write_synced(&staged.join(INSTALLED), &record)?;
        sync_dir(staged)?;

        verifier.verify(staged).map_err(ModelPackError::Verification)?;

        // Activate. A reinstall of the same id+version moves the live copy aside first, so a crash
        // between the renames is undone by `open`.
        let name = manifest.id_version();
        let live = self.root.join(&name);
        let mut aside = None;
        if live.exists() {
            let trash = self.root.join(TRASH);
            fs::create_dir_all(&trash).map_err(io_err("create the trash directory"))?;
            let t = trash.join(format!("replace-{name}"));
            if t.exists() {
                fs::remove_dir_all(&t).map_err(io_err(format!("clear {}", t.display())))?;
            }
            fs::rename(&live, &t).map_err(io_err(format!("move the old {name} aside")))?;
            aside = Some(t);
        }
        if let Err(e) = fs::rename(staged, &live) {
            if let Some(t) = &aside {
                let _ = fs::rename(t, &live);
            }
            return Err(io_err(format!("move {name} into place"))(e));
        }
        sync_dir(&self.root)?;
        let a = self.read_active();
        let next = if a.active.as_deref() == Some(name.as_str()) {
            a.clone()
        } else {
            ActiveFile { active: Some(name.clone()), previous: a.active.clone() }
        };
        self.write_active(&next)?;
        if let Some(t) = aside {
            let _ = fs::remove_dir_all(t);
        }
        self.load(&name, true).ok_or(ModelPackError::NotInstalled(name))
    }
}

fn safe_dir_name(name: &str) -> bool {
    !name.starts_with('.') && name.len() <= MAX_ID_LEN + MAX_VERSION_LEN + 1 && safe_name(name, usize::MAX)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelPackError> {
    let mut f = File::create(path).map_err(io_err(format!("write {}", path.display())))?;
    f.write_all(bytes).map_err(io_err(format!("write {}", path.display())))?;
    f.sync_all().map_err(io_err(format!("flush {}", path.display())))
}

/// `root/rel` if every component is a real directory and the last a regular file (no links).
fn plain_file_in(root: &Path, rel: &str) -> Result<PathBuf, ModelPackError> {
    let mut p = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (k, part) in parts.iter().enumerate() {
        p.push(part);
        let m = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ModelPackError::MissingFile(rel.to_string())),
            Err(e) => return Err(io_err(format!("open '{rel}' on the stick"))(e)),
        };
        let last = k + 1 == parts.len();
        if m.file_type().is_symlink() || (last && !m.is_file()) || (!last && !m.is_dir()) {
            return Err(ModelPackError::LinkEntry(rel.to_string()));
        }
    }
    Ok(p)
}

fn read_dir_manifest(dir: &Path) -> Result<(Manifest, Vec<u8>), ModelPackError> {
    let path = dir.join(MANIFEST);
    let m = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(_) => return Err(ModelPackError::NotAPack(format!("{} has no manifest.json", dir.display()))),
    };
    if !m.is_file() {
        return Err(ModelPackError::LinkEntry(MANIFEST.into()));
    }
    let raw = read_bounded(File::open(&path).map_err(io_err("open manifest.json"))?)?;
    Ok((Manifest::parse(&raw)?, raw))
}

/// First pass over a tar: find and parse the manifest, then check every header against it, seeking
/// past file data, so a bad pack is refused before anything is written.
fn read_tar_manifest(path: &Path) -> Result<(Manifest, Vec<u8>), ModelPackError> {
    let open = || File::open(path).map_err(io_err(format!("open {}", path.display())));
    let no_dirs = std::collections::HashSet::new();
    let mut raw = None;
    {
        let mut archive = tar::Archive::new(open()?);
        let entries = archive
            .entries_with_seek()
            .map_err(|e| ModelPackError::NotAPack(format!("it is neither a directory nor a tar file ({e})")))?;
        for entry in entries {
            let entry = entry.map_err(|e| ModelPackError::NotAPack(format!("the tar file is damaged ({e})")))?;
            if let Some(name) = tar_entry_kind(&entry, None, &no_dirs)? {
                if name == MANIFEST {
                    if raw.is_some() {
                        return Err(ModelPackError::Duplicate(name));
                    }
                    if entry.size() > MAX_MANIFEST_BYTES {
                        return Err(ModelPackError::ManifestTooLarge);
                    }
                    raw = Some(read_bounded(entry)?);
                }
            }
        }
    }
    let raw = raw.ok_or_else(|| ModelPackError::NotAPack("the tar file has no manifest.json".into()))?;
    let manifest = Manifest::parse(&raw)?;
    let dirs = manifest.dirs();
    let mut seen = vec![false; manifest.files.len()];
    let mut archive = tar::Archive::new(open()?);
    for entry in archive.entries_with_seek().map_err(io_err("read the pack"))? {
        let entry = entry.map_err(io_err("read the pack"))?;
        let Some(name) = tar_entry_kind(&entry, Some(&manifest), &dirs)? else { continue };
        if let Some(i) = manifest.file(&name) {
            if std::mem::replace(&mut seen[i], true) {
                return Err(ModelPackError::Duplicate(name));
            }
            if entry.size() > manifest.files[i].bytes {
                return Err(ModelPackError::TooBig { file: name, declared: manifest.files[i].bytes });
            }
        }
    }
    if let Some(i) = seen.iter().position(|&s| !s) {
        return Err(ModelPackError::MissingFile(manifest.files[i].path.clone()));
    }
    Ok((manifest, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: Vec<(&str, u64)>) -> Manifest {
        Manifest {
            format: FORMAT,
            id: "shap-e-text300m".into(),
            version: "1.0.0".into(),
            name: "Shap-E".into(),
            licence: "MIT".into(),
            files: files
                .into_iter()
                .map(|(p, b)| ManifestFile { path: p.into(), bytes: b, sha256: "a".repeat(64) })
                .collect(),
        }
    }

    #[test]
    fn manifest_paths_and_names_are_checked() {
        assert!(manifest(vec![("denoiser.safetensors", 1), ("clip/bpe.txt.gz", 2)]).validate().is_ok());
        for bad in ["../evil", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/b/c/d/e", "", "sp ace", "a:b"] {
            assert!(matches!(manifest(vec![(bad, 1)]).validate(), Err(ModelPackError::UnsafePath(_))), "{bad}");
        }
        assert!(matches!(manifest(vec![("a", 1), ("A", 1)]).validate(), Err(ModelPackError::Duplicate(_))));
        assert!(matches!(manifest(vec![("a", 1), ("a/b", 1)]).validate(), Err(ModelPackError::UnsafePath(_))));
        assert!(manifest(vec![("manifest.json", 1)]).validate().is_err());
        assert!(manifest(vec![("a", MAX_FILE_BYTES + 1)]).validate().is_err());
        let mut m = manifest(vec![("a", 1)]);
        m.id = "../x".into();
        assert!(m.validate().is_err());
        m.id = "Upper".into();
        assert!(m.validate().is_err());
        m.id = ".staging".into();
        assert!(m.validate().is_err());
        let mut m = manifest(vec![("a", 1)]);
        m.files[0].sha256 = "zz".into();
        assert!(m.validate().is_err());
    }

    #[test]
    fn newer_format_asks_for_an_update() {
        let e = Manifest::parse(br#"{"format": 2, "whatever": true}"#).unwrap_err();
        assert!(matches!(e, ModelPackError::UnsupportedFormat(2)));
        assert!(e.to_string().contains("update Printfarm"));
        assert!(matches!(Manifest::parse(b"{not json"), Err(ModelPackError::BadManifest(_))));
        let big = vec![b' '; MAX_MANIFEST_BYTES as usize + 1];
        assert!(matches!(Manifest::parse(&big), Err(ModelPackError::ManifestTooLarge)));
    }
}
