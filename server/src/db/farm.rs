//! Farm-wide settings, time windows, maintenance tasks, notifications and statistics.

use sqlx::{FromRow, SqlitePool};

use super::DbError;

/// A quiet-hours, overnight or maintenance window: it opens at each time `cron` matches and lasts
/// `duration_min`.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct FarmWindow {
    #[serde(default)]
    pub id: i64,
    /// `quiet`, `overnight` or `maintenance`.
    pub kind: String,
    #[serde(default)]
    pub label: String,
    /// Six fields, seconds first, UTC: `0 0 22 * * *` is 22:00 every day.
    pub cron: String,
    pub duration_min: i64,
    /// Maintenance windows may name one printer; `None` is the whole farm.
    #[serde(default)]
    pub printer_id: Option<i64>,
}

/// "Lubricate the rails every 200 h", with when it was last done.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct MaintenanceTask {
    pub id: i64,
    pub printer_id: i64,
    pub name: String,
    pub every_hours: f64,
    pub done_at_hours: f64,
    pub done_at: Option<String>,
}

/// Something a person should know: a job finished or failed, a printer needs attention.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub job_id: Option<i64>,
    pub printer_id: Option<i64>,
    pub user_id: Option<i64>,
    pub read_at: Option<String>,
}

/// A notification about to be stored.
#[derive(Debug, Clone, Default)]
pub struct NewNotification {
    pub kind: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub job_id: Option<i64>,
    pub printer_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// Per-printer figures: hours, filament, outcomes.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct PrinterStats {
    pub printer_id: i64,
    pub name: String,
    pub print_hours: f64,
    pub filament_g: f64,
    pub cost: f64,
    pub runs: i64,
    pub done: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// Per-user (or per-group) figures.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct UsageStats {
    pub id: i64,
    pub name: String,
    pub jobs_done: i64,
    pub jobs_failed: i64,
    pub print_hours: f64,
    pub filament_g: f64,
    pub cost: f64,
}

