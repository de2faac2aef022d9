//! The page for addresses that lead nowhere.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    // The server's fallback handler answers unknown paths with status 404 around this page.
    view! {
        <section class="page">
            <h1>"Not found"</h1>
            <p class="muted">"There is no page here. " <a href="/">"Back to the farm"</a></p>
        </section>
    }
}
