//! The layers every request passes.
//!
//! [`identify`] (around the whole router) finds the caller — an API key (`X-Api-Key` or
//! `Authorization: Bearer`), else the person's session cookie, else a kiosk device's cookie — and
//! leaves [`Caller`], [`DeviceCaller`], [`ClientInfo`] and the app's `Viewer` in the request's
//! extensions. It refuses writes and WebSocket handshakes a page of another website makes (CSRF:
//! with cookies, and without, so a foreign form cannot sign a visitor in to someone else's account
//! either) and sends anonymous visitors of pages to sign in (or to the first-run page). [`enforce`]
//! (on the API routes, where the matched route is known) applies [`policy`](super::policy).

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use super::policy::{self, Access};
use super::{clear_cookie, Caller, ClientInfo, Via, DEVICE_COOKIE, SESSION_COOKIE};
use crate::http::AppState;

/// The kiosk device signed in on this browser, even while a person is signed in over it.
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub Caller);

pub const CSRF_HEADER: &str = "x-csrf-token";

/// Paths anyone may open without signing in.
fn public_path(path: &str) -> bool {
    const EXACT: &[&str] =
        &["/login", "/setup", "/healthz", "/readyz", "/metrics", "/kiosk", "/kiosk/off", "/favicon.ico", "/robots.txt"];
    const PREFIXES: &[&str] = &["/pkg/", "/api/auth/", "/api/docs", "/api/v1/openapi.json"];
    if EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p)) {
        return true;
    }
    // Files of the site (fonts, icons) but never anything under /api.
    !path.starts_with("/api/") && path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

/// Routes that carry their own access rules in [`policy`].
fn policed_path(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/api/version" || path.starts_with("/api/files/")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (n, v) = c.trim().split_once('=')?;
        (n == name && !v.is_empty()).then_some(v)
    })
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).or_else(|| {
        let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = auth.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
    })
}

pub fn client_info(req: &Request) -> ClientInfo {
    let headers = req.headers();
    ClientInfo {
        ip: req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
        https: headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
            || req.uri().scheme_str() == Some("https"),
    }
}

/// Whether a write made with cookies came from our own pages: the browser's `Origin` (or
/// `Sec-Fetch-Site`) says so, or the request carries the session's CSRF token (for non-browser
/// clients that use cookies).
fn same_site(headers: &HeaderMap, csrf_token: &str) -> bool {
    match browser_says_ours(headers) {
        Some(ours) => ours,
        None => headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|t| constant_time_eq(t, csrf_token)),
    }
}

/// What the browser says about where a request comes from: `Some(true)` from our own pages (`Origin`
/// is this host, or `Sec-Fetch-Site` is same-origin or none), `Some(false)` from anywhere else (another
/// site, `Origin: null`), `None` when it says nothing (a client that is not a browser).
fn browser_says_ours(headers: &HeaderMap) -> Option<bool> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        return Some(!host.is_empty() && origin_host.eq_ignore_ascii_case(host));
    }
    let site = headers.get("sec-fetch-site")?.to_str().unwrap_or("");
    Some(matches!(site, "same-origin" | "none"))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds the caller and keeps anonymous and cross-site requests out. See the module's documentation.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client = client_info(&req);
    let headers = req.headers();
    let path = req.uri().path().to_string();
    let mut clear = Vec::new();

    let caller = if let Some(key) = api_key(headers) {
        match state.auth.key_caller(key).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                return error(StatusCode::UNAUTHORIZED, "This API key is not valid: it was revoked or mistyped.")
            }
            Err(e) => return database_down(e),
        }
    } else {
        None
    };
    let device = match cookie(headers, DEVICE_COOKIE) {
        Some(token) => match state.auth.session_caller(token, true).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                clear.push(clear_cookie(DEVICE_COOKIE));
                None
            }
            Err(e) => return database_down(e),
        },
        None => None,
    };
    let person = match (&caller, cookie(headers, SESSION_COOKIE)) {
        (None, Some(token)) => match state.auth.session_caller(token, false).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                clear.push(clear_cookie(SESSION_COOKIE));
                None
            }
            Err(e) => return database_down(e),
        },
        _ => None,
    };
    let caller = caller.or(person).or_else(|| device.clone());

    // Browsers send cookies (and make anonymous sign-in posts) for any website's page; API keys they
    // never add on their own, so a request with a key needs no check.
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let websocket = headers.get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let csrf = caller.as_ref().map(|c| match &c.via {
        Via::Session { csrf_token, .. } | Via::Device { csrf_token, .. } => Some(csrf_token.as_str()),
        Via::ApiKey { .. } => None,
    });
    let refused = match csrf {
        // With cookies: a write from our pages, or one carrying the session's CSRF token.
        Some(Some(token)) if unsafe_method => !same_site(headers, token),
        // A WebSocket reads what the cookie may read: browsers always say where it was opened from.
        Some(Some(_)) if websocket => browser_says_ours(headers) == Some(false),
        // Nobody signed in: a sign-in (or first-run) form on another site must not sign the visitor in
        // to an account of the attacker's choosing (login CSRF).
        None if unsafe_method => browser_says_ours(headers) == Some(false),
        _ => false,
    };
    if refused {
        return error(
            StatusCode::FORBIDDEN,
            "This request came from another website, so it was refused. Open Printfarm and try again there.",
        );
    }

    if caller.is_none() && !public_path(&path) && !policed_path(&path) {
        let mut response = if path.starts_with("/api/") || req.method() != Method::GET {
            error(StatusCode::UNAUTHORIZED, app::auth::text::SIGN_IN_FIRST)
        } else {
            let to = if state.auth.needs_setup().await {
                "/setup".to_string()
            } else {
                let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                format!("/login?next={}", urlencode(next))
            };
            Redirect::to(&to).into_response()
        };
        append_cookies(&mut response, &clear);
        return response;
    }

    if let Some(c) = &caller {
        req.extensions_mut().insert(c.viewer());
        req.extensions_mut().insert(c.clone());
    }
    if let Some(d) = device {
        req.extensions_mut().insert(DeviceCaller(d));
    }
    req.extensions_mut().insert(client);
    let user = caller.map(|c| crate::metrics::RequestUser(c.username));
    let mut response = next.run(req).await;
    append_cookies(&mut response, &clear);
    if let Some(user) = user {
        response.extensions_mut().insert(user);
    }
    response
}

