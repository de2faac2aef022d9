//! Issue 20, findings 4 to 8: each test performs the outside probe's attack on the real server (real
//! SQLite file, real sockets on 127.0.0.1) and checks that it fails.
//!
//! - 4: a printer's stored API key never goes to an address it was not typed in for.
//! - 5: a small 3MF that inflates to hundreds of MB is refused from its headers, and one under the limit
//!   is parsed without ever being held inflated.
//! - 6: half headers, trickled headers, bodies announced and never sent, and floods of connections from
//!   one address are cut off.
//! - 7: printers, discovery and the webhook cannot make the box reach itself or follow redirects away.
//! - 8: the database files are private, and the editor page renders whole under concurrent loads.

use crate::common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use server::config::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{start, start_with, wait_until, Running};

/// How long a test waits for something the server should do at once (generous: a loaded CI machine).
const BOUND: Duration = Duration::from_secs(15);

// ---- helpers ----------------------------------------------------------------------------------------

/// A stand-in OctoPrint on `host` that answers like `/api/version` (or redirects every request to
/// `redirect`) and remembers each request's `X-Api-Key` (`-` for none).
async fn fake_octoprint(host: &str, redirect: Option<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
        let log = log.clone();
        let redirect = redirect.clone();
        async move {
            let key = headers.get("x-api-key").and_then(|k| k.to_str().ok()).unwrap_or("-").to_string();
            log.lock().unwrap().push(key);
            match redirect {
                Some(to) => axum::response::Redirect::temporary(&format!("{to}{}", uri.path())).into_response(),
                None => {
                    axum::Json(json!({ "api": "0.1", "server": "1.10.2", "text": "OctoPrint 1.10.2" })).into_response()
                }
            }
        }
    });
    let listener = TcpListener::bind((host, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn count(seen: &Mutex<Vec<String>>, key: &str) -> usize {
    seen.lock().unwrap().iter().filter(|k| *k == key).count()
}

/// Reads until the server closes the connection; `None` if it is still open after `bound`.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|_| got)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

async fn add_printer(s: &Running, body: Value) -> (u16, Value) {
    s.send(reqwest::Method::POST, "/api/v1/printers", None, body).await
}

// ---- 4: printer keys stay with their address ---------------------------------------------------------

const KEY: &str = "OCTO-KEY-4c1d9e0b7a2f";

#[tokio::test]
async fn a_changed_printer_address_never_receives_the_stored_key() {
    let dir = tempfile::tempdir().unwrap();
    let (home, home_seen) = fake_octoprint("127.0.0.1", None).await;
    let (attacker, attacker_seen) = fake_octoprint("127.0.0.1", None).await;
    let s = start(dir.path()).await;
    let (status, p) = add_printer(
        &s,
        json!({ "name": "octopi", "driver": "octoprint", "build_mm": [220, 220, 250],
                "connection": { "url": home, "api_key": KEY } }),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_i64().unwrap();
    wait_until("the printer to be asked with its key", async || count(&home_seen, KEY) > 0).await;

    // The attack: a manager changes only the address.
    let (status, changed) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/printers/{id}"),
            None,
            json!({ "connection": { "url": attacker } }),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["api_key_set"], false, "the key stayed with a new address: {changed}");
    // The farm reconnects at once; give it the time the probe gave it ("within seconds").
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&attacker_seen, KEY), 0, "the stored key was sent to the new address");

    // Typed again for the new address, a key is used there.
    let (status, _) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/printers/{id}"),
            None,
            json!({ "connection": { "url": attacker, "api_key": "RETYPED-KEY" } }),
        )
        .await;
    assert_eq!(status, 200);
    wait_until("the retyped key to be used", async || count(&attacker_seen, "RETYPED-KEY") > 0).await;
    s.stop().await;

    // The mechanism, not only the handler: the address changed behind the API's back (a database edit, a
    // restored backup) still does not open the key for it.
    let db = server::db::Db::open(dir.path()).await.unwrap();
    let change = server::db::PrinterChange { connection: Some(json!({ "url": home })), ..Default::default() };
    db.printers().update(id, &change).await.unwrap();
    db.close().await;
    let s = start(dir.path()).await;
    wait_until("the printer to ask for its key again", async || {
        let detail = s.get(&format!("/api/v1/printers/{id}")).await;
        detail["status"]["message"].as_str().unwrap_or_default().contains("type the printer's API key again")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&home_seen, "RETYPED-KEY"), 0, "a key sealed for one address opened for another");
    s.stop().await;
}

