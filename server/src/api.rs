//! The farm's REST endpoints under `/api/v1`: models, jobs and the queue forecast, printers (add,
//! change, bed cleared, spool), materials and spools, statistics, maintenance, notifications, farm
//! settings and time windows. JSON in and out; errors are `{"error": "a sentence"}` with a 4xx/5xx.
//!
//! Who is acting comes from [`crate::auth`] (API key or session); each route's least role is in
//! `auth::policy`, and handlers check what depends on the thing (whose job it is, whose class).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::db::{Classes, DbError, FarmWindow, JobFilter, JobState, NewPrinter, NewSpool, PrinterChange, Role};
use crate::farm::dispatch::{self, seconds, JobError, Submission};
use crate::farm::{job_view, windows};
use crate::generate::{GenerateError, GenerateRequest, GenerationEvent, Submitted};
use crate::http::AppState;
use crate::library::{self, LibraryError, MAX_MODEL_BYTES};

/// The routes, to be merged into the server's router. Every change they make is audited.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/models", post(upload_model).layer(DefaultBodyLimit::max(MAX_MODEL_BYTES)))
        .route("/api/v1/models/versions/{id}", get(model_version))
        .route("/api/v1/models/versions/{id}/file", get(model_file))
        .route("/api/v1/models/versions/{id}/thumbnail.png", get(model_thumbnail))
        .route("/api/v1/generations", get(list_generations).post(submit_generation))
        .route("/api/v1/generations/status", get(generation_status))
        .route("/api/v1/generations/templates", get(generation_templates))
        .route("/api/v1/generations/{id}", get(get_generation))
        .route("/api/v1/generations/{id}/cancel", post(cancel_generation))
        .route("/api/v1/generations/{id}/events", get(generation_events))
        .route("/api/v1/generations/{id}/preview.glb", get(generation_preview))
        .route("/api/v1/generations/{id}/preview.png", get(generation_preview_png))
        .route("/api/v1/jobs", get(list_jobs).post(submit_job))
        .route("/api/v1/jobs/{id}", get(get_job).patch(reorder_job))
        .route("/api/v1/jobs/{id}/thumbnail.png", get(job_thumbnail))
        .route("/api/v1/jobs/{id}/{action}", post(job_action))
        .route("/api/v1/queue", get(queue))
        .route("/api/v1/printers", post(add_printer))
        .route("/api/v1/printers/discover", get(discover))
        .route("/api/v1/printers/{id}", get(get_printer).patch(change_printer).delete(delete_printer))
        .route("/api/v1/printers/{id}/bed-clear", post(bed_clear))
        .route("/api/v1/printers/{id}/spool", put(load_spool))
        .route("/api/v1/printers/{id}/maintenance", post(add_maintenance))
        .route("/api/v1/materials", get(materials).post(add_material))
        .route("/api/v1/spools", get(spools).post(add_spool))
        .route("/api/v1/spools/{id}", axum::routing::patch(weigh_spool))
        .route("/api/v1/stats/printers", get(printer_stats))
        .route("/api/v1/stats/users", get(user_stats))
        .route("/api/v1/stats/groups", get(group_stats))
        .route("/api/v1/groups", post(add_group))
        .route("/api/v1/stats/utilisation", get(utilisation))
        .route("/api/v1/maintenance", get(maintenance))
        .route("/api/v1/maintenance/{id}/done", post(maintenance_done))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/notifications/{id}/read", post(notification_read))
        .route("/api/v1/farm/settings", get(settings).put(change_settings))
        .route("/api/v1/farm/windows", get(list_windows).post(add_window))
        .route("/api/v1/farm/windows/{id}", delete(delete_window))
        .route("/api/v1/audit", get(audit_log))
        .route_layer(axum::middleware::from_fn_with_state(state, audit_changes))
}

