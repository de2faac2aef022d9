//! The forecast: play the queue forward to see when each job starts and finishes.
//!
//! Event-driven: a heap holds when each printer is next free. A free printer takes the first job in service
//! order that it can print and that may start then. Jobs sit in one queue per requirement class ([`Req`]), in
//! service order, and each printer keeps a cursor per class it can serve; everything behind a cursor is placed
//! or can never go to that printer (too big, not enough filament left, avoided), because placements and
//! spools only ever shrink what a printer can take. Placed jobs are skipped through a union-find "next
//! unplaced" array, so a printer meets each job of its classes at most once over the whole simulation.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::calendar::Calendar;
use crate::compiled::{size_fits, Interner, Machine, Need, Profiles, Req};
use crate::{service_order, Estimate, Job, Mismatch, Policy, Printer};

/// A printer becoming free. Ordered so the max-heap pops the earliest; at equal times the smallest printer
/// picks first, as in [`crate::plan_round`], so big printers are left for the jobs only they can take.
struct Free {
    t: f64,
    volume: f64,
    printer: usize,
}

impl Ord for Free {
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.total_cmp(&self.t).then(other.volume.total_cmp(&self.volume)).then(other.printer.cmp(&self.printer))
    }
}

impl PartialOrd for Free {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Free {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Free {}

/// One printer's position in one class queue.
struct Lane {
    class: u32,
    cursor: u32,
}

/// The first unplaced position at or after `i`; `next[i] == i` means unplaced (path halving keeps it flat).
fn unplaced_from(next: &mut [u32], mut i: u32) -> u32 {
    while next[i as usize] != i {
        let skip = next[next[i as usize] as usize];
        next[i as usize] = skip;
        i = skip;
    }
    i
}

/// Print time as the simulation uses it: a NaN or negative estimate takes no time rather than going back.
fn duration(job: &Job) -> f64 {
    job.duration_s.max(0.0)
}

/// When every queued job should start and finish if the queue is served as [`crate::plan_round`] would serve
/// it: one [`Estimate`] per job, in input order.
///
/// Printers free up at `now + free_in_s` and again `changeover_s` after each print; starts skip quiet windows
/// and long jobs start only inside overnight windows; each print uses up its filament on the simulated spool.
/// A job avoids printers it failed on if any other printer that ever comes back could print it. Jobs that are
/// never placed say why in `blocked`.
pub fn forecast(printers: &[Printer], jobs: &[Job], policy: &Policy) -> Vec<Estimate> {
    let calendar = Calendar::new(&policy.windows);
    let now = policy.now_s;
    let changeover = policy.changeover_s.max(0.0);
    let mut names = Interner::default();
    let machines: Vec<Machine> = printers.iter().map(|p| Machine::new(p, &mut names)).collect();
    let free_at: Vec<f64> = printers
        .iter()
        .map(|p| if p.free_in_s.is_nan() { f64::INFINITY } else { now + p.free_in_s.max(0.0) })
        .collect();
    let needs: Vec<Need> = jobs.iter().map(Need::of).collect();

    // Class queues in service order.
    let order = service_order(jobs, policy);
    let mut rank = vec![0u32; jobs.len()];
    let mut class_of_req: HashMap<Req, u32> = HashMap::new();
    let mut reqs: Vec<Req> = Vec::new();
    let mut queues: Vec<Vec<u32>> = Vec::new();
    // The smallest plate in each class: a printer that cannot take it has no use for the class.
    let mut smallest: Vec<[f64; 3]> = Vec::new();
    let mut slot = vec![(0u32, 0u32); jobs.len()];
    for (r, &j) in order.iter().enumerate() {
        rank[j] = r as u32;
        let req = Req::of(&jobs[j], &names, &calendar);
        let c = *class_of_req.entry(req).or_insert_with(|| {
            reqs.push(req);
            queues.push(Vec::new());
            smallest.push([f64::INFINITY; 3]);
            (reqs.len() - 1) as u32
        }) as usize;
        slot[j] = (c as u32, queues[c].len() as u32);
        queues[c].push(j as u32);
        for (s, n) in smallest[c].iter_mut().zip(needs[j].size) {
            *s = s.min(n);
        }
    }
    let mut unplaced: Vec<Vec<u32>> = queues.iter().map(|q| (0..=q.len() as u32).collect()).collect();

    let profiles = Profiles::new(&machines);
    let verdicts: Vec<Result<(), Mismatch>> =
        reqs.iter().flat_map(|r| profiles.example.iter().map(|&k| machines[k as usize].serves(r))).collect();
    let serves = |c: usize, p: usize| verdicts[c * profiles.example.len() + profiles.of[p] as usize];

    let strict_avoid: Vec<bool> = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            let c = slot[j].0 as usize;
            !job.avoid.is_empty()
                && machines.iter().enumerate().any(|(p, m)| {
                    free_at[p].is_finite()
                        && !job.avoid.contains(&m.id)
                        && size_fits(needs[j].size, m.build)
                        && serves(c, p).is_ok()
                        && m.holds(m.remaining_g, needs[j].filament_g)
                })
        })
        .collect();

