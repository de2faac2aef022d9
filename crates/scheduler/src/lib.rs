//! # scheduler — who prints what, and when
//!
//! The print farm's scheduling logic: pure, synchronous, no I/O. The server gathers a snapshot of the farm and
//! the queue, calls in, and acts on the answer.
//!
//! - [`fits`]: can this printer print this job at all, and if not, why ([`Mismatch`]).
//! - [`service_order`]: the order the queue is served in: priority, deadlines at risk, then fair share.
//! - [`plan_round`]: which jobs start now, on which available printers ([`Assignment`]).
//! - [`forecast`]: when every queued job should start and finish, by simulating the queue ([`Estimate`]).
//!
//! The inputs are [`Printer`]s (with the [`Loaded`] filament), [`Job`]s and a [`Policy`] (with its
//! [`Windows`]). Names (materials, colours, tags, groups) compare trimmed and case-insensitively; a blank name
//! on a job counts as not given.

use std::collections::HashMap;
use std::fmt;

mod calendar;
mod compiled;
mod forecast;
mod order;
mod plan;

pub use forecast::forecast;
pub use order::service_order;
pub use plan::plan_round;

/// A printer's database id.
pub type PrinterId = i64;
/// A queued job's database id.
pub type JobId = i64;
/// A user's database id (the owner of jobs, for fair share).
pub type UserId = i64;

/// Filament loaded on a printer.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The material, e.g. "PLA".
    pub kind: String,
    /// The colour, e.g. "red".
    pub colour: String,
    /// Grams left on the spool.
    pub remaining_g: f64,
}

/// One printer as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Printer {
    pub id: PrinterId,
    /// Idle, enabled, connected, not in maintenance and bed cleared: it may take a job now.
    pub available: bool,
    /// Heating for a job right now (counts toward [`Policy::max_heating`]).
    pub heating: bool,
    /// For the forecast: seconds from now until it can take its next job (0 when available; the remaining time
    /// of its print plus changeover when printing; `f64::INFINITY` when disabled/offline/in maintenance with no
    /// known end).
    pub free_in_s: f64,
    /// Build volume X, Y, Z in mm.
    pub build_mm: [f64; 3],
    pub nozzle_mm: f64,
    /// Free-form labels ("room 2", "large") that jobs can ask for through [`Job::group`].
    pub tags: Vec<String>,
    /// What is loaded, if anything.
    pub material: Option<Loaded>,
}

/// One job waiting for a printer.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub owner: UserId,
    /// Higher runs first.
    pub priority: i32,
    /// Seconds (same clock as [`Policy::now_s`]) by which it should be finished.
    pub deadline_s: Option<f64>,
    /// When it was queued (same clock): earlier goes first among otherwise equal jobs.
    pub submitted_s: f64,
    /// Bounding box of the plate, mm.
    pub size_mm: [f64; 3],
    /// The nozzle it was sliced for, if that matters.
    pub nozzle_mm: Option<f64>,
    pub material_kind: Option<String>,
    pub colour: Option<String>,
    /// A printer tag the printer must carry ("room 2", "large").
    pub group: Option<String>,
    /// Filament the print uses, grams.
    pub filament_g: f64,
    /// Print time estimated by the slicer, seconds.
    pub duration_s: f64,
    /// Printers this job already failed on: used only when no other printer fits.
    pub avoid: Vec<PrinterId>,
}

/// The farm's rules and state that are not about one printer or job.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The current time, seconds on the clock that deadlines and windows use.
    pub now_s: f64,
    /// At most this many printers heating at once (heating printers + starts this round); None = no limit.
    pub max_heating: Option<usize>,
    /// Jobs each user has running now (assigned/printing), for fair share.
    pub running: HashMap<UserId, usize>,
    /// Seconds to clear the bed and change over between two jobs on one printer (forecast only).
    pub changeover_s: f64,
    /// Time windows (absolute, same clock as now_s).
    pub windows: Windows,
}

