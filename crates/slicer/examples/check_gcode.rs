//! The independent G-code checker (crates/slicer/tests/it/checker) as a command, for the benchmark
//! script and for checking any slicer's output by hand.
//!
//! ```text
//! check_gcode meshes OUT_DIR [NAME...]          write the test meshes as OUT_DIR/NAME.stl
//! check_gcode check FILE.gcode (--mesh NAME | --stl FILE.stl) [--set key=value...]
//! ```
//! `check` prints one line per check and exits 1 if any fails. Keys for `--set`: layer_height,
//! first_layer_height, line_width, filament_diameter, perimeters, top_layers, bottom_layers,
//! infill_density (0…1), solid_margin, skirt_distance, skirt_loops, volume_tolerance,
//! time_tolerance, max_bridge, max_cantilever, require_thumbnails (0/1), allow_model_overhang (0/1),
//! support_gap_layers, support_xy_reach, brim_width.

#[path = "../tests/it/checker/mod.rs"]
mod checker;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("meshes") if args.len() >= 2 => {
            let dir = std::path::Path::new(&args[1]);
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            let names: Vec<&str> = if args.len() > 2 {
                args[2..].iter().map(String::as_str).collect()
            } else {
                checker::meshes::ALL.iter().map(|(n, _)| *n).collect()
            };
            for name in names {
                let Some(m) = checker::meshes::build(name) else {
                    eprintln!("unknown mesh {name}");
                    return ExitCode::FAILURE;
                };
                let path = dir.join(format!("{name}.stl"));
                let tris = m.triangle_count();
                if let Err(e) = mesh::io::write_file(&mesh::Model::single(name, m), &path) {
                    eprintln!("{}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("{}\t{tris} triangles", path.display());
            }
            ExitCode::SUCCESS
        }
        Some("check") if args.len() >= 2 => check(&args[1..]),
        _ => {
            eprintln!("usage: check_gcode meshes OUT_DIR [NAME...] | check FILE.gcode (--mesh NAME | --stl FILE) [--set key=value...]");
            ExitCode::from(2)
        }
    }
}

fn check(args: &[String]) -> ExitCode {
    let gcode_path = &args[0];
    let mut mesh = None;
    let mut cfg = checker::Config::default();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--mesh" => mesh = checker::meshes::build(&value),
            "--stl" => match mesh::io::read_file(&value, &mesh::io::Limits::default()) {
                Ok(m) => mesh = Some(m.merged()),
                Err(e) => {
                    eprintln!("{value}: {e}");
                    return ExitCode::FAILURE;
                }
            },
            "--set" => {
                if let Err(e) = set(&mut cfg, &value) {
                    eprintln!("--set {value}: {e}");
                    return ExitCode::from(2);
                }
            }
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
        i += 2;
    }
    let Some(mesh) = mesh else {
        eprintln!("no mesh: pass --mesh NAME or --stl FILE");
        return ExitCode::from(2);
    };
    let gcode = match std::fs::read(gcode_path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("{gcode_path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = checker::check(&gcode, &mesh, &cfg);
    print!("{report}");
    let n = &report.numbers;
    println!(
        "SUMMARY layers={} filament_claim_mm={} net_e_mm={:.2} volume_ratio={:.4} time_claim_s={} time_est_s={:.0} flow_median={:.3} all_pass={}",
        n.layers,
        n.filament_claim_mm.map_or("NA".into(), |v| format!("{v:.2}")),
        n.net_e_mm,
        n.volume_ratio,
        n.time_claim_s.map_or("NA".into(), |v| format!("{v:.0}")),
        n.time_estimate_s,
        n.flow_median,
        report.all_pass()
    );
    if report.all_pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn set(cfg: &mut checker::Config, kv: &str) -> Result<(), String> {
    let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
    let f: f64 = v.trim().trim_end_matches('%').parse().map_err(|e| format!("{e}"))?;
    match k.trim() {
        "layer_height" => cfg.layer_height = f,
        "first_layer_height" => cfg.first_layer_height = f,
        "line_width" => cfg.line_width = f,
        "filament_diameter" => cfg.filament_diameter = f,
        "perimeters" => cfg.perimeters = f as u32,
        "top_layers" => cfg.top_layers = f as u32,
        "bottom_layers" => cfg.bottom_layers = f as u32,
        "infill_density" => cfg.infill_density = if v.contains('%') { f / 100.0 } else { f },
        "solid_margin" => cfg.solid_margin = f,
        "skirt_distance" => cfg.skirt_distance = f,
        "skirt_loops" => cfg.skirt_loops = f as u32,
        "volume_tolerance" => cfg.volume_tolerance = f,
        "time_tolerance" => cfg.time_tolerance = f,
        "max_bridge" => cfg.max_bridge = f,
        "max_cantilever" => cfg.max_cantilever = f,
        "require_thumbnails" => cfg.require_thumbnails = f != 0.0,
        "allow_model_overhang" => cfg.allow_model_overhang = f != 0.0,
        "support_gap_layers" => cfg.support_gap_layers = f as u32,
        "support_xy_reach" => cfg.support_xy_reach = f,
        "brim_width" => cfg.brim_width = f,
        other => return Err(format!("unknown key {other}")),
    }
    Ok(())
}
