//! Accounts and who may do what.
//!
//! - [`credentials`]: argon2id for passwords and PINs, random tokens and API keys stored as hashes.
//! - [`gate`]: the layer every request passes: it finds the caller (API key, session cookie, kiosk
//!   device cookie), refuses cross-site writes (CSRF), sends anonymous visitors to sign in, and
//!   checks each `/api/v1` route's role from [`policy`].
//! - [`routes`]: `/api/v1/auth/*`, `/api/v1/users`, `/api/v1/api-keys`.
//! - [`limits`]: guessing limits; every attempt is counted before its secret is checked.
//!
//! **Invariant:** every route is denied unless the policy names it; the app's server functions call
//! `app::auth::require` first. Hidden buttons are a convenience, never the protection.

pub mod credentials;
pub mod gate;
mod limits;
pub mod policy;
pub mod routes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::auth::{SignedIn, Viewer};

use crate::db::{Db, DbError, NewSession, NewUser, Role, UserRecord};
use credentials::{digest, random_token, CredentialError};
use limits::{wait_words, Attempt, Bucket, SignInLimits};

/// The browser session cookie (a person).
pub const SESSION_COOKIE: &str = "printfarm_session";
/// The kiosk device's cookie (the touchscreen's own account, under the people who sign in on it).
pub const DEVICE_COOKIE: &str = "printfarm_device";
/// How long a session lasts at most.
const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a kiosk device stays signed in.
const DEVICE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// A session unused this long ends.
const SESSION_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The window the guessing limits count in.
const GUESS_WINDOW: Duration = Duration::from_secs(300);
/// Wrong passwords per account and address per window: a person's own typos from their own place.
const PASSWORD_TRIES: usize = 10;
/// Wrong PINs per account per window, from every kiosk together: a PIN is short.
const PIN_TRIES: usize = 5;
/// Wrong secrets per address per window across all accounts (guessing one password for many), for
/// people not known at that address: someone guessing cannot lock out a whole school behind its NAT.
const ADDRESS_TRIES: usize = 30;

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    /// The effective role: an API key's role, or the user's.
    pub role: Role,
    pub via: Via,
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    /// A browser session; `quick` when signed in by PIN or badge at a kiosk.
    Session { id: i64, csrf_token: String, quick: bool },
    /// The kiosk device's own session.
    Device { id: i64, csrf_token: String },
    /// An API key.
    ApiKey { id: i64 },
}

impl Caller {
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }

    /// The app's view of this caller.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            id: self.user_id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: app_role(self.role),
            quick: matches!(self.via, Via::Session { quick: true, .. }),
        }
    }
}

/// The caller of the server function or page being served (read from the request the app was given).
pub fn current() -> Option<Caller> {
    current_request().caller
}

/// Who (user id) and from where (address) the request being served came, for the audit log.
pub fn current_actor() -> (Option<i64>, Option<String>) {
    let r = current_request();
    (r.caller.map(|c| c.user_id), r.client.ip)
}

/// What the gate found about the request a page or server function is serving.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub client: ClientInfo,
    /// Whoever the request acts as (a key, a person, or the kiosk device on its own).
    pub caller: Option<Caller>,
    /// The kiosk device the request came through, if any (under a person signed in on it).
    pub device: Option<Caller>,
}

/// Reads [`RequestContext`] from the request the app was given (empty outside a request).
pub fn current_request() -> RequestContext {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>();
    let Some(ext) = parts.as_ref().map(|p| &p.extensions) else { return RequestContext::default() };
    RequestContext {
        client: ext.get::<ClientInfo>().cloned().unwrap_or_default(),
        caller: ext.get::<Caller>().cloned(),
        device: ext.get::<gate::DeviceCaller>().map(|d| d.0.clone()),
    }
}

pub fn app_role(r: Role) -> app::auth::Role {
    match r {
        Role::Kiosk => app::auth::Role::Kiosk,
        Role::Maker => app::auth::Role::Maker,
        Role::Teacher => app::auth::Role::Teacher,
        Role::Manager => app::auth::Role::Manager,
        Role::Admin => app::auth::Role::Admin,
    }
}

/// Why signing in or managing accounts failed, in words for people.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("That name and password do not match. Check them and try again.")]
    WrongPassword,
    #[error("That name and PIN do not match.")]
    WrongPin,
    #[error("That badge is not known here. Ask a teacher to add it to your account.")]
    UnknownBadge,
    #[error("This account is switched off. Ask the farm manager.")]
    Disabled,
    #[error("Too many wrong tries. Wait {0} and try again.")]
    TooManyTries(String),
    #[error("Quick sign-in works only on a kiosk. Sign in with your password here.")]
    NotAKiosk,
    #[error("This box already has accounts; sign in instead.")]
    AlreadySetUp,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether the browser reached us over HTTPS (then cookies are marked Secure).
    pub https: bool,
}

