//! Printer credentials at rest and in flight: an OctoPrint key and a Moonraker token added over REST
//! are sealed in `printer_secrets`, no file in the data directory holds them in the clear, no answer a
//! browser can get (REST, pages, the event stream, the audit log) shows them, and the farm's driver
//! still sends the key to the printer — after a change without a key and after a restart too.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use futures::StreamExt;
use serde_json::{json, Value};
use server::http::ServeError;
use server::secrets::SecretError;
use tokio::net::TcpListener;

use common::{start, wait_until, Running, LIMIT};

const OCTO_KEY: &str = "OCTO-KEY-3f9a1c7e5b2d40689e11";
const MOON_KEY: &str = "MOON-TOKEN-b71d02c4e98a53f6aa7";
const NEW_KEY: &str = "OCTO-ROTATED-5c2e8f0a91d7b364";
const KEYS: [&str; 3] = [OCTO_KEY, MOON_KEY, NEW_KEY];

/// A stand-in OctoPrint that answers every request like `/api/version` and remembers each `X-Api-Key`.
async fn fake_octoprint() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            if let Some(key) = headers.get("x-api-key").and_then(|k| k.to_str().ok()) {
                log.lock().unwrap().push(key.to_string());
            }
            axum::Json(json!({ "api": "0.1", "server": "1.10.2", "text": "OctoPrint 1.10.2" }))
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn times_seen(seen: &Mutex<Vec<String>>, key: &str) -> usize {
    seen.lock().unwrap().iter().filter(|k| *k == key).count()
}

fn assert_no_key(what: &str, text: &str) {
    for key in KEYS {
        assert!(!text.contains(key), "{what} shows a printer key: {text}");
    }
}

/// Every file under the data directory except the key file itself, as bytes: the database, its WAL and
/// anything else the server wrote.
fn assert_no_key_on_disk(dir: &Path) {
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "secret.key") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                for key in KEYS {
                    let found = bytes.windows(key.len()).any(|w| w == key.as_bytes());
                    assert!(!found, "{} holds the printer key {key} in the clear", path.display());
                }
                files += 1;
            }
        }
    }
    assert!(files >= 1 && dir.join("printfarm.db").exists(), "the database file was not checked");
}

async fn text(s: &Running, path: &str) -> String {
    let r = s.http.get(s.url(path)).send().await.unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.text().await.unwrap()
}

async fn patch(s: &Running, path: &str, body: Value) -> Value {
    let (status, v) = s.send(reqwest::Method::PATCH, path, None, body).await;
    assert_eq!(status, 200, "PATCH {path}: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_keys_are_sealed_hidden_and_still_reach_the_printer() {
    let dir = tempfile::tempdir().unwrap();
    let (octo_url, seen) = fake_octoprint().await;
    let s = start(dir.path()).await;
    wait_until("the server answers", async || s.http.get(s.url("/healthz")).send().await.is_ok()).await;

    let key_file = dir.path().join("secret.key");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);

    let octo = s
        .post(
            "/api/v1/printers",
            None,
            json!({ "name": "octopi", "driver": "octoprint", "build_mm": [220, 220, 250],
                    "connection": { "url": octo_url, "api_key": OCTO_KEY } }),
        )
        .await;
    assert_no_key("the answer to adding a printer", &octo.to_string());
    assert_eq!(octo["api_key_set"], true, "{octo}");
    let octo_id = octo["id"].as_i64().unwrap();
    // Moonraker on a port nobody listens on: only how its token is kept matters here.
    let moon_url = format!("http://127.0.0.1:{}", common::free_port());
    let moon = s
        .post(
            "/api/v1/printers",
            None,
            json!({ "name": "voron", "driver": "moonraker", "build_mm": [300, 300, 300], "firmware": "klipper",
                    "connection": { "url": moon_url, "api_key": MOON_KEY } }),
        )
        .await;
    assert_eq!(moon["api_key_set"], true, "{moon}");
    let marlin = s
        .post(
            "/api/v1/printers",
            None,
            json!({ "name": "mk3", "driver": "marlin", "build_mm": [250, 210, 210],
                    "connection": { "port": "/dev/null-printer", "baud": 115200 } }),
        )
        .await;
    assert_eq!(marlin["api_key_set"], false, "{marlin}");

    // The farm opened the driver with the sealed key: the printer was asked with it.
    wait_until("the OctoPrint driver to send its key", async || times_seen(&seen, OCTO_KEY) > 0).await;

    // Nothing a browser can fetch shows a key.
    let ids = [octo_id, moon["id"].as_i64().unwrap()];
    assert_no_key("the printer list", &text(&s, "/api/v1/printers").await);
    for id in ids {
        let one = text(&s, &format!("/api/v1/printers/{id}")).await;
        assert_no_key("a printer's JSON", &one);
        assert!(one.contains(r#""api_key_set":true"#), "{one}");
        assert_no_key("a printer's page", &text(&s, &format!("/printers/{id}")).await);
    }
    assert_no_key("the Printers page", &text(&s, "/printers").await);
    assert_no_key("the audit log", &text(&s, "/api/v1/audit").await);
    let mut ws = s.events().await;
    let snapshot = tokio::time::timeout(LIMIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert_no_key("the event stream's snapshot", snapshot.to_text().unwrap());
    assert_no_key_on_disk(dir.path());

    // A new address without a key keeps the stored key, and the reconnected driver still sends it.
    let before = times_seen(&seen, OCTO_KEY);
    let changed = patch(&s, &format!("/api/v1/printers/{octo_id}"), json!({ "connection": { "url": octo_url } })).await;
    assert_eq!(changed["api_key_set"], true, "{changed}");
    wait_until("the reconnected driver to send the kept key", async || times_seen(&seen, OCTO_KEY) > before).await;
    // Events after the change carry no key either.
    for _ in 0..2 {
        let frame = tokio::time::timeout(LIMIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert_no_key("an event after the change", frame.to_text().unwrap());
    }
    // A key alone replaces the key and keeps the address.
    let rotated =
        patch(&s, &format!("/api/v1/printers/{octo_id}"), json!({ "connection": { "api_key": NEW_KEY } })).await;
    assert_no_key("the answer to changing a key", &rotated.to_string());
    wait_until("the driver to send the new key", async || times_seen(&seen, NEW_KEY) > 0).await;
    // Removing the Moonraker token (it is optional there).
    let cleared = patch(
        &s,
        &format!("/api/v1/printers/{}", ids[1]),
        json!({ "connection": { "url": moon_url, "api_key": null } }),
    )
    .await;
    assert_eq!(cleared["api_key_set"], false, "{cleared}");
    let (status, bad) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/printers/{octo_id}"),
            None,
            json!({ "connection": { "url": octo_url, "api_key": 42 } }),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    assert_no_key_on_disk(dir.path());
    drop(ws);
    s.stop().await;
    assert_no_key_on_disk(dir.path());

    // After a restart the sealed key still opens and reaches the printer.
    let before = times_seen(&seen, NEW_KEY);
    let s = start(dir.path()).await;
    wait_until("the restarted farm to send the key", async || times_seen(&seen, NEW_KEY) > before).await;
    s.stop().await;

    // A key file others can read stops the server with a clear reason.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = start(dir.path()).await;
    let refused = tokio::time::timeout(Duration::from_secs(60), s.handle).await.unwrap().unwrap();
    match refused {
        Err(ServeError::Secrets(e @ SecretError::InsecureKeyFile { .. })) => {
            assert!(e.to_string().contains("chmod 600"), "{e}")
        }
        other => panic!("the server started with a readable key file: {other:?}"),
    }
}
