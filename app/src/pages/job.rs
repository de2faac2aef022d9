//! One job: its model, G-code layer preview, progress and history of transitions.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <section class="page">
            <h1>"Job " {id}</h1>
            <p class="muted">"Job details, progress and history. Coming soon."</p>
        </section>
    }
}
