//! Load benchmark (on demand, not part of the test suite; `scripts/load` builds and runs it).
//!
//! Requirement: 200 concurrent clients on each of the dashboard page (`GET /`, rendered by the server),
//! the queue API (`GET /api/v1/queue`) and the event stream (WebSocket `/api/v1/events`) against the real
//! `printfarm` binary on 127.0.0.1: p99 under 200 ms, no errors, memory stable over 10 minutes.
//!
//! The server runs as its own process on a temporary data directory with a demo farm of `--printers`
//! simulated printers (default 30), seeded with `--jobs` more jobs (default 200) that are sliced before the
//! clock starts. HTTP load comes from Debian's `wrk` (one process per endpoint, `--clients` keep-alive
//! connections each, every client thinking `--think-ms` ±50 % between requests, 0 for flat out); the event
//! stream's clients are WebSockets in this process that count messages, drops and errors and time the
//! first message (the snapshot). The server's RSS (`VmRSS`) is sampled every 10 s.
//!
//! Meanwhile one more client does what people do to the queue, one interaction after another with a
//! second between cycles, and times each: a maker sends a print (`POST /api/v1/jobs`), the admin approves
//! it, moves it to the front of the queue (`PATCH /api/v1/jobs/{id}`) and cancels it (so the queue keeps
//! its size). The product's bar is under 200 ms per such interaction with 100+ people on the box.
//!
//! ```text
//! scripts/load [--debug] [--seconds 600] [--clients 200] [--printers 30] [--jobs 200] [--think-ms 1000]
//!              [--p99-ms 200] [--kill-at SECONDS] [--api-key KEY]
//! ```
//!
//! `--kill-at S` sends SIGKILL to the server S seconds into the run and starts it again on the same data
//! directory and port: requests during the outage fail (counted apart), every job acknowledged while
//! seeding must still be there afterwards. At the end the server is killed again and the database must
//! pass `PRAGMA integrity_check` and `PRAGMA foreign_key_check`. The API key (`--api-key` or
//! `PRINTFARM_API_KEY`) is sent as `X-Api-Key` on every request. `PRINTFARM_BIN` names the server binary
//! (default: the one cargo built with this bench). Exits non-zero when a target is missed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// How often the server's memory is sampled.
const RSS_EVERY: Duration = Duration::from_secs(10);
/// Slicing the seeded jobs must finish within this before the clock starts.
const SETTLE_LIMIT: Duration = Duration::from_secs(900);

