//! Pages whose features land with later issues. Each says plainly what is coming, so nobody mistakes
//! an empty page for a broken one.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
fn Upcoming(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <section class="page">
            <h1>{title}</h1>
            <p class="muted">{what}</p>
        </section>
    }
}

#[component]
pub fn QueuePage() -> impl IntoView {
    view! { <Upcoming title="Queue" what="The farm-wide job queue: approve, reorder and dispatch jobs. Coming soon."/> }
}

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

#[component]
pub fn EditorPage() -> impl IntoView {
    view! { <Upcoming title="Editor" what="Place, scale and check a model on the print bed. Coming soon."/> }
}

#[component]
pub fn LibraryPage() -> impl IntoView {
    view! { <Upcoming title="Library" what="Every model you made or uploaded, with versions. Coming soon."/> }
}

#[component]
pub fn PrintersPage() -> impl IntoView {
    view! { <Upcoming title="Printers" what="Add, discover and configure printers. Coming soon."/> }
}

#[component]
pub fn PrinterPage() -> impl IntoView {
    view! { <Upcoming title="Printer" what="Live temperatures, camera and controls for one printer. Coming soon."/> }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! { <Upcoming title="Settings" what="Users, materials, quotas and the farm's defaults. Coming soon."/> }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <Upcoming title="Sign in" what="Accounts and kiosk sign-in. Coming soon."/> }
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
