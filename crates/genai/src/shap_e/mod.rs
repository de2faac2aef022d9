//! OpenAI's Shap-E `text300M` ported to candle: prompt → CLIP ViT-L/14 text embedding → a latent
//! of 1024 × 1024 numbers sampled with the Karras/Heun sampler and classifier-free guidance → the
//! weights of a small implicit MLP (signed distance + colour) → an [`SdfGrid`] for marching cubes.
//!
//! - [`tokenizer`]: CLIP's byte-level BPE (our own code, same ids as OpenAI's `simple_tokenizer`).
//! - [`clip`]: the CLIP text tower with projection (Hugging Face `CLIPTextModelWithProjection` names).
//! - [`denoiser`]: the latent diffusion transformer (upstream `text_cond.pt` names, `wrapped.*`).
//! - [`sampler`]: the `exp` noise schedule, Karras sigmas, the deterministic Heun sampler with
//!   guidance, batched with per-row seeds and cancellation.
//! - [`decoder`]: latent → MLP weights (`params_proj`) → SDF and colour on a grid.
//!
//! Every model takes its sizes from [`ShapEConfig`], so the tests run the same code on tiny
//! random-weight models whose outputs were dumped from PyTorch (`tests/fixtures/shap_e/`).
//!
//! A model pack is a directory holding `denoiser.safetensors` (or upstream `text_cond.pt`),
//! `decoder.safetensors` (or upstream `transmitter.pt`), `clip_text.safetensors`,
//! `clip_bpe.txt` or `clip_bpe.txt.gz`, and optionally `config.json` (a serialised
//! [`ShapEConfig`]; full size when absent). Safetensors may hold f16, bf16 or f32 tensors; they are
//! cast to the run dtype on load.

pub mod clip;
pub mod decoder;
pub mod denoiser;
pub mod kernels;
mod layers;
pub mod sampler;
pub mod tokenizer;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

pub use clip::{ClipConfig, ClipTextModel};
pub use decoder::{DecodedShape, DecoderConfig, ImplicitDecoder};
pub use denoiser::{Denoiser, DenoiserConfig};
pub use sampler::{SamplerSettings, StepView};
pub use tokenizer::ClipTokenizer;

/// Why loading, sampling or decoding failed, in words an admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum ShapEError {
    #[error("the model pack is missing {0}")]
    MissingFile(String),
    #[error("could not read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the model pack's {file} has no tensor named '{name}'")]
    MissingTensor { file: String, name: String },
    #[error("tensor '{name}' in {file} has shape {got:?} but this model needs {expected:?}")]
    WrongShape { file: String, name: String, expected: Vec<usize>, got: Vec<usize> },
    #[error("the model pack's config.json is invalid: {0}")]
    BadConfig(String),
    #[error("the CLIP vocabulary file is invalid: {0}")]
    BadVocab(String),
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("the model produced non-finite numbers ({0})")]
    NotFinite(String),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("could not build the grid: {0}")]
    Grid(#[from] mesh::marching_cubes::SdfError),
}

/// Sizes of all three networks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShapEConfig {
    pub clip: ClipConfig,
    pub denoiser: DenoiserConfig,
    pub decoder: DecoderConfig,
    /// Steps of the training noise schedule (`exp`, 1024 upstream).
    pub timesteps: usize,
}

impl ShapEConfig {
    /// The released `text300M` + `transmitter` + CLIP ViT-L/14 sizes.
    pub fn text300m() -> Self {
        Self {
            clip: ClipConfig::vit_l14(),
            denoiser: DenoiserConfig::text300m(),
            decoder: DecoderConfig::transmitter(),
            timesteps: 1024,
        }
    }

    /// The tiny random-weight configuration of the committed test fixtures.
    pub fn tiny() -> Self {
        Self {
            clip: ClipConfig::tiny(),
            denoiser: DenoiserConfig::tiny(),
            decoder: DecoderConfig::tiny(),
            timesteps: 1024,
        }
    }