/// The accounts service: sign-in, sessions, keys and the guessing limits; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// False until the first account exists; then the first-run page closes for good.
    has_users: AtomicBool,
    limits: SignInLimits,
}

impl Auth {
    pub async fn new(db: Db) -> Result<Self, DbError> {
        let has_users = db.users().count().await? > 0;
        let _ = db.accounts().sweep_sessions().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                has_users: AtomicBool::new(has_users),
                limits: SignInLimits::new(GUESS_WINDOW),
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Whether the first admin still has to be made.
    pub fn first_run(&self) -> bool {
        !self.inner.has_users.load(Ordering::Relaxed)
    }

    /// [`Auth::first_run`], checked against the database while it is true (the CLI may have made
    /// the admin while the server runs).
    pub async fn needs_setup(&self) -> bool {
        if !self.first_run() {
            return false;
        }
        if self.db().users().count().await.unwrap_or(0) > 0 {
            self.users_exist();
            return false;
        }
        true
    }

    /// Someone made an account another way (the CLI, a test); the first-run page closes.
    pub fn users_exist(&self) {
        self.inner.has_users.store(true, Ordering::Relaxed);
    }

    /// Counts an attempt before its secret is checked (see [`limits`]); refuses when a limit is used up.
    fn begin_attempt(&self, buckets: Vec<Bucket>) -> Result<Attempt, AuthError> {
        self.inner.limits.begin(buckets).map_err(|wait| AuthError::TooManyTries(wait_words(wait)))
    }

    /// The address's bucket across accounts (`kind` keeps passwords and kiosk PINs apart), not enforced
    /// for someone who signed in from this address before.
    fn address_bucket(&self, person: &Person, kind: &str) -> Bucket {
        Bucket {
            key: format!("{kind}:{}", person.address),
            max: ADDRESS_TRIES,
            enforced: !self.inner.limits.knows(&person.key),
            cleared_by_success: false,
        }
    }

    /// Signs in with a password. Kiosk accounts get a device cookie, everyone else a session cookie.
    pub async fn sign_in(&self, username: &str, password: &str, client: &ClientInfo) -> Result<SignedIn, AuthError> {
        let person = Person::new(username, client);
        let attempt = self.begin_attempt(vec![person.password_bucket(), self.address_bucket(&person, "address")])?;
        let user = self.db().users().by_username(username.trim()).await?;
        let ok =
            credentials::verify_blocking(password.to_string(), user.as_ref().and_then(|u| u.password_hash.clone()))
                .await;
        let Some(user) = user.filter(|_| ok) else {
            self.audit(None, "sign in failed", client, serde_json::json!({ "username": username.trim() })).await;
            return Err(AuthError::WrongPassword);
        };
        self.inner.limits.right(attempt);
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        self.inner.limits.remember(&person.key);
        let kind = if user.role == Role::Kiosk { SessionKind::Device } else { SessionKind::Person };
        let signed = self.start_session(&user, kind, client).await?;
        self.audit(Some(user.id), "sign in", client, serde_json::json!({ "how": "password" })).await;
        Ok(signed)
    }

    /// Quick sign-in on a kiosk device: name + PIN, or a badge code alone (empty `username`).
    pub async fn quick_sign_in(
        &self,
        device: Option<&Caller>,
        username: &str,
        secret: &str,
        idle_s: i64,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        // Only a kiosk device may take PINs: its own account's session on the touchscreen (the device
        // cookie), never an API key, whatever its role: short secrets must not be guessable from anywhere.
        if device.is_none_or(|d| d.role != Role::Kiosk || !matches!(d.via, Via::Device { .. })) {
            return Err(AuthError::NotAKiosk);
        }
        let person = Person::new(username, client);
        let badge = username.trim().is_empty();
        let mut buckets = vec![self.address_bucket(&person, "kiosk")];
        if !badge {
            buckets.push(Bucket {
                key: format!("pin:{}", person.name),
                max: PIN_TRIES,
                enforced: true,
                // A kiosk is shared: someone else's right PIN must not give back a guesser's tries.
                cleared_by_success: false,
            });
        }
        let attempt = self.begin_attempt(buckets)?;
        let user = if badge {
            match self.db().accounts().by_badge(&digest(secret.trim())).await? {
                Some(u) => u,
                None => return Err(AuthError::UnknownBadge),
            }
        } else {
            let found = self.db().accounts().pin_hash(username.trim()).await?;
            let hash = found.as_ref().and_then(|(_, h)| h.clone());
            let ok = credentials::verify_blocking(secret.trim().to_string(), hash).await;
            match found.filter(|_| ok) {
                Some((u, _)) => u,
                None => {
                    self.audit(
                        None,
                        "sign in failed",
                        client,
                        serde_json::json!({ "username": username.trim(), "how": "pin" }),
                    )
                    .await;
                    return Err(AuthError::WrongPin);
                }
            }
        };
        self.inner.limits.right(attempt);
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        // A kiosk is for people; staff sign in with their password on their own devices.
        if user.role >= Role::Manager || user.role == Role::Kiosk {
            return Err(AuthError::Invalid(
                "Quick sign-in is for makers and teachers. Managers sign in with a password.".into(),
            ));
        }
        if !badge {
            self.inner.limits.remember(&person.key);
        }
        let signed = self.start_session(&user, SessionKind::Quick { idle_s }, client).await?;
        let how = if username.trim().is_empty() { "badge" } else { "pin" };
        self.audit(Some(user.id), "sign in", client, serde_json::json!({ "how": how, "kiosk": true })).await;
        Ok(signed)
    }

    /// Makes the first admin, only while there is no account at all.
    pub async fn set_up(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        if !self.first_run() || self.db().users().count().await? > 0 {
            self.users_exist();
            return Err(AuthError::AlreadySetUp);
        }
        let user = self.create_user(username, display_name, Role::Admin, Some(password), None).await?;
        self.users_exist();
        self.audit(Some(user.id), "first run: admin created", client, serde_json::json!({})).await;
        self.start_session(&user, SessionKind::Person, client).await
    }

    /// Makes an account after checking the name and secrets; hashing happens off the runtime.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: Option<&str>,
        pin: Option<&str>,
    ) -> Result<UserRecord, AuthError> {
        let username = check_username(username)?;
        let display_name = match display_name.trim() {
            "" => username.clone(),
            d if d.chars().count() > 80 => {
                return Err(AuthError::Invalid("A display name has at most 80 characters.".into()))
            }
            d => d.to_string(),
        };
        let password_hash = match password {
            Some(p) => {
                credentials::check_password(p)?;
                Some(credentials::hash_blocking(p.to_string()).await?)
            }
            None => None,
        };
        let id = self
            .db()
            .users()
            .insert(&NewUser { username: username.clone(), display_name, role, password_hash })
            .await
            .map_err(|e| match e {
                DbError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    AuthError::Invalid(format!("The name {username:?} is taken. Choose another."))
                }
                e => e.into(),
            })?;
        if let Some(pin) = pin {
            credentials::check_pin(pin)?;
            let hash = credentials::hash_blocking(pin.to_string()).await?;
            self.db().accounts().set_pin_hash(id, Some(&hash)).await?;
        }
        self.users_exist();
        Ok(self.db().accounts().by_id(id).await?)
    }

    async fn start_session(
        &self,
        user: &UserRecord,
        kind: SessionKind,
        client: &ClientInfo,
    ) -> Result<SignedIn, AuthError> {
        let token = random_token(32);
        let csrf = random_token(24);
        let (lifetime, cookie, idle_s, quick) = match kind {
            SessionKind::Person => (SESSION_LIFETIME, SESSION_COOKIE, None, false),
            SessionKind::Device => (DEVICE_LIFETIME, DEVICE_COOKIE, None, false),
            SessionKind::Quick { idle_s } => (SESSION_LIFETIME, SESSION_COOKIE, Some(idle_s.clamp(10, 3600)), true),
        };
        self.db()
            .accounts()
            .create_session(&NewSession {
                token_hash: &digest(&token),
                user_id: user.id,
                csrf_token: &csrf,
                ip: client.ip.as_deref(),
                user_agent: client.user_agent.as_deref().map(|u| &u[..u.len().min(300)]),
                lifetime_s: lifetime.as_secs() as i64,
                kiosk: quick,
                idle_s,
            })
            .await?;
        let caller = Caller {
            user_id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            via: Via::Session { id: 0, csrf_token: csrf, quick },
        };
        let mut cookies = vec![set_cookie(cookie, &token, Some(lifetime), client.https)];
        if kind == SessionKind::Device {
            // A kiosk account turns on the kiosk screen too (unless it already is one).
            cookies.push(format!(
                "{}={}; Path=/; Max-Age={}; SameSite=Lax",
                app::kiosk::COOKIE,
                app::kiosk::DEFAULT_IDLE_S,
                DEVICE_LIFETIME.as_secs()
            ));
        }
        Ok(SignedIn { viewer: caller.viewer(), cookies })
    }

    /// Ends the caller's own session. A person signing out of a kiosk leaves the device signed in; the
    /// device itself is signed out only when `device` says so (the REST call, not the kiosk's own page).
    pub async fn sign_out(&self, caller: Option<&Caller>, device: bool, client: &ClientInfo) -> Vec<String> {
        if let Some(c) = caller.filter(|c| device || !matches!(c.via, Via::Device { .. })) {
            let id = match &c.via {
                Via::Session { id, .. } | Via::Device { id, .. } => Some(*id),
                Via::ApiKey { .. } => None,
            };
            if let Some(id) = id {
                let _ = self.db().accounts().end_session(id).await;
            }
            self.audit(Some(c.user_id), "sign out", client, serde_json::json!({})).await;
            if matches!(c.via, Via::Device { .. }) {
                return vec![clear_cookie(DEVICE_COOKIE), clear_cookie(app::kiosk::COOKIE)];
            }
        }
        vec![clear_cookie(SESSION_COOKIE)]
    }

    /// Finds the caller behind a session token; ends sessions idle too long.
    pub async fn session_caller(&self, token: &str, device: bool) -> Result<Option<Caller>, DbError> {
        let accounts = self.db().accounts();
        let Some(s) = accounts.session(&digest(token)).await? else { return Ok(None) };
        let idle_limit = s.idle_s.unwrap_or(SESSION_IDLE.as_secs() as i64);
        if s.idle_for_s > idle_limit || s.user.disabled {
            accounts.end_session(s.id).await?;
            return Ok(None);
        }
        // Writing on every request would serialise readers behind the database's one writer; a few
        // seconds of slack is fine for an idle limit counted in minutes.
        if s.idle_for_s >= 5 {
            accounts.touch_session(s.id).await?;
        }
        let via = if device {
            Via::Device { id: s.id, csrf_token: s.csrf_token }
        } else {
            Via::Session { id: s.id, csrf_token: s.csrf_token, quick: s.kiosk }
        };
        Ok(Some(Caller {
            user_id: s.user.id,
            username: s.user.username,
            display_name: s.user.display_name,
            role: s.user.role,
            via,
        }))
    }

    /// Finds the caller behind an API key (`None` for a wrong or revoked key).
    pub async fn key_caller(&self, key: &str) -> Result<Option<Caller>, DbError> {
        let accounts = self.db().accounts();
        let Some(k) = accounts.key(&digest(key.trim())).await? else { return Ok(None) };
        if k.user.disabled {
            return Ok(None);
        }
        if k.stale_use {
            accounts.mark_key_used(k.key_id).await?;
        }
        Ok(Some(Caller {
            user_id: k.user.id,
            username: k.user.username,
            display_name: k.user.display_name,
            role: k.role.min(k.user.role),
            via: Via::ApiKey { id: k.key_id },
        }))
    }

    /// Changes the caller's own password after checking the current one (wrong tries count like
    /// sign-in's, against this account from this address). Every other session of theirs ends, the one
    /// in use stays signed in, and every API key of theirs is revoked but the one in use (see README,
    /// "Accounts": a changed password is often a leaked one, and a key made with it must not outlive it).
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (keep_session, keep_key) = match caller.via {
            Via::Session { quick: true, .. } | Via::Device { .. } => {
                return Err(AuthError::Invalid(
                    "Change your password where you sign in with it, not at a kiosk.".into(),
                ))
            }
            Via::Session { id, .. } => (Some(id), None),
            Via::ApiKey { id } => (None, Some(id)),
        };
        // The same bucket as signing in to this account from here: a stolen session cannot guess more.
        let attempt = self.begin_attempt(vec![Person::new(&caller.username, client).password_bucket()])?;
        let user = self.db().accounts().by_id(caller.user_id).await?;
        if !credentials::verify_blocking(current.to_string(), user.password_hash.clone()).await {
            self.audit(Some(user.id), "password change refused", client, serde_json::json!({})).await;
            return Err(AuthError::Invalid("Your current password is not right.".into()));
        }
        self.inner.limits.right(attempt);
        credentials::check_password(new)?;
        if new == current {
            return Err(AuthError::Invalid("The new password is the same as the old one.".into()));
        }
        let hash = credentials::hash_blocking(new.to_string()).await?;
        let accounts = self.db().accounts();
        accounts.set_password_hash(user.id, &hash).await?;
        let ended = accounts.end_sessions_except(user.id, keep_session).await?;
        let revoked = accounts.revoke_keys_except(user.id, keep_key).await?;
        self.audit(
            Some(user.id),
            "password changed",
            client,
            serde_json::json!({ "sessions_ended": ended, "keys_revoked": revoked }),
        )
        .await;
        Ok(())
    }

    /// Makes an API key for `user_id` with at most their role; the key is returned once.
    pub async fn create_key(
        &self,
        user: &UserRecord,
        name: &str,
        role: Option<Role>,
    ) -> Result<(i64, String), AuthError> {
        let role = role.unwrap_or(user.role);
        if role > user.role {
            return Err(AuthError::Invalid(format!("A key cannot do more than its owner: at most {}.", user.role)));
        }
        // The kiosk role is the touchscreen's own; a person's key with it would pass for a kiosk.
        if role == Role::Kiosk && user.role != Role::Kiosk {
            return Err(AuthError::Invalid(
                "Only a kiosk's own account has keys with the kiosk role, and only an admin makes them. \
                 Choose the maker role, or leave the role out."
                    .into(),
            ));
        }
        let name = match name.trim() {
            "" => "API key",
            n if n.chars().count() > 80 => {
                return Err(AuthError::Invalid("A key's name has at most 80 characters.".into()))
            }
            n => n,
        };
        let (key, hash, prefix) = credentials::new_api_key();
        let id = self.db().accounts().create_key(user.id, name, &prefix, &hash, role).await?;
        Ok((id, key))
    }

    /// Revokes every API key of the caller ("revoke all my keys"), but the key making the call (as a
    /// password change does: a script that cleans up after itself keeps working); how many.
    pub async fn revoke_all_keys(&self, caller: &Caller, client: &ClientInfo) -> Result<u64, AuthError> {
        let keep = match caller.via {
            Via::ApiKey { id } => Some(id),
            Via::Session { .. } | Via::Device { .. } => None,
        };
        let revoked = self.db().accounts().revoke_keys_except(caller.user_id, keep).await?;
        self.audit(Some(caller.user_id), "API keys revoked", client, serde_json::json!({ "revoked": revoked })).await;
        Ok(revoked)
    }

    /// Records something a person did to their own account.
    pub async fn audit(&self, actor: Option<i64>, action: &str, client: &ClientInfo, detail: serde_json::Value) {
        self.audit_user(actor, actor, action, client, detail).await
    }

    /// Records something `actor` did to the account `target`.
    pub async fn audit_user(
        &self,
        actor: Option<i64>,
        target: Option<i64>,
        action: &str,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) {
        let entry = crate::db::AuditEntry {
            actor_id: actor,
            action,
            target_kind: Some("user"),
            target_id: target,
            detail,
            ip: client.ip.as_deref(),
        };
        if let Err(e) = self.db().audit().record(&entry).await {
            tracing::warn!("audit log: {e}");
        }
    }
}

