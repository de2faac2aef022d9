//! Server functions for the editor and sending a model to print.
//!
//! The editor itself runs in the browser (`crates/mesh` as wasm); the server is asked only to open a
//! model version, store an edit as a new version, say what the farm can print with, slice for an
//! estimate and submit the job.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// A model version as the editor opens it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenedModel {
    pub version_id: i64,
    pub model_id: i64,
    pub name: String,
    /// 1 for the original, 2 for the first edit, …
    pub version: i64,
}

/// A saved edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedVersion {
    pub version_id: i64,
    pub version: i64,
}

/// A colour of a material the farm can print with now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColourOption {
    pub name: String,
    /// `#rrggbb` when known.
    pub hex: Option<String>,
    /// Loaded on a printer right now (otherwise a spool in stock).
    pub loaded: bool,
    /// Filament left over all such spools, grams.
    pub grams_left: f64,
}

/// A material kind (PLA, PETG…) with its colours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaterialOption {
    pub kind: String,
    pub colours: Vec<ColourOption>,
    /// What a kilogram costs, when the farm recorded it.
    pub cost_per_kg: Option<f64>,
}

/// A printer group (a tag printers share) and its bed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOption {
    pub name: String,
    pub printers: usize,
    /// The smallest build volume in the group (what prints on every printer of it), mm.
    pub bed: [f32; 3],
}

/// What the send-to-print panel offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintChoices {
    pub materials: Vec<MaterialOption>,
    pub groups: Vec<GroupOption>,
    /// The largest build volume in the farm (for "any printer"), mm.
    pub any_bed: [f32; 3],
    pub printers: usize,
}

/// Quality words and the slicer presets they stand for.
pub const QUALITIES: [(&str, &str, &str); 3] = [
    ("draft", "Draft (fast)", "0.28-draft"),
    ("normal", "Normal", "0.20-standard"),
    ("fine", "Fine (slow)", "0.15-fine"),
];

/// The slicer preset for a quality word (normal when unknown).
pub fn quality_preset(word: &str) -> &'static str {
    QUALITIES.iter().find(|q| q.0 == word).map_or("0.20-standard", |q| q.2)
}

/// What a person asks to print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintOrder {
    pub version_id: i64,
    pub material: String,
    pub colour: String,
    /// `draft`, `normal` or `fine`.
    pub quality: String,
    pub copies: i64,
    /// A printer group, or `None` for any printer.
    pub group: Option<String>,
}

/// A real slice's answer, for all copies together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintEstimate {
    pub print_time_s: f64,
    pub filament_g: f64,
    /// `None` when the farm has no price for the material.
    pub cost: Option<f64>,
    /// The printer profile it was sliced for.
    pub printer: String,
    pub copies: i64,
}

/// Where a submitted print went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentToPrint {
    pub job_ids: Vec<i64>,
    /// `queued` or `awaiting_approval`.
    pub state: String,
}

/// What the server provides for the editor's server functions.
#[cfg(feature = "ssr")]
pub trait EditorDesk: Send + Sync + 'static {
    fn open(&self, version: i64) -> BoxFuture<'_, OpenedModel>;
    /// Stores `file_3mf` as the next version of the model `version` belongs to.
    fn save(&self, version: i64, file_3mf: Vec<u8>) -> BoxFuture<'_, SavedVersion>;
    fn options(&self) -> BoxFuture<'_, PrintChoices>;
    /// Slices the version as ordered and reports time, filament and cost.
    fn estimate(&self, order: PrintOrder) -> BoxFuture<'_, PrintEstimate>;
    /// Submits the order through the farm's job submission.
    fn send(&self, order: PrintOrder) -> BoxFuture<'_, SentToPrint>;
}

#[cfg(feature = "ssr")]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

#[cfg(feature = "ssr")]
pub type SharedEditorDesk = std::sync::Arc<dyn EditorDesk>;

#[cfg(feature = "ssr")]
fn desk() -> Result<SharedEditorDesk, ServerFnError> {
    use_context::<SharedEditorDesk>().ok_or_else(|| ServerFnError::new("the editor service is not running"))
}

/// The model version the editor opens.
#[server(input = Json)]
pub async fn editor_model(version: i64) -> Result<OpenedModel, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.open(version).await.map_err(ServerFnError::new)
}

/// Saves the edited plate (a 3MF file, base64) as a new version of the model; the original stays.
#[server(input = Json)]
pub async fn save_edited_model(version: i64, file_3mf_base64: String) -> Result<SavedVersion, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    let bytes = base64_decode(&file_3mf_base64)
        .ok_or_else(|| ServerFnError::new("the edited model arrived damaged; try saving again"))?;
    desk()?.save(version, bytes).await.map_err(ServerFnError::new)
}

/// Materials, colours and printer groups the farm can print with now.
#[server(input = Json)]
pub async fn print_options() -> Result<PrintChoices, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.options().await.map_err(ServerFnError::new)
}

/// Time, filament and cost from a real slice.
#[server(input = Json)]
pub async fn estimate_print(order: PrintOrder) -> Result<PrintEstimate, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.estimate(order).await.map_err(ServerFnError::new)
}

/// Sends the order to the farm's queue.
#[server(input = Json)]
pub async fn send_to_print(order: PrintOrder) -> Result<SentToPrint, ServerFnError> {
    crate::auth::require(crate::auth::Role::Maker)?;
    desk()?.send(order).await.map_err(ServerFnError::new)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (files travel inside the JSON body of a server function).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes [`base64_encode`]'s output; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| B64.iter().position(|&x| x == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (i, quad) in text.chunks(4).enumerate() {
        let last = i + 1 == text.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        assert_eq!(base64_encode(b"Maya"), "TWF5YQ==");
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64_decode("TWF5YQ"), None);
        assert_eq!(base64_decode("TW=5YQ=="), None);
        assert_eq!(base64_decode("TWF5YQ!="), None);
    }

    #[test]
    fn quality_words_name_slicer_presets() {
        assert_eq!(quality_preset("draft"), "0.28-draft");
        assert_eq!(quality_preset("normal"), "0.20-standard");
        assert_eq!(quality_preset("fine"), "0.15-fine");
        assert_eq!(quality_preset("weird"), "0.20-standard");
    }
}
