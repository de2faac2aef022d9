//! SQL the printer pages need beyond the core repositories (more `impl` blocks on them, or new ones):
//! the library's model list, the class gallery (migration 0006) and the list of users.

use sqlx::{FromRow, SqlitePool};

use super::{Db, DbError};

/// A model with its owner's name and whether it is in the class gallery.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct LibraryRow {
    pub id: i64,
    pub name: String,
    pub owner: Option<String>,
    pub source: String,
    pub created_at: String,
    pub in_gallery: bool,
}

/// One version of a library model.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct LibraryVersionRow {
    pub id: i64,
    pub model_id: i64,
    pub version: i64,
    pub created_at: String,
    pub triangles: Option<i64>,
    pub size_x_mm: Option<f64>,
    pub size_y_mm: Option<f64>,
    pub size_z_mm: Option<f64>,
}

/// A user as the Settings page lists them.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
}

/// Reads the library and the gallery, and lists users.
pub struct PrinterPagesRepo<'a> {
    pool: &'a SqlitePool,
}

impl Db {
    /// The queries of the Printers, Library and Settings pages.
    pub fn printer_pages(&self) -> PrinterPagesRepo<'_> {
        PrinterPagesRepo { pool: &self.pool }
    }
}

/// `%`, `_` and `\` match themselves in a LIKE pattern escaped with `\`.
fn like_pattern(search: &str) -> String {
    let mut out = String::from("%");
    for c in search.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl PrinterPagesRepo<'_> {
    /// Models (not deleted) whose name contains `search` (any case), newest first; only the gallery's
    /// when `gallery_only`.
    pub async fn library(&self, search: &str, gallery_only: bool, limit: i64) -> Result<Vec<LibraryRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT m.id, m.name, u.display_name AS owner, m.source, m.created_at,
                    EXISTS (SELECT 1 FROM gallery g WHERE g.model_id = m.id) AS in_gallery
             FROM models m LEFT JOIN users u ON u.id = m.owner_id
             WHERE m.deleted_at IS NULL AND m.name LIKE ? ESCAPE '\\'
               AND (? = 0 OR EXISTS (SELECT 1 FROM gallery g WHERE g.model_id = m.id))
             ORDER BY m.id DESC LIMIT ?",
        )
        .bind(like_pattern(search))
        .bind(gallery_only)
        .bind(limit)
        .fetch_all(self.pool)
        .await?)
    }

    /// Every version of the given models, newest first.
    pub async fn versions_of(&self, models: &[i64]) -> Result<Vec<LibraryVersionRow>, DbError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(models).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_as(
            "SELECT id, model_id, version, created_at, triangles, size_x_mm, size_y_mm, size_z_mm
             FROM model_versions WHERE model_id IN (SELECT value FROM json_each(?))
             ORDER BY model_id DESC, version DESC",
        )
        .bind(ids)
        .fetch_all(self.pool)
        .await?)
    }

    /// Puts a model in the class gallery (again is fine) or takes it out.
    pub async fn set_gallery(&self, model: i64, in_gallery: bool, by: Option<i64>) -> Result<(), DbError> {
        if in_gallery {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM models WHERE id = ? AND deleted_at IS NULL")
                .bind(model)
                .fetch_optional(self.pool)
                .await?;
            if exists.is_none() {
                return Err(DbError::NotFound { kind: "model", id: model });
            }
            sqlx::query("INSERT OR IGNORE INTO gallery (model_id, added_by) VALUES (?, ?)")
                .bind(model)
                .bind(by)
                .execute(self.pool)
                .await?;
        } else {
            sqlx::query("DELETE FROM gallery WHERE model_id = ?").bind(model).execute(self.pool).await?;
        }
        Ok(())
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, username, display_name, role, disabled FROM users ORDER BY display_name COLLATE NOCASE, id",
        )
        .fetch_all(self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_matches_itself() {
        assert_eq!(like_pattern(" cube "), "%cube%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[tokio::test]
    async fn library_search_and_gallery() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let v = |p: &str| crate::db::NewModelVersion {
            file_path: p.into(),
            format: "stl".into(),
            sha256: "00".into(),
            size_bytes: 1,
            created_by: None,
        };
        let (cube, cube_v1) = db.models().create("cube.stl", None, "upload", &v("a.stl")).await.unwrap();
        db.models().add_version(cube, cube_v1, &v("b.stl")).await.unwrap();
        let (gear, _) = db.models().create("gear_50%.stl", None, "upload", &v("c.stl")).await.unwrap();
        let pages = db.printer_pages();

        let all = pages.library("", false, 100).await.unwrap();
        assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), [gear, cube]);
        let found = pages.library("CUBE", false, 100).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(pages.library("50%", false, 100).await.unwrap()[0].id, gear);
        assert!(pages.library("5_%", false, 100).await.unwrap().is_empty(), "_ is not a wildcard");

        let versions = pages.versions_of(&[cube]).await.unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);

        assert!(pages.library("", true, 100).await.unwrap().is_empty());
        pages.set_gallery(cube, true, None).await.unwrap();
        pages.set_gallery(cube, true, None).await.unwrap();
        let gallery = pages.library("", true, 100).await.unwrap();
        assert_eq!(gallery.len(), 1);
        assert!(gallery[0].in_gallery);
        pages.set_gallery(cube, false, None).await.unwrap();
        assert!(pages.library("", true, 100).await.unwrap().is_empty());
        assert!(matches!(pages.set_gallery(999, true, None).await, Err(DbError::NotFound { .. })));
    }
}
