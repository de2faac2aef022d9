//! The dispatcher: submissions and approvals, slicing queued jobs, one scheduling round whenever
//! something changes (a printer frees up, a job arrives, a window opens, or every few seconds), and
//! each print run to its end. Also the queue forecast, and recovery after a restart.
//!
//! Every state change goes through the job repository, in one transaction with its transition row,
//! before anything is sent to a printer that depends on it; so after `kill -9` the database says what
//! may have happened, and [`recover`] settles it without starting anything twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::wire::FarmEvent;
use chrono::{DateTime, Utc};
use printers::{PrinterState, PrinterStatus};
use scheduler::{Assignment, Estimate, Policy, Windows};
use slicer::{Plate, SliceControl};
use tokio_util::sync::CancellationToken;

use super::connections::host_streamed;
use super::{profiles, Farm, Live};
use crate::db::{DbError, JobFilter, JobRecord, JobState, NewJob, NewNotification, PrintOutcome, PrinterRecord, Role};

/// How often the dispatcher looks at the queue when nothing wakes it.
const TICK: Duration = Duration::from_secs(2);
/// A printer that failed to start a job is left alone this long.
const COOLDOWN: Duration = Duration::from_secs(30);
/// A started print must show up as busy on the printer within this time.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// After a cancel the printer gets this long to confirm before the job is recorded as cancelled anyway.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a start counts as heating without a temperature report saying it is done.
const HEATING_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Grams left on a spool below which the farm warns.
const LOW_FILAMENT_G: f64 = 50.0;
/// Roles whose jobs wait for a teacher by default (the `approval_roles` setting overrides it).
const DEFAULT_APPROVAL_ROLES: &[&str] = &["kiosk", "maker"];

/// Runs until shutdown: each wake-up slices what is queued and assigns what is ready.
pub async fn run(farm: Farm) {
    let shutdown = farm.shutdown_token().clone();
    loop {
        if let Err(e) = step(&farm).await {
            tracing::warn!("dispatcher: {e}");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = farm.woken() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn step(farm: &Farm) -> Result<(), DbError> {
    start_slicing(farm).await?;
    assign_ready(farm).await
}

// ---- Submission and approval ---------------------------------------------------------------------

/// What a person asks the farm to print.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub model_version_id: i64,
    /// Further model versions to print on the same plate (arranged together).
    #[serde(default)]
    pub plate: Vec<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub material_kind: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
    /// `draft`, `standard`, `fine` or `detail`.
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub copies: Option<i64>,
    /// A printer tag, e.g. `room 2`.
    #[serde(default)]
    pub printer_group: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    /// RFC 3339.
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub nozzle_mm: Option<f64>,
    #[serde(default)]
    pub max_attempts: Option<i64>,
}

/// Why a submission or a command on a job was refused; the message is for people.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Invalid(String),
    /// A quota is used up: what the limit is and what to do.
    #[error("{0}")]
    Quota(String),
    #[error("{0}")]
    Conflict(String),
    /// The submitter's role may not ask for this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Unfinished jobs a role may have at once unless the `job_quota` setting says otherwise (`{"maker": 20}`;
/// a role missing from the setting has no limit). Teachers and above have none by default.
pub fn default_job_quota(role: Role) -> Option<i64> {
    match role {
        Role::Kiosk | Role::Maker => Some(20),
        Role::Teacher | Role::Manager | Role::Admin => None,
    }
}

/// Refuses a submission that would go over the person's quotas: unfinished jobs at once (`job_quota`, per
/// role) and grams of filament in seven days (`filament_quota_g_per_week`, per role; `filament_quota_users`
/// per user name, which wins).
async fn check_quotas(farm: &Farm, (user, role): (i64, Role), copies: i64) -> Result<(), JobError> {
    let db = farm.db();
    let settings = db.farm().settings().await.unwrap_or_default();
    let per_role = |key: &str| {
        settings.get(key).and_then(|v| v.as_object()).map(|m| m.get(role.as_str()).and_then(|v| v.as_i64()))
    };
    let username = db.accounts().by_id(user).await.map(|u| u.username).unwrap_or_default();
    // A person's own limit wins over their role's, both ways (a teacher may give one student more).
    let personal = |key: &str| settings.get(key).and_then(|v| v.get(&username));
    let job_limit = match personal("job_quota_users") {
        Some(v) => v.as_i64().map(|n| (n, "you")),
        None => per_role("job_quota").unwrap_or_else(|| default_job_quota(role)).map(|n| (n, role.as_str())),
    };
    if let Some((limit, whose)) = job_limit {
        let open = db.jobs().unfinished_of(user).await?;
        if open + copies > limit {
            let who = if whose == "you" { "you".to_string() } else { format!("a {whose}") };
            return Err(JobError::Quota(format!(
                "You have {open} prints waiting or printing, and {who} may have {limit} at once. \
                 Wait until some are printed, or ask a teacher."
            )));
        }
    }
    let grams_limit = personal("filament_quota_users")
        .and_then(|v| v.as_f64())
        .or_else(|| per_role("filament_quota_g_per_week").flatten().map(|g| g as f64));
    if let Some(limit) = grams_limit {
        let used = db.jobs().grams_this_week(user).await?;
        if used >= limit {
            return Err(JobError::Quota(format!(
                "You have used {used:.0} g of filament this week; your limit is {limit:.0} g. \
                 It frees up as the week goes on, or ask a teacher."
            )));
        }
    }
    Ok(())
}

/// A job's priority and how often it is retried weigh against everyone else's jobs, so staff set them
/// (a teacher marks a class's job urgent, the manager reorders with `PATCH /api/v1/jobs/{id}`): a
/// maker's or kiosk's submission takes the defaults.
fn check_manager_fields(s: &Submission, role: Role) -> Result<(), JobError> {
    let asks = s.priority.is_some_and(|p| p != 0) || s.max_attempts.is_some_and(|m| m != 0);
    if asks && role < Role::Teacher {
        return Err(JobError::Forbidden(
            "Only a teacher or the farm manager sets a job's priority and how many times it is tried. \
             Send it without them."
                .into(),
        ));
    }
    Ok(())
}

/// Records a submission: one job per copy, then queued, or awaiting approval when the submitter's role
/// needs a teacher's yes.
pub async fn submit(farm: &Farm, s: &Submission, owner: Option<(i64, Role)>) -> Result<Vec<JobRecord>, JobError> {
    let db = farm.db();
    let version = db.models().version(s.model_version_id).await.map_err(|e| match e {
        DbError::NotFound { .. } => JobError::Invalid(format!("there is no model version {}", s.model_version_id)),
        e => e.into(),
    })?;
    if s.plate.len() > MAX_PLATE {
        return Err(JobError::Invalid(format!("a plate holds at most {MAX_PLATE} models")));
    }
    let mut plate = Vec::with_capacity(s.plate.len());
    for id in &s.plate {
        plate.push(db.models().version(*id).await.map_err(|e| match e {
            DbError::NotFound { .. } => JobError::Invalid(format!("there is no model version {id}")),
            e => e.into(),
        })?);
    }
    let single = [version.size_x_mm.unwrap_or(0.0), version.size_y_mm.unwrap_or(0.0), version.size_z_mm.unwrap_or(0.0)];
    let size_mm = if plate.is_empty() {
        single
    } else {
        let sizes: Vec<[f64; 3]> = std::iter::once(single)
            .chain(
                plate
                    .iter()
                    .map(|v| [v.size_x_mm.unwrap_or(0.0), v.size_y_mm.unwrap_or(0.0), v.size_z_mm.unwrap_or(0.0)]),
            )
            .collect();
        plate_size(&sizes, largest_bed(farm))
    };
    let copies = s.copies.unwrap_or(1);
    if !(1..=100).contains(&copies) {
        return Err(JobError::Invalid("copies must be between 1 and 100".into()));
    }
    if let Some(d) = &s.deadline {
        DateTime::parse_from_rfc3339(d)
            .map_err(|_| JobError::Invalid(format!("the deadline {d:?} is not a date like 2026-12-01T15:00:00Z")))?;
    }
    if s.nozzle_mm.is_some_and(|n| !(n > 0.0 && n < 5.0)) {
        return Err(JobError::Invalid("the nozzle must be between 0 and 5 mm".into()));
    }
    if let Some(owner) = owner {
        check_manager_fields(s, owner.1)?;
        check_quotas(farm, owner, copies).await?;
    }
    let quality = s.quality.clone().unwrap_or_else(|| "standard".into());
    if !["draft", "standard", "normal", "fine", "detail", "0.28-draft", "0.20-standard", "0.15-fine", "0.10-detail"]
        .contains(&quality.to_ascii_lowercase().as_str())
    {
        return Err(JobError::Invalid(format!("quality {quality:?} is not one of draft, standard, fine or detail")));
    }
    let job = NewJob {
        model_version_id: Some(version.id),
        owner_id: owner.map(|o| o.0),
        name: s.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| version.name.clone()),
        material_kind: s.material_kind.clone().map(|m| m.trim().to_ascii_uppercase()).filter(|m| !m.is_empty()),
        colour: s.colour.clone().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()),
        quality,
        copies,
        printer_group: s.printer_group.clone().filter(|g| !g.trim().is_empty()),
        priority: s.priority.unwrap_or(0).clamp(-100, 100),
        deadline: s.deadline.clone(),
        nozzle_mm: s.nozzle_mm,
        size_mm,
        max_attempts: s.max_attempts.unwrap_or(0).clamp(0, 10),
        plate: s.plate.clone(),
        presliced: None,
    };
    let ids = db.jobs().submit(&job, Some("submitted")).await?;
    let ai_output = db.models().generated_by(version.id).await?.as_deref() == Some("shap-e");
    enter_queue(farm, ids, owner, ai_output).await
}

