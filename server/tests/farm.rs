//! The farm as a whole: the real server (real SQLite file, real HTTP) drives simulated Marlin boards on
//! pseudo-terminals through the real serial driver. Jobs from several users are sliced, matched to
//! printers by material, colour, size and nozzle, printed, gated by "bed cleared", retried after a
//! printer fails mid-job, and every transition is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use printers::sim::marlin::{Faults, MarlinSim, PtySim, SimConfig};
use serde_json::{json, Value};
use server::config::{Config, DemoConfig};
use server::db::{Db, NewUser, Role};
use server::http::{serve_on, ServeError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous: a hung test fails instead of hanging, but no pass depends on speed.
const LIMIT: Duration = Duration::from_secs(180);

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), ServeError>>,
    http: reqwest::Client,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn send(&self, method: reqwest::Method, path: &str, user: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).json(&body);
        if let Some(u) = user {
            req = req.header("X-Printfarm-User", u);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, user: Option<&str>, body: Value) -> Value {
        let (status, v) = self.send(reqwest::Method::POST, path, user, body).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("server stops within 20 s")
            .unwrap()
            .unwrap();
    }
}

async fn start(data_dir: &Path) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        listen: addr,
        data_dir: data_dir.to_path_buf(),
        site_root: data_dir.join("site"),
        log: "warn".into(),
        demo: DemoConfig { enabled: false, printers: 0, speed: 1.0 },
    };
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(serve_on(config, listener, shutdown.clone()));
    Running { addr, shutdown, handle, http: reqwest::Client::new() }
}

fn sim(faults: Faults) -> (MarlinSim, PtySim) {
    let sim = MarlinSim::new(SimConfig { speedup: f64::INFINITY, advanced_ok: true, ..SimConfig::default() }, faults);
    let pty = sim.serve_pty().unwrap();
    (sim, pty)
}

fn stl(size: [f32; 3]) -> Vec<u8> {
    let m = mesh::primitives::box_mesh([0.0; 3], size);
    mesh::io::write(&mesh::Model::single("part", m), mesh::io::Format::Stl).unwrap()
}