    /// Checks that the three parts fit together.
    pub fn check(&self) -> Result<(), ShapEError> {
        let bad = |m: String| Err(ShapEError::BadConfig(m));
        let d = &self.denoiser;
        if d.heads == 0 || !d.width.is_multiple_of(d.heads) {
            return bad(format!("denoiser width {} is not a multiple of its {} heads", d.width, d.heads));
        }
        if self.clip.heads == 0 || !self.clip.width.is_multiple_of(self.clip.heads) {
            return bad(format!("CLIP width {} is not a multiple of its {} heads", self.clip.width, self.clip.heads));
        }
        if self.clip.projection_dim != d.clip_dim {
            return bad(format!(
                "CLIP gives {} numbers per prompt but the denoiser expects {}",
                self.clip.projection_dim, d.clip_dim
            ));
        }
        if self.decoder.latent_vectors() != d.n_ctx {
            return bad(format!(
                "the decoder needs {} latent tokens but the denoiser makes {}",
                self.decoder.latent_vectors(),
                d.n_ctx
            ));
        }
        if self.timesteps < 2 {
            return bad("the noise schedule needs at least 2 timesteps".into());
        }
        Ok(())
    }
}

impl Default for ShapEConfig {
    fn default() -> Self {
        Self::text300m()
    }
}

/// A sampled latent: `n_ctx × channels` numbers, token-major (the denoiser's x₀ layout).
#[derive(Debug, Clone)]
pub struct Latent(pub Tensor);

impl Latent {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.elem_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f32 on the host.
    pub fn to_vec(&self) -> Result<Vec<f32>, ShapEError> {
        Ok(self.0.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
    }

    /// f16 little-endian bytes (2 MB at full size), for caching.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ShapEError> {
        let v = self.to_vec()?;
        Ok(v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect())
    }

    /// Reads [`Latent::to_bytes`] back; `expected_len` is `n_ctx × channels` of the model.
    pub fn from_bytes(bytes: &[u8], expected_len: usize, device: &Device) -> Result<Self, ShapEError> {
        if bytes.len() != expected_len * 2 {
            return Err(ShapEError::BadInput(format!(
                "a cached latent has {} bytes but this model's latents have {}",
                bytes.len(),
                expected_len * 2
            )));
        }
        let v: Vec<f32> = bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect();
        Ok(Self(Tensor::from_vec(v, expected_len, device)?))
    }
}

/// One tensor the model pack must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Pack file holding it (the safetensors name; `.pt` alternatives are accepted too).
    pub file: &'static str,
    pub name: String,
    pub shape: Vec<usize>,
}

pub const DENOISER_FILE: &str = "denoiser.safetensors";
pub const DENOISER_PT: &str = "text_cond.pt";
pub const DECODER_FILE: &str = "decoder.safetensors";
pub const DECODER_PT: &str = "transmitter.pt";
pub const CLIP_FILE: &str = "clip_text.safetensors";
pub const BPE_FILES: [&str; 2] = ["clip_bpe.txt.gz", "clip_bpe.txt"];
pub const CONFIG_FILE: &str = "config.json";

/// Every tensor a pack of configuration `cfg` must hold, with its file and shape.
pub fn expected_tensors(cfg: &ShapEConfig) -> Vec<TensorSpec> {
    let mut out = Vec::new();
    for (name, shape) in clip::tensor_shapes(&cfg.clip) {
        out.push(TensorSpec { file: CLIP_FILE, name, shape });
    }
    for (name, shape) in denoiser::tensor_shapes(&cfg.denoiser) {
        out.push(TensorSpec { file: DENOISER_FILE, name, shape });
    }
    for (name, shape) in decoder::tensor_shapes(&cfg.decoder, cfg.denoiser.channels) {
        out.push(TensorSpec { file: DECODER_FILE, name, shape });
    }
    out
}

/// Named tensors from one file, cast to `dtype` and moved to `device` when taken.
pub struct Weights {
    file: String,
    source: Source,
    dtype: DType,
    device: Device,
}

enum Source {
    Map(HashMap<String, Tensor>),
    Pth(candle_core::pickle::PthTensors),
}

impl Weights {
    /// Reads a safetensors file (all of it) or opens a PyTorch pickle (`.pt`/`.pth`, read per tensor).
    pub fn open(path: &Path, dtype: DType, device: &Device) -> Result<Self, ShapEError> {
        let file = path.display().to_string();
        let is_pt = matches!(path.extension().and_then(|e| e.to_str()), Some("pt" | "pth" | "bin" | "ckpt"));
        let source = if is_pt {
            Source::Pth(candle_core::pickle::PthTensors::new(path, None)?)
        } else {
            let bytes = std::fs::read(path).map_err(|source| ShapEError::Io { path: file.clone(), source })?;
            Source::Map(candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?)
        };
        Ok(Self { file, source, dtype, device: device.clone() })
    }

