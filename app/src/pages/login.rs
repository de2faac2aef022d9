//! Signing in: the first-run page that makes the admin (`/setup`), name + password (`/login`), and on a
//! kiosk the quick sign-in by name + PIN or badge. After signing in the browser loads the page it
//! wanted (`?next=`) afresh, so everything on it, the live feed included, runs as the new person.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::{first_run, quick_sign_in, set_up, sign_in, Role, Viewer};

mod text {
    pub const SIGN_IN: &str = "Sign in";
    pub const SET_UP: &str = "Set up this Printfarm";
    pub const SET_UP_LEAD: &str =
        "Nobody has an account yet. Make the first one: it is the admin, who adds everyone else.";
    pub const NAME: &str = "Your user name";
    pub const DISPLAY: &str = "Your name as others see it (optional)";
    pub const PASSWORD: &str = "Password";
    pub const PASSWORD_AGAIN: &str = "The same password again";
    pub const PIN: &str = "PIN";
    pub const BADGE: &str = "Or scan your badge";
    pub const QUICK_LEAD: &str = "Type your name and PIN to send prints from this screen.";
    pub const MISMATCH: &str = "The two passwords are not the same. Type them again.";
    pub const WORKING: &str = "Signing in…";
    pub const CREATE: &str = "Make the admin account";
}

/// Where to go after signing in: the `next` the sign-in gate passed, if it is a path on this box.
fn next_path(next: Option<String>, fallback: &str) -> String {
    match next {
        // Only our own paths: "//evil.example" or "https://…" would send people elsewhere. Browsers
        // read `\` as `/` and drop tabs and newlines, so "/\t/evil.example" is "//evil.example" too.
        Some(n)
            if n.starts_with('/') && !n[1..].starts_with('/') && !n.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            n
        }
        _ => fallback.to_string(),
    }
}

fn go(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

fn error_words(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        _ => "The box did not answer. Check the network and try again.".into(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next"));
    let fresh = Resource::new(|| (), |_| first_run());
    let me = Resource::new(|| (), |_| crate::auth::who_am_i());
    view! {
        <section class="page sign-in">
            <Transition fallback=|| ()>
                {move || {
                    let first = fresh.get()?.unwrap_or(false);
                    let viewer = me.get()?.ok().flatten();
                    Some(match (first, viewer) {
                        (true, _) => view! { <SetUpForm/> }.into_any(),
                        (false, Some(v)) if v.role == Role::Kiosk => {
                            view! { <QuickSignIn next=next_path(next(), "/create")/> }.into_any()
                        }
                        (false, Some(v)) => view! { <AlreadyIn viewer=v/> }.into_any(),
                        (false, None) => view! { <PasswordForm next=next_path(next(), "/")/> }.into_any(),
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn AlreadyIn(viewer: Viewer) -> impl IntoView {
    view! {
        <h1>{text::SIGN_IN}</h1>
        <p data-testid="signed-in-as">
            {format!("You are signed in as {} ({}).", viewer.display_name, viewer.role.label())}
        </p>
        <p>
            <a class="button primary" href="/">"Go to the farm"</a>
            " "
            <SignOutButton/>
        </p>
    }
}

#[component]
fn PasswordForm(next: String) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(n), Some(p)) = (name.get(), password.get()) else { return };
        busy.set(true);
        let next = next.clone();
        leptos::task::spawn_local(async move {
            match sign_in(n.value(), p.value()).await {
                Ok(v) => go(&next_path(Some(next), if v.role == Role::Kiosk { "/create" } else { "/" })),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(error_words(e)));
                }
            }
        });
    };
    view! {
        <h1>{text::SIGN_IN}</h1>
        <form class="card form" on:submit=submit data-testid="sign-in-form">
            <label class="field">
                <span>{text::NAME}</span>
                <input node_ref=name name="username" autocomplete="username" autocapitalize="none" required/>
            </label>
            <label class="field">
                <span>{text::PASSWORD}</span>
                <input node_ref=password name="password" type="password" autocomplete="current-password" required/>
            </label>
            <ErrorLine error/>
            <button class="button primary" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { text::WORKING } else { text::SIGN_IN }}
            </button>
        </form>
    }
}

#[component]
fn QuickSignIn(next: String) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = NodeRef::<leptos::html::Input>::new();
    let pin = NodeRef::<leptos::html::Input>::new();
    let badge = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(n), Some(p), Some(b)) = (name.get(), pin.get(), badge.get()) else { return };
        let badge_code = b.value();
        let (who, secret) =
            if badge_code.trim().is_empty() { (n.value(), p.value()) } else { (String::new(), badge_code) };
        busy.set(true);
        let next = next.clone();
        leptos::task::spawn_local(async move {
            match quick_sign_in(who, secret).await {
                Ok(_) => go(&next),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(error_words(e)));
                }
            }
        });
    };
    view! {
        <h1>{text::SIGN_IN}</h1>
        <p class="lead">{text::QUICK_LEAD}</p>
        <form class="card form quick" on:submit=submit data-testid="quick-sign-in">
            <label class="field">
                <span>{text::NAME}</span>
                <input node_ref=name name="username" autocomplete="off" autocapitalize="none" enterkeyhint="next"/>
            </label>
            <label class="field">
                <span>{text::PIN}</span>
                <input
                    node_ref=pin
                    name="pin"
                    type="password"
                    inputmode="numeric"
                    pattern="[0-9]*"
                    maxlength="8"
                    autocomplete="off"
                    enterkeyhint="go"
                />
            </label>
            <label class="field">
                <span>{text::BADGE}</span>
                <input node_ref=badge name="badge" type="password" autocomplete="off"/>
            </label>
            <ErrorLine error/>
            <button class="button primary big" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { text::WORKING } else { text::SIGN_IN }}
            </button>
        </form>
    }
}

