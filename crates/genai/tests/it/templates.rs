//! Every procedural template over its whole parameter range: closed, manifold, outward, printable,
//! on the bed; plus exact checks of a few shapes (gear teeth, vase volume, lid clearance, dice).

use genai::procedural::{build, ParamKind, Params, Part, ProceduralError, Template, Value};
use genai::text::TextError;
use mesh::validate::validate;
use proptest::prelude::*;

const BED: [f32; 3] = [180.0, 180.0, 180.0];

/// Cases per property: `n`, or `PROPTEST_CASES` for a longer soak.
fn cases(n: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(n)
}

/// Asserts everything a template's output promises.
fn check_parts(t: Template, params: &Params, parts: &[Part]) {
    assert!(!parts.is_empty(), "{t:?} built nothing");
    let mut min = [f32::INFINITY; 3];
    let mut max = [f32::NEG_INFINITY; 3];
    for part in parts {
        let m = &part.mesh;
        let r = validate(m, Some(BED));
        let ctx = || format!("{t:?} part {:?} with {params:?}: {:?}", part.name, r.reasons);
        assert!(r.watertight, "not watertight: {}", ctx());
        assert!(r.manifold, "not manifold: {}", ctx());
        assert!(r.consistently_oriented, "orientation: {}", ctx());
        assert!(r.volume_mm3 > 0.0, "volume {}: {}", r.volume_mm3, ctx());
        assert!(r.printable, "not printable: {}", ctx());
        assert_eq!(r.fits_build_volume, Some(true), "does not fit: {}", ctx());
        assert_eq!(r.degenerate_triangles, 0, "degenerate triangles: {}", ctx());
        assert_eq!(r.shell_count, 1, "{} shells: {}", r.shell_count, ctx());
        let bb = m.bounding_box().expect("vertices");
        for k in 0..3 {
            min[k] = min[k].min(bb.min[k]);
            max[k] = max[k].max(bb.max[k]);
        }
        // Flat faces: the ones on the bed face down, every other one faces up (these are all
        // 2.5D shapes without overhanging ceilings), so no cap triangle is flipped.
        let v = m.vertices();
        for tri in m.triangles() {
            let [a, b, c] = tri.map(|i| v[i as usize]);
            if a[2] == b[2] && b[2] == c[2] {
                let nz = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
                if a[2] == bb.min[2] {
                    assert!(nz < 0.0, "bed face not facing down at z={}: {}", a[2], ctx());
                } else {
                    assert!(nz > 0.0, "flat face not facing up at z={}: {}", a[2], ctx());
                }
            }
        }
    }
    assert!(min[2].abs() < 1e-4, "{t:?} not on the bed: min z {}", min[2]);
    assert!(((min[0] + max[0]) / 2.0).abs() < 1e-3 && ((min[1] + max[1]) / 2.0).abs() < 1e-3, "{t:?} not centred");
    if parts.len() > 1 {
        let boxes: Vec<_> = parts.iter().map(|p| p.mesh.bounding_box().unwrap()).collect();
        for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                let apart = (0..2).any(|k| boxes[i].max[k] < boxes[j].min[k] || boxes[j].max[k] < boxes[i].min[k]);
                assert!(apart, "{t:?}: parts overlap on the plate");
            }
        }
    }
}

/// Random values across a template's parameter ranges; text from `text`.
fn params_for(t: Template, text: impl Strategy<Value = String> + Clone + 'static) -> BoxedStrategy<Params> {
    let specs = t.params();
    let mut strategies: Vec<BoxedStrategy<(String, Value)>> = Vec::new();
    for s in specs {
        let key = s.key.to_string();
        let st: BoxedStrategy<(String, Value)> = match s.kind {
            ParamKind::Number { min, max, .. } => {
                (min..=max).prop_map(move |v| (key.clone(), Value::Number(v))).boxed()
            }
            ParamKind::Toggle { .. } => {
                any::<bool>().prop_map(move |b| (key.clone(), Value::Number(f64::from(u8::from(b))))).boxed()
            }
            ParamKind::Choice { options, .. } => {
                proptest::sample::select(options).prop_map(move |o| (key.clone(), Value::Text(o.to_string()))).boxed()
            }
            ParamKind::Text { .. } => text.clone().prop_map(move |s| (key.clone(), Value::Text(s))).boxed(),
        };
        strategies.push(st);
    }
    strategies.prop_map(|kv| Params { values: kv.into_iter().collect() }).boxed()
}