/// Reads and writes the farm's settings, windows, maintenance, notifications and statistics.
pub struct FarmRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> FarmRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    /// Every stored setting as a JSON object.
    pub async fn settings(&self) -> Result<serde_json::Map<String, serde_json::Value>, DbError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM farm_settings").fetch_all(self.pool).await?;
        Ok(rows.into_iter().filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v))).collect())
    }

    pub async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<(), DbError> {
        sqlx::query("INSERT INTO farm_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value.to_string())
            .execute(self.pool)
            .await?;
        Ok(())
    }

    pub async fn windows(&self) -> Result<Vec<FarmWindow>, DbError> {
        Ok(sqlx::query_as("SELECT id, kind, label, cron, duration_min, printer_id FROM farm_windows ORDER BY id")
            .fetch_all(self.pool)
            .await?)
    }

    pub async fn add_window(&self, w: &FarmWindow) -> Result<i64, DbError> {
        Ok(sqlx::query("INSERT INTO farm_windows (kind, label, cron, duration_min, printer_id) VALUES (?, ?, ?, ?, ?)")
            .bind(&w.kind)
            .bind(&w.label)
            .bind(&w.cron)
            .bind(w.duration_min)
            .bind(w.printer_id)
            .execute(self.pool)
            .await?
            .last_insert_rowid())
    }

    pub async fn delete_window(&self, id: i64) -> Result<(), DbError> {
        let n = sqlx::query("DELETE FROM farm_windows WHERE id = ?").bind(id).execute(self.pool).await?.rows_affected();
        if n == 0 {
            return Err(DbError::NotFound { kind: "window", id });
        }
        Ok(())
    }

    pub async fn add_maintenance(&self, printer_id: i64, name: &str, every_hours: f64) -> Result<i64, DbError> {
        let hours = self.print_hours(printer_id).await?;
        Ok(sqlx::query(
            "INSERT INTO maintenance_tasks (printer_id, name, every_hours, done_at_hours, done_at)
             VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        )
        .bind(printer_id)
        .bind(name)
        .bind(every_hours)
        .bind(hours)
        .execute(self.pool)
        .await?
        .last_insert_rowid())
    }

    pub async fn maintenance(&self, printer_id: Option<i64>) -> Result<Vec<MaintenanceTask>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, printer_id, name, every_hours, done_at_hours, done_at FROM maintenance_tasks
             WHERE ?1 IS NULL OR printer_id = ?1 ORDER BY printer_id, id",
        )
        .bind(printer_id)
        .fetch_all(self.pool)
        .await?)
    }

    /// Marks a task done now, at the printer's current print hours.
    pub async fn maintenance_done(&self, task_id: i64) -> Result<(), DbError> {
        let n = sqlx::query(
            "UPDATE maintenance_tasks SET done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                 done_at_hours = (SELECT COALESCE(SUM(seconds), 0) / 3600.0 FROM print_runs r
                                  WHERE r.printer_id = maintenance_tasks.printer_id)
             WHERE id = ?",
        )
        .bind(task_id)
        .execute(self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(DbError::NotFound { kind: "maintenance task", id: task_id });
        }
        Ok(())
    }

    /// Hours a printer has printed, every attempt counted.
    pub async fn print_hours(&self, printer_id: i64) -> Result<f64, DbError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(SUM(seconds), 0) / 3600.0 FROM print_runs WHERE printer_id = ?")
            .bind(printer_id)
            .fetch_one(self.pool)
            .await?)
    }

    pub async fn notify(&self, n: &NewNotification) -> Result<Notification, DbError> {
        Ok(sqlx::query_as(
            "INSERT INTO notifications (kind, severity, message, job_id, printer_id, user_id) VALUES (?, ?, ?, ?, ?, ?)
             RETURNING id, at, kind, severity, message, job_id, printer_id, user_id, read_at",
        )
        .bind(n.kind)
        .bind(n.severity)
        .bind(&n.message)
        .bind(n.job_id)
        .bind(n.printer_id)
        .bind(n.user_id)
        .fetch_one(self.pool)
        .await?)
    }

    /// The newest notifications for a user (their own and the farm's), or all when `user` is `None`.
    pub async fn notifications(&self, user: Option<i64>, limit: i64) -> Result<Vec<Notification>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, at, kind, severity, message, job_id, printer_id, user_id, read_at FROM notifications
             WHERE ?1 IS NULL OR user_id = ?1 OR user_id IS NULL ORDER BY id DESC LIMIT ?2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(self.pool)
        .await?)
    }

    /// The newest notifications for any of `users` (not the farm's own, which are the managers').
    pub async fn notifications_of(&self, users: &[i64], limit: i64) -> Result<Vec<Notification>, DbError> {
        let users = serde_json::to_string(users).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_as(
            "SELECT id, at, kind, severity, message, job_id, printer_id, user_id, read_at FROM notifications
             WHERE user_id IN (SELECT value FROM json_each(?1)) ORDER BY id DESC LIMIT ?2",
        )
        .bind(users)
        .bind(limit)
        .fetch_all(self.pool)
        .await?)
    }

    /// Whom a notification is for (`None`: the farm's managers).
    pub async fn notification_user(&self, id: i64) -> Result<Option<i64>, DbError> {
        sqlx::query_scalar("SELECT user_id FROM notifications WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool)
            .await?
            .ok_or(DbError::NotFound { kind: "notification", id })
    }

    pub async fn mark_read(&self, id: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE notifications SET read_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND read_at IS NULL",
        )
        .bind(id)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    /// Hours, filament, cost and outcomes per printer, from every print run.
    pub async fn printer_stats(&self) -> Result<Vec<PrinterStats>, DbError> {
        Ok(sqlx::query_as(
            "SELECT p.id AS printer_id, p.name,
                    COALESCE(SUM(r.seconds), 0) / 3600.0 AS print_hours, COALESCE(SUM(r.filament_g), 0.0) AS filament_g,
                    COALESCE(SUM(r.cost), 0.0) AS cost, COUNT(r.id) AS runs,
                    COALESCE(SUM(r.outcome = 'done'), 0) AS done, COALESCE(SUM(r.outcome = 'failed'), 0) AS failed,
                    COALESCE(SUM(r.outcome = 'cancelled'), 0) AS cancelled
             FROM printers p LEFT JOIN print_runs r ON r.printer_id = p.id
             GROUP BY p.id ORDER BY p.name COLLATE NOCASE",
        )
        .fetch_all(self.pool)
        .await?)
    }

    /// The same per user.
    pub async fn user_stats(&self) -> Result<Vec<UsageStats>, DbError> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.username AS name,
                    COALESCE(SUM(r.outcome = 'done'), 0) AS jobs_done, COALESCE(SUM(r.outcome = 'failed'), 0) AS jobs_failed,
                    COALESCE(SUM(r.seconds), 0) / 3600.0 AS print_hours, COALESCE(SUM(r.filament_g), 0.0) AS filament_g,
                    COALESCE(SUM(r.cost), 0.0) AS cost
             FROM users u LEFT JOIN print_runs r ON r.owner_id = u.id
             GROUP BY u.id ORDER BY u.username",
        )
        .fetch_all(self.pool)
        .await?)
    }

    /// The same per user group (a teacher's class).
    pub async fn group_stats(&self) -> Result<Vec<UsageStats>, DbError> {
        Ok(sqlx::query_as(
            "SELECT g.id, g.name,
                    COALESCE(SUM(r.outcome = 'done'), 0) AS jobs_done, COALESCE(SUM(r.outcome = 'failed'), 0) AS jobs_failed,
                    COALESCE(SUM(r.seconds), 0) / 3600.0 AS print_hours, COALESCE(SUM(r.filament_g), 0.0) AS filament_g,
                    COALESCE(SUM(r.cost), 0.0) AS cost
             FROM user_groups g JOIN user_group_members m ON m.group_id = g.id
                  LEFT JOIN print_runs r ON r.owner_id = m.user_id
             GROUP BY g.id ORDER BY g.name",
        )
        .fetch_all(self.pool)
        .await?)
    }

    /// Busy share of each printer over the last `hours`: print seconds / window seconds.
    pub async fn utilisation(&self, hours: f64) -> Result<Vec<(i64, f64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT p.id, COALESCE(SUM(r.seconds), 0) / (? * 3600.0) FROM printers p
             LEFT JOIN print_runs r ON r.printer_id = p.id
                  AND r.started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', CAST(? * 3600 AS INTEGER)))
             GROUP BY p.id ORDER BY p.id",
        )
        .bind(hours)
        .bind(hours)
        .fetch_all(self.pool)
        .await?)
    }

    /// Creates a user group (or returns the existing one) and adds members.
    pub async fn add_to_group(&self, group: &str, user_ids: &[i64]) -> Result<i64, DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT OR IGNORE INTO user_groups (name) VALUES (?)").bind(group).execute(&mut *tx).await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM user_groups WHERE name = ?").bind(group).fetch_one(&mut *tx).await?;
        for u in user_ids {
            sqlx::query("INSERT OR IGNORE INTO user_group_members (group_id, user_id) VALUES (?, ?)")
                .bind(id)
                .bind(u)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }
}
