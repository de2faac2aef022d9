//! `printfarm generate "PROMPT" -o out.3mf` and `printfarm models install|list|rollback|remove`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use genai::engine::{Engine, GenerateFailure};
use genai::finish::ExportFormat;
use genai::modelpack::{InstallProgress, ModelStore};
use genai::{CancelToken, GenerationRequest, Quality, Tier};
use indicatif::{ProgressBar, ProgressStyle};

/// Generate a printable model from a prompt, on this machine, without a running server.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What to make, e.g. "a name tag for Maya" or "a 10 cm twisted vase with 6 sides".
    pub prompt: String,
    /// Output file; the extension picks the format (.3mf, .stl, .glb).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Seed for the AI tier (the same seed gives the same shape).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "medium", value_parser = parse_quality)]
    pub quality: Quality,
    /// auto: a ready-made design when one matches, else the AI model when installed.
    #[arg(long, default_value = "auto", value_parser = parse_tier)]
    pub tier: Tier,
    /// Build this design instead of guessing from the prompt (see the suggestions it prints).
    #[arg(long, value_name = "KEY")]
    pub template: Option<String>,
    /// Largest dimension, mm (default: the design's own size; 60 mm for AI shapes).
    #[arg(long, value_name = "MM")]
    pub size: Option<f32>,
    /// A Shap-E pack directory to use instead of the installed one.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Also write a PNG thumbnail next to the output.
    #[arg(long)]
    pub thumbnail: bool,
}

fn parse_quality(s: &str) -> Result<Quality, String> {
    s.parse()
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse()
}

pub fn generate(args: GenerateArgs, data_dir: PathBuf) -> anyhow::Result<()> {
    let format = match args.output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("3mf") => ExportFormat::ThreeMf,
        Some("stl") => ExportFormat::Stl,
        Some("glb") => ExportFormat::Glb,
        _ => bail!("the output must end in .3mf, .stl or .glb"),
    };
    let request =
        GenerationRequest::new(&args.prompt, args.quality, args.seed)?.with_tier(args.tier).with_size(args.size)?;
    let started = Instant::now();
    let engine = match (&args.model_dir, args.tier) {
        (Some(dir), _) => Engine::from_dir(dir, None, format!("pack at {}", dir.display())),
        // The AI tier is loaded only when it may be used: loading weights takes seconds.
        (None, Tier::Procedural) => Engine::procedural_only(),
        (None, _) if args.template.is_some() => Engine::procedural_only(),
        (None, _) => crate::generate::load_engine(&data_dir.join("models"), true),
    };
    if args.tier == Tier::ShapE && !engine.shap_e_ready() {
        bail!("{}", engine.status().explain());
    }
    let bar = ProgressBar::new(1);
    bar.set_style(ProgressStyle::with_template("{msg:20} [{bar:30}] {pos}/{len} {elapsed}").expect("valid template"));
    let cancel = CancelToken::new();
    let outcome = engine.generate(&request, args.template.as_deref(), &cancel, &mut |p| {
        bar.set_length(u64::from(p.total.max(1)));
        bar.set_position(u64::from(p.step));
        bar.set_message(p.stage);
    });
    bar.finish_and_clear();
    let generated = match outcome {
        Ok(Some(g)) => g,
        Ok(None) => bail!("cancelled"),
        Err(GenerateFailure::Choose { suggestions, reason }) => {
            eprintln!("{reason}");
            for s in suggestions {
                eprintln!("  --template {:<14} {} — {}", s.template, s.name, s.description);
            }
            bail!("no design chosen");
        }
        Err(GenerateFailure::Engine(e)) => return Err(e.into()),
    };
    let bytes = generated.export(format)?;
    std::fs::write(&args.output, &bytes).with_context(|| format!("cannot write {}", args.output.display()))?;
    if args.thumbnail {
        let png = args.output.with_extension("png");
        std::fs::write(&png, generated.thumbnail_png(256)?)
            .with_context(|| format!("cannot write {}", png.display()))?;
    }
    let r = &generated.finished.report;
    let size = r.bounding_box.map(|b| b.size).unwrap_or_default();
    println!(
        "{}: {} ({}) — {:.1} x {:.1} x {:.1} mm, {} triangles, {:.1} cm³, {} in {:.0} ms",
        args.output.display(),
        generated.name,
        generated.tier.as_str(),
        size[0],
        size[1],
        size[2],
        r.triangle_count,
        r.volume_mm3 / 1000.0,
        if r.printable { "printable" } else { "NOT printable" },
        started.elapsed().as_secs_f64() * 1000.0
    );
    for step in &generated.finished.steps {
        println!("  - {step}");
    }
    Ok(())
}

/// Shap-E model packs.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// Verify and install a pack (a directory or .tar with manifest.json), then make it active.
    Install {
        /// The pack, e.g. /media/usb/printfarm-modelpack-shap-e.tar
        path: PathBuf,
    },
    /// Installed packs; the active one is marked.
    List,
    /// Make the previously active pack active again.
    Rollback,
    /// Delete an installed pack (not the active one), by ID-VERSION as `list` shows it.
    Remove { pack: String },
}

pub fn models(command: ModelsCommand, data_dir: PathBuf) -> anyhow::Result<()> {
    let store = ModelStore::open(data_dir.join("models"))?;
    match command {
        ModelsCommand::Install { path } => {
            let bar = ProgressBar::new(1);
            bar.set_style(
                ProgressStyle::with_template("{msg:24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                    .expect("valid template"),
            );
            let verifier = crate::generate::ShapEPackVerifier;
            let pack = store.install(&path, &verifier, &mut |p: InstallProgress| {
                bar.set_length(p.total_bytes.max(1));
                bar.set_position(p.done_bytes);
                bar.set_message(p.file.clone());
            });
            bar.finish_and_clear();
            let pack = pack?;
            println!("Installed and activated {} {} ({}).", pack.id, pack.version, pack.name);
            println!("A running server picks it up on its next start.");
        }
        ModelsCommand::List => {
            let packs = store.list();
            if packs.is_empty() {
                println!("No model packs installed in {}.", data_dir.join("models").display());
            }
            for p in packs {
                println!(
                    "{} {}-{:<12} {:<40} {:>8.1} MiB",
                    if p.active { "*" } else { " " },
                    p.id,
                    p.version,
                    p.name,
                    p.bytes as f64 / 1048576.0
                );
            }
        }
        ModelsCommand::Rollback => {
            let pack = store.rollback()?;
            println!("{} {} is active again.", pack.id, pack.version);
        }
        ModelsCommand::Remove { pack } => {
            store.remove(&pack)?;
            println!("Removed {pack}.");
        }
    }
    Ok(())
}