fn short_names() -> impl Strategy<Value = String> + Clone {
    "[A-Za-z][A-Za-z0-9 !?&'.-]{0,5}"
}

fn check_template(t: Template, params: &Params) {
    match build(t, params) {
        Ok(parts) => check_parts(t, params, &parts),
        // Four wide letters may not fit on the smallest keychain at 3 mm; that is a fair refusal. On the ruler
        // the text shares the strip with the numbers, and three wide ones ("Q??") do not fit a short, narrow one.
        Err(ProceduralError::Text(TextError::TooLong { text, .. }))
            if text.chars().count() >= 4 || (t == Template::Ruler && text.chars().count() >= 3) => {}
        Err(e) => panic!("{t:?} failed with {params:?}: {e}"),
    }
}

macro_rules! template_props {
    ($($name:ident => $t:expr),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: cases(24), failure_persistence: None, ..ProptestConfig::default() })]
            $(
                #[test]
                fn $name(p in params_for($t, short_names())) {
                    check_template($t, &p);
                }
            )*
        }
    };
}

template_props! {
    name_tag => Template::NameTag,
    door_sign => Template::DoorSign,
    keychain => Template::Keychain,
    vase => Template::Vase,
    pencil_cup => Template::PencilCup,
    box_with_lid => Template::BoxWithLid,
    gear => Template::Gear,
    coaster => Template::Coaster,
    cookie_cutter => Template::CookieCutter,
    plant_pot => Template::PlantPot,
    phone_stand => Template::PhoneStand,
    dice => Template::Dice,
    bookmark => Template::Bookmark,
    ruler => Template::Ruler,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(32), failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text at all: either a good mesh or an error in plain words, never a panic or a broken mesh.
    #[test]
    fn any_text_gives_a_mesh_or_a_plain_error(
        t in proptest::sample::select(vec![Template::NameTag, Template::Keychain, Template::DoorSign, Template::Bookmark, Template::Coaster, Template::Ruler]),
        text in "\\PC{0,30}",
    ) {
        let params = Params::new().with_text("text", &text);
        match build(t, &params) {
            Ok(parts) => check_parts(t, &params, &parts),
            Err(ProceduralError::Internal { .. }) => panic!("{t:?} broke on {text:?}"),
            Err(e) => prop_assert!(e.to_string().len() > 20),
        }
    }
}

fn part<'a>(parts: &'a [Part], name: &str) -> &'a mesh::IndexedMesh {
    &parts.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no part {name}")).mesh
}

