//! `generation_requests`: prompts waiting for, being given or given a model.

use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// Where a generation request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl GenerationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, DbError> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => return Err(DbError::BadValue { column: "generation_requests.status", value: other.into() }),
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// A request as planned at submission.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGeneration {
    pub user_id: Option<i64>,
    pub prompt: String,
    pub normalised_prompt: String,
    pub quality: String,
    pub seed: i64,
    /// `procedural` or `shap-e`.
    pub tier: String,
    pub template: Option<String>,
    pub params: serde_json::Value,
    pub size_mm: Option<f64>,
    pub cache_key: String,
}

/// One stored generation request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GenerationRecord {
    pub id: i64,
    pub user_id: Option<i64>,
    pub prompt: String,
    pub normalised_prompt: String,
    pub quality: String,
    pub seed: i64,
    pub tier: String,
    pub template: Option<String>,
    pub params: serde_json::Value,
    pub size_mm: Option<f64>,
    pub batch_id: Option<i64>,
    pub state: GenerationState,
    pub step: i64,
    pub total_steps: i64,
    pub cache_key: Option<String>,
    /// Answered from the cache without running a generator.
    pub cached: bool,
    pub model_id: Option<i64>,
    pub model_version_id: Option<i64>,
    pub error: Option<String>,
    /// What the output path did, in words.
    pub notes: Vec<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    user_id: Option<i64>,
    prompt: String,
    normalised_prompt: String,
    quality: String,
    seed: i64,
    tier: String,
    template: Option<String>,
    params: String,
    size_mm: Option<f64>,
    batch_id: Option<i64>,
    status: String,
    step: i64,
    total_steps: i64,
    cache_key: Option<String>,
    cached: bool,
    model_id: Option<i64>,
    model_version_id: Option<i64>,
    error: Option<String>,
    notes: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

