use std::fmt;
use std::str::FromStr;

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{parse_column, DbError};

/// Where a job is in its life. Terminal states are `Done`, `Failed` and `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Submitted,
    AwaitingApproval,
    Queued,
    Slicing,
    Ready,
    Assigned,
    Printing,
    Paused,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 11] = [
        JobState::Submitted,
        JobState::AwaitingApproval,
        JobState::Queued,
        JobState::Slicing,
        JobState::Ready,
        JobState::Assigned,
        JobState::Printing,
        JobState::Paused,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Submitted => "submitted",
            JobState::AwaitingApproval => "awaiting_approval",
            JobState::Queued => "queued",
            JobState::Slicing => "slicing",
            JobState::Ready => "ready",
            JobState::Assigned => "assigned",
            JobState::Printing => "printing",
            JobState::Paused => "paused",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Cancelled)
    }

    /// The lifecycle's edges. Anything not finished may be cancelled; a failed job may be queued again;
    /// work interrupted by a restart (slicing, assigned) goes back a step.
    pub fn can_become(self, to: JobState) -> bool {
        use JobState::*;
        if to == Cancelled {
            return !self.is_terminal();
        }
        matches!(
            (self, to),
            (Submitted, AwaitingApproval | Queued)
                | (AwaitingApproval, Queued)
                | (Queued, Slicing)
                // Uploaded G-code is sliced already (see `JobRecord::presliced`).
                | (Queued, Ready)
                | (Slicing, Ready | Failed | Queued)
                | (Ready, Assigned | Queued)
                | (Assigned, Printing | Ready | Queued | Failed)
                | (Printing, Paused | Done | Failed)
                | (Paused, Printing | Failed)
                | (Failed, Queued)
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        JobState::ALL.into_iter().find(|j| j.as_str() == s).ok_or(())
    }
}

/// What a submitter asks for. `copies` jobs are made, one per copy, sharing a batch.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    /// `None` only for uploaded G-code (`presliced` set).
    pub model_version_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Shown in the queue; defaults to the model's name.
    pub name: String,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    pub quality: String,
    pub copies: i64,
    pub printer_group: Option<String>,
    pub priority: i64,
    /// UTC ISO-8601.
    pub deadline: Option<String>,
    pub nozzle_mm: Option<f64>,
    /// The plate's bounding box, mm.
    pub size_mm: [f64; 3],
    /// Prints started before the job stays failed; 0 means the farm's default.
    pub max_attempts: i64,
    /// Further model versions printed on the same plate.
    pub plate: Vec<i64>,
    /// G-code that came sliced: printed as it is, never sliced by the farm.
    pub presliced: Option<Presliced>,
}

/// G-code a slicer sent ready to print, and what its comments say about it.
#[derive(Debug, Clone, Default)]
pub struct Presliced {
    /// Relative to the data directory.
    pub gcode_path: String,
    pub estimate_s: Option<i64>,
    pub filament_g: Option<f64>,
    /// What it was sliced for, in words (the slicer and printer named in its comments).
    pub sliced_for: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub name: String,
    /// `None` for uploaded G-code.
    pub model_version_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub state: JobState,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    pub quality: String,
    pub copies: i64,
    pub batch_id: Option<i64>,
    pub copy_index: i64,
    pub printer_group: Option<String>,
    pub priority: i64,
    pub deadline: Option<String>,
    pub nozzle_mm: Option<f64>,
    pub size_mm: [f64; 3],
    pub printer_id: Option<i64>,
    pub gcode_path: Option<String>,
    pub estimate_s: Option<i64>,
    pub filament_g: Option<f64>,
    pub sliced_for: Option<String>,
    pub remote_file: Option<String>,
    pub spool_id: Option<i64>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub avoid_printers: Vec<i64>,
    pub progress: Option<f64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub print_s: f64,
    pub filament_used_g: f64,
    pub cost: f64,
    pub error: Option<String>,
    pub queue_pos: Option<f64>,
    /// Further model versions on the same plate.
    pub plate: Vec<i64>,
    /// The G-code came sliced (uploaded from a slicer): the farm sends it as it is and never slices it.
    pub presliced: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(FromRow)]