// ---- 5: inflation bombs ------------------------------------------------------------------------------

/// CRC-32 (the zip one), bytewise with a table.
fn crc32(chunks: &[&[u8]], repeat_middle: u64) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|mut c| {
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            c
        })
        .collect();
    let mut crc = !0u32;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
        }
    };
    feed(chunks[0]);
    for _ in 0..repeat_middle {
        feed(chunks[1]);
    }
    feed(chunks[2]);
    !crc
}

/// Deflate with fixed Huffman codes: `head`, then `padding` spaces as back-references (13 bits per 258
/// bytes, the way bombs are made), then `tail`.
fn deflate_padded(head: &[u8], padding: u64, tail: &[u8]) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            let reversed = (code.reverse_bits() >> (32 - len)) as u64;
            self.put(reversed, len);
        }
        fn literal(&mut self, b: u8) {
            if b < 144 {
                self.code(0x30 + b as u32, 8);
            } else {
                self.code(0x190 + (b as u32 - 144), 9);
            }
        }
    }
    let mut w = Bits { out: Vec::new(), acc: 0, n: 0 };
    w.put(1, 1); // the last block
    w.put(1, 2); // fixed Huffman codes
    for &b in head {
        w.literal(b);
    }
    let mut left = padding;
    if left > 0 {
        w.literal(b' ');
        left -= 1;
    }
    while left >= 258 {
        w.code(0xC5, 8); // length code 285: 258 bytes
        w.code(0, 5); // distance code 0: 1 byte back
        left -= 258;
    }
    for _ in 0..left {
        w.literal(b' ');
    }
    for &b in tail {
        w.literal(b);
    }
    w.code(0, 7); // end of block
    if w.n > 0 {
        w.out.push(w.acc as u8);
    }
    w.out
}

const MODEL_HEAD: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">"#;
const MODEL_TAIL: &[u8] = br#"<resources><object id="1" type="model"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="10" y="0" z="0"/><vertex x="0" y="10" z="0"/><vertex x="0" y="0" z="10"/></vertices><triangles><triangle v1="0" v2="2" v3="1"/><triangle v1="0" v2="1" v3="3"/><triangle v1="1" v2="2" v3="3"/><triangle v1="0" v2="3" v3="2"/></triangles></mesh></object></resources><build><item objectid="1"/></build></model>"#;

