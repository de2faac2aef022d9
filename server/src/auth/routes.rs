//! `/api/v1/auth/*` (sign in and out, first run, kiosk quick sign-in, who am I), `/api/v1/users`
//! (admins manage accounts) and `/api/v1/api-keys` (everyone their own keys; admins all).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::gate::DeviceCaller;
use super::{credentials, AuthError, Caller, ClientInfo};
use crate::db::{DbError, Role, UserRecord};
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/setup", post(setup))
        .route("/api/v1/auth/pin", post(pin))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/password", put(change_password))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{id}", patch(change_user).delete(delete_user))
        .route("/api/v1/api-keys", get(list_keys).post(add_key).delete(revoke_my_keys))
        .route("/api/v1/api-keys/{id}", delete(revoke_key))
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn bad(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

impl AuthError {
    /// The HTTP status of this refusal (the REST routes and the sign-in page's server functions alike).
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::WrongPassword | AuthError::WrongPin | AuthError::UnknownBadge => StatusCode::UNAUTHORIZED,
            AuthError::Disabled | AuthError::NotAKiosk => StatusCode::FORBIDDEN,
            AuthError::TooManyTries(_) => StatusCode::TOO_MANY_REQUESTS,
            AuthError::AlreadySetUp => StatusCode::CONFLICT,
            AuthError::Invalid(_) | AuthError::Credential(_) => StatusCode::BAD_REQUEST,
            AuthError::Db(DbError::NotFound { .. }) => StatusCode::NOT_FOUND,
            AuthError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if let AuthError::Db(e) = &self {
            if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!("accounts: {e}");
                return bad(StatusCode::INTERNAL_SERVER_ERROR, "The database failed; try again.");
            }
        }
        bad(self.status(), self)
    }
}

/// A refusal before anything was done: a status and a sentence (kept small for `Result`s).
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        bad(self.0, self.1)
    }
}

fn json_body<T>(body: Body<T>) -> Result<T, Refusal> {
    body.map(|Json(b)| b).map_err(|e| Refusal(e.status(), e.body_text()))
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    super::gate::append_cookies(&mut response, cookies);
    response
}