#[component]
fn SetUpForm() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = NodeRef::<leptos::html::Input>::new();
    let display = NodeRef::<leptos::html::Input>::new();
    let password = NodeRef::<leptos::html::Input>::new();
    let again = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(n), Some(d), Some(p), Some(a)) = (name.get(), display.get(), password.get(), again.get()) else {
            return;
        };
        if p.value() != a.value() {
            error.set(Some(text::MISMATCH.into()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match set_up(n.value(), d.value(), p.value()).await {
                Ok(_) => go("/settings"),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(error_words(e)));
                }
            }
        });
    };
    view! {
        <h1>{text::SET_UP}</h1>
        <p class="lead">{text::SET_UP_LEAD}</p>
        <form class="card form" on:submit=submit data-testid="set-up-form">
            <label class="field">
                <span>{text::NAME}</span>
                <input node_ref=name name="username" autocomplete="username" autocapitalize="none" required/>
            </label>
            <label class="field">
                <span>{text::DISPLAY}</span>
                <input node_ref=display name="display_name" autocomplete="name"/>
            </label>
            <label class="field">
                <span>{text::PASSWORD}</span>
                <input node_ref=password name="password" type="password" autocomplete="new-password" minlength="8" required/>
            </label>
            <label class="field">
                <span>{text::PASSWORD_AGAIN}</span>
                <input node_ref=again name="password2" type="password" autocomplete="new-password" minlength="8" required/>
            </label>
            <ErrorLine error/>
            <button class="button primary" type="submit" disabled=move || busy.get()>{text::CREATE}</button>
        </form>
    }
}

#[component]
fn ErrorLine(error: RwSignal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="sign-in-error">{e}</p> })
}

/// Signs this browser out and starts over on the sign-in page (a kiosk goes back to Create).
#[component]
pub fn SignOutButton() -> impl IntoView {
    let kiosk = crate::kiosk::use_kiosk().is_some();
    let out = move |_| {
        leptos::task::spawn_local(async move {
            let _ = crate::auth::sign_out().await;
            go(if kiosk { "/create" } else { "/login" });
        });
    };
    view! {
        <button class="button" type="button" data-testid="sign-out" on:click=out>
            "Sign out"
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_paths_on_this_box() {
        assert_eq!(next_path(Some("/queue?x=1".into()), "/"), "/queue?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\\evil.example",
            // issue 20: `/login?next=/%09/host/x` landed off the box.
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\u{0}/evil.example",
        ] {
            assert_eq!(next_path(Some(bad.into()), "/"), "/", "{bad}");
        }
        assert_eq!(next_path(None, "/create"), "/create");
    }
}