#[test]
fn gear_has_as_many_tips_as_teeth() {
    for teeth in [8u32, 13, 20, 37, 60, 80] {
        let module = 1.0;
        let params =
            Params::new().with_number("teeth", f64::from(teeth)).with_number("module", module).with_number("bore", 0.0);
        let parts = build(Template::Gear, &params).unwrap();
        let m = &parts[0].mesh;
        let top = m.vertices().iter().map(|v| v[2]).fold(f32::MIN, f32::max);
        // The parts are centred by their bounding box; the axis is the centre of the (rotationally
        // symmetric) outline's corners.
        let top_vs: Vec<[f64; 2]> =
            m.vertices().iter().filter(|v| v[2] == top).map(|v| [f64::from(v[0]), f64::from(v[1])]).collect();
        let c = top_vs.iter().fold([0.0, 0.0], |a, v| [a[0] + v[0], a[1] + v[1]]);
        let c = [c[0] / top_vs.len() as f64, c[1] / top_vs.len() as f64];
        let mut ring: Vec<(f64, f64)> =
            top_vs.iter().map(|v| ((v[1] - c[1]).atan2(v[0] - c[0]), (v[0] - c[0]).hypot(v[1] - c[1]))).collect();
        ring.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rp = module * f64::from(teeth) / 2.0;
        let outside: Vec<bool> = ring.iter().map(|&(_, r)| r > rp).collect();
        let tips =
            (0..outside.len()).filter(|&i| outside[i] && !outside[(i + outside.len() - 1) % outside.len()]).count();
        assert_eq!(tips, teeth as usize, "gear with {teeth} teeth");
        // Tip and root circles as designed: addendum 1 module, dedendum 1.25.
        let rmax = ring.iter().map(|p| p.1).fold(0.0, f64::max);
        let rmin = ring.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(rmax <= rp + module + 1e-3 && rmax > rp + 0.5 * module, "tip radius {rmax}");
        assert!((rmin - (rp - 1.25 * module)).abs() < 1e-3, "root radius {rmin}");
    }
}

#[test]
fn gear_flanks_are_involutes() {
    // Points on a flank: the angle from the tooth centre follows the involute function exactly.
    let (z, m) = (24.0f64, 2.0f64);
    let parts =
        build(Template::Gear, &Params::new().with_number("teeth", z).with_number("module", m).with_number("bore", 0.0))
            .unwrap();
    let mesh = &parts[0].mesh;
    let top = mesh.vertices().iter().map(|v| v[2]).fold(f32::MIN, f32::max);
    let pa = 20f64.to_radians();
    let (rp, rb) = (m * z / 2.0, m * z / 2.0 * pa.cos());
    let inv = |a: f64| a.tan() - a;
    let half = |r: f64| std::f64::consts::PI / (2.0 * z) + inv(pa) - inv((rb / r).acos());
    let mut checked = 0;
    for v in mesh.vertices().iter().filter(|v| v[2] == top) {
        let (x, y) = (f64::from(v[0]), f64::from(v[1]));
        let r = x.hypot(y);
        if r > rb + 0.05 && r < rp + m - 0.05 {
            // Angle to the nearest tooth centre (teeth centred at multiples of 2π/z).
            let a = y.atan2(x);
            let pitch = std::f64::consts::TAU / z;
            let off = (a - (a / pitch).round() * pitch).abs();
            if (off - half(r)).abs() < 1e-3 {
                checked += 1;
            }
        }
    }
    assert!(checked >= 24 * 2 * 8, "only {checked} flank points on the involute");
}

fn volume(parts: &[Part]) -> f64 {
    parts.iter().map(|p| p.mesh.signed_volume()).sum()
}

#[test]
fn vase_volume_matches_the_formula() {
    let (h, d, wall, base) = (120.0, 80.0, 2.0, 3.0);
    let p = Params::new()
        .with_number("height", h)
        .with_number("diameter", d)
        .with_number("bulge", 0.0)
        .with_number("sides", 0.0)
        .with_number("wall", wall)
        .with_number("base", base);
    let v = volume(&build(Template::Vase, &p).unwrap());
    let r = d / 2.0;
    let expect = std::f64::consts::PI * (r * r * h - (r - wall) * (r - wall) * (h - base));
    assert!((v - expect).abs() / expect < 2e-3, "{v} vs {expect}");
    // Twisting a prism keeps its volume (Cavalieri), up to the ruled facets.
    let twisted = volume(&build(Template::Vase, &p.clone().with_number("twist", 90.0)).unwrap());
    assert!((twisted - v).abs() / v < 0.01, "twisted {twisted} vs {v}");
    // A hexagonal cup: prism areas exactly, with the wall measured across the flats.
    let cup = Params::new()
        .with_number("sides", 6.0)
        .with_number("height", h)
        .with_number("diameter", d)
        .with_number("wall", wall)
        .with_number("base", base);
    let v6 = volume(&build(Template::PencilCup, &cup).unwrap());
    let hex = |apothem: f64| 2.0 * 3f64.sqrt() * apothem * apothem;
    let ap = r * (std::f64::consts::PI / 6.0).cos();
    let expect6 = hex(ap) * h - hex(ap - wall) * (h - base);
    assert!((v6 - expect6).abs() / expect6 < 1e-3, "{v6} vs {expect6}");
}

