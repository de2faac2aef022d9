//! Slices model files from the command line without the server: the benchmark and debugging entry point.
//!
//! `cargo run --release -p slicer --example slice -- IN.stl [IN2.3mf ...] -o OUT.gcode [--set key=value ...]
//!  [--prusa-ini FILE.ini] [--layer-png N:FILE.png] [--quiet]`
//! prints a JSON summary on stdout.

use std::process::ExitCode;

use slicer::{Plate, Profile, SliceControl};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut inputs = Vec::new();
    let mut output = None;
    let mut sets = Vec::new();
    let mut ini = None;
    let mut layer_png = None;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" | "--output" => output = args.next(),
            "--set" => sets.push(args.next().ok_or("--set needs key=value")?),
            "--prusa-ini" => ini = args.next(),
            "--layer-png" => layer_png = args.next(),
            "--quiet" => quiet = true,
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ => inputs.push(a),
        }
    }
    let output = output.ok_or("missing -o OUT.gcode")?;
    let mut profile = Profile::default();
    if let Some(path) = ini {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        profile = slicer::settings::import_prusa_ini(&text, &profile).map_err(|e| e.to_string())?.profile;
    }
    for s in &sets {
        let (k, v) = s.split_once('=').ok_or_else(|| format!("--set {s}: expected key=value"))?;
        profile.set(k, v).map_err(|e| e.to_string())?;
    }
    let mut models = Vec::new();
    for path in &inputs {
        let model = mesh::io::read_file(path, &mesh::io::Limits::default()).map_err(|e| format!("{path}: {e}"))?;
        let name = std::path::Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        models.push((name, model));
    }
    let plate = Plate::arranged(models, &profile.printer.bed);
    let control = SliceControl {
        progress: (!quiet).then(|| {
            std::sync::Arc::new(|p: slicer::Progress| eprint!("\r{:?} {:>3.0}%   ", p.stage, p.fraction * 100.0))
                as slicer::ProgressFn
        }),
        ..Default::default()
    };
    let out = slicer::slice(&plate, &profile, &control).map_err(|e| e.to_string())?;
    if !quiet {
        eprintln!();
    }
    std::fs::write(&output, &out.gcode).map_err(|e| format!("{output}: {e}"))?;
    if let Some(spec) = layer_png {
        let (n, file) = spec.split_once(':').ok_or("--layer-png N:FILE.png")?;
        let n: usize = n.parse().map_err(|_| "--layer-png: N must be a layer number")?;
        let layer = out.preview.layers.get(n).ok_or("--layer-png: no such layer")?;
        let png = slicer::preview::render_layer_png(layer, 800).map_err(|e| e.to_string())?;
        std::fs::write(file, png).map_err(|e| format!("{file}: {e}"))?;
    }
    let mut json = serde_json::to_value(&out.summary).map_err(|e| e.to_string())?;
    json["preview_bytes"] = out.preview.encode().len().into();
    println!("{json}");
    Ok(())
}