struct JobRow {
    id: i64,
    name: String,
    model_version_id: Option<i64>,
    owner_id: Option<i64>,
    state: String,
    material_kind: Option<String>,
    colour: Option<String>,
    quality: String,
    copies: i64,
    batch_id: Option<i64>,
    copy_index: i64,
    printer_group: Option<String>,
    priority: i64,
    deadline: Option<String>,
    nozzle_mm: Option<f64>,
    size_x_mm: f64,
    size_y_mm: f64,
    size_z_mm: f64,
    printer_id: Option<i64>,
    gcode_path: Option<String>,
    estimate_s: Option<i64>,
    filament_g: Option<f64>,
    sliced_for: Option<String>,
    remote_file: Option<String>,
    spool_id: Option<i64>,
    attempts: i64,
    max_attempts: i64,
    #[sqlx(json)]
    avoid_printers: Vec<i64>,
    progress: Option<f64>,
    started_at: Option<String>,
    finished_at: Option<String>,
    print_s: f64,
    filament_used_g: f64,
    cost: f64,
    error: Option<String>,
    queue_pos: Option<f64>,
    #[sqlx(json)]
    plate: Vec<i64>,
    presliced: bool,
    created_at: String,
    updated_at: String,
}

const JOB_COLUMNS: &str = "id, name, model_version_id, owner_id, state, material_kind, colour, quality, copies, batch_id, \
     copy_index, printer_group, priority, deadline, nozzle_mm, size_x_mm, size_y_mm, size_z_mm, printer_id, gcode_path, \
     estimate_s, filament_g, sliced_for, remote_file, spool_id, attempts, max_attempts, avoid_printers, progress, \
     started_at, finished_at, print_s, filament_used_g, cost, error, queue_pos, plate, presliced, created_at, updated_at";

