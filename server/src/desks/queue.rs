//! Server functions for the queue and job pages.
//! Implements `app::api::queue` for the server: the queue with its forecast, one job with its history,
//! the people's actions on jobs (through `farm::dispatch`, like the REST API), reordering (through the
//! same repository call as `PATCH /api/v1/jobs/{id}`), "print again", and the G-code layer preview.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use app::api::queue::{
    b64_encode, DeskFuture, JobDetail, JobEvent, PreviewData, PreviewRole, PrinterName, QueueDesk, QueueJob,
    QueueSnapshot, SharedQueueDesk,
};
use app::wire::PrinterView;
use chrono::Utc;
use leptos::prelude::provide_context;
use slicer::preview::{Preview, PreviewLayer, PreviewPath};
use slicer::toolpath::Role;

use crate::auth::Caller;
use crate::db::{DbError, JobFilter, JobRecord, JobState};
use crate::farm::dispatch::{self, seconds, JobError, QueueEntry, Submission};
use crate::http::AppState;

/// What people read. Kept together for translation.
mod text {
    pub const NOT_FOUND: &str =
        "There is no job with that number. It may have been removed. Go back to the Queue to see all jobs.";
    pub const DATABASE: &str = "The farm could not read its list of jobs just now. Wait a moment and try again.";
    pub const CHANGED: &str = "This job changed just now. Look at it again, then try once more.";
    pub const ONLY_WAITING_MOVES: &str = "Only jobs that are still waiting can be moved in the queue.";
    pub const NOT_SLICED: &str = "There is no layer preview yet: the farm has not prepared this job for a printer. It appears as soon as the job is sliced.";
    pub const GCODE_GONE: &str =
        "The prepared file for this job is gone, so there is no layer preview. Use \"Print again\" to make a new one.";
    pub const GCODE_UNREADABLE: &str =
        "The prepared file for this job could not be read, so there is no layer preview.";
    pub const TAKES_TURNS: &str = "Moved, but the farm takes turns between people, so this job still waits for its owner's turn. Give it a higher priority to move it further up.";
    pub const MOVED: &str = "Moved.";
}

/// Provides this area's implementation as Leptos context.
pub fn provide(state: &AppState) {
    let desk: SharedQueueDesk = Arc::new(Desk { state: state.clone() });
    provide_context(desk);
}

struct Desk {
    state: AppState,
}

fn db_error(e: DbError) -> String {
    match e {
        DbError::NotFound { .. } => text::NOT_FOUND.into(),
        DbError::InvalidTransition { .. } => text::CHANGED.into(),
        e => {
            tracing::error!("queue page: {e}");
            text::DATABASE.into()
        }
    }
}

/// How a state reads inside a sentence ("it is waiting for approval").
pub fn state_words(state: JobState) -> &'static str {
    match state {
        JobState::Submitted => "just sent",
        JobState::AwaitingApproval => "waiting for a teacher's approval",
        JobState::Queued => "waiting in the queue",
        JobState::Slicing => "being prepared for a printer",
        JobState::Ready => "ready and waiting for a free printer",
        JobState::Assigned => "starting on a printer",
        JobState::Printing => "printing",
        JobState::Paused => "paused",
        JobState::Done => "finished",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

/// Why an action cannot be done in a job's state, in words; `None` when it can.
pub fn refusal(action: &str, state: JobState) -> Option<String> {
    let is = state_words(state);
    let why = match action {
        "approve" | "reject" if state != JobState::AwaitingApproval => {
            format!("This job does not need approval: it is {is}.")
        }
        "cancel" if state == JobState::Done => "This job can't be cancelled because it already finished.".into(),
        "cancel" if state.is_terminal() => format!("This job can't be cancelled because it is already {is}."),
        "retry" if state != JobState::Failed => {
            format!("Only a failed job can be tried again, and this one is {is}. Use \"Print again\" for a new copy.")
        }
        "pause" if state != JobState::Printing => format!("Only a printing job can be paused, and this one is {is}."),
        "resume" if state != JobState::Paused => format!("Only a paused job can be resumed, and this one is {is}."),
        "approve" | "reject" | "cancel" | "retry" | "pause" | "resume" => return None,
        _ => format!("\"{action}\" is not something you can do to a job."),
    };
    Some(why)
}

/// What happened, in words, after an action worked.
fn done_words(action: &str) -> &'static str {
    match action {
        "approve" => "Approved. The job is in the queue now.",
        "reject" => "Rejected. The job will not be printed.",
        "cancel" => "Cancelled.",
        "retry" => "The job is back in the queue and will be tried again.",
        "pause" => "Pausing the printer…",
        "resume" => "Resuming the print…",
        _ => "Done.",
    }
}