/// When jobs may start.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    /// No job may start inside these intervals [start, end).
    pub quiet: Vec<(f64, f64)>,
    /// Jobs at least `long_job_s` long may start only inside one of these intervals; when `long_job_s` is None
    /// this is ignored.
    pub overnight: Vec<(f64, f64)>,
    /// From this duration (seconds) on, a job counts as long.
    pub long_job_s: Option<f64>,
}

/// Start this job on this printer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub job: JobId,
    pub printer: PrinterId,
}

/// When a queued job should start and finish, per [`forecast`].
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub job: JobId,
    /// The printer it should run on (None when it cannot be placed).
    pub printer: Option<PrinterId>,
    pub start_s: Option<f64>,
    pub finish_s: Option<f64>,
    /// Why it cannot be placed (None when placed).
    pub blocked: Option<Mismatch>,
}

/// Why a job cannot be printed (by one printer in [`fits`], by the whole farm in [`Estimate::blocked`]).
///
/// `Display` gives a sentence about the farm that a student understands; [`Mismatch::explain`] names the job's
/// own material, colour, size or group. The first seven are listed from least to most informative: a printer
/// that fails only on a later one came closer to fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mismatch {
    /// The plate does not fit the build volume, even turned 90°.
    TooBig,
    /// The job was sliced for another nozzle size.
    Nozzle,
    /// The printer does not carry the tag the job asks for.
    Group,
    /// The job names a material or colour but the printer has nothing loaded.
    NoMaterial,
    /// Another material is loaded.
    MaterialKind,
    /// Another colour is loaded.
    Colour,
    /// The spool has less filament left than the job needs.
    NotEnoughFilament,
    /// The farm has no printers at all.
    NoPrinter,
    /// Every printer that could print it is offline, disabled or in maintenance with no known end.
    Offline,
    /// It may never start: a long job with no overnight window ahead, or a quiet period with no end.
    NoWindow,
}

impl Mismatch {
    /// How close a printer failing with this came to fitting; the forecast reports the closest miss.
    pub(crate) fn closeness(self) -> u8 {
        self as u8
    }

    /// The per-printer reasons, indexed by [`Mismatch::closeness`].
    pub(crate) const PER_PRINTER: [Mismatch; 7] = [
        Mismatch::TooBig,
        Mismatch::Nozzle,
        Mismatch::Group,
        Mismatch::NoMaterial,
        Mismatch::MaterialKind,
        Mismatch::Colour,
        Mismatch::NotEnoughFilament,
    ];

    /// The reason as a sentence that names what this job asks for, e.g. "no printer has red PLA loaded".
    pub fn explain(&self, job: &Job) -> String {
        let kind = compiled::named(&job.material_kind);
        let colour = compiled::named(&job.colour);
        let material = match (colour, kind) {
            (Some(c), Some(k)) => format!("{c} {k}"),
            (Some(c), None) => format!("{c} filament"),
            (None, Some(k)) => k.to_string(),
            (None, None) => "filament".to_string(),
        };
        match self {
            Mismatch::TooBig => {
                let [x, y, z] = job.size_mm;
                format!("at {x:.0} × {y:.0} × {z:.0} mm it is too big for every printer")
            }
            Mismatch::Nozzle => match job.nozzle_mm {
                Some(n) => format!("no printer has a {n} mm nozzle"),
                None => self.to_string(),
            },
            Mismatch::Group => match compiled::named(&job.group) {
                Some(g) => format!("no printer is in the group \"{g}\""),
                None => self.to_string(),
            },
            Mismatch::NoMaterial | Mismatch::MaterialKind | Mismatch::Colour => {
                format!("no printer has {material} loaded")
            }
            Mismatch::NotEnoughFilament => {
                format!("no printer has {:.0} g of {material} left on its spool", job.filament_g)
            }
            Mismatch::NoPrinter | Mismatch::Offline | Mismatch::NoWindow => self.to_string(),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mismatch::TooBig => "it is too big for the build volume of every printer",
            Mismatch::Nozzle => "no printer has the nozzle size it was sliced for",
            Mismatch::Group => "no printer is in the group it was sent to",
            Mismatch::NoMaterial => "no printer that could print it has any filament loaded",
            Mismatch::MaterialKind => "no printer has its material loaded",
            Mismatch::Colour => "no printer has its colour loaded",
            Mismatch::NotEnoughFilament => "no printer has enough filament left on the spool for it",
            Mismatch::NoPrinter => "the farm has no printers",
            Mismatch::Offline => "every printer that could print it is offline, disabled or in maintenance",
            Mismatch::NoWindow => "there is no time left in which it may start (long prints start only overnight)",
        })
    }
}

