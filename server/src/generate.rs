//! Generation as a service: requests are checked (blocklist, quota), answered from the cache when the same
//! thing was made before, and otherwise queued in SQLite and served by two workers — one for the
//! procedural tier (milliseconds, never stuck behind the GPU) and one that owns Shap-E and runs up to four
//! compatible prompts per sampler loop. Both pick fairly: the user served longest ago goes first, so one
//! person's ten prompts do not hold up a class. Progress (step n of N, a coarse preview now and then) goes
//! to the requester's event stream; results land in the model library as `generated` models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use genai::engine::{BatchItem, Engine, Generated, Plan, ShapEStatus, Suggestion, UsedTier};
use genai::procedural::Template;
use genai::shap_e::SamplerSettings;
use genai::{CancelToken, GenerationRequest, Quality, RequestError, Tier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::db::{
    Db, DbError, GenerationRecord, GenerationResult, GenerationState, NewGeneration, NewModelVersion, Role,
};
use crate::library;

/// At most this many prompts share one Shap-E sampler loop.
pub const MAX_BATCH: usize = 4;
/// "Variations" asks for at most this many seeds of one prompt.
pub const MAX_VARIATIONS: u8 = 4;
/// Shap-E requests that arrive within this time of each other are batched together.
const BATCH_WINDOW: Duration = Duration::from_millis(300);
/// Thumbnails of generated models, square, pixels.
const THUMBNAIL_PX: u32 = 256;

/// Words refused in prompts unless an admin changes the list (`generation_blocklist`).
pub const DEFAULT_BLOCKLIST: &[&str] = &[
    "gun",
    "pistol",
    "rifle",
    "firearm",
    "bullet",
    "knife",
    "dagger",
    "weapon",
    "bomb",
    "grenade",
    "explosive",
    "knuckles",
];

/// Generations per hour by role unless an admin changes them (`generation_quota_per_hour`). Managers and
/// admins have none; a request without a signed-in user counts as a kiosk.
pub fn default_quota(role: Option<Role>) -> Option<i64> {
    match role {
        None | Some(Role::Kiosk) => Some(30),
        Some(Role::Maker) => Some(30),
        Some(Role::Teacher) => Some(120),
        Some(Role::Manager | Role::Admin) => None,
    }
}

/// What a person asks for.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct GenerateRequest {
    pub prompt: String,
    #[serde(default)]
    pub quality: Option<Quality>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// Largest dimension, mm.
    #[serde(default)]
    pub size_mm: Option<f32>,
    /// Seeds of the same prompt to make at once (Shap-E; 1–4).
    #[serde(default)]
    pub variations: Option<u8>,
    /// A template key from a suggestion: build that template.
    #[serde(default)]
    pub template: Option<String>,
    /// Template parameters to override (from the editor's sliders).
    #[serde(default)]
    pub params: Option<serde_json::Value>,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// Queued (or already done, from the cache): one record per variation.
    Queued { generations: Vec<GenerationRecord> },
    /// Nothing matched well: pick a template (send it back as `template`).
    Choose { reason: String, suggestions: Vec<Suggestion> },
}

/// Why a request was refused, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("prompts about \"{0}\" are not allowed here; please ask for something else")]
    Blocked(String),
    #[error("you have made {used} generations in the last hour, the most your account may make; please wait a while or ask a teacher")]
    Quota { used: i64 },
    #[error("{0}")]
    Engine(#[from] genai::engine::EngineError),
    #[error("generation {0} does not exist")]
    NotFound(i64),
    #[error("only the person who asked (or a teacher or manager) can cancel this")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A generation's progress, as the requester's stream sees it.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationEvent {
    pub id: i64,
    pub state: GenerationState,
    pub stage: String,
    pub step: u32,
    pub total: u32,
    /// Increases each time a new coarse preview is ready at `/api/v1/generations/{id}/preview.glb`.
    pub preview: u32,
    pub model_version_id: Option<i64>,
    pub error: Option<String>,
}

impl GenerationEvent {
    /// A stored request's state as an event (`previews`: how many previews it has had).
    pub fn of(r: &GenerationRecord, stage: &str, previews: u32) -> Self {
        Self {
            id: r.id,
            state: r.state,
            stage: stage.into(),
            step: r.step as u32,
            total: r.total_steps as u32,
            preview: previews,
            model_version_id: r.model_version_id,
            error: r.error.clone(),
        }
    }
}

/// The service handle; cheap to clone.
#[derive(Clone)]
pub struct Generator {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    data_dir: PathBuf,
    engine: RwLock<Arc<Engine>>,
    wake_procedural: Notify,
    wake_shap_e: Notify,
    events: broadcast::Sender<GenerationEvent>,
    live: Mutex<HashMap<i64, Live>>,
    /// When each user (None: no user) was last served, for round-robin.
    served: Mutex<HashMap<Option<i64>, Instant>>,
}

