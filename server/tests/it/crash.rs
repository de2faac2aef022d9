//! `kill -9` of the real `printfarm` binary while people upload models, submit jobs and add users (with
//! pages, the queue and the event stream being read meanwhile), three times on one data directory at a
//! random moment: after each restart every upload, job and user that was answered 2xx before any kill is
//! still there and readable (each model file parses into the triangles it had), and the database passes
//! `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
//!
//! Bounded: each round stops its writers after a few seconds even if the kill never came, and every
//! request has a timeout. The random moment is printed, so a failure can be replayed with
//! `PRINTFARM_CRASH_DELAYS_MS=a,b,c`.

use crate::common;

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, serve_binary, Server};
use futures::StreamExt;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use server::db::{Db, NewUser, Role};

/// How many times the server is killed.
const KILLS: usize = 3;
/// How long writers run at most in one round, whether or not the kill came.
const ROUND_LIMIT: Duration = Duration::from_secs(8);
/// The test's user (a teacher, so jobs are queued without approval).
const USER: &str = "alice";

/// A model upload that was answered 201.
#[derive(Debug, Clone)]
struct CommittedModel {
    model_id: i64,
    version_id: i64,
    triangles: i64,
}

/// Everything the server acknowledged with a 2xx, across every round.
#[derive(Debug, Default)]
struct Committed {
    models: Vec<CommittedModel>,
    /// (job id, its model version).
    jobs: Vec<(i64, i64)>,
    /// (user id, username).
    users: Vec<(i64, String)>,
    /// Writes that were in flight when the server died (no answer): the kill landed mid-request.
    cut: usize,
}

/// The admin's API key every request of the test carries (made with the server's own CLI).
static API_KEY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

fn key_header() -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    if let Some(k) = API_KEY.get().cloned().flatten() {
        h.insert("X-Api-Key", k.parse().unwrap());
    }
    h
}

/// Makes an admin and an API key with the server's own CLI, when this build has those commands.
fn provision_api_key(dir: &Path) -> Option<String> {
    use std::io::Write;
    let bin = env!("CARGO_BIN_EXE_printfarm");
    let mut create = std::process::Command::new(bin)
        .args(["admin", "create", "--username", "crashadmin", "--password-stdin", "--data-dir"])
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    create.stdin.take()?.write_all(b"crash-test-password\n").ok()?;
    if !create.wait().ok()?.success() {
        return None;
    }
    let out = std::process::Command::new(bin)
        .args(["admin", "api-key", "create", "--username", "crashadmin", "--data-dir"])
        .arg(dir)
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout.lines().rev().find(|l| !l.trim().is_empty())?.trim().to_string();
    out.status.success().then_some(key)
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// A model file of `segments` sides: the round, writer and count make each one different, and its size
/// (a few kB to about 200 kB) makes the kill land mid-write now and then.
fn model_stl(seed: u64) -> Vec<u8> {
    let segments = 8 + (seed % 97) as u32 * 8;
    let m = mesh::primitives::cylinder(5.0 + (seed % 13) as f32, 4.0 + (seed % 7) as f32, segments);
    mesh::io::write(&mesh::Model::single("part", m), mesh::io::Format::Stl).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// The status and JSON body of a write, or `None` (counted as cut) when the server died before answering.
async fn answer(
    sent: reqwest::Result<reqwest::Response>,
    committed: &Mutex<Committed>,
) -> Option<(reqwest::StatusCode, Value)> {
    let body = match sent {
        Ok(r) => {
            let status = r.status();
            r.json::<Value>().await.map(|v| (status, v))
        }
        Err(e) => Err(e),
    };
    if body.is_err() {
        committed.lock().unwrap().cut += 1;
    }
    body.ok()
}

/// Uploads models until told to stop or the server goes away; records every 201.
async fn upload_loop(base: String, seed: u64, committed: Arc<Mutex<Committed>>, stop: Arc<AtomicBool>) {
    let http = client();
    for n in 0..10_000u64 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let name = format!("part-{seed}-{n}.stl");
        let sent = http
            .post(format!("{base}/api/v1/models?name={name}"))
            .headers(key_header())
            .body(model_stl(seed.wrapping_mul(31).wrapping_add(n)))
            .send()
            .await;
        let Some((status, v)) = answer(sent, &committed).await else { return };
        assert_eq!(status, 201, "upload {name}: {v}");
        committed.lock().unwrap().models.push(CommittedModel {
            model_id: v["model_id"].as_i64().unwrap(),
            version_id: v["version_id"].as_i64().unwrap(),
            triangles: v["triangles"].as_i64().unwrap(),
        });
    }
}

/// Submits jobs (two copies each) of models uploaded earlier; records every job id answered 201.
async fn job_loop(base: String, seed: u64, committed: Arc<Mutex<Committed>>, stop: Arc<AtomicBool>) {
    let http = client();
    for n in 0..10_000u64 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let version = {
            let c = committed.lock().unwrap();
            c.models[(seed.wrapping_add(n) % c.models.len() as u64) as usize].version_id
        };
        let sent = http
            .post(format!("{base}/api/v1/jobs"))
            .headers(key_header())
            .json(&json!({ "model_version_id": version, "copies": 2, "quality": "draft" }))
            .send()
            .await;
        let Some((status, v)) = answer(sent, &committed).await else { return };
        assert_eq!(status, 201, "job of version {version}: {v}");
        let ids: Vec<i64> = v.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 2, "{v}");
        committed.lock().unwrap().jobs.extend(ids.into_iter().map(|id| (id, version)));
    }
}

