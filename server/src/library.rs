//! The model library on disk: uploaded or generated model files, parsed safely, stored under a
//! server-chosen name (`models/<sha256>.<ext>`, never the uploader's file name) and recorded as a
//! model with its first version.

use std::path::Path;
use std::sync::OnceLock;

use mesh::io::{Format, Limits};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db::{Db, DbError, NewModelVersion};

/// The largest model file accepted.
pub const MAX_MODEL_BYTES: usize = 256 << 20;

/// The most a model may inflate to (3MF zip entries, glTF embedded data), all parts together. A few
/// hundred MB of mesh is more than any printer of a farm can use; a 1 MB zip that claims gigabytes is
/// refused from its headers, before anything is inflated.
pub const MAX_MODEL_INFLATED_BYTES: u64 = 256 << 20;

/// What one model parse may use at its worst (the triangle limit's mesh and the parser's own buffers):
/// how many parses the box's memory allows at once is counted in these.
const PARSE_PEAK_BYTES: u64 = 512 << 20;

/// The limits every model file read by the server is held to.
pub fn model_limits() -> Limits {
    Limits { max_uncompressed_bytes: MAX_MODEL_INFLATED_BYTES, ..Limits::default() }
}

/// How many model parses may run at once: half the box's memory in [`PARSE_PEAK_BYTES`], at least one,
/// at most one per processor.
pub fn parse_slots(memory_bytes: Option<u64>, processors: usize) -> usize {
    let by_memory = memory_bytes.map_or(1, |m| (m / 2 / PARSE_PEAK_BYTES) as usize);
    by_memory.clamp(1, processors.max(1))
}

/// The box's memory (`MemTotal` in `/proc/meminfo`).
fn total_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 =
        info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A turn to parse a model file (upload, thumbnail, estimate, slicing). Every heavy parse holds one,
/// so however many arrive at once, no more run than the memory holds ([`parse_slots`]); the rest wait.
pub async fn parse_permit() -> SemaphorePermit<'static> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = parse_slots(total_memory(), processors);
        tracing::debug!(parses = n, "model parses allowed at once");
        Semaphore::new(n)
    });
    slots.acquire().await.expect("the parse semaphore is never closed")
}

/// Why a model could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("the file is {0} bytes; models may be at most 256 MiB")]
    TooBig(usize),
    #[error("this file cannot be printed: {0}")]
    Unreadable(#[from] mesh::io::ReadError),
    #[error("the model has no triangles")]
    Empty,
    #[error("cannot store the file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A stored model version and what the farm measured of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredModel {
    pub model_id: i64,
    pub version_id: i64,
    pub name: String,
    pub format: String,
    pub triangles: i64,
    /// Bounding box size, mm.
    pub size_mm: [f64; 3],
    pub volume_mm3: f64,
}

/// Parses `bytes` (format sniffed from the content, the name only a hint), stores the file and records
/// the model. The file is written to a temporary name and renamed, so a crash never leaves half a file
/// under a recorded name.
pub async fn store_model(
    db: &Db,
    data_dir: &Path,
    name: &str,
    bytes: Vec<u8>,
    owner: Option<i64>,
    source: &str,
) -> Result<StoredModel, LibraryError> {
    let file = store_file(data_dir, name, bytes, owner).await?;
    let clean = clean_name(name);
    let format = file.version.format.clone();
    let (model_id, version_id) = db.models().create(&clean, owner, source, &file.version).await?;
    db.models().set_geometry(version_id, file.triangles, file.size, file.volume).await?;
    Ok(StoredModel {
        model_id,
        version_id,
        name: clean,
        format,
        triangles: file.triangles,
        size_mm: file.size,
        volume_mm3: file.volume,
    })
}

/// Stores an edited model file as the next version of `parent`'s model; `parent` stays as it was.
/// Returns the new version's id and number.
pub async fn store_version(
    db: &Db,
    data_dir: &Path,
    parent: i64,
    bytes: Vec<u8>,
    by: Option<i64>,
) -> Result<(i64, i64), LibraryError> {
    let parent = db.models().version(parent).await?;
    let file = store_file(data_dir, &parent.file_path, bytes, by).await?;
    let (id, number) = db.models().add_version(parent.model_id, parent.id, &file.version).await?;
    db.models().set_geometry(id, file.triangles, file.size, file.volume).await?;
    Ok((id, number))
}

/// A model file parsed, measured and written under its hash, ready to be recorded as a version.
struct StoredFile {
    version: NewModelVersion,
    triangles: i64,
    size: [f64; 3],
    volume: f64,
}