    /// Tensors held in memory (tests, tools).
    pub fn from_map(file: &str, map: HashMap<String, Tensor>, dtype: DType, device: &Device) -> Self {
        Self { file: file.to_string(), source: Source::Map(map), dtype, device: device.clone() }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn raw(&self, name: &str) -> Result<Option<Tensor>, ShapEError> {
        Ok(match &self.source {
            Source::Map(m) => m.get(name).cloned(),
            Source::Pth(p) => p.get(name)?,
        })
    }

    /// The tensor `name`, checked to have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, ShapEError> {
        let t = self
            .raw(name)?
            .ok_or_else(|| ShapEError::MissingTensor { file: self.file.clone(), name: name.to_string() })?;
        if t.dims() != shape {
            return Err(ShapEError::WrongShape {
                file: self.file.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                got: t.dims().to_vec(),
            });
        }
        Ok(t.to_dtype(self.dtype)?.to_device(&self.device)?)
    }
}

/// The compute device: CUDA 0 when built with the `cuda` feature and a GPU answers, else the CPU.
pub fn pick_device() -> Device {
    #[cfg(feature = "cuda")]
    {
        if let Ok(d) = Device::cuda_if_available(0) {
            return d;
        }
    }
    Device::Cpu
}

/// Words for a device: "CUDA 0" or "CPU".
pub fn describe_device(device: &Device) -> String {
    match device {
        Device::Cpu => "CPU".to_string(),
        Device::Cuda(_) => "CUDA 0".to_string(),
        _ => "GPU".to_string(),
    }
}

fn find_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Reads `config.json` from a pack, or the full-size configuration when there is none.
pub fn read_config(dir: &Path) -> Result<ShapEConfig, ShapEError> {
    let path = dir.join(CONFIG_FILE);
    let cfg = if path.is_file() {
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ShapEError::Io { path: path.display().to_string(), source })?;
        serde_json::from_str(&text).map_err(|e| ShapEError::BadConfig(e.to_string()))?
    } else {
        ShapEConfig::text300m()
    };
    let cfg: ShapEConfig = cfg;
    cfg.check()?;
    Ok(cfg)
}

/// Everything Shap-E needs, loaded on one device.
pub struct ShapE {
    pub config: ShapEConfig,
    pub tokenizer: ClipTokenizer,
    pub clip: ClipTextModel,
    pub denoiser: Denoiser,
    pub decoder: ImplicitDecoder,
    device: Device,
}

impl ShapE {
    /// Loads a pack directory on [`pick_device`] in f32.
    pub fn load(dir: &Path) -> Result<ShapE, ShapEError> {
        Self::load_on(dir, &pick_device(), DType::F32)
    }

    /// Loads a pack directory on `device`, computing in `dtype` (f32 is the tested path).
    pub fn load_on(dir: &Path, device: &Device, dtype: DType) -> Result<ShapE, ShapEError> {
        let config = read_config(dir)?;
        let need = |names: &[&str]| find_file(dir, names).ok_or_else(|| ShapEError::MissingFile(names.join(" or ")));
        let bpe = need(&BPE_FILES)?;
        let tokenizer = ClipTokenizer::from_file(&bpe, config.clip.context_length)?;
        let clip_w = Weights::open(&need(&[CLIP_FILE])?, dtype, device)?;
        let clip = ClipTextModel::load(&clip_w, &config.clip)?;
        drop(clip_w);
        let den_w = Weights::open(&need(&[DENOISER_FILE, DENOISER_PT])?, dtype, device)?;
        let denoiser = Denoiser::load(&den_w, &config.denoiser)?;
        drop(den_w);
        let dec_w = Weights::open(&need(&[DECODER_FILE, DECODER_PT])?, dtype, device)?;
        let decoder = ImplicitDecoder::load(&dec_w, &config.decoder, config.denoiser.channels)?;
        Ok(Self::from_parts(config, tokenizer, clip, denoiser, decoder, device))
    }

