//! Whole HTTP requests, hostile method, path, query, headers and body, through the server's real router (REST
//! API, pages, static files, health, kiosk) on a temporary SQLite database that persists across inputs, so
//! later requests meet the printers, models, spools and jobs earlier ones created.
//!
//! The input is a request written as text: `METHOD TARGET`, header lines, an empty line, then the body.
//! Lines the HTTP layer would refuse (a bad method, URI or header) are skipped, since hyper never passes
//! them on. Checked: no panic (in the handler or any task it starts), no 500 (a 500 means an error nobody
//! handled), and no response leaks a file from outside the site and data folders.
//!
//! The check of the `api_request` fuzz target: libFuzzer runs it (`fuzz_targets/api_request.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::Router;
use server::config::DemoConfig;
use server::db::Db;
use server::farm::Farm;
use server::http::{router, AppState};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Written beside (not inside) the site and data folders: a response containing it escaped them.
const SECRET: &str = "fuzz-secret-7f3a9c-outside-every-served-folder";
/// Simulated printers each hold a pseudo-terminal and threads; more would only exhaust the machine.
const MAX_PRINTERS: u32 = 6;

struct Server {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// An admin's API key, sent with inputs that bring no credentials of their own, so the fuzzer reaches
    /// the handlers and not only the sign-in gate.
    key: String,
    printers_added: AtomicU32,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // One thread: background work (dispatcher, generator) only moves while a request is served, which
        // keeps inputs close to reproducible.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("secret.txt"), SECRET).expect("the secret file");
        let data_dir = dir.path().join("data");
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("pkg")).expect("the site folder");
        std::fs::write(site.join("favicon.ico"), b"icon").expect("a static file");
        let (router, key) = runtime.block_on(async {
            let shutdown = CancellationToken::new();
            let db = Db::open(&data_dir).await.expect("a fresh database");
            let demo = DemoConfig { enabled: false, printers: 0, speed: 50.0 };
            let vault = std::sync::Arc::new(server::secrets::Vault::open(&data_dir).expect("the box's key"));
            let farm = Farm::start(&db, &data_dir, vault, &demo, shutdown.clone()).await.expect("the farm starts");
            let auth = server::auth::Auth::new(db.clone()).await.expect("accounts");
            let admin = auth
                .create_user("fuzzadmin", "", server::db::Role::Admin, Some("fuzz admin password"), None)
                .await
                .expect("an admin");
            let (_, key) = auth.create_key(&admin, "fuzzing", None).await.expect("a key");
            let mut leptos = leptos::config::get_configuration(None).expect("leptos options").leptos_options;
            leptos.site_root = site.to_string_lossy().as_ref().into();
            let generator = server::generate::Generator::start(
                db.clone(),
                &data_dir,
                genai::engine::Engine::procedural_only(),
                shutdown.clone(),
            )
            .await
            .expect("the generator starts");
            (router(AppState { leptos, db, farm, generator, shutdown, auth }), key)
        });
        Server { runtime, router, key, printers_added: AtomicU32::new(0), _dir: dir }
    })
}

/// Parses the text form; `None` for what hyper would refuse before the router sees it.
fn request(data: &[u8], key: &str) -> Option<Request<Body>> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next()?;
    let space = first.iter().position(|&b| b == b' ')?;
    let method = Method::from_bytes(&first[..space]).ok()?;
    let uri = Uri::try_from(&first[space + 1..]).ok()?;
    // Origin-form only, as a server receives it.
    uri.path_and_query()?;
    if uri.scheme().is_some() || !uri.path().starts_with('/') {
        return None;
    }
    let mut req = Request::builder().method(method).uri(uri);
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = HeaderName::from_bytes(&line[..colon]).ok()?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
        req = req.header(name, value);
    }
    let mut req = req.body(Body::from(body.to_vec())).ok()?;
    let headers = req.headers();
    if !["x-api-key", "authorization", "cookie"].iter().any(|h| headers.contains_key(*h)) {
        req.headers_mut().insert("x-api-key", HeaderValue::from_str(key).ok()?);
    }
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    Some(req)
}

/// Requests that would reach real hardware or the network on the fuzzing machine: discovery (serial probes,
/// mDNS, HTTP to any host), printers with a real driver (serial ports, OctoPrint/Moonraker URLs) and a
/// webhook address for notifications. The JSON is read as the server reads it, escapes and all.
fn touches_the_outside(req: &Request<Body>, body: &[u8]) -> bool {
    if req.uri().path().contains("discover") {
        return true;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return false };
    json.get("driver").is_some_and(|d| d.as_str() != Some("simulated"))
        || json.get("webhook_url").is_some_and(|u| !u.is_null() && u.as_str() != Some(""))
}

fn adds_a_printer(req: &Request<Body>) -> bool {
    req.method() == Method::POST && req.uri().path().trim_end_matches('/') == "/api/v1/printers"
}

pub fn check(data: &[u8]) {
    let server = server();
    let Some(req) = request(data, &server.key) else { return };
    let body_start = data.windows(2).position(|w| w == b"\n\n").map_or(data.len(), |i| i + 2);
    if touches_the_outside(&req, &data[body_start..]) {
        return;
    }
    let adding = adds_a_printer(&req);
    if adding && server.printers_added.load(Ordering::Relaxed) >= MAX_PRINTERS {
        return;
    }
    let what = format!("{} {}", req.method(), req.uri());
    let (status, headers, body) = server.runtime.block_on(async {
        let response = server.router.clone().oneshot(req).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let streaming = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
        // Event streams never end; their first events are enough.
        let limit = if streaming { Duration::from_millis(50) } else { Duration::from_secs(30) };
        let bytes = match tokio::time::timeout(limit, axum::body::to_bytes(body, 64 << 20)).await {
            Ok(Ok(bytes)) => bytes.to_vec(),
            Ok(Err(e)) => panic!("{what}: the response body failed: {e}"),
            Err(_) if streaming => Vec::new(),
            Err(_) => panic!("{what}: the response body did not finish in 30 s"),
        };
        (parts.status, parts.headers, bytes)
    });
    if adding && status.is_success() {
        server.printers_added.fetch_add(1, Ordering::Relaxed);
    }
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: 500 {}", String::from_utf8_lossy(&body));
    // Compressed bodies cannot hold the secret verbatim; the request can ask for no compression, and the
    // fuzzer finds that form too.
    // A request that carries the secret itself may see it echoed (a 404 naming the path) without any leak.
    let echoed = data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    if !echoed && !headers.contains_key(axum::http::header::CONTENT_ENCODING) {
        assert!(
            !body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{what}: the response leaks a file from outside the served folders"
        );
    }
}
