//! What the farm's whole-flow tests share: the real server in-process on a real SQLite file (or the
//! real binary, for `kill -9`), simulated Marlin boards on pseudo-terminals, users, printers with
//! spools, and waiting for jobs to finish.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use printers::sim::marlin::{Faults, MarlinSim, PtySim, SimConfig};
use serde_json::{json, Value};
use server::config::{Config, DemoConfig};
use server::db::{Db, NewUser, Role};
use server::http::{serve_on, ServeError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const LIMIT: Duration = Duration::from_secs(180);

pub struct Running {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), ServeError>>,
    /// Sends the admin's API key unless a request names another.
    pub http: reqwest::Client,
    pub dir: std::path::PathBuf,
    keys: std::sync::Mutex<HashMap<String, String>>,
}

/// The admin every test server has, made before it starts.
pub const ADMIN: &str = "root";

/// Makes the admin `root` (once) and a fresh API key for it, straight in the database.
pub async fn admin_key(dir: &Path) -> String {
    let db = Db::open(dir).await.unwrap();
    if db.users().by_username(ADMIN).await.unwrap().is_none() {
        db.users()
            .insert(&NewUser {
                username: ADMIN.into(),
                display_name: "Root".into(),
                role: Role::Admin,
                password_hash: None,
            })
            .await
            .unwrap();
    }
    let key = key_in(&db, ADMIN).await;
    db.close().await;
    key
}

/// A fresh API key of an existing user, straight in the database.
pub async fn key_for(dir: &Path, username: &str) -> String {
    let db = Db::open(dir).await.unwrap();
    let key = key_in(&db, username).await;
    db.close().await;
    key
}

async fn key_in(db: &Db, username: &str) -> String {
    let user = db.users().by_username(username).await.unwrap().unwrap_or_else(|| panic!("no user {username}"));
    let (key, hash, prefix) = server::auth::credentials::new_api_key();
    db.accounts().create_key(user.id, "test", &prefix, &hash, user.role).await.unwrap();
    key
}

/// Opens `/api/v1/events` on `addr` with an API key.
pub async fn events_at(
    addr: SocketAddr,
    key: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/api/v1/events").into_client_request().unwrap();
    request.headers_mut().insert("x-api-key", key.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// A client that sends `key` with every request.
pub fn client_with(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-api-key", reqwest::header::HeaderValue::from_str(key).unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// An API key of `username` (made on first use, with their role).
    pub async fn key(&self, username: &str) -> String {
        if let Some(k) = self.keys.lock().unwrap().get(username) {
            return k.clone();
        }
        let db = Db::open(&self.dir).await.unwrap();
        let key = key_in(&db, username).await;
        db.close().await;
        self.keys.lock().unwrap().insert(username.to_string(), key.clone());
        key
    }

    /// The live event stream, as the admin.
    pub async fn events(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
        events_at(self.addr, &self.key(ADMIN).await).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, user: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).json(&body);
        if let Some(u) = user {
            req = req.header("x-api-key", self.key(u).await);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, user: Option<&str>, body: Value) -> Value {
        let (status, v) = self.send(reqwest::Method::POST, path, user, body).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("server stops within 20 s")
            .unwrap()
            .unwrap();
    }
}

/// The server on `data_dir` with the test configuration: no demo farm, and (the fake printers and
/// webhooks of these tests listen on 127.0.0.1) loopback addresses allowed.
pub async fn start(data_dir: &Path) -> Running {
    start_with(data_dir, |_| {}).await
}

/// [`start`] with the test configuration changed by `adjust` first (a stricter reach, short timeouts).
pub async fn start_with(data_dir: &Path, adjust: impl FnOnce(&mut Config)) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config {
        listen: addr,
        data_dir: data_dir.to_path_buf(),
        site_root: data_dir.join("site"),
        log: "warn".into(),
        log_format: Default::default(),
        demo: DemoConfig { enabled: false, printers: 0, speed: 1.0 },
        allow_local_network: true,
        ..Config::default()
    };
    adjust(&mut config);
    let key = admin_key(data_dir).await;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(serve_on(config, listener, shutdown.clone()));
    let keys = std::sync::Mutex::new(HashMap::from([(ADMIN.to_string(), key.clone())]));
    Running { addr, shutdown, handle, http: client_with(&key), dir: data_dir.to_path_buf(), keys }
}

pub fn sim(faults: Faults) -> (MarlinSim, PtySim) {
    sim_at(f64::INFINITY, faults)
}

/// A simulated board running `speedup` times faster than real time.
pub fn sim_at(speedup: f64, faults: Faults) -> (MarlinSim, PtySim) {
    let sim = MarlinSim::new(SimConfig { speedup, advanced_ok: true, ..SimConfig::default() }, faults);
    let pty = sim.serve_pty().unwrap();
    (sim, pty)
}

/// Uploads a box of `size` mm as an STL in `user`'s name; returns the model version id.
pub async fn upload(s: &Running, name: &str, size: [f32; 3], user: &str) -> i64 {
    let r = s
        .http
        .post(s.url(&format!("/api/v1/models?name={name}")))
        .header("x-api-key", s.key(user).await)
        .body(stl(size))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap()
}

/// Makes an account over REST as the admin (a PIN too, for kiosk sign-in); returns its id.
pub async fn make_user(s: &Running, username: &str, role: &str, password: &str, pin: Option<&str>) -> i64 {
    let mut body = json!({ "username": username, "role": role, "password": password });
    if let Some(p) = pin {
        body["pin"] = json!(p);
    }
    let (status, v) = s.send(reqwest::Method::POST, "/api/v1/users", None, body).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().unwrap()
}

/// Adds a material; returns its id.
pub async fn material(s: &Running, kind: &str) -> i64 {
    s.post("/api/v1/materials", None, json!({ "name": kind, "kind": kind, "cost_per_kg": 20.0 })).await["id"]
        .as_i64()
        .unwrap()
}

/// Polls until `check` holds, failing the test after `LIMIT`.
pub async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn stl(size: [f32; 3]) -> Vec<u8> {
    let m = mesh::primitives::box_mesh([0.0; 3], size);
    mesh::io::write(&mesh::Model::single("part", m), mesh::io::Format::Stl).unwrap()
}

pub async fn users(dir: &Path) -> HashMap<&'static str, i64> {
    let db = Db::open(dir).await.unwrap();
    let mut ids = HashMap::new();
    for (name, role) in [("alice", Role::Teacher), ("bob", Role::Maker), ("carol", Role::Teacher)] {
        let id = db
            .users()
            .insert(&NewUser { username: name.into(), display_name: name.into(), role, password_hash: None })
            .await
            .unwrap();
        ids.insert(name, id);
    }
    db.close().await;
    ids
}

