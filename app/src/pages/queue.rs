//! Queue: every job with owner, material, estimated start and finish; reorder, approve, cancel, reprint.

use leptos::prelude::*;

#[component]
pub fn QueuePage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Queue"</h1>
            <p class="muted">"The farm-wide job queue: approve, reorder and dispatch jobs. Coming soon."</p>
        </section>
    }
}