/// A 3MF whose model part is a small tetrahedron after `padding` spaces: a few KB or MB of zip that
/// inflates to `padding` bytes. With `honest_crc` false the checksum is left 0 (for files refused before
/// inflating, where computing it would only slow the test).
fn inflation_bomb(padding: u64, honest_crc: bool) -> Vec<u8> {
    let name = b"3D/3dmodel.model";
    let data = deflate_padded(MODEL_HEAD, padding, MODEL_TAIL);
    let size = MODEL_HEAD.len() as u64 + padding + MODEL_TAIL.len() as u64;
    let crc = if honest_crc {
        // The padding as 1 MiB chunks of spaces plus the rest, for a quick checksum.
        let chunk = vec![b' '; 1 << 20];
        let whole = padding >> 20;
        let rest = vec![b' '; (padding & ((1 << 20) - 1)) as usize];
        let tail: Vec<u8> = rest.iter().chain(MODEL_TAIL).copied().collect();
        crc32(&[MODEL_HEAD, &chunk[..], &tail[..]], whole)
    } else {
        0
    };
    let size32 = u32::try_from(size).expect("bombs here stay under 4 GiB");
    let mut zip = Vec::new();
    // Local file header.
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
    zip.extend_from_slice(&0u16.to_le_bytes()); // flags
    zip.extend_from_slice(&8u16.to_le_bytes()); // deflate
    zip.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
    zip.extend_from_slice(&size32.to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name);
    zip.extend_from_slice(&data);
    let central = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&20u16.to_le_bytes()); // made by
    zip.extend_from_slice(&20u16.to_le_bytes()); // needed
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(&8u16.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0x21, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
    zip.extend_from_slice(&size32.to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    zip.extend_from_slice(name);
    let central_len = zip.len() as u32 - central;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

/// The probe's bomb, sized as it was: 900 MiB from a zip of a few MB (refused from its header, before
/// anything is inflated), three at once.
#[tokio::test]
async fn a_3mf_that_inflates_past_the_limit_is_refused_before_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let bomb = inflation_bomb(900 << 20, false);
    assert!(bomb.len() < 8 << 20, "the bomb is {} bytes", bomb.len());
    let uploads = (0..3).map(|i| {
        let s = &s;
        let bomb = bomb.clone();
        async move {
            let r = s.http.post(s.url(&format!("/api/v1/models?name=bomb{i}.3mf"))).body(bomb).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    for (status, answer) in futures::future::join_all(uploads).await {
        assert_eq!(status, 422, "{answer}");
        let said = answer["error"].as_str().unwrap();
        assert!(said.contains("over the 256 MiB limit"), "{said}");
    }
    s.stop().await;
}

/// The server's peak memory (`VmHWM`), in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Under the limit, a bomb is read as it inflates: three uploads at once, then its thumbnail, raise the
/// server's peak memory by less than one inflated copy (the reader used to hold each whole).
#[tokio::test]
async fn a_bomb_under_the_limit_is_never_held_inflated() {
    const PADDING: u64 = 48 << 20;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let key = common::admin_key(dir.path()).await;
    let server = common::serve_binary(dir.path(), port);
    let http = common::client_with(&key);
    let base = format!("http://127.0.0.1:{port}");
    let bomb = inflation_bomb(PADDING, true);
    let before = peak_memory(server.pid());
    let uploads = (0..3).map(|i| {
        let (http, bomb, base) = (http.clone(), bomb.clone(), base.clone());
        async move {
            let r = http.post(format!("{base}/api/v1/models?name=padded{i}.3mf")).body(bomb).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(uploads).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
        assert_eq!(answer["triangles"], 4, "{answer}");
    }
    let version = answers[0].1["version_id"].as_i64().unwrap();
    let png = http.get(format!("{base}/api/v1/models/versions/{version}/thumbnail.png")).send().await.unwrap();
    assert_eq!(png.status(), 200);
    let grew = peak_memory(server.pid()).saturating_sub(before);
    assert!(grew < PADDING, "peak memory grew by {} MiB parsing a {} MiB part", grew >> 20, PADDING >> 20);
}

// ---- 6: idle and slow connections ----------------------------------------------------------------

fn short_timeouts(config: &mut server::config::Config) {
    config.connections = ConnectionLimits {
        header_timeout: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(1),
        per_address: 64,
    };
}

#[tokio::test]
async fn half_headers_trickled_headers_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), short_timeouts).await;
    let mut half = Vec::new();
    for _ in 0..5 {
        let mut c = connect(s.addr).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        half.push(c);
    }
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(connect(s.addr).await);
    }
    let mut trickle = Vec::new();
    for _ in 0..5 {
        let mut c = connect(s.addr).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        trickle.push(c);
    }
    // One header line every 200 ms, as long as the server lets them.
    let trickling = tokio::spawn(async move {
        for i in 0..200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut open = 0;
            for c in &mut trickle {
                if c.write_all(format!("X-Line-{i}: a\r\n").as_bytes()).await.is_ok() {
                    open += 1;
                }
            }
            if open == 0 {
                break;
            }
        }
        trickle
    });
    for c in half.iter_mut().chain(idle.iter_mut()) {
        assert!(closed_within(c, BOUND).await.is_some(), "a slow connection is still open");
    }
    let mut trickle = trickling.await.unwrap();
    for c in &mut trickle {
        assert!(closed_within(c, BOUND).await.is_some(), "a trickling connection is still open");
    }
    // A kept-alive connection is closed once idle too, after answering.
    let mut kept = connect(s.addr).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answered = closed_within(&mut kept, BOUND).await.expect("the idle kept-alive connection stays open");
    assert!(answered.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answered));
    s.stop().await;
}

