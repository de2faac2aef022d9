//! Klipper printers through Moonraker: JSON-RPC over its websocket for status
//! (`printer.objects.subscribe` pushes `notify_status_update` diffs) and commands, HTTP for upload.
//!
//! One task per printer owns the socket; it reconnects after a loss and resubscribes, and waits for
//! Klippy to become ready when Moonraker is up before Klipper is.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::driver::BoxFuture;
use crate::{
    ByteProgress, DriverError, FirmwareInfo, PrinterDriver, PrinterState, PrinterStatus, RemoteFile, Temperature,
};

/// Uploads go into this folder under Moonraker's `gcodes` root.
const UPLOAD_FOLDER: &str = "printfarm";

/// How the driver talks to one Moonraker.
#[derive(Debug, Clone)]
pub struct MoonrakerOptions {
    pub reconnect_interval: Duration,
    /// How long one JSON-RPC call may take.
    pub call_timeout: Duration,
    /// Sent in `server.connection.identify` when Moonraker requires one.
    pub api_key: Option<String>,
}

impl Default for MoonrakerOptions {
    fn default() -> Self {
        Self { reconnect_interval: Duration::from_secs(2), call_timeout: Duration::from_secs(10), api_key: None }
    }
}

type Reply = oneshot::Sender<Result<Value, DriverError>>;
/// A JSON-RPC call on its way to the connection task: method, params, where the answer goes.
type Call = (String, Value, Reply);

/// A Klipper printer behind Moonraker.
pub struct MoonrakerDriver {
    base: String,
    http: reqwest::Client,
    options: MoonrakerOptions,
    status: watch::Sender<PrinterStatus>,
    task: Mutex<Option<(mpsc::Sender<Call>, JoinHandle<()>)>>,
}

impl MoonrakerDriver {
    /// `base` is Moonraker's URL, e.g. `http://voron.local:7125`.
    pub fn new(base: &str, options: MoonrakerOptions) -> Result<Self, DriverError> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &options.api_key {
            let v = reqwest::header::HeaderValue::from_str(key)
                .map_err(|_| DriverError::Refused("the API key has characters a header cannot carry".into()))?;
            headers.insert("X-Api-Key", v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(crate::driver::same_origin_redirects())
            .build()
            .map_err(|e| DriverError::Refused(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            options,
            status: watch::channel(PrinterStatus::disconnected()).0,
            task: Mutex::new(None),
        })
    }

    /// Calls a JSON-RPC method over the websocket and returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, DriverError> {
        let tx = {
            let task = self.task.lock().expect("moonraker task lock");
            task.as_ref().map(|(tx, _)| tx.clone()).ok_or(DriverError::NotConnected)?
        };
        let (reply, rx) = oneshot::channel();
        tx.send((method.to_string(), params, reply)).await.map_err(|_| DriverError::Stopped)?;
        match tokio::time::timeout(self.options.call_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(DriverError::Stopped),
            Err(_) => Err(DriverError::Refused(format!("{method}: no answer within {:?}", self.options.call_timeout))),
        }
    }
}

fn ws_url(base: &str) -> String {
    let rest = base.strip_prefix("https://").map(|r| format!("wss://{r}"));
    rest.unwrap_or_else(|| format!("ws://{}", base.trim_start_matches("http://"))) + "/websocket"
}

/// The objects and fields the farm shows.
fn subscription() -> Value {
    json!({ "objects": {
        "print_stats": ["state", "filename", "message", "info", "print_duration"],
        "virtual_sdcard": ["progress", "file_position", "file_size", "is_active"],
        "extruder": ["temperature", "target"],
        "heater_bed": ["temperature", "target"],
        "webhooks": ["state", "state_message"],
    }})
}

