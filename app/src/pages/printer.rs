//! Printer page.

use leptos::prelude::*;

#[component]
pub fn PrinterPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Printer"</h1>
            <p class="muted">"Live temperatures, camera and controls for one printer. Coming soon."</p>
        </section>
    }
}