fn secs(t: Option<&str>) -> Option<i64> {
    t.and_then(seconds).map(|s| s.floor() as i64)
}

fn utc_offset_min() -> i32 {
    chrono::Local::now().offset().local_minus_utc() / 60
}

/// The numbers the queue position of a job is made of: its tie-break time within its priority.
fn order_key(j: &JobRecord) -> f64 {
    j.queue_pos.or_else(|| seconds(&j.created_at)).unwrap_or(0.0)
}

/// Where a job dropped between `after` and `before` (their keys within the job's new priority) goes: between
/// them, or just past the one that exists. The API's "before" uses the same 0.001 s step.
pub fn key_between(after: Option<f64>, before: Option<f64>) -> Option<f64> {
    const STEP: f64 = 0.001;
    match (after, before) {
        (Some(a), Some(b)) if a < b => Some(a + (b - a) / 2.0),
        (_, Some(b)) => Some(b - STEP),
        (Some(a), None) => Some(a + STEP),
        (None, None) => None,
    }
}

struct Lookup {
    names: HashMap<i64, String>,
    printers: HashMap<i64, PrinterView>,
    now: i64,
}

impl Lookup {
    fn job(&self, j: &JobRecord, plan: Option<&QueueEntry>) -> QueueJob {
        let printer_id = plan.and_then(|e| e.printer_id).or(j.printer_id);
        let running = matches!(j.state, JobState::Assigned | JobState::Printing | JobState::Paused);
        let (start_s, finish_s) = if let Some(e) = plan {
            (secs(e.start.as_deref()), secs(e.finish.as_deref()))
        } else if running {
            let left = self.remaining(j);
            (secs(j.started_at.as_deref()), Some(self.now + left))
        } else {
            (secs(j.started_at.as_deref()), secs(j.finished_at.as_deref()))
        };
        QueueJob {
            id: j.id,
            name: j.name.clone(),
            model_version_id: j.model_version_id,
            owner_id: j.owner_id,
            owner: j.owner_id.and_then(|o| self.names.get(&o).cloned()),
            state: j.state.as_str().to_string(),
            material_kind: j.material_kind.clone(),
            colour: j.colour.clone(),
            quality: j.quality.clone(),
            copies: j.copies,
            copy_index: j.copy_index,
            priority: j.priority,
            printer_id,
            printer: printer_id.and_then(|p| self.printers.get(&p)).map(|p| p.name.clone()),
            progress: j.progress,
            position: plan.map(|e| e.position),
            start_s,
            finish_s,
            blocked: plan.and_then(|e| e.blocked.clone()),
            sliced: j.estimate_s.is_some(),
            estimate_s: j.estimate_s,
            filament_g: j.filament_g,
            print_s: j.print_s,
            filament_used_g: j.filament_used_g,
            cost: j.cost,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            error: j.error.clone(),
            created_s: secs(Some(&j.created_at)),
        }
    }

    /// Seconds a running job has left: what its printer says, else the estimate less the progress.
    fn remaining(&self, j: &JobRecord) -> i64 {
        let said = j
            .printer_id
            .and_then(|p| self.printers.get(&p))
            .filter(|p| p.job_id == Some(j.id))
            .and_then(|p| p.remaining_s);
        match said {
            Some(s) => s as i64,
            None => {
                let total = j.estimate_s.unwrap_or(1800) as f64;
                (total * (1.0 - j.progress.unwrap_or(0.0)).clamp(0.0, 1.0)).round() as i64
            }
        }
    }
}

