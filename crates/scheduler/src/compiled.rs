//! Printers and jobs turned into numbers once per call, so the hot loops compare integers and floats instead of
//! case-folding strings. Every check here must agree exactly with [`crate::fits`].

use std::borrow::Cow;
use std::collections::HashMap;

use crate::calendar::Calendar;
use crate::{Job, Mismatch, Printer, PrinterId};

/// Slicer bounding boxes are rounded; a plate exactly as big as the bed must still fit.
const SIZE_TOLERANCE_MM: f64 = 1e-6;
/// Nozzles are quoted to a hundredth of a mm; the epsilon absorbs binary rounding of e.g. 0.41 - 0.40.
const NOZZLE_TOLERANCE_MM: f64 = 0.01 + 1e-9;

/// `kind`/`colour` of a printer with nothing loaded.
pub(crate) const NO_MATERIAL: u32 = u32::MAX;
/// A name a job asks for that no printer has: matches nothing.
pub(crate) const UNKNOWN: u32 = u32::MAX - 1;

/// A job's name field, unless blank (forms send "" for "any").
pub(crate) fn named(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The one notion of "the same name" used everywhere: trimmed, lower-cased char by char.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    fold(a).eq(fold(b))
}

fn fold(s: &str) -> impl Iterator<Item = char> + '_ {
    s.trim().chars().flat_map(char::to_lowercase)
}

/// [`same_name`]'s key, without allocating for the usual already-lower-case ASCII names.
fn normalized(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(fold(t).collect())
    }
}

pub(crate) fn sorted_xy(size: [f64; 3]) -> (f64, f64) {
    if size[0] <= size[1] {
        (size[0], size[1])
    } else {
        (size[1], size[0])
    }
}

/// Sorted XY lets one comparison cover both orientations: a rectangle fits turned or not exactly when its
/// shorter side fits the shorter side and its longer side the longer side.
pub(crate) fn size_fits(job: [f64; 3], build: [f64; 3]) -> bool {
    job[0] <= build[0] + SIZE_TOLERANCE_MM
        && job[1] <= build[1] + SIZE_TOLERANCE_MM
        && job[2] <= build[2] + SIZE_TOLERANCE_MM
}

pub(crate) fn nozzle_matches(wanted: f64, have: f64) -> bool {
    (wanted - have).abs() <= NOZZLE_TOLERANCE_MM
}

/// Names seen on the printers of one call, as small integers.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        let key = normalized(s);
        if let Some(&id) = self.ids.get(key.as_ref()) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(key.into_owned(), id);
        id
    }

    pub fn lookup(&self, s: &str) -> u32 {
        self.ids.get(normalized(s).as_ref()).copied().unwrap_or(UNKNOWN)
    }
}

/// A printer's static capabilities.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub id: PrinterId,
    /// Build volume with X/Y sorted (shorter first).
    pub build: [f64; 3],
    pub volume: f64,
    pub nozzle: f64,
    pub kind: u32,
    pub colour: u32,
    pub remaining_g: f64,
    pub tags: Vec<u32>,
}

impl Machine {
    pub fn new(p: &Printer, names: &mut Interner) -> Self {
        let (lo, hi) = sorted_xy(p.build_mm);
        let (kind, colour, remaining_g) = match &p.material {
            Some(m) => (names.intern(&m.kind), names.intern(&m.colour), m.remaining_g),
            None => (NO_MATERIAL, NO_MATERIAL, f64::INFINITY),
        };
        Machine {
            id: p.id,
            build: [lo, hi, p.build_mm[2]],
            volume: p.build_mm[0] * p.build_mm[1] * p.build_mm[2],
            nozzle: p.nozzle_mm,
            kind,
            colour,
            remaining_g,
            tags: p.tags.iter().map(|t| names.intern(t)).collect(),
        }
    }

    pub fn has_material(&self) -> bool {
        self.kind != NO_MATERIAL
    }

    /// The spool check, against `remaining_g` which the forecast lowers as it goes.
    pub fn holds(&self, remaining_g: f64, filament_g: f64) -> bool {
        !self.has_material() || remaining_g >= filament_g
    }

    /// The checks shared by all jobs of one [`Req`], in `fits` order.
    pub fn serves(&self, r: &Req) -> Result<(), Mismatch> {
        if let Some(n) = r.nozzle {
            if !nozzle_matches(f64::from_bits(n), self.nozzle) {
                return Err(Mismatch::Nozzle);
            }
        }
        if let Some(g) = r.group {
            if !self.tags.contains(&g) {
                return Err(Mismatch::Group);
            }
        }
        if r.kind.is_some() || r.colour.is_some() {
            if !self.has_material() {
                return Err(Mismatch::NoMaterial);
            }
            if r.kind.is_some_and(|k| k != self.kind) {
                return Err(Mismatch::MaterialKind);
            }
            if r.colour.is_some_and(|c| c != self.colour) {
                return Err(Mismatch::Colour);
            }
        }
        Ok(())
    }

    /// [`crate::fits`] on compiled data (the hot paths inline the parts they need; tests hold them equal).
    #[cfg(test)]
    pub fn fits(&self, need: &Need, r: &Req) -> Result<(), Mismatch> {
        if !size_fits(need.size, self.build) {
            return Err(Mismatch::TooBig);
        }
        self.serves(r)?;
        if !self.holds(self.remaining_g, need.filament_g) {
            return Err(Mismatch::NotEnoughFilament);
        }
        Ok(())
    }
}

