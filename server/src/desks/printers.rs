//! Implements `app::api::printers` for the server: the Printers, Printer detail, Library and Settings
//! pages.
//!
//! Whatever the REST API already does is done by calling its router in-process, so those changes are
//! validated and audited exactly as REST calls are. Manual printer commands go to the printer through
//! the farm's connection handle (the driver the farm already holds), and are audited here.

use std::sync::Arc;
use std::time::Duration;

use app::api::printers::{
    ConnectionTest, DeskFuture, FoundPrinter, LibraryModel, MaintenanceView, ModelPackView, PrinterDesk, PrinterDetail,
    PrinterRow, SharedPrinterDesk, UserView, VersionView,
};
use axum::http::StatusCode;
use printers::marlin::{MarlinDriver, MarlinOptions};
use printers::moonraker::{MoonrakerDriver, MoonrakerOptions};
use printers::octoprint::{OctoPrintDriver, OctoPrintOptions};
use printers::{PrinterDriver, PrinterState};
use serde_json::{json, Value};

use crate::db::{AuditEntry, DbError, PrinterRecord, Role};
use crate::farm::dispatch::{self, JobError};
use crate::http::AppState;

/// How long a connection test waits for the printer to answer.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long discovery listens for mDNS announcements.
const DISCOVER_MDNS_MS: u64 = 2500;

/// Provides this area's implementation as Leptos context.
pub fn provide(state: &AppState) {
    let desk: SharedPrinterDesk = Arc::new(Desk { state: state.clone() });
    leptos::prelude::provide_context(desk);
}

struct Desk {
    state: AppState,
}

/// A sentence from a REST error: capitalised, ending in a full stop, with what to do next.
fn explain(status: StatusCode, message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    let said = match chars.next() {
        Some(c) => format!("{}{}.", c.to_uppercase(), chars.as_str()),
        None => "The server could not do that.".into(),
    };
    let next = match status {
        StatusCode::NOT_FOUND => " It may have been removed: reload the page.",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => " Check what you typed and try again.",
        StatusCode::CONFLICT => "",
        s if s.is_server_error() => " Try again in a moment; if it keeps happening, ask the farm manager.",
        _ => "",
    };
    format!("{said}{next}")
}

fn db_error(e: DbError) -> String {
    match e {
        DbError::NotFound { .. } => explain(StatusCode::NOT_FOUND, &e.to_string()),
        DbError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            "That name is already taken. Pick another one.".into()
        }
        e => {
            tracing::error!("database: {e}");
            "The farm's database did not answer. Try again in a moment.".into()
        }
    }
}

/// Where a printer is reached, in words; never its API key.
fn address(driver: &str, connection: &Value) -> String {
    let text = |k: &str| connection.get(k).and_then(|v| v.as_str());
    match driver {
        "simulated" => "a simulated printer (demo)".into(),
        _ => match (text("port"), text("tcp"), text("url")) {
            (Some(port), _, _) => {
                let baud = connection.get("baud").and_then(|b| b.as_u64()).unwrap_or(115_200);
                format!("{port} at {baud} baud")
            }
            (None, Some(tcp), _) => format!("{tcp} (network serial)"),
            (None, None, Some(url)) => url.to_string(),
            _ => "no address set".into(),
        },
    }
}

/// Opens a driver for connection settings someone typed (the farm's own printers use the farm's).
fn driver_for(driver: &str, c: &Value) -> Result<Arc<dyn PrinterDriver>, String> {
    let text = |key: &str| c.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
    Ok(match driver {
        "marlin" => match (text("port"), text("tcp")) {
            (Some(port), _) => {
                let baud = c.get("baud").and_then(|b| b.as_u64()).unwrap_or(115_200) as u32;
                Arc::new(MarlinDriver::serial(port, baud, MarlinOptions::default()))
            }
            (None, Some(addr)) => Arc::new(MarlinDriver::tcp(addr, MarlinOptions::default())),
            (None, None) => return Err("Type the serial port the printer is plugged into, like /dev/ttyUSB0.".into()),
        },
        "octoprint" => {
            let url = text("url").ok_or("Type the OctoPrint address, like http://octopi.local.")?;
            let key = text("api_key")
                .ok_or("Type OctoPrint's API key. You find it in OctoPrint under Settings, then Application Keys.")?;
            Arc::new(
                OctoPrintDriver::new(url, key, OctoPrintOptions::default())
                    .map_err(|e| format!("That address does not work: {e}. Check it and try again."))?,
            )
        }
        "moonraker" => {
            let url = text("url").ok_or("Type the Moonraker address, like http://voron.local:7125.")?;
            let options =
                MoonrakerOptions { api_key: text("api_key").map(String::from), ..MoonrakerOptions::default() };
            Arc::new(
                MoonrakerDriver::new(url, options)
                    .map_err(|e| format!("That address does not work: {e}. Check it and try again."))?,
            )
        }
        "simulated" => return Err("A simulated printer needs no connection test.".into()),
        other => return Err(format!("The farm does not know the driver {other:?}. Pick one from the list.")),
    })
}

