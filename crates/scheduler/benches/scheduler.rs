//! Scheduler benchmarks on a large farm: 1,000 printers (3 build sizes, 2 nozzles, 6 filaments, 5 tags, ~60%
//! available) and 10,000 queued jobs from 200 users. Targets: `plan_round` under 10 ms, `forecast` under
//! 100 ms.
//!
//! Run: `cargo bench -p scheduler --bench scheduler`.

use std::collections::HashMap;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use scheduler::{forecast, plan_round, service_order, Job, Loaded, Policy, Printer, Windows};

/// A fixed-seed LCG: the same farm on every run, without a rand dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const NOW: f64 = 1_700_000_000.0;
const HOUR: f64 = 3600.0;
const FILAMENTS: [(&str, &str); 6] =
    [("PLA", "black"), ("PLA", "white"), ("PLA", "red"), ("PETG", "black"), ("PETG", "orange"), ("TPU", "blue")];
const ROOMS: [&str; 3] = ["room 1", "room 2", "room 3"];

fn farm(rng: &mut Lcg) -> Vec<Printer> {
    (0..1000)
        .map(|i| {
            let size = match rng.below(100) {
                0..50 => [180.0, 180.0, 180.0],
                50..85 => [256.0, 256.0, 256.0],
                _ => [350.0, 350.0, 400.0],
            };
            let mut tags = vec![ROOMS[rng.below(3) as usize].to_string()];
            if size[0] > 300.0 {
                tags.push("large".into());
            }
            if rng.chance(0.3) {
                tags.push("fast".into());
            }
            let (kind, colour) = FILAMENTS[rng.below(6) as usize];
            let available = rng.chance(0.6);
            let free_in_s = match (available, rng.chance(0.85)) {
                (true, _) => 0.0,
                (false, true) => rng.range(600.0, 30_000.0),
                (false, false) => f64::INFINITY,
            };
            Printer {
                id: 1000 + i,
                available,
                heating: !available && rng.chance(0.1),
                free_in_s,
                build_mm: size,
                nozzle_mm: if rng.chance(0.7) { 0.4 } else { 0.6 },
                tags,
                material: Some(Loaded {
                    kind: kind.into(),
                    colour: colour.into(),
                    remaining_g: rng.range(100.0, 1000.0),
                }),
            }
        })
        .collect()
}

fn queue(rng: &mut Lcg) -> Vec<Job> {
    (0..10_000)
        .map(|i| {
            let xy = match rng.below(100) {
                0..87 => 170.0,
                87..97 => 250.0,
                _ => 340.0,
            };
            let (kind, colour) = match rng.below(100) {
                0..30 => (None, None),
                30..45 => (Some(FILAMENTS[rng.below(6) as usize].0.to_string()), None),
                45..55 => (None, Some(FILAMENTS[rng.below(6) as usize].1.to_string())),
                55..97 => {
                    let (k, c) = FILAMENTS[rng.below(6) as usize];
                    (Some(k.to_string()), Some(c.to_string()))
                }
                _ => (Some("ASA".to_string()), Some("green".to_string())), // nobody has it loaded
            };
            let group = match rng.below(100) {
                0..12 => Some(ROOMS[rng.below(3) as usize].to_string()),
                12..17 => Some("large".to_string()),
                17..20 => Some("fast".to_string()),
                _ => None,
            };
            Job {
                id: i,
                // Squaring skews ownership: a few heavy users, many light ones.
                owner: (rng.unit().powi(2) * 200.0) as i64,
                priority: match rng.below(100) {
                    0..85 => 0,
                    85..95 => 1,
                    _ => -1,
                },
                deadline_s: rng.chance(0.1).then(|| NOW + rng.range(HOUR, 48.0 * HOUR)),
                submitted_s: NOW - rng.range(0.0, 7.0 * 24.0 * HOUR),
                size_mm: [rng.range(10.0, xy), rng.range(10.0, xy), rng.range(5.0, xy)],
                nozzle_mm: rng.chance(0.3).then(|| if rng.chance(0.7) { 0.4 } else { 0.6 }),
                material_kind: kind,
                colour,
                group,
                filament_g: rng.range(5.0, 250.0),
                duration_s: if rng.chance(0.1) {
                    rng.range(8.0 * HOUR, 30.0 * HOUR)
                } else {
                    rng.range(600.0, 8.0 * HOUR)
                },
                avoid: if rng.chance(0.05) { vec![1000 + rng.below(1000) as i64] } else { vec![] },
            }
        })
        .collect()
}

fn policy(rng: &mut Lcg) -> Policy {
    let mut running = HashMap::new();
    for user in 0..200 {
        if rng.chance(0.3) {
            running.insert(user, 1 + rng.below(3) as usize);
        }
    }
    Policy {
        now_s: NOW,
        max_heating: None,
        running,
        changeover_s: 300.0,
        windows: Windows {
            quiet: (0..14)
                .map(|d| (NOW + 3.0 * HOUR + d as f64 * 24.0 * HOUR, NOW + 4.0 * HOUR + d as f64 * 24.0 * HOUR))
                .collect(),
            overnight: (0..14)
                .map(|d| (NOW + 6.0 * HOUR + d as f64 * 24.0 * HOUR, NOW + 14.0 * HOUR + d as f64 * 24.0 * HOUR))
                .collect(),
            long_job_s: Some(8.0 * HOUR),
        },
    }
}

fn benches(c: &mut Criterion) {
    let mut rng = Lcg(0x5eed);
    let (printers, jobs, policy) = (farm(&mut rng), queue(&mut rng), policy(&mut rng));

    let plan = plan_round(&printers, &jobs, &policy);
    let est = forecast(&printers, &jobs, &policy);
    let placed = est.iter().filter(|e| e.blocked.is_none()).count();
    eprintln!(
        "farm: {} printers ({} available), {} jobs; plan_round starts {}; forecast places {placed}",
        printers.len(),
        printers.iter().filter(|p| p.available).count(),
        jobs.len(),
        plan.len(),
    );

    c.bench_function("service_order 10k jobs", |b| b.iter(|| service_order(&jobs, &policy)));
    c.bench_function("plan_round 1k printers 10k jobs", |b| b.iter(|| plan_round(&printers, &jobs, &policy)));
    c.bench_function("forecast 1k printers 10k jobs", |b| b.iter(|| forecast(&printers, &jobs, &policy)));
}

criterion_group! {
    name = scheduler;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(scheduler);
