use leptos::prelude::*;
use leptos_router::components::A;

use crate::live::LiveFarm;

/// The navigation every page hangs from: a rail on wide screens, a tab bar on narrow ones.
#[component]
pub fn NavBar() -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let links: &[(&str, &str, &str)] = if crate::kiosk::use_kiosk().is_some() {
        // A kiosk makes things and shows their jobs; running the farm happens elsewhere.
        &[("/create", "Create", "✚"), ("/queue", "Jobs", "☰")]
    } else {
        &[
            ("/", "Farm", "▦"),
            ("/queue", "Queue", "☰"),
            ("/create", "Create", "✚"),
            ("/library", "Library", "▤"),
            ("/printers", "Printers", "◧"),
            ("/settings", "Settings", "⚙"),
        ]
    };
    view! {
        <nav class="nav" aria-label="Main">
            <a class="brand" href="/">"Printfarm"</a>
            <ul>
                {links
                    .iter()
                    .map(|&(href, label, icon)| {
                        view! {
                            <li>
                                <A href=href exact=true>
                                    <span class="icon" aria-hidden="true">{icon}</span>
                                    <span class="label">{label}</span>
                                </A>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <span
                class="live-dot"
                class:on=move || live.connected.get()
                data-testid="live-indicator"
                title=move || if live.connected.get() { "Live updates on" } else { "Reconnecting…" }
            >
                {move || if live.connected.get() { "Live" } else { "Offline" }}
            </span>
        </nav>
    }
}