/// Why a connection test failed before anything said it was a printer, in our words only: a driver's
/// error may carry the answering server's own text, which is not shown.
fn unidentified_failure(driver_error: &str) -> &'static str {
    let e = driver_error.to_ascii_lowercase();
    if e.contains("api key") {
        "it refused the API key"
    } else if (e.contains("refused") && !e.contains("printer refused")) || e.contains("connection reset") {
        "nothing is listening there"
    } else if e.contains("timed out") || e.contains("timeout") {
        "it did not answer in time"
    } else if e.contains("no such file") || (e.contains("not found") && e.contains("/dev")) {
        "nothing is plugged in there"
    } else if e.contains("dns") || e.contains("resolve") || e.contains("lookup") {
        "that name was not found on the network"
    } else {
        "it did not answer like a printer"
    }
}

/// The G-code lines of a manual command, or why it is refused.
pub(crate) fn gcode_for(action: &str, axis: Option<&str>, mm: Option<f64>) -> Result<Vec<String>, String> {
    let lines: &[&str] = match action {
        "preheat_pla" => &["M104 S200", "M140 S60"],
        "preheat_petg" => &["M104 S235", "M140 S80"],
        "cool" => &["M104 S0", "M140 S0"],
        "home" => &["G28", "M114"],
        "emergency_stop" => &["M112"],
        "jog" => {
            let axis = axis.map(str::to_ascii_uppercase).filter(|a| ["X", "Y", "Z"].contains(&a.as_str()));
            let axis = axis.ok_or("Pick the X, Y or Z axis to move.")?;
            let mm = mm.filter(|m| m.is_finite() && *m != 0.0 && m.abs() <= 50.0);
            let mm = mm.ok_or("A move must be between 0.1 and 50 mm.")?;
            let feed = if axis == "Z" { 600 } else { 3000 };
            return Ok(vec!["G91".into(), format!("G0 {axis}{mm} F{feed}"), "G90".into(), "M114".into()]);
        }
        other => return Err(format!("The printer page does not know the command {other:?}.")),
    };
    Ok(lines.iter().map(|l| l.to_string()).collect())
}

/// What a command did, in words.
fn done_message(action: &str, axis: Option<&str>, mm: Option<f64>) -> String {
    match action {
        "preheat_pla" => "Heating for PLA: nozzle 200 °C, bed 60 °C.".into(),
        "preheat_petg" => "Heating for PETG: nozzle 235 °C, bed 80 °C.".into(),
        "cool" => "Heaters off. The printer is cooling down.".into(),
        "home" => "Homing: the head moves to its start corner.".into(),
        "jog" => format!("Moved {} by {} mm.", axis.unwrap_or("?").to_ascii_uppercase(), mm.unwrap_or(0.0)),
        "emergency_stop" => "Emergency stop sent. The printer has halted: check it, then switch it off and on \
                             again before printing."
            .into(),
        "pause" => "Paused.".into(),
        "resume" => "Printing again.".into(),
        "cancel" => "Cancelled. The heaters are off.".into(),
        other => format!("{other} done."),
    }
}