/// Adds users through the Settings page's server function; records every one answered 200.
async fn user_loop(base: String, seed: u64, committed: Arc<Mutex<Committed>>, stop: Arc<AtomicBool>) {
    let http = client();
    for n in 0..10_000u64 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let username = format!("u{seed}-{n}");
        let sent = http
            .post(format!("{base}{}", app::api::printers::AddUser::PATH))
            .headers(key_header())
            .form(&[("username", username.as_str()), ("display_name", "Crash tester"), ("role", "maker")])
            .send()
            .await;
        let Some((status, v)) = answer(sent, &committed).await else { return };
        assert_eq!(status, 200, "add user {username}: {v}");
        committed.lock().unwrap().users.push((v["id"].as_i64().unwrap(), username));
    }
}

/// Reads what a farm's screens read (the dashboard, the queue, the event stream) until the server goes away,
/// so the kill also lands among readers.
async fn reader_loop(base: String, stop: Arc<AtomicBool>) {
    let http = client();
    let ws_url = format!("{}/api/v1/events", base.replace("http://", "ws://"));
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    req.headers_mut().extend(key_header());
    let mut events = tokio_tungstenite::connect_async(req).await.ok().map(|(ws, _)| ws);
    for _ in 0..10_000 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        for path in ["/", "/api/v1/queue"] {
            if http.get(format!("{base}{path}")).headers(key_header()).send().await.is_err() {
                return;
            }
        }
        if let Some(ws) = events.as_mut() {
            // Drain whatever arrived; the stream's content is the fan-out bench's business.
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), ws.next()).await {}
        }
    }
}

/// Opens the database with no server running and asserts SQLite finds nothing wrong.
async fn assert_database_sound(dir: &Path, round: usize) {
    let db = Db::open(dir).await.unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(db.pool()).await.unwrap();
    assert_eq!(integrity, ["ok"], "after kill {round}");
    let dangling = sqlx::query("PRAGMA foreign_key_check").fetch_all(db.pool()).await.unwrap();
    assert!(dangling.is_empty(), "after kill {round}: {} rows refer to missing rows", dangling.len());
    // Not lost, but worth knowing: uploads cut between their two writes, and temporary files left behind.
    let unmeasured: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM model_versions WHERE triangles IS NULL")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let parts = std::fs::read_dir(dir.join("models"))
        .map(|d| d.filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".part"))).count())
        .unwrap_or(0);
    eprintln!("after kill {round}: {unmeasured} model versions without geometry, {parts} temporary files left");
    db.close().await;
}

/// After a restart: everything acknowledged so far is there and readable.
async fn assert_all_there(base: &str, committed: &Committed, round: usize) {
    let http = client();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let r = http.get(format!("{base}{path}")).headers(key_header()).send().await.unwrap();
            assert_eq!(r.status(), 200, "after kill {round}: GET {path}");
            r
        }
    };
    for m in &committed.models {
        let v: Value = get(format!("/api/v1/models/versions/{}", m.version_id)).await.json().await.unwrap();
        assert_eq!(v["model_id"], m.model_id, "after kill {round}: {v}");
        assert_eq!(v["triangles"], m.triangles, "after kill {round}: {v}");
        let file = get(format!("/api/v1/models/versions/{}/file", m.version_id)).await.bytes().await.unwrap();
        let model = mesh::io::read(&file, Some("model.stl"), &mesh::io::Limits::default())
            .unwrap_or_else(|e| panic!("after kill {round}: version {} does not parse: {e}", m.version_id));
        assert_eq!(model.triangle_count() as i64, m.triangles, "after kill {round}: version {}", m.version_id);
    }
    for (job, version) in &committed.jobs {
        let v: Value = get(format!("/api/v1/jobs/{job}")).await.json().await.unwrap();
        assert_eq!(v["job"]["model_version_id"], *version, "after kill {round}: {v}");
    }
    let r =
        http.post(format!("{base}{}", app::api::printers::ListUsers::PATH)).headers(key_header()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let users: Vec<Value> = r.json().await.unwrap();
    for (id, name) in &committed.users {
        assert!(
            users.iter().any(|u| u["id"] == *id && u["username"] == *name),
            "after kill {round}: user {name} is gone"
        );
    }
}

