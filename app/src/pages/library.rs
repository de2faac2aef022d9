//! Library page.

use leptos::prelude::*;

#[component]
pub fn LibraryPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Library"</h1>
            <p class="muted">"Every model you made or uploaded, with versions. Coming soon."</p>
        </section>
    }
}