impl Desk {
    async fn call_rest(&self, method: &str, path: &str, body: Option<String>) -> Result<String, String> {
        use tower::ServiceExt;
        // The same route table and role rules as over HTTP, acting as whoever called the page's function.
        let router = crate::api::routes(self.state.clone())
            .merge(crate::auth::routes::routes())
            .route_layer(axum::middleware::from_fn(crate::auth::gate::enforce))
            .with_state(self.state.clone());
        let context = crate::auth::current_request();
        let mut req = axum::http::Request::builder().method(method).uri(path).extension(context.client);
        if let Some(caller) = context.caller {
            req = req.extension(caller);
        }
        if body.is_some() {
            req = req.header(axum::http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(axum::body::Body::from(body.unwrap_or_default()))
            .map_err(|e| format!("The request could not be made ({e}). Reload the page and try again."))?;
        let response = match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .map_err(|_| "The server's answer was too large to show.".to_string())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(if text.trim().is_empty() { "null".into() } else { text });
        }
        let said = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or(text);
        Err(explain(status, &said))
    }

    async fn audit(&self, action: &str, kind: &str, id: Option<i64>, detail: Value) {
        let (actor_id, ip) = crate::auth::current_actor();
        let entry = AuditEntry { actor_id, action, target_kind: Some(kind), target_id: id, detail, ip: ip.as_deref() };
        if let Err(e) = self.state.db.audit().record(&entry).await {
            tracing::warn!("audit log: {e}");
        }
    }

    async fn rows(&self) -> Result<Vec<PrinterRow>, DbError> {
        let db = &self.state.db;
        let records = db.printers().list().await?;
        let tasks = db.farm().maintenance(None).await?;
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            let mine: Vec<_> = tasks.iter().filter(|t| t.printer_id == r.id).collect();
            let mut due = Vec::new();
            if !mine.is_empty() {
                let hours = db.farm().print_hours(r.id).await?;
                due =
                    mine.iter().filter(|t| hours - t.done_at_hours >= t.every_hours).map(|t| t.name.clone()).collect();
            }
            rows.push(row(&r, due, mine.len() as u32));
        }
        Ok(rows)
    }

    async fn maintenance_of(&self, printer: i64) -> Result<Vec<MaintenanceView>, DbError> {
        let db = &self.state.db;
        let hours = db.farm().print_hours(printer).await?;
        Ok(db
            .farm()
            .maintenance(Some(printer))
            .await?
            .into_iter()
            .map(|t| {
                let since = (hours - t.done_at_hours).max(0.0);
                MaintenanceView {
                    id: t.id,
                    name: t.name,
                    every_hours: t.every_hours,
                    hours_since: since,
                    due: since >= t.every_hours,
                    done_at: t.done_at,
                }
            })
            .collect())
    }

    async fn run_command(&self, id: i64, action: &str, axis: Option<&str>, mm: Option<f64>) -> Result<String, String> {
        let farm = &self.state.farm;
        let live = farm.live(id).ok_or_else(|| {
            format!("Printer {id} is not in the farm any more. Go back to the Printers page and pick another.")
        })?;
        let state = live.status.borrow().state;
        let driver = live.driver.clone().ok_or_else(|| {
            let why = live.status.borrow().message.clone().unwrap_or_else(|| "no connection".into());
            format!("The farm cannot talk to this printer ({why}). Fix its connection on the Printers page.")
        })?;
        if matches!(state, PrinterState::Disconnected | PrinterState::Connecting) && action != "emergency_stop" {
            return Err("The printer is not connected yet. Check that it is switched on and plugged in, \
                        then try again."
                .into());
        }
        match action {
            "pause" | "resume" | "cancel" => {
                // A farm job goes through the farm, so the queue and the job's history stay right.
                let job = self.state.db.jobs().active_on(id).await.map_err(db_error)?;
                match job {
                    Some(job) => {
                        dispatch::command(farm, job.id, action, None, Some("from the printer page")).await.map_err(
                            |e| match e {
                                JobError::Db(e) => db_error(e),
                                JobError::Invalid(m)
                                | JobError::Conflict(m)
                                | JobError::Quota(m)
                                | JobError::Forbidden(m) => explain(StatusCode::CONFLICT, &m),
                            },
                        )?;
                    }
                    None => {
                        let r = match action {
                            "pause" => driver.pause().await,
                            "resume" => driver.resume().await,
                            _ => driver.cancel().await,
                        };
                        r.map_err(|e| format!("The printer said no: {e}. Check its screen, then try again."))?;
                    }
                }
            }
            _ => {
                let lines = gcode_for(action, axis, mm)?;
                if state.is_busy() && action != "emergency_stop" {
                    return Err("The printer is busy printing. Pause or cancel the print first, or use the \
                                emergency stop if something is wrong."
                        .into());
                }
                driver.send_gcode(&lines).await.map_err(|e| {
                    format!("The printer did not take the command: {e}. Check it is connected and try again.")
                })?;
            }
        }
        self.audit("printer.command", "printer", Some(id), json!({ "action": action, "axis": axis, "mm": mm })).await;
        Ok(done_message(action, axis, mm))
    }

