//! Implements `app::api::editor` for the server: opening a model version, saving an edit as a new
//! version (the original is never touched), what the farm can print with, a real slice for the
//! estimate, and submitting through the farm's own job submission.

use std::sync::{Arc, OnceLock};

use app::api::editor::{
    ColourOption, EditorDesk, GroupOption, MaterialOption, OpenedModel, PrintChoices, PrintEstimate, PrintOrder,
    SavedVersion, SentToPrint, SharedEditorDesk,
};
use leptos::prelude::provide_context;
use tokio::sync::Semaphore;

use crate::db::{DbError, JobRecord, JobState, PrinterRecord};
use crate::farm::dispatch::{self, JobError, Submission};
use crate::farm::profiles;
use crate::http::AppState;

/// The bed assumed when the farm has no printers: x, y, z mm.
const DEFAULT_BED: [f64; 3] = [220.0, 220.0, 250.0];

/// Estimates are sliced one at a time: the box has few cores and the farm's own slicing comes first.
fn estimate_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(1))
}

/// Someone else's model: saved edits would become a version of it.
const NOT_YOURS: &str =
    "This model belongs to someone else, so you cannot save changes to it. Sign in as yourself, or ask its owner.";

struct Desk {
    state: AppState,
}

/// Provides this area's implementation as Leptos context.
pub fn provide(state: &AppState) {
    let desk: SharedEditorDesk = Arc::new(Desk { state: state.clone() });
    provide_context(desk);
}

fn db_words(e: DbError) -> String {
    match e {
        DbError::NotFound { kind, id } => format!("there is no {kind} {id}"),
        e => {
            tracing::error!("editor: {e}");
            "the database failed; try again".into()
        }
    }
}

fn job_words(e: JobError) -> String {
    match e {
        JobError::Invalid(m) | JobError::Conflict(m) | JobError::Quota(m) | JobError::Forbidden(m) => m,
        JobError::Db(e) => db_words(e),
    }
}

/// The quality word the farm's submission takes for the editor's word.
fn submission_quality(word: &str) -> Result<&'static str, String> {
    match word {
        "draft" => Ok("draft"),
        "normal" | "standard" => Ok("standard"),
        "fine" => Ok("fine"),
        other => Err(format!("quality {other:?} is not one of draft, normal or fine")),
    }
}

impl Desk {
    /// Enabled printers that belong to the order's group (all of them for "any").
    async fn printers_for(&self, group: Option<&str>) -> Result<Vec<PrinterRecord>, String> {
        let all = self.state.db.printers().list().await.map_err(db_words)?;
        Ok(all.into_iter().filter(|p| p.enabled && group.is_none_or(|g| p.tags.iter().any(|t| t == g))).collect())
    }

    async fn cost_per_kg(&self, kind: &str, colour: &str) -> Option<f64> {
        let spools = self.state.db.materials().spools().await.ok()?;
        let same = |s: &&crate::db::Spool| s.material_kind.eq_ignore_ascii_case(kind);
        spools
            .iter()
            .filter(same)
            .find(|s| s.colour_name.eq_ignore_ascii_case(colour))
            .or_else(|| spools.iter().find(same))
            .and_then(|s| s.cost_per_kg)
    }

    fn check_order(order: &PrintOrder) -> Result<(), String> {
        if !(1..=100).contains(&order.copies) {
            return Err("copies must be between 1 and 100".into());
        }
        submission_quality(&order.quality)?;
        if order.material.trim().is_empty() {
            return Err("choose a material first".into());
        }
        Ok(())
    }
}

