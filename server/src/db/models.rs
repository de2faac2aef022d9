use sqlx::{FromRow, SqlitePool};

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

/// One stored version of a model, with what the farm knows of its geometry.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct ModelVersion {
    pub id: i64,
    pub model_id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    pub version: i64,
    /// Relative to the data directory.
    pub file_path: String,
    pub format: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub triangles: Option<i64>,
    pub size_x_mm: Option<f64>,
    pub size_y_mm: Option<f64>,
    pub size_z_mm: Option<f64>,
    pub volume_mm3: Option<f64>,
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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

    /// Which generator tier made a version (`None` for uploads and edits).
    pub async fn generated_by(&self, version_id: i64) -> Result<Option<String>, DbError> {
        let row: Option<Option<String>> = sqlx::query_scalar("SELECT generated_by FROM model_versions WHERE id = ?")
            .bind(version_id)
            .fetch_optional(self.pool)
            .await?;
        row.ok_or(DbError::NotFound { kind: "model version", id: version_id })
    }

    /// Adds the next version of a model (an edit); earlier versions stay untouched.
    pub async fn add_version(&self, model_id: i64, parent: i64, v: &NewModelVersion) -> Result<(i64, i64), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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

impl ModelRepo<'_> {
    pub async fn version(&self, id: i64) -> Result<ModelVersion, DbError> {
        sqlx::query_as(
            "SELECT v.id, v.model_id, m.name, m.owner_id, v.version, v.file_path, v.format, v.sha256, v.size_bytes,
                    v.triangles, v.size_x_mm, v.size_y_mm, v.size_z_mm, v.volume_mm3
             FROM model_versions v JOIN models m ON m.id = v.model_id WHERE v.id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool)
        .await?
        .ok_or(DbError::NotFound { kind: "model version", id })
    }

    /// The newest version of every model a user owns, newest model first.
    pub async fn latest_versions_of(&self, owner: i64) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT (SELECT v.id FROM model_versions v WHERE v.model_id = m.id ORDER BY v.version DESC LIMIT 1)
             FROM models m WHERE m.owner_id = ? AND m.deleted_at IS NULL ORDER BY m.id DESC",
        )
        .bind(owner)
        .fetch_all(self.pool)
        .await?)
    }

    /// Records what parsing the file found: triangle count, bounding box size (mm) and volume (mm³).
    pub async fn set_geometry(
        &self,
        version_id: i64,
        triangles: i64,
        size: [f64; 3],
        volume: f64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE model_versions SET triangles = ?, size_x_mm = ?, size_y_mm = ?, size_z_mm = ?, volume_mm3 = ? WHERE id = ?",
        )
        .bind(triangles)
        .bind(size[0])
        .bind(size[1])
        .bind(size[2])
        .bind(volume)
        .bind(version_id)
        .execute(self.pool)
        .await?;
        Ok(())
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
