//! `printfarm slice MODEL... -o OUT.gcode`: the slicer on the command line, with presets, PrusaSlicer configs and
//! `--set` overrides; progress on stderr, the summary on stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use slicer::settings::presets;
use slicer::{MaterialProfile, Plate, PrinterProfile, Profile, QualityProfile, SliceControl};

/// Arguments of `printfarm slice`.
#[derive(Debug, clap::Args)]
pub struct SliceArgs {
    /// Model files (STL, 3MF, glTF/GLB, OBJ); kept where they are when they already sit on the bed, else arranged.
    #[arg(required_unless_present = "list_presets")]
    models: Vec<PathBuf>,
    /// Where to write the G-code.
    #[arg(short, long, value_name = "OUT.gcode", required_unless_present = "list_presets")]
    output: Option<PathBuf>,
    /// List the printer, material and quality presets and exit.
    #[arg(long)]
    list_presets: bool,
    /// Printer preset id or TOML file (`printfarm slice --list-presets` shows the ids).
    #[arg(long, value_name = "P")]
    printer: Option<String>,
    /// Material preset id or TOML file.
    #[arg(long, value_name = "M")]
    material: Option<String>,
    /// Quality preset id or TOML file.
    #[arg(long, value_name = "Q")]
    quality: Option<String>,
    /// A PrusaSlicer .ini (or a PrusaSlicer G-code file) whose common keys replace the presets' values.
    #[arg(long, value_name = "FILE.ini")]
    prusa_ini: Option<PathBuf>,
    /// Override one setting, e.g. `--set quality.layer_height=0.3` or `--set infill_density=0.4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// The preset ids and names, one kind per block.
pub fn list_presets() -> String {
    let mut out = String::new();
    for (kind, list) in [
        ("printers", presets::list_printers()),
        ("materials", presets::list_materials()),
        ("qualities", presets::list_qualities()),
    ] {
        out.push_str(kind);
        out.push_str(":\n");
        for (id, name) in list {
            out.push_str(&format!("  {id:<22} {name}\n"));
        }
    }
    out
}

fn pick<T>(
    choice: Option<&str>,
    default: &str,
    preset: impl Fn(&str) -> Result<T, slicer::SettingsError>,
    from_toml: impl Fn(&str) -> Result<T, slicer::SettingsError>,
    what: &str,
) -> anyhow::Result<T> {
    let choice = choice.unwrap_or(default);
    let path = Path::new(choice);
    if choice.ends_with(".toml") || path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {what} profile {choice}"))?;
        return from_toml(&text).with_context(|| format!("{what} profile {choice}"));
    }
    preset(choice).with_context(|| format!("unknown {what} {choice:?}; presets:\n{}", list_presets()))
}

/// Builds the profile from presets/files, the PrusaSlicer config and the overrides, then validates it.
pub fn resolve_profile(args: &SliceArgs) -> anyhow::Result<(Profile, Vec<String>)> {
    let printer: PrinterProfile = pick(
        args.printer.as_deref(),
        presets::DEFAULT_PRINTER,
        presets::printer,
        PrinterProfile::from_toml,
        "printer",
    )?;
    let material: MaterialProfile = pick(
        args.material.as_deref(),
        presets::DEFAULT_MATERIAL,
        presets::material,
        MaterialProfile::from_toml,
        "material",
    )?;
    let quality: QualityProfile = pick(
        args.quality.as_deref(),
        presets::DEFAULT_QUALITY,
        presets::quality,
        QualityProfile::from_toml,
        "quality",
    )?;
    let mut profile = Profile { printer, material, quality };
    let mut notes = Vec::new();
    if let Some(ini) = &args.prusa_ini {
        let bytes = std::fs::read(ini).with_context(|| format!("cannot read {}", ini.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let import = slicer::import_prusa_ini(&text, &profile).with_context(|| format!("{}", ini.display()))?;
        notes.extend(import.warnings);
        if !import.ignored.is_empty() {
            notes.push(format!("{} PrusaSlicer keys have no equivalent and were ignored", import.ignored.len()));
        }
        profile = import.profile;
    }
    for s in &args.sets {
        profile.set_arg(s).with_context(|| format!("--set {s}"))?;
    }
    profile.validate().context("the settings are not valid")?;
    Ok((profile, notes))
}

pub fn run(args: SliceArgs) -> anyhow::Result<()> {
    if args.list_presets {
        print!("{}", list_presets());
        return Ok(());
    }
    let output = args.output.clone().context("missing --output")?;
    let (profile, notes) = resolve_profile(&args)?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let mut models = Vec::new();
    for path in &args.models {
        let model = mesh::io::read_file(path, &mesh::io::Limits::default())
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        models.push((name, model));
    }
    let plate = Plate::arranged(models, &profile.printer.bed);
    let progress: Option<slicer::ProgressFn> = (!args.quiet).then(|| {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let last = std::sync::Mutex::new((slicer::Stage::Done, u32::MAX));
        Arc::new(move |p: slicer::Progress| {
            let pct = (p.fraction * 100.0).round() as u32;
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            let stage = format!("{:?}", p.stage).to_lowercase();
            if tty && pct != last.1 {
                let filled = (p.fraction * 30.0).round() as usize;
                eprint!("\r[{}{}] {pct:>3}% {stage:<12}", "#".repeat(filled.min(30)), " ".repeat(30 - filled.min(30)));
                let _ = std::io::stderr().flush();
            } else if !tty && p.stage != last.0 {
                // Logs and pipes get one line per stage instead of a redrawn bar.
                eprintln!("{pct:>3}% {stage}");
            }
            *last = (p.stage, pct);
        }) as slicer::ProgressFn
    });
    let control = SliceControl { progress, ..Default::default() };
    let out = slicer::slice(&plate, &profile, &control)?;
    if !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    // Write beside the target and rename, so a failure never leaves a half-written file under the real name.
    let tmp = output.with_extension("gcode.part");
    std::fs::write(&tmp, &out.gcode).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &output).with_context(|| format!("cannot write {}", output.display()))?;
    let s = &out.summary;
    if args.json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else {
        println!(
            "{} object(s), {} layers, {} to print, {:.2} m of filament ({:.1} g, cost {:.2}) → {}",
            s.objects,
            s.layers,
            slicer::estimate::format_time(s.print_time_s),
            s.filament_mm / 1000.0,
            s.filament_g,
            s.cost,
            output.display()
        );
    }
    if s.layers == 0 {
        bail!("nothing to print");
    }
    Ok(())
}
