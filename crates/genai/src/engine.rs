//! Picks a tier for a request and runs it: the one entry point the server and the CLI use.
//!
//! The procedural tier is always there. Shap-E is there when a verified model pack is active and either
//! a GPU is present or an admin allowed CPU generation (slow, so it is opt-in and comes with an honest
//! time estimate). Both tiers end in [`crate::finish`], so every result is validated as printable.

use std::path::Path;
use std::sync::Arc;

use mesh::IndexedMesh;

use crate::finish::{self, ExportFormat, FinishOptions, Finished, RawShape};
use crate::modelpack::{InstalledPack, ModelStore};
use crate::procedural::{self, Params, Template};
use crate::shap_e::{SamplerSettings, ShapE};
use crate::{prompt, CancelToken, GenerationRequest, Progress, Quality, Tier, DEFAULT_SIZE_MM};

/// Points per axis of the coarse previews decoded while sampling.
const PREVIEW_GRID: usize = 24;

/// Bump when a change makes the same request give a different model, so cached results are not reused.
pub const ENGINE_VERSION: u32 = 1;

/// What a tier produced, finished and ready to store.
#[derive(Debug, Clone)]
pub struct Generated {
    /// A display name ("Name tag — Maya", "a shark").
    pub name: String,
    pub tier: UsedTier,
    /// The template key, for procedural results.
    pub template: Option<String>,
    pub finished: Finished,
    pub colour: Option<mesh::Rgba>,
}

impl Generated {
    /// The model as a 3MF file (what the library stores).
    pub fn three_mf(&self) -> Result<Vec<u8>, EngineError> {
        Ok(self.finished.export(&self.name, ExportFormat::ThreeMf, self.colour)?)
    }

    pub fn export(&self, format: ExportFormat) -> Result<Vec<u8>, EngineError> {
        Ok(self.finished.export(&self.name, format, self.colour)?)
    }

    pub fn thumbnail_png(&self, size: u32) -> Result<Vec<u8>, EngineError> {
        Ok(self.finished.thumbnail_png(size, size)?)
    }
}

/// The tier that actually ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsedTier {
    Procedural,
    ShapE,
}

impl UsedTier {
    pub fn as_str(self) -> &'static str {
        match self {
            UsedTier::Procedural => "procedural",
            UsedTier::ShapE => "shap-e",
        }
    }
}

/// A template offered when a prompt matched none well.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// The template's key, to send back as `template`.
    pub template: String,
    pub name: String,
    pub description: String,
    pub score: f32,
    /// The parameters the prompt implied (text, sizes, counts).
    pub params: serde_json::Value,
}

/// How a request will be served.
#[derive(Debug, Clone)]
pub enum Plan {
    Procedural {
        template: Template,
        params: Params,
    },
    ShapE {
        settings: SamplerSettings,
    },
    /// No template matched well and Shap-E is not available (or not asked for): let the person choose.
    Choose {
        suggestions: Vec<Suggestion>,
        reason: String,
    },
}

/// Whether Shap-E can run on this box, in words for an admin page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ShapEStatus {
    /// Loaded and ready.
    Ready {
        pack: String,
        device: String,
    },
    /// A pack is installed but there is no GPU and CPU generation is off.
    NeedsGpu {
        pack: String,
        cpu_seconds_estimate: f64,
    },
    NotInstalled,
    /// The active pack failed to load.
    Broken {
        pack: String,
        error: String,
    },
}

impl ShapEStatus {
    /// A sentence for the UI.
    pub fn explain(&self) -> String {
        match self {
            ShapEStatus::Ready { device, .. } => format!("AI shapes are available (running on {device})."),
            ShapEStatus::NeedsGpu { cpu_seconds_estimate, .. } => format!(
                "The AI model is installed but this box has no graphics card for it, so only ready-made designs \
                 are offered. An admin can allow slow generation on the processor (about {} minutes per object).",
                (cpu_seconds_estimate / 60.0).ceil()
            ),
            ShapEStatus::NotInstalled => {
                "No AI model is installed, so ready-made designs are offered. An admin can install a model pack \
                 from a USB stick."
                    .into()
            }
            ShapEStatus::Broken { error, .. } => {
                format!("The AI model could not be loaded ({error}); ready-made designs are offered meanwhile.")
            }
        }
    }
}