#[derive(Default)]
struct Live {
    cancel: CancelToken,
    preview: Option<Arc<Vec<u8>>>,
    /// The same preview drawn as a picture, for pages that show rather than load a model.
    preview_png: Option<Arc<Vec<u8>>>,
    previews: u32,
    step: u32,
    total: u32,
    /// What the worker is doing now ("shaping", "building the mesh").
    stage: String,
}

impl Generator {
    /// Starts the workers. Requests that were running when the server stopped go back to the queue.
    pub async fn start(db: Db, data_dir: &Path, engine: Engine, shutdown: CancellationToken) -> Result<Self, DbError> {
        let requeued = db.generations().requeue_running().await?;
        if requeued > 0 {
            tracing::info!(requeued, "generations interrupted by a restart are queued again");
        }
        let (events, _) = broadcast::channel(1024);
        let generator = Self {
            inner: Arc::new(Inner {
                db,
                data_dir: data_dir.to_path_buf(),
                engine: RwLock::new(Arc::new(engine)),
                wake_procedural: Notify::new(),
                wake_shap_e: Notify::new(),
                events,
                live: Mutex::new(HashMap::new()),
                served: Mutex::new(HashMap::new()),
            }),
        };
        tokio::spawn(generator.clone().procedural_worker(shutdown.clone()));
        tokio::spawn(generator.clone().shap_e_worker(shutdown));
        Ok(generator)
    }