/// A job as it would be recorded for `order`, to ask the farm's profile rules what it prints with.
fn probe_job(order: &PrintOrder, name: &str) -> JobRecord {
    JobRecord {
        id: 0,
        name: name.to_string(),
        model_version_id: Some(order.version_id),
        owner_id: None,
        state: JobState::Submitted,
        material_kind: Some(order.material.trim().to_ascii_uppercase()),
        colour: Some(order.colour.clone()),
        quality: submission_quality(&order.quality).unwrap_or("standard").to_string(),
        copies: order.copies,
        batch_id: None,
        copy_index: 0,
        printer_group: order.group.clone(),
        priority: 0,
        deadline: None,
        nozzle_mm: None,
        size_mm: [0.0; 3],
        printer_id: None,
        gcode_path: None,
        estimate_s: None,
        filament_g: None,
        sliced_for: None,
        remote_file: None,
        spool_id: None,
        attempts: 0,
        max_attempts: 0,
        avoid_printers: Vec::new(),
        progress: None,
        started_at: None,
        finished_at: None,
        print_s: 0.0,
        filament_used_g: 0.0,
        cost: 0.0,
        error: None,
        queue_pos: None,
        plate: Vec::new(),
        presliced: false,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

/// A stand-in printer with the default bed, when the farm has none to slice for.
fn default_printer() -> PrinterRecord {
    PrinterRecord {
        id: 0,
        name: "a standard printer".into(),
        driver: "none".into(),
        connection: String::new(),
        build_x_mm: DEFAULT_BED[0],
        build_y_mm: DEFAULT_BED[1],
        build_z_mm: DEFAULT_BED[2],
        nozzle_mm: 0.4,
        firmware: "marlin".into(),
        tags: Vec::new(),
        enabled: true,
        maintenance: false,
        require_bed_clear: false,
        bed_clear: true,
        slicer_profile: None,
        loaded_spool_id: None,
        api_key_set: false,
    }
}

impl Desk {
    /// Whether `caller` may save a new version of a model owned by `owner`: the owner, a teacher of
    /// theirs, or a manager. A kiosk's own account (nobody signed in on it) owns nothing of anyone's.
    async fn may_change(&self, caller: Option<&crate::auth::Caller>, owner: Option<i64>) -> Result<bool, DbError> {
        use crate::db::Role;
        let Some(c) = caller else { return Ok(false) };
        Ok(match (c.role, owner) {
            (Role::Manager | Role::Admin, _) => true,
            (_, Some(o)) if o == c.user_id => true,
            (Role::Teacher, Some(o)) => self.state.db.accounts().teaches(c.user_id, o).await?,
            _ => false,
        })
    }
}

impl EditorDesk for Desk {
    fn open(&self, version: i64) -> app::api::editor::BoxFuture<'_, OpenedModel> {
        Box::pin(async move {
            let v = self.state.db.models().version(version).await.map_err(db_words)?;
            Ok(OpenedModel { version_id: v.id, model_id: v.model_id, name: v.name, version: v.version })
        })
    }

    fn save(&self, version: i64, file_3mf: Vec<u8>) -> app::api::editor::BoxFuture<'_, SavedVersion> {
        let caller = crate::auth::current();
        let owner = caller.as_ref().map(|c| c.user_id);
        let response = leptos::prelude::use_context::<leptos_axum::ResponseOptions>();
        Box::pin(async move {
            let parent = self.state.db.models().version(version).await.map_err(db_words)?;
            if !self.may_change(caller.as_ref(), parent.owner_id).await.map_err(db_words)? {
                if let Some(r) = response {
                    r.set_status(axum::http::StatusCode::FORBIDDEN);
                }
                return Err(NOT_YOURS.to_string());
            }
            let (id, number) =
                crate::library::store_version(&self.state.db, self.state.farm.data_dir(), version, file_3mf, owner)
                    .await
                    .map_err(|e| match e {
                        crate::library::LibraryError::Db(e) => db_words(e),
                        crate::library::LibraryError::Io(e) => {
                            tracing::error!("storing an edited model: {e}");
                            "The edited model could not be stored. Try saving again.".to_string()
                        }
                        other => format!("The edited model could not be saved: {other}."),
                    })?;
            Ok(SavedVersion { version_id: id, version: number })
        })
    }

    fn options(&self) -> app::api::editor::BoxFuture<'_, PrintChoices> {
        Box::pin(async move {
            let spools = self.state.db.materials().spools().await.map_err(db_words)?;
            let mut materials: Vec<MaterialOption> = Vec::new();
            for s in spools.iter().filter(|s| s.remaining_g > 0.0 && !s.archived) {
                let kind = s.material_kind.to_ascii_uppercase();
                let m = match materials.iter().position(|m| m.kind == kind) {
                    Some(i) => &mut materials[i],
                    None => {
                        materials.push(MaterialOption { kind, colours: Vec::new(), cost_per_kg: s.cost_per_kg });
                        materials.last_mut().ok_or("no material")?
                    }
                };
                match m.colours.iter_mut().find(|c| c.name.eq_ignore_ascii_case(&s.colour_name)) {
                    Some(c) => {
                        c.loaded |= s.printer_id.is_some();
                        c.grams_left += s.remaining_g;
                        c.hex = c.hex.take().or_else(|| s.colour_hex.clone());
                    }
                    None => m.colours.push(ColourOption {
                        name: s.colour_name.clone(),
                        hex: s.colour_hex.clone(),
                        loaded: s.printer_id.is_some(),
                        grams_left: s.remaining_g,
                    }),
                }
            }
            for m in &mut materials {
                m.colours.sort_by(|a, b| b.loaded.cmp(&a.loaded).then(a.name.cmp(&b.name)));
            }
            let printers = self.printers_for(None).await?;
            let bed = |p: &PrinterRecord| [p.build_x_mm as f32, p.build_y_mm as f32, p.build_z_mm as f32];
            let mut groups: Vec<GroupOption> = Vec::new();
            for p in &printers {
                for tag in &p.tags {
                    match groups.iter_mut().find(|g| &g.name == tag) {
                        Some(g) => {
                            g.printers += 1;
                            for (have, this) in g.bed.iter_mut().zip(bed(p)) {
                                *have = have.min(this);
                            }
                        }
                        None => groups.push(GroupOption { name: tag.clone(), printers: 1, bed: bed(p) }),
                    }
                }
            }
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            let any_bed = printers
                .iter()
                .map(bed)
                .max_by(|a, b| (a[0] * a[1]).total_cmp(&(b[0] * b[1])))
                .unwrap_or(DEFAULT_BED.map(|v| v as f32));
            Ok(PrintChoices { materials, groups, any_bed, printers: printers.len() })
        })
    }

    fn estimate(&self, order: PrintOrder) -> app::api::editor::BoxFuture<'_, PrintEstimate> {
        Box::pin(async move {
            Self::check_order(&order)?;
            let version = self.state.db.models().version(order.version_id).await.map_err(db_words)?;
            let printers = self.printers_for(order.group.as_deref()).await?;
            if printers.is_empty() && order.group.is_some() {
                return Err("no printer in that group is switched on; choose another group or any printer".into());
            }
            // The largest printer of the group: what the scheduler can always fall back to.
            let printer = printers
                .into_iter()
                .max_by(|a, b| (a.build_x_mm * a.build_y_mm).total_cmp(&(b.build_x_mm * b.build_y_mm)))
                .unwrap_or_else(default_printer);
            let job = probe_job(&order, &version.name);
            let (profile, _) = profiles::for_job(&printer, &job)?;
            let path = self.state.farm.data_dir().join(&version.file_path);
            let name = version.name.clone();
            let _permit = estimate_permits().acquire().await.map_err(|e| e.to_string())?;
            let _turn = crate::library::parse_permit().await;
            let summary = tokio::task::spawn_blocking(move || -> Result<slicer::SliceSummary, String> {
                let model = mesh::io::read_file(&path, &crate::library::model_limits())
                    .map_err(|e| format!("the model file cannot be read: {e}"))?;
                let plate = slicer::Plate::arranged(vec![(name, model)], &profile.printer.bed);
                let out =
                    slicer::slice(&plate, &profile, &slicer::SliceControl::default()).map_err(|e| e.to_string())?;
                Ok(out.summary)
            })
            .await
            .map_err(|e| format!("the slicer stopped unexpectedly: {e}"))??;
            let copies = order.copies as f64;
            let grams = summary.filament_g * copies;
            let cost = self.cost_per_kg(&order.material, &order.colour).await.map(|per_kg| grams / 1000.0 * per_kg);
            Ok(PrintEstimate {
                print_time_s: summary.print_time_s * copies,
                filament_g: grams,
                cost,
                printer: printer.name,
                copies: order.copies,
            })
        })
    }

    fn send(&self, order: PrintOrder) -> app::api::editor::BoxFuture<'_, SentToPrint> {
        let owner = crate::auth::current().map(|c| (c.user_id, c.role));
        Box::pin(async move {
            Self::check_order(&order)?;
            let submission = Submission {
                model_version_id: order.version_id,
                material_kind: Some(order.material.clone()),
                colour: Some(order.colour.clone()).filter(|c| !c.trim().is_empty()),
                quality: Some(submission_quality(&order.quality)?.to_string()),
                copies: Some(order.copies),
                printer_group: order.group.clone(),
                ..Submission::default()
            };
            // The same path as POST /api/v1/jobs, owned by the signed-in person.
            let jobs = dispatch::submit(&self.state.farm, &submission, owner).await.map_err(job_words)?;
            let state = jobs.first().map(|j| j.state.as_str().to_string()).unwrap_or_default();
            Ok(SentToPrint { job_ids: jobs.iter().map(|j| j.id).collect(), state })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_words_reach_the_farm() {
        assert_eq!(submission_quality("draft").unwrap(), "draft");
        assert_eq!(submission_quality("normal").unwrap(), "standard");
        assert_eq!(profiles::quality_preset(submission_quality("fine").unwrap()), "0.15-fine");
        assert!(submission_quality("ultra").is_err());
    }

    #[test]
    fn the_probe_job_asks_for_the_ordered_material_and_quality() {
        let order = PrintOrder {
            version_id: 3,
            material: "petg".into(),
            colour: "Red".into(),
            quality: "draft".into(),
            copies: 2,
            group: None,
        };
        let (profile, key) = profiles::for_job(&default_printer(), &probe_job(&order, "tag")).unwrap();
        assert!(key.contains("petg") && key.contains("0.28-draft"), "{key}");
        assert!(profile.printer.max_height > 200.0);
    }
}
