//! OctoPrint over its REST API (`X-Api-Key`), polled: `/api/version` once, then `/api/job` and
//! `/api/printer` on an interval. Upload streams the file from disk as multipart.
//!
//! Polling rather than the push socket keeps one code path for every OctoPrint version; at the
//! default 1 s it costs two small requests per second per printer.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::driver::BoxFuture;
use crate::{
    ByteProgress, DriverError, FirmwareInfo, PrinterDriver, PrinterState, PrinterStatus, RemoteFile, Temperature,
};

/// Uploads go into this folder on the OctoPrint instance, so farm files stay apart from the user's.
const UPLOAD_FOLDER: &str = "printfarm";

/// How the driver talks to one OctoPrint instance.
#[derive(Debug, Clone)]
pub struct OctoPrintOptions {
    pub poll_interval: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Ask OctoPrint to open its serial connection when it is closed (`port`, `baudrate`; `None`
    /// leaves OctoPrint's own choice, e.g. `AUTO` or its autoconnect setting).
    pub connect_port: Option<(String, Option<u32>)>,
}

impl Default for OctoPrintOptions {
    fn default() -> Self {
        Self { poll_interval: Duration::from_secs(1), request_timeout: Duration::from_secs(10), connect_port: None }
    }
}

/// A printer behind OctoPrint.
pub struct OctoPrintDriver {
    base: String,
    http: reqwest::Client,
    options: OctoPrintOptions,
    status: watch::Sender<PrinterStatus>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl OctoPrintDriver {
    /// `base` is OctoPrint's URL (e.g. `http://octopi.local/`), `api_key` a user or application key.
    pub fn new(base: &str, api_key: &str, options: OctoPrintOptions) -> Result<Self, DriverError> {
        let mut headers = reqwest::header::HeaderMap::new();
        let key = reqwest::header::HeaderValue::from_str(api_key)
            .map_err(|_| DriverError::Refused("the API key has characters a header cannot carry".into()))?;
        headers.insert("X-Api-Key", key);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(options.request_timeout)
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

    async fn post(&self, path: &str, body: Value) -> Result<(), DriverError> {
        let resp = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.map_err(http_err)?;
        check(resp).await.map(|_| ())
    }
}

fn http_err(e: reqwest::Error) -> DriverError {
    DriverError::Io(std::io::Error::other(e))
}

/// Turns OctoPrint's error answers into [`DriverError`]s with its own message.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, DriverError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(text);
    Err(match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => DriverError::Refused(format!("API key rejected: {msg}")),
        StatusCode::CONFLICT => DriverError::Busy(msg),
        StatusCode::NOT_FOUND => DriverError::UnknownFile(msg),
        _ => DriverError::Refused(format!("{status}: {msg}")),
    })
}

#[derive(Deserialize)]
struct Version {
    server: String,
    api: String,
}

#[derive(Deserialize, Default)]
struct JobAnswer {
    state: String,
    #[serde(default)]
    job: Job,
    #[serde(default)]
    progress: Progress,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct Job {
    #[serde(default)]
    file: JobFile,
}

#[derive(Deserialize, Default)]
struct JobFile {
    name: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Progress {
    completion: Option<f32>,
    filepos: Option<u64>,
    print_time_left: Option<f64>,
}

/// `/api/job`'s state text → our state. OctoPrint's texts: Operational, Printing, Printing from SD,
/// Starting, Pausing, Paused, Resuming, Cancelling, Finishing, Error: …, Offline, Offline after error…
fn map_state(text: &str) -> PrinterState {
    let t = text.to_ascii_lowercase();
    if t.starts_with("error") || t.contains("after error") {
        PrinterState::Error
    } else if t.starts_with("offline") || t.starts_with("closed") {
        PrinterState::Disconnected
    } else if t.starts_with("opening") || t.starts_with("connecting") || t.starts_with("detecting") {
        PrinterState::Connecting
    } else if t.starts_with("paused") {
        // Not "Pausing": OctoPrint ignores a resume until the pause has completed.
        PrinterState::Paused
    } else if t.starts_with("cancelling") || t.starts_with("finishing") {
        PrinterState::Finishing
    } else if ["printing", "starting", "resuming", "pausing", "sending"].iter().any(|p| t.starts_with(p)) {
        PrinterState::Printing
    } else {
        PrinterState::Idle
    }
}

/// One poll: the job, and (when the printer is connected) the temperatures.
async fn poll_once(
    http: &reqwest::Client,
    base: &str,
    status: &watch::Sender<PrinterStatus>,
) -> Result<(), DriverError> {
    let job: JobAnswer = check(http.get(format!("{base}/api/job")).send().await.map_err(http_err)?)
        .await?
        .json()
        .await
        .map_err(http_err)?;
    let temps = match http.get(format!("{base}/api/printer?exclude=sd,state")).send().await.map_err(http_err)? {
        r if r.status() == StatusCode::CONFLICT => None, // "Printer is not operational"
        r => Some(check(r).await?.json::<Value>().await.map_err(http_err)?),
    };
    let reading = |v: &Value, key: &str| -> Option<Temperature> {
        let t = v.get("temperature")?.get(key)?;
        Some(Temperature {
            actual: t.get("actual")?.as_f64().unwrap_or(0.0) as f32,
            target: t.get("target").and_then(Value::as_f64).unwrap_or(0.0) as f32,
        })
    };
    let state = map_state(&job.state);
    status.send_if_modified(|s| {
        let before = s.clone();
        s.state = state;
        if let Some(t) = temps.as_ref().and_then(|v| reading(v, "tool0")) {
            s.hotend = t;
        }
        if let Some(t) = temps.as_ref().and_then(|v| reading(v, "bed")) {
            s.bed = t;
        }
        let active = state.is_busy();
        s.file = job.job.file.name.clone();
        // Kept after the job ends: OctoPrint leaves the file selected, at 100 % or where it stopped.
        s.progress = job.job.file.name.as_ref().and(job.progress.completion).map(|c| c / 100.0);
        s.bytes = match (active, job.progress.filepos, job.job.file.size) {
            (true, Some(done), Some(total)) => Some(ByteProgress { done, total }),
            _ => None,
        };
        s.remaining_s = if active { job.progress.print_time_left.map(|t| t as u32) } else { None };
        if state == PrinterState::Error {
            let msg = job.error.clone().filter(|e| !e.is_empty()).unwrap_or_else(|| job.state.clone());
            s.message = Some(msg.clone());
            s.last_error = Some(msg);
        } else {
            s.message = (state != PrinterState::Idle).then(|| job.state.clone());
        }
        *s != before
    });
    Ok(())
}

impl PrinterDriver for OctoPrintDriver {
    fn status(&self) -> watch::Receiver<PrinterStatus> {
        self.status.subscribe()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            self.status.send_modify(|s| s.state = PrinterState::Connecting);
            let version: Version =
                check(self.http.get(format!("{}/api/version", self.base)).send().await.map_err(http_err)?)
                    .await?
                    .json()
                    .await
                    .map_err(http_err)?;
            self.status.send_modify(|s| {
                s.firmware = Some(FirmwareInfo {
                    name: format!("OctoPrint {}", version.server),
                    fields: vec![("API".into(), version.api.clone())],
                    capabilities: Vec::new(),
                })
            });
            if let Some((port, baud)) = &self.options.connect_port {
                let conn: Value =
                    check(self.http.get(format!("{}/api/connection", self.base)).send().await.map_err(http_err)?)
                        .await?
                        .json()
                        .await
                        .map_err(http_err)?;
                let closed = conn["current"]["state"]
                    .as_str()
                    .is_none_or(|s| s.starts_with("Closed") || s.starts_with("Offline"));
                if closed {
                    let mut body = json!({ "command": "connect", "port": port, "autoconnect": false });
                    if let Some(b) = baud {
                        body["baudrate"] = json!(b);
                    }
                    self.post("/api/connection", body).await?;
                }
            }
            poll_once(&self.http, &self.base, &self.status).await?;
            let (http, base, status, every) =
                (self.http.clone(), self.base.clone(), self.status.clone(), self.options.poll_interval);
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = poll_once(&http, &base, &status).await {
                        // OctoPrint itself is unreachable: that is an error, and polling goes on.
                        let why = format!("OctoPrint at {base} did not answer: {e}");
                        status.send_if_modified(|s| {
                            let changed = s.state != PrinterState::Error || s.message.as_deref() != Some(why.as_str());
                            s.state = PrinterState::Error;
                            s.message = Some(why.clone());
                            s.last_error = Some(why.clone());
                            changed
                        });
                    }
                }
            });
            if let Some(old) = self.task.lock().expect("octoprint task lock").replace(task) {
                old.abort();
            }
            Ok(())
        })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            if let Some(task) = self.task.lock().expect("octoprint task lock").take() {
                task.abort();
            }
            self.status.send_modify(|s| s.state = PrinterState::Disconnected);
            Ok(())
        })
    }

    fn upload<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<RemoteFile, DriverError>> {
        Box::pin(async move {
            let (part, size) = crate::driver::file_part(path).await?;
            let form = reqwest::multipart::Form::new().part("file", part).text("path", UPLOAD_FOLDER);
            let resp = self
                .http
                .post(format!("{}/api/files/local", self.base))
                .multipart(form)
                .send()
                .await
                .map_err(http_err)?;
            let answer: Value = check(resp).await?.json().await.map_err(http_err)?;
            let remote = answer["files"]["local"]["path"]
                .as_str()
                .ok_or_else(|| DriverError::Refused(format!("unexpected upload answer: {answer}")))?;
            Ok(RemoteFile { name: remote.to_string(), size })
        })
    }

    fn start<'a>(&'a self, file: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            let path: String = file.split('/').map(percent_encode).collect::<Vec<_>>().join("/");
            self.post(&format!("/api/files/local/{path}"), json!({ "command": "select", "print": true })).await
        })
    }

    fn pause(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.post("/api/job", json!({ "command": "pause", "action": "pause" })))
    }

    fn resume(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.post("/api/job", json!({ "command": "pause", "action": "resume" })))
    }

    fn cancel(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.post("/api/job", json!({ "command": "cancel" })))
    }

    fn send_gcode<'a>(&'a self, lines: &'a [String]) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.post("/api/printer/command", json!({ "commands": lines })))
    }
}

impl Drop for OctoPrintDriver {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().expect("octoprint task lock").take() {
            task.abort();
        }
    }
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay).
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octoprint_states_map_to_ours() {
        assert_eq!(map_state("Operational"), PrinterState::Idle);
        assert_eq!(map_state("Printing from SD"), PrinterState::Printing);
        assert_eq!(map_state("Pausing"), PrinterState::Printing);
        assert_eq!(map_state("Paused"), PrinterState::Paused);
        assert_eq!(map_state("Cancelling"), PrinterState::Finishing);
        assert_eq!(map_state("Offline after error"), PrinterState::Error);
        assert_eq!(map_state("Error: Thermal Runaway"), PrinterState::Error);
        assert_eq!(map_state("Offline"), PrinterState::Disconnected);
        assert_eq!(map_state("Opening serial connection"), PrinterState::Connecting);
        assert_eq!(percent_encode("my part #2.gcode"), "my%20part%20%232.gcode");
    }
}
