use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::{Role, Viewer};
use crate::live::LiveFarm;
use crate::pages::login::SignOutButton;

/// The navigation every page hangs from: a rail on wide screens, a tab bar on narrow ones.
#[component]
pub fn NavBar() -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let kiosk = crate::kiosk::use_kiosk().is_some();
    let me = Resource::new(|| (), |_| crate::auth::who_am_i());
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
            <Transition fallback=|| ()>
                {move || me.get().map(|m| who_view(m.ok().flatten(), kiosk))}
            </Transition>
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

/// Who is signed in, with a way out; on a kiosk with nobody signed in, the way in.
fn who_view(viewer: Option<Viewer>, kiosk: bool) -> AnyView {
    match viewer {
        Some(v) if v.role == Role::Kiosk => {
            let to = if kiosk { "/login?next=/create" } else { "/login" };
            view! { <a class="button who" href=to data-testid="sign-in-link">"Sign in"</a> }.into_any()
        }
        Some(v) => view! {
            <div class="who" data-testid="who" data-role=v.role.as_str() data-quick=v.quick.to_string()>
                {if v.quick {
                    view! { <span class="who-name" title=v.role.label()>{v.display_name.clone()}</span> }.into_any()
                } else {
                    view! {
                        <a class="who-name" href="/account" title=format!("{}: your password and API keys", v.role.label()) data-testid="account-link">
                            {v.display_name.clone()}
                        </a>
                    }.into_any()
                }}
                <SignOutButton/>
            </div>
        }
        .into_any(),
        None => ().into_any(),
    }
}