    async fn test(&self, driver: &str, connection: &str) -> Result<ConnectionTest, String> {
        let c: Value = serde_json::from_str(connection)
            .map_err(|_| "The connection setting is not complete. Fill in the address again.".to_string())?;
        let wanted = address(driver, &c);
        // Only addresses a printer may have, and only serial ports (the answer never says whether some
        // other file exists).
        let reachable = match self.state.farm.reach().check_printer(driver, &c).await {
            Ok(()) => match c.get("port").and_then(|p| p.as_str()) {
                Some(port) => crate::reach::check_serial_device(port.trim()),
                None => Ok(()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = reachable {
            return Ok(ConnectionTest { ok: false, message: explain(StatusCode::BAD_REQUEST, &why) });
        }
        // A printer the farm already talks to is not opened a second time (a serial port has one owner).
        for r in self.state.db.printers().list().await.map_err(db_error)? {
            let theirs: Value = serde_json::from_str(&r.connection).unwrap_or(Value::Null);
            if r.driver == driver && address(&r.driver, &theirs) == wanted {
                let status = self.state.farm.live(r.id).map(|l| l.status.borrow().clone());
                let ok = status.as_ref().is_some_and(|s| s.state != PrinterState::Error);
                let said = status.and_then(|s| s.message.or(s.firmware.map(|f| f.name))).unwrap_or_default();
                return Ok(ConnectionTest {
                    ok,
                    message: format!("This printer is already in the farm as {}. {said}", r.name).trim().to_string(),
                });
            }
        }
        let d = driver_for(driver, &c)?;
        let mut rx = d.status();
        let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
            if let Err(e) = d.connect().await {
                return Err(format!("{e}"));
            }
            let s = printers::driver::wait_for(&mut rx, |s| {
                !matches!(s.state, PrinterState::Disconnected | PrinterState::Connecting)
            })
            .await;
            s.ok_or_else(|| "the connection closed".to_string())
        })
        .await;
        // A driver still retrying an unreachable host must not hold the answer up.
        let _ = tokio::time::timeout(Duration::from_secs(3), d.disconnect()).await;
        Ok(match outcome {
            // An error before the printer ever said who it is: nothing answered at that address.
            // What an unknown server said is not repeated: the test must not become a way to read pages
            // of machines on the network.
            Ok(Ok(s)) if s.state == PrinterState::Error && s.firmware.is_none() => ConnectionTest {
                ok: false,
                message: format!(
                    "Could not reach the printer at {wanted}: {}. Check the address or cable and that the printer \
                     is on, then test again.",
                    unidentified_failure(&s.message.or(s.last_error).unwrap_or_default())
                ),
            },
            Ok(Ok(s)) if s.state == PrinterState::Error => ConnectionTest {
                ok: false,
                message: format!(
                    "The printer answered with an error: {}. Fix that on the printer, then test again.",
                    s.message.or(s.last_error).unwrap_or_else(|| "no details".into())
                ),
            },
            Ok(Ok(s)) => {
                let name = s.firmware.map(|f| f.name).filter(|n| !n.is_empty());
                ConnectionTest {
                    ok: true,
                    message: format!(
                        "It answered{}: {}, nozzle {:.0} °C, bed {:.0} °C. You can add it.",
                        name.map(|n| format!(" as {n}")).unwrap_or_default(),
                        match s.state {
                            PrinterState::Idle => "ready",
                            PrinterState::Printing | PrinterState::Finishing => "printing",
                            PrinterState::Paused => "paused",
                            _ => "connected",
                        },
                        s.hotend.actual,
                        s.bed.actual
                    ),
                }
            }
            Ok(Err(e)) => ConnectionTest {
                ok: false,
                message: format!(
                    "Could not reach the printer at {wanted}: {}. Check the address or cable and that the \
                     printer is on, then test again.",
                    unidentified_failure(&e.to_string())
                ),
            },
            Err(_) => ConnectionTest {
                ok: false,
                message: format!(
                    "Nothing answered at {wanted} within {} seconds. Check the address or cable, the API key, and \
                     that the printer is switched on, then test again.",
                    TEST_TIMEOUT.as_secs()
                ),
            },
        })
    }

    async fn found(&self) -> Result<Vec<FoundPrinter>, String> {
        let text =
            self.call_rest("GET", &format!("/api/v1/printers/discover?mdns_ms={DISCOVER_MDNS_MS}"), None).await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| "The search gave an answer the page does not understand. Try again.")?;
        Ok(found_printers(&v))
    }
}

