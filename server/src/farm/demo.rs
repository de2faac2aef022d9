//! The demo farm a new box starts with when no printer is configured: simulated printers with spools
//! loaded, a few models in the library and a queue to work through, so the whole flow runs out of the box.

use mesh::io::Format;
use mesh::Model;
use serde_json::json;

use std::time::Duration;

use super::dispatch::{submit, Submission};
use super::Farm;
use crate::db::{AuditEntry, Db, DbError, JobFilter, JobState, NewPrinter, NewSpool, NewUser, PrinterChange, Role};

/// Demo printers get makerspace-style names and one of two build volumes.
const DEMO_NAMES: &[&str] = &[
    "Ada", "Babbage", "Curie", "Darwin", "Euler", "Faraday", "Gauss", "Hopper", "Irwin", "Johnson", "Kepler",
    "Lovelace",
];

/// Colours the demo spools come in, round the farm.
const DEMO_COLOURS: &[(&str, &str)] = &[("Red", "#d62828"), ("Blue", "#1d4ed8"), ("Black", "#111111")];

pub(super) async fn create_printers(db: &Db, count: u32) -> Result<(), DbError> {
    let pla = db.materials().add_material("Demo PLA", "PLA", 1.24, Some(20.0)).await?;
    for i in 0..count as usize {
        let base = DEMO_NAMES[i % DEMO_NAMES.len()];
        let name = if i < DEMO_NAMES.len() { base.to_string() } else { format!("{base} {}", i / DEMO_NAMES.len() + 1) };
        let large = i % 3 == 2;
        let id = db
            .printers()
            .insert(&NewPrinter {
                name,
                driver: "simulated".into(),
                connection: json!({}),
                build_mm: if large { [350.0, 350.0, 350.0] } else { [250.0, 210.0, 220.0] },
                nozzle_mm: 0.4,
                firmware: "marlin2".into(),
                tags: vec!["demo".into(), if large { "large".into() } else { "room 1".into() }],
            })
            .await?;
        // Nobody is there to clear a demo printer's bed.
        db.printers().update(id, &PrinterChange { require_bed_clear: Some(false), ..Default::default() }).await?;
        let (colour, hex) = DEMO_COLOURS[i % DEMO_COLOURS.len()];
        let spool = db
            .materials()
            .add_spool(&NewSpool {
                material_id: pla,
                colour_name: colour.into(),
                colour_hex: Some(hex.into()),
                vendor: Some("Demo".into()),
                initial_g: 1000.0,
                remaining_g: None,
            })
            .await?;
        db.printers().load_spool(id, Some(spool)).await?;
    }
    db.audit()
        .record(&AuditEntry { action: "farm.demo_created", detail: json!({ "printers": count }), ..Default::default() })
        .await?;
    tracing::info!(count, "no printers configured: created a demo farm of simulated printers");
    Ok(())
}

/// Small models and one job per printer, so a new farm shows printers at work.
pub(super) async fn seed_jobs(farm: &Farm, count: u32) -> anyhow::Result<()> {
    let db = farm.db();
    let user = db
        .users()
        .insert(&NewUser {
            username: "demo".into(),
            display_name: "Demo teacher".into(),
            role: Role::Teacher,
            password_hash: None,
        })
        .await?;
    let models: Vec<(&str, mesh::IndexedMesh)> = vec![
        ("Calibration cube", mesh::primitives::box_mesh([0.0; 3], [20.0; 3])),
        ("Pencil cup", mesh::primitives::cylinder(15.0, 30.0, 48)),
        ("Ring", mesh::primitives::torus(14.0, 4.0, 48, 16)),
    ];
    let mut versions = Vec::new();
    for (name, m) in models {
        let bytes = mesh::io::write(&Model::single(name, m), Format::Stl)?;
        let stored =
            crate::library::store_model(db, farm.data_dir(), &format!("{name}.stl"), bytes, Some(user), "upload")
                .await?;
        versions.push(stored.version_id);
    }
    for i in 0..count as usize {
        let (colour, _) = DEMO_COLOURS[i % DEMO_COLOURS.len()];
        submit(
            farm,
            &Submission {
                model_version_id: versions[i % versions.len()],
                material_kind: Some("PLA".into()),
                colour: Some(colour.into()),
                quality: Some("draft".into()),
                ..Default::default()
            },
            Some((user, Role::Teacher)),
        )
        .await?;
    }
    Ok(())
}

/// How often the demo farm checks whether it has run out of work.
const DEMO_REFILL: Duration = Duration::from_secs(20);

/// Keeps a demo farm looking like a farm at work: whenever its queue is empty, the demo user sends
/// another of the demo models. Runs only while every printer is simulated.
pub(super) async fn keep_busy(farm: Farm) {
    let shutdown = farm.shutdown_token().clone();
    let mut round = 0usize;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(DEMO_REFILL) => {}
        }
        let db = farm.db();
        let all_simulated = farm.all_live().iter().all(|l| l.record.driver == "simulated");
        let Ok(Some(user)) = db.users().by_username("demo").await else { return };
        if !all_simulated || farm.is_empty() {
            return;
        }
        let waiting = db
            .jobs()
            .list(&JobFilter {
                states: vec![JobState::Queued, JobState::Slicing, JobState::Ready],
                limit: Some(1),
                ..Default::default()
            })
            .await
            .map(|j| j.len())
            .unwrap_or(1);
        let Ok(versions) = db.models().latest_versions_of(user.id).await else { continue };
        if waiting > 0 || versions.is_empty() {
            continue;
        }
        let (colour, _) = DEMO_COLOURS[round % DEMO_COLOURS.len()];
        let submission = Submission {
            model_version_id: versions[round % versions.len()],
            material_kind: Some("PLA".into()),
            colour: Some(colour.into()),
            quality: Some("draft".into()),
            ..Default::default()
        };
        if let Err(e) = submit(&farm, &submission, Some((user.id, user.role))).await {
            tracing::debug!("demo farm: {e}");
        }
        round += 1;
    }
}
