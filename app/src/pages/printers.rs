//! Printers page.

use leptos::prelude::*;

#[component]
pub fn PrintersPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Printers"</h1>
            <p class="muted">"Add, discover and configure printers. Coming soon."</p>
        </section>
    }
}