/// The discovery answer (`GET /api/v1/printers/discover`) as the Printers page lists it.
pub(crate) fn found_printers(v: &Value) -> Vec<FoundPrinter> {
    let s = |v: &Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let mut out = Vec::new();
    for entry in v.get("serial").and_then(|a| a.as_array()).into_iter().flatten() {
        let c = &entry["candidate"];
        let Some(path) = s(c, "path") else { continue };
        let probe = c.get("probe").filter(|p| !p.is_null());
        let firmware = probe.and_then(|p| s(&p["firmware"], "name"));
        let baud = probe.and_then(|p| p.get("baud")).and_then(|b| b.as_u64()).unwrap_or(115_200);
        let in_use = c.get("in_use").and_then(|b| b.as_bool()).unwrap_or(false);
        let what = s(c, "product").or_else(|| s(c, "bridge")).unwrap_or_else(|| "Serial port".into());
        let detail = match (&firmware, in_use) {
            (Some(f), _) => format!("Answered as {f} at {baud} baud"),
            (None, true) => "Another program is using this port".into(),
            (None, false) if s(c, "bridge").is_some() => "A USB printer cable; the printer did not answer yet".into(),
            (None, false) => "Not a known printer cable".into(),
        };
        out.push(FoundPrinter {
            kind: "usb".into(),
            label: format!("{what} on {path}"),
            driver: (firmware.is_some() || s(c, "bridge").is_some()).then(|| "marlin".into()),
            connection: json!({ "port": path, "baud": baud }).to_string(),
            already_added: entry.get("already_added").and_then(|b| b.as_bool()).unwrap_or(false),
            detail,
            needs_key: false,
        });
    }
    for entry in v.get("network").and_then(|a| a.as_array()).into_iter().flatten() {
        let c = &entry["candidate"];
        let Some(url) = s(entry, "url") else { continue };
        let driver = s(entry, "driver");
        let kind = match driver.as_deref() {
            Some("octoprint") => "OctoPrint",
            Some("moonraker") => "Moonraker",
            _ => "a web service",
        };
        let version = s(c, "version").map(|v| format!(" {v}")).unwrap_or_default();
        out.push(FoundPrinter {
            kind: "network".into(),
            label: s(c, "name").unwrap_or_else(|| url.clone()),
            needs_key: driver.as_deref() == Some("octoprint"),
            driver,
            connection: json!({ "url": url.trim_end_matches('/') }).to_string(),
            already_added: entry.get("already_added").and_then(|b| b.as_bool()).unwrap_or(false),
            detail: format!("{kind}{version} at {url}"),
        });
    }
    out
}

fn row(r: &PrinterRecord, due: Vec<String>, tasks: u32) -> PrinterRow {
    let connection: Value = serde_json::from_str(&r.connection).unwrap_or(Value::Null);
    PrinterRow {
        id: r.id,
        name: r.name.clone(),
        driver: r.driver.clone(),
        firmware: r.firmware.clone(),
        build_mm: [r.build_x_mm, r.build_y_mm, r.build_z_mm],
        nozzle_mm: r.nozzle_mm,
        tags: r.tags.clone(),
        enabled: r.enabled,
        address: address(&r.driver, &connection),
        loaded_spool_id: r.loaded_spool_id,
        maintenance_due: due,
        maintenance_tasks: tasks,
    }
}

