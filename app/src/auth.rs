//! Who is signed in, as the app sees it. The server decides (sessions, API keys, roles) and hands each
//! request's [`Viewer`] to the app; server functions call [`require`] before they do anything, so a
//! hidden button is never the only thing standing between a role and an action.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a person may do, lowest first; each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// A shared touchscreen's own account: it may look and make, and lets people sign in with a PIN.
    Kiosk,
    /// A student or member: sends prints, sees their own jobs.
    Maker,
    /// Approves the jobs of their classes.
    Teacher,
    /// Runs printers, materials and the queue.
    Manager,
    /// Everything, including accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Kiosk, Role::Maker, Role::Teacher, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Maker => "maker",
            Role::Teacher => "teacher",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Kiosk => "Kiosk",
            Role::Maker => "Maker",
            Role::Teacher => "Teacher",
            Role::Manager => "Manager",
            Role::Admin => "Admin",
        }
    }
}

/// The signed-in person (or kiosk) behind a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Signed in with a PIN or badge at a kiosk: signed out again after a short idle time.
    pub quick: bool,
}

impl Viewer {
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }
}

/// The words for refusals, in one place.
pub mod text {
    pub const SIGN_IN_FIRST: &str = "Please sign in first.";
    pub const NOT_ALLOWED: &str = "Your account may not do that. Ask a teacher or the farm manager.";
    pub const KIOSK_SIGN_IN: &str = "Sign in with your name and PIN first: tap Sign in at the top.";
}

/// The viewer of the request being served, as the server's sign-in layer found it.
#[cfg(feature = "ssr")]
pub fn viewer() -> Option<Viewer> {
    use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<Viewer>().cloned())
}

/// The viewer, if they have at least `role`; otherwise the answer is 401 (nobody signed in) or 403 and
/// the error is a sentence.
#[cfg(feature = "ssr")]
pub fn require(role: Role) -> Result<Viewer, ServerFnError> {
    let refuse = |status: http::StatusCode, text: &str| {
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(status);
        }
        ServerFnError::new(text)
    };
    match viewer() {
        None => Err(refuse(http::StatusCode::UNAUTHORIZED, text::SIGN_IN_FIRST)),
        Some(v) if v.may(role) => Ok(v),
        Some(v) if v.role == Role::Kiosk => Err(refuse(http::StatusCode::FORBIDDEN, text::KIOSK_SIGN_IN)),
        Some(_) => Err(refuse(http::StatusCode::FORBIDDEN, text::NOT_ALLOWED)),
    }
}

/// What the server provides so the sign-in page's functions can reach the accounts.
#[cfg(feature = "ssr")]
pub trait AccountDesk: Send + Sync + 'static {
    /// Signs in with a name and password; the answer carries the cookie to set.
    fn sign_in(
        &self,
        username: String,
        password: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SignedIn, String>> + Send + '_>>;
    /// Quick sign-in at a kiosk by name + PIN, or by badge code when `username` is empty.
    fn quick_sign_in(
        &self,
        username: String,
        secret: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SignedIn, String>> + Send + '_>>;
    /// Ends the request's own session (a kiosk device stays signed in as the kiosk).
    fn sign_out(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + Send + '_>>;
    /// Whether nobody has an account yet (the first-run page makes the admin).
    fn first_run(&self) -> bool;
    /// Makes the first admin, only while nobody has an account.
    fn set_up(
        &self,
        username: String,
        display_name: String,
        password: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SignedIn, String>> + Send + '_>>;
}

/// A successful sign-in: who, and the `Set-Cookie` header values to send.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub viewer: Viewer,
    pub cookies: Vec<String>,
}

#[cfg(feature = "ssr")]
pub type SharedAccountDesk = std::sync::Arc<dyn AccountDesk>;

#[cfg(feature = "ssr")]
fn desk() -> Result<SharedAccountDesk, ServerFnError> {
    use_context::<SharedAccountDesk>().ok_or_else(|| ServerFnError::new("the accounts service is not running"))
}

#[cfg(feature = "ssr")]
fn set_cookies(cookies: &[String]) {
    if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
        for c in cookies {
            if let Ok(v) = http::HeaderValue::from_str(c) {
                r.append_header(http::header::SET_COOKIE, v);
            }
        }
    }
}

/// Who is signed in on this browser, if anyone.
#[server(endpoint = "auth/whoami")]
pub async fn who_am_i() -> Result<Option<Viewer>, ServerFnError> {
    Ok(viewer())
}

/// Signs in with a name and password.
#[server(endpoint = "auth/sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<Viewer, ServerFnError> {
    let done = desk()?.sign_in(username, password).await.map_err(ServerFnError::new)?;
    set_cookies(&done.cookies);
    Ok(done.viewer)
}

/// Quick sign-in at a kiosk: a name and PIN, or a badge code alone.
#[server(endpoint = "auth/quick_sign_in")]
pub async fn quick_sign_in(username: String, secret: String) -> Result<Viewer, ServerFnError> {
    let done = desk()?.quick_sign_in(username, secret).await.map_err(ServerFnError::new)?;
    set_cookies(&done.cookies);
    Ok(done.viewer)
}

/// Signs out of this browser.
#[server(endpoint = "auth/sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let cookies = desk()?.sign_out().await;
    set_cookies(&cookies);
    Ok(())
}

/// Whether the box still needs its first admin.
#[server(endpoint = "auth/first_run")]
pub async fn first_run() -> Result<bool, ServerFnError> {
    Ok(desk()?.first_run())
}

/// Makes the first admin account and signs them in.
#[server(endpoint = "auth/set_up")]
pub async fn set_up(username: String, display_name: String, password: String) -> Result<Viewer, ServerFnError> {
    let done = desk()?.set_up(username, display_name, password).await.map_err(ServerFnError::new)?;
    set_cookies(&done.cookies);
    Ok(done.viewer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_from_kiosk_to_admin() {
        assert!(Role::Admin > Role::Manager && Role::Manager > Role::Teacher);
        assert!(Role::Teacher > Role::Maker && Role::Maker > Role::Kiosk);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