/// Adds `Set-Cookie` headers (values that are not valid header text are skipped).
pub(super) fn append_cookies(response: &mut Response, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

fn database_down(e: crate::db::DbError) -> Response {
    tracing::error!("checking who is signed in: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "The box cannot check who you are right now; try again in a moment.")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Applies the route's access from [`policy::TABLE`]: 401 for nobody signed in, 403 for a role too low,
/// 403 for a route the table does not name.
pub async fn enforce(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let caller = req.extensions().get::<Caller>();
    match policy::access(req.method(), &route) {
        Some(Access::Public) => {}
        Some(Access::AtLeast(role)) => match caller {
            None => return error(StatusCode::UNAUTHORIZED, app::auth::text::SIGN_IN_FIRST),
            Some(c) if !c.may(role) => return error(StatusCode::FORBIDDEN, app::auth::text::NOT_ALLOWED),
            Some(_) => {}
        },
        None => {
            let known = policy::methods(&route);
            if !known.is_empty() {
                // A method the route does not take: say which it does, as HTTP asks (and still run nothing).
                tracing::warn!("{} {route}: not a method the access table names; refused", req.method());
                let mut response = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("{route} does not take {}; it takes {}.", req.method(), known.join(", ")),
                );
                if let Ok(allow) = HeaderValue::from_str(&known.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                return response;
            }
            tracing::error!("{} {route} has no access rule in auth::policy; refused", req.method());
            return error(StatusCode::FORBIDDEN, app::auth::text::NOT_ALLOWED);
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn writes_with_cookies_must_come_from_our_own_pages() {
        let token = "tok";
        assert!(same_site(&headers(&[("host", "farm.local"), ("origin", "http://farm.local")]), token));
        assert!(!same_site(&headers(&[("host", "farm.local"), ("origin", "http://evil.example")]), token));
        assert!(!same_site(&headers(&[("host", "farm.local"), ("origin", "null")]), token));
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")]), token));
        assert!(!same_site(&headers(&[("sec-fetch-site", "cross-site")]), token));
        assert!(same_site(&headers(&[(CSRF_HEADER, "tok")]), token));
        assert!(!same_site(&headers(&[(CSRF_HEADER, "tok2")]), token));
        assert!(!same_site(&HeaderMap::new(), token));
    }

    #[test]
    fn browsers_say_where_a_request_comes_from() {
        let ours = browser_says_ours;
        assert_eq!(ours(&headers(&[("host", "farm.local"), ("origin", "http://farm.local")])), Some(true));
        assert_eq!(ours(&headers(&[("host", "farm.local"), ("origin", "http://evil.example")])), Some(false));
        assert_eq!(ours(&headers(&[("host", "farm.local"), ("origin", "null")])), Some(false));
        assert_eq!(ours(&headers(&[("sec-fetch-site", "same-site")])), Some(false), "a neighbour is not us");
        assert_eq!(ours(&headers(&[("sec-fetch-site", "none")])), Some(true), "typed in the address bar");
        assert_eq!(ours(&headers(&[("host", "farm.local")])), None, "not a browser");
    }

    #[test]
    fn keys_come_from_either_header() {
        assert_eq!(api_key(&headers(&[("x-api-key", "pf_a")])), Some("pf_a"));
        assert_eq!(api_key(&headers(&[("authorization", "Bearer pf_b")])), Some("pf_b"));
        assert_eq!(api_key(&headers(&[("authorization", "Basic abc")])), None);
    }

    #[test]
    fn only_sign_in_and_static_files_are_public() {
        for p in ["/login", "/setup", "/pkg/printfarm.wasm", "/healthz", "/api/auth/sign_in", "/fonts/a.woff2"] {
            assert!(public_path(p), "{p}");
        }
        for p in ["/", "/queue", "/api/queue/act", "/api/v1/jobs/1/thumbnail.png", "/settings"] {
            assert!(!public_path(p), "{p}");
        }
        assert_eq!(urlencode("/jobs/3?x=a b"), "/jobs/3%3Fx%3Da%20b");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let h = headers(&[("cookie", "printfarm_sessionx=1; printfarm_session=abc; other=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, DEVICE_COOKIE), None);
    }
}
