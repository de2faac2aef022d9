//! HTTP: the route table (pages, health, REST, live events) and serving it with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::SharedFarmDirectory;
use app::wire::FarmEvent;
use app::{shell, App};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::SinkExt;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::farm::Farm;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub db: Db,
    pub farm: Farm,
    /// Text-to-3D requests: queue, workers, cache.
    pub generator: crate::generate::Generator,
    /// Cancelled on SIGTERM/Ctrl-C so long-lived connections (the event stream) end promptly.
    pub shutdown: CancellationToken,
    /// Accounts: sign-in, sessions, API keys.
    pub auth: crate::auth::Auth,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The whole route table.
pub fn router(state: AppState) -> Router {
    let directory: SharedFarmDirectory = Arc::new(state.farm.clone());
    let desk: app::api::SharedGenerationDesk = Arc::new(state.generator.clone());
    let desks_state = state.clone();
    let context = move || {
        provide_context(directory.clone());
        provide_context(desk.clone());
        crate::desks::provide_all(&desks_state);
    };
    // Every route that the access table in auth::policy governs.
    let api = Router::new()
        .route("/api/v1/printers", get(list_printers))
        .route("/api/v1/events", get(events))
        .merge(crate::api::routes(state.clone()))
        .merge(crate::auth::routes::routes())
        .merge(crate::octoprint::routes(state.clone()))
        .route_layer(axum::middleware::from_fn(crate::auth::gate::enforce))
        .layer(axum::middleware::from_fn(json_errors));
    let routes = generate_route_list(App);
    let leptos = state.leptos.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::render))
        .route("/kiosk", get(kiosk_on))
        .route("/kiosk/off", get(kiosk_off))
        .merge(api)
        // Outside the access table: an unknown API path is a JSON 404, not the app's "page not found".
        .route_service("/api/v1/{*rest}", axum::routing::any(api_not_found).with_state::<()>(()))
        // The API's description and docs page are public, like any API's documentation.
        .merge(crate::openapi::routes())
        .leptos_routes_with_context(&state, routes, context, move || shell(leptos.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::gate::identify))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        // Outermost, so a body announced too big is refused before anything else (sign-in included) runs.
        .layer(axum::middleware::from_fn(crate::connections::refuse_oversized_bodies))
        .with_state(state)
}

async fn api_not_found(uri: axum::http::Uri) -> Response {
    let message = format!("There is no {} in this API; /api/v1/openapi.json lists what there is.", uri.path());
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// The most of a plain-text error body that is turned into JSON (axum's rejections are a sentence).
const MAX_TEXT_ERROR: usize = 16 << 10;

/// Middleware on the API: errors that axum answers itself in plain text (a bad path parameter or query,
/// a wrong method, an unreadable body) become `{"error": "..."}` like every other API error, so clients
/// need one way to read failures.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_TEXT_ERROR).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_string(),
        _ => status.canonical_reason().unwrap_or("request failed").to_string(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let mut json = Json(json!({ "error": text })).into_response();
    *json.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        json.headers_mut().append(name, value.clone());
    }
    json
}

#[derive(serde::Deserialize)]
struct KioskQuery {
    idle: Option<u32>,
}

/// `GET /kiosk[?idle=SECONDS]`: makes this browser a kiosk (a cookie for ten years) and opens Create.
/// Turning kiosk mode off will need a manager once accounts exist (issue #9).
async fn kiosk_on(axum::extract::Query(q): axum::extract::Query<KioskQuery>) -> Response {
    let idle = q.idle.unwrap_or(app::kiosk::DEFAULT_IDLE_S).clamp(10, 3600);
    let cookie = format!("{}={idle}; Path=/; Max-Age=315360000; SameSite=Strict", app::kiosk::COOKIE);
    ([(axum::http::header::SET_COOKIE, cookie)], axum::response::Redirect::to("/create")).into_response()
}

/// `GET /kiosk/off`: back to an ordinary browser.
async fn kiosk_off() -> Response {
    let cookie = format!("{}=; Path=/; Max-Age=0; SameSite=Strict", app::kiosk::COOKIE);
    ([(axum::http::header::SET_COOKIE, cookie)], axum::response::Redirect::to("/")).into_response()
}

/// Liveness and readiness: 200 with details when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    let db = state.db.ping().await;
    let body = json!({
        "status": if db.is_ok() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": db.as_ref().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
        "printers": state.farm.len(),
    });
    let code = if db.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