#[tokio::test]
async fn bodies_announced_and_not_sent_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), short_timeouts).await;
    // 1 GiB announced to routes that take no large bodies (and no sign-in given): 413 at once, closed.
    for path in ["/api/v1/auth/login", "/api/v1/printers", "/api/v1/models"] {
        let mut c = connect(s.addr).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        c.write_all(&[b'x'; 100]).await.unwrap();
        let answer = closed_within(&mut c, BOUND).await.expect("the connection stayed open");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
        assert!(text.contains("too much to send"), "{path}: {text}");
    }
    // Within the upload limit but never sent: the body's pause ends the request and the connection.
    let mut c = connect(s.addr).await;
    let key = s.key(common::ADMIN).await;
    let head = format!(
        "POST /api/v1/models?name=a.stl HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\nContent-Length: 104857600\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&[b'x'; 100]).await.unwrap();
    let answer = closed_within(&mut c, BOUND).await.expect("a stalled upload is still open");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    // The server still works for everyone else.
    assert_eq!(s.http.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), |c| {
        c.connections = ConnectionLimits {
            header_timeout: Duration::from_secs(120),
            body_idle_timeout: Duration::from_secs(120),
            per_address: 8,
        };
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(connect(s.addr).await);
    }
    let mut closed = 0;
    for c in &mut flood {
        if closed_within(c, Duration::from_millis(500)).await.is_some() {
            closed += 1;
        }
    }
    assert!(closed >= 12, "only {closed} of 20 connections over the limit of 8 were closed");
    // While the flood holds its 8, this address gets no more…
    let refused = s.http.get(s.url("/healthz")).send().await;
    assert!(refused.is_err(), "a ninth connection was served: {refused:?}");
    // …and once it lets go, it is served again.
    drop(flood);
    wait_until("the address to be served again", async || {
        s.http.get(s.url("/healthz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    s.stop().await;
}

// ---- 7: where the box reaches ----------------------------------------------------------------------

#[tokio::test]
async fn printers_discovery_and_webhooks_cannot_reach_the_box_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (inside, inside_seen) = fake_octoprint("127.0.0.1", None).await;
    let port = inside.rsplit(':').next().unwrap().to_string();
    let board = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let board_port = board.local_addr().unwrap().port();
    // The box's own configuration: local addresses not allowed (the default).
    let s = start_with(dir.path(), |c| c.allow_local_network = false).await;

    for host in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0x7f000001:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let (status, answer) = s
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/printers/discover?mdns_ms=0&probe=false&host={host}"),
                None,
                Value::Null,
            )
            .await;
        assert_eq!(status, 400, "discovery asked {host}: {answer}");
        let (status, answer) = s
            .send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "webhook_url": format!("{host}/hook") }))
            .await;
        assert_eq!(status, 400, "webhook {host}: {answer}");
        let (status, answer) = add_printer(
            &s,
            json!({ "name": "inside", "driver": "octoprint", "build_mm": [200, 200, 200],
                    "connection": { "url": host, "api_key": KEY } }),
        )
        .await;
        assert_eq!(status, 400, "printer at {host}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("allow_local_network"), "{answer}");
    }
    for tcp in
        [format!("127.0.0.1:{board_port}"), format!("0x7f000001:{board_port}"), format!("localhost:{board_port}")]
    {
        let (status, answer) = add_printer(
            &s,
            json!({ "name": "tcp", "driver": "marlin", "build_mm": [200, 200, 200], "connection": { "tcp": tcp } }),
        )
        .await;
        assert_eq!(status, 400, "Marlin over TCP at {tcp}: {answer}");
    }
    for path in ["/etc/shadow", "/dev/../etc/shadow", "relative/tty"] {
        let (status, answer) = add_printer(
            &s,
            json!({ "name": "serial", "driver": "marlin", "build_mm": [200, 200, 200], "connection": { "port": path } }),
        )
        .await;
        assert_eq!(status, 400, "serial port {path}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("under /dev"), "{answer}");
    }
    // Nothing was reached: no request, no connection.
    assert!(inside_seen.lock().unwrap().is_empty(), "the box reached itself");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), board.accept()).await.is_err(),
        "a TCP printer was opened"
    );
    // Nothing was stored either.
    assert_eq!(s.get("/api/v1/printers").await.as_array().unwrap().len(), 0);
    s.stop().await;
}

