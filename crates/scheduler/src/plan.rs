//! One scheduling round: which queued jobs start now, and where.

use std::collections::HashMap;

use crate::calendar::Calendar;
use crate::compiled::{size_fits, Interner, Machine, Need, Req};
use crate::{service_order, Assignment, Job, Policy, Printer, PrinterId};

/// How many recent failures a pool remembers; enough for the usual "queue full of plates too big for what is
/// free" without making the check itself a scan.
const REMEMBERED_FAILURES: usize = 8;

/// The available printers that one [`Req`] class may use, smallest first.
struct Pool {
    /// Indices into the free printers, which are sorted by (volume, id): the first fit is the best fit.
    members: Vec<u32>,
    /// Members before this are all taken.
    head: usize,
    /// The largest build and spool among members: a job beyond it fits none, whatever is taken.
    cap: Need,
    /// Jobs that found no printer: printers are only taken this round, never freed, so any job needing at
    /// least as much will not find one either.
    failed: Vec<Need>,
    next_failure: usize,
}

impl Pool {
    fn new(free: &[Machine], req: &Req) -> Self {
        let members: Vec<u32> = (0..free.len() as u32).filter(|&k| free[k as usize].serves(req).is_ok()).collect();
        let mut cap = Need { size: [f64::NEG_INFINITY; 3], filament_g: f64::NEG_INFINITY };
        for &k in &members {
            let m = &free[k as usize];
            for (c, b) in cap.size.iter_mut().zip(m.build) {
                *c = c.max(b);
            }
            cap.filament_g = cap.filament_g.max(m.remaining_g);
        }
        Pool { members, head: 0, cap, failed: Vec::new(), next_failure: 0 }
    }

    /// The best untaken member for the job: not on its avoid list if possible, then smallest, then lowest id.
    fn best(&mut self, free: &[Machine], taken: &[bool], need: &Need, avoid: &[PrinterId]) -> Option<usize> {
        while self.head < self.members.len() && taken[self.members[self.head] as usize] {
            self.head += 1;
        }
        // `>` rather than `!<=`: a NaN filament still fits printers with nothing loaded.
        if !size_fits(need.size, self.cap.size) || need.filament_g > self.cap.filament_g {
            return None;
        }
        if self.failed.iter().any(|f| need.at_least(f)) {
            return None;
        }
        let mut fallback = None;
        for &k in &self.members[self.head..] {
            let k = k as usize;
            let m = &free[k];
            if taken[k] || !size_fits(need.size, m.build) || !m.holds(m.remaining_g, need.filament_g) {
                continue;
            }
            if avoid.contains(&m.id) {
                fallback = fallback.or(Some(k));
                continue;
            }
            return Some(k);
        }
        if fallback.is_none() {
            if self.failed.len() < REMEMBERED_FAILURES {
                self.failed.push(*need);
            } else {
                self.failed[self.next_failure] = *need;
                self.next_failure = (self.next_failure + 1) % REMEMBERED_FAILURES;
            }
        }
        fallback
    }
}