    let mut lanes: Vec<Lane> = Vec::new();
    let mut lanes_of = Vec::with_capacity(machines.len() + 1);
    let mut heap = BinaryHeap::with_capacity(machines.len());
    for (p, m) in machines.iter().enumerate() {
        lanes_of.push(lanes.len());
        if free_at[p].is_finite() {
            for (c, &smallest) in smallest.iter().enumerate() {
                if size_fits(smallest, m.build) && serves(c, p).is_ok() {
                    lanes.push(Lane { class: c as u32, cursor: 0 });
                }
            }
            heap.push(Free { t: free_at[p], volume: m.volume, printer: p });
        }
    }
    lanes_of.push(lanes.len());

    let mut remaining: Vec<f64> = machines.iter().map(|m| m.remaining_g).collect();
    let mut start = vec![None::<(usize, f64)>; jobs.len()];
    while let Some(Free { t, volume, printer: p }) = heap.pop() {
        if let Some(end) = calendar.quiet_until(t) {
            if end.is_finite() {
                heap.push(Free { t: end, volume, printer: p });
            }
            continue;
        }
        let long_ok = calendar.long_may_start(t);
        let m = &machines[p];
        let mut best: Option<u32> = None;
        let mut long_waiting = false;
        for lane in &mut lanes[lanes_of[p]..lanes_of[p + 1]] {
            let c = lane.class as usize;
            let (queue, unplaced) = (&queues[c], &mut unplaced[c]);
            let candidate = loop {
                let pos = unplaced_from(unplaced, lane.cursor);
                lane.cursor = pos;
                let Some(&j) = queue.get(pos as usize) else { break None };
                let (j, need) = (j as usize, &needs[j as usize]);
                let avoided = strict_avoid[j] && jobs[j].avoid.contains(&m.id);
                if size_fits(need.size, m.build) && m.holds(remaining[p], need.filament_g) && !avoided {
                    break Some(j);
                }
                lane.cursor = pos + 1;
            };
            let Some(j) = candidate else { continue };
            if reqs[c].long && !long_ok {
                long_waiting = true;
            } else if best.is_none_or(|b| rank[j] < rank[b as usize]) {
                best = Some(j as u32);
            }
        }
        match best {
            Some(j) => {
                let j = j as usize;
                start[j] = Some((p, t));
                let (c, pos) = slot[j];
                unplaced[c as usize][pos as usize] = pos + 1;
                if m.has_material() {
                    remaining[p] -= jobs[j].filament_g;
                }
                let again = t + duration(&jobs[j]) + changeover;
                if again.is_finite() {
                    heap.push(Free { t: again, volume, printer: p });
                }
            }
            None if long_waiting => {
                let t = calendar.next_overnight(t);
                if t.is_finite() {
                    heap.push(Free { t, volume, printer: p });
                }
            }
            // Nothing it can print is left and nothing will be added: the printer is done.
            None => {}
        }
    }

