//! The farm's live state: one task per printer connection keeps the latest status, and every change
//! worth showing goes out on a broadcast bus that the WebSocket stream (and later the scheduler)
//! subscribe to. A component in Moonraker's sense: it owns its state and publishes typed events.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::api::FarmDirectory;
use app::wire::{FarmEvent, PrinterStateView, PrinterView, TempView};
use printers::marlin::{MarlinDriver, MarlinOptions};
use printers::moonraker::{MoonrakerDriver, MoonrakerOptions};
use printers::octoprint::{OctoPrintDriver, OctoPrintOptions};
use printers::{PrinterDriver, PrinterState, PrinterStatus, SimulatedPrinter, Temperature};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::DemoConfig;
use crate::db::{AuditEntry, Db, DbError, NewPrinter, PrinterRecord};

/// How often simulated printers are stepped, in real time.
const SIM_TICK: Duration = Duration::from_millis(250);
/// Events a slow browser may fall behind by before it is sent a fresh snapshot instead.
const EVENT_BACKLOG: usize = 256;

/// Demo printers get makerspace-style names and one of two build volumes.
const DEMO_NAMES: &[&str] = &[
    "Ada", "Babbage", "Curie", "Darwin", "Euler", "Faraday", "Gauss", "Hopper", "Irwin", "Johnson", "Kepler",
    "Lovelace",
];

/// A handle to the farm's live state; cheap to clone.
#[derive(Clone)]
pub struct Farm {
    inner: Arc<Inner>,
}

struct Inner {
    printers: RwLock<BTreeMap<i64, PrinterView>>,
    events: broadcast::Sender<FarmEvent>,
}

impl Farm {
    /// Loads the configured printers, creates the demo farm when none exist, and starts one task per
    /// printer. The tasks stop when `shutdown` is cancelled; await the returned set to join them.
    pub async fn start(
        db: &Db,
        demo: &DemoConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, JoinSet<()>), DbError> {
        if demo.enabled && db.printers().count().await? == 0 {
            create_demo_printers(db, demo.printers).await?;
        }
        let records = db.printers().list().await?;
        let farm = Farm {
            inner: Arc::new(Inner {
                printers: RwLock::new(
                    records.iter().map(|r| (r.id, view(r, &PrinterStatus::disconnected()))).collect(),
                ),
                events: broadcast::channel(EVENT_BACKLOG).0,
            }),
        };
        let mut tasks = JoinSet::new();
        for (index, record) in records.into_iter().enumerate() {
            let farm = farm.clone();
            let shutdown = shutdown.clone();
            match record.driver.as_str() {
                "simulated" => {
                    tasks.spawn(run_simulated(farm, record, index as u64, demo.speed, shutdown));
                }
                _ => match open_driver(&record) {
                    Ok(driver) => {
                        tasks.spawn(run_driver(farm, record, driver, shutdown));
                    }
                    Err(why) => {
                        // A bad connection setting is shown on the card rather than stopping the farm.
                        let mut status = PrinterStatus::disconnected();
                        status.state = PrinterState::Error;
                        status.message = Some(why);
                        farm.publish(&record, &status);
                    }
                },
            }
        }
        tracing::info!(printers = farm.len(), "farm started");
        Ok((farm, tasks))
    }

    /// Every printer, sorted by name.
    pub fn snapshot(&self) -> Vec<PrinterView> {
        let mut list: Vec<_> = self.inner.printers.read().expect("farm lock").values().cloned().collect();
        list.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
        list
    }