/// Printers grouped by everything but size, spool and id, so a [`Req`] is checked once per group.
pub(crate) struct Profiles {
    /// Each machine's profile.
    pub of: Vec<u32>,
    /// One machine of each profile.
    pub example: Vec<u32>,
}

impl Profiles {
    pub fn new(machines: &[Machine]) -> Self {
        let mut ids: HashMap<(u64, u32, u32, Vec<u32>), u32> = HashMap::new();
        let mut example = Vec::new();
        let of = machines
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let mut tags = m.tags.clone();
                tags.sort_unstable();
                tags.dedup();
                *ids.entry((m.nozzle.to_bits(), m.kind, m.colour, tags)).or_insert_with(|| {
                    example.push(k as u32);
                    (example.len() - 1) as u32
                })
            })
            .collect();
        Profiles { of, example }
    }
}

/// What one job needs that differs from job to job even within a [`Req`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Need {
    /// Plate size with X/Y sorted (shorter first).
    pub size: [f64; 3],
    pub filament_g: f64,
}

impl Need {
    pub fn of(job: &Job) -> Self {
        let (lo, hi) = sorted_xy(job.size_mm);
        Need { size: [lo, hi, job.size_mm[2]], filament_g: job.filament_g }
    }

    /// Whether every printer that can take `self` could also take `other`, so a failure for `other` means a
    /// failure for `self`.
    pub fn at_least(&self, other: &Need) -> bool {
        self.size[0] >= other.size[0]
            && self.size[1] >= other.size[1]
            && self.size[2] >= other.size[2]
            && self.filament_g >= other.filament_g
    }
}

/// A job's requirement class: jobs with equal `Req` pass or fail each printer's non-size checks alike, so the
/// scheduler sorts printers per class once instead of once per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Req {
    pub kind: Option<u32>,
    pub colour: Option<u32>,
    /// `f64::to_bits`, to be hashable.
    pub nozzle: Option<u64>,
    pub group: Option<u32>,
    /// Long jobs start only in overnight windows.
    pub long: bool,
}

impl Req {
    pub fn of(job: &Job, names: &Interner, calendar: &Calendar) -> Self {
        Req {
            kind: named(&job.material_kind).map(|s| names.lookup(s)),
            colour: named(&job.colour).map(|s| names.lookup(s)),
            nozzle: job.nozzle_mm.map(f64::to_bits),
            group: named(&job.group).map(|s| names.lookup(s)),
            long: calendar.is_long(job.duration_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_and_space() {
        assert!(same_name(" PLA", "pla "));
        assert!(same_name("ÉCRU", "écru"));
        assert!(!same_name("PLA", "PLA+"));
        let mut names = Interner::default();
        let a = names.intern("Room 2");
        assert_eq!(names.lookup(" room 2 "), a);
        assert_eq!(names.lookup("room 3"), UNKNOWN);
    }

    proptest::proptest! {
        /// The compiled checks are the hot-path copy of `fits`: they must give the same answer, reason included.
        #[test]
        fn compiled_fits_equals_fits(
            build in proptest::array::uniform3(50.0..300.0f64),
            size in proptest::array::uniform3(40.0..320.0f64),
            loaded in proptest::option::of((0..3usize, 0..3usize, 0.0..100.0f64)),
            wants in (proptest::option::of(0..3usize), proptest::option::of(0..3usize), proptest::option::of(0..3usize)),
            nozzles in (0..2usize, proptest::option::of(0..2usize)),
            fil in 0.0..100.0f64,
            swap in proptest::bool::ANY,
        ) {
            const NAMES: [&str; 3] = ["PLA", " pla", "Red"];
            let mut p = crate::testutil::printer(1);
            p.build_mm = build;
            p.material = loaded.map(|(k, c, g)| crate::Loaded { kind: NAMES[k].into(), colour: NAMES[c].into(), remaining_g: g });
            p.nozzle_mm = [0.4, 0.6][nozzles.0];
            p.tags = vec!["pla".into()];
            let mut j = crate::testutil::job(1);
            j.size_mm = if swap { [size[1], size[0], size[2]] } else { size };
            j.material_kind = wants.0.map(|i| NAMES[i].into());
            j.colour = wants.1.map(|i| NAMES[i].into());
            j.group = wants.2.map(|i| NAMES[i].into());
            j.nozzle_mm = nozzles.1.map(|i| [0.4, 0.6][i]);
            j.filament_g = fil;
            let mut names = Interner::default();
            let m = Machine::new(&p, &mut names);
            let req = Req::of(&j, &names, &Calendar::new(&crate::Windows::default()));
            proptest::prop_assert_eq!(m.fits(&Need::of(&j), &req), crate::fits(&p, &j));
        }
    }

    #[test]
    fn domination_is_componentwise() {
        let base = Need { size: [10.0, 20.0, 30.0], filament_g: 5.0 };
        for i in 0..4 {
            let mut more = base;
            match i {
                3 => more.filament_g += 1.0,
                _ => more.size[i] += 1.0,
            }
            assert!(more.at_least(&base) && base.at_least(&base));
            assert!(!base.at_least(&more), "component {i}");
        }
    }
}
