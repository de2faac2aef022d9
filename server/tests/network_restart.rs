//! `kill -9` of the real `printfarm` binary while a network printer prints a farm job — a real OctoPrint
//! 1.11.8 with its Virtual Printer, and a real Moonraker 0.11.0 with a stand-in Klippy, both from PyPI:
//! the host goes on printing, and the restarted server picks the print up again with its progress,
//! follows it to the end and never starts it a second time.

#[path = "../../crates/printers/tests/peers/mod.rs"]
mod peers;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_printfarm");
const LIMIT: Duration = Duration::from_secs(240);
const KEY: &str = "PRINTFARMTESTKEY0123456789ABCDEF";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// OctoPrint on 127.0.0.1 with the Virtual Printer and an admin API key, every phoning-out plugin off.
async fn start_octoprint(dir: &Path) -> (peers::Process, String) {
    let bin = peers::installed("OctoPrint", "octoprint==1.11.8", "octoprint");
    let port = free_port();
    std::fs::write(
        dir.join("config.yaml"),
        format!(
            "server:\n  host: 127.0.0.1\n  port: {port}\n  firstRun: false\n  onlineCheck: {{enabled: false}}\n  \
             pluginBlacklist: {{enabled: false}}\n  pythonEolCheck: {{enabled: false}}\n\
             serial:\n  port: VIRTUAL\n  baudrate: 115200\n  autoconnect: true\n\
             plugins:\n  _disabled: [discovery, announcements, softwareupdate, tracking, errortracking, pluginmanager, \
             health_check, pi_support, firmware_check, file_check, backup, achievements]\n  virtual_printer:\n    enabled: true\n"
        ),
    )
    .unwrap();
    let added = Command::new(&bin)
        .arg("--basedir")
        .arg(dir)
        .args(["user", "add", "--password", "test1234", "--admin", "admin"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let users = dir.join("users.yaml");
    let text = std::fs::read_to_string(&users).unwrap().replace("apikey: null", &format!("apikey: {KEY}"));
    std::fs::write(&users, text).unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let child = Command::new(&bin)
        .arg("--basedir")
        .arg(dir)
        .args(["serve", "--iknowwhatimdoing"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let process = peers::Process(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http.get(format!("{base}/api/connection")).header("X-Api-Key", KEY).send().await;
        if let Ok(r) = r {
            if r.text().await.unwrap_or_default().contains("\"Operational\"") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "OctoPrint did not become operational");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (process, base)
}

/// The server process, killed when the test ends, even by a panic, so no server outlives its test.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL: no shutdown code runs.
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve(dir: &Path, port: u16) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("PRINTFARM_DEMO", "false")
        .env("PRINTFARM_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("listening") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server(child)
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut req = http.request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_on_octoprint_is_picked_up_again_after_kill_9() {
    let octo_dir = tempfile::tempdir().unwrap();
    let (_octo, octo_url) = start_octoprint(octo_dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = serve(dir.path(), port);

    // Found by asking the host (it does not announce itself on loopback), then added with its key.
    let found = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v1/printers/discover?mdns_ms=0&probe=false&host={octo_url}"),
        None,
    )
    .await;
    let candidate = &found["network"][0];
    assert_eq!(candidate["driver"], "octoprint", "{found}");
    assert_eq!(candidate["already_added"], false);
    let printer = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/printers"),
        Some(json!({ "name": "Octo", "driver": candidate["driver"], "connection": { "url": candidate["url"], "api_key": KEY },
                     "build_mm": [200, 200, 200] })),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let m = mesh::primitives::box_mesh([0.0; 3], [30.0, 30.0, 3.0]);
    let bytes = mesh::io::write(&mesh::Model::single("tile", m), mesh::io::Format::Stl).unwrap();
    let r = http.post(format!("{base}/api/v1/models?name=tile.stl")).body(bytes).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let version = r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap();
    let jobs = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/jobs"),
        Some(json!({ "model_version_id": version, "quality": "draft" })),
    )
    .await;
    let job = jobs[0]["id"].as_i64().unwrap();
    let again = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v1/printers/discover?mdns_ms=0&probe=false&host={octo_url}"),
        None,
    )
    .await;
    assert_eq!(again["network"][0]["already_added"], true, "{again}");
    let get_job = || call(&http, reqwest::Method::GET, format!("{base}/api/v1/jobs/{job}"), None);

    let deadline = Instant::now() + LIMIT;
    let before = loop {
        let j = get_job().await;
        if j["job"]["state"] == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break j["job"]["progress"].as_f64().unwrap();
        }
        assert!(Instant::now() < deadline, "the job never started printing: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    server.kill();

    let mut server = serve(dir.path(), port);
    let deadline = Instant::now() + LIMIT;
    let mut resumed_progress = None;
    loop {
        let j = get_job().await;
        let state = j["job"]["state"].as_str().unwrap().to_string();
        if state == "printing" {
            resumed_progress = j["job"]["progress"].as_f64().or(resumed_progress);
        }
        if state == "done" {
            break;
        }
        assert!(!["failed", "cancelled"].contains(&state.as_str()), "the print was lost: {j}");
        assert!(Instant::now() < deadline, "the job did not finish: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(p) = resumed_progress {
        assert!(p >= before, "progress went on from where it was ({before} → {p})");
    }
    let j = get_job().await;
    let printing = j["history"].as_array().unwrap().iter().filter(|t| t["to"] == "printing").count();
    assert_eq!(printing, 1, "started once, followed across the restart: {j}");
    assert_eq!(j["job"]["attempts"], 1);
    let p = call(&http, reqwest::Method::GET, format!("{base}/api/v1/printers/{printer}"), None).await;
    assert_eq!(p["printer"]["bed_clear"], false, "the finished print waits for the bed to be cleared");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_on_moonraker_is_picked_up_again_after_kill_9() {
    let moon_dir = tempfile::tempdir().unwrap();
    let klippy =
        std::sync::Arc::new(std::sync::Mutex::new(peers::klippy::Klippy::new(moon_dir.path().join("pd/gcodes"))));
    // About 25 s a print: long enough to outlast a restart.
    klippy.lock().unwrap().step = 0.004;
    let moonraker = peers::klippy::start_moonraker(klippy.clone(), moon_dir).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = serve(dir.path(), port);
    let printer = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/printers"),
        Some(json!({ "name": "Voron", "driver": "moonraker", "connection": { "url": moonraker.base },
                     "build_mm": [300, 300, 300], "firmware": "klipper" })),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let m = mesh::primitives::box_mesh([0.0; 3], [20.0, 20.0, 2.0]);
    let bytes = mesh::io::write(&mesh::Model::single("coaster", m), mesh::io::Format::Stl).unwrap();
    let r = http.post(format!("{base}/api/v1/models?name=coaster.stl")).body(bytes).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let version = r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap();
    let jobs = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/jobs"),
        Some(json!({ "model_version_id": version, "quality": "draft" })),
    )
    .await;
    let job = jobs[0]["id"].as_i64().unwrap();
    let get_job = || call(&http, reqwest::Method::GET, format!("{base}/api/v1/jobs/{job}"), None);

    let deadline = Instant::now() + LIMIT;
    let before = loop {
        let j = get_job().await;
        if j["job"]["state"] == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break j["job"]["progress"].as_f64().unwrap();
        }
        assert!(Instant::now() < deadline, "the job never started printing: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    server.kill();

    let mut server = serve(dir.path(), port);
    let deadline = Instant::now() + LIMIT;
    let mut seen_printing_after = false;
    loop {
        let j = get_job().await;
        let state = j["job"]["state"].as_str().unwrap().to_string();
        if state == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > before {
            seen_printing_after = true;
        }
        if state == "done" {
            break;
        }
        assert!(!["failed", "cancelled"].contains(&state.as_str()), "the print was lost: {j}");
        assert!(Instant::now() < deadline, "the job did not finish: {j}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen_printing_after, "the restarted server followed the print's progress on from {before}");
    let j = get_job().await;
    let printing = j["history"].as_array().unwrap().iter().filter(|t| t["to"] == "printing").count();
    assert_eq!(printing, 1, "started once, followed across the restart: {j}");
    let starts = klippy.lock().unwrap().scripts.iter().filter(|s| s.starts_with("SDCARD_PRINT_FILE")).count();
    assert_eq!(starts, 1, "Klipper was asked to start the file once");
    let p = call(&http, reqwest::Method::GET, format!("{base}/api/v1/printers/{printer}"), None).await;
    assert_eq!(p["printer"]["bed_clear"], false);
    server.kill();
}
