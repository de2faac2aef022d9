//! The part of OctoPrint's REST API that slicers use to "send to OctoPrint" (PrusaSlicer's physical
//! printer, OrcaSlicer, Cura's OctoPrint plugin): `GET /api/version` to test the connection and
//! `POST /api/files/local` to upload G-code. An upload becomes a job in the farm's queue that is printed
//! as it is, never re-sliced, on a printer like the one it was sliced for (same nozzle, a bed at least as
//! big, the material its comments name). `print=true` or not, it is queued: the farm decides when.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::auth::Caller;
use crate::db::Presliced;
use crate::farm::dispatch::{self, JobError, PreslicedSubmission};
use crate::http::AppState;

/// The largest G-code accepted (long prints on big beds run to tens of megabytes).
pub const MAX_GCODE_BYTES: usize = 200 << 20;
/// The OctoPrint API version this imitates (the one whose upload answer is described here).
const API_VERSION: &str = "0.1";
/// What `GET /api/version` names as the server's version (OctoPrint's release this is compatible with).
const SERVER_VERSION: &str = "1.10.0";

/// The routes, merged into the API router (so the access table and the gate apply).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/version", get(version))
        .route("/api/files/local", post(upload).layer(DefaultBodyLimit::max(MAX_GCODE_BYTES + (1 << 20))))
        .route_layer(axum::middleware::from_fn_with_state(state, crate::api::audit_changes))
}

/// `GET /api/version`: what OctoPrint answers; PrusaSlicer checks that `text` starts with "OctoPrint".
async fn version() -> Response {
    Json(json!({
        "api": API_VERSION,
        "server": SERVER_VERSION,
        "text": format!("OctoPrint {SERVER_VERSION} (Printfarm {})", env!("CARGO_PKG_VERSION")),
    }))
    .into_response()
}

/// Why an upload was refused; each says what to do, for the slicer to show.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    BadForm(String),
    #[error("the file is bigger than {} MB", MAX_GCODE_BYTES >> 20)]
    TooBig,
    #[error(
        "this is binary G-code (.bgcode), which the farm cannot read: turn off \"Binary G-code\" in the \
         slicer's printer settings and send it again"
    )]
    Binary,
    #[error("{0}")]
    NotGcode(String),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("the file could not be stored: {0}")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let status = match self {
            UploadError::BadForm(_) => StatusCode::BAD_REQUEST,
            UploadError::TooBig => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Binary | UploadError::NotGcode(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UploadError::Job(e) => return crate::api::ApiError::from(e).into_response(),
            UploadError::Io(ref e) => {
                tracing::error!("storing uploaded G-code: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// Removes a half-written upload when the request ends early (refused, too big, connection lost).
struct PartFile(Option<PathBuf>);

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `POST /api/files/local`: multipart form with `file` (G-code), optional `print` and `path`.
async fn upload(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    mut form: Multipart,
) -> Result<Response, UploadError> {
    let form_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooBig
        } else {
            UploadError::BadForm(format!("the upload is not a readable form: {}", e.body_text()))
        }
    };
    let dir = state.farm.data_dir().join("gcode");
    tokio::fs::create_dir_all(&dir).await?;
    let mut stored: Option<(PartFile, String, u64)> = None;
    let mut print = false;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("file") => {
                let client_name = field.file_name().unwrap_or("upload.gcode").to_string();
                let name = display_name(&client_name);
                let lower = name.to_ascii_lowercase();
                if lower.ends_with(".bgcode") || lower.ends_with(".bgc") {
                    return Err(UploadError::Binary);
                }
                if ![".gcode", ".gco", ".g", ".gc"].iter().any(|e| lower.ends_with(e)) {
                    return Err(UploadError::NotGcode(format!(
                        "{name:?} is not G-code: send a file ending in .gcode (the farm prints sliced G-code only)"
                    )));
                }
                // Never the client's name on disk: a random one under data/gcode/.
                let path = dir.join(format!("upload-{}.gcode.part", random_hex()));
                let part = PartFile(Some(path.clone()));
                let mut file = tokio::fs::File::create(&path).await?;
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    size += chunk.len() as u64;
                    if size > MAX_GCODE_BYTES as u64 {
                        return Err(UploadError::TooBig);
                    }
                    tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
                }
                tokio::io::AsyncWriteExt::flush(&mut file).await?;
                stored = Some((part, name, size));
            }
            Some("print") => {
                print = field.text().await.map_err(form_error)?.trim().eq_ignore_ascii_case("true");
            }
            // `path` (a folder on OctoPrint), `select` and anything else: the farm has no folders.
            _ => {}
        }
    }
    let Some((mut part, name, _size)) = stored else {
        return Err(UploadError::BadForm("the form has no field \"file\" with the G-code".into()));
    };
    let part_path = part.0.clone().expect("the part file is kept until it is renamed");
    let meta = {
        let p = part_path.clone();
        tokio::task::spawn_blocking(move || read_gcode(&p))
            .await
            .map_err(|e| UploadError::Io(std::io::Error::other(e.to_string())))??
    };
    let final_path = part_path.with_extension("");
    tokio::fs::rename(&part_path, &final_path).await?;
    part.0 = Some(final_path.clone());
    let rel = format!("gcode/{}", final_path.file_name().and_then(|n| n.to_str()).unwrap_or_default());
    let owner = caller.as_ref().map(|c| (c.user_id, c.role));
    let submission = PreslicedSubmission {
        name: name.rsplit_once('.').map(|(stem, _)| stem.to_string()).unwrap_or_else(|| name.clone()),
        gcode: Presliced {
            gcode_path: rel,
            estimate_s: meta.estimate_s,
            filament_g: meta.filament_g,
            sliced_for: meta.sliced_for(),
        },
        material_kind: meta.material_kind.clone(),
        nozzle_mm: meta.nozzle_mm,
        size_mm: meta.size_mm(),
    };
    let jobs = dispatch::submit_presliced(&state.farm, submission, owner).await?;
    // The job owns the file now.
    part.0 = None;
    let job = jobs.first().map(|j| j.id).unwrap_or_default();
    let resource = format!("/api/v1/jobs/{job}");
    tracing::info!(job, file = %name, print, who = ?caller.map(|c| c.username.clone()), "G-code received from a slicer");
    let body = json!({
        "done": true,
        // OctoPrint's own words for whether it started printing: the farm queues it either way.
        "effectivePrint": false,
        "effectiveSelect": false,
        "files": { "local": {
            "name": name,
            "display": name,
            "path": name,
            "origin": "local",
            "refs": { "resource": resource, "download": resource },
        } },
        "jobs": jobs,
    });
    Ok((StatusCode::CREATED, [(header::LOCATION, resource)], Json(body)).into_response())
}