/// Parses `bytes` (format sniffed from the content, `hint`'s extension only as a fallback) and writes them
/// to `models/<sha256>.<ext>` through a temporary name of their own, so a crash never leaves half a file
/// under the real name and two people storing the same file at once never collide.
async fn store_file(data_dir: &Path, hint: &str, bytes: Vec<u8>, by: Option<i64>) -> Result<StoredFile, LibraryError> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(LibraryError::TooBig(bytes.len()));
    }
    let hint = hint.to_string();
    let _turn = parse_permit().await;
    let (bytes, format, triangles, size, volume) = tokio::task::spawn_blocking(move || {
        let format = Format::detect(&bytes)
            .or_else(|| Path::new(&hint).extension().and_then(|e| e.to_str()).and_then(Format::from_extension))
            .ok_or(mesh::io::ReadError::UnknownFormat)?;
        let model = mesh::io::read_as(&bytes, format, &model_limits())?;
        let bb = model.bounding_box().ok_or(LibraryError::Empty)?;
        let size = [0, 1, 2].map(|i| (bb.max[i] - bb.min[i]) as f64);
        let volume: f64 = model.objects.iter().map(|o| o.placed_mesh().signed_volume().abs()).sum();
        Ok::<_, LibraryError>((bytes, format, model.triangle_count() as i64, size, volume))
    })
    .await
    .map_err(|e| LibraryError::Io(std::io::Error::other(e.to_string())))??;

    let sha = hex(&Sha256::digest(&bytes));
    let ext = format.extension();
    let relative = format!("models/{sha}.{ext}");
    let path = data_dir.join(&relative);
    if !path.exists() {
        tokio::fs::create_dir_all(data_dir.join("models")).await?;
        let tmp = data_dir.join(format!("models/.{sha}.{}.{ext}.part", unique()));
        tokio::fs::write(&tmp, &bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
    }
    let version = NewModelVersion {
        file_path: relative,
        format: ext.to_string(),
        sha256: sha,
        size_bytes: bytes.len() as i64,
        created_by: by,
    };
    Ok(StoredFile { version, triangles, size, volume })
}

/// A number no other temporary file of this process has used.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A display name from an uploaded file name: no directories, no extension, no control characters,
/// at most 120 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 4 => stem,
        _ => base,
    };
    let cleaned: String = stem.chars().filter(|c| !c.is_control()).take(120).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "Untitled model".into()
    } else {
        cleaned.to_string()
    }
}

/// Where a model file's thumbnail lives, relative to the data directory (named by the file's hash, so
/// every model version that shares the file shares the picture).
pub fn thumbnail_path(sha256: &str) -> String {
    format!("thumbnails/{sha256}.png")
}

/// Stores a PNG thumbnail for the model file with this hash (write to a temporary name, then rename).
pub async fn store_thumbnail(data_dir: &Path, sha256: &str, png: &[u8]) -> std::io::Result<()> {
    let path = data_dir.join(thumbnail_path(sha256));
    tokio::fs::create_dir_all(data_dir.join("thumbnails")).await?;
    // A name of its own per write: several pages may draw the same thumbnail at once (six printers
    // printing copies of one model), and a shared temporary name made the later rename fail.
    let tmp = data_dir.join(format!("thumbnails/.{sha256}.{}.png.part", unique()));
    tokio::fs::write(&tmp, png).await?;
    tokio::fs::rename(&tmp, &path).await
}

/// The thumbnail of a stored model file, drawn (and kept) on first use.
pub async fn thumbnail(data_dir: &Path, file_path: &str, sha256: &str) -> Result<Vec<u8>, LibraryError> {
    let path = data_dir.join(thumbnail_path(sha256));
    if let Ok(png) = tokio::fs::read(&path).await {
        return Ok(png);
    }
    let file = data_dir.join(file_path);
    let _turn = parse_permit().await;
    let png = tokio::task::spawn_blocking(move || {
        let model = mesh::io::read_file(&file, &model_limits())?;
        let mesh = model.merged();
        mesh::thumbnail::render_png(&mesh, &mesh::thumbnail::ThumbnailOptions::sized(256, 256))
            .map_err(|e| LibraryError::Io(std::io::Error::other(e.to_string())))
    })
    .await
    .map_err(|e| LibraryError::Io(std::io::Error::other(e.to_string())))??;
    // The picture is good even if keeping it failed (a full disk): draw it again next time.
    if let Err(e) = store_thumbnail(data_dir, sha256, &png).await {
        tracing::warn!("keeping a thumbnail: {e}");
    }
    Ok(png)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_at_once_follow_the_memory() {
        // A 1 GiB single-board computer: one parse at a time; 2 GiB: two; 64 GiB: one per processor.
        assert_eq!(parse_slots(Some(1 << 30), 4), 1);
        assert_eq!(parse_slots(Some(4 << 30), 4), 4);
        assert_eq!(parse_slots(Some(2 << 30), 4), 2);
        assert_eq!(parse_slots(Some(64 << 30), 8), 8);
        assert_eq!(parse_slots(None, 8), 1);
        assert_eq!(parse_slots(Some(0), 0), 1);
        assert!(total_memory().is_some_and(|m| m > 0));
    }

    #[test]
    fn names_lose_paths_and_extensions() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\maya\\name tag.stl"), "name tag");
        assert_eq!(clean_name("gear.v2.3mf"), "gear.v2");
        assert_eq!(clean_name("\u{7}\n.stl"), "Untitled model");
        assert_eq!(clean_name(""), "Untitled model");
    }

    /// Six printers printing copies of one model ask for the same thumbnail at once.
    #[tokio::test]
    async fn one_thumbnail_drawn_by_many_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let cube = mesh::primitives::box_mesh([0.0; 3], [20.0; 3]);
        let stl = mesh::io::write(&mesh::Model::single("cube", cube), mesh::io::Format::Stl).unwrap();
        let stored = store_model(&db, dir.path(), "cube.stl", stl, None, "upload").await.unwrap();
        let v = db.models().version(stored.version_id).await.unwrap();
        let all = futures::future::join_all((0..6).map(|_| thumbnail(dir.path(), &v.file_path, &v.sha256))).await;
        for png in all {
            assert!(png.unwrap().starts_with(b"\x89PNG"));
        }
        let leftovers = std::fs::read_dir(dir.path().join("thumbnails"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".part"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