/// Which jobs start now on which available printers: jobs in [`service_order`], each on the smallest fitting
/// printer (one it failed on only as a last resort), within the heating limit and the time windows.
///
/// Nothing starts inside a quiet window; long jobs start only inside an overnight window. Each printer and job
/// appears at most once.
pub fn plan_round(printers: &[Printer], jobs: &[Job], policy: &Policy) -> Vec<Assignment> {
    let calendar = Calendar::new(&policy.windows);
    let now = policy.now_s;
    let heating = printers.iter().filter(|p| p.heating).count();
    let mut budget = policy.max_heating.map_or(usize::MAX, |max| max.saturating_sub(heating));
    if budget == 0 || calendar.quiet_until(now).is_some() || !printers.iter().any(|p| p.available) {
        return Vec::new();
    }

    let mut names = Interner::default();
    let mut free: Vec<Machine> = printers.iter().filter(|p| p.available).map(|p| Machine::new(p, &mut names)).collect();
    // Keeping big printers for big jobs: the first fit in this order is the smallest.
    free.sort_by(|a, b| a.volume.total_cmp(&b.volume).then(a.id.cmp(&b.id)));
    let long_ok = calendar.long_may_start(now);

    let mut taken = vec![false; free.len()];
    let mut left = free.len();
    let mut pool_of: HashMap<Req, usize> = HashMap::new();
    let mut pools: Vec<Pool> = Vec::new();
    let mut out = Vec::new();
    for j in service_order(jobs, policy) {
        if budget == 0 || left == 0 {
            break;
        }
        let job = &jobs[j];
        let req = Req::of(job, &names, &calendar);
        if req.long && !long_ok {
            continue;
        }
        let p = *pool_of.entry(req).or_insert_with(|| {
            pools.push(Pool::new(&free, &req));
            pools.len() - 1
        });
        if let Some(k) = pools[p].best(&free, &taken, &Need::of(job), &job.avoid) {
            taken[k] = true;
            left -= 1;
            budget -= 1;
            out.push(Assignment { job: job.id, printer: free[k].id });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::Windows;

    fn pairs(a: &[Assignment]) -> Vec<(i64, i64)> {
        a.iter().map(|a| (a.job, a.printer)).collect()
    }

    #[test]
    fn smallest_fitting_printer_wins_then_lowest_id() {
        let mut big = printer(1);
        big.build_mm = [350.0, 350.0, 400.0];
        let (small_a, small_b) = (printer(3), printer(2));
        let plan = plan_round(&[big, small_a, small_b], &[job(1)], &policy());
        assert_eq!(pairs(&plan), [(1, 2)]);
    }

    #[test]
    fn big_jobs_keep_the_big_printer() {
        let mut big = printer(1);
        big.build_mm = [350.0, 350.0, 400.0];
        let mut large = job(1);
        large.size_mm = [300.0, 300.0, 300.0];
        large.submitted_s = 10.0; // served after the small job, which must not take the big printer
        let plan = plan_round(&[big, printer(2)], &[job(2), large], &policy());
        assert_eq!(pairs(&plan), [(2, 2), (1, 1)]);
    }

    #[test]
    fn avoided_printer_only_as_last_resort() {
        let mut j = job(1);
        j.avoid = vec![2];
        assert_eq!(pairs(&plan_round(&[printer(2), printer(3)], std::slice::from_ref(&j), &policy())), [(1, 3)]);
        assert_eq!(pairs(&plan_round(&[printer(2)], &[j], &policy())), [(1, 2)]);
    }

    #[test]
    fn only_available_printers_and_each_once() {
        let mut busy = printer(1);
        busy.available = false;
        let plan = plan_round(&[busy, printer(2)], &[job(1), job(2)], &policy());
        assert_eq!(pairs(&plan), [(1, 2)]);
    }

    #[test]
    fn heating_limit_counts_printers_already_heating() {
        let mut hot = printer(1);
        hot.available = false;
        hot.heating = true;
        let mut p = policy();
        p.max_heating = Some(2);
        let farm = [hot, printer(2), printer(3)];
        assert_eq!(plan_round(&farm, &[job(1), job(2)], &p).len(), 1);
        p.max_heating = Some(1);
        assert!(plan_round(&farm, &[job(1), job(2)], &p).is_empty());
    }

    #[test]
    fn quiet_window_stops_everything() {
        let mut p = policy();
        p.windows.quiet = vec![(p.now_s - 1.0, p.now_s + 1.0)];
        assert!(plan_round(&[printer(1)], &[job(1)], &p).is_empty());
    }

    #[test]
    fn long_jobs_wait_for_the_overnight_window() {
        let mut p = policy();
        let mut long = job(1);
        long.duration_s = 10.0 * 3600.0;
        p.windows = Windows {
            quiet: vec![],
            overnight: vec![(p.now_s + 100.0, p.now_s + 200.0)],
            long_job_s: Some(8.0 * 3600.0),
        };
        let plan = plan_round(&[printer(1)], &[long.clone(), job(2)], &p);
        assert_eq!(pairs(&plan), [(2, 1)], "the short job goes ahead");
        p.now_s += 150.0;
        assert_eq!(pairs(&plan_round(&[printer(1)], &[long, job(2)], &p)), [(1, 1)]);
    }

    #[test]
    fn jobs_go_where_their_filament_is() {
        let mut red = printer(2);
        red.material.as_mut().unwrap().colour = "Red".into();
        let mut j = job(1);
        j.colour = Some("red".into());
        let plan = plan_round(&[printer(1), red], &[j, job(2)], &policy());
        assert_eq!(pairs(&plan), [(1, 2), (2, 1)]);
    }

    #[test]
    fn a_job_that_fits_nothing_does_not_block_the_next() {
        let mut huge = job(1);
        huge.size_mm = [1000.0, 10.0, 10.0];
        let mut other_huge = huge.clone();
        other_huge.id = 3;
        let plan = plan_round(&[printer(1)], &[huge, other_huge, job(2)], &policy());
        assert_eq!(pairs(&plan), [(2, 1)]);
    }

    #[test]
    fn inputs_are_left_alone() {
        let farm = vec![printer(1)];
        let queue = vec![job(1)];
        let before = (farm.clone(), queue.clone());
        plan_round(&farm, &queue, &policy());
        assert_eq!((farm, queue), before);
    }
}