    pub fn len(&self) -> usize {
        self.inner.printers.read().expect("farm lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FarmEvent> {
        self.inner.events.subscribe()
    }

    fn publish(&self, record: &PrinterRecord, status: &PrinterStatus) {
        let printer = view(record, status);
        self.inner.printers.write().expect("farm lock").insert(record.id, printer.clone());
        // No subscribers is normal (no browser open).
        let _ = self.inner.events.send(FarmEvent::Printer { printer });
    }
}

impl FarmDirectory for Farm {
    fn printers(&self) -> Vec<PrinterView> {
        self.snapshot()
    }
}

async fn create_demo_printers(db: &Db, count: u32) -> Result<(), DbError> {
    for i in 0..count as usize {
        let base = DEMO_NAMES[i % DEMO_NAMES.len()];
        let name = if i < DEMO_NAMES.len() { base.to_string() } else { format!("{base} {}", i / DEMO_NAMES.len() + 1) };
        let large = i % 3 == 2;
        db.printers()
            .insert(&NewPrinter {
                name,
                driver: "simulated".into(),
                connection: json!({}),
                build_mm: if large { [350.0, 350.0, 350.0] } else { [250.0, 210.0, 220.0] },
                nozzle_mm: 0.4,
                firmware: "marlin2".into(),
                tags: vec!["demo".into(), if large { "large".into() } else { "room 1".into() }],
            })
            .await?;
    }
    db.audit()
        .record(&AuditEntry { action: "farm.demo_created", detail: json!({ "printers": count }), ..Default::default() })
        .await?;
    tracing::info!(count, "no printers configured: created a demo farm of simulated printers");
    Ok(())
}

async fn run_simulated(farm: Farm, record: PrinterRecord, seed: u64, speed: f64, shutdown: CancellationToken) {
    let mut printer = SimulatedPrinter::new(seed.wrapping_add(record.id as u64));
    // Start each printer somewhere different in its day, so a new demo farm looks like a farm at work
    // rather than six printers heating in lockstep.
    printer.advance(Duration::from_secs((record.id as u64 * 337) % 1500));
    let mut shown = printer.status().clone();
    farm.publish(&record, &shown);
    let mut tick = tokio::time::interval(SIM_TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        printer.advance((now - last).mul_f64(speed));
        last = now;
        if printer.status().differs_visibly(&shown) {
            shown = printer.status().clone();
            farm.publish(&record, &shown);
        }
    }
}

/// The driver for a configured printer, from its `driver` and `connection` columns:
/// `marlin` takes `{"port": "/dev/ttyACM0", "baud": 115200}` or `{"tcp": "host:port"}`, `octoprint`
/// `{"url", "api_key"}`, `moonraker` `{"url"}` (and an optional `api_key`).
fn open_driver(record: &PrinterRecord) -> Result<Box<dyn PrinterDriver>, String> {
    let c: serde_json::Value = serde_json::from_str(&record.connection)
        .map_err(|e| format!("the connection setting is not valid JSON: {e}"))?;
    let text = |key: &str| c.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let missing = |what: &str| format!("the {} driver needs {what} in its connection setting", record.driver);
    let driver: Box<dyn PrinterDriver> = match record.driver.as_str() {
        "marlin" => match (text("port"), text("tcp")) {
            (Some(port), _) => {
                let baud = c.get("baud").and_then(|b| b.as_u64()).unwrap_or(115_200) as u32;
                Box::new(MarlinDriver::serial(port, baud, MarlinOptions::default()))
            }
            (None, Some(addr)) => Box::new(MarlinDriver::tcp(addr, MarlinOptions::default())),
            (None, None) => return Err(missing("\"port\" or \"tcp\"")),
        },
        "octoprint" => {
            let url = text("url").ok_or_else(|| missing("\"url\""))?;
            let key = text("api_key").ok_or_else(|| missing("\"api_key\""))?;
            Box::new(OctoPrintDriver::new(&url, &key, OctoPrintOptions::default()).map_err(|e| e.to_string())?)
        }
        "moonraker" => {
            let url = text("url").ok_or_else(|| missing("\"url\""))?;
            let options = MoonrakerOptions { api_key: text("api_key"), ..MoonrakerOptions::default() };
            Box::new(MoonrakerDriver::new(&url, options).map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unknown driver {other:?}")),
    };
    Ok(driver)
}

/// Connects a real printer and forwards every visible status change to the farm until shutdown.
async fn run_driver(farm: Farm, record: PrinterRecord, driver: Box<dyn PrinterDriver>, shutdown: CancellationToken) {
    let mut rx = driver.status();
    if let Err(e) = driver.connect().await {
        // The card shows the error; the driver's own status carries it too when it has one.
        let mut status = rx.borrow().clone();
        status.state = PrinterState::Error;
        status.message = Some(e.to_string());
        farm.publish(&record, &status);
        return;
    }
    let mut shown = rx.borrow_and_update().clone();
    farm.publish(&record, &shown);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let status = rx.borrow_and_update().clone();
                if status.differs_visibly(&shown) {
                    shown = status;
                    farm.publish(&record, &shown);
                }
            }
        }
    }
    let _ = driver.disconnect().await;
}

fn view(record: &PrinterRecord, s: &PrinterStatus) -> PrinterView {
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
        progress: s.progress,
        current_layer: s.current_layer,
        total_layers: s.total_layers,
        file: s.file.clone(),
        remaining_s: s.remaining_s,
        message: s.message.clone(),
    }
}
