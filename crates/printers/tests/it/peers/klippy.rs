//! A stand-in for Klipper's API socket (JSON objects terminated by 0x03), so a real Moonraker from PyPI
//! becomes `ready` and prints: it keeps `print_stats`, `virtual_sdcard` and the heaters, runs
//! SDCARD_PRINT_FILE jobs on a clock and pushes status diffs to its subscriber. Shared by the Moonraker
//! driver's tests and the farm's restart test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// How long Moonraker may take to report Klippy ready.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// Progress per 100 ms tick of the stand-in's clock: a job takes about 4 s.
const STEP: f64 = 0.025;

/// The stand-in's printer objects and the one subscription Moonraker holds.
pub struct Klippy {
    pub objects: Map<String, Value>,
    subscribed: Map<String, Value>,
    gcodes: PathBuf,
    out: Option<mpsc::UnboundedSender<Value>>,
    pub scripts: Vec<String>,
    /// Progress per 100 ms tick.
    pub step: f64,
}

impl Klippy {
    pub fn new(gcodes: PathBuf) -> Self {
        let objects = json!({
            "webhooks": {"state": "ready", "state_message": "Printer is ready"},
            "print_stats": {"state": "standby", "filename": "", "message": "", "print_duration": 0.0, "total_duration": 0.0,
                            "filament_used": 0.0, "info": {"current_layer": null, "total_layer": null}},
            "virtual_sdcard": {"progress": 0.0, "file_position": 0, "file_size": 0, "is_active": false, "file_path": null},
            "extruder": {"temperature": 22.0, "target": 0.0, "power": 0.0},
            "heater_bed": {"temperature": 22.0, "target": 0.0, "power": 0.0},
            "display_status": {"progress": 0.0, "message": null},
            "pause_resume": {"is_paused": false},
            "toolhead": {"homed_axes": "", "position": [0.0, 0.0, 0.0, 0.0]},
            "configfile": {"config": {"virtual_sdcard": {"path": gcodes.display().to_string()}}},
        });
        Self {
            objects: objects.as_object().unwrap().clone(),
            subscribed: Map::new(),
            gcodes,
            out: None,
            scripts: Vec::new(),
            step: STEP,
        }
    }

    /// Sets fields and pushes those that a subscriber asked for.
    fn set(&mut self, obj: &str, fields: Value) {
        let entry = self.objects.get_mut(obj).and_then(Value::as_object_mut).unwrap();
        let mut diff = Map::new();
        for (k, v) in fields.as_object().unwrap() {
            if entry.get(k) != Some(v) {
                entry.insert(k.clone(), v.clone());
                let wanted = match self.subscribed.get(obj) {
                    Some(Value::Null) => true,
                    Some(Value::Array(f)) => f.iter().any(|f| f == k),
                    _ => false,
                };
                if wanted {
                    diff.insert(k.clone(), v.clone());
                }
            }
        }
        if let (false, Some(out)) = (diff.is_empty(), &self.out) {
            let _ = out
                .send(json!({"method": "process_status_update", "params": {"eventtime": 1.0, "status": {obj: diff}}}));
        }
    }