impl PrinterDesk for Desk {
    fn rest<'a>(&'a self, method: &'a str, path: &'a str, body: Option<String>) -> DeskFuture<'a, String> {
        Box::pin(async move {
            if !path.starts_with("/api/v1/") {
                return Err("That is not a farm address.".into());
            }
            self.call_rest(method, path, body).await
        })
    }

    fn printers(&self) -> DeskFuture<'_, Vec<PrinterRow>> {
        Box::pin(async move { self.rows().await.map_err(db_error) })
    }

    fn printer(&self, id: i64) -> DeskFuture<'_, PrinterDetail> {
        Box::pin(async move {
            let record = self.state.db.printers().get(id).await.map_err(db_error)?;
            let maintenance = self.maintenance_of(id).await.map_err(db_error)?;
            let due = maintenance.iter().filter(|m| m.due).map(|m| m.name.clone()).collect();
            let status = self.state.farm.live(id).map(|l| l.status.borrow().clone());
            Ok(PrinterDetail {
                row: row(&record, due, maintenance.len() as u32),
                position: status.as_ref().and_then(|s| s.position).map(|p| [p.x, p.y, p.z]),
                firmware_name: status.as_ref().and_then(|s| s.firmware.as_ref()).map(|f| f.name.clone()),
                last_error: status.and_then(|s| s.last_error),
                maintenance,
            })
        })
    }

    fn discover(&self) -> DeskFuture<'_, Vec<FoundPrinter>> {
        Box::pin(self.found())
    }

    fn test_connection(&self, driver: String, connection: String) -> DeskFuture<'_, ConnectionTest> {
        Box::pin(async move { self.test(&driver, &connection).await })
    }

    fn command(&self, id: i64, action: String, axis: Option<String>, mm: Option<f64>) -> DeskFuture<'_, String> {
        Box::pin(async move { self.run_command(id, &action, axis.as_deref(), mm).await })
    }

    fn users(&self) -> DeskFuture<'_, Vec<UserView>> {
        Box::pin(async move {
            let rows = self.state.db.printer_pages().users().await.map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(|u| UserView {
                    id: u.id,
                    username: u.username,
                    display_name: u.display_name,
                    role: u.role,
                    disabled: u.disabled,
                })
                .collect())
        })
    }

    fn add_user(
        &self,
        username: String,
        display_name: String,
        role: String,
        password: String,
        pin: String,
    ) -> DeskFuture<'_, UserView> {
        Box::pin(async move {
            let role: Role = role.parse().map_err(|_| "Pick a role from the list.".to_string())?;
            let password = Some(password).filter(|p| !p.is_empty());
            let pin = Some(pin.trim().to_string()).filter(|p| !p.is_empty());
            // The same checks and hashing as POST /api/v1/users.
            let user = self
                .state
                .auth
                .create_user(&username.trim().to_lowercase(), &display_name, role, password.as_deref(), pin.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            let detail = json!({ "username": user.username, "role": role.as_str(), "password": password.is_some(), "pin": pin.is_some() });
            self.audit("user.added", "users", Some(user.id), detail).await;
            Ok(UserView {
                id: user.id,
                username: user.username,
                display_name: user.display_name,
                role: role.as_str().into(),
                disabled: false,
            })
        })
    }

    fn model_packs(&self) -> DeskFuture<'_, Vec<ModelPackView>> {
        Box::pin(async move {
            let root = self.state.farm.data_dir().join("models");
            let packs =
                tokio::task::spawn_blocking(move || genai::modelpack::ModelStore::open(root).map(|store| store.list()))
                    .await
                    .map_err(|_| "Reading the model packs failed. Try again.".to_string())?
                    .map_err(|e| format!("The model pack folder cannot be read: {e}."))?;
            Ok(packs
                .into_iter()
                .map(|p| ModelPackView {
                    id_version: p.id_version(),
                    name: p.name,
                    version: p.version,
                    megabytes: p.bytes as f64 / 1_048_576.0,
                    installed_at: p.installed_at,
                    active: p.active,
                })
                .collect())
        })
    }

    fn model_pack_action(&self, action: String, pack: Option<String>) -> DeskFuture<'_, String> {
        Box::pin(async move {
            let root = self.state.farm.data_dir().join("models");
            let act = action.clone();
            let target = pack.clone();
            let said = tokio::task::spawn_blocking(move || -> Result<String, String> {
                let store = genai::modelpack::ModelStore::open(root).map_err(|e| e.to_string())?;
                match (act.as_str(), target) {
                    ("rollback", _) => store.rollback().map(|p| format!("{} {} is active again.", p.name, p.version)),
                    ("remove", Some(p)) => store.remove(&p).map(|_| format!("Removed {p}.")),
                    _ => return Err("Pick a model pack first.".into()),
                }
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|_| "The model pack change failed. Try again.".to_string())?
            .map_err(|e| explain(StatusCode::CONFLICT, &e))?;
            if action == "rollback" {
                self.state.generator.reload_engine();
            }
            self.audit(&format!("model_pack.{action}"), "model_packs", None, json!({ "pack": pack })).await;
            Ok(said)
        })
    }

    fn library(&self, search: String, gallery_only: bool) -> DeskFuture<'_, Vec<LibraryModel>> {
        Box::pin(async move {
            let pages = self.state.db.printer_pages();
            let rows = pages.library(&search, gallery_only, 200).await.map_err(db_error)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let versions = pages.versions_of(&ids).await.map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(|m| LibraryModel {
                    versions: versions
                        .iter()
                        .filter(|v| v.model_id == m.id)
                        .map(|v| VersionView {
                            id: v.id,
                            version: v.version,
                            created_at: v.created_at.clone(),
                            triangles: v.triangles,
                            size_mm: match (v.size_x_mm, v.size_y_mm, v.size_z_mm) {
                                (Some(x), Some(y), Some(z)) => Some([x, y, z]),
                                _ => None,
                            },
                        })
                        .collect(),
                    id: m.id,
                    name: m.name,
                    owner: m.owner,
                    source: m.source,
                    created_at: m.created_at,
                    in_gallery: m.in_gallery,
                })
                .collect())
        })
    }

    fn set_gallery(&self, model: i64, in_gallery: bool) -> DeskFuture<'_, ()> {
        Box::pin(async move {
            self.state.db.printer_pages().set_gallery(model, in_gallery, None).await.map_err(db_error)?;
            let action = if in_gallery { "gallery.added" } else { "gallery.removed" };
            self.audit(action, "models", Some(model), Value::Null).await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jogs_are_relative_moves_then_back_to_absolute() {
        let lines = gcode_for("jog", Some("x"), Some(-10.0)).unwrap();
        assert_eq!(lines, ["G91", "G0 X-10 F3000", "G90", "M114"]);
        assert_eq!(gcode_for("jog", Some("Z"), Some(1.0)).unwrap()[1], "G0 Z1 F600");
        assert!(gcode_for("jog", Some("E"), Some(1.0)).is_err());
        assert!(gcode_for("jog", Some("X"), Some(500.0)).is_err());
        assert!(gcode_for("jog", Some("X"), None).is_err());
        assert_eq!(gcode_for("emergency_stop", None, None).unwrap(), ["M112"]);
        assert!(gcode_for("format_disk", None, None).is_err());
    }

    #[test]
    fn errors_become_sentences_with_a_next_step() {
        assert_eq!(
            explain(StatusCode::NOT_FOUND, "printer 9 does not exist"),
            "Printer 9 does not exist. It may have been removed: reload the page."
        );
        assert!(explain(StatusCode::BAD_REQUEST, "kind must be PLA").ends_with("Check what you typed and try again."));
    }

    #[test]
    fn addresses_never_show_keys() {
        let c = json!({ "url": "http://octopi.local", "api_key": "SECRET" });
        assert_eq!(address("octoprint", &c), "http://octopi.local");
        assert_eq!(
            address("marlin", &json!({ "port": "/dev/ttyUSB0", "baud": 250000 })),
            "/dev/ttyUSB0 at 250000 baud"
        );
    }

    #[test]
    fn discovery_answers_become_one_click_rows() {
        let v = json!({
            "serial": [{ "candidate": { "path": "/dev/ttyACM0", "bridge": "CH340", "in_use": false,
                "probe": { "baud": 250000, "firmware": { "name": "Marlin 2.1.2" } } }, "already_added": false }],
            "network": [{ "candidate": { "name": "octopi", "version": "1.11.8" }, "url": "http://10.0.0.5:80/",
                "driver": "octoprint", "already_added": true }],
        });
        let found = found_printers(&v);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].driver.as_deref(), Some("marlin"));
        assert_eq!(found[0].connection, r#"{"baud":250000,"port":"/dev/ttyACM0"}"#);
        assert!(found[0].detail.contains("Marlin 2.1.2"));
        assert!(found[1].needs_key && found[1].already_added);
        assert_eq!(found[1].connection, r#"{"url":"http://10.0.0.5:80"}"#);
    }
}
