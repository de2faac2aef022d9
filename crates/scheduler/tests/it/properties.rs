//! Property tests on random farms: whatever the farm and queue, `plan_round` and `forecast` keep the rules.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use scheduler::{fits, forecast, plan_round, service_order, Job, Loaded, Mismatch, Policy, Printer, Windows};

// Names differ in case and spacing on purpose: the scheduler must treat them as equal.
const KINDS: [&str; 4] = ["PLA", "pla ", "PETG", "TPU"];
const COLOURS: [&str; 4] = ["red", " Red", "black", "white"];
const TAGS: [&str; 5] = ["room 1", "ROOM 1", "room 2", "large", "fast"];
const SIZES: [[f64; 3]; 4] =
    [[180.0, 180.0, 180.0], [256.0, 256.0, 256.0], [350.0, 300.0, 400.0], [120.0, 250.0, 200.0]];
const NOZZLES: [f64; 3] = [0.4, 0.6, 0.41];

fn printer() -> impl Strategy<Value = Printer> {
    (
        any::<bool>(),
        any::<bool>(),
        0..4u8,
        0.0..50_000.0f64,
        0..SIZES.len(),
        0..NOZZLES.len(),
        proptest::sample::subsequence(TAGS.to_vec(), 0..3),
        proptest::option::weighted(0.85, (0..KINDS.len(), 0..COLOURS.len(), 0.0..800.0f64)),
    )
        .prop_map(|(available, heating, free, free_in, size, nozzle, tags, material)| Printer {
            id: 0,
            available,
            heating: heating && !available,
            free_in_s: match (available, free) {
                (true, _) => 0.0,
                (false, 0) => f64::INFINITY,
                (false, _) => free_in,
            },
            build_mm: SIZES[size],
            nozzle_mm: NOZZLES[nozzle],
            tags: tags.into_iter().map(String::from).collect(),
            material: material.map(|(k, c, remaining_g)| Loaded {
                kind: KINDS[k].into(),
                colour: COLOURS[c].into(),
                remaining_g,
            }),
        })
}

fn job() -> impl Strategy<Value = Job> {
    (
        (0..6i64, -1..2i32, proptest::option::weighted(0.2, -10_000.0..200_000.0f64), 0.0..100_000.0f64),
        (10.0..360.0f64, 10.0..360.0f64, 5.0..410.0f64),
        proptest::option::weighted(0.3, 0..NOZZLES.len()),
        proptest::option::weighted(0.5, 0..KINDS.len()),
        proptest::option::weighted(0.4, 0..COLOURS.len()),
        proptest::option::weighted(0.2, 0..TAGS.len()),
        (1.0..300.0f64, 60.0..60_000.0f64),
        proptest::collection::vec(0..30i64, 0..3),
    )
        .prop_map(
            |((owner, priority, deadline, submitted), (x, y, z), nozzle, kind, colour, group, (fil, dur), avoid)| Job {
                id: 0,
                owner,
                priority,
                deadline_s: deadline,
                submitted_s: submitted,
                size_mm: [x, y, z],
                nozzle_mm: nozzle.map(|n| NOZZLES[n]),
                material_kind: kind.map(|k| KINDS[k].into()),
                colour: colour.map(|c| COLOURS[c].into()),
                group: group.map(|g| TAGS[g].into()),
                filament_g: fil,
                duration_s: dur,
                avoid,
            },
        )
}

fn windows(now: f64) -> impl Strategy<Value = Vec<(f64, f64)>> {
    proptest::collection::vec((-20_000.0..300_000.0f64, 100.0..30_000.0f64), 0..4)
        .prop_map(move |v| v.into_iter().map(|(s, len)| (now + s, now + s + len)).collect())
}

fn policy() -> impl Strategy<Value = Policy> {
    let now = 100_000.0;
    (
        proptest::option::weighted(0.4, 0..8usize),
        proptest::collection::hash_map(0..6i64, 0..4usize, 0..4),
        0.0..900.0f64,
        windows(now),
        windows(now),
        proptest::option::weighted(0.5, 2_000.0..40_000.0f64),
    )
        .prop_map(move |(max_heating, running, changeover_s, quiet, overnight, long_job_s)| Policy {
            now_s: now,
            max_heating,
            running,
            changeover_s,
            windows: Windows { quiet, overnight, long_job_s },
        })
}