/// Merges a `notify_status_update` diff (or a full status) into `into`.
fn merge(into: &mut Map<String, Value>, diff: &Value) {
    let Some(diff) = diff.as_object() else { return };
    for (obj, fields) in diff {
        let entry = into.entry(obj.clone()).or_insert_with(|| json!({}));
        if let (Some(entry), Some(fields)) = (entry.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                entry.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Klipper's objects → our status.
fn apply(objects: &Map<String, Value>, s: &mut PrinterStatus) {
    let get = |o: &str, f: &str| objects.get(o).and_then(|v| v.get(f));
    let num = |o: &str, f: &str| get(o, f).and_then(Value::as_f64);
    let text = |o: &str, f: &str| get(o, f).and_then(Value::as_str).map(str::to_string);
    s.hotend = Temperature {
        actual: num("extruder", "temperature").unwrap_or(0.0) as f32,
        target: num("extruder", "target").unwrap_or(0.0) as f32,
    };
    s.bed = Temperature {
        actual: num("heater_bed", "temperature").unwrap_or(0.0) as f32,
        target: num("heater_bed", "target").unwrap_or(0.0) as f32,
    };
    let klippy = text("webhooks", "state").unwrap_or_default();
    let job = text("print_stats", "state").unwrap_or_default();
    s.state = match (klippy.as_str(), job.as_str()) {
        ("shutdown" | "error", _) | (_, "error") => PrinterState::Error,
        ("startup", _) => PrinterState::Connecting,
        (_, "printing") => PrinterState::Printing,
        (_, "paused") => PrinterState::Paused,
        _ => PrinterState::Idle,
    };
    s.message = match s.state {
        PrinterState::Error if klippy == "shutdown" || klippy == "error" => text("webhooks", "state_message"),
        PrinterState::Error => text("print_stats", "message"),
        _ if job == "complete" || job == "cancelled" => Some(format!(
            "{} {}",
            if job == "complete" { "Finished" } else { "Cancelled" },
            text("print_stats", "filename").unwrap_or_default()
        )),
        _ => text("print_stats", "message").filter(|m| !m.is_empty()),
    };
    if s.state == PrinterState::Error {
        s.last_error = s.message.clone();
    }
    s.file = text("print_stats", "filename").filter(|f| !f.is_empty());
    s.progress = num("virtual_sdcard", "progress").map(|p| p as f32).filter(|_| s.file.is_some());
    s.bytes = match (num("virtual_sdcard", "file_position"), num("virtual_sdcard", "file_size")) {
        (Some(done), Some(total)) if total > 0.0 => Some(ByteProgress { done: done as u64, total: total as u64 }),
        _ => None,
    };
    let info = get("print_stats", "info");
    s.current_layer = info.and_then(|i| i.get("current_layer")).and_then(Value::as_u64).map(|v| v as u32);
    s.total_layers = info.and_then(|i| i.get("total_layer")).and_then(Value::as_u64).map(|v| v as u32);
}

/// Runs one websocket session until it drops; `Ok(())` means the driver asked to stop.
async fn session(
    base: &str,
    options: &MoonrakerOptions,
    status: &watch::Sender<PrinterStatus>,
    calls: &mut mpsc::Receiver<Call>,
) -> Result<(), String> {
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(base))
        .await
        .map_err(|e| format!("cannot reach Moonraker at {base}: {e}"))?;
    let (mut tx, mut rx) = ws.split();
    let mut next_id: u64 = 1;
    let mut pending: HashMap<u64, Reply> = HashMap::new();
    // Our own calls (identify, info, subscribe) get answers routed back here by id.
    let mut own: HashMap<u64, &'static str> = HashMap::new();
    let mut objects: Map<String, Value> = Map::new();
    let mut ready_poll = tokio::time::interval(Duration::from_secs(1));
    let mut subscribed = false;

    let send = |method: &str, params: Value, next_id: &mut u64| -> (u64, Message) {
        let id = *next_id;
        *next_id += 1;
        (id, Message::text(json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id }).to_string()))
    };
    let mut identify = json!({ "client_name": "printfarm", "version": env!("CARGO_PKG_VERSION"), "type": "other", "url": "https://example.invalid/printfarm" });
    if let Some(key) = &options.api_key {
        identify["api_key"] = json!(key);
    }
    let (id, msg) = send("server.connection.identify", identify, &mut next_id);
    own.insert(id, "identify");
    tx.send(msg).await.map_err(|e| e.to_string())?;

    loop {
        tokio::select! {
            frame = rx.next() => {
                let text = match frame {
                    None => return Err("Moonraker closed the connection".into()),
                    Some(Err(e)) => return Err(format!("connection lost: {e}")),
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) => return Err("Moonraker closed the connection".into()),
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(method) = v.get("method").and_then(Value::as_str) {
                    match method {
                        "notify_status_update" => {
                            merge(&mut objects, &v["params"][0]);
                            status.send_if_modified(|s| { let before = s.clone(); apply(&objects, s); *s != before });
                        }
                        "notify_klippy_ready" => subscribed = false,
                        "notify_klippy_shutdown" | "notify_klippy_disconnected" => {
                            subscribed = false;
                            let what = if method == "notify_klippy_shutdown" { "Klipper shut down" } else { "Klipper disconnected from Moonraker" };
                            status.send_modify(|s| { s.state = PrinterState::Error; s.message = Some(what.into()); s.last_error = Some(what.into()); });
                        }
                        _ => {}
                    }
                    continue;
                }
                let Some(id) = v.get("id").and_then(Value::as_u64) else { continue };
                let result = match v.get("error") {
                    Some(e) => Err(DriverError::Refused(e.get("message").and_then(Value::as_str).unwrap_or("error").to_string())),
                    None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                };
                if let Some(reply) = pending.remove(&id) {
                    let _ = reply.send(result);
                } else if let Some(what) = own.remove(&id) {
                    match (what, result) {
                        ("info", Ok(info)) => {
                            let version = info["moonraker_version"].as_str().unwrap_or("").to_string();
                            let klippy = info["klippy_state"].as_str().unwrap_or("").to_string();
                            status.send_modify(|s| s.firmware = Some(FirmwareInfo { name: format!("Moonraker {version}"), fields: vec![("klippy_state".into(), klippy.clone())], capabilities: Vec::new() }));
                            if klippy == "ready" && !subscribed {
                                let (id, msg) = send("printer.objects.subscribe", subscription(), &mut next_id);
                                own.insert(id, "subscribe");
                                tx.send(msg).await.map_err(|e| e.to_string())?;
                                subscribed = true;
                            } else if klippy != "ready" {
                                let why = format!("Klipper is not ready (state {klippy})");
                                status.send_modify(|s| { s.state = PrinterState::Connecting; s.message = Some(why); });
                            }
                        }
                        ("subscribe", Ok(r)) => {
                            objects.clear();
                            merge(&mut objects, &r["status"]);
                            status.send_if_modified(|s| { let before = s.clone(); apply(&objects, s); *s != before });
                        }
                        ("subscribe", Err(_)) => subscribed = false,
                        _ => {}
                    }
                }
            }
            call = calls.recv() => {
                let Some((method, params, reply)) = call else { return Ok(()) };
                let (id, msg) = send(&method, params, &mut next_id);
                pending.insert(id, reply);
                tx.send(msg).await.map_err(|e| e.to_string())?;
            }
            _ = ready_poll.tick(), if !subscribed => {
                let (id, msg) = send("server.info", json!({}), &mut next_id);
                own.insert(id, "info");
                tx.send(msg).await.map_err(|e| e.to_string())?;
            }
        }
    }
}