    pub fn from_parts(
        config: ShapEConfig,
        tokenizer: ClipTokenizer,
        clip: ClipTextModel,
        denoiser: Denoiser,
        decoder: ImplicitDecoder,
        device: &Device,
    ) -> Self {
        Self { config, tokenizer, clip, denoiser, decoder, device: device.clone() }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// "CUDA 0" or "CPU".
    pub fn device_name(&self) -> String {
        describe_device(&self.device)
    }

    /// Unit-length CLIP text embeddings of `prompts`, `[prompts, clip_dim]`. Each prompt runs on its
    /// own (CLIP is cheap), so its embedding — and with it its sample — is bit-for-bit the same
    /// whatever other prompts share the batch.
    pub fn embed_prompts(&self, prompts: &[&str]) -> Result<Tensor, ShapEError> {
        let rows = prompts
            .iter()
            .map(|p| self.clip.embed_normalised(&[self.tokenizer.encode(p)]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::cat(&rows, 0)?)
    }

    /// Samples one latent per prompt (up to [`sampler::MAX_BATCH`] at once), each from its own seed.
    /// Rows whose token is cancelled are dropped at the next model call and come back as `None`.
    pub fn sample(
        &self,
        prompts: &[&str],
        seeds: &[u64],
        cancels: &[crate::CancelToken],
        settings: &SamplerSettings,
        on_call: &mut dyn FnMut(StepView<'_>),
    ) -> Result<Vec<Option<Latent>>, ShapEError> {
        if prompts.len() != seeds.len() || prompts.len() != cancels.len() {
            return Err(ShapEError::BadInput("give one seed and one cancel token per prompt".into()));
        }
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let emb = self.embed_prompts(prompts)?;
        let d = self.config.denoiser.latent_len();
        let x_t = sampler::initial_noise(seeds, d, settings.sigma_max, &self.device)?;
        self.sample_from(&emb, x_t, cancels, settings, on_call)
    }

    /// [`ShapE::sample`] from given unit embeddings `[B, clip_dim]` and starting noise `x_T`
    /// (`[B, n_ctx·channels]`, already scaled by σ_max).
    pub fn sample_from(
        &self,
        embeddings: &Tensor,
        x_t: Tensor,
        cancels: &[crate::CancelToken],
        settings: &SamplerSettings,
        on_call: &mut dyn FnMut(StepView<'_>),
    ) -> Result<Vec<Option<Latent>>, ShapEError> {
        let out =
            sampler::sample_heun(&self.denoiser, embeddings, x_t, cancels, settings, self.config.timesteps, on_call)?;
        Ok(out.into_iter().map(|o| o.map(Latent)).collect())
    }

    /// Decodes a latent into an SDF grid (`grid_size` samples per axis over [-1, 1]³).
    pub fn decode(&self, latent: &Latent, grid_size: usize) -> Result<DecodedShape, ShapEError> {
        self.decoder.decode(latent, grid_size)
    }
}

/// Tensor name → (dtype, shape), from a file header.
type Header = HashMap<String, (String, Vec<usize>)>;

fn read_safetensors_header(path: &Path) -> Result<Header, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|e| format!("{} is too short to be safetensors: {e}", path.display()))?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 {
        return Err(format!("{} has an implausible header of {n} bytes; it is not a safetensors file", path.display()));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|e| format!("{} is truncated: {e}", path.display()))?;
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| format!("{} has an unreadable header: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (name, v) in json {
        if name == "__metadata__" {
            continue;
        }
        let dtype = v.get("dtype").and_then(|d| d.as_str()).unwrap_or("?").to_string();
        let shape = v
            .get("shape")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_u64()).map(|x| x as usize).collect())
            .unwrap_or_default();
        out.insert(name, (dtype, shape));
    }
    Ok(out)
}

fn read_pth_header(path: &Path) -> Result<Header, String> {
    let p =
        candle_core::pickle::PthTensors::new(path, None).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(p.tensor_infos()
        .iter()
        .map(|(k, info)| {
            let dtype = match info.dtype {
                DType::F16 => "F16",
                DType::BF16 => "BF16",
                DType::F32 => "F32",
                _ => "other",
            };
            (k.clone(), (dtype.to_string(), info.layout.dims().to_vec()))
        })
        .collect())
}

