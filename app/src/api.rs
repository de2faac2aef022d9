//! Server functions. Their bodies run on the server; the browser gets generated HTTP stubs.

use leptos::prelude::*;

use crate::wire::PrinterView;

/// What the server provides (as Leptos context) so server functions can read the farm's live state.
/// The trait lives here, not in `server`, because the app must never depend on the server.
#[cfg(feature = "ssr")]
pub trait FarmDirectory: Send + Sync + 'static {
    /// Every printer with its latest status, sorted by name.
    fn printers(&self) -> Vec<PrinterView>;
}

/// The shared handle server functions find in context.
#[cfg(feature = "ssr")]
pub type SharedFarmDirectory = std::sync::Arc<dyn FarmDirectory>;

/// All printers with their latest status, for the first render of the Farm page.
#[server]
pub async fn farm_snapshot() -> Result<Vec<PrinterView>, ServerFnError> {
    let farm =
        use_context::<SharedFarmDirectory>().ok_or_else(|| ServerFnError::new("the farm service is not running"))?;
    Ok(farm.printers())
}
