//! The farm's live state: one task per printer connection keeps the latest status, and every change
//! worth showing goes out on a broadcast bus that the WebSocket stream (and later the scheduler)
//! subscribe to. A component in Moonraker's sense: it owns its state and publishes typed events.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::api::FarmDirectory;
use app::wire::{FarmEvent, PrinterStateView, PrinterView, TempView};
use printers::{PrinterState, PrinterStatus, SimulatedPrinter, Temperature};
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
                other => {
                    // Real drivers arrive with issue #5; say so on the card rather than pretending.
                    let mut status = PrinterStatus::disconnected();
                    status.message = Some(format!("The {other} driver is not available in this build yet"));
                    farm.publish(&record, &status);
                }
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
