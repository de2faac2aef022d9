//! Server functions. Their bodies run on the server; the browser gets generated HTTP stubs.
//!
//! Each area of the app has its own module with the trait the server implements for it (provided
//! as Leptos context by `server/src/desks`) and its server functions. The farm and Create pages'
//! functions live here.

pub mod editor;
pub mod printers;
pub mod queue;

use leptos::prelude::*;

use crate::wire::{CreateOutcome, CreateStatus, GenerationView, PrinterView};

/// What the server provides (as Leptos context) so server functions can read the farm's live state.
/// The trait lives here, not in `server`, because the app must never depend on the server.
#[cfg(feature = "ssr")]
pub trait FarmDirectory: Send + Sync + 'static {
    /// Every printer with its latest status, sorted by name.
    fn printers(&self) -> Vec<PrinterView>;
    /// A person confirmed the printer's bed is empty, so it may take the next job.
    fn confirm_bed_clear(
        &self,
        printer: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>;
}

/// The shared handle server functions find in context.
#[cfg(feature = "ssr")]
pub type SharedFarmDirectory = std::sync::Arc<dyn FarmDirectory>;

/// All printers with their latest status, for the first render of the Farm page.
#[server]
pub async fn farm_snapshot() -> Result<Vec<PrinterView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    let farm =
        use_context::<SharedFarmDirectory>().ok_or_else(|| ServerFnError::new("the farm service is not running"))?;
    Ok(farm.printers())
}

/// "Bed cleared": the printer's last print is off the bed, so the farm may give it the next job.
#[server]
pub async fn confirm_bed_clear(printer: i64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Maker)?;
    let farm =
        use_context::<SharedFarmDirectory>().ok_or_else(|| ServerFnError::new("the farm service is not running"))?;
    farm.confirm_bed_clear(printer).await.map_err(ServerFnError::new)
}

/// What the server provides so the Create page's server functions can reach the generator.
#[cfg(feature = "ssr")]
pub trait GenerationDesk: Send + Sync + 'static {
    /// Whether AI shapes are available, in words.
    fn status(&self) -> CreateStatus;
    /// Starts making `prompt` (or the chosen design `template`).
    fn create(
        &self,
        prompt: String,
        template: Option<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<CreateOutcome, String>> + Send + '_>>;
    /// How far a request has got.
    fn progress(
        &self,
        id: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<GenerationView, String>> + Send + '_>>;
}

#[cfg(feature = "ssr")]
pub type SharedGenerationDesk = std::sync::Arc<dyn GenerationDesk>;

#[cfg(feature = "ssr")]
fn desk() -> Result<SharedGenerationDesk, ServerFnError> {
    use_context::<SharedGenerationDesk>().ok_or_else(|| ServerFnError::new("the generator is not running"))
}

/// Whether the AI model can be used on this box, for the Create page.
#[server]
pub async fn generator_status() -> Result<CreateStatus, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    Ok(desk()?.status())
}

/// Starts making something from a prompt.
#[server]
pub async fn create_from_prompt(prompt: String, template: Option<String>) -> Result<CreateOutcome, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.create(prompt, template).await.map_err(ServerFnError::new)
}

/// How far a generation has got.
#[server]
pub async fn generation_progress(id: i64) -> Result<GenerationView, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.progress(id).await.map_err(ServerFnError::new)
}
