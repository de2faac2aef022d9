//! Editor: the model on a to-scale print bed; move, rotate, scale, lay flat, cut, arrange; send to print.

use leptos::prelude::*;

#[component]
pub fn EditorPage() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Editor"</h1>
            <p class="muted">"Place, scale and check a model on the print bed. Coming soon."</p>
        </section>
    }
}
