//! Server functions for the Queue and Job pages, the types they return, and the small pure pieces both
//! sides share: base64 for the compact layer preview and its decoder.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One job as the Queue and Job pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueJob {
    pub id: i64,
    pub name: String,
    /// `None` for G-code sent straight from a slicer (there is no model, so no picture).
    pub model_version_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// The owner's display name, when the job has an owner.
    pub owner: Option<String>,
    /// `awaiting_approval`, `queued`, `slicing`, `ready`, `assigned`, `printing`, `paused`, `done`,
    /// `failed` or `cancelled`.
    pub state: String,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    pub quality: String,
    /// How many copies the submission asked for, and which one this is (1-based).
    pub copies: i64,
    pub copy_index: i64,
    pub priority: i64,
    /// The printer it runs on (running jobs) or will probably get (waiting jobs).
    pub printer_id: Option<i64>,
    pub printer: Option<String>,
    pub progress: Option<f64>,
    /// Place in the order the farm serves waiting jobs (0 = next); `None` for running or finished jobs.
    pub position: Option<usize>,
    /// Seconds since the Unix epoch: the forecast for waiting jobs, the real times for the others.
    pub start_s: Option<i64>,
    pub finish_s: Option<i64>,
    /// Why the farm cannot place it, in words.
    pub blocked: Option<String>,
    /// Whether the times come from a real slice (false: 30 minutes assumed until it is sliced).
    pub sliced: bool,
    pub estimate_s: Option<i64>,
    pub filament_g: Option<f64>,
    /// Seconds it really printed, and grams it really used (all attempts).
    pub print_s: f64,
    pub filament_used_g: f64,
    pub cost: f64,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The printer's own error text, verbatim, or why the job is held up.
    pub error: Option<String>,
    pub created_s: Option<i64>,
}

impl QueueJob {
    pub fn is_waiting(&self) -> bool {
        matches!(self.state.as_str(), "awaiting_approval" | "queued" | "slicing" | "ready")
    }
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "assigned" | "printing" | "paused")
    }
    pub fn is_finished(&self) -> bool {
        matches!(self.state.as_str(), "done" | "failed" | "cancelled")
    }
}

/// A printer as the queue's filters and timeline name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterName {
    pub id: i64,
    pub name: String,
}

/// Everything the Queue page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// The server's clock (seconds since the epoch) when it answered, and its offset from UTC in
    /// minutes: times are shown in the farm's local time on the server and in the browser alike.
    pub now_s: i64,
    pub utc_offset_min: i32,
    /// Running jobs first, then waiting jobs in service order, then recently finished ones (newest first).
    pub jobs: Vec<QueueJob>,
    pub printers: Vec<PrinterName>,
}

/// One recorded state change of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub at_s: Option<i64>,
    pub from: Option<String>,
    pub to: String,
    /// Who did it (`None`: the farm itself).
    pub who: Option<String>,
    pub why: Option<String>,
}

/// Everything the Job page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub now_s: i64,
    pub utc_offset_min: i32,
    pub job: QueueJob,
    pub history: Vec<JobEvent>,
    /// Seconds left on the printer, when it says.
    pub remaining_s: Option<i64>,
}

/// A feature of the layer preview: its code in the data, its name and colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRole {
    pub code: u8,
    pub label: String,
    pub rgb: [u8; 3],
}

/// The compact layer preview of a sliced job (`PFP1` bytes, base64) and the colour of each feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewData {
    pub data: String,
    pub roles: Vec<PreviewRole>,
}