/// Readiness: 200 once the database answers and the farm is running; 503 while shutting down or when
/// the database does not answer, so a load balancer or systemd watchdog stops sending work.
async fn readyz(State(state): State<AppState>) -> Response {
    let db = state.db.ping().await;
    let stopping = state.shutdown.is_cancelled();
    let ready = db.is_ok() && !stopping;
    let body = json!({
        "ready": ready,
        "database": db.as_ref().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
        "shutting_down": stopping,
    });
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

/// `GET /api/v1/printers`: every printer with its live status.
async fn list_printers(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.farm.snapshot())
}

/// `GET /api/v1/events`: the live event stream (WebSocket, JSON text frames of [`FarmEvent`]).
async fn events(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| stream_events(socket, state))
}

async fn stream_events(mut socket: WebSocket, state: AppState) {
    // Subscribe before taking the snapshot so no change can fall between the two.
    let mut rx = state.farm.subscribe();
    if send_event(&mut socket, &FarmEvent::Snapshot { printers: state.farm.snapshot() }).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            event = rx.recv() => {
                // Whatever else is already waiting goes out in the same write, so a client that fell
                // a little behind catches up with one flush rather than one per event.
                let mut next = Some(event);
                while let Some(event) = next.take() {
                    let frame = match event {
                        Ok(published) => Message::Text(published.json),
                        // A slow client missed events: one fresh snapshot replaces them all.
                        Err(RecvError::Lagged(_)) => snapshot_frame(&state),
                        Err(RecvError::Closed) => return,
                    };
                    if socket.feed(frame).await.is_err() {
                        return;
                    }
                    match rx.try_recv() {
                        Ok(p) => next = Some(Ok(p)),
                        Err(TryRecvError::Lagged(n)) => next = Some(Err(RecvError::Lagged(n))),
                        Err(TryRecvError::Closed) => next = Some(Err(RecvError::Closed)),
                        Err(TryRecvError::Empty) => {}
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say yet; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn snapshot_frame(state: &AppState) -> Message {
    let text = serde_json::to_string(&FarmEvent::Snapshot { printers: state.farm.snapshot() })
        .expect("events always serialise");
    Message::Text(text.into())
}

async fn send_event(socket: &mut WebSocket, event: &FarmEvent) -> Result<(), axum::Error> {
    let text = serde_json::to_string(event).expect("events always serialise");
    socket.send(Message::Text(text.into())).await
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
    #[error("leptos configuration: {0}")]
    Leptos(String),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretError),
}

/// Binds the configured address and serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), ServeError> {
    let listener = bind(config.listen).map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    serve_on(config, listener, shutdown).await
}

/// Connections the kernel may hold for us before we accept them (it caps this at `net.core.somaxconn`).
const ACCEPT_BACKLOG: u32 = 4096;

/// A listening socket with a deep accept queue: with the usual 128, a burst of a few hundred browsers
/// (a class opening the dashboard, every kiosk reconnecting after a restart) overflows it and the
/// overflow waits a whole second for the kernel to retry the handshake.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves on an already bound listener (tests bind port 0), then shuts down cleanly: stops accepting,
/// closes event streams, lets in-flight requests finish, stops printer tasks and checkpoints the database.
pub async fn serve_on(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServeError> {
    let db = Db::open(&config.data_dir).await?;
    let vault = Arc::new(crate::secrets::Vault::open(&config.data_dir)?);
    crate::secrets::seal_plain_credentials(&db, &vault).await?;
    crate::secrets::bind_credentials_to_addresses(&db, &vault).await?;
    let reach = crate::reach::ReachPolicy { allow_local: config.allow_local_network };
    let farm = Farm::start_with(&db, &config.data_dir, vault, &config.demo, reach, shutdown.clone()).await?;
    let mut leptos =
        leptos::config::get_configuration(None).map_err(|e| ServeError::Leptos(e.to_string()))?.leptos_options;
    leptos.site_addr = listener.local_addr()?;
    leptos.site_root = config.site_root.to_string_lossy().as_ref().into();
    let generator = crate::generate::Generator::start(
        db.clone(),
        &config.data_dir,
        genai::engine::Engine::procedural_only(),
        shutdown.clone(),
    )
    .await?;
    generator.reload_engine();
    let auth = crate::auth::Auth::new(db.clone()).await?;
    let state = AppState { leptos, db: db.clone(), farm: farm.clone(), generator, shutdown: shutdown.clone(), auth };

    tracing::info!(address = %listener.local_addr()?, data_dir = %config.data_dir.display(), "listening");
    crate::connections::serve_connections(listener, router(state), config.connections, shutdown.clone()).await;

    shutdown.cancel();
    farm.join(Duration::from_secs(10)).await;
    db.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGTERM (systemd stop) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}
