use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// A material the farm stocks (PLA, PETG…), with what a gram costs.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct Material {
    pub id: i64,
    pub name: String,
    /// `PLA`, `PETG`, `ABS`, `ASA`, `TPU`, `PA`, `PC` or `OTHER`.
    pub kind: String,
    pub diameter_mm: f64,
    pub density_g_cm3: f64,
    pub cost_per_kg: Option<f64>,
}

/// A spool in the inventory, with the material it is made of and the printer it sits on.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct Spool {
    pub id: i64,
    pub material_id: i64,
    pub material_kind: String,
    pub material_name: String,
    pub colour_name: String,
    pub colour_hex: Option<String>,
    pub vendor: Option<String>,
    pub initial_g: f64,
    pub remaining_g: f64,
    pub cost_per_kg: Option<f64>,
    pub archived: bool,
    /// The printer it is loaded on, if any.
    pub printer_id: Option<i64>,
}

/// What it takes to add a spool.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSpool {
    pub material_id: i64,
    pub colour_name: String,
    #[serde(default)]
    pub colour_hex: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    pub initial_g: f64,
    /// Defaults to `initial_g` (a new spool).
    #[serde(default)]
    pub remaining_g: Option<f64>,
}

/// Reads and writes `materials` and `spools`.
pub struct MaterialRepo<'a> {
    pool: &'a SqlitePool,
}

const SPOOL_SELECT: &str =
    "SELECT s.id, s.material_id, m.kind AS material_kind, m.name AS material_name, s.colour_name,
        s.colour_hex, s.vendor, s.initial_g, s.remaining_g, m.cost_per_kg, s.archived,
        (SELECT p.id FROM printers p WHERE p.loaded_spool_id = s.id) AS printer_id
     FROM spools s JOIN materials m ON m.id = s.material_id";

impl<'a> MaterialRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn add_material(
        &self,
        name: &str,
        kind: &str,
        density: f64,
        cost_per_kg: Option<f64>,
    ) -> Result<i64, DbError> {
        Ok(sqlx::query("INSERT INTO materials (name, kind, density_g_cm3, cost_per_kg) VALUES (?, ?, ?, ?)")
            .bind(name)
            .bind(kind)
            .bind(density)
            .bind(cost_per_kg)
            .execute(self.pool)
            .await?
            .last_insert_rowid())
    }

    pub async fn materials(&self) -> Result<Vec<Material>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, name, kind, diameter_mm, density_g_cm3, cost_per_kg FROM materials ORDER BY kind, name",
        )
        .fetch_all(self.pool)
        .await?)
    }

    pub async fn add_spool(&self, s: &NewSpool) -> Result<i64, DbError> {
        Ok(sqlx::query(
            "INSERT INTO spools (material_id, colour_name, colour_hex, vendor, initial_g, remaining_g) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(s.material_id)
        .bind(s.colour_name.trim())
        .bind(&s.colour_hex)
        .bind(&s.vendor)
        .bind(s.initial_g)
        .bind(s.remaining_g.unwrap_or(s.initial_g))
        .execute(self.pool)
        .await?
        .last_insert_rowid())
    }

    /// Every spool not archived, fullest first within a material.
    pub async fn spools(&self) -> Result<Vec<Spool>, DbError> {
        Ok(sqlx::query_as(&format!(
            "{SPOOL_SELECT} WHERE s.archived = 0 ORDER BY m.kind, s.colour_name, s.remaining_g DESC"
        ))
        .fetch_all(self.pool)
        .await?)
    }

    pub async fn spool(&self, id: i64) -> Result<Spool, DbError> {
        sqlx::query_as(&format!("{SPOOL_SELECT} WHERE s.id = ?"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?
            .ok_or(DbError::NotFound { kind: "spool", id })
    }

    /// Sets what is left on a spool (after weighing it).
    pub async fn set_remaining(&self, id: i64, grams: f64) -> Result<(), DbError> {
        let n = sqlx::query("UPDATE spools SET remaining_g = MAX(0, ?) WHERE id = ?")
            .bind(grams)
            .bind(id)
            .execute(self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(DbError::NotFound { kind: "spool", id });
        }
        Ok(())
    }
}