/// A name to show for the client's file name: its last path part, printable, at most 100 characters.
fn display_name(client: &str) -> String {
    let last = client.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(100).collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "upload.gcode".into()
    } else {
        clean
    }
}

fn random_hex() -> String {
    let mut buf = [0u8; 12];
    getrandom::fill(&mut buf).expect("the operating system has no randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- Reading the G-code ---------------------------------------------------------------------------

/// What a slicer wrote about its G-code in comments, and how far its moves reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcodeInfo {
    /// `PrusaSlicer 2.8.1`, `OrcaSlicer 2.1.1`, `Cura_SteamEngine 5.7.1`.
    pub slicer: Option<String>,
    /// The printer it was sliced for (`MK4S`, `Creality Ender-3`).
    pub printer: Option<String>,
    pub estimate_s: Option<i64>,
    pub filament_g: Option<f64>,
    pub material_kind: Option<String>,
    pub nozzle_mm: Option<f64>,
    /// The bed it was sliced for (x, y), mm.
    pub bed_mm: Option<[f64; 2]>,
    /// The farthest the moves reach (x, y, z), mm.
    pub extent_mm: [f64; 3],
    /// G0–G3 moves seen.
    pub moves: u64,
}

impl GcodeInfo {
    /// The size a printer must have: the bed it was sliced for when known, else how far its moves
    /// reach; and the height its moves reach.
    pub fn size_mm(&self) -> [f64; 3] {
        let [x, y] = self.bed_mm.unwrap_or([self.extent_mm[0], self.extent_mm[1]]);
        [x, y, self.extent_mm[2]]
    }

    /// In words, for the job page: `uploaded G-code (PrusaSlicer 2.8.1, MK4S)`.
    pub fn sliced_for(&self) -> String {
        let parts: Vec<&str> = [self.slicer.as_deref(), self.printer.as_deref()].into_iter().flatten().collect();
        if parts.is_empty() {
            "uploaded G-code".into()
        } else {
            format!("uploaded G-code ({})", parts.join(", "))
        }
    }
}

/// Reads a stored upload line by line: refuses anything that is not text G-code, and collects what
/// its comments say.
pub fn read_gcode(path: &Path) -> Result<GcodeInfo, UploadError> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut info = GcodeInfo::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut absolute = true;
    let mut cura_filament_m: Option<f64> = None;
    let mut total_g: Option<f64> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        if number == 1 && line.starts_with(b"GCDE") {
            return Err(UploadError::Binary);
        }
        if line.contains(&0) {
            return Err(UploadError::NotGcode(format!(
                "this is not G-code: line {number} holds binary data (send the sliced .gcode file)"
            )));
        }
        let text = String::from_utf8_lossy(&line);
        let (code, comment) = match text.find(';') {
            Some(i) => (&text[..i], Some(text[i + 1..].trim())),
            None => (&text[..], None),
        };
        let code = code.trim();
        if let Some(c) = comment {
            read_comment(c, &mut info, &mut cura_filament_m, &mut total_g);
        }
        if code.is_empty() {
            continue;
        }
        let mut words = code.split_whitespace().peekable();
        // A line number (`N12 G1 X5*71`) goes before the command.
        if words
            .peek()
            .is_some_and(|w| w.len() > 1 && w.starts_with(['N', 'n']) && w[1..].bytes().all(|c| c.is_ascii_digit()))
        {
            words.next();
        }
        let Some(first) = words.next() else { continue };
        if !is_command(first) {
            let shown: String = code.chars().take(40).collect();
            return Err(UploadError::NotGcode(format!(
                "this is not G-code: line {number} ({shown:?}) is not a printer command (send the sliced .gcode file)"
            )));
        }
        let upper = first.to_ascii_uppercase();
        let digits = upper[1..].find(|c: char| !c.is_ascii_digit()).map_or(upper.len(), |i| i + 1);
        let (letter, num) = (&upper[..1], upper[1..digits].trim_start_matches('0'));
        // Tight G-code (`G1X5Y5`) carries its parameters in the first word.
        let params: Vec<&str> = if digits < first.len() {
            let mut rest = vec![];
            let tail = &first[digits..];
            let mut start = 0;
            for (i, ch) in tail.char_indices().skip(1) {
                if ch.is_ascii_alphabetic() {
                    rest.push(&tail[start..i]);
                    start = i;
                }
            }
            rest.push(&tail[start..]);
            rest.into_iter().chain(words).collect()
        } else {
            words.collect()
        };
        match (letter, num) {
            ("G", "90") => absolute = true,
            ("G", "91") => absolute = false,
            ("G", "" | "1" | "2" | "3") => {
                info.moves += 1;
                if absolute {
                    for w in params {
                        let axis = match w.as_bytes().first().map(u8::to_ascii_uppercase) {
                            Some(b'X') => 0,
                            Some(b'Y') => 1,
                            Some(b'Z') => 2,
                            _ => continue,
                        };
                        if let Ok(v) = w[1..].parse::<f64>() {
                            if v.is_finite() {
                                info.extent_mm[axis] = info.extent_mm[axis].max(v);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if info.moves == 0 {
        return Err(UploadError::NotGcode("this G-code has no moves, so there is nothing to print".into()));
    }
    if info.filament_g.is_none() {
        info.filament_g = total_g;
    }
    if let (None, Some(m)) = (info.filament_g, cura_filament_m) {
        // Cura gives metres; 1.75 mm filament of PLA's density (1.24 g/cm³) is about 2.98 g a metre.
        let area_mm2 = std::f64::consts::PI * 0.875 * 0.875;
        info.filament_g = Some(m * 1000.0 * area_mm2 * 1.24 / 1000.0);
    }
    Ok(info)
}

/// A G-code word that starts a command: G/M/T with a number (`G1`, `M104`, `T0`, `G1X5` written
/// tight), a line number (`N12`), or a firmware macro in capitals (`PRINT_START`, `EXCLUDE_OBJECT_DEFINE`).
fn is_command(word: &str) -> bool {
    let b = word.as_bytes();
    let Some(&first) = b.first() else { return false };
    let numbered =
        matches!(first.to_ascii_uppercase(), b'G' | b'M' | b'T' | b'N') && b.get(1).is_some_and(|c| c.is_ascii_digit());
    let macro_word = b.len() >= 2
        && first.is_ascii_uppercase()
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    numbered || macro_word
}

fn read_comment(c: &str, info: &mut GcodeInfo, cura_m: &mut Option<f64>, total_g: &mut Option<f64>) {
    let first_number = |v: &str| v.split([',', ';']).next().and_then(|s| s.trim().parse::<f64>().ok());
    let sum = |v: &str| -> Option<f64> {
        let parts: Vec<f64> =
            v.split([',', ';']).filter_map(|s| s.trim().trim_end_matches('m').trim().parse().ok()).collect();
        (!parts.is_empty()).then(|| parts.iter().sum())
    };
    let set_slicer = |info: &mut GcodeInfo, rest: &str| {
        if info.slicer.is_none() {
            let name: String = rest.split(" on ").next().unwrap_or(rest).trim().chars().take(60).collect();
            info.slicer = Some(name).filter(|n| !n.is_empty());
        }
    };
    if let Some(rest) = c.strip_prefix("generated by ") {
        return set_slicer(info, rest);
    }
    if let Some(rest) = c.strip_prefix("Generated with ") {
        return set_slicer(info, rest);
    }
    // OrcaSlicer: `; model printing time: 1h; total estimated time: 1h 5m` on one line.
    if let Some(t) = c.split("total estimated time:").nth(1) {
        info.estimate_s = info.estimate_s.or(duration_s(t));
        return;
    }
    // Cura: `;TIME:1234`, `;Filament used: 1.23m`, `;MAXX:…`, `;TARGET_MACHINE.NAME:…`.
    if let Some((key, value)) = c.split_once(':').filter(|(k, _)| !k.contains('=')) {
        let value = value.trim();
        match key.trim() {
            "TIME" => info.estimate_s = info.estimate_s.or(value.parse::<f64>().ok().map(|s| s.round() as i64)),
            "Filament used" => *cura_m = sum(value),
            "TARGET_MACHINE.NAME" => info.printer = info.printer.clone().or(Some(value.chars().take(60).collect())),
            "EXTRUDER_TRAIN.0.NOZZLE.DIAMETER" => info.nozzle_mm = info.nozzle_mm.or(first_number(value)),
            // OrcaSlicer's header: `; total estimated time: 1h 2m 3s`, `; total filament weight [g] : 12.3`.
            "total filament weight [g]" => *total_g = sum(value),
            _ => {}
        }
        if !c.contains('=') {
            return;
        }
    }
    // PrusaSlicer and OrcaSlicer: `; key = value`.
    let Some((key, value)) = c.split_once('=') else { return };
    let (key, value) = (key.trim(), value.trim());
    match key {
        "estimated printing time (normal mode)" => info.estimate_s = info.estimate_s.or(duration_s(value)),
        "filament used [g]" => info.filament_g = sum(value).filter(|g| *g > 0.0).or(info.filament_g),
        "total filament used [g]" => *total_g = sum(value),
        "filament_type" => {
            let kind = value.split(';').next().unwrap_or_default().trim().to_ascii_uppercase();
            if !kind.is_empty() {
                info.material_kind = Some(kind.chars().take(20).collect());
            }
        }
        "printer_model" if !value.is_empty() => info.printer = Some(value.chars().take(60).collect()),
        "printer_settings_id" if info.printer.is_none() && !value.is_empty() => {
            info.printer = Some(value.trim_matches('"').chars().take(60).collect())
        }
        "nozzle_diameter" => info.nozzle_mm = first_number(value).filter(|n| *n > 0.0 && *n < 5.0),
        "bed_shape" | "printable_area" => info.bed_mm = bed_extent(value),
        _ => {}
    }
}

/// `1d 2h 3m 4s` (any of the parts) as seconds.
fn duration_s(text: &str) -> Option<i64> {
    let mut total = 0.0;
    let mut any = false;
    for part in text.split_whitespace() {
        let (num, unit) = part.split_at(part.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        total += n * match unit {
            "d" => 86400.0,
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            _ => return None,
        };
        any = true;
    }
    any.then_some(total.round() as i64)
}

/// `0x0,250x0,250x210,0x210` as the bed's width and depth.
fn bed_extent(text: &str) -> Option<[f64; 2]> {
    let mut max = [0.0f64; 2];
    for point in text.split(',') {
        let (x, y) = point.trim().split_once('x')?;
        max[0] = max[0].max(x.trim().parse().ok()?);
        max[1] = max[1].max(y.trim().parse().ok()?);
    }
    (max[0] > 0.0 && max[1] > 0.0).then_some(max)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read(text: &str) -> Result<GcodeInfo, UploadError> {
        let mut f = tempfile_in_target();
        f.1.write_all(text.as_bytes()).unwrap();
        let r = read_gcode(&f.0);
        let _ = std::fs::remove_file(&f.0);
        r
    }

    fn tempfile_in_target() -> (PathBuf, std::fs::File) {
        let p = std::env::temp_dir().join(format!("octoprint-test-{}.gcode", random_hex()));
        let f = std::fs::File::create(&p).unwrap();
        (p, f)
    }

    #[test]
    fn prusaslicer_comments_are_read() {
        let info = read(
            "; generated by PrusaSlicer 2.8.1 on 2026-11-30 at 10:00:00 UTC\nG90\nG28\nG1 Z0.2 F600\n\
             G1 X10 Y20 E1\nG1 X100.5 Y80 Z5\nM104 S0\n; estimated printing time (normal mode) = 1h 2m 3s\n\
             ; filament used [g] = 12.34\n; filament_type = PETG;PLA\n; printer_model = MK4S\n\
             ; nozzle_diameter = 0.6,0.6\n; bed_shape = 0x0,250x0,250x210,0x210\n",
        )
        .unwrap();
        assert_eq!(info.slicer.as_deref(), Some("PrusaSlicer 2.8.1"));
        assert_eq!(info.estimate_s, Some(3723));
        assert_eq!(info.filament_g, Some(12.34));
        assert_eq!(info.material_kind.as_deref(), Some("PETG"));
        assert_eq!(info.printer.as_deref(), Some("MK4S"));
        assert_eq!(info.nozzle_mm, Some(0.6));
        assert_eq!(info.size_mm(), [250.0, 210.0, 5.0]);
        assert_eq!(info.sliced_for(), "uploaded G-code (PrusaSlicer 2.8.1, MK4S)");
    }

    #[test]
    fn cura_comments_are_read() {
        let info = read(
            ";FLAVOR:Marlin\n;TIME:1234\n;Filament used: 1.5m\n;TARGET_MACHINE.NAME:Creality Ender-3\n\
             ;Generated with Cura_SteamEngine 5.7.1\nG28 ;home\nG0 X50 Y60 Z0.3\nG91\nG1 X500\n",
        )
        .unwrap();
        assert_eq!(info.estimate_s, Some(1234));
        assert!((info.filament_g.unwrap() - 4.47).abs() < 0.01, "{:?}", info.filament_g);
        assert_eq!(info.printer.as_deref(), Some("Creality Ender-3"));
        assert_eq!(info.slicer.as_deref(), Some("Cura_SteamEngine 5.7.1"));
        // Relative moves do not count towards how far the print reaches.
        assert_eq!(info.size_mm(), [50.0, 60.0, 0.3]);
    }

    #[test]
    fn orca_header_is_read() {
        let info = read(
            "; model printing time: 50m 2s; total estimated time: 1h 5m 7s\n; total filament weight [g] : 3.5\nG1 X1\n",
        )
        .unwrap();
        assert_eq!(info.estimate_s, Some(3907));
        assert_eq!(info.filament_g, Some(3.5));
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(read("GCDE\u{1}\u{0}\u{0}\u{0}"), Err(UploadError::Binary)));
        assert!(matches!(read("solid cube\n  facet normal 0 0 1\n"), Err(UploadError::NotGcode(_))));
        assert!(matches!(read("{\"json\": true}\n"), Err(UploadError::NotGcode(_))));
        assert!(matches!(read("G28\nM104 S200\n"), Err(UploadError::NotGcode(m)) if m.contains("no moves")));
        assert!(matches!(read("G1 X1\nG1 Y\u{0}\n"), Err(UploadError::NotGcode(_))));
        // Klipper macros, line numbers and tight G-code are G-code.
        let info = read("PRINT_START BED=60\nG1X5Y7.5\nN3 G1 X1*33\n").unwrap();
        assert_eq!((info.moves, info.extent_mm), (2, [5.0, 7.5, 0.0]));
    }

    #[test]
    fn names_are_tamed() {
        assert_eq!(display_name("../../etc/passwd.gcode"), "passwd.gcode");
        assert_eq!(display_name("C:\\Users\\x\\cube.gcode"), "cube.gcode");
        assert_eq!(display_name("..."), "upload.gcode");
    }
}
