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
}

/// A message on the live event stream (`/api/v1/events`), tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FarmEvent {
    /// The whole farm: sent first on every connection and again if a client fell behind.
    Snapshot { printers: Vec<PrinterView> },
    /// One printer changed.
    Printer { printer: PrinterView },
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