/// What the desk's methods return: a value, or a sentence for people.
#[cfg(feature = "ssr")]
pub type DeskFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// What the server provides so the Queue and Job pages' server functions can reach the farm.
/// Errors are sentences for people. Who may do what (teachers approve, managers reorder) is checked here
/// once accounts exist (#9); today the pages act as no user.
#[cfg(feature = "ssr")]
pub trait QueueDesk: Send + Sync + 'static {
    /// Running, waiting (with the forecast) and recently finished jobs.
    fn snapshot(&self) -> DeskFuture<'_, QueueSnapshot>;
    /// One job with its history.
    fn job(&self, id: i64) -> DeskFuture<'_, JobDetail>;
    /// approve, reject, cancel, pause, resume or retry; returns what happened, in words.
    fn act(&self, id: i64, action: String) -> DeskFuture<'_, String>;
    /// Moves a waiting job between two others in the service order (`None`: the start or the end).
    fn place(&self, id: i64, after: Option<i64>, before: Option<i64>) -> DeskFuture<'_, String>;
    /// A new job from the same model version and settings; returns its id.
    fn print_again(&self, id: i64) -> DeskFuture<'_, i64>;
    /// The layer preview of the job's G-code.
    fn preview(&self, id: i64) -> DeskFuture<'_, PreviewData>;
}

#[cfg(feature = "ssr")]
pub type SharedQueueDesk = std::sync::Arc<dyn QueueDesk>;

#[cfg(feature = "ssr")]
fn desk() -> Result<SharedQueueDesk, ServerFnError> {
    use_context::<SharedQueueDesk>()
        .ok_or_else(|| ServerFnError::new("The farm is not running. Ask an adult to restart the printfarm box."))
}

/// The queue: running, waiting and recently finished jobs with estimated start and finish.
#[server(endpoint = "queue/snapshot")]
pub async fn load_queue() -> Result<QueueSnapshot, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.snapshot().await.map_err(ServerFnError::new)
}

/// One job with its history, for the Job page.
#[server(endpoint = "queue/job")]
pub async fn load_job(id: i64) -> Result<JobDetail, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.job(id).await.map_err(ServerFnError::new)
}

/// approve, reject, cancel, pause, resume or retry a job.
#[server(endpoint = "queue/act")]
pub async fn job_act(id: i64, action: String) -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Maker)?;
    desk()?.act(id, action).await.map_err(ServerFnError::new)
}

/// Moves a waiting job to sit after `after` and before `before` (managers).
#[server(endpoint = "queue/place")]
pub async fn place_job(id: i64, after: Option<i64>, before: Option<i64>) -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    desk()?.place(id, after, before).await.map_err(ServerFnError::new)
}

/// "Print again": a new job from the same model and settings.
#[server(endpoint = "queue/again")]
pub async fn print_again(id: i64) -> Result<i64, ServerFnError> {
    crate::auth::require(crate::auth::Role::Maker)?;
    desk()?.print_again(id).await.map_err(ServerFnError::new)
}

/// The G-code layer preview of a sliced job.
#[server(endpoint = "queue/preview")]
pub async fn job_preview(id: i64) -> Result<PreviewData, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.preview(id).await.map_err(ServerFnError::new)
}

/// The message of a server function's error, as a sentence to show.
pub fn error_text(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        ServerFnError::Request(_) | ServerFnError::Response(_) => {
            "The farm did not answer. Check the network, then try again.".into()
        }
        other => format!("Something went wrong ({other}). Please try again."),
    }
}

// ---- base64 (standard alphabet, padded) ----------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn b64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\n' | b'\r' | b' ' => continue,
            _ => return Err(format!("unexpected character {:?} in base64", c as char)),
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

// ---- The compact layer preview (`PFP1`, written by `slicer::preview::Preview::encode`) ---------------

/// One decoded path: feature code, bead width (mm), loop or not, points in mm.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPath {
    pub role: u8,
    pub width: f32,
    pub closed: bool,
    pub points: Vec<[f32; 2]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    pub z: f32,
    pub height: f32,
    pub paths: Vec<DecodedPath>,
}