impl PrinterDriver for MoonrakerDriver {
    fn status(&self) -> watch::Receiver<PrinterStatus> {
        self.status.subscribe()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let mut task = self.task.lock().expect("moonraker task lock");
            if task.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                return Ok(());
            }
            let (tx, mut rx) = mpsc::channel(16);
            let (base, options, status) = (self.base.clone(), self.options.clone(), self.status.clone());
            let handle = tokio::spawn(async move {
                loop {
                    status.send_modify(|s| {
                        if s.state != PrinterState::Error {
                            s.state = PrinterState::Connecting
                        }
                    });
                    match session(&base, &options, &status, &mut rx).await {
                        Ok(()) => break,
                        Err(why) => {
                            tracing::warn!(moonraker = %base, "{why}");
                            status.send_modify(|s| {
                                s.state = PrinterState::Error;
                                s.message = Some(why.clone());
                                s.last_error = Some(why);
                            });
                        }
                    }
                    // Wait before retrying, but stop at once when disconnect() drops the sender.
                    tokio::select! {
                        _ = tokio::time::sleep(options.reconnect_interval) => {}
                        cmd = rx.recv() => if cmd.is_none() { break },
                    }
                }
                status.send_modify(|s| s.state = PrinterState::Disconnected);
            });
            *task = Some((tx, handle));
            Ok(())
        })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let taken = self.task.lock().expect("moonraker task lock").take();
            if let Some((tx, handle)) = taken {
                drop(tx);
                let _ = handle.await;
            }
            Ok(())
        })
    }

    fn upload<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<RemoteFile, DriverError>> {
        Box::pin(async move {
            let (part, size) = crate::driver::file_part(path).await?;
            let form =
                reqwest::multipart::Form::new().part("file", part).text("root", "gcodes").text("path", UPLOAD_FOLDER);
            let resp = self
                .http
                .post(format!("{}/server/files/upload", self.base))
                .multipart(form)
                .send()
                .await
                .map_err(|e| DriverError::Io(std::io::Error::other(e)))?;
            let code = resp.status();
            let answer: Value = resp.json().await.map_err(|e| DriverError::Io(std::io::Error::other(e)))?;
            if !code.is_success() {
                return Err(DriverError::Refused(format!(
                    "{code}: {}",
                    answer["error"]["message"].as_str().unwrap_or("")
                )));
            }
            let remote = answer["item"]["path"]
                .as_str()
                .ok_or_else(|| DriverError::Refused(format!("unexpected upload answer: {answer}")))?;
            Ok(RemoteFile { name: remote.to_string(), size })
        })
    }

    fn start<'a>(&'a self, file: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move { self.call("printer.print.start", json!({ "filename": file })).await.map(|_| ()) })
    }

    fn pause(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move { self.call("printer.print.pause", json!({})).await.map(|_| ()) })
    }

    fn resume(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move { self.call("printer.print.resume", json!({})).await.map(|_| ()) })
    }

    fn cancel(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move { self.call("printer.print.cancel", json!({})).await.map(|_| ()) })
    }

    fn send_gcode<'a>(&'a self, lines: &'a [String]) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            if lines.iter().any(|l| l.trim().eq_ignore_ascii_case("M112")) {
                // Klipper's emergency stop has its own endpoint, ahead of the G-code queue.
                return self.call("printer.emergency_stop", json!({})).await.map(|_| ());
            }
            self.call("printer.gcode.script", json!({ "script": lines.join("\n") })).await.map(|_| ())
        })
    }
}