impl Desk {
    async fn lookup(&self) -> Result<Lookup, DbError> {
        Ok(Lookup {
            names: self.state.db.queue_queries().user_names().await?,
            printers: self.state.farm.snapshot().into_iter().map(|p| (p.id, p)).collect(),
            now: Utc::now().timestamp(),
        })
    }

    async fn snapshot_inner(&self) -> Result<QueueSnapshot, DbError> {
        let db = &self.state.db;
        let plan = dispatch::forecast(&self.state.farm).await?;
        let active = db.jobs().active().await?;
        let finished = db
            .jobs()
            .list(&JobFilter {
                states: vec![JobState::Done, JobState::Failed, JobState::Cancelled],
                newest_first: true,
                limit: Some(RECENT_FINISHED),
                ..Default::default()
            })
            .await?;
        let look = self.lookup().await?;
        let mut jobs: Vec<QueueJob> = active.iter().map(|j| look.job(j, None)).collect();
        jobs.extend(plan.iter().map(|e| look.job(&e.job, Some(e))));
        jobs.extend(finished.iter().map(|j| look.job(j, None)));
        let mut printers: Vec<PrinterName> =
            look.printers.values().map(|p| PrinterName { id: p.id, name: p.name.clone() }).collect();
        printers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(QueueSnapshot { now_s: look.now, utc_offset_min: utc_offset_min(), jobs, printers })
    }

    async fn job_inner(&self, id: i64) -> Result<JobDetail, DbError> {
        let db = &self.state.db;
        let record = db.jobs().get(id).await?;
        let waiting =
            matches!(record.state, JobState::AwaitingApproval | JobState::Queued | JobState::Slicing | JobState::Ready);
        let plan = if waiting {
            dispatch::forecast(&self.state.farm).await?.iter().find(|e| e.job.id == id).cloned()
        } else {
            None
        };
        let look = self.lookup().await?;
        let job = look.job(plan.as_ref().map(|e| &e.job).unwrap_or(&record), plan.as_ref());
        let remaining_s = record.state.eq(&JobState::Printing).then(|| look.remaining(&record));
        let history = db
            .jobs()
            .history(id)
            .await?
            .into_iter()
            .map(|t| JobEvent {
                at_s: secs(Some(&t.at)),
                from: t.from.map(|s| s.as_str().to_string()),
                to: t.to.as_str().to_string(),
                who: t.actor_id.and_then(|a| look.names.get(&a).cloned()),
                why: t.reason,
            })
            .collect();
        Ok(JobDetail { now_s: look.now, utc_offset_min: utc_offset_min(), job, history, remaining_s })
    }

    async fn act_inner(&self, caller: Option<Caller>, id: i64, action: &str) -> Result<String, String> {
        let caller = caller.ok_or_else(|| app::auth::text::SIGN_IN_FIRST.to_string())?;
        crate::api::may_act_on_job(&self.state, &caller, id, action).await.map_err(|e| e.message().to_string())?;
        let job = self.state.db.jobs().get(id).await.map_err(db_error)?;
        if let Some(why) = refusal(action, job.state) {
            return Err(why);
        }
        match dispatch::command(&self.state.farm, id, action, Some(caller.user_id), None).await {
            Ok(_) => Ok(done_words(action).to_string()),
            Err(JobError::Db(e)) => Err(db_error(e)),
            Err(JobError::Conflict(m)) if m.starts_with("the printer") => {
                Err(format!("The printer did not do it: {m}. Check the printer, then try again."))
            }
            Err(JobError::Conflict(_)) => Err(text::CHANGED.into()),
            Err(JobError::Invalid(m)) | Err(JobError::Quota(m)) | Err(JobError::Forbidden(m)) => Err(m),
        }
    }

