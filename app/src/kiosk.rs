//! Kiosk mode: a shared touchscreen locked to making things (Create, the editor, sending to print and
//! the person's jobs), with large touch targets and a fresh start after a while without a touch.
//!
//! It is a setting of the device, not of a person: opening `/kiosk` on the touchscreen stores a cookie
//! (`/kiosk?idle=120` sets the seconds of inactivity before the screen starts over), `/kiosk/off`
//! removes it. The server reads the same cookie while rendering, so the first paint is already locked.

use leptos::prelude::*;

/// The cookie that marks a kiosk; its value is the idle time in seconds.
pub const COOKIE: &str = "printfarm_kiosk";
/// Seconds without a touch before the kiosk starts over, unless the device says otherwise.
pub const DEFAULT_IDLE_S: u32 = 120;

/// Whether this device is a kiosk, and after how long it starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kiosk {
    pub idle_s: u32,
}

/// Reads the kiosk cookie out of a `Cookie:` header value (or `document.cookie`).
pub fn from_cookies(cookies: &str) -> Option<Kiosk> {
    cookies.split(';').find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == COOKIE).then(|| Kiosk { idle_s: value.trim().parse().unwrap_or(DEFAULT_IDLE_S).clamp(10, 3600) })
    })
}

/// Paths a kiosk may show; everything else sends the person back to Create.
pub fn allowed(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path == "/"
        || ["/create", "/editor", "/jobs", "/queue", "/login"]
            .iter()
            .any(|p| path.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// Finds out (on the server from the request, in the browser from the document) whether this is a
/// kiosk, and provides the answer as context.
pub fn provide_kiosk() -> Option<Kiosk> {
    #[cfg(feature = "ssr")]
    let kiosk = use_context::<http::request::Parts>()
        .and_then(|p| p.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok()).and_then(from_cookies));
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    let kiosk = {
        use wasm_bindgen::JsCast;
        document()
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()
            .and_then(|d| d.cookie().ok())
            .as_deref()
            .and_then(from_cookies)
    };
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let kiosk = None;
    provide_context(kiosk);
    kiosk
}

/// The kiosk setting in context (`None` on an ordinary browser).
pub fn use_kiosk() -> Option<Kiosk> {
    use_context::<Option<Kiosk>>().flatten()
}

/// Starts the kiosk over after `idle_s` seconds without a touch, key or pointer move: signs out whoever
/// signed in with a PIN and goes back to a blank Create page with a full reload, so nothing the last
/// person typed stays on screen.
pub fn watch_inactivity(kiosk: Kiosk) {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        browser::watch(kiosk.idle_s);
        #[cfg(not(feature = "hydrate"))]
        let _ = kiosk;
    });
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};

    pub fn watch(idle_s: u32) {
        let last = Rc::new(Cell::new(js_sys::Date::now()));
        let touch = {
            let last = last.clone();
            Closure::<dyn FnMut()>::new(move || last.set(js_sys::Date::now()))
        };
        for event in ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"] {
            let _ = window().add_event_listener_with_callback(event, touch.as_ref().unchecked_ref());
        }
        // Lives as long as the page.
        touch.forget();
        let _ = set_interval_with_handle(
            move || {
                let idle_ms = js_sys::Date::now() - last.get();
                if idle_ms < f64::from(idle_s) * 1000.0 {
                    return;
                }
                let location = window().location();
                let fresh =
                    location.pathname().is_ok_and(|p| p == "/create") && location.search().is_ok_and(|s| s.is_empty());
                // A blank Create page that nobody touched is already a fresh start.
                let untouched = fresh && document().query_selector("[data-kiosk-dirty]").ok().flatten().is_none();
                // Whoever signed in with their PIN is signed out, so the next person cannot print as them.
                let someone_in = document().query_selector("[data-quick=\"true\"]").ok().flatten().is_some();
                if someone_in {
                    leptos::task::spawn_local(async move {
                        let _ = crate::auth::sign_out().await;
                        let _ = window().location().assign("/create");
                    });
                } else if !untouched {
                    let _ = location.assign("/create");
                }
                last.set(js_sys::Date::now());
            },
            std::time::Duration::from_secs(1),
        );
    }
}

/// What a kiosk shows instead of a page it may not open.
#[component]
pub fn NotAtKiosk() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Not on this screen"</h1>
            <p>"This touchscreen is for making things. Ask a teacher for anything else."</p>
            <a class="button primary" href="/create">"Make something"</a>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_turns_kiosk_mode_on_with_its_idle_time() {
        assert_eq!(from_cookies("a=1; printfarm_kiosk=45; b=2"), Some(Kiosk { idle_s: 45 }));
        assert_eq!(from_cookies("printfarm_kiosk=yes"), Some(Kiosk { idle_s: DEFAULT_IDLE_S }));
        assert_eq!(from_cookies("printfarm_kiosk=1"), Some(Kiosk { idle_s: 10 }), "clamped to a usable minimum");
        assert_eq!(from_cookies("other=1"), None);
        assert_eq!(from_cookies(""), None);
        assert_eq!(from_cookies("xprintfarm_kiosk=5"), None);
    }

    #[test]
    fn a_kiosk_opens_only_the_making_pages() {
        for ok in ["/", "/create", "/editor/4", "/jobs/9", "/queue", "/queue?mine=1", "/login"] {
            assert!(allowed(ok), "{ok}");
        }
        for no in ["/settings", "/printers", "/printers/2", "/library", "/editorx", "/queuex"] {
            assert!(!allowed(no), "{no}");
        }
    }
}