#[test]
fn box_lid_has_the_clearance_asked_for() {
    for gap in [0.15, 0.25, 0.4] {
        let p = Params::new()
            .with_number("width", 60.0)
            .with_number("depth", 44.0)
            .with_number("wall", 2.0)
            .with_number("clearance", gap);
        let parts = build(Template::BoxWithLid, &p).unwrap();
        let (bx, lid) = (part(&parts, "box"), part(&parts, "lid"));
        let floor = 2.0f32;
        // The cavity: box vertices at floor height.
        let extent = |m: &mesh::IndexedMesh, keep: &dyn Fn(&[f32; 3]) -> bool| {
            let xs: Vec<f32> = m.vertices().iter().filter(|v| keep(v)).map(|v| v[0]).collect();
            let ys: Vec<f32> = m.vertices().iter().filter(|v| keep(v)).map(|v| v[1]).collect();
            let span =
                |s: &[f32]| s.iter().copied().fold(f32::MIN, f32::max) - s.iter().copied().fold(f32::MAX, f32::min);
            (span(&xs), span(&ys))
        };
        let cavity = extent(bx, &|v| (v[2] - floor).abs() < 1e-4);
        let lid_top = lid.vertices().iter().map(|v| v[2]).fold(f32::MIN, f32::max);
        let lip = extent(lid, &|v| (v[2] - lid_top).abs() < 1e-4);
        assert!((cavity.0 - 56.0).abs() < 1e-3 && (cavity.1 - 40.0).abs() < 1e-3, "cavity {cavity:?}");
        assert!(((cavity.0 - lip.0) / 2.0 - gap as f32).abs() < 1e-3, "x clearance {:?} {:?}", cavity, lip);
        assert!(((cavity.1 - lip.1) / 2.0 - gap as f32).abs() < 1e-3, "y clearance {:?} {:?}", cavity, lip);
    }
}

#[test]
fn dice_has_21_dimples() {
    let s = 20.0f64;
    let parts = build(
        Template::Dice,
        &Params::new().with_number("size", s).with_number("pip_diameter", 4.0).with_number("pip_depth", 1.0),
    )
    .unwrap();
    let v = volume(&parts);
    // Spherical caps of opening radius 2 and depth 1: V = πd²(3R − d)/3 with R = (a² + d²)/2d.
    let (a, d) = (2.0f64, 1.0f64);
    let r = (a * a + d * d) / (2.0 * d);
    let cap = std::f64::consts::PI * d * d * (3.0 * r - d) / 3.0;
    let expect = s * s * s - 21.0 * cap;
    assert!((v - expect).abs() < 0.1 * 21.0 * cap, "{v} vs {expect}");
    let removed = s * s * s - v;
    assert!(removed > 21.0 * cap * 0.9 && removed < 21.0 * cap * 1.01, "removed {removed}, caps {}", 21.0 * cap);
}

#[test]
fn everyday_texts_fit_at_default_sizes() {
    for t in Template::ALL.into_iter().filter(|t| t.has_text()) {
        for text in ["Maya", "Alexander", "Room 12B", "Zoë", "Ødegård", "Mr. O'Neil", "ABCDEFGHIJKLMN"] {
            let params = Params::new().with_text("text", text);
            if t == Template::Keychain && text.len() > 12 {
                // 14 letters on a 55 mm keychain would be under 3 mm tall: refused in words.
                assert!(matches!(build(t, &params), Err(ProceduralError::Text(TextError::TooLong { .. }))));
                continue;
            }
            let parts = build(t, &params).unwrap_or_else(|e| panic!("{t:?} with {text:?}: {e}"));
            check_parts(t, &params, &parts);
        }
    }
}