fn start(dir: &Path) -> (Server, String) {
    let port = free_port();
    (serve_binary(dir, port), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).await.unwrap();
    let user =
        NewUser { username: USER.into(), display_name: "Alice".into(), role: Role::Teacher, password_hash: None };
    db.users().insert(&user).await.unwrap();
    db.close().await;
    API_KEY.get_or_init(|| provision_api_key(dir.path()));

    let replay: Option<Vec<u64>> = std::env::var("PRINTFARM_CRASH_DELAYS_MS")
        .ok()
        .map(|s| s.split(',').map(|d| d.trim().parse().expect("delays in ms, comma-separated")).collect());
    let committed = Arc::new(Mutex::new(Committed::default()));
    let (mut server, mut base) = start(dir.path());
    // Jobs need a model to print; it is acknowledged like any other upload.
    upload_loop_once(&base, &committed).await;

    for round in 1..=KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let seed = random_u64() % 1_000_000;
        let mut tasks = Vec::new();
        for w in 0..3 {
            tasks.push(tokio::spawn(upload_loop(base.clone(), seed * 10 + w, committed.clone(), stop.clone())));
        }
        for w in 0..2 {
            tasks.push(tokio::spawn(job_loop(base.clone(), seed * 10 + w, committed.clone(), stop.clone())));
        }
        tasks.push(tokio::spawn(user_loop(base.clone(), seed, committed.clone(), stop.clone())));
        tasks.push(tokio::spawn(reader_loop(base.clone(), stop.clone())));

        // Kill once writes are flowing, at a random moment after that.
        let before = counts(&committed);
        let flowing = Instant::now();
        while counts(&committed).iter().zip(before).any(|(now, then)| *now <= then) && flowing.elapsed() < ROUND_LIMIT {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delay = replay.as_ref().map(|d| d[round - 1]).unwrap_or(random_u64() % 1500);
        eprintln!("kill {round}: {delay} ms after writes flowed (replay with PRINTFARM_CRASH_DELAYS_MS)");
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            // A writer's panic (an unexpected status) fails the test here.
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("writers stop once the server is gone")
                .unwrap();
        }
        {
            let c = committed.lock().unwrap();
            eprintln!(
                "kill {round}: {} models, {} jobs, {} users acknowledged so far; {} writes cut by the kills",
                c.models.len(),
                c.jobs.len(),
                c.users.len(),
                c.cut
            );
            assert!(
                !c.jobs.is_empty() && !c.users.is_empty() && c.models.len() > 1,
                "writes flowed before kill {round}"
            );
        }

        assert_database_sound(dir.path(), round).await;
        (server, base) = start(dir.path());
        let snapshot = std::mem::take(&mut *committed.lock().unwrap());
        assert_all_there(&base, &snapshot, round).await;
        *committed.lock().unwrap() = snapshot;
    }
    server.kill();
    assert_database_sound(dir.path(), KILLS + 1).await;
}

/// How many of each kind have been acknowledged.
fn counts(committed: &Mutex<Committed>) -> [usize; 3] {
    let c = committed.lock().unwrap();
    [c.models.len(), c.jobs.len(), c.users.len()]
}

/// One upload, acknowledged, before any writer starts.
async fn upload_loop_once(base: &str, committed: &Mutex<Committed>) {
    let r = client()
        .post(format!("{base}/api/v1/models?name=first.stl"))
        .headers(key_header())
        .body(model_stl(0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    committed.lock().unwrap().models.push(CommittedModel {
        model_id: v["model_id"].as_i64().unwrap(),
        version_id: v["version_id"].as_i64().unwrap(),
        triangles: v["triangles"].as_i64().unwrap(),
    });
}
