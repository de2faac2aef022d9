use sqlx::SqlitePool;

use super::DbError;

/// A stored file that became a model version.
#[derive(Debug, Clone)]
pub struct NewModelVersion {
    /// Relative to the data directory.
    pub file_path: String,
    pub format: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub created_by: Option<i64>,
}

/// Reads and writes `models` and `model_versions`.
pub struct ModelRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> ModelRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    /// Creates a model with its first version; returns `(model_id, version_id)`.
    pub async fn create(
        &self,
        name: &str,
        owner: Option<i64>,
        source: &str,
        first: &NewModelVersion,
    ) -> Result<(i64, i64), DbError> {
        let mut tx = self.pool.begin().await?;
        let model_id = sqlx::query("INSERT INTO models (name, owner_id, source) VALUES (?, ?, ?)")
            .bind(name)
            .bind(owner)
            .bind(source)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        let version_id = insert_version(&mut tx, model_id, 1, None, first).await?;
        tx.commit().await?;
        Ok((model_id, version_id))
    }

    /// Adds the next version of a model (an edit); earlier versions stay untouched.
    pub async fn add_version(&self, model_id: i64, parent: i64, v: &NewModelVersion) -> Result<(i64, i64), DbError> {
        let mut tx = self.pool.begin().await?;
        let next: Option<i64> = sqlx::query_scalar("SELECT MAX(version) + 1 FROM model_versions WHERE model_id = ?")
            .bind(model_id)
            .fetch_one(&mut *tx)
            .await?;
        let next = next.ok_or(DbError::NotFound { kind: "model", id: model_id })?;
        let id = insert_version(&mut tx, model_id, next, Some(parent), v).await?;
        tx.commit().await?;
        Ok((id, next))
    }
}

async fn insert_version(
    tx: &mut sqlx::SqliteConnection,
    model_id: i64,
    version: i64,
    parent: Option<i64>,
    v: &NewModelVersion,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO model_versions (model_id, version, parent_id, file_path, format, sha256, size_bytes, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(model_id)
    .bind(version)
    .bind(parent)
    .bind(&v.file_path)
    .bind(&v.format)
    .bind(&v.sha256)
    .bind(v.size_bytes)
    .bind(v.created_by)
    .execute(tx)
    .await?
    .last_insert_rowid())
}