/// Records every change made through the API (any method but GET that succeeded): who (the named user),
/// what (method and route), which thing (the id in the path), from where (the client's address).
pub(crate) async fn audit_changes(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.method().clone();
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return next.run(req).await;
    }
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string());
    let ip = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    let path = req.uri().path().to_string();
    let actor_id = req.extensions().get::<Caller>().map(|c| c.user_id);
    let response = next.run(req).await;
    if response.status().is_success() {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let action = format!("{method} {}", route.unwrap_or_else(|| path.clone()));
        let entry = crate::db::AuditEntry {
            actor_id,
            action: &action,
            target_kind: segments.get(2).copied(),
            target_id: segments.get(3).and_then(|s| s.parse().ok()),
            detail: json!({ "path": path, "status": response.status().as_u16() }),
            ip: ip.as_deref(),
        };
        if let Err(e) = state.db.audit().record(&entry).await {
            tracing::warn!("audit log: {e}");
        }
    }
    response
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/audit`: the newest audit events first.
async fn audit_log(State(state): State<AppState>, Query(q): Query<AuditQuery>) -> ApiResult<Response> {
    Ok(Json(state.db.audit().recent(q.limit.unwrap_or(100).clamp(1, 1000)).await?).into_response())
}

/// An error as the API reports it: a status and a sentence, never internals.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// The sentence this error tells people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A JSON body that could not be read: its own status (400, 413 too big, 415 not JSON, 422) and words.
    fn rejected(e: axum::extract::rejection::JsonRejection) -> Self {
        Self { status: e.status(), message: e.body_text() }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound { .. } => Self { status: StatusCode::NOT_FOUND, message: e.to_string() },
            DbError::InvalidTransition { .. } => Self { status: StatusCode::CONFLICT, message: e.to_string() },
            DbError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                Self { status: StatusCode::CONFLICT, message: "that name is already taken".into() }
            }
            DbError::Sqlx(sqlx::Error::Database(d)) if d.is_check_violation() || d.is_foreign_key_violation() => {
                Self::bad("a value is out of range or refers to something that does not exist")
            }
            e => {
                tracing::error!("database: {e}");
                Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: "the database failed; try again".into() }
            }
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Invalid(m) => Self::bad(m),
            JobError::Conflict(m) => Self { status: StatusCode::CONFLICT, message: m },
            JobError::Quota(m) => Self { status: StatusCode::TOO_MANY_REQUESTS, message: m },
            JobError::Forbidden(m) => Self { status: StatusCode::FORBIDDEN, message: m },
            JobError::Db(e) => e.into(),
        }
    }
}

impl From<LibraryError> for ApiError {
    fn from(e: LibraryError) -> Self {
        match e {
            LibraryError::TooBig(_) => Self { status: StatusCode::PAYLOAD_TOO_LARGE, message: e.to_string() },
            LibraryError::Unreadable(_) | LibraryError::Empty => {
                Self { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.to_string() }
            }
            LibraryError::Db(e) => e.into(),
            LibraryError::Io(e) => {
                tracing::error!("storing a model: {e}");
                Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: "the file could not be stored".into() }
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The signed-in caller's id and role (the gate has already refused anyone the route does not admit).
type Who = Option<Extension<Caller>>;

async fn actor(_state: &AppState, who: &Who) -> ApiResult<Option<(i64, Role)>> {
    Ok(who.as_ref().map(|c| (c.user_id, c.role)))
}

fn forbidden() -> ApiError {
    ApiError { status: StatusCode::FORBIDDEN, message: app::auth::text::NOT_ALLOWED.into() }
}

// ---- Models -----------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

/// `POST /api/v1/models?name=gear.stl` with the file as the body.
async fn upload_model(
    State(state): State<AppState>,
    who: Who,
    Query(q): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "the file is bigger than 256 MiB, the most a model may be".into(),
        },
        // The body stopped arriving (`connections`' pause limit) or the connection broke mid-file.
        _ => ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: "the file stopped arriving before it was complete; send it again".into(),
        },
    })?;
    let owner = actor(&state, &who).await?.map(|a| a.0);
    let name = q.name.unwrap_or_else(|| "model".into());
    let stored =
        library::store_model(&state.db, state.farm.data_dir(), &name, Vec::from(body), owner, "upload").await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

async fn model_version(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    Ok(Json(state.db.models().version(id).await?).into_response())
}

/// `GET /api/v1/models/versions/{id}/file`: the stored model file (3MF, STL, GLB or OBJ).
async fn model_file(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let v = state.db.models().version(id).await?;
    let bytes = tokio::fs::read(state.farm.data_dir().join(&v.file_path)).await.map_err(|e| {
        tracing::error!("reading a model file: {e}");
        ApiError { status: StatusCode::NOT_FOUND, message: "the model's file is missing".into() }
    })?;
    let mime = match v.format.as_str() {
        "3mf" => "model/3mf",
        "stl" => "model/stl",
        "glb" => "model/gltf-binary",
        _ => "application/octet-stream",
    };
    let name = format!("model-{id}.{}", v.format);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/models/versions/{id}/thumbnail.png`: a shaded picture of the model (drawn once, then kept).
async fn model_thumbnail(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let v = state.db.models().version(id).await?;
    let png = library::thumbnail(state.farm.data_dir(), &v.file_path, &v.sha256).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "image/png"), (axum::http::header::CACHE_CONTROL, "public, max-age=86400")],
        png,
    )
        .into_response())
}

/// `GET /api/v1/jobs/{id}/thumbnail.png`: the picture of what a job prints (its model version's thumbnail),
/// so a printer tile can show it knowing only the job.
async fn job_thumbnail(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let job = state.db.jobs().get(id).await?;
    let Some(version) = job.model_version_id else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: "this job was sent as G-code, so there is no picture of it".into(),
        });
    };
    model_thumbnail(State(state), Path(version)).await
}

// ---- Generation -------------------------------------------------------------------------------------

/// `POST /api/v1/generations`: a prompt (and options) in; queued records, a cached result, or suggestions out.
async fn submit_generation(State(state): State<AppState>, who: Who, body: Bytes) -> ApiResult<Response> {
    let ask: GenerateRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("the request is not valid JSON for a generation: {e}")))?;
    let user = actor(&state, &who).await?;
    match state.generator.submit(user, ask).await? {
        s @ Submitted::Queued { .. } => Ok((StatusCode::ACCEPTED, Json(s)).into_response()),
        s @ Submitted::Choose { .. } => Ok(Json(s).into_response()),
    }
}

