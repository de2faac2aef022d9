//! `kill -9` of the real `printfarm` binary in the middle of a USB print, then a restart on the same data
//! directory: the queue is intact, the interrupted print is recorded as failed with the reason and tried
//! again, nothing is started twice, and the database passes `PRAGMA integrity_check`.

use crate::common;

use common::{free_port, serve_binary as serve, wait_until};
use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
use serde_json::{json, Value};
use server::db::{Db, NewUser, Role};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_print_loses_nothing_and_starts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).await.unwrap();
    db.users()
        .insert(&NewUser {
            username: "alice".into(),
            display_name: "Alice".into(),
            // Alice runs the farm: she adds the printer and sends the prints.
            role: Role::Manager,
            password_hash: None,
        })
        .await
        .unwrap();
    db.close().await;
    let alice_key = common::key_for(dir.path(), "alice").await;

    // Slow enough that the print is still running when the server is killed.
    let sim = MarlinSim::new(SimConfig { speedup: 20.0, advanced_ok: true, ..SimConfig::default() }, Faults::default());
    let pty = sim.serve_pty().unwrap();
    // Holding the terminal open keeps the simulated board powered while no server is connected.
    let _hold = std::fs::OpenOptions::new().read(true).write(true).open(&pty.path).unwrap();

    let port = free_port();
    let mut server = serve(dir.path(), port);
    let api = Api { base: format!("http://127.0.0.1:{port}"), http: common::client_with(&alice_key) };
    let printer = api
        .post(
            "/api/v1/printers",
            json!({ "name": "Prusa", "driver": "marlin", "connection": { "port": pty.path.to_string_lossy() },
                    "build_mm": [250, 210, 210] }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let model = {
        let m = mesh::primitives::box_mesh([0.0; 3], [20.0, 20.0, 4.0]);
        let bytes = mesh::io::write(&mesh::Model::single("plate", m), mesh::io::Format::Stl).unwrap();
        let r = api.http.post(format!("{}/api/v1/models?name=plate.stl", api.base)).body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap()
    };
    let jobs: Vec<i64> = api
        .post("/api/v1/jobs", json!({ "model_version_id": model, "copies": 2, "quality": "draft" }))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();

    // Whichever copy the scheduler starts first is the one interrupted (both are ready at once).
    let mut first = None;
    let started = std::time::Instant::now();
    while first.is_none() {
        for id in &jobs {
            let j = api.get(&format!("/api/v1/jobs/{id}")).await;
            if j["job"]["state"] == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > 0.02 {
                first = Some(*id);
            }
        }
        if started.elapsed() > common::LIMIT {
            let printers = api.get("/api/v1/printers").await;
            panic!("no copy got well into its print; printers: {printers}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let first = first.expect("found");
    let other = *jobs.iter().find(|&&id| id != first).expect("two copies");
    server.kill();

    let mut server = serve(dir.path(), port);
    // The queue is intact and the interrupted print is accounted for.
    wait_until("the interrupted print to be recorded", async || {
        let j = api.get(&format!("/api/v1/jobs/{first}")).await;
        j["history"].as_array().unwrap().iter().any(|t| t["to"] == "failed")
    })
    .await;
    let j = api.get(&format!("/api/v1/jobs/{first}")).await;
    let failure = j["history"].as_array().unwrap().iter().find(|t| t["to"] == "failed").unwrap().clone();
    assert_eq!(failure["reason"], "the host stopped during a USB print", "{j}");
    let notes = api.get("/api/v1/notifications").await;
    assert!(notes.as_array().unwrap().iter().any(|n| n["message"].as_str().unwrap().contains("over USB")), "{notes}");
    let second = api.get(&format!("/api/v1/jobs/{other}")).await;
    assert!(["queued", "slicing", "ready"].contains(&second["job"]["state"].as_str().unwrap()), "{second}");

    // A person clears the bed each time the printer waits; both copies then print.
    wait_until("both copies to finish", async || {
        let p = api.get(&format!("/api/v1/printers/{printer}")).await;
        if p["printer"]["bed_clear"] == false && p["status"]["state"] == "idle" && p["status"]["job_id"].is_null() {
            api.post(&format!("/api/v1/printers/{printer}/bed-clear"), json!({})).await;
        }
        let mut done = 0;
        for id in &jobs {
            done += (api.get(&format!("/api/v1/jobs/{id}")).await["job"]["state"] == "done") as usize;
        }
        done == jobs.len()
    })
    .await;

    // Nothing started twice: the killed copy printed once before and once after; the other once.
    let printing = |j: &Value| j["history"].as_array().unwrap().iter().filter(|t| t["to"] == "printing").count();
    assert_eq!(printing(&api.get(&format!("/api/v1/jobs/{first}")).await), 2);
    assert_eq!(printing(&api.get(&format!("/api/v1/jobs/{other}")).await), 1);
    let starts = sim.executed().iter().filter(|l| l.starts_with("M109")).count();
    assert_eq!(starts, 3, "the board saw three print starts (one interrupted, two complete)");

    server.kill();
    let db = Db::open(dir.path()).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(db.pool()).await.unwrap();
    assert_eq!(check, "ok");
    db.close().await;
}
