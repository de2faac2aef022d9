//! The SQLite database: opening it (WAL, foreign keys), migrating it, and the typed repositories that
//! hold every SQL statement, so handlers never write SQL inline.

mod accounts;
mod audit;
mod editor_queries;
mod farm;
mod generations;
mod jobs;
mod materials;
mod models;
mod printer_queries;
mod printers;
mod queue_queries;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::{AccountRepo, ApiKeyInfo, ApiKeyMatch, Classes, NewSession, SessionRecord};
pub use audit::{AuditEntry, AuditEvent, AuditRepo};
pub use farm::{FarmRepo, FarmWindow, MaintenanceTask, NewNotification, Notification, PrinterStats, UsageStats};
pub use generations::{GenerationRecord, GenerationRepo, GenerationResult, GenerationState, NewGeneration};
pub use jobs::{JobFilter, JobRecord, JobRepo, JobState, JobTransition, NewJob, Presliced, PrintOutcome};
pub use materials::{Material, MaterialRepo, NewSpool, Spool};
pub use models::{ModelRepo, ModelVersion, NewModelVersion};
pub use printers::{NewPrinter, PrinterChange, PrinterRecord, PrinterRepo, SealedSecret, SecretChange};
pub use users::{NewUser, Role, UserRecord, UserRepo};

/// The versioned schema, compiled into the binary so a newer build migrates an older database.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "printfarm.db";

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("cannot migrate the database (was it written by a newer printfarm?): {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: i64 },
    #[error("job {job} cannot go from {from} to {to}")]
    InvalidTransition { job: i64, from: JobState, to: JobState },
    #[error("stored value {value:?} in {column} is not recognised")]
    BadValue { column: &'static str, value: String },
}

/// Makes the data directory private to the server's user (0700) and its database files private too
/// (0600), creating the directory and an empty database file if needed. The database holds PIN and
/// password hashes and session tokens, so other accounts on the box must not read it. SQLite creates
/// the `-wal` and `-shm` files with the database file's mode, so creating that file 0600 before SQLite
/// opens it makes all three private; files an older version left readable are narrowed here at start.
fn make_private(data_dir: &Path) -> std::io::Result<()> {
    use std::fs::{self, OpenOptions, Permissions};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    fs::create_dir_all(data_dir)?;
    fs::set_permissions(data_dir, Permissions::from_mode(0o700))?;
    let db = data_dir.join(DB_FILE);
    OpenOptions::new().create(true).append(true).mode(0o600).open(&db)?;
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal"), format!("{DB_FILE}-shm")] {
        match fs::set_permissions(data_dir.join(name), Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// A handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) `printfarm.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, DbError> {
        Self::open_with(data_dir, &MIGRATOR).await
    }

    /// Like [`Db::open`] with a chosen migrator; tests use it to build databases of older versions.
    pub async fn open_with(data_dir: &Path, migrator: &Migrator) -> Result<Self, DbError> {
        make_private(data_dir).map_err(|source| DbError::DataDir { path: data_dir.into(), source })?;
        let path = data_dir.join(DB_FILE);
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only power loss can drop
            // the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Freed space inside a page is zeroed, so a printer key moved out of `connection` (an upgrade
            // from plain text, see `secrets`) leaves no copy behind in the file.
            .pragma("secure_delete", "FAST")
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn printers(&self) -> PrinterRepo<'_> {
        PrinterRepo::new(&self.pool)
    }
    pub fn users(&self) -> UserRepo<'_> {
        UserRepo::new(&self.pool)
    }
    pub fn models(&self) -> ModelRepo<'_> {
        ModelRepo::new(&self.pool)
    }
    pub fn jobs(&self) -> JobRepo<'_> {
        JobRepo::new(&self.pool)
    }
    pub fn accounts(&self) -> AccountRepo<'_> {
        AccountRepo::new(&self.pool)
    }
    pub fn audit(&self) -> AuditRepo<'_> {
        AuditRepo::new(&self.pool)
    }
    pub fn materials(&self) -> MaterialRepo<'_> {
        MaterialRepo::new(&self.pool)
    }
    pub fn generations(&self) -> GenerationRepo<'_> {
        GenerationRepo::new(&self.pool)
    }

    pub fn farm(&self) -> FarmRepo<'_> {
        FarmRepo::new(&self.pool)
    }

    /// Copies the WAL into the database file and empties it.
    pub async fn checkpoint(&self) -> Result<(), DbError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }

    /// Checkpoints the WAL and closes every connection; called on shutdown.
    pub async fn close(self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}

/// Parses a TEXT column into an enum, naming the column when the stored value is unknown.
fn parse_column<T: FromStr>(column: &'static str, value: String) -> Result<T, DbError> {
    value.parse().map_err(|_| DbError::BadValue { column, value })
}