/// Why a generation failed, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("there is no design called {0:?}")]
    UnknownTemplate(String),
    #[error("AI shapes are not available on this box: {0}")]
    ShapEUnavailable(String),
    #[error(transparent)]
    Procedural(#[from] procedural::ProceduralError),
    #[error("the AI model failed: {0}")]
    ShapE(#[from] crate::shap_e::ShapEError),
    #[error(transparent)]
    Finish(#[from] finish::FinishError),
}

/// One Shap-E request in a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub request: GenerationRequest,
    pub cancel: CancelToken,
}

/// Progress of one row of a batch, with now and then a coarse preview mesh (in the [-1, 1] cube).
pub type BatchProgress<'a> = &'a mut dyn FnMut(usize, Progress, Option<&IndexedMesh>);

/// Both tiers behind one door.
pub struct Engine {
    shap_e: Option<Arc<ShapE>>,
    pack: Option<InstalledPack>,
    status: ShapEStatus,
    /// Decode a preview every this many model calls (0: never).
    pub preview_every: usize,
}

impl Engine {
    /// Procedural only: every box can do this.
    pub fn procedural_only() -> Self {
        Self { shap_e: None, pack: None, status: ShapEStatus::NotInstalled, preview_every: 0 }
    }

    /// Loads the active pack of `store` when there is one. Without a GPU it loads only if `allow_cpu`.
    pub fn load(store: &ModelStore, allow_cpu: bool) -> Self {
        let Some(pack) = store.active() else { return Self::procedural_only() };
        let label = format!("{} {}", pack.id, pack.version);
        if !gpu_available() && !allow_cpu {
            let estimate = crate::shap_e::estimate_seconds_cpu(&SamplerSettings::for_quality(Quality::Low));
            return Self {
                shap_e: None,
                pack: Some(pack),
                status: ShapEStatus::NeedsGpu { pack: label, cpu_seconds_estimate: estimate },
                preview_every: 0,
            };
        }
        Self::from_dir(&pack.dir.clone(), Some(pack), label)
    }

    /// Loads Shap-E from a pack directory directly (tests, the CLI's `--model-dir`).
    pub fn from_dir(dir: &Path, pack: Option<InstalledPack>, label: String) -> Self {
        match ShapE::load(dir) {
            Ok(model) => {
                let device = model.device_name();
                Self {
                    shap_e: Some(Arc::new(model)),
                    pack,
                    status: ShapEStatus::Ready { pack: label, device },
                    preview_every: 8,
                }
            }
            Err(e) => Self {
                shap_e: None,
                pack,
                status: ShapEStatus::Broken { pack: label, error: e.to_string() },
                preview_every: 0,
            },
        }
    }

    pub fn status(&self) -> &ShapEStatus {
        &self.status
    }

    pub fn shap_e_ready(&self) -> bool {
        self.shap_e.is_some()
    }

    /// What distinguishes this engine's results in a cache key: the code version and, for Shap-E, the pack.
    pub fn cache_tag(&self, tier: UsedTier) -> String {
        match (tier, &self.pack) {
            (UsedTier::Procedural, _) => format!("procedural/{ENGINE_VERSION}"),
            (UsedTier::ShapE, Some(p)) => format!("shap-e/{ENGINE_VERSION}/{}@{}", p.id, p.version),
            (UsedTier::ShapE, None) => format!("shap-e/{ENGINE_VERSION}/local"),
        }
    }

    /// Decides how to serve `request`. `template` (a key from a suggestion) forces the procedural tier.
    pub fn plan(&self, request: &GenerationRequest, template: Option<&str>) -> Result<Plan, EngineError> {
        let parsed = prompt::parse(request.prompt());
        let matches = procedural::match_prompt(&parsed);
        if let Some(key) = template {
            let template = Template::from_id(key).ok_or_else(|| EngineError::UnknownTemplate(key.to_string()))?;
            let params = matches
                .iter()
                .find(|m| m.template == template)
                .map(|m| m.params.clone())
                .unwrap_or_else(|| Params::defaults(template));
            return Ok(Plan::Procedural { template, params });
        }
        let best = matches.first().filter(|m| m.score >= procedural::CONFIDENT);
        let settings = SamplerSettings::for_quality(request.quality);
        match request.tier {
            Tier::Procedural | Tier::Auto if best.is_some() => {
                let m = best.expect("checked");
                Ok(Plan::Procedural { template: m.template, params: m.params.clone() })
            }
            Tier::ShapE | Tier::Auto if self.shap_e.is_some() => Ok(Plan::ShapE { settings }),
            Tier::ShapE => Err(EngineError::ShapEUnavailable(self.status.explain())),
            _ => Ok(Plan::Choose {
                suggestions: suggestions(&matches, 4),
                reason: if request.tier == Tier::Procedural || self.shap_e.is_some() {
                    "None of the ready-made designs matches that prompt well. Pick one of these, or try other words."
                        .into()
                } else {
                    format!(
                        "None of the ready-made designs matches that prompt well. Pick one of these, or try other \
                         words. ({})",
                        self.status.explain()
                    )
                },
            }),
        }
    }

    /// Builds a template and finishes it.
    pub fn procedural(
        &self,
        request: &GenerationRequest,
        template: Template,
        params: &Params,
    ) -> Result<Generated, EngineError> {
        let params = params.resolved(template);
        let parts = procedural::build(template, &params)?;
        let mut mesh = IndexedMesh::default();
        for p in &parts {
            mesh.append(&p.mesh);
        }
        let options = FinishOptions { target_size_mm: request.size_mm, ..FinishOptions::default() };
        let finished = finish::finish(RawShape::Mesh(mesh), &options)?;
        let label = params.text("text").filter(|t| !t.trim().is_empty());
        let title = capitalise(template.name());
        let name = match label {
            Some(text) => format!("{title} — {}", text.trim()),
            None => title,
        };
        Ok(Generated {
            name,
            tier: UsedTier::Procedural,
            template: Some(template.id().to_string()),
            finished,
            colour: None,
        })
    }

    /// Runs up to four Shap-E requests in one sampler loop (each its own seed, each cancellable), then
    /// decodes and finishes each. A cancelled row comes back as `Ok(None)`.
    pub fn shap_e_batch(
        &self,
        items: &[BatchItem],
        settings: &SamplerSettings,
        progress: BatchProgress<'_>,
    ) -> Result<Vec<Result<Option<Generated>, EngineError>>, EngineError> {
        let model = self.shap_e.as_ref().ok_or_else(|| EngineError::ShapEUnavailable(self.status.explain()))?;
        let prompts: Vec<&str> = items.iter().map(|i| i.request.prompt()).collect();
        let seeds: Vec<u64> = items.iter().map(|i| i.request.seed).collect();
        let cancels: Vec<CancelToken> = items.iter().map(|i| i.cancel.clone()).collect();
        let every = self.preview_every;
        let calls = settings.total_calls() as u32;
        let latents = model.sample(&prompts, &seeds, &cancels, settings, &mut |view| {
            let preview_now = every > 0 && view.call % every == 0 && view.call < view.total_calls;
            for &row in view.rows {
                let preview = if preview_now {
                    view.latent(row)
                        .and_then(|latent| model.decode(&latent, PREVIEW_GRID).ok())
                        .map(|d| mesh::marching_cubes::marching_cubes(&d.grid))
                        .filter(|m| m.triangle_count() > 0)
                } else {
                    None
                };
                progress(
                    row,
                    Progress { stage: "shaping", step: view.call as u32, total: calls + 1 },
                    preview.as_ref(),
                );
            }
        })?;
        let mut out = Vec::with_capacity(items.len());
        for (row, latent) in latents.into_iter().enumerate() {
            let Some(latent) = latent else {
                out.push(Ok(None));
                continue;
            };
            progress(row, Progress { stage: "building the mesh", step: calls, total: calls + 1 }, None);
            let result = (|| {
                let decoded = model.decode(&latent, settings.grid_size)?;
                let size = items[row].request.size_mm.unwrap_or(DEFAULT_SIZE_MM);
                let options = FinishOptions { target_size_mm: Some(size), ..FinishOptions::default() };
                let raw = RawShape::Field { grid: decoded.grid.clone(), up: finish::Axis::Z };
                let finished = finish::finish(raw, &options)?;
                // Colour: the average of the decoder's colours at the surface (in the model's own frame).
                let colours = decoded.colours_at(&surface_points(&decoded.grid));
                let colour = finish::average_colour(&colours);
                Ok(Some(Generated {
                    name: items[row].request.prompt().chars().take(80).collect(),
                    tier: UsedTier::ShapE,
                    template: None,
                    finished,
                    colour,
                }))
            })();
            out.push(result);
        }
        Ok(out)
    }

    /// Serves one request whichever way [`Engine::plan`] says (the CLI's path). `Plan::Choose` becomes an
    /// error listing the suggestions.
    pub fn generate(
        &self,
        request: &GenerationRequest,
        template: Option<&str>,
        cancel: &CancelToken,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<Generated>, GenerateFailure> {
        match self.plan(request, template)? {
            Plan::Procedural { template, params } => {
                progress(Progress { stage: "building", step: 0, total: 1 });
                let g = self.procedural(request, template, &params)?;
                progress(Progress { stage: "done", step: 1, total: 1 });
                Ok(Some(g))
            }
            Plan::ShapE { settings } => {
                let item = BatchItem { request: request.clone(), cancel: cancel.clone() };
                let mut rows = self.shap_e_batch(&[item], &settings, &mut |_, p, _| progress(p))?;
                Ok(rows.pop().expect("one row")?)
            }
            Plan::Choose { suggestions, reason } => Err(GenerateFailure::Choose { suggestions, reason }),
        }
    }
}

/// Why [`Engine::generate`] gave no model.
#[derive(Debug, thiserror::Error)]
pub enum GenerateFailure {
    #[error("{reason}")]
    Choose { suggestions: Vec<Suggestion>, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn suggestions(matches: &[procedural::TemplateMatch], n: usize) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = matches
        .iter()
        .take(n)
        .map(|m| Suggestion {
            template: m.template.id().to_string(),
            name: m.template.name().to_string(),
            description: m.template.description().to_string(),
            score: m.score,
            params: params_to_json(&m.params),
        })
        .collect();
    // A prompt that matched nothing at all still gets choices: the most popular designs.
    for t in Template::ALL {
        if out.len() >= n {
            break;
        }
        if !out.iter().any(|s| s.template == t.id()) {
            out.push(Suggestion {
                template: t.id().to_string(),
                name: t.name().to_string(),
                description: t.description().to_string(),
                score: 0.0,
                params: params_to_json(&Params::defaults(t)),
            });
        }
    }
    out
}

/// Points just inside the surface of a decoded grid, where colours are sampled (at most a few thousand).
fn surface_points(grid: &mesh::marching_cubes::SdfGrid) -> Vec<[f32; 3]> {
    let [nx, ny, nz] = grid.dims;
    let mut out = Vec::new();
    let step = ((nx * ny * nz) as f64 / 200_000.0).cbrt().max(1.0) as usize;
    for z in (0..nz).step_by(step) {
        for y in (0..ny).step_by(step) {
            for x in (0..nx).step_by(step) {
                let v = grid.values[x + nx * (y + ny * z)];
                if v < 0.0 && v > -0.1 {
                    let p = [x as f32, y as f32, z as f32];
                    out.push(std::array::from_fn(|i| grid.origin[i] + grid.spacing * p[i]));
                }
            }
        }
    }
    out.truncate(4096);
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn gpu_available() -> bool {
    !crate::shap_e::pick_device().is_cpu()
}

/// Template parameters as a flat JSON object (`{"text": "Maya", "width": 60}`).
pub fn params_to_json(params: &Params) -> serde_json::Value {
    serde_json::to_value(&params.values).unwrap_or_default()
}

/// Parameters for `template` from a flat JSON object (unknown keys dropped, values clamped to range).
pub fn params_from_json(template: Template, json: &serde_json::Value) -> Params {
    let mut params = Params::defaults(template);
    merge_params(&mut params, json);
    params.resolved(template)
}

/// Overrides `params` with the numbers and texts of a flat JSON object (then resolve against a template).
pub fn merge_params(params: &mut Params, json: &serde_json::Value) {
    let Some(map) = json.as_object() else { return };
    for (key, value) in map {
        match value {
            serde_json::Value::Number(n) => {
                if let Some(v) = n.as_f64() {
                    params.set_number(key, v);
                }
            }
            serde_json::Value::Bool(b) => {
                params.set_number(key, if *b { 1.0 } else { 0.0 });
            }
            serde_json::Value::String(t) => {
                params.set_text(key, t);
            }
            _ => {}
        }
    }
}

/// Every template with its parameters, for a UI's sliders and the templates endpoint.
pub fn catalogue() -> Vec<serde_json::Value> {
    Template::ALL
        .iter()
        .map(|t| {
            serde_json::json!({
                "template": t.id(),
                "name": t.name(),
                "description": t.description(),
                "params": t.params(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(prompt: &str, tier: Tier) -> GenerationRequest {
        GenerationRequest::new(prompt, Quality::Low, 3).unwrap().with_tier(tier)
    }

    fn tiny_pack() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shap_e/pack")
    }

    #[test]
    fn a_matching_prompt_goes_to_its_template_with_the_prompts_values() {
        let engine = Engine::procedural_only();
        match engine.plan(&ask("a name tag for Maya", Tier::Auto), None).unwrap() {
            Plan::Procedural { template, params } => {
                assert_eq!(template, Template::NameTag);
                assert_eq!(params.text("text"), Some("Maya"));
            }
            other => panic!("{other:?}"),
        }
        let g = engine
            .generate(&ask("a gear with 20 teeth", Tier::Auto), None, &CancelToken::new(), &mut |_| {})
            .unwrap()
            .unwrap();
        assert_eq!(g.tier, UsedTier::Procedural);
        assert!(g.finished.report.printable);
        assert!(g.three_mf().unwrap().starts_with(b"PK"));
        assert!(g.thumbnail_png(64).unwrap().starts_with(b"\x89PNG"));
    }

    #[test]
    fn an_unmatched_prompt_offers_choices_and_says_why() {
        let engine = Engine::procedural_only();
        match engine.plan(&ask("a dragon", Tier::Auto), None).unwrap() {
            Plan::Choose { suggestions, reason } => {
                assert_eq!(suggestions.len(), 4);
                assert!(reason.contains("No AI model is installed"), "{reason}");
                let ids: std::collections::HashSet<_> = suggestions.iter().map(|s| s.template.clone()).collect();
                assert_eq!(ids.len(), 4, "no design offered twice");
            }
            other => panic!("{other:?}"),
        }
        // Forcing a design builds it even for a prompt it does not match.
        assert!(matches!(
            engine.plan(&ask("a dragon", Tier::Auto), Some("coaster")).unwrap(),
            Plan::Procedural { template: Template::Coaster, .. }
        ));
        assert!(matches!(
            engine.plan(&ask("a dragon", Tier::Auto), Some("rocket")),
            Err(EngineError::UnknownTemplate(_))
        ));
        assert!(matches!(engine.plan(&ask("a dragon", Tier::ShapE), None), Err(EngineError::ShapEUnavailable(_))));
    }

    #[test]
    fn with_a_pack_unmatched_prompts_go_to_shap_e_and_come_back_printable() {
        let engine = Engine::from_dir(&tiny_pack(), None, "tiny".into());
        assert!(engine.shap_e_ready(), "{:?}", engine.status());
        let request = ask("a dragon", Tier::Auto).with_size(Some(10.0)).unwrap();
        let plan = engine.plan(&request, None).unwrap();
        assert!(matches!(plan, Plan::ShapE { .. }), "{plan:?}");
        // Templates still win where they match.
        assert!(matches!(engine.plan(&ask("a pencil cup", Tier::Auto), None).unwrap(), Plan::Procedural { .. }));
        let mut steps = Vec::new();
        let g = engine.generate(&request, None, &CancelToken::new(), &mut |p| steps.push(p.step)).unwrap().unwrap();
        assert_eq!(g.tier, UsedTier::ShapE);
        assert!(g.finished.report.printable);
        assert!(g.colour.is_some());
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "progress only goes forward: {steps:?}");
        let size = g.finished.report.bounding_box.unwrap().size;
        assert!((size.iter().cloned().fold(0.0, f32::max) - 10.0).abs() < 0.05, "{size:?}");
    }

    #[test]
    fn a_cancelled_request_comes_back_empty() {
        let engine = Engine::from_dir(&tiny_pack(), None, "tiny".into());
        let cancel = CancelToken::new();
        cancel.cancel();
        let out = engine.generate(&ask("a dragon", Tier::ShapE), None, &cancel, &mut |_| {}).unwrap();
        assert!(out.is_none());
    }

    #[test]
    fn a_missing_pack_is_reported_not_fatal() {
        let engine = Engine::from_dir(std::path::Path::new("/nonexistent/pack"), None, "gone".into());
        assert!(!engine.shap_e_ready());
        assert!(matches!(engine.status(), ShapEStatus::Broken { .. }));
        assert!(engine.status().explain().contains("could not be loaded"));
    }

    #[test]
    fn params_round_trip_through_json_and_are_clamped() {
        let p = params_from_json(Template::Gear, &serde_json::json!({ "teeth": 500, "unknown": 1, "bore": "x" }));
        let back = params_to_json(&p);
        assert!(back.get("unknown").is_none());
        let teeth = back["teeth"].as_f64().unwrap();
        assert!(teeth < 500.0, "clamped to the slider's range: {teeth}");
        assert_eq!(catalogue().len(), Template::ALL.len());
    }
}
