//! A simulated printer: heaters with first-order thermal lag and jobs that heat, print, finish and
//! cool, on a deterministic pseudo-random schedule. The demo farm runs these when no real printer is
//! configured; tests run them faster than real time.
//!
//! [`marlin`] is the other simulator: a Marlin board speaking the real serial protocol, which the
//! serial driver's tests and benchmarks talk to.

pub mod marlin;

use std::time::Duration;

use crate::{PrinterState, PrinterStatus, Temperature};

/// Room temperature the heaters cool towards, °C.
const AMBIENT_C: f32 = 22.0;
/// Thermal time constants, seconds: a hotend heats in about a minute, a bed in several.
const HOTEND_TAU_S: f64 = 20.0;
const BED_TAU_S: f64 = 45.0;
/// A heater counts as "at temperature" within this band, °C (Marlin's TEMP_WINDOW is similar).
const AT_TEMP_BAND_C: f32 = 2.0;

const DEMO_FILES: &[&str] = &[
    "benchy.gcode",
    "name_tag_maya.gcode",
    "phone_stand.gcode",
    "gear_set.gcode",
    "cable_clip_x8.gcode",
    "planter.gcode",
    "chess_knight.gcode",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Idle { left_s: f64 },
    Heating,
    Printing { elapsed_s: f64, total_s: f64 },
    Paused { left_s: f64, elapsed_s: f64, total_s: f64 },
    Finishing { left_s: f64 },
}

/// One simulated printer. Call [`SimulatedPrinter::advance`] with elapsed time; read [`SimulatedPrinter::status`].
#[derive(Debug, Clone)]
pub struct SimulatedPrinter {
    rng: u64,
    phase: Phase,
    status: PrinterStatus,
}

impl SimulatedPrinter {
    /// A printer that starts idle; `seed` makes its schedule reproducible and distinct from its neighbours'.
    pub fn new(seed: u64) -> Self {
        let mut p = Self {
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            phase: Phase::Idle { left_s: 0.0 },
            status: PrinterStatus::disconnected(),
        };
        p.status.state = PrinterState::Idle;
        p.status.hotend.actual = AMBIENT_C;
        p.status.bed.actual = AMBIENT_C;
        p.phase = Phase::Idle { left_s: p.uniform(5.0, 40.0) };
        p
    }

    pub fn status(&self) -> &PrinterStatus {
        &self.status
    }

    /// Moves simulated time forward by `dt` (callers may pass scaled time to fast-forward).
    pub fn advance(&mut self, dt: Duration) {
        // Step in small slices so phase changes and heating stay accurate under large dt.
        let mut left = dt.as_secs_f64();
        while left > 0.0 {
            let step = left.min(1.0);
            self.step(step);
            left -= step;
        }
    }

    fn step(&mut self, dt: f64) {
        self.status.hotend.actual = approach(self.status.hotend, dt, HOTEND_TAU_S);
        self.status.bed.actual = approach(self.status.bed, dt, BED_TAU_S);
        self.phase = match self.phase {
            Phase::Idle { left_s } if left_s > dt => Phase::Idle { left_s: left_s - dt },
            Phase::Idle { .. } => self.start_job(),
            Phase::Heating => {
                let hot = |t: Temperature| (t.actual - t.target).abs() <= AT_TEMP_BAND_C;
                if hot(self.status.hotend) && hot(self.status.bed) {
                    let total_s = self.uniform(240.0, 900.0);
                    self.status.message = None;
                    Phase::Printing { elapsed_s: 0.0, total_s }
                } else {
                    Phase::Heating
                }
            }
            Phase::Printing { elapsed_s, total_s } => {
                let elapsed_s = elapsed_s + dt;
                if elapsed_s >= total_s {
                    self.finish_job()
                } else if self.uniform(0.0, 1.0) < dt / 3000.0 {
                    // Roughly one pause per several jobs, as a filament runout would cause.
                    self.status.state = PrinterState::Paused;
                    self.status.message = Some("Filament runout: waiting for the operator".into());
                    Phase::Paused { left_s: self.uniform(20.0, 60.0), elapsed_s, total_s }
                } else {
                    self.show_progress(elapsed_s, total_s);
                    Phase::Printing { elapsed_s, total_s }
                }
            }
            Phase::Paused { left_s, elapsed_s, total_s } if left_s > dt => {
                Phase::Paused { left_s: left_s - dt, elapsed_s, total_s }
            }
            Phase::Paused { elapsed_s, total_s, .. } => {
                self.status.state = PrinterState::Printing;
                self.status.message = None;
                Phase::Printing { elapsed_s, total_s }
            }
            Phase::Finishing { left_s } if left_s > dt => Phase::Finishing { left_s: left_s - dt },
            Phase::Finishing { .. } => {
                self.status.state = PrinterState::Idle;
                self.status.message = None;
                self.status.file = None;
                self.status.progress = None;
                self.status.current_layer = None;
                self.status.total_layers = None;
                self.status.remaining_s = None;
                Phase::Idle { left_s: self.uniform(30.0, 400.0) }
            }
        };
    }