/// G-code a slicer sent, ready to print on printers like the one it was made for.
#[derive(Debug, Clone)]
pub struct PreslicedSubmission {
    pub name: String,
    pub gcode: crate::db::Presliced,
    /// The material its comments name (`PLA`), which the loaded spool must be.
    pub material_kind: Option<String>,
    /// The nozzle it was sliced for.
    pub nozzle_mm: Option<f64>,
    /// The bed it was sliced for, or else how far its moves reach (x, y, z), mm.
    pub size_mm: [f64; 3],
}

/// Records uploaded G-code as one job that is printed as it is (never sliced), under the same quotas
/// and approval rules as any submission.
pub async fn submit_presliced(
    farm: &Farm,
    s: PreslicedSubmission,
    owner: Option<(i64, Role)>,
) -> Result<Vec<JobRecord>, JobError> {
    if let Some(owner) = owner {
        check_quotas(farm, owner, 1).await?;
    }
    let job = NewJob {
        model_version_id: None,
        owner_id: owner.map(|o| o.0),
        name: s.name,
        material_kind: s.material_kind.map(|m| m.trim().to_ascii_uppercase()).filter(|m| !m.is_empty()),
        quality: "standard".into(),
        copies: 1,
        nozzle_mm: s.nozzle_mm,
        size_mm: s.size_mm,
        presliced: Some(s.gcode),
        ..NewJob::default()
    };
    let ids = farm.db().jobs().submit(&job, Some("sent as G-code from a slicer")).await?;
    enter_queue(farm, ids, owner, false).await
}

/// Moves freshly submitted jobs on: queued, or awaiting approval when the submitter's role (or AI-made
/// content) needs a teacher's yes.
async fn enter_queue(
    farm: &Farm,
    ids: Vec<i64>,
    owner: Option<(i64, Role)>,
    ai_output: bool,
) -> Result<Vec<JobRecord>, JobError> {
    let db = farm.db();
    let by_role = match owner {
        Some((_, role)) => approval_roles(farm).await.iter().any(|r| r == role.as_str()),
        None => false,
    };
    // AI output is checked by a teacher before it is printed (the `approve_ai_output` setting, on by
    // default), unless a teacher, manager or admin sent it.
    let trusted = matches!(owner, Some((_, Role::Teacher | Role::Manager | Role::Admin)));
    let by_ai = ai_output && !trusted && {
        let settings = db.farm().settings().await.unwrap_or_default();
        settings.get("approve_ai_output").and_then(|v| v.as_bool()).unwrap_or(true)
    };
    let needs_approval = by_role || by_ai;
    let why = if by_ai { "AI-made models need a teacher's approval" } else { "needs a teacher's approval" };
    let mut out = Vec::new();
    for id in ids {
        if needs_approval {
            db.jobs().transition(id, JobState::AwaitingApproval, owner.map(|o| o.0), Some(why)).await?;
        } else {
            db.jobs().transition(id, JobState::Queued, owner.map(|o| o.0), Some("queued")).await?;
        }
        let record = db.jobs().get(id).await?;
        farm.publish_job(&record);
        out.push(record);
    }
    farm.broadcast(FarmEvent::Queue);
    farm.wake();
    Ok(out)
}

/// The most models one plate may hold.
const MAX_PLATE: usize = 50;
/// Space left between parts on a plate, mm (as the slicer's arrange does).
const PLATE_SPACING_MM: f32 = 6.0;

/// The largest bed in the farm (x, y), where a plate's parts are packed to size it; a common bed when
/// the farm has no printers yet.
fn largest_bed(farm: &Farm) -> [f32; 2] {
    farm.all_live()
        .iter()
        .map(|l| [l.record.build_x_mm as f32, l.record.build_y_mm as f32])
        .max_by(|a, b| (a[0] * a[1]).total_cmp(&(b[0] * b[1])))
        .unwrap_or([250.0, 210.0])
}

/// The footprint and height of several parts packed together on `bed`, as the slicer will arrange them.
/// Parts that do not fit even there make the plate as big as all of them side by side, so no printer
/// is thought to fit it.
pub fn plate_size(sizes: &[[f64; 3]], bed: [f32; 2]) -> [f64; 3] {
    let footprints: Vec<[f32; 2]> = sizes.iter().map(|s| [s[0] as f32, s[1] as f32]).collect();
    let spots = mesh::ops::arrange::arrange_footprints(&footprints, bed, PLATE_SPACING_MM);
    let z = sizes.iter().map(|s| s[2]).fold(0.0, f64::max);
    if spots.iter().any(Option::is_none) {
        let x = sizes.iter().map(|s| s[0] + PLATE_SPACING_MM as f64).sum::<f64>();
        let y = sizes.iter().map(|s| s[1]).fold(0.0, f64::max);
        return [x, y, z];
    }
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for (spot, size) in spots.iter().flatten().zip(&footprints) {
        for i in 0..2 {
            lo[i] = lo[i].min(spot[i]);
            hi[i] = hi[i].max(spot[i] + size[i]);
        }
    }
    [(hi[0] - lo[0]) as f64, (hi[1] - lo[1]) as f64, z]
}

async fn approval_roles(farm: &Farm) -> Vec<String> {
    let settings = farm.db().farm().settings().await.unwrap_or_default();
    match settings.get("approval_roles").and_then(|v| v.as_array()) {
        Some(list) => list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        None => DEFAULT_APPROVAL_ROLES.iter().map(|s| s.to_string()).collect(),
    }
}