    async fn place_inner(&self, id: i64, after: Option<i64>, before: Option<i64>) -> Result<String, String> {
        let db = &self.state.db;
        let job = db.jobs().get(id).await.map_err(db_error)?;
        let waiting =
            matches!(job.state, JobState::AwaitingApproval | JobState::Queued | JobState::Slicing | JobState::Ready);
        if !waiting {
            return Err(text::ONLY_WAITING_MOVES.into());
        }
        let neighbour = |other: Option<i64>| async move {
            match other {
                Some(o) if o != id => db.jobs().get(o).await.map(Some),
                _ => Ok(None),
            }
        };
        let a = neighbour(after).await.map_err(db_error)?;
        let b = neighbour(before).await.map_err(db_error)?;
        let priority = b.as_ref().or(a.as_ref()).map(|j| j.priority).unwrap_or(job.priority);
        let lo = a.as_ref().filter(|a| a.priority == priority).map(order_key);
        let hi = b.as_ref().filter(|b| b.priority == priority).map(order_key);
        let Some(key) = key_between(lo, hi) else { return Ok(text::MOVED.into()) };
        dispatch::place_in_queue(&self.state.farm, id, Some(key), Some(priority)).await.map_err(db_error)?;
        // Fair shares can keep a job behind another person's: say so rather than pretend it moved.
        let order: Vec<i64> =
            dispatch::forecast(&self.state.farm).await.map_err(db_error)?.iter().map(|e| e.job.id).collect();
        let at = |j: i64| order.iter().position(|&x| x == j);
        let placed = match (at(id), before.and_then(at), after.and_then(at)) {
            (Some(me), Some(b), _) if me > b => false,
            (Some(me), _, Some(a)) if me < a => false,
            _ => true,
        };
        Ok(if placed { text::MOVED } else { text::TAKES_TURNS }.into())
    }

    async fn print_again_inner(&self, caller: Option<Caller>, id: i64) -> Result<i64, String> {
        let caller = caller.ok_or_else(|| app::auth::text::SIGN_IN_FIRST.to_string())?;
        crate::api::may_act_on_job(&self.state, &caller, id, "retry").await.map_err(|e| e.message().to_string())?;
        let db = &self.state.db;
        let job = db.jobs().get(id).await.map_err(db_error)?;
        // The new job belongs to whoever asked for it, so their approval rules and quotas apply.
        let owner = Some((caller.user_id, caller.role));
        let Some(model_version_id) = job.model_version_id else {
            return Err(
                "This job was sent as G-code from a slicer: send it again from the slicer to print it again.".into()
            );
        };
        let submission = Submission {
            model_version_id,
            plate: job.plate.clone(),
            name: Some(job.name.clone()),
            material_kind: job.material_kind.clone(),
            colour: job.colour.clone(),
            quality: Some(job.quality.clone()),
            copies: Some(1),
            printer_group: job.printer_group.clone(),
            // Staff's fields carry over only when staff ask (see dispatch::submit).
            priority: caller.may(crate::db::Role::Teacher).then_some(job.priority),
            deadline: None,
            nozzle_mm: job.nozzle_mm,
            max_attempts: caller.may(crate::db::Role::Teacher).then_some(job.max_attempts),
        };
        match dispatch::submit(&self.state.farm, &submission, owner).await {
            Ok(jobs) => jobs.first().map(|j| j.id).ok_or_else(|| text::CHANGED.to_string()),
            Err(JobError::Invalid(m)) => Err(format!("This job can't be printed again: {m}.")),
            Err(JobError::Conflict(m)) | Err(JobError::Quota(m)) | Err(JobError::Forbidden(m)) => Err(m),
            Err(JobError::Db(e)) => Err(db_error(e)),
        }
    }

    async fn preview_inner(&self, id: i64) -> Result<PreviewData, String> {
        let job = self.state.db.jobs().get(id).await.map_err(db_error)?;
        let Some(rel) = job.gcode_path else { return Err(text::NOT_SLICED.into()) };
        let path = self.state.farm.data_dir().join(rel);
        let meta = tokio::fs::metadata(&path).await.map_err(|_| text::GCODE_GONE.to_string())?;
        let key = (path.clone(), meta.len(), meta.modified().ok());
        if let Some(hit) = preview_cache().lock().expect("preview cache").iter().find(|(k, _)| *k == key) {
            return Ok(hit.1.as_ref().clone());
        }
        let data = tokio::task::spawn_blocking(move || -> Result<String, String> {
            let bytes = std::fs::read(&path).map_err(|_| text::GCODE_UNREADABLE.to_string())?;
            let preview = preview_from_gcode(&String::from_utf8_lossy(&bytes));
            Ok(b64_encode(&preview.encode()))
        })
        .await
        .map_err(|_| text::GCODE_UNREADABLE.to_string())??;
        let out = PreviewData { data, roles: roles() };
        let mut cache = preview_cache().lock().expect("preview cache");
        if cache.len() >= PREVIEW_CACHE {
            cache.remove(0);
        }
        cache.push((key, Arc::new(out.clone())));
        Ok(out)
    }
}