/// A user as the API shows them (never a hash).
pub fn user_json(u: &UserRecord) -> Value {
    json!({ "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.as_str(), "disabled": u.disabled })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

async fn login(State(state): State<AppState>, Extension(client): Extension<ClientInfo>, body: Body<Login>) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match state.auth.sign_in(&b.username, &b.password, &client).await {
        Ok(done) => with_cookies(Json(json!({ "user": done.viewer })).into_response(), &done.cookies),
        Err(e) => e.into_response(),
    }
}

async fn logout(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let cookies = state.auth.sign_out(caller.as_ref().map(|c| &c.0), true, &client).await;
    with_cookies(StatusCode::NO_CONTENT.into_response(), &cookies)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    username: String,
    password: String,
    #[serde(default)]
    display_name: String,
}

async fn setup(State(state): State<AppState>, Extension(client): Extension<ClientInfo>, body: Body<Setup>) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match state.auth.set_up(&b.username, &b.display_name, &b.password, &client).await {
        Ok(done) => {
            with_cookies((StatusCode::CREATED, Json(json!({ "user": done.viewer }))).into_response(), &done.cookies)
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pin {
    #[serde(default)]
    username: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    badge: String,
}

/// `POST /api/v1/auth/pin`: quick sign-in on a kiosk device by name + PIN, or by badge.
async fn pin(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    device: Option<Extension<DeviceCaller>>,
    body: Body<Pin>,
) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    // Only the device cookie makes a kiosk; an API key with the kiosk role is still just a key.
    let device = device.map(|d| d.0 .0);
    let (name, secret) = if b.badge.is_empty() { (b.username, b.pin) } else { (String::new(), b.badge) };
    let idle = kiosk_idle(&state).await;
    match state.auth.quick_sign_in(device.as_ref(), &name, &secret, idle, &client).await {
        Ok(done) => with_cookies(Json(json!({ "user": done.viewer })).into_response(), &done.cookies),
        Err(e) => e.into_response(),
    }
}

/// Seconds a quick sign-in lasts without a touch: the farm's `kiosk_idle_s` setting, else the kiosk default.
pub async fn kiosk_idle(state: &AppState) -> i64 {
    let settings = state.db.farm().settings().await.unwrap_or_default();
    settings.get("kiosk_idle_s").and_then(Value::as_i64).unwrap_or(i64::from(app::kiosk::DEFAULT_IDLE_S))
}

async fn me(Extension(caller): Extension<Caller>) -> Response {
    let csrf = match &caller.via {
        super::Via::Session { csrf_token, .. } | super::Via::Device { csrf_token, .. } => Some(csrf_token.clone()),
        super::Via::ApiKey { .. } => None,
    };
    Json(json!({ "user": caller.viewer(), "csrf_token": csrf })).into_response()
}

async fn list_users(State(state): State<AppState>) -> Response {
    match state.db.accounts().users().await {
        Ok(users) => Json(users.iter().map(user_json).collect::<Vec<_>>()).into_response(),
        Err(e) => AuthError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    password: Option<String>,
    pin: Option<String>,
    badge: Option<String>,
}

fn role(s: &str) -> Result<Role, Refusal> {
    s.parse()
        .map_err(|_| Refusal(StatusCode::BAD_REQUEST, "role must be admin, manager, teacher, maker or kiosk".into()))
}

async fn add_user(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    body: Body<NewUserBody>,
) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let role = match role(&b.role) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let user =
        match state.auth.create_user(&b.username, &b.display_name, role, b.password.as_deref(), b.pin.as_deref()).await
        {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
    if let Some(badge) = b.badge.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        if let Err(e) = set_badge(&state, user.id, badge).await {
            return e;
        }
    }
    audit_user(&state, &caller, &client, "user created", user.id, json!({ "role": role.as_str() })).await;
    (StatusCode::CREATED, Json(user_json(&user))).into_response()
}

async fn set_badge(state: &AppState, user: i64, badge: &str) -> Result<(), Response> {
    if badge.len() < 6 || badge.len() > 128 {
        return Err(bad(StatusCode::BAD_REQUEST, "A badge code has 6 to 128 characters."));
    }
    state.db.accounts().set_badge_hash(user, Some(&credentials::digest(badge))).await.map_err(|e| match e {
        DbError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            bad(StatusCode::CONFLICT, "That badge belongs to someone else already.")
        }
        e => AuthError::from(e).into_response(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    display_name: Option<String>,
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
    /// A new PIN, or `""` to remove it.
    pin: Option<String>,
    badge: Option<String>,
}

async fn change_user(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Body<UserChange>,
) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let accounts = state.db.accounts();
    let user = match accounts.by_id(id).await {
        Ok(u) => u,
        Err(e) => return AuthError::from(e).into_response(),
    };
    let new_role = match b.role.as_deref().map(role).transpose() {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let demoting_admin = user.role == Role::Admin
        && (new_role.is_some_and(|r| r != Role::Admin) || b.disabled == Some(true))
        && !user.disabled;
    if demoting_admin && accounts.active_admins().await.unwrap_or(0) <= 1 {
        return bad(StatusCode::CONFLICT, "This is the last admin. Make someone else admin first.");
    }
    if let Some(p) = &b.password {
        if let Err(e) = credentials::check_password(p) {
            return AuthError::from(e).into_response();
        }
    }
    if let Some(p) = b.pin.as_deref().filter(|p| !p.is_empty()) {
        if let Err(e) = credentials::check_pin(p) {
            return AuthError::from(e).into_response();
        }
    }
    let display = b.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty());
    if display.is_some_and(|d| d.chars().count() > 80) {
        return bad(StatusCode::BAD_REQUEST, "A display name has at most 80 characters.");
    }
    let result: Result<(), AuthError> = async {
        accounts.change_user(id, display, new_role, b.disabled).await?;
        if let Some(p) = &b.password {
            accounts.set_password_hash(id, &credentials::hash_blocking(p.clone()).await?).await?;
        }
        match b.pin.as_deref() {
            Some("") => accounts.set_pin_hash(id, None).await?,
            Some(p) => accounts.set_pin_hash(id, Some(&credentials::hash_blocking(p.to_string()).await?)).await?,
            None => {}
        }
        // New secrets or fewer rights: the person signs in again everywhere.
        if b.password.is_some() || b.disabled == Some(true) || new_role.is_some_and(|r| r < user.role) {
            accounts.end_sessions_of(id).await?;
        }
        // A new password (as when the person changes it): keys made with the old one end too.
        if b.password.is_some() {
            accounts.revoke_keys_except(id, None).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        return e.into_response();
    }
    if let Some(badge) = b.badge.as_deref().map(str::trim) {
        let outcome = if badge.is_empty() {
            accounts.set_badge_hash(id, None).await.map_err(|e| AuthError::from(e).into_response())
        } else {
            set_badge(&state, id, badge).await
        };
        if let Err(r) = outcome {
            return r;
        }
    }
    let fields: Vec<&str> = [
        ("display_name", b.display_name.is_some()),
        ("role", b.role.is_some()),
        ("disabled", b.disabled.is_some()),
        ("password", b.password.is_some()),
        ("pin", b.pin.is_some()),
        ("badge", b.badge.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, set)| set.then_some(n))
    .collect();
    audit_user(&state, &caller, &client, "user changed", id, json!({ "fields": fields })).await;
    match accounts.by_id(id).await {
        Ok(u) => Json(user_json(&u)).into_response(),
        Err(e) => AuthError::from(e).into_response(),
    }
}

async fn delete_user(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    let accounts = state.db.accounts();
    let user = match accounts.by_id(id).await {
        Ok(u) => u,
        Err(e) => return AuthError::from(e).into_response(),
    };
    if user.role == Role::Admin && !user.disabled && accounts.active_admins().await.unwrap_or(0) <= 1 {
        return bad(StatusCode::CONFLICT, "This is the last admin. Make someone else admin first.");
    }
    if let Err(e) = accounts.delete_user(id).await {
        return AuthError::from(e).into_response();
    }
    audit_user(&state, &caller, &client, "user removed", id, json!({ "username": user.username })).await;
    StatusCode::NO_CONTENT.into_response()
}

async fn audit_user(state: &AppState, caller: &Caller, client: &ClientInfo, action: &str, target: i64, detail: Value) {
    state.auth.audit_user(Some(caller.user_id), Some(target), action, client, detail).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    current_password: String,
    new_password: String,
}

/// `PUT /api/v1/auth/password`: one's own password, knowing the current one.
async fn change_password(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    body: Body<NewPassword>,
) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match state.auth.change_password(&caller, &b.current_password, &b.new_password, &client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct KeyQuery {
    /// Admins: `all=true` lists everyone's keys.
    all: Option<bool>,
}

async fn list_keys(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<KeyQuery>,
) -> Response {
    let whose = if q.all == Some(true) && caller.may(Role::Admin) { None } else { Some(caller.user_id) };
    match state.db.accounts().keys(whose).await {
        Ok(keys) => Json(keys).into_response(),
        Err(e) => AuthError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    name: String,
    role: Option<String>,
    /// Admins: a key for someone else (e.g. a teacher's slicer), with at most that person's role.
    user_id: Option<i64>,
}

async fn add_key(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    body: Body<NewKey>,
) -> Response {
    let b = match json_body(body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let role = match b.role.as_deref().map(role).transpose() {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let for_someone_else = b.user_id.is_some_and(|u| u != caller.user_id);
    if for_someone_else && !caller.may(Role::Admin) {
        return bad(StatusCode::FORBIDDEN, app::auth::text::NOT_ALLOWED);
    }
    let owner = match state.db.accounts().by_id(b.user_id.unwrap_or(caller.user_id)).await {
        Ok(u) => u,
        Err(e) => return AuthError::from(e).into_response(),
    };
    // A key made with a key cannot do more than the key that made it, nor than its owner.
    let role = Some(role.unwrap_or(owner.role).min(caller.role).min(owner.role));
    match state.auth.create_key(&owner, &b.name, role).await {
        Ok((id, key)) => {
            audit_user(&state, &caller, &client, "API key created", owner.id, json!({ "key": id })).await;
            let info = state.db.accounts().key_info(id).await.ok();
            (
                StatusCode::CREATED,
                Json(json!({ "key": key, "info": info, "note": "Copy the key now: it is not shown again." })),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn revoke_key(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    let accounts = state.db.accounts();
    let info = match accounts.key_info(id).await {
        Ok(i) => i,
        Err(e) => return AuthError::from(e).into_response(),
    };
    // Someone else's key is "not found" to a non-admin, so ids cannot be probed.
    if info.user_id != caller.user_id && !caller.may(Role::Admin) {
        return AuthError::from(DbError::NotFound { kind: "API key", id }).into_response();
    }
    if let Err(e) = accounts.revoke_key(id).await {
        return AuthError::from(e).into_response();
    }
    audit_user(&state, &caller, &client, "API key revoked", info.user_id, json!({ "key": id })).await;
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /api/v1/api-keys`: revokes every key of the caller but the one making the call, if any.
async fn revoke_my_keys(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match state.auth.revoke_all_keys(&caller, &client).await {
        Ok(revoked) => Json(json!({ "revoked": revoked })).into_response(),
        Err(e) => e.into_response(),
    }
}