/// Moves a job by a person's decision (approve, reject, cancel, pause, resume), recording who and why.
pub async fn command(
    farm: &Farm,
    job_id: i64,
    action: &str,
    actor: Option<i64>,
    reason: Option<&str>,
) -> Result<JobRecord, JobError> {
    let db = farm.db();
    let job = db.jobs().get(job_id).await?;
    let refuse = |what: &str| JobError::Conflict(format!("job {job_id} is {} and cannot be {what}", job.state));
    match action {
        "approve" => {
            if job.state != JobState::AwaitingApproval {
                return Err(refuse("approved"));
            }
            db.jobs().transition(job_id, JobState::Queued, actor, Some(reason.unwrap_or("approved"))).await?;
        }
        "reject" => {
            if job.state != JobState::AwaitingApproval {
                return Err(refuse("rejected"));
            }
            db.jobs().transition(job_id, JobState::Cancelled, actor, Some(reason.unwrap_or("rejected"))).await?;
        }
        "cancel" => {
            if job.state.is_terminal() {
                return Err(refuse("cancelled"));
            }
            // A print in progress is stopped by its print task, which records the end; anything else
            // is cancelled here.
            if !farm.cancel_running(job_id) {
                db.jobs().transition(job_id, JobState::Cancelled, actor, Some(reason.unwrap_or("cancelled"))).await?;
            }
        }
        "pause" | "resume" => {
            let want = if action == "pause" { JobState::Printing } else { JobState::Paused };
            if job.state != want {
                return Err(refuse(if action == "pause" { "paused" } else { "resumed" }));
            }
            let live = job.printer_id.and_then(|p| farm.live(p)).and_then(|l| l.driver);
            let driver = live.ok_or_else(|| JobError::Conflict("the printer is not connected".into()))?;
            let r = if action == "pause" { driver.pause().await } else { driver.resume().await };
            r.map_err(|e| JobError::Conflict(format!("the printer said: {e}")))?;
            // The print task records paused/printing when the printer reports it.
        }
        "retry" => {
            if job.state != JobState::Failed {
                return Err(refuse("tried again"));
            }
            db.jobs()
                .transition(job_id, JobState::Queued, actor, Some(reason.unwrap_or("tried again by hand")))
                .await?;
        }
        other => return Err(JobError::Invalid(format!("unknown action {other:?}"))),
    }
    let record = db.jobs().get(job_id).await?;
    farm.publish_job(&record);
    farm.broadcast(FarmEvent::Queue);
    farm.wake();
    Ok(record)
}

// ---- Slicing -------------------------------------------------------------------------------------

/// Starts slicing queued jobs, for a printer that could print them (re-sliced later if the printer
/// that gets the job prints with another profile).
async fn start_slicing(farm: &Farm) -> Result<(), DbError> {
    let db = farm.db();
    let queued =
        db.jobs().list(&JobFilter { states: vec![JobState::Queued], limit: Some(50), ..Default::default() }).await?;
    if queued.is_empty() {
        return Ok(());
    }
    let printers = farm.all_live();
    let spools = spools_by_id(farm).await?;
    for job in queued {
        if farm.inner.slicing.lock().expect("slicing lock").contains(&job.id) {
            continue;
        }
        if job.presliced {
            // Sliced already by the sender's slicer: straight to the scheduler, which finds it a printer
            // like the one it was made for.
            db.jobs().transition(job.id, JobState::Ready, None, Some("sliced already by the sender's slicer")).await?;
            farm.publish_job(&db.jobs().get(job.id).await?);
            continue;
        }
        let probe = scheduler_job(&job);
        let mut best: Option<(&Live, Result<(), scheduler::Mismatch>)> = None;
        for live in &printers {
            let p = scheduler_printer(&live.record, &live.status.borrow(), &spools, true);
            let fit = scheduler::fits(&p, &probe);
            let better = match &best {
                None => true,
                Some((_, Err(_))) => fit.is_ok(),
                Some((_, Ok(()))) => false,
            };
            if better {
                best = Some((live, fit));
            }
        }
        let target = match best {
            Some((live, Ok(()))) => live.record.clone(),
            Some((_, Err(why))) => {
                let msg = format!("No printer in the farm can print this yet: {}.", why.explain(&probe));
                if job.error.as_deref() != Some(msg.as_str()) {
                    db.jobs().set_error(job.id, &msg).await?;
                    farm.publish_job(&db.jobs().get(job.id).await?);
                }
                continue;
            }
            None => continue,
        };
        db.jobs().transition(job.id, JobState::Slicing, None, Some(&format!("slicing for {}", target.name))).await?;
        farm.inner.slicing.lock().expect("slicing lock").insert(job.id);
        farm.publish_job(&db.jobs().get(job.id).await?);
        let f = farm.clone();
        farm.spawn(async move {
            let id = job.id;
            let result = slice_job(&f, &job, &target).await;
            f.inner.slicing.lock().expect("slicing lock").remove(&id);
            match result {
                Ok(()) => {}
                // Cancelled while it was being sliced: nothing more to say.
                Err(_) if f.db().jobs().get(id).await.is_ok_and(|j| j.state != JobState::Slicing) => {}
                Err(why) => {
                    tracing::warn!(job = id, "slicing failed: {why}");
                    let _ = f.db().jobs().set_error(id, &why).await;
                    if f.db().jobs().transition(id, JobState::Failed, None, Some(&why)).await.is_ok() {
                        let owner = f.db().jobs().get(id).await.ok().and_then(|j| j.owner_id);
                        f.notifier()
                            .send(
                                &f,
                                NewNotification {
                                    kind: "job_failed",
                                    severity: "error",
                                    message: format!("Job {id} could not be sliced: {why}"),
                                    job_id: Some(id),
                                    user_id: owner,
                                    ..Default::default()
                                },
                            )
                            .await;
                    }
                }
            }
            if let Ok(j) = f.db().jobs().get(id).await {
                f.publish_job(&j);
            }
            f.broadcast(FarmEvent::Queue);
            f.wake();
        });
    }
    Ok(())
}

