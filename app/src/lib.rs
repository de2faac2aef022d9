//! # app — what people see
//!
//! The Leptos app, rendered on the server (`ssr`) and hydrated in the browser (`hydrate`). It talks
//! to the server only through server functions and the REST/WebSocket API; it never links the
//! server or the hardware crates.
//!
//! Map:
//! - [`wire`]: the JSON types shared with the server (printer views, farm events).
//! - [`api`]: server functions, and the trait the server implements to answer them.
//! - [`live`]: the live event stream that keeps every page current without a reload.
//! - [`kiosk`]: the shared-touchscreen mode (locked to making things, starts over when left alone).
//! - [`pages`]: one module per route; [`components`]: the pieces they share.
//! - `viewport` (browser only): the editor's WebGL2 view.
//! - [`shell`] and [`App`]: the HTML document and the router.

// Leptos views are deeply nested types; the release (wasm) build needs more room to lay them out.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod components;
pub mod kiosk;
pub mod live;
pub mod pages;
#[cfg(feature = "hydrate")]
pub mod viewport;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::components::nav::NavBar;
use crate::pages::{
    account::AccountPage, create::CreatePage, editor::EditorPage, farm::FarmPage, job::JobPage, library::LibraryPage,
    login::LoginPage, placeholder::*, printer::PrinterPage, printers::PrintersPage, queue::QueuePage,
    settings::SettingsPage,
};

/// The full HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: layout, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::provide_live_farm();
    let kiosk = kiosk::provide_kiosk();
    if let Some(k) = kiosk {
        kiosk::watch_inactivity(k);
    }

    // Effects run only in the browser, so this attribute marks "hydrated" for people and tests alike.
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/printfarm.css"/>
        <Title text="Printfarm"/>
        <Router>
            <div class="layout" class:kiosk=kiosk.is_some()>
                <NavBar/>
                <main class="content">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=Home/>
                        <Route path=path!("/queue") view=QueuePage/>
                        <Route path=path!("/jobs/:id") view=JobPage/>
                        <Route path=path!("/create") view=CreatePage/>
                        <Route path=path!("/editor/:model") view=EditorPage/>
                        <Route path=path!("/library") view=|| not_at_kiosk(LibraryPage)/>
                        <Route path=path!("/printers") view=|| not_at_kiosk(PrintersPage)/>
                        <Route path=path!("/printers/:id") view=|| not_at_kiosk(PrinterPage)/>
                        <Route path=path!("/settings") view=|| not_at_kiosk(SettingsPage)/>
                        <Route path=path!("/account") view=|| not_at_kiosk(AccountPage)/>
                        <Route path=path!("/login") view=LoginPage/>
                        <Route path=path!("/setup") view=LoginPage/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// The home page: the farm, or Create on a kiosk.
#[component]
fn Home() -> impl IntoView {
    match kiosk::use_kiosk() {
        Some(_) => view! { <CreatePage/> }.into_any(),
        None => view! { <FarmPage/> }.into_any(),
    }
}

/// A page a kiosk may not open (the server enforces what matters; this keeps the kiosk simple).
fn not_at_kiosk<V: IntoView + 'static>(page: impl Fn() -> V) -> AnyView {
    match kiosk::use_kiosk() {
        Some(_) => view! { <kiosk::NotAtKiosk/> }.into_any(),
        None => page().into_any(),
    }
}

/// Browser entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
