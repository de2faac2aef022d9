//! The database against real SQLite files in temporary directories.

use std::borrow::Cow;

use server::db::{
    AuditEntry, Db, DbError, JobState, NewJob, NewModelVersion, NewPrinter, NewUser, Role, DB_FILE, MIGRATOR,
};
use sqlx::migrate::Migrator;

async fn fresh() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).await.unwrap();
    (dir, db)
}

fn version(file: &str) -> NewModelVersion {
    NewModelVersion {
        file_path: format!("models/{file}"),
        format: "stl".into(),
        sha256: "0".repeat(64),
        size_bytes: 684,
        created_by: None,
    }
}

fn printer(name: &str) -> NewPrinter {
    NewPrinter {
        name: name.into(),
        driver: "marlin".into(),
        connection: serde_json::json!({ "port": "/dev/ttyACM0", "baud": 115200 }),
        build_mm: [250.0, 210.0, 220.0],
        nozzle_mm: 0.4,
        firmware: "marlin2".into(),
        tags: vec!["room 2".into()],
    }
}

#[tokio::test]
async fn first_open_creates_a_wal_database_with_foreign_keys() {
    let (dir, db) = fresh().await;
    assert!(dir.path().join(DB_FILE).exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(db.pool()).await.unwrap();
    assert_eq!(fk, 1);
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(db.pool())
        .await
        .unwrap();
    for t in [
        "api_keys",
        "audit_events",
        "generation_requests",
        "job_transitions",
        "jobs",
        "materials",
        "model_versions",
        "models",
        "printer_secrets",
        "printers",
        "sessions",
        "spools",
        "users",
    ] {
        assert!(tables.iter().any(|n| n == t), "missing table {t} in {tables:?}");
    }
    db.ping().await.unwrap();
}

#[tokio::test]
async fn data_survives_reopening_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).await.unwrap();
    db.printers().insert(&printer("Prusa 1")).await.unwrap();
    db.close().await;
    let db = Db::open(dir.path()).await.unwrap();
    let list = db.printers().list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "Prusa 1");
    assert_eq!(list[0].tags, ["room 2"]);
    assert!(list[0].enabled && !list[0].maintenance);
}

#[tokio::test]
async fn a_newer_binary_migrates_an_older_database_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // Build a database as the first release would have left it: only migration 1 applied.
    let mut v1 = Migrator { migrations: Cow::Owned(MIGRATOR.migrations[..1].to_vec()), ..Migrator::DEFAULT };
    v1.set_locking(true);
    let old = Db::open_with(dir.path(), &v1).await.unwrap();
    let id = old.printers().insert(&printer("Old faithful")).await.unwrap();
    let indexes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs_queue'")
        .fetch_one(old.pool())
        .await
        .unwrap();
    assert_eq!(indexes, 0);
    old.close().await;

    let new = Db::open(dir.path()).await.unwrap();
    assert_eq!(new.printers().get(id).await.unwrap().name, "Old faithful");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(new.pool()).await.unwrap();
    assert_eq!(applied as usize, MIGRATOR.migrations.len());
    let indexes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs_queue'")
        .fetch_one(new.pool())
        .await
        .unwrap();
    assert_eq!(indexes, 1);
}

#[tokio::test]
async fn a_database_from_a_newer_binary_is_refused_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;
    let err = Db::open(dir.path()).await.unwrap_err();
    assert!(matches!(err, DbError::Migrate(_)), "{err:?}");
    assert!(err.to_string().contains("newer printfarm"), "{err}");
}

#[tokio::test]
async fn users_are_unique_ignoring_case() {
    let (_dir, db) = fresh().await;
    let new =
        NewUser { username: "Maya".into(), display_name: "Maya R.".into(), role: Role::Maker, password_hash: None };
    db.users().insert(&new).await.unwrap();
    let found = db.users().by_username("maya").await.unwrap().unwrap();
    assert_eq!((found.username.as_str(), found.role), ("Maya", Role::Maker));
    let dup = NewUser { username: "MAYA".into(), ..new };
    assert!(matches!(db.users().insert(&dup).await, Err(DbError::Sqlx(_))));
    assert_eq!(db.users().count().await.unwrap(), 1);
    assert!(db.users().by_username("nobody").await.unwrap().is_none());
}