#[derive(Deserialize)]
struct GenerationQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/generations`: the acting user's requests, newest first.
async fn list_generations(
    State(state): State<AppState>,
    who: Who,
    Query(q): Query<GenerationQuery>,
) -> ApiResult<Response> {
    let user = actor(&state, &who).await?.map(|(id, _)| id);
    let list = state.db.generations().of_user(user, q.limit.unwrap_or(50).clamp(1, 500)).await?;
    Ok(Json(list).into_response())
}

async fn get_generation(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    let user = actor(&state, &who).await?;
    Ok(Json(state.generator.get_for(id, user).await?).into_response())
}

async fn cancel_generation(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    let user = actor(&state, &who).await?;
    Ok(Json(state.generator.cancel(id, user).await?).into_response())
}

/// `GET /api/v1/generations/status`: whether AI shapes are available, in words, and the designs offered.
async fn generation_status(State(state): State<AppState>) -> ApiResult<Response> {
    let status = state.generator.status();
    Ok(Json(json!({ "shap_e": status, "message": status.explain() })).into_response())
}

/// `GET /api/v1/generations/templates`: every procedural design with its parameters (for sliders).
async fn generation_templates() -> Response {
    Json(genai::engine::catalogue()).into_response()
}

/// `GET /api/v1/generations/{id}/preview.glb`: the latest coarse preview of a running generation.
async fn generation_preview(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    state.generator.get_for(id, actor(&state, &who).await?).await?;
    match state.generator.preview(id) {
        Some(glb) => {
            Ok(([(axum::http::header::CONTENT_TYPE, "model/gltf-binary")], glb.as_ref().clone()).into_response())
        }
        None => Err(ApiError { status: StatusCode::NOT_FOUND, message: "there is no preview yet".into() }),
    }
}

/// `GET /api/v1/generations/{id}/preview.png`: the same coarse preview, drawn.
async fn generation_preview_png(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    state.generator.get_for(id, actor(&state, &who).await?).await?;
    match state.generator.preview_png(id) {
        Some(png) => Ok((
            [(axum::http::header::CONTENT_TYPE, "image/png"), (axum::http::header::CACHE_CONTROL, "no-store")],
            png.as_ref().clone(),
        )
            .into_response()),
        None => Err(ApiError { status: StatusCode::NOT_FOUND, message: "there is no preview yet".into() }),
    }
}

/// `GET /api/v1/generations/{id}/events`: server-sent events with the request's progress, starting with
/// its current state and ending when it is done, failed or cancelled.
async fn generation_events(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let user = actor(&state, &who).await?;
    // Subscribe before reading the state so no change falls between the two.
    let rx = state.generator.subscribe();
    let first = state.generator.get_for(id, user).await?;
    let stream = progress_stream(id, first, rx, state.shutdown.clone());
    Ok(Sse::new(futures::StreamExt::map(stream, |e| {
        Ok::<_, std::convert::Infallible>(Event::default().json_data(e).unwrap_or_default())
    }))
    .keep_alive(KeepAlive::default())
    .into_response())
}

fn progress_stream(
    id: i64,
    first: crate::db::GenerationRecord,
    rx: tokio::sync::broadcast::Receiver<GenerationEvent>,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl futures::Stream<Item = GenerationEvent> {
    let initial = GenerationEvent::of(&first, first.state.as_str(), 0);
    let done = first.state.is_final();
    futures::stream::unfold((Some(initial), rx, done, shutdown), move |(pending, mut rx, done, shutdown)| async move {
        if let Some(e) = pending {
            return Some((e, (None, rx, done, shutdown)));
        }
        if done {
            return None;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                msg = rx.recv() => match msg {
                    Ok(e) if e.id == id => {
                        let finished = e.state.is_final();
                        return Some((e, (None, rx, finished, shutdown)));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
}

impl From<GenerateError> for ApiError {
    fn from(e: GenerateError) -> Self {
        let e = match e {
            GenerateError::Db(db) => return db.into(),
            e => e,
        };
        let status = match &e {
            GenerateError::Request(_) | GenerateError::Blocked(_) => StatusCode::BAD_REQUEST,
            GenerateError::Quota { .. } => StatusCode::TOO_MANY_REQUESTS,
            GenerateError::NotFound(_) => StatusCode::NOT_FOUND,
            GenerateError::Forbidden => StatusCode::FORBIDDEN,
            GenerateError::Engine(genai::engine::EngineError::UnknownTemplate(_)) => StatusCode::BAD_REQUEST,
            GenerateError::Engine(genai::engine::EngineError::ShapEUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            GenerateError::Engine(_) => StatusCode::UNPROCESSABLE_ENTITY,
            GenerateError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self { status, message: e.to_string() }
    }
}

// ---- Jobs and the queue -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct JobQuery {
    /// Comma-separated states.
    state: Option<String>,
    owner: Option<i64>,
    printer: Option<i64>,
    limit: Option<i64>,
}

async fn list_jobs(State(state): State<AppState>, who: Who, Query(q): Query<JobQuery>) -> ApiResult<Response> {
    let mut states = Vec::new();
    for s in q.state.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        states.push(s.trim().parse::<JobState>().map_err(|_| ApiError::bad(format!("unknown job state {s:?}")))?);
    }
    // Makers (and kiosks) list their own jobs; the queue page shows everyone's place in line.
    let owner = match &who {
        Some(c) if !c.may(Role::Teacher) => Some(c.user_id),
        _ => q.owner,
    };
    let filter = JobFilter {
        states,
        owner_id: owner,
        printer_id: q.printer,
        newest_first: true,
        limit: Some(q.limit.unwrap_or(200).clamp(1, 10_000)),
    };
    Ok(Json(state.db.jobs().list(&filter).await?).into_response())
}

async fn submit_job(
    State(state): State<AppState>,
    who: Who,
    body: Result<Json<Submission>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(submission) = body.map_err(ApiError::rejected)?;
    let owner = actor(&state, &who).await?;
    let jobs = dispatch::submit(&state.farm, &submission, owner).await?;
    Ok((StatusCode::CREATED, Json(jobs)).into_response())
}

async fn get_job(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let job = state.db.jobs().get(id).await?;
    let history = state.db.jobs().history(id).await?;
    Ok(Json(json!({ "job": job, "view": job_view(&job), "history": history })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reorder {
    priority: Option<i64>,
    /// Serve this job right before job `before` (same priority is taken over from it).
    before: Option<i64>,
}

/// `PATCH /api/v1/jobs/{id}`: a manager changes priority or moves a job in front of another.
async fn reorder_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<Reorder>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(r) = body.map_err(ApiError::rejected)?;
    let (pos, priority) = match r.before {
        Some(other) => {
            let o = state.db.jobs().get(other).await?;
            let at = o.queue_pos.or_else(|| seconds(&o.created_at)).unwrap_or(0.0);
            (Some(at - 0.001), Some(r.priority.unwrap_or(o.priority)))
        }
        None => (None, r.priority),
    };
    let job = state.db.jobs().get(id).await?;
    dispatch::place_in_queue(&state.farm, id, pos.or(job.queue_pos), priority).await?;
    Ok(Json(state.db.jobs().get(id).await?).into_response())
}

#[derive(Deserialize, Default)]
struct ActionBody {
    reason: Option<String>,
}

/// `POST /api/v1/jobs/{id}/{approve|reject|cancel|pause|resume|retry}`.
async fn job_action(
    State(state): State<AppState>,
    who: Who,
    Path((id, action)): Path<(i64, String)>,
    body: Option<Json<ActionBody>>,
) -> ApiResult<Response> {
    let caller = who.as_ref().map(|c| &c.0).ok_or_else(forbidden)?;
    may_act_on_job(&state, caller, id, &action).await?;
    let who = Some(caller.user_id);
    let reason = body.and_then(|b| b.0.reason);
    let job = dispatch::command(&state.farm, id, &action, who, reason.as_deref()).await?;
    Ok(Json(job).into_response())
}

/// Who may do what to a job: approve, reject, pause or resume — teachers of the owner's class (managers
/// any job); cancel or print again — its owner, their teachers, managers.
pub async fn may_act_on_job(state: &AppState, caller: &Caller, job: i64, action: &str) -> ApiResult<()> {
    if caller.may(Role::Manager) {
        return Ok(());
    }
    let owner = state.db.jobs().get(job).await?.owner_id;
    let own = owner == Some(caller.user_id);
    let teaches = match owner {
        Some(o) if caller.role == Role::Teacher => state.db.accounts().teaches(caller.user_id, o).await?,
        _ => false,
    };
    let allowed = match action {
        "approve" | "reject" | "pause" | "resume" => teaches,
        "cancel" | "retry" => own || teaches,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// `GET /api/v1/queue`: every waiting job in service order with its estimated start and finish.
async fn queue(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(dispatch::forecast(&state.farm).await?.as_slice()).into_response())
}

// ---- Printers ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrinterBody {
    name: String,
    driver: String,
    #[serde(default)]
    connection: Value,
    build_mm: [f64; 3],
    #[serde(default = "default_nozzle")]
    nozzle_mm: f64,
    #[serde(default = "default_firmware")]
    firmware: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    slicer_profile: Option<String>,
    #[serde(default)]
    require_bed_clear: Option<bool>,
}

fn default_nozzle() -> f64 {
    0.4
}

fn default_firmware() -> String {
    "marlin2".into()
}

impl From<crate::secrets::SecretError> for ApiError {
    fn from(e: crate::secrets::SecretError) -> Self {
        use crate::secrets::SecretError;
        match e {
            SecretError::BadField(m) => Self::bad(m),
            SecretError::Db(e) => e.into(),
            e => {
                tracing::error!("printer credentials: {e}");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "the printer's saved key could not be handled; try again".into(),
                }
            }
        }
    }
}

async fn add_printer(
    State(state): State<AppState>,
    body: Result<Json<PrinterBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(p) = body.map_err(ApiError::rejected)?;
    if p.name.trim().is_empty() || p.name.len() > 80 {
        return Err(ApiError::bad("a printer needs a name of 1 to 80 characters"));
    }
    if !["marlin", "octoprint", "moonraker", "simulated"].contains(&p.driver.as_str()) {
        return Err(ApiError::bad("driver must be marlin, octoprint, moonraker or simulated"));
    }
    if p.build_mm.iter().any(|v| !(*v > 0.0 && *v < 5000.0)) {
        return Err(ApiError::bad("the build volume must be three sizes in mm, each above 0"));
    }
    if let Some(profile) = &p.slicer_profile {
        slicer::settings::presets::printer(profile).map_err(|e| ApiError::bad(e.to_string()))?;
    }
    // The API key is sealed in printer_secrets; `connection` keeps only what may be shown.
    let connection = if p.connection.is_null() { json!({}) } else { p.connection };
    let split = crate::secrets::split_connection(&connection)?;
    state.farm.reach().check_printer(&p.driver, &split.public).await.map_err(|e| ApiError::bad(e.to_string()))?;
    let credentials: serde_json::Map<String, Value> = split.given.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let vault = state.farm.vault();
    let address = crate::secrets::credential_address(&split.public);
    let new = NewPrinter {
        name: p.name.trim().to_string(),
        driver: p.driver,
        connection: split.public,
        build_mm: p.build_mm,
        nozzle_mm: p.nozzle_mm,
        firmware: p.firmware,
        tags: p.tags,
    };
    let id = state
        .db
        .printers()
        .insert_with_secret(&new, |id| (!credentials.is_empty()).then(|| vault.seal(id, &address, &credentials)))
        .await?;
    if p.slicer_profile.is_some() || p.require_bed_clear.is_some() {
        let change = PrinterChange {
            slicer_profile: p.slicer_profile,
            require_bed_clear: p.require_bed_clear,
            ..Default::default()
        };
        state.db.printers().update(id, &change).await?;
    }
    state.farm.add_printer(id).await?;
    Ok((StatusCode::CREATED, Json(state.db.printers().get(id).await?)).into_response())
}

#[derive(Deserialize)]
struct DiscoverQuery {
    /// How long to listen for mDNS announcements (0 skips mDNS; at most 10 s).
    mdns_ms: Option<u64>,
    /// Whether to ask USB serial ports on known printer bridges `M115` (default yes).
    probe: Option<bool>,
    /// Comma-separated base URLs to ask directly, for hosts that do not announce themselves.
    host: Option<String>,
}

/// `GET /api/v1/printers/discover`: USB serial printers, OctoPrint/Moonraker/HTTP services announced over
/// mDNS and hosts asked directly, each marked when the farm already has it, ready for one-click adding.
async fn discover(State(state): State<AppState>, Query(q): Query<DiscoverQuery>) -> ApiResult<Response> {
    use printers::discover::{self as d, MdnsScope, ServiceKind};
    let known = state.db.printers().list().await?;
    let known_ports: Vec<String> = known
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(&p.connection).ok())
        .filter_map(|c| {
            c.get("port").or(c.get("url")).and_then(|v| v.as_str()).map(|s| s.trim_end_matches('/').to_string())
        })
        .collect();
    let mut serial = tokio::task::spawn_blocking(d::serial_ports)
        .await
        .map_err(|e| ApiError::bad(e.to_string()))?
        .unwrap_or_default();
    if q.probe.unwrap_or(true) {
        for port in serial.iter_mut().filter(|p| p.bridge.is_some() && !p.in_use && !known_ports.contains(&p.path)) {
            port.probe = d::probe_serial(&port.path, &[115_200, 250_000], std::time::Duration::from_secs(3)).await;
        }
    }
    let window = std::time::Duration::from_millis(q.mdns_ms.unwrap_or(2000).min(10_000));
    let mut network = if window.is_zero() {
        Vec::new()
    } else {
        d::browse_mdns(&[ServiceKind::OctoPrint, ServiceKind::Moonraker, ServiceKind::Http], window, MdnsScope::Lan)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("mDNS browsing failed: {e}");
                Vec::new()
            })
    };
    for host in q.host.iter().flat_map(|h| h.split(',')).map(str::trim).filter(|h| !h.is_empty()) {
        if !(host.starts_with("http://") || host.starts_with("https://")) {
            return Err(ApiError::bad(format!("{host:?} is not an http:// or https:// address")));
        }
        state.farm.reach().check_url(host).await.map_err(|e| ApiError::bad(e.to_string()))?;
        if let Some(found) = d::probe_http(host, std::time::Duration::from_secs(5)).await {
            network.push(found);
        }
    }
    let serial: Vec<Value> = serial
        .into_iter()
        .map(|p| {
            let added = known_ports.contains(&p.path);
            json!({ "candidate": p, "already_added": added })
        })
        .collect();
    let network: Vec<Value> = network
        .into_iter()
        .map(|n| {
            let url = n.url();
            let added = known_ports.contains(&url.trim_end_matches('/').to_string());
            let driver = match n.kind {
                ServiceKind::OctoPrint => Some("octoprint"),
                ServiceKind::Moonraker => Some("moonraker"),
                ServiceKind::Http => None,
            };
            json!({ "candidate": n, "url": url, "driver": driver, "already_added": added })
        })
        .collect();
    Ok(Json(json!({ "serial": serial, "network": network })).into_response())
}

async fn get_printer(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let record = state.db.printers().get(id).await?;
    let live = state.farm.snapshot().into_iter().find(|p| p.id == id);
    Ok(Json(json!({ "printer": record, "status": live })).into_response())
}

async fn change_printer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<PrinterChange>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(mut change) = body.map_err(ApiError::rejected)?;
    if let Some(profile) = &change.slicer_profile {
        slicer::settings::presets::printer(profile).map_err(|e| ApiError::bad(e.to_string()))?;
    }
    if let Some(c) = &change.connection {
        if !c.is_object() {
            return Err(ApiError::bad(
                "connection must be an object such as {\"url\": \"http://…\", \"api_key\": \"…\"}",
            ));
        }
        if state.db.jobs().active_on(id).await?.is_some() {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                message: "the printer is busy with a job; change its connection when it is free".into(),
            });
        }
    }
    // A key sent is sealed (null removes it); one with nothing but a key keeps the stored address. A
    // connection sent without a key keeps the stored key at the same address and drops it at a new one:
    // a key goes only where it was typed in for (`secrets`).
    let reconnect = change.connection.is_some();
    let mut secret = crate::db::SecretChange::Keep;
    if let Some(c) = change.connection.take() {
        let split = crate::secrets::split_connection(&c)?;
        let key_only = split.public.as_object().is_some_and(|o| o.is_empty()) && !split.given.is_empty();
        let record = state.db.printers().get(id).await?;
        let new_connection = if key_only {
            serde_json::from_str(&record.connection).unwrap_or_else(|_| json!({}))
        } else {
            split.public.clone()
        };
        state
            .farm
            .reach()
            .check_printer(&record.driver, &new_connection)
            .await
            .map_err(|e| ApiError::bad(e.to_string()))?;
        secret =
            crate::secrets::change_for(&state.db, state.farm.vault(), &record, &new_connection, &split.given).await?;
        if !key_only {
            change.connection = Some(split.public);
        }
    }
    let record = state.db.printers().update_with_secret(id, &change, secret).await?;
    if reconnect {
        state.farm.reconnect_printer(id).await?;
    } else {
        state.farm.refresh_printer(id).await?;
    }
    Ok(Json(record).into_response())
}

async fn delete_printer(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    if let Some(job) = state.db.jobs().active_on(id).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("the printer is busy with job {}; cancel it first", job.id),
        });
    }
    state.db.printers().delete(id).await?;
    state.farm.remove_printer(id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/printers/{id}/bed-clear`: a person confirms the bed is empty.
