//! Settings page.

use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Settings"</h1>
            <p class="muted">"Users, materials, quotas and the farm's defaults. Coming soon."</p>
        </section>
    }
}