#[tokio::test]
async fn jobs_record_every_transition_and_refuse_illegal_ones() {
    let (_dir, db) = fresh().await;
    let teacher = db
        .users()
        .insert(&NewUser { username: "t".into(), display_name: "T".into(), role: Role::Teacher, password_hash: None })
        .await
        .unwrap();
    let (model, v1) = db.models().create("Name tag", None, "generated", &version("tag.stl")).await.unwrap();
    let (v2, n) = db.models().add_version(model, v1, &version("tag-v2.stl")).await.unwrap();
    assert_eq!(n, 2);
    let ids = db
        .jobs()
        .submit(
            &NewJob {
                model_version_id: Some(v2),
                material_kind: Some("PLA".into()),
                colour: Some("red".into()),
                quality: "standard".into(),
                copies: 2,
                ..Default::default()
            },
            Some("kiosk"),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2, "two copies are two jobs");
    let batch: Vec<_> = futures_batch(&db, &ids).await;
    assert_eq!(batch, [(Some(ids[0]), 1), (Some(ids[0]), 2)], "copies share a batch and are numbered");
    let job = ids[0];
    db.jobs().transition(job, JobState::AwaitingApproval, None, None).await.unwrap();
    db.jobs().transition(job, JobState::Queued, Some(teacher), Some("looks good")).await.unwrap();
    let err = db.jobs().transition(job, JobState::Printing, None, None).await.unwrap_err();
    assert!(matches!(err, DbError::InvalidTransition { from: JobState::Queued, to: JobState::Printing, .. }), "{err}");
    db.jobs().transition(job, JobState::Cancelled, Some(teacher), Some("wrong colour")).await.unwrap();
    assert!(db.jobs().transition(job, JobState::Queued, None, None).await.is_err());

    let record = db.jobs().get(job).await.unwrap();
    assert_eq!((record.state, record.copies, record.model_version_id), (JobState::Cancelled, 2, Some(v2)));
    let history = db.jobs().history(job).await.unwrap();
    let steps: Vec<_> = history.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        steps,
        [
            (None, JobState::Submitted),
            (Some(JobState::Submitted), JobState::AwaitingApproval),
            (Some(JobState::AwaitingApproval), JobState::Queued),
            (Some(JobState::Queued), JobState::Cancelled),
        ]
    );
    assert_eq!(history[2].actor_id, Some(teacher));
    assert_eq!(history[3].reason.as_deref(), Some("wrong colour"));
    assert!(matches!(db.jobs().get(999).await, Err(DbError::NotFound { kind: "job", id: 999 })));
}

async fn futures_batch(db: &Db, ids: &[i64]) -> Vec<(Option<i64>, i64)> {
    let mut out = Vec::new();
    for id in ids {
        let j = db.jobs().get(*id).await.unwrap();
        out.push((j.batch_id, j.copy_index));
    }
    out
}

#[tokio::test]
async fn foreign_keys_and_checks_are_enforced() {
    let (_dir, db) = fresh().await;
    let orphan = NewJob { model_version_id: Some(42), quality: "standard".into(), copies: 1, ..Default::default() };
    assert!(db.jobs().submit(&orphan, None).await.is_err(), "a job needs an existing model version");
    let bad = NewPrinter { driver: "telepathy".into(), ..printer("X") };
    assert!(db.printers().insert(&bad).await.is_err(), "unknown drivers are refused by the schema");
}

#[tokio::test]
async fn audit_events_are_appended_and_read_newest_first() {
    let (_dir, db) = fresh().await;
    db.audit()
        .record(&AuditEntry {
            action: "printer.added",
            target_kind: Some("printer"),
            target_id: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    db.audit()
        .record(&AuditEntry {
            action: "job.cancelled",
            detail: serde_json::json!({ "why": "jam" }),
            ..Default::default()
        })
        .await
        .unwrap();
    let recent = db.audit().recent(10).await.unwrap();
    assert_eq!(recent.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["job.cancelled", "printer.added"]);
    assert_eq!(recent[0].detail["why"], "jam");
}