async fn bed_clear(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    // Refuses unknown users; the audit layer records who it was.
    actor(&state, &who).await?;
    state.db.printers().set_bed_clear(id, true).await?;
    state.farm.refresh_printer(id).await?;
    Ok(Json(state.db.printers().get(id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadSpool {
    spool_id: Option<i64>,
}

async fn load_spool(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<LoadSpool>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(b) = body.map_err(ApiError::rejected)?;
    if let Some(spool) = b.spool_id {
        state.db.materials().spool(spool).await?;
    }
    state.db.printers().load_spool(id, b.spool_id).await?;
    state.farm.refresh_printer(id).await?;
    Ok(Json(state.db.printers().get(id).await?).into_response())
}

// ---- Materials and spools ---------------------------------------------------------------------------

async fn materials(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.db.materials().materials().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterialBody {
    name: String,
    kind: String,
    #[serde(default)]
    density_g_cm3: Option<f64>,
    #[serde(default)]
    cost_per_kg: Option<f64>,
}

async fn add_material(
    State(state): State<AppState>,
    body: Result<Json<MaterialBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(m) = body.map_err(ApiError::rejected)?;
    let kind = m.kind.trim().to_ascii_uppercase();
    if !["PLA", "PETG", "ABS", "ASA", "TPU", "PA", "PC", "OTHER"].contains(&kind.as_str()) {
        return Err(ApiError::bad("kind must be PLA, PETG, ABS, ASA, TPU, PA, PC or OTHER"));
    }
    let density = m.density_g_cm3.unwrap_or(match kind.as_str() {
        "PETG" => 1.27,
        "ABS" | "ASA" => 1.05,
        "TPU" => 1.21,
        _ => 1.24,
    });
    let id = state.db.materials().add_material(m.name.trim(), &kind, density, m.cost_per_kg).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn spools(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.db.materials().spools().await?).into_response())
}

async fn add_spool(
    State(state): State<AppState>,
    body: Result<Json<NewSpool>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(s) = body.map_err(ApiError::rejected)?;
    if s.colour_name.trim().is_empty()
        || s.initial_g.is_nan()
        || s.initial_g <= 0.0
        || s.remaining_g.is_some_and(|r| r < 0.0)
    {
        return Err(ApiError::bad("a spool needs a colour and a weight above 0 g"));
    }
    let id = state.db.materials().add_spool(&s).await?;
    Ok((StatusCode::CREATED, Json(state.db.materials().spool(id).await?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Weigh {
    remaining_g: f64,
}

async fn weigh_spool(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<Weigh>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(w) = body.map_err(ApiError::rejected)?;
    if !w.remaining_g.is_finite() || w.remaining_g < 0.0 {
        return Err(ApiError::bad("remaining_g must be 0 or more"));
    }
    state.db.materials().set_remaining(id, w.remaining_g).await?;
    let spool = state.db.materials().spool(id).await?;
    if let Some(p) = spool.printer_id {
        state.farm.refresh_printer(p).await?;
    }
    Ok(Json(spool).into_response())
}

// ---- Statistics, maintenance, notifications ---------------------------------------------------------

async fn printer_stats(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.db.farm().printer_stats().await?).into_response())
}

/// Whose statistics and notifications a caller sees: a teacher their classes' ([`Classes`]), managers
/// and admins (and a teacher in no class, who looks after everyone) everybody's (`None`).
async fn classes(state: &AppState, who: &Who) -> ApiResult<Option<Classes>> {
    match who {
        Some(c) if !c.may(Role::Manager) => Ok(state.db.accounts().classes_of(c.user_id).await?),
        _ => Ok(None),
    }
}

async fn user_stats(State(state): State<AppState>, who: Who) -> ApiResult<Response> {
    let mut rows = state.db.farm().user_stats().await?;
    if let Some(classes) = classes(&state, &who).await? {
        rows.retain(|r| classes.members.contains(&r.id));
    }
    Ok(Json(rows).into_response())
}

async fn group_stats(State(state): State<AppState>, who: Who) -> ApiResult<Response> {
    let mut rows = state.db.farm().group_stats().await?;
    if let Some(classes) = classes(&state, &who).await? {
        rows.retain(|r| classes.groups.contains(&r.id));
    }
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    /// E.g. "Class 7B".
    name: String,
    /// Usernames to add (the group is created when it does not exist yet).
    members: Vec<String>,
}

/// `POST /api/v1/groups`: puts users in a group (a class), whose statistics a teacher can follow.
async fn add_group(
    State(state): State<AppState>,
    body: Result<Json<GroupBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(g) = body.map_err(ApiError::rejected)?;
    let name = g.name.trim();
    if name.is_empty() || name.len() > 80 {
        return Err(ApiError::bad("a group needs a name of 1 to 80 characters"));
    }
    let mut ids = Vec::new();
    for member in &g.members {
        match state.db.users().by_username(member.trim()).await? {
            Some(u) => ids.push(u.id),
            None => return Err(ApiError::bad(format!("there is no user {member:?}"))),
        }
    }
    let id = state.db.farm().add_to_group(name, &ids).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "members": ids.len() }))).into_response())
}

#[derive(Deserialize)]
struct HoursQuery {
    hours: Option<f64>,
}

async fn utilisation(State(state): State<AppState>, Query(q): Query<HoursQuery>) -> ApiResult<Response> {
    let hours = q.hours.unwrap_or(24.0 * 7.0).clamp(1.0, 24.0 * 366.0);
    let rows = state.db.farm().utilisation(hours).await?;
    let list: Vec<Value> = rows.into_iter().map(|(id, u)| json!({ "printer_id": id, "utilisation": u })).collect();
    Ok(Json(json!({ "hours": hours, "printers": list })).into_response())
}

#[derive(Deserialize)]
struct MaintenanceQuery {
    printer: Option<i64>,
}

async fn maintenance(State(state): State<AppState>, Query(q): Query<MaintenanceQuery>) -> ApiResult<Response> {
    let tasks = state.db.farm().maintenance(q.printer).await?;
    let mut out = Vec::new();
    for t in tasks {
        let hours = state.db.farm().print_hours(t.printer_id).await?;
        let since = hours - t.done_at_hours;
        out.push(json!({ "task": t, "hours_since": since, "due": since >= t.every_hours }));
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    name: String,
    every_hours: f64,
}

async fn add_maintenance(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<MaintenanceBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(m) = body.map_err(ApiError::rejected)?;
    if m.name.trim().is_empty() || m.every_hours.is_nan() || m.every_hours <= 0.0 {
        return Err(ApiError::bad("a maintenance task needs a name and an interval above 0 hours"));
    }
    state.db.printers().get(id).await?;
    let task = state.db.farm().add_maintenance(id, m.name.trim(), m.every_hours).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": task }))).into_response())
}

async fn maintenance_done(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    state.db.farm().maintenance_done(id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct NotificationQuery {
    user: Option<i64>,
    limit: Option<i64>,
}

async fn notifications(
    State(state): State<AppState>,
    who: Who,
    Query(q): Query<NotificationQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = match classes(&state, &who).await? {
        // A teacher: their classes' people only (the farm's own are the managers').
        Some(classes) => {
            let users: Vec<i64> =
                classes.members.into_iter().filter(|u| q.user.is_none_or(|wanted| wanted == *u)).collect();
            state.db.farm().notifications_of(&users, limit).await?
        }
        None => state.db.farm().notifications(q.user, limit).await?,
    };
    Ok(Json(list).into_response())
}

async fn notification_read(State(state): State<AppState>, who: Who, Path(id): Path<i64>) -> ApiResult<Response> {
    if let Some(classes) = classes(&state, &who).await? {
        // Someone else's is "not found", as it is missing from the teacher's list.
        let user = state.db.farm().notification_user(id).await?;
        if !user.is_some_and(|u| classes.members.contains(&u)) {
            return Err(DbError::NotFound { kind: "notification", id }.into());
        }
    }
    state.db.farm().mark_read(id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- Farm settings and windows ----------------------------------------------------------------------

async fn settings(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(Value::Object(state.db.farm().settings().await?)).into_response())
}

/// `PUT /api/v1/farm/settings` with an object of the keys to change: `max_heating` (printers heating
/// at once), `webhook_url`, `approval_roles`, `changeover_min`, `long_job_hours`.
async fn change_settings(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Map<String, Value>>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(map) = body.map_err(ApiError::rejected)?;
    for (key, value) in &map {
        let ok = match key.as_str() {
            "max_heating" => value.is_null() || value.as_u64().is_some_and(|n| n >= 1),
            "webhook_url" => {
                value.is_null()
                    || value
                        .as_str()
                        .is_some_and(|u| u.is_empty() || u.starts_with("http://") || u.starts_with("https://"))
            }
            "approval_roles" => value
                .as_array()
                .is_some_and(|a| a.iter().all(|r| r.as_str().is_some_and(|r| r.parse::<Role>().is_ok()))),
            "changeover_min" | "long_job_hours" => value.is_null() || value.as_f64().is_some_and(|v| v >= 0.0),
            "approve_ai_output" | "shap_e_on_cpu" => value.is_boolean(),
            "generation_blocklist" => value
                .as_array()
                .is_some_and(|a| a.len() <= 1000 && a.iter().all(|w| w.as_str().is_some_and(|w| w.len() <= 100))),
            "generation_quota_per_hour" | "job_quota" | "filament_quota_g_per_week" => {
                value.as_object().is_some_and(|m| {
                    m.iter().all(|(role, n)| role.parse::<Role>().is_ok() && (n.is_null() || n.as_u64().is_some()))
                })
            }
            // Per person: unfinished jobs at once, generations per hour (null: no limit, whatever the role's).
            "job_quota_users" | "generation_quota_users" => value
                .as_object()
                .is_some_and(|m| m.len() <= 10_000 && m.values().all(|n| n.is_null() || n.as_u64().is_some())),
            // Per person: grams of filament in seven days.
            "filament_quota_users" => value
                .as_object()
                .is_some_and(|m| m.values().all(|n| n.is_null() || n.as_f64().is_some_and(|g| g >= 0.0))),
            "kiosk_idle_s" => value.as_u64().is_some_and(|s| (10..=3600).contains(&s)),
            _ => return Err(ApiError::bad(format!("unknown setting {key:?}"))),
        };
        if !ok {
            return Err(ApiError::bad(format!("{key} cannot be {value}")));
        }
    }
    // The webhook is posted to by the box, so it may only point where a printer could be.
    if let Some(url) = map.get("webhook_url").and_then(Value::as_str).filter(|u| !u.trim().is_empty()) {
        state.farm.reach().check_url(url).await.map_err(|e| ApiError::bad(format!("webhook_url: {e}")))?;
    }
    for (key, value) in &map {
        state.db.farm().set_setting(key, value).await?;
    }
    state.farm.wake();
    if map.contains_key("shap_e_on_cpu") {
        state.generator.reload_engine();
    }
    Ok(Json(Value::Object(state.db.farm().settings().await?)).into_response())
}

async fn list_windows(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.db.farm().windows().await?).into_response())
}

async fn add_window(
    State(state): State<AppState>,
    body: Result<Json<FarmWindow>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(w) = body.map_err(ApiError::rejected)?;
    if !["quiet", "overnight", "maintenance"].contains(&w.kind.as_str()) {
        return Err(ApiError::bad("kind must be quiet, overnight or maintenance"));
    }
    windows::parse_cron(&w.cron).map_err(ApiError::bad)?;
    if !(1..=7 * 24 * 60).contains(&w.duration_min) {
        return Err(ApiError::bad("duration_min must be between 1 minute and a week"));
    }
    let id = state.db.farm().add_window(&w).await?;
    state.farm.windows().reload(&state.farm).await.map_err(ApiError::bad)?;
    state.farm.wake();
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn delete_window(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    state.db.farm().delete_window(id).await?;
    state.farm.windows().reload(&state.farm).await.map_err(ApiError::bad)?;
    state.farm.wake();
    Ok(StatusCode::NO_CONTENT.into_response())
}
