use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// A printer as configured in the farm.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct PrinterRecord {
    pub id: i64,
    pub name: String,
    pub driver: String,
    pub connection: String,
    pub build_x_mm: f64,
    pub build_y_mm: f64,
    pub build_z_mm: f64,
    pub nozzle_mm: f64,
    pub firmware: String,
    #[sqlx(json)]
    pub tags: Vec<String>,
    pub enabled: bool,
    pub maintenance: bool,
}

/// What it takes to add a printer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrinter {
    pub name: String,
    pub driver: String,
    /// JSON: `{"port": "/dev/ttyACM0", "baud": 115200}` or `{"url": "http://..."}`.
    pub connection: serde_json::Value,
    pub build_mm: [f64; 3],
    pub nozzle_mm: f64,
    pub firmware: String,
    pub tags: Vec<String>,
}

/// Reads and writes `printers`.
pub struct PrinterRepo<'a> {
    pool: &'a SqlitePool,
}

const COLUMNS: &str =
    "id, name, driver, connection, build_x_mm, build_y_mm, build_z_mm, nozzle_mm, firmware, tags, enabled, maintenance";

impl<'a> PrinterRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn insert(&self, p: &NewPrinter) -> Result<i64, DbError> {
        let id = sqlx::query(
            "INSERT INTO printers (name, driver, connection, build_x_mm, build_y_mm, build_z_mm, nozzle_mm, firmware, tags)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.name)
        .bind(&p.driver)
        .bind(p.connection.to_string())
        .bind(p.build_mm[0])
        .bind(p.build_mm[1])
        .bind(p.build_mm[2])
        .bind(p.nozzle_mm)
        .bind(&p.firmware)
        .bind(serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".into()))
        .execute(self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Every printer, by name.
    pub async fn list(&self) -> Result<Vec<PrinterRecord>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM printers ORDER BY name COLLATE NOCASE, id"))
            .fetch_all(self.pool)
            .await?)
    }

    pub async fn get(&self, id: i64) -> Result<PrinterRecord, DbError> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM printers WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?
            .ok_or(DbError::NotFound { kind: "printer", id })
    }

    pub async fn count(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM printers").fetch_one(self.pool).await?)
    }
}