fn farm() -> impl Strategy<Value = (Vec<Printer>, Vec<Job>, Policy)> {
    (proptest::collection::vec(printer(), 0..30), proptest::collection::vec(job(), 0..200), policy()).prop_map(
        |(mut printers, mut jobs, policy)| {
            for (i, p) in printers.iter_mut().enumerate() {
                p.id = i as i64;
            }
            for (i, j) in jobs.iter_mut().enumerate() {
                j.id = 1000 + i as i64;
            }
            (printers, jobs, policy)
        },
    )
}

/// How close a printer failing with this came to fitting (`fits` checks in this order).
fn closeness(m: Mismatch) -> usize {
    use Mismatch::*;
    [TooBig, Nozzle, Group, NoMaterial, MaterialKind, Colour, NotEnoughFilament].iter().position(|&x| x == m).unwrap()
}

fn inside(windows: &[(f64, f64)], t: f64) -> bool {
    windows.iter().any(|&(a, b)| a <= t && t < b)
}

fn is_long(policy: &Policy, job: &Job) -> bool {
    policy.windows.long_job_s.is_some_and(|l| job.duration_s >= l)
}

proptest! {
    #[test]
    fn plan_round_keeps_the_rules((printers, jobs, policy) in farm()) {
        let plan = plan_round(&printers, &jobs, &policy);
        let printer = |id| printers.iter().find(|p| p.id == id).unwrap();
        let job_index = |id| jobs.iter().position(|j| j.id == id).unwrap();

        let mut seen_jobs = HashSet::new();
        let mut seen_printers = HashSet::new();
        for a in &plan {
            let (p, j) = (printer(a.printer), &jobs[job_index(a.job)]);
            prop_assert!(seen_jobs.insert(a.job), "job {} twice", a.job);
            prop_assert!(seen_printers.insert(a.printer), "printer {} twice", a.printer);
            prop_assert!(p.available, "printer {} is not available", p.id);
            prop_assert_eq!(fits(p, j), Ok(()));
            prop_assert!(!is_long(&policy, j) || inside(&policy.windows.overnight, policy.now_s));
        }
        if let Some(max) = policy.max_heating {
            let heating = printers.iter().filter(|p| p.heating).count();
            prop_assert!(plan.len() <= max.saturating_sub(heating));
        }
        if inside(&policy.windows.quiet, policy.now_s) {
            prop_assert!(plan.is_empty());
        }

        // Nobody is left waiting next to a free printer that fits, unless the heating limit or a window says so.
        let heating = printers.iter().filter(|p| p.heating).count();
        let budget_left = policy.max_heating.is_none_or(|max| plan.len() < max.saturating_sub(heating));
        if budget_left && !inside(&policy.windows.quiet, policy.now_s) {
            let long_ok = inside(&policy.windows.overnight, policy.now_s);
            for j in jobs.iter().filter(|j| !seen_jobs.contains(&j.id) && (long_ok || !is_long(&policy, j))) {
                for q in printers.iter().filter(|q| q.available && !seen_printers.contains(&q.id)) {
                    prop_assert!(fits(q, j).is_err(), "job {} waits while printer {} is free", j.id, q.id);
                }
            }
        }

        // An avoided printer is used only when every other free printer that fits went to an earlier job.
        let order = service_order(&jobs, &policy);
        let position: HashMap<i64, usize> = order.iter().enumerate().map(|(k, &j)| (jobs[j].id, k)).collect();
        let taken_at: HashMap<i64, usize> = plan.iter().map(|a| (a.printer, position[&a.job])).collect();
        for a in plan.iter().filter(|a| jobs[job_index(a.job)].avoid.contains(&a.printer)) {
            let j = &jobs[job_index(a.job)];
            for q in printers.iter().filter(|q| q.available && q.id != a.printer && !j.avoid.contains(&q.id)) {
                if fits(q, j).is_ok() {
                    prop_assert!(taken_at.get(&q.id).is_some_and(|&k| k < position[&a.job]),
                        "job {} got avoided printer {} while {} was free", j.id, a.printer, q.id);
                }
            }
        }
    }

    #[test]
    fn plan_round_shares_fairly(k in 1..6usize, users in 1..7i64, extra in proptest::collection::vec(0..5usize, 7)) {
        let printers: Vec<Printer> = (0..k as i64)
            .map(|id| Printer {
                id,
                available: true,
                heating: false,
                free_in_s: 0.0,
                build_mm: [200.0; 3],
                nozzle_mm: 0.4,
                tags: vec![],
                material: None,
            })
            .collect();
        let mut jobs = Vec::new();
        for owner in 0..users {
            for n in 0..k + extra[owner as usize] {
                jobs.push(Job {
                    id: jobs.len() as i64,
                    owner,
                    priority: 0,
                    deadline_s: None,
                    // One user submits everything first: fair share must still interleave.
                    submitted_s: (owner * 1000 + n as i64) as f64,
                    size_mm: [50.0; 3],
                    nozzle_mm: None,
                    material_kind: None,
                    colour: None,
                    group: None,
                    filament_g: 10.0,
                    duration_s: 3600.0,
                    avoid: vec![],
                });
            }
        }
        let plan = plan_round(&printers, &jobs, &Policy::default());
        prop_assert_eq!(plan.len(), k);
        let mut per_user = vec![0usize; users as usize];
        for a in &plan {
            per_user[jobs[a.job as usize].owner as usize] += 1;
        }
        let (min, max) = (per_user.iter().min().unwrap(), per_user.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{:?}", per_user);
    }

    #[test]
    fn forecast_keeps_the_rules((printers, jobs, policy) in farm()) {
        let est = forecast(&printers, &jobs, &policy);
        prop_assert_eq!(est.len(), jobs.len());
        let mut per_printer: HashMap<i64, Vec<(f64, f64)>> = HashMap::new();
        let mut used_g: HashMap<i64, f64> = HashMap::new();
        for (e, j) in est.iter().zip(&jobs) {
            prop_assert_eq!(e.job, j.id);
            let (Some(pid), Some(start), Some(finish)) = (e.printer, e.start_s, e.finish_s) else {
                prop_assert!(e.blocked.is_some() && e.printer.is_none() && e.start_s.is_none() && e.finish_s.is_none());
                continue;
            };
            prop_assert!(e.blocked.is_none());
            let p = printers.iter().find(|p| p.id == pid).unwrap();
            prop_assert!(start >= policy.now_s + p.free_in_s, "starts before the printer is free");
            prop_assert!(!inside(&policy.windows.quiet, start), "starts in a quiet window");
            prop_assert!(!is_long(&policy, j) || inside(&policy.windows.overnight, start), "long job starts by day");
            prop_assert_eq!(finish, start + j.duration_s);
            prop_assert_eq!(fits(p, j), Ok(()));
            if j.avoid.contains(&pid) {
                let other = printers.iter().any(|q| {
                    q.id != pid && q.free_in_s.is_finite() && !j.avoid.contains(&q.id) && fits(q, j).is_ok()
                });
                prop_assert!(!other, "job {} went to avoided printer {}", j.id, pid);
            }
            per_printer.entry(pid).or_default().push((start, finish));
            *used_g.entry(pid).or_default() += j.filament_g;
        }
        for (pid, mut runs) in per_printer {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in runs.windows(2) {
                prop_assert!(w[1].0 >= w[0].1 + policy.changeover_s, "printer {} overlaps: {:?}", pid, w);
            }
        }
        for (pid, used) in used_g {
            if let Some(m) = &printers.iter().find(|p| p.id == pid).unwrap().material {
                prop_assert!(used <= m.remaining_g + 1e-6, "printer {} used {} g of {} g", pid, used, m.remaining_g);
            }
        }
    }

    #[test]
    fn forecast_blocks_exactly_the_jobs_no_printer_fits((printers, jobs, policy) in farm()) {
        let est = forecast(&printers, &jobs, &policy);
        for (e, j) in est.iter().zip(&jobs) {
            let fits_any = printers.iter().any(|p| fits(p, j).is_ok());
            if !fits_any {
                let reason = e.blocked;
                prop_assert!(reason.is_some());
                // The reported reason is the closest miss among the printers.
                let closest = printers.iter().filter_map(|p| fits(p, j).err()).max_by_key(|m| closeness(*m));
                prop_assert_eq!(reason, closest.or(Some(Mismatch::NoPrinter)));
            }
        }
    }
}