    // Printers by verdict, per class, built only for classes with a job left over.
    let mut by_verdict: Vec<Option<Verdicts>> = (0..reqs.len()).map(|_| None).collect();
    jobs.iter()
        .enumerate()
        .map(|(j, job)| match start[j] {
            Some((p, s)) => Estimate {
                job: job.id,
                printer: Some(machines[p].id),
                start_s: Some(s),
                finish_s: Some(s + duration(job)),
                blocked: None,
            },
            None => {
                let c = slot[j].0 as usize;
                let groups = by_verdict[c].get_or_insert_with(|| {
                    let mut g = Verdicts::default();
                    for p in 0..machines.len() {
                        let i = serves(c, p).map_or_else(Mismatch::closeness, |()| OK);
                        g[i as usize].push(p as u32);
                    }
                    g
                });
                Estimate {
                    job: job.id,
                    printer: None,
                    start_s: None,
                    finish_s: None,
                    blocked: Some(why_unplaced(groups, &machines, &free_at, &remaining, &needs[j])),
                }
            }
        })
        .collect()
}

/// One class's printers, by what [`Machine::serves`] said: indexed by [`Mismatch::closeness`], [`OK`] last.
type Verdicts = [Vec<u32>; 8];
const OK: u8 = 7;

/// The most useful reason a job was never placed: the closest static miss when no printer fits; otherwise what
/// kept the fitting printers from it in the simulation.
fn why_unplaced(groups: &Verdicts, machines: &[Machine], free_at: &[f64], remaining: &[f64], need: &Need) -> Mismatch {
    if machines.is_empty() {
        return Mismatch::NoPrinter;
    }
    let (mut fits_somewhere, mut fits_online, mut spool_short) = (false, false, false);
    for &p in &groups[OK as usize] {
        let (p, m) = (p as usize, &machines[p as usize]);
        if !size_fits(need.size, m.build) {
            continue;
        }
        if !m.holds(m.remaining_g, need.filament_g) {
            spool_short = true;
            continue;
        }
        fits_somewhere = true;
        if free_at[p].is_finite() {
            fits_online = true;
            if !m.holds(remaining[p], need.filament_g) {
                return Mismatch::NotEnoughFilament; // used up by the jobs before it
            }
        }
    }
    if fits_somewhere {
        // A printer that fits and still has filament gives up on a job only when no start time is left for it.
        return if fits_online { Mismatch::NoWindow } else { Mismatch::Offline };
    }
    if spool_short {
        return Mismatch::NotEnoughFilament;
    }
    // The closest miss: the latest check that some printer of the right size fails.
    (1..OK as usize)
        .rev()
        .find(|&g| groups[g].iter().any(|&p| size_fits(need.size, machines[p as usize].build)))
        .map_or(Mismatch::TooBig, |g| Mismatch::PER_PRINTER[g])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::Windows;

    fn placed(e: &Estimate) -> (Option<i64>, Option<f64>, Option<f64>) {
        (e.printer, e.start_s, e.finish_s)
    }

    #[test]
    fn queue_plays_out_on_one_printer_with_changeover() {
        let mut p = policy();
        p.changeover_s = 100.0;
        let mut busy = printer(1);
        busy.available = false;
        busy.free_in_s = 500.0;
        let now = p.now_s;
        let est = forecast(&[busy], &[job(1), job(2)], &p);
        assert_eq!(placed(&est[0]), (Some(1), Some(now + 500.0), Some(now + 4100.0)));
        assert_eq!(placed(&est[1]), (Some(1), Some(now + 4200.0), Some(now + 7800.0)));
    }

    #[test]
    fn estimates_come_in_input_order() {
        let mut urgent = job(2);
        urgent.priority = 3;
        let est = forecast(&[printer(1)], &[job(1), urgent], &policy());
        assert_eq!(est.iter().map(|e| e.job).collect::<Vec<_>>(), [1, 2]);
        assert!(est[1].start_s < est[0].start_s, "the urgent job runs first");
    }

    #[test]
    fn no_fitting_printer_gives_the_closest_miss() {
        let mut j = job(1);
        j.material_kind = Some("PLA".into());
        j.colour = Some("red".into());
        let mut small = printer(2);
        small.build_mm = [10.0, 10.0, 10.0];
        let est = forecast(&[printer(1), small], &[j], &policy());
        assert_eq!(placed(&est[0]), (None, None, None));
        assert_eq!(est[0].blocked, Some(Mismatch::Colour));
        assert_eq!(forecast(&[], &[job(1)], &policy())[0].blocked, Some(Mismatch::NoPrinter));
    }

    #[test]
    fn offline_printers_never_come_back() {
        let mut off = printer(1);
        off.available = false;
        off.free_in_s = f64::INFINITY;
        assert_eq!(forecast(&[off], &[job(1)], &policy())[0].blocked, Some(Mismatch::Offline));
    }

    #[test]
    fn spools_run_dry_in_the_simulation() {
        let mut p = printer(1);
        p.material.as_mut().unwrap().remaining_g = 30.0;
        let est = forecast(&[p], &[job(1), job(2)], &policy());
        assert!(est[0].blocked.is_none());
        assert_eq!(est[1].blocked, Some(Mismatch::NotEnoughFilament));
    }

    #[test]
    fn starts_skip_quiet_windows() {
        let mut p = policy();
        let now = p.now_s;
        p.windows.quiet = vec![(now + 1000.0, now + 5000.0)];
        let est = forecast(&[printer(1)], &[job(1), job(2)], &p);
        assert_eq!(est[0].start_s, Some(now));
        assert_eq!(est[1].start_s, Some(now + 5000.0), "the second start would fall in the quiet window");
    }

    #[test]
    fn long_jobs_wait_for_overnight_while_short_ones_go_first() {
        let mut p = policy();
        let now = p.now_s;
        p.windows =
            Windows { quiet: vec![], overnight: vec![(now + 10_000.0, now + 20_000.0)], long_job_s: Some(5000.0) };
        let mut long = job(1);
        long.duration_s = 8000.0;
        let est = forecast(&[printer(1)], &[long.clone(), job(2)], &p);
        assert_eq!(est[1].start_s, Some(now), "the short job uses the afternoon");
        assert_eq!(est[0].start_s, Some(now + 10_000.0));
        p.windows.overnight.clear();
        let est = forecast(&[printer(1)], &[long], &p);
        assert_eq!(est[0].blocked, Some(Mismatch::NoWindow));
    }

    #[test]
    fn avoided_printers_are_used_only_when_nothing_else_could() {
        let mut j = job(1);
        j.avoid = vec![1];
        let mut slow = printer(2);
        slow.available = false;
        slow.free_in_s = 10_000.0;
        let est = forecast(&[printer(1), slow.clone()], std::slice::from_ref(&j), &policy());
        assert_eq!(est[0].printer, Some(2), "waits for the other printer");
        slow.free_in_s = f64::INFINITY;
        let est = forecast(&[printer(1), slow], &[j], &policy());
        assert_eq!(est[0].printer, Some(1), "the other one never comes back");
    }

    #[test]
    fn printers_take_the_first_job_they_can_print() {
        let mut big_job = job(1);
        big_job.size_mm = [300.0, 300.0, 300.0];
        let mut big = printer(1);
        big.build_mm = [350.0, 350.0, 350.0];
        big.available = false;
        big.free_in_s = 100.0;
        let est = forecast(&[printer(2), big], &[big_job, job(2)], &policy());
        assert_eq!(est[1].printer, Some(2), "the small printer skips the big job");
        assert_eq!(est[0].printer, Some(1));
    }
}
