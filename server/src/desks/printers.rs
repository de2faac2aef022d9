//! Implements `app::api::printers` for the server.

use crate::http::AppState;

/// Provides this area's implementation as Leptos context.
pub fn provide(_state: &AppState) {}