struct Args {
    seconds: u64,
    clients: usize,
    printers: u32,
    jobs: usize,
    think_ms: u64,
    p99_ms: f64,
    kill_at: Option<u64>,
    api_key: Option<String>,
    server_bin: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: load [--seconds N] [--clients N] [--printers N] [--jobs N] [--think-ms N] [--p99-ms N] \
         [--kill-at SECONDS] [--api-key KEY]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        seconds: 600,
        clients: 200,
        printers: 30,
        jobs: 200,
        think_ms: 1000,
        p99_ms: 200.0,
        kill_at: None,
        api_key: std::env::var("PRINTFARM_API_KEY").ok().filter(|k| !k.is_empty()),
        server_bin: std::env::var_os("PRINTFARM_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_printfarm"))),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` adds `--bench`.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--seconds" => a.seconds = num(&value).max(1),
            "--clients" => a.clients = num(&value).max(1) as usize,
            "--printers" => a.printers = num(&value).clamp(1, 500) as u32,
            "--jobs" => a.jobs = num(&value) as usize,
            "--think-ms" => a.think_ms = num(&value),
            "--p99-ms" => a.p99_ms = num(&value) as f64,
            "--kill-at" => a.kill_at = Some(num(&value)),
            "--api-key" => a.api_key = Some(value),
            _ => usage(),
        }
    }
    a
}

/// The server process; killed (SIGKILL) when dropped, so none outlives the bench.
struct Server {
    child: Child,
}

impl Server {
    fn start(args: &Args, dir: &Path, port: u16) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
        let child = Command::new(&args.server_bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.join("data"))
            .env("PRINTFARM_DEMO", "true")
            .env("PRINTFARM_DEMO_PRINTERS", args.printers.to_string())
            // As the box runs: info, with an access-log line per request (JSON, as a log shipper takes it).
            .env("PRINTFARM_LOG", std::env::var("PRINTFARM_LOG").unwrap_or_else(|_| "info".into()))
            .env("PRINTFARM_LOG_FORMAT", "json")
            // Every simulated browser comes from 127.0.0.1: a whole school from one address.
            .env("PRINTFARM_CONNECTIONS_PER_ADDRESS", "100000")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", args.server_bin.display()));
        Server { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Makes an admin and an API key for the bench with the server's own CLI (`printfarm admin create`, then
/// `printfarm admin api-key create`, which prints the key); `None` when this build has no accounts yet.
fn provision_api_key(bin: &Path, data_dir: &Path) -> Option<String> {
    use std::io::Write;
    let mut create = Command::new(bin)
        .args(["admin", "create", "--username", "loadbench", "--password-stdin", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    create.stdin.take()?.write_all(b"load-bench-password\n").ok()?;
    if !create.wait().ok()?.success() {
        return None;
    }
    let out = Command::new(bin)
        .args(["admin", "api-key", "create", "--username", "loadbench", "--data-dir"])
        .arg(data_dir)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout.lines().rev().find(|l| !l.trim().is_empty())?.trim().to_string();
    out.status.success().then_some(key)
}

/// The server's resident memory now, in KiB (`None` once it is gone).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// Requests carry the API key (the server refuses anonymous API calls).
fn authed(req: reqwest::RequestBuilder, key: &Option<String>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => req.header("X-Api-Key", k),
        None => req,
    }
}

async fn wait_healthy(http: &reqwest::Client, base: &str, log: &Path) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return started.elapsed();
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            panic!("the server did not answer /healthz within 120 s; its log: {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads three models and submits `count` jobs of them (ten copies a request); returns the job ids.
async fn seed_jobs(http: &reqwest::Client, base: &str, key: &Option<String>, count: usize) -> Vec<i64> {
    let models = [
        ("load-cube.stl", mesh::primitives::box_mesh([0.0; 3], [20.0; 3])),
        ("load-cup.stl", mesh::primitives::cylinder(15.0, 30.0, 48)),
        ("load-ring.stl", mesh::primitives::torus(14.0, 4.0, 48, 16)),
    ];
    let mut versions = Vec::new();
    for (name, m) in models {
        let bytes = mesh::io::write(&mesh::Model::single(name, m), mesh::io::Format::Stl).unwrap();
        let r = authed(http.post(format!("{base}/api/v1/models?name={name}")), key).body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201, "uploading {name}");
        versions.push(r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap());
    }
    let colours = ["Red", "Blue", "Black"];
    let mut ids = Vec::new();
    let mut n = 0;
    while ids.len() < count {
        let copies = (count - ids.len()).min(10);
        let body = json!({
            "model_version_id": versions[n % versions.len()], "material_kind": "PLA",
            "colour": colours[n % colours.len()], "quality": "draft", "copies": copies,
        });
        let r = authed(http.post(format!("{base}/api/v1/jobs")), key).json(&body).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "submitting jobs: {v}");
        ids.extend(v.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()));
        n += 1;
    }
    ids
}

/// Waits until no job is queued or being sliced, so slicing does not share the measured minutes.
async fn wait_sliced(http: &reqwest::Client, base: &str, key: &Option<String>) -> Duration {
    let started = Instant::now();
    loop {
        let q: Vec<Value> =
            authed(http.get(format!("{base}/api/v1/queue")), key).send().await.unwrap().json().await.unwrap();
        let unsliced = q.iter().filter(|e| matches!(e["job"]["state"].as_str(), Some("queued" | "slicing"))).count();
        if unsliced == 0 {
            return started.elapsed();
        }
        assert!(started.elapsed() < SETTLE_LIMIT, "{unsliced} jobs still unsliced after {SETTLE_LIMIT:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What the event stream's clients saw.
#[derive(Default)]
struct WsStats {
    connects: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    connect_errors: AtomicU64,
    stream_errors: AtomicU64,
    /// Closed by the server while the bench still wanted it.
    dropped: AtomicU64,
    /// Connect to first message (the snapshot), ms.
    first_message_ms: Mutex<Vec<f64>>,
    last_error: Mutex<Option<String>>,
}

async fn ws_client(url: String, key: Option<String>, stats: Arc<WsStats>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let mut req = url.as_str().into_client_request().unwrap();
        if let Some(k) = &key {
            req.headers_mut().insert("X-Api-Key", k.parse().unwrap());
        }
        let started = Instant::now();
        match tokio_tungstenite::connect_async(req).await {
            Ok((mut ws, _)) => {
                stats.connects.fetch_add(1, Ordering::Relaxed);
                let mut first = true;
                loop {
                    let msg = tokio::select! {
                        _ = stop.cancelled() => {
                            let _ = ws.close(None).await;
                            return;
                        }
                        msg = ws.next() => msg,
                    };
                    match msg {
                        Some(Ok(Message::Text(t))) => {
                            stats.bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
                        }
                        Some(Ok(Message::Binary(b))) => {
                            stats.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                        }
                        Some(Ok(Message::Ping(p))) => {
                            let _ = ws.send(Message::Pong(p)).await;
                            continue;
                        }
                        Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
                        Some(Ok(Message::Close(_))) | None => {
                            stats.dropped.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Some(Err(e)) => {
                            stats.stream_errors.fetch_add(1, Ordering::Relaxed);
                            *stats.last_error.lock().unwrap() = Some(e.to_string());
                            break;
                        }
                    }
                    stats.messages.fetch_add(1, Ordering::Relaxed);
                    if first {
                        first = false;
                        stats.first_message_ms.lock().unwrap().push(started.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            Err(e) => {
                stats.connect_errors.fetch_add(1, Ordering::Relaxed);
                *stats.last_error.lock().unwrap() = Some(e.to_string());
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// How long each kind of queue interaction took, ms, and how many failed.
#[derive(Default)]
struct Interactions {
    send: Vec<f64>,
    approve: Vec<f64>,
    reorder: Vec<f64>,
    cancel: Vec<f64>,
    failures: u64,
    last_failure: Option<String>,
}

/// A maker with an API key, made through the API as an admin would.
async fn maker_key(http: &reqwest::Client, base: &str, key: &Option<String>) -> Option<String> {
    let user = json!({ "username": "loadmaker", "role": "maker", "password": "load-maker-password" });
    let r = authed(http.post(format!("{base}/api/v1/users")), key).json(&user).send().await.ok()?;
    let id = r.json::<Value>().await.ok()?["id"].as_i64()?;
    let body = json!({ "name": "load bench maker", "user_id": id });
    let r = authed(http.post(format!("{base}/api/v1/api-keys")), key).json(&body).send().await.ok()?;
    r.json::<Value>().await.ok()?["key"].as_str().map(str::to_string)
}

/// Send → approve → move to the front → cancel, timed, until `stop`.
async fn interact(
    http: reqwest::Client,
    base: String,
    admin: Option<String>,
    maker: Option<String>,
    model: i64,
    front: i64,
    stop: CancellationToken,
) -> Interactions {
    let mut out = Interactions::default();
    let timed = async |req: reqwest::RequestBuilder, want: u16| -> Result<(f64, Value), String> {
        let started = Instant::now();
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if status == want {
            Ok((ms, body))
        } else {
            Err(format!("{status} {body}"))
        }
    };
    while !stop.is_cancelled() {
        let cycle = async {
            let body = json!({ "model_version_id": model, "material_kind": "PLA", "quality": "draft" });
            let (ms, jobs) = timed(authed(http.post(format!("{base}/api/v1/jobs")), &maker).json(&body), 201).await?;
            out.send.push(ms);
            let id = jobs[0]["id"].as_i64().ok_or("no job id")?;
            let job = |tail: &str| format!("{base}/api/v1/jobs/{id}{tail}");
            let (ms, _) = timed(authed(http.post(job("/approve")), &admin).json(&json!({})), 200).await?;
            out.approve.push(ms);
            let (ms, _) = timed(authed(http.patch(job("")), &admin).json(&json!({ "before": front })), 200).await?;
            out.reorder.push(ms);
            let (ms, _) = timed(authed(http.post(job("/cancel")), &admin).json(&json!({})), 200).await?;
            out.cancel.push(ms);
            Ok::<(), String>(())
        };
        if let Err(e) = cycle.await {
            out.failures += 1;
            out.last_failure = Some(e);
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    out
}

/// One endpoint's results as `wrk` reports them through the script's `done` hook.
struct WrkResult {
    path: &'static str,
    requests: u64,
    seconds: f64,
    /// Connect, read, write, timeout and non-2xx/3xx errors.
    errors: u64,
    detail: String,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn wrk_script(dir: &Path, think_ms: u64) -> PathBuf {
    let delay = if think_ms == 0 {
        String::new()
    } else {
        // Spread the thinking so the clients do not march in step.
        format!("function delay() return math.random({}, {}) end\n", think_ms / 2, think_ms * 3 / 2)
    };
    let script = format!(
        r#"{delay}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\nWRK {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#
    );
    let path = dir.join("load.lua");
    std::fs::write(&path, script).unwrap();
    path
}

async fn run_wrk(path: &'static str, base: &str, args: &Args, script: &Path) -> WrkResult {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.args(["-t", "1", "-c", &args.clients.to_string(), "-d", &format!("{}s", args.seconds)])
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        // What a browser sends; the server compresses what it can.
        .args(["-H", "Accept-Encoding: gzip, deflate, br"]);
    if let Some(k) = &args.api_key {
        cmd.args(["-H", &format!("X-Api-Key: {k}")]);
    }
    let out = cmd.arg(format!("{base}{path}")).stdin(Stdio::null()).output().await.expect("wrk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("WRK ")) else {
        panic!("wrk on {path} printed no result:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    };
    let v: Value = serde_json::from_str(line).unwrap();
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let ms = |k: &str| n(k) as f64 / 1e3;
    let errors = ["connect", "read", "write", "timeout", "status"].map(|k| (k, n(k)));
    WrkResult {
        path,
        requests: n("requests"),
        seconds: n("duration_us") as f64 / 1e6,
        errors: errors.iter().map(|(_, c)| c).sum(),
        detail: errors.iter().filter(|(_, c)| *c > 0).map(|(k, c)| format!("{k} {c}")).collect::<Vec<_>>().join(", "),
        p50_ms: ms("p50"),
        p90_ms: ms("p90"),
        p99_ms: ms("p99"),
        max_ms: ms("max"),
    }
}

/// Opens the database with no server running and returns SQLite's verdicts.
async fn check_database(dir: &Path) -> (String, usize) {
    let db = server::db::Db::open(dir).await.unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(db.pool()).await.unwrap();
    let dangling = sqlx::query("PRAGMA foreign_key_check").fetch_all(db.pool()).await.unwrap().len();
    db.close().await;
    (integrity.join("; "), dangling)
}

fn main() {
    let args = parse_args();
    if Command::new("wrk").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        eprintln!("the load bench needs wrk: apt-get install wrk (scripts/load installs it)");
        std::process::exit(2);
    }
    // One worker for the clients: the server gets the rest of the machine.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ok = rt.block_on(run(args));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(mut args: Args) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    if args.api_key.is_none() {
        args.api_key = provision_api_key(&args.server_bin, &dir.path().join("data"));
    }
    let key = args.api_key.clone();
    if key.is_none() {
        println!("no API key (this build has no accounts yet): requests name their user with X-Printfarm-User");
    }

    let server = Arc::new(Mutex::new(Server::start(&args, dir.path(), port)));
    let boot = wait_healthy(&http, &base, &log).await;
    let printers: Vec<Value> =
        authed(http.get(format!("{base}/api/v1/printers")), &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(printers.len(), args.printers as usize, "the demo farm's printers");
    let seeded = seed_jobs(&http, &base, &key, args.jobs).await;
    let settle = wait_sliced(&http, &base, &key).await;
    let waiting: Vec<Value> =
        authed(http.get(format!("{base}/api/v1/queue")), &key).send().await.unwrap().json().await.unwrap();
    println!(
        "server {} up in {:.1} s; {} printers, {} jobs seeded (sliced in {:.0} s), {} waiting; {} clients per \
         endpoint thinking {} ms, {} s",
        args.server_bin.display(),
        boot.as_secs_f64(),
        printers.len(),
        seeded.len(),
        settle.as_secs_f64(),
        waiting.len(),
        args.clients,
        args.think_ms,
        args.seconds
    );

    let stop = CancellationToken::new();
    let started = Instant::now();
    let rss: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let sampler = {
        let (rss, server, stop) = (rss.clone(), server.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RSS_EVERY);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let pid = server.lock().unwrap().pid();
                if let Some(kib) = rss_kib(pid) {
                    rss.lock().unwrap().push((started.elapsed().as_secs_f64(), kib));
                }
            }
        })
    };

    let ws = Arc::new(WsStats::default());
    let ws_url = format!("ws://127.0.0.1:{port}/api/v1/events");
    let clients: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(ws_client(ws_url.clone(), key.clone(), ws.clone(), stop.clone())))
        .collect();

    let maker = maker_key(&http, &base, &key).await;
    assert!(maker.is_some() || key.is_none(), "a maker and their key could be made");
    let first_seeded = *seeded.first().expect("jobs were seeded");
    let model = authed(http.get(format!("{base}/api/v1/jobs/{first_seeded}")), &key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["job"]["model_version_id"]
        .as_i64()
        .expect("the seeded job has a model");
    let interactions =
        tokio::spawn(interact(http.clone(), base.clone(), key.clone(), maker, model, first_seeded, stop.clone()));

    let script = wrk_script(dir.path(), args.think_ms);
    let dashboard = run_wrk("/", &base, &args, &script);
    let queue = run_wrk("/api/v1/queue", &base, &args, &script);

    let crash = async {
        let at = args.kill_at?;
        tokio::time::sleep(Duration::from_secs(at)).await;
        server.lock().unwrap().kill();
        let killed = Instant::now();
        *server.lock().unwrap() = Server::start(&args, dir.path(), port);
        let down = wait_healthy(&http, &base, &log).await;
        println!("killed (SIGKILL) at {at} s; serving again after {:.1} s", killed.elapsed().as_secs_f64());
        Some(down)
    };
    let (dashboard, queue, outage) = tokio::join!(dashboard, queue, crash);
    stop.cancel();
    let interactions = interactions.await.expect("the interactions task does not panic");
    for c in clients {
        let _ = c.await;
    }
    let _ = sampler.await;
    let pid = server.lock().unwrap().pid();
    if let Some(kib) = rss_kib(pid) {
        rss.lock().unwrap().push((started.elapsed().as_secs_f64(), kib));
    }

    // Every job acknowledged while seeding is still there (after a kill, too).
    let mut missing = 0;
    for id in &seeded {
        let r = authed(http.get(format!("{base}/api/v1/jobs/{id}")), &key).send().await.unwrap();
        missing += (r.status() != 200) as usize;
    }
    server.lock().unwrap().kill();
    let (integrity, dangling) = check_database(&dir.path().join("data")).await;

    // The report.
    println!();
    println!(
        "{:<22} {:>7} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "endpoint", "clients", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let mut ok = true;
    for r in [&dashboard, &queue] {
        println!(
            "GET {:<18} {:>7} {:>9} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}{}",
            r.path,
            args.clients,
            r.requests,
            r.errors,
            r.requests as f64 / r.seconds,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            if r.detail.is_empty() { String::new() } else { format!("  ({})", r.detail) }
        );
        ok &= r.p99_ms < args.p99_ms && (r.errors == 0 || outage.is_some()) && r.requests > 0;
    }
    for (name, times) in [
        ("send to print", &interactions.send),
        ("approve", &interactions.approve),
        ("move to front", &interactions.reorder),
        ("cancel", &interactions.cancel),
    ] {
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{:<22} {:>7} {:>9} {:>7} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            name,
            1,
            sorted.len(),
            "",
            "",
            percentile(&sorted, 50.0),
            percentile(&sorted, 90.0),
            percentile(&sorted, 99.0),
            sorted.last().copied().unwrap_or(f64::NAN)
        );
        ok &= !sorted.is_empty() && (percentile(&sorted, 99.0) < args.p99_ms || outage.is_some());
    }
    if interactions.failures > 0 {
        println!(
            "   {} interaction cycles failed; the last: {}",
            interactions.failures,
            interactions.last_failure.as_deref().unwrap_or("?")
        );
        ok &= outage.is_some();
    }
    let mut first = ws.first_message_ms.lock().unwrap().clone();
    first.sort_by(f64::total_cmp);
    let ws_errors = ws.connect_errors.load(Ordering::Relaxed) + ws.stream_errors.load(Ordering::Relaxed);
    let dropped = ws.dropped.load(Ordering::Relaxed);
    let messages = ws.messages.load(Ordering::Relaxed);
    println!(
        "WS {:<19} {:>7} {:>9} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  (messages; latency = connect to snapshot; \
         {} connects, {} dropped, {:.1} MB)",
        "/api/v1/events",
        args.clients,
        messages,
        ws_errors,
        messages as f64 / started.elapsed().as_secs_f64(),
        percentile(&first, 50.0),
        percentile(&first, 90.0),
        percentile(&first, 99.0),
        first.last().copied().unwrap_or(f64::NAN),
        ws.connects.load(Ordering::Relaxed),
        dropped,
        ws.bytes.load(Ordering::Relaxed) as f64 / 1e6
    );
    if let Some(e) = ws.last_error.lock().unwrap().as_ref() {
        println!("   last event-stream error: {e}");
    }
    ok &= messages > 0 && ((ws_errors == 0 && dropped == 0) || outage.is_some());

    let rss = rss.lock().unwrap().clone();
    let mib = |k: u64| k as f64 / 1024.0;
    let (start, end) = (rss.first().map_or(0, |s| s.1), rss.last().map_or(0, |s| s.1));
    let max = rss.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "server RSS: start {:.1} MiB, end {:.1} MiB, max {:.1} MiB ({} samples every {} s)",
        mib(start),
        mib(end),
        mib(max),
        rss.len(),
        RSS_EVERY.as_secs()
    );
    println!("   samples (MiB): {}", rss.iter().map(|(_, k)| format!("{:.0}", mib(*k))).collect::<Vec<_>>().join(" "));
    // Stable: the second half of the run never needs much more than the first half's peak (allocator
    // arenas and caches fill up early, then stay).
    if outage.is_none() && rss.len() >= 4 {
        let half = rss.len() / 2;
        let first_peak = rss[..half].iter().map(|s| s.1).max().unwrap_or(0);
        let second_peak = rss[half..].iter().map(|s| s.1).max().unwrap_or(0);
        let growth = second_peak as f64 / first_peak.max(1) as f64 - 1.0;
        let stable = growth < 0.10;
        println!(
            "   memory {}: second half's peak is {:+.1} % of the first half's",
            if stable { "stable" } else { "GROWING" },
            growth * 100.0
        );
        ok &= stable;
    }
    if let Some(down) = outage {
        println!("   after the kill the server answered again in {:.1} s", down.as_secs_f64());
    }
    println!(
        "seeded jobs missing afterwards: {missing} of {}; database: integrity_check {integrity}, {dangling} foreign key \
         violations",
        seeded.len()
    );
    ok &= missing == 0 && integrity == "ok" && dangling == 0;
    if !ok {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        // Panics and errors first: a backtrace would push them out of the tail.
        let alarms: Vec<&str> =
            log.lines().filter(|l| l.contains("panicked") || l.contains("ERROR")).take(20).collect();
        println!("the server's panics and errors:\n{}", alarms.join("\n"));
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        println!("the server's last log lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    println!(
        "{} (p99 target {} ms, no errors{})",
        if ok { "PASS" } else { "FAIL" },
        args.p99_ms,
        if outage.is_some() { " outside the outage" } else { ", memory stable" }
    );
    ok
}
