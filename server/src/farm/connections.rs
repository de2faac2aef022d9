//! Printer connections: one task per printer forwards every visible status change to the farm.

use std::sync::Arc;
use std::time::Duration;

use app::wire::{PrinterStateView, PrinterView, TempView};
use printers::marlin::{MarlinDriver, MarlinOptions};
use printers::moonraker::{MoonrakerDriver, MoonrakerOptions};
use printers::octoprint::{OctoPrintDriver, OctoPrintOptions};
use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
use printers::{PrinterDriver, PrinterState, PrinterStatus, Temperature};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Farm, Live};
use crate::db::PrinterRecord;

/// Status changes this close together are merged, so a chatty printer cannot flood the browsers.
const MIN_PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// A printer whose readings hold still is still shown this often, so the pages' temperature plots go on
/// as a flat line instead of stopping.
const STEADY_PUBLISH_INTERVAL: Duration = Duration::from_secs(2);

impl Farm {
    /// Opens a printer's driver (or starts its simulated board) and its status task.
    pub(crate) async fn connect_printer(&self, record: PrinterRecord) {
        let driver = match record.driver.as_str() {
            "simulated" => self.simulated_driver(&record),
            _ => match crate::secrets::connection_for_driver(self.db(), self.vault(), &record).await {
                // Checked here, where every connection is opened, so an address stored some other way
                // (an older version, a restored backup) is held to the same rule as one typed in today.
                Ok(connection) => match self.reach().check_printer(&record.driver, &connection).await {
                    Ok(()) => open_driver(&record.driver, &connection),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
        };
        match driver {
            Ok(driver) => {
                let status = driver.status();
                let stop = self.shutdown_token().child_token();
                let live = Live {
                    record: record.clone(),
                    driver: Some(driver.clone()),
                    status: status.clone(),
                    stop: stop.clone(),
                };
                self.inner.live.write().expect("farm lock").insert(record.id, live);
                let now = status.borrow().clone();
                self.publish(&record, &now).await;
                let farm = self.clone();
                self.spawn(async move { watch_printer(farm, record.id, driver, status, stop).await });
            }
            Err(why) => {
                // A bad connection setting is shown on the card rather than stopping the farm.
                let mut status = PrinterStatus::disconnected();
                status.state = PrinterState::Error;
                status.message = Some(why);
                let (_tx, rx) = watch::channel(status.clone());
                self.inner.live.write().expect("farm lock").insert(
                    record.id,
                    Live { record: record.clone(), driver: None, status: rx, stop: CancellationToken::new() },
                );
                self.publish(&record, &status).await;
            }
        }
    }

    /// A demo printer: a simulated Marlin board on a pseudo-terminal, driven by the real serial driver,
    /// so the demo farm runs exactly the code a USB printer does.
    fn simulated_driver(&self, record: &PrinterRecord) -> Result<Arc<dyn PrinterDriver>, String> {
        let speed = self.inner.demo_speed;
        let config = SimConfig {
            speedup: if speed > 0.0 { speed } else { 1.0 },
            advanced_ok: true,
            uuid: format!("demo-{}", record.id),
            keep_log: false,
            ..SimConfig::default()
        };
        let sim = MarlinSim::new(config, Faults::default());
        let pty = sim.serve_pty().map_err(|e| format!("cannot start the simulated printer: {e}"))?;
        let path = pty.path.to_string_lossy().into_owned();
        self.inner.sims.lock().expect("farm sims").push(pty);
        Ok(Arc::new(MarlinDriver::serial(path, 115_200, demo_marlin_options())))
    }
}

fn demo_marlin_options() -> MarlinOptions {
    MarlinOptions { reconnect_interval: Duration::from_millis(500), ..MarlinOptions::default() }
}

/// The driver for a configured printer, from its `driver` column and its connection setting with the
/// credentials put back (`secrets::connection_for_driver`): `marlin` takes
/// `{"port": "/dev/ttyACM0", "baud": 115200}` or `{"tcp": "host:port"}`, `octoprint` `{"url", "api_key"}`,
/// `moonraker` `{"url"}` (and an optional `api_key`).
pub(crate) fn open_driver(driver: &str, c: &serde_json::Value) -> Result<Arc<dyn PrinterDriver>, String> {
    let text = |key: &str| c.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let missing = |what: &str| format!("the {driver} driver needs {what} in its connection setting");
    let driver: Arc<dyn PrinterDriver> = match driver {
        "marlin" => match (text("port"), text("tcp")) {
            (Some(port), _) => {
                let baud = c.get("baud").and_then(|b| b.as_u64()).unwrap_or(115_200) as u32;
                Arc::new(MarlinDriver::serial(port, baud, MarlinOptions::default()))
            }
            (None, Some(addr)) => Arc::new(MarlinDriver::tcp(addr, MarlinOptions::default())),
            (None, None) => return Err(missing("\"port\" or \"tcp\"")),
        },
        "octoprint" => {
            let url = text("url").ok_or_else(|| missing("\"url\""))?;
            let key = text("api_key").ok_or_else(|| missing("\"api_key\""))?;
            Arc::new(OctoPrintDriver::new(&url, &key, OctoPrintOptions::default()).map_err(|e| e.to_string())?)
        }
        "moonraker" => {
            let url = text("url").ok_or_else(|| missing("\"url\""))?;
            let options = MoonrakerOptions { api_key: text("api_key"), ..MoonrakerOptions::default() };
            Arc::new(MoonrakerDriver::new(&url, options).map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unknown driver {other:?}")),
    };
    Ok(driver)
}

/// Whether a printer's driver streams G-code from this host (so a print dies with the host).
pub(crate) fn host_streamed(driver: &str) -> bool {
    matches!(driver, "marlin" | "simulated")
}

/// Connects a printer and forwards every visible status change to the farm until shutdown.
async fn watch_printer(
    farm: Farm,
    id: i64,
    driver: Arc<dyn PrinterDriver>,
    mut rx: watch::Receiver<PrinterStatus>,
    shutdown: CancellationToken,
) {
    if let Err(e) = driver.connect().await {
        tracing::warn!(printer = id, "cannot connect: {e}");
    }
    let mut shown = rx.borrow_and_update().clone();
    let mut published = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                tokio::time::sleep(MIN_PUBLISH_INTERVAL).await;
                let status = rx.borrow_and_update().clone();
                if status.differs_visibly(&shown) || published.elapsed() >= STEADY_PUBLISH_INTERVAL {
                    let became_idle = status.state != shown.state;
                    shown = status;
                    let Some(live) = farm.live(id) else { break };
                    farm.publish_status(&live.record, &shown);
                    published = std::time::Instant::now();
                    if became_idle {
                        farm.wake();
                    }
                }
            }
        }
    }
    let _ = driver.disconnect().await;
}

/// The browser's view of a printer.
pub(crate) fn view(
    record: &PrinterRecord,
    s: &PrinterStatus,
    job: Option<(i64, String)>,
    material: Option<String>,
) -> PrinterView {
    let temp = |t: Temperature| TempView { actual: t.actual, target: t.target };
    PrinterView {
        id: record.id,
        name: record.name.clone(),
        driver: record.driver.clone(),
        tags: record.tags.clone(),
        state: match s.state {
            PrinterState::Disconnected => PrinterStateView::Disconnected,
            PrinterState::Connecting => PrinterStateView::Connecting,
            PrinterState::Idle => PrinterStateView::Idle,
            PrinterState::Printing => PrinterStateView::Printing,
            PrinterState::Paused => PrinterStateView::Paused,
            PrinterState::Finishing => PrinterStateView::Finishing,
            PrinterState::Error => PrinterStateView::Error,
        },
        hotend: temp(s.hotend),
        bed: temp(s.bed),
        progress: s.progress.filter(|_| s.state.is_busy()),
        current_layer: s.current_layer,
        total_layers: s.total_layers,
        file: s.file.clone().filter(|_| s.state.is_busy()),
        remaining_s: s.remaining_s,
        message: s.message.clone(),
        bed_clear: record.bed_clear,
        enabled: record.enabled,
        maintenance: record.maintenance,
        job_name: job.as_ref().map(|j| j.1.clone()),
        job_id: job.map(|j| j.0),
        material,
    }
}