/// Slices a job for a printer and stores the G-code; the job must be `slicing` (→ `ready`) or
/// `assigned` (stays).
async fn slice_job(farm: &Farm, job: &JobRecord, printer: &PrinterRecord) -> Result<(), String> {
    let Some(model_version_id) = job.model_version_id.filter(|_| !job.presliced) else {
        return Err("this job was sent as G-code and is printed as it is; it has no model to slice".into());
    };
    let (profile, key) = profiles::for_job(printer, job)?;
    let db = farm.db();
    let mut parts = Vec::new();
    for id in std::iter::once(model_version_id).chain(job.plate.iter().copied()) {
        let version = db.models().version(id).await.map_err(|e| e.to_string())?;
        parts.push((version.name.clone(), farm.data_dir().join(&version.file_path)));
    }
    let gcode_rel = format!("gcode/job-{}.gcode", job.id);
    let gcode_path = farm.data_dir().join(&gcode_rel);
    let _permit = farm.inner.slicer.acquire().await.map_err(|e| e.to_string())?;
    // Copies of one submission print the same G-code: slice once per profile, link the rest.
    if let Some(batch) = job.batch_id {
        let sibling = db.jobs().sliced_sibling(batch, job.id, &key).await.map_err(|e| e.to_string())?;
        if let Some((path, estimate_s, filament_g)) = sibling {
            let source = farm.data_dir().join(&path);
            let _ = tokio::fs::remove_file(&gcode_path).await;
            let linked = tokio::fs::hard_link(&source, &gcode_path).await.is_ok()
                || tokio::fs::copy(&source, &gcode_path).await.is_ok();
            if linked {
                return db
                    .jobs()
                    .sliced(job.id, &gcode_rel, estimate_s, filament_g, &key)
                    .await
                    .map_err(|e| e.to_string());
            }
        }
    }
    let single = parts.len() == 1;
    let job_name = job.name.clone();
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = cancel.clone();
    let shutdown = farm.shutdown_token().clone();
    let watcher = tokio::spawn(async move {
        shutdown.cancelled().await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let sliced_at = Instant::now();
    let turn = crate::library::parse_permit().await;
    let summary = tokio::task::spawn_blocking(move || -> Result<slicer::SliceSummary, String> {
        let mut models = Vec::with_capacity(parts.len());
        for (name, path) in parts {
            let model = mesh::io::read_file(&path, &crate::library::model_limits())
                .map_err(|e| format!("the model file of {name:?} cannot be read: {e}"))?;
            // One model: the job's name labels it; the slicer makes labels unique on a plate.
            models.push((if single { job_name.clone() } else { name }, model));
        }
        let plate = Plate::arranged(models, &profile.printer.bed);
        let control = SliceControl { cancel, ..SliceControl::default() };
        let out = slicer::slice(&plate, &profile, &control).map_err(|e| e.to_string())?;
        if let Some(dir) = gcode_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let tmp = gcode_path.with_extension("gcode.part");
        std::fs::write(&tmp, &out.gcode).map_err(|e| format!("cannot write the G-code: {e}"))?;
        std::fs::rename(&tmp, &gcode_path).map_err(|e| format!("cannot write the G-code: {e}"))?;
        Ok(out.summary)
    })
    .await
    .map_err(|e| format!("the slicer stopped unexpectedly: {e}"))?;
    watcher.abort();
    drop(turn);
    let summary = summary?;
    crate::metrics::observe_slice(sliced_at.elapsed());
    db.jobs()
        .sliced(job.id, &gcode_rel, summary.print_time_s.round() as i64, summary.filament_g, &key)
        .await
        .map_err(|e| e.to_string())
}

// ---- Scheduling ----------------------------------------------------------------------------------

/// One scheduling round: ready jobs onto free printers.
async fn assign_ready(farm: &Farm) -> Result<(), DbError> {
    let db = farm.db();
    let ready = db.jobs().list(&JobFilter { states: vec![JobState::Ready], ..Default::default() }).await?;
    if ready.is_empty() {
        return Ok(());
    }
    let (printers, policy) = snapshot(farm).await?;
    let jobs = scheduler_jobs(&ready, &printers);
    let plan = scheduler::plan_round(&printers, &jobs, &policy);
    warn_blocked(farm, &ready, &jobs, &printers, &plan).await?;
    let mut assigned = false;
    for Assignment { job, printer } in plan {
        let turned = ready.iter().find(|r| r.id == job).is_some_and(|r| !takes_as_placed(r, &printers, printer));
        if turned {
            let text = "Waiting for a printer whose bed is as wide and as deep as the one this G-code was sliced \
                        for: sliced G-code cannot be turned."
                .to_string();
            let new = farm.inner.blocked.lock().expect("blocked lock").insert(job, text.clone()) != Some(text.clone());
            if new {
                db.jobs().set_error(job, &text).await?;
                farm.publish_job(&db.jobs().get(job).await?);
            }
            continue;
        }
        let name = farm.live(printer).map(|l| l.record.name).unwrap_or_default();
        if !db.jobs().assign(job, printer, &format!("assigned to {name}")).await? {
            continue;
        }
        let record = db.jobs().get(job).await?;
        farm.publish_job(&record);
        farm.inner.heating.lock().expect("heating lock").insert(printer, Instant::now());
        farm.refresh_printer(printer).await?;
        spawn_print(farm, job, printer, false);
        assigned = true;
    }
    // Only a real change: each Queue event makes the next queue request wait for a new forecast, and
    // this runs every two seconds.
    if assigned {
        farm.broadcast(FarmEvent::Queue);
    }
    Ok(())
}

/// Tells people once about each ready job that no printer in the farm could take even when free: most
/// often because no loaded spool has enough filament left for it.
async fn warn_blocked(
    farm: &Farm,
    ready: &[JobRecord],
    jobs: &[scheduler::Job],
    printers: &[scheduler::Printer],
    plan: &[Assignment],
) -> Result<(), DbError> {
    for (record, job) in ready.iter().zip(jobs) {
        if plan.iter().any(|a| a.job == job.id) {
            continue;
        }
        let mut closest: Option<scheduler::Mismatch> = None;
        let mut fits_some = false;
        for p in printers {
            match scheduler::fits(p, job) {
                Ok(()) => {
                    fits_some = true;
                    break;
                }
                Err(m) => closest = Some(closest.map_or(m, |c| c.max(m))),
            }
        }
        let Some(why) = closest.filter(|_| !fits_some) else {
            farm.inner.blocked.lock().expect("blocked lock").remove(&job.id);
            continue;
        };
        let text = format!("No printer can take this job now: {}.", why.explain(job));
        let new = farm.inner.blocked.lock().expect("blocked lock").insert(job.id, text.clone()) != Some(text.clone());
        if new {
            farm.db().jobs().set_error(job.id, &text).await?;
            let (kind, severity) = match why {
                scheduler::Mismatch::NotEnoughFilament => ("low_filament", "warning"),
                _ => ("needs_attention", "warning"),
            };
            farm.notifier()
                .send(
                    farm,
                    NewNotification {
                        kind,
                        severity,
                        message: format!("\"{}\" is waiting: {}", record.name, text),
                        job_id: Some(job.id),
                        user_id: record.owner_id,
                        ..Default::default()
                    },
                )
                .await;
            farm.publish_job(&farm.db().jobs().get(job.id).await?);
        }
    }
    Ok(())
}

/// The farm as the scheduler sees it now, and the policy from the farm's settings and windows.
async fn snapshot(farm: &Farm) -> Result<(Vec<scheduler::Printer>, Policy), DbError> {
    let db = farm.db();
    let spools = spools_by_id(farm).await?;
    let active = db.jobs().active().await?;
    let now = Utc::now();
    let open = farm.windows().open_at(now);
    let cooldown: HashMap<i64, Instant> = farm.inner.cooldown.lock().expect("cooldown lock").clone();
    let busy: HashMap<i64, &JobRecord> = active.iter().filter_map(|j| j.printer_id.map(|p| (p, j))).collect();
    let settings = db.farm().settings().await?;
    let changeover_s = settings.get("changeover_min").and_then(|v| v.as_f64()).unwrap_or(5.0) * 60.0;
    // Records come from the database, not the farm's copies: a print that just ended may have
    // closed the bed-clear gate a moment ago.
    let records: HashMap<i64, PrinterRecord> = db.printers().list().await?.into_iter().map(|r| (r.id, r)).collect();
    let mut printers = Vec::new();
    for mut live in farm.all_live() {
        let Some(record) = records.get(&live.record.id) else { continue };
        live.record = record.clone();
        let status = live.status.borrow().clone();
        let mut p = scheduler_printer(&live.record, &status, &spools, false);
        // A printer given a job that has not started yet is about to heat.
        let starting = busy.get(&live.record.id).is_some_and(|j| j.state == JobState::Assigned);
        p.heating |= starting || still_heating(farm, live.record.id, &status);
        let free = !busy.contains_key(&live.record.id)
            && cooldown.get(&live.record.id).is_none_or(|until| *until <= Instant::now())
            && !open.farm_maintenance
            && !open.maintenance_printers.contains(&live.record.id);
        p.available &= free;
        p.free_in_s = if p.available {
            0.0
        } else if let Some(job) = busy.get(&live.record.id) {
            let left = status.remaining_s.map(f64::from).unwrap_or_else(|| {
                let total = job.estimate_s.unwrap_or(1800) as f64;
                total * (1.0 - job.progress.unwrap_or(0.0)).clamp(0.0, 1.0)
            });
            left + changeover_s
        } else if live.record.enabled && !live.record.maintenance && !live.record.bed_clear {
            // Someone has to clear the bed; assume they will within the changeover time.
            changeover_s
        } else if status.state == PrinterState::Idle && live.record.enabled && !live.record.maintenance {
            changeover_s
        } else {
            f64::INFINITY
        };
        printers.push(p);
    }
    let mut running: HashMap<i64, usize> = HashMap::new();
    for j in &active {
        *running.entry(j.owner_id.unwrap_or(0)).or_default() += 1;
    }
    let max_heating = settings.get("max_heating").and_then(|v| v.as_u64()).map(|n| n as usize);
    let long_job_s = settings.get("long_job_hours").and_then(|v| v.as_f64()).map(|h| h * 3600.0);
    let policy = Policy {
        now_s: now.timestamp() as f64,
        max_heating,
        running,
        changeover_s,
        windows: Windows {
            quiet: farm.windows().intervals("quiet", now),
            overnight: farm.windows().intervals("overnight", now),
            long_job_s,
        },
    };
    Ok((printers, policy))
}

/// Whether a printer that was started recently is still on its way to temperature. A start is counted
/// as heating from the moment it is sent (the first temperature report may be seconds away) until both
/// heaters report being at their targets, or for at most `HEATING_LIMIT`.
fn still_heating(farm: &Farm, printer: i64, status: &PrinterStatus) -> bool {
    let mut heating = farm.inner.heating.lock().expect("heating lock");
    let Some(since) = heating.get(&printer).copied() else { return false };
    let at = |t: printers::Temperature| t.target <= 0.0 || t.actual >= t.target - 5.0;
    let reached = status.hotend.target > 0.0 && at(status.hotend) && at(status.bed);
    if reached || !status.state.is_busy() && since.elapsed() > Duration::from_secs(5) || since.elapsed() > HEATING_LIMIT
    {
        heating.remove(&printer);
        return false;
    }
    true
}

async fn spools_by_id(farm: &Farm) -> Result<HashMap<i64, crate::db::Spool>, DbError> {
    Ok(farm.db().materials().spools().await?.into_iter().map(|s| (s.id, s)).collect())
}

/// A printer as the scheduler sees it. `ignore_state` judges only the fixed constraints (for choosing
/// whom to slice for).
fn scheduler_printer(
    r: &PrinterRecord,
    status: &PrinterStatus,
    spools: &HashMap<i64, crate::db::Spool>,
    ignore_state: bool,
) -> scheduler::Printer {
    let heating = |t: printers::Temperature| t.target > 0.0 && t.actual < t.target - 5.0;
    scheduler::Printer {
        id: r.id,
        available: r.enabled && !r.maintenance && (ignore_state || (r.bed_clear && status.state == PrinterState::Idle)),
        heating: status.state.is_busy() && (heating(status.hotend) || heating(status.bed)),
        free_in_s: 0.0,
        build_mm: [r.build_x_mm, r.build_y_mm, r.build_z_mm],
        nozzle_mm: r.nozzle_mm,
        tags: r.tags.clone(),
        material: r.loaded_spool_id.and_then(|id| spools.get(&id)).map(|s| scheduler::Loaded {
            kind: s.material_kind.clone(),
            colour: s.colour_name.clone(),
            remaining_g: if ignore_state { f64::INFINITY } else { s.remaining_g },
        }),
    }
}

/// A stored UTC timestamp (RFC 3339) as seconds since the epoch, the scheduler's clock.
pub(crate) fn seconds(t: &str) -> Option<f64> {
    DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp_millis() as f64 / 1000.0)
}

/// The scheduler's view of `records`. The scheduler may turn a plate a quarter turn to fit a bed, which
/// sliced G-code cannot be: printers whose bed would need that are the last resort for such jobs (and
/// [`takes_as_placed`] refuses them at assignment).
fn scheduler_jobs(records: &[JobRecord], printers: &[scheduler::Printer]) -> Vec<scheduler::Job> {
    records
        .iter()
        .map(|r| {
            let mut j = scheduler_job(r);
            if r.presliced {
                j.avoid.extend(printers.iter().filter(|p| !bed_holds(r.size_mm, p.build_mm)).map(|p| p.id));
            }
            j
        })
        .collect()
}

/// Whether `printer` can print the job without turning it (always, for jobs the farm slices itself).
fn takes_as_placed(job: &JobRecord, printers: &[scheduler::Printer], printer: i64) -> bool {
    !job.presliced || printers.iter().find(|p| p.id == printer).is_some_and(|p| bed_holds(job.size_mm, p.build_mm))
}

/// Width within width and depth within depth, as the G-code's coordinates demand.
fn bed_holds(size: [f64; 3], build: [f64; 3]) -> bool {
    const TOLERANCE_MM: f64 = 0.5;
    size.iter().zip(build).all(|(s, b)| *s <= b + TOLERANCE_MM)
}

fn scheduler_job(j: &JobRecord) -> scheduler::Job {
    scheduler::Job {
        id: j.id,
        owner: j.owner_id.unwrap_or(0),
        priority: j.priority as i32,
        deadline_s: j.deadline.as_deref().and_then(seconds),
        // A manager's manual order replaces submission time as the tie-break within a priority.
        submitted_s: j.queue_pos.or_else(|| seconds(&j.created_at)).unwrap_or(0.0),
        size_mm: j.size_mm,
        nozzle_mm: j.nozzle_mm,
        material_kind: j.material_kind.clone(),
        colour: j.colour.clone(),
        group: j.printer_group.clone(),
        filament_g: j.filament_g.unwrap_or(0.0),
        duration_s: j.estimate_s.map(|s| s as f64).unwrap_or(1800.0),
        avoid: j.avoid_printers.clone(),
    }
}

/// Every waiting job with its estimated start and finish.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueEntry {
    pub job: JobRecord,
    /// Position in the order the farm serves jobs (0 = next).
    pub position: usize,
    pub printer_id: Option<i64>,
    pub start: Option<String>,
    pub finish: Option<String>,
    /// Why it cannot be placed, in words.
    pub blocked: Option<String>,
    /// Whether the times come from a real slice (false: the job is not sliced yet, 30 min assumed).
    pub sliced: bool,
}