async fn users(dir: &Path) -> HashMap<&'static str, i64> {
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
async fn add_printer(
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

async fn job(s: &Running, id: i64) -> Value {
    s.get(&format!("/api/v1/jobs/{id}")).await
}

/// Waits until every job is finished, confirming "bed cleared" on each printer whenever it waits for it,
/// and checking that a printer waiting for it is never given work meanwhile.
async fn run_to_end(s: &Running, jobs: &[i64], cleared: &mut Vec<i64>) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_from_several_users_go_to_the_right_printers_and_survive_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ids = users(dir.path()).await;
    let (_sa, pa) = sim(Faults::default());
    let (_sb, pb) = sim(Faults::default());
    // C's hotend runs away early in its first print.
    let (sc, pc) = sim(Faults { thermal_runaway_after: [40].into(), ..Faults::default() });
    let (_sd, pd) = sim(Faults::default());
    let s = start(dir.path()).await;

    let mut events = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/events", s.addr)).await.unwrap().0;

    let pla = s.post("/api/v1/materials", None, json!({ "name": "PLA", "kind": "PLA", "cost_per_kg": 20.0 })).await;
    let petg = s.post("/api/v1/materials", None, json!({ "name": "PETG", "kind": "PETG", "cost_per_kg": 25.0 })).await;
    let (pla, petg) = (pla["id"].as_i64().unwrap(), petg["id"].as_i64().unwrap());
    let a = add_printer(&s, "A", &pa, [220.0, 220.0, 250.0], 0.4, &["room 1"], pla, "Red").await;
    let b = add_printer(&s, "B", &pb, [220.0, 220.0, 250.0], 0.4, &["room 1"], petg, "Blue").await;
    let c = add_printer(&s, "C", &pc, [220.0, 220.0, 250.0], 0.4, &["room 2"], pla, "Red").await;
    let d = add_printer(&s, "D", &pd, [300.0, 300.0, 400.0], 0.6, &["large"], pla, "Red").await;

    let client = reqwest::Client::new();
    let upload = |name: &'static str, size: [f32; 3]| {
        let client = client.clone();
        let url = s.url(&format!("/api/v1/models?name={name}"));
        async move {
            let r = client.post(url).header("X-Printfarm-User", "alice").body(stl(size)).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap()
        }
    };
    let cube = upload("cube.stl", [15.0, 15.0, 6.0]).await;
    let tower = upload("tower.stl", [10.0, 10.0, 300.0]).await;

    // A model no printer can hold is refused politely before it wastes a slice.
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/models?name=junk.stl", Some("alice"), json!("not a model")).await;
    assert_eq!(status, 422, "{body}");

    let submit = |user: &'static str, body: Value| {
        let s = &s;
        async move {
            let v = s.post("/api/v1/jobs", Some(user), body).await;
            v.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    // Alice (a teacher) sends three red PLA copies; Bob (a student) a blue PETG one, which waits for
    // approval; Alice a tower only the large printer can hold, with its 0.6 mm nozzle.
    let red = submit(
        "alice",
        json!({ "model_version_id": cube, "material_kind": "PLA", "colour": "red", "copies": 3, "quality": "draft" }),
    )
    .await;
    let blue = submit(
        "bob",
        json!({ "model_version_id": cube, "material_kind": "PETG", "colour": "Blue", "quality": "draft" }),
    )
    .await;
    let tall = submit(
        "alice",
        json!({ "model_version_id": tower, "material_kind": "PLA", "quality": "draft", "nozzle_mm": 0.6 }),
    )
    .await;
    assert_eq!(red.len(), 3);
    assert_eq!(job(&s, blue[0]).await["job"]["state"], "awaiting_approval");
    let forecast: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
    assert_eq!(forecast.len(), 5, "every waiting job has an estimate: {forecast:?}");
    let approved =
        s.post(&format!("/api/v1/jobs/{}/approve", blue[0]), Some("carol"), json!({ "reason": "fine" })).await;
    assert_eq!(approved["state"], "queued");

    let all: Vec<i64> = red.iter().chain(&blue).chain(&tall).copied().collect();
    let mut cleared = Vec::new();
    run_to_end(&s, &all, &mut cleared).await;

    // Every job printed, on a printer that fits it.
    let loaded: HashMap<i64, (&str, &str)> =
        [(a, ("PLA", "Red")), (b, ("PETG", "Blue")), (c, ("PLA", "Red")), (d, ("PLA", "Red"))].into();
    for id in &all {
        let j = job(&s, *id).await;
        assert_eq!(j["job"]["state"], "done", "job {id}: {j}");
        let printer = j["job"]["printer_id"].as_i64().unwrap();
        let want = j["job"]["material_kind"].as_str().unwrap();
        assert_eq!(loaded[&printer].0, want, "job {id} went to a printer with other material");
        if let Some(colour) = j["job"]["colour"].as_str() {
            assert!(loaded[&printer].1.eq_ignore_ascii_case(colour), "job {id}: colour");
        }
        let states: Vec<&str> = j["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
        assert_eq!(states.first(), Some(&"submitted"));
        assert_eq!(states.last(), Some(&"done"));
        for pair in ["slicing", "ready", "assigned", "printing"] {
            assert!(states.contains(&pair), "job {id} history {states:?}");
        }
    }
    assert_eq!(job(&s, blue[0]).await["job"]["printer_id"], b, "only B has blue PETG");
    assert_eq!(job(&s, tall[0]).await["job"]["printer_id"], d, "only D is tall enough with a 0.6 mm nozzle");
    let blue_history = job(&s, blue[0]).await["history"].clone();
    assert_eq!(blue_history[1]["to"], "awaiting_approval");
    assert_eq!(blue_history[2]["actor_id"], ids["carol"], "the approval is recorded in the teacher's name");

    // C failed mid-print with the printer's own words; the job was retried elsewhere.
    assert!(sc.executed().iter().any(|l| l.starts_with("M104") || l.starts_with("M109")), "C printed something");
    let failed_on_c: Vec<Value> = {
        let mut v = Vec::new();
        for id in &red {
            let j = job(&s, *id).await;
            if j["history"].as_array().unwrap().iter().any(|t| t["to"] == "failed") {
                v.push(j);
            }
        }
        v
    };
    assert_eq!(failed_on_c.len(), 1, "exactly one red job hit C's thermal runaway");
    let f = &failed_on_c[0];
    let failure = f["history"].as_array().unwrap().iter().find(|t| t["to"] == "failed").unwrap();
    assert!(failure["reason"].as_str().unwrap().to_lowercase().contains("thermal runaway"), "{failure}");
    assert_ne!(f["job"]["printer_id"], c, "the retry avoided the printer that failed");
    assert_eq!(f["job"]["attempts"], 2);
    let c_now = s.get(&format!("/api/v1/printers/{c}")).await;
    assert_eq!(c_now["status"]["state"], "error", "C is halted after its thermal runaway: {c_now}");
    assert_eq!(c_now["printer"]["bed_clear"], false, "C waits for a person before it takes another job");
    assert!(!cleared.is_empty(), "printers waited for their beds to be cleared between jobs");

    // Spools lost what was printed; statistics add up.
    let spools: Vec<Value> = serde_json::from_value(s.get("/api/v1/spools").await).unwrap();
    let used: f64 = spools.iter().map(|sp| 1000.0 - sp["remaining_g"].as_f64().unwrap()).sum();
    let mut filament = 0.0;
    for id in &all {
        filament += job(&s, *id).await["job"]["filament_used_g"].as_f64().unwrap();
    }
    assert!(used > 0.5 && (used - filament).abs() < 1e-6, "spools lost {used} g, jobs used {filament} g");
    let stats: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/printers").await).unwrap();
    let runs: i64 = stats.iter().map(|p| p["runs"].as_i64().unwrap()).sum();
    let failed: i64 = stats.iter().map(|p| p["failed"].as_i64().unwrap()).sum();
    assert_eq!((runs, failed), (6, 1), "{stats:?}");
    let per_user: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/users").await).unwrap();
    let alice = per_user.iter().find(|u| u["name"] == "alice").unwrap_or_else(|| panic!("{per_user:?}"));
    assert_eq!(alice["jobs_done"], 4);
    assert!(alice["cost"].as_f64().unwrap() > 0.0);

    // People were told, in the app and on the live stream.
    let notes: Vec<Value> = serde_json::from_value(s.get("/api/v1/notifications").await).unwrap();
    assert!(notes.iter().any(|n| n["kind"] == "job_failed" && n["message"].as_str().unwrap().contains("tried again")));
    assert!(notes.iter().filter(|n| n["kind"] == "job_done").count() >= 5);
    let mut kinds = std::collections::HashSet::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        if let Ok(v) = serde_json::from_str::<Value>(msg.to_text().unwrap_or("")) {
            kinds.insert(v["type"].as_str().unwrap_or("").to_string());
        }
    }
    for k in ["snapshot", "printer", "job", "queue", "notification"] {
        assert!(kinds.contains(k), "no {k} event on the stream: {kinds:?}");
    }
    s.stop().await;
}