/// Adds a Marlin printer on `pty` with a spool of `kind`/`colour` loaded; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn add_printer(
    s: &Running,
    name: &str,
    pty: &PtySim,
    build: [f64; 3],
    nozzle: f64,
    tags: &[&str],
    material: i64,
    colour: &str,
) -> i64 {
    let p = s
        .post(
            "/api/v1/printers",
            None,
            json!({
                "name": name, "driver": "marlin",
                "connection": { "port": pty.path.to_string_lossy(), "baud": 115200 },
                "build_mm": build, "nozzle_mm": nozzle, "tags": tags,
            }),
        )
        .await;
    let id = p["id"].as_i64().unwrap();
    let spool = s
        .post("/api/v1/spools", None, json!({ "material_id": material, "colour_name": colour, "initial_g": 1000.0 }))
        .await;
    let (status, _) = s
        .send(reqwest::Method::PUT, &format!("/api/v1/printers/{id}/spool"), None, json!({ "spool_id": spool["id"] }))
        .await;
    assert_eq!(status, 200);
    id
}

pub async fn job(s: &Running, id: i64) -> Value {
    s.get(&format!("/api/v1/jobs/{id}")).await
}

/// Waits until every job is finished, confirming "bed cleared" on each printer whenever it waits for it,
/// and checking that a printer waiting for it is never given work meanwhile.
pub async fn run_to_end(s: &Running, jobs: &[i64], cleared: &mut Vec<i64>) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut open = 0;
        for id in jobs {
            let j = job(s, *id).await;
            let state = j["job"]["state"].as_str().unwrap().to_string();
            let finished = ["done", "cancelled"].contains(&state.as_str())
                || (state == "failed" && j["job"]["attempts"] == j["job"]["max_attempts"]);
            if !finished {
                open += 1;
            }
        }
        if open == 0 {
            return;
        }
        let printers: Vec<Value> = serde_json::from_value(s.get("/api/v1/printers").await).unwrap();
        for p in printers {
            let id = p["id"].as_i64().unwrap();
            if !p["bed_clear"].as_bool().unwrap() {
                assert!(p["job_id"].is_null(), "a printer waiting for bed clear was given a job: {p}");
                if p["state"] == "idle" {
                    // Give the scheduler a moment to (wrongly) assign work before the bed is cleared.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let again = s.get(&format!("/api/v1/printers/{id}")).await;
                    assert!(again["status"]["job_id"].is_null(), "assigned before the bed was cleared: {again}");
                    s.post(&format!("/api/v1/printers/{id}/bed-clear"), Some("carol"), json!({})).await;
                    cleared.push(id);
                }
            }
        }
        assert!(Instant::now() < deadline, "jobs did not finish in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `printfarm` binary as a process, killed (SIGKILL: no shutdown code runs) when the test ends,
/// even by a panic, so no server outlives its test.
pub struct Server(Child);

impl Server {
    /// The server process's id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `printfarm serve` on `port` with `dir` as its data directory and no demo farm, and returns
/// once it listens.
pub fn serve_binary(dir: &Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_printfarm"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("PRINTFARM_DEMO", "false")
        .env("PRINTFARM_LOG", "info")
        // The fake printers of these tests listen on 127.0.0.1.
        .env("PRINTFARM_ALLOW_LOCAL_NETWORK", "true")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("listening") {
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server(child)
}