/// Moves a waiting job to `pos` in the queue (and to `priority`, if given), tells every page and wakes
/// the dispatcher. The REST reorder and the Queue page's drag and buttons both come through here.
pub async fn place_in_queue(farm: &Farm, id: i64, pos: Option<f64>, priority: Option<i64>) -> Result<(), DbError> {
    farm.db().jobs().set_queue_position(id, pos, priority).await?;
    farm.broadcast(FarmEvent::Queue);
    farm.wake();
    Ok(())
}

/// A computed queue forecast and the queue event count it started from.
pub(crate) struct CachedForecast {
    epoch: u64,
    at: Instant,
    entries: Arc<Vec<QueueEntry>>,
}

/// How long a forecast stays good when nothing in the queue changed (its times drift with the printers).
const FORECAST_FRESH: Duration = Duration::from_secs(1);
/// How old a forecast may be and still be served while a newer one is being computed.
const FORECAST_STALE_OK: Duration = Duration::from_secs(10);

/// The queue forecast: every job that has not started, in service order, with the printer it will
/// probably get and when, by simulating the queue forward.
///
/// Every queue page, queue API call and dashboard asks for this; with a hundred people at once,
/// computing it for each of them made each wait seconds. So one forecast is computed at a time and
/// shared. A person always sees their own change: whoever asks after a job or queue event waits for a
/// forecast that includes it. A forecast that is merely a second old (printer times drift) is served
/// as it is while someone else computes the next one, so nobody queues behind that computation (under
/// load its database reads wait behind everyone else's, and every queue request used to wait with it).
/// Shared, not copied: a queue of hundreds of jobs is served to every page that asks.
pub async fn forecast(farm: &Farm) -> Result<Arc<Vec<QueueEntry>>, DbError> {
    use std::sync::atomic::Ordering;
    let asked_at = farm.inner.queue_epoch.load(Ordering::SeqCst);
    // What the cache holds for this asker: (current, or at least not missing their change).
    type Shared = Option<Arc<Vec<QueueEntry>>>;
    let cached = || -> (Shared, Shared) {
        let cache = farm.inner.forecast.lock().expect("forecast lock");
        match cache.as_ref().filter(|c| c.epoch >= asked_at) {
            Some(c) if c.at.elapsed() < FORECAST_FRESH => (Some(c.entries.clone()), None),
            Some(c) if c.at.elapsed() < FORECAST_STALE_OK => (None, Some(c.entries.clone())),
            _ => (None, None),
        }
    };
    let (fresh, usable) = cached();
    if let Some(entries) = fresh {
        return Ok(entries);
    }
    let _computing = match (farm.inner.forecasting.try_lock(), usable) {
        (Ok(guard), _) => guard,
        (Err(_), Some(entries)) => return Ok(entries),
        (Err(_), None) => {
            let guard = farm.inner.forecasting.lock().await;
            // Whoever held it may have just computed what this asker needs.
            if let (Some(entries), _) = cached() {
                return Ok(entries);
            }
            guard
        }
    };
    let epoch = farm.inner.queue_epoch.load(Ordering::SeqCst);
    let entries = Arc::new(compute_forecast(farm).await?);
    *farm.inner.forecast.lock().expect("forecast lock") =
        Some(CachedForecast { epoch, at: Instant::now(), entries: entries.clone() });
    Ok(entries)
}