#[tokio::test]
async fn redirects_to_other_hosts_are_not_followed_and_probed_text_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    // Another host (127.0.0.2 is loopback too, but another address), and a printer that sends everyone there.
    let (elsewhere, elsewhere_seen) = fake_octoprint("127.0.0.2", None).await;
    let (redirecting, redirecting_seen) = fake_octoprint("127.0.0.1", Some(elsewhere.clone())).await;
    // Local addresses allowed here, as a box with a printer host on itself would: the redirect rule
    // holds on its own.
    let s = start(dir.path()).await;
    let (status, answer) = add_printer(
        &s,
        json!({ "name": "redirecting", "driver": "octoprint", "build_mm": [200, 200, 200],
                "connection": { "url": redirecting, "api_key": KEY } }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    wait_until("the farm to ask the printer", async || count(&redirecting_seen, KEY) > 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(elsewhere_seen.lock().unwrap().is_empty(), "a redirect to another host was followed (with the key)");

    // Discovery asks a server and says what it found in its own words, not the server's.
    let talkative = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let talkative_url = format!("http://{}", talkative.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        axum::Json(json!({ "text": "OctoPrint-ish router page: admin password is hunter2", "server": "<script>" }))
    });
    tokio::spawn(async move { axum::serve(talkative, app).await.unwrap() });
    let found = s.get(&format!("/api/v1/printers/discover?mdns_ms=0&probe=false&host={talkative_url}")).await;
    let text = found.to_string();
    assert!(!text.contains("hunter2") && !text.contains("<script>"), "discovery repeated the server's text: {text}");
    assert_eq!(found["network"].as_array().unwrap().len(), 1, "{found}");
    s.stop().await;
}

// ---- 8: private database files; the editor page under concurrent loads -------------------------------

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_files_are_private() {
    let parent = tempfile::tempdir().unwrap();
    // A data directory an older version made readable by everyone, with a readable database in it.
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = server::db::Db::open(&dir).await.unwrap();
    db.close().await;
    std::fs::set_permissions(dir.join("printfarm.db"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let s = start(&dir).await;
    common::upload(&s, "cube", [10.0; 3], common::ADMIN).await;
    assert_eq!(mode(&dir), 0o700, "the data directory");
    for name in ["printfarm.db", "printfarm.db-wal", "printfarm.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    s.stop().await;

    // A new box: everything made private from the start.
    let fresh = parent.path().join("fresh");
    let db = server::db::Db::open(&fresh).await.unwrap();
    db.ping().await.unwrap();
    assert_eq!(mode(&fresh), 0o700);
    for name in ["printfarm.db", "printfarm.db-wal", "printfarm.db-shm"] {
        assert_eq!(mode(&fresh.join(name)), 0o600, "{name}");
    }
    db.close().await;
}

/// The real binary (a multi-threaded runtime, as in production), its log kept in a file.
fn serve_binary_logged(dir: &Path, port: u16, log: &Path) -> std::process::Child {
    let file = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_printfarm"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("PRINTFARM_DEMO", "false")
        .env("PRINTFARM_LOG", "info")
        .stderr(file)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(log).unwrap_or_default().contains("listening") {
        assert!(std::time::Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[tokio::test]
async fn the_editor_page_renders_whole_under_concurrent_loads() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::admin_key(dir.path()).await;
    let port = common::free_port();
    let log = dir.path().join("server.log");
    let mut server = serve_binary_logged(dir.path(), port, &log);
    let http = common::client_with(&key);
    let base = format!("http://127.0.0.1:{port}");
    let stl = common::stl([20.0; 3]);
    let r = http.post(format!("{base}/api/v1/models?name=cube.stl")).body(stl).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let version = r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap();
    let loads = (0..40).map(|_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http.get(format!("{base}/editor/{version}")).send().await;
            match r {
                // A render cut short by a panic ends the chunked body early: reading it fails.
                Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|t| t.contains("</html>")),
                _ => false,
            }
        }
    });
    let whole = futures::future::join_all(loads).await.into_iter().filter(|ok| *ok).count();
    let _ = server.kill();
    let _ = server.wait();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(!said.contains("panicked"), "the server panicked rendering the editor:\n{said}");
    assert_eq!(whole, 40, "only {whole} of 40 editor pages arrived whole");
}
