//! `printfarm mesh ...`: the geometry core on the command line (check, repair, convert, thumbnail).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use mesh::io::{self, Format, Limits};
use mesh::repair::{repair, RepairOptions};
use mesh::thumbnail::{render_png, ThumbnailOptions, View};
use mesh::validate::{validate, ValidationReport};
use mesh::Model;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum MeshCommand {
    /// Check a model: size, volume, holes, and whether it will print.
    Info {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Check the fit against a build volume, e.g. 250x210x220 (mm).
        #[arg(long, value_name = "XxYxZ", value_parser = parse_size3)]
        build_volume: Option<[f32; 3]>,
    },
    /// Fix what can be fixed (welds, flipped or missing faces, small holes) and write the result.
    Repair {
        input: PathBuf,
        /// The output file; its extension picks the format (stl, 3mf, glb, obj).
        output: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Convert between formats; the output's extension picks the format (stl, 3mf, glb, obj).
    Convert { input: PathBuf, output: PathBuf },
    /// Draw a shaded PNG picture of a model.
    Thumbnail {
        file: PathBuf,
        output: PathBuf,
        /// Picture size in pixels.
        #[arg(long, default_value = "256x256", value_parser = parse_size2)]
        size: [u32; 2],
        /// isometric, top or front.
        #[arg(long, default_value = "isometric", value_parser = parse_view)]
        view: View,
    },
}

pub fn run(command: MeshCommand) -> anyhow::Result<()> {
    match command {
        MeshCommand::Info { file, json, build_volume } => info(&file, json, build_volume),
        MeshCommand::Repair { input, output, json } => repair_file(&input, &output, json),
        MeshCommand::Convert { input, output } => {
            let model = load(&input)?;
            save(&model, &output)
        }
        MeshCommand::Thumbnail { file, output, size, view } => {
            let model = load(&file)?;
            let options = ThumbnailOptions { view, ..ThumbnailOptions::sized(size[0], size[1]) };
            let png =
                render_png(&model.merged(), &options).with_context(|| format!("cannot draw {}", file.display()))?;
            std::fs::write(&output, png).with_context(|| format!("cannot write {}", output.display()))
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Model> {
    match io::read_file(path, &Limits::default()) {
        Ok(model) => Ok(model),
        // Already says "cannot read PATH: ...".
        Err(e @ io::ReadError::Io { .. }) => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

fn save(model: &Model, path: &Path) -> anyhow::Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    if Format::from_extension(ext).is_none() {
        bail!("cannot tell the output format from {:?}: use .stl, .3mf, .glb or .obj", path.display().to_string());
    }
    Ok(io::write_file(model, path)?)
}

fn info(file: &Path, as_json: bool, build_volume: Option<[f32; 3]>) -> anyhow::Result<()> {
    let model = load(file)?;
    let report = validate(&model.merged(), build_volume);
    let mut out = std::io::stdout().lock();
    if as_json {
        let objects: Vec<_> = model
            .objects
            .iter()
            .map(|o| json!({ "name": o.name, "triangles": o.mesh.triangle_count(), "material": o.material }))
            .collect();
        let doc = json!({ "file": file.display().to_string(), "objects": objects, "report": report });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(out, "{}: {} object(s)", file.display(), model.objects.len())?;
        for o in &model.objects {
            writeln!(out, "  - {} ({} triangles)", o.name, o.mesh.triangle_count())?;
        }
        print_report(&mut out, &report)?;
    }
    Ok(())
}

fn print_report(out: &mut impl Write, r: &ValidationReport) -> std::io::Result<()> {
    let yes = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "triangles     {}", r.triangle_count)?;
    if let Some(b) = &r.bounding_box {
        writeln!(out, "size          {:.2} x {:.2} x {:.2} mm", b.size[0], b.size[1], b.size[2])?;
    }
    writeln!(out, "volume        {:.2} cm³", r.volume_mm3 / 1000.0)?;
    writeln!(out, "surface       {:.2} cm²", r.surface_area_mm2 / 100.0)?;
    writeln!(out, "shells        {}", r.shell_count)?;
    writeln!(out, "watertight    {}", yes(r.watertight))?;
    writeln!(out, "manifold      {}", yes(r.manifold))?;
    if let Some(fits) = r.fits_build_volume {
        writeln!(out, "fits          {}", yes(fits))?;
    }
    writeln!(out, "printable     {}", yes(r.printable))?;
    for reason in &r.reasons {
        writeln!(out, "  ✗ {reason}")?;
    }
    for warning in &r.warnings {
        writeln!(out, "  ! {warning}")?;
    }
    Ok(())
}

fn repair_file(input: &Path, output: &Path, as_json: bool) -> anyhow::Result<()> {
    let mut model = load(input)?;
    let mut reports = Vec::new();
    for object in &mut model.objects {
        let (fixed, report) = repair(&object.mesh, &RepairOptions::default());
        object.mesh = fixed;
        reports.push((object.name.clone(), report));
    }
    save(&model, output)?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let doc: Vec<_> = reports.iter().map(|(name, r)| json!({ "object": name, "report": r })).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for (name, r) in &reports {
            writeln!(
                out,
                "{name}: welded {} vertices, removed {} degenerate and {} duplicate faces, flipped {}, filled {} holes{}",
                r.vertices_welded,
                r.degenerate_faces_removed,
                r.duplicate_faces_removed,
                r.faces_flipped,
                r.holes_filled,
                if r.is_clean() { "; now closed and manifold" } else { "" }
            )?;
            if r.open_edges.count > 0 {
                writeln!(
                    out,
                    "  still open: {} edges, e.g. near {:?}",
                    r.open_edges.count,
                    r.open_edges.samples.first()
                )?;
            }
            if r.non_manifold_edges.count > 0 {
                writeln!(
                    out,
                    "  non-manifold: {} edges, e.g. near {:?}",
                    r.non_manifold_edges.count,
                    r.non_manifold_edges.samples.first()
                )?;
            }
        }
        writeln!(out, "wrote {}", output.display())?;
    }
    Ok(())
}

fn parse_size3(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<f32> =
        s.split(['x', 'X']).map(|p| p.trim().parse::<f32>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    match parts.as_slice() {
        [x, y, z] if parts.iter().all(|v| v.is_finite() && *v > 0.0) => Ok([*x, *y, *z]),
        _ => Err(format!("expected three positive sizes like 250x210x220, got {s:?}")),
    }
}

fn parse_size2(s: &str) -> Result<[u32; 2], String> {
    let parts: Vec<u32> =
        s.split(['x', 'X']).map(|p| p.trim().parse::<u32>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    match parts.as_slice() {
        [w, h] if *w > 0 && *h > 0 => Ok([*w, *h]),
        _ => Err(format!("expected a size like 256x256, got {s:?}")),
    }
}

fn parse_view(s: &str) -> Result<View, String> {
    match s {
        "isometric" | "iso" => Ok(View::Isometric),
        "top" => Ok(View::Top),
        "front" => Ok(View::Front),
        _ => Err(format!("unknown view {s:?}: use isometric, top or front")),
    }
}
