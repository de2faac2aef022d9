//! The farm: live printer state, the jobs running on printers, and the event bus that feeds the
//! browsers. A component in Moonraker's sense: it owns its state and publishes typed events.
//!
//! - [`connections`]: one task per printer connection (real drivers, and the demo farm's simulated
//!   Marlin boards on pseudo-terminals), keeping the latest status.
//! - [`dispatch`]: the loop that slices queued jobs, asks [`scheduler`] which ready job goes to which
//!   printer, and runs each print to its end; recovery after a restart.
//! - [`profiles`]: which slicer profile a printer and a job print with.
//! - [`windows`]: quiet hours, overnight and maintenance windows (tokio-cron-scheduler + croner).
//! - [`notify`]: notifications in the app, on the event stream and to the farm's webhook.
//! - [`demo`]: the demo farm a new box starts with.

mod connections;
mod demo;
pub mod dispatch;
mod notify;
pub mod profiles;
pub mod windows;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use app::api::FarmDirectory;
use app::wire::{FarmEvent, JobView, PrinterView};
use printers::{PrinterDriver, PrinterStatus};
use tokio::sync::{broadcast, watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::DemoConfig;
use crate::db::{Db, DbError, JobRecord, PrinterRecord};
use crate::secrets::Vault;

pub use notify::Notifier;
pub use windows::WindowState;

/// Events a slow browser may fall behind by before it is sent a fresh snapshot instead.
const EVENT_BACKLOG: usize = 1024;

/// An event as sent to every subscriber: the event and its JSON, both shared.
#[derive(Debug, Clone)]
pub struct Published {
    pub event: Arc<FarmEvent>,
    /// Reference-counted, so each browser's frame is a pointer copy.
    pub json: axum::extract::ws::Utf8Bytes,
}

/// A handle to the farm; cheap to clone.
#[derive(Clone)]
pub struct Farm {
    inner: Arc<Inner>,
}

/// One printer's connection as the farm holds it.
#[derive(Clone)]
pub(crate) struct Live {
    pub record: PrinterRecord,
    pub driver: Option<Arc<dyn PrinterDriver>>,
    pub status: watch::Receiver<PrinterStatus>,
    /// Stops this connection's status task when the printer is removed or reconnected.
    pub stop: CancellationToken,
}

struct Inner {
    db: Db,
    /// Opens the printers' stored credentials when a driver is made.
    vault: Arc<Vault>,
    data_dir: PathBuf,
    views: RwLock<BTreeMap<i64, PrinterView>>,
    live: RwLock<HashMap<i64, Live>>,
    events: broadcast::Sender<Published>,
    /// Wakes the dispatcher: a printer became free, a job arrived, a window opened.
    wake: Notify,
    /// Jobs whose print task is running, with the token that cancels them.
    running: Mutex<HashMap<i64, CancellationToken>>,
    /// Jobs being sliced now.
    slicing: Mutex<HashSet<i64>>,
    /// One slice at a time: the box has few cores and prints must keep streaming.
    slicer: Semaphore,
    /// Printers that refused a start recently are left alone until then.
    cooldown: Mutex<HashMap<i64, Instant>>,
    /// Printers started recently that have not reported reaching temperature yet: they count as heating
    /// for staggered starts even before their first temperature report arrives.
    heating: Mutex<HashMap<i64, Instant>>,
    /// Ready jobs already announced as blocked (e.g. no spool has enough filament), so it is said once.
    blocked: Mutex<HashMap<i64, String>>,
    windows: WindowState,
    /// Counts job and queue events: a queue forecast computed at this count or later is current.
    queue_epoch: std::sync::atomic::AtomicU64,
    /// The last queue forecast, shared by everyone who asks while it is current.
    forecast: std::sync::Mutex<Option<dispatch::CachedForecast>>,
    /// Held while a forecast is computed: one at a time.
    forecasting: tokio::sync::Mutex<()>,
    notifier: Notifier,
    shutdown: CancellationToken,
    tasks: Mutex<JoinSet<()>>,
    /// The demo farm's simulated boards; dropping them stops them.
    sims: Mutex<Vec<printers::sim::marlin::PtySim>>,
    demo_speed: f64,
    /// Which printer addresses and serial ports connections may open.
    reach: crate::reach::ReachPolicy,
}

impl Farm {
    /// Loads the configured printers (creating the demo farm when none exist), connects them, recovers
    /// jobs a previous run left unfinished and starts the dispatcher. Everything stops when `shutdown`
    /// is cancelled; then await [`Farm::join`].
    pub async fn start(
        db: &Db,
        data_dir: &Path,
        vault: Arc<Vault>,
        demo: &DemoConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, DbError> {
        Self::start_with(db, data_dir, vault, demo, crate::reach::ReachPolicy::default(), shutdown).await
    }

    /// [`Farm::start`] with a chosen [`ReachPolicy`](crate::reach::ReachPolicy) (the configuration's).
    pub async fn start_with(
        db: &Db,
        data_dir: &Path,
        vault: Arc<Vault>,
        demo: &DemoConfig,
        reach: crate::reach::ReachPolicy,
        shutdown: CancellationToken,
    ) -> Result<Self, DbError> {
        let created_demo = demo.enabled && db.printers().count().await? == 0;
        if created_demo {
            demo::create_printers(db, demo.printers).await?;
        }
        let farm = Farm {
            inner: Arc::new(Inner {
                db: db.clone(),
                vault,
                data_dir: data_dir.to_path_buf(),
                views: RwLock::new(BTreeMap::new()),
                live: RwLock::new(HashMap::new()),
                events: broadcast::channel(EVENT_BACKLOG).0,
                wake: Notify::new(),
                running: Mutex::new(HashMap::new()),
                slicing: Mutex::new(HashSet::new()),
                slicer: Semaphore::new(1),
                cooldown: Mutex::new(HashMap::new()),
                heating: Mutex::new(HashMap::new()),
                blocked: Mutex::new(HashMap::new()),
                windows: WindowState::default(),
                queue_epoch: std::sync::atomic::AtomicU64::new(0),
                forecast: std::sync::Mutex::new(None),
                forecasting: tokio::sync::Mutex::new(()),
                notifier: Notifier::new(db.clone()),
                shutdown: shutdown.clone(),
                tasks: Mutex::new(JoinSet::new()),
                sims: Mutex::new(Vec::new()),
                demo_speed: demo.speed,
                reach,
            }),
        };
        for record in db.printers().list().await? {
            farm.connect_printer(record).await;
        }
        if created_demo {
            if let Err(e) = demo::seed_jobs(&farm, demo.printers).await {
                tracing::warn!("could not seed the demo farm's jobs: {e:#}");
            }
        }
        if demo.enabled {
            let f = farm.clone();
            farm.spawn(async move { demo::keep_busy(f).await });
        }
        farm.inner.windows.start(farm.clone()).await;
        dispatch::recover(&farm).await?;
        let f = farm.clone();
        farm.spawn(async move { dispatch::run(f).await });
        tracing::info!(printers = farm.len(), "farm started");
        Ok(farm)
    }

    /// Waits (up to `limit`) for every farm task to stop after shutdown, then aborts the rest.
    pub async fn join(&self, limit: std::time::Duration) {
        let mut tasks = std::mem::take(&mut *self.inner.tasks.lock().expect("farm tasks"));
        if tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("farm tasks did not stop within {limit:?}; aborting them");
            tasks.abort_all();
        }
        self.inner.windows.stop().await;
        self.inner.sims.lock().expect("farm sims").clear();
    }

    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.tasks.lock().expect("farm tasks").spawn(task);
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The box's key for printer credentials.
    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    /// Which addresses printers, discovery and the webhook may use.
    pub fn reach(&self) -> crate::reach::ReachPolicy {
        self.inner.reach
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn windows(&self) -> &WindowState {
        &self.inner.windows
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Every printer, sorted by name.
    pub fn snapshot(&self) -> Vec<PrinterView> {
        let mut list: Vec<_> = self.inner.views.read().expect("farm lock").values().cloned().collect();
        list.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
        list
    }

    pub fn len(&self) -> usize {
        self.inner.views.read().expect("farm lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.inner.events.subscribe()
    }

    /// Sends an event to every open browser (none open is normal). It is serialised here, once, not
    /// once per browser.
    pub fn broadcast(&self, event: FarmEvent) {
        if matches!(event, FarmEvent::Queue | FarmEvent::Job { .. }) {
            self.inner.queue_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.send(event);
    }

    fn send(&self, event: FarmEvent) {
        let json = serde_json::to_string(&event).expect("events always serialise").into();
        let _ = self.inner.events.send(Published { event: Arc::new(event), json });
    }

    /// Asks the dispatcher to look at the queue now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await
    }

    pub(crate) fn live(&self, printer: i64) -> Option<Live> {
        self.inner.live.read().expect("farm lock").get(&printer).cloned()
    }

    pub(crate) fn all_live(&self) -> Vec<Live> {
        self.inner.live.read().expect("farm lock").values().cloned().collect()
    }

    /// Re-reads a printer's record (after its settings, spool or bed state changed) and republishes it.
    pub async fn refresh_printer(&self, id: i64) -> Result<(), DbError> {
        let record = self.inner.db.printers().get(id).await?;
        let status = {
            let mut live = self.inner.live.write().expect("farm lock");
            match live.get_mut(&id) {
                Some(l) => {
                    l.record = record.clone();
                    l.status.borrow().clone()
                }
                None => return Ok(()),
            }
        };
        self.publish(&record, &status).await;
        self.wake();
        Ok(())
    }

    /// Adds a newly configured printer to the running farm.
    pub async fn add_printer(&self, id: i64) -> Result<(), DbError> {
        let record = self.inner.db.printers().get(id).await?;
        self.connect_printer(record).await;
        self.wake();
        Ok(())
    }

    /// Reconnects a printer with its stored connection settings (after they changed).
    pub async fn reconnect_printer(&self, id: i64) -> Result<(), DbError> {
        self.remove_printer(id).await;
        self.add_printer(id).await
    }

    /// Disconnects and forgets a printer (its record is deleted by the caller).
    pub async fn remove_printer(&self, id: i64) {
        let removed = self.inner.live.write().expect("farm lock").remove(&id);
        self.inner.views.write().expect("farm lock").remove(&id);
        if let Some(live) = removed {
            live.stop.cancel();
            if let Some(driver) = live.driver {
                let _ = driver.disconnect().await;
            }
        }
        self.broadcast(FarmEvent::Snapshot { printers: self.snapshot() });
    }

    /// Publishes a printer after its record, job or spool changed: reads those afresh.
    pub(crate) async fn publish(&self, record: &PrinterRecord, status: &PrinterStatus) {
        let job = self.inner.db.jobs().active_on(record.id).await.ok().flatten();
        let material = match record.loaded_spool_id {
            Some(spool) => self
                .inner
                .db
                .materials()
                .spool(spool)
                .await
                .ok()
                .map(|s| format!("{} · {} · {:.0} g left", s.material_kind, s.colour_name, s.remaining_g)),
            None => None,
        };
        let printer = connections::view(record, status, job.map(|j| (j.id, j.name)), material);
        self.inner.views.write().expect("farm lock").insert(record.id, printer.clone());
        self.broadcast(FarmEvent::Printer { printer });
    }

    /// Publishes a status change: the job and spool shown are kept from the last publish, so a
    /// chatty printer costs no database reads (they change only through [`Farm::refresh_printer`]).
    pub(crate) fn publish_status(&self, record: &PrinterRecord, status: &PrinterStatus) {
        let (job, material) = match self.inner.views.read().expect("farm lock").get(&record.id) {
            Some(v) => (v.job_id.zip(v.job_name.clone()), v.material.clone()),
            None => (None, None),
        };
        let printer = connections::view(record, status, job, material);
        self.inner.views.write().expect("farm lock").insert(record.id, printer.clone());
        self.broadcast(FarmEvent::Printer { printer });
    }

    pub(crate) fn publish_job(&self, job: &JobRecord) {
        self.broadcast(FarmEvent::Job { job: job_view(job) });
    }

    /// Tells every page how far a printing job has got. Unlike [`Farm::publish_job`] this leaves the
    /// queue forecast alone: it is about waiting jobs, and its printer free times are refreshed every
    /// second anyway. (Thirty printers' progress used to make every queue request recompute it.)
    pub(crate) fn publish_progress(&self, job: &JobRecord) {
        self.send(FarmEvent::Job { job: job_view(job) });
    }

    /// Cancels a job that is printing (or about to): its print task stops the printer.
    pub(crate) fn cancel_running(&self, job: i64) -> bool {
        match self.inner.running.lock().expect("farm running").get(&job) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }
}

impl FarmDirectory for Farm {
    fn printers(&self) -> Vec<PrinterView> {
        self.snapshot()
    }

    fn confirm_bed_clear(
        &self,
        printer: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let db = self.db();
            db.printers().set_bed_clear(printer, true).await.map_err(|e| e.to_string())?;
            db.audit()
                .record(&crate::db::AuditEntry {
                    action: "printer.bed_cleared",
                    target_kind: Some("printer"),
                    target_id: Some(printer),
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            self.refresh_printer(printer).await.map_err(|e| e.to_string())
        })
    }
}

/// The wire form of a job.
pub fn job_view(j: &JobRecord) -> JobView {
    JobView {
        id: j.id,
        name: j.name.clone(),
        owner_id: j.owner_id,
        state: j.state.as_str().to_string(),
        printer_id: j.printer_id,
        progress: j.progress,
        material_kind: j.material_kind.clone(),
        colour: j.colour.clone(),
        estimate_s: j.estimate_s,
        filament_g: j.filament_g,
        attempts: j.attempts,
        error: j.error.clone(),
    }
}
