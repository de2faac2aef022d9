//! JSON types that cross the wire between server and browser (server functions, REST, event stream).

use serde::{Deserialize, Serialize};

/// A printer's connection/job state as the app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterStateView {
    Disconnected,
    Connecting,
    Idle,
    Printing,
    Paused,
    Finishing,
    Error,
}

impl PrinterStateView {
    pub const ALL: [Self; 7] =
        [Self::Printing, Self::Paused, Self::Finishing, Self::Idle, Self::Connecting, Self::Disconnected, Self::Error];

    /// The word shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Disconnected => "Offline",
            Self::Connecting => "Connecting",
            Self::Idle => "Ready",
            Self::Printing => "Printing",
            Self::Paused => "Paused",
            Self::Finishing => "Finishing",
            Self::Error => "Error",
        }
    }

    /// The machine name, used for CSS classes and `data-state`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Idle => "idle",
            Self::Printing => "printing",
            Self::Paused => "paused",
            Self::Finishing => "finishing",
            Self::Error => "error",
        }
    }
}

/// One heater, °C.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TempView {
    pub actual: f32,
    pub target: f32,
}

/// Everything the farm page shows about one printer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterView {
    pub id: i64,
    pub name: String,
    /// `simulated`, `marlin`, `octoprint` or `moonraker`.
    pub driver: String,
    pub tags: Vec<String>,
    pub state: PrinterStateView,
    pub hotend: TempView,
    pub bed: TempView,
    /// 0.0..=1.0 while a job runs.
    pub progress: Option<f32>,
    pub current_layer: Option<u32>,
    pub total_layers: Option<u32>,
    pub file: Option<String>,
    pub remaining_s: Option<u32>,
    pub message: Option<String>,
    /// False from the end of a job until a person confirms the bed is clear.
    #[serde(default = "yes")]
    pub bed_clear: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub maintenance: bool,
    /// The farm job it holds, if any, and that job's name.
    #[serde(default)]
    pub job_id: Option<i64>,
    #[serde(default)]
    pub job_name: Option<String>,
    /// What is loaded, e.g. "PLA · Red · 640 g left".
    #[serde(default)]
    pub material: Option<String>,
}

fn yes() -> bool {
    true
}

impl PrinterView {
    /// What a person has to do at this printer, in words, if anything.
    pub fn needs(&self) -> Option<String> {
        if self.state == PrinterStateView::Error {
            return Some(match &self.message {
                Some(m) => format!("Error: {m}"),
                None => "Error: check the printer".into(),
            });
        }
        if !self.bed_clear && !self.state_is_busy() {
            return Some("Bed needs clearing".into());
        }
        None
    }

    fn state_is_busy(&self) -> bool {
        matches!(self.state, PrinterStateView::Printing | PrinterStateView::Paused | PrinterStateView::Finishing)
    }
}

/// A farm job as the queue and the job pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    /// `submitted`, `awaiting_approval`, `queued`, `slicing`, `ready`, `assigned`, `printing`, `paused`,
    /// `done`, `failed` or `cancelled`.
    pub state: String,
    pub printer_id: Option<i64>,
    pub progress: Option<f64>,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    pub estimate_s: Option<i64>,
    pub filament_g: Option<f64>,
    pub attempts: i64,
    pub error: Option<String>,
}

/// A notification for people: a job finished or failed, a printer needs attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: i64,
    pub at: String,
    /// `job_done`, `job_failed`, `needs_attention`, `low_filament`, `maintenance_due`.
    pub kind: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    pub message: String,
    pub job_id: Option<i64>,
    pub printer_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// A message on the live event stream (`/api/v1/events`), tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FarmEvent {
    /// The whole farm: sent first on every connection and again if a client fell behind.
    Snapshot { printers: Vec<PrinterView> },
    /// One printer changed.
    Printer { printer: PrinterView },
    /// One job changed state or progress.
    Job { job: JobView },
    /// The queue's order or estimates changed (a job was added, assigned, re-ordered or finished).
    Queue,
    /// Something people should know about.
    Notification { notification: NotificationView },
}

/// A generation request as the Create page follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationView {
    pub id: i64,
    /// queued, running, done, failed, cancelled.
    pub state: String,
    pub step: u32,
    pub total: u32,
    /// `procedural` or `shap-e`.
    pub tier: String,
    pub template: Option<String>,
    /// The stored model, once done (its thumbnail is `/api/v1/models/versions/{id}/thumbnail.png`).
    pub model_version_id: Option<i64>,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// What the output path did ("added a 1.5 mm base").
    pub notes: Vec<String>,
    /// Goes up each time the AI model has a new coarse look at its result, drawn at
    /// `/api/v1/generations/{id}/preview.png` (0: none yet).
    #[serde(default)]
    pub preview: u32,
    /// What a running request is doing: "shaping" (sampling), "building the mesh" (the slow last
    /// part on a CPU), or empty when not known.
    #[serde(default)]
    pub stage: String,
}

impl GenerationView {
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "done" | "failed" | "cancelled")
    }
}

/// A ready-made design offered when a prompt matched none well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignChoice {
    pub template: String,
    pub name: String,
    pub description: String,
}

/// What the Create page gets back for a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CreateOutcome {
    /// Being made (or already made: the cache); one entry per variation.
    Started { generations: Vec<GenerationView> },
    /// Pick one of these designs.
    Choose { reason: String, choices: Vec<DesignChoice> },
}

/// Whether the AI tier is available, said plainly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateStatus {
    pub ai_available: bool,
    pub message: String,
}

/// "1 h 05 min", "4 min", "40 s": remaining time in words a student reads at a glance.
pub fn format_duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_json() {
        let e = FarmEvent::Snapshot { printers: vec![] };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"snapshot","printers":[]}"#);
        let back: FarmEvent = serde_json::from_str(r#"{"type":"snapshot","printers":[]}"#).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(40), "40 s");
        assert_eq!(format_duration(240), "4 min");
        assert_eq!(format_duration(3900), "1 h 05 min");
    }
}
