//! What a printer reports, independent of how it is connected.

use serde::{Deserialize, Serialize};

/// The lifecycle state of one printer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    Disconnected,
    Connecting,
    Idle,
    Printing,
    Paused,
    Finishing,
    Error,
}

impl PrinterState {
    /// Whether the printer is busy with a job (it may not take another).
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Printing | Self::Paused | Self::Finishing)
    }
}

/// One heater's reading, °C.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Temperature {
    pub actual: f32,
    pub target: f32,
}

/// Where the toolhead is, in printer coordinates (mm).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Position {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub e: f32,
}

/// How far through a file the host (or the printer) is, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ByteProgress {
    pub done: u64,
    pub total: u64,
}

/// What the firmware says about itself (Marlin `M115`, OctoPrint/Klipper version strings).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirmwareInfo {
    /// E.g. `Marlin 2.1.2.4`, `Klipper v0.12.0`, `OctoPrint 1.11.8`.
    pub name: String,
    /// Every `KEY:value` field of the firmware line, verbatim (MACHINE_TYPE, EXTRUDER_COUNT, UUID…).
    pub fields: Vec<(String, String)>,
    /// Capabilities the firmware reported as on (`Cap:AUTOREPORT_TEMP:1` → `AUTOREPORT_TEMP`).
    pub capabilities: Vec<String>,
}

impl FirmwareInfo {
    /// Whether the firmware reported capability `name` as present; unreported means absent.
    pub fn has(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }
}

/// A snapshot of everything the farm shows about a printer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterStatus {
    pub state: PrinterState,
    pub hotend: Temperature,
    pub bed: Temperature,
    /// 0.0..=1.0 while a job runs.
    pub progress: Option<f32>,
    pub current_layer: Option<u32>,
    pub total_layers: Option<u32>,
    pub file: Option<String>,
    /// Seconds the job still needs, when known.
    pub remaining_s: Option<u32>,
    /// What the printer is doing or the error it gave, verbatim.
    pub message: Option<String>,
    /// Bytes of the current file sent (host streaming) or read (printer-side file).
    #[serde(default)]
    pub bytes: Option<ByteProgress>,
    #[serde(default)]
    pub position: Option<Position>,
    #[serde(default)]
    pub firmware: Option<FirmwareInfo>,
    /// The last error the printer or the connection gave, verbatim; kept after the state leaves `Error`.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl PrinterStatus {
    /// A printer we have not talked to yet.
    pub fn disconnected() -> Self {
        Self {
            state: PrinterState::Disconnected,
            hotend: Temperature::default(),
            bed: Temperature::default(),
            progress: None,
            current_layer: None,
            total_layers: None,
            file: None,
            remaining_s: None,
            message: None,
            bytes: None,
            position: None,
            firmware: None,
            last_error: None,
        }
    }

    /// Whether `other` differs enough to be worth telling the browsers about: any state, file, layer
    /// or message change, a whole-percent progress step or a half-degree temperature move.
    pub fn differs_visibly(&self, other: &Self) -> bool {
        let temp_moved = |a: Temperature, b: Temperature| (a.actual - b.actual).abs() >= 0.5 || a.target != b.target;
        let pct = |p: Option<f32>| p.map(|p| (p * 100.0).floor() as i32);
        self.state != other.state
            || self.file != other.file
            || self.message != other.message
            || self.last_error != other.last_error
            || self.firmware != other.firmware
            || self.current_layer != other.current_layer
            || pct(self.progress) != pct(other.progress)
            || temp_moved(self.hotend, other.hotend)
            || temp_moved(self.bed, other.bed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_temperature_noise_is_not_news() {
        let a = PrinterStatus::disconnected();
        let mut b = a.clone();
        b.hotend.actual += 0.2;
        assert!(!a.differs_visibly(&b));
        b.hotend.actual += 0.4;
        assert!(a.differs_visibly(&b));
        let mut c = a.clone();
        c.state = PrinterState::Idle;
        assert!(a.differs_visibly(&c));
    }
}
