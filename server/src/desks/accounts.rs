//! Implements `app::auth::AccountDesk`: the sign-in, kiosk quick sign-in, sign-out and first-run
//! pages reach [`crate::auth::Auth`] through it, with the request's address and callers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use app::auth::{AccountDesk, SharedAccountDesk, SignedIn};
use leptos::prelude::provide_context;

use crate::auth::{AuthError, Caller, ClientInfo};
use crate::http::AppState;

struct Desk {
    state: AppState,
}

/// Provides this area's implementation as Leptos context.
pub fn provide(state: &AppState) {
    let desk: SharedAccountDesk = Arc::new(Desk { state: state.clone() });
    provide_context(desk);
}

/// What the sign-in layer found about the request being served.
fn request() -> (ClientInfo, Option<Caller>, Option<Caller>) {
    let r = crate::auth::current_request();
    (r.client, r.caller, r.device)
}

type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a refusal into its sentence, answering with the REST route's status (401, 403, 429…), not 500.
/// Call it before the future starts: the response is reached through Leptos' context.
fn refusal() -> impl Fn(AuthError) -> String + Send {
    let response = leptos::prelude::use_context::<leptos_axum::ResponseOptions>();
    move |e| {
        if let Some(r) = &response {
            r.set_status(e.status());
        }
        e.to_string()
    }
}

impl AccountDesk for Desk {
    fn sign_in(&self, username: String, password: String) -> Answer<'_, Result<SignedIn, String>> {
        let (client, _, _) = request();
        let refused = refusal();
        Box::pin(async move { self.state.auth.sign_in(&username, &password, &client).await.map_err(refused) })
    }

    fn quick_sign_in(&self, username: String, secret: String) -> Answer<'_, Result<SignedIn, String>> {
        // Only the device cookie makes a kiosk; an API key with the kiosk role is still just a key.
        let (client, _, device) = request();
        let refused = refusal();
        Box::pin(async move {
            let idle = crate::auth::routes::kiosk_idle(&self.state).await;
            self.state.auth.quick_sign_in(device.as_ref(), &username, &secret, idle, &client).await.map_err(refused)
        })
    }

    fn sign_out(&self) -> Answer<'_, Vec<String>> {
        let (client, caller, _) = request();
        Box::pin(async move { self.state.auth.sign_out(caller.as_ref(), false, &client).await })
    }

    fn first_run(&self) -> bool {
        self.state.auth.first_run()
    }

    fn set_up(&self, username: String, display_name: String, password: String) -> Answer<'_, Result<SignedIn, String>> {
        let (client, _, _) = request();
        let refused = refusal();
        Box::pin(
            async move { self.state.auth.set_up(&username, &display_name, &password, &client).await.map_err(refused) },
        )
    }
}
