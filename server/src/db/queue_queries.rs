//! SQL the Queue and Job pages need beyond the core repositories.

use std::collections::HashMap;

use sqlx::SqlitePool;

use super::{parse_column, Db, DbError, Role};

/// Small lookups for the queue pages.
pub struct QueueQueries<'a> {
    pool: &'a SqlitePool,
}

impl Db {
    pub fn queue_queries(&self) -> QueueQueries<'_> {
        QueueQueries { pool: &self.pool }
    }
}

impl QueueQueries<'_> {
    /// Every user's display name (their username when it is blank), by id.
    pub async fn user_names(&self) -> Result<HashMap<i64, String>, DbError> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, username, display_name FROM users").fetch_all(self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, username, display)| (id, if display.trim().is_empty() { username } else { display }))
            .collect())
    }

    /// A user's role, when the user exists and may act.
    pub async fn active_role(&self, id: i64) -> Result<Option<Role>, DbError> {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ? AND disabled = 0")
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        role.map(|r| parse_column("users.role", r)).transpose()
    }
}
