//! The procedural tier end to end, per template: prompt → parse → match → build → validate →
//! 3MF bytes. Plain `Instant`, no harness; prints the median and worst of several runs and fails
//! when a template's median passes the 200 ms floor.
//!
//! Run: `cargo bench -p genai --bench procedural` (release). `PROCEDURAL_BENCH_RUNS` sets the runs
//! per template (default 15).

use std::time::{Duration, Instant};

use genai::procedural::{build, match_prompt, Template, BED_MM};
use genai::prompt::parse;
use mesh::io::{write, Format};
use mesh::validate::validate;
use mesh::{Model, ModelObject};

/// The floor every template must stay under (median, release build).
const FLOOR_MS: f64 = 200.0;

fn prompts() -> Vec<(Template, &'static str)> {
    vec![
        (Template::NameTag, "a name tag for Maya"),
        (Template::DoorSign, "a door sign that says Room 12B with engraved letters"),
        (Template::Keychain, "a keychain for Leo"),
        (Template::Vase, "a 15 cm twisted vase with 6 sides"),
        (Template::PencilCup, "a ribbed pencil cup 10 cm tall"),
        (Template::BoxWithLid, "a box with a lid 60 x 40 x 30 mm"),
        (Template::Gear, "a gear with 40 teeth and a 5 mm hole"),
        (Template::Coaster, "a hexagonal coaster that says Tea"),
        (Template::CookieCutter, "a star cookie cutter 8 cm across"),
        (Template::PlantPot, "a plant pot with 5 drainage holes"),
        (Template::PhoneStand, "a phone stand"),
        (Template::Dice, "a dice 20 mm"),
        (Template::Bookmark, "a bookmark with the name Alexandra"),
        (Template::Ruler, "a 15 cm ruler with the name Sam"),
    ]
}

struct Timing {
    parse_match: Duration,
    build: Duration,
    validate: Duration,
    export: Duration,
    total: Duration,
    triangles: usize,
    bytes: usize,
}

fn run_once(expect: Template, prompt: &str) -> Timing {
    let t0 = Instant::now();
    let parsed = parse(prompt);
    let best = match_prompt(&parsed).into_iter().next().expect("a template");
    assert_eq!(best.template, expect, "{prompt:?} matched {:?}", best.template);
    let t1 = Instant::now();
    let parts = build(best.template, &best.params).unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
    let t2 = Instant::now();
    for p in &parts {
        let r = validate(&p.mesh, Some(BED_MM));
        assert!(r.printable, "{prompt:?}: {:?}", r.reasons);
    }
    let t3 = Instant::now();
    let model = Model {
        objects: parts.iter().map(|p| ModelObject::new(p.name.clone(), p.mesh.clone())).collect(),
        metadata: Default::default(),
    };
    let bytes = write(&model, Format::ThreeMf).expect("3MF");
    let t4 = Instant::now();
    Timing {
        parse_match: t1 - t0,
        build: t2 - t1,
        validate: t3 - t2,
        export: t4 - t3,
        total: t4 - t0,
        triangles: parts.iter().map(|p| p.mesh.triangle_count()).sum(),
        bytes: bytes.len(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::var("PROCEDURAL_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(15).max(1);
    println!(
        "{:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "template", "triangles", "parse", "build", "valid.", "3mf", "median", "worst", "3mf KiB"
    );
    let mut over = Vec::new();
    for (t, prompt) in prompts() {
        let mut all: Vec<Timing> = (0..runs).map(|_| run_once(t, prompt)).collect();
        all.sort_by_key(|x| x.total);
        let med = &all[all.len() / 2];
        let worst = all.last().expect("runs");
        println!(
            "{:<14} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>9.1}",
            t.id(),
            med.triangles,
            ms(med.parse_match),
            ms(med.build),
            ms(med.validate),
            ms(med.export),
            ms(med.total),
            ms(worst.total),
            med.bytes as f64 / 1024.0
        );
        if ms(med.total) > FLOOR_MS {
            over.push(t.id());
        }
    }
    println!("(milliseconds; median of {runs} runs; floor {FLOOR_MS} ms)");
    if !over.is_empty() {
        eprintln!("over the {FLOOR_MS} ms floor: {over:?}");
        std::process::exit(1);
    }
}