impl Drop for MoonrakerDriver {
    fn drop(&mut self) {
        if let Some((_, handle)) = self.task.lock().expect("moonraker task lock").take() {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klipper_objects_map_to_status() {
        let mut objects = Map::new();
        merge(
            &mut objects,
            &json!({
                "webhooks": {"state": "ready", "state_message": "Printer is ready"},
                "print_stats": {"state": "printing", "filename": "printfarm/cube.gcode", "message": "", "info": {"current_layer": 3, "total_layer": 40}},
                "virtual_sdcard": {"progress": 0.25, "file_position": 250, "file_size": 1000},
                "extruder": {"temperature": 209.5, "target": 210.0},
                "heater_bed": {"temperature": 60.0, "target": 60.0},
            }),
        );
        let mut s = PrinterStatus::disconnected();
        apply(&objects, &mut s);
        assert_eq!(s.state, PrinterState::Printing);
        assert_eq!(s.bytes, Some(ByteProgress { done: 250, total: 1000 }));
        assert_eq!((s.current_layer, s.total_layers), (Some(3), Some(40)));
        merge(
            &mut objects,
            &json!({"webhooks": {"state": "shutdown", "state_message": "MCU 'mcu' shutdown: Thermal runaway"}}),
        );
        apply(&objects, &mut s);
        assert_eq!(s.state, PrinterState::Error);
        assert_eq!(s.message.as_deref(), Some("MCU 'mcu' shutdown: Thermal runaway"));
        assert_eq!(ws_url("http://10.0.0.5:7125"), "ws://10.0.0.5:7125/websocket");
    }
}