/// How many finished jobs the queue lists.
const RECENT_FINISHED: i64 = 40;
/// How many jobs' previews are kept in memory.
const PREVIEW_CACHE: usize = 16;

type PreviewKey = (PathBuf, u64, Option<std::time::SystemTime>);
type PreviewCache = Mutex<Vec<(PreviewKey, Arc<PreviewData>)>>;

/// Recently built previews, oldest first; keyed by the G-code file and its size and time, so a re-sliced
/// job gets a new preview.
fn preview_cache() -> &'static PreviewCache {
    static CACHE: OnceLock<PreviewCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Every feature with its preview colour (the slicer's legend).
fn roles() -> Vec<PreviewRole> {
    Role::ALL
        .iter()
        .map(|&r| PreviewRole { code: r.code(), label: r.label().to_string(), rgb: slicer::preview::role_colour(r) })
        .collect()
}

fn quantise(v: f64) -> u16 {
    (v * 100.0).round().clamp(0.0, u16::MAX as f64) as u16
}

/// Reads the toolpaths back out of G-code: every extruding move, grouped into layers (a new layer starts
/// when extrusion happens at a new height) and paths (broken by travel, a feature change or a width
/// change), each with the feature its `;TYPE:` comment names. Extrusion before the first `;TYPE:` (the
/// printer's purge line) is left out when the file has such comments; files without them show every
/// extrusion as perimeter.
pub fn preview_from_gcode(gcode: &str) -> Preview {
    let typed = gcode.contains(";TYPE:");
    let mut role: Option<Role> = if typed { None } else { Some(Role::Perimeter) };
    let mut width: f32 = 0.45;
    let (mut abs_xyz, mut rel_e) = (true, false);
    let (mut pos, mut e) = ([0.0f64; 3], 0.0f64);
    let mut layers: Vec<PreviewLayer> = Vec::new();
    let mut path: Option<PreviewPath> = None;
    fn flush(layers: &mut [PreviewLayer], path: &mut Option<PreviewPath>) {
        if let (Some(p), Some(layer)) = (path.take(), layers.last_mut()) {
            if p.points.len() >= 2 {
                layer.paths.push(p);
            }
        }
    }
    for raw in gcode.lines() {
        let line = raw.trim();
        if let Some(comment) = line.strip_prefix(';') {
            if let Some(label) = comment.strip_prefix("TYPE:") {
                let next = Role::ALL.iter().copied().find(|r| r.label() == label.trim());
                if next != role {
                    flush(&mut layers, &mut path);
                    role = next;
                }
            } else if let Some(w) = comment.strip_prefix("WIDTH:") {
                if let Ok(w) = w.trim().parse::<f32>() {
                    if (w - width).abs() > 1e-4 {
                        flush(&mut layers, &mut path);
                        width = w;
                    }
                }
            }
            continue;
        }
        let code = line.split(';').next().unwrap_or_default();
        let mut words = code.split_whitespace();
        let Some(cmd) = words.next() else { continue };
        let mut arg = [None::<f64>; 4];
        let mut collect = |words: std::str::SplitWhitespace<'_>| {
            for w in words {
                let mut chars = w.chars();
                let slot = match chars.next() {
                    Some('X' | 'x') => 0,
                    Some('Y' | 'y') => 1,
                    Some('Z' | 'z') => 2,
                    Some('E' | 'e') => 3,
                    _ => continue,
                };
                arg[slot] = chars.as_str().parse().ok();
            }
        };
        match cmd.to_ascii_uppercase().as_str() {
            "G0" | "G1" | "G00" | "G01" => {
                collect(words);
                let mut to = pos;
                for a in 0..3 {
                    if let Some(v) = arg[a] {
                        to[a] = if abs_xyz { v } else { pos[a] + v };
                    }
                }
                let de = match arg[3] {
                    Some(v) if rel_e => v,
                    Some(v) => {
                        let d = v - e;
                        e = v;
                        d
                    }
                    None => 0.0,
                };
                if rel_e {
                    e += de;
                }
                let moved_xy = (to[0] - pos[0]).abs() > 1e-9 || (to[1] - pos[1]).abs() > 1e-9;
                if de > 1e-9 && moved_xy {
                    if let Some(r) = role {
                        let new_layer = layers.last().is_none_or(|l| (f64::from(l.z) - to[2]).abs() > 1e-4);
                        if new_layer {
                            flush(&mut layers, &mut path);
                            let below = layers.last().map(|l| l.z).unwrap_or(0.0);
                            let z = to[2] as f32;
                            layers.push(PreviewLayer { z, height: (z - below).max(0.0), paths: Vec::new() });
                        }
                        let from = [quantise(pos[0]), quantise(pos[1])];
                        let p = path.get_or_insert_with(|| PreviewPath {
                            role: r,
                            width,
                            closed: false,
                            points: vec![from],
                        });
                        p.points.push([quantise(to[0]), quantise(to[1])]);
                    }
                } else if moved_xy {
                    flush(&mut layers, &mut path);
                }
                pos = to;
            }
            "G90" => abs_xyz = true,
            "G91" => abs_xyz = false,
            "M82" => rel_e = false,
            "M83" => rel_e = true,
            "G92" => {
                collect(words);
                for a in 0..3 {
                    if let Some(v) = arg[a] {
                        pos[a] = v;
                    }
                }
                if let Some(v) = arg[3] {
                    e = v;
                }
            }
            _ => {}
        }
    }
    flush(&mut layers, &mut path);
    // Layers that only had a purge blob too short to draw add nothing.
    layers.retain(|l| !l.paths.is_empty());
    Preview { layers }
}