    fn query(&self, wanted: &Map<String, Value>) -> Value {
        let mut status = Map::new();
        for (obj, fields) in wanted {
            let Some(all) = self.objects.get(obj).and_then(Value::as_object) else { continue };
            let picked: Map<String, Value> = match fields {
                Value::Array(f) => {
                    all.iter().filter(|(k, _)| f.iter().any(|x| x == *k)).map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                _ => all.clone(),
            };
            status.insert(obj.clone(), Value::Object(picked));
        }
        json!({"eventtime": 1.0, "status": status})
    }

    fn handle(&mut self, method: &str, params: &Value) -> Result<Value, String> {
        let state = |k: &Klippy| k.objects["print_stats"]["state"].as_str().unwrap_or("").to_string();
        Ok(match method {
            "info" => json!({"state": "ready", "state_message": "Printer is ready", "hostname": "standin",
                             "software_version": "v0.12.0-printfarm-standin", "cpu_info": "test",
                             // Moonraker reserves this path against writes, so it must not be the gcodes root.
                             "klipper_path": self.gcodes.with_file_name("klipper").display().to_string(), "python_path": "/usr/bin/python3",
                             "log_file": "/dev/null", "config_file": "/dev/null"}),
            "list_endpoints" => json!({"endpoints": ["info", "emergency_stop", "objects/list", "objects/query",
                "objects/subscribe", "gcode/script", "gcode/help", "pause_resume/pause", "pause_resume/resume", "pause_resume/cancel"]}),
            "objects/list" => json!({"objects": self.objects.keys().collect::<Vec<_>>()}),
            "objects/query" => self.query(params["objects"].as_object().unwrap()),
            "objects/subscribe" => {
                self.subscribed = params["objects"].as_object().cloned().unwrap_or_default();
                self.query(&self.subscribed.clone())
            }
            "gcode/subscribe_output" | "register_remote_method" | "gcode/help" => json!({}),
            "gcode/script" => {
                let script = params["script"].as_str().unwrap_or("").to_string();
                self.scripts.push(script.clone());
                if let Some(name) = script.strip_prefix("SDCARD_PRINT_FILE FILENAME=") {
                    let name = name.trim_matches('"').to_string();
                    let size = std::fs::metadata(self.gcodes.join(&name)).map_err(|e| format!("{name}: {e}"))?.len();
                    self.set("print_stats", json!({"state": "printing", "filename": name, "print_duration": 0.0, "total_duration": 0.0, "message": ""}));
                    self.set(
                        "virtual_sdcard",
                        json!({"progress": 0.0, "file_position": 0, "file_size": size, "is_active": true}),
                    );
                } else if let Some(t) = script.strip_prefix("M104 S") {
                    self.set("extruder", json!({"target": t.trim().parse::<f64>().unwrap_or(0.0)}));
                }
                json!({})
            }
            "pause_resume/pause" if state(self) == "printing" => {
                self.set("print_stats", json!({"state": "paused"}));
                self.set("virtual_sdcard", json!({"is_active": false}));
                json!({})
            }
            "pause_resume/resume" if state(self) == "paused" => {
                self.set("print_stats", json!({"state": "printing"}));
                self.set("virtual_sdcard", json!({"is_active": true}));
                json!({})
            }
            "pause_resume/cancel" => {
                self.set("print_stats", json!({"state": "cancelled"}));
                self.set("virtual_sdcard", json!({"is_active": false}));
                json!({})
            }
            "emergency_stop" => {
                self.set("webhooks", json!({"state": "shutdown", "state_message": "Shutdown due to webhooks request"}));
                json!({})
            }
            other => return Err(format!("{other} is not available in this state")),
        })
    }

    /// One 100 ms tick of the print clock.
    fn tick(&mut self) {
        let state = self.objects["print_stats"]["state"].as_str().unwrap_or("").to_string();
        let total = self.objects["print_stats"]["total_duration"].as_f64().unwrap_or(0.0);
        match state.as_str() {
            "printing" => {
                let p = (self.objects["virtual_sdcard"]["progress"].as_f64().unwrap_or(0.0) + self.step).min(1.0);
                let size = self.objects["virtual_sdcard"]["file_size"].as_f64().unwrap_or(0.0);
                let dur = self.objects["print_stats"]["print_duration"].as_f64().unwrap_or(0.0);
                self.set("virtual_sdcard", json!({"progress": p, "file_position": (p * size) as u64}));
                self.set("print_stats", json!({"print_duration": dur + 0.1, "total_duration": total + 0.1}));
                if p >= 1.0 {
                    self.set("print_stats", json!({"state": "complete"}));
                    self.set("virtual_sdcard", json!({"is_active": false}));
                }
            }
            // Klipper's total_duration keeps counting while paused; Moonraker relies on it.
            "paused" => self.set("print_stats", json!({"total_duration": total + 0.1})),
            _ => {}
        }
    }
}

pub async fn serve_klippy(socket: &Path, klippy: Arc<Mutex<Klippy>>) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    let k = klippy.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            k.lock().unwrap().tick();
        }
    });
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (rd, mut wr) = sock.into_split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
            klippy.lock().unwrap().out = Some(tx.clone());
            tokio::spawn(async move {
                while let Some(v) = rx.recv().await {
                    let mut bytes = serde_json::to_vec(&v).unwrap();
                    bytes.push(0x03);
                    if wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
            });
            let klippy = klippy.clone();
            tokio::spawn(async move {
                let mut rd = BufReader::new(rd);
                let mut buf = Vec::new();
                while rd.read_until(0x03, &mut buf).await.unwrap_or(0) > 0 {
                    buf.pop();
                    let Ok(req) = serde_json::from_slice::<Value>(&buf) else { break };
                    buf.clear();
                    let answer = klippy.lock().unwrap().handle(req["method"].as_str().unwrap_or(""), &req["params"]);
                    let reply = match answer {
                        Ok(result) => json!({"id": req["id"], "result": result}),
                        Err(message) => {
                            json!({"id": req["id"], "error": {"error": "WebRequestError", "message": message}})
                        }
                    };
                    let _ = tx.send(reply);
                }
            });
        }
    });
}

/// A running Moonraker; stopped when dropped.
pub struct Moonraker {
    _process: super::Process,
    pub base: String,
    _dir: tempfile::TempDir,
}

/// Starts Moonraker 0.11.0 from the peers venv on 127.0.0.1 with `klippy` behind its socket, and waits
/// until it reports Klippy ready.
pub async fn start_moonraker(klippy: Arc<Mutex<Klippy>>, dir: tempfile::TempDir) -> Moonraker {
    let bin = super::installed("Moonraker", "moonraker==0.11.0", "moonraker");
    let data = dir.path().join("pd");
    for sub in ["config", "misc", "gcodes", "logs"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
    }
    // An empty usb.ids stops Moonraker fetching one from linux-usb.org at startup.
    std::fs::write(data.join("misc/usb.ids"), "").unwrap();
    let socket = dir.path().join("klippy_uds");
    serve_klippy(&socket, klippy).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = data.join("config/moonraker.conf");
    std::fs::write(
        &conf,
        format!(
            "[server]\nhost: 127.0.0.1\nport: {port}\nklippy_uds_address: {}\n\n[authorization]\ntrusted_clients:\n  127.0.0.0/8\n\n\
             [announcements]\nenable_moonlight: False\n",
            socket.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("moonraker.out")).unwrap();
    let child = Command::new(&bin)
        .arg("-d")
        .arg(&data)
        .arg("-c")
        .arg(&conf)
        .arg("-n")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let m = Moonraker { _process: super::Process(child), base: format!("http://127.0.0.1:{port}"), _dir: dir };
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_LIMIT;
    loop {
        if let Ok(r) = http.get(format!("{}/server/info", m.base)).send().await {
            let info: Value = r.json().await.unwrap_or_default();
            if info["result"]["klippy_state"] == "ready" {
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let log = std::fs::read_to_string(m._dir.path().join("pd/logs/moonraker.log")).unwrap_or_default();
            panic!("Moonraker did not report Klippy ready:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    m
}
