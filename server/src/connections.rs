//! Accepting connections, with bounds on what one client can hold: a deadline for each request's header,
//! a deadline for each pause in a request's body, a number of connections per address, and an early
//! 413 for a body announced bigger than its route takes (before sign-in or anything else runs).
//!
//! Without them a handful of scripts can keep every connection the box has open for ever by sending
//! half a header, one header line every few seconds, or a `Content-Length` they never send.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::Service;
use tower_http::timeout::TimeoutBody;

use crate::config::ConnectionLimits;

/// The most a request body may announce on routes that take no files: axum's own default body limit,
/// far above any form or JSON the app sends.
pub const SMALL_BODY_LIMIT: usize = 2 << 20;

/// The most bytes a request to `path` may carry: files on the upload routes, [`SMALL_BODY_LIMIT`]
/// everywhere else.
pub fn body_limit(method: &Method, path: &str) -> usize {
    if method == Method::POST {
        if path == "/api/v1/models" {
            return crate::library::MAX_MODEL_BYTES;
        }
        if path == "/api/files/local" {
            return crate::octoprint::MAX_GCODE_BYTES + (1 << 20);
        }
        // The editor saves a 3MF as base64 in JSON: a third bigger than the file.
        if path.starts_with("/api/save_edited_model") {
            return crate::library::MAX_MODEL_BYTES / 3 * 4 + (1 << 20);
        }
    }
    SMALL_BODY_LIMIT
}

/// Middleware: a request whose `Content-Length` is over its route's [`body_limit`] is answered 413 at
/// once, and the connection closed, without reading the body or asking who sent it.
pub async fn refuse_oversized_bodies(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = body_limit(req.method(), req.uri().path());
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        let message = format!(
            "That is too much to send here: this address takes at most {} MB at once.",
            (limit as u64).div_ceil(1 << 20)
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, [(header::CONNECTION, "close")], Json(json!({ "error": message })))
            .into_response();
    }
    next.run(req).await
}

/// Open connections per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerAddress`], given back when the connection ends.
struct Slot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, most: usize) -> Option<Slot> {
        let mut open = self.0.lock().expect("connection table");
        let count = open.entry(ip).or_insert(0);
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(Slot { table: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.table.0.lock().expect("connection table");
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops accepting, lets each connection
/// finish the request it is answering (idle ones close at once) and returns when all have closed.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let table = Arc::new(PerAddress::default());
    let mut open = tokio::task::JoinSet::new();
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait for some to close rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while open.try_join_next().is_some() {}
        let Some(slot) = table.take(remote.ip(), limits.per_address) else {
            tracing::warn!(address = %remote.ip(), limit = limits.per_address, "too many connections from one address; closed one");
            continue;
        };
        open.spawn(serve_connection(stream, remote, app.clone(), limits, shutdown.clone(), slot));
    }
    drop(listener);
    while open.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    _slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let body_idle = limits.body_idle_timeout;
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        // A body that pauses longer than `body_idle` ends in an error, which the handler reading it
        // answers (and the connection closes, its body unread).
        let req = req.map(|body| axum::body::Body::new(TimeoutBody::new(body_idle, body)));
        let mut app = app.clone();
        async move { Ok::<_, Infallible>(app.call(req).await.unwrap_or_else(|never| match never {})) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header deadline runs from a connection's start and again after each answer, so it also closes
    // connections left idle.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(address = %remote, "connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upload_routes_take_big_bodies() {
        assert_eq!(body_limit(&Method::POST, "/api/v1/models"), crate::library::MAX_MODEL_BYTES);
        assert!(body_limit(&Method::POST, "/api/files/local") > 100 << 20);
        assert_eq!(body_limit(&Method::GET, "/api/v1/models"), SMALL_BODY_LIMIT);
        assert_eq!(body_limit(&Method::POST, "/api/v1/auth/login"), SMALL_BODY_LIMIT);
        assert_eq!(body_limit(&Method::PUT, "/api/v1/farm/settings"), SMALL_BODY_LIMIT);
    }

    #[test]
    fn addresses_get_their_slots_back() {
        let table = Arc::new(PerAddress::default());
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let held: Vec<Slot> = (0..3).map(|_| table.take(ip, 3).unwrap()).collect();
        assert!(table.take(ip, 3).is_none(), "a fourth connection from one address");
        assert!(table.take("10.0.0.6".parse().unwrap(), 3).is_some(), "another address is not affected");
        drop(held);
        assert!(table.take(ip, 3).is_some());
        assert!(table.0.lock().unwrap().get(&"10.0.0.6".parse::<IpAddr>().unwrap()).is_none());
    }
}