/// Checks a pack directory without loading it whole: every expected tensor name, shape and dtype
/// (f16, bf16 or f32) in the file headers, the vocabulary file, then a load self-test on the CPU
/// with one forward of each network that must give finite numbers (at full size the denoiser
/// forward takes ≈25–45 s on a 2-core CPU). Errors are plain words.
pub fn verify_pack(dir: &Path) -> Result<(), String> {
    let cfg = read_config(dir).map_err(|e| e.to_string())?;
    let mut headers: HashMap<&str, (PathBuf, Header)> = HashMap::new();
    for (file, alt) in [(CLIP_FILE, None), (DENOISER_FILE, Some(DENOISER_PT)), (DECODER_FILE, Some(DECODER_PT))] {
        let names: Vec<&str> = std::iter::once(file).chain(alt).collect();
        let path = find_file(dir, &names).ok_or_else(|| format!("the model pack is missing {}", names.join(" or ")))?;
        let h = if path.extension().is_some_and(|e| e == "pt") {
            read_pth_header(&path)?
        } else {
            read_safetensors_header(&path)?
        };
        headers.insert(file, (path, h));
    }
    for spec in expected_tensors(&cfg) {
        let (path, h) = &headers[spec.file];
        let (dtype, shape) =
            h.get(&spec.name).ok_or_else(|| format!("{} has no tensor named '{}'", path.display(), spec.name))?;
        if !matches!(dtype.as_str(), "F16" | "BF16" | "F32") {
            return Err(format!(
                "tensor '{}' in {} is {dtype}; only f16, bf16 or f32 can be used",
                spec.name,
                path.display()
            ));
        }
        if *shape != spec.shape {
            return Err(format!(
                "tensor '{}' in {} has shape {:?} but this model needs {:?}",
                spec.name,
                path.display(),
                shape,
                spec.shape
            ));
        }
    }
    find_file(dir, &BPE_FILES).ok_or_else(|| format!("the model pack is missing {}", BPE_FILES.join(" or ")))?;
    self_test(dir).map_err(|e| format!("the load self-test failed: {e}"))
}

/// Loads the pack on the CPU and runs CLIP on one prompt, one denoiser forward and the decoder on a
/// few points, checking every output is finite.
fn self_test(dir: &Path) -> Result<(), ShapEError> {
    let model = ShapE::load_on(dir, &Device::Cpu, DType::F32)?;
    let emb = model.embed_prompts(&["a shark"])?;
    finite(&emb, "CLIP embedding")?;
    let d = model.config.denoiser.latent_len();
    let x = Tensor::zeros((1, d), DType::F32, model.device())?;
    let x0 = model.denoiser.forward(&x, &[500], &emb)?;
    finite(&x0, "denoiser")?;
    let field = model.decoder.field(&Latent(x0.flatten_all()?))?;
    let pts = Tensor::from_vec(vec![0f32, 0.0, 0.0, 0.5, -0.5, 0.25], (2, 3), model.device())?;
    finite(&field.query(&pts)?, "decoder")?;
    Ok(())
}

fn finite(t: &Tensor, what: &str) -> Result<(), ShapEError> {
    let v = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(ShapEError::NotFinite(what.to_string()))
    }
}

/// Sustained f32 matmul throughput of candle's pure-Rust gemm per CPU core, FLOP/s. Derived from
/// `benches/denoiser.rs` on the 2-core dev box: one guided call at full size (≈1.5 TFLOP) took
/// ≈46 s on 2 cores, i.e. ≈16 GFLOP/s per core.
pub const CPU_FLOPS_PER_CORE: f64 = 16.0e9;

/// An honest CPU time estimate for one object at `settings`, in seconds, on this machine's cores.
///
/// Derivation: one denoiser call at full size and batch 2 (one guided row) costs ≈1.3 TFLOP in the
/// linear layers plus ≈0.2 TFLOP in attention; a run makes `2·steps − 1` calls. Decoding costs
/// ≈0.74 MFLOP per grid point, counted for all `grid_size³` points (coarse to fine queries fewer on a
/// real shape, but nearly all on a noisy one: the bench measured 13.8 s for 64³ with random weights).
/// Both are divided by [`CPU_FLOPS_PER_CORE`] × the available cores (assumes linear scaling, which
/// is optimistic beyond ~8 cores). On the 2-core dev box this gives ≈24 min for `Quality::Low`,
/// matching the measured ≈46 s per guided call × 31 calls.
pub fn estimate_seconds_cpu(settings: &SamplerSettings) -> f64 {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let guided = if settings.guided() { 2.0 } else { 1.0 };
    let calls = (2 * settings.steps).saturating_sub(1) as f64;
    let per_call_flop = 0.75e12 * guided;
    let n = settings.grid_size as f64;
    let decode_flop = n * n * n * 0.74e6;
    (calls * per_call_flop + decode_flop) / (CPU_FLOPS_PER_CORE * cores)
}