impl std::error::Error for Mismatch {}

/// Whether `printer` can print `job` as far as hardware and loaded filament go (availability and time windows
/// are not its business); the error is the first check that failed, in [`Mismatch`]'s order.
pub fn fits(printer: &Printer, job: &Job) -> Result<(), Mismatch> {
    use compiled::{named, nozzle_matches, same_name, size_fits, sorted_xy};
    let (lo, hi) = sorted_xy(job.size_mm);
    let (plo, phi) = sorted_xy(printer.build_mm);
    if !size_fits([lo, hi, job.size_mm[2]], [plo, phi, printer.build_mm[2]]) {
        return Err(Mismatch::TooBig);
    }
    if let Some(n) = job.nozzle_mm {
        if !nozzle_matches(n, printer.nozzle_mm) {
            return Err(Mismatch::Nozzle);
        }
    }
    if let Some(group) = named(&job.group) {
        if !printer.tags.iter().any(|t| same_name(t, group)) {
            return Err(Mismatch::Group);
        }
    }
    let (kind, colour) = (named(&job.material_kind), named(&job.colour));
    if kind.is_some() || colour.is_some() {
        let Some(loaded) = &printer.material else {
            return Err(Mismatch::NoMaterial);
        };
        if kind.is_some_and(|k| !same_name(&loaded.kind, k)) {
            return Err(Mismatch::MaterialKind);
        }
        if colour.is_some_and(|c| !same_name(&loaded.colour, c)) {
            return Err(Mismatch::Colour);
        }
    }
    match &printer.material {
        Some(loaded) if loaded.remaining_g >= job.filament_g => Ok(()),
        Some(_) => Err(Mismatch::NotEnoughFilament),
        None => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    pub fn printer(id: PrinterId) -> Printer {
        Printer {
            id,
            available: true,
            heating: false,
            free_in_s: 0.0,
            build_mm: [220.0, 220.0, 250.0],
            nozzle_mm: 0.4,
            tags: vec![],
            material: Some(Loaded { kind: "PLA".into(), colour: "black".into(), remaining_g: 1000.0 }),
        }
    }

    pub fn job(id: JobId) -> Job {
        Job {
            id,
            owner: 1,
            priority: 0,
            deadline_s: None,
            submitted_s: id as f64,
            size_mm: [50.0, 50.0, 50.0],
            nozzle_mm: None,
            material_kind: None,
            colour: None,
            group: None,
            filament_g: 20.0,
            duration_s: 3600.0,
            avoid: vec![],
        }
    }

    pub fn policy() -> Policy {
        Policy { now_s: 1_000_000.0, ..Policy::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn plain_job_fits_plain_printer() {
        assert_eq!(fits(&printer(1), &job(1)), Ok(()));
    }

    #[test]
    fn size_may_turn_in_xy_but_not_z() {
        let mut p = printer(1);
        p.build_mm = [300.0, 100.0, 100.0];
        let mut j = job(1);
        j.size_mm = [100.0, 300.0, 100.0];
        assert_eq!(fits(&p, &j), Ok(()));
        j.size_mm = [100.0, 100.0, 300.0];
        assert_eq!(fits(&p, &j), Err(Mismatch::TooBig));
        j.size_mm = [300.0 + 1e-7, 100.0, 100.0];
        assert_eq!(fits(&p, &j), Ok(()), "within tolerance");
        j.size_mm = [300.001, 100.0, 100.0];
        assert_eq!(fits(&p, &j), Err(Mismatch::TooBig));
    }

    #[test]
    fn nozzle_within_a_hundredth() {
        let mut j = job(1);
        j.nozzle_mm = Some(0.41);
        assert_eq!(fits(&printer(1), &j), Ok(()));
        j.nozzle_mm = Some(0.6);
        assert_eq!(fits(&printer(1), &j), Err(Mismatch::Nozzle));
    }

    #[test]
    fn material_and_colour_compare_trimmed_and_caseless() {
        let mut j = job(1);
        j.material_kind = Some(" pla ".into());
        j.colour = Some("BLACK".into());
        assert_eq!(fits(&printer(1), &j), Ok(()));
        j.colour = Some("red".into());
        assert_eq!(fits(&printer(1), &j), Err(Mismatch::Colour));
        j.material_kind = Some("PETG".into());
        assert_eq!(fits(&printer(1), &j), Err(Mismatch::MaterialKind));
    }

    #[test]
    fn named_material_needs_loaded_material() {
        let mut p = printer(1);
        p.material = None;
        let mut j = job(1);
        assert_eq!(fits(&p, &j), Ok(()), "no material asked, none loaded");
        j.colour = Some("red".into());
        assert_eq!(fits(&p, &j), Err(Mismatch::NoMaterial));
        j.colour = Some("  ".into());
        assert_eq!(fits(&p, &j), Ok(()), "a blank name is no request");
    }

    #[test]
    fn loaded_spool_must_hold_the_filament_even_if_unnamed() {
        let mut p = printer(1);
        p.material.as_mut().unwrap().remaining_g = 10.0;
        assert_eq!(fits(&p, &job(1)), Err(Mismatch::NotEnoughFilament));
        p.material.as_mut().unwrap().remaining_g = 20.0;
        assert_eq!(fits(&p, &job(1)), Ok(()));
    }

    #[test]
    fn group_is_a_caseless_tag() {
        let mut p = printer(1);
        p.tags = vec!["Room 2".into(), "large".into()];
        let mut j = job(1);
        j.group = Some("room 2".into());
        assert_eq!(fits(&p, &j), Ok(()));
        j.group = Some("room 3".into());
        assert_eq!(fits(&p, &j), Err(Mismatch::Group));
    }

    #[test]
    fn checks_run_in_mismatch_order() {
        let mut p = printer(1);
        p.material.as_mut().unwrap().remaining_g = 0.0;
        let mut j = job(1);
        j.colour = Some("red".into());
        assert_eq!(fits(&p, &j), Err(Mismatch::Colour), "colour is reported before filament");
        j.group = Some("x".into());
        assert_eq!(fits(&p, &j), Err(Mismatch::Group));
        j.nozzle_mm = Some(0.8);
        assert_eq!(fits(&p, &j), Err(Mismatch::Nozzle));
        j.size_mm[2] = 1000.0;
        assert_eq!(fits(&p, &j), Err(Mismatch::TooBig));
    }

    #[test]
    fn explanations_name_the_job() {
        let mut j = job(1);
        j.material_kind = Some("PLA".into());
        j.colour = Some("red".into());
        assert_eq!(Mismatch::Colour.explain(&j), "no printer has red PLA loaded");
        assert_eq!(Mismatch::NotEnoughFilament.explain(&j), "no printer has 20 g of red PLA left on its spool");
        j.group = Some("room 2".into());
        assert_eq!(Mismatch::Group.explain(&j), "no printer is in the group \"room 2\"");
        let e: Box<dyn std::error::Error> = Box::new(Mismatch::Offline);
        assert!(e.to_string().contains("offline"));
    }
}
