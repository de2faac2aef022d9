use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// Something worth recording: who did what to which thing.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<i64>,
    pub detail: serde_json::Value,
    pub ip: Option<&'a str>,
}

/// A recorded audit event.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    #[sqlx(json)]
    pub detail: serde_json::Value,
    /// Where the request came from.
    pub ip: Option<String>,
}

/// Appends to and reads `audit_events`.
pub struct AuditRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> AuditRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn record(&self, e: &AuditEntry<'_>) -> Result<i64, DbError> {
        let detail = if e.detail.is_null() { serde_json::json!({}) } else { e.detail.clone() };
        Ok(sqlx::query(
            "INSERT INTO audit_events (actor_id, action, target_kind, target_id, detail, ip) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(e.actor_id)
        .bind(e.action)
        .bind(e.target_kind)
        .bind(e.target_id)
        .bind(detail.to_string())
        .bind(e.ip)
        .execute(self.pool)
        .await?
        .last_insert_rowid())
    }

    /// The newest events first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<AuditEvent>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor_id, action, target_kind, target_id, detail, ip FROM audit_events ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool)
        .await?)
    }
}
