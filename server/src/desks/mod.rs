//! The server's side of the app's server functions: one module per area of the app, each implementing
//! the trait that area declares in `app::api` and providing it as Leptos context for every request.

pub mod accounts;
pub mod editor;
pub mod printers;
pub mod queue;

use crate::http::AppState;

/// Provides every area's implementation as Leptos context (called once per server-rendered request
/// and server-function call).
pub fn provide_all(state: &AppState) {
    accounts::provide(state);
    editor::provide(state);
    printers::provide(state);
    queue::provide(state);
}