impl TryFrom<Row> for GenerationRecord {
    type Error = DbError;
    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Self {
            id: r.id,
            user_id: r.user_id,
            prompt: r.prompt,
            normalised_prompt: r.normalised_prompt,
            quality: r.quality,
            seed: r.seed,
            tier: r.tier,
            template: r.template,
            params: serde_json::from_str(&r.params).unwrap_or_default(),
            size_mm: r.size_mm,
            batch_id: r.batch_id,
            state: GenerationState::parse(&r.status)?,
            step: r.step,
            total_steps: r.total_steps,
            cache_key: r.cache_key,
            cached: r.cached,
            model_id: r.model_id,
            model_version_id: r.model_version_id,
            error: r.error,
            notes: serde_json::from_str(&r.notes).unwrap_or_default(),
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

const COLUMNS: &str = "id, user_id, prompt, normalised_prompt, quality, seed, tier, template, params, size_mm, batch_id, \
     status, step, total_steps, cache_key, cached, model_id, model_version_id, error, notes, created_at, started_at, finished_at";

/// A finished request's product.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationResult {
    pub model_id: i64,
    pub model_version_id: i64,
    pub notes: Vec<String>,
    pub cached: bool,
}

/// Reads and writes `generation_requests`.
pub struct GenerationRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> GenerationRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    /// Queues requests; all but the first point at the first as their batch ("4 variations").
    pub async fn submit(&self, requests: &[NewGeneration]) -> Result<Vec<i64>, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut ids = Vec::with_capacity(requests.len());
        for r in requests {
            let id = sqlx::query(
                "INSERT INTO generation_requests (user_id, prompt, normalised_prompt, quality, seed, tier, template, params,
                     size_mm, batch_id, status, cache_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
            )
            .bind(r.user_id)
            .bind(&r.prompt)
            .bind(&r.normalised_prompt)
            .bind(&r.quality)
            .bind(r.seed)
            .bind(&r.tier)
            .bind(&r.template)
            .bind(r.params.to_string())
            .bind(r.size_mm)
            .bind(ids.first().copied().filter(|_| requests.len() > 1))
            .bind(&r.cache_key)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            ids.push(id);
        }
        if ids.len() > 1 {
            sqlx::query("UPDATE generation_requests SET batch_id = ? WHERE id = ?")
                .bind(ids[0])
                .bind(ids[0])
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn get(&self, id: i64) -> Result<GenerationRecord, DbError> {
        let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM generation_requests WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        row.ok_or(DbError::NotFound { kind: "generation", id })?.try_into()
    }

    /// Requests by state, oldest first.
    pub async fn in_state(&self, state: GenerationState) -> Result<Vec<GenerationRecord>, DbError> {
        let rows: Vec<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM generation_requests WHERE status = ? ORDER BY id"))
                .bind(state.as_str())
                .fetch_all(self.pool)
                .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// A user's requests, newest first (`None`: requests made without a user).
    pub async fn of_user(&self, user: Option<i64>, limit: i64) -> Result<Vec<GenerationRecord>, DbError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM generation_requests WHERE user_id IS ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(user)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// How many requests a user made in the last `seconds` (cache hits included: they still ask).
    pub async fn count_recent(&self, user: Option<i64>, seconds: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM generation_requests WHERE user_id IS ?
               AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ?))",
        )
        .bind(user)
        .bind(seconds)
        .fetch_one(self.pool)
        .await?)
    }

    /// The product of an earlier request with the same cache key, if its model version still exists.
    pub async fn cached(&self, key: &str) -> Result<Option<(i64, Vec<String>)>, DbError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT g.model_version_id, g.notes FROM generation_requests g JOIN model_versions v ON v.id = g.model_version_id
              WHERE g.cache_key = ? AND g.status = 'done' ORDER BY g.id DESC LIMIT 1",
        )
        .bind(key)
        .fetch_optional(self.pool)
        .await?;
        Ok(row.map(|(v, notes)| (v, serde_json::from_str(&notes).unwrap_or_default())))
    }

    /// queued → running. False when it was no longer queued (cancelled meanwhile).
    pub async fn start(&self, id: i64, total_steps: i64) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE generation_requests SET status = 'running', step = 0, total_steps = ?,
                    started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND status = 'queued'",
        )
        .bind(total_steps)
        .bind(id)
        .execute(self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn set_step(&self, id: i64, step: i64, total: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE generation_requests SET step = ?, total_steps = ? WHERE id = ? AND status = 'running'")
            .bind(step)
            .bind(total)
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// queued/running → done with its model.
    pub async fn finish(&self, id: i64, result: &GenerationResult) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE generation_requests SET status = 'done', model_id = ?, model_version_id = ?, notes = ?, cached = ?,
                    step = total_steps, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                    started_at = COALESCE(started_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
              WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(result.model_id)
        .bind(result.model_version_id)
        .bind(serde_json::to_string(&result.notes).unwrap_or_else(|_| "[]".into()))
        .bind(result.cached)
        .bind(id)
        .execute(self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// queued/running → failed (with the reason people see) or cancelled.
    pub async fn end(&self, id: i64, state: GenerationState, error: Option<&str>) -> Result<bool, DbError> {
        debug_assert!(matches!(state, GenerationState::Failed | GenerationState::Cancelled));
        let r = sqlx::query(
            "UPDATE generation_requests SET status = ?, error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(id)
        .execute(self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// After a restart: work that was running goes back to the queue (generation is repeatable).
    pub async fn requeue_running(&self) -> Result<u64, DbError> {
        Ok(sqlx::query(
            "UPDATE generation_requests SET status = 'queued', step = 0, started_at = NULL WHERE status = 'running'",
        )
        .execute(self.pool)
        .await?
        .rows_affected())
    }

    /// Marks a model version as generated by a tier (used by the approval rule for AI output).
    pub async fn mark_version(&self, version_id: i64, tier: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE model_versions SET generated_by = ? WHERE id = ?")
            .bind(tier)
            .bind(version_id)
            .execute(self.pool)
            .await?;
        Ok(())
    }
}