impl QueueDesk for Desk {
    fn snapshot(&self) -> DeskFuture<'_, QueueSnapshot> {
        Box::pin(async move { self.snapshot_inner().await.map_err(db_error) })
    }

    fn job(&self, id: i64) -> DeskFuture<'_, JobDetail> {
        Box::pin(async move { self.job_inner(id).await.map_err(db_error) })
    }

    fn act(&self, id: i64, action: String) -> DeskFuture<'_, String> {
        let caller = crate::auth::current();
        Box::pin(async move { self.act_inner(caller, id, &action).await })
    }

    fn place(&self, id: i64, after: Option<i64>, before: Option<i64>) -> DeskFuture<'_, String> {
        Box::pin(async move { self.place_inner(id, after, before).await })
    }

    fn print_again(&self, id: i64) -> DeskFuture<'_, i64> {
        let caller = crate::auth::current();
        Box::pin(async move { self.print_again_inner(caller, id).await })
    }

    fn preview(&self, id: i64) -> DeskFuture<'_, PreviewData> {
        Box::pin(async move { self.preview_inner(id).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_fall_between_neighbours() {
        assert_eq!(key_between(Some(10.0), Some(20.0)), Some(15.0));
        assert_eq!(key_between(None, Some(20.0)), Some(19.999));
        assert_eq!(key_between(Some(10.0), None), Some(10.001));
        assert_eq!(key_between(None, None), None);
        // Neighbours out of key order (fair shares): just before the one it should precede.
        assert_eq!(key_between(Some(30.0), Some(20.0)), Some(19.999));
        // Repeated drops between the same two jobs keep finding room.
        let (mut lo, hi) = (100.0, 101.0);
        for _ in 0..30 {
            let k = key_between(Some(lo), Some(hi)).unwrap();
            assert!(k > lo && k < hi);
            lo = k;
        }
    }

    #[test]
    fn refusals_are_sentences_for_people() {
        assert_eq!(
            refusal("cancel", JobState::Done).as_deref(),
            Some("This job can't be cancelled because it already finished.")
        );
        assert!(refusal("cancel", JobState::Printing).is_none());
        assert!(refusal("approve", JobState::AwaitingApproval).is_none());
        assert!(refusal("approve", JobState::Queued).unwrap().contains("waiting in the queue"));
        assert!(refusal("retry", JobState::Done).unwrap().contains("Print again"));
        assert!(refusal("explode", JobState::Queued).unwrap().contains("not something"));
    }

    #[test]
    fn gcode_reads_back_as_layers_and_features() {
        let gcode = "\
G90\nM83\nG1 Z0.3 F600\nG1 X5 Y5 E2 ; purge line, left out\n;LAYER_CHANGE\n;Z:0.3\n;TYPE:External perimeter\n\
;WIDTH:0.45\nG1 X10 Y10 F9000\nG1 X20 Y10 E0.5\nG1 X20 Y20 E0.5\nG1 X10 Y10 E0.5\nG1 E-0.8 ; retract\n\
G1 X12 Y12\nG1 E0.8\n;TYPE:Internal infill\nG1 X18 Y18 E0.3\n;LAYER_CHANGE\n;Z:0.5\nG1 Z0.7\nG1 X11 Y11\n\
G1 Z0.5\n;TYPE:Perimeter\nG1 X19 Y11 E0.4\n";
        let p = preview_from_gcode(gcode);
        assert_eq!(p.layers.len(), 2, "{p:#?}");
        assert!((p.layers[0].z - 0.3).abs() < 1e-6 && (p.layers[1].height - 0.2).abs() < 1e-5);
        let first = &p.layers[0].paths;
        assert_eq!(first.len(), 2, "the travel after the retract breaks the path: {first:#?}");
        assert_eq!(first[0].role, Role::ExternalPerimeter);
        assert_eq!(first[0].points, vec![[1000, 1000], [2000, 1000], [2000, 2000], [1000, 1000]]);
        assert_eq!(first[1].role, Role::InternalInfill);
        assert_eq!(p.layers[1].paths[0].role, Role::Perimeter);
    }

    #[test]
    fn absolute_extrusion_and_resets_are_followed() {
        let gcode = ";TYPE:Perimeter\nM82\nG92 E0\nG1 Z0.2\nG1 X0 Y0\nG1 X10 Y0 E1\nG1 X10 Y10 E2\nG92 E0\n\
G1 X0 Y10 E1\nG1 X0 Y0 E1 ; no extrusion: E did not grow\n";
        let p = preview_from_gcode(gcode);
        assert_eq!(p.layers.len(), 1);
        assert_eq!(p.layers[0].paths.len(), 1);
        assert_eq!(p.layers[0].paths[0].points.len(), 4);
    }

    /// The real slicer's G-code reads back with the same layers as its own preview, and the page's
    /// decoder reads what the server encodes.
    #[test]
    fn sliced_gcode_matches_the_slicers_preview() {
        let cube = mesh::primitives::box_mesh([100.0, 100.0, 0.0], [110.0, 110.0, 3.0]);
        let plate = slicer::Plate::from_meshes(vec![("cube".into(), cube)]);
        let profile = slicer::settings::presets::profile("generic-220-marlin2", "pla", "0.20-standard")
            .expect("built-in profile");
        let out = slicer::slice(&plate, &profile, &slicer::SliceControl::default()).expect("slices");
        let ours = preview_from_gcode(&String::from_utf8_lossy(&out.gcode));
        assert_eq!(ours.layers.len(), out.preview.layers.len());
        for (a, b) in ours.layers.iter().zip(&out.preview.layers) {
            assert!((a.z - b.z).abs() < 1e-3, "{} vs {}", a.z, b.z);
            let roles = |l: &PreviewLayer| {
                let mut r: Vec<u8> = l.paths.iter().map(|p| p.role.code()).collect();
                r.sort_unstable();
                r.dedup();
                r
            };
            assert_eq!(roles(a), roles(b), "layer at z {}", a.z);
        }
        let decoded = app::api::queue::decode_preview(&ours.encode()).expect("decodes");
        assert_eq!(decoded.len(), ours.layers.len());
        assert_eq!(decoded[0].paths.len(), ours.layers[0].paths.len());
    }
}
