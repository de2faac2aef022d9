use std::fmt;
use std::str::FromStr;

use sqlx::{FromRow, SqlitePool};

use super::{parse_column, DbError};

/// Where a job is in its life. Terminal states are `Done`, `Failed` and `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// The lifecycle's edges. Anything not finished may be cancelled; a failed job may be queued again.
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
                | (Slicing, Ready | Failed)
                | (Ready, Assigned)
                | (Assigned, Printing | Queued | Failed)
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

/// What a submitter asks for.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub model_version_id: i64,
    pub owner_id: Option<i64>,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    pub quality: String,
    pub copies: i64,
    pub printer_group: Option<String>,
    pub priority: i64,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: i64,
    pub model_version_id: i64,
    pub owner_id: Option<i64>,
    pub state: JobState,
    pub copies: i64,
    pub priority: i64,
    pub printer_id: Option<i64>,
}

#[derive(FromRow)]
struct JobRow {
    id: i64,
    model_version_id: i64,
    owner_id: Option<i64>,
    state: String,
    copies: i64,
    priority: i64,
    printer_id: Option<i64>,
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq)]
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

/// Reads and writes `jobs` and `job_transitions`; every state change goes through here.
pub struct JobRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> JobRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    /// Records a new job in `submitted`, with its first transition.
    pub async fn submit(&self, job: &NewJob, reason: Option<&str>) -> Result<i64, DbError> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query(
            "INSERT INTO jobs (model_version_id, owner_id, state, material_kind, colour, quality, copies, printer_group, priority)
             VALUES (?, ?, 'submitted', ?, ?, ?, ?, ?, ?)",
        )
        .bind(job.model_version_id)
        .bind(job.owner_id)
        .bind(&job.material_kind)
        .bind(&job.colour)
        .bind(&job.quality)
        .bind(job.copies)
        .bind(&job.printer_group)
        .bind(job.priority)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        sqlx::query("INSERT INTO job_transitions (job_id, from_state, to_state, actor_id, reason) VALUES (?, NULL, 'submitted', ?, ?)")
            .bind(id)
            .bind(job.owner_id)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn get(&self, id: i64) -> Result<JobRecord, DbError> {
        let r: JobRow = sqlx::query_as(
            "SELECT id, model_version_id, owner_id, state, copies, priority, printer_id FROM jobs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool)
        .await?
        .ok_or(DbError::NotFound { kind: "job", id })?;
        Ok(JobRecord {
            id: r.id,
            model_version_id: r.model_version_id,
            owner_id: r.owner_id,
            state: parse_column("jobs.state", r.state)?,
            copies: r.copies,
            priority: r.priority,
            printer_id: r.printer_id,
        })
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
        let mut tx = self.pool.begin().await?;
        let current: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DbError::NotFound { kind: "job", id })?;
        let from: JobState = parse_column("jobs.state", current)?;
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
        sqlx::query(
            "INSERT INTO job_transitions (job_id, from_state, to_state, actor_id, reason) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(actor)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
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