/// Decodes `PFP1` bytes into layers, refusing anything truncated or malformed.
pub fn decode_preview(bytes: &[u8]) -> Result<Vec<DecodedLayer>, String> {
    struct Reader<'a> {
        b: &'a [u8],
        at: usize,
    }
    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
            let s = self.b.get(self.at..self.at + N).ok_or("the preview data is cut short")?;
            self.at += N;
            Ok(s.try_into().expect("length checked"))
        }
        fn u32(&mut self) -> Result<u32, String> {
            self.take::<4>().map(u32::from_le_bytes)
        }
        fn f32(&mut self) -> Result<f32, String> {
            self.take::<4>().map(f32::from_le_bytes)
        }
        fn u16(&mut self) -> Result<u16, String> {
            self.take::<2>().map(u16::from_le_bytes)
        }
        fn left(&self) -> usize {
            self.b.len() - self.at
        }
    }
    let mut r = Reader { b: bytes, at: 0 };
    if r.take::<4>()? != *b"PFP1" {
        return Err("the preview data is not in a format this page knows".into());
    }
    let layers = r.u32()? as usize;
    // Each layer needs at least 12 bytes: a count can never promise more than the data holds.
    if layers > r.left() / 12 {
        return Err("the preview data is cut short".into());
    }
    let mut out = Vec::with_capacity(layers);
    for _ in 0..layers {
        let z = r.f32()?;
        let height = r.f32()?;
        let paths = r.u32()? as usize;
        if paths > r.left() / 8 {
            return Err("the preview data is cut short".into());
        }
        let mut list = Vec::with_capacity(paths);
        for _ in 0..paths {
            let [role, closed] = r.take::<2>()?;
            let width = r.u16()? as f32 / 1000.0;
            let n = r.u32()? as usize;
            if n > r.left() / 4 {
                return Err("the preview data is cut short".into());
            }
            let mut points = Vec::with_capacity(n);
            let mut at = [0i32; 2];
            for i in 0..n {
                let [a, b] = [r.u16()?, r.u16()?];
                at = if i == 0 { [a as i32, b as i32] } else { [at[0] + a as i16 as i32, at[1] + b as i16 as i32] };
                points.push([at[0] as f32 / 100.0, at[1] as f32 / 100.0]);
            }
            list.push(DecodedPath { role, width, closed: closed != 0, points });
        }
        out.push(DecodedLayer { z, height, paths: list });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        for n in 0..40usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let text = b64_encode(&bytes);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(b64_decode(&text).unwrap(), bytes, "length {n}");
        }
        assert_eq!(b64_encode(b"Man"), "TWFu");
        assert_eq!(b64_encode(b"Ma"), "TWE=");
        assert!(b64_decode("TW*u").is_err());
    }

    fn sample() -> Vec<u8> {
        // One layer at z 0.2 with one closed path of three points: (1, 2), (3, 2), (1.5, 0.5) mm.
        let mut b = b"PFP1".to_vec();
        b.extend(1u32.to_le_bytes());
        b.extend(0.2f32.to_le_bytes());
        b.extend(0.2f32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend([3u8, 1]);
        b.extend(450u16.to_le_bytes());
        b.extend(3u32.to_le_bytes());
        b.extend(100u16.to_le_bytes());
        b.extend(200u16.to_le_bytes());
        b.extend(200i16.to_le_bytes());
        b.extend(0i16.to_le_bytes());
        b.extend((-150i16).to_le_bytes());
        b.extend((-150i16).to_le_bytes());
        b
    }

    #[test]
    fn preview_decodes_delta_coded_points() {
        let layers = decode_preview(&sample()).unwrap();
        assert_eq!(layers.len(), 1);
        let p = &layers[0].paths[0];
        assert_eq!((p.role, p.closed, p.width), (3, true, 0.45));
        assert_eq!(p.points, vec![[1.0, 2.0], [3.0, 2.0], [1.5, 0.5]]);
    }

    #[test]
    fn truncated_or_foreign_previews_are_refused() {
        let full = sample();
        for cut in 0..full.len() {
            assert!(decode_preview(&full[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = b"PFP1".to_vec();
        huge.extend(u32::MAX.to_le_bytes());
        assert!(decode_preview(&huge).is_err(), "a huge count must not allocate");
        assert!(decode_preview(b"PNG!\0\0\0\0").is_err());
    }
}
