//! Pages whose features land with later issues. Each says plainly what is coming, so nobody mistakes
//! an empty page for a broken one.

use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Sign in"</h1>
            <p class="muted">"Accounts and kiosk sign-in. Coming soon."</p>
        </section>
    }
}

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