    fn start_job(&mut self) -> Phase {
        let file = DEMO_FILES[(self.next() % DEMO_FILES.len() as u64) as usize];
        let layers = self.uniform(60.0, 400.0) as u32;
        let s = &mut self.status;
        s.state = PrinterState::Printing;
        s.file = Some(file.to_string());
        s.progress = Some(0.0);
        s.current_layer = Some(0);
        s.hotend.target = 210.0;
        s.bed.target = 60.0;
        s.message = Some("Heating".into());
        s.total_layers = Some(layers);
        Phase::Heating
    }

    fn show_progress(&mut self, elapsed_s: f64, total_s: f64) {
        let p = (elapsed_s / total_s).clamp(0.0, 1.0);
        let s = &mut self.status;
        s.progress = Some(p as f32);
        s.current_layer = s.total_layers.map(|n| ((p * f64::from(n)) as u32).min(n));
        s.remaining_s = Some((total_s - elapsed_s).max(0.0) as u32);
    }

    fn finish_job(&mut self) -> Phase {
        let s = &mut self.status;
        s.state = PrinterState::Finishing;
        s.progress = Some(1.0);
        s.current_layer = s.total_layers;
        s.remaining_s = Some(0);
        s.hotend.target = 0.0;
        s.bed.target = 0.0;
        s.message = Some("Cooling down".into());
        Phase::Finishing { left_s: 30.0 }
    }

    /// xorshift64*: tiny, deterministic, good enough for a demo schedule.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// First-order lag towards the target (or ambient when the heater is off).
fn approach(t: Temperature, dt: f64, tau: f64) -> f32 {
    let goal = if t.target > 0.0 { t.target } else { AMBIENT_C };
    let k = 1.0 - (-dt / tau).exp();
    t.actual + (goal - t.actual) * k as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_until(p: &mut SimulatedPrinter, limit_s: u64, want: impl Fn(&PrinterStatus) -> bool) -> u64 {
        for s in 0..limit_s {
            if want(p.status()) {
                return s;
            }
            p.advance(Duration::from_secs(1));
        }
        panic!("condition not reached in {limit_s} simulated seconds: {:?}", p.status());
    }

    #[test]
    fn a_job_heats_prints_finishes_and_returns_to_idle() {
        let mut p = SimulatedPrinter::new(3);
        assert_eq!(p.status().state, PrinterState::Idle);
        run_until(&mut p, 100, |s| s.state == PrinterState::Printing);
        assert_eq!(p.status().message.as_deref(), Some("Heating"));
        assert!(p.status().hotend.actual < 100.0, "heaters start cold");
        run_until(&mut p, 600, |s| s.message.is_none() && s.state == PrinterState::Printing);
        assert!((p.status().hotend.actual - 210.0).abs() <= AT_TEMP_BAND_C);
        run_until(&mut p, 600, |s| s.progress.unwrap_or(0.0) > 0.5);
        run_until(&mut p, 1500, |s| s.state == PrinterState::Finishing);
        assert_eq!(p.status().current_layer, p.status().total_layers);
        run_until(&mut p, 100, |s| s.state == PrinterState::Idle);
        assert_eq!(p.status().file, None);
    }

    #[test]
    fn same_seed_same_schedule_different_seed_differs() {
        let (mut a, mut b, mut c) = (SimulatedPrinter::new(1), SimulatedPrinter::new(1), SimulatedPrinter::new(2));
        for _ in 0..500 {
            for p in [&mut a, &mut b, &mut c] {
                p.advance(Duration::from_secs(3));
            }
        }
        assert_eq!(a.status(), b.status());
        assert_ne!(a.status(), c.status());
    }

    #[test]
    fn one_big_step_matches_many_small_ones() {
        let (mut a, mut b) = (SimulatedPrinter::new(9), SimulatedPrinter::new(9));
        a.advance(Duration::from_secs(300));
        for _ in 0..300 {
            b.advance(Duration::from_secs(1));
        }
        assert_eq!(a.status().state, b.status().state);
        assert!((a.status().hotend.actual - b.status().hotend.actual).abs() < 0.01);
    }
}