#[test]
fn builds_are_deterministic() {
    for t in Template::ALL {
        let a = build(t, &Params::new()).unwrap();
        let b = build(t, &Params::new()).unwrap();
        assert_eq!(a, b, "{t:?}");
    }
}

#[test]
fn text_is_on_the_object_and_long_names_shrink_or_fail_politely() {
    let plain = volume(&build(Template::NameTag, &Params::new().with_text("text", "")).unwrap());
    let named = volume(&build(Template::NameTag, &Params::new().with_text("text", "Maya")).unwrap());
    assert!(named > plain + 10.0, "raised letters add volume: {named} vs {plain}");
    let engraved = volume(
        &build(Template::NameTag, &Params::new().with_text("text", "Maya").with_text("text_style", "engraved"))
            .unwrap(),
    );
    assert!(engraved < plain - 10.0, "engraved letters remove volume: {engraved} vs {plain}");
    // A long name shrinks to fit...
    assert!(build(Template::NameTag, &Params::new().with_text("text", "Maximilian")).is_ok());
    // ...and a sentence on a keychain is refused in words.
    let e = build(Template::Keychain, &Params::new().with_text("text", "The quick brown fox")).unwrap_err();
    assert!(e.to_string().contains("too long"), "{e}");
    let e = build(Template::NameTag, &Params::new().with_text("text", "猫猫")).unwrap_err();
    assert!(e.to_string().contains("font"), "{e}");
}

fn vocabulary() -> impl Strategy<Value = String> {
    let words = vec![
        "a",
        "the",
        "for",
        "Maya",
        "with",
        "lid",
        "twisted",
        "20",
        "teeth",
        "5",
        "mm",
        "cm",
        "inch",
        "\"",
        "x",
        "tall",
        "wide",
        "across",
        "gear",
        "vase",
        "name",
        "tag",
        "says",
        "hexagonal",
        "star",
        "heart",
        "sides",
        "holes",
        "no",
        "drainage",
        "box",
        "ruler",
        "twenty",
        "hundred",
        "and",
        "module",
        "2.5",
        "°",
        "degrees",
        "“Leo”",
        "'",
        "in",
    ];
    proptest::collection::vec(proptest::sample::select(words), 0..40).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    /// What the fuzz target checks, on prompt-like and arbitrary text: no panic, scores in 0..=1,
    /// every template's parameters resolved within their ranges.
    #[test]
    fn any_prompt_parses_and_matches_within_ranges(prompt in prop_oneof![vocabulary(), "\\PC{0,300}"]) {
        let matches = genai::procedural::match_prompt(&genai::prompt::parse(&prompt));
        prop_assert_eq!(matches.len(), Template::ALL.len());
        for m in matches {
            prop_assert!((0.0..=1.0).contains(&m.score));
            for spec in m.template.params() {
                match (&spec.kind, m.params.values.get(spec.key)) {
                    (ParamKind::Number { min, max, .. }, Some(Value::Number(v))) => prop_assert!(v >= min && v <= max),
                    (ParamKind::Toggle { .. }, Some(Value::Number(v))) => prop_assert!(*v == 0.0 || *v == 1.0),
                    (ParamKind::Choice { options, .. }, Some(Value::Text(s))) => prop_assert!(options.contains(&s.as_str())),
                    (ParamKind::Text { max_chars, .. }, Some(Value::Text(s))) => prop_assert!(s.chars().count() <= *max_chars),
                    (kind, v) => prop_assert!(false, "{} is {:?} for {:?}", spec.key, v, kind),
                }
            }
        }
    }
}