    /// Loads the active model pack (or `PRINTFARM_SHAP_E_DIR`, a pack directory used as is) in the
    /// background and swaps it in; until then, and when there is none, the procedural tier serves alone.
    pub fn reload_engine(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let allow_cpu = match this.inner.db.farm().settings().await {
                Ok(s) => s.get("shap_e_on_cpu").and_then(|v| v.as_bool()).unwrap_or(false),
                Err(_) => false,
            };
            let models = this.inner.data_dir.join("models");
            let engine = tokio::task::spawn_blocking(move || load_engine(&models, allow_cpu)).await;
            match engine {
                Ok(engine) => {
                    tracing::info!(status = %engine.status().explain(), "generation engine loaded");
                    this.set_engine(engine);
                }
                Err(e) => tracing::error!(error = %e, "loading the generation engine panicked"),
            }
        });
    }

    /// Replaces the engine (after a model pack was installed or rolled back).
    pub fn set_engine(&self, engine: Engine) {
        *self.inner.engine.write().expect("engine lock") = Arc::new(engine);
        self.inner.wake_shap_e.notify_one();
    }

    pub fn engine(&self) -> Arc<Engine> {
        self.inner.engine.read().expect("engine lock").clone()
    }

    /// Whether Shap-E is available, for the UI.
    pub fn status(&self) -> ShapEStatus {
        self.engine().status().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<GenerationEvent> {
        self.inner.events.subscribe()
    }

    /// The latest coarse preview of a running generation (GLB).
    pub fn preview(&self, id: i64) -> Option<Arc<Vec<u8>>> {
        self.inner.live.lock().expect("live lock").get(&id).and_then(|l| l.preview.clone())
    }

    /// The latest coarse preview of a running generation, drawn (PNG, 256 × 256).
    pub fn preview_png(&self, id: i64) -> Option<Arc<Vec<u8>>> {
        self.inner.live.lock().expect("live lock").get(&id).and_then(|l| l.preview_png.clone())
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Checks, plans and queues a request (or answers it from the cache at once).
    pub async fn submit(&self, user: Option<(i64, Role)>, ask: GenerateRequest) -> Result<Submitted, GenerateError> {
        let quality = ask.quality.unwrap_or_default();
        let seed = ask.seed.unwrap_or_else(random_seed);
        let request = GenerationRequest::new(&ask.prompt, quality, seed)?
            .with_tier(ask.tier.unwrap_or_default())
            .with_size(ask.size_mm)?;
        self.check_blocklist(request.prompt()).await?;
        self.check_quota(user).await?;

        let engine = self.engine();
        let plan = engine.plan(&request, ask.template.as_deref())?;
        let user_id = user.map(|(id, _)| id);
        let mut news = Vec::new();
        match plan {
            Plan::Choose { reason, suggestions } => return Ok(Submitted::Choose { reason, suggestions }),
            Plan::Procedural { template, mut params } => {
                if let Some(overrides) = &ask.params {
                    genai::engine::merge_params(&mut params, overrides);
                    params = params.resolved(template);
                }
                let params_json = genai::engine::params_to_json(&params);
                let key = cache_key(&[
                    &engine.cache_tag(UsedTier::Procedural),
                    template.id(),
                    &params_json.to_string(),
                    &format!("{:?}", request.size_mm),
                ]);
                news.push(NewGeneration {
                    user_id,
                    prompt: ask.prompt.trim().to_string(),
                    normalised_prompt: request.prompt().to_lowercase(),
                    quality: quality.as_str().into(),
                    seed: seed as i64,
                    tier: UsedTier::Procedural.as_str().into(),
                    template: Some(template.id().into()),
                    params: params_json,
                    size_mm: request.size_mm.map(f64::from),
                    cache_key: key,
                });
            }
            Plan::ShapE { settings } => {
                let variations = ask.variations.unwrap_or(1).clamp(1, MAX_VARIATIONS);
                for v in 0..u64::from(variations) {
                    let seed = seed.wrapping_add(v);
                    let key = cache_key(&[
                        &engine.cache_tag(UsedTier::ShapE),
                        &request.prompt().to_lowercase(),
                        &seed.to_string(),
                        &format!("{}/{}/{}", settings.steps, settings.guidance, settings.grid_size),
                        &format!("{:?}", request.size_mm),
                    ]);
                    news.push(NewGeneration {
                        user_id,
                        prompt: ask.prompt.trim().to_string(),
                        normalised_prompt: request.prompt().to_lowercase(),
                        quality: quality.as_str().into(),
                        seed: seed as i64,
                        tier: UsedTier::ShapE.as_str().into(),
                        template: None,
                        params: serde_json::json!({}),
                        size_mm: request.size_mm.map(f64::from),
                        cache_key: key,
                    });
                }
            }
        }
        let ids = self.inner.db.generations().submit(&news).await?;
        let mut records = Vec::with_capacity(ids.len());
        let mut queued = (false, false);
        for (id, new) in ids.iter().zip(&news) {
            // A repeated request is answered from the cache at once, as a new model of the asker's own.
            if let Some((version_id, notes)) = self.inner.db.generations().cached(&new.cache_key).await? {
                if let Some(model_id) = self.copy_model(version_id, user_id).await? {
                    let result = GenerationResult { model_id, model_version_id: version_id, notes, cached: true };
                    let _ = self.inner.db.generations().finish(*id, &result).await?;
                }
            }
            let record = self.inner.db.generations().get(*id).await?;
            if record.state == GenerationState::Queued {
                self.inner.live.lock().expect("live lock").insert(*id, Live::default());
                if record.tier == "shap-e" {
                    queued.1 = true;
                } else {
                    queued.0 = true;
                }
            }
            self.publish_record(&record, "queued");
            records.push(record);
        }
        if queued.0 {
            self.inner.wake_procedural.notify_one();
        }
        if queued.1 {
            self.inner.wake_shap_e.notify_one();
        }
        Ok(Submitted::Queued { generations: records })
    }

    /// Cancels a queued or running request: whoever may see it ([`Generator::get_for`]) may.
    pub async fn cancel(&self, id: i64, user: Option<(i64, Role)>) -> Result<GenerationRecord, GenerateError> {
        let record = self.get(id).await?;
        if !self.may_see(&record, user).await? {
            return Err(GenerateError::Forbidden);
        }
        if let Some(live) = self.inner.live.lock().expect("live lock").get(&id) {
            live.cancel.cancel();
        }
        if self.inner.db.generations().end(id, GenerationState::Cancelled, None).await? {
            let record = self.get(id).await?;
            self.publish_record(&record, "cancelled");
            return Ok(record);
        }
        self.get(id).await
    }

    /// A request as `user` may see it (its prompt is theirs): the asker's own, a teacher's for the
    /// asker's classes, anyone's for managers and admins. To anyone else it does not exist, so ids
    /// cannot be probed.
    pub async fn get_for(&self, id: i64, user: Option<(i64, Role)>) -> Result<GenerationRecord, GenerateError> {
        let record = self.get(id).await?;
        if !self.may_see(&record, user).await? {
            return Err(GenerateError::NotFound(id));
        }
        Ok(record)
    }

    /// Whether `user` may see (and so cancel) `record`: see [`Generator::get_for`].
    async fn may_see(&self, record: &GenerationRecord, user: Option<(i64, Role)>) -> Result<bool, DbError> {
        Ok(match (user, record.user_id) {
            (Some((_, Role::Manager | Role::Admin)), _) => true,
            (Some((uid, _)), Some(owner)) if uid == owner => true,
            (Some((uid, Role::Teacher)), Some(owner)) => self.inner.db.accounts().teaches(uid, owner).await?,
            (Some(_), _) => false,
            (None, owner) => owner.is_none(),
        })
    }

    /// A request by id, whoever asked for it (for the server's own use; callers use [`Generator::get_for`]).
    pub async fn get(&self, id: i64) -> Result<GenerationRecord, GenerateError> {
        match self.inner.db.generations().get(id).await {
            Err(DbError::NotFound { .. }) => Err(GenerateError::NotFound(id)),
            other => Ok(other?),
        }
    }

    async fn check_blocklist(&self, prompt: &str) -> Result<(), GenerateError> {
        let settings = self.inner.db.farm().settings().await?;
        let words: Vec<String> = match settings.get("generation_blocklist").and_then(|v| v.as_array()) {
            Some(list) => list.iter().filter_map(|w| w.as_str()).map(str::to_lowercase).collect(),
            None => DEFAULT_BLOCKLIST.iter().map(|w| w.to_string()).collect(),
        };
        match blocked_word(prompt, &words) {
            Some(word) => Err(GenerateError::Blocked(word)),
            None => Ok(()),
        }
    }

    async fn check_quota(&self, user: Option<(i64, Role)>) -> Result<(), GenerateError> {
        let role = user.map(|(_, r)| r);
        let settings = self.inner.db.farm().settings().await?;
        let by_role = || match settings.get("generation_quota_per_hour").and_then(|v| v.as_object()) {
            Some(map) => match map.get(role.map(Role::as_str).unwrap_or("kiosk")) {
                Some(v) => v.as_i64(),
                None => default_quota(role),
            },
            None => default_quota(role),
        };
        // A person's own limit (null: none) wins over their role's.
        let personal = match (user, settings.get("generation_quota_users").and_then(|v| v.as_object())) {
            (Some((id, _)), Some(map)) if !map.is_empty() => {
                let name = self.inner.db.accounts().by_id(id).await.map(|u| u.username).unwrap_or_default();
                map.get(&name).map(|v| v.as_i64())
            }
            _ => None,
        };
        let limit = personal.unwrap_or_else(by_role);
        let Some(limit) = limit else { return Ok(()) };
        let used = self.inner.db.generations().count_recent(user.map(|(id, _)| id), 3600).await?;
        if used >= limit {
            return Err(GenerateError::Quota { used });
        }
        Ok(())
    }

    /// A new model (owned by `owner`) whose first version is the same file as `version_id`.
    async fn copy_model(&self, version_id: i64, owner: Option<i64>) -> Result<Option<i64>, DbError> {
        let v = match self.inner.db.models().version(version_id).await {
            Ok(v) => v,
            Err(DbError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !self.inner.data_dir.join(&v.file_path).exists() {
            return Ok(None);
        }
        let (model_id, new_version) = self
            .inner
            .db
            .models()
            .create(
                &v.name,
                owner,
                "generated",
                &NewModelVersion {
                    file_path: v.file_path.clone(),
                    format: v.format.clone(),
                    sha256: v.sha256.clone(),
                    size_bytes: v.size_bytes,
                    created_by: owner,
                },
            )
            .await?;
        if let (Some(t), Some(x), Some(y), Some(z), Some(vol)) =
            (v.triangles, v.size_x_mm, v.size_y_mm, v.size_z_mm, v.volume_mm3)
        {
            self.inner.db.models().set_geometry(new_version, t, [x, y, z], vol).await?;
        }
        if let Some(tier) = self.inner.db.models().generated_by(version_id).await? {
            self.inner.db.generations().mark_version(new_version, &tier).await?;
        }
        Ok(Some(model_id))
    }

    fn publish_record(&self, r: &GenerationRecord, stage: &str) {
        let previews = self.inner.live.lock().expect("live lock").get(&r.id).map_or(0, |l| l.previews);
        let _ = self.inner.events.send(GenerationEvent::of(r, stage, previews));
    }

    /// Queued requests of one tier in fair order: users served longest ago first, each user's own
    /// requests oldest first; the members of a variation batch stay together.
    async fn fair_queue(&self, tier: UsedTier) -> Result<Vec<GenerationRecord>, DbError> {
        let queued: Vec<GenerationRecord> = self
            .inner
            .db
            .generations()
            .in_state(GenerationState::Queued)
            .await?
            .into_iter()
            .filter(|r| r.tier == tier.as_str())
            .collect();
        let served = self.inner.served.lock().expect("served lock").clone();
        Ok(fair_order(queued, &served))
    }

    fn mark_served(&self, user: Option<i64>) {
        self.inner.served.lock().expect("served lock").insert(user, Instant::now());
    }

    async fn procedural_worker(self, shutdown: CancellationToken) {
        loop {
            match self.fair_queue(UsedTier::Procedural).await {
                Ok(queue) if !queue.is_empty() => {
                    let record = queue.into_iter().next().expect("not empty");
                    self.mark_served(record.user_id);
                    self.run_procedural(record).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the generation queue"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.inner.wake_procedural.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn shap_e_worker(self, shutdown: CancellationToken) {
        loop {
            if self.engine().shap_e_ready() {
                match self.fair_queue(UsedTier::ShapE).await {
                    Ok(queue) if !queue.is_empty() => {
                        // Let requests arriving together share the loop.
                        tokio::time::sleep(BATCH_WINDOW).await;
                        let queue = self.fair_queue(UsedTier::ShapE).await.unwrap_or(queue);
                        let batch = pick_batch(queue);
                        for r in &batch {
                            self.mark_served(r.user_id);
                        }
                        self.run_shap_e(batch).await;
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the generation queue"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.inner.wake_shap_e.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn run_procedural(&self, record: GenerationRecord) {
        let (id, user) = (record.id, record.user_id);
        match self.inner.db.generations().start(id, 1).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::warn!(error = %e, id, "cannot start a generation"),
        }
        self.publish_stage(id, "building", 0, 1);
        let started = Instant::now();
        let engine = self.engine();
        let outcome = tokio::task::spawn_blocking(move || {
            let template = record
                .template
                .as_deref()
                .and_then(Template::from_id)
                .ok_or_else(|| format!("the design {:?} no longer exists", record.template))?;
            let params = genai::engine::params_from_json(template, &record.params);
            let request =
                GenerationRequest::new(&record.prompt, record.quality.parse().unwrap_or_default(), record.seed as u64)
                    .and_then(|r| r.with_size(record.size_mm.map(|s| s as f32)))
                    .map_err(|e| e.to_string())?;
            let generated = engine.procedural(&request, template, &params).map_err(|e| e.to_string())?;
            package(&generated)
        })
        .await
        .unwrap_or_else(|e| Err(format!("the generator stopped unexpectedly: {e}")));
        // Recorded before the result is stored, so anyone told it is done also finds it counted.
        crate::metrics::observe_generation(crate::metrics::Generator::Procedural, started.elapsed());
        self.complete(id, user, outcome).await;
    }

    async fn run_shap_e(&self, batch: Vec<GenerationRecord>) {
        let mut items = Vec::new();
        let mut ids = Vec::new();
        let settings = batch.first().map(|r| SamplerSettings::for_quality(r.quality.parse().unwrap_or_default()));
        let Some(settings) = settings else { return };
        for r in batch {
            let total = settings.steps as i64 * 2;
            match self.inner.db.generations().start(r.id, total).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, id = r.id, "cannot start a generation");
                    continue;
                }
            }
            let cancel = self.inner.live.lock().expect("live lock").entry(r.id).or_default().cancel.clone();
            let request = match GenerationRequest::new(&r.prompt, r.quality.parse().unwrap_or_default(), r.seed as u64)
                .and_then(|q| q.with_size(r.size_mm.map(|s| s as f32)))
            {
                Ok(q) => q,
                Err(e) => {
                    self.complete(r.id, r.user_id, Err(e.to_string())).await;
                    continue;
                }
            };
            items.push(BatchItem { request, cancel });
            ids.push((r.id, r.user_id));
        }
        if items.is_empty() {
            return;
        }
        let engine = self.engine();
        let this = self.clone();
        let row_ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
        let handle = tokio::runtime::Handle::current();
        let started = Instant::now();
        let results = tokio::task::spawn_blocking(move || {
            let mut last_write = vec![Instant::now() - Duration::from_secs(10); row_ids.len()];
            engine
                .shap_e_batch(&items, &settings, &mut |row, progress, preview| {
                    let id = row_ids[row];
                    if let Some(mesh) = preview {
                        this.store_preview(id, mesh);
                    }
                    this.publish_stage(id, progress.stage, progress.step, progress.total);
                    if last_write[row].elapsed() >= Duration::from_secs(1) {
                        last_write[row] = Instant::now();
                        let db = this.inner.db.clone();
                        let (step, total) = (i64::from(progress.step), i64::from(progress.total));
                        handle.spawn(async move { db.generations().set_step(id, step, total).await });
                    }
                })
                .map(|rows| rows.into_iter().map(|r| r.map_err(|e| e.to_string())).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("the generator stopped unexpectedly: {e}")));
        match results {
            Ok(rows) => {
                for ((id, user), row) in ids.into_iter().zip(rows) {
                    match row {
                        Ok(None) => {
                            let _ = self.inner.db.generations().end(id, GenerationState::Cancelled, None).await;
                            self.finish_live(id, "cancelled").await;
                        }
                        Ok(Some(generated)) => {
                            let packaged = tokio::task::spawn_blocking(move || package(&generated))
                                .await
                                .unwrap_or_else(|e| Err(e.to_string()));
                            // Rows of a batch run together, so each took the batch's time.
                            crate::metrics::observe_generation(crate::metrics::Generator::ShapE, started.elapsed());
                            self.complete(id, user, packaged).await;
                        }
                        Err(e) => self.complete(id, user, Err(e)).await,
                    }
                }
            }
            Err(e) => {
                for (id, user) in ids {
                    self.complete(id, user, Err(e.clone())).await;
                }
            }
        }
    }

    fn store_preview(&self, id: i64, preview: &mesh::IndexedMesh) {
        let model = mesh::Model::single("preview", preview.clone());
        // A coarse preview has a few thousand triangles: drawing it takes milliseconds, on the
        // sampling thread, between model calls.
        let png = mesh::thumbnail::render_png(preview, &mesh::thumbnail::ThumbnailOptions::sized(256, 256)).ok();
        if let Ok(glb) = mesh::io::write(&model, mesh::io::Format::Glb) {
            let mut live = self.inner.live.lock().expect("live lock");
            let entry = live.entry(id).or_default();
            entry.preview = Some(Arc::new(glb));
            entry.preview_png = png.map(Arc::new);
            entry.previews += 1;
        }
    }

    fn publish_stage(&self, id: i64, stage: &str, step: u32, total: u32) {
        let previews = match self.inner.live.lock().expect("live lock").get_mut(&id) {
            Some(l) => {
                l.step = step;
                l.total = total;
                if l.stage != stage {
                    l.stage = stage.to_string();
                }
                l.previews
            }
            None => 0,
        };
        let _ = self.inner.events.send(GenerationEvent {
            id,
            state: GenerationState::Running,
            stage: stage.into(),
            step,
            total,
            preview: previews,
            model_version_id: None,
            error: None,
        });
    }

    /// Stores a result in the library (or records the failure) and tells the requester.
    async fn complete(&self, id: i64, user: Option<i64>, outcome: Result<Packaged, String>) {
        let result = match outcome {
            Ok(p) => self.store(id, user, p).await.map_err(|e| format!("the model could not be saved: {e}")),
            Err(e) => Err(e),
        };
        if let Err(message) = result {
            tracing::info!(id, error = %message, "generation failed");
            let _ = self.inner.db.generations().end(id, GenerationState::Failed, Some(&message)).await;
        }
        self.finish_live(id, "done").await;
    }

    async fn finish_live(&self, id: i64, stage: &str) {
        if let Ok(record) = self.inner.db.generations().get(id).await {
            self.publish_record(&record, stage);
        }
        self.inner.live.lock().expect("live lock").remove(&id);
    }

    async fn store(&self, id: i64, user: Option<i64>, p: Packaged) -> Result<(), library::LibraryError> {
        let stored = library::store_model(
            &self.inner.db,
            &self.inner.data_dir,
            &format!("{}.3mf", p.name),
            p.three_mf,
            user,
            "generated",
        )
        .await?;
        self.inner.db.generations().mark_version(stored.version_id, p.tier.as_str()).await?;
        let version = self.inner.db.models().version(stored.version_id).await?;
        if let Err(e) = library::store_thumbnail(&self.inner.data_dir, &version.sha256, &p.thumbnail).await {
            tracing::warn!(error = %e, "cannot store a thumbnail");
        }
        let result = GenerationResult {
            model_id: stored.model_id,
            model_version_id: stored.version_id,
            notes: p.notes,
            cached: false,
        };
        self.inner.db.generations().finish(id, &result).await?;
        Ok(())
    }
}

/// Checks a staged Shap-E pack before it is activated: every expected tensor and a load self-test.
pub struct ShapEPackVerifier;

impl genai::modelpack::PackVerifier for ShapEPackVerifier {
    fn verify(&self, staged_dir: &Path) -> Result<(), String> {
        genai::shap_e::verify_pack(staged_dir)
    }
}

/// The engine for a data directory's model store (`<data>/models`), or for `PRINTFARM_SHAP_E_DIR`.
pub fn load_engine(models_dir: &Path, allow_cpu: bool) -> Engine {
    if let Some(dir) = std::env::var_os("PRINTFARM_SHAP_E_DIR") {
        let dir = PathBuf::from(dir);
        let label = format!("local pack at {}", dir.display());
        return Engine::from_dir(&dir, None, label);
    }
    match genai::modelpack::ModelStore::open(models_dir) {
        Ok(store) => Engine::load(&store, allow_cpu),
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the model store; AI shapes are off");
            Engine::procedural_only()
        }
    }
}

/// A finished model in the bytes the library stores.
struct Packaged {
    name: String,
    tier: UsedTier,
    three_mf: Vec<u8>,
    thumbnail: Vec<u8>,
    notes: Vec<String>,
}

fn package(g: &Generated) -> Result<Packaged, String> {
    Ok(Packaged {
        name: g.name.clone(),
        tier: g.tier,
        three_mf: g.three_mf().map_err(|e| e.to_string())?,
        thumbnail: g.thumbnail_png(THUMBNAIL_PX).map_err(|e| e.to_string())?,
        notes: g.finished.steps.clone(),
    })
}

/// Orders queued requests fairly (see [`Generator`]); pure, so it is tested on its own.
pub fn fair_order(mut queued: Vec<GenerationRecord>, served: &HashMap<Option<i64>, Instant>) -> Vec<GenerationRecord> {
    queued.sort_by_key(|r| r.id);
    // Round-robin: each user's k-th request goes in round k; within a round, users served longest ago
    // (never served first) go first, ties by their oldest request.
    let mut rounds: HashMap<Option<i64>, usize> = HashMap::new();
    let mut keyed: Vec<(usize, Option<Instant>, i64, GenerationRecord)> = Vec::with_capacity(queued.len());
    let mut first_id: HashMap<Option<i64>, i64> = HashMap::new();
    for r in queued {
        // The members of one variation batch count as one request of their owner.
        let round = rounds.entry(r.user_id).or_insert(0);
        let this_round = *round;
        let is_batch_follower = r.batch_id.is_some_and(|b| b != r.id);
        if !is_batch_follower {
            *round += 1;
        }
        let first = *first_id.entry(r.user_id).or_insert(r.id);
        keyed.push((
            this_round.saturating_sub(usize::from(is_batch_follower && this_round > 0)),
            served.get(&r.user_id).copied(),
            first,
            r,
        ));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)).then(a.3.id.cmp(&b.3.id)));
    keyed.into_iter().map(|k| k.3).collect()
}

/// Up to [`MAX_BATCH`] requests from the head of a fair queue that can share one sampler loop (same
/// quality settings); a variation batch is never split.
pub fn pick_batch(queue: Vec<GenerationRecord>) -> Vec<GenerationRecord> {
    let Some(first) = queue.first() else { return Vec::new() };
    let quality = first.quality.clone();
    let mut batch: Vec<GenerationRecord> = Vec::new();
    let mut groups: Vec<Vec<GenerationRecord>> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for r in queue.into_iter().filter(|r| r.quality == quality) {
        let group = r.batch_id.unwrap_or(r.id);
        match index.get(&group) {
            Some(&i) => groups[i].push(r),
            None => {
                index.insert(group, groups.len());
                groups.push(vec![r]);
            }
        }
    }
    for g in groups {
        if batch.is_empty() || batch.len() + g.len() <= MAX_BATCH {
            batch.extend(g);
        }
        if batch.len() >= MAX_BATCH {
            break;
        }
    }
    batch.truncate(MAX_BATCH);
    batch
}

/// The first blocked word that appears as a word (or a plural) in the prompt.
pub fn blocked_word(prompt: &str, blocklist: &[String]) -> Option<String> {
    let lower = prompt.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for blocked in blocklist {
        let blocked = blocked.trim();
        if blocked.is_empty() {
            continue;
        }
        if blocked.contains(' ') {
            if lower.contains(blocked) {
                return Some(blocked.to_string());
            }
            continue;
        }
        let hit = words
            .iter()
            .any(|w| *w == blocked || w.strip_suffix('s') == Some(blocked) || w.strip_suffix("es") == Some(blocked));
        if hit {
            return Some(blocked.to_string());
        }
    }
    None
}

fn cache_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish() % 1_000_000_000
}

/// The Create page's server functions reach the generator through this (the app never depends on us).
impl app::api::GenerationDesk for Generator {
    fn status(&self) -> app::wire::CreateStatus {
        let status = self.status();
        app::wire::CreateStatus { ai_available: matches!(status, ShapEStatus::Ready { .. }), message: status.explain() }
    }

    fn create(
        &self,
        prompt: String,
        template: Option<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<app::wire::CreateOutcome, String>> + Send + '_>>
    {
        let user = crate::auth::current().map(|c| (c.user_id, c.role));
        Box::pin(async move {
            let ask = GenerateRequest { prompt, template, ..GenerateRequest::default() };
            match self.submit(user, ask).await.map_err(|e| e.to_string())? {
                Submitted::Queued { generations } => Ok(app::wire::CreateOutcome::Started {
                    generations: generations.iter().map(generation_view).collect(),
                }),
                Submitted::Choose { reason, suggestions } => Ok(app::wire::CreateOutcome::Choose {
                    reason,
                    choices: suggestions
                        .into_iter()
                        .map(|s| app::wire::DesignChoice {
                            template: s.template,
                            name: s.name,
                            description: s.description,
                        })
                        .collect(),
                }),
            }
        })
    }

    fn progress(
        &self,
        id: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<app::wire::GenerationView, String>> + Send + '_>>
    {
        let user = crate::auth::current().map(|c| (c.user_id, c.role));
        Box::pin(async move {
            let record = self.get_for(id, user).await.map_err(|e| e.to_string())?;
            let mut view = generation_view(&record);
            // The live step (the database is written at most once a second).
            if record.state == GenerationState::Running {
                if let Some(live) = self.inner.live.lock().expect("live lock").get(&id) {
                    view.step = view.step.max(live.step);
                    view.total = view.total.max(live.total);
                    view.preview = live.preview_png.as_ref().map_or(0, |_| live.previews);
                    view.stage.clone_from(&live.stage);
                }
            }
            Ok(view)
        })
    }
}

/// A stored request as the Create page shows it.
pub fn generation_view(r: &GenerationRecord) -> app::wire::GenerationView {
    app::wire::GenerationView {
        id: r.id,
        state: r.state.as_str().into(),
        step: r.step.max(0) as u32,
        total: r.total_steps.max(0) as u32,
        tier: r.tier.clone(),
        template: r.template.clone(),
        model_version_id: r.model_version_id,
        error: r.error.clone(),
        notes: r.notes.clone(),
        preview: 0,
        stage: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64, user: Option<i64>, batch: Option<i64>, quality: &str) -> GenerationRecord {
        GenerationRecord {
            id,
            user_id: user,
            prompt: "p".into(),
            normalised_prompt: "p".into(),
            quality: quality.into(),
            seed: 0,
            tier: "shap-e".into(),
            template: None,
            params: serde_json::json!({}),
            size_mm: None,
            batch_id: batch,
            state: GenerationState::Queued,
            step: 0,
            total_steps: 0,
            cache_key: None,
            cached: false,
            model_id: None,
            model_version_id: None,
            error: None,
            notes: vec![],
            created_at: String::new(),
            started_at: None,
            finished_at: None,
        }
    }

    #[tokio::test]
    async fn a_coarse_preview_is_kept_as_a_model_and_as_a_picture() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let shutdown = CancellationToken::new();
        let g = Generator::start(db, dir.path(), Engine::procedural_only(), shutdown.clone()).await.unwrap();
        assert!(g.preview(7).is_none() && g.preview_png(7).is_none());
        // What a decoded latent looks like: a rough blob in the [-1, 1] cube.
        let blob = mesh::primitives::uv_sphere(0.8, 24, 13);
        g.store_preview(7, &blob);
        g.store_preview(7, &blob);
        let png = g.preview_png(7).expect("a picture");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let side = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((side(16), side(20)), (256, 256));
        let glb = g.preview(7).expect("a model");
        assert_eq!(&glb[..4], b"glTF");
        assert_eq!(g.inner.live.lock().unwrap().get(&7).map(|l| l.previews), Some(2));
        assert!(g.preview_png(8).is_none(), "previews belong to their own request");
        shutdown.cancel();
    }

    #[test]
    fn fair_order_alternates_users() {
        // User 1 asked five times before user 2 and user 3 asked once each.
        let q = vec![
            rec(1, Some(1), None, "low"),
            rec(2, Some(1), None, "low"),
            rec(3, Some(1), None, "low"),
            rec(4, Some(1), None, "low"),
            rec(5, Some(1), None, "low"),
            rec(6, Some(2), None, "low"),
            rec(7, Some(3), None, "low"),
        ];
        let order: Vec<i64> = fair_order(q, &HashMap::new()).iter().map(|r| r.id).collect();
        assert_eq!(order, vec![1, 6, 7, 2, 3, 4, 5]);
    }

    #[test]
    fn fair_order_puts_the_user_served_last_behind() {
        let q = vec![rec(1, Some(1), None, "low"), rec(2, Some(2), None, "low")];
        let mut served = HashMap::new();
        served.insert(Some(1), Instant::now());
        let order: Vec<i64> = fair_order(q, &served).iter().map(|r| r.id).collect();
        assert_eq!(order, vec![2, 1]);
    }

    #[test]
    fn variations_stay_together_and_count_once() {
        // User 1 asked for 4 variations (ids 1–4, batch 1), then user 2 asked once.
        let q = vec![
            rec(1, Some(1), Some(1), "low"),
            rec(2, Some(1), Some(1), "low"),
            rec(3, Some(1), Some(1), "low"),
            rec(4, Some(1), Some(1), "low"),
            rec(5, Some(2), None, "low"),
            rec(6, Some(1), None, "low"),
        ];
        let order = fair_order(q, &HashMap::new());
        let ids: Vec<i64> = order.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
        let batch: Vec<i64> = pick_batch(order).iter().map(|r| r.id).collect();
        assert_eq!(batch, vec![1, 2, 3, 4]);
    }

    #[test]
    fn batches_share_quality_and_hold_at_most_four() {
        let q = vec![
            rec(1, Some(1), None, "low"),
            rec(2, Some(2), None, "high"),
            rec(3, Some(3), None, "low"),
            rec(4, Some(4), None, "low"),
            rec(5, Some(5), None, "low"),
            rec(6, Some(6), None, "low"),
        ];
        let batch: Vec<i64> = pick_batch(q).iter().map(|r| r.id).collect();
        assert_eq!(batch, vec![1, 3, 4, 5]);
    }

    #[test]
    fn a_variation_batch_is_not_split() {
        // A single request, then a batch of 4: the batch waits for the next loop rather than splitting.
        let q = vec![
            rec(1, Some(1), None, "low"),
            rec(2, Some(2), Some(2), "low"),
            rec(3, Some(2), Some(2), "low"),
            rec(4, Some(2), Some(2), "low"),
            rec(5, Some(2), Some(2), "low"),
            rec(6, Some(3), None, "low"),
        ];
        let batch: Vec<i64> = pick_batch(q).iter().map(|r| r.id).collect();
        assert_eq!(batch, vec![1, 6]);
    }

    #[test]
    fn blocklist_matches_words_not_substrings() {
        let list: Vec<String> = DEFAULT_BLOCKLIST.iter().map(|s| s.to_string()).collect();
        assert_eq!(blocked_word("a toy GUN for my brother", &list), Some("gun".into()));
        assert_eq!(blocked_word("two knives", &list), None, "irregular plurals need their own entry");
        assert_eq!(blocked_word("three bombs", &list), Some("bomb".into()));
        assert_eq!(blocked_word("a begun project, a burgundy vase", &list), None);
        assert_eq!(blocked_word("a name tag for Maya", &list), None);
    }

    #[test]
    fn cache_keys_separate_their_parts() {
        assert_ne!(cache_key(&["ab", "c"]), cache_key(&["a", "bc"]));
        assert_eq!(cache_key(&["x", "y"]), cache_key(&["x", "y"]));
    }
}
