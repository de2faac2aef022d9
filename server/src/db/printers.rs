use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// A printer as configured in the farm.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct PrinterRecord {
    pub id: i64,
    pub name: String,
    pub driver: String,
    /// JSON connection settings (port/baud or URL); never shown to browsers as is.
    #[serde(skip)]
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
    /// Whether a person must confirm the bed is clear after every finished or failed job.
    pub require_bed_clear: bool,
    /// False between the end of a job and that confirmation.
    pub bed_clear: bool,
    /// The slicer's printer preset id this printer prints with (`None` = derived from the record).
    pub slicer_profile: Option<String>,
    pub loaded_spool_id: Option<i64>,
    /// Whether credentials (an API key) are stored for it; the key itself never leaves the server.
    pub api_key_set: bool,
}

/// A printer's credentials as stored in `printer_secrets`: sealed by `secrets::Vault` for its id.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// What a change to a printer does to its stored credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretChange {
    Keep,
    Replace(SealedSecret),
    Remove,
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

/// A change to a printer's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterChange {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub maintenance: Option<bool>,
    pub require_bed_clear: Option<bool>,
    pub nozzle_mm: Option<f64>,
    pub build_mm: Option<[f64; 3]>,
    pub slicer_profile: Option<String>,
    /// New connection settings (port/baud or URL and key); the farm reconnects the printer.
    pub connection: Option<serde_json::Value>,
}

/// Reads and writes `printers`.
pub struct PrinterRepo<'a> {
    pool: &'a SqlitePool,
}

const COLUMNS: &str = "id, name, driver, connection, build_x_mm, build_y_mm, build_z_mm, nozzle_mm, firmware, tags, \
     enabled, maintenance, require_bed_clear, bed_clear, slicer_profile, loaded_spool_id, \
     EXISTS (SELECT 1 FROM printer_secrets s WHERE s.printer_id = printers.id) AS api_key_set";

impl<'a> PrinterRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn insert(&self, p: &NewPrinter) -> Result<i64, DbError> {
        self.insert_with_secret(p, |_| None).await
    }

    /// Adds a printer and, in the same transaction, its credentials, which `seal` seals for the new id
    /// (so a printer is never left half added, without the key it was given).
    pub async fn insert_with_secret(
        &self,
        p: &NewPrinter,
        seal: impl FnOnce(i64) -> Option<SealedSecret>,
    ) -> Result<i64, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        if let Some(sealed) = seal(id) {
            put_secret(&mut tx, id, &sealed).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// A printer's sealed credentials, if it has any.
    pub async fn secret(&self, id: i64) -> Result<Option<SealedSecret>, DbError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT nonce, ciphertext FROM printer_secrets WHERE printer_id = ?")
                .bind(id)
                .fetch_optional(self.pool)
                .await?;
        Ok(row.map(|(nonce, ciphertext)| SealedSecret { nonce, ciphertext }))
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

    /// Applies a settings change and returns the printer as it now is.
    pub async fn update(&self, id: i64, c: &PrinterChange) -> Result<PrinterRecord, DbError> {
        self.update_with_secret(id, c, SecretChange::Keep).await
    }

    /// Applies a settings change and a change to the stored credentials in one transaction.
    pub async fn update_with_secret(
        &self,
        id: i64,
        c: &PrinterChange,
        secret: SecretChange,
    ) -> Result<PrinterRecord, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let tags = c.tags.as_ref().map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
        let changed = sqlx::query(
            "UPDATE printers SET name = COALESCE(?, name), tags = COALESCE(?, tags), enabled = COALESCE(?, enabled),
                 maintenance = COALESCE(?, maintenance), require_bed_clear = COALESCE(?, require_bed_clear),
                 nozzle_mm = COALESCE(?, nozzle_mm), build_x_mm = COALESCE(?, build_x_mm),
                 build_y_mm = COALESCE(?, build_y_mm), build_z_mm = COALESCE(?, build_z_mm),
                 slicer_profile = COALESCE(?, slicer_profile), connection = COALESCE(?, connection),
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?",
        )
        .bind(&c.name)
        .bind(tags)
        .bind(c.enabled)
        .bind(c.maintenance)
        .bind(c.require_bed_clear)
        .bind(c.nozzle_mm)
        .bind(c.build_mm.map(|b| b[0]))
        .bind(c.build_mm.map(|b| b[1]))
        .bind(c.build_mm.map(|b| b[2]))
        .bind(&c.slicer_profile)
        .bind(c.connection.as_ref().map(|v| v.to_string()))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound { kind: "printer", id });
        }
        match secret {
            SecretChange::Keep => {}
            SecretChange::Replace(sealed) => put_secret(&mut tx, id, &sealed).await?,
            SecretChange::Remove => {
                sqlx::query("DELETE FROM printer_secrets WHERE printer_id = ?").bind(id).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        self.get(id).await
    }

    /// A person confirmed the bed is clear (or a job just made it not clear).
    pub async fn set_bed_clear(&self, id: i64, clear: bool) -> Result<(), DbError> {
        let changed = sqlx::query("UPDATE printers SET bed_clear = ? WHERE id = ?")
            .bind(clear)
            .bind(id)
            .execute(self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound { kind: "printer", id });
        }
        Ok(())
    }

    /// Puts a spool on a printer (`None` unloads). A spool sits on at most one printer.
    pub async fn load_spool(&self, id: i64, spool: Option<i64>) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(spool) = spool {
            sqlx::query("UPDATE printers SET loaded_spool_id = NULL WHERE loaded_spool_id = ? AND id != ?")
                .bind(spool)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let changed = sqlx::query("UPDATE printers SET loaded_spool_id = ? WHERE id = ?")
            .bind(spool)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound { kind: "printer", id });
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete(&self, id: i64) -> Result<(), DbError> {
        let changed =
            sqlx::query("DELETE FROM printers WHERE id = ?").bind(id).execute(self.pool).await?.rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound { kind: "printer", id });
        }
        Ok(())
    }
}

async fn put_secret(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: i64,
    sealed: &SealedSecret,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO printer_secrets (printer_id, nonce, ciphertext) VALUES (?, ?, ?)
         ON CONFLICT (printer_id) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext",
    )
    .bind(id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
