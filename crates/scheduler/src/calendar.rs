//! Quiet and overnight windows, sorted and merged once per call so each question is a binary search.

use crate::Windows;

pub(crate) struct Calendar {
    quiet: Vec<(f64, f64)>,
    overnight: Vec<(f64, f64)>,
    long_job_s: Option<f64>,
}

/// Sorted, with overlapping or touching intervals joined (so leaving one never lands inside the next) and
/// empty or NaN ones dropped.
fn merged(intervals: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = intervals.iter().copied().filter(|&(a, b)| a < b).collect();
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The interval of `v` (merged) that contains `t`.
fn containing(v: &[(f64, f64)], t: f64) -> Option<(f64, f64)> {
    let i = v.partition_point(|&(a, _)| a <= t);
    (i > 0 && t < v[i - 1].1).then(|| v[i - 1])
}

impl Calendar {
    pub fn new(w: &Windows) -> Self {
        Calendar { quiet: merged(&w.quiet), overnight: merged(&w.overnight), long_job_s: w.long_job_s }
    }

    /// When the quiet window around `t` ends; None when `t` is not in one.
    pub fn quiet_until(&self, t: f64) -> Option<f64> {
        containing(&self.quiet, t).map(|(_, end)| end)
    }

    pub fn is_long(&self, duration_s: f64) -> bool {
        self.long_job_s.is_some_and(|l| duration_s >= l)
    }

    /// Whether a long job may start at `t` (always, when long jobs are not restricted).
    pub fn long_may_start(&self, t: f64) -> bool {
        self.long_job_s.is_none() || containing(&self.overnight, t).is_some()
    }

    /// The first overnight window opening after `t`; infinity when none is left.
    pub fn next_overnight(&self, t: f64) -> f64 {
        let i = self.overnight.partition_point(|&(a, _)| a <= t);
        self.overnight.get(i).map_or(f64::INFINITY, |&(a, _)| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_merge_and_answer() {
        let c = Calendar::new(&Windows {
            quiet: vec![(20.0, 30.0), (10.0, 20.0), (50.0, 40.0), (f64::NAN, 1.0)],
            overnight: vec![(100.0, 200.0), (300.0, 400.0)],
            long_job_s: Some(60.0),
        });
        assert_eq!(c.quiet_until(15.0), Some(30.0), "touching windows join");
        assert_eq!(c.quiet_until(30.0), None, "the end is open");
        assert_eq!(c.quiet_until(45.0), None, "a reversed interval is empty");
        assert!(c.long_may_start(100.0) && !c.long_may_start(200.0));
        assert_eq!(c.next_overnight(150.0), 300.0);
        assert_eq!(c.next_overnight(300.0), f64::INFINITY);
        assert!(c.is_long(60.0) && !c.is_long(59.0));
        assert!(Calendar::new(&Windows::default()).long_may_start(0.0));
    }
}