impl TryFrom<JobRow> for JobRecord {
    type Error = DbError;
    fn try_from(r: JobRow) -> Result<Self, DbError> {
        Ok(JobRecord {
            id: r.id,
            name: r.name,
            model_version_id: r.model_version_id,
            owner_id: r.owner_id,
            state: parse_column("jobs.state", r.state)?,
            material_kind: r.material_kind,
            colour: r.colour,
            quality: r.quality,
            copies: r.copies,
            batch_id: r.batch_id,
            copy_index: r.copy_index,
            printer_group: r.printer_group,
            priority: r.priority,
            deadline: r.deadline,
            nozzle_mm: r.nozzle_mm,
            size_mm: [r.size_x_mm, r.size_y_mm, r.size_z_mm],
            printer_id: r.printer_id,
            gcode_path: r.gcode_path,
            estimate_s: r.estimate_s,
            filament_g: r.filament_g,
            sliced_for: r.sliced_for,
            remote_file: r.remote_file,
            spool_id: r.spool_id,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            avoid_printers: r.avoid_printers,
            progress: r.progress,
            started_at: r.started_at,
            finished_at: r.finished_at,
            print_s: r.print_s,
            filament_used_g: r.filament_used_g,
            cost: r.cost,
            error: r.error,
            queue_pos: r.queue_pos,
            plate: r.plate,
            presliced: r.presliced,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobTransition {
    pub from: Option<JobState>,
    pub to: JobState,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub at: String,
}

#[derive(FromRow)]
struct TransitionRow {
    from_state: Option<String>,
    to_state: String,
    actor_id: Option<i64>,
    reason: Option<String>,
    at: String,
}

/// Which jobs a listing returns.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Empty = every state.
    pub states: Vec<JobState>,
    pub owner_id: Option<i64>,
    pub printer_id: Option<i64>,
    /// Newest first when set; otherwise oldest first.
    pub newest_first: bool,
    pub limit: Option<i64>,
}

/// How a print attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintOutcome {
    /// `Done`, `Failed` or `Cancelled`.
    pub state: JobState,
    pub reason: Option<String>,
    pub actor_id: Option<i64>,
    /// The printer's own error text, verbatim.
    pub error: Option<String>,
    /// Seconds this attempt printed.
    pub seconds: f64,
    /// Filament this attempt used (the whole estimate when done, a share of it otherwise).
    pub filament_g: f64,
    /// Whether the printer must wait for "bed cleared" before its next job.
    pub needs_bed_clear: bool,
}

/// Reads and writes `jobs`, `job_transitions` and `print_runs`; every state change goes through here.
pub struct JobRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> JobRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    /// Records a new job in `submitted`, with its first transition; `copies` > 1 makes a batch of
    /// one job per copy. Returns the ids, first copy first.
    pub async fn submit(&self, job: &NewJob, reason: Option<&str>) -> Result<Vec<i64>, DbError> {
        let copies = job.copies.max(1);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut ids = Vec::with_capacity(copies as usize);
        for copy in 1..=copies {
            let id = sqlx::query(
                "INSERT INTO jobs (model_version_id, owner_id, state, name, material_kind, colour, quality, copies,
                                   printer_group, priority, deadline, nozzle_mm, size_x_mm, size_y_mm, size_z_mm,
                                   max_attempts, batch_id, copy_index, plate, presliced, gcode_path, estimate_s,
                                   filament_g, sliced_for)
                 VALUES (?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(job.model_version_id)
            .bind(job.owner_id)
            .bind(&job.name)
            .bind(&job.material_kind)
            .bind(&job.colour)
            .bind(if job.quality.is_empty() { "standard" } else { job.quality.as_str() })
            .bind(copies)
            .bind(&job.printer_group)
            .bind(job.priority)
            .bind(&job.deadline)
            .bind(job.nozzle_mm)
            .bind(job.size_mm[0])
            .bind(job.size_mm[1])
            .bind(job.size_mm[2])
            .bind(if job.max_attempts > 0 { job.max_attempts } else { 3 })
            .bind(ids.first().copied())
            .bind(copy)
            .bind(serde_json::to_string(&job.plate).unwrap_or_else(|_| "[]".into()))
            .bind(job.presliced.is_some())
            .bind(job.presliced.as_ref().map(|p| &p.gcode_path))
            .bind(job.presliced.as_ref().and_then(|p| p.estimate_s))
            .bind(job.presliced.as_ref().and_then(|p| p.filament_g))
            .bind(job.presliced.as_ref().map(|p| &p.sliced_for))
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            if copy == 1 && copies > 1 {
                sqlx::query("UPDATE jobs SET batch_id = id WHERE id = ?").bind(id).execute(&mut *tx).await?;
            }
            record(&mut tx, id, None, JobState::Submitted, job.owner_id, reason).await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn get(&self, id: i64) -> Result<JobRecord, DbError> {
        let row: JobRow = sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?
            .ok_or(DbError::NotFound { kind: "job", id })?;
        row.try_into()
    }

    /// Jobs matching `filter`.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, DbError> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
        if !filter.states.is_empty() {
            let states: Vec<String> = filter.states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" AND state IN ({})", states.join(", ")));
        }
        if filter.owner_id.is_some() {
            sql.push_str(" AND owner_id = ?");
        }
        if filter.printer_id.is_some() {
            sql.push_str(" AND printer_id = ?");
        }
        sql.push_str(if filter.newest_first { " ORDER BY id DESC" } else { " ORDER BY id" });
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", limit.max(0)));
        }
        let mut q = sqlx::query_as::<_, JobRow>(&sql);
        if let Some(owner) = filter.owner_id {
            q = q.bind(owner);
        }
        if let Some(printer) = filter.printer_id {
            q = q.bind(printer);
        }
        q.fetch_all(self.pool).await?.into_iter().map(JobRecord::try_from).collect()
    }

    /// How many jobs are in each state (states with none are left out).
    pub async fn count_by_state(&self) -> Result<Vec<(String, i64)>, DbError> {
        Ok(sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
            .fetch_all(self.pool)
            .await?)
    }

    /// Every job that holds a printer (assigned, printing or paused), oldest first.
    pub async fn active(&self) -> Result<Vec<JobRecord>, DbError> {
        self.list(&JobFilter {
            states: vec![JobState::Assigned, JobState::Printing, JobState::Paused],
            ..Default::default()
        })
        .await
    }

