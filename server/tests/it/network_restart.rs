//! `kill -9` of the real `printfarm` binary while a network printer prints a farm job — a real OctoPrint
//! 1.11.8 with its Virtual Printer, and a real Moonraker 0.11.0 with a stand-in Klippy, both from PyPI:
//! the host goes on printing, and the restarted server picks the print up again with its progress,
//! follows it to the end and never starts it a second time.

#[path = "../../../crates/printers/tests/it/peers/mod.rs"]
mod peers;

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, serve_binary, Server, LIMIT};
use serde_json::{json, Value};

/// The farm as a process, and a client for its API.
struct Farm {
    server: Server,
    base: String,
    port: u16,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Farm {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = common::admin_key(dir.path()).await;
        let port = free_port();
        let server = serve_binary(dir.path(), port);
        Farm { server, base: format!("http://127.0.0.1:{port}"), port, dir, http: common::client_with(&key) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Submits a small job to the farm's one printer, kills the server once the print is under way,
    /// restarts it and waits for the job to be done. Returns the job (with its history) and whether
    /// the restarted server saw the print go on from where it was.
    async fn print_through_kill_9(&mut self) -> (Value, bool) {
        let m = mesh::primitives::box_mesh([0.0; 3], [30.0, 30.0, 3.0]);
        let bytes = mesh::io::write(&mesh::Model::single("tile", m), mesh::io::Format::Stl).unwrap();
        let r = self.http.post(format!("{}/api/v1/models?name=tile.stl", self.base)).body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let version = r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap();
        let jobs = self.post("/api/v1/jobs", json!({ "model_version_id": version, "quality": "draft" })).await;
        let job = jobs[0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/jobs/{job}");

        let deadline = Instant::now() + LIMIT;
        let before = loop {
            let j = self.get(&path).await;
            if j["job"]["state"] == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > 0.0 {
                break j["job"]["progress"].as_f64().unwrap();
            }
            assert!(Instant::now() < deadline, "the job never started printing: {j}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        self.server.kill();
        self.server = serve_binary(self.dir.path(), self.port);

        let deadline = Instant::now() + LIMIT;
        let mut went_on = false;
        loop {
            let j = self.get(&path).await;
            let state = j["job"]["state"].as_str().unwrap().to_string();
            went_on |= state == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > before;
            if state == "done" {
                break (j, went_on);
            }
            assert!(!["failed", "cancelled"].contains(&state.as_str()), "the print was lost: {j}");
            assert!(Instant::now() < deadline, "the job did not finish: {j}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn printing_transitions(job: &Value) -> usize {
    job["history"].as_array().unwrap().iter().filter(|t| t["to"] == "printing").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_on_octoprint_is_picked_up_again_after_kill_9() {
    let octo = peers::octoprint::start_octoprint().await;
    let mut farm = Farm::start().await;
    // Found by asking the host (it does not announce itself on loopback), then added with its key.
    let discover = format!("/api/v1/printers/discover?mdns_ms=0&probe=false&host={}", octo.base);
    let found = farm.get(&discover).await;
    let candidate = &found["network"][0];
    assert_eq!(candidate["driver"], "octoprint", "{found}");
    assert_eq!(candidate["already_added"], false);
    let printer = farm
        .post(
            "/api/v1/printers",
            json!({ "name": "Octo", "driver": candidate["driver"], "build_mm": [200, 200, 200],
                    "connection": { "url": candidate["url"], "api_key": peers::octoprint::KEY } }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(farm.get(&discover).await["network"][0]["already_added"], true);

    let (job, _) = farm.print_through_kill_9().await;
    assert_eq!(printing_transitions(&job), 1, "started once, followed across the restart: {job}");
    assert_eq!(job["job"]["attempts"], 1);
    let p = farm.get(&format!("/api/v1/printers/{printer}")).await;
    assert_eq!(p["printer"]["bed_clear"], false, "the finished print waits for the bed to be cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_on_moonraker_is_picked_up_again_after_kill_9() {
    let moon_dir = tempfile::tempdir().unwrap();
    let klippy = Arc::new(Mutex::new(peers::klippy::Klippy::new(moon_dir.path().join("pd/gcodes"))));
    // About 25 s a print: long enough to outlast a restart.
    klippy.lock().unwrap().step = 0.004;
    let moonraker = peers::klippy::start_moonraker(klippy.clone(), moon_dir).await;
    let mut farm = Farm::start().await;
    farm.post(
        "/api/v1/printers",
        json!({ "name": "Voron", "driver": "moonraker", "connection": { "url": moonraker.base },
                "build_mm": [300, 300, 300], "firmware": "klipper" }),
    )
    .await;

    let (job, went_on) = farm.print_through_kill_9().await;
    assert!(went_on, "the restarted server followed the print's progress on");
    assert_eq!(printing_transitions(&job), 1, "started once, followed across the restart: {job}");
    let starts = klippy.lock().unwrap().scripts.iter().filter(|s| s.starts_with("SDCARD_PRINT_FILE")).count();
    assert_eq!(starts, 1, "Klipper was asked to start the file once");
}