async fn compute_forecast(farm: &Farm) -> Result<Vec<QueueEntry>, DbError> {
    let db = farm.db();
    let waiting = db
        .jobs()
        .list(&JobFilter {
            states: vec![JobState::AwaitingApproval, JobState::Queued, JobState::Slicing, JobState::Ready],
            ..Default::default()
        })
        .await?;
    let (printers, policy) = snapshot(farm).await?;
    let jobs = scheduler_jobs(&waiting, &printers);
    // Simulating a few hundred jobs forward takes milliseconds of CPU: off the async workers, so the
    // requests they serve meanwhile are not held up.
    let (jobs, order, estimates) = tokio::task::spawn_blocking(move || {
        let order = scheduler::service_order(&jobs, &policy);
        let estimates: Vec<Estimate> = scheduler::forecast(&printers, &jobs, &policy);
        (jobs, order, estimates)
    })
    .await
    .expect("the forecast does not panic");
    let iso = |s: f64| super::windows::utc(s).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut position = vec![0; jobs.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let mut out: Vec<QueueEntry> = waiting
        .into_iter()
        .zip(estimates)
        .enumerate()
        .map(|(i, (job, e))| QueueEntry {
            sliced: job.estimate_s.is_some(),
            position: position[i],
            printer_id: e.printer,
            start: e.start_s.map(iso),
            finish: e.finish_s.map(iso),
            blocked: e.blocked.map(|m| m.explain(&jobs[i])),
            job,
        })
        .collect();
    out.sort_by_key(|e| e.position);
    Ok(out)
}

// ---- Printing ------------------------------------------------------------------------------------

fn spawn_print(farm: &Farm, job: i64, printer: i64, adopt: bool) {
    let token = CancellationToken::new();
    farm.inner.running.lock().expect("running lock").insert(job, token.clone());
    let f = farm.clone();
    farm.spawn(async move {
        if let Err(e) = print(&f, job, printer, adopt, token).await {
            tracing::warn!(job, printer, "print task: {e}");
        }
        f.inner.running.lock().expect("running lock").remove(&job);
        if let Ok(j) = f.db().jobs().get(job).await {
            f.publish_job(&j);
        }
        let _ = f.refresh_printer(printer).await;
        f.broadcast(FarmEvent::Queue);
        f.wake();
    });
}

/// Sends an assigned job to its printer (or, after a restart, takes over watching one that may be
/// printing) and follows it to its end.
async fn print(
    farm: &Farm,
    job_id: i64,
    printer_id: i64,
    adopt: bool,
    cancel: CancellationToken,
) -> Result<(), String> {
    let db = farm.db();
    let Some(live) = farm.live(printer_id) else {
        db.jobs().unassign(job_id, "the printer was removed").await.map_err(|e| e.to_string())?;
        return Ok(());
    };
    let Some(driver) = live.driver.clone() else {
        db.jobs()
            .unassign(job_id, "the printer's connection settings are not valid")
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let job = db.jobs().get(job_id).await.map_err(|e| e.to_string())?;
    if adopt {
        return adopt_print(farm, job, live, cancel).await;
    }

    let gcode_ok = job.gcode_path.as_ref().is_some_and(|p| farm.data_dir().join(p).exists());
    if job.presliced && !gcode_ok {
        // Uploaded G-code is never re-sliced: without its file there is nothing to print.
        let why = "the uploaded G-code file is missing; send it again from the slicer".to_string();
        db.jobs().set_error(job_id, &why).await.map_err(|e| e.to_string())?;
        db.jobs().transition(job_id, JobState::Failed, None, Some(&why)).await.map_err(|e| e.to_string())?;
        return Ok(());
    }
    // Re-slice when this printer prints with another profile than the G-code was made for (never
    // uploaded G-code: the scheduler gave it a printer like the one it was made for).
    if !job.presliced {
        let (_, key) = profiles::for_job(&live.record, &job)?;
        if job.sliced_for.as_deref() != Some(key.as_str()) || !gcode_ok {
            if let Err(why) = slice_job(farm, &job, &live.record).await {
                db.jobs().set_error(job_id, &why).await.map_err(|e| e.to_string())?;
                db.jobs().transition(job_id, JobState::Failed, None, Some(&why)).await.map_err(|e| e.to_string())?;
                return Ok(());
            }
        }
    }
    let job = db.jobs().get(job_id).await.map_err(|e| e.to_string())?;
    let source = farm.data_dir().join(job.gcode_path.as_deref().unwrap_or_default());
    let remote = format!("job-{}-a{}.gcode", job.id, job.attempts + 1);
    let attempt_path: PathBuf = farm.data_dir().join("gcode").join(&remote);
    let _ = tokio::fs::remove_file(&attempt_path).await;
    if tokio::fs::hard_link(&source, &attempt_path).await.is_err() {
        tokio::fs::copy(&source, &attempt_path).await.map_err(|e| format!("cannot prepare the G-code: {e}"))?;
    }
    db.jobs().prepare_attempt(job_id, &remote).await.map_err(|e| e.to_string())?;
    if cancel.is_cancelled() {
        farm.inner.heating.lock().expect("heating lock").remove(&printer_id);
        db.jobs()
            .transition(job_id, JobState::Cancelled, None, Some("cancelled before it was sent"))
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }

    farm.inner.heating.lock().expect("heating lock").insert(printer_id, Instant::now());
    let sent = async {
        let file = driver.upload(&attempt_path).await?;
        driver.start(&file.name).await
    };
    if let Err(e) = sent.await {
        farm.inner.heating.lock().expect("heating lock").remove(&printer_id);
        let why = format!("{} could not start it: {e}", live.record.name);
        farm.inner.cooldown.lock().expect("cooldown lock").insert(printer_id, Instant::now() + COOLDOWN);
        db.jobs().unassign(job_id, &why).await.map_err(|e| e.to_string())?;
        db.jobs().set_error(job_id, &why).await.map_err(|e| e.to_string())?;
        return Ok(());
    }
    farm.inner.heating.lock().expect("heating lock").insert(printer_id, Instant::now());
    db.jobs()
        .started(job_id, live.record.loaded_spool_id, &format!("printing on {}", live.record.name))
        .await
        .map_err(|e| e.to_string())?;
    let job = db.jobs().get(job_id).await.map_err(|e| e.to_string())?;
    farm.publish_job(&job);
    let _ = farm.refresh_printer(printer_id).await;
    follow(farm, job, live, cancel, Instant::now(), false).await
}

/// After a restart: find out what a network printer did with an assigned or printing job.
async fn adopt_print(farm: &Farm, job: JobRecord, live: Live, cancel: CancellationToken) -> Result<(), String> {
    let db = farm.db();
    let mut rx = live.status.clone();
    let connected = tokio::select! {
        s = rx.wait_for(|s| !matches!(s.state, PrinterState::Disconnected | PrinterState::Connecting)) => s.map(|s| s.clone()).ok(),
        _ = cancel.cancelled() => None,
        _ = farm.shutdown_token().cancelled() => return Ok(()),
    };
    let Some(status) = connected else {
        return finish(farm, &job, &live, cancelled_outcome(&job, "cancelled while the printer was offline")).await;
    };
    // Hosts may keep uploads in a folder of their own (Moonraker: `printfarm/…`): compare file names.
    let file_name = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    let ours = match (&status.file, &job.remote_file) {
        (Some(on_printer), Some(ours)) => file_name(on_printer) == file_name(ours),
        _ => false,
    };
    let started =
        job.started_at.as_deref().and_then(seconds).map(|s| Utc::now().timestamp_millis() as f64 / 1000.0 - s);
    let since = Instant::now() - Duration::from_secs_f64(started.unwrap_or(0.0).max(0.0));
    if ours && status.state.is_busy() {
        if job.state == JobState::Assigned {
            db.jobs()
                .started(job.id, live.record.loaded_spool_id, "the printer was already printing it after a restart")
                .await
                .map_err(|e| e.to_string())?;
        }
        tracing::info!(job = job.id, printer = %live.record.name, "picked up a print that went on during a restart");
        let job = db.jobs().get(job.id).await.map_err(|e| e.to_string())?;
        return follow(farm, job, live, cancel, since, true).await;
    }
    if ours && status.state == PrinterState::Idle && status.progress.is_some_and(|p| p >= 0.999) {
        if job.state == JobState::Assigned {
            db.jobs()
                .started(job.id, live.record.loaded_spool_id, "found finished after a restart")
                .await
                .map_err(|e| e.to_string())?;
        }
        let job = db.jobs().get(job.id).await.map_err(|e| e.to_string())?;
        let outcome = PrintOutcome {
            state: JobState::Done,
            reason: Some("finished while the server was down".into()),
            actor_id: None,
            error: None,
            seconds: since.elapsed().as_secs_f64(),
            filament_g: job.filament_g.unwrap_or(0.0),
            needs_bed_clear: true,
        };
        return finish(farm, &job, &live, outcome).await;
    }
    if job.state == JobState::Assigned {
        db.jobs()
            .unassign(job.id, "the printer had not started it when the server restarted")
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let outcome = PrintOutcome {
        state: JobState::Failed,
        reason: Some("lost during a restart".into()),
        actor_id: None,
        error: Some(format!(
            "{} was no longer printing this job when the server came back{}.",
            live.record.name,
            status.last_error.as_deref().map(|e| format!(" (the printer said: {e})")).unwrap_or_default()
        )),
        seconds: since.elapsed().as_secs_f64(),
        filament_g: job.filament_g.unwrap_or(0.0) * job.progress.unwrap_or(0.0),
        needs_bed_clear: true,
    };
    finish(farm, &job, &live, outcome).await
}

fn cancelled_outcome(job: &JobRecord, why: &str) -> PrintOutcome {
    PrintOutcome {
        state: JobState::Cancelled,
        reason: Some(why.into()),
        actor_id: None,
        error: None,
        seconds: 0.0,
        filament_g: job.filament_g.unwrap_or(0.0) * job.progress.unwrap_or(0.0),
        needs_bed_clear: job.state != JobState::Assigned,
    }
}

/// Follows a printing job on its printer until it ends, mirroring pause/resume and progress.
/// Whether an idle printer's last words say it finished exactly this attempt's file.
fn finished_file(status: &PrinterStatus, remote: Option<&str>) -> bool {
    let (Some(msg), Some(remote)) = (status.message.as_deref(), remote) else { return false };
    msg.strip_prefix("Finished").is_some_and(|rest| {
        let name = rest.trim();
        name == remote || name.rsplit('/').next() == Some(remote)
    })
}

async fn follow(
    farm: &Farm,
    job: JobRecord,
    live: Live,
    cancel: CancellationToken,
    since: Instant,
    mut seen_busy: bool,
) -> Result<(), String> {
    let db = farm.db();
    let mut rx = live.status.clone();
    let started = Instant::now();
    let mut state = job.state;
    let mut cancel_sent: Option<Instant> = None;
    let mut last_saved = (Instant::now(), job.progress.unwrap_or(0.0));
    let estimate = job.filament_g.unwrap_or(0.0);
    loop {
        let s = rx.borrow_and_update().clone();
        let progress = s.progress.map(f64::from).unwrap_or(last_saved.1).clamp(0.0, 1.0);
        let outcome = |state: JobState, reason: String, error: Option<String>, share: f64| PrintOutcome {
            state,
            reason: Some(reason),
            actor_id: None,
            error,
            seconds: since.elapsed().as_secs_f64(),
            filament_g: estimate * share,
            needs_bed_clear: true,
        };
        let end = match s.state {
            PrinterState::Printing | PrinterState::Finishing | PrinterState::Paused => {
                seen_busy = true;
                let want = if s.state == PrinterState::Paused { JobState::Paused } else { JobState::Printing };
                if want != state {
                    let why = if want == JobState::Paused { "paused at the printer" } else { "resumed" };
                    db.jobs()
                        .transition(job.id, want, None, Some(s.message.as_deref().unwrap_or(why)))
                        .await
                        .map_err(|e| e.to_string())?;
                    state = want;
                    farm.publish_job(&db.jobs().get(job.id).await.map_err(|e| e.to_string())?);
                }
                let (at, saved) = last_saved;
                if (progress - saved).abs() >= 0.01 || at.elapsed() >= Duration::from_secs(10) && progress != saved {
                    db.jobs().set_progress(job.id, progress).await.map_err(|e| e.to_string())?;
                    last_saved = (Instant::now(), progress);
                    let mut j = job.clone();
                    j.state = state;
                    j.progress = Some(progress);
                    farm.publish_progress(&j);
                }
                None
            }
            PrinterState::Error => {
                let error = s
                    .message
                    .clone()
                    .or(s.last_error.clone())
                    .unwrap_or_else(|| "the printer reported an error".into());
                if cancel_sent.is_some() {
                    Some(outcome(JobState::Cancelled, "cancelled".into(), None, progress))
                } else {
                    Some(outcome(JobState::Failed, format!("the printer stopped: {error}"), Some(error), progress))
                }
            }
            PrinterState::Idle if seen_busy => {
                let msg = s.message.clone().unwrap_or_default();
                if cancel_sent.is_some() {
                    Some(outcome(JobState::Cancelled, "cancelled".into(), None, progress))
                } else if msg.starts_with("Cancelled") {
                    Some(outcome(JobState::Cancelled, "cancelled at the printer".into(), None, progress))
                } else if msg.starts_with("Finished") || progress >= 0.999 {
                    Some(outcome(JobState::Done, "finished".into(), None, 1.0))
                } else {
                    let why = format!("the printer stopped at {:.0}% without saying why", progress * 100.0);
                    Some(outcome(JobState::Failed, why.clone(), Some(why), progress))
                }
            }
            // A print shorter than one status poll is over before the farm ever sees it busy; the
            // printer's "Finished <our file>" is proof enough that it ran.
            PrinterState::Idle if !seen_busy && finished_file(&s, job.remote_file.as_deref()) => {
                Some(outcome(JobState::Done, "finished".into(), None, 1.0))
            }
            PrinterState::Disconnected | PrinterState::Connecting
                if seen_busy && host_streamed(&live.record.driver) =>
            {
                let why = s.last_error.clone().unwrap_or_else(|| "the USB connection to the printer was lost".into());
                Some(outcome(JobState::Failed, format!("connection lost: {why}"), Some(why), progress))
            }
            _ if !seen_busy && started.elapsed() > START_TIMEOUT => {
                let why = "the printer did not start the print".to_string();
                Some(outcome(JobState::Failed, why.clone(), Some(why), 0.0))
            }
            _ => None,
        };
        if let Some(o) = end {
            let job = db.jobs().get(job.id).await.map_err(|e| e.to_string())?;
            return finish(farm, &job, &live, o).await;
        }
        if cancel_sent.is_some_and(|at| at.elapsed() > CANCEL_TIMEOUT) {
            let job = db.jobs().get(job.id).await.map_err(|e| e.to_string())?;
            let o = cancelled_outcome(&job, "cancelled (the printer did not confirm)");
            return finish(farm, &job, &live, o).await;
        }
        tokio::select! {
            _ = farm.shutdown_token().cancelled() => return Ok(()),
            _ = cancel.cancelled(), if cancel_sent.is_none() => {
                cancel_sent = Some(Instant::now());
                if let Some(driver) = &live.driver {
                    if let Err(e) = driver.cancel().await {
                        tracing::warn!(job = job.id, "cancel: {e}");
                    }
                }
                if !seen_busy {
                    let job = db.jobs().get(job.id).await.map_err(|e| e.to_string())?;
                    let o = cancelled_outcome(&job, "cancelled before it started");
                    return finish(farm, &job, &live, o).await;
                }
            }
            changed = rx.changed() => if changed.is_err() { return Ok(()) },
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Records the end of a print, tells people, and puts a failed job back in the queue when it has
/// attempts left.
async fn finish(farm: &Farm, job: &JobRecord, live: &Live, outcome: PrintOutcome) -> Result<(), String> {
    let db = farm.db();
    db.jobs().finish(job.id, &outcome).await.map_err(|e| e.to_string())?;
    let name = &live.record.name;
    let (kind, severity, mut message) = match outcome.state {
        JobState::Done => (
            "job_done",
            "info",
            format!("\"{}\" is finished on {name}. Take it off the bed, then press \"Bed cleared\".", job.name),
        ),
        JobState::Cancelled => ("job_cancelled", "info", format!("\"{}\" was cancelled on {name}.", job.name)),
        _ => (
            "job_failed",
            "error",
            format!(
                "\"{}\" failed on {name}: {}",
                job.name,
                outcome.error.clone().unwrap_or_else(|| "no reason given".into())
            ),
        ),
    };
    if outcome.state == JobState::Failed {
        if db.jobs().retry(job.id).await.map_err(|e| e.to_string())? {
            message.push_str(" It will be tried again, on another printer if one fits.");
        } else {
            message.push_str(" It has used all its attempts.");
        }
    }
    farm.notifier()
        .send(
            farm,
            NewNotification {
                kind,
                severity,
                message,
                job_id: Some(job.id),
                printer_id: Some(live.record.id),
                user_id: job.owner_id,
            },
        )
        .await;
    super::notify::check_maintenance(farm).await;
    if outcome.needs_bed_clear && live.record.require_bed_clear {
        farm.notifier()
            .send(
                farm,
                NewNotification {
                    kind: "needs_attention",
                    severity: "warning",
                    message: format!("{name} needs its bed cleared before it can take the next job."),
                    printer_id: Some(live.record.id),
                    ..Default::default()
                },
            )
            .await;
    }
    if let Some(spool) = job.spool_id.or(live.record.loaded_spool_id) {
        if let Ok(s) = db.materials().spool(spool).await {
            if s.remaining_g < LOW_FILAMENT_G && s.remaining_g + outcome.filament_g >= LOW_FILAMENT_G {
                farm.notifier()
                    .send(
                        farm,
                        NewNotification {
                            kind: "low_filament",
                            severity: "warning",
                            message: format!(
                                "The {} {} spool on {name} has only {:.0} g left.",
                                s.colour_name, s.material_kind, s.remaining_g
                            ),
                            printer_id: Some(live.record.id),
                            ..Default::default()
                        },
                    )
                    .await;
            }
        }
    }
    Ok(())
}

// ---- Recovery ------------------------------------------------------------------------------------

/// Settles what a previous run left unfinished: slicing starts again; USB prints (which stop when the
/// host stops streaming) are recorded as failed with the reason and retried; prints on OctoPrint and
/// Moonraker are looked up on the printer and followed again, or found finished, or recorded as lost.
pub async fn recover(farm: &Farm) -> Result<(), DbError> {
    let db = farm.db();
    for job in db.jobs().list(&JobFilter { states: vec![JobState::Slicing], ..Default::default() }).await? {
        db.jobs().transition(job.id, JobState::Queued, None, Some("the server restarted while slicing")).await?;
    }
    let active = db.jobs().active().await?;
    for job in active {
        let Some(printer) = job.printer_id else { continue };
        let live = farm.live(printer);
        let streamed = live.as_ref().is_none_or(|l| host_streamed(&l.record.driver));
        match (job.state, streamed) {
            (JobState::Assigned, true) => {
                db.jobs().unassign(job.id, "the server restarted before the print started").await?;
            }
            (_, true) => {
                let started = job.started_at.as_deref().and_then(seconds);
                let now = Utc::now().timestamp_millis() as f64 / 1000.0;
                let error = "The server stopped while it was sending this print to the printer over USB, so the print \
                             stopped with it."
                    .to_string();
                let outcome = PrintOutcome {
                    state: JobState::Failed,
                    reason: Some("the host stopped during a USB print".into()),
                    actor_id: None,
                    error: Some(error),
                    seconds: started.map(|s| (now - s).max(0.0)).unwrap_or(0.0),
                    filament_g: job.filament_g.unwrap_or(0.0) * job.progress.unwrap_or(0.0),
                    needs_bed_clear: true,
                };
                match &live {
                    Some(live) => finish(farm, &job, live, outcome)
                        .await
                        .map_err(|e| DbError::BadValue { column: "recovery", value: e })?,
                    None => {
                        db.jobs().finish(job.id, &outcome).await?;
                        db.jobs().retry(job.id).await?;
                    }
                }
                farm.refresh_printer(printer).await?;
            }
            (_, false) => spawn_print(farm, job.id, printer, true),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_sized_as_packed() {
        // Two 30 mm parts side by side with 6 mm between them.
        let size = plate_size(&[[30.0, 30.0, 5.0], [30.0, 30.0, 8.0]], [220.0, 220.0]);
        assert!((size[0] - 66.0).abs() < 1e-3 && (size[1] - 30.0).abs() < 1e-3 && size[2] == 8.0, "{size:?}");
        // More than fits: as big as all of them in a row, so nothing is thought to fit it.
        let size = plate_size(&vec![[100.0, 100.0, 3.0]; 20], [220.0, 220.0]);
        assert!(size[0] > 2000.0, "{size:?}");
    }

    #[test]
    fn sliced_gcode_fits_only_unturned() {
        assert!(bed_holds([250.0, 210.0, 10.0], [250.0, 210.0, 200.0]));
        assert!(bed_holds([250.3, 210.0, 10.0], [250.0, 210.0, 200.0]), "within half a millimetre");
        assert!(!bed_holds([250.0, 210.0, 10.0], [210.0, 250.0, 200.0]), "the same bed turned");
        assert!(!bed_holds([200.0, 200.0, 300.0], [250.0, 250.0, 250.0]), "too tall");
    }

    #[test]
    fn a_finished_message_names_the_file() {
        let mut s = PrinterStatus::disconnected();
        s.state = PrinterState::Idle;
        s.message = Some("Finished job-7-a1.gcode".into());
        assert!(finished_file(&s, Some("job-7-a1.gcode")));
        assert!(!finished_file(&s, Some("job-7-a2.gcode")), "an earlier attempt's file");
        assert!(!finished_file(&s, None));
        s.message = Some("Finished /sd/job-7-a1.gcode".into());
        assert!(finished_file(&s, Some("job-7-a1.gcode")));
        s.message = Some("Cancelled job-7-a1.gcode".into());
        assert!(!finished_file(&s, Some("job-7-a1.gcode")));
    }
}