    /// How many of a person's jobs are not finished (waiting, printing or paused).
    pub async fn unfinished_of(&self, owner_id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner_id = ? AND state NOT IN ('done', 'failed', 'cancelled')",
        )
        .bind(owner_id)
        .fetch_one(self.pool)
        .await?)
    }

    /// Grams of filament a person's jobs of the last seven days use, as far as they are known (sliced or
    /// printed; cancelled-before-printing jobs do not count).
    pub async fn grams_this_week(&self, owner_id: i64) -> Result<f64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(filament_g), 0.0) FROM jobs
             WHERE owner_id = ? AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
               AND NOT (state = 'cancelled' AND attempts = 0)",
        )
        .bind(owner_id)
        .fetch_one(self.pool)
        .await?)
    }

    /// The job a printer holds (assigned, printing or paused), if any.
    pub async fn active_on(&self, printer_id: i64) -> Result<Option<JobRecord>, DbError> {
        let row: Option<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE printer_id = ? AND state IN ('assigned', 'printing', 'paused')
             ORDER BY id LIMIT 1"
        ))
        .bind(printer_id)
        .fetch_optional(self.pool)
        .await?;
        row.map(JobRecord::try_from).transpose()
    }

    /// Stores a slice's results. From `slicing` the job becomes `ready`; an assigned job re-sliced for
    /// its printer keeps its state.
    pub async fn sliced(
        &self,
        id: i64,
        gcode_path: &str,
        estimate_s: i64,
        filament_g: f64,
        sliced_for: &str,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let from = current_state(&mut tx, id).await?;
        sqlx::query(
            "UPDATE jobs SET gcode_path = ?, estimate_s = ?, filament_g = ?, sliced_for = ?, error = NULL,
                             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        )
        .bind(gcode_path)
        .bind(estimate_s)
        .bind(filament_g)
        .bind(sliced_for)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if from == JobState::Slicing {
            move_state(&mut tx, id, from, JobState::Ready, None, Some(&format!("sliced for {sliced_for}"))).await?;
        } else if from != JobState::Assigned {
            return Err(DbError::InvalidTransition { job: id, from, to: JobState::Ready });
        }
        tx.commit().await?;
        Ok(())
    }

    /// `ready` → `assigned` to `printer_id`, unless the printer already holds a job (then `Ok(false)`).
    pub async fn assign(&self, id: i64, printer_id: i64, reason: &str) -> Result<bool, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let busy: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE printer_id = ? AND state IN ('assigned', 'printing', 'paused')",
        )
        .bind(printer_id)
        .fetch_one(&mut *tx)
        .await?;
        if busy > 0 {
            return Ok(false);
        }
        let from = current_state(&mut tx, id).await?;
        move_state(&mut tx, id, from, JobState::Assigned, None, Some(reason)).await?;
        sqlx::query("UPDATE jobs SET printer_id = ?, progress = NULL WHERE id = ?")
            .bind(printer_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the file name an attempt will print under, before it is sent, so that after a crash the
    /// farm can tell whether the printer is already printing it (and never starts it twice).
    pub async fn prepare_attempt(&self, id: i64, remote_file: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET remote_file = ? WHERE id = ? AND state = 'assigned'")
            .bind(remote_file)
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// `assigned` → `printing`: counts the attempt and opens its print run.
    pub async fn started(&self, id: i64, spool_id: Option<i64>, reason: &str) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let from = current_state(&mut tx, id).await?;
        move_state(&mut tx, id, from, JobState::Printing, None, Some(reason)).await?;
        sqlx::query(
            "UPDATE jobs SET attempts = attempts + 1, spool_id = ?, progress = 0,
                             started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), finished_at = NULL WHERE id = ?",
        )
        .bind(spool_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO print_runs (job_id, printer_id, owner_id, spool_id)
             SELECT id, printer_id, owner_id, spool_id FROM jobs WHERE id = ?",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the latest progress (0–1) of a printing job.
    pub async fn set_progress(&self, id: i64, progress: f64) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET progress = ? WHERE id = ?").bind(progress).bind(id).execute(self.pool).await?;
        Ok(())
    }

    /// Ends a print attempt in one transaction: the job's state, its print run, the filament taken off
    /// the spool (and its cost), and the printer's bed-clear gate.
    pub async fn finish(&self, id: i64, outcome: &PrintOutcome) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let from = current_state(&mut tx, id).await?;
        move_state(&mut tx, id, from, outcome.state, outcome.actor_id, outcome.reason.as_deref()).await?;
        let (printer_id, spool_id): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT printer_id, spool_id FROM jobs WHERE id = ?").bind(id).fetch_one(&mut *tx).await?;
        let cost_per_g: f64 = match spool_id {
            Some(spool) => sqlx::query_scalar(
                "SELECT COALESCE(m.cost_per_kg, 0) / 1000.0 FROM spools s JOIN materials m ON m.id = s.material_id
                 WHERE s.id = ?",
            )
            .bind(spool)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0.0),
            None => 0.0,
        };
        let grams = outcome.filament_g.max(0.0);
        let cost = grams * cost_per_g;
        if let Some(spool) = spool_id {
            sqlx::query("UPDATE spools SET remaining_g = MAX(0, remaining_g - ?) WHERE id = ?")
                .bind(grams)
                .bind(spool)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE jobs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), print_s = print_s + ?,
                             filament_used_g = filament_used_g + ?, cost = cost + ?, error = COALESCE(?, error),
                             progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END
             WHERE id = ?",
        )
        .bind(outcome.seconds)
        .bind(grams)
        .bind(cost)
        .bind(&outcome.error)
        .bind(outcome.state.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE print_runs SET ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), outcome = ?, seconds = ?,
                                   filament_g = ?, cost = ?, error = ?
             WHERE id = (SELECT MAX(id) FROM print_runs WHERE job_id = ?) AND outcome IS NULL",
        )
        .bind(match outcome.state {
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            _ => "failed",
        })
        .bind(outcome.seconds)
        .bind(grams)
        .bind(cost)
        .bind(&outcome.error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let (Some(printer), true) = (printer_id, outcome.needs_bed_clear) {
            sqlx::query("UPDATE printers SET bed_clear = 0 WHERE id = ? AND require_bed_clear = 1")
                .bind(printer)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A failed job goes back to the queue when it has attempts left, avoiding the printer it failed
    /// on. Returns whether it was re-queued.
    pub async fn retry(&self, id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (state, attempts, max, printer, avoid): (String, i64, i64, Option<i64>, String) =
            sqlx::query_as("SELECT state, attempts, max_attempts, printer_id, avoid_printers FROM jobs WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(DbError::NotFound { kind: "job", id })?;
        let state: JobState = parse_column("jobs.state", state)?;
        if state != JobState::Failed || attempts >= max {
            return Ok(false);
        }
        let mut avoid: Vec<i64> = serde_json::from_str(&avoid).unwrap_or_default();
        if let Some(p) = printer {
            if !avoid.contains(&p) {
                avoid.push(p);
            }
        }
        let reason = format!("retry {} of {}", attempts + 1, max);
        move_state(&mut tx, id, state, JobState::Queued, None, Some(&reason)).await?;
        // The G-code stays: the next printer re-slices only when its profile differs.
        sqlx::query(
            "UPDATE jobs SET printer_id = NULL, remote_file = NULL, progress = NULL, avoid_printers = ? WHERE id = ?",
        )
        .bind(serde_json::to_string(&avoid).unwrap_or_else(|_| "[]".into()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a job back out of `assigned` (its printer could not take it), forgetting the printer.
    pub async fn unassign(&self, id: i64, reason: &str) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let from = current_state(&mut tx, id).await?;
        move_state(&mut tx, id, from, JobState::Ready, None, Some(reason)).await?;
        sqlx::query("UPDATE jobs SET printer_id = NULL, remote_file = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Another copy in the same batch already sliced with profile `key`: its G-code path, time and filament.
    pub async fn sliced_sibling(
        &self,
        batch: i64,
        except: i64,
        key: &str,
    ) -> Result<Option<(String, i64, f64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT gcode_path, estimate_s, filament_g FROM jobs
             WHERE batch_id = ? AND id != ? AND sliced_for = ? AND gcode_path IS NOT NULL AND estimate_s IS NOT NULL
                   AND filament_g IS NOT NULL
             ORDER BY id LIMIT 1",
        )
        .bind(batch)
        .bind(except)
        .bind(key)
        .fetch_optional(self.pool)
        .await?)
    }

    /// Records why a job is held up or failed, in words for people.
    pub async fn set_error(&self, id: i64, error: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET error = ? WHERE id = ?").bind(error).bind(id).execute(self.pool).await?;
        Ok(())
    }

    /// A manager's manual position within the job's priority (lower first); `None` restores submission order.
    pub async fn set_queue_position(&self, id: i64, pos: Option<f64>, priority: Option<i64>) -> Result<(), DbError> {
        let changed = sqlx::query("UPDATE jobs SET queue_pos = ?, priority = COALESCE(?, priority) WHERE id = ?")
            .bind(pos)
            .bind(priority)
            .bind(id)
            .execute(self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound { kind: "job", id });
        }
        Ok(())
    }

    /// Moves a job to `to` if the lifecycle allows it from its current state, recording who and why.
    /// The update is a compare-and-set on the state, so two racing callers cannot both succeed.
    pub async fn transition(
        &self,
        id: i64,
        to: JobState,
        actor: Option<i64>,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let from = current_state(&mut tx, id).await?;
        move_state(&mut tx, id, from, to, actor, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every transition of a job, oldest first.
    pub async fn history(&self, id: i64) -> Result<Vec<JobTransition>, DbError> {
        let rows: Vec<TransitionRow> = sqlx::query_as(
            "SELECT from_state, to_state, actor_id, reason, at FROM job_transitions WHERE job_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(JobTransition {
                    from: r.from_state.map(|s| parse_column("job_transitions.from_state", s)).transpose()?,
                    to: parse_column("job_transitions.to_state", r.to_state)?,
                    actor_id: r.actor_id,
                    reason: r.reason,
                    at: r.at,
                })
            })
            .collect()
    }
}

async fn current_state(tx: &mut SqliteConnection, id: i64) -> Result<JobState, DbError> {
    let current: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DbError::NotFound { kind: "job", id })?;
    parse_column("jobs.state", current)
}

/// The one place a job's state changes: a compare-and-set on the state (two racing callers cannot
/// both succeed) plus its transition row.
async fn move_state(
    tx: &mut SqliteConnection,
    id: i64,
    from: JobState,
    to: JobState,
    actor: Option<i64>,
    reason: Option<&str>,
) -> Result<(), DbError> {
    if !from.can_become(to) {
        return Err(DbError::InvalidTransition { job: id, from, to });
    }
    let changed = sqlx::query(
        "UPDATE jobs SET state = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND state = ?",
    )
    .bind(to.as_str())
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(DbError::InvalidTransition { job: id, from, to });
    }
    record(tx, id, Some(from), to, actor, reason).await
}

async fn record(
    tx: &mut SqliteConnection,
    id: i64,
    from: Option<JobState>,
    to: JobState,
    actor: Option<i64>,
    reason: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query("INSERT INTO job_transitions (job_id, from_state, to_state, actor_id, reason) VALUES (?, ?, ?, ?, ?)")
        .bind(id)
        .bind(from.map(JobState::as_str))
        .bind(to.as_str())
        .bind(actor)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_edges() {
        use JobState::*;
        assert!(Submitted.can_become(AwaitingApproval));
        assert!(Printing.can_become(Paused) && Paused.can_become(Printing));
        assert!(Printing.can_become(Cancelled));
        assert!(!Done.can_become(Cancelled), "finished jobs stay finished");
        assert!(!Queued.can_become(Printing), "a job is sliced and assigned before it prints");
        assert!(Failed.can_become(Queued), "failed jobs may be retried");
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
        }
    }
}