/// Whoever is trying a secret: the name they typed (whether or not it exists) and where from.
struct Person {
    name: String,
    address: String,
    /// `name@address`.
    key: String,
}

impl Person {
    fn new(username: &str, client: &ClientInfo) -> Self {
        let name = username.trim().to_lowercase();
        let address = client.ip.clone().unwrap_or_default();
        Self { key: format!("{name}@{address}"), name, address }
    }

    /// Wrong passwords for this account from this address; a right one clears them (they were typos).
    fn password_bucket(&self) -> Bucket {
        Bucket { key: format!("password:{}", self.key), max: PASSWORD_TRIES, enforced: true, cleared_by_success: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SessionKind {
    Person,
    Device,
    Quick { idle_s: i64 },
}

/// Names are letters, digits, dot, dash and underscore, 2 to 40 characters: they appear in URLs, logs
/// and on screens, so nothing surprising.
pub fn check_username(name: &str) -> Result<String, AuthError> {
    let name = name.trim();
    let ok = (2..=40).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(AuthError::Invalid("A user name is 2 to 40 letters, digits, dots, dashes or underscores.".into()));
    }
    Ok(name.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (links into the box still work; cross-site writes are
/// refused by [`gate`]), Secure when the browser came over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, https: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if https {
        c.push_str("; Secure");
    }
    c
}

pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_plain() {
        assert_eq!(check_username("  maya.k ").unwrap(), "maya.k");
        for bad in ["a", "maya k", "<script>", "../etc", "x'; DROP TABLE users;--", &"a".repeat(41)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let c = set_cookie(SESSION_COOKIE, "abc", Some(Duration::from_secs(60)), true);
        assert_eq!(c, "printfarm_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert!(!set_cookie(SESSION_COOKIE, "abc", None, false).contains("Secure"));
        assert!(clear_cookie(SESSION_COOKIE).contains("Max-Age=0"));
    }
}
